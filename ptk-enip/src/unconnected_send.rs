//! Unconnected_Send (0x52 to the Connection Manager): a request routed through a path of
//! ports to its target, and the failure reply that says how far it got.

use crate::error::{Error, Result, Violation};
use crate::limits::MAX_UNCONNECTED_MESSAGE;
use crate::wire::{len_u16, Reader, Writer};
use crate::{Epath, MessageResponse};

/// The request data of Unconnected_Send: timing, the embedded request and the route path.
///
/// A successful reply is the embedded request's own reply; a routing failure comes back as
/// an Unconnected_Send reply whose data is [`remaining_path_size`].
///
/// # Examples
///
/// Read Tag of "A" through the backplane to slot 0 (`1,0`):
///
/// ```
/// use ptk_enip::{Epath, UnconnectedSend};
///
/// let embedded = b"\x4C\x02\x91\x01A\x00\x01\x00";
/// let send = UnconnectedSend {
///     priority_tick: 0x0A,
///     timeout_ticks: 0x05,
///     message: embedded,
///     route_path: Epath::new_checked(&[0x01, 0x00]).unwrap(),
/// };
/// let mut buf = [0u8; 32];
/// let n = send.emit(&mut buf).unwrap();
/// assert_eq!(&buf[..4], &[0x0A, 0x05, 0x08, 0x00]);
/// assert_eq!(&buf[12..n], &[0x01, 0x00, 0x01, 0x00]); // path size, reserved, route path
/// assert_eq!(UnconnectedSend::parse(&buf[..n]), Ok(send));
/// assert_eq!(send.timeout_ms(), 1024 * 5);
/// ```
///
/// [`remaining_path_size`]: UnconnectedSend::remaining_path_size
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnconnectedSend<'a> {
    /// Bit 4: priority (0 normal); bits 0 to 3: the tick time, 2^n milliseconds.
    pub priority_tick: u8,
    /// The timeout in ticks.
    pub timeout_ticks: u8,
    /// The embedded message router request.
    pub message: &'a [u8],
    /// The route to the target: port segments (the last hop names the target's slot).
    pub route_path: Epath<'a>,
}

impl<'a> UnconnectedSend<'a> {
    /// Parses the request data: priority/tick, timeout ticks, the message's length, the
    /// message (with a pad byte if its length is odd), the route path size in words, a
    /// reserved byte and the route path.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if a field is cut short; [`Violation::MessageTooLong`] if
    /// the message is longer than [`MAX_UNCONNECTED_MESSAGE`]; [`Violation::Padding`] for a
    /// pad or reserved byte that is not 0; [`Violation::PathSize`] if the route path does not
    /// fill the rest of the data; the errors of [`Epath::new_checked`].
    pub fn parse(data: &'a [u8]) -> Result<UnconnectedSend<'a>> {
        let mut r = Reader::new(data);
        let priority_tick = r.u8()?;
        let timeout_ticks = r.u8()?;
        let len = usize::from(r.u16()?);
        if len > MAX_UNCONNECTED_MESSAGE {
            return Err(Error::Malformed(Violation::MessageTooLong));
        }
        let message = r.bytes(len)?;
        if len % 2 == 1 {
            r.pad()?;
        }
        let words = usize::from(r.u8()?);
        r.pad()?;
        if r.rest().len() != 2 * words {
            return Err(Error::Malformed(Violation::PathSize));
        }
        Ok(UnconnectedSend {
            priority_tick,
            timeout_ticks,
            message,
            route_path: Epath::new_checked(r.rest())?,
        })
    }

    /// The timeout in milliseconds: `2^(priority_tick & 0x0F) * timeout_ticks`.
    pub const fn timeout_ms(&self) -> u32 {
        (1u32 << (self.priority_tick & 0x0F)) * self.timeout_ticks as u32
    }

    /// The length of the request data with an embedded message of `message_len` bytes and
    /// `route_path`.
    pub const fn len_for(message_len: usize, route_path: &Epath<'_>) -> usize {
        4 + message_len + message_len % 2 + 2 + route_path.len()
    }

    /// The length of the request data.
    pub const fn buffer_len(&self) -> usize {
        UnconnectedSend::len_for(self.message.len(), &self.route_path)
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::MessageTooLong`] if the message is longer than
    /// [`MAX_UNCONNECTED_MESSAGE`]; [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let message = self.message;
        self.emit_with(message.len(), buf, |out| {
            out.copy_from_slice(message);
            Ok(message.len())
        })
    }

    /// Writes the request data around a `message_len`-byte message that `emit_message`
    /// writes into the slice it is given (the `message` field is not used). Returns the
    /// length.
    ///
    /// # Errors
    ///
    /// As [`emit`](UnconnectedSend::emit); whatever `emit_message` returns.
    pub fn emit_with(
        &self,
        message_len: usize,
        buf: &mut [u8],
        emit_message: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        if message_len > MAX_UNCONNECTED_MESSAGE {
            return Err(Error::Invalid(Violation::MessageTooLong));
        }
        let len = len_u16(message_len, Violation::MessageTooLong)?;
        let mut w = Writer::new(buf, UnconnectedSend::len_for(message_len, &self.route_path))?;
        w.u8(self.priority_tick).u8(self.timeout_ticks).u16(len);
        emit_message(&mut w.nested(message_len)[..message_len])?;
        if message_len % 2 == 1 {
            w.u8(0);
        }
        w.u8(self.route_path.len_words())
            .u8(0)
            .bytes(self.route_path.as_bytes());
        Ok(w.finish())
    }

    /// The remaining path size of an Unconnected_Send failure reply (a routing error, such
    /// as general status 0x01 / extended 0x0204 "unconnected request timed out"): how many
    /// words of the route path were left when it failed. `None` for a reply without it.
    pub fn remaining_path_size(reply: &MessageResponse<'_>) -> Option<u8> {
        match *reply.data {
            [size] | [size, 0] => Some(size),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_messages_are_padded() {
        let send = UnconnectedSend {
            priority_tick: 0x07,
            timeout_ticks: 0xE9,
            message: &[0x01, 0x02, 0x20],
            route_path: Epath::new_checked(&[0x01, 0x00]).unwrap(),
        };
        let mut buf = [0u8; 16];
        let n = send.emit(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            &[0x07, 0xE9, 0x03, 0x00, 0x01, 0x02, 0x20, 0x00, 0x01, 0x00, 0x01, 0x00]
        );
        assert_eq!(UnconnectedSend::parse(&buf[..n]), Ok(send));
        buf[7] = 1;
        assert_eq!(
            UnconnectedSend::parse(&buf[..n]),
            Err(Error::Malformed(Violation::Padding))
        );
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(
            UnconnectedSend::parse(&[0x0A, 0x05, 0xF9, 0x01]),
            Err(Error::Malformed(Violation::MessageTooLong))
        );
        assert_eq!(
            UnconnectedSend::parse(&[0x0A, 0x05, 0x02, 0x00, 1, 2, 2, 0, 1, 0]),
            Err(Error::Malformed(Violation::PathSize))
        );
        let long = [0u8; 505];
        let send = UnconnectedSend {
            priority_tick: 0,
            timeout_ticks: 0,
            message: &long,
            route_path: Epath::EMPTY,
        };
        assert_eq!(
            send.emit(&mut [0u8; 600]),
            Err(Error::Invalid(Violation::MessageTooLong))
        );
    }

    #[test]
    fn failures_report_the_remaining_path() {
        let reply =
            MessageResponse::parse(&[0xD2, 0x00, 0x01, 0x01, 0x04, 0x02, 0x02, 0x00]).unwrap();
        assert_eq!(reply.extended_status.first(), Some(0x0204));
        assert_eq!(UnconnectedSend::remaining_path_size(&reply), Some(2));
    }
}
