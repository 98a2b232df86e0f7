//! The message path of a completion-based backend (io_uring): a stream's pooled reads and
//! sends as receive and send requests on the loop's buffers, instead of `recv` and `send`
//! system calls.
//!
//! # The path
//!
//! Where the kernel has multishot receives (Linux 6.0), pooled reads take the path of
//! `ring_recv.rs` instead of the single receives below (one multishot receive per stream into
//! chunks lent to the kernel); these stay the fallback, and sends are the same on both.
//!
//! * **Receives.** A read into the stream's receive buffer ([`Cx::rx_read`](crate::Cx::rx_read),
//!   which [`PooledFrameReader`](crate::PooledFrameReader) uses) of a stream that may be
//!   readable (an edge came, or it is new) and has no completed receive to take queues a
//!   receive into a free chunk of the pool (counted towards the stream like its receive
//!   buffer) and waits. The receive does not wait in the kernel (`MSG_DONTWAIT`): the
//!   `io_uring_enter` that submits it brings the bytes, or `EAGAIN`, and then, as after a
//!   short receive, the stream waits for its poll's next edge holding no buffer, so an idle
//!   connection never holds one. Behind a partial frame the receive fills the room after
//!   the receive buffer's contents instead (made first, in a large buffer if the frame needs
//!   one). Its completion marks the stream readable and wakes whoever reads it, exactly as a
//!   readiness report does; the next read takes the bytes (the chunk becomes the receive
//!   buffer: no copy). 0 bytes is the peer's FIN (reads answer end-of-stream from then on),
//!   a negative result the error.
//! * **Sends.** Buffers handed to a send ([`Cx::send_buf`](crate::Cx::send_buf),
//!   [`Cx::rx_send`](crate::Cx::rx_send)) are queued on the stream as always; the front of
//!   the queue is sent by a send request, one in flight per stream, so order is kept. Its
//!   completion advances the queue (freeing what was sent; a short send sends the rest
//!   next), queues the next, and wakes whoever waits to write
//!   ([`Cx::poll_sent`](crate::Cx::poll_sent)). A failed send frees the queue and is reported
//!   by the next operation that waits for the sends, like a failed direct send.
//! * Everything queued in an iteration goes to the kernel with the one `io_uring_enter` of
//!   the next poll.
//!
//! # Ownership
//!
//! A chunk a receive fills, and a buffer a send reads, are the kernel's from the request to
//! its completion: nothing else reads, writes, moves or frees them meanwhile.
//!
//! * A request's `user_data` ([`op`]) names the operation, the stream (slot and generation)
//!   and the chunk or buffer slot. A completion for a stream closed since (its slot maybe
//!   reused at once by another stream) does not resolve to a live stream with that request
//!   in flight: its chunk or buffer is freed and nothing else happens.
//! * Closing a stream with a request in flight orphans its chunk or buffer (off the
//!   stream, on no free list) and cancels the request; the completion, cancelled or not,
//!   frees it.
//! * Moving the pool's memory (`EventLoop::grow`) and dropping the loop first cancel every
//!   request and wait for every completion (at most [`QUIESCE`]).
#![allow(unsafe_code)]

use std::task::Poll;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::{RawHandle, ResourceType};

use super::backend::errno::{EAGAIN, ECANCELED};
use super::backend::{op, Backend, Events, OpDone};
use super::buffers::{Buffers, Chunk, Park, Rx};
use super::core::Core;
use super::side::Dir;
use super::tcp_stream::{Connection, RingOps, StreamEntry};
use super::waiter::Waiter;

/// The longest `grow` or dropping the loop waits for the kernel to give requests back.
pub(crate) const QUIESCE: Duration = Duration::from_secs(5);

/// The code of operation `kind` of stream `h` on chunk or buffer slot `aux`.
#[inline]
fn code(kind: u8, h: RawHandle, aux: u32) -> u64 {
    op::encode(kind, h.slot(), h.generation(), aux)
}

/// Whether a loop over these pools can use the ring path: every stream slot and every chunk
/// fits an [`op`] code.
pub(crate) fn fits(backend: &Backend, streams: usize, chunks: u32) -> bool {
    backend.completes() && streams <= op::SLOTS as usize && chunks <= op::SLOTS
}

/// Stream `h` closes: its receive or send in flight is cancelled and its memory orphaned
/// until the completion comes (see the module docs); a completed receive's chunk is freed.
pub(crate) fn orphan(h: RawHandle, s: &mut StreamEntry, backend: &Backend, bufs: &mut Buffers<'_>) {
    let r = s.ring;
    if r.recv != Chunk::NONE && r.into_rx {
        // The chunk is the receive buffer's: freed with it once the kernel is done, else
        // orphaned whole.
        if !r.recv_done {
            let _ = backend.cancel(code(op::RECV, h, r.recv.index()));
            s.bufs.rx = Rx::NONE;
            s.bufs.held = s.bufs.held.saturating_sub(1);
        }
    } else if r.recv != Chunk::NONE {
        if r.recv_done {
            bufs.give_back_chunk(r.recv.index());
        } else {
            let _ = backend.cancel(code(op::RECV, h, r.recv.index()));
        }
        s.bufs.held = s.bufs.held.saturating_sub(1);
    }
    if r.send_busy {
        let front = s.bufs.send_front();
        let _ = backend.cancel(code(op::SEND, h, front));
        bufs.orphan_front(&mut s.bufs);
    }
    super::ring_recv::orphan(h, s, backend, bufs);
    s.ring = RingOps::NEW;
}

impl Core<'_> {
    /// [`Cx::rx_read_with`](crate::Cx::rx_read_with) on the ring path.
    #[inline]
    pub(crate) fn ring_rx_read<R>(
        &mut self,
        h: RawHandle,
        need: usize,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<(usize, R)>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Poll::Ready(Err(self.invalid()));
        };
        if s.connection() != Connection::Ready {
            return self.unconnected(h, Trigger::Readable);
        }
        if need > self.buffers.max_size() {
            return Poll::Ready(Err(self.fail(Error::MessageTooLarge)));
        }
        if self.buffers.mq.is_some() {
            // Multishot receives (`ring_recv.rs`): what they queued first.
            if !s.ring.queue.is_empty() {
                return self.ring_multi_take(h, look);
            }
            if let Some(p) = self.ring_multi_wait(h, need) {
                return p;
            }
            let Ok(s) = self.streams.get_mut(h) else {
                return Poll::Ready(Err(self.invalid()));
            };
            let single = s.ring.recv != Chunk::NONE;
            return self.ring_rx_single(h, need, look, single);
        }
        let single = s.ring.recv != Chunk::NONE;
        self.ring_rx_single(h, need, look, single)
    }

    /// A pooled read of stream `h` by single receives (`receiving`: one was submitted).
    #[inline]
    fn ring_rx_single<R>(
        &mut self,
        h: RawHandle,
        need: usize,
        look: impl FnOnce(&[u8]) -> R,
        receiving: bool,
    ) -> Poll<Result<(usize, R)>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Poll::Ready(Err(self.invalid()));
        };
        if receiving {
            if !s.ring.recv_done {
                s.read.ready = false;
                let waiter = s.read.waiter;
                return self.pend_socket(h, Trigger::Readable, waiter);
            }
            if let Some(done) = self.ring_rx_take(h, look) {
                return done;
            }
            // Nothing came: the socket was drained (wait for its next edge), or the receive
            // was cancelled while the stream lives (the pool moved: receive again).
            let Ok(s) = self.streams.get_mut(h) else {
                return Poll::Ready(Err(self.invalid()));
            };
            if !s.read.ready {
                let waiter = s.read.waiter;
                return self.pend_socket(h, Trigger::Readable, waiter);
            }
            return self.ring_rx_submit(h, need);
        }
        if s.ring.fin {
            let seen = look(self.buffers.rx_bytes(&s.bufs.rx));
            return Poll::Ready(Ok((0, seen)));
        }
        if !s.read.ready {
            // Known drained: the next edge says when a receive would find something, so a
            // waiting stream holds no buffer.
            let waiter = s.read.waiter;
            return self.pend_socket(h, Trigger::Readable, waiter);
        }
        if self.run.out_of_budget() {
            return Poll::Pending;
        }
        self.ring_rx_submit(h, need)
    }

    /// Queues a receive for stream `h` into a free chunk, and waits for it (or pauses as a
    /// read that finds no buffer does).
    fn ring_rx_submit<T>(&mut self, h: RawHandle, need: usize) -> Poll<Result<T>> {
        let cap = self.buffers.per_stream();
        let Ok(s) = self.streams.get_mut(h) else {
            return Poll::Ready(Err(self.invalid()));
        };
        if s.bufs.rx.is_some() {
            return self.ring_rx_submit_behind(h, need);
        }
        if s.bufs.held >= cap || s.bufs.park != Park::No || self.buffers.parked != 0 {
            if let Some(wait) = self.rx_paused(h, need) {
                return wait;
            }
        }
        let Some(c) = self.buffers.take_recv_chunk() else {
            return self.rx_paused(h, need).unwrap_or(Poll::Pending);
        };
        let (Some(backend), Some((ptr, len)), Ok(s)) = (
            self.backend.as_ref(),
            self.buffers.chunk_ptr(&c),
            self.streams.get_mut(h),
        ) else {
            self.buffers.give_back_chunk(c.index());
            return Poll::Ready(Err(self.invalid()));
        };
        // SAFETY: chunk `c` was just taken off the free stack and is recorded below as the
        // stream's receive in flight: nothing reads, writes, moves or frees it until its
        // completion is handled (`ring_done`). A close orphans it until then (`orphan`), and
        // `grow` and dropping the loop wait for every completion first (`ring_quiesce`).
        let submitted = unsafe { backend.recv(s.sock(), ptr, len, code(op::RECV, h, c.index())) };
        if let Err(e) = submitted {
            self.buffers.give_back_chunk(c.index());
            return Poll::Ready(Err(self.fail(e.into())));
        }
        s.bufs.held += 1;
        s.bufs.let_go = false;
        s.ring.recv = c;
        s.ring.recv_len = c.cap() as u32;
        s.ring.into_rx = false;
        s.ring.recv_done = false;
        s.ring.edge = false;
        s.read.ready = false;
        let waiter = s.read.waiter;
        self.pend_socket(h, Trigger::Readable, waiter)
    }

    /// Queues a receive for stream `h` into the room behind its receive buffer's contents (a
    /// partial frame), made first for contents of `need` bytes (moved into a large buffer if
    /// they need one: a read that finds none free pauses for it).
    #[cold]
    #[inline(never)]
    fn ring_rx_submit_behind<T>(&mut self, h: RawHandle, need: usize) -> Poll<Result<T>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Poll::Ready(Err(self.invalid()));
        };
        let (ptr, len) = match self.buffers.rx_room(&mut s.bufs.rx, need) {
            Ok(room) if !room.is_empty() => (room.as_mut_ptr(), room.len()),
            Ok(_) => return Poll::Ready(Err(self.fail(Error::MessageTooLarge))),
            Err(Error::OutOfResources(_)) => return self.read_more_paused(h),
            Err(e) => return Poll::Ready(Err(self.fail(e))),
        };
        let c = Buffers::rx_chunk(&s.bufs.rx);
        let Some(backend) = self.backend.as_ref() else {
            return Poll::Ready(Err(self.invalid()));
        };
        // SAFETY: the room after the receive buffer's contents is recorded below as the
        // stream's receive in flight (`into_rx`): until its completion is handled, reads of
        // the stream wait, and `rx_consume`, `rx_take` and `rx_send` refuse to touch the
        // buffer, so nothing reads, writes, moves or frees that room; a close orphans the
        // whole chunk until then (`orphan`), `grow` and dropping the loop wait for it.
        let submitted =
            unsafe { backend.recv(s.sock(), ptr, len as u32, code(op::RECV, h, c.index())) };
        if let Err(e) = submitted {
            return Poll::Ready(Err(self.fail(e.into())));
        }
        s.ring.recv = c;
        s.ring.recv_len = len as u32;
        s.ring.into_rx = true;
        s.ring.recv_done = false;
        s.ring.edge = false;
        s.read.ready = false;
        let waiter = s.read.waiter;
        self.pend_socket(h, Trigger::Readable, waiter)
    }

    /// Takes stream `h`'s completed receive into its receive buffer: the read's answer, or
    /// `None` for a receive cancelled while the stream lives (nothing came).
    #[cold]
    #[inline(never)]
    fn ring_rx_take_slow<R>(
        &mut self,
        h: RawHandle,
        c: Chunk,
        res: i32,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Option<Poll<Result<(usize, R)>>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Some(Poll::Ready(Err(self.invalid())));
        };
        if s.ring.into_rx {
            // Into the room behind the contents: the chunk is the receive buffer's.
            let len = s.ring.recv_len as usize;
            s.ring.recv = Chunk::NONE;
            s.ring.recv_done = false;
            s.ring.into_rx = false;
            if res > 0 {
                s.bufs.rx.grow(res as usize);
                s.received(res as usize, len);
                let seen = look(self.buffers.rx_bytes(&s.bufs.rx));
                return Some(Poll::Ready(Ok((res as usize, seen))));
            }
            return self.ring_rx_nothing(h, res, look);
        }
        if res > 0 {
            // Behind a partial frame: appended, and the chunk goes back.
            return Some(
                match self
                    .buffers
                    .rx_append_chunk(&mut s.bufs.rx, c, res as usize)
                {
                    Ok(()) => {
                        s.received(res as usize, c.cap());
                        s.bufs.held -= 1;
                        s.ring.recv = Chunk::NONE;
                        s.ring.recv_done = false;
                        let seen = look(self.buffers.rx_bytes(&s.bufs.rx));
                        Poll::Ready(Ok((res as usize, seen)))
                    }
                    Err(Error::OutOfResources(_)) => self.read_more_paused(h),
                    Err(e) => Poll::Ready(Err(self.fail(e))),
                },
            );
        }
        self.buffers.give_back_chunk(c.index());
        s.bufs.held -= 1;
        s.ring.recv = Chunk::NONE;
        s.ring.recv_done = false;
        self.ring_rx_nothing(h, res, look)
    }

    /// A receive that brought no bytes (its memory already settled): the socket was drained,
    /// the receive was cancelled, the peer's FIN, or an error.
    fn ring_rx_nothing<R>(
        &mut self,
        h: RawHandle,
        res: i32,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Option<Poll<Result<(usize, R)>>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Some(Poll::Ready(Err(self.invalid())));
        };
        if res == -EAGAIN {
            // Drained, unless an edge came while the receive was out.
            s.read.ready = s.ring.edge;
            return None;
        }
        if res == -ECANCELED {
            return None;
        }
        if res == 0 {
            s.ring.fin = true;
            let seen = look(self.buffers.rx_bytes(&s.bufs.rx));
            return Some(Poll::Ready(Ok((0, seen))));
        }
        let e = Error::from(std::io::Error::from_raw_os_error(-res));
        Some(Poll::Ready(Err(self.fail(e))))
    }

    #[inline]
    fn ring_rx_take<R>(
        &mut self,
        h: RawHandle,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Option<Poll<Result<(usize, R)>>> {
        let s = self.streams.get_mut(h).ok()?;
        let (c, res) = (s.ring.recv, s.ring.recv_result);
        if res > 0 && !s.ring.into_rx && !s.bufs.rx.is_some() {
            // The usual case: the chunk becomes the receive buffer, no copy.
            Buffers::rx_from_chunk(&mut s.bufs.rx, c, res as usize);
            s.received(res as usize, c.cap());
            s.ring.recv = Chunk::NONE;
            s.ring.recv_done = false;
            let seen = look(self.buffers.rx_bytes(&s.bufs.rx));
            return Some(Poll::Ready(Ok((res as usize, seen))));
        }
        self.ring_rx_take_slow(h, c, res, look)
    }

    /// Queues a send of the front of stream `h`'s send queue unless one is in flight.
    pub(crate) fn ring_send_front(&mut self, h: RawHandle) -> Result<()> {
        let s = self.streams.get_mut(h)?;
        if s.ring.send_busy || !s.bufs.sending() || self.ring_held {
            return Ok(());
        }
        let i = s.bufs.send_front();
        let (Some(backend), Some((ptr, len))) = (self.backend.as_ref(), self.buffers.unsent_ptr(i))
        else {
            return Err(Error::InvalidArgument);
        };
        // SAFETY: buffer `i` is queued on stream `h` and recorded below as its send in
        // flight: no handle names it, and its bytes change (`Buffers::sent`) or it is freed
        // only when this send's completion is handled (`ring_done`). A close orphans it
        // until then (`orphan`); `grow` and dropping the loop wait for every completion.
        unsafe { backend.send(s.sock(), ptr, len, code(op::SEND, h, i)) }?;
        s.ring.send_busy = true;
        Ok(())
    }

    /// A receive's or send's completion: applied to its stream (the direction to wake), or,
    /// for a stream closed since, its chunk or buffer freed.
    pub(crate) fn ring_done(&mut self, d: OpDone) -> Option<(RawHandle, Dir)> {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if op::kind(d.user_data) == op::FILE {
            self.ring_file_done(d);
            return None;
        }
        if op::kind(d.user_data) == op::ACCEPT {
            return self
                .listeners
                .accept_done(d, self.backend.as_ref())
                .map(|h| (h, Dir::Read));
        }
        if op::kind(d.user_data) == op::RECV_MULTI {
            return self.ring_multi_done(d);
        }
        let (kind, aux, res) = (op::kind(d.user_data), op::aux(d.user_data), d.result);
        let live = self
            .streams
            .handle_at(op::slot(d.user_data) as usize)
            .filter(|h| h.generation() == op::generation(d.user_data));
        if kind == op::RECV {
            if let Some(h) = live {
                if let Ok(s) = self.streams.get_mut(h) {
                    if s.ring.receiving() && s.ring.recv.index() == aux {
                        s.ring.recv_done = true;
                        s.ring.recv_result = res;
                        s.read.ready = true;
                        return Some((h, Dir::Read));
                    }
                }
            }
            // Its stream closed: the chunk was orphaned for the kernel until now.
            self.buffers.give_back_chunk(aux);
            return None;
        }
        if let Some(h) = live {
            if let Ok(s) = self.streams.get_mut(h) {
                if s.ring.send_busy && s.bufs.send_front() == aux {
                    s.ring.send_busy = false;
                    s.write.ready = true;
                    if res > 0 {
                        self.buffers.sent(&mut s.bufs, res as usize);
                        let park = s.bufs.park;
                        if let Err(e) = self.ring_send_front(h) {
                            self.send_failed(h, e);
                        }
                        if park == Park::Cap {
                            self.after_release(h);
                        }
                    } else {
                        let e = if res == 0 {
                            Error::Closed
                        } else {
                            Error::from(std::io::Error::from_raw_os_error(-res))
                        };
                        self.send_failed(h, e);
                    }
                    return Some((h, Dir::Write));
                }
            }
        }
        self.buffers.free_at(aux as usize);
        None
    }

    /// The sends of stream `h` failed: the queue is freed, the error kept for the next
    /// operation that waits for them.
    fn send_failed(&mut self, h: RawHandle, e: Error) {
        if let Ok(s) = self.streams.get_mut(h) {
            self.buffers.drop_sends(&mut s.bufs);
            s.bufs.send_error = Some(e);
            if s.bufs.park == Park::Cap {
                self.after_release(h);
            }
        }
    }

    /// Cancels every receive and send in flight and waits (at most [`QUIESCE`]) until the
    /// kernel has given them all back, handling each completion. Reports that come meanwhile
    /// are kept as readiness flags and queued for dispatch, so no edge is lost. No send is
    /// queued meanwhile: after a move of the memory, [`ring_resume_sends`](Self::ring_resume_sends).
    pub(crate) fn ring_quiesce(&mut self, events: &mut Events) {
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        if backend.in_flight() != self.files.ring_requests() {
            // No send goes out meanwhile (a short send's completion would queue the rest),
            // and no chunk is lent.
            self.ring_held = true;
            self.ring_cancel_and_wait(events);
            self.ring_held = false;
        }
        // No receive is left: the chunks lent to the kernel come back.
        self.ring_reclaim();
    }

    /// After [`ring_quiesce`](Self::ring_quiesce) and the move of the pool's memory: the
    /// sends still queued go on.
    pub(crate) fn ring_resume_sends(&mut self) {
        if !self.ring {
            return;
        }
        for i in 0..self.streams.capacity() {
            if let Some(h) = self.streams.handle_at(i) {
                if let Err(e) = self.ring_send_front(h) {
                    self.send_failed(h, e);
                }
            }
        }
    }

    /// The loop is dropped: cancels every listener's multishot accept and handles its
    /// completions until the kernel has ended them all (at most [`QUIESCE`]), so that every
    /// descriptor it accepted is closed with the listener's queue instead of left open in
    /// the completion queue when the ring closes.
    pub(crate) fn ring_accepts_quiesce(&mut self, events: &mut Events) {
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        if self.listeners.accepts_in_kernel() == 0 {
            return;
        }
        self.listeners.cancel_accepts(backend);
        self.ring_wait(events, |core| core.listeners.accepts_in_kernel() == 0);
    }

    fn ring_cancel_and_wait(&mut self, events: &mut Events) {
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        for (h, r, front) in self.streams.ring_ops() {
            if r.receiving() {
                let _ = backend.cancel(code(op::RECV, h, r.recv.index()));
            }
            if r.armed {
                let _ = backend.cancel(code(op::RECV_MULTI, h, 0));
            }
            if r.send_busy {
                let _ = backend.cancel(code(op::SEND, h, front));
            }
        }
        self.ring_wait(events, |core| {
            core.backend
                .as_ref()
                .is_none_or(|b| b.in_flight() == core.files.ring_requests())
        });
    }

    /// Polls the ring, handling every completion and keeping every report, until `done`
    /// (at most [`QUIESCE`]).
    fn ring_wait(&mut self, events: &mut Events, done: fn(&Core<'_>) -> bool) {
        let until = Instant::now() + QUIESCE;
        loop {
            if done(self) {
                return;
            }
            let Some(backend) = self.backend.as_mut() else {
                return;
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                ptk_warn!("io_uring: requests still in the kernel after {QUIESCE:?}");
                return;
            }
            if backend
                .poll(events, Some(left.min(Duration::from_millis(100))))
                .is_err()
            {
                events.clear();
            }
            for &d in events.ops() {
                if let Some((h, dir)) = self.ring_done(d) {
                    self.wake_side(h, dir);
                }
            }
            for r in events.reports() {
                self.keep_report(r);
            }
            events.clear();
        }
    }

    /// A report polled outside the I/O step: its flags set, the socket queued for dispatch.
    fn keep_report(&mut self, r: super::backend::Readiness) {
        if r.token == 0 {
            self.due |= Core::REMOTE_DUE;
            return;
        }
        let Some(h) = RawHandle::from_u64(r.token) else {
            return;
        };
        match h.resource_type() {
            ResourceType::TcpStream => {
                if let Ok(s) = self.streams.get_mut(h) {
                    s.on_readiness(&r);
                }
            }
            ResourceType::TcpListener => {
                if let Ok(l) = self.listeners.get_mut(h) {
                    l.read.ready |= r.read;
                }
            }
            ResourceType::UdpSocket => {
                if let Ok(u) = self.udp.get_mut(h) {
                    u.read.ready |= r.read;
                    u.write.ready |= r.write;
                }
            }
            ResourceType::Loop => {
                if self.signals.collect() {
                    self.due |= Core::SIGNALS_DUE;
                }
                return;
            }
            _ => return,
        }
        if r.read {
            self.wake_side(h, Dir::Read);
        }
        if r.write {
            self.wake_side(h, Dir::Write);
        }
    }

    /// Wakes whoever waits on `(h, dir)` later in this iteration or the next: a
    /// protothread is queued to run, a handler queued for dispatch.
    fn wake_side(&mut self, h: RawHandle, dir: Dir) {
        let trigger = match dir {
            Dir::Read => Trigger::Readable,
            Dir::Write => Trigger::Writable,
        };
        match self.side(h, dir).map(|s| s.waiter) {
            Some(Waiter::Pt(pt)) => self.pts.wake(pt, (h, trigger)),
            Some(Waiter::Handler(_)) => self.requeue_if_ready(h, dir),
            _ => {}
        }
    }

    /// A direct read of stream `h` (not through its receive buffer) while a receive is in
    /// the ring: waits for it, then puts what it brought in the receive buffer, where it
    /// comes before what the direct read gets (`None`: go on with the read).
    #[cold]
    #[inline(never)]
    pub(crate) fn ring_settle<T>(&mut self, h: RawHandle) -> Option<Poll<Result<T>>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Some(Poll::Ready(Err(self.invalid())));
        };
        if s.ring.armed || !s.ring.queue.is_empty() {
            return self.ring_multi_settle(h);
        }
        if s.ring.recv == Chunk::NONE {
            return None;
        }
        if !s.ring.recv_done {
            s.read.ready = false;
            let waiter = s.read.waiter;
            return Some(self.pend_socket(h, Trigger::Readable, waiter));
        }
        match self.ring_rx_take(h, |_| ()) {
            None | Some(Poll::Ready(Ok(_))) => None,
            Some(Poll::Ready(Err(e))) => Some(Poll::Ready(Err(e))),
            Some(Poll::Pending) => Some(Poll::Pending),
        }
    }
}
