//! The backend contract: what a poller must provide for the loop to run on it.
//!
//! The loop never talks to the operating system's event facility directly. It talks to one
//! [`Backend`], an enum of the pollers compiled in, chosen at
//! [`EventLoop::new`](super::EventLoop::new) by [`Config::backend`](super::Config::backend)
//! (static dispatch: a `match`, never a trait object; without the `io-uring` feature the enum
//! has one variant and the match costs nothing). `mio` (epoll on Linux, kqueue on the BSDs and
//! macOS, [`mio::MioPoller`]) is the default; with the `io-uring` feature on Linux,
//! [`uring::UringPoller`] runs the same contract on an io_uring. Every guarantee of the loop
//! (generational handles, no allocation after start-up, the documented iteration order) holds
//! on both, and relies on exactly the guarantees below.
//!
//! # Tokens are handles
//!
//! A socket is registered under the 64-bit [`RawHandle`] of its slot, and every event the
//! poller reports names that handle. The loop resolves it against the pool like any other
//! handle, so an event about a socket closed (and its slot reused) since the event was
//! queued names a stale generation and is dropped. A poller must therefore carry all 64 bits
//! of the token back unchanged, and never report a token it was not given. Its own wake-up
//! (the doorbell) comes back as token 0, which no handle has.
//!
//! Where a poller's token is narrower than a handle (mio's `usize` on a 32-bit target), the
//! poller registers the [`short`] form instead: the type, the low 8 bits of the generation
//! and the slot, in 32 bits. The loop then resolves a report through the pool (the slot's
//! live handle, accepted only if type and low generation bits match). The loop id is implied
//! by the poller, which belongs to one loop. An event queued before its socket closed could
//! name the slot's next resource only if that slot were reused 256 times between the poll and
//! the dispatch of that one report, which the loop's first-in first-out slot reuse rules out
//! for any pool with more than one free slot.
//!
//! # Readiness is edge-triggered
//!
//! After `register`, a poller reports a socket's readiness **once per edge**: when it becomes
//! readable (data, a pending connection, the peer's FIN, an error) or writable after not
//! being so. It does not repeat a report while the state stays the same. The loop keeps a
//! readiness flag per socket direction, sets it on every report, and clears it only when an
//! operation proves the direction drained (`WouldBlock`, or a short stream read before the
//! peer's FIN); a backend must never make the loop miss the edge that follows such a
//! clearing. Spurious reports are allowed (the loop's operations answer `WouldBlock` and
//! wait again); lost reports are not.
//!
//! Interest is either [`Interest::Read`] or [`Interest::ReadWrite`]. Read interest stays for
//! a socket's life; write interest is armed with `reregister` only while someone waits to
//! write, because a socket is nearly always writable and every report costs a wake-up.
//! `reregister` of a socket that is already ready in the new direction must report it.
//!
//! # Polling and waking
//!
//! `poll` blocks until at least one event is ready, the timeout passes (`None`: no timeout,
//! `Some(ZERO)`: do not block), or the [`Waker`] is woken, and fills the event
//! buffer with at most its capacity (the rest wait for the next poll). An interrupted wait is
//! reported as [`std::io::ErrorKind::Interrupted`] and the loop simply polls again. The waker
//! is the only part used from other threads (`Send + Sync`); wakes may coalesce, which is why
//! the loop keeps the work that remotes hand it in atomics, never in the count of wakes.
//!
//! # Receives and sends (completion-based backends)
//!
//! A backend that completes requests ([`Backend::completes`]: io_uring) also takes receives
//! and sends on the loop's buffers ([`Backend::recv`], [`Backend::send`], under an [`op`]
//! code), submitted with the next poll; their completions come back from `poll` in
//! [`Events::ops`], each exactly once, cancelled or not ([`Backend::cancel`]), and
//! [`Backend::in_flight`] counts those not back yet. The memory is the kernel's until then:
//! the callers' rules are in `ring.rs`.
//!
//! # Memory
//!
//! Everything a backend allocates, it allocates in [`Backend::open`] (the poller, its event
//! buffer and its doorbell), called from [`EventLoop::new`](super::EventLoop::new). Registering,
//! polling and waking allocate nothing.

use std::io;
use std::time::Duration;

use crate::handle::RawHandle;

pub(crate) mod mio;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub(crate) mod uring;

pub use self::kind::{BackendKind, BackendStatus, FallbackReason};

pub(crate) use self::accept::{ARMS as ACCEPT_ARMS, MORE as ACCEPT_MORE};

mod accept;
mod kind;

/// The poller a loop runs on: one variant per backend compiled in.
pub(crate) enum Backend {
    /// epoll / kqueue through `mio`.
    Mio(mio::MioPoller),
    /// io_uring (boxed: the ring's state is much larger than a `mio::Poll`, and the poller is
    /// reached once per poll and registration, never per message).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    Uring(Box<uring::UringPoller>),
}

/// The event buffer one [`Backend::poll`] fills.
pub(crate) struct Events {
    mio: ::mio::Events,
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    ring: Vec<Readiness>,
    /// The completions of the loop's receives and sends (io_uring).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    ops: Vec<OpDone>,
}

/// The completion of a receive or send the loop queued on a completion-based backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpDone {
    /// What the loop queued it under ([`op`]).
    pub(crate) user_data: u64,
    /// Bytes moved, 0 for a receive at the peer's FIN, or a negated `errno`.
    pub(crate) result: i32,
    /// The completion's flags (`IORING_CQE_F_MORE`, `IORING_CQE_F_BUFFER` and the buffer id
    /// of a multishot receive).
    pub(crate) flags: u32,
}

/// The `errno` values the loop tells apart in completions (negated in their results; only
/// a completion-based backend, on Linux, gives them, so elsewhere Linux's numbers stand in).
pub(crate) mod errno {
    #[cfg(unix)]
    pub(crate) use libc::{EAGAIN, ECANCELED, EINVAL, ENOBUFS};

    #[cfg(not(unix))]
    pub(crate) const EAGAIN: i32 = 11;
    #[cfg(not(unix))]
    pub(crate) const ECANCELED: i32 = 125;
    #[cfg(not(unix))]
    pub(crate) const EINVAL: i32 = 22;
    #[cfg(not(unix))]
    pub(crate) const ENOBUFS: i32 = 105;
}

/// The `user_data` of the loop's receives and sends on a completion-based backend: which
/// operation, for which stream (slot and generation, so that a completion for a stream
/// closed since, whose slot was reused, is recognised as stale) and on which memory (the
/// chunk a receive writes, or the buffer slot a send reads), in 64 bits.
///
/// | bits  | field                                            |
/// |-------|--------------------------------------------------|
/// | 0-19  | the stream's slot                                |
/// | 20-31 | the low 12 bits of the chunk or buffer slot      |
/// | 32-39 | the kind ([`RECV`](op::RECV), [`SEND`](op::SEND), [`FILE`](op::FILE), [`ACCEPT`](op::ACCEPT), [`RECV_MULTI`](op::RECV_MULTI); polls use 1-5) |
/// | 40-55 | the stream handle's generation                   |
/// | 56-63 | the high 8 bits of the chunk or buffer slot      |
#[cfg_attr(not(all(feature = "io-uring", target_os = "linux")), allow(dead_code))]
pub(crate) mod op {
    /// A receive into a chunk of the buffer pool.
    pub(crate) const RECV: u8 = 8;
    /// A send from a buffer of the pool.
    pub(crate) const SEND: u8 = 9;
    /// A request of a file operation (the slot is the job's, the generation counts its
    /// requests; see `ring_files`).
    pub(crate) const FILE: u8 = 10;
    /// A listener's multishot accept (the slot and generation are the listener's, the
    /// chunk field its arm number; see `tcp_listener`).
    pub(crate) const ACCEPT: u8 = 11;
    /// A multishot receive into chunks of the pool lent to the provided-buffer ring (the
    /// chunk field is 0: each completion names its chunk in its flags).
    pub(crate) const RECV_MULTI: u8 = 12;
    /// Slots (of streams, and chunks or buffers) a code can name.
    pub(crate) const SLOTS: u32 = 1 << 20;

    /// The code of operation `kind` of the stream in `slot` with generation `generation`
    /// on chunk or buffer `aux` (both below [`SLOTS`]).
    #[inline]
    pub(crate) fn encode(kind: u8, slot: u32, generation: u16, aux: u32) -> u64 {
        u64::from(slot & (SLOTS - 1))
            | (u64::from(aux & 0xfff) << 20)
            | (u64::from(kind) << 32)
            | (u64::from(generation) << 40)
            | (u64::from((aux >> 12) & 0xff) << 56)
    }

    /// The kind of a code.
    #[inline]
    pub(crate) fn kind(code: u64) -> u8 {
        (code >> 32) as u8
    }

    /// The stream slot of a code.
    #[inline]
    pub(crate) fn slot(code: u64) -> u32 {
        code as u32 & (SLOTS - 1)
    }

    /// The stream generation of a code.
    #[inline]
    pub(crate) fn generation(code: u64) -> u16 {
        (code >> 40) as u16
    }

    /// The chunk or buffer slot of a code.
    #[inline]
    pub(crate) fn aux(code: u64) -> u32 {
        ((code >> 20) as u32 & 0xfff) | (((code >> 56) as u32) << 12)
    }
}

/// The doorbell of a [`Backend`], rung from any thread.
pub(crate) enum Waker {
    /// `mio`'s waker (an eventfd or a pipe registered with the poll).
    Mio(::mio::Waker),
    /// An eventfd the ring polls.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    Uring(uring::EventFd),
}

impl Waker {
    /// Rings the doorbell (any thread).
    #[inline]
    pub(crate) fn wake(&self) -> io::Result<()> {
        match self {
            Waker::Mio(w) => w.wake(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Waker::Uring(w) => w.wake(),
        }
    }
}

impl Events {
    /// Forgets the reports it holds (after an interrupted poll).
    pub(crate) fn clear(&mut self) {
        self.mio.clear();
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        {
            self.ring.clear();
            self.ops.clear();
        }
    }

    /// The completions of receives and sends of the last poll (none on a readiness backend).
    #[inline]
    pub(crate) fn ops(&self) -> &[OpDone] {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        return &self.ops;
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        &[]
    }

    /// The reports of the last poll, in the order the system gave them.
    #[inline]
    pub(crate) fn reports(&self) -> impl Iterator<Item = Readiness> + '_ {
        let m = self.mio.iter().map(mio::readiness);
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        return m.chain(self.ring.iter().copied());
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        m
    }
}

impl Backend {
    /// Opens the backend `config` asks for, falling back to `mio` when the kernel (or a
    /// seccomp policy) refuses io_uring or the feature is not compiled in. Also makes the
    /// event buffer for `events_per_poll` reports and the doorbell. A fallback is an error
    /// when `strict`.
    pub(crate) fn open(
        requested: BackendKind,
        strict: bool,
        events_per_poll: usize,
    ) -> io::Result<(Backend, Events, Waker, BackendStatus)> {
        let capacity = events_per_poll.max(1);
        let fallback = match requested {
            BackendKind::Mio => None,
            BackendKind::IoUring => {
                #[cfg(all(feature = "io-uring", target_os = "linux"))]
                match uring::UringPoller::new(capacity) {
                    Ok((poller, waker)) => {
                        let events = Events {
                            mio: ::mio::Events::with_capacity(1),
                            ring: Vec::with_capacity(capacity + uring::EXTRA),
                            ops: Vec::with_capacity(capacity),
                        };
                        let status = BackendStatus {
                            requested,
                            running: BackendKind::IoUring,
                            fallback: None,
                        };
                        return Ok((
                            Backend::Uring(Box::new(poller)),
                            events,
                            Waker::Uring(waker),
                            status,
                        ));
                    }
                    Err(why) => Some(why),
                }
                #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
                Some(FallbackReason::NotCompiled)
            }
        };
        if let Some(why) = fallback {
            if strict {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("io_uring was required (PTK_BACKEND_STRICT) but {why}"),
                ));
            }
            ptk_warn!("io_uring backend unavailable, running on mio (epoll): {why}");
        }
        let poller = mio::MioPoller::new()?;
        let waker = Waker::Mio(poller.waker()?);
        let events = Events {
            mio: ::mio::Events::with_capacity(capacity),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            ring: Vec::new(),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            ops: Vec::new(),
        };
        let status = BackendStatus {
            requested,
            running: BackendKind::Mio,
            fallback,
        };
        Ok((Backend::Mio(poller), events, waker, status))
    }

    /// Starts reporting the edges of `socket` under `handle`.
    pub(crate) fn register<S: Socket>(
        &self,
        socket: &mut S,
        handle: RawHandle,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Backend::Mio(p) => p.register(socket, handle, interest),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.register(socket, handle, interest),
        }
    }

    /// Changes the interest of a registered socket; a socket already ready in a direction
    /// newly asked for is reported.
    pub(crate) fn reregister<S: Socket>(
        &self,
        socket: &mut S,
        handle: RawHandle,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Backend::Mio(p) => p.reregister(socket, handle, interest),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.reregister(socket, handle, interest),
        }
    }

    /// Stops reporting `socket`; no report about it is delivered after this returns, except
    /// those already in an event buffer (the loop drops them by their stale handle).
    pub(crate) fn deregister<S: Socket>(&self, socket: &mut S) -> io::Result<()> {
        match self {
            Backend::Mio(p) => p.deregister(socket),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.deregister(socket),
        }
    }

    /// Waits for reports (see the module docs) and puts them in `events`, replacing what it
    /// held.
    #[inline]
    pub(crate) fn poll(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        match self {
            Backend::Mio(p) => p.poll(&mut events.mio, timeout),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.poll(&mut events.ring, &mut events.ops, timeout),
        }
    }

    /// Whether receives and sends can be queued on this backend (a completion-based one).
    #[inline]
    pub(crate) fn completes(&self) -> bool {
        match self {
            Backend::Mio(_) => false,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(_) => true,
        }
    }

    /// Queues a receive into `buf` on `socket` under `code` (an [`op`] code), submitted by
    /// the next poll; its completion comes back in [`Events::ops`].
    ///
    /// # Safety
    ///
    /// `buf` must stay valid for writes of `len` bytes, and be touched by nobody else, until
    /// the completion has come back from a poll.
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    // `unsafe`: the kernel uses `buf` after the call returns, which only the caller's
    // ownership rules (the loop's ring path) can make sound.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn recv(
        &self,
        socket: &::mio::net::TcpStream,
        buf: *mut u8,
        len: u32,
        code: u64,
    ) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            // SAFETY: the caller's promise is the callee's requirement.
            Backend::Uring(p) => unsafe {
                p.recv(std::os::fd::AsRawFd::as_raw_fd(socket), buf, len, code)
            },
        }
    }

    /// Queues a send of `len` bytes from `buf` on `socket` under `code`.
    ///
    /// # Safety
    ///
    /// `buf` must stay valid for reads of `len` bytes, and unchanged, until the completion
    /// has come back from a poll.
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    // `unsafe`: the kernel uses `buf` after the call returns, which only the caller's
    // ownership rules (the loop's ring path) can make sound.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn send(
        &self,
        socket: &::mio::net::TcpStream,
        buf: *const u8,
        len: u32,
        code: u64,
    ) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            // SAFETY: the caller's promise is the callee's requirement.
            Backend::Uring(p) => unsafe {
                p.send(std::os::fd::AsRawFd::as_raw_fd(socket), buf, len, code)
            },
        }
    }

    /// Queues a file operation's request (`entry`, carrying its [`op`] code), submitted by
    /// the next poll; its completion comes back in [`Events::ops`].
    ///
    /// # Safety
    ///
    /// The memory the entry names (a path, a buffer) must stay valid, and untouched by
    /// anybody else, until the completion has come back from a poll.
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn push_file(&self, entry: &io_uring::squeue::Entry) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            // SAFETY: the caller's promise is the callee's requirement.
            Backend::Uring(p) => unsafe { p.push_file(entry) },
        }
    }

    /// Queues the cancellation of the receive or send queued under `code`.
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    pub(crate) fn cancel(&self, code: u64) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Ok(()),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.cancel(code),
        }
    }

    /// Receives and sends whose completion has not come back yet.
    pub(crate) fn in_flight(&self) -> u32 {
        match self {
            Backend::Mio(_) => 0,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.in_flight(),
        }
    }

    /// Makes the provided-buffer ring of multishot receives, `entries` descriptors at most
    /// (start-up only). `false` when the backend or the kernel has none.
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    pub(crate) fn open_buf_ring(&self, entries: u32) -> bool {
        match self {
            Backend::Mio(_) => false,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.open_buf_ring(entries),
        }
    }

    /// Descriptors the provided-buffer ring holds (0: none).
    pub(crate) fn buf_ring_size(&self) -> u32 {
        match self {
            Backend::Mio(_) => 0,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.buf_ring_size(),
        }
    }

    /// Lends `len` bytes at `buf` (chunk `bid`) to the provided-buffer ring.
    ///
    /// # Safety
    ///
    /// The memory must stay valid, and be touched by nobody else, until a completion names
    /// `bid` or [`reset_buf_ring`](Self::reset_buf_ring) runs with no receive in flight; at
    /// most [`buf_ring_size`](Self::buf_ring_size) chunks are lent at once.
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn lend(&self, buf: *mut u8, len: u32, bid: u16) -> bool {
        match self {
            Backend::Mio(_) => false,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            // SAFETY: the caller's promise is the callee's requirement.
            Backend::Uring(p) => unsafe { p.lend(buf, len, bid) },
        }
    }

    /// Takes every lent chunk back (no receive may be in flight).
    pub(crate) fn reset_buf_ring(&self) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Ok(()),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.reset_buf_ring(),
        }
    }

    /// Queues a multishot receive on `socket` into lent chunks under `code`; its completions
    /// (one per chunk filled, the last without `IORING_CQE_F_MORE`) come back in
    /// [`Events::ops`].
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    pub(crate) fn recv_multi(&self, socket: &::mio::net::TcpStream, code: u64) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.recv_multi(std::os::fd::AsRawFd::as_raw_fd(socket), code),
        }
    }

    /// A multishot receive on `socket` ended: its read readiness is reported again (the
    /// backend pauses it while the receive stands in for it).
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    pub(crate) fn resume_read(&self, socket: &::mio::net::TcpStream) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Ok(()),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.resume_read(std::os::fd::AsRawFd::as_raw_fd(socket)),
        }
    }
}

/// The token a socket is registered under: the whole handle where a poller token holds it,
/// else its [`short`] form.
#[inline]
pub(crate) fn token(h: RawHandle) -> io::Result<u64> {
    #[cfg(target_pointer_width = "64")]
    return Ok(h.to_u64());
    #[cfg(not(target_pointer_width = "64"))]
    match short::encode(h) {
        Some(t) => Ok(u64::from(t)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket slot beyond what a 32-bit poller token can name",
        )),
    }
}

/// What a socket is registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    /// Readable edges only.
    Read,
    /// Readable and writable edges.
    ReadWrite,
}

/// One report of a poll: the socket (by handle) and which of its directions became ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// The token the socket was registered with (a [`RawHandle`]'s integer form); 0 for the
    /// poller's own wake-up.
    pub(crate) token: u64,
    /// Something to read: data, a pending connection, the peer's FIN or an error.
    pub(crate) read: bool,
    /// Room to write, a finished connect, or an error.
    pub(crate) write: bool,
    /// The peer closed its sending half or the socket failed: no further readable edge will
    /// announce what is left to read.
    pub(crate) read_closed: bool,
}

/// The socket types the loop owns (TCP listeners and streams, UDP sockets, the self-pipe of
/// signal watchers), as every backend can register them.
pub(crate) trait Socket: ::mio::event::Source {
    /// The file descriptor a completion-based poller watches; `None` for sources that only
    /// `mio` can register (the io_uring backend watches those through an epoll of its own).
    #[cfg(unix)]
    #[cfg_attr(not(all(feature = "io-uring", target_os = "linux")), allow(dead_code))]
    fn raw_fd(&self) -> Option<std::os::fd::RawFd>;
}

#[cfg(unix)]
macro_rules! fd_socket {
    ($($t:ty),*) => {$(
        impl Socket for $t {
            #[inline]
            fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
                Some(std::os::fd::AsRawFd::as_raw_fd(self))
            }
        }
    )*};
}
#[cfg(unix)]
fd_socket!(
    ::mio::net::TcpListener,
    ::mio::net::TcpStream,
    ::mio::net::UdpSocket
);
#[cfg(not(unix))]
impl Socket for ::mio::net::TcpListener {}
#[cfg(not(unix))]
impl Socket for ::mio::net::TcpStream {}
#[cfg(not(unix))]
impl Socket for ::mio::net::UdpSocket {}
#[cfg(unix)]
impl Socket for signal_hook_mio::v1_0::Signals {
    fn raw_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}

/// The 32-bit form of a socket's token, for pollers whose token is narrower than a handle.
///
/// | bits  | field                                  |
/// |-------|----------------------------------------|
/// | 0-3   | type (every socket type is below 16)   |
/// | 4-11  | the low 8 bits of the generation       |
/// | 12-31 | slot (so at most 2^20 sockets a type)  |
///
/// Zero is still never a socket's token: the type field is never 0.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
pub(crate) mod short {
    use crate::handle::RawHandle;

    /// Slots a short token can name, per socket type.
    pub(crate) const SLOTS: u32 = 1 << 20;

    const _: () = assert!((crate::handle::ResourceType::FileOp as u8) < 16);

    /// The short token of `h`, or `None` if its slot does not fit.
    #[inline]
    pub(crate) fn encode(h: RawHandle) -> Option<u32> {
        if h.slot() >= SLOTS {
            return None;
        }
        Some((h.resource_type() as u32) | (u32::from(h.generation() as u8) << 4) | (h.slot() << 12))
    }

    /// The type field of a short token.
    #[inline]
    pub(crate) fn ty(token: u64) -> u8 {
        (token & 0xf) as u8
    }

    /// The slot field of a short token.
    #[inline]
    pub(crate) fn slot(token: u64) -> usize {
        (token >> 12) as usize & (SLOTS as usize - 1)
    }

    /// Whether the short token could have been made from `h` (same type, slot and low
    /// generation bits).
    #[inline]
    pub(crate) fn names(token: u64, h: RawHandle) -> bool {
        encode(h).is_some_and(|t| u64::from(t) == token)
    }
}

#[cfg(test)]
mod tests {
    use super::short;
    use crate::handle::{RawHandle, ResourceType};

    #[test]
    fn a_short_token_keeps_type_slot_and_low_generation_bits() {
        let h = RawHandle::new(ResourceType::TcpStream, 9, 0x1234, 0xabcde);
        let t = u64::from(short::encode(h).unwrap());
        assert_eq!(t, 3 | (0x34 << 4) | (0xabcde << 12));
        assert_eq!(short::ty(t), ResourceType::TcpStream as u8);
        assert_eq!(short::slot(t), 0xabcde);
        assert!(short::names(t, h));
        // Another generation (low bits differ), slot or type is not named by it.
        for other in [
            RawHandle::new(ResourceType::TcpStream, 9, 0x1235, 0xabcde),
            RawHandle::new(ResourceType::TcpStream, 9, 0x1234, 0xabcdf),
            RawHandle::new(ResourceType::UdpSocket, 9, 0x1234, 0xabcde),
        ] {
            assert!(!short::names(t, other), "{other}");
        }
        // Only the low 8 generation bits are kept: 256 reuses later the token matches again.
        assert!(short::names(
            t,
            RawHandle::new(ResourceType::TcpStream, 9, 0x1334, 0xabcde)
        ));
        // A slot beyond 2^20 has no short token; no socket token is 0.
        assert_eq!(
            short::encode(RawHandle::new(ResourceType::TcpStream, 0, 1, 1 << 20)),
            None
        );
        assert_ne!(
            short::encode(RawHandle::new(ResourceType::Timer, 0, 0, 0)),
            Some(0)
        );
    }
}
