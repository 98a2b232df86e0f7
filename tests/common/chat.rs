//! A framed chat server as protothreads: every frame a client sends goes to every other
//! client.
//!
//! Each connection has two protothreads, because a protothread waits on one thing at a time:
//! a reader that takes frames off the socket and queues them into every other peer's outbox,
//! and a writer that sleeps on its peer's semaphore and flushes the outbox to the socket. The
//! outboxes are bounded. A peer whose outbox is full when a frame arrives for it has stopped
//! reading: it is dropped (its protothreads killed, its socket closed) so that it cannot hold
//! anyone else back.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;

use ptk::{
    kind, protothread, Cx, Error, EventLoop, FrameReader, FrameWriter, Handle, ListenOptions, Pt,
    PtPool, Semaphore, TcpListener, TcpStream, HEADER_LEN,
};

/// Largest payload a client may send.
pub const MAX_FRAME: usize = 1024;
const IN_BUF: usize = MAX_FRAME + HEADER_LEN;
/// Bytes a peer's outbox holds before the peer counts as not reading.
pub const OUTBOX: usize = 8 * 1024;

type PtHandle = Handle<kind::Protothread>;

struct Peer {
    stream: Option<Handle<TcpStream>>,
    outbox: FrameWriter<OUTBOX>,
    wake: Handle<Semaphore>,
    reader: Option<PtHandle>,
    writer: Option<PtHandle>,
}

/// The peers and what happened to them.
pub struct Hub {
    peers: Vec<Peer>,
    /// Peers that joined.
    pub joined: usize,
    /// Connections refused because every peer slot was taken.
    pub refused: usize,
    /// Frames received from clients.
    pub received: usize,
    /// Frames queued for delivery (one per receiving peer).
    pub queued: usize,
    /// The slots of the peers dropped for not reading, in order.
    pub dropped: Vec<usize>,
    /// Peers that left by closing (or failing) on their own.
    pub left: usize,
}

impl Hub {
    /// The slot of a connected peer by its server-side stream.
    pub fn slot_of(&self, stream: Handle<TcpStream>) -> Option<usize> {
        self.peers.iter().position(|p| p.stream == Some(stream))
    }

    /// The reader and writer protothreads of slot `k` (as last spawned).
    pub fn protothreads(&self, k: usize) -> (Option<PtHandle>, Option<PtHandle>) {
        (self.peers[k].reader, self.peers[k].writer)
    }

    /// How many peers are connected now.
    pub fn connected(&self) -> usize {
        self.peers.iter().filter(|p| p.stream.is_some()).count()
    }

    fn join(&mut self, stream: Handle<TcpStream>) -> Option<usize> {
        let k = self.peers.iter().position(|p| p.stream.is_none())?;
        let p = &mut self.peers[k];
        p.stream = Some(stream);
        p.outbox.clear();
        p.reader = None;
        p.writer = None;
        self.joined += 1;
        Some(k)
    }

    /// Queues `payload` for every peer but `from`, dropping those with a full outbox.
    fn broadcast(&mut self, cx: &mut Cx<'_>, from: usize, payload: &[u8]) {
        self.received += 1;
        for k in 0..self.peers.len() {
            let p = &mut self.peers[k];
            if k == from || p.stream.is_none() {
                continue;
            }
            let was_empty = p.outbox.is_empty();
            match p.outbox.push(payload) {
                Ok(()) => {
                    self.queued += 1;
                    if was_empty {
                        // A writer with queued bytes is flushing or already holds a unit.
                        let _ = cx.sem_signal(p.wake);
                    }
                }
                Err(_) => {
                    self.dropped.push(k);
                    self.disconnect(cx, k);
                }
            }
        }
    }

    /// Ends both protothreads of slot `k` (except the one running now) and closes its socket.
    fn disconnect(&mut self, cx: &mut Cx<'_>, k: usize) {
        let p = &mut self.peers[k];
        for pt in [p.reader.take(), p.writer.take()].into_iter().flatten() {
            if cx.current() != Some(pt) {
                // It may have ended already (a writer whose socket failed): not an error.
                let _ = cx.kill(pt);
            }
        }
        if let Some(stream) = p.stream.take() {
            let _ = cx.close(stream.raw());
        }
        p.outbox.clear();
    }
}

/// Takes frames off one peer's socket and hands them to the hub.
pub struct ChatReader {
    pt: Pt,
    me: usize,
    stream: Option<Handle<TcpStream>>,
    reader: FrameReader<IN_BUF>,
    hub: Rc<RefCell<Hub>>,
}

impl ChatReader {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.reader.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn chat_read(ctx: &mut ChatReader, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        ctx.hub
            .borrow_mut()
            .broadcast(cx, ctx.me, ctx.reader.frame());
        ctx.reader.consume();
    };
    let mut hub = ctx.hub.borrow_mut();
    hub.left += 1;
    hub.disconnect(cx, ctx.me);
    ended
}

/// Flushes one peer's outbox whenever the hub queues something for it.
pub struct ChatWriter {
    pt: Pt,
    me: usize,
    stream: Option<Handle<TcpStream>>,
    wake: Option<Handle<Semaphore>>,
    hub: Rc<RefCell<Hub>>,
}

impl ChatWriter {
    fn poll_wake(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.wake {
            Some(sem) => cx.sem_wait(sem),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn poll_flush(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(stream) => self.hub.borrow_mut().peers[self.me]
                .outbox
                .poll_flush(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn chat_write(ctx: &mut ChatWriter, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        pt_await!(ctx.poll_wake(cx))?;
        pt_await!(ctx.poll_flush(cx))?;
    }
}

/// Accepts connections and gives each a reader and a writer.
pub struct ChatAcceptor {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    readers: Option<PtPool<ChatReader>>,
    writers: Option<PtPool<ChatWriter>>,
    send_buffer: Option<usize>,
    hub: Rc<RefCell<Hub>>,
}

impl ChatAcceptor {
    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr), Error>> {
        match self.listener {
            Some(listener) => cx.accept(listener),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Spawns the two protothreads of a peer that joined in slot `k`.
    fn spawn_peer(&mut self, cx: &mut Cx<'_>, k: usize, stream: Handle<TcpStream>) -> bool {
        let (Some(readers), Some(writers)) = (self.readers, self.writers) else {
            return false;
        };
        if let Some(bytes) = self.send_buffer {
            let _ = cx.set_send_buffer_size(stream.raw(), bytes);
        }
        let wake = self.hub.borrow().peers[k].wake;
        let reader = cx.spawn_with(readers, |r: &mut ChatReader| {
            r.me = k;
            r.stream = Some(stream);
            r.reader.clear();
        });
        let writer = cx.spawn_with(writers, |w: &mut ChatWriter| {
            w.me = k;
            w.stream = Some(stream);
            w.wake = Some(wake);
        });
        let mut hub = self.hub.borrow_mut();
        hub.peers[k].reader = reader.ok();
        hub.peers[k].writer = writer.ok();
        if reader.is_err() || writer.is_err() {
            hub.disconnect(cx, k);
            return false;
        }
        true
    }
}

#[protothread]
fn chat_accept(ctx: &mut ChatAcceptor, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(Error::OutOfResources(_)) => continue,
            Err(e) => return Err(e),
        };
        let joined = ctx.hub.borrow_mut().join(stream);
        let spawned = match joined {
            Some(k) => ctx.spawn_peer(cx, k, stream),
            None => {
                let _ = cx.close(stream.raw());
                false
            }
        };
        if !spawned {
            ctx.hub.borrow_mut().refused += 1;
        }
    }
}

/// The contexts of a chat server with room for `peers` clients, made once.
pub struct ChatMemory {
    pub hub: Rc<RefCell<Hub>>,
    readers: Vec<ChatReader>,
    writers: Vec<ChatWriter>,
    acceptor: [ChatAcceptor; 1],
}

/// A running chat server.
pub struct ChatServer {
    pub addr: SocketAddr,
    pub hub: Rc<RefCell<Hub>>,
    pub acceptor: PtHandle,
}

impl ChatMemory {
    /// Room for `peers` clients; with `send_buffer`, every accepted socket gets that
    /// `SO_SNDBUF` (small buffers make a peer that does not read show up sooner).
    pub fn new(peers: usize, send_buffer: Option<usize>) -> ChatMemory {
        let hub = Rc::new(RefCell::new(Hub {
            peers: Vec::with_capacity(peers),
            joined: 0,
            refused: 0,
            received: 0,
            queued: 0,
            dropped: Vec::new(),
            left: 0,
        }));
        let readers = (0..peers)
            .map(|_| ChatReader {
                pt: Pt::new(),
                me: 0,
                stream: None,
                reader: FrameReader::new(),
                hub: Rc::clone(&hub),
            })
            .collect();
        let writers = (0..peers)
            .map(|_| ChatWriter {
                pt: Pt::new(),
                me: 0,
                stream: None,
                wake: None,
                hub: Rc::clone(&hub),
            })
            .collect();
        let acceptor = [ChatAcceptor {
            pt: Pt::new(),
            listener: None,
            readers: None,
            writers: None,
            send_buffer,
            hub: Rc::clone(&hub),
        }];
        ChatMemory {
            hub,
            readers,
            writers,
            acceptor,
        }
    }

    /// Starts the server on an ephemeral loopback port of `ev` (one semaphore per peer).
    pub fn start<'s, A: 'static>(&'s mut self, ev: &mut EventLoop<'s, A>) -> ChatServer {
        let peers = self.readers.len();
        {
            let mut hub = self.hub.borrow_mut();
            for _ in 0..peers {
                hub.peers.push(Peer {
                    stream: None,
                    outbox: FrameWriter::new(),
                    wake: ev.sem_create(0).unwrap(),
                    reader: None,
                    writer: None,
                });
            }
        }
        let readers = ev.add_protothreads(&mut self.readers).unwrap();
        let writers = ev.add_protothreads(&mut self.writers).unwrap();
        let acceptors = ev.add_protothreads(&mut self.acceptor).unwrap();
        let listener = ev
            .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
            .unwrap();
        let addr = ev.local_addr(listener.raw()).unwrap();
        let acceptor = ev
            .cx()
            .spawn_with(acceptors, |a: &mut ChatAcceptor| {
                a.listener = Some(listener);
                a.readers = Some(readers);
                a.writers = Some(writers);
            })
            .unwrap();
        ChatServer {
            addr,
            hub: Rc::clone(&self.hub),
            acceptor,
        }
    }
}
