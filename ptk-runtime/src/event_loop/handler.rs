//! Handlers with their application type erased, so the loop state behind [`Cx`] need not be
//! generic over it.
//!
//! A handler is a `fn(&mut A, &mut Cx<'_>, Event)` for the loop's application state `A`. The
//! resources that hold handlers live in the loop core, which is not generic over `A` (that
//! is what lets a protothread reach the loop by static dispatch). So a handler is stored as an
//! [`ErasedHandler`]: the same function pointer with its signature forgotten, turned back into
//! a `Handler<A>` when the [`EventLoop<'_, A>`](super::EventLoop) calls it.
//!
//! What makes this sound: **an `ErasedHandler` held by a loop core was made from a
//! `Handler<A>` for the application type that core was created with** ([`ErasedHandler::new`]
//! checks it, against the core's [`AppType`], and is the only way to make one; a core's type
//! never changes and handlers never move between cores). [`ErasedHandler::call`] is the only
//! way to call one: it is given the `Cx` whose core the handler was just read from and calls
//! it only if that core's type is the `A` it was asked to call with. The check is made at
//! every call, not once per loop, because the core behind an `EventLoop`'s `Cx` can be
//! replaced by safe code (`mem::swap` of two loops' `Cx`, even from inside a handler); such a
//! loop calls no handler of the other loop's core, with or without this file.
//!
//! Besides the datagram receive and the socket calls in `sys.rs` and the operating system's
//! signal registration, this is the only `unsafe` of the loop; Miri runs its tests.
#![allow(unsafe_code)]

use core::any::TypeId;

use crate::cx::{Cx, Handler};
use crate::event::Event;

/// The application type a loop core was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppType(TypeId);

impl AppType {
    /// The application type `A`.
    pub(crate) fn of<A: 'static>() -> AppType {
        AppType(TypeId::of::<A>())
    }
}

/// A handler whose application type is erased (see the module docs).
#[derive(Clone, Copy)]
pub(crate) struct ErasedHandler {
    f: fn(),
    /// What `f` was made from, kept in debug builds to check the invariant where it is used.
    #[cfg(debug_assertions)]
    app: AppType,
}

impl ErasedHandler {
    /// Erases `f`, a handler for application type `A`, for a core made for `app`; `None` when
    /// `A` is not that type (the handler would be called with the wrong state).
    pub(crate) fn new<A: 'static>(f: Handler<A>, app: AppType) -> Option<ErasedHandler> {
        if app != AppType::of::<A>() {
            return None;
        }
        // SAFETY: function pointers all have the size and representation of `fn()`. The value
        // is never called as `fn()`: `call` turns it back into `Handler<A>` for this very `A`
        // (checked just above against the core's type, which `call` requires again).
        let f = unsafe { core::mem::transmute::<Handler<A>, fn()>(f) };
        Some(ErasedHandler {
            f,
            #[cfg(debug_assertions)]
            app,
        })
    }

    /// Calls the handler with the loop's state, if `A` is the application type of `cx`'s
    /// core; does nothing otherwise (see the module docs). `self` must have been read from
    /// `cx`'s core: every caller reads it there just before calling.
    #[inline]
    pub(crate) fn call<A: 'static>(self, app: &mut A, cx: &mut Cx<'_>, ev: Event) {
        if cx.core.app != AppType::of::<A>() {
            return;
        }
        #[cfg(debug_assertions)]
        debug_assert_eq!(self.app, cx.core.app, "a handler called from another core");
        // SAFETY: `self` was made by `new::<A2>` with the `AppType` of the core that holds it,
        // `cx.core` (the caller read it there), and A2 is that type; which was just checked to
        // be `A`. So this is the function pointer `new` received, with its own signature.
        let f = unsafe { core::mem::transmute::<fn(), Handler<A>>(self.f) };
        cx.core.run.end();
        f(app, cx, ev);
    }
}

impl core::fmt::Debug for ErasedHandler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ErasedHandler")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::event_loop::core::Core;
    use crate::handle::{RawHandle, ResourceType};

    fn add(n: &mut u64, _cx: &mut Cx<'_>, ev: Event) {
        *n += ev.handle.to_u64();
    }

    fn event() -> Event {
        Event {
            handle: RawHandle::new(ResourceType::Timer, 0, 0, 0),
            kind: EventKind::Readable,
        }
    }

    #[test]
    fn a_handler_is_called_with_its_own_state_type() {
        let app = AppType::of::<u64>();
        let h = ErasedHandler::new::<u64>(add, app).unwrap();
        let mut n = 1u64;
        let mut cx = Cx::new(Core::empty(app));
        h.call(&mut n, &mut cx, event());
        assert_eq!(n, 2);
    }

    #[test]
    fn a_handler_for_another_state_type_is_refused() {
        let app = AppType::of::<u32>();
        assert!(ErasedHandler::new::<u64>(add, app).is_none());
    }

    #[test]
    fn a_handler_is_not_called_through_a_core_of_another_state_type() {
        let h = ErasedHandler::new::<u64>(add, AppType::of::<u64>()).unwrap();
        // As if the loop's `Cx` had been swapped with another loop's.
        let mut other = Cx::new(Core::empty(AppType::of::<u32>()));
        let mut n = 1u64;
        h.call(&mut n, &mut other, event());
        assert_eq!(n, 1);
        let mut detached = Cx::detached();
        h.call(&mut n, &mut detached, event());
        assert_eq!(n, 1);
    }
}
