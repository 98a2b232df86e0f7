//! One served connection: a protothread that reads request frames, answers each from the
//! data model in order, and writes the answers back.

use core::net::{Ipv4Addr, SocketAddr};
use core::task::Poll;

use ptk_runtime::{Cx, Error, Handle, Pt, TcpStream};

use super::answer::{answer, Scratch};
use super::{ConnectionEvent, DataModel, Server};
use crate::limits::MAX_FRAME_LEN;
use crate::Frame;

/// Bytes of requests buffered per connection: a pipelining client gets several requests
/// answered per read.
const RX_LEN: usize = 4 * MAX_FRAME_LEN;
/// Bytes of answers buffered per connection before they are written out.
const TX_LEN: usize = 4 * MAX_FRAME_LEN;

/// The context of one connection's protothread; the server makes `max_connections` of them
/// at start-up and reuses them.
pub(crate) struct Connection<M: 'static> {
    pt: Pt,
    server: Option<Server<M>>,
    stream: Option<Handle<TcpStream>>,
    peer: SocketAddr,
    rx: [u8; RX_LEN],
    rx_len: usize,
    tx: [u8; TX_LEN],
    tx_len: usize,
    written: usize,
    idle_at: Option<u64>,
    requests: u64,
    /// Why the connection must close once the answers before it are written.
    closing: Option<Error>,
    scratch: Scratch,
}

impl<M: 'static> Connection<M> {
    pub(crate) fn new() -> Connection<M> {
        Connection {
            pt: Pt::new(),
            server: None,
            stream: None,
            peer: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            rx: [0; RX_LEN],
            rx_len: 0,
            tx: [0; TX_LEN],
            tx_len: 0,
            written: 0,
            idle_at: None,
            requests: 0,
            closing: None,
            scratch: Scratch::new(),
        }
    }

    /// Sets a reused context up for a new connection.
    pub(crate) fn open(&mut self, server: Server<M>, stream: Handle<TcpStream>, peer: SocketAddr) {
        self.server = Some(server);
        self.stream = Some(stream);
        self.peer = peer;
        self.rx_len = 0;
        self.tx_len = 0;
        self.written = 0;
        self.idle_at = None;
        self.requests = 0;
        self.closing = None;
    }

    fn stream(&self) -> Result<Handle<TcpStream>, Error> {
        self.stream.ok_or(Error::InvalidHandle)
    }

    /// Moves the idle deadline to `idle_timeout_ms` from now.
    fn touch(&mut self, cx: &mut Cx<'_>) -> Result<(), Error> {
        let idle = self
            .server
            .as_ref()
            .and_then(|s| s.config().idle_timeout_ms);
        self.idle_at = idle.map(|ms| cx.after_ms(ms));
        cx.set_deadline(self.idle_at)
    }

    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let n = match cx.read(stream, &mut self.rx[self.rx_len..]) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        self.rx_len += n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match cx.write_all(stream, &self.tx[..self.tx_len], &mut self.written) {
            Poll::Ready(Ok(())) => {
                self.tx_len = 0;
                self.written = 0;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<M: DataModel + 'static> Connection<M> {
    /// Answers every complete request buffered, while the answers fit; a malformed frame sets
    /// `closing` and stops there.
    fn answer_buffered(&mut self, cx: &mut Cx<'_>) {
        // A reference count, not an allocation: frees `self` for the borrows below.
        let Some(server) = self.server.clone() else {
            self.closing = Some(Error::InvalidArgument);
            return;
        };
        let mut consumed = 0;
        let mut answered = 0;
        while self.closing.is_none() && TX_LEN - self.tx_len >= MAX_FRAME_LEN {
            let buffered = &self.rx[consumed..self.rx_len];
            let len = match Frame::check_len(buffered) {
                Ok(len) if len <= buffered.len() => len,
                Ok(_) | Err(crate::Error::Incomplete { .. }) => break,
                Err(e) => {
                    self.closing = Some(e.into());
                    break;
                }
            };
            let frame = Frame::new_unchecked(&buffered[..len]);
            let mut model = server.model();
            match answer(
                &mut *model,
                &server.config().units,
                &frame,
                &mut self.tx[self.tx_len..],
                &mut self.scratch,
            ) {
                Ok(n) => self.tx_len += n,
                Err(e) => self.closing = Some(e.into()),
            }
            consumed += len;
            answered += 1;
        }
        self.rx.copy_within(consumed..self.rx_len, 0);
        self.rx_len -= consumed;
        if answered > 0 {
            self.requests += answered;
            server.count_requests(answered);
            if let Err(e) = self.touch(cx) {
                self.closing.get_or_insert(e);
            }
        }
    }

    /// Closes the socket and reports why.
    fn close(&mut self, cx: &mut Cx<'_>, reason: Result<(), Error>) {
        let _ = cx.set_deadline(None);
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
        ctx.answer_buffered(cx);
        if ctx.tx_len > 0 {
            let flushed = pt_await!(ctx.poll_flush(cx));
            if let Err(e) = flushed {
                break Err(e);
            }
            continue;
        }
        if let Some(e) = ctx.closing {
            break Err(e);
        }
        let read = pt_await!(ctx.poll_read(cx));
        match read {
            Ok(0) if ctx.rx_len == 0 => break Ok(()),
            // The client closed in the middle of a frame.
            Ok(0) => break Err(Error::Closed),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    ctx.close(cx, ended);
    ended
}
