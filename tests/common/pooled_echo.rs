//! The framed echo server over the loop's buffer pool as protothreads (the shape of
//! `examples/echo_server.rs`: `PooledFrameReader`, `take_frame`, `send_buf`, `poll_sent`):
//! one acceptor, one protothread per connection, which holds a pool buffer only while a
//! frame is partial. What the tests observe lives in [`PooledEchoStats`], shared through an
//! `Rc` (cloning it moves a count, it never allocates).

use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;

use ptk::{
    protothread, Cx, Error, EventLoop, Handle, ListenOptions, PooledFrameReader, Pt, PtPool,
    TcpListener, TcpStream,
};

/// What the server did, for the tests to check while it runs and after.
#[derive(Default)]
pub struct PooledEchoStats {
    /// Connections handed to an echo protothread.
    pub accepted: Cell<usize>,
    /// Connections closed at once because every context was busy.
    pub refused: Cell<usize>,
    /// Frames echoed (and sent), over all connections.
    pub frames: Cell<usize>,
    /// Connections that ended by the peer's end-of-stream.
    pub ended_ok: Cell<usize>,
    /// Connections that ended in an error.
    pub ended_err: Cell<usize>,
    /// The error the first of those ended in.
    pub first_error: Cell<Option<Error>>,
}

impl PooledEchoStats {
    /// Connections ended, either way.
    pub fn ended(&self) -> usize {
        self.ended_ok.get() + self.ended_err.get()
    }
}

/// One connection: its socket and a frame reader for frames of up to `max_frame` bytes,
/// reused by every connection that lands here.
pub struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: PooledFrameReader,
    max_frame: usize,
    /// Turn Nagle's algorithm off on the socket first.
    nodelay: bool,
    stats: Rc<PooledEchoStats>,
}

impl Conn {
    /// A free connection context for frames of up to `max_frame` bytes; `nodelay` turns
    /// Nagle's algorithm off on every socket it serves.
    pub fn new(stats: &Rc<PooledEchoStats>, max_frame: usize, nodelay: bool) -> Conn {
        Conn {
            pt: Pt::new(),
            stream: None,
            reader: PooledFrameReader::new(max_frame),
            max_frame,
            nodelay,
            stats: Rc::clone(stats),
        }
    }

    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.reader.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Hands the front frame to the send in the buffer it arrived in; `Pending` (checked
    /// again after the next event) when frames behind it need a buffer none of which is free.
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let Some(stream) = self.stream else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        match self.reader.take_frame(cx) {
            Ok(frame) => Poll::Ready(cx.send_buf(stream, frame).inspect_err(|_| {
                let _ = cx.buf_release(frame);
            })),
            Err(Error::OutOfResources(_)) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_sent(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(stream) => cx.poll_sent(stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// How the connection ended, counted.
    fn count_end(&self, ended: Result<(), Error>) {
        let stats = &self.stats;
        match ended {
            Ok(()) => stats.ended_ok.set(stats.ended_ok.get() + 1),
            Err(e) => {
                stats.ended_err.set(stats.ended_err.get() + 1);
                if stats.first_error.get().is_none() {
                    stats.first_error.set(Some(e));
                }
            }
        }
    }
}

/// Echoes frames, each once it is sent, until the peer closes (`Ok`) or fails (`Err`), then
/// gives back the reader's buffer and closes the socket.
#[protothread]
fn echo(ctx: &mut Conn, cx: &mut Cx<'_>) -> Result<(), Error> {
    if let (Some(stream), true) = (ctx.stream, ctx.nodelay) {
        let _ = cx.set_nodelay(stream, true);
    }
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        let handed = pt_await!(ctx.poll_echo(cx));
        if let Err(e) = handed {
            break Err(e);
        }
        let sent = pt_await!(ctx.poll_sent(cx));
        if let Err(e) = sent {
            break Err(e);
        }
        ctx.stats.frames.set(ctx.stats.frames.get() + 1);
    };
    ctx.reader.release(cx);
    if let Some(stream) = ctx.stream.take() {
        let _ = cx.close(stream.raw());
    }
    ctx.count_end(ended);
    ended
}

/// Accepts connections and spawns an `echo` protothread for each.
pub struct Acceptor {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    conns: Option<PtPool<Conn>>,
    stats: Rc<PooledEchoStats>,
}

impl Acceptor {
    /// An idle acceptor.
    pub fn new(stats: &Rc<PooledEchoStats>) -> Acceptor {
        Acceptor {
            pt: Pt::new(),
            listener: None,
            conns: None,
            stats: Rc::clone(stats),
        }
    }

    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr), Error>> {
        match self.listener {
            Some(listener) => cx.accept(listener),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn accept(ctx: &mut Acceptor, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => return Err(e),
        };
        let spawned = match ctx.conns {
            Some(conns) => cx.spawn_with(conns, |c: &mut Conn| {
                c.stream = Some(stream);
                c.reader = PooledFrameReader::new(c.max_frame);
            }),
            None => Err(Error::InvalidArgument),
        };
        match spawned {
            Ok(_) => ctx.stats.accepted.set(ctx.stats.accepted.get() + 1),
            Err(_) => {
                ctx.stats.refused.set(ctx.stats.refused.get() + 1);
                let _ = cx.close(stream.raw());
            }
        }
    }
}

/// A running pooled echo server.
pub struct PooledEchoServer {
    pub addr: SocketAddr,
    pub conns: PtPool<Conn>,
}

/// Starts the pooled echo server on an ephemeral loopback port of `ev`, listening with
/// `options`, over the contexts given.
pub fn start<'s, A: 'static>(
    ev: &mut EventLoop<'s, A>,
    conns: &'s mut [Conn],
    acceptor: &'s mut [Acceptor],
    options: &ListenOptions,
) -> PooledEchoServer {
    let conn_pool = ev.add_protothreads(conns).unwrap();
    let acceptor_pool = ev.add_protothreads(acceptor).unwrap();
    let listener = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), options)
        .unwrap();
    ev.cx()
        .spawn_with(acceptor_pool, |a: &mut Acceptor| {
            a.listener = Some(listener);
            a.conns = Some(conn_pool);
        })
        .unwrap();
    PooledEchoServer {
        addr: ev.local_addr(listener.raw()).unwrap(),
        conns: conn_pool,
    }
}
