//! Reading and writing little-endian fields: a reader whose every step is checked, and a
//! writer over a buffer whose length was checked up front.

use crate::error::{Error, Result, Violation};

/// A cursor over input bytes. Every read checks the length and fails with
/// [`Violation::Truncated`], so a parser built on it cannot index out of bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

const TRUNCATED: Error = Error::Malformed(Violation::Truncated);

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8]> {
        if self.rest.len() < len {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a pad byte, which must be zero.
    pub(crate) fn pad(&mut self) -> Result<()> {
        match self.u8()? {
            0 => Ok(()),
            _ => Err(Error::Malformed(Violation::Padding)),
        }
    }

    /// The bytes not read yet.
    pub(crate) const fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Fails with [`Violation::TrailingBytes`] unless every byte was read.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Malformed(Violation::TrailingBytes))
        }
    }
}

/// A cursor over the first `len` bytes of an output buffer.
///
/// [`Writer::new`] checks the length once; the typed writes after it stay inside the bytes a
/// message's `buffer_len` promised, so a mismatch between `buffer_len` and `emit` shows up as
/// a failing round-trip test rather than as silent truncation.
pub(crate) struct Writer<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl<'b> Writer<'b> {
    /// A writer over `buf[..len]`, or [`Error::BufferTooSmall`].
    pub(crate) fn new(buf: &'b mut [u8], len: usize) -> Result<Writer<'b>> {
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        Ok(Writer { out, at: 0 })
    }

    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes(&[value])
    }

    pub(crate) fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.at + bytes.len();
        if let Some(dst) = self.out.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
        self
    }

    /// Writes `count` zero bytes.
    pub(crate) fn zeros(&mut self, count: usize) -> &mut Self {
        let end = self.at + count;
        if let Some(dst) = self.out.get_mut(self.at..end) {
            dst.fill(0);
        }
        self.at = end;
        self
    }

    /// The unwritten rest of the promised bytes, for a nested message to emit into; `len`
    /// bytes of it count as written.
    pub(crate) fn nested(&mut self, len: usize) -> &mut [u8] {
        let start = self.at.min(self.out.len());
        self.at += len;
        &mut self.out[start..]
    }

    /// How many bytes were written.
    pub(crate) fn finish(&self) -> usize {
        debug_assert_eq!(self.at, self.out.len(), "buffer_len and emit disagree");
        self.at
    }
}

/// A length as a `u16` field, or `Invalid(violation)` when it does not fit.
pub(crate) fn len_u16(len: usize, violation: Violation) -> Result<u16> {
    u16::try_from(len).map_err(|_| Error::Invalid(violation))
}

/// A length as a `u8` field, or `Invalid(violation)` when it does not fit.
pub(crate) fn len_u8(len: usize, violation: Violation) -> Result<u8> {
    u8::try_from(len).map_err(|_| Error::Invalid(violation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_fails_cleanly_past_the_end() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(r.u16(), Err(TRUNCATED));
        assert_eq!(r.rest(), &[3]);
        assert_eq!(r.finish(), Err(Error::Malformed(Violation::TrailingBytes)));
        assert_eq!(r.u8(), Ok(3));
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(r.u32(), Err(TRUNCATED));
    }

    #[test]
    fn writer_refuses_short_buffers_up_front() {
        let mut buf = [0u8; 3];
        assert_eq!(
            Writer::new(&mut buf, 4).err(),
            Some(Error::BufferTooSmall { needed: 4 })
        );
        let mut w = Writer::new(&mut buf, 3).unwrap();
        w.u16(0x0102).zeros(1);
        assert_eq!(w.finish(), 3);
        assert_eq!(buf, [2, 1, 0]);
    }
}
