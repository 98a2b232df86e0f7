//! The load generator: N connections, each with exactly one 64-byte frame in flight, for a
//! fixed number of round trips in all.
//!
//! ```text
//! loadgen --addr 127.0.0.1:7000 --connections 1000 --messages 200000 --payload 64
//! ```
//!
//! One thread, one `mio` poll. Connections are opened at most `--connect-batch` at a time and
//! each does one untimed warm-up round trip (so the server has accepted it) before the clock
//! starts; then every connection sends a frame, waits for its echo, records the round trip
//! time in a preallocated sample array and sends the next, until its share of `--messages`
//! is done. The server therefore echoes `connections + messages` frames in all.
//!
//! `--idle-secs S` holds the connections idle between the warm-up and the timed round trips:
//! once every connection is open and has done its warm-up round trip, it prints
//! `idle connections=N` on stdout, sends and reads nothing for `S` seconds (so that the
//! server's resident memory with `N` idle connections can be read), prints `resumed` and goes
//! on with the `--messages` timed round trips (`--messages` as many as `--connections` checks
//! that every connection still works). `--timeout-secs` counts the hold too.
//!
//! The last line on stdout is machine-readable:
//! `result connections=N messages=M seconds=S rtps=R p50_us=A p99_us=B max_us=C connect_s=D`.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};
use ptk_bench::frame::{fill, HEADER};
use ptk_bench::load::Progress;
use ptk_bench::Args;

const USAGE: &str =
    "usage: loadgen --addr ADDR:PORT [--connections N (1)] [--messages M (100000)] \
     [--payload BYTES (64)] [--connect-batch N (256)] [--idle-secs S (0)] \
     [--timeout-secs S (120)]";

struct Options {
    addr: SocketAddr,
    connections: usize,
    messages: u64,
    payload: usize,
    connect_batch: usize,
    idle: Duration,
    timeout: Duration,
}

fn options() -> Result<Options, String> {
    let mut args = Args::parse(USAGE)?;
    let o = Options {
        addr: args.take("--addr", SocketAddr::from(([127, 0, 0, 1], 7000)))?,
        connections: args.take("--connections", 1)?,
        messages: args.take("--messages", 100_000)?,
        payload: args.take("--payload", 64)?,
        connect_batch: args.take("--connect-batch", 256)?,
        idle: Duration::from_secs(args.take("--idle-secs", 0)?),
        timeout: Duration::from_secs(args.take("--timeout-secs", 120)?),
    };
    args.finish()?;
    if o.connections == 0 || o.connect_batch == 0 {
        return Err("--connections and --connect-batch must be at least 1".into());
    }
    Ok(o)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    /// A frame is on its way or its echo is: `out` bytes of it were written, `got` read back.
    InFlight,
    Idle,
}

struct Client {
    sock: TcpStream,
    state: State,
    warm: bool,
    writable: bool,
    out: usize,
    got: usize,
    sent_at: Instant,
    remaining: u64,
}

struct Load {
    poll: Poll,
    clients: Vec<Client>,
    frame: Vec<u8>,
    echo: Vec<u8>,
    addr: SocketAddr,
    connections: usize,
    connect_batch: usize,
    /// How long to hold every connection idle after the warm-up (`--idle-secs`).
    idle: Duration,
    opened: usize,
    warming: usize,
    messages: u64,
    progress: Progress,
}

impl Load {
    fn open_more(&mut self) -> std::io::Result<()> {
        while self.warming < self.connect_batch && self.opened < self.connections {
            let i = self.opened;
            let mut sock = TcpStream::connect(self.addr)?;
            self.poll.registry().register(
                &mut sock,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let base = self.messages / self.connections as u64;
            let extra = u64::from((i as u64) < self.messages % self.connections as u64);
            self.clients.push(Client {
                sock,
                state: State::Connecting,
                warm: false,
                writable: false,
                out: 0,
                got: 0,
                sent_at: Instant::now(),
                remaining: base + extra,
            });
            self.opened += 1;
            self.warming += 1;
        }
        Ok(())
    }

    /// Starts a round trip on client `i`.
    fn send(&mut self, i: usize) -> std::io::Result<()> {
        let c = &mut self.clients[i];
        c.state = State::InFlight;
        c.out = 0;
        c.got = 0;
        c.sent_at = Instant::now();
        flush(c, &self.frame)
    }

    fn on_event(&mut self, i: usize, writable: bool) -> std::io::Result<()> {
        let c = &mut self.clients[i];
        if writable {
            c.writable = true;
        }
        if c.state == State::Connecting {
            if let Some(e) = c.sock.take_error()? {
                return Err(e);
            }
            match c.sock.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(e),
            }
            c.sock.set_nodelay(true)?;
            return self.send(i);
        }
        if c.state != State::InFlight {
            return Ok(());
        }
        flush(c, &self.frame)?;
        let len = self.frame.len();
        while c.got < len {
            match c.sock.read(&mut self.echo[c.got..len]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => c.got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // The whole echo is in, and nothing else can be: the next frame is not sent yet.
        if self.echo != self.frame {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "the echo differs from the frame sent",
            ));
        }
        c.state = State::Idle;
        if !c.warm {
            c.warm = true;
            self.warming -= 1;
            self.progress.warmed += 1;
            if self.progress.warmed < self.connections {
                return self.open_more();
            }
            if !self.idle.is_zero() {
                // Every connection is open and quiet: nothing to poll for until the hold ends.
                println!("idle connections={}", self.connections);
                std::thread::sleep(self.idle);
                println!("resumed");
            }
            self.progress.started = Some(Instant::now());
            for j in 0..self.connections {
                if self.clients[j].remaining > 0 {
                    self.send(j)?;
                }
            }
            return Ok(());
        }
        let rtt = c.sent_at.elapsed();
        self.progress.samples.push(rtt.as_nanos() as u64);
        c.remaining -= 1;
        self.progress.done += 1;
        if c.remaining > 0 {
            self.send(i)?;
        }
        Ok(())
    }
}

/// Writes what is left of the frame while the socket takes it.
fn flush(c: &mut Client, frame: &[u8]) -> std::io::Result<()> {
    while c.out < frame.len() && c.writable {
        match c.sock.write(&frame[c.out..]) {
            Ok(n) => c.out += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => c.writable = false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn run(o: &Options) -> std::io::Result<String> {
    let mut frame = vec![0; HEADER + o.payload];
    fill(&mut frame, o.payload);
    let mut load = Load {
        poll: Poll::new()?,
        clients: Vec::with_capacity(o.connections),
        echo: vec![0; frame.len()],
        frame,
        addr: o.addr,
        connections: o.connections,
        connect_batch: o.connect_batch,
        idle: o.idle,
        opened: 0,
        warming: 0,
        messages: o.messages,
        progress: Progress::new(o.messages),
    };
    ptk_bench::load::run(
        &mut load,
        o.connections,
        o.messages,
        o.timeout,
        "round trips",
    )
}

fn main() -> ExitCode {
    ptk_bench::load::main("loadgen", options, run)
}

impl ptk_bench::load::Generator for Load {
    fn poll(&mut self) -> &mut Poll {
        &mut self.poll
    }

    fn start(&mut self) -> std::io::Result<()> {
        self.open_more()
    }

    fn on_event(&mut self, i: usize, writable: bool) -> std::io::Result<()> {
        Load::on_event(self, i, writable)
    }

    fn progress(&mut self) -> &mut Progress {
        &mut self.progress
    }
}
