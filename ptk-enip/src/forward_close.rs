//! Forward_Close (0x4E to the Connection Manager): the request that closes a connection by
//! its triad, and its success reply.

use crate::error::{Error, Result, Violation};
use crate::forward_open::application_words;
use crate::wire::{Reader, Writer};
use crate::{ConnectionTriad, Epath};

/// The request data of Forward_Close.
///
/// # Examples
///
/// ```
/// use ptk_enip::{ConnectionTriad, Epath, ForwardClose};
///
/// let close = ForwardClose {
///     priority_tick: 0x0A,
///     timeout_ticks: 0x05,
///     triad: ConnectionTriad { connection_serial: 1, vendor_id: 0x1337, originator_serial: 42 },
///     connection_path: Epath::new_checked(&[0x01, 0x00, 0x20, 0x02, 0x24, 0x01]).unwrap(),
/// };
/// let mut buf = [0u8; 32];
/// let n = close.emit(&mut buf).unwrap();
/// assert_eq!(&buf[..n], &[
///     0x0A, 0x05, 0x01, 0x00, 0x37, 0x13, 42, 0, 0, 0, // timing and triad
///     0x03, 0x00, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01, // path size, reserved, path
/// ]);
/// assert_eq!(ForwardClose::parse(&buf[..n]), Ok(close));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForwardClose<'a> {
    /// Bit 4: priority; bits 0 to 3: the tick time, 2^n milliseconds.
    pub priority_tick: u8,
    /// The timeout in ticks.
    pub timeout_ticks: u8,
    /// The triad of the connection to close.
    pub triad: ConnectionTriad,
    /// The connection path the connection was opened with.
    pub connection_path: Epath<'a>,
}

impl<'a> ForwardClose<'a> {
    /// Parses the request data: timing, triad, path size in words, a reserved byte and the
    /// connection path.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if a field is cut short; [`Violation::Padding`] if the
    /// reserved byte is not 0; [`Violation::PathSize`] if the path does not fill the rest of
    /// the data; the errors of [`Epath::new_checked`].
    pub fn parse(data: &'a [u8]) -> Result<ForwardClose<'a>> {
        let mut r = Reader::new(data);
        let priority_tick = r.u8()?;
        let timeout_ticks = r.u8()?;
        let triad = ConnectionTriad::read(&mut r)?;
        let words = usize::from(r.u8()?);
        r.pad()?;
        if r.rest().len() != 2 * words {
            return Err(Error::Malformed(Violation::PathSize));
        }
        Ok(ForwardClose {
            priority_tick,
            timeout_ticks,
            triad,
            connection_path: Epath::new_checked(r.rest())?,
        })
    }

    /// The length of the request data.
    pub const fn buffer_len(&self) -> usize {
        12 + self.connection_path.len()
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u8(self.priority_tick).u8(self.timeout_ticks);
        self.triad.write(&mut w);
        w.u8(self.connection_path.len_words())
            .u8(0)
            .bytes(self.connection_path.as_bytes());
        Ok(w.finish())
    }
}

/// The data of a successful Forward_Close reply.
///
/// # Examples
///
/// ```
/// use ptk_enip::{ConnectionTriad, ForwardCloseReply};
///
/// let reply = ForwardCloseReply {
///     triad: ConnectionTriad { connection_serial: 1, vendor_id: 0x1337, originator_serial: 42 },
///     application_reply: &[],
/// };
/// let mut buf = [0u8; 10];
/// assert_eq!(reply.emit(&mut buf), Ok(10));
/// assert_eq!(ForwardCloseReply::parse(&buf), Ok(reply));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForwardCloseReply<'a> {
    /// The request's triad.
    pub triad: ConnectionTriad,
    /// The application reply, an even number of bytes up to 510.
    pub application_reply: &'a [u8],
}

impl<'a> ForwardCloseReply<'a> {
    /// Parses the reply data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if a field or the application reply is cut short;
    /// [`Violation::Padding`] if the reserved byte is not 0; [`Violation::TrailingBytes`]
    /// for bytes after the application reply.
    pub fn parse(data: &'a [u8]) -> Result<ForwardCloseReply<'a>> {
        let mut r = Reader::new(data);
        let triad = ConnectionTriad::read(&mut r)?;
        let words = usize::from(r.u8()?);
        r.pad()?;
        let application_reply = r.bytes(2 * words)?;
        r.finish()?;
        Ok(ForwardCloseReply {
            triad,
            application_reply,
        })
    }

    /// The length of the reply data.
    pub const fn buffer_len(&self) -> usize {
        10 + self.application_reply.len()
    }

    /// Writes the reply data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// As [`ForwardOpenReply::emit`](crate::ForwardOpenReply::emit).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let words = application_words(self.application_reply)?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        self.triad.write(&mut w);
        w.u8(words).u8(0).bytes(self.application_reply);
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_fill_the_request() {
        let data = [0x0A, 0x05, 1, 0, 2, 0, 3, 0, 0, 0, 0x02, 0x00, 0x01, 0x00];
        assert_eq!(
            ForwardClose::parse(&data),
            Err(Error::Malformed(Violation::PathSize))
        );
        let data = [0x0A, 0x05, 1, 0, 2, 0, 3, 0, 0, 0, 0x01, 0x07, 0x01, 0x00];
        assert_eq!(
            ForwardClose::parse(&data),
            Err(Error::Malformed(Violation::Padding))
        );
    }
}
