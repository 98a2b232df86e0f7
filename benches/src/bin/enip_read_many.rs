//! The EtherNet/IP read-many load: reads the DINT tags `T0`..`T{N-1}` of a Logix controller
//! (or `enip_server`) with ptk-enip's client, all of them per read, as many reads as fit in
//! `--seconds`, and prints one result line:
//!
//! ```text
//! result tags=1000 reads=812 seconds=5.001 tags_per_second=162367 first_read_requests=4
//!        requests_per_read=4 setup_requests=2 errors=0
//! ```
//!
//! `first_read_requests` are the packets of the first read (the client knows nothing of the
//! tags before it), `requests_per_read` the packets of each later one on average, and
//! `setup_requests` those of the session and connection set-up. Every read checks every value
//! against `--expect` (the value each tag holds; the server's default 0).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::task::Poll;
use std::time::{Duration, Instant};

use ptk::{protothread, Capacities, Config, Cx, EventLoop, OwnedStorage, Pt};
use ptk_bench::Args;
use ptk_enip::client::{Client, ClientConfig, ClientError};
use ptk_enip::Value;

const USAGE: &str = "usage: enip_read_many --addr ADDR:PORT [--tags N] [--seconds S] \
[--expect V] [--timeout-ms MS]\n\
Reads the DINT tags T0..T{N-1} (default 1000) all at once, repeatedly for S seconds \
(default 5), with ptk-enip's client, and prints a result line.";

/// The load's state: the client, the tag names, the values of the last read, the counts.
struct Load {
    pt: Pt,
    client: Box<Client<4>>,
    names: Vec<String>,
    values: Vec<Result<Value, ClientError>>,
    expect: i32,
    until: Option<Instant>,
    seconds: f64,
    started: Option<Instant>,
    setup_requests: u64,
    first_read_requests: u64,
    reads: u64,
    errors: u64,
    failure: Option<String>,
}

#[protothread]
fn read_all(ctx: &mut Load, cx: &mut Cx<'_>) {
    match pt_await!(ctx.client.poll_connect(cx)) {
        Ok(()) => {}
        Err(e) => {
            ctx.failure = Some(format!("connect: {e}"));
            cx.stop();
            return;
        }
    }
    ctx.setup_requests = ctx.client.requests_sent();
    ctx.started = Some(Instant::now());
    ctx.until = ctx
        .started
        .map(|t| t + Duration::from_secs_f64(ctx.seconds));
    loop {
        match pt_await!(ctx.poll_read(cx)) {
            Ok(()) => {}
            Err(e) => {
                ctx.failure = Some(format!("read: {e}"));
                break;
            }
        }
        ctx.reads += 1;
        if ctx.reads == 1 {
            ctx.first_read_requests = ctx.client.requests_sent() - ctx.setup_requests;
        }
        if ctx.until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
    }
    ctx.client.close(cx);
    cx.stop();
}

impl Load {
    /// One read of every tag, each value checked.
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), ClientError>> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        match self.client.poll_read_many(cx, &names, 4, &mut self.values) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        for v in &self.values {
            if *v != Ok(Value::Dint(self.expect)) {
                self.errors += 1;
            }
        }
        Poll::Ready(Ok(()))
    }
}

fn main() -> ExitCode {
    let parsed = (|| {
        let mut args = Args::parse(USAGE)?;
        let addr: SocketAddr = args.take("--addr", "127.0.0.1:44818".parse().unwrap())?;
        let tags: usize = args.take("--tags", 1000)?;
        let seconds: f64 = args.take("--seconds", 5.0)?;
        let expect: i32 = args.take("--expect", 0)?;
        let timeout_ms: u64 = args.take("--timeout-ms", 5000)?;
        args.finish()?;
        Ok::<_, String>((addr, tags, seconds, expect, timeout_ms))
    })();
    let (addr, tags, seconds, expect, timeout_ms) = match parsed {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let config = ClientConfig {
        connect_timeout_ms: timeout_ms,
        request_timeout_ms: timeout_ms,
        ..ClientConfig::default()
    };
    let mut load = Load {
        pt: Pt::new(),
        client: Box::new(Client::new(addr, config)),
        names: (0..tags).map(|i| format!("T{i}")).collect(),
        values: vec![Err(ClientError::Busy); tags],
        expect,
        until: None,
        seconds,
        started: None,
        setup_requests: 0,
        first_read_requests: 0,
        reads: 0,
        errors: 0,
        failure: None,
    };
    if let Err(e) = run(&mut load) {
        eprintln!("enip_read_many: {e}");
        return ExitCode::FAILURE;
    }
    let elapsed = load.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
    if let Some(f) = &load.failure {
        eprintln!("enip_read_many: {addr}: {f}");
        return ExitCode::FAILURE;
    }
    let later = load.reads.saturating_sub(1);
    let later_requests =
        load.client.requests_sent() - load.setup_requests - load.first_read_requests;
    println!(
        "result tags={tags} reads={} seconds={elapsed:.3} tags_per_second={:.0} \
         first_read_requests={} requests_per_read={} setup_requests={} errors={}",
        load.reads,
        (load.reads as f64 * tags as f64) / elapsed.max(1e-9),
        load.first_read_requests,
        if later == 0 {
            load.first_read_requests as f64
        } else {
            later_requests as f64 / later as f64
        },
        load.setup_requests,
        load.errors,
    );
    if load.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs the load's protothread on a loop of one stream until it stops.
fn run(load: &mut Load) -> Result<(), ptk::Error> {
    let capacities = Capacities {
        tcp_listeners: 0,
        tcp_streams: 1,
        timers: 4,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: 0,
        buffer_size: 0,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
    let pool = ev.add_protothreads(std::slice::from_mut(load))?;
    ev.cx().spawn_with(pool, |_| {})?;
    ev.run()
}
