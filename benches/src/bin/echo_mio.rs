//! The framed echo server written by hand on raw `mio`: the floor for user-space work.
//!
//! ```text
//! echo_mio --bind 127.0.0.1:0 --max-connections 10000 --messages 1000000
//! ```
//!
//! Written the way one would without a framework, doing only what the job needs:
//!
//! * one `Poll`, sockets registered once for readable and writable edges, a slab of small
//!   connection slots (socket, a few counters, the readiness flags) and a free list of slots;
//! * **one read per message**: a connection is read only after a readable edge, and a read
//!   that comes back short (`0 < n < room`) counts as having emptied the receive queue (any
//!   byte arriving later raises a new edge), unless the peer's FIN or an error was reported,
//!   which raise no further edge: then only `WouldBlock` ends the reading. This is the rule
//!   tokio's `PollEvented` and ptk's stream reads use;
//! * **one loop-wide scratch buffer** of `4 + max-frame` bytes: a connection that holds
//!   nothing reads into it, and when what came is whole frames and writing them back
//!   completes (the common case) they go back straight from it;
//! * **per-connection bytes only when needed**: a partial frame, or frames whose write
//!   did not complete, are kept in the connection's region of one buffer of
//!   `max-connections x (4 + max-frame)` bytes. That buffer is allocated zeroed at start-up
//!   (`calloc`, so the kernel maps its pages on first write) and a region is only written
//!   when its connection holds such bytes: resident memory grows with the connections that
//!   actually hold partial data, not with `--max-connections`. A connection with unwritten
//!   frames is not read until they are written (resumed on the next writable edge).
//!
//! No heap allocation after start-up.
//!
//! `--short-reads false` reads until `WouldBlock` instead (mio's plain contract for
//! edge-triggered sources): two reads per message, the second meeting `WouldBlock` unless the
//! next frame has come already. That was this server's behaviour before the short-read rule
//! became its default.

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

/// One connection slot. When `held > 0`, the connection's region
/// (`regions[slot * buf_len..][..buf_len]`) holds bytes: `[..end]` complete frames (`frames`
/// of them) of which `[..sent]` were written back, `[end..held]` a partial frame. When
/// `held == 0` the region is not used (and, for a connection that never needed it, never
/// touched).
struct Conn {
    sock: Option<TcpStream>,
    held: u32,
    end: u32,
    sent: u32,
    frames: u32,
    /// A readable edge came and no read has met the end of the data since.
    readable: bool,
    /// No write has met `WouldBlock` since the last writable edge.
    writable: bool,
    /// The peer's FIN (or an error) was reported: no further edge will come, so only
    /// `WouldBlock` ends the reading from then on.
    read_closed: bool,
}

impl Conn {
    const EMPTY: Conn = Conn {
        sock: None,
        held: 0,
        end: 0,
        sent: 0,
        frames: 0,
        readable: false,
        writable: false,
        read_closed: false,
    };
}

/// The peer closed, an I/O error, or a frame over `--max-frame`: close the connection.
struct Close;

struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Conn>,
    free: Vec<usize>,
    /// Where a connection holding no bytes reads, shared by all of them.
    scratch: Box<[u8]>,
    /// One region of `buf_len` bytes per slot, written only for partial data.
    regions: Box<[u8]>,
    buf_len: usize,
    max_frame: usize,
    /// A short read ends the reading (the receive queue is empty; a new edge announces more).
    short_reads: bool,
    meter: Meter,
}

/// Writes `buf[*done..]` while the socket takes it; `*writable` turns false at `WouldBlock`.
#[inline]
fn write_out(
    sock: &mut TcpStream,
    buf: &[u8],
    done: &mut usize,
    writable: &mut bool,
) -> Result<(), Close> {
    while *done < buf.len() && *writable {
        match sock.write(&buf[*done..]) {
            Ok(n) => *done += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => *writable = false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(Close),
        }
    }
    Ok(())
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
            // Registering reports the current readiness as a first event, so the flags can
            // start down; data that came before it is read on that event.
            self.conns[slot] = Conn {
                sock: Some(sock),
                writable: true,
                ..Conn::EMPTY
            };
        }
    }

    /// Writes back what the connection holds and reads what has come, until it waits for an
    /// edge.
    fn pump(&mut self, slot: usize) -> Result<(), Close> {
        let conn = &mut self.conns[slot];
        let Some(sock) = conn.sock.as_mut() else {
            return Ok(());
        };
        let region = &mut self.regions[slot * self.buf_len..][..self.buf_len];
        loop {
            if conn.end > 0 {
                // Whole frames held in the region: write them, then keep the partial rest.
                let mut sent = conn.sent as usize;
                let end = conn.end as usize;
                write_out(sock, &region[..end], &mut sent, &mut conn.writable)?;
                conn.sent = sent as u32;
                if sent < end {
                    return Ok(()); // until the writable edge; not read meanwhile
                }
                self.meter.count(u64::from(conn.frames));
                region.copy_within(end..conn.held as usize, 0);
                conn.held -= conn.end;
                conn.end = 0;
                conn.sent = 0;
                conn.frames = 0;
            }
            if !conn.readable {
                return Ok(());
            }
            if conn.held == 0 {
                // Nothing held: read into the scratch buffer, write whole frames from it.
                let n = match sock.read(&mut self.scratch) {
                    Ok(0) => return Err(Close),
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        conn.readable = false;
                        return Ok(());
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Close),
                };
                if self.short_reads && n < self.scratch.len() && !conn.read_closed {
                    conn.readable = false;
                }
                let data = &self.scratch[..n];
                let (end, frames) = complete_frames(data, self.max_frame).map_err(|_| Close)?;
                let mut sent = 0;
                write_out(sock, &data[..end], &mut sent, &mut conn.writable)?;
                if sent == end {
                    if frames > 0 {
                        self.meter.count(frames);
                    }
                    // Only a partial frame (if any) needs the connection's own bytes.
                    region[..n - end].copy_from_slice(&data[end..]);
                    conn.held = (n - end) as u32;
                } else {
                    // The write stopped short: keep what is unwritten, frames and all.
                    region[..n - sent].copy_from_slice(&data[sent..]);
                    conn.held = (n - sent) as u32;
                    conn.end = (end - sent) as u32;
                    conn.frames = frames as u32;
                    return Ok(());
                }
            } else {
                // A partial frame is held: read the rest behind it, in the region.
                let held = conn.held as usize;
                let n = match sock.read(&mut region[held..]) {
                    Ok(0) => return Err(Close),
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        conn.readable = false;
                        return Ok(());
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return Err(Close),
                };
                if self.short_reads && n < region.len() - held && !conn.read_closed {
                    conn.readable = false;
                }
                let (end, frames) =
                    complete_frames(&region[..held + n], self.max_frame).map_err(|_| Close)?;
                conn.held = (held + n) as u32;
                conn.end = end as u32;
                conn.frames = frames as u32;
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
    let buf_len = o.buffer_len();
    if u32::try_from(buf_len).is_err() {
        return Err(std::io::Error::other("--max-frame must fit in 32 bits"));
    }
    let poll = Poll::new()?;
    let mut listener = listen(o.bind)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    println!("{}", listener.local_addr()?);
    let mut server = Server {
        poll,
        listener,
        conns: (0..o.max_connections).map(|_| Conn::EMPTY).collect(),
        free: (0..o.max_connections).rev().collect(),
        scratch: vec![0; buf_len].into_boxed_slice(),
        // Zeroed allocation (`calloc`): pages are not resident until a region is written.
        regions: vec![0; o.max_connections * buf_len].into_boxed_slice(),
        buf_len,
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
                    let conn = &mut server.conns[slot];
                    if event.is_readable() {
                        conn.readable = true;
                    }
                    if event.is_writable() {
                        conn.writable = true;
                    }
                    if event.is_read_closed() || event.is_error() {
                        conn.readable = true;
                        conn.read_closed = true;
                    }
                    if server.pump(slot).is_err() {
                        server.close(slot);
                    }
                }
            }
        }
    }
    Ok(server.meter)
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: echo_mio [--short-reads true|false (true)] [flags]";
    let options = Args::parse(USAGE).and_then(|mut args| {
        let o = ServerOptions::take(&mut args)?;
        let short_reads: bool = args.take("--short-reads", true)?;
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
