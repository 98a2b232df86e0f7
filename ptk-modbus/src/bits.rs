//! A bit-packed, borrowed view of coil or discrete input values.

use core::fmt;
use core::iter::FusedIterator;

use crate::error::{Error, Result};
use crate::limits::bit_bytes;

/// Coil or discrete input values, packed eight to a byte as on the wire and borrowed from a
/// buffer: the first value is the least significant bit of the first byte.
///
/// A `Bits` always holds exactly `ceil(len / 8)` bytes, so [`get`](Bits::get) and the iterator
/// never panic. The unused high bits of the last byte are padding: the specification asks
/// senders for zeros, the codec accepts any value, keeps it (so re-emitting a parsed message
/// gives the same bytes) and ignores it when comparing two `Bits`.
///
/// # Examples
///
/// ```
/// use ptk_modbus::Bits;
///
/// // The read coils response of the specification: coils 20..=38 are
/// // 1011_0011 1101_0110 101 (0xCD, 0x6B, 0x05 on the wire).
/// let coils = Bits::new(&[0xCD, 0x6B, 0x05], 19).unwrap();
/// assert_eq!(coils.len(), 19);
/// assert_eq!(coils.get(0), Some(true));
/// assert_eq!(coils.get(1), Some(false));
/// assert_eq!(coils.get(19), None);
/// assert_eq!(coils.iter().filter(|&on| on).count(), 12);
///
/// // Packing values into caller-supplied storage, as for a write multiple coils request.
/// let mut storage = [0u8; 2];
/// let packed = Bits::pack(&[true, false, true, true, false, false, true, true, true, false], &mut storage)
///     .unwrap();
/// assert_eq!(packed.as_bytes(), &[0xCD, 0x01]);
/// ```
#[derive(Clone, Copy)]
pub struct Bits<'a> {
    bytes: &'a [u8],
    len: u16,
}

impl<'a> Bits<'a> {
    /// A view of `len` bits packed in `bytes`, or `None` unless `bytes` holds exactly
    /// `ceil(len / 8)` bytes.
    pub const fn new(bytes: &'a [u8], len: u16) -> Option<Bits<'a>> {
        if bytes.len() == bit_bytes(len) {
            Some(Bits { bytes, len })
        } else {
            None
        }
    }

    /// Packs `values` into the start of `storage` and returns the view of them. Padding bits
    /// are zero.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `storage` is shorter than `ceil(values.len() / 8)` bytes;
    /// [`Error::Invalid`] with [`Violation::Quantity`](crate::Violation::Quantity) if there are
    /// more than 65535 values.
    pub fn pack(values: &[bool], storage: &'a mut [u8]) -> Result<Bits<'a>> {
        let len =
            u16::try_from(values.len()).map_err(|_| Error::Invalid(crate::Violation::Quantity))?;
        let needed = bit_bytes(len);
        let out = storage
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        out.fill(0);
        for (byte, chunk) in out.iter_mut().zip(values.chunks(8)) {
            for (bit, &on) in chunk.iter().enumerate() {
                *byte |= u8::from(on) << bit;
            }
        }
        Ok(Bits { bytes: out, len })
    }

    /// The number of bits.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are no bits at all (never the case in a parsed message).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bit at `index`, or `None` if `index >= len()`.
    pub fn get(&self, index: usize) -> Option<bool> {
        if index >= self.len() {
            return None;
        }
        self.bytes
            .get(index / 8)
            .map(|byte| byte >> (index % 8) & 1 == 1)
    }

    /// The bits in order, first address first.
    pub fn iter(&self) -> BitsIter<'a> {
        BitsIter {
            bits: *self,
            next: 0,
        }
    }

    /// The packed bytes, padding included, as they are on the wire.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl PartialEq for Bits<'_> {
    fn eq(&self, other: &Bits<'_>) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Bits<'_> {}

impl fmt::Debug for Bits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bits[")?;
        for on in self.iter() {
            f.write_str(if on { "1" } else { "0" })?;
        }
        f.write_str("]")
    }
}

impl<'a> IntoIterator for Bits<'a> {
    type Item = bool;
    type IntoIter = BitsIter<'a>;

    fn into_iter(self) -> BitsIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Bits<'a> {
    type Item = bool;
    type IntoIter = BitsIter<'a>;

    fn into_iter(self) -> BitsIter<'a> {
        self.iter()
    }
}

/// The iterator of [`Bits::iter`].
#[derive(Clone, Debug)]
pub struct BitsIter<'a> {
    bits: Bits<'a>,
    next: usize,
}

impl Iterator for BitsIter<'_> {
    type Item = bool;

    fn next(&mut self) -> Option<bool> {
        let bit = self.bits.get(self.next)?;
        self.next += 1;
        Some(bit)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.bits.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for BitsIter<'_> {}

impl FusedIterator for BitsIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_requires_exactly_the_bytes_the_length_needs() {
        assert!(Bits::new(&[], 0).is_some());
        assert!(Bits::new(&[0], 0).is_none());
        assert!(Bits::new(&[0], 8).is_some());
        assert!(Bits::new(&[0], 9).is_none());
        assert!(Bits::new(&[0, 0], 9).is_some());
    }

    #[test]
    fn bits_are_least_significant_first() {
        let bits = Bits::new(&[0b0000_0101, 0b1], 9).unwrap();
        let all: [bool; 9] = core::array::from_fn(|i| bits.get(i).unwrap());
        assert_eq!(
            all,
            [true, false, true, false, false, false, false, false, true]
        );
        assert_eq!(bits.iter().len(), 9);
        assert_eq!(bits.get(9), None);
        assert_eq!(bits.get(usize::MAX), None);
    }

    #[test]
    fn padding_is_ignored_by_equality_but_kept_in_the_bytes() {
        let clean = Bits::new(&[0x05], 3).unwrap();
        let dirty = Bits::new(&[0xF5], 3).unwrap();
        assert_eq!(clean, dirty);
        assert_eq!(dirty.as_bytes(), &[0xF5]);
        assert_ne!(clean, Bits::new(&[0x05], 4).unwrap());
    }

    #[test]
    fn pack_zeroes_padding_and_reports_short_storage() {
        let mut storage = [0xFF; 3];
        let bits = Bits::pack(&[true; 9], &mut storage).unwrap();
        assert_eq!(bits.as_bytes(), &[0xFF, 0x01]);
        let mut short = [0u8; 1];
        assert_eq!(
            Bits::pack(&[false; 9], &mut short),
            Err(Error::BufferTooSmall { needed: 2 })
        );
    }

    #[test]
    fn debug_lists_the_bits() {
        let bits = Bits::new(&[0x05], 3).unwrap();
        assert_eq!(std::format!("{bits:?}"), "Bits[101]");
    }
}
