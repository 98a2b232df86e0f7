//! The framed echo server written by hand on raw `mio`: the floor for user-space work.
//!
//! ```text
//! echo_mio --bind 127.0.0.1:0 --max-connections 10000 --messages 1000000
//! ```
//!
//! Written the way one would without a framework: one `Poll`, sockets registered once for
//! readable and writable edges, a slab of connection slots and one buffer of
//! `max-connections x (4 + max-frame)` bytes made at start-up, a free list of slots. Each
//! readiness event reads until `WouldBlock` (mio's contract for edge-triggered sources), and
//! whole frames are written back as soon as they are complete, resuming a partial write on
//! the next writable edge.
//!
//! `--short-reads true` also treats a read that came back short as having drained the socket
//! (as tokio and ptk do; see `ptk_runtime`'s `stream_read`), skipping the read that would meet
//! `WouldBlock`: the floor for a server that knows that rule too. Off by default.

use std::io::{ErrorKind, Read, Write};
use std::process::ExitCode;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use ptk_bench::frame::complete_frames;
use ptk_bench::{Args, Meter, ServerOptions};

#[global_allocator]
static ALLOC: ptk_bench::CountingAlloc = ptk_bench::CountingAlloc;

const LISTENER: Token = Token(usize::MAX);

/// The accept queue length, as tokio's and ptk's listeners have (mio's `bind` uses 128, which
/// overflows while thousands of clients connect at once).
const BACKLOG: i32 = 1024;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(BACKLOG)?;
    Ok(TcpListener::from_std(sock.into()))
}

/// One connection slot. Its bytes are `bufs[slot * buf_len..][..buf_len]`: `[..end]` holds
/// complete frames of which `[..sent]` were written back, `[end..len]` a partial frame.
struct Conn {
    sock: Option<TcpStream>,
    len: usize,
    end: usize,
    sent: usize,
    frames: u64,
    writable: bool,
    /// The peer's FIN (or an error) was reported: no further edge will come, so only
    /// `WouldBlock` ends a pump from then on.
    read_closed: bool,
}

/// What a connection needs next.
enum Next {
    /// Both directions would block: wait for the next edge.
    Wait,
    /// The peer closed or broke the protocol.
    Close,
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Conn>,
    free: Vec<usize>,
    bufs: Box<[u8]>,
    buf_len: usize,
    max_frame: usize,
    /// A short read ends the pump (the receive queue is empty; a new edge announces more).
    short_reads: bool,
    meter: Meter,
}

impl Server {
    fn accept(&mut self) {
        loop {
            let mut sock = match self.listener.accept() {
                Ok((sock, _)) => sock,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    eprintln!("accept: {e}");
                    return;
                }
            };
            let Some(slot) = self.free.pop() else {
                continue; // full: dropping the socket closes it
            };
            if sock.set_nodelay(true).is_err()
                || self
                    .poll
                    .registry()
                    .register(
                        &mut sock,
                        Token(slot),
                        Interest::READABLE | Interest::WRITABLE,
                    )
                    .is_err()
            {
                self.free.push(slot);
                continue;
            }
            self.conns[slot] = Conn {
                sock: Some(sock),
                len: 0,
                end: 0,
                sent: 0,
                frames: 0,
                writable: true,
                read_closed: false,
            };
        }
    }

    /// Writes back what is complete and reads what has come, until both would block.
    fn pump(&mut self, slot: usize) -> Next {
        let conn = &mut self.conns[slot];
        let Some(sock) = conn.sock.as_mut() else {
            return Next::Wait;
        };
        let buf = &mut self.bufs[slot * self.buf_len..][..self.buf_len];
        let mut drained = false;
        loop {
            while conn.sent < conn.end {
                if !conn.writable {
                    return Next::Wait;
                }
                match sock.write(&buf[conn.sent..conn.end]) {
                    Ok(n) => conn.sent += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => conn.writable = false,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
            if conn.end > 0 {
                buf.copy_within(conn.end..conn.len, 0);
                conn.len -= conn.end;
                conn.end = 0;
                conn.sent = 0;
                self.meter.count(conn.frames);
                conn.frames = 0;
            }
            if drained {
                return Next::Wait;
            }
            let room = buf.len() - conn.len;
            match sock.read(&mut buf[conn.len..]) {
                Ok(0) => return Next::Close,
                Ok(n) => {
                    drained = self.short_reads && n < room && !conn.read_closed;
                    conn.len += n;
                    match complete_frames(&buf[..conn.len], self.max_frame) {
                        Ok((end, frames)) => {
                            conn.end = end;
                            conn.frames = frames;
                        }
                        Err(_) => return Next::Close,
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut sock) = self.conns[slot].sock.take() {
            let _ = self.poll.registry().deregister(&mut sock);
            self.free.push(slot);
        }
    }
}

fn serve(o: &ServerOptions, short_reads: bool) -> std::io::Result<Meter> {
    let poll = Poll::new()?;
    let mut listener = listen(o.bind)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    println!("{}", listener.local_addr()?);
    let mut server = Server {
        poll,
        listener,
        conns: (0..o.max_connections)
            .map(|_| Conn {
                sock: None,
                len: 0,
                end: 0,
                sent: 0,
                frames: 0,
                writable: false,
                read_closed: false,
            })
            .collect(),
        free: (0..o.max_connections).rev().collect(),
        bufs: vec![0; o.max_connections * o.buffer_len()].into_boxed_slice(),
        buf_len: o.buffer_len(),
        max_frame: o.max_frame,
        short_reads,
        meter: Meter::start(o.messages),
    };
    while server.meter.frames() < o.messages {
        if let Err(e) = server.poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => server.accept(),
                Token(slot) => {
                    if event.is_writable() {
                        server.conns[slot].writable = true;
                    }
                    if event.is_read_closed() || event.is_error() {
                        server.conns[slot].read_closed = true;
                    }
                    if let Next::Close = server.pump(slot) {
                        server.close(slot);
                    }
                }
            }
        }
    }
    Ok(server.meter)
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: echo_mio [--short-reads true|false] [flags]";
    let options = Args::parse(USAGE).and_then(|mut args| {
        let o = ServerOptions::take(&mut args)?;
        let short_reads: bool = args.take("--short-reads", false)?;
        args.finish().map(|()| (o, short_reads))
    });
    let (options, short_reads) = match options {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}\n{}", ServerOptions::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ptk_bench::raise_fd_limit() {
        eprintln!("echo_mio: cannot raise the descriptor limit: {e}");
    }
    match serve(&options, short_reads) {
        Ok(meter) => {
            eprintln!("{}", meter.report("mio"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_mio: {e}");
            ExitCode::FAILURE
        }
    }
}
