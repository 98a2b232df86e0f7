//! The pooled protothread servers allocate nothing on the loop thread: a counting global
//! allocator, switched on for that thread after the loop and its pools are set up, while
//!
//! * the echo of `examples/echo_server.rs` (`common::pooled_echo`: `PooledFrameReader`,
//!   `take_frame`, `send_buf`, `poll_sent`) serves 50 connections x 200 framed messages, and
//! * a chat fans every frame out to the other members of its sender's group: a reader
//!   protothread per peer pushes it into the other members' `PooledFrameWriter` outboxes, and
//!   a writer protothread per peer flushes its outbox when its semaphore is signalled,
//!
//! from accept to close.

#[path = "../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;
mod common;
#[path = "../ptk-runtime/tests/framed_clients/mod.rs"]
mod framed_clients;

use std::cell::RefCell;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::pooled_echo::{self, PooledEchoStats};
use common::{connect, frame, payload, read_frame, run_until, wait_for};
use framed_clients::group_chat;
use ptk::{
    kind, protothread, Capacities, Config, Cx, Error, EventLoop, Handle, ListenOptions,
    OwnedStorage, PooledFrameReader, PooledFrameWriter, Pt, PtPool, Semaphore, TcpListener,
    TcpStream, HEADER_LEN,
};

const ECHO_CONNECTIONS: usize = 50;
const ECHO_THREADS: usize = 5;
const ECHO_MESSAGES: usize = 200;
const GROUPS: usize = 10;
const GROUP: usize = 4;
const CHAT_THREADS: usize = 2;
const CHAT_ROUNDS: usize = 100;
const PEERS: usize = GROUPS * GROUP;
/// Largest payload; larger than a small buffer, so some frames take large ones.
const MAX_FRAME: usize = 1024;
const SMALL: usize = 512;

type PtHandle = Handle<kind::Protothread>;

/// What the chat did (the echo counts in its `PooledEchoStats`).
#[derive(Default)]
struct Counts {
    chat_accepted: usize,
    chat_received: usize,
    chat_relayed: usize,
    chat_left: usize,
    errors: usize,
}

type Shared = Rc<RefCell<Counts>>;

// ---------------------------------------------------------------------------------------
// The chat.
// ---------------------------------------------------------------------------------------

/// One chat peer: its socket, its outbox and the semaphore that wakes its writer.
struct Peer {
    stream: Option<Handle<TcpStream>>,
    outbox: PooledFrameWriter,
    wake: Handle<Semaphore>,
    /// (group, place) once it said hello.
    member: Option<(usize, usize)>,
    reader: Option<PtHandle>,
    writer: Option<PtHandle>,
}

struct Hub {
    peers: Vec<Peer>,
    groups: Vec<[Option<usize>; GROUP]>,
    counts: Shared,
}

impl Hub {
    /// Queues `payload` for peer `k` and wakes its writer.
    fn push(&mut self, cx: &mut Cx<'_>, k: usize, payload: &[u8]) -> Result<(), Error> {
        let p = &mut self.peers[k];
        let was_empty = p.outbox.is_empty();
        let stream = p.stream.ok_or(Error::InvalidHandle)?;
        p.outbox.push(cx, stream, payload)?;
        if was_empty {
            cx.sem_signal(p.wake)?;
        }
        Ok(())
    }

    /// Ends peer `k`: its other protothread, its outbox, its socket, its place in its group.
    fn leave(&mut self, cx: &mut Cx<'_>, k: usize) {
        let p = &mut self.peers[k];
        for pt in [p.reader.take(), p.writer.take()].into_iter().flatten() {
            if cx.current() != Some(pt) {
                let _ = cx.kill(pt);
            }
        }
        p.outbox.release(cx);
        if let Some(stream) = p.stream.take() {
            let _ = cx.close(stream.raw());
        }
        if let Some((g, m)) = p.member.take() {
            self.groups[g][m] = None;
        }
        self.counts.borrow_mut().chat_left += 1;
    }
}

struct ChatReader {
    pt: Pt,
    me: usize,
    stream: Option<Handle<TcpStream>>,
    reader: PooledFrameReader,
    /// The frame being relayed, copied out of the pool buffer it arrived in.
    copy: [u8; MAX_FRAME],
    hub: Rc<RefCell<Hub>>,
}

impl ChatReader {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.reader.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// A hello (`[group, place]`, answered by itself) or a frame for the group's others.
    fn on_frame(&mut self, cx: &mut Cx<'_>, len: usize) -> Result<(), Error> {
        self.copy[..len].copy_from_slice(self.reader.frame(cx));
        self.reader.consume(cx);
        let payload = &self.copy[..len];
        let mut hub = self.hub.borrow_mut();
        let Some((g, k)) = hub.peers[self.me].member else {
            let (g, k) = (usize::from(payload[0]), usize::from(payload[1]));
            hub.peers[self.me].member = Some((g, k));
            hub.groups[g][k] = Some(self.me);
            return hub.push(cx, self.me, payload);
        };
        for m in 0..GROUP {
            if m == k {
                continue;
            }
            if let Some(other) = hub.groups[g][m] {
                hub.push(cx, other, payload)?;
                hub.counts.borrow_mut().chat_relayed += 1;
            }
        }
        hub.counts.borrow_mut().chat_received += 1;
        Ok(())
    }
}

#[protothread]
fn chat_read(ctx: &mut ChatReader, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        let len = match frame {
            Ok(Some(len)) => len,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        if let Err(e) = ctx.on_frame(cx, len) {
            break Err(e);
        }
    };
    ctx.reader.release(cx);
    let mut hub = ctx.hub.borrow_mut();
    hub.leave(cx, ctx.me);
    hub.counts.borrow_mut().errors += usize::from(ended.is_err());
    ended
}

struct ChatWriter {
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

// ---------------------------------------------------------------------------------------
// Accepting.
// ---------------------------------------------------------------------------------------

/// Accepts chat peers and gives each a reader and a writer.
struct ChatAcceptor {
    pt: Pt,
    chat: Option<(Handle<TcpListener>, PtPool<ChatReader>, PtPool<ChatWriter>)>,
    hub: Rc<RefCell<Hub>>,
}

impl ChatAcceptor {
    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr), Error>> {
        match self.chat {
            Some((listener, _, _)) => cx.accept(listener),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn start(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>) -> Result<(), Error> {
        let Some((_, readers, writers)) = self.chat else {
            return Err(Error::InvalidArgument);
        };
        let mut hub = self.hub.borrow_mut();
        let k = hub
            .peers
            .iter()
            .position(|p| p.stream.is_none())
            .ok_or(Error::OutOfResources(ptk::Capacity::Protothreads))?;
        let wake = hub.peers[k].wake;
        let reader = cx.spawn_with(readers, |r: &mut ChatReader| {
            r.me = k;
            r.stream = Some(stream);
            r.reader = PooledFrameReader::new(MAX_FRAME);
        })?;
        let writer = cx.spawn_with(writers, |w: &mut ChatWriter| {
            w.me = k;
            w.stream = Some(stream);
            w.wake = Some(wake);
        })?;
        let p = &mut hub.peers[k];
        p.stream = Some(stream);
        p.member = None;
        p.reader = Some(reader);
        p.writer = Some(writer);
        hub.counts.borrow_mut().chat_accepted += 1;
        Ok(())
    }
}

#[protothread]
fn accept(ctx: &mut ChatAcceptor, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        let (stream, _) = accepted?;
        ctx.start(cx, stream)?;
    }
}

// ---------------------------------------------------------------------------------------
// The clients.
// ---------------------------------------------------------------------------------------

fn echo_client(addr: SocketAddr, first: usize, go: Arc<AtomicBool>) -> usize {
    wait_for("the go signal", Duration::from_secs(10), || {
        go.load(Ordering::Acquire)
    });
    let ids: Vec<usize> = (first..first + ECHO_CONNECTIONS / ECHO_THREADS).collect();
    let mut socks: Vec<_> = ids.iter().map(|_| connect(addr)).collect();
    let mut echoed = 0;
    for m in 0..ECHO_MESSAGES {
        for (s, &id) in socks.iter_mut().zip(&ids) {
            s.write_all(&frame(&payload(id, m, MAX_FRAME))).unwrap();
        }
        for (s, &id) in socks.iter_mut().zip(&ids) {
            assert_eq!(read_frame(s), payload(id, m, MAX_FRAME));
            echoed += 1;
        }
    }
    echoed
}

/// Chat clients: groups `first..first + n` of a group chat, once the test says go.
fn chat_client(addr: SocketAddr, first: usize, n: usize, go: Arc<AtomicBool>) -> usize {
    wait_for("the go signal", Duration::from_secs(10), || {
        go.load(Ordering::Acquire)
    });
    group_chat(
        || connect(addr),
        first,
        n,
        GROUP,
        CHAT_ROUNDS,
        |g, round| payload(g, round, MAX_FRAME),
    )
}

#[test]
fn the_pooled_protothread_servers_allocate_nothing_on_the_loop_thread() {
    let streams = ECHO_CONNECTIONS + PEERS + 8;
    let mut memory = OwnedStorage::new(Capacities {
        tcp_streams: streams,
        semaphores: PEERS,
        buffers: 256,
        buffer_size: SMALL,
        large_buffers: 64,
        large_buffer_size: MAX_FRAME + HEADER_LEN,
        ..Capacities::default()
    });
    let counts: Shared = Rc::default();
    let echo_stats = Rc::new(PooledEchoStats::default());
    let hub = Rc::new(RefCell::new(Hub {
        peers: Vec::with_capacity(PEERS),
        groups: vec![[None; GROUP]; GROUPS],
        counts: Rc::clone(&counts),
    }));
    let mut echo_conns: Vec<pooled_echo::Conn> = (0..ECHO_CONNECTIONS)
        .map(|_| pooled_echo::Conn::new(&echo_stats, MAX_FRAME, false))
        .collect();
    let mut echo_acceptor = [pooled_echo::Acceptor::new(&echo_stats)];
    let mut readers: Vec<ChatReader> = (0..PEERS)
        .map(|_| ChatReader {
            pt: Pt::new(),
            me: 0,
            stream: None,
            reader: PooledFrameReader::new(MAX_FRAME),
            copy: [0; MAX_FRAME],
            hub: Rc::clone(&hub),
        })
        .collect();
    let mut writers: Vec<ChatWriter> = (0..PEERS)
        .map(|_| ChatWriter {
            pt: Pt::new(),
            me: 0,
            stream: None,
            wake: None,
            hub: Rc::clone(&hub),
        })
        .collect();
    let mut chat_acceptor = [ChatAcceptor {
        pt: Pt::new(),
        chat: None,
        hub: Rc::clone(&hub),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    for _ in 0..PEERS {
        let wake = ev.sem_create(0).unwrap();
        hub.borrow_mut().peers.push(Peer {
            stream: None,
            outbox: PooledFrameWriter::new(),
            wake,
            member: None,
            reader: None,
            writer: None,
        });
    }
    let echo = pooled_echo::start(
        &mut ev,
        &mut echo_conns,
        &mut echo_acceptor,
        &ListenOptions::default(),
    );
    let (echo_addr, echo_pool) = (echo.addr, echo.conns);
    let reader_pool = ev.add_protothreads(&mut readers).unwrap();
    let writer_pool = ev.add_protothreads(&mut writers).unwrap();
    let acceptor_pool = ev.add_protothreads(&mut chat_acceptor).unwrap();
    let loopback: SocketAddr = (Ipv4Addr::LOCALHOST, 0).into();
    let chat_listener = ev.tcp_listen(loopback, &ListenOptions::default()).unwrap();
    let chat_addr = ev.local_addr(chat_listener.raw()).unwrap();
    ev.cx()
        .spawn_with(acceptor_pool, |a: &mut ChatAcceptor| {
            a.chat = Some((chat_listener, reader_pool, writer_pool));
        })
        .unwrap();

    // Every thread exists before counting starts: spawning allocates on the spawning thread.
    let go = Arc::new(AtomicBool::new(false));
    let echo_clients: Vec<_> = (0..ECHO_THREADS)
        .map(|t| {
            let go = Arc::clone(&go);
            let first = t * ECHO_CONNECTIONS / ECHO_THREADS;
            std::thread::spawn(move || echo_client(echo_addr, first, go))
        })
        .collect();
    let per_thread = GROUPS / CHAT_THREADS;
    let chat_clients: Vec<_> = (0..CHAT_THREADS)
        .map(|t| {
            let go = Arc::clone(&go);
            std::thread::spawn(move || chat_client(chat_addr, t * per_thread, per_thread, go))
        })
        .collect();

    alloc_counter::count_this_thread(true);
    go.store(true, Ordering::Release);
    run_until(
        &mut ev,
        "every echo, every fan-out and every close",
        Duration::from_secs(60),
        10_000_000,
        |ev| {
            let c = counts.borrow();
            echo_stats.ended() == ECHO_CONNECTIONS
                && c.chat_left == PEERS
                && ev.pool_usage(echo_pool).0 == 0
                && ev.pool_usage(reader_pool).0 == 0
                && ev.pool_usage(writer_pool).0 == 0
        },
    );
    alloc_counter::count_this_thread(false);
    let allocations = alloc_counter::allocations();

    let echoed: usize = echo_clients.into_iter().map(|c| c.join().unwrap()).sum();
    let received: usize = chat_clients.into_iter().map(|c| c.join().unwrap()).sum();
    let c = counts.borrow();
    assert_eq!(echoed, ECHO_CONNECTIONS * ECHO_MESSAGES);
    assert_eq!(echo_stats.frames.get(), echoed);
    assert_eq!(received, GROUPS * (GROUP - 1) * CHAT_ROUNDS);
    assert_eq!(c.chat_relayed, received);
    assert_eq!(c.chat_received, GROUPS * CHAT_ROUNDS);
    assert_eq!(
        (
            echo_stats.accepted.get(),
            c.chat_accepted,
            echo_stats.ended_err.get() + c.errors
        ),
        (ECHO_CONNECTIONS, PEERS, 0)
    );
    assert_eq!(ev.in_use().tcp_streams, 0);
    let b = ev.buffer_stats();
    assert_eq!((b.small_in_use, b.large_in_use, b.queued), (0, 0, 0));
    assert!(b.peak_in_use > 0);
    eprintln!(
        "loop-thread heap allocations while serving {echoed} echoes and {received} fan-out \
         copies: {allocations} (pool {b:?})"
    );
    assert_eq!(
        allocations, 0,
        "the loop thread allocated {allocations} times"
    );
}
