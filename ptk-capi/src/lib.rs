//! `ptk_loop.h`: the ptk completion-event loop ([`ptk_loop`]) as a C library.
//!
//! This crate is the C face of `ptk-loop` and nothing more: each exported function checks
//! its arguments, translates C types to `ptk-loop`'s and back, and maps errors to `ptk_err`
//! codes. The header is `include/ptk_loop.h` (hand-written; a test checks that it declares
//! exactly the functions the library exports). Build with `cargo build -p ptk-capi
//! --release`: `libptk_capi.a` and `libptk_capi.so` link as `-lptk_capi`.
//!
//! * **No undefined behaviour from misuse**: a NULL pointer, a bad port, an unknown enum
//!   value, a destroyed loop or a closed socket is an error code. `ptk_loop *` and
//!   `ptk_sock *` are checked handles, never dereferenced.
//! * **No panic crosses into C**: every function runs under `catch_unwind`.
//! * **One callback** per object, called on the worker thread that owns the object with a
//!   `ptk_event` built on that thread's stack.
//! * **Buffers** (`buf *`) are `ptk-loop` pool buffers handed to C without a copy, or
//!   read-only views for borrowed data (see [`buf`]).
//!
//! See `README.md` for building, linking, the ownership rules and threading.
//!
//! The library is for 64-bit targets: a `ptk_sock *` carries the layer's 64-bit handle. On
//! other targets the crate is empty.
#![deny(missing_docs)]
#![cfg(target_pointer_width = "64")]

mod binding;
pub mod buf;
mod clock;
mod deliver;
pub mod error;
pub mod event;
pub mod group;
mod guard;
mod registry;
pub mod sock;
