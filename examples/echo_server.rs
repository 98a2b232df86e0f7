//! A framed echo server: every frame (a 4-byte big-endian length, then that many bytes) a
//! client sends comes back whole.
//!
//! ```text
//! cargo run --release --example echo_server -- --bind 127.0.0.1:7000 --max-connections 1024
//! ```
//!
//! One protothread accepts; one protothread per connection reads a frame and writes it back
//! from its read buffer, without copying it. All memory is made at start-up: the connection
//! contexts (each with its frame buffer) are
//! lent to the loop as a pool, and a connection's protothread ends by closing its socket, which
//! frees its context for the next client. Ctrl-C (or `kill`) stops the loop through a signal
//! watcher, on the loop's own thread, and the server closes every connection before it exits.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::task::Poll;

use ptk::signals::{SIGINT, SIGTERM};
use ptk::{
    protothread, Capacities, Config, Cx, Error, EventLoop, FrameReader, Handle, ListenOptions,
    OwnedStorage, Pt, PtPool, TcpListener, TcpStream,
};

/// Largest payload a client may send (bytes).
const MAX_FRAME: usize = 16 * 1024;
/// The frame buffer holds one whole frame and its header.
const BUF: usize = MAX_FRAME + ptk::HEADER_LEN;

struct Options {
    bind: SocketAddr,
    max_connections: usize,
    quiet: bool,
}

fn usage() -> &'static str {
    "usage: echo_server [--bind ADDR:PORT] [--max-connections N] [--quiet]\n\
     defaults: --bind 127.0.0.1:7000 --max-connections 1024"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        bind: SocketAddr::from(([127, 0, 0, 1], 7000)),
        max_connections: 1024,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bind" => {
                let v = value("--bind")?;
                o.bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?;
            }
            "--max-connections" => {
                let v = value("--max-connections")?;
                o.max_connections = v
                    .parse()
                    .map_err(|e| format!("--max-connections {v}: {e}"))?;
            }
            "--quiet" => o.quiet = true,
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    Ok(o)
}

/// One connection: its socket and its frame buffer. Contexts are made once and reused by
/// every connection that lands in them.
#[derive(Default)]
struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: FrameReader<BUF>,
    /// Bytes of the front frame written back so far.
    written: usize,
    frames: u64,
    quiet: bool,
}

impl Conn {
    /// Reads until a whole frame is buffered (`Some(len)`), or the peer closed (`None`).
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.reader.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Writes the front frame back, length prefix included, straight from the read buffer.
    /// (A server that builds its answers would queue them in a `FrameWriter` instead, as
    /// `chat_server` does.)
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(stream) => {
                cx.write_all(stream, self.reader.frame_with_header(), &mut self.written)
            }
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

/// Echoes frames until the peer closes or misbehaves, then closes the socket.
#[protothread]
fn echo(ctx: &mut Conn, cx: &mut Cx<'_>) -> Result<(), Error> {
    if let Some(stream) = ctx.stream {
        let _ = cx.set_nodelay(stream, true);
    }
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
        ctx.frames += 1;
    };
    if let Some(stream) = ctx.stream.take() {
        let _ = cx.close(stream.raw());
        if !ctx.quiet {
            match ended {
                Ok(()) => println!("{stream}: closed by peer after {} frames", ctx.frames),
                Err(e) => println!("{stream}: closed after {} frames: {e}", ctx.frames),
            }
        }
    }
    ended
}

/// Accepts connections and spawns an `echo` protothread for each.
#[derive(Default)]
struct Acceptor {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    conns: Option<PtPool<Conn>>,
    accepted: u64,
    quiet: bool,
}

impl Acceptor {
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
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // A full pool or fd table refused one connection; the listener goes on.
                eprintln!("accept: {e}");
                continue;
            }
        };
        let quiet = ctx.quiet;
        let spawned = match ctx.conns {
            Some(conns) => cx.spawn_with(conns, |c: &mut Conn| {
                c.stream = Some(stream);
                c.reader.clear();
                c.written = 0;
                c.frames = 0;
                c.quiet = quiet;
            }),
            None => Err(Error::InvalidArgument),
        };
        match spawned {
            Ok(_) => {
                ctx.accepted += 1;
                if !quiet {
                    println!("{stream}: accepted from {peer}");
                }
            }
            Err(e) => {
                // Every context is busy: refuse this one client, keep serving the rest.
                eprintln!("{stream}: refused: {e}");
                let _ = cx.close(stream.raw());
            }
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(o: &Options) -> Result<(), Error> {
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections,
        timers: 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 2,
    };
    let mut memory = OwnedStorage::new(capacities);
    // Every connection context (with its 16 KiB frame buffer), made once.
    let mut conns: Vec<Conn> = (0..o.max_connections).map(|_| Conn::default()).collect();
    let mut acceptor = [Acceptor::default()];
    let config = Config {
        protothreads: o.max_connections + 1,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;
    let conn_pool = ev.add_protothreads(&mut conns)?;
    let acceptor_pool = ev.add_protothreads(&mut acceptor)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.cx().spawn_with(acceptor_pool, |a: &mut Acceptor| {
        a.listener = Some(listener);
        a.conns = Some(conn_pool);
        a.quiet = o.quiet;
    })?;

    // Ctrl-C or `kill` stops the loop, on the loop's thread (no signal thread).
    ev.stop_on_signals(&[SIGINT, SIGTERM])?;
    println!(
        "echo_server: listening on {} ({} connections max, frames up to {MAX_FRAME} bytes); \
         Ctrl-C stops",
        ev.local_addr(listener.raw())?,
        o.max_connections
    );
    ev.run()?;

    let open = ev.in_use().tcp_streams;
    ev.close_all();
    drop(ev);
    println!(
        "echo_server: stopped; {} connections served, {open} still open were closed",
        acceptor[0].accepted
    );
    Ok(())
}
