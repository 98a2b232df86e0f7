//! The framed echo server on ptk's completion-event layer (`ptk-loop`), in Rust: the twin of
//! `ptk-capi/examples/echo_server.c` (same logic, same flags), so that `benches/capi.sh`
//! measures what the C API adds over the layer it wraps.
//!
//! ```text
//! echo_completion --bind 127.0.0.1:0 --threads 1 --messages 200000
//! ```
//!
//! Reads hand their buffer over (`Ownership::Transfer`) and that very buffer is written back;
//! the callback follows the frame headers to count frames (and closes a connection that
//! announces a frame over `--max-frame`). With `--messages` the server stops after that many
//! frames and prints `report server=completion frames=F` on stderr.

use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ptk_bench::Args;
use ptk_loop::{Event, EventKind, Loop, LoopOpts, Ownership, TcpServerOpts};

const USAGE: &str = "usage: echo_completion [--bind ADDR:PORT (127.0.0.1:7000)] [--threads N (1)] \
     [--messages M (unbounded)] [--max-frame BYTES (16384)] [--max-connections N (ignored)]";

/// Object slots per worker (the layer's default), and so connection states per thread.
const SLOTS: usize = 1024;

static FRAMES: AtomicU64 = AtomicU64::new(0);
static MAX_MESSAGES: AtomicU64 = AtomicU64::new(0);
static MAX_FRAME: AtomicU64 = AtomicU64::new(16384);

/// Where a connection is in its byte stream (as the C server's `conn`).
#[derive(Clone, Copy, Default)]
struct Conn {
    header: [u8; 4],
    have_header: usize,
    remaining: u32,
}

thread_local! {
    /// This worker's connections, by slot (the `Sock` layout: slot in bits 16-39).
    static CONNS: RefCell<Vec<Conn>> = RefCell::new(vec![Conn::default(); SLOTS]);
}

/// Follows the frames in `bytes`; how many ended, or `None` for an oversized one.
fn follow(c: &mut Conn, mut bytes: &[u8], max_frame: u64) -> Option<u64> {
    let mut ended = 0;
    while !bytes.is_empty() {
        if c.remaining > 0 {
            let take = bytes.len().min(c.remaining as usize);
            c.remaining -= take as u32;
            bytes = &bytes[take..];
            if c.remaining == 0 {
                ended += 1;
            }
            continue;
        }
        c.header[c.have_header] = bytes[0];
        c.have_header += 1;
        bytes = &bytes[1..];
        if c.have_header == 4 {
            c.have_header = 0;
            let n = u32::from_be_bytes(c.header);
            if u64::from(n) > max_frame {
                return None;
            }
            c.remaining = n;
            if n == 0 {
                ended += 1;
            }
        }
    }
    Some(ended)
}

fn on_event(ev: &mut Event<'_>) {
    let slot = ((ev.sock.to_u64() >> 16) & 0xff_ffff) as usize % SLOTS;
    match ev.kind {
        EventKind::Accept => {
            CONNS.with(|c| c.borrow_mut()[slot] = Conn::default());
            let _ = ev
                .owner()
                .set_option(ev.sock, ptk_loop::SockOpt::NoDelay, 1);
        }
        EventKind::Read => {
            let Some(buf) = ev.take_buf() else { return };
            let max_frame = MAX_FRAME.load(Ordering::Relaxed);
            let ended =
                CONNS.with(|c| follow(&mut c.borrow_mut()[slot], buf.as_slice(), max_frame));
            let Some(ended) = ended else {
                let _ = ev.owner().close(ev.sock);
                return;
            };
            if ev.owner().write(ev.sock, buf).is_err() {
                let _ = ev.owner().close(ev.sock);
                return;
            }
            if ended > 0 {
                let total = FRAMES.fetch_add(ended, Ordering::Relaxed) + ended;
                let max = MAX_MESSAGES.load(Ordering::Relaxed);
                if max != 0 && total >= max && total - ended < max {
                    ev.owner().stop();
                }
            }
        }
        _ => {}
    }
}

fn main() -> ExitCode {
    let mut args = match Args::parse(USAGE) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let parsed = (|| {
        let bind = args.take("--bind", std::net::SocketAddr::from(([127, 0, 0, 1], 7000)))?;
        let threads: usize = args.take("--threads", 1)?;
        let messages: u64 = args.take("--messages", 0)?;
        let max_frame: u64 = args.take("--max-frame", 16384)?;
        let _: usize = args.take("--max-connections", 0)?;
        args.finish()?;
        Ok::<_, String>((bind, threads, messages, max_frame))
    })();
    let (bind, threads, messages, max_frame) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    MAX_MESSAGES.store(messages, Ordering::Relaxed);
    MAX_FRAME.store(max_frame, Ordering::Relaxed);
    let lp = match Loop::new(&LoopOpts {
        worker_threads: threads,
        ..LoopOpts::default()
    }) {
        Ok(lp) => lp,
        Err(e) => {
            eprintln!("echo_completion: {e}");
            return ExitCode::FAILURE;
        }
    };
    let host = bind.ip().to_string();
    let server = lp.tcp_server_start(&TcpServerOpts {
        bind_host: &host,
        port: bind.port(),
        backlog: 1024,
        callback: Some(on_event),
        read_ownership: Ownership::Transfer,
        ..TcpServerOpts::default()
    });
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            eprintln!("echo_completion: {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match lp.local_addr(server) {
        Ok(addr) => println!("echo_completion: listening on {addr} ({threads} threads)"),
        Err(e) => {
            eprintln!("echo_completion: {e}");
            return ExitCode::FAILURE;
        }
    }
    // As the C server: wake every 100 ms (it polls for Ctrl-C the same way).
    while lp.wait_timeout(Duration::from_millis(100)).is_err() && lp.is_running() {}
    drop(lp);
    eprintln!(
        "report server=completion frames={}",
        FRAMES.load(Ordering::Relaxed)
    );
    ExitCode::SUCCESS
}
