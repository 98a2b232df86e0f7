//! The echo server on ptk-loop's completion events: a group of `--workers` loops, one
//! listener per worker on the same port (`--spread reuseport`, `SO_REUSEPORT`) or one that
//! hands connections to the workers in turn (`--spread handoff`), and each read's buffer
//! handed to the callback (`Ownership::Transfer`) and written straight back (no copy).
//!
//! ```text
//! echo_loop --workers 2 --bind 127.0.0.1:0 --max-connections 1024 --messages 1000000
//! ```
//!
//! A byte-stream echo is a framed echo: the frames come back as they came. The server counts
//! the bytes whose write completed (`WriteDone`) and stops after `--messages` frames of
//! `--payload` bytes and the 4-byte header, then prints the report line of the other
//! servers (`benches/README.md`).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use ptk_bench::{Args, Meter, ServerOptions};
use ptk_loop::{Event, EventKind, Loop, LoopOpts, Ownership, Spread, TcpServerOpts};

#[global_allocator]
static ALLOC: ptk_bench::CountingAlloc = ptk_bench::CountingAlloc;

/// Bytes echoed so far, and after how many the server stops.
static ECHOED: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(u64::MAX);

fn echo(ev: &mut Event<'_>) {
    match ev.kind {
        EventKind::Read => {
            if let Some(buf) = ev.take_buf() {
                // A full command queue drops the buffer: the peer then waits for an echo
                // that never comes, which the load generator reports.
                let _ = ev.owner().write(ev.sock, buf);
            }
        }
        EventKind::WriteDone => {
            let n = ev.buf().map_or(0, |b| b.len() as u64);
            let total = ECHOED.fetch_add(n, Ordering::Relaxed) + n;
            if total >= TARGET.load(Ordering::Relaxed) {
                ev.owner().stop();
            }
        }
        _ => {}
    }
}

const USAGE: &str =
    "usage: echo_loop [--workers N (1)] [--payload BYTES (64)] plus the server flags";

fn run() -> Result<(), String> {
    let mut args = Args::parse(USAGE)?;
    let o = ServerOptions::take(&mut args)?;
    let workers: usize = args.take("--workers", 1)?;
    let payload: u64 = args.take("--payload", 64)?;
    let spread = match args.take("--spread", "reuseport".to_string())?.as_str() {
        "reuseport" => Spread::ReusePort,
        "handoff" => Spread::HandOff,
        other => return Err(format!("--spread {other}: reuseport or handoff")),
    };
    args.finish()?;
    ptk_bench::raise_fd_limit().map_err(|e| format!("cannot raise the descriptor limit: {e}"))?;
    let frame = ptk_bench::frame::HEADER as u64 + payload;
    TARGET.store(o.messages.saturating_mul(frame), Ordering::Relaxed);
    let lp = Loop::new(&LoopOpts {
        worker_threads: workers,
        sockets_per_worker: o.max_connections + 16,
        buffers: 2 * o.max_connections + 64,
        buffer_size: (ptk_bench::frame::HEADER + o.max_frame).max(1024),
        spread,
        ..LoopOpts::default()
    })
    .map_err(|e| format!("loop: {e}"))?;
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: &o.bind.ip().to_string(),
            port: o.bind.port(),
            backlog: 1024,
            callback: Some(echo),
            read_ownership: Ownership::Transfer,
            ..TcpServerOpts::default()
        })
        .map_err(|e| format!("listen: {e}"))?;
    let addr = lp.local_addr(server).map_err(|e| e.to_string())?;
    println!("{addr}");
    let mut meter = Meter::start(o.messages);
    lp.wait().map_err(|e| e.to_string())?;
    meter.count(ECHOED.load(Ordering::Relaxed) / frame);
    eprintln!("{}", meter.report("loop"));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_loop: {e}");
            ExitCode::FAILURE
        }
    }
}
