//! Handlers with their application type erased, so the loop state behind [`Cx`] need not be
//! generic over it.
//!
//! A handler is a `fn(&mut A, &mut Cx<'_>, Event)` for the loop's application state `A`. The
//! resources that hold handlers live in the loop core, which is not generic over `A` (that
//! is what lets a protothread reach the loop by static dispatch). So a handler is stored as an
//! [`ErasedHandler`]: the same function pointer with its signature forgotten, turned back into
//! a `Handler<A>` when the [`EventLoop<'_, A>`](super::EventLoop) calls it.
//!
//! The one invariant that makes this sound: **an `ErasedHandler` held by a loop core was made
//! from a `Handler<A>` for that loop's own `A`.** [`ErasedHandler::new`] checks it, against
//! the [`AppType`] the core was created with, and is the only way to make one; the only way
//! to call one is [`ErasedHandler::call`], which takes the loop's `AppType` token again and
//! is reached only from the `EventLoop<'_, A>` that owns the core. This file is the only
//! `unsafe` of the loop besides the datagram receive in `sys.rs`; Miri runs its tests.
#![allow(unsafe_code)]

use core::any::TypeId;
use core::marker::PhantomData;

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

/// Proof that `A` is the application type of one loop core: made by [`AppKey::new`] from the
/// core's [`AppType`], held by the `EventLoop<'_, A>` that owns the core.
pub(crate) struct AppKey<A> {
    app: AppType,
    _marker: PhantomData<fn(&mut A)>,
}

impl<A: 'static> AppKey<A> {
    /// The key of a core made for `app`, if that is `A`.
    pub(crate) fn new(app: AppType) -> Option<AppKey<A>> {
        (app == AppType::of::<A>()).then_some(AppKey {
            app,
            _marker: PhantomData,
        })
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

    /// Calls the handler with the loop's state. `key` proves that `A` is the type of the core
    /// this handler is held by, hence the type it was erased from.
    #[inline]
    pub(crate) fn call<A: 'static>(self, key: &AppKey<A>, app: &mut A, cx: &mut Cx<'_>, ev: Event) {
        #[cfg(debug_assertions)]
        debug_assert_eq!(
            self.app, key.app,
            "a handler called with another loop's state"
        );
        let _ = key.app;
        // SAFETY: `self` was made by `new::<A2>` with the `AppType` of the core that holds it
        // and A2 == that type; `key` was made by `AppKey::<A>::new` from the same core's type,
        // so A == A2: this is the function pointer `new` received, with its own signature.
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
    use crate::handle::{RawHandle, ResourceType};

    fn add(n: &mut u64, _cx: &mut Cx<'_>, ev: Event) {
        *n += ev.handle.to_u64();
    }

    #[test]
    fn a_handler_is_called_with_its_own_state_type() {
        let app = AppType::of::<u64>();
        let h = ErasedHandler::new::<u64>(add, app).unwrap();
        let key = AppKey::<u64>::new(app).unwrap();
        let mut n = 1;
        let mut cx = Cx::detached();
        let handle = RawHandle::new(ResourceType::Timer, 0, 0, 0);
        h.call(
            &key,
            &mut n,
            &mut cx,
            Event {
                handle,
                kind: EventKind::Readable,
            },
        );
        assert_eq!(n, 2);
    }

    #[test]
    fn a_handler_for_another_state_type_is_refused() {
        let app = AppType::of::<u32>();
        assert!(ErasedHandler::new::<u64>(add, app).is_none());
        assert!(AppKey::<u64>::new(app).is_none());
    }
}
