//! Writing big-endian fields into a buffer whose length was checked up front.

use crate::error::{Error, Result};

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
        self.bytes(&value.to_be_bytes())
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.at + bytes.len();
        if let Some(dst) = self.out.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
        self
    }

    /// How many bytes were written.
    pub(crate) fn finish(&self) -> usize {
        debug_assert_eq!(self.at, self.out.len(), "buffer_len and emit disagree");
        self.at
    }
}

/// The big-endian `u16` of two bytes.
pub(crate) const fn be16(hi: u8, lo: u8) -> u16 {
    u16::from_be_bytes([hi, lo])
}
