//! [`ClientError`], why a request got no answer or an answer that is not its success.

use core::fmt;

use crate::{EncapStatus, GeneralStatus, TagType};

/// Why a client request failed.
///
/// # Examples
///
/// ```
/// use ptk_enip::client::ClientError;
/// use ptk_enip::GeneralStatus;
///
/// let e = ClientError::Cip { general: GeneralStatus(0x05), extended: None };
/// assert_eq!(e.to_string(), "CIP status 0x05 (path destination unknown)");
///
/// let e = ClientError::Cip { general: GeneralStatus(0xFF), extended: Some(0x2105) };
/// assert_eq!(
///     e.to_string(),
///     "CIP status 0xFF (general error), extended status 0x2105 (beyond the end of the tag)"
/// );
/// assert_eq!(ptk_runtime::Error::from(e), ptk_runtime::Error::ProtocolError);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The target answered the CIP request with an error status: the general status and the
    /// first word of the extended status, if any. The connection stays up.
    Cip {
        /// The general status.
        general: GeneralStatus,
        /// The first extended status word (Logix: 0x2105 past the end of a tag, 0x2107 type
        /// mismatch, ...).
        extended: Option<u16>,
    },
    /// The target refused an encapsulation command (a session it does not know, a command it
    /// does not implement). The connection is closed.
    Encapsulation(EncapStatus),
    /// No answer within the request timeout. The connection stays up; a late answer is
    /// dropped when it comes.
    Timeout,
    /// Connecting, reading or writing failed; the connection is closed and the next request
    /// reconnects after the backoff.
    Io(ptk_runtime::Error),
    /// The target's answer does not answer the request (or its framing is broken, which also
    /// closes the connection).
    Protocol(crate::Error),
    /// The request breaks a protocol limit or names no tag and was not sent (a tag name that
    /// does not parse, a message longer than the connection allows).
    InvalidRequest(crate::Error),
    /// Every request slot is in flight, or the send buffer is full: wait for an answer first.
    Busy,
    /// The reply is longer than a client's reply storage (the connection size the client
    /// negotiates); the reply was dropped, the connection stays up.
    ReplyTooLarge {
        /// The reply's length in bytes.
        len: usize,
    },
    /// The caller's buffer is too short for the data the target sent.
    BufferTooSmall {
        /// The bytes needed.
        needed: usize,
    },
    /// The tag's type does not allow what was asked: a bit of a tag that is not an integer,
    /// a value read of a structure, a value whose type is not the tag's.
    UnexpectedType(TagType),
}

/// What a Logix extended status (after general status 0xFF) means.
pub(crate) const fn logix_extended(code: u16) -> Option<&'static str> {
    Some(match code {
        0x2104 => "offset beyond the end of the tag",
        0x2105 => "beyond the end of the tag",
        0x2107 => "data type mismatch",
        0x0100 => "connection in use or duplicate forward open",
        0x0109 => "invalid connection size",
        0x0113 => "out of connections",
        0x0204 => "unconnected request timed out",
        0x0311 => "invalid port in the route",
        0x0315 => "invalid segment in the connection path",
        _ => return None,
    })
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClientError::Cip { general, extended } => {
                let text = match general.0 {
                    0xFF => Some("general error"),
                    _ => general.description(),
                };
                write!(f, "CIP status 0x{:02X}", general.0)?;
                if let Some(text) = text {
                    write!(f, " ({text})")?;
                }
                if let Some(code) = extended {
                    write!(f, ", extended status 0x{code:04X}")?;
                    if let Some(text) = logix_extended(code) {
                        write!(f, " ({text})")?;
                    }
                }
                Ok(())
            }
            ClientError::Encapsulation(status) => {
                write!(f, "the target refused the encapsulation command: {status}")
            }
            ClientError::Timeout => f.write_str("no answer within the request timeout"),
            ClientError::Io(e) => write!(f, "connection failed: {e}"),
            ClientError::Protocol(e) => write!(f, "invalid answer from the target: {e}"),
            ClientError::InvalidRequest(e) => write!(f, "request not sent: {e}"),
            ClientError::Busy => {
                f.write_str("every request slot is in flight: wait for an answer first")
            }
            ClientError::ReplyTooLarge { len } => {
                write!(f, "the {len}-byte reply is longer than the client can hold")
            }
            ClientError::BufferTooSmall { needed } => {
                write!(f, "the data needs a buffer of {needed} bytes")
            }
            ClientError::UnexpectedType(t) => match t {
                TagType::Atomic(t) => write!(f, "unexpected tag type {}", t.name()),
                TagType::LOGIX_STRING => f.write_str("unexpected tag type STRING"),
                TagType::Structure(h) => write!(f, "unexpected tag type: structure {h:#06x}"),
                TagType::Other(code) => write!(f, "unexpected tag type {code:#06x}"),
            },
        }
    }
}

impl std::error::Error for ClientError {}

/// `Cip`, `Encapsulation`, `Protocol`, `ReplyTooLarge` and `UnexpectedType` are
/// [`ProtocolError`](ptk_runtime::Error::ProtocolError), `Timeout` is
/// [`Timeout`](ptk_runtime::Error::Timeout), `Io` is the error itself, `InvalidRequest` and
/// `BufferTooSmall` are [`InvalidArgument`](ptk_runtime::Error::InvalidArgument) and `Busy`
/// is [`WouldBlock`](ptk_runtime::Error::WouldBlock).
impl From<ClientError> for ptk_runtime::Error {
    fn from(e: ClientError) -> ptk_runtime::Error {
        match e {
            ClientError::Cip { .. }
            | ClientError::Encapsulation(_)
            | ClientError::Protocol(_)
            | ClientError::ReplyTooLarge { .. }
            | ClientError::UnexpectedType(_) => ptk_runtime::Error::ProtocolError,
            ClientError::Timeout => ptk_runtime::Error::Timeout,
            ClientError::Io(e) => e,
            ClientError::InvalidRequest(_) | ClientError::BufferTooSmall { .. } => {
                ptk_runtime::Error::InvalidArgument
            }
            ClientError::Busy => ptk_runtime::Error::WouldBlock,
        }
    }
}
