//! Who waits for an event: the registration shared by every source.
//!
//! Each resource keeps one [`Waiter`] per thing that can happen to it (a socket's read and
//! write halves, a timer's expiry, a user event id). Handlers are persistent: they stay set
//! until replaced or removed. Protothreads are one-shot waiters in the same place, so the dispatch
//! paths are shared.

use crate::cx::Handler;
use crate::handle::RawHandle;

/// The waiter of one (resource, trigger) pair.
pub(crate) enum Waiter<A> {
    None,
    /// A persistent handler.
    Handler(Handler<A>),
    /// A protothread, woken once and then forgotten.
    Pt(RawHandle),
}

impl<A> Waiter<A> {
    pub(crate) fn is_some(&self) -> bool {
        !matches!(self, Waiter::None)
    }
}

impl<A> Clone for Waiter<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Waiter<A> {}
