//! A framed echo server: every frame (a 4-byte big-endian length, then that many bytes) a
//! client sends comes back whole.
//!
//! ```text
//! cargo run --release --example echo_server -- --bind 127.0.0.1:7000 --max-connections 1024
//! ```
//!
//! One protothread accepts; one protothread per connection reads a frame and hands it back to
//! be sent. All memory is made at start-up: the connection contexts are lent to the loop as a
//! pool, and a connection's protothread ends by closing its socket, which frees its context
//! for the next client. Ctrl-C (or `kill`) stops the loop through a signal watcher, on the
//! loop's own thread, and the server closes every connection before it exits.
//!
//! Frames live in the loop's buffer pool (`--buffers` small buffers of 4 KiB, and large ones
//! for frames up to 16 KiB): a read borrows a buffer from the pool, the frame is handed back to
//! the send in that very buffer, and the loop frees it once it is sent. A connection holds a
//! buffer only while a frame of its is partial or unsent, so an idle connection costs its
//! context (a few dozen bytes) and its socket, not a frame buffer. When every buffer is in
//! use, reads pause until one is free, and no connection fails for it. A peer that stops in
//! the middle of a frame would keep its buffer for good (and enough of them the whole pool):
//! once a frame has begun, the rest must come within `--frame-timeout-ms`, or the connection
//! is closed. An idle connection may stay as long as it likes.
//!
//! `--inline` gives every connection its own 16 KiB frame buffer in its context instead (the
//! model for small targets without a pool), for comparison.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::task::Poll;

use ptk::signals::{SIGINT, SIGTERM};
use ptk::{
    protothread, BackendKind, Capacities, Config, Cx, Error, EventLoop, FrameReader, Handle,
    ListenOptions, OwnedStorage, PooledFrameReader, Pt, PtPool, TcpListener, TcpStream,
};

/// Largest payload a client may send (bytes).
const MAX_FRAME: usize = 16 * 1024;
/// A large pool buffer (and the inline frame buffer) holds one whole frame and its header.
const BUF: usize = MAX_FRAME + ptk::HEADER_LEN;
/// A small pool buffer: what one read borrows.
const SMALL: usize = 4096;

struct Options {
    backend: BackendKind,
    bind: SocketAddr,
    max_connections: usize,
    buffers: usize,
    large_buffers: usize,
    frame_timeout_ms: u64,
    inline: bool,
    quiet: bool,
}

fn usage() -> &'static str {
    "usage: echo_server [--backend mio|io_uring] [--bind ADDR:PORT] [--max-connections N] [--buffers N] \
     [--large-buffers N] [--frame-timeout-ms MS] [--inline] [--quiet]\n\
     defaults: --backend mio (or $PTK_BACKEND) --bind 127.0.0.1:7000 --max-connections 1024 --buffers 1024 --large-buffers 64 \
     --frame-timeout-ms 10000"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        backend: Config::default().backend,
        bind: SocketAddr::from(([127, 0, 0, 1], 7000)),
        max_connections: 1024,
        buffers: 1024,
        large_buffers: 64,
        frame_timeout_ms: 10_000,
        inline: false,
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
            "--buffers" => {
                let v = value("--buffers")?;
                o.buffers = v.parse().map_err(|e| format!("--buffers {v}: {e}"))?;
            }
            "--large-buffers" => {
                let v = value("--large-buffers")?;
                o.large_buffers = v.parse().map_err(|e| format!("--large-buffers {v}: {e}"))?;
            }
            "--frame-timeout-ms" => {
                let v = value("--frame-timeout-ms")?;
                o.frame_timeout_ms = v
                    .parse()
                    .map_err(|e| format!("--frame-timeout-ms {v}: {e}"))?;
            }
            "--inline" => o.inline = true,
            "--quiet" => o.quiet = true,
            "--backend" => o.backend = BackendKind::from_arg(&value("--backend")?)?,
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    if !o.inline && o.buffers == 0 {
        return Err("--buffers must be at least 1".into());
    }
    if o.frame_timeout_ms == 0 {
        return Err("--frame-timeout-ms must be at least 1".into());
    }
    Ok(o)
}

/// One connection: its socket and the frame reader, which holds a pool buffer only while a
/// frame is partial. Contexts are made once and reused by every connection that lands in them.
struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: PooledFrameReader,
    /// The front frame was handed to the send; waiting for it to be sent.
    handed: bool,
    /// A frame has begun and the deadline for the rest of it is set.
    mid_frame: bool,
    frame_timeout_ms: u64,
    frames: u64,
    quiet: bool,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            pt: Pt::default(),
            stream: None,
            reader: PooledFrameReader::new(MAX_FRAME),
            handed: false,
            mid_frame: false,
            frame_timeout_ms: 10_000,
            frames: 0,
            quiet: false,
        }
    }
}

impl Conn {
    /// Reads until a whole frame is buffered (`Some(len)`), or the peer closed (`None`). Once
    /// a frame has begun (the reader holds a buffer), the rest of it must come before a
    /// deadline: [`Error::Timeout`] otherwise.
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        let Some(stream) = self.stream else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let read = self.reader.poll_frame(cx, stream);
        if read.is_pending() {
            if self.reader.holds_buffer() && !self.mid_frame {
                self.mid_frame = true;
                let deadline = cx.after_ms(self.frame_timeout_ms);
                if let Err(e) = cx.set_deadline(Some(deadline)) {
                    return Poll::Ready(Err(e));
                }
            }
        } else if self.mid_frame {
            self.mid_frame = false;
            if let Err(e) = cx.set_deadline(None) {
                return Poll::Ready(Err(e));
            }
        }
        read
    }

    /// Hands the front frame, length prefix included, to the send in the buffer it arrived
    /// in, then waits until it is sent (so that a client that does not read its echoes makes
    /// this connection wait, not the pool fill up). In the rare case that frames arrived
    /// pipelined behind it and no buffer is free to move them to, it waits for one
    /// (`Pending`, checked again after the next event).
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let Some(stream) = self.stream else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        if !self.handed {
            match self.reader.send_frame(cx) {
                Ok(()) => self.handed = true,
                Err(Error::OutOfResources(_)) => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let sent = cx.poll_sent(stream);
        if sent.is_ready() {
            self.handed = false;
        }
        sent
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
        let echoed = pt_await!(ctx.poll_echo(cx));
        if let Err(e) = echoed {
            break Err(e);
        }
        ctx.frames += 1;
    };
    ctx.reader.release(cx);
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

/// One connection of `--inline`: its socket and its own 16 KiB frame buffer.
#[derive(Default)]
struct InlineConn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: FrameReader<BUF>,
    /// Bytes of the front frame written back so far.
    written: usize,
    frames: u64,
    quiet: bool,
}

impl InlineConn {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.reader.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Writes the front frame back, length prefix included, straight from the read buffer.
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(stream) => {
                cx.write_all(stream, self.reader.frame_with_header(), &mut self.written)
            }
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

/// `echo` with the inline reader.
#[protothread]
fn echo_inline(ctx: &mut InlineConn, cx: &mut Cx<'_>) -> Result<(), Error> {
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

/// Where the acceptor puts new connections.
#[derive(Clone, Copy)]
enum Conns {
    Pooled(PtPool<Conn>),
    Inline(PtPool<InlineConn>),
}

/// Accepts connections and spawns an `echo` protothread for each.
#[derive(Default)]
struct Acceptor {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    conns: Option<Conns>,
    accepted: u64,
    frame_timeout_ms: u64,
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
                // A full pool or fd table refused one connection (the runtime logs when
                // refusals start and end); the listener goes on.
                log::debug!("accept: {e}");
                continue;
            }
        };
        let quiet = ctx.quiet;
        let frame_timeout_ms = ctx.frame_timeout_ms;
        let spawned = match ctx.conns {
            Some(Conns::Pooled(conns)) => cx.spawn_with(conns, |c: &mut Conn| {
                c.stream = Some(stream);
                c.reader = PooledFrameReader::new(MAX_FRAME);
                c.handed = false;
                c.mid_frame = false;
                c.frame_timeout_ms = frame_timeout_ms;
                c.frames = 0;
                c.quiet = quiet;
            }),
            Some(Conns::Inline(conns)) => cx.spawn_with(conns, |c: &mut InlineConn| {
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
                log::warn!("{stream}: refused: {e}");
                let _ = cx.close(stream.raw());
            }
        }
    }
}

/// Diagnostics go to stderr through `env_logger`: warnings, errors and notices (info) unless
/// `RUST_LOG` says otherwise (`RUST_LOG=debug`, `RUST_LOG=ptk_modbus=debug,info`, ...).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

fn main() -> ExitCode {
    init_logging();
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
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(o: &Options) -> Result<(), Error> {
    let (buffers, large_buffers) = if o.inline {
        (0, 0)
    } else {
        (o.buffers, o.large_buffers)
    };
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections,
        // One per connection in the middle of a frame (its deadline).
        timers: if o.inline { 1 } else { o.max_connections + 1 },
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 2,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers,
        buffer_size: SMALL,
        large_buffers,
        large_buffer_size: BUF,
    };
    let mut memory = OwnedStorage::new(capacities);
    // Every connection context, made once: a few dozen bytes each, or with `--inline` each
    // with its own 16 KiB frame buffer.
    let n = o.max_connections;
    let mut conns: Vec<Conn> = (0..if o.inline { 0 } else { n })
        .map(|_| Conn::default())
        .collect();
    let mut inline_conns: Vec<InlineConn> = (0..if o.inline { n } else { 0 })
        .map(|_| InlineConn::default())
        .collect();
    let mut acceptor = [Acceptor::default()];
    let config = Config {
        protothreads: o.max_connections + 1,
        backend: o.backend,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;
    let pool = if o.inline {
        Conns::Inline(ev.add_protothreads(&mut inline_conns)?)
    } else {
        Conns::Pooled(ev.add_protothreads(&mut conns)?)
    };
    let acceptor_pool = ev.add_protothreads(&mut acceptor)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.cx().spawn_with(acceptor_pool, |a: &mut Acceptor| {
        a.listener = Some(listener);
        a.conns = Some(pool);
        a.frame_timeout_ms = o.frame_timeout_ms;
        a.quiet = o.quiet;
    })?;

    // Ctrl-C or `kill` stops the loop, on the loop's thread (no signal thread).
    ev.stop_on_signals(&[SIGINT, SIGTERM])?;
    println!(
        "echo_server: listening on {} on {} ({} connections max, frames up to {MAX_FRAME} \
         bytes, {}); Ctrl-C stops",
        ev.local_addr(listener.raw())?,
        ev.backend().running,
        o.max_connections,
        if o.inline {
            "a 16 KiB buffer per connection".to_string()
        } else {
            format!(
                "a pool of {} x 4 KiB + {} x 16 KiB buffers",
                o.buffers, o.large_buffers
            )
        }
    );
    ev.run()?;

    let open = ev.in_use().tcp_streams;
    let stats = ev.buffer_stats();
    ev.close_all();
    drop(ev);
    println!(
        "echo_server: stopped; {} connections served, {open} still open were closed",
        acceptor[0].accepted
    );
    if !o.inline {
        println!(
            "echo_server: buffers: at most {} in use at once, reads paused {} times for the \
             pool and {} at a connection's cap",
            stats.peak_in_use, stats.pool_pauses, stats.cap_pauses
        );
    }
    Ok(())
}
