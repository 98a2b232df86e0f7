//! The io_uring backend (Linux): the readiness contract of the loop kept with multishot polls,
//! the doorbell an eventfd the ring polls, timeouts passed to the one `io_uring_enter` of a
//! poll, and every request queued during an iteration submitted by that same call.
//!
//! # How the contract is kept
//!
//! * **Readiness.** Each registered socket has a multishot `POLL_ADD` for reading (`POLLIN |
//!   POLLRDHUP`) for its life, and a second one for writing (`POLLOUT`) while write interest
//!   is armed. A multishot poll posts a completion on each wake-up of the socket that finds it
//!   ready, which is the edge the loop needs: data that arrives after the loop found the
//!   socket drained wakes it again. A poll the kernel ends (a completion without
//!   `IORING_CQE_F_MORE`) is added again, and adding a poll reports a socket already ready, so
//!   no edge is lost; duplicates are spurious reports, which the contract allows.
//! * **Tokens.** A request's `user_data` holds the file descriptor, the kind of request and a
//!   24-bit registration number of that descriptor; a table indexed by descriptor (made at
//!   start-up for the process's descriptor limit, zeroed memory the kernel maps only where it
//!   is touched) holds each registration's token (the socket's handle) and number. A
//!   completion from an earlier registration of a reused descriptor names an old number and
//!   is dropped; a removed poll's cancel completion likewise.
//! * **Closing.** A poll in flight holds a reference to its file, so `deregister` ends both
//!   polls and submits at once: the socket closes (and the peer sees its FIN) when the caller
//!   drops it, not at the next poll. Polls are ended by `ASYNC_CANCEL`, which always ends
//!   them; `POLL_REMOVE` gives up (`EALREADY`) on a poll whose wake-up is being handled and
//!   leaves it armed, holding the file.
//! * **Sources without a descriptor** (the signal self-pipe that `signal-hook-mio` wraps) go
//!   to an epoll of the backend's own, whose descriptor the ring polls; its reports are read
//!   with a non-blocking `epoll_wait` when that poll fires (only when a signal arrived).
//! * **Waiting.** `poll` submits what was queued and waits in the same `io_uring_enter`, with
//!   the timeout as its argument (`IORING_FEAT_EXT_ARG`): no timerfd, no extra call. When
//!   completions are already waiting and nothing was queued, it makes no system call at all.
//!
//! * **Receives and sends.** The loop's pooled message path queues `RECV` and `SEND`
//!   requests on its buffers ([`UringPoller::recv`], [`UringPoller::send`]) under `user_data`
//!   of its own ([`super::op`]); their completions come back in a list of their own
//!   ([`OpDone`]), counted until drained ([`UringPoller::in_flight`]), and `ASYNC_CANCEL`
//!   takes one back. Who owns the memory meanwhile is the loop's business (`ring.rs`).
//! * **Accepts.** Where the kernel has multishot accept (probed at setup, `uring_accept.rs`),
//!   the loop arms one per listener ([`UringPoller::arm_accept`]); its completions come back
//!   with the receives' (an accepted descriptor each, the chunk field's bit 19 saying whether
//!   the request stays armed), never counted in flight: the request names no memory. The
//!   listener side is in `tcp_listener.rs`.
//!
//! # Memory
//!
//! The ring (its submission and completion queues), the descriptor table, the event buffer
//! and the eventfd are made in [`UringPoller::new`]; the epoll for descriptor-less sources
//! when the first one registers (the signal pipe, opened by `EventLoop::new`). Polling,
//! registering and waking allocate nothing.
//!
//! # `unsafe`
//!
//! This module opts in to `unsafe` (the workspace denies it) for three things only: pushing
//! entries into the submission queue (the kernel must not be handed pointers that dangle; a
//! poll, a poll removal and a cancel carry none, and a receive or send is pushed only by an
//! `unsafe fn` whose caller promises its memory stays valid and the kernel's until the
//! completion), the `eventfd`/`read`/`write` system calls of the doorbell, and the `uname`
//! of the multishot accept probe. Each block says why it is sound.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use crate::handle::RawHandle;

use super::{FallbackReason, Interest, OpDone, Readiness, Socket};

#[path = "uring_accept.rs"]
mod accept;
#[path = "uring_bufs.rs"]
mod bufs;

/// Request kinds, in bits 32-39 of `user_data`.
const READ: u64 = 1;
const WRITE: u64 = 2;
const DOORBELL: u64 = 3;
const INNER: u64 = 4;
/// Completions nobody acts on (poll removals, cancels).
const IGNORE: u64 = 5;
/// The loop's message operations (receives and sends on its buffers): their `user_data` is
/// the loop's own ([`super::op`]), with the kind in the same bits as a poll's.
const OP_RECV: u64 = super::op::RECV as u64;
const OP_SEND: u64 = super::op::SEND as u64;
const OP_FILE: u64 = super::op::FILE as u64;
const OP_ACCEPT: u64 = super::op::ACCEPT as u64;
/// [`super::accept::MORE`] where it sits in a code (the chunk field's bits 12-19 are the
/// code's bits 56-63).
const ACCEPT_MORE: u64 = (super::accept::MORE as u64 >> 12) << 56;
/// A multishot receive into the provided-buffer ring: in flight until its last completion.
const OP_RECV_MULTI: u64 = super::op::RECV_MULTI as u64;

/// `state` flags per descriptor (the registration number is in bits 8-31).
const READ_ARMED: u32 = 1;
const WRITE_ARMED: u32 = 2;
/// The read poll is removed while a multishot receive stands in for it (`uring_bufs.rs`).
const READ_PAUSED: u32 = 4;

/// Reports one completion can add to the event buffer at most (the inner epoll's batch).
pub(super) const EXTRA: usize = 4;

/// Entries of the submission queue at least (registrations, re-arms and removals of one
/// iteration; a full queue is submitted early). It is also made at least twice the event
/// buffer, so that the re-arms one poll's completions may need always fit.
const SQ_ENTRIES: u32 = 256;
/// Entries of the completion queue at least (the kernel keeps overflow, `IORING_FEAT_NODROP`).
const CQ_ENTRIES: u32 = 4096;

const READ_MASK: u32 = (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) as u32;
const WRITE_MASK: u32 = libc::POLLOUT as u32;
const HUP_MASK: u32 = (libc::POLLHUP | libc::POLLERR) as u32;

/// Test hook: makes the next ring setups fail as a seccomp policy would (`EPERM`).
static REFUSE: AtomicBool = AtomicBool::new(false);

/// Makes every later io_uring setup fail with `EPERM` (as under Docker's default seccomp
/// policy) while `refuse` is true, so that the fallback to `mio` can be tested anywhere.
pub(crate) fn refuse_setup(refuse: bool) {
    REFUSE.store(refuse, Ordering::Relaxed);
}

#[inline]
fn user_data(kind: u64, fd: RawFd, registration: u32) -> u64 {
    u64::from(fd as u32) | (kind << 32) | (u64::from(registration) << 40)
}

/// The doorbell: an eventfd the ring polls; other threads write to it.
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> io::Result<EventFd> {
        // SAFETY: `eventfd` takes no pointers; a non-negative result is a new descriptor that
        // nothing else owns, handed to `OwnedFd` once.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Adds 1 to the counter, which wakes the ring's poll of it (any thread).
    pub(crate) fn wake(&self) -> io::Result<()> {
        let one: u64 = 1;
        for _ in 0..2 {
            // SAFETY: writes the 8 bytes of `one`, which lives across the call, to a
            // descriptor this value owns.
            let n = unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
            if n == 8 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            // The counter is full (after 2^64 - 2 wakes nobody read): empty it, then write.
            let mut sink: u64 = 0;
            // SAFETY: reads at most 8 bytes into `sink`, which lives across the call.
            unsafe { libc::read(self.0.as_raw_fd(), (&raw mut sink).cast(), 8) };
        }
        Err(io::Error::from(io::ErrorKind::WouldBlock))
    }
}

/// The backend's own epoll, for sources that have no descriptor to give the ring.
struct Inner {
    poll: mio::Poll,
    events: mio::Events,
}

struct State {
    ring: IoUring,
    /// Per descriptor: the token of its registration.
    tokens: Vec<u64>,
    /// Per descriptor: registration number (bits 8-31) and `*_ARMED` flags.
    state: Vec<u32>,
    doorbell: RawFd,
    inner: Option<Inner>,
    /// Reports one poll gives at most (the event buffer holds `EXTRA` more).
    capacity: usize,
    /// Receives and sends submitted whose completion has not been drained yet.
    in_flight: u32,
    /// Listeners accept through a multishot accept (`uring_accept.rs`).
    multishot_accept: bool,
    /// The provided-buffer ring of multishot receives (`uring_bufs.rs`), if the kernel has
    /// them (dropped after `ring`, which `State`'s drop unregisters it from).
    bufs: Option<bufs::BufRing>,
}

/// An io_uring driven as a readiness poller.
pub(crate) struct UringPoller {
    // `register` and friends take `&self` (the loop lends the backend beside the pools it
    // registers from); the state is only ever touched from the loop's thread, and `RefCell`
    // also makes the poller `!Sync`.
    st: RefCell<State>,
}

impl State {
    /// Queues a receive or send, counted in flight until its completion is drained.
    ///
    /// # Safety
    ///
    /// The memory `entry` points to must stay valid (and the kernel's alone, for a receive)
    /// until its completion is drained.
    unsafe fn push_op(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller keeps the memory the entry names valid until its completion.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                self.in_flight += 1;
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Queues `entry`, submitting what is queued first if the queue is full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry queued here is a poll, a poll removal or a cancel: none
            // carries a pointer the kernel would read or write later (receives and sends go
            // through `push_op`).
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // The completion queue overflowed: make room by the next drain, and
                    // let the kernel take what it can now.
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn poll_add(&mut self, kind: u64, fd: RawFd, registration: u32, mask: u32) -> io::Result<()> {
        let e = opcode::PollAdd::new(types::Fd(fd), mask)
            .multi(true)
            .build()
            .user_data(user_data(kind, fd, registration));
        self.push(&e)
    }

    /// Ends a poll: by `ASYNC_CANCEL`, not `POLL_REMOVE`, which fails with `EALREADY` and
    /// leaves a multishot poll armed when it finds the poll's wake-up being handled (its task
    /// work pending, common between two polls of the loop): the poll would go on reporting
    /// and hold the socket's file after its owner closed it. A cancel marks the poll
    /// cancelled whoever holds it, and it ends with `-ECANCELED`.
    fn poll_remove(&mut self, kind: u64, fd: RawFd, registration: u32) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(user_data(kind, fd, registration))
            .build()
            .user_data(user_data(IGNORE, fd, 0));
        self.push(&e)
    }

    /// Ends `fd`'s read poll while a multishot receive reports its read side.
    fn pause_read(&mut self, fd: RawFd) -> io::Result<()> {
        self.switch_read(fd, true)
    }

    /// Adds `fd`'s read poll again after [`pause_read`](Self::pause_read).
    fn resume_read(&mut self, fd: RawFd) -> io::Result<()> {
        self.switch_read(fd, false)
    }

    /// Pauses (`pause`) or resumes `fd`'s read poll; nothing if it already is.
    fn switch_read(&mut self, fd: RawFd, pause: bool) -> io::Result<()> {
        let i = self.slot(fd)?;
        let s = self.state[i];
        let (from, to) = if pause {
            (READ_ARMED, READ_PAUSED)
        } else {
            (READ_PAUSED, READ_ARMED)
        };
        if s & from == 0 {
            return Ok(());
        }
        self.state[i] = (s & !from) | to;
        if pause {
            self.poll_remove(READ, fd, s >> 8)
        } else {
            self.poll_add(READ, fd, s >> 8, READ_MASK)
        }
    }

    fn slot(&self, fd: RawFd) -> io::Result<usize> {
        match usize::try_from(fd) {
            Ok(i) if i < self.tokens.len() => Ok(i),
            // Beyond the descriptor limit the table was made for.
            _ => Err(io::Error::from_raw_os_error(libc::EMFILE)),
        }
    }

    /// Moves completions into `out` until it holds `capacity` reports (the rest stay in the
    /// completion queue for the next poll). Returns how many completions it took.
    fn drain(&mut self, out: &mut Vec<Readiness>, ops: &mut Vec<OpDone>) -> usize {
        let mut taken = 0;
        while out.len() < self.capacity && ops.len() < self.capacity {
            let Some(c) = self.ring.completion().next() else {
                break;
            };
            taken += 1;
            let ud = c.user_data();
            let kind = (ud >> 32) & 0xff;
            let fd = ud as u32 as RawFd;
            let registration = (ud >> 40) as u32;
            let more = cqueue::more(c.flags());
            match kind {
                READ | WRITE => self.on_poll(out, kind, fd, registration, c.result(), more),
                OP_RECV | OP_SEND | OP_FILE => {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    ops.push(OpDone {
                        user_data: ud,
                        result: c.result(),
                        flags: c.flags(),
                    });
                }
                OP_RECV_MULTI => {
                    if !more {
                        self.in_flight = self.in_flight.saturating_sub(1);
                    }
                    ops.push(OpDone {
                        user_data: ud,
                        result: c.result(),
                        flags: c.flags(),
                    });
                }
                OP_ACCEPT => {
                    // Never counted in flight: it names no memory of the loop.
                    ops.push(OpDone {
                        user_data: if more { ud | ACCEPT_MORE } else { ud },
                        result: c.result(),
                        flags: c.flags(),
                    });
                }
                DOORBELL => {
                    out.push(Readiness {
                        token: 0,
                        read: true,
                        write: false,
                        read_closed: false,
                    });
                    if !more {
                        let _ = self.poll_add(DOORBELL, fd, 0, libc::POLLIN as u32);
                    }
                }
                INNER => {
                    if let Some(inner) = self.inner.as_mut() {
                        if inner
                            .poll
                            .poll(&mut inner.events, Some(Duration::ZERO))
                            .is_ok()
                        {
                            out.extend(inner.events.iter().map(super::mio::readiness));
                        }
                    }
                    if !more {
                        let _ = self.poll_add(INNER, fd, 0, libc::POLLIN as u32);
                    }
                }
                _ => {}
            }
        }
        taken
    }

    #[inline]
    fn on_poll(
        &mut self,
        out: &mut Vec<Readiness>,
        kind: u64,
        fd: RawFd,
        registration: u32,
        res: i32,
        more: bool,
    ) {
        let Ok(i) = self.slot(fd) else {
            return;
        };
        let st = self.state[i];
        let armed = if kind == READ {
            READ_ARMED
        } else {
            WRITE_ARMED
        };
        if st >> 8 != registration || st & armed == 0 {
            return; // an earlier registration of this descriptor, or a poll removed since
        }
        let token = self.tokens[i];
        if res >= 0 {
            let mask = res as u32;
            let hup = mask & HUP_MASK != 0;
            out.push(if kind == READ {
                Readiness {
                    token,
                    read: true,
                    write: hup,
                    read_closed: hup | (mask & libc::POLLRDHUP as u32 != 0),
                }
            } else {
                Readiness {
                    token,
                    read: false,
                    write: true,
                    read_closed: false,
                }
            });
        } else if res == -libc::ECANCELED {
            // Removed by `reregister` or `deregister`: if the direction was armed again since,
            // that pushed a poll of its own, so this one must not come back.
            return;
        } else {
            // The poll failed (the kernel ran short of memory, ...): a spurious report, so
            // that the loop tries the socket, and the poll is added again below.
            out.push(Readiness {
                token,
                read: kind == READ,
                write: kind == WRITE,
                read_closed: false,
            });
        }
        if !more {
            let mask = if kind == READ { READ_MASK } else { WRITE_MASK };
            let _ = self.poll_add(kind, fd, registration, mask);
        }
    }
}

impl UringPoller {
    /// Sets up a ring for polls that report at most `capacity` events each, and its doorbell;
    /// the reason io_uring cannot be used here if it cannot.
    pub(super) fn new(capacity: usize) -> Result<(UringPoller, EventFd), FallbackReason> {
        if REFUSE.load(Ordering::Relaxed) {
            return Err(FallbackReason::Refused(libc::EPERM));
        }
        let refused = |e: io::Error| FallbackReason::Refused(e.raw_os_error().unwrap_or(0));
        let entries = SQ_ENTRIES.max((capacity.min(1 << 14) as u32 * 2).next_power_of_two());
        let mut builder = IoUring::builder();
        builder
            .setup_cqsize(CQ_ENTRIES.max(capacity.min(1 << 16) as u32 * 2))
            .setup_clamp();
        // Completions' task work runs when the loop enters the kernel instead of interrupting
        // it wherever it is (Linux 5.19), and the kernel flags pending work so that a poll
        // with nothing to submit still collects it. Older kernels refuse the flags.
        let mut cooperative = builder.clone();
        cooperative.setup_coop_taskrun().setup_taskrun_flag();
        let ring = match cooperative.build(entries) {
            Ok(ring) => ring,
            Err(_) => builder.build(entries).map_err(refused)?,
        };
        let params = ring.params();
        if !params.is_feature_ext_arg() {
            return Err(FallbackReason::Missing("IORING_FEAT_EXT_ARG (Linux 5.11)"));
        }
        // Multishot polls came with 5.13, as did resource tagging, which is probed for them.
        if !params.is_feature_resource_tagging() {
            return Err(FallbackReason::Missing("multishot poll (Linux 5.13)"));
        }
        if !params.is_feature_nodrop() {
            return Err(FallbackReason::Missing("IORING_FEAT_NODROP (Linux 5.5)"));
        }
        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(refused)?;
        for (code, name) in [
            (opcode::PollAdd::CODE, "POLL_ADD"),
            (opcode::PollRemove::CODE, "POLL_REMOVE"),
            (opcode::Recv::CODE, "RECV"),
            (opcode::Send::CODE, "SEND"),
            (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
        ] {
            if !probe.is_supported(code) {
                return Err(FallbackReason::Missing(name));
            }
        }
        let waker = EventFd::new().map_err(refused)?;
        // The descriptor table: one entry per descriptor the process may open (its soft
        // limit, at least 64 Ki, at most 1 Mi), zeroed memory that costs pages only where
        // descriptors are used.
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `getrlimit` writes one `rlimit` into `lim`, which lives across the call.
        let limit = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) } == 0 {
            lim.rlim_cur
        } else {
            0
        };
        let fds = (limit as usize).clamp(1 << 16, 1 << 20);
        let mut st = State {
            ring,
            tokens: vec![0; fds],
            state: vec![0; fds],
            doorbell: waker.0.as_raw_fd(),
            inner: None,
            capacity: capacity.max(1),
            in_flight: 0,
            multishot_accept: accept::probe(&probe),
            bufs: None,
        };
        st.poll_add(DOORBELL, st.doorbell, 0, libc::POLLIN as u32)
            .map_err(refused)?;
        // Submitting now proves `io_uring_enter` works too (a policy could allow only setup).
        st.ring.submit().map_err(refused)?;
        Ok((
            UringPoller {
                st: RefCell::new(st),
            },
            waker,
        ))
    }

    pub(super) fn register<S: Socket>(
        &self,
        socket: &mut S,
        h: RawHandle,
        interest: Interest,
    ) -> io::Result<()> {
        let token = super::token(h)?;
        let st = &mut *self.st.borrow_mut();
        let Some(fd) = socket.raw_fd() else {
            return Self::register_inner(st, socket, token, interest);
        };
        let i = st.slot(fd)?;
        let registration = ((st.state[i] >> 8) + 1) & 0x00ff_ffff;
        let write = interest == Interest::ReadWrite;
        st.tokens[i] = token;
        st.state[i] = (registration << 8) | READ_ARMED | if write { WRITE_ARMED } else { 0 };
        st.poll_add(READ, fd, registration, READ_MASK)?;
        if write {
            st.poll_add(WRITE, fd, registration, WRITE_MASK)?;
        }
        Ok(())
    }

    /// Registers a source without a descriptor with the backend's own epoll, made (and its
    /// descriptor polled by the ring) the first time.
    fn register_inner<S: Socket>(
        st: &mut State,
        socket: &mut S,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        if st.inner.is_none() {
            let poll = mio::Poll::new()?;
            let fd = poll.as_raw_fd();
            st.inner = Some(Inner {
                poll,
                events: mio::Events::with_capacity(EXTRA),
            });
            st.poll_add(INNER, fd, 0, libc::POLLIN as u32)?;
        }
        let Some(inner) = st.inner.as_ref() else {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        };
        let interest = match interest {
            Interest::Read => mio::Interest::READABLE,
            Interest::ReadWrite => mio::Interest::READABLE | mio::Interest::WRITABLE,
        };
        inner
            .poll
            .registry()
            .register(socket, mio::Token(token as usize), interest)
    }

    pub(super) fn reregister<S: Socket>(
        &self,
        socket: &mut S,
        h: RawHandle,
        interest: Interest,
    ) -> io::Result<()> {
        let token = super::token(h)?;
        let st = &mut *self.st.borrow_mut();
        let Some(fd) = socket.raw_fd() else {
            let Some(inner) = st.inner.as_ref() else {
                return Err(io::Error::from(io::ErrorKind::NotFound));
            };
            let interest = match interest {
                Interest::Read => mio::Interest::READABLE,
                Interest::ReadWrite => mio::Interest::READABLE | mio::Interest::WRITABLE,
            };
            return inner
                .poll
                .registry()
                .reregister(socket, mio::Token(token as usize), interest);
        };
        let i = st.slot(fd)?;
        let s = st.state[i];
        if s & (READ_ARMED | READ_PAUSED) == 0 {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        let registration = s >> 8;
        st.tokens[i] = token;
        let want = interest == Interest::ReadWrite;
        let has = s & WRITE_ARMED != 0;
        if want && !has {
            st.state[i] |= WRITE_ARMED;
            st.poll_add(WRITE, fd, registration, WRITE_MASK)?;
        } else if !want && has {
            st.state[i] &= !WRITE_ARMED;
            st.poll_remove(WRITE, fd, registration)?;
        }
        Ok(())
    }

    pub(super) fn deregister<S: Socket>(&self, socket: &mut S) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        let Some(fd) = socket.raw_fd() else {
            return match st.inner.as_ref() {
                Some(inner) => inner.poll.registry().deregister(socket),
                None => Err(io::Error::from(io::ErrorKind::NotFound)),
            };
        };
        let i = st.slot(fd)?;
        let s = st.state[i];
        let registration = s >> 8;
        st.state[i] = registration << 8;
        st.tokens[i] = 0;
        if s & READ_ARMED != 0 {
            st.poll_remove(READ, fd, registration)?;
        }
        if s & WRITE_ARMED != 0 {
            st.poll_remove(WRITE, fd, registration)?;
        }
        // The polls hold the file: remove them now, so that the socket closes when its
        // owner drops it.
        loop {
            match st.ring.submit() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => return Ok(()),
                r => return r.map(|_| ()),
            }
        }
    }

    /// Queues a receive of at most `len` bytes into `buf` on `fd`, under `user_data` (an
    /// [`super::op`] code); submitted by the next poll, where it takes what the socket holds
    /// or fails with `EAGAIN`.
    ///
    /// # Safety
    ///
    /// `buf` must stay valid for writes of `len` bytes, and be neither read nor written by
    /// anyone else, until the completion of this request has been drained by a poll (the
    /// kernel writes it any time before that).
    pub(super) unsafe fn recv(
        &self,
        fd: RawFd,
        buf: *mut u8,
        len: u32,
        user_data: u64,
    ) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        // `MSG_DONTWAIT`: done (or `-EAGAIN`) within the `io_uring_enter` that submits it,
        // never parked in the kernel waiting for data: a stream waits for data on its poll's
        // edge, holding no buffer.
        let e = opcode::Recv::new(types::Fd(fd), buf, len)
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data(user_data);
        // SAFETY: the caller keeps `buf` valid and to the kernel alone until the completion.
        unsafe { st.push_op(&e) }
    }

    /// Queues a send of `len` bytes from `buf` on `fd`, under `user_data`.
    ///
    /// # Safety
    ///
    /// `buf` must stay valid for reads of `len` bytes, and not be written, until the
    /// completion of this request has been drained by a poll.
    pub(super) unsafe fn send(
        &self,
        fd: RawFd,
        buf: *const u8,
        len: u32,
        user_data: u64,
    ) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        let e = opcode::Send::new(types::Fd(fd), buf, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data);
        // SAFETY: the caller keeps `buf` valid and unchanged until the completion.
        unsafe { st.push_op(&e) }
    }

    /// Queues the cancellation of the receive or send submitted under `user_data` (its
    /// completion still comes, with `-ECANCELED` or what it did before the cancel caught it).
    pub(super) fn cancel(&self, code: u64) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        let e = opcode::AsyncCancel::new(code)
            .build()
            .user_data(user_data(IGNORE, 0, 0));
        st.push(&e)
    }

    /// Queues a file operation's request (its `user_data` an [`super::op`] code), counted
    /// in flight like a receive.
    ///
    /// # Safety
    ///
    /// As [`super::Backend::push_file`].
    pub(super) unsafe fn push_file(&self, entry: &squeue::Entry) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        // SAFETY: the caller keeps the memory the entry names valid until its completion.
        unsafe { st.push_op(entry) }
    }

    /// Receives, sends and file requests whose completion has not been drained yet.
    pub(super) fn in_flight(&self) -> u32 {
        self.st.borrow().in_flight
    }

    pub(super) fn poll(
        &mut self,
        out: &mut Vec<Readiness>,
        ops: &mut Vec<OpDone>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let st = self.st.get_mut();
        out.clear();
        ops.clear();
        let until = match timeout {
            Some(d) if !d.is_zero() => Some(Instant::now() + d),
            _ => None,
        };
        loop {
            let waiting = !st.ring.completion().is_empty();
            let queued = !st.ring.submission().is_empty();
            let mut timed_out = false;
            let r = if waiting || timeout == Some(Duration::ZERO) {
                if queued {
                    st.ring.submit()
                } else {
                    Ok(0)
                }
            } else if let Some(until) = until {
                let left = until.saturating_duration_since(Instant::now());
                let ts = types::Timespec::new()
                    .sec(left.as_secs())
                    .nsec(left.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                st.ring.submitter().submit_with_args(1, &args)
            } else {
                st.ring.submit_and_wait(1)
            };
            match r {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => timed_out = true,
                // Completions overflowed into the kernel: drain, then they come.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => return Err(e),
            }
            st.drain(out, ops);
            // Only completions nobody acts on (removals, stale polls): wait on, unless the
            // caller would not wait or the time is up.
            if !out.is_empty() || !ops.is_empty() || timed_out || timeout == Some(Duration::ZERO) {
                return Ok(());
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;
    use crate::handle::ResourceType;

    /// One connected pair: the accepted side as a mio stream, and the peer.
    fn pair(l: &TcpListener) -> (mio::net::TcpStream, TcpStream) {
        let peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        (mio::net::TcpStream::from_std(s), peer)
    }

    /// Reports for `token` over a few polls (the first may wait up to a second).
    fn reports_for(p: &mut UringPoller, token: u64) -> usize {
        let mut out = Vec::with_capacity(64 + EXTRA);
        let mut ops = Vec::with_capacity(64);
        let mut n = 0;
        for i in 0..5 {
            let wait = if i == 0 {
                Duration::from_secs(1)
            } else {
                Duration::ZERO
            };
            p.poll(&mut out, &mut ops, Some(wait)).unwrap();
            n += out.iter().filter(|r| r.token == token && r.read).count();
        }
        n
    }

    #[test]
    fn a_reused_descriptor_gets_one_poll_and_one_report_per_edge() {
        let (mut p, _waker) = UringPoller::new(64).expect("io_uring available");
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // Register, close and reopen on (very likely) the same descriptor, 50 times: the
        // cancel completions of each earlier registration must neither report nor add polls.
        let mut fds = Vec::new();
        for round in 0..50u32 {
            let (mut s, _peer) = pair(&l);
            let h = RawHandle::new(ResourceType::TcpStream, 0, round as u16, 7);
            p.register(&mut s, h, Interest::Read).unwrap();
            let mut out = Vec::with_capacity(64 + EXTRA);
            let mut ops = Vec::with_capacity(64);
            p.poll(&mut out, &mut ops, Some(Duration::ZERO)).unwrap();
            fds.push(s.as_raw_fd());
            p.deregister(&mut s).unwrap();
        }
        let (mut s, mut peer) = pair(&l);
        let h = RawHandle::new(ResourceType::TcpStream, 0, 999, 7);
        p.register(&mut s, h, Interest::Read).unwrap();
        assert!(
            fds.contains(&s.as_raw_fd()),
            "the descriptor was not reused"
        );
        peer.write_all(b"x").unwrap();
        assert_eq!(reports_for(&mut p, h.to_u64()), 1);
        // A second edge, a second report: the poll stays armed.
        peer.write_all(b"y").unwrap();
        assert_eq!(reports_for(&mut p, h.to_u64()), 1);
    }

    /// The peer of a socket closed with a byte unread sees the reset (within 2 s): nothing
    /// kept the socket open.
    fn assert_reset(mut peer: TcpStream, what: &str) {
        use std::io::Read;
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 8];
        let end = peer.read(&mut buf).map_err(|e| e.kind());
        assert_eq!(
            end,
            Err(io::ErrorKind::ConnectionReset),
            "{what}: the connection stayed open"
        );
    }

    /// A socket deregistered while its poll's wake-up waits to be handled (data arrived from
    /// another thread, and the loop's thread has not entered the kernel since) still has its
    /// poll ended: closing it closes the connection (a reset, as the byte was never read).
    /// (`POLL_REMOVE` fails there with `EALREADY` and leaves the poll holding the socket
    /// open: the peer would wait in vain.)
    #[test]
    fn a_socket_deregistered_with_a_wake_up_pending_closes() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;

        let (mut p, _waker) = UringPoller::new(64).expect("io_uring available");
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        for round in 0..20u16 {
            let (mut s, peer) = pair(&l);
            let h = RawHandle::new(ResourceType::TcpStream, 0, round, 7);
            p.register(&mut s, h, Interest::Read).unwrap();
            let mut out = Vec::with_capacity(64 + EXTRA);
            let mut ops = Vec::with_capacity(64);
            // The poll is armed (submitted) and finds nothing to report.
            p.poll(&mut out, &mut ops, Some(Duration::ZERO)).unwrap();
            assert!(out.iter().all(|r| r.token != h.to_u64()));
            // The peer writes from another thread: the wake-up is queued for this thread,
            // which makes no system call until `deregister`.
            let written = Arc::new(AtomicBool::new(false));
            let w = written.clone();
            let mut writer = peer.try_clone().unwrap();
            let t = std::thread::spawn(move || {
                writer.write_all(b"x").unwrap();
                w.store(true, Ordering::Release);
            });
            let mut spins = 0u64;
            while !written.load(Ordering::Acquire) {
                std::hint::spin_loop();
                spins += 1;
                assert!(spins < 1 << 36, "the writer never wrote");
            }
            p.deregister(&mut s).unwrap();
            drop(s);
            t.join().unwrap();
            assert_reset(peer, &format!("round {round}"));
        }
    }

    /// A paused read poll (a multishot receive stands in for it) reports nothing; resumed,
    /// it reports at once what arrived meanwhile; a socket deregistered while paused closes.
    #[test]
    fn a_paused_read_poll_reports_nothing_and_its_resume_reports_what_came() {
        let (mut p, _waker) = UringPoller::new(64).expect("io_uring available");
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut s, mut peer) = pair(&l);
        let fd = s.as_raw_fd();
        let h = RawHandle::new(ResourceType::TcpStream, 0, 1, 7);
        p.register(&mut s, h, Interest::Read).unwrap();
        peer.write_all(b"a").unwrap();
        assert_eq!(reports_for(&mut p, h.to_u64()), 1);
        p.st.borrow_mut().pause_read(fd).unwrap();
        peer.write_all(b"b").unwrap();
        assert_eq!(reports_for(&mut p, h.to_u64()), 0, "paused");
        // Pausing twice is pausing once.
        p.st.borrow_mut().pause_read(fd).unwrap();
        p.resume_read(fd).unwrap();
        assert_eq!(
            reports_for(&mut p, h.to_u64()),
            1,
            "resumed: the bytes are there"
        );
        // Resuming twice is resuming once: one poll, one report per edge.
        p.resume_read(fd).unwrap();
        peer.write_all(b"c").unwrap();
        assert_eq!(reports_for(&mut p, h.to_u64()), 1);
        // Deregistered while paused: no poll holds the socket, which closes when dropped.
        p.st.borrow_mut().pause_read(fd).unwrap();
        p.deregister(&mut s).unwrap();
        drop(s);
        assert_reset(peer, "deregistered while paused");
    }
}
