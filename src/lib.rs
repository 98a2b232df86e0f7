#![doc = include_str!("../README.md")]
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
