//! The Modbus benchmark's load generator: N connections, each with exactly one Modbus/TCP
//! request in flight, for a fixed number of requests in all.
//!
//! ```text
//! modbus_load --addr 127.0.0.1:5020 --connections 100 --messages 200000
//! ```
//!
//! One thread, one `mio` poll, the shape of `loadgen`. The mix, the same for every server:
//! read holding registers (function code 3), 10 registers at an address that rotates through
//! 0, 10, 20, ..., 9980, and every 4th request of a connection a write single register
//! (function code 6) at the same rotating address. Every response is checked: transaction id,
//! protocol id, length field, unit id, function code (an exception response fails the run),
//! the byte count (20) of a read, the echo of a write. Connections are opened at most
//! `--connect-batch` at a time and each sends one untimed warm-up read (so the server has
//! accepted it) before the clock starts; the server therefore answers `connections + messages`
//! requests in all. Round trip times go into an array made before the clock starts.
//!
//! The last line on stdout is machine-readable, as `loadgen`'s:
//! `result connections=N messages=M seconds=S rtps=R p50_us=A p99_us=B max_us=C connect_s=D`
//! (`rtps`: requests answered per second).

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};
use ptk_bench::load::Progress;
use ptk_bench::Args;

const USAGE: &str = "usage: modbus_load --addr ADDR:PORT [--connections N (1)] \
                     [--messages M (100000)] [--connect-batch N (256)] [--timeout-secs S (120)]";

/// Registers one read asks for.
const QUANTITY: u16 = 10;
/// Addresses rotate through multiples of `QUANTITY` below this (the tables hold 10,000).
const ADDRESSES: u16 = 9_990;
/// Every `WRITE_EVERY`th request of a connection is a write single register.
const WRITE_EVERY: u64 = 4;
/// The unit id sent (both servers answer any).
const UNIT: u8 = 1;
/// A request: MBAP header (7 bytes) and a 5-byte PDU.
const REQUEST_LEN: usize = 12;
/// The longest Modbus/TCP frame.
const MAX_FRAME: usize = 260;

struct Options {
    addr: SocketAddr,
    connections: usize,
    messages: u64,
    connect_batch: usize,
    timeout: Duration,
}

fn options() -> Result<Options, String> {
    let mut args = Args::parse(USAGE)?;
    let o = Options {
        addr: args.take("--addr", SocketAddr::from(([127, 0, 0, 1], 5020)))?,
        connections: args.take("--connections", 1)?,
        messages: args.take("--messages", 100_000)?,
        connect_batch: args.take("--connect-batch", 256)?,
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
    /// A request is on its way or its response is: `out` bytes of it were written, `got` of
    /// the response read.
    InFlight,
    Idle,
}

struct Client {
    sock: TcpStream,
    state: State,
    warm: bool,
    writable: bool,
    /// Requests sent on this connection, the warm-up included; the low 16 bits are the
    /// transaction id of the one in flight.
    sent: u64,
    request: [u8; REQUEST_LEN],
    response: [u8; MAX_FRAME],
    out: usize,
    got: usize,
    sent_at: Instant,
    remaining: u64,
}

impl Client {
    /// Builds request number `self.sent` (0 is the warm-up, always a read).
    fn build(&mut self, client: usize) {
        let n = self.sent;
        let tid = n as u16;
        let address = ((n + client as u64) % u64::from(ADDRESSES / QUANTITY)) as u16 * QUANTITY;
        let write = n > 0 && n % WRITE_EVERY == 0;
        let (function, word) = if write { (6, n as u16) } else { (3, QUANTITY) };
        let [t0, t1] = tid.to_be_bytes();
        let [a0, a1] = address.to_be_bytes();
        let [w0, w1] = word.to_be_bytes();
        self.request = [t0, t1, 0, 0, 0, 6, UNIT, function, a0, a1, w0, w1];
    }

    /// Checks the complete response in `self.response[..self.got]` against the request.
    fn check(&self) -> Result<(), String> {
        let r = &self.response[..self.got];
        let q = &self.request;
        if r[0..2] != q[0..2] {
            return Err(format!(
                "transaction id {:?}, expected {:?}",
                &r[0..2],
                &q[0..2]
            ));
        }
        if r[2..4] != [0, 0] || r[6] != UNIT {
            return Err(format!("bad protocol id or unit id: {:?}", &r[..7]));
        }
        if r[7] != q[7] {
            return Err(format!(
                "function code {:#04x}, expected {:#04x}",
                r[7], q[7]
            ));
        }
        match q[7] {
            3 => {
                let want = 2 * QUANTITY as usize;
                if r.len() != 9 + want || usize::from(r[8]) != want {
                    return Err(format!(
                        "read answered {} bytes, byte count {}",
                        r.len(),
                        r[8]
                    ));
                }
            }
            _ => {
                if r != q {
                    return Err(format!("write answered {r:?}, expected the echo {q:?}"));
                }
            }
        }
        Ok(())
    }
}

struct Load {
    poll: Poll,
    clients: Vec<Client>,
    addr: SocketAddr,
    connections: usize,
    connect_batch: usize,
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
                sent: 0,
                request: [0; REQUEST_LEN],
                response: [0; MAX_FRAME],
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

    /// Starts the next request on client `i`.
    fn send(&mut self, i: usize) -> std::io::Result<()> {
        let c = &mut self.clients[i];
        c.build(i);
        c.sent += 1;
        c.state = State::InFlight;
        c.out = 0;
        c.got = 0;
        c.sent_at = Instant::now();
        flush(c)
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
        flush(c)?;
        loop {
            // The MBAP header first, then as many bytes as its length field says.
            let want = if c.got < 7 {
                7
            } else {
                let len = usize::from(u16::from_be_bytes([c.response[4], c.response[5]]));
                if !(2..=MAX_FRAME - 6).contains(&len) {
                    return Err(std::io::Error::new(
                        ErrorKind::InvalidData,
                        format!("length field {len}"),
                    ));
                }
                6 + len
            };
            if c.got >= want {
                break;
            }
            match c.sock.read(&mut c.response[c.got..want]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => c.got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // The whole response is in, and nothing else can be: the next request is not sent yet.
        c.check()
            .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
        c.state = State::Idle;
        if !c.warm {
            c.warm = true;
            self.warming -= 1;
            self.progress.warmed += 1;
            if self.progress.warmed < self.connections {
                return self.open_more();
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

/// Writes what is left of the request while the socket takes it.
fn flush(c: &mut Client) -> std::io::Result<()> {
    while c.out < REQUEST_LEN && c.writable {
        match c.sock.write(&c.request[c.out..]) {
            Ok(n) => c.out += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => c.writable = false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn run(o: &Options) -> std::io::Result<String> {
    let mut load = Load {
        poll: Poll::new()?,
        clients: Vec::with_capacity(o.connections),
        addr: o.addr,
        connections: o.connections,
        connect_batch: o.connect_batch,
        opened: 0,
        warming: 0,
        messages: o.messages,
        progress: Progress::new(o.messages),
    };
    ptk_bench::load::run(&mut load, o.connections, o.messages, o.timeout, "requests")
}

fn main() -> ExitCode {
    ptk_bench::load::main("modbus_load", options, run)
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
