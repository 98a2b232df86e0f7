//! [`Cx`], the runtime context a protothread (or a handler) receives on every resume.
//!
//! `Cx` is how running code reaches its event loop: `cx.read(..)`, `cx.accept(..)`,
//! `cx.timer_start(..)`, ... are methods of `Cx` itself, and a `Pending` answer registers a
//! wake-up of whoever is running. Under `std` a `Cx` *is* the state of the loop behind it
//! (the loop owns one and lends it out), so every operation is a direct, inlinable call: no
//! trait object, no downcast. Without the `std` feature, or when a test drives a protothread
//! by hand, a [`Cx::detached`] context has no loop behind it and every operation answers
//! [`Error::NotSupported`](crate::Error::NotSupported).

use core::task::{Context, Waker};

use crate::event::Event;
use crate::handle::{Handle, Protothread as ProtothreadKind};

#[cfg(feature = "std")]
use crate::event_loop::Core;

/// A handler: a plain function called on the loop's thread with the loop's application state
/// `A`, the loop's operations and the event. Plain `fn`s keep registration allocation-free;
/// per-resource state lives in `A` (index it by [`Event::handle`] or by your own table).
pub type Handler<A> = fn(&mut A, &mut Cx<'_>, Event);

/// The runtime context handed to a resume or a handler: the operations of the event loop
/// behind it.
///
/// The loop's operations (`read`, `write`, `accept`, `timer_start`, `spawn`, ...) are the
/// methods of this type; they are listed with the `std` feature. Operations that may have to
/// wait are **poll-style**: they return `Poll::Ready` with the result, or `Poll::Pending`
/// after registering a wake-up of the running protothread for exactly that resource and
/// direction. Handlers are persistent and need no registration: a `Pending` answer just
/// means "wait for the next event".
///
/// # Examples
///
/// ```
/// use ptk_runtime::Cx;
///
/// let cx = Cx::detached();
/// assert!(cx.is_detached());
/// assert!(cx.current().is_none());
/// ```
pub struct Cx<'s> {
    #[cfg(feature = "std")]
    pub(crate) core: Core<'s>,
    waker: Option<&'s Waker>,
}

impl Cx<'static> {
    /// A context with no event loop behind it, for driving protothreads by hand (tests,
    /// `no_std` targets with their own scheduler). Every loop operation on it answers
    /// [`Error::NotSupported`](crate::Error::NotSupported). Allocates nothing.
    pub fn detached() -> Cx<'static> {
        Cx {
            #[cfg(feature = "std")]
            core: Core::detached(),
            waker: None,
        }
    }
}

impl<'s> Cx<'s> {
    /// The context of a loop: `core` is its state.
    #[cfg(feature = "std")]
    pub(crate) fn new(core: Core<'s>) -> Cx<'s> {
        Cx { core, waker: None }
    }

    /// A context with no event loop behind it whose [`task_context`](Self::task_context) wakes
    /// `waker`: how [`PtFuture`](crate::PtFuture) lets a protothread await ordinary futures
    /// (`pt_await!(fut.as_mut().poll(&mut cx.task_context().unwrap()))`).
    pub fn from_waker(waker: &'s Waker) -> Cx<'s> {
        Cx {
            #[cfg(feature = "std")]
            core: Core::detached(),
            waker: Some(waker),
        }
    }

    /// A `std::task::Context` for polling futures, when this context was made from a waker.
    pub fn task_context(&self) -> Option<Context<'s>> {
        self.waker.map(Context::from_waker)
    }

    /// Whether there is no event loop behind this context.
    pub fn is_detached(&self) -> bool {
        #[cfg(feature = "std")]
        return self.core.is_detached();
        #[cfg(not(feature = "std"))]
        return true;
    }

    /// The protothread being resumed, if a loop is resuming one.
    #[inline]
    pub fn current(&self) -> Option<Handle<ProtothreadKind>> {
        #[cfg(feature = "std")]
        return self.core.run.current.map(Handle::from_raw_unchecked);
        #[cfg(not(feature = "std"))]
        return None;
    }
}

impl core::fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cx")
            .field("detached", &self.is_detached())
            .field("current", &self.current())
            .finish()
    }
}
