//! The ptk runtime: generational handles, user-owned pools, the protothread core and (with the
//! default `std` feature) the single-threaded `mio` event loop with its sources.
//!
//! # Design in brief
//!
//! * **Handles.** Every resource is named by a 64-bit [`RawHandle`] (type, loop id,
//!   generation, slot), typed as [`Handle<T>`] for the compiler. A stale handle, a handle of
//!   another loop or of another type resolves to [`Error::InvalidHandle`], never to a live
//!   resource and never to a panic.
//! * **Storage.** The caller decides every capacity and where the memory lives; a [`Pool`]
//!   borrows a slice of [`Slot`]s and never grows by itself. A full pool is
//!   [`Error::OutOfResources`] naming the capacity to raise.
//! * **Protothreads.** A context struct embeds a [`Pt`]; its resume function (usually generated
//!   by `#[protothread]`) returns a [`Step`]. The loop drives types implementing
//!   [`Protothread`] and passes them a [`Cx`], whose methods are the loop's operations.
//! * **The loop** (feature `std`): `EventLoop` sits on a readiness backend (`mio`) behind a
//!   written contract; the state behind `Cx` is the loop's own, reached by static dispatch,
//!   with each source (timers, TCP listeners and streams, UDP, user events, semaphores,
//!   signals, the buffer pool, protothreads) owning its state in its own module. Data in
//!   flight lives in the loop's buffer pool: reads lend a buffer, writes hand one over
//!   (`Cx::read_buf`, `Cx::send_buf`, `PooledFrameReader`), so an idle connection holds no
//!   buffer.
//!
//! Without default features the crate is `#![no_std]` and uses no `alloc`.
//!
//! With the `log` feature the loop logs through the [`log`](https://docs.rs/log) facade what
//! an operator needs to see: connections refused for want of room (once when refusals start,
//! once when they end), an exhausted buffer pool (once per episode), a fallback that
//! degrades service. Nothing is logged per message, and without the feature (the default)
//! no logging code is compiled in.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

// First, so every module below sees the logging macros.
#[macro_use]
mod logging;

mod cx;
mod error;
mod event;
#[cfg(feature = "std")]
mod event_loop;
mod framing;
mod future;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod pool;
#[cfg(feature = "std")]
mod pooled;
mod pt;
mod status;

pub use cx::{Cx, Handler};
pub use error::{Capacity, Error, Result};
pub use event::{Event, EventKind, ListenOptions, MulticastInterface, Shutdown, Trigger};
#[cfg(feature = "std")]
#[doc(hidden)]
pub use event_loop::__refuse_io_uring;
#[cfg(feature = "std")]
pub use event_loop::{
    BackendKind, BackendStatus, BufMut, BufferClass, BufferEntry, BufferStats, Capacities, Config,
    EventLoop, FallbackReason, FileOpEntry, FileWrite, ListenerEntry, LoopRemote, LoopThreads,
    OwnedStorage, PeriodicEntry, PostFn, Ready, SemEntry, SignalEntry, Storage, StreamEntry,
    ThreadsConfig, Tick, TimerEntry, UdpEntry, UserEventsEntry, WatcherEntry, FILE_PATH_MAX,
    USER_EVENT_IDS,
};
pub use handle::{
    Buffer, Defer, FileOp, Handle, Idle, Loop, Periodic, RawHandle, Resource, ResourceType,
    Semaphore, Signal, TcpListener, TcpStream, Timer, UdpSocket, UserEvents,
};

/// The numbers of the signals programs usually watch with
/// [`Cx::signal_watch`](crate::Cx::signal_watch) (any catchable signal number works).
#[cfg(all(feature = "std", unix))]
pub mod signals {
    pub use signal_hook::consts::signal::{
        SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
    };
}

/// The marker types of [`Handle<T>`], all in one place. They are re-exported at the crate root
/// too, except [`kind::Protothread`], whose name the [`Protothread`] trait takes there.
pub mod kind {
    pub use crate::handle::{
        Buffer, Defer, FileOp, Idle, Loop, Periodic, Protothread, Semaphore, Signal, TcpListener,
        TcpStream, Timer, UdpSocket, UserEvents,
    };
}
pub use framing::{FrameReader, FrameWriter, HEADER_LEN};
pub use future::PtFuture;
/// The `log` crate, for the logging macros (see `logging.rs`); not an API.
#[cfg(feature = "log")]
#[doc(hidden)]
pub use log as __log;
pub use pool::{Pool, Slot};
#[cfg(feature = "std")]
pub use pooled::{PooledFrameReader, PooledFrameWriter};
#[doc(hidden)]
pub use pt::{settle, spawned, take_slot, FromTryResidual, Transition, TryBranch};
pub use pt::{Protothread, Pt, Site, Status, Step};
pub use status::{Outcome, PtPool, PtStatus};

/// The README's examples, run as documentation tests.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
