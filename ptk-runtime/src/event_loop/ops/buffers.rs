//! Buffer pool operations: allocate, view, release; reads that lend a buffer; writes that
//! hand one over.

use std::task::Poll;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::{Buffer, Handle, RawHandle, TcpStream};

use super::super::buffers::{BufMut, BufferStats, Park, NIL};
use super::super::core::Core;
use super::super::side::{Attempt, Dir};
use super::super::tcp_stream::Connection;
use super::super::waiter::Waiter;

/// The prologue of every read of a stream `$h` through `$core` (a `&mut Core`): the stream's
/// entry if a read may go ahead now; else returns from the calling operation with its answer
/// (stale handle, connect not done, a `$need` no buffer holds, nothing to read: the wait,
/// budget spent). A macro, not a function, so that the entry it yields stays the one lookup
/// of the read.
macro_rules! readable_stream {
    ($core:ident, $h:ident $(, $need:ident)?) => {{
        let Ok(s) = $core.streams.get_mut($h) else {
            return Poll::Ready(Err($core.invalid()));
        };
        if s.connection() != Connection::Ready {
            return $core.unconnected($h, Trigger::Readable);
        }
        $(
            if $need > $core.buffers.max_size() {
                // No buffer will ever hold it: say so now, not once more data arrives.
                return Poll::Ready(Err($core.fail(Error::MessageTooLarge)));
            }
        )?
        let s = if s.ring.recv != super::super::buffers::Chunk::NONE
            || s.ring.armed
            || !s.ring.ready_queue_empty()
        {
            // What a receive in the ring brought comes first.
            if let Some(wait) = $core.ring_settle($h) {
                return wait;
            }
            match $core.streams.get_mut($h) {
                Ok(s) => s,
                Err(_) => return Poll::Ready(Err($core.invalid())),
            }
        } else {
            s
        };
        if !s.read.ready {
            let waiter = s.read.waiter;
            return $core.pend_socket($h, Trigger::Readable, waiter);
        }
        if $core.run.out_of_budget() {
            return Poll::Pending;
        }
        s
    }};
}

impl Cx<'_> {
    /// A new, empty pool buffer that holds at least `capacity` bytes (a small one if that is
    /// enough, else a large one). It is yours until you [`buf_release`](Cx::buf_release) it
    /// or hand it to [`send_buf`](Cx::send_buf).
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] if no buffer class holds `capacity` bytes;
    /// [`Error::OutOfResources`] naming [`Capacity::Buffers`](crate::Capacity::Buffers) or
    /// [`Capacity::LargeBuffers`](crate::Capacity::LargeBuffers) when that class has none
    /// free.
    pub fn buf_alloc(&mut self, capacity: usize) -> Result<Handle<Buffer>> {
        let core = &mut self.core;
        if core.is_detached() {
            return Err(core.fail(Error::NotSupported));
        }
        let r = core.buffers.alloc(capacity);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// A new, empty buffer for stream `stream` that holds at least `capacity` bytes, waiting
    /// for one when none is free: the back-pressured [`buf_alloc`](Cx::buf_alloc) of a
    /// connection that builds what it sends (answers, relayed messages). The buffer counts
    /// towards the stream's cap ([`Config::buffers_per_stream`](crate::Config::buffers_per_stream))
    /// and goes back to the pool if the stream closes first, like one a read lent.
    ///
    /// When the class `capacity` needs has no free buffer, or the stream holds as many as it
    /// may, it waits (`Pending`) as a paused read does: the stream joins the pool's queue of
    /// paused streams (or waits for one of its own buffers), and the protothread or handler
    /// reading it is resumed when a buffer is free for it. (It waits on the stream's
    /// readable side, so data arriving meanwhile also resumes it; it then simply asks again.)
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] if no buffer class holds `capacity` bytes;
    /// [`Error::InvalidHandle`] for a stale stream.
    pub fn poll_buf_alloc(
        &mut self,
        stream: Handle<TcpStream>,
        capacity: usize,
    ) -> Poll<Result<Handle<Buffer>>> {
        let core = &mut self.core;
        let h = stream.raw();
        let cap = core.buffers.per_stream();
        let Ok(s) = core.streams.get_mut(h) else {
            return Poll::Ready(Err(core.invalid()));
        };
        if capacity > core.buffers.max_size() {
            return Poll::Ready(Err(core.fail(Error::MessageTooLarge)));
        }
        // It waits on the stream's readable side: only whoever reads the stream may wait
        // there (two protothreads would displace each other on every wake-up).
        match (s.read.waiter, core.run.current) {
            (Waiter::Pt(p), Some(cur)) if p != cur => {
                return Poll::Ready(Err(core.fail(Error::InvalidArgument)));
            }
            (Waiter::Handler(_), Some(_)) => {
                return Poll::Ready(Err(core.fail(Error::InvalidArgument)));
            }
            _ => {}
        }
        let (why, large) = if s.bufs.held >= cap {
            (Park::Cap, false)
        } else {
            match core.buffers.alloc(capacity) {
                Ok(b) => {
                    s.bufs.held += 1;
                    let paused = s.bufs.park != Park::No;
                    core.buffers.attribute(b, h);
                    if paused {
                        core.streams.unpark(h.slot(), &mut core.buffers);
                    }
                    return Poll::Ready(Ok(Handle::from_raw_unchecked(b)));
                }
                Err(Error::OutOfResources(c)) => {
                    (Park::Pool, c == crate::error::Capacity::LargeBuffers)
                }
                Err(e) => return Poll::Ready(Err(core.fail(e))),
            }
        };
        core.pause_reads(h, why, large)
    }

    /// A new, empty buffer for stream `stream` that holds at least `capacity` bytes, at once
    /// or not at all: [`poll_buf_alloc`](Cx::poll_buf_alloc) without the wait. The buffer
    /// counts towards the stream's cap and goes back to the pool if the stream closes first.
    ///
    /// # Errors
    ///
    /// As [`buf_alloc`](Cx::buf_alloc); [`Error::OutOfResources`] naming
    /// [`Capacity::BuffersPerStream`](crate::Capacity::BuffersPerStream) when the stream holds
    /// as many buffers as it may; [`Error::InvalidHandle`] for a stale stream.
    pub fn buf_alloc_for(
        &mut self,
        stream: Handle<TcpStream>,
        capacity: usize,
    ) -> Result<Handle<Buffer>> {
        let core = &mut self.core;
        let h = stream.raw();
        let cap = core.buffers.per_stream();
        let Ok(s) = core.streams.get_mut(h) else {
            return Err(core.invalid());
        };
        if s.bufs.held >= cap {
            return Err(core.fail(Error::OutOfResources(
                crate::error::Capacity::BuffersPerStream,
            )));
        }
        match core.buffers.alloc(capacity) {
            Ok(b) => {
                s.bufs.held += 1;
                core.buffers.attribute(b, h);
                Ok(Handle::from_raw_unchecked(b))
            }
            Err(e) => Err(core.fail(e)),
        }
    }

    /// Gives buffer `buf` back to the pool; its handle goes stale.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a buffer handed over to a send.
    pub fn buf_release(&mut self, buf: Handle<Buffer>) -> Result<()> {
        let r = self.core.release_buffer(buf.raw());
        self.core.note(r)
    }

    /// The contents of buffer `buf`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a buffer handed over to a send.
    #[inline]
    pub fn buf(&self, buf: Handle<Buffer>) -> Result<&[u8]> {
        if self.core.is_detached() {
            return Err(Error::NotSupported);
        }
        self.core.buffers.bytes(buf.raw())
    }

    /// A view of buffer `buf` to fill, change or trim its contents.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a buffer handed over to a send.
    #[inline]
    pub fn buf_mut(&mut self, buf: Handle<Buffer>) -> Result<BufMut<'_>> {
        let core = &mut self.core;
        if core.is_detached() {
            return Err(core.fail(Error::NotSupported));
        }
        match core.buffers.view(buf.raw()) {
            Ok(v) => Ok(v),
            Err(e) => {
                core.last_error = Some(e);
                Err(e)
            }
        }
    }

    /// Takes buffer `buf`, lent by a stream's read, off that stream's account: it no longer
    /// counts towards the stream's cap and stays valid when the stream closes (a buffer
    /// still attributed to a stream goes back to the pool when the stream closes). For
    /// keeping data beyond its connection's life, e.g. relaying it to another one later.
    /// A buffer attributed to no stream is left as it is.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a buffer handed over to a send.
    pub fn buf_detach(&mut self, buf: Handle<Buffer>) -> Result<()> {
        let r = self.core.detach_buffer(buf.raw());
        self.core.note(r)
    }

    /// Moves the contents of buffer `buf` from byte `at` on into a new buffer (the smallest
    /// that holds them), attributed to the same stream as `buf`; `buf` keeps the first `at`
    /// bytes. Returns the new buffer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::InvalidArgument`] if `at` is past the contents;
    /// [`Error::OutOfResources`] when no buffer is free. Nothing changes then.
    pub fn buf_split_off(&mut self, buf: Handle<Buffer>, at: usize) -> Result<Handle<Buffer>> {
        let r = self.core.split_buffer(buf.raw(), at);
        self.core.note(r).map(Handle::from_raw_unchecked)
    }

    /// A new buffer with a copy of the contents of `buf` (the smallest that holds them),
    /// attributed to no stream: for sending one message to several streams, each send taking
    /// a buffer of its own.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::OutOfResources`] when no buffer is free.
    pub fn buf_clone(&mut self, buf: Handle<Buffer>) -> Result<Handle<Buffer>> {
        let core = &mut self.core;
        let r = match core.buffers.duplicate(buf.raw()) {
            Err(Error::InvalidHandle) => Err(core.missing_buffer()),
            r => r,
        };
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// The counters of the loop's buffer pool: buffers in use, paused streams, pauses.
    #[inline]
    pub fn buffer_stats(&self) -> BufferStats {
        self.core.buffers.stats()
    }

    /// Reads into a buffer the loop lends from its pool (a small one, filled by one read):
    /// `Ready(Ok(Some(buf)))` with at least one byte, `Ready(Ok(None))` at end-of-stream.
    /// The buffer is yours until you release it or hand it to a send; it counts towards the
    /// stream's cap until then, and goes back to the pool if the stream closes first.
    ///
    /// When the pool has no free buffer, or the stream holds as many as
    /// [`Config::buffers_per_stream`](crate::Config::buffers_per_stream) allows, the read
    /// waits (`Pending`) with the data left in the socket: the stream's reads pause, and go on
    /// once a buffer is free (streams paused for the pool go on first paused, first served).
    /// [`buffer_stats`](Cx::buffer_stats) counts the pauses.
    ///
    /// # Errors
    ///
    /// As [`read`](Cx::read).
    #[inline]
    pub fn read_buf(&mut self, stream: Handle<TcpStream>) -> Poll<Result<Option<Handle<Buffer>>>> {
        match self.read_buf_with(stream, |_| ()) {
            Poll::Ready(Ok(Some((b, ())))) => Poll::Ready(Ok(Some(b))),
            Poll::Ready(Ok(None)) => Poll::Ready(Ok(None)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// [`read_buf`](Cx::read_buf), and `look` called on the bytes read, at once (a frame
    /// reader parses its header there without looking the buffer up again).
    ///
    /// # Errors
    ///
    /// As [`read`](Cx::read).
    #[inline]
    #[allow(clippy::type_complexity)] // the answer of `read_buf` with `look`'s beside it
    pub fn read_buf_with<R>(
        &mut self,
        stream: Handle<TcpStream>,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<Option<(Handle<Buffer>, R)>>> {
        let core = &mut self.core;
        let h = stream.raw();
        let s = readable_stream!(core, h);
        let s = if s.bufs.held >= core.buffers.per_stream()
            || s.bufs.park != Park::No
            || core.buffers.parked != 0
        {
            if let Some(wait) = core.read_buf_paused(h) {
                return wait;
            }
            match core.streams.get_mut(h) {
                Ok(s) => s,
                Err(_) => return Poll::Ready(Err(core.invalid())),
            }
        } else {
            s
        };
        let Some((chunk, room)) = core.buffers.lend_room() else {
            return core.read_buf_paused(h).unwrap_or(Poll::Pending);
        };
        s.bufs.let_go = false;
        match s.read(room.bytes) {
            Attempt::Done(0) => {
                core.buffers.unlend(chunk);
                Poll::Ready(Ok(None))
            }
            Attempt::Done(n) => {
                s.bufs.held += 1;
                let seen = look(room.bytes.get(..n).unwrap_or(&[]));
                let b = core.buffers.lend(chunk, n, h);
                Poll::Ready(Ok(Some((Handle::from_raw_unchecked(b), seen))))
            }
            Attempt::WouldBlock => {
                core.buffers.unlend(chunk);
                let waiter = s.read.waiter;
                core.pend_socket(h, Trigger::Readable, waiter)
            }
            Attempt::Failed(e) => {
                core.buffers.unlend(chunk);
                Poll::Ready(Err(core.fail(e)))
            }
        }
    }

    /// Reads more into buffer `buf`, after its contents, having made room first for contents
    /// of `need` bytes in all (moving them to the front of the buffer, or into a large buffer
    /// if a small one cannot hold `need`; the handle stays the same). `Ready(Ok(n))` with the
    /// bytes read, 0 at end-of-stream. A frame reader uses this to complete a partial frame.
    ///
    /// Waits like [`read_buf`](Cx::read_buf) when a larger buffer is needed and none is free.
    ///
    /// # Errors
    ///
    /// As [`read`](Cx::read); [`Error::InvalidHandle`] for a stale buffer;
    /// [`Error::MessageTooLarge`] if `need` is more than the largest buffer holds.
    #[inline]
    pub fn read_more(
        &mut self,
        stream: Handle<TcpStream>,
        buf: Handle<Buffer>,
        need: usize,
    ) -> Poll<Result<usize>> {
        let core = &mut self.core;
        let h = stream.raw();
        let s = readable_stream!(core, h, need);
        let paused = s.bufs.park != Park::No;
        let room = match core.buffers.room(buf.raw(), need) {
            Ok(room) => room,
            Err(Error::OutOfResources(_)) => return core.read_more_paused(h),
            Err(e) => return Poll::Ready(Err(core.fail(e))),
        };
        if room.bytes.is_empty() {
            return Poll::Ready(Err(core.fail(Error::MessageTooLarge)));
        }
        let waiter = s.read.waiter;
        let read = s.read(room.bytes);
        if paused {
            // Paused before, and it had the room now: it goes on (out of the queue).
            core.streams.unpark(h.slot(), &mut core.buffers);
        }
        match read {
            Attempt::Done(n) => {
                core.buffers.filled(buf.raw(), n);
                Poll::Ready(Ok(n))
            }
            Attempt::WouldBlock => core.pend_socket(h, Trigger::Readable, waiter),
            Attempt::Failed(e) => Poll::Ready(Err(core.fail(e))),
        }
    }

    /// Hands buffer `buf` over to be sent on `stream`: the loop sends its contents after
    /// everything handed over before, as the socket takes them (now, if it can), and frees
    /// the buffer once all of it is sent. Its handle goes stale at once. Wait for the sends
    /// with [`poll_sent`](Cx::poll_sent); closing the stream drops what is not sent yet. On
    /// the io_uring backend the buffer is always queued, and a send request of the ring takes
    /// it with the next poll.
    ///
    /// An empty buffer is simply freed.
    ///
    /// # Errors
    ///
    /// The buffer stays yours on any error: [`Error::InvalidHandle`] for a stale buffer or
    /// stream; [`Error::OutOfResources`] naming
    /// [`Capacity::BuffersPerStream`](crate::Capacity::BuffersPerStream) when the stream
    /// holds as many buffers as it may (wait for `poll_sent` first); the error of an earlier
    /// send that failed; a connect still in progress is [`Error::WouldBlock`].
    #[inline]
    pub fn send_buf(&mut self, stream: Handle<TcpStream>, buf: Handle<Buffer>) -> Result<()> {
        let r = self.core.send_buffer(stream.raw(), buf.raw());
        self.core.note(r)
    }

    /// Waits until everything handed to [`send_buf`](Cx::send_buf) for `stream` is sent.
    ///
    /// # Errors
    ///
    /// The error of a send that failed (every buffer still queued was freed then); the
    /// errors of [`write`](Cx::write).
    #[inline]
    pub fn poll_sent(&mut self, stream: Handle<TcpStream>) -> Poll<Result<()>> {
        let core = &mut self.core;
        let h = stream.raw();
        let Ok(s) = core.streams.get_mut(h) else {
            return Poll::Ready(Err(core.invalid()));
        };
        if !s.bufs.sending() {
            return match s.bufs.send_error.take() {
                None => Poll::Ready(Ok(())),
                Some(e) => Poll::Ready(Err(core.fail(e))),
            };
        }
        core.sent_pending(h)
    }
    // --- The stream's receive buffer ---

    /// Reads into `stream`'s receive buffer: a pool buffer the stream holds while it has
    /// bytes received and not consumed (taken for the first byte, given back when the last
    /// is consumed), addressed through the stream's handle, so it needs no handle of its own
    /// and goes back to the pool when the stream closes. Makes room first for contents of
    /// `need` bytes in all (a small buffer if they fit one, else a large one; contents move
    /// along), then reads after the contents: `Ready(Ok(n))` with the bytes read, 0 at
    /// end-of-stream. What came is [`rx`](Cx::rx).
    ///
    /// This is the cheaper path for a connection that processes what it reads and sends
    /// answers built in place ([`rx_send`](Cx::rx_send)): no buffer handle is made or checked
    /// per message. [`PooledFrameReader`](crate::PooledFrameReader) reads this way.
    ///
    /// Waits (the stream's reads pause) like [`read_buf`](Cx::read_buf) when it needs a
    /// buffer and none is free, or the stream holds as many as it may.
    ///
    /// # Errors
    ///
    /// As [`read`](Cx::read); [`Error::MessageTooLarge`] if no buffer holds `need` bytes;
    /// [`Error::OutOfResources`] at once for a pool with no buffer at all.
    #[inline]
    pub fn rx_read(&mut self, stream: Handle<TcpStream>, need: usize) -> Poll<Result<usize>> {
        match self.rx_read_with(stream, need, |_| ()) {
            Poll::Ready(Ok((n, ()))) => Poll::Ready(Ok(n)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// [`rx_read`](Cx::rx_read), and `look` called on the whole contents of the receive
    /// buffer after the read, at once.
    ///
    /// # Errors
    ///
    /// As [`rx_read`](Cx::rx_read).
    #[inline]
    pub fn rx_read_with<R>(
        &mut self,
        stream: Handle<TcpStream>,
        need: usize,
        look: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Result<(usize, R)>> {
        let core = &mut self.core;
        let h = stream.raw();
        if core.ring {
            return core.ring_rx_read(h, need, look);
        }
        let s = readable_stream!(core, h, need);
        let s = if s.bufs.rx.is_some() {
            s
        } else {
            // A buffer for the first byte.
            let s = if s.bufs.held >= core.buffers.per_stream()
                || s.bufs.park != Park::No
                || core.buffers.parked != 0
            {
                if let Some(wait) = core.rx_paused(h, need) {
                    return wait;
                }
                match core.streams.get_mut(h) {
                    Ok(s) => s,
                    Err(_) => return Poll::Ready(Err(core.invalid())),
                }
            } else {
                s
            };
            if core.buffers.rx_attach(&mut s.bufs.rx, need).is_err() {
                return core.rx_paused(h, need).unwrap_or(Poll::Pending);
            }
            s.bufs.held += 1;
            s.bufs.let_go = false;
            s
        };
        let room = match core.buffers.rx_room(&mut s.bufs.rx, need) {
            Ok(room) => room,
            Err(Error::OutOfResources(_)) => return core.read_more_paused(h),
            Err(e) => return Poll::Ready(Err(core.fail(e))),
        };
        if room.is_empty() {
            return Poll::Ready(Err(core.fail(Error::MessageTooLarge)));
        }
        match s.read(room) {
            Attempt::Done(n) => {
                s.bufs.rx.grow(n);
                let seen = look(core.buffers.rx_bytes(&s.bufs.rx));
                if n == 0 && core.buffers.rx_consume(&mut s.bufs.rx, 0) {
                    s.bufs.held -= 1;
                }
                Poll::Ready(Ok((n, seen)))
            }
            Attempt::WouldBlock => {
                // An empty receive buffer is not kept over a wait.
                if core.buffers.rx_consume(&mut s.bufs.rx, 0) {
                    s.bufs.held -= 1;
                }
                let waiter = s.read.waiter;
                core.pend_socket(h, Trigger::Readable, waiter)
            }
            Attempt::Failed(e) => {
                if core.buffers.rx_consume(&mut s.bufs.rx, 0) {
                    s.bufs.held -= 1;
                }
                Poll::Ready(Err(core.fail(e)))
            }
        }
    }

    /// The bytes in `stream`'s receive buffer (empty when it holds none).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale stream.
    #[inline]
    pub fn rx(&self, stream: Handle<TcpStream>) -> Result<&[u8]> {
        match self.core.streams.get(stream.raw()) {
            Ok(s) => Ok(self.core.buffers.rx_bytes(&s.bufs.rx)),
            Err(_) if self.core.is_detached() => Err(Error::NotSupported),
            Err(e) => Err(e),
        }
    }

    /// Drops the first `n` bytes of `stream`'s receive buffer (all of them if `n` is more);
    /// the buffer goes back to the pool when nothing is left.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale stream.
    #[inline]
    pub fn rx_consume(&mut self, stream: Handle<TcpStream>, n: usize) -> Result<()> {
        let core = &mut self.core;
        let h = stream.raw();
        let Ok(s) = core.streams.get_mut(h) else {
            return Err(core.invalid());
        };
        if s.ring.into_rx {
            // A receive of the ring fills the buffer behind its contents: not now.
            return Err(core.fail(Error::WouldBlock));
        }
        if core.buffers.rx_consume(&mut s.bufs.rx, n) {
            s.bufs.held -= 1;
            if s.bufs.park == Park::Cap {
                core.after_release(h);
            }
        }
        Ok(())
    }

    /// Sends the first `n` bytes of `stream`'s receive buffer on `stream` itself (an echo,
    /// or an answer built in place), after everything handed over before, and drops them
    /// from the receive buffer: sent from where they are when the socket takes them at once,
    /// else the loop keeps them (in the same buffer when they are all it holds) and sends
    /// them as [`send_buf`](Cx::send_buf) does. Wait with [`poll_sent`](Cx::poll_sent).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the buffer holds fewer than `n` bytes;
    /// [`Error::OutOfResources`] when bytes follow the `n` and no buffer is free to move
    /// them to; [`Error::WouldBlock`] while the stream is still connecting, the error of a
    /// failed connect or of an earlier send: nothing changes then. A send that fails now is
    /// the stream's failure: its bytes are dropped with it.
    #[inline]
    pub fn rx_send(&mut self, stream: Handle<TcpStream>, n: usize) -> Result<()> {
        let core = &mut self.core;
        let h = stream.raw();
        let Ok(s) = core.streams.get_mut(h) else {
            return Err(core.invalid());
        };
        if s.connection() != Connection::Ready || s.bufs.send_error.is_some() {
            // Nothing is taken from the receive buffer: the bytes stay for another try.
            let e = Core::cannot_send(s);
            return Err(core.fail(e));
        }
        let len = s.bufs.rx.len();
        if n == 0 {
            return Ok(());
        }
        if n == len && !s.bufs.sending() && s.write.ready && !core.ring {
            // The usual case: all of it, and the socket takes it.
            let bytes = core.buffers.rx_bytes(&s.bufs.rx);
            match s.write(bytes) {
                Attempt::Done(k) if k == len => {
                    if core.buffers.rx_consume(&mut s.bufs.rx, k) {
                        s.bufs.held -= 1;
                        if s.bufs.park == Park::Cap {
                            core.after_release(h);
                        }
                    }
                    return Ok(());
                }
                Attempt::Done(k) => {
                    core.buffers.rx_consume(&mut s.bufs.rx, k);
                    let r = core.rx_hand_over(h, len - k);
                    return core.note(r);
                }
                Attempt::WouldBlock => {}
                Attempt::Failed(e) => return Err(core.fail(e)),
            }
        }
        let r = core.rx_hand_over(h, n);
        core.note(r)
    }

    /// Takes the first `n` bytes of `stream`'s receive buffer out as a buffer of their own
    /// (the receive buffer itself when they are all it holds; else what follows moves to a
    /// new receive buffer), attributed to `stream`: for keeping them, or handing them to
    /// another stream's send.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the buffer holds fewer than `n` bytes, or `n` is 0;
    /// [`Error::OutOfResources`] when bytes follow the `n` and no buffer is free to move
    /// them to (nothing changes then); [`Error::InvalidHandle`] for a stale stream.
    pub fn rx_take(&mut self, stream: Handle<TcpStream>, n: usize) -> Result<Handle<Buffer>> {
        let r = self.core.rx_take(stream.raw(), n);
        self.core.note(r).map(Handle::from_raw_unchecked)
    }
}

impl Core<'_> {
    /// The first `n` bytes of stream `h`'s receive buffer as a buffer of their own,
    /// attributed to `h` (see [`Cx::rx_take`]).
    fn rx_take(&mut self, h: RawHandle, n: usize) -> Result<RawHandle> {
        let cap = self.buffers.per_stream();
        let Ok(s) = self.streams.get_mut(h) else {
            return Err(self.missing_buffer());
        };
        if s.ring.into_rx {
            // A receive of the ring fills the buffer behind its contents: not now.
            return Err(Error::WouldBlock);
        }
        let len = s.bufs.rx.len();
        if n == 0 || n > len {
            return Err(Error::InvalidArgument);
        }
        if n < len && s.bufs.held >= cap {
            return Err(Error::OutOfResources(
                crate::error::Capacity::BuffersPerStream,
            ));
        }
        let tail = self.buffers.rx_split(&mut s.bufs.rx, n)?;
        let b = self.buffers.rx_into_buffer(&mut s.bufs.rx, h);
        if tail.is_some() {
            s.bufs.rx = tail;
            s.bufs.held += 1;
        }
        Ok(b)
    }

    /// Hands the first `n` bytes of stream `h`'s receive buffer over to `h`'s send (the
    /// slow path of [`Cx::rx_send`]).
    #[cold]
    #[inline(never)]
    fn rx_hand_over(&mut self, h: RawHandle, n: usize) -> Result<()> {
        let b = self.rx_take(h, n)?;
        match self.send_buffer(h, b) {
            Ok(()) => Ok(()),
            Err(e) => {
                // The bytes were the stream's to send: they go with the failed stream.
                let _ = self.release_buffer(b);
                Err(e)
            }
        }
    }

    /// A read into stream `h`'s receive buffer that needs a buffer for its first byte, when
    /// the stream is at its cap or paused, or other streams wait for buffers, or none of
    /// the class `need` bytes take is free: pauses its reads and answers the wait, or lets
    /// it go on (`None`).
    #[cold]
    #[inline(never)]
    pub(crate) fn rx_paused<T>(&mut self, h: RawHandle, need: usize) -> Option<Poll<Result<T>>> {
        let can_take = match self.buffers.rx_can_take(need) {
            Ok(can) => can,
            Err(e) => return Some(Poll::Ready(Err(self.fail(e)))),
        };
        let large = self.buffers.rx_wants_large(need);
        self.pause_or_go(h, can_take, large)
    }

    /// Whether a read of stream `h` that needs a chunk of the large class (`large`) or the
    /// small one, free or not (`can_take`), pauses (the wait) or goes on (`None`): it pauses
    /// at the stream's cap, when none is free, while it is in the pool's queue (its turn
    /// comes before the next poll), or when others wait for that class and it was not let
    /// go (behind them).
    fn pause_or_go<T>(
        &mut self,
        h: RawHandle,
        can_take: bool,
        large: bool,
    ) -> Option<Poll<Result<T>>> {
        let cap = self.buffers.per_stream();
        let queued = if large {
            self.buffers.parked_large
        } else {
            self.buffers.parked - self.buffers.parked_large
        };
        let Ok(s) = self.streams.get_mut(h) else {
            return Some(Poll::Ready(Err(self.invalid())));
        };
        let why = if s.bufs.held >= cap {
            Park::Cap
        } else if !can_take
            || s.bufs.park == Park::Pool
            || (queued != 0 && !s.bufs.let_go && s.bufs.park == Park::No)
        {
            Park::Pool
        } else {
            if s.bufs.park != Park::No {
                self.streams.unpark(h.slot(), &mut self.buffers);
            }
            return None;
        };
        Some(self.pause_reads(h, why, large))
    }

    /// The error for a buffer handle that names nothing: `NotSupported` on a detached
    /// context, else `InvalidHandle`.
    #[cold]
    #[inline(never)]
    pub(crate) fn missing_buffer(&self) -> Error {
        if self.is_detached() {
            Error::NotSupported
        } else {
            Error::InvalidHandle
        }
    }

    /// Frees the user's buffer `h`, taking it off the account of the stream it is
    /// attributed to (whose paused reads may go on then).
    #[inline]
    pub(crate) fn release_buffer(&mut self, h: RawHandle) -> Result<()> {
        let Ok(i) = self.buffers.index(h) else {
            return Err(self.missing_buffer());
        };
        let owner = self.buffers.owner_at(i);
        self.buffers.free_at(i);
        if let Some(o) = owner {
            self.uncount(o);
        }
        Ok(())
    }

    fn split_buffer(&mut self, h: RawHandle, at: usize) -> Result<RawHandle> {
        if self.is_detached() {
            return Err(Error::NotSupported);
        }
        if let Some(o) = self.buffers.owner(h)? {
            // The new buffer counts towards the same stream: not past its cap.
            if self
                .streams
                .get(o)
                .is_ok_and(|s| s.bufs.held >= self.buffers.per_stream())
            {
                return Err(Error::OutOfResources(
                    crate::error::Capacity::BuffersPerStream,
                ));
            }
        }
        let t = self.buffers.split(h, at)?;
        if let Some(o) = self.buffers.owner(t)? {
            if let Ok(s) = self.streams.get_mut(o) {
                s.bufs.held += 1;
            }
        }
        Ok(t)
    }

    fn detach_buffer(&mut self, h: RawHandle) -> Result<()> {
        if self.is_detached() {
            return Err(Error::NotSupported);
        }
        let i = self.buffers.index(h)?;
        if let Some(o) = self.buffers.owner_at(i) {
            self.buffers.detach_at(i);
            self.uncount(o);
        }
        Ok(())
    }

    /// Stream `h` holds one buffer less; if its reads were paused at its cap, they go on.
    #[inline]
    fn uncount(&mut self, h: RawHandle) {
        if let Ok(s) = self.streams.get_mut(h) {
            s.bufs.held = s.bufs.held.saturating_sub(1);
            if s.bufs.park == Park::Cap {
                self.after_release(h);
            }
        }
    }

    /// Stream `h` holds fewer buffers: if its reads were paused at its cap and it is now
    /// under it, they go on.
    #[cold]
    #[inline(never)]
    pub(crate) fn after_release(&mut self, h: RawHandle) {
        let cap = self.buffers.per_stream();
        let Ok(s) = self.streams.get_mut(h) else {
            return;
        };
        if s.bufs.park == Park::Cap && s.bufs.held < cap {
            self.streams.unpark(h.slot(), &mut self.buffers);
            self.resume_reads(h);
        }
    }

    /// Tells whoever reads stream `h` that it may read again (its reads were paused): a
    /// protothread is queued, a handler dispatched on the next iteration.
    fn resume_reads(&mut self, h: RawHandle) {
        let Ok(s) = self.streams.get(h) else {
            return;
        };
        match s.read.waiter {
            Waiter::Pt(pt) => self.pts.wake(pt, (h, Trigger::Readable)),
            Waiter::Handler(_) => self.requeue_if_ready(h, Dir::Read),
            Waiter::None => {}
        }
    }

    /// Before the poll: lets streams paused for want of a buffer go on, first paused first,
    /// one per free chunk of the class each waits for. (Letting one go per freed buffer could
    /// strand the others if it then did not read; counting the free chunks each iteration
    /// cannot.) A stream let go may take a chunk ahead of streams that were not paused, until
    /// it reads once.
    pub(crate) fn let_paused_reads_go(&mut self) {
        let [mut small, mut large] = self.buffers.free_chunks();
        let mut waiting_large = self.buffers.parked_large;
        let mut waiting_small = self.buffers.parked - waiting_large;
        let mut i = self.buffers.parked_head;
        while i != NIL && ((small > 0 && waiting_small > 0) || (large > 0 && waiting_large > 0)) {
            let Some(s) = self.streams.at_mut(i as usize) else {
                break;
            };
            let (next, want_large) = (s.bufs.park_next, s.bufs.want_large);
            let (free, waiting) = if want_large {
                (&mut large, &mut waiting_large)
            } else {
                (&mut small, &mut waiting_small)
            };
            *waiting -= 1;
            if *free > 0 {
                *free -= 1;
                s.bufs.let_go = true;
                let h = self.streams.handle_at(i as usize);
                self.streams.unpark(i, &mut self.buffers);
                if let Some(h) = h {
                    self.resume_reads(h);
                }
            }
            i = next;
        }
    }

    /// A read of stream `h` that lends a buffer, when the stream is at its cap or paused, or
    /// other streams wait for buffers, or no chunk is free: pauses its reads (at its cap, or
    /// at the end of the pool's queue) and answers the wait, or lets it go on (`None`: read
    /// now) if a chunk is free and it is not behind others. A pool with no buffer a read can
    /// borrow is `OutOfResources` at once.
    #[cold]
    #[inline(never)]
    fn read_buf_paused<T>(&mut self, h: RawHandle) -> Option<Poll<Result<T>>> {
        if !self.buffers.lends() {
            return Some(Poll::Ready(Err(
                self.fail(Error::OutOfResources(crate::error::Capacity::Buffers))
            )));
        }
        let (can_lend, large) = (self.buffers.can_lend(), self.buffers.lends_large());
        self.pause_or_go(h, can_lend, large)
    }

    /// A read (into a lent buffer or the receive buffer) of stream `h` that needs a large
    /// buffer none of which is free.
    #[cold]
    #[inline(never)]
    pub(crate) fn read_more_paused<T>(&mut self, h: RawHandle) -> Poll<Result<T>> {
        self.pause_reads(h, Park::Pool, true)
    }

    /// Pauses the reads of stream `h` for `why` (for a large buffer if `large`) and waits
    /// for them to go on. A stream already paused that way keeps its place in the queue.
    fn pause_reads<T>(&mut self, h: RawHandle, why: Park, large: bool) -> Poll<Result<T>> {
        let Ok(s) = self.streams.get_mut(h) else {
            return Poll::Ready(Err(self.invalid()));
        };
        let (waiter, now, was_large) = (s.read.waiter, s.bufs.park, s.bufs.want_large);
        let same = now == why && (why != Park::Pool || was_large == large);
        if !same {
            if now != Park::No {
                self.streams.unpark(h.slot(), &mut self.buffers);
            }
            self.streams.park(h.slot(), why, large, &mut self.buffers);
        }
        self.pend_socket(h, Trigger::Readable, waiter)
    }

    /// [`Cx::send_buf`].
    #[inline]
    fn send_buffer(&mut self, h: RawHandle, b: RawHandle) -> Result<()> {
        let Ok(i) = self.buffers.index(b) else {
            return Err(self.missing_buffer());
        };
        let owner = self.buffers.owner_at(i);
        let s = self.streams.get_mut(h)?;
        if s.connection() != Connection::Ready || s.bufs.send_error.is_some() {
            return Err(Self::cannot_send(s));
        }
        let mine = owner == Some(h);
        if !mine && s.bufs.held >= self.buffers.per_stream() {
            return Err(Error::OutOfResources(
                crate::error::Capacity::BuffersPerStream,
            ));
        }
        // The usual case: nothing queued and the socket writable. Send from the buffer
        // where it is; only what the socket does not take is queued. (On the ring path
        // every send is queued and goes to the kernel as a send request.)
        if !s.bufs.sending() && s.write.ready && !self.ring {
            let bytes = self.buffers.bytes_at(i);
            let len = bytes.len();
            match s.write(bytes) {
                Attempt::Done(n) if n == len => {
                    self.buffers.free_at(i);
                    if mine {
                        s.bufs.held -= 1;
                        if s.bufs.park == Park::Cap {
                            self.after_release(h);
                        }
                    } else if let Some(o) = owner {
                        self.uncount(o);
                    }
                    return Ok(());
                }
                Attempt::Done(n) => self.buffers.consume_at(i, n),
                Attempt::WouldBlock => {}
                Attempt::Failed(e) => return Err(e),
            }
        }
        self.enqueue_send(h, i, owner)
    }

    /// Why a stream that is not connected, or whose sends failed, cannot send.
    #[cold]
    #[inline(never)]
    pub(crate) fn cannot_send(s: &super::super::tcp_stream::StreamEntry) -> Error {
        match (s.connection(), s.bufs.send_error) {
            (_, Some(e)) => e,
            (Connection::Connecting, None) => Error::WouldBlock,
            (Connection::Failed(e), None) => e,
            (Connection::Ready, None) => Error::InvalidArgument,
        }
    }

    /// Queues the buffer in slot `i` on stream `h` (moving it off the account of `owner`),
    /// sends what the socket takes, and arms write interest so the loop sends the rest.
    #[cold]
    #[inline(never)]
    fn enqueue_send(&mut self, h: RawHandle, i: usize, owner: Option<RawHandle>) -> Result<()> {
        if let Some(o) = owner {
            if let Ok(s) = self.streams.get_mut(o) {
                s.bufs.held = s.bufs.held.saturating_sub(1);
            }
        }
        if self.buffers.bytes_at(i).is_empty() {
            // Nothing to send: freed now. (Queued, a send of nothing would read as a closed
            // socket and fail the whole queue.)
            self.buffers.free_at(i);
            if let Some(o) = owner {
                if self.streams.get(o).is_ok_and(|s| s.bufs.park == Park::Cap) {
                    self.after_release(o);
                }
            }
            return Ok(());
        }
        let s = self.streams.get_mut(h)?;
        self.buffers.enqueue_at(i, h, &mut s.bufs);
        if let Some(o) = owner.filter(|&o| o != h) {
            if self.streams.get(o).is_ok_and(|s| s.bufs.park == Park::Cap) {
                self.after_release(o);
            }
        }
        // The socket may still take some (the direct send was partial, or did not run
        // because others were queued): send until it blocks, then wait for writability.
        // The buffer is the loop's now; a failure is reported by the next `poll_sent`.
        self.flush_on_writable(h);
        let sending = self.streams.get(h).is_ok_and(|s| s.bufs.sending());
        if sending && !self.ring {
            if let Err(e) = self.arm_write(h) {
                if let Ok(s) = self.streams.get_mut(h) {
                    self.buffers.drop_sends(&mut s.bufs);
                    s.bufs.send_error = Some(e);
                }
                self.after_release(h);
            }
        }
        Ok(())
    }

    /// [`Cx::poll_sent`] with something queued: sends what the socket takes now, else waits
    /// for it to be writable.
    #[cold]
    #[inline(never)]
    fn sent_pending(&mut self, h: RawHandle) -> Poll<Result<()>> {
        if self.run.out_of_budget() {
            return Poll::Pending;
        }
        match self.flush_sends(h) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => {
                let waiter = match self.streams.get(h) {
                    Ok(s) => s.write.waiter,
                    Err(_) => return Poll::Ready(Err(self.invalid())),
                };
                // On the ring path the send's completion wakes the waiter.
                if !self.ring {
                    if let Err(e) = self.arm_write(h) {
                        return Poll::Ready(Err(self.fail(e)));
                    }
                }
                self.pend_socket(h, Trigger::Writable, waiter)
            }
            Err(e) => Poll::Ready(Err(self.fail(e))),
        }
    }

    /// Sends what stream `h` has queued as far as the socket takes it: `Ok(true)` when the
    /// queue is empty. A failed send frees the queue and is the error (taken: reported once).
    pub(crate) fn flush_sends(&mut self, h: RawHandle) -> Result<bool> {
        let s = self.streams.get_mut(h)?;
        if !s.bufs.sending() {
            return Ok(true);
        }
        if s.connection() != Connection::Ready {
            return Ok(false);
        }
        if self.ring {
            // The front goes to the kernel (if it is not there yet); its completion sends on.
            return match self.ring_send_front(h) {
                Ok(()) => Ok(false),
                Err(e) => {
                    if let Ok(s) = self.streams.get_mut(h) {
                        self.buffers.drop_sends(&mut s.bufs);
                    }
                    Err(e)
                }
            };
        }
        if !s.write.ready {
            return Ok(false);
        }
        let r = s.flush_sends(&mut self.buffers);
        let done = match r {
            Attempt::Done(()) => Ok(true),
            Attempt::WouldBlock => Ok(false),
            Attempt::Failed(e) => {
                self.buffers.drop_sends(&mut s.bufs);
                Err(e)
            }
        };
        if s.bufs.park == Park::Cap {
            self.after_release(h);
        }
        done
    }

    /// A writable edge of stream `h`: the loop sends what is queued (a failure is kept for
    /// the next `poll_sent` or `send_buf`).
    pub(crate) fn flush_on_writable(&mut self, h: RawHandle) {
        if let Err(e) = self.flush_sends(h) {
            if let Ok(s) = self.streams.get_mut(h) {
                s.bufs.send_error = Some(e);
            }
        }
    }
}
