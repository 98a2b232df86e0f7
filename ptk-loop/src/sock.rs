//! [`Sock`]: the handle of a server, connection, UDP socket or timer.

use core::fmt;
use core::num::NonZeroU64;

/// The handle of an object of a loop group: a TCP server, a TCP connection (accepted or
/// connected), a UDP socket or a timer.
///
/// A `Sock` is a 64-bit value: copy it, send it to other threads, keep it in C as an opaque
/// pointer ([`to_u64`](Sock::to_u64) / [`from_u64`](Sock::from_u64)). It names its group,
/// the worker loop that owns the object, the object's slot and the slot's generation. Once
/// the object is closed (after its [`EventKind::Close`](crate::EventKind::Close)) the slot's
/// generation moves on, so the handle is stale: every call with it answers
/// [`Error::Closed`](crate::Error::Closed), whatever took the slot since.
///
/// Bits 0-7 hold the group id (never 0), 8-15 the worker, 16-39 the slot, 40-63 the
/// generation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Sock(NonZeroU64);

impl Sock {
    pub(crate) fn new(group: u8, worker: u8, slot: u32, generation: u32) -> Sock {
        let v = u64::from(group.max(1))
            | (u64::from(worker) << 8)
            | (u64::from(slot & 0xff_ffff) << 16)
            | (u64::from(generation & 0xff_ffff) << 40);
        match NonZeroU64::new(v) {
            Some(nz) => Sock(nz),
            // The group field is at least 1.
            None => unreachable!(),
        }
    }

    /// The integer form (for FFI and logs).
    pub const fn to_u64(self) -> u64 {
        self.0.get()
    }

    /// A handle from its integer form; `None` for 0 or a zero group field. A handle rebuilt
    /// this way is only a claim: every call checks it against the live object.
    pub const fn from_u64(v: u64) -> Option<Sock> {
        if v as u8 == 0 {
            return None;
        }
        match NonZeroU64::new(v) {
            Some(nz) => Some(Sock(nz)),
            None => None,
        }
    }

    pub(crate) const fn group(self) -> u8 {
        self.0.get() as u8
    }

    /// The index of the worker loop that owns the object (0 to `workers() - 1`): which
    /// thread its callbacks run on.
    pub const fn worker(self) -> usize {
        (self.0.get() >> 8) as u8 as usize
    }

    pub(crate) const fn slot(self) -> usize {
        ((self.0.get() >> 16) & 0xff_ffff) as usize
    }

    pub(crate) const fn generation(self) -> u32 {
        (self.0.get() >> 40) as u32
    }
}

impl fmt::Debug for Sock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sock#{}.{}@{}/{}",
            self.slot(),
            self.generation(),
            self.worker(),
            self.group()
        )
    }
}

impl fmt::Display for Sock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What kind of object a [`Sock`] names (`ptk_sock_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum SockType {
    /// A listening TCP socket (`PTK_SOCK_TCP_SERVER`).
    TcpServer = 0,
    /// A TCP connection, accepted or connected (`PTK_SOCK_TCP_CLIENT`).
    TcpClient = 1,
    /// A UDP socket (`PTK_SOCK_UDP`).
    Udp = 2,
    /// A timer (`PTK_SOCK_TIMER`).
    Timer = 3,
}

/// A socket option (`ptk_sockopt`), read and written as an integer (booleans as 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum SockOpt {
    /// TCP keep-alive (`SO_KEEPALIVE`), bool; TCP connections.
    KeepAlive = 0,
    /// `TCP_NODELAY`, bool; TCP connections (on by default: the layer sends each write as it
    /// comes).
    NoDelay = 1,
    /// `SO_REUSEADDR`, bool; servers and UDP sockets (as set when they were made; setting it
    /// later is accepted and only recorded, since it matters only before binding).
    ReuseAddr = 2,
    /// `SO_RCVBUF` in bytes; any socket.
    RecvBuffer = 3,
    /// `SO_SNDBUF` in bytes; any socket.
    SendBuffer = 4,
}

impl SockOpt {
    /// The option with this C value.
    pub const fn from_i32(v: i32) -> Option<SockOpt> {
        match v {
            0 => Some(SockOpt::KeepAlive),
            1 => Some(SockOpt::NoDelay),
            2 => Some(SockOpt::ReuseAddr),
            3 => Some(SockOpt::RecvBuffer),
            4 => Some(SockOpt::SendBuffer),
            _ => None,
        }
    }
}
