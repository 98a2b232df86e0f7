//! One served connection: a protothread that reads request frames into buffers of the loop's
//! pool, answers each from the data model in order, and hands the answers to the loop to send.
//!
//! # Buffers
//!
//! The context holds no buffer of its own, only handles: requests are read into a buffer the
//! loop lends ([`Cx::read_buf`]), kept while it holds requests not yet answered (a partial
//! frame, or pipelined requests the answer buffer had no room for) and given back once
//! everything in it is answered, so an idle connection holds no buffer. Answers are built in
//! a pool buffer and handed over with [`Cx::send_buf`]; the connection reads again only once
//! they are sent ([`Cx::poll_sent`]), as it did with its own buffers. When the last request in
//! the read buffer is also the first answered, that buffer takes the answers itself: the usual
//! request-answer exchange takes one buffer, not two.
//!
//! The request is copied out of the read buffer before it is answered (the pool lends one
//! buffer at a time), into the server's one [`Workspace`], which answering shares with the
//! model's scratch room.
//!
//! # When the pool runs short
//!
//! With fewer small buffers than two per connection, a read does not take the last free
//! buffer: were every buffer to hold requests, none would be left to answer them in. (With
//! two per connection the server alone cannot take them all, and the check, a call per read,
//! is skipped.) An answer that finds no buffer free (small, then large) waits for one. Both
//! look again every millisecond (the pool wakes only the reads it paused itself when a buffer
//! is freed) and end at the idle timeout like any other wait; a read that finds no buffer at
//! all is paused by the loop until one is freed.

use core::net::{Ipv4Addr, SocketAddr};
use core::task::Poll;

use ptk_runtime::{ptk_debug, ptk_info, ptk_warn, Buffer, Cx, Error, Handle, Pt, TcpStream};

use super::answer::{answer, Workspace};
use super::{ConnectionEvent, DataModel, Server};
use crate::limits::MAX_FRAME_LEN;
use crate::Frame;

/// The context of one connection's protothread; the server makes `max_connections` of them
/// at start-up and reuses them.
pub(crate) struct Connection<M: 'static> {
    pt: Pt,
    server: Option<Server<M>>,
    stream: Option<Handle<TcpStream>>,
    peer: SocketAddr,
    /// Request bytes not answered yet (never empty): a buffer lent by a read.
    rx: Option<Handle<Buffer>>,
    /// Answers built and not handed over yet.
    tx: Option<Handle<Buffer>>,
    /// When to look for a free buffer again, while waiting for one.
    retry_at: Option<u64>,
    /// The pool has fewer small buffers than two per connection: a read must leave the last
    /// free one for answers (see the module documentation).
    short_pool: bool,
    requests: u64,
    /// Why the connection must close once the answers before it are written.
    closing: Option<Error>,
}

impl<M: 'static> Connection<M> {
    pub(crate) fn new() -> Connection<M> {
        Connection {
            pt: Pt::new(),
            server: None,
            stream: None,
            peer: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            rx: None,
            tx: None,
            retry_at: None,
            short_pool: false,
            requests: 0,
            closing: None,
        }
    }

    /// Sets a reused context up for a new connection.
    pub(crate) fn open(
        &mut self,
        server: Server<M>,
        stream: Handle<TcpStream>,
        peer: SocketAddr,
        short_pool: bool,
    ) {
        self.server = Some(server);
        self.short_pool = short_pool;
        self.stream = Some(stream);
        self.peer = peer;
        self.rx = None;
        self.tx = None;
        self.retry_at = None;
        self.requests = 0;
        self.closing = None;
    }

    fn stream(&self) -> Result<Handle<TcpStream>, Error> {
        self.stream.ok_or(Error::InvalidHandle)
    }

    /// Moves the idle deadline to `idle_timeout_ms` from now.
    fn touch(&self, cx: &mut Cx<'_>) -> Result<(), Error> {
        let idle = self
            .server
            .as_ref()
            .and_then(|s| s.config().idle_timeout_ms);
        cx.set_deadline(idle.map(|ms| cx.after_ms(ms)))
    }

    /// Reads more requests: into a newly lent buffer when none is held, else after the
    /// partial frame held. `Ok(false)` at end-of-stream.
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<bool, Error>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let Some(rx) = self.rx else {
            // Taking the last free buffer for requests could leave every buffer holding
            // requests with none to answer them in: leave it for answers.
            while self.short_pool && last_buffer_free(cx) {
                match poll_retry(cx, &mut self.retry_at) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            return match cx.read_buf(stream) {
                Poll::Ready(Ok(Some(b))) => {
                    self.rx = Some(b);
                    Poll::Ready(Ok(true))
                }
                Poll::Ready(Ok(None)) => Poll::Ready(Ok(false)),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            };
        };
        // The front frame is partial (complete ones were answered): room for all of it.
        let need = match cx.buf(rx).map(front) {
            Ok(Ok(Front::Request(len) | Front::Partial(len))) => len,
            Ok(Err(e)) => {
                malformed(self.peer, e);
                if let Some(server) = &self.server {
                    server.count_broken_frame();
                }
                return Poll::Ready(Err(e.into()));
            }
            Err(e) => return Poll::Ready(Err(e)),
        };
        match cx.read_more(stream, rx, need) {
            Poll::Ready(Ok(n)) => Poll::Ready(Ok(n > 0)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Hands the answers built over to the loop, then waits until everything handed over is
    /// sent.
    fn poll_send(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Some(tx) = self.tx.take() {
            if let Err(e) = cx.send_buf(stream, tx) {
                let _ = cx.buf_release(tx);
                return Poll::Ready(Err(e));
            }
        }
        cx.poll_sent(stream)
    }

    /// Gives back the buffers held.
    fn release(&mut self, cx: &mut Cx<'_>) {
        for b in [self.rx.take(), self.tx.take()].into_iter().flatten() {
            let _ = cx.buf_release(b);
        }
    }
}

/// What the front of a connection's unanswered request bytes holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// A whole request frame of this many bytes.
    Request(usize),
    /// The start of a frame that takes this many bytes in all.
    Partial(usize),
}

/// What the front of `bytes` holds: how a connection splits its byte stream into requests.
/// `Err` for a header that cannot be trusted (protocol id not 0, length field out of range):
/// the stream cannot be resynchronised, the connection closes.
pub fn front(bytes: &[u8]) -> Result<Front, crate::Error> {
    match Frame::check_len(bytes) {
        Ok(len) if len <= bytes.len() => Ok(Front::Request(len)),
        Ok(len) => Ok(Front::Partial(len)),
        Err(crate::Error::Incomplete { needed }) => Ok(Front::Partial(needed)),
        Err(e) => Err(e),
    }
}

/// Waits a millisecond, for buffers to be freed meanwhile (`retry_at` keeps when): `Ready(Ok)`
/// when it has (look again), the idle timeout as for any wait. Only for a read that leaves the
/// last free buffer to answers, in a pool with fewer than two buffers per connection: the
/// pool wakes waiters when a buffer they can take is free, not when a second one is, so such
/// a read looks again every millisecond; without a timer slot for that, after the next event
/// of the loop.
#[cold]
#[inline(never)]
fn poll_retry(cx: &mut Cx<'_>, retry_at: &mut Option<u64>) -> Poll<Result<(), Error>> {
    let at = match *retry_at {
        Some(at) => at,
        None => *retry_at.insert(cx.now_ms() + 1),
    };
    match cx.sleep_until(at) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Ok(())) => {
            *retry_at = None;
            Poll::Ready(Ok(()))
        }
        Poll::Ready(Err(Error::Timeout)) => {
            *retry_at = None;
            Poll::Ready(Err(Error::Timeout))
        }
        // No timer slot: polled again after the next event, having registered nothing.
        Poll::Ready(Err(_)) => Poll::Pending,
    }
}

/// A buffer for answers (a small one, or a large one when no small one is free), waiting for
/// one when none is free: the stream then waits in the pool's queue, and this protothread is
/// resumed when a buffer is free for it.
fn poll_answer_buffer(
    cx: &mut Cx<'_>,
    stream: Handle<TcpStream>,
) -> Poll<Result<Handle<Buffer>, Error>> {
    if let Ok(b) = cx.buf_alloc(MAX_FRAME_LEN) {
        return Poll::Ready(Ok(b));
    }
    if let Some(b) = large_answer_buffer(cx) {
        return Poll::Ready(Ok(b));
    }
    cx.poll_buf_alloc(stream, MAX_FRAME_LEN)
}

/// A large buffer for answers, when no small one is free (`None` if there is none either).
#[cold]
#[inline(never)]
fn large_answer_buffer(cx: &mut Cx<'_>) -> Option<Handle<Buffer>> {
    let pool = cx.buffer_stats();
    if pool.large_capacity > pool.large_in_use && pool.large_size > pool.small_size {
        cx.buf_alloc(pool.large_size).ok()
    } else {
        None
    }
}

/// Whether one buffer is free for requests and answers alike: a small one, no large one.
/// (None free: a read waits by itself, first come first served, until one is.)
#[inline]
fn last_buffer_free(cx: &Cx<'_>) -> bool {
    let pool = cx.buffer_stats();
    pool.small_in_use + 1 == pool.small_capacity && pool.large_in_use == pool.large_capacity
}

impl<M: DataModel + 'static> Connection<M> {
    /// Answers every complete request buffered, while the answers fit one buffer; a malformed
    /// frame sets `closing` and stops there. `Pending`, with nothing done, while the answers
    /// wait for a free buffer.
    fn poll_answer(&mut self, cx: &mut Cx<'_>) -> Poll<()> {
        let Some(rx) = self.rx else {
            return Poll::Ready(());
        };
        // A reference count, not an allocation: frees `self` for the borrows below.
        let Some(server) = self.server.clone() else {
            self.closing = Some(Error::InvalidArgument);
            return Poll::Ready(());
        };
        let mut work = server.workspace();
        let Workspace {
            request,
            scratch,
            counters,
        } = &mut *work;
        let units = &server.config().units;
        let mut answered = 0;
        // Room left in `tx` (none is held on entry: answers are sent as soon as built).
        let mut room = 0;
        while self.closing.is_none() && (self.tx.is_none() || room >= MAX_FRAME_LEN) {
            // The front frame, if complete, copied out of the read buffer.
            let mut v = match cx.buf_mut(rx) {
                Ok(v) => v,
                Err(e) => {
                    self.closing = Some(e);
                    break;
                }
            };
            let bytes = v.as_slice();
            let len = match front(bytes) {
                Ok(Front::Request(len)) => len,
                Ok(Front::Partial(_)) => break,
                Err(e) => {
                    malformed(self.peer, e);
                    counters.broken_frame();
                    self.closing = Some(e.into());
                    break;
                }
            };
            request[..len].copy_from_slice(&bytes[..len]);
            let last = len == bytes.len();
            let frame = Frame::new_unchecked(&request[..len]);
            if last && self.tx.is_none() {
                // The request was all the read buffer held: the buffer takes its answer.
                v.clear();
                let model = &mut *server.model();
                let written = match answer(model, units, &frame, v.spare_mut(), scratch, counters) {
                    Ok(n) => v.advance(n),
                    Err(e) => Err(e.into()),
                };
                if let Err(e) = written {
                    self.closing = Some(e);
                }
                self.rx = None;
                self.tx = Some(rx);
                answered += 1;
                break;
            }
            let tx = match self.tx {
                Some(tx) => tx,
                // Nothing is answered yet (answers go to `tx`) when this waits.
                None => match self.stream().map(|stream| poll_answer_buffer(cx, stream)) {
                    Err(e) => {
                        self.closing = Some(e);
                        break;
                    }
                    Ok(Poll::Ready(Ok(b))) => {
                        self.tx = Some(b);
                        b
                    }
                    Ok(Poll::Ready(Err(e))) => {
                        self.closing = Some(e);
                        break;
                    }
                    Ok(Poll::Pending) => return Poll::Pending,
                },
            };
            let written = match cx.buf_mut(tx) {
                Ok(mut v) => {
                    let model = &mut *server.model();
                    let r = answer(model, units, &frame, v.spare_mut(), scratch, counters);
                    let r = match r {
                        Ok(n) => v.advance(n),
                        Err(e) => Err(e.into()),
                    };
                    room = v.capacity() - v.len();
                    r
                }
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                self.closing = Some(e);
            }
            answered += 1;
            if last {
                // Everything in the read buffer is answered: give it back.
                let _ = cx.buf_release(rx);
                self.rx = None;
                break;
            }
            match cx.buf_mut(rx) {
                Ok(mut v) => v.consume(len),
                Err(e) => {
                    self.closing = Some(e);
                    break;
                }
            }
        }
        drop(work);
        if answered > 0 {
            self.requests += answered;
            server.count_requests(answered);
            if let Err(e) = self.touch(cx) {
                self.closing.get_or_insert(e);
            }
        }
        Poll::Ready(())
    }

    /// Gives the buffers back, closes the socket and reports why.
    fn close(&mut self, cx: &mut Cx<'_>, reason: Result<(), Error>) {
        self.log_close(reason);
        let _ = cx.set_deadline(None);
        self.release(cx);
        if let Some(stream) = self.stream.take() {
            let _ = cx.close(stream.raw());
            if let Some(server) = self.server.take() {
                server.closed(&ConnectionEvent::Closed {
                    stream,
                    peer: self.peer,
                    requests: self.requests,
                    reason,
                });
            }
        }
    }
}

impl<M: 'static> Connection<M> {
    /// Why the connection closes, for the operator: a protocol error was logged where it was
    /// found (with the violation), an idle timeout and a frame cut short are worth a line,
    /// the rest is routine.
    fn log_close(&self, reason: Result<(), Error>) {
        let peer = self.peer;
        let requests = self.requests;
        match reason {
            Ok(()) => ptk_debug!("modbus server: {peer} closed after {requests} requests"),
            Err(Error::ProtocolError | Error::MessageTooLarge) => {}
            Err(Error::Timeout) => ptk_info!(
                "modbus server: closing the connection from {peer}: idle for {} ms, after \
                 {requests} requests",
                self.server
                    .as_ref()
                    .and_then(|s| s.config().idle_timeout_ms)
                    .unwrap_or(0)
            ),
            Err(Error::Closed) => ptk_info!(
                "modbus server: {peer} closed the connection in the middle of a frame, after \
                 {requests} requests"
            ),
            Err(e) => ptk_debug!(
                "modbus server: closing the connection from {peer} after {requests} requests: \
                 {e}"
            ),
        }
    }
}

/// A frame whose header cannot be trusted: the connection closes (once the answers before it
/// are sent), and the operator hears which peer sent what.
#[cold]
#[inline(never)]
fn malformed(peer: SocketAddr, e: crate::Error) {
    ptk_warn!("modbus server: closing the connection from {peer}: {e}");
}

/// Serves one connection until the client closes it, it idles past the timeout, or it sends a
/// malformed frame (answers to the requests before that frame are still written).
#[ptk_macros::protothread(crate = ::ptk_runtime)]
pub(crate) fn serve_connection<M: DataModel + 'static>(
    ctx: &mut Connection<M>,
    cx: &mut Cx<'_>,
) -> Result<(), Error> {
    if let Some(stream) = ctx.stream {
        let _ = cx.set_nodelay(stream, true);
    }
    if let Err(e) = ctx.touch(cx) {
        ctx.closing = Some(e);
    }
    let ended: Result<(), Error> = loop {
        pt_await!(ctx.poll_answer(cx));
        if ctx.tx.is_some() {
            let sent = pt_await!(ctx.poll_send(cx));
            if let Err(e) = sent {
                break Err(e);
            }
            continue;
        }
        if let Some(e) = ctx.closing {
            break Err(e);
        }
        let read = pt_await!(ctx.poll_read(cx));
        match read {
            Ok(true) => {}
            Ok(false) if ctx.rx.is_none() => break Ok(()),
            // The client closed in the middle of a frame.
            Ok(false) => break Err(Error::Closed),
            Err(e) => break Err(e),
        }
    };
    ctx.close(cx, ended);
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::MemoryModel;

    /// The context of a connection holds handles and counters, no buffer: 96 bytes on a
    /// 64-bit target (4,688 with its own receive and send buffers and scratch room).
    #[test]
    fn a_connection_context_is_small() {
        let size = core::mem::size_of::<Connection<MemoryModel>>();
        println!("size_of::<Connection<M>>() = {size}");
        assert!(size <= 128, "{size} bytes");
    }
}
