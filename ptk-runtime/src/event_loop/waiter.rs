//! Who waits for an event: the registration shared by every source.
//!
//! Each resource keeps one [`Waiter`] per thing that can happen to it (a socket's read and
//! write halves, a timer's expiry, a user event id). Handlers are persistent: they stay set
//! until replaced or removed. A protothread is a waiter in the same place, registered when
//! one of its operations answers `Pending`, so the dispatch paths are shared. A protothread's
//! registration lasts until it waits on something else, ends, or finishes a resume without
//! waiting there again (see `waits.rs`).

use crate::handle::RawHandle;

use super::handler::ErasedHandler;

/// The waiter of one (resource, trigger) pair.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum Waiter {
    #[default]
    None,
    /// A persistent handler.
    Handler(ErasedHandler),
    /// A protothread.
    Pt(RawHandle),
}

impl Waiter {
    #[inline]
    pub(crate) fn is_some(&self) -> bool {
        !matches!(self, Waiter::None)
    }
}
