#![doc = include_str!("../README.md")]
//!
//! # The protothread attribute
//!
//! A driver is written as a function with suspension points; [`macro@protothread`] turns it into
//! a state machine whose state is the [`Pt`] inside your context struct, and implements
//! [`Protothread`] for that context so the event loop (or a test, or a parent protothread) can
//! resume it. Everything that must survive a wait lives in the context; a local used across a
//! suspension point is a compile error, not a silently lost value.
//!
//! ```
//! use core::task::Poll;
//! use ptk::{protothread, Cx, Protothread, Pt, Step};
//!
//! struct Blink { pt: Pt, on: bool, toggles: u32 }
//!
//! #[protothread]
//! fn blink(ctx: &mut Blink, _cx: &mut Cx<'_>) -> u32 {
//!     while ctx.toggles < 3 {
//!         ctx.on = !ctx.on;
//!         ctx.toggles += 1;
//!         pt_yield!();
//!     }
//!     let extra = pt_await!(Poll::Ready(10));
//!     ctx.toggles + extra
//! }
//!
//! let mut b = Blink { pt: Pt::new(), on: false, toggles: 0 };
//! let mut cx = Cx::detached();
//! let mut yields = 0;
//! let out = loop {
//!     match b.resume(&mut cx) {
//!         Step::Yielded | Step::Pending => yields += 1,
//!         Step::Done(out) => break out,
//!         Step::Exited => unreachable!(),
//!     }
//! };
//! assert_eq!((yields, out), (3, 13));
//! ```
//!
//! The suspension macros (`pt_await!`, `pt_wait_until!`, `pt_wait_while!`, `pt_yield!`,
//! `pt_yield_until!`, `pt_spawn!`, `pt_exit!`, `pt_restart!`) are recognised by the attribute
//! and need no import inside a protothread; the ones exported here only turn a use outside a
//! protothread into a clear compile error. See [`macro@protothread`] for the forms, the rules,
//! and the exact code generated.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

pub use ptk_runtime::*;

pub use ptk_macros::{
    protothread, pt_await, pt_exit, pt_restart, pt_spawn, pt_wait_until, pt_wait_while, pt_yield,
    pt_yield_until,
};

/// Items generated code reaches through; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use ptk_runtime::*;
}
