//! The data of RegisterSession: the protocol version and options.

use crate::error::{Error, Result, Violation};
use crate::limits::PROTOCOL_VERSION;
use crate::wire::{Reader, Writer};

/// The data of a RegisterSession request and of its reply (which echoes it).
///
/// # Examples
///
/// ```
/// use ptk_enip::RegisterSession;
///
/// let data = [0x01, 0x00, 0x00, 0x00];
/// assert_eq!(RegisterSession::parse(&data), Ok(RegisterSession::V1));
/// let mut buf = [0u8; 4];
/// assert_eq!(RegisterSession::V1.emit(&mut buf), Ok(4));
/// assert_eq!(buf, data);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegisterSession {
    /// The encapsulation protocol version (1).
    pub protocol_version: u16,
    /// The options flags (0).
    pub options: u16,
}

impl RegisterSession {
    /// The only version the protocol defines, without options.
    pub const V1: RegisterSession = RegisterSession {
        protocol_version: PROTOCOL_VERSION,
        options: 0,
    };
    /// The encoded length.
    pub const LEN: usize = 4;

    /// Parses the data of a RegisterSession request or reply. Any version parses; a server
    /// checks it with [`check`](RegisterSession::check).
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] or [`Violation::TrailingBytes`] if the data is not 4 bytes.
    pub fn parse(data: &[u8]) -> Result<RegisterSession> {
        let mut r = Reader::new(data);
        let session = RegisterSession {
            protocol_version: r.u16()?,
            options: r.u16()?,
        };
        r.finish()?;
        Ok(session)
    }

    /// Whether a server can accept the request.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] with [`Violation::ProtocolVersion`] (a server answers
    /// encapsulation status 0x0069, echoing the version it supports) unless the version is 1
    /// and the options 0.
    pub const fn check(&self) -> Result<()> {
        if self.protocol_version == PROTOCOL_VERSION && self.options == 0 {
            Ok(())
        } else {
            Err(Error::Malformed(Violation::ProtocolVersion))
        }
    }

    /// Writes the data into the start of `buf` and returns its length (4).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, RegisterSession::LEN)?;
        w.u16(self.protocol_version).u16(self.options);
        Ok(w.finish())
    }
}
