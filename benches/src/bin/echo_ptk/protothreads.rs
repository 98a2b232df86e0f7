//! The echo server as protothreads, the shape of `examples/echo_server.rs`: an acceptor and one
//! protothread per connection that reads a frame and writes it back from the read buffer.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;

use ptk::{
    protothread, BackendKind, Capacities, Config, Cx, Error, EventLoop, FrameReader, Handle,
    ListenOptions, OwnedStorage, Pt, PtPool, TcpListener, TcpStream,
};
use ptk_bench::{Meter, ServerOptions};

/// Frame buffer: the largest frame `--max-frame` allows here, plus its header.
const BUF: usize = 1024 + ptk::HEADER_LEN;

type SharedMeter = Rc<RefCell<Option<Meter>>>;

#[derive(Default)]
struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: FrameReader<BUF>,
    written: usize,
    meter: SharedMeter,
}

impl Conn {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(s) => self.reader.poll_frame(cx, s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Writes the frame at the front of the read buffer back, header included.
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(s) => cx.write_all(s, self.reader.frame_with_header(), &mut self.written),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Counts an echoed frame; stops the loop when the run is complete.
    fn count(&mut self, cx: &mut Cx<'_>) {
        if self.meter.borrow_mut().as_mut().is_some_and(|m| m.count(1)) {
            cx.stop();
        }
    }
}

#[protothread]
fn echo(ctx: &mut Conn, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        ctx.written = 0;
        let echoed = pt_await!(ctx.poll_echo(cx));
        if let Err(e) = echoed {
            break Err(e);
        }
        ctx.reader.consume();
        ctx.count(cx);
    };
    if let Some(stream) = ctx.stream.take() {
        let _ = cx.close(stream.raw());
    }
    ended
}

#[derive(Default)]
struct Acceptor {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    conns: Option<PtPool<Conn>>,
    meter: SharedMeter,
}

impl Acceptor {
    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, std::net::SocketAddr), Error>> {
        match self.listener {
            Some(l) => cx.accept(l),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn start(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>) {
        let _ = cx.set_nodelay(stream, true);
        let meter = &self.meter;
        let spawned = match self.conns {
            Some(pool) => cx.spawn_with(pool, |c: &mut Conn| {
                c.stream = Some(stream);
                c.reader.clear();
                c.written = 0;
                c.meter = Rc::clone(meter);
            }),
            None => Err(Error::InvalidArgument),
        };
        if spawned.is_err() {
            let _ = cx.close(stream.raw());
        }
    }
}

#[protothread]
fn accept(ctx: &mut Acceptor, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        // A full pool or fd table refused that one connection; keep serving.
        if let Ok((stream, _)) = accepted {
            ctx.start(cx, stream);
        }
    }
}

/// Serves until `o.messages` frames were echoed.
pub fn serve(o: &ServerOptions, backend: BackendKind) -> Result<Meter, Error> {
    if o.max_frame + ptk::HEADER_LEN > BUF {
        return Err(Error::InvalidArgument);
    }
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections,
        timers: 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: 0,
        buffer_size: 0,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let meter: SharedMeter = Rc::new(RefCell::new(None));
    let mut memory = OwnedStorage::new(capacities);
    let mut conns: Vec<Conn> = (0..o.max_connections).map(|_| Conn::default()).collect();
    let mut acceptor = [Acceptor::default()];
    let config = Config {
        protothreads: o.max_connections + 1,
        backend,
        backend_strict: true,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;
    let conn_pool = ev.add_protothreads(&mut conns)?;
    let acceptor_pool = ev.add_protothreads(&mut acceptor)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.cx().spawn_with(acceptor_pool, |a: &mut Acceptor| {
        a.listener = Some(listener);
        a.conns = Some(conn_pool);
        a.meter = Rc::clone(&meter);
    })?;
    println!("{}", ev.local_addr(listener.raw())?);
    *meter.borrow_mut() = Some(Meter::start(o.messages));
    ev.run()?;
    drop(ev);
    let taken = meter.borrow_mut().take();
    taken.ok_or(Error::InvalidArgument)
}
