//! Load for a framed echo server: N concurrent clients, each sending M frames one at a time
//! and checking every echo byte for byte; prints throughput and latency percentiles.
//!
//! ```text
//! cargo run --release --example echo_server &
//! cargo run --release --example stress_client -- --connect 127.0.0.1:7000 --clients 100 --messages 1000
//! ```
//!
//! Every client is a protothread on one event loop. Frames are built in, and echoes read into,
//! buffers of the loop's pool, held only while a frame is on its way: a client's context is a
//! few dozen bytes, and it checks an echo against the pattern it derives from its id and the
//! frame's sequence number instead of keeping a copy. Latency samples go into one buffer made
//! at start-up, so the clients allocate nothing while they run.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use ptk::signals::SIGINT;
use ptk::{
    protothread, BackendKind, Capacities, Config, Cx, Error, EventLoop, Handle, Outcome,
    OwnedStorage, PooledFrameReader, Pt, TcpStream,
};

const MAX_PAYLOAD: usize = 4096;
const BUF: usize = MAX_PAYLOAD + ptk::HEADER_LEN;

struct Options {
    backend: BackendKind,
    connect: SocketAddr,
    clients: usize,
    messages: usize,
    size: usize,
    timeout_ms: u64,
}

fn usage() -> &'static str {
    "usage: stress_client [--backend mio|io_uring] [--connect ADDR:PORT] [--clients N] [--messages M] [--size BYTES] \
     [--timeout-ms MS]\n\
     defaults: --backend mio (or $PTK_BACKEND) --connect 127.0.0.1:7000 --clients 100 --messages 1000 --size 64 --timeout-ms 5000"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        backend: Config::default().backend,
        connect: SocketAddr::from(([127, 0, 0, 1], 7000)),
        clients: 100,
        messages: 1000,
        size: 64,
        timeout_ms: 5000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String>
        where
            T::Err: std::fmt::Display,
        {
            v.parse().map_err(|e| format!("{name} {v}: {e}"))
        }
        match arg.as_str() {
            "--connect" => o.connect = num("--connect", value("--connect")?)?,
            "--clients" => o.clients = num("--clients", value("--clients")?)?,
            "--messages" => o.messages = num("--messages", value("--messages")?)?,
            "--size" => o.size = num("--size", value("--size")?)?,
            "--timeout-ms" => o.timeout_ms = num("--timeout-ms", value("--timeout-ms")?)?,
            "--backend" => o.backend = BackendKind::from_arg(&value("--backend")?)?,
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.clients == 0 || o.messages == 0 {
        return Err("--clients and --messages must be at least 1".into());
    }
    if o.size < 8 || o.size > MAX_PAYLOAD {
        return Err(format!("--size must be between 8 and {MAX_PAYLOAD}"));
    }
    Ok(o)
}

/// What all clients share: the latency samples, in microseconds.
struct Stats {
    latencies_us: Vec<u32>,
}

struct Client {
    pt: Pt,
    id: u64,
    addr: Option<SocketAddr>,
    stream: Option<Handle<TcpStream>>,
    messages: usize,
    size: usize,
    timeout_ms: u64,
    sent: usize,
    started: Option<Instant>,
    /// The frame being sent was handed to the loop; waiting for it to be sent.
    handed: bool,
    reader: PooledFrameReader,
    stats: Option<Rc<RefCell<Stats>>>,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            pt: Pt::default(),
            id: 0,
            addr: None,
            stream: None,
            messages: 0,
            size: 0,
            timeout_ms: 0,
            sent: 0,
            started: None,
            handed: false,
            reader: PooledFrameReader::new(MAX_PAYLOAD),
            stats: None,
        }
    }
}

impl Client {
    fn stream(&self) -> Result<Handle<TcpStream>, Error> {
        self.stream.ok_or(Error::NotConnected)
    }

    fn poll_connected(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(s) => cx.connected(s),
            None => Poll::Ready(Err(Error::NotConnected)),
        }
    }

    /// Builds the next frame in a pool buffer, hands it to the send and waits until it is
    /// sent. Waits (`Pending`, checked again after the next event) while no buffer is free.
    fn poll_send(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let stream = match self.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if !self.handed {
            let frame = match cx.buf_alloc(ptk::HEADER_LEN + self.size) {
                Ok(b) => b,
                Err(Error::OutOfResources(_)) => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            };
            let built = self
                .build(cx, frame)
                .and_then(|()| cx.send_buf(stream, frame));
            if let Err(e) = built {
                let _ = cx.buf_release(frame);
                return Poll::Ready(Err(e));
            }
            self.handed = true;
        }
        let sent = cx.poll_sent(stream);
        if sent.is_ready() {
            self.handed = false;
        }
        sent
    }

    /// Writes the frame into `frame`: the length, then client id and sequence number, then a
    /// pattern derived from both.
    fn build(&self, cx: &mut Cx<'_>, frame: Handle<ptk::Buffer>) -> Result<(), Error> {
        let mut b = cx.buf_mut(frame)?;
        b.extend_from_slice(&(self.size as u32).to_be_bytes())?;
        let payload = b
            .spare_mut()
            .get_mut(..self.size)
            .ok_or(Error::MessageTooLarge)?;
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte = self.expected(i);
        }
        b.advance(self.size)
    }

    /// Byte `i` of the payload of frame number `self.sent`.
    fn expected(&self, i: usize) -> u8 {
        if i < 8 {
            (self.id << 32 | self.sent as u64).to_be_bytes()[i]
        } else {
            (self.id as usize + self.sent + i - 8) as u8
        }
    }

    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(s) => self.reader.poll_frame(cx, s),
            None => Poll::Ready(Err(Error::NotConnected)),
        }
    }

    /// Whether the echo at the front is the frame just sent.
    fn echo_matches(&self, cx: &Cx<'_>) -> bool {
        let echo = self.reader.frame(cx);
        echo.len() == self.size && echo.iter().enumerate().all(|(i, b)| *b == self.expected(i))
    }
}

/// Connects, then sends `messages` frames one at a time, checking each echo.
#[protothread]
fn client(ctx: &mut Client, cx: &mut Cx<'_>) -> Result<(), Error> {
    let addr = ctx.addr.ok_or(Error::InvalidArgument)?;
    ctx.stream = Some(cx.tcp_connect(addr, Some(ctx.timeout_ms))?);
    pt_await!(ctx.poll_connected(cx))?;
    cx.set_nodelay(ctx.stream()?, true)?;
    while ctx.sent < ctx.messages {
        ctx.started = Some(Instant::now());
        let deadline = cx.after_ms(ctx.timeout_ms);
        cx.set_deadline(Some(deadline))?;
        pt_await!(ctx.poll_send(cx))?;
        let echoed = pt_await!(ctx.poll_frame(cx))?;
        cx.set_deadline(None)?;
        if echoed.is_none() || !ctx.echo_matches(cx) {
            return Err(Error::ProtocolError);
        }
        ctx.reader.consume(cx);
        if let (Some(started), Some(stats)) = (ctx.started, &ctx.stats) {
            let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            stats.borrow_mut().latencies_us.push(us);
        }
        ctx.sent += 1;
    }
    cx.close(ctx.stream()?.raw())
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
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(o: &Options) -> Result<bool, Error> {
    let capacities = Capacities {
        tcp_listeners: 0,
        tcp_streams: o.clients,
        // Connect timeouts and deadlines: at most two timers per client at once.
        timers: 2 * o.clients,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 1,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        // A frame out and an echo in per client at most (a client waits for its echo before
        // it sends again), of up to 4 KiB each.
        buffers: 2 * o.clients + 16,
        buffer_size: BUF,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let stats = Rc::new(RefCell::new(Stats {
        latencies_us: Vec::with_capacity(o.clients * o.messages),
    }));
    let mut memory = OwnedStorage::new(capacities);
    let mut clients: Vec<Client> = (0..o.clients).map(|_| Client::default()).collect();
    let config = Config {
        protothreads: o.clients,
        backend: o.backend,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;
    let pool = ev.add_protothreads(&mut clients)?;
    let mut handles = Vec::with_capacity(o.clients);
    for id in 0..o.clients {
        handles.push(ev.cx().spawn_with(pool, |c: &mut Client| {
            c.id = id as u64;
            c.addr = Some(o.connect);
            c.stream = None;
            c.messages = o.messages;
            c.size = o.size;
            c.timeout_ms = o.timeout_ms;
            c.sent = 0;
            c.handed = false;
            c.reader = PooledFrameReader::new(MAX_PAYLOAD);
            c.stats = Some(Rc::clone(&stats));
        })?);
    }
    println!(
        "stress_client: {} clients x {} messages of {} bytes against {}",
        o.clients, o.messages, o.size, o.connect
    );
    let start = Instant::now();
    // Ctrl-C ends the run early: the watcher keeps the arrival until it is taken below.
    let interrupt = ev.signal_watch(SIGINT)?;
    while ev.protothreads_running() > 0 {
        ev.run_once(Some(Duration::from_millis(100)))?;
        if let Poll::Ready(Ok(_)) = ev.signal_wait(interrupt) {
            println!("stress_client: interrupted");
            break;
        }
    }
    let elapsed = start.elapsed();
    let mut failed = 0;
    for (id, h) in handles.iter().enumerate() {
        match ev.pt_status(*h) {
            Ok(ptk::PtStatus::Ended(Outcome::Finished)) => {}
            Ok(ptk::PtStatus::Ended(Outcome::Failed(e))) => {
                failed += 1;
                log::warn!("client {id}: {e}");
            }
            other => {
                failed += 1;
                log::warn!("client {id}: {other:?}");
            }
        }
    }
    let mut lat = std::mem::take(&mut stats.borrow_mut().latencies_us);
    lat.sort_unstable();
    let total = lat.len();
    println!(
        "{total} round trips in {:.3} s: {:.0} round trips/s; latency us p50 {} p90 {} p99 {} max {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0),
    );
    if failed > 0 {
        println!("{failed} of {} clients failed", o.clients);
    }
    Ok(failed == 0 && total == o.clients * o.messages)
}
