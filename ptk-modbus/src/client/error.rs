//! [`ClientError`], why a request got no answer.

use core::fmt;

use crate::ExceptionCode;

/// Why a client request failed.
///
/// # Examples
///
/// ```
/// use ptk_modbus::client::ClientError;
/// use ptk_modbus::ExceptionCode;
///
/// let e = ClientError::Exception(ExceptionCode::IllegalDataAddress);
/// assert_eq!(e.to_string(), "the server answered with exception illegal data address (2)");
/// assert_eq!(ptk_runtime::Error::from(e), ptk_runtime::Error::ProtocolError);
///
/// let e = ClientError::UnitIdMismatch { request: 1, reply: 7 };
/// assert_eq!(e.to_string(), "reply unit id 7 does not match request unit id 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an exception response.
    Exception(ExceptionCode),
    /// No answer within the request timeout. The connection stays up; a late answer is
    /// dropped when it comes.
    Timeout,
    /// Connecting, reading or writing failed; the connection is closed and the next request
    /// reconnects after the backoff.
    Io(ptk_runtime::Error),
    /// The server's answer is not a valid response to the request (or its framing is broken,
    /// which also closes the connection).
    Protocol(crate::Error),
    /// The request breaks a protocol limit and was not sent (a quantity of 0 or above the
    /// limit of its function code, an address range past 0x10000).
    InvalidRequest(crate::Error),
    /// Every request slot is taken by a request in flight (or the send buffer is full): wait
    /// for an answer first.
    Busy,
    /// The reply to a request came from another unit id than the request went to (a gateway
    /// or server that answers for the wrong device). The connection stays up.
    UnitIdMismatch {
        /// The unit id of the request.
        request: u8,
        /// The unit id of the reply.
        reply: u8,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Exception(code) => {
                write!(f, "the server answered with exception {code}")
            }
            ClientError::Timeout => f.write_str("no answer within the request timeout"),
            ClientError::Io(e) => write!(f, "connection failed: {e}"),
            ClientError::Protocol(e) => write!(f, "invalid answer from the server: {e}"),
            ClientError::InvalidRequest(e) => write!(f, "request not sent: {e}"),
            ClientError::Busy => {
                f.write_str("every request slot is in flight: wait for an answer first")
            }
            ClientError::UnitIdMismatch { request, reply } => {
                write!(
                    f,
                    "reply unit id {reply} does not match request unit id {request}"
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// `Exception`, `Protocol` and `UnitIdMismatch` are
/// [`ProtocolError`](ptk_runtime::Error::ProtocolError),
/// `Timeout` is [`Timeout`](ptk_runtime::Error::Timeout), `Io` is the error itself,
/// `InvalidRequest` is [`InvalidArgument`](ptk_runtime::Error::InvalidArgument) and `Busy` is
/// [`WouldBlock`](ptk_runtime::Error::WouldBlock).
impl From<ClientError> for ptk_runtime::Error {
    fn from(e: ClientError) -> ptk_runtime::Error {
        match e {
            ClientError::Exception(_)
            | ClientError::Protocol(_)
            | ClientError::UnitIdMismatch { .. } => ptk_runtime::Error::ProtocolError,
            ClientError::Timeout => ptk_runtime::Error::Timeout,
            ClientError::Io(e) => e,
            ClientError::InvalidRequest(_) => ptk_runtime::Error::InvalidArgument,
            ClientError::Busy => ptk_runtime::Error::WouldBlock,
        }
    }
}
