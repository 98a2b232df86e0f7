//! Multiple Service Packet (0x0A): a count, a table of offsets and the embedded requests, or
//! in the reply the embedded replies, in the same layout.

use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::wire::{len_u16, Reader};

/// The data of a Multiple Service Packet request or reply: the embedded messages, found
/// through the offsets table (each offset counts from the start of the count field).
///
/// [`new_checked`](MultipleServices::new_checked) validates the table once: at least one
/// message, the first right after the table, each after the one before it, all inside the
/// data. After that [`get`](MultipleServices::get) and the iterator never fail.
///
/// # Examples
///
/// Two Read Tag requests in one packet:
///
/// ```
/// use ptk_enip::{MessageRequest, MultipleServices, MultipleServicesBuilder};
///
/// let a = b"\x4C\x02\x91\x01A\x00\x01\x00";
/// let b = b"\x4C\x02\x91\x01B\x00\x01\x00";
/// let mut buf = [0u8; 32];
/// let mut builder = MultipleServicesBuilder::new(&mut buf, 2)?;
/// builder.push(a)?;
/// builder.push_with(b.len(), |out| {
///     out.copy_from_slice(b);
///     Ok(b.len())
/// })?;
/// let n = builder.finish()?;
/// assert_eq!(&buf[..6], &[0x02, 0x00, 0x06, 0x00, 0x0E, 0x00]);
///
/// let packet = MultipleServices::new_checked(&buf[..n])?;
/// assert_eq!(packet.len(), 2);
/// let second = MessageRequest::parse(packet.get(1).unwrap())?;
/// assert_eq!(second.path.as_bytes(), b"\x91\x01B\x00");
/// # Ok::<(), ptk_enip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MultipleServices<'a> {
    bytes: &'a [u8],
    count: u16,
}

const OFFSET: Error = Error::Malformed(Violation::ServiceOffset);

impl<'a> MultipleServices<'a> {
    /// Checks the count and offsets table of `data`.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the table is cut short; [`Violation::ServiceOffset`] for a
    /// count of 0, a first offset not right after the table, or offsets out of order or
    /// past the data.
    pub fn new_checked(data: &'a [u8]) -> Result<MultipleServices<'a>> {
        let mut r = Reader::new(data);
        let count = r.u16()?;
        if count == 0 {
            return Err(OFFSET);
        }
        let table_end = 2 + 2 * usize::from(count);
        if data.len() < table_end {
            return Err(Error::Malformed(Violation::Truncated));
        }
        let mut previous = None;
        for _ in 0..count {
            let offset = usize::from(r.u16()?);
            let ok = match previous {
                None => offset == table_end,
                Some(previous) => offset > previous,
            };
            if !ok || offset > data.len() {
                return Err(OFFSET);
            }
            previous = Some(offset);
        }
        if previous >= Some(data.len()) {
            return Err(OFFSET);
        }
        Ok(MultipleServices { bytes: data, count })
    }

    /// The number of embedded messages.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Always false: a checked packet holds at least one message.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn offset(&self, index: usize) -> Option<usize> {
        let at = 2 + 2 * index;
        match self.bytes.get(at..at + 2)? {
            &[lo, hi] => Some(usize::from(u16::from_le_bytes([lo, hi]))),
            _ => None,
        }
    }

    /// The embedded message at `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        if index >= self.len() {
            return None;
        }
        let start = self.offset(index)?;
        let end = if index + 1 < self.len() {
            self.offset(index + 1)?
        } else {
            self.bytes.len()
        };
        self.bytes.get(start..end)
    }

    /// The embedded messages, in order.
    pub fn iter(&self) -> MultipleServicesIter<'a> {
        MultipleServicesIter {
            packet: *self,
            next: 0,
        }
    }

    /// The whole data, count and table included.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The length of the data holding messages of `lengths` bytes.
    pub fn buffer_len(lengths: impl IntoIterator<Item = usize>) -> usize {
        lengths
            .into_iter()
            .fold(2, |len, message| len + 2 + message)
    }
}

/// The iterator of [`MultipleServices::iter`].
#[derive(Clone, Debug)]
pub struct MultipleServicesIter<'a> {
    packet: MultipleServices<'a>,
    next: usize,
}

impl<'a> Iterator for MultipleServicesIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let message = self.packet.get(self.next)?;
        self.next += 1;
        Some(message)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.packet.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for MultipleServicesIter<'_> {}

impl FusedIterator for MultipleServicesIter<'_> {}

/// Writes the data of a Multiple Service Packet request or reply in place: the count and
/// the offsets table first, then each message as it is pushed.
#[derive(Debug)]
pub struct MultipleServicesBuilder<'b> {
    buf: &'b mut [u8],
    count: u16,
    pushed: u16,
    len: usize,
}

impl<'b> MultipleServicesBuilder<'b> {
    /// A builder for `count` messages, writing from the start of `buf`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ServiceOffset`] for a count of 0;
    /// [`Error::BufferTooSmall`] if `buf` cannot hold the table.
    pub fn new(buf: &'b mut [u8], count: u16) -> Result<MultipleServicesBuilder<'b>> {
        if count == 0 {
            return Err(Error::Invalid(Violation::ServiceOffset));
        }
        let len = 2 + 2 * usize::from(count);
        let table = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        table.fill(0);
        table[..2].copy_from_slice(&count.to_le_bytes());
        Ok(MultipleServicesBuilder {
            buf,
            count,
            pushed: 0,
            len,
        })
    }

    /// Appends a message of `len` bytes, which `emit` writes into the slice it is given.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ServiceOffset`] if all `count` messages were
    /// pushed already or the message would start past offset 65,535;
    /// [`Error::BufferTooSmall`] if `buf` cannot hold it; whatever `emit` returns.
    pub fn push_with(
        &mut self,
        len: usize,
        emit: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<&mut Self> {
        if self.pushed == self.count {
            return Err(Error::Invalid(Violation::ServiceOffset));
        }
        let offset = len_u16(self.len, Violation::ServiceOffset)?;
        let end = self.len + len;
        let out = self
            .buf
            .get_mut(self.len..end)
            .ok_or(Error::BufferTooSmall { needed: end })?;
        emit(out)?;
        let at = 2 + 2 * usize::from(self.pushed);
        self.buf[at..at + 2].copy_from_slice(&offset.to_le_bytes());
        self.pushed += 1;
        self.len = end;
        Ok(self)
    }

    /// Appends a message already encoded.
    ///
    /// # Errors
    ///
    /// As [`push_with`](MultipleServicesBuilder::push_with).
    pub fn push(&mut self, message: &[u8]) -> Result<&mut Self> {
        self.push_with(message.len(), |out| {
            out.copy_from_slice(message);
            Ok(message.len())
        })
    }

    /// The length written so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no message was pushed yet.
    pub const fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// The length of the data, once all `count` messages were pushed.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ServiceOffset`] if fewer messages were pushed.
    pub fn finish(self) -> Result<usize> {
        if self.pushed == self.count {
            Ok(self.len)
        } else {
            Err(Error::Invalid(Violation::ServiceOffset))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_tables_are_checked() {
        let cases: &[&[u8]] = &[
            &[0, 0],
            &[1, 0, 2, 0, 0xAA],          // first offset inside the table
            &[1, 0, 4, 0],                // message empty at the end
            &[2, 0, 6, 0, 6, 0, 1, 2],    // second offset not after the first
            &[2, 0, 6, 0, 9, 0, 1, 2, 3], // second offset at the end
            &[2, 0, 6, 0, 10, 0, 1, 2],   // second offset past the end
        ];
        for &bytes in cases {
            assert_eq!(
                MultipleServices::new_checked(bytes),
                Err(OFFSET),
                "{bytes:?}"
            );
        }
        assert_eq!(
            MultipleServices::new_checked(&[2, 0, 6, 0]),
            Err(Error::Malformed(Violation::Truncated))
        );
        let ok = MultipleServices::new_checked(&[2, 0, 6, 0, 8, 0, 1, 2, 3]).unwrap();
        assert_eq!(ok.iter().collect::<std::vec::Vec<_>>(), [&[1, 2][..], &[3]]);
        assert_eq!(ok.get(2), None);
    }

    #[test]
    fn the_builder_needs_every_message() {
        let mut buf = [0u8; 16];
        let mut builder = MultipleServicesBuilder::new(&mut buf, 2).unwrap();
        builder.push(&[1, 2]).unwrap();
        assert_eq!(
            builder.finish(),
            Err(Error::Invalid(Violation::ServiceOffset))
        );
        let mut builder = MultipleServicesBuilder::new(&mut buf, 1).unwrap();
        builder.push(&[1]).unwrap();
        assert_eq!(
            builder.push(&[2]).err(),
            Some(Error::Invalid(Violation::ServiceOffset))
        );
        assert_eq!(builder.finish(), Ok(5));
        assert_eq!(
            MultipleServicesBuilder::new(&mut buf, 0).err(),
            Some(Error::Invalid(Violation::ServiceOffset))
        );
    }
}
