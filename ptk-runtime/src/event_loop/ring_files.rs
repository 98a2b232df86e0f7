//! File operations done by the ring itself when the loop runs on io_uring: no worker thread.
//!
//! # The chain
//!
//! Each operation is one job (the same jobs, staging memory and results as the worker's,
//! see `files`), taken through up to three kinds of request, each queued when the previous
//! one completes and submitted with the `io_uring_enter` of the next poll:
//!
//! 1. `OPENAT` of the job's path (NUL-terminated in the job), with the flags the operation
//!    asks for (`O_RDONLY`; or `O_WRONLY | O_CREAT` and `O_TRUNC` or `O_APPEND` per
//!    [`FileWrite`]), mode `0o666` as the standard library's;
//! 2. `READ` into, or `WRITE` from, the job's staging memory at the operation's offset plus
//!    what was moved so far, again after a short read or write, until all is moved or a read
//!    meets the end of the file (a write that moves nothing is an error);
//! 3. `CLOSE` of the descriptor the open gave.
//!
//! The result (the bytes moved, or the first error as the worker would report it: the
//! `errno` of the failed request through the same conversion) is then the job's, and the
//! loop delivers it in the remote-work step exactly as a worker's.
//!
//! # Ownership
//!
//! A job's path and staging memory are the kernel's from the first request to the last
//! completion: the job stays `InFlight` until then, so no other operation takes it. A request's
//! `user_data` is an [`op`] code of kind [`op::FILE`] naming the job and a sequence number of
//! the job's requests: a completion that does not name the request the job waits for (there
//! is none) is dropped. Closing an operation in flight cancels its request (`ASYNC_CANCEL`);
//! whatever the completion says, a descriptor the open gave is closed, and only after that
//! completion is the job free. Dropping the loop cancels every request and waits for the
//! last completion (at most [`QUIESCE`]).
#![allow(unsafe_code)]

use std::time::Instant;

use io_uring::{opcode, types};

use crate::error::{Error, Result};
use crate::handle::RawHandle;

use super::backend::{op, Events, OpDone};
use super::core::Core;
use super::files::{lock, FileJobs, JobState, Kind};
use super::ring::QUIESCE;
use super::FileWrite;

/// Where a job is in its chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// No request in the ring.
    Idle,
    Open,
    Io,
    Close,
}

#[derive(Clone, Copy, Debug)]
struct RingJob {
    step: Step,
    /// Counts the job's requests: the generation field of their codes.
    seq: u16,
    /// The descriptor the open gave, until its close completes.
    fd: Option<i32>,
    /// Bytes moved so far.
    moved: usize,
    /// The result to report once the descriptor is closed.
    outcome: Result<usize>,
    /// A cancel was asked for the request in flight.
    cancelled: bool,
}

/// The ring's side of the file jobs.
pub(crate) struct RingJobs {
    jobs: Box<[RingJob]>,
    /// Requests of these jobs in the ring (their completions not handled yet).
    requests: u32,
}

impl RingJobs {
    pub(super) fn new(n: usize) -> RingJobs {
        RingJobs {
            jobs: vec![
                RingJob {
                    step: Step::Idle,
                    seq: 0,
                    fd: None,
                    moved: 0,
                    outcome: Ok(0),
                    cancelled: false,
                };
                n
            ]
            .into_boxed_slice(),
            requests: 0,
        }
    }

    /// Requests of these jobs in the ring.
    pub(super) fn requests(&self) -> u32 {
        self.requests
    }
}

/// The error of a failed request, as the worker's standard library calls would give it.
fn errno(res: i32) -> Error {
    Error::from(std::io::Error::from_raw_os_error(-res))
}

impl Core<'_> {
    /// Starts operation `op` (just submitted, its job filled) in the ring: queues its open.
    pub(crate) fn ring_file_start(&mut self, op: RawHandle) {
        let Ok(i) = self.files.get(op).map(|e| e.job as usize) else {
            return;
        };
        if let Some(r) = self.files.ring.as_mut().and_then(|r| r.jobs.get_mut(i)) {
            *r = RingJob {
                step: Step::Open,
                seq: r.seq,
                fd: None,
                moved: 0,
                outcome: Ok(0),
                cancelled: false,
            };
        }
        if let Err(e) = self.ring_file_push(i) {
            self.ring_file_finish(i, Err(e));
        }
    }

    /// Queues job `i`'s request for its current step.
    fn ring_file_push(&mut self, i: usize) -> Result<()> {
        let (Some(jobs), Some(ring), Some(backend)) = (
            self.files.jobs.as_deref(),
            self.files.ring.as_mut(),
            self.backend.as_ref(),
        ) else {
            return Err(Error::InvalidArgument);
        };
        let (Some(job), Some(r)) = (jobs.jobs.get(i), ring.jobs.get_mut(i)) else {
            return Err(Error::InvalidArgument);
        };
        let mut j = lock(job);
        r.seq = r.seq.wrapping_add(1);
        let code = op::encode(op::FILE, i as u32, r.seq, 0);
        let entry = match (r.step, r.fd) {
            (Step::Open, _) => {
                let len = j.path_len;
                if j.path[..len].contains(&0) {
                    // As the standard library refuses such a path.
                    return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput).into());
                }
                j.path[len] = 0;
                let flags = match j.kind {
                    Kind::Read { .. } => libc::O_RDONLY,
                    Kind::Write(mode) => {
                        libc::O_WRONLY
                            | libc::O_CREAT
                            | match mode {
                                FileWrite::Replace => libc::O_TRUNC,
                                FileWrite::At(_) => 0,
                                FileWrite::Append => libc::O_APPEND,
                            }
                    }
                };
                opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), j.path.as_ptr().cast())
                    .flags(flags | libc::O_CLOEXEC)
                    .mode(0o666)
                    .build()
            }
            (Step::Io, Some(fd)) => {
                let moved = r.moved;
                let rest = (j.len - moved) as u32;
                let at = |base: u64| base.saturating_add(moved as u64);
                match j.kind {
                    Kind::Read { offset } => {
                        let ptr = j.data[moved..].as_mut_ptr();
                        opcode::Read::new(types::Fd(fd), ptr, rest)
                            .offset(at(offset))
                            .build()
                    }
                    Kind::Write(mode) => {
                        let offset = match mode {
                            FileWrite::Replace => at(0),
                            FileWrite::At(o) => at(o),
                            // The file's position: with `O_APPEND`, its end.
                            FileWrite::Append => u64::MAX,
                        };
                        opcode::Write::new(types::Fd(fd), j.data[moved..].as_ptr(), rest)
                            .offset(offset)
                            .build()
                    }
                }
            }
            (Step::Close, Some(fd)) => opcode::Close::new(types::Fd(fd)).build(),
            _ => return Err(Error::InvalidArgument),
        };
        drop(j);
        // SAFETY: the entry names the job's path or staging memory (an open, a read or a
        // write) or none (a close). Both live in the loop's `FileJobs`, which nothing frees
        // while the loop lives and whose boxed memory never moves; the job is `InFlight`
        // until this request's completion is handled (`ring_file_done`) and, without a worker
        // thread, only this module touches its memory meanwhile (`Files::data` reads it only
        // once the job is done). Dropping the loop waits for the completions first
        // (`ring_files_quiesce`).
        unsafe { backend.push_file(&entry.user_data(code)) }?;
        r.cancelled = false;
        ring.requests += 1;
        Ok(())
    }

    /// Job `i` is over: its result is set and the loop delivers it in the remote-work step.
    fn ring_file_finish(&mut self, i: usize, result: Result<usize>) {
        if let Some(r) = self.files.ring.as_mut().and_then(|r| r.jobs.get_mut(i)) {
            r.step = Step::Idle;
            r.fd = None;
        }
        let Some(jobs) = self.files.jobs.as_deref() else {
            return;
        };
        if let Some(job) = jobs.jobs.get(i) {
            lock(job).result = result;
            FileJobs::finish(jobs, i);
        }
        self.doorbell();
    }

    /// Job `i` moves on to `step`; a failure to queue its request ends it (closing what
    /// was opened).
    fn ring_file_next(&mut self, i: usize, step: Step) {
        if let Some(r) = self.files.ring.as_mut().and_then(|r| r.jobs.get_mut(i)) {
            r.step = step;
        }
        if let Err(e) = self.ring_file_push(i) {
            self.ring_file_close(i, Err(e));
        }
    }

    /// Job `i` ends with `outcome` once its descriptor (if it has one) is closed.
    fn ring_file_close(&mut self, i: usize, outcome: Result<usize>) {
        let Some(r) = self.files.ring.as_mut().and_then(|r| r.jobs.get_mut(i)) else {
            return;
        };
        if r.outcome.is_ok() {
            r.outcome = outcome;
        }
        let outcome = r.outcome;
        if r.fd.is_none() || r.step == Step::Close {
            // Nothing to close, or its close could not be queued (the descriptor leaks
            // rather than the job being reused while the kernel might hold it).
            self.ring_file_finish(i, outcome);
            return;
        }
        self.ring_file_next(i, Step::Close);
    }

    /// A completion of a file operation's request: the job's next step.
    pub(crate) fn ring_file_done(&mut self, d: OpDone) {
        let i = op::slot(d.user_data) as usize;
        let step = {
            let Some(ring) = self.files.ring.as_mut() else {
                return;
            };
            let Some(r) = ring.jobs.get_mut(i) else {
                return;
            };
            if r.step == Step::Idle || r.seq != op::generation(d.user_data) {
                return; // not the request the job waits for
            }
            ring.requests = ring.requests.saturating_sub(1);
            r.step
        };
        let Some(jobs) = self.files.jobs.as_deref() else {
            return;
        };
        let Some(job) = jobs.jobs.get(i) else {
            return;
        };
        let (abandoned, kind, len) = {
            let j = lock(job);
            (
                j.op.is_none() || j.state != JobState::InFlight,
                j.kind,
                j.len,
            )
        };
        let res = d.result;
        match step {
            Step::Idle => {}
            Step::Open => {
                if res < 0 {
                    self.ring_file_finish(i, Err(errno(res)));
                    return;
                }
                if let Some(r) = self.files.ring.as_mut().and_then(|r| r.jobs.get_mut(i)) {
                    r.fd = Some(res);
                }
                if abandoned {
                    self.ring_file_close(i, Err(Error::Closed));
                } else if len == 0 {
                    self.ring_file_close(i, Ok(0));
                } else {
                    self.ring_file_next(i, Step::Io);
                }
            }
            Step::Io => {
                // Interrupted: again, as the worker's loop does (any other error is the result).
                let retry = res == -libc::EINTR;
                if abandoned {
                    self.ring_file_close(i, Err(Error::Closed));
                } else if retry {
                    self.ring_file_next(i, Step::Io);
                } else if res < 0 {
                    self.ring_file_close(i, Err(errno(res)));
                } else if res == 0 {
                    let moved = self.ring_file_moved(i, 0);
                    match kind {
                        Kind::Read { .. } => self.ring_file_close(i, Ok(moved)),
                        Kind::Write(_) => {
                            let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                            self.ring_file_close(i, Err(e.into()));
                        }
                    }
                } else {
                    let moved = self.ring_file_moved(i, res as usize);
                    if moved >= len {
                        self.ring_file_close(i, Ok(moved));
                    } else {
                        self.ring_file_next(i, Step::Io);
                    }
                }
            }
            Step::Close => {
                // A close's own error is not the operation's (as dropping a `File`).
                let outcome = self
                    .files
                    .ring
                    .as_ref()
                    .and_then(|r| r.jobs.get(i))
                    .map_or(Err(Error::Closed), |r| r.outcome);
                self.ring_file_finish(i, outcome);
            }
        }
    }

    /// Adds `n` bytes to what job `i` moved; returns the total.
    fn ring_file_moved(&mut self, i: usize, n: usize) -> usize {
        self.files
            .ring
            .as_mut()
            .and_then(|r| r.jobs.get_mut(i))
            .map_or(0, |r| {
                r.moved += n;
                r.moved
            })
    }

    /// Operation with job `i` was closed: its request in the ring, if any, is cancelled (the
    /// chain then closes what it opened and frees the job).
    pub(crate) fn ring_file_cancel(&mut self, i: usize) {
        let (Some(ring), Some(backend)) = (self.files.ring.as_mut(), self.backend.as_ref()) else {
            return;
        };
        let Some(r) = ring.jobs.get_mut(i) else {
            return;
        };
        // A close is not cancelled: it is the end of the chain anyway.
        if matches!(r.step, Step::Open | Step::Io) && !r.cancelled {
            r.cancelled = true;
            let _ = backend.cancel(op::encode(op::FILE, i as u32, r.seq, 0));
        }
    }

    /// Cancels every file request in the ring and handles completions until none is left
    /// (at most [`QUIESCE`]): before the loop's memory goes away.
    pub(crate) fn ring_files_quiesce(&mut self, events: &mut Events) {
        if self.files.ring_requests() == 0 {
            return;
        }
        let until = Instant::now() + QUIESCE;
        loop {
            let n = self.files.ring.as_ref().map_or(0, |r| r.jobs.len());
            for i in 0..n {
                if let Some(job) = self.files.jobs.as_deref().and_then(|j| j.jobs.get(i)) {
                    // Nobody takes the result any more.
                    lock(job).op = None;
                }
                self.ring_file_cancel(i);
            }
            if self.files.ring_requests() == 0 {
                return;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                ptk_warn!("io_uring: file requests still in the kernel after {QUIESCE:?}");
                return;
            }
            let Some(backend) = self.backend.as_mut() else {
                return;
            };
            if backend
                .poll(
                    events,
                    Some(left.min(std::time::Duration::from_millis(100))),
                )
                .is_err()
            {
                events.clear();
            }
            let done: usize = events.ops().len();
            for k in 0..done {
                let d = events.ops()[k];
                if op::kind(d.user_data) == op::FILE {
                    self.ring_file_done(d);
                } else {
                    // A stream's (none should be left: `ring_quiesce` ran first).
                    let _ = self.ring_done(d);
                }
            }
            events.clear();
        }
    }
}
