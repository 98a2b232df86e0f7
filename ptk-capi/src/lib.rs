//! `ptk_loop.h`: the ptk completion-event loop as a C library.
#![deny(missing_docs)]

pub mod buf;
pub mod error;
pub mod event;
mod guard;
pub mod time;
