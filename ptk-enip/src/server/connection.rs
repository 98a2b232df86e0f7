//! One served connection: a protothread that reads encapsulation packets into the
//! connection's receive buffer, answers each in a pool buffer, and hands the reply to the
//! loop to send before it looks at the next packet.
//!
//! When the packet is all the receive buffer holds (clients wait for each reply, so this is
//! the usual case), that buffer takes the reply: an exchange holds one buffer, and never
//! waits for a second while holding the first. Otherwise (a client that pipelines) the reply
//! gets a buffer of its own, waiting for one when none is free.
//!
//! The packet is copied into the server's one request buffer before it is answered (a
//! packet and the reply replacing it cannot be borrowed at once); nothing waits between the
//! copy and the answer, so the connections share that buffer.

use core::net::{Ipv4Addr, SocketAddr};
use core::task::Poll;

use ptk_runtime::{ptk_debug, ptk_info, ptk_warn, Buffer, Cx, Error, Handle, Pt, TcpStream};

use super::session::{Context, Outcome, Session};
use super::{ConnectionEvent, Server, TagTable, REPLY_BUFFER_LEN};
use crate::limits::ENCAP_HEADER_LEN;
use crate::{EncapStatus, Header, Packet};

/// The context of one connection's protothread; the server makes `max_connections` of them
/// at start-up and reuses them.
pub(crate) struct Connection<T: 'static> {
    pt: Pt,
    server: Option<Server<T>>,
    stream: Option<Handle<TcpStream>>,
    peer: SocketAddr,
    local: SocketAddr,
    session: Session,
    /// The reply being built or handed over.
    tx: Option<Handle<Buffer>>,
    /// `tx` is the buffer the packet was read into, taken out of the receive buffer: the
    /// packet is answered in place.
    in_place: bool,
    requests: u64,
    /// Why the connection closes once the reply built is sent.
    closing: Option<Result<(), Error>>,
}

/// What the front of the receive buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Front {
    /// A whole packet of this many bytes.
    Packet(usize),
    /// The start of a packet: read until this many bytes are buffered.
    Partial(usize),
    /// The header of a packet longer than the server takes.
    TooLong,
}

fn front(bytes: &[u8], max: usize) -> Front {
    match Packet::check_len(bytes) {
        Ok(len) if len > max => Front::TooLong,
        Ok(len) if len <= bytes.len() => Front::Packet(len),
        Ok(len) => Front::Partial(len),
        Err(crate::Error::Incomplete { needed }) => Front::Partial(needed),
        Err(_) => Front::TooLong,
    }
}

impl<T: 'static> Connection<T> {
    pub(crate) fn new() -> Connection<T> {
        let nowhere = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Connection {
            pt: Pt::new(),
            server: None,
            stream: None,
            peer: nowhere,
            local: nowhere,
            session: Session::default(),
            tx: None,
            in_place: false,
            requests: 0,
            closing: None,
        }
    }

    /// Sets a reused context up for a new connection.
    pub(crate) fn open(
        &mut self,
        server: Server<T>,
        stream: Handle<TcpStream>,
        peer: SocketAddr,
        local: SocketAddr,
    ) {
        self.server = Some(server);
        self.stream = Some(stream);
        self.peer = peer;
        self.local = local;
        self.session = Session::default();
        self.tx = None;
        self.in_place = false;
        self.requests = 0;
        self.closing = None;
    }

    fn stream(&self) -> Result<Handle<TcpStream>, Error> {
        self.stream.ok_or(Error::InvalidHandle)
    }

    fn max_packet_len(&self) -> usize {
        self.server
            .as_ref()
            .map_or(0, |s| s.config().max_packet_len)
    }

    /// Moves the idle deadline to `idle_timeout_ms` from now.
    fn touch(&self, cx: &mut Cx<'_>) -> Result<(), Error> {
        let idle = self
            .server
            .as_ref()
            .and_then(|s| s.config().idle_timeout_ms);
        cx.set_deadline(idle.map(|ms| cx.after_ms(ms)))
    }

    /// Reads until a whole packet (or the header of one too long) is buffered: `Ok(true)`;
    /// `Ok(false)` when the client closed between packets.
    fn poll_packet(&mut self, cx: &mut Cx<'_>) -> Poll<Result<bool, Error>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let max = self.max_packet_len();
        loop {
            let (need, empty) = match cx.rx(stream) {
                Ok(bytes) => match front(bytes, max) {
                    Front::Packet(_) | Front::TooLong => return Poll::Ready(Ok(true)),
                    Front::Partial(need) => (need, bytes.is_empty()),
                },
                Err(e) => return Poll::Ready(Err(e)),
            };
            match cx.rx_read(stream, need) {
                Poll::Ready(Ok(0)) if empty => return Poll::Ready(Ok(false)),
                // The client closed in the middle of a packet.
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// A pool buffer for the reply: the one the packet was read into when the packet is
    /// all it holds (the usual exchange takes one buffer, and a connection never waits for a
    /// second one while holding the first), else a new one, waiting for one when none is
    /// free.
    fn poll_reply_buffer(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        if self.tx.is_some() {
            return Poll::Ready(Ok(()));
        }
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let whole = match cx.rx(stream) {
            Ok(bytes) => match front(bytes, self.max_packet_len()) {
                Front::Packet(len) if len == bytes.len() => Some(len),
                _ => None,
            },
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Some(len) = whole {
            if let Ok(b) = cx.rx_take(stream, len) {
                self.tx = Some(b);
                self.in_place = true;
                return Poll::Ready(Ok(()));
            }
        }
        let got = match cx.buf_alloc(REPLY_BUFFER_LEN) {
            Ok(b) => Poll::Ready(Ok(b)),
            Err(_) => cx.poll_buf_alloc(stream, REPLY_BUFFER_LEN),
        };
        match got {
            Poll::Ready(Ok(b)) => {
                self.tx = Some(b);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Hands the reply over to the loop (an empty one is simply freed), then waits until it
    /// is sent.
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

    /// Gives back the reply buffer, closes the socket and reports why.
    fn close(&mut self, cx: &mut Cx<'_>, reason: Result<(), Error>) {
        self.log_close(reason);
        let _ = cx.set_deadline(None);
        if let Some(tx) = self.tx.take() {
            let _ = cx.buf_release(tx);
        }
        self.in_place = false;
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

    /// Why the connection closes, for the operator.
    fn log_close(&self, reason: Result<(), Error>) {
        let peer = self.peer;
        let requests = self.requests;
        match reason {
            Ok(()) => ptk_debug!("enip server: {peer} closed after {requests} packets"),
            // Logged where it was found, with the packet's details.
            Err(Error::ProtocolError | Error::MessageTooLarge) => {}
            Err(Error::Timeout) => ptk_info!(
                "enip server: closing the connection from {peer}: idle for {} ms, after \
                 {requests} packets",
                self.server
                    .as_ref()
                    .and_then(|s| s.config().idle_timeout_ms)
                    .unwrap_or(0)
            ),
            Err(Error::Closed) => ptk_info!(
                "enip server: {peer} closed the connection in the middle of a packet, after \
                 {requests} packets"
            ),
            Err(e) => ptk_debug!(
                "enip server: closing the connection from {peer} after {requests} packets: {e}"
            ),
        }
    }
}

impl<T: TagTable + 'static> Connection<T> {
    /// Answers the packet at the front of the receive buffer into the reply buffer and
    /// consumes it; sets `closing` when the connection must close after the reply.
    fn answer(&mut self, cx: &mut Cx<'_>) {
        if let Err(e) = self.try_answer(cx) {
            self.closing = Some(Err(e));
        }
        if let Err(e) = self.touch(cx) {
            self.closing.get_or_insert(Err(e));
        }
    }

    fn try_answer(&mut self, cx: &mut Cx<'_>) -> Result<(), Error> {
        let stream = self.stream()?;
        let tx = self.tx.ok_or(Error::InvalidHandle)?;
        // A reference count, not an allocation: frees `self` for the borrows below.
        let server = self.server.clone().ok_or(Error::InvalidHandle)?;
        let shared = &*server.shared;
        let mut request = shared.request.borrow_mut();
        let in_place = core::mem::take(&mut self.in_place);
        let bytes = if in_place {
            cx.buf(tx)?
        } else {
            cx.rx(stream)?
        };
        let len = match front(bytes, shared.config.max_packet_len) {
            Front::Packet(len) if in_place => len,
            Front::Packet(len) => len,
            Front::TooLong => {
                let mut head = [0u8; ENCAP_HEADER_LEN];
                head.copy_from_slice(&bytes[..ENCAP_HEADER_LEN]);
                let header = Header::parse(&Packet::new_unchecked(&head[..]));
                ptk_warn!(
                    "enip server: closing the connection from {}: a packet of {} bytes \
                     (command {:?}) is longer than the {} taken",
                    self.peer,
                    Packet::new_unchecked(&head[..]).packet_len(),
                    header.command,
                    shared.config.max_packet_len
                );
                let mut v = cx.buf_mut(tx)?;
                v.clear();
                let n = header
                    .reply(EncapStatus::INVALID_LENGTH)
                    .emit(v.spare_mut(), 0)?;
                v.advance(n)?;
                self.closing = Some(Err(Error::MessageTooLarge));
                return Ok(());
            }
            Front::Partial(_) => return Err(Error::InvalidArgument),
        };
        request[..len].copy_from_slice(&bytes[..len]);
        if !in_place {
            cx.rx_consume(stream, len)?;
        }
        self.requests += 1;
        let mut tags = shared.tags.borrow_mut();
        let mut context = Context {
            tags: &mut *tags,
            config: &shared.config,
            ids: &shared.ids,
            session: &mut self.session,
            local: self.local,
            counts: Default::default(),
        };
        let mut v = cx.buf_mut(tx)?;
        v.clear();
        let outcome = context.answer(&request[..len], v.spare_mut());
        let counts = context.counts;
        match outcome {
            Outcome::Reply(n) => v.advance(n)?,
            Outcome::Silent => {}
            Outcome::Close(reason) => {
                if let Err(e) = reason {
                    ptk_warn!(
                        "enip server: closing the connection from {}: SendUnitData on a \
                         connection its session does not hold",
                        self.peer
                    );
                    self.closing = Some(Err(e));
                } else {
                    self.closing = Some(Ok(()));
                }
            }
        }
        server.update(|s| {
            s.requests += 1;
            s.cip_requests += counts.cip;
            s.embedded_requests += counts.embedded;
        });
        Ok(())
    }
}

/// Serves one connection until the client closes it or unregisters its session, it idles
/// past the timeout, or it sends a packet the stream cannot go on after.
#[ptk_macros::protothread(crate = ::ptk_runtime)]
pub(crate) fn serve_connection<T: TagTable + 'static>(
    ctx: &mut Connection<T>,
    cx: &mut Cx<'_>,
) -> Result<(), Error> {
    if let Some(stream) = ctx.stream {
        let _ = cx.set_nodelay(stream, true);
    }
    if let Err(e) = ctx.touch(cx) {
        ctx.closing = Some(Err(e));
    }
    let ended: Result<(), Error> = loop {
        if let Some(reason) = ctx.closing.take() {
            break reason;
        }
        let got = pt_await!(ctx.poll_packet(cx));
        match got {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
        let buffer = pt_await!(ctx.poll_reply_buffer(cx));
        if let Err(e) = buffer {
            break Err(e);
        }
        ctx.answer(cx);
        let sent = pt_await!(ctx.poll_send(cx));
        if let Err(e) = sent {
            break Err(e);
        }
    };
    ctx.close(cx, ended);
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::MemoryTags;

    #[test]
    fn a_connection_context_is_small() {
        let size = core::mem::size_of::<Connection<MemoryTags>>();
        println!("size_of::<Connection<T>>() = {size}");
        assert!(size <= 512, "{size} bytes");
    }

    #[test]
    fn the_front_of_a_stream_is_split_into_packets() {
        let mut bytes = [0u8; 30];
        bytes[2] = 4;
        assert_eq!(front(&bytes[..10], 100), Front::Partial(24));
        assert_eq!(front(&bytes[..26], 100), Front::Partial(28));
        assert_eq!(front(&bytes, 100), Front::Packet(28));
        assert_eq!(front(&bytes, 27), Front::TooLong);
        bytes[2] = 0xFF;
        bytes[3] = 0xFF;
        assert_eq!(front(&bytes, usize::MAX), Front::TooLong);
    }
}
