#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

pub use ptk_runtime::*;

/// Items generated code reaches through; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use ptk_runtime::*;
}
