//! The one error type of ptk and its stable codes.

use core::fmt;

/// The result type of every fallible ptk operation.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in ptk.
///
/// Each variant has a stable negative [`code`](Error::code) (for FFI, logs and wire formats) and
/// a static [`as_str`](Error::as_str) name. The enum is `Copy` and two words wide at most, so
/// returning it costs nothing and never allocates.
///
/// # Mapping from `std::io::Error`
///
/// Under the `std` feature, `From<std::io::Error>` maps by [`std::io::ErrorKind`]:
///
/// | `io::ErrorKind`                                   | `Error`               |
/// |---------------------------------------------------|-----------------------|
/// | `WouldBlock`                                      | [`WouldBlock`](Error::WouldBlock) |
/// | `TimedOut`                                        | [`Timeout`](Error::Timeout) |
/// | `ConnectionRefused`                               | [`ConnectionRefused`](Error::ConnectionRefused) |
/// | `ConnectionReset`, `ConnectionAborted`, `BrokenPipe` | [`ConnectionReset`](Error::ConnectionReset) |
/// | `NotConnected`                                    | [`NotConnected`](Error::NotConnected) |
/// | `AlreadyExists` on a socket (`EISCONN`)           | [`AlreadyConnected`](Error::AlreadyConnected) |
/// | `AddrInUse`                                       | [`AddressInUse`](Error::AddressInUse) |
/// | `HostUnreachable`, `NetworkUnreachable`, `AddrNotAvailable` | [`HostUnreachable`](Error::HostUnreachable) |
/// | `InvalidInput`                                    | [`InvalidArgument`](Error::InvalidArgument) |
/// | `Unsupported`                                     | [`NotSupported`](Error::NotSupported) |
/// | `UnexpectedEof`                                   | [`Closed`](Error::Closed) |
/// | `OutOfMemory`, and the OS codes `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM` | [`OutOfResources`](Error::OutOfResources)([`Capacity::FileDescriptors`]) |
/// | `EMSGSIZE`                                        | [`MessageTooLarge`](Error::MessageTooLarge) |
/// | anything else                                     | [`Network`](Error::Network) |
///
/// # Examples
///
/// ```
/// use ptk_runtime::{Capacity, Error};
///
/// let e = Error::OutOfResources(Capacity::TcpStreams);
/// assert_eq!(e.code(), -3);
/// assert_eq!(e.as_str(), "out of resources");
/// assert_eq!(
///     e.to_string(),
///     "out of resources: every TCP stream slot is in use (give `Storage::tcp_streams` more slots)"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The handle is stale (its slot was freed or reused), belongs to another loop, or names
    /// another kind of resource.
    InvalidHandle,
    /// An argument is out of its documented range (for example a timer interval of 0).
    InvalidArgument,
    /// A fixed-size pool or queue is full; the payload says which capacity to raise.
    OutOfResources(Capacity),
    /// The operation is not available on this platform, build or resource.
    NotSupported,
    /// A network error with no more specific variant.
    Network,
    /// A deadline passed before the operation completed.
    Timeout,
    /// The operation would block; try again when the resource is ready.
    WouldBlock,
    /// The peer refused the connection.
    ConnectionRefused,
    /// The peer reset (or aborted) the connection.
    ConnectionReset,
    /// The socket is not connected.
    NotConnected,
    /// The socket is already connected.
    AlreadyConnected,
    /// The local address is already in use.
    AddressInUse,
    /// The destination cannot be reached.
    HostUnreachable,
    /// A message is larger than the buffer or frame limit that must hold it.
    MessageTooLarge,
    /// The peer violated the protocol.
    ProtocolError,
    /// The resource (or the peer's side of a connection) is closed.
    Closed,
    /// The file (or directory of a path) does not exist.
    NotFound,
    /// The operating system refused access (file permissions, a privileged port, ...).
    PermissionDenied,
}

/// Names the fixed capacity that ran out, so [`Error::OutOfResources`] can say what to raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capacity {
    /// Event loop ids: at most 256 loops exist at once in one process.
    Loops,
    /// Timer slots (`Storage::timers`).
    Timers,
    /// TCP listener slots (`Storage::tcp_listeners`).
    TcpListeners,
    /// TCP stream slots (`Storage::tcp_streams`).
    TcpStreams,
    /// UDP socket slots (`Storage::udp_sockets`).
    UdpSockets,
    /// User event sources (`Storage::user_events`).
    UserEventSources,
    /// Distinct event ids one user event source can hold (`USER_EVENT_IDS`).
    UserEventIds,
    /// Deferred calls waiting in the post queue (`Config::post_queue`).
    PostQueue,
    /// Contexts of a protothread pool (or entries of `Config::protothreads`).
    Protothreads,
    /// Counting semaphore slots (`Storage::semaphores`).
    Semaphores,
    /// Signal watcher slots (`Storage::signals`).
    Signals,
    /// Buffers of the small class of the buffer pool (`Capacities::buffers`).
    Buffers,
    /// Buffers of the large class of the buffer pool (`Capacities::large_buffers`), which
    /// hold what does not fit a small one.
    LargeBuffers,
    /// Buffers one TCP stream may hold at once, lent by its reads or queued for its writes
    /// (`Config::buffers_per_stream`).
    BuffersPerStream,
    /// Operating-system file descriptors (`EMFILE`/`ENFILE`): raise the process limit
    /// (`ulimit -n`) or serve fewer connections.
    FileDescriptors,
    /// Kernel memory or buffers (`ENOMEM`/`ENOBUFS`).
    SystemMemory,
    /// A generic pool whose owner did not name its capacity.
    Pool,
    /// Defer watcher slots (`Storage::defers`).
    Defers,
    /// Idle watcher slots (`Storage::idles`).
    Idles,
    /// Periodic watcher slots (`Storage::periodics`).
    Periodics,
    /// File operations in flight (`Capacities::file_ops`), or bytes one of them may move
    /// (`Capacities::file_op_size`).
    FileOps,
    /// Room on the file system (`ENOSPC`, `EDQUOT`, `EFBIG`): a write could not be completed.
    StorageSpace,
}

impl Capacity {
    /// What to change to get more of this capacity.
    pub const fn advice(self) -> &'static str {
        match self {
            Capacity::Loops => "at most 256 event loops can exist at once (drop one first)",
            Capacity::Timers => "every timer slot is in use (give `Storage::timers` more slots)",
            Capacity::TcpListeners => {
                "every TCP listener slot is in use (give `Storage::tcp_listeners` more slots)"
            }
            Capacity::TcpStreams => {
                "every TCP stream slot is in use (give `Storage::tcp_streams` more slots)"
            }
            Capacity::UdpSockets => {
                "every UDP socket slot is in use (give `Storage::udp_sockets` more slots)"
            }
            Capacity::UserEventSources => {
                "every user event source is in use (give `Storage::user_events` more slots)"
            }
            Capacity::UserEventIds => {
                "this user event source holds as many distinct ids as it can \
                 (`USER_EVENT_IDS`); use another source for more ids"
            }
            Capacity::PostQueue => "the post queue is full (raise `Config::post_queue`)",
            Capacity::Protothreads => {
                "every context of the protothread pool is in use (lend the pool more contexts; \
                 the loop's table holds `Config::protothreads` in all)"
            }
            Capacity::Semaphores => {
                "every semaphore slot is in use (give `Storage::semaphores` more slots)"
            }
            Capacity::Signals => {
                "every signal watcher slot is in use (give `Storage::signals` more slots)"
            }
            Capacity::Buffers => {
                "every small buffer of the pool is in use (raise `Capacities::buffers`)"
            }
            Capacity::LargeBuffers => {
                "every large buffer of the pool is in use, or the frame is larger than one \
                 (raise `Capacities::large_buffers` or `Capacities::large_buffer_size`)"
            }
            Capacity::BuffersPerStream => {
                "this stream holds as many buffers as one stream may \
                 (raise `Config::buffers_per_stream`, or release and wait for sends first)"
            }
            Capacity::FileDescriptors => {
                "the process is out of file descriptors (raise `ulimit -n` or serve fewer sockets)"
            }
            Capacity::SystemMemory => "the kernel is out of memory or socket buffers",
            Capacity::Pool => "every slot of the pool is in use (give it more slots)",
            Capacity::Defers => {
                "every defer watcher slot is in use (give `Storage::defers` more slots)"
            }
            Capacity::Idles => {
                "every idle watcher slot is in use (give `Storage::idles` more slots)"
            }
            Capacity::Periodics => {
                "every periodic watcher slot is in use (give `Storage::periodics` more slots)"
            }
            Capacity::FileOps => {
                "every file operation slot is busy, or the operation moves more bytes than one \
                 slot stages (raise `Capacities::file_ops` or `Capacities::file_op_size`)"
            }
            Capacity::StorageSpace => {
                "the file system is full, over quota, or the file would exceed its size limit"
            }
        }
    }
}

impl Error {
    /// The stable negative code of this error, as in the original C design
    /// (`InvalidHandle` is -1, ..., `Closed` is -16). Codes never change between versions.
    pub const fn code(self) -> i32 {
        match self {
            Error::InvalidHandle => -1,
            Error::InvalidArgument => -2,
            Error::OutOfResources(_) => -3,
            Error::NotSupported => -4,
            Error::Network => -5,
            Error::Timeout => -6,
            Error::WouldBlock => -7,
            Error::ConnectionRefused => -8,
            Error::ConnectionReset => -9,
            Error::NotConnected => -10,
            Error::AlreadyConnected => -11,
            Error::AddressInUse => -12,
            Error::HostUnreachable => -13,
            Error::MessageTooLarge => -14,
            Error::ProtocolError => -15,
            Error::Closed => -16,
            Error::NotFound => -17,
            Error::PermissionDenied => -18,
        }
    }

    /// The error for a stable code, the inverse of [`code`](Error::code). The capacity of an
    /// `OutOfResources` code is not encoded, so it comes back as [`Capacity::Pool`].
    pub const fn from_code(code: i32) -> Option<Error> {
        Some(match code {
            -1 => Error::InvalidHandle,
            -2 => Error::InvalidArgument,
            -3 => Error::OutOfResources(Capacity::Pool),
            -4 => Error::NotSupported,
            -5 => Error::Network,
            -6 => Error::Timeout,
            -7 => Error::WouldBlock,
            -8 => Error::ConnectionRefused,
            -9 => Error::ConnectionReset,
            -10 => Error::NotConnected,
            -11 => Error::AlreadyConnected,
            -12 => Error::AddressInUse,
            -13 => Error::HostUnreachable,
            -14 => Error::MessageTooLarge,
            -15 => Error::ProtocolError,
            -16 => Error::Closed,
            -17 => Error::NotFound,
            -18 => Error::PermissionDenied,
            _ => return None,
        })
    }

    /// A short static name of the error kind, without detail.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::InvalidHandle => "invalid handle",
            Error::InvalidArgument => "invalid argument",
            Error::OutOfResources(_) => "out of resources",
            Error::NotSupported => "not supported",
            Error::Network => "network error",
            Error::Timeout => "timed out",
            Error::WouldBlock => "would block",
            Error::ConnectionRefused => "connection refused",
            Error::ConnectionReset => "connection reset",
            Error::NotConnected => "not connected",
            Error::AlreadyConnected => "already connected",
            Error::AddressInUse => "address in use",
            Error::HostUnreachable => "host unreachable",
            Error::MessageTooLarge => "message too large",
            Error::ProtocolError => "protocol error",
            Error::Closed => "closed",
            Error::NotFound => "not found",
            Error::PermissionDenied => "permission denied",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OutOfResources(capacity) => {
                write!(f, "{}: {}", self.as_str(), capacity.advice())
            }
            Error::InvalidHandle => f.write_str(
                "invalid handle: stale (freed or reused), of another event loop, or of another type",
            ),
            other => f.write_str(other.as_str()),
        }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.advice())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        use std::io::ErrorKind as K;
        // Codes checked first: several have no ErrorKind of their own on stable Rust.
        if let Some(code) = e.raw_os_error() {
            match code {
                libc_codes::EMFILE | libc_codes::ENFILE => {
                    return Error::OutOfResources(Capacity::FileDescriptors)
                }
                libc_codes::ENOBUFS | libc_codes::ENOMEM => {
                    return Error::OutOfResources(Capacity::SystemMemory)
                }
                libc_codes::EMSGSIZE => return Error::MessageTooLarge,
                libc_codes::ENOSPC | libc_codes::EDQUOT | libc_codes::EFBIG => {
                    return Error::OutOfResources(Capacity::StorageSpace)
                }
                libc_codes::EISCONN => return Error::AlreadyConnected,
                libc_codes::EHOSTUNREACH | libc_codes::ENETUNREACH => {
                    return Error::HostUnreachable
                }
                _ => {}
            }
        }
        match e.kind() {
            K::WouldBlock => Error::WouldBlock,
            K::TimedOut => Error::Timeout,
            K::ConnectionRefused => Error::ConnectionRefused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Error::ConnectionReset,
            K::NotConnected => Error::NotConnected,
            K::AddrInUse => Error::AddressInUse,
            K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable => {
                Error::HostUnreachable
            }
            K::InvalidInput => Error::InvalidArgument,
            K::Unsupported => Error::NotSupported,
            K::UnexpectedEof => Error::Closed,
            K::OutOfMemory => Error::OutOfResources(Capacity::SystemMemory),
            K::NotFound => Error::NotFound,
            K::PermissionDenied => Error::PermissionDenied,
            K::WriteZero => Error::Closed,
            _ => Error::Network,
        }
    }
}

/// The POSIX error numbers the mapping needs, without a libc dependency. Values are Linux's;
/// other platforms fall back to the `ErrorKind` mapping for codes that differ.
#[cfg(feature = "std")]
mod libc_codes {
    #[cfg(target_os = "linux")]
    mod values {
        pub const EMFILE: i32 = 24;
        pub const ENFILE: i32 = 23;
        pub const ENOBUFS: i32 = 105;
        pub const ENOMEM: i32 = 12;
        pub const EMSGSIZE: i32 = 90;
        pub const EISCONN: i32 = 106;
        pub const EHOSTUNREACH: i32 = 113;
        pub const ENETUNREACH: i32 = 101;
        pub const ENOSPC: i32 = 28;
        pub const EDQUOT: i32 = 122;
        pub const EFBIG: i32 = 27;
    }
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    mod values {
        pub const EMFILE: i32 = 24;
        pub const ENFILE: i32 = 23;
        pub const ENOBUFS: i32 = 55;
        pub const ENOMEM: i32 = 12;
        pub const EMSGSIZE: i32 = 40;
        pub const EISCONN: i32 = 56;
        pub const EHOSTUNREACH: i32 = 65;
        pub const ENETUNREACH: i32 = 51;
        pub const ENOSPC: i32 = 28;
        pub const EDQUOT: i32 = 69;
        pub const EFBIG: i32 = 27;
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    mod values {
        // Unknown platform: impossible codes, so only the ErrorKind mapping applies.
        pub const EMFILE: i32 = -1001;
        pub const ENFILE: i32 = -1002;
        pub const ENOBUFS: i32 = -1003;
        pub const ENOMEM: i32 = -1004;
        pub const EMSGSIZE: i32 = -1005;
        pub const EISCONN: i32 = -1006;
        pub const EHOSTUNREACH: i32 = -1007;
        pub const ENETUNREACH: i32 = -1008;
        pub const ENOSPC: i32 = -1009;
        pub const EDQUOT: i32 = -1010;
        pub const EFBIG: i32 = -1011;
    }
    pub use values::*;
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Error; 18] = [
        Error::InvalidHandle,
        Error::InvalidArgument,
        Error::OutOfResources(Capacity::Pool),
        Error::NotSupported,
        Error::Network,
        Error::Timeout,
        Error::WouldBlock,
        Error::ConnectionRefused,
        Error::ConnectionReset,
        Error::NotConnected,
        Error::AlreadyConnected,
        Error::AddressInUse,
        Error::HostUnreachable,
        Error::MessageTooLarge,
        Error::ProtocolError,
        Error::Closed,
        Error::NotFound,
        Error::PermissionDenied,
    ];

    #[test]
    fn codes_are_stable_negative_and_round_trip() {
        for (i, e) in ALL.iter().enumerate() {
            assert_eq!(e.code(), -(i as i32) - 1);
            assert_eq!(Error::from_code(e.code()), Some(*e));
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(-19), None);
    }

    #[test]
    fn error_is_at_most_two_bytes() {
        assert!(core::mem::size_of::<Error>() <= 2);
    }

    #[cfg(feature = "std")]
    #[test]
    fn io_errors_map_as_documented() {
        use std::io::{Error as Io, ErrorKind as K};
        assert_eq!(Error::from(Io::from(K::WouldBlock)), Error::WouldBlock);
        assert_eq!(Error::from(Io::from(K::BrokenPipe)), Error::ConnectionReset);
        assert_eq!(
            Error::from(Io::from(K::ConnectionRefused)),
            Error::ConnectionRefused
        );
        assert_eq!(Error::from(Io::from(K::UnexpectedEof)), Error::Closed);
        assert_eq!(Error::from(Io::from(K::NotFound)), Error::NotFound);
        assert_eq!(
            Error::from(Io::from(K::PermissionDenied)),
            Error::PermissionDenied
        );
        assert_eq!(Error::from(Io::from(K::Other)), Error::Network);
        #[cfg(target_os = "linux")]
        {
            assert_eq!(
                Error::from(Io::from_raw_os_error(24)),
                Error::OutOfResources(Capacity::FileDescriptors)
            );
            assert_eq!(
                Error::from(Io::from_raw_os_error(90)),
                Error::MessageTooLarge
            );
            assert_eq!(
                Error::from(Io::from_raw_os_error(111)),
                Error::ConnectionRefused
            );
        }
    }
}
