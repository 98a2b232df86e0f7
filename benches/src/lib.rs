//! Shared pieces of the ptk echo benchmark: argument parsing, the frame format, a counting
//! global allocator and the report every server prints when it exits.
//!
//! Three Rust echo servers answer the same workload: [`frame`]s of a 4-byte big-endian length
//! and a payload, sent by `loadgen` one at a time per connection.
//!
//! * `echo_mio` — a hand-written raw `mio` server, the floor for user-space work: one read
//!   per message (the short-read rule), whole frames echoed from one loop-wide scratch
//!   buffer, per-connection bytes written only for partial data.
//! * `echo_tokio` — an idiomatic tokio server on the current-thread runtime.
//! * `echo_ptk` — ptk's event loop: one protothread per connection (`--impl protothreads`,
//!   the default) or the same logic as callback handlers (`--impl callbacks`).
//!
//! Every server takes the same [`ServerOptions`], counts heap allocations once its listener is
//! ready ([`CountingAlloc`]), echoes exactly `--messages` frames and then exits, printing one
//! [`Meter::report`] line on stderr. `benches/c/echo_uv.c` is the same server on libuv, in C,
//! with the same flags and report. `benches/run.sh` runs them, and `examples/echo_server`,
//! interleaved and under callgrind; `benches/README.md` explains the numbers.
//!
//! The Modbus benchmark (`benches/modbus.sh`) reuses the same pieces: `modbus_ptk` (the
//! `ptk-modbus` server) and `modbus_tokio` (a `tokio-modbus` server) take the same flags and
//! print the same report, `frames` counting requests, under load from `modbus_load`.
#![deny(missing_docs)]

mod alloc;
mod args;
pub mod frame;
pub mod load;
mod meter;
mod sys;

pub use alloc::{allocations, arm_allocation_counter, CountingAlloc};
pub use args::{Args, ServerOptions};
pub use meter::Meter;
pub use sys::{cpu_time_us, peak_rss_kb, raise_fd_limit};
