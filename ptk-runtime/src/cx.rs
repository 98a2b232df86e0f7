//! [`Cx`], the runtime context a protothread (or a handler) receives on every resume.
//!
//! `Cx` is how running code reaches its event loop: it dereferences to [`dyn Io`](Io), so the
//! poll-style operations are called as `cx.read(..)`, `cx.accept(..)`, `cx.timer_start(..)`,
//! and a `Pending` answer registers a one-shot wake-up of whoever is running. Without the
//! `std` feature, or when a test drives a protothread by hand, a [`Cx::detached`] context has
//! no loop behind it and every operation is [`Error::NotSupported`](crate::Error::NotSupported).

use core::ops::{Deref, DerefMut};
use core::task::{Context, Waker};

use crate::error::Result;
use crate::event::{Event, Trigger};
use crate::handle::{Handle, Protothread as ProtothreadKind, RawHandle};
use crate::io::{Io, NoLoop};
use crate::pt::Protothread;
use crate::status::{Outcome, PtPool};

/// A handler: a plain function called on the loop's thread with the loop's application state
/// `A`, the loop's operations and the event. Plain `fn`s keep registration allocation-free;
/// per-resource state lives in `A` (index it by [`Event::handle`] or by your own table).
pub type Handler<A> = fn(&mut A, &mut Cx<'_>, Event);

/// The runtime context handed to a resume or a handler.
///
/// # Examples
///
/// ```
/// use ptk_runtime::{Cx, Error};
///
/// let mut cx = Cx::detached();
/// assert!(cx.is_detached());
/// assert_eq!(cx.timer_create(), Err(Error::NotSupported));
/// ```
pub struct Cx<'a> {
    io: &'a mut (dyn Io + 'a),
    attached: bool,
    current: Option<RawHandle>,
    waker: Option<&'a Waker>,
}

impl Cx<'static> {
    /// A context with no event loop behind it, for driving protothreads by hand (tests,
    /// `no_std` targets with their own scheduler).
    pub const fn detached() -> Cx<'static> {
        Cx {
            io: &mut [] as &mut NoLoop,
            attached: false,
            current: None,
            waker: None,
        }
    }
}

impl<'a> Cx<'a> {
    /// A context over a loop's operations, resuming `current` (a protothread) or a handler
    /// (`None`). Used by loop backends.
    #[inline]
    pub fn new(io: &'a mut (dyn Io + 'a), current: Option<Handle<ProtothreadKind>>) -> Cx<'a> {
        Cx {
            io,
            attached: true,
            current: current.map(Handle::raw),
            waker: None,
        }
    }

    /// A context with no event loop behind it whose [`task_context`](Self::task_context) wakes
    /// `waker`: how [`PtFuture`](crate::PtFuture) lets a protothread await ordinary futures
    /// (`pt_await!(fut.as_mut().poll(&mut cx.task_context().unwrap()))`).
    pub fn from_waker(waker: &'a Waker) -> Cx<'a> {
        Cx {
            io: &mut [] as &mut NoLoop,
            attached: false,
            current: None,
            waker: Some(waker),
        }
    }

    /// A `std::task::Context` for polling futures, when this context was made from a waker.
    pub fn task_context(&self) -> Option<Context<'a>> {
        self.waker.map(Context::from_waker)
    }

    /// Whether there is no event loop behind this context.
    pub fn is_detached(&self) -> bool {
        !self.attached
    }

    /// The protothread being resumed, if a loop is resuming one.
    #[inline]
    pub fn current(&self) -> Option<Handle<ProtothreadKind>> {
        self.current.map(Handle::from_raw_unchecked)
    }

    /// Sets (or replaces) the handler of `handle` for `trigger`. `A` must be the application
    /// state type of the loop.
    ///
    /// # Errors
    ///
    /// As [`Io::set_handler_any`]: [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// when `A` is not the loop's state type.
    pub fn set_handler<A: 'static>(
        &mut self,
        handle: impl Into<RawHandle>,
        trigger: Trigger,
        handler: Handler<A>,
    ) -> Result<()> {
        self.set_handler_any(handle.into(), trigger, &handler)
    }

    /// Spawns a protothread with context `ctx` into `pool`; it first runs in the loop's
    /// protothread step of this iteration or the next.
    ///
    /// # Errors
    ///
    /// As [`Io::spawn_any`]: [`Error::OutOfResources`](crate::Error::OutOfResources) when every
    /// context of the pool is in use.
    pub fn spawn<C>(&mut self, pool: PtPool<C>, ctx: C) -> Result<Handle<ProtothreadKind>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        let mut value = Some(ctx);
        self.spawn_any(pool.index, pool.loop_id, &mut value)
    }

    /// Spawns a protothread into `pool` reusing a free context in place: `init` sets it up
    /// (the context holds whatever its previous protothread left; its resume point is already
    /// reset). Nothing is moved, so contexts with large buffers spawn at no copying cost.
    ///
    /// # Errors
    ///
    /// As [`Cx::spawn`].
    pub fn spawn_with<C>(
        &mut self,
        pool: PtPool<C>,
        init: impl FnOnce(&mut C),
    ) -> Result<Handle<ProtothreadKind>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        let (h, ctx) = self.spawn_in_place(pool.index, pool.loop_id)?;
        match ctx.downcast_mut::<C>() {
            Some(ctx) => {
                init(ctx);
                Ok(h)
            }
            None => {
                // Only a pool token of another loop with the same index can get here.
                let _ = self.kill(h);
                Err(crate::Error::InvalidArgument)
            }
        }
    }
}

impl<'a> Deref for Cx<'a> {
    type Target = dyn Io + 'a;

    #[inline]
    fn deref(&self) -> &Self::Target {
        &*self.io
    }
}

impl<'a> DerefMut for Cx<'a> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.io
    }
}

impl core::fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cx")
            .field("detached", &self.is_detached())
            .field("current", &self.current)
            .finish()
    }
}
