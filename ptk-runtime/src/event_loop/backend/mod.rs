//! The backend contract: what a poller must provide for the loop to run on it.
//!
//! The loop never talks to the operating system's event facility directly. It talks to one
//! [`Poller`], chosen at compile time (static dispatch: no trait object on any path), and
//! relies on exactly the guarantees below. `mio` (epoll on Linux, kqueue on the BSDs and
//! macOS) is the backend today ([`mio::MioPoller`]); a second backend (io_uring) comes in
//! behind the same trait, and every guarantee of the loop (generational handles, no
//! allocation after start-up, the documented iteration order) must then hold on it unchanged.
//!
//! # Tokens are handles
//!
//! A socket is registered under the 64-bit [`RawHandle`] of its slot, and every event the
//! poller reports names that handle. The loop resolves it against the pool like any other
//! handle, so an event about a socket closed (and its slot reused) since the event was
//! queued names a stale generation and is dropped. A poller must therefore carry all 64 bits
//! of the token back unchanged, and never report a token it was not given. Its own wake-up
//! (the doorbell) comes back as token 0, which no handle has.
//!
//! Where a poller's token is narrower than a handle (mio's `usize` on a 32-bit target), the
//! poller registers the [`short`] form instead: the type, the low 8 bits of the generation
//! and the slot, in 32 bits. The loop then resolves a report through the pool (the slot's
//! live handle, accepted only if type and low generation bits match). The loop id is implied
//! by the poller, which belongs to one loop. An event queued before its socket closed could
//! name the slot's next resource only if that slot were reused 256 times between the poll and
//! the dispatch of that one report, which the loop's first-in first-out slot reuse rules out
//! for any pool with more than one free slot.
//!
//! # Readiness is edge-triggered
//!
//! After `register`, a poller reports a socket's readiness **once per edge**: when it becomes
//! readable (data, a pending connection, the peer's FIN, an error) or writable after not
//! being so. It does not repeat a report while the state stays the same. The loop keeps a
//! readiness flag per socket direction, sets it on every report, and clears it only when an
//! operation proves the direction drained (`WouldBlock`, or a short stream read before the
//! peer's FIN); a backend must never make the loop miss the edge that follows such a
//! clearing. Spurious reports are allowed (the loop's operations answer `WouldBlock` and
//! wait again); lost reports are not.
//!
//! Interest is either [`Interest::Read`] or [`Interest::ReadWrite`]. Read interest stays for
//! a socket's life; write interest is armed with `reregister` only while someone waits to
//! write, because a socket is nearly always writable and every report costs a wake-up.
//! `reregister` of a socket that is already ready in the new direction must report it.
//!
//! # Polling and waking
//!
//! `poll` blocks until at least one event is ready, the timeout passes (`None`: no timeout,
//! `Some(ZERO)`: do not block), or the [`Waker`](Poller::Waker) is woken, and fills the event
//! buffer with at most its capacity (the rest wait for the next poll). An interrupted wait is
//! reported as [`std::io::ErrorKind::Interrupted`] and the loop simply polls again. The waker
//! is the only part used from other threads (`Send + Sync`); wakes may coalesce, which is why
//! the loop keeps the work that remotes hand it in atomics, never in the count of wakes.
//!
//! # Memory
//!
//! Everything a backend allocates, it allocates in [`Poller::new`], [`Poller::events`] or
//! [`Poller::waker`], all called from [`EventLoop::new`](super::EventLoop::new). Registering,
//! polling and waking allocate nothing.

use std::io;
use std::time::Duration;

use crate::handle::RawHandle;

pub(crate) mod mio;

/// The backend of this build.
pub(crate) type Backend = mio::MioPoller;

/// The event buffer of [`Backend`].
pub(crate) type Events = <Backend as Poller>::Events;

/// The doorbell of [`Backend`].
pub(crate) type Waker = <Backend as Poller>::Waker;

/// What a socket is registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Readable edges only.
    Read,
    /// Readable and writable edges.
    ReadWrite,
}

/// One report of a poll: the socket (by handle) and which of its directions became ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// The token the socket was registered with (a [`RawHandle`]'s integer form); 0 for the
    /// poller's own wake-up.
    pub(crate) token: u64,
    /// Something to read: data, a pending connection, the peer's FIN or an error.
    pub(crate) read: bool,
    /// Room to write, a finished connect, or an error.
    pub(crate) write: bool,
    /// The peer closed its sending half or the socket failed: no further readable edge will
    /// announce what is left to read.
    pub(crate) read_closed: bool,
}

/// A readiness backend. See the module docs for the contract every method must keep.
pub(crate) trait Poller: Sized {
    /// The buffer one [`poll`](Poller::poll) fills.
    type Events;
    /// The doorbell other threads ring.
    type Waker: Send + Sync + 'static;

    /// Opens the poller.
    fn new() -> io::Result<Self>;

    /// An event buffer for up to `capacity` reports per poll (at least 1).
    fn events(capacity: usize) -> Self::Events;

    /// The doorbell of this poller; a wake makes a blocked [`poll`](Poller::poll) return with
    /// a report whose token is 0. Made once.
    fn waker(&self) -> io::Result<Self::Waker>;

    /// Rings the doorbell (any thread).
    fn wake(waker: &Self::Waker) -> io::Result<()>;

    /// Starts reporting the edges of `source` under `handle`.
    fn register<S: Socket>(
        &self,
        socket: &mut S,
        handle: RawHandle,
        interest: Interest,
    ) -> io::Result<()>;

    /// Changes the interest of a registered source.
    fn reregister<S: Socket>(
        &self,
        socket: &mut S,
        handle: RawHandle,
        interest: Interest,
    ) -> io::Result<()>;

    /// Stops reporting `source`; no report about it is delivered after this returns, except
    /// those already in an event buffer (the loop drops them by their stale handle).
    fn deregister<S: Socket>(&self, socket: &mut S) -> io::Result<()>;

    /// Waits for reports (see the module docs) and puts them in `events`, replacing what it
    /// held.
    fn poll(&mut self, events: &mut Self::Events, timeout: Option<Duration>) -> io::Result<()>;

    /// Forgets the reports in `events` (after an interrupted poll).
    fn clear(events: &mut Self::Events);

    /// The reports of the last poll, in the order the system gave them.
    fn reports(events: &Self::Events) -> impl Iterator<Item = Readiness> + '_;
}

/// The socket types the loop owns (TCP listeners and streams, UDP sockets, the self-pipe of
/// signal watchers), as every backend can register them.
pub(crate) trait Socket: ::mio::event::Source {}

impl Socket for ::mio::net::TcpListener {}
impl Socket for ::mio::net::TcpStream {}
impl Socket for ::mio::net::UdpSocket {}
#[cfg(unix)]
impl Socket for signal_hook_mio::v1_0::Signals {}

/// The 32-bit form of a socket's token, for pollers whose token is narrower than a handle.
///
/// | bits  | field                                  |
/// |-------|----------------------------------------|
/// | 0-3   | type (every socket type is below 16)   |
/// | 4-11  | the low 8 bits of the generation       |
/// | 12-31 | slot (so at most 2^20 sockets a type)  |
///
/// Zero is still never a socket's token: the type field is never 0.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
pub(crate) mod short {
    use crate::handle::RawHandle;

    /// Slots a short token can name, per socket type.
    pub(crate) const SLOTS: u32 = 1 << 20;

    const _: () = assert!((crate::handle::ResourceType::FileOp as u8) < 16);

    /// The short token of `h`, or `None` if its slot does not fit.
    #[inline]
    pub(crate) fn encode(h: RawHandle) -> Option<u32> {
        if h.slot() >= SLOTS {
            return None;
        }
        Some((h.resource_type() as u32) | (u32::from(h.generation() as u8) << 4) | (h.slot() << 12))
    }

    /// The type field of a short token.
    #[inline]
    pub(crate) fn ty(token: u64) -> u8 {
        (token & 0xf) as u8
    }

    /// The slot field of a short token.
    #[inline]
    pub(crate) fn slot(token: u64) -> usize {
        (token >> 12) as usize & (SLOTS as usize - 1)
    }

    /// Whether the short token could have been made from `h` (same type, slot and low
    /// generation bits).
    #[inline]
    pub(crate) fn names(token: u64, h: RawHandle) -> bool {
        encode(h).is_some_and(|t| u64::from(t) == token)
    }
}

#[cfg(test)]
mod tests {
    use super::short;
    use crate::handle::{RawHandle, ResourceType};

    #[test]
    fn a_short_token_keeps_type_slot_and_low_generation_bits() {
        let h = RawHandle::new(ResourceType::TcpStream, 9, 0x1234, 0xabcde);
        let t = u64::from(short::encode(h).unwrap());
        assert_eq!(t, 3 | (0x34 << 4) | (0xabcde << 12));
        assert_eq!(short::ty(t), ResourceType::TcpStream as u8);
        assert_eq!(short::slot(t), 0xabcde);
        assert!(short::names(t, h));
        // Another generation (low bits differ), slot or type is not named by it.
        for other in [
            RawHandle::new(ResourceType::TcpStream, 9, 0x1235, 0xabcde),
            RawHandle::new(ResourceType::TcpStream, 9, 0x1234, 0xabcdf),
            RawHandle::new(ResourceType::UdpSocket, 9, 0x1234, 0xabcde),
        ] {
            assert!(!short::names(t, other), "{other}");
        }
        // Only the low 8 generation bits are kept: 256 reuses later the token matches again.
        assert!(short::names(
            t,
            RawHandle::new(ResourceType::TcpStream, 9, 0x1334, 0xabcde)
        ));
        // A slot beyond 2^20 has no short token; no socket token is 0.
        assert_eq!(
            short::encode(RawHandle::new(ResourceType::TcpStream, 0, 1, 1 << 20)),
            None
        );
        assert_ne!(
            short::encode(RawHandle::new(ResourceType::Timer, 0, 0, 0)),
            Some(0)
        );
    }
}
