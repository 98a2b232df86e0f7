//! A chat server (a peer-to-peer chat room): every frame a peer sends (a 4-byte
//! big-endian length, then the message) is sent to every other peer.
//!
//! ```text
//! cargo run --release --example chat_server -- --bind 127.0.0.1:7001 --max-peers 256
//! ```
//!
//! Each peer has one protothread: it reads the peer's frames and hands a copy of each to the
//! loop to be sent to every other peer. Messages live in the loop's buffer pool from the read
//! that brought them until the last copy is sent, so a peer holds memory only for messages in
//! flight to or from it, and no peer needs a writer of its own: the loop sends what it was
//! handed as each socket takes it. A slow peer that already has as many messages queued as a
//! connection may hold (`Config::buffers_per_stream`) loses the message (counted, reported
//! when it leaves) instead of stalling the room: the reader never waits on anyone else's
//! socket. When the pool itself runs dry, readers pause until buffers are free.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::task::Poll;

use ptk::signals::{SIGINT, SIGTERM};
use ptk::{
    protothread, BackendKind, Buffer, Capacities, Config, Cx, Error, EventLoop, Handle,
    ListenOptions, OwnedStorage, PooledFrameReader, Pt, PtPool, TcpListener, TcpStream,
};

/// Largest message (bytes).
const MAX_MESSAGE: usize = 4096;
/// A small pool buffer holds a message up to this size; larger ones take a large buffer.
const SMALL: usize = 512;
/// Messages queued for one peer before it counts as too slow for the next one.
const QUEUED_PER_PEER: usize = 16;

struct Options {
    backend: BackendKind,
    bind: SocketAddr,
    max_peers: usize,
    quiet: bool,
}

fn usage() -> &'static str {
    "usage: chat_server [--backend mio|io_uring] [--bind ADDR:PORT] [--max-peers N] [--quiet]\n\
     defaults: --backend mio (or $PTK_BACKEND) --bind 127.0.0.1:7001 --max-peers 256"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        backend: Config::default().backend,
        bind: SocketAddr::from(([127, 0, 0, 1], 7001)),
        max_peers: 256,
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
            "--max-peers" => {
                let v = value("--max-peers")?;
                o.max_peers = v.parse().map_err(|e| format!("--max-peers {v}: {e}"))?;
            }
            "--quiet" => o.quiet = true,
            "--backend" => o.backend = BackendKind::from_arg(&value("--backend")?)?,
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.max_peers == 0 {
        return Err("--max-peers must be at least 1".into());
    }
    Ok(o)
}

/// One seat of the room: the peer's socket and how many messages it was too slow for.
#[derive(Default)]
struct Seat {
    stream: Option<Handle<TcpStream>>,
    dropped: u64,
}

/// Everything the peers share.
struct Room {
    seats: Vec<Seat>,
    quiet: bool,
}

impl Room {
    /// Hands a copy of `message` (a frame with its header, in a pool buffer) to the send of
    /// every seated peer except `from`, and gives `message` back to the pool. A peer that
    /// cannot take it (too many messages queued for it, or no buffer free) loses it.
    fn broadcast(&mut self, cx: &mut Cx<'_>, from: usize, message: Handle<Buffer>) {
        for (i, seat) in self.seats.iter_mut().enumerate() {
            let Some(stream) = seat.stream.filter(|_| i != from) else {
                continue;
            };
            let sent = cx.buf_clone(message).and_then(|copy| {
                cx.send_buf(stream, copy).inspect_err(|_| {
                    let _ = cx.buf_release(copy);
                })
            });
            if sent.is_err() {
                seat.dropped += 1;
            }
        }
        let _ = cx.buf_release(message);
    }
}

type Shared = Rc<RefCell<Room>>;

/// Reads a peer's frames and broadcasts them; on the way out, empties its seat.
struct Reader {
    pt: Pt,
    seat: usize,
    stream: Option<Handle<TcpStream>>,
    inbox: PooledFrameReader,
    messages: u64,
    room: Option<Shared>,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            pt: Pt::default(),
            seat: 0,
            stream: None,
            inbox: PooledFrameReader::new(MAX_MESSAGE),
            messages: 0,
            room: None,
        }
    }
}

impl Reader {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.inbox.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Takes the frame at the front (header included) and broadcasts it. `Pending` (checked
    /// again after the next event) in the rare case that frames arrived behind it and no
    /// buffer is free to move them to.
    fn poll_broadcast(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let message = match self.inbox.take_frame(cx) {
            Ok(m) => m,
            Err(Error::OutOfResources(_)) => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if let Some(room) = &self.room {
            room.borrow_mut().broadcast(cx, self.seat, message);
        } else {
            let _ = cx.buf_release(message);
        }
        self.messages += 1;
        Poll::Ready(Ok(()))
    }

    /// Frees the seat: closes the socket (which drops what is still queued for it), reports.
    fn leave(&mut self, cx: &mut Cx<'_>, why: &Result<(), Error>) {
        self.inbox.release(cx);
        let Some(room) = &self.room else { return };
        let mut room = room.borrow_mut();
        let quiet = room.quiet;
        let seat = &mut room.seats[self.seat];
        if let Some(stream) = seat.stream.take() {
            let _ = cx.close(stream.raw());
            if !quiet {
                match why {
                    Ok(()) => println!("{stream}: left after {} messages", self.messages),
                    Err(e) => println!("{stream}: dropped after {} messages: {e}", self.messages),
                }
                if seat.dropped > 0 {
                    println!("{stream}: was too slow for {} messages", seat.dropped);
                }
            }
        }
        seat.dropped = 0;
    }
}

#[protothread]
fn read_peer(ctx: &mut Reader, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        let sent = pt_await!(ctx.poll_broadcast(cx));
        if let Err(e) = sent {
            break Err(e);
        }
    };
    ctx.leave(cx, &ended);
    ended
}

/// Accepts peers, seats them and starts their protothreads.
#[derive(Default)]
struct Door {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    readers: Option<PtPool<Reader>>,
    room: Option<Shared>,
    admitted: u64,
}

impl Door {
    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr), Error>> {
        match self.listener {
            Some(listener) => cx.accept(listener),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Seats a new peer; on failure the caller closes its socket.
    fn seat(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>) -> Result<(), Error> {
        let (Some(readers), Some(room)) = (self.readers, &self.room) else {
            return Err(Error::InvalidArgument);
        };
        // Streams and seats are sized alike, so the stream's slot is a free seat.
        let seat = stream.raw().slot() as usize;
        {
            let mut r = room.borrow_mut();
            let s = r
                .seats
                .get_mut(seat)
                .ok_or(Error::OutOfResources(ptk::Capacity::TcpStreams))?;
            s.stream = Some(stream);
            s.dropped = 0;
        }
        let reader = cx.spawn_with(readers, |r: &mut Reader| {
            r.seat = seat;
            r.stream = Some(stream);
            r.inbox = PooledFrameReader::new(MAX_MESSAGE);
            r.messages = 0;
            r.room = Some(Rc::clone(room));
        });
        if let Err(e) = reader {
            room.borrow_mut().seats[seat].stream = None;
            return Err(e);
        }
        self.admitted += 1;
        Ok(())
    }
}

#[protothread]
fn open_door(ctx: &mut Door, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                log::debug!("accept: {e}");
                continue;
            }
        };
        let _ = cx.set_nodelay(stream, true);
        match ctx.seat(cx, stream) {
            Ok(()) => {
                let quiet = ctx.room.as_ref().is_some_and(|r| r.borrow().quiet);
                if !quiet {
                    println!("{stream}: joined from {peer}");
                }
            }
            Err(e) => {
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
    let n = o.max_peers;
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: n,
        timers: 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 2,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        // Room for every peer's queue to be half full at once; messages over `SMALL` bytes
        // take a large buffer.
        buffers: n * QUEUED_PER_PEER / 2 + 64,
        buffer_size: SMALL,
        large_buffers: n * 2 + 16,
        large_buffer_size: MAX_MESSAGE + ptk::HEADER_LEN,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut readers: Vec<Reader> = (0..n).map(|_| Reader::default()).collect();
    let mut door = [Door::default()];
    let config = Config {
        protothreads: n + 1,
        buffers_per_stream: QUEUED_PER_PEER,
        backend: o.backend,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;

    let room: Shared = Rc::new(RefCell::new(Room {
        seats: (0..n).map(|_| Seat::default()).collect(),
        quiet: o.quiet,
    }));
    let reader_pool = ev.add_protothreads(&mut readers)?;
    let door_pool = ev.add_protothreads(&mut door)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.cx().spawn_with(door_pool, |d: &mut Door| {
        d.listener = Some(listener);
        d.readers = Some(reader_pool);
        d.room = Some(Rc::clone(&room));
    })?;

    // Ctrl-C or `kill` stops the loop, on the loop's thread (no signal thread).
    ev.stop_on_signals(&[SIGINT, SIGTERM])?;
    println!(
        "chat_server: listening on {} ({n} peers max, messages up to {MAX_MESSAGE} bytes); \
         Ctrl-C stops",
        ev.local_addr(listener.raw())?
    );
    ev.run()?;

    let open = ev.in_use().tcp_streams;
    ev.close_all();
    drop(ev);
    println!(
        "chat_server: stopped; {} peers admitted, {open} still seated were closed",
        door[0].admitted
    );
    Ok(())
}
