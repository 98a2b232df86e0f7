//! The framed echo server as protothreads (the shape of `examples/echo_server.rs`): one
//! acceptor, one protothread per connection. What the tests observe lives in [`EchoStats`],
//! shared through an `Rc` (cloning it moves a count, it never allocates).

use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;

use ptk::{
    kind, protothread, Cx, Error, EventLoop, FrameReader, FrameWriter, Handle, ListenOptions, Pt,
    PtPool, TcpListener, TcpStream, HEADER_LEN,
};

/// Largest payload a client may send.
pub const MAX_FRAME: usize = 1024;
const BUF: usize = MAX_FRAME + HEADER_LEN;

/// What the server did, for the tests to check while it runs.
#[derive(Default)]
pub struct EchoStats {
    /// Connections handed to an echo protothread.
    pub accepted: Cell<usize>,
    /// Connections closed at once because every context was busy.
    pub refused: Cell<usize>,
    /// Frames echoed, over all connections.
    pub frames: Cell<usize>,
    /// The echo protothread of the last accepted connection.
    pub last_conn: Cell<Option<Handle<kind::Protothread>>>,
}

/// One connection: its socket and frame buffers, reused by every connection that lands here.
pub struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: FrameReader<BUF>,
    writer: FrameWriter<BUF>,
    stats: Rc<EchoStats>,
}

impl Conn {
    /// A free connection context.
    pub fn new(stats: &Rc<EchoStats>) -> Conn {
        Conn {
            pt: Pt::new(),
            stream: None,
            reader: FrameReader::new(),
            writer: FrameWriter::new(),
            stats: Rc::clone(stats),
        }
    }

    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.reader.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn poll_flush(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(stream) => self.writer.poll_flush(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

/// Echoes frames until the peer closes (`Ok`) or fails (`Err`, e.g. `Closed` mid-frame), then
/// closes the socket.
#[protothread]
fn echo(ctx: &mut Conn, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        if let Err(e) = ctx.writer.push(ctx.reader.frame()) {
            break Err(e);
        }
        ctx.reader.consume();
        let flushed = pt_await!(ctx.poll_flush(cx));
        if let Err(e) = flushed {
            break Err(e);
        }
        ctx.stats.frames.set(ctx.stats.frames.get() + 1);
    };
    if let Some(stream) = ctx.stream.take() {
        let _ = cx.close(stream.raw());
    }
    ended
}

/// Accepts connections and spawns an `echo` protothread for each.
pub struct Acceptor {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    conns: Option<PtPool<Conn>>,
    stats: Rc<EchoStats>,
}

impl Acceptor {
    /// An idle acceptor.
    pub fn new(stats: &Rc<EchoStats>) -> Acceptor {
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
            // A full stream pool refused one connection; the listener goes on.
            Err(Error::OutOfResources(_)) => continue,
            Err(e) => return Err(e),
        };
        let spawned = match ctx.conns {
            Some(conns) => cx.spawn_with(conns, |c: &mut Conn| {
                c.stream = Some(stream);
                c.reader.clear();
                c.writer.clear();
            }),
            None => Err(Error::InvalidArgument),
        };
        match spawned {
            Ok(h) => {
                ctx.stats.accepted.set(ctx.stats.accepted.get() + 1);
                ctx.stats.last_conn.set(Some(h));
            }
            Err(_) => {
                ctx.stats.refused.set(ctx.stats.refused.get() + 1);
                let _ = cx.close(stream.raw());
            }
        }
    }
}

/// A running echo server.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub conns: PtPool<Conn>,
    pub acceptor: Handle<kind::Protothread>,
}

/// Starts the echo server on an ephemeral loopback port of `ev`, over the contexts given.
pub fn start<'s, A: 'static>(
    ev: &mut EventLoop<'s, A>,
    conns: &'s mut [Conn],
    acceptor: &'s mut [Acceptor],
) -> EchoServer {
    let conn_pool = ev.add_protothreads(conns).unwrap();
    let acceptor_pool = ev.add_protothreads(acceptor).unwrap();
    let listener = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    let acceptor = ev
        .cx()
        .spawn_with(acceptor_pool, |a: &mut Acceptor| {
            a.listener = Some(listener);
            a.conns = Some(conn_pool);
        })
        .unwrap();
    EchoServer {
        addr,
        conns: conn_pool,
        acceptor,
    }
}
