//! One direction of a socket (its read or its write half): whether it is ready, who waits for
//! it, and whether it sits in the ready queue.
//!
//! The backend reports edges; a side remembers the last one in [`Side::ready`] until an
//! operation proves the direction drained (`WouldBlock`, or for stream reads a short read).
//! Listeners have a read side; streams and UDP sockets have both.

use super::waiter::Waiter;

/// Which half of a socket a side is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// The state of one socket direction.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Side {
    /// The direction may be ready: set by every edge, cleared by an operation that drained it.
    pub(crate) ready: bool,
    /// Queued in the ready queue for dispatch on the next iteration (at most once).
    pub(crate) queued: bool,
    /// Paused (stream reads only): the buffer pool had no buffer for its reads, or the stream
    /// holds as many as it may. A handler is not dispatched again from the ready queue until
    /// the pause ends (a new readable edge still calls it, and its read pauses again).
    pub(crate) parked: bool,
    /// Who is told when it becomes ready.
    pub(crate) waiter: Waiter,
}

impl Side {
    /// A side that is (`ready`) or is not known to be ready, with nobody waiting.
    pub(crate) const fn new(ready: bool) -> Side {
        Side {
            ready,
            queued: false,
            parked: false,
            waiter: Waiter::None,
        }
    }

    /// Whether a handler is set and the direction is ready: it must be dispatched again.
    #[inline]
    pub(crate) fn needs_dispatch(&self) -> bool {
        self.ready && !self.parked && matches!(self.waiter, Waiter::Handler(_))
    }
}

/// The result of one attempt at a socket operation (`repr(u8)`: a tag byte of its own, one
/// compare to tell the usual `Done` apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Attempt<T> {
    /// It completed with this value.
    Done(T),
    /// The direction is drained (its side is no longer ready): wait for the next edge.
    WouldBlock,
    /// It failed.
    Failed(crate::error::Error),
}
