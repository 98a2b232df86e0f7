//! A borrowed view of big-endian 16-bit register values.

use core::fmt;
use core::iter::FusedIterator;
use core::slice::ChunksExact;

use crate::error::{Error, Result};

/// Register values as they are on the wire (big-endian, two bytes each), borrowed from a
/// buffer.
///
/// A `Registers` always holds an even number of bytes, so [`get`](Registers::get) and the
/// iterator never panic.
///
/// # Examples
///
/// ```
/// use ptk_modbus::Registers;
///
/// // The read holding registers response of the specification: 555, 0, 100.
/// let values = Registers::new(&[0x02, 0x2B, 0x00, 0x00, 0x00, 0x64]).unwrap();
/// assert_eq!(values.len(), 3);
/// assert_eq!(values.get(0), Some(555));
/// assert_eq!(values.get(3), None);
/// assert!(values.iter().eq([555, 0, 100]));
///
/// // Encoding values into caller-supplied storage, as for a write multiple registers request.
/// let mut storage = [0u8; 4];
/// let encoded = Registers::encode(&[0x000A, 0x0102], &mut storage).unwrap();
/// assert_eq!(encoded.as_bytes(), &[0x00, 0x0A, 0x01, 0x02]);
///
/// assert_eq!(Registers::new(&[0x00]), None); // odd length
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Registers<'a> {
    bytes: &'a [u8],
}

impl<'a> Registers<'a> {
    /// A view of the registers in `bytes`, or `None` if `bytes` has an odd length.
    pub const fn new(bytes: &'a [u8]) -> Option<Registers<'a>> {
        if bytes.len() % 2 == 0 {
            Some(Registers { bytes })
        } else {
            None
        }
    }

    /// Writes `values` big-endian into the start of `storage` and returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `storage` is shorter than `2 * values.len()` bytes.
    pub fn encode(values: &[u16], storage: &'a mut [u8]) -> Result<Registers<'a>> {
        let needed = values.len() * 2;
        let out = storage
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        for (pair, value) in out.chunks_exact_mut(2).zip(values) {
            pair.copy_from_slice(&value.to_be_bytes());
        }
        Ok(Registers { bytes: out })
    }

    /// The number of registers.
    pub const fn len(&self) -> usize {
        self.bytes.len() / 2
    }

    /// Whether there are no registers at all (never the case in a parsed message).
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The register at `index`, or `None` if `index >= len()`.
    pub fn get(&self, index: usize) -> Option<u16> {
        let at = index.checked_mul(2)?;
        match self.bytes.get(at..at.checked_add(2)?)? {
            &[hi, lo] => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        }
    }

    /// The registers in order, first address first.
    pub fn iter(&self) -> RegistersIter<'a> {
        RegistersIter {
            chunks: self.bytes.chunks_exact(2),
        }
    }

    /// The big-endian bytes, as they are on the wire.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for Registers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Registers")?;
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Registers<'a> {
    type Item = u16;
    type IntoIter = RegistersIter<'a>;

    fn into_iter(self) -> RegistersIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Registers<'a> {
    type Item = u16;
    type IntoIter = RegistersIter<'a>;

    fn into_iter(self) -> RegistersIter<'a> {
        self.iter()
    }
}

/// The iterator of [`Registers::iter`].
#[derive(Clone, Debug)]
pub struct RegistersIter<'a> {
    chunks: ChunksExact<'a, u8>,
}

impl Iterator for RegistersIter<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        match *self.chunks.next()? {
            [hi, lo] => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl DoubleEndedIterator for RegistersIter<'_> {
    fn next_back(&mut self) -> Option<u16> {
        match *self.chunks.next_back()? {
            [hi, lo] => Some(u16::from_be_bytes([hi, lo])),
            _ => None,
        }
    }
}

impl ExactSizeIterator for RegistersIter<'_> {}

impl FusedIterator for RegistersIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_big_endian() {
        let regs = Registers::new(&[0x12, 0x34, 0xAB, 0xCD]).unwrap();
        assert_eq!(regs.get(0), Some(0x1234));
        assert_eq!(regs.get(1), Some(0xABCD));
        assert_eq!(regs.get(2), None);
        assert_eq!(regs.get(usize::MAX), None);
        assert!(regs.iter().rev().eq([0xABCD, 0x1234]));
        assert_eq!(regs.iter().len(), 2);
    }

    #[test]
    fn encode_reports_short_storage() {
        let mut short = [0u8; 3];
        assert_eq!(
            Registers::encode(&[1, 2], &mut short),
            Err(Error::BufferTooSmall { needed: 4 })
        );
    }

    #[test]
    fn debug_lists_the_values() {
        let regs = Registers::new(&[0x00, 0x0A, 0x01, 0x02]).unwrap();
        assert_eq!(std::format!("{regs:?}"), "Registers[10, 258]");
    }
}
