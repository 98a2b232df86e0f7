//! A framed echo server: every frame (a 4-byte big-endian length, then that many bytes) a
//! client sends comes back whole.
//!
//! ```text
//! cargo run --example echo_server -- --bind 127.0.0.1:7000 --max-connections 1024 --max-frame 65536
//! ```
//!
//! One event loop, callback handlers, all memory made at start-up: a buffer per connection
//! slot, indexed by the slot of the connection's handle. Ctrl-C stops the loop from the signal
//! thread through a `LoopRemote`, and every connection is closed before the process exits.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::task::Poll;

use ptk::{
    Capacities, Config, Cx, Error, Event, EventKind, EventLoop, Handle, ListenOptions,
    OwnedStorage, TcpStream, Trigger,
};

/// How many reads one handler call may do before giving the other connections a turn.
const READS_PER_CALL: usize = 8;

struct Options {
    bind: SocketAddr,
    max_connections: usize,
    max_frame: usize,
    quiet: bool,
}

fn usage() -> &'static str {
    "usage: echo_server [--bind ADDR:PORT] [--max-connections N] [--max-frame BYTES] [--quiet]\n\
     defaults: --bind 127.0.0.1:7000 --max-connections 1024 --max-frame 65536"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        bind: "127.0.0.1:7000".parse().map_err(|e| format!("{e}"))?,
        max_connections: 1024,
        max_frame: 65536,
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
            "--max-frame" => {
                let v = value("--max-frame")?;
                o.max_frame = v.parse().map_err(|e| format!("--max-frame {v}: {e}"))?;
            }
            "--quiet" => o.quiet = true,
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.max_connections == 0 || o.max_frame == 0 {
        return Err("--max-connections and --max-frame must be at least 1".into());
    }
    Ok(o)
}

/// One connection slot: the bytes received and not yet echoed, and how many of the complete
/// frames at their front have been written back.
struct Conn {
    stream: Option<Handle<TcpStream>>,
    buf: Box<[u8]>,
    len: usize,
    sent: usize,
    frames: u64,
}

struct Server {
    conns: Vec<Conn>,
    max_frame: usize,
    quiet: bool,
    accepted: u64,
    echoed: u64,
}

impl Server {
    fn conn(&mut self, h: Handle<TcpStream>) -> Option<&mut Conn> {
        self.conns
            .get_mut(h.raw().slot() as usize)
            .filter(|c| c.stream == Some(h))
    }
}

/// End of the complete frames at the front of `buf`, or the error that closes the connection.
fn complete_frames(buf: &[u8], max_frame: usize) -> Result<usize, Error> {
    let mut end = 0;
    while buf.len() - end >= 4 {
        let header = [buf[end], buf[end + 1], buf[end + 2], buf[end + 3]];
        let n = u32::from_be_bytes(header) as usize;
        if n > max_frame {
            return Err(Error::MessageTooLarge);
        }
        if buf.len() - end - 4 < n {
            break;
        }
        end += 4 + n;
    }
    Ok(end)
}

fn on_accept(server: &mut Server, cx: &mut Cx<'_>, ev: Event) {
    let Ok(listener) = ev.handle.typed() else {
        return;
    };
    loop {
        match cx.accept(listener) {
            Poll::Pending => return,
            Poll::Ready(Ok((stream, peer))) => {
                let slot = stream.raw().slot() as usize;
                let Some(conn) = server.conns.get_mut(slot) else {
                    let _ = cx.close(stream.raw());
                    continue;
                };
                conn.stream = Some(stream);
                conn.len = 0;
                conn.sent = 0;
                conn.frames = 0;
                server.accepted += 1;
                let _ = cx.set_nodelay(stream, true);
                if let Err(e) =
                    cx.set_handler(stream, Trigger::Readable, on_stream as ptk::Handler<Server>)
                {
                    eprintln!("{stream}: cannot watch: {e}");
                    let _ = cx.close(stream.raw());
                    continue;
                }
                if !server.quiet {
                    println!("{stream}: accepted from {peer}");
                }
            }
            Poll::Ready(Err(e)) => {
                // A full pool or fd table: that one connection was refused; keep serving.
                eprintln!("accept: {e}");
                return;
            }
        }
    }
}

fn on_stream(server: &mut Server, cx: &mut Cx<'_>, ev: Event) {
    let Ok(stream) = ev.handle.typed::<TcpStream>() else {
        return;
    };
    let max_frame = server.max_frame;
    let quiet = server.quiet;
    let Some(conn) = server.conn(stream) else {
        return;
    };
    let outcome = pump(conn, cx, stream, max_frame);
    let frames = conn.frames;
    server.echoed += frames;
    if let Some(conn) = server.conn(stream) {
        conn.frames = 0;
    }
    match outcome {
        Ok(Pump::Idle) => {
            if ev.kind == EventKind::Writable {
                cx.remove_handler(stream.raw(), Trigger::Writable);
            }
        }
        Ok(Pump::Blocked) => {
            let _ = cx.set_handler(stream, Trigger::Writable, on_stream as ptk::Handler<Server>);
        }
        Ok(Pump::Busy) => {}
        Err(e) => close(server, cx, stream, e, quiet),
    }
}

enum Pump {
    /// Everything complete was echoed and the socket has no more data now.
    Idle,
    /// Waiting for the socket to take more output.
    Blocked,
    /// Did its share of work; the loop calls again while the socket stays readable.
    Busy,
}

/// Echo complete frames, then read more, until the socket would block either way.
fn pump(
    conn: &mut Conn,
    cx: &mut Cx<'_>,
    stream: Handle<TcpStream>,
    max_frame: usize,
) -> Result<Pump, Error> {
    for _ in 0..READS_PER_CALL {
        let end = complete_frames(&conn.buf[..conn.len], max_frame)?;
        while conn.sent < end {
            match cx.write(stream, &conn.buf[conn.sent..end]) {
                Poll::Ready(Ok(n)) => conn.sent += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(Pump::Blocked),
            }
        }
        if end > 0 {
            conn.frames += count_frames(&conn.buf[..end]);
            conn.buf.copy_within(end..conn.len, 0);
            conn.len -= end;
            conn.sent = 0;
        }
        match cx.read(stream, &mut conn.buf[conn.len..]) {
            Poll::Ready(Ok(0)) => return Err(Error::Closed),
            Poll::Ready(Ok(n)) => conn.len += n,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => return Ok(Pump::Idle),
        }
    }
    Ok(Pump::Busy)
}

fn count_frames(mut buf: &[u8]) -> u64 {
    let mut n = 0;
    while buf.len() >= 4 {
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        buf = &buf[4 + len..];
        n += 1;
    }
    n
}

fn close(server: &mut Server, cx: &mut Cx<'_>, stream: Handle<TcpStream>, why: Error, quiet: bool) {
    if let Some(conn) = server.conn(stream) {
        conn.stream = None;
    }
    let _ = cx.close(stream.raw());
    if !quiet {
        match why {
            Error::Closed => println!("{stream}: closed by peer"),
            other => println!("{stream}: closed: {other}"),
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
    };
    // Buffers hold one whole frame plus the header of the next.
    let conns = (0..o.max_connections)
        .map(|_| Conn {
            stream: None,
            buf: vec![0; o.max_frame + 8].into_boxed_slice(),
            len: 0,
            sent: 0,
            frames: 0,
        })
        .collect();
    let server = Server {
        conns,
        max_frame: o.max_frame,
        quiet: o.quiet,
        accepted: 0,
        echoed: 0,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), server)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.set_handler(listener, Trigger::Readable, on_accept)?;
    let remote = ev.remote();
    if let Err(e) = ctrlc::set_handler(move || remote.stop()) {
        eprintln!("warning: cannot catch Ctrl-C ({e}); stop with SIGKILL");
    }
    let addr = ev.local_addr(listener.raw())?;
    println!(
        "echo_server: listening on {addr} ({} connections max, frames up to {} bytes); Ctrl-C stops",
        o.max_connections, o.max_frame
    );
    ev.run()?;

    let mut open = 0;
    for i in 0..ev.app().conns.len() {
        if let Some(stream) = ev.app_mut().conns[i].stream.take() {
            let _ = ev.close(stream.raw());
            open += 1;
        }
    }
    let _ = ev.close(listener.raw());
    let s = ev.app();
    println!(
        "echo_server: stopped; {} connections served, {} frames echoed, {open} still open were closed",
        s.accepted, s.echoed
    );
    Ok(())
}
