//! Multishot receives into chunks of the pool lent to the kernel (io_uring, Linux 6.0): one
//! receive request per stream brings every message as it arrives, instead of one request
//! per read (see `ring.rs` for the single receives it replaces, which stay the fallback).
//!
//! # Lending
//!
//! The loop lends free chunks of the class reads borrow from to the kernel's
//! provided-buffer ring (its memory made with the loop): at most as many as the ring holds
//! (half the pool's chunks, at most 4096), and never more than stay on the free stack, so at
//! most half the free chunks are lent and sends and other streams always find the rest.
//! Lent chunks count as free in [`BufferStats`](crate::BufferStats) (`EventLoop::buffers_lent`
//! counts them).
//! Each completion returns one; the loop lends again after completions and before arming.
//!
//! # A stream's receive
//!
//! The first pooled read of a stream arms one multishot receive (no `MSG_DONTWAIT`: it waits
//! in the kernel, holding no chunk until data comes). Each completion carries a chunk (its
//! index is the buffer id) and a length; it is queued on the stream (a first-in first-out
//! list linked through a per-chunk array made at start-up) and wakes the reader. A read
//! takes the first queued chunk as the receive buffer (no copy), or, behind a partial frame,
//! appends its bytes and gives it back. 0 is the peer's FIN and a negative result the error,
//! both answered once the queued bytes are read. A completion without `IORING_CQE_F_MORE`
//! ends the receive: the next read arms it again. After `ENOBUFS` (the ring ran dry) the next
//! read takes the single receive path instead, which pauses for the pool like any read that
//! finds no buffer, and the one after arms again; so does a read that finds nothing to lend.
//!
//! A stream whose buffers and queued chunks reach its cap (`Buffers::per_stream`) has its
//! receive cancelled; it is armed again when its reads drain below the cap. The queued
//! chunks count towards that cap only, not towards `held` (the cap of what a stream may
//! take from the pool otherwise): they are bytes received and not read, as in the socket's
//! buffer, and a reader that holds its cap must still be able to read them (the kernel may
//! fill a few chunks more before the cancel lands, at most those lent then). A direct read
//! (`read`, `read_buf`) cancels it too and waits for its end, so that its bytes come first.
//! While the receive is armed the backend removes the stream's read poll (its completions
//! are the read side: data, FIN, errors) and adds it back after the last completion, so the
//! kernel wakes the ring once per message, not twice; an edge that still comes meanwhile
//! (from the poll's last moments) wakes nobody.
//!
//! # Ownership
//!
//! A lent chunk is the kernel's until a completion names it (or the ring is reset with no
//! receive in flight, which gives every lent chunk back). A completion for a stream closed
//! since (its slot maybe reused at once) resolves to no live stream with a receive armed:
//! its chunk goes back to the free stack. Closing a stream cancels its receive and frees its
//! queue. `grow` and dropping the loop cancel every receive, wait for the last completions,
//! then reset the ring before the memory moves.
#![allow(unsafe_code)]

use std::task::Poll;

use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::RawHandle;

use super::backend::errno::{ECANCELED, ENOBUFS};
use super::backend::{op, OpDone};
use super::buffers::{Buffers, Park};
use super::core::Core;
use super::side::Dir;
use super::tcp_stream::StreamEntry;

/// `IORING_CQE_F_BUFFER`, `IORING_CQE_F_MORE` and the shift of the buffer id.
const F_BUFFER: u32 = 1;
const F_MORE: u32 = 2;
const BUFFER_SHIFT: u32 = 16;

/// The code of stream `h`'s multishot receive.
#[inline]
fn code(h: RawHandle) -> u64 {
    op::encode(op::RECV_MULTI, h.slot(), h.generation(), 0)
}

/// The kernel's ring holds at most this many descriptors.
const RING_MAX: u32 = 4096;

/// Stream `h` closes: its multishot receive is cancelled, its queued chunks freed.
pub(crate) fn orphan(
    h: RawHandle,
    s: &mut StreamEntry,
    backend: &super::backend::Backend,
    bufs: &mut Buffers<'_>,
) {
    if s.ring.armed {
        let _ = backend.cancel(code(h));
    }
    bufs.queue_drop(&mut s.ring.queue);
    s.ring.queued = 0;
}

impl Core<'_> {
    /// At start-up, on a loop on the ring path: makes the provided-buffer ring and the queue
    /// links, if the kernel has multishot receives and `wanted` (`Config::multishot_receive`).
    pub(crate) fn open_recv_ring(&mut self, wanted: bool) {
        if !self.ring || !wanted {
            return;
        }
        let chunks = self.buffers.chunks();
        // Buffer ids are 16 bits.
        if !(2..=1 << 16).contains(&chunks) {
            return;
        }
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        let want = (chunks / 2).clamp(1, RING_MAX);
        // Which path runs is `EventLoop::multishot_receive` (not logged: a loop's start-up
        // logs nothing when all is well).
        if backend.open_buf_ring(want) {
            let size = backend.buf_ring_size();
            self.buffers.open_recv_queues(size);
        }
    }

    /// Whether pooled reads use multishot receives.
    #[inline]
    pub(crate) fn multishot(&self) -> bool {
        self.buffers.mq.is_some()
    }

    /// Lends free chunks to the kernel's ring as the rule allows (see the module docs).
    pub(crate) fn ring_lend(&mut self) {
        if self.ring_held {
            return;
        }
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        while let Some(c) = self.buffers.take_lend_chunk() {
            let Some((ptr, len)) = self.buffers.chunk_ptr(&c) else {
                self.buffers.unlend_chunk(c.index());
                return;
            };
            // SAFETY: chunk `c` was just taken off the free stack and marked lent: nothing
            // reads, writes, moves or frees it until a completion names it (`ring_multi_done`)
            // or the ring is reset with no receive in flight (`ring_reclaim`, after
            // `ring_quiesce`, which `grow` and dropping the loop run before memory moves).
            if !unsafe { backend.lend(ptr, len, c.index() as u16) } {
                self.buffers.unlend_chunk(c.index());
                return;
            }
        }
    }

    /// After every receive came back: the kernel's ring is emptied, its chunks freed.
    pub(crate) fn ring_reclaim(&mut self) {
        if !self.multishot() {
            return;
        }
        if let Some(backend) = self.backend.as_ref() {
            if let Err(e) = backend.reset_buf_ring() {
                ptk_warn!("io_uring: resetting the provided-buffer ring failed: {e}");
                return;
            }
        }
        self.buffers.reclaim_lent();
    }

    /// A completion of a multishot receive: its chunk queued on its stream (the direction
    /// to wake), or freed for a stream closed since.
    pub(crate) fn ring_multi_done(&mut self, d: OpDone) -> Option<(RawHandle, Dir)> {
        let more = d.flags & F_MORE != 0;
        let chunk = if d.flags & F_BUFFER != 0 {
            let c = d.flags >> BUFFER_SHIFT;
            // A buffer id that was not lent is bad input from the kernel: ignored.
            self.buffers.returned(c).then_some(c)
        } else {
            None
        };
        let cap = self.buffers.per_stream();
        let live = self
            .streams
            .handle_at(op::slot(d.user_data) as usize)
            .filter(|h| h.generation() == op::generation(d.user_data));
        let Some((h, s)) = live.and_then(|h| {
            self.streams
                .get_mut(h)
                .ok()
                .filter(|s| s.ring.armed)
                .map(|s| (h, s))
        }) else {
            // Its stream closed: the chunk is the pool's again.
            if let Some(c) = chunk {
                self.buffers.give_back_chunk(c);
            }
            self.ring_lend();
            return None;
        };
        let res = d.result;
        if let Some(c) = chunk {
            if res > 0 {
                let mut q = s.ring.queue;
                self.buffers.queue_push(&mut q, c, res as u32);
                s.ring.queue = q;
                s.ring.queued += 1;
            } else {
                self.buffers.give_back_chunk(c);
            }
        }
        if !more {
            s.ring.armed = false;
            s.ring.stopping = false;
            if let Some(backend) = self.backend.as_ref() {
                // The read poll the receive stood in for comes back (it reports at once
                // what the socket holds now).
                if let Err(e) = backend.resume_read(s.sock()) {
                    ptk_warn!("io_uring: resuming a stream's read poll failed: {e}");
                }
            }
            if res == 0 {
                s.ring.fin = true;
            } else if res == -ENOBUFS {
                s.ring.starved = true;
            } else if res < 0 && res != -ECANCELED {
                s.ring.error = res;
            }
        } else if s.bufs.held + s.ring.queued >= cap && !s.ring.stopping {
            // At its cap: stop until its reads drain.
            s.ring.stopping = true;
            if let Some(backend) = self.backend.as_ref() {
                let _ = backend.cancel(code(h));
            }
        }
        s.read.ready = true;
        self.ring_lend();
        Some((h, Dir::Read))
    }

    /// A pooled read of stream `h` on the multishot path with nothing queued: what the
    /// receive ended with, a wait, or `None` to take the single receive path.
    #[inline]
    pub(crate) fn ring_multi_wait<T>(
        &mut self,
        h: RawHandle,
        need: usize,
    ) -> Option<Poll<Result<T>>> {
        let s = self.streams.get_mut(h).ok()?;
        if s.ring.recv != super::buffers::Chunk::NONE || s.ring.fin {
            return None;
        }
        if s.ring.error != 0 {
            let res = std::mem::take(&mut s.ring.error);
            let e = Error::from(std::io::Error::from_raw_os_error(-res));
            return Some(Poll::Ready(Err(self.fail(e))));
        }
        if s.ring.armed {
            s.read.ready = false;
            let waiter = s.read.waiter;
            return Some(self.pend_socket(h, Trigger::Readable, waiter));
        }
        self.ring_multi_arm(h, need)
    }

    /// Arms stream `h`'s multishot receive (`None`: nothing to lend, take the single path).
    fn ring_multi_arm<T>(&mut self, h: RawHandle, need: usize) -> Option<Poll<Result<T>>> {
        let cap = self.buffers.per_stream();
        let s = self.streams.get_mut(h).ok()?;
        if s.bufs.rx.is_some() {
            // Behind a partial frame a single receive fills the receive buffer's room: no
            // chunk of its own (which a pool run dry may not have) and no copy.
            return None;
        }
        if std::mem::take(&mut s.ring.starved) {
            // The last one found the kernel's ring dry: one single receive first.
            return None;
        }
        if s.bufs.held >= cap || s.bufs.park != Park::No || self.buffers.parked != 0 {
            if let Some(wait) = self.rx_paused(h, need) {
                return Some(wait);
            }
        }
        if self.run.out_of_budget() {
            return Some(Poll::Pending);
        }
        self.ring_lend();
        if self.buffers.lent == 0 {
            return None;
        }
        let (Some(backend), Ok(s)) = (self.backend.as_ref(), self.streams.get_mut(h)) else {
            return Some(Poll::Ready(Err(self.invalid())));
        };
        if let Err(e) = backend.recv_multi(s.sock(), code(h)) {
            return Some(Poll::Ready(Err(self.fail(e.into()))));
        }
        s.ring.armed = true;
        s.ring.stopping = false;
        s.ring.edge = false;
        s.bufs.let_go = false;
        s.read.ready = false;
        let waiter = s.read.waiter;
        Some(self.pend_socket(h, Trigger::Readable, waiter))
    }

    /// Takes the first queued chunk of stream `h` into its receive buffer.
    #[inline]
    pub(crate) fn ring_multi_take<R>(
        &mut self,
        h: RawHandle,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<(usize, R)>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Poll::Ready(Err(self.invalid()));
        };
        let mut q = s.ring.queue;
        let (c, n) = self.buffers.queue_front(&q);
        if !s.bufs.rx.is_some() {
            // The usual case: the chunk becomes the receive buffer, no copy.
            self.buffers.queue_pop(&mut q);
            Buffers::rx_from_chunk(&mut s.bufs.rx, c, n);
            s.ring.queued -= 1;
            s.bufs.held += 1;
        } else {
            // Behind a partial frame: appended, and the chunk goes back.
            match self.buffers.rx_append_chunk(&mut s.bufs.rx, c, n) {
                Ok(()) => {
                    // `rx_append_chunk` gave the chunk back: unlink it only.
                    self.buffers.queue_pop(&mut q);
                    s.ring.queued -= 1;
                }
                Err(Error::OutOfResources(_)) => return self.read_more_paused(h),
                Err(e) => return Poll::Ready(Err(self.fail(e))),
            }
        }
        s.ring.queue = q;
        if q.is_empty() && s.ring.armed {
            s.read.ready = false;
        }
        let seen = look(self.buffers.rx_bytes(&s.bufs.rx));
        Poll::Ready(Ok((n, seen)))
    }

    /// A direct read of stream `h` while its multishot receive is armed or has chunks
    /// queued: the receive is stopped and waited for, then the queued bytes move into the
    /// receive buffer, where they come before what the direct read gets (`None`: go on).
    /// Queued bytes that the receive buffer cannot take (it holds a frame already) answer
    /// `WouldBlock`: consume the receive buffer first.
    #[cold]
    #[inline(never)]
    pub(crate) fn ring_multi_settle<T>(&mut self, h: RawHandle) -> Option<Poll<Result<T>>> {
        if let Some(wait) = self.ring_multi_stop(h) {
            return Some(wait);
        }
        while self.streams.get(h).is_ok_and(|s| !s.ring.queue.is_empty()) {
            match self.ring_multi_take(h, |_| ()) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(Error::MessageTooLarge | Error::OutOfResources(_)))
                | Poll::Pending => {
                    if let Ok(s) = self.streams.get_mut(h) {
                        if s.bufs.park != Park::No {
                            self.streams.unpark(h.slot(), &mut self.buffers);
                        }
                    }
                    return Some(Poll::Ready(Err(self.fail(Error::WouldBlock))));
                }
                Poll::Ready(Err(e)) => return Some(Poll::Ready(Err(e))),
            }
        }
        None
    }

    /// Stops stream `h`'s multishot receive for a direct read and waits for its end (`None`:
    /// it is not armed).
    fn ring_multi_stop<T>(&mut self, h: RawHandle) -> Option<Poll<Result<T>>> {
        let s = self.streams.get_mut(h).ok()?;
        if !s.ring.armed {
            return None;
        }
        if !s.ring.stopping {
            s.ring.stopping = true;
            if let Some(backend) = self.backend.as_ref() {
                let _ = backend.cancel(code(h));
            }
        }
        s.read.ready = false;
        let waiter = s.read.waiter;
        Some(self.pend_socket(h, Trigger::Readable, waiter))
    }

    /// [`Cx::read`](crate::Cx::read) of stream `h` on the multishot path while its receive
    /// is armed, has chunks queued or left bytes in the receive buffer: those bytes come
    /// first (`None`: nothing of theirs is left, read the socket).
    #[cold]
    #[inline(never)]
    pub(crate) fn ring_direct_read(
        &mut self,
        h: RawHandle,
        buf: &mut [u8],
    ) -> Option<Poll<Result<usize>>> {
        let s = self.streams.get_mut(h).ok()?;
        if !s.bufs.rx.is_some() && !s.ring.queue.is_empty() {
            // The first queued chunk becomes the receive buffer (no copy), read from below.
            if let Poll::Ready(Err(e)) = self.ring_multi_take(h, |_| ()) {
                return Some(Poll::Ready(Err(e)));
            }
        }
        let s = self.streams.get_mut(h).ok()?;
        let have = self.buffers.rx_bytes(&s.bufs.rx);
        if have.is_empty() {
            // Nothing received is left: the socket is next, once the receive stopped (the
            // multishot receive ended: what the socket still holds may be read).
            let stop = self.ring_multi_stop(h);
            if stop.is_none() {
                if let Ok(s) = self.streams.get_mut(h) {
                    s.read.ready = true;
                }
            }
            return stop;
        }
        if buf.is_empty() {
            return Some(Poll::Ready(Ok(0)));
        }
        let n = have.len().min(buf.len());
        buf[..n].copy_from_slice(&have[..n]);
        if self.buffers.rx_consume(&mut s.bufs.rx, n) {
            s.bufs.held -= 1;
            if s.bufs.park == Park::Cap {
                self.after_release(h);
            }
        }
        Some(Poll::Ready(Ok(n)))
    }
}
