//! A chat server (a peer-to-peer chat room): every frame a peer sends (a 4-byte
//! big-endian length, then the message) is sent to every other peer.
//!
//! ```text
//! cargo run --release --example chat_server -- --bind 127.0.0.1:7001 --max-peers 256
//! ```
//!
//! Each peer has two protothreads: a reader that takes its frames and copies them into the
//! other peers' outboxes, and a writer that waits on the peer's semaphore and flushes its
//! outbox. Outboxes are fixed buffers made at start-up. A slow peer whose outbox is full loses
//! the message (counted, reported when it leaves) instead of stalling the room: the reader never
//! waits on anyone else's socket.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::task::Poll;

use ptk::signals::{SIGINT, SIGTERM};
use ptk::{
    protothread, Capacities, Config, Cx, Error, EventLoop, FrameReader, FrameWriter, Handle,
    ListenOptions, OwnedStorage, Pt, PtPool, Semaphore, TcpListener, TcpStream,
};

/// Largest message (bytes).
const MAX_MESSAGE: usize = 4096;
const IN_BUF: usize = MAX_MESSAGE + ptk::HEADER_LEN;
/// Each peer's outbox holds this many bytes of frames not yet written to it.
const OUTBOX: usize = 64 * 1024;

struct Options {
    bind: SocketAddr,
    max_peers: usize,
    quiet: bool,
}

fn usage() -> &'static str {
    "usage: chat_server [--bind ADDR:PORT] [--max-peers N] [--quiet]\n\
     defaults: --bind 127.0.0.1:7001 --max-peers 256"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
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
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.max_peers == 0 {
        return Err("--max-peers must be at least 1".into());
    }
    Ok(o)
}

/// One seat of the room: the peer's socket, outbox and the semaphore its writer waits on.
struct Seat {
    stream: Option<Handle<TcpStream>>,
    outbox: FrameWriter<OUTBOX>,
    signal: Option<Handle<Semaphore>>,
    writer: Option<Handle<ptk::kind::Protothread>>,
    dropped: u64,
}

/// Everything the peers share.
struct Room {
    seats: Vec<Seat>,
    quiet: bool,
}

impl Room {
    /// Queues `message` for every seated peer except `from`; a full outbox drops it.
    fn broadcast(&mut self, cx: &mut Cx<'_>, from: usize, message: &[u8]) {
        for (i, seat) in self.seats.iter_mut().enumerate() {
            if i == from || seat.stream.is_none() {
                continue;
            }
            match seat.outbox.push(message) {
                Ok(()) => {
                    if let Some(signal) = seat.signal {
                        let _ = cx.sem_signal(signal);
                    }
                }
                Err(_) => seat.dropped += 1,
            }
        }
    }
}

type Shared = Rc<RefCell<Room>>;

/// Reads a peer's frames and broadcasts them; on the way out, empties its seat.
#[derive(Default)]
struct Reader {
    pt: Pt,
    seat: usize,
    stream: Option<Handle<TcpStream>>,
    inbox: FrameReader<IN_BUF>,
    messages: u64,
    room: Option<Shared>,
}

impl Reader {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(stream) => self.inbox.poll_frame(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn broadcast(&mut self, cx: &mut Cx<'_>) {
        if let Some(room) = &self.room {
            room.borrow_mut()
                .broadcast(cx, self.seat, self.inbox.frame());
        }
        self.inbox.consume();
        self.messages += 1;
    }

    /// Frees the seat: stops the writer, closes the socket, reports.
    fn leave(&mut self, cx: &mut Cx<'_>, why: &Result<(), Error>) {
        let Some(room) = &self.room else { return };
        let mut room = room.borrow_mut();
        let quiet = room.quiet;
        let seat = &mut room.seats[self.seat];
        if let Some(writer) = seat.writer.take() {
            let _ = cx.kill(writer);
        }
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
        seat.outbox.clear();
        seat.dropped = 0;
    }
}

#[protothread]
fn read_peer(ctx: &mut Reader, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => ctx.broadcast(cx),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    ctx.leave(cx, &ended);
    ended
}

/// Waits for the peer's semaphore and writes its outbox out.
#[derive(Default)]
struct Writer {
    pt: Pt,
    seat: usize,
    signal: Option<Handle<Semaphore>>,
    room: Option<Shared>,
}

impl Writer {
    fn poll_signal(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.signal {
            Some(signal) => cx.sem_wait(signal),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn poll_flush(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let Some(room) = &self.room else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        let mut room = room.borrow_mut();
        let seat = &mut room.seats[self.seat];
        match seat.stream {
            Some(stream) => seat.outbox.poll_flush(cx, stream),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn write_peer(ctx: &mut Writer, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        pt_await!(ctx.poll_signal(cx))?;
        pt_await!(ctx.poll_flush(cx))?;
    }
}

/// Accepts peers, seats them and starts their two protothreads.
#[derive(Default)]
struct Door {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    readers: Option<PtPool<Reader>>,
    writers: Option<PtPool<Writer>>,
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
        let (Some(readers), Some(writers), Some(room)) = (self.readers, self.writers, &self.room)
        else {
            return Err(Error::InvalidArgument);
        };
        // Streams and seats are sized alike, so the stream's slot is a free seat.
        let seat = stream.raw().slot() as usize;
        let signal = {
            let mut r = room.borrow_mut();
            let s = r
                .seats
                .get_mut(seat)
                .ok_or(Error::OutOfResources(ptk::Capacity::TcpStreams))?;
            s.stream = Some(stream);
            s.outbox.clear();
            s.dropped = 0;
            s.signal
        };
        let writer = cx.spawn_with(writers, |w: &mut Writer| {
            w.seat = seat;
            w.signal = signal;
            w.room = Some(Rc::clone(room));
        });
        let reader = writer.and_then(|writer| {
            room.borrow_mut().seats[seat].writer = Some(writer);
            cx.spawn_with(readers, |r: &mut Reader| {
                r.seat = seat;
                r.stream = Some(stream);
                r.inbox.clear();
                r.messages = 0;
                r.room = Some(Rc::clone(room));
            })
        });
        if let Err(e) = reader {
            let mut r = room.borrow_mut();
            let s = &mut r.seats[seat];
            s.stream = None;
            if let Some(w) = s.writer.take() {
                let _ = cx.kill(w);
            }
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
                eprintln!("accept: {e}");
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
            eprintln!("chat_server: {e}");
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
        semaphores: n,
        signals: 2,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut readers: Vec<Reader> = (0..n).map(|_| Reader::default()).collect();
    let mut writers: Vec<Writer> = (0..n).map(|_| Writer::default()).collect();
    let mut door = [Door::default()];
    let config = Config {
        protothreads: 2 * n + 1,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;

    let mut seats = Vec::with_capacity(n);
    for _ in 0..n {
        seats.push(Seat {
            stream: None,
            outbox: FrameWriter::new(),
            signal: Some(ev.sem_create(0)?),
            writer: None,
            dropped: 0,
        });
    }
    let room: Shared = Rc::new(RefCell::new(Room {
        seats,
        quiet: o.quiet,
    }));
    let reader_pool = ev.add_protothreads(&mut readers)?;
    let writer_pool = ev.add_protothreads(&mut writers)?;
    let door_pool = ev.add_protothreads(&mut door)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.cx().spawn_with(door_pool, |d: &mut Door| {
        d.listener = Some(listener);
        d.readers = Some(reader_pool);
        d.writers = Some(writer_pool);
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
