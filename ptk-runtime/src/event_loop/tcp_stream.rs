//! TCP streams: their pool, their readiness, and the state of a connect in progress.
//!
//! Each stream keeps edge-triggered readiness per direction ([`Side`]): set when the backend
//! reports an edge, cleared when a read or write meets `WouldBlock`, and for reads also when a
//! read comes back short (`0 < n < buf.len()`): that read drained the receive queue, and with
//! edge-triggered readiness anything arriving later raises a new edge, so the read that would
//! meet `WouldBlock` is skipped (tokio's `PollEvented` does the same). After the peer's FIN or
//! an error, which raise no further edge, only `WouldBlock` clears it. New streams start
//! readable: data may have come before the stream was registered.
//!
//! Read interest stays registered for a stream's life; write interest is armed only while
//! someone waits to write (a connect in progress, a writable handler, a write that met
//! `WouldBlock` with a waiter) and disarmed lazily, on the next writable edge that finds nobody
//! waiting.

use std::io::ErrorKind;

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::backend::{Backend, Interest, Readiness};
use super::buffers::{Buffers, Chunk, ChunkQueue, Park, StreamBufs, NIL};
use super::side::{Attempt, Side};

/// Where a stream's connect stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connect {
    /// Connected (accepted streams start here).
    Done,
    /// In progress, with the timer of its timeout if it has one.
    InProgress(Option<RawHandle>),
    /// Failed (refused, timed out, ...): every operation answers this error.
    Failed(Error),
}

/// The state of one TCP stream (opaque; see
/// [`Storage::tcp_streams`](super::Storage::tcp_streams)).
pub struct StreamEntry {
    sock: mio::net::TcpStream,
    pub(crate) read: Side,
    pub(crate) write: Side,
    /// The peer closed its half or the socket failed (sticky): from then on only `WouldBlock`
    /// clears the read side's readiness, since no further edge would report what is left.
    read_closed: bool,
    write_armed: bool,
    connect: Connect,
    /// The pool buffers attributed to the stream: lent by its reads, queued for its writes.
    pub(crate) bufs: StreamBufs,
    /// Its receive and send in the kernel (the io_uring message path).
    pub(crate) ring: RingOps,
}

/// A stream's operations on a completion-based backend (see `ring.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RingOps {
    /// The chunk a receive fills (in flight until `recv_done`), or `Chunk::NONE`. It counts
    /// towards the stream's buffers.
    pub(crate) recv: Chunk,
    /// The receive's completion came: `recv_result` is what it did.
    pub(crate) recv_done: bool,
    /// Bytes received, 0 at the peer's FIN, or a negated `errno`.
    pub(crate) recv_result: i32,
    /// A send of the front of the send queue is in flight (the kernel reads that buffer).
    pub(crate) send_busy: bool,
    /// A receive met the peer's FIN: reads answer end-of-stream at once.
    pub(crate) fin: bool,
    /// The receive fills the room behind the receive buffer's contents (`recv` is the
    /// receive buffer's chunk), not a chunk of its own.
    pub(crate) into_rx: bool,
    /// The room the receive was given.
    pub(crate) recv_len: u32,
    /// A readable edge was reported while the receive was out: a receive that comes back
    /// short or empty does not prove the socket drained.
    pub(crate) edge: bool,
    /// A multishot receive is in the kernel (until its last completion): its completions,
    /// not the poll's edges, make the stream readable.
    pub(crate) armed: bool,
    /// Its cancel was queued (the stream reached its cap, or a direct read settles).
    pub(crate) stopping: bool,
    /// The chunks it filled, not read yet, and how many: they count towards the cap at which
    /// the receive stops, not towards `held` (they are bytes received and not read, as in a
    /// socket's buffer: a reader over its cap must still be able to take them).
    pub(crate) queue: ChunkQueue,
    pub(crate) queued: u32,
    /// The error it ended with (a negated `errno`), reported after the queued bytes.
    pub(crate) error: i32,
    /// It ended with `ENOBUFS` (the kernel's ring ran dry): the next read takes the single
    /// receive path (which pauses for the pool) before a multishot receive is armed again,
    /// instead of arming one that other streams' data would starve at once.
    pub(crate) starved: bool,
}

impl RingOps {
    pub(crate) const NEW: RingOps = RingOps {
        recv: Chunk::NONE,
        recv_done: false,
        recv_result: 0,
        send_busy: false,
        fin: false,
        into_rx: false,
        recv_len: 0,
        edge: false,
        armed: false,
        stopping: false,
        queue: ChunkQueue::EMPTY,
        queued: 0,
        error: 0,
        starved: false,
    };

    /// No chunk filled by a multishot receive waits to be read.
    #[inline]
    pub(crate) fn ready_queue_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// A receive is in the kernel (submitted, its completion not come).
    #[inline]
    pub(crate) fn receiving(&self) -> bool {
        self.recv != Chunk::NONE && !self.recv_done
    }
}

/// What a stream's connect means for an operation on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connection {
    /// Connected: go ahead.
    Ready,
    /// Still connecting: wait for the writable edge.
    Connecting,
    /// The connect failed with this error.
    Failed(Error),
}

impl StreamEntry {
    fn new(sock: mio::net::TcpStream, connecting: bool) -> Self {
        StreamEntry {
            sock,
            read: Side::new(true),
            write: Side::new(!connecting),
            read_closed: false,
            write_armed: connecting,
            connect: if connecting {
                Connect::InProgress(None)
            } else {
                Connect::Done
            },
            bufs: StreamBufs::NEW,
            ring: RingOps::NEW,
        }
    }

    /// The socket (for options and addresses).
    pub(crate) fn sock(&self) -> &mio::net::TcpStream {
        &self.sock
    }

    /// Whether reads and writes may go ahead, wait for a connect, or fail.
    #[inline]
    pub(crate) fn connection(&self) -> Connection {
        match self.connect {
            Connect::Done => Connection::Ready,
            Connect::InProgress(_) => Connection::Connecting,
            Connect::Failed(e) => Connection::Failed(e),
        }
    }

    /// Records a report of the backend.
    #[inline]
    pub(crate) fn on_readiness(&mut self, r: &Readiness) {
        // While a receive is out, its completion is what makes the stream readable; an edge
        // meanwhile is remembered for when it comes back.
        if self.ring.receiving() || self.ring.armed {
            self.ring.edge |= r.read;
        } else {
            self.read.ready |= r.read;
        }
        self.write.ready |= r.write;
        self.read_closed |= r.read_closed;
    }

    /// Reads into `buf` if the stream may be readable (a read that cannot complete makes no
    /// system call), keeping the read side's readiness as the module docs say.
    #[inline]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Attempt<usize> {
        match super::sys::recv(&self.sock, buf) {
            Attempt::Done(n) => {
                if n > 0 && n < buf.len() && !self.read_closed {
                    self.read.ready = false;
                }
                Attempt::Done(n)
            }
            Attempt::WouldBlock => {
                self.read.ready = false;
                Attempt::WouldBlock
            }
            failed => failed,
        }
    }

    /// A receive of the ring brought `n` bytes into a chunk of `cap`: like a direct read,
    /// one that came back short drained the socket (before the peer's FIN).
    #[inline]
    pub(crate) fn received(&mut self, n: usize, cap: usize) {
        if n > 0 && n < cap && !self.read_closed && !self.ring.edge {
            self.read.ready = false;
        }
    }

    /// Writes some of `buf`.
    #[inline]
    pub(crate) fn write(&mut self, buf: &[u8]) -> Attempt<usize> {
        let r = super::sys::send(&self.sock, buf);
        if let Attempt::WouldBlock = r {
            self.write.ready = false;
        }
        r
    }

    /// Sends what the send queue holds, freeing each buffer once it is sent: `Done` when the
    /// queue is empty, `WouldBlock` when the socket took what it could, `Failed` when a send
    /// failed (the caller drops the queue and records the error).
    pub(crate) fn flush_sends(&mut self, pool: &mut Buffers<'_>) -> Attempt<()> {
        while self.bufs.sending() {
            let i = self.bufs.send_front();
            match self.write(pool.unsent(i)) {
                Attempt::Done(0) => return Attempt::Failed(Error::Closed),
                Attempt::Done(n) => {
                    pool.sent(&mut self.bufs, n);
                }
                Attempt::WouldBlock => return Attempt::WouldBlock,
                Attempt::Failed(e) => return Attempt::Failed(e),
            }
        }
        Attempt::Done(())
    }

    /// Arms write interest if someone may wait to write and the stream is not known writable.
    pub(crate) fn arm_write(&mut self, h: RawHandle, backend: &Backend) -> Result<()> {
        if !self.write_armed && !self.write.ready {
            backend.reregister(&mut self.sock, h, Interest::ReadWrite)?;
            self.write_armed = true;
        }
        Ok(())
    }

    /// Disarms write interest when nobody waits to write, nothing is queued to send and no
    /// connect is in progress.
    pub(crate) fn disarm_write(&mut self, h: RawHandle, backend: &Backend) {
        if self.write_armed
            && !self.write.waiter.is_some()
            && !self.bufs.sending()
            && !matches!(self.connect, Connect::InProgress(_))
            && backend
                .reregister(&mut self.sock, h, Interest::Read)
                .is_ok()
        {
            self.write_armed = false;
        }
    }

    /// Gives a connect in progress its timeout timer.
    pub(crate) fn set_connect_timer(&mut self, timer: RawHandle) {
        if let Connect::InProgress(t) = &mut self.connect {
            *t = Some(timer);
        }
    }

    /// Settles a connect after a writable edge: connected, failed, or still in progress.
    /// Returns the timeout timer to free once it is settled.
    pub(crate) fn finish_connect(&mut self) -> Option<RawHandle> {
        let Connect::InProgress(timer) = self.connect else {
            return None;
        };
        let outcome = match self.sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(Err(Error::from(e))),
            Ok(None) => match self.sock.peer_addr() {
                Ok(_) => Some(Ok(())),
                Err(e) if e.kind() == ErrorKind::NotConnected => None,
                Err(e) => Some(Err(Error::from(e))),
            },
        };
        match outcome {
            None => {
                self.write.ready = false;
                None
            }
            Some(r) => {
                self.write.ready = true;
                self.connect = match r {
                    Ok(()) => Connect::Done,
                    Err(e) => Connect::Failed(e),
                };
                timer
            }
        }
    }

    /// The connect's timeout passed (its timer is gone already).
    pub(crate) fn connect_timed_out(&mut self) {
        if let Connect::InProgress(_) = self.connect {
            self.write.ready = true;
            self.connect = Connect::Failed(Error::Timeout);
        }
    }
}

/// The TCP streams of one loop.
pub(crate) struct Streams<'s> {
    pool: Pool<'s, StreamEntry>,
}

impl<'s> Streams<'s> {
    pool_accessors!(StreamEntry: len, capacity, get, get_mut, contains, handle_at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<StreamEntry>], loop_id: u8) -> Self {
        Streams {
            pool: Pool::new(
                slots,
                ResourceType::TcpStream,
                loop_id,
                Capacity::TcpStreams,
            ),
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.pool.len() == self.pool.capacity()
    }

    /// Takes over a connected (`connecting == false`) or connecting socket and registers it.
    pub(crate) fn open(
        &mut self,
        sock: mio::net::TcpStream,
        connecting: bool,
        backend: &Backend,
    ) -> Result<RawHandle> {
        let h = self
            .pool
            .insert(StreamEntry::new(sock, connecting))
            .map_err(|(_, e)| e)?;
        let interest = if connecting {
            Interest::ReadWrite
        } else {
            Interest::Read
        };
        let registered = match self.pool.get_mut(h) {
            Ok(s) => backend.register(&mut s.sock, h, interest),
            Err(_) => Ok(()),
        };
        if let Err(e) = registered {
            let _ = self.pool.remove(h);
            return Err(e.into());
        }
        Ok(h)
    }

    /// Deregisters and closes stream `h`; `Some(connect timer)` if it was open (the timer of
    /// a connect still in progress is the caller's to free).
    pub(crate) fn close(
        &mut self,
        h: RawHandle,
        backend: &Backend,
        bufs: &mut Buffers<'_>,
    ) -> Option<Option<RawHandle>> {
        if !self.pool.contains(h) {
            return None;
        }
        self.unpark(h.slot(), bufs);
        let mut s = self.pool.remove(h).ok()?;
        super::ring::orphan(h, &mut s, backend, bufs);
        bufs.drop_stream(h, &mut s.bufs);
        let _ = backend.deregister(&mut s.sock);
        Some(match s.connect {
            Connect::InProgress(timer) => timer,
            _ => None,
        })
    }

    /// The slot of stream `h`, validated once (one compare).
    #[inline]
    pub(crate) fn index_of(&self, h: RawHandle) -> Result<usize> {
        self.pool.index_of(h)
    }

    /// The stream in slot `i` (from [`index_of`](Self::index_of)).
    #[inline]
    pub(crate) fn at_mut(&mut self, i: usize) -> Option<&mut StreamEntry> {
        self.pool.at_mut(i)
    }

    /// The handles of the streams and their ring operations (for cancelling them all).
    pub(crate) fn ring_ops(&self) -> impl Iterator<Item = (RawHandle, RingOps, u32)> + '_ {
        self.pool
            .iter()
            .map(|(h, s)| (h, s.ring, s.bufs.send_front()))
    }

    /// The receive buffers the streams hold (for moving the pool's memory).
    pub(crate) fn receive_buffers(&self) -> impl Iterator<Item = &super::buffers::Rx> + '_ {
        self.pool.iter().map(|(_, s)| &s.bufs.rx)
    }

    /// Pauses the reads of stream slot `i` for `why`: a pause for want of a chunk joins the
    /// pool's queue of paused streams (at its end); a pause at the stream's cap waits for one
    /// of its own buffers. Pausing a paused stream changes nothing.
    pub(crate) fn park(&mut self, i: u32, why: Park, large: bool, bufs: &mut Buffers<'_>) {
        let tail = bufs.parked_tail;
        let Some(s) = self.pool.at_mut(i as usize) else {
            return;
        };
        if s.bufs.park != Park::No {
            return;
        }
        bufs.count_pause(why);
        s.bufs.park = why;
        s.read.parked = true;
        if why != Park::Pool {
            return;
        }
        s.bufs.want_large = large;
        bufs.parked_large += u32::from(large);
        s.bufs.park_prev = tail;
        s.bufs.park_next = NIL;
        if tail == NIL {
            bufs.parked_head = i;
        } else if let Some(t) = self.pool.at_mut(tail as usize) {
            t.bufs.park_next = i;
        }
        bufs.parked_tail = i;
        bufs.parked += 1;
    }

    /// Lets the reads of stream slot `i` go on (taking it off the pool's queue if it is
    /// there). Returns whether it was paused.
    pub(crate) fn unpark(&mut self, i: u32, bufs: &mut Buffers<'_>) -> bool {
        let Some(s) = self.pool.at_mut(i as usize) else {
            return false;
        };
        let why = s.bufs.park;
        if why == Park::No {
            return false;
        }
        s.bufs.park = Park::No;
        s.read.parked = false;
        if why != Park::Pool {
            return true;
        }
        let (prev, next) = (s.bufs.park_prev, s.bufs.park_next);
        s.bufs.park_prev = NIL;
        s.bufs.park_next = NIL;
        bufs.parked_large -= u32::from(s.bufs.want_large);
        if prev == NIL {
            bufs.parked_head = next;
        } else if let Some(p) = self.pool.at_mut(prev as usize) {
            p.bufs.park_next = next;
        }
        if next == NIL {
            bufs.parked_tail = prev;
        } else if let Some(n) = self.pool.at_mut(next as usize) {
            n.bufs.park_prev = prev;
        }
        bufs.parked -= 1;
        true
    }
}
