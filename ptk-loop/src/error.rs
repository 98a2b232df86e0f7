//! [`Error`]: the error codes of the completion layer, one per code of the C API.

use core::fmt;

/// A result of the completion layer.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What went wrong. Each variant is one error code of the C API (`PTK_ERR_*`), with the same
/// number ([`code`](Error::code)); success (`PTK_OK`, 0) is `Ok(_)`.
///
/// # Examples
///
/// ```
/// use ptk_loop::Error;
///
/// assert_eq!(Error::ConnectionRefused.code(), 8);
/// assert_eq!(Error::from_code(8), Some(Error::ConnectionRefused));
/// assert_eq!(Error::ConnectionRefused.as_str(), "connection refused");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Error {
    /// A fixed pool made at start-up is exhausted (`PTK_ERR_OUT_OF_MEMORY`): buffers, socket
    /// slots or the command queue. [`LoopOpts`](crate::LoopOpts) says which size to raise.
    OutOfMemory = 1,
    /// An argument is invalid (`PTK_ERR_INVALID_PARAM`): a missing callback, a host that is
    /// not a numeric address, a port out of range, a handle of another loop or the wrong
    /// kind of object for the call.
    InvalidParam = 2,
    /// A network error with no more specific code (`PTK_ERR_NETWORK_ERROR`).
    NetworkError = 3,
    /// The object is closed (`PTK_ERR_CLOSED`): a stale handle, a connection the peer closed
    /// or reset, a loop that has stopped.
    Closed = 4,
    /// A deadline passed (`PTK_ERR_TIMEOUT`): a connect timeout, [`Loop::wait_timeout`](crate::Loop::wait_timeout).
    Timeout = 5,
    /// The operation cannot proceed now (`PTK_ERR_WOULD_BLOCK`): a socket's write queue is
    /// full.
    WouldBlock = 6,
    /// The local address is in use (`PTK_ERR_ADDRESS_IN_USE`).
    AddressInUse = 7,
    /// The peer refused the connection (`PTK_ERR_CONNECTION_REFUSED`).
    ConnectionRefused = 8,
    /// The destination cannot be reached (`PTK_ERR_HOST_UNREACHABLE`).
    HostUnreachable = 9,
}

impl Error {
    /// Every error, in code order.
    pub const ALL: [Error; 9] = [
        Error::OutOfMemory,
        Error::InvalidParam,
        Error::NetworkError,
        Error::Closed,
        Error::Timeout,
        Error::WouldBlock,
        Error::AddressInUse,
        Error::ConnectionRefused,
        Error::HostUnreachable,
    ];

    /// The code of the C API (`PTK_ERR_*`): 1 to 9.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The error with this code; `None` for 0 (`PTK_OK`) and unknown codes.
    pub const fn from_code(code: i32) -> Option<Error> {
        if code >= 1 && code <= 9 {
            Some(Error::ALL[(code - 1) as usize])
        } else {
            None
        }
    }

    /// A short description (what `ptk_err_string` returns).
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::OutOfMemory => "out of memory",
            Error::InvalidParam => "invalid parameter",
            Error::NetworkError => "network error",
            Error::Closed => "closed",
            Error::Timeout => "timed out",
            Error::WouldBlock => "operation would block",
            Error::AddressInUse => "address already in use",
            Error::ConnectionRefused => "connection refused",
            Error::HostUnreachable => "host unreachable",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

impl From<ptk_runtime::Error> for Error {
    /// Maps the runtime's errors onto the C API's codes: a reset connection is `Closed`,
    /// an exhausted pool `OutOfMemory`, a stale handle `Closed`.
    fn from(e: ptk_runtime::Error) -> Error {
        use ptk_runtime::Error as R;
        match e {
            R::OutOfResources(_) => Error::OutOfMemory,
            R::InvalidArgument | R::NotSupported | R::MessageTooLarge => Error::InvalidParam,
            R::InvalidHandle | R::Closed | R::ConnectionReset | R::NotConnected => Error::Closed,
            R::Timeout => Error::Timeout,
            R::WouldBlock => Error::WouldBlock,
            R::AddressInUse => Error::AddressInUse,
            R::ConnectionRefused => Error::ConnectionRefused,
            R::HostUnreachable => Error::HostUnreachable,
            _ => Error::NetworkError,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::from(ptk_runtime::Error::from(e))
    }
}
