//! What a handler is called for: [`Trigger`]s it registers on and the [`Event`]s it receives.

use crate::handle::RawHandle;

/// What a handler or a waiter waits for on a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// The socket has data, a pending connection (listeners), or the peer closed or failed.
    Readable,
    /// The socket can take more bytes, or a non-blocking connect finished (either way).
    Writable,
    /// The timer expired.
    Expired,
    /// An event id of a user event source was raised.
    User(u32),
    /// A counting semaphore has a unit for the waiter (protothreads wait for it with
    /// `Cx::sem_wait`; handlers cannot be set on it).
    Available,
    /// A watched operating-system signal arrived (signal watchers).
    Signal,
    /// A started defer watcher ran, at the start of the iteration after it was started.
    Deferred,
    /// The loop ran out of work (idle watchers).
    Idle,
    /// A periodic watcher reached a wall-clock boundary.
    Tick,
    /// A file operation finished, successfully or not.
    FileDone,
}

/// What happened, as delivered to a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// See [`Trigger::Readable`]. Delivered again on every loop iteration while the resource
    /// stays readable: read until [`Error::WouldBlock`](crate::Error::WouldBlock) (or
    /// `Poll::Pending`), or remove the handler.
    Readable,
    /// See [`Trigger::Writable`]. Delivered again on every iteration while the socket stays
    /// writable and the handler stays set: remove it once there is nothing left to write.
    Writable,
    /// The timer expired; `missed` counts the periods of a repeating timer that passed
    /// without a delivery (the loop was busy), usually 0.
    Expired {
        /// Whole periods skipped since the previous delivery.
        missed: u32,
    },
    /// An event id was raised `count` times since the previous delivery (raises coalesce).
    User {
        /// The event id.
        id: u32,
        /// How many raises this delivery stands for (at least 1).
        count: u32,
    },
    /// The watched signal arrived (at least once since the previous delivery: arrivals
    /// coalesce).
    Signal {
        /// The signal number (`SIGINT`, `SIGTERM`, ...).
        signo: i32,
    },
    /// The defer watcher ran (it is stopped again: start it for another run).
    Deferred,
    /// The loop ran out of work; see `Cx::idle_start`.
    Idle,
    /// A periodic watcher reached the wall-clock boundary `due_ms`.
    Tick {
        /// The boundary this delivery stands for, in milliseconds since the Unix epoch
        /// (`offset + k * period` for some `k`).
        due_ms: u64,
        /// Boundaries that passed without a delivery since the previous one (the loop was
        /// busy, or the wall clock jumped forward), usually 0.
        missed: u32,
    },
    /// A file operation finished: how many bytes it read or wrote, or why it failed.
    FileDone {
        /// Bytes read or written, or the error.
        result: Result<usize, crate::error::Error>,
    },
}

impl EventKind {
    /// The trigger this event answers.
    pub const fn trigger(self) -> Trigger {
        match self {
            EventKind::Readable => Trigger::Readable,
            EventKind::Writable => Trigger::Writable,
            EventKind::Expired { .. } => Trigger::Expired,
            EventKind::User { id, .. } => Trigger::User(id),
            EventKind::Signal { .. } => Trigger::Signal,
            EventKind::Deferred => Trigger::Deferred,
            EventKind::Idle => Trigger::Idle,
            EventKind::Tick { .. } => Trigger::Tick,
            EventKind::FileDone { .. } => Trigger::FileDone,
        }
    }
}

/// An event delivered to a handler: which resource, and what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// The resource the event is about.
    pub handle: RawHandle,
    /// What happened.
    pub kind: EventKind,
}

/// Which half of a TCP connection `Cx::shutdown` closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// No more reads; pending and future incoming data is discarded.
    Read,
    /// No more writes; the peer reads end-of-stream (a half-close).
    Write,
    /// Both.
    Both,
}

/// Options for `Cx::tcp_listen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenOptions {
    /// Length of the kernel's queue of connections not yet accepted (default 1024).
    pub backlog: u32,
    /// `SO_REUSEADDR`: rebind a port with connections in `TIME_WAIT` (default `true`).
    pub reuse_address: bool,
    /// `SO_REUSEPORT`: several listeners share one port, the kernel spreads connections
    /// (default `false`; [`Error::NotSupported`](crate::Error::NotSupported) where the
    /// platform lacks it).
    pub reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: 1024,
            reuse_address: true,
            reuse_port: false,
        }
    }
}

/// The interface of a multicast membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MulticastInterface {
    /// Let the system choose (IPv4 `INADDR_ANY`, IPv6 interface 0).
    Default,
    /// The IPv4 interface with this address.
    V4(core::net::Ipv4Addr),
    /// The IPv6 interface with this index.
    V6(u32),
}
