//! The pooled echo server (`common::pooled_echo`, the shape of `examples/echo_server.rs`:
//! `PooledFrameReader`, `take_frame`, `send_buf`, `poll_sent`) under a pool far smaller than
//! its load: 64 small buffers and 4 large ones for 1,000 connections, plus one client that
//! sends and never reads its echoes. Every frame of every client must come back exactly
//! once, in order, and the pool must end empty.
//!
//! The pool really runs dry: every client sends each frame in two halves, and after the first
//! halves of the first round the clients wait until the server reports a read paused for want
//! of a buffer (with 1,000 partial frames and 64 buffers to hold them, it must). One frame in
//! five is larger than a small buffer, so partial frames also wait for the 4 large ones.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::pooled_echo::{self, Acceptor, Conn, PooledEchoStats};
use common::wait_for;
use ptk::{
    BufferStats, Capacities, Config, Error, EventLoop, ListenOptions, OwnedStorage, HEADER_LEN,
};

/// Well-behaved client connections.
const CLIENTS: usize = 1_000;
/// Threads the well-behaved clients are spread over.
const CLIENT_THREADS: usize = 4;
/// Frames each well-behaved client sends.
const FRAMES: usize = 10;
/// Small and large buffers in the server's pool.
const SMALL_BUFFERS: usize = 64;
const SMALL_SIZE: usize = 4096;
const LARGE_BUFFERS: usize = 4;
/// Largest payload.
const MAX_FRAME: usize = 8 * 1024;
/// The whole test gives up after this long, with a message saying where it was.
const DEADLINE: Duration = Duration::from_secs(60);
/// How long a client waits for one echo.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------------------

/// What the test and the server thread share.
#[derive(Default)]
struct Shared {
    /// The server's `pool_pauses`, published every iteration.
    pool_pauses: AtomicU64,
    /// Every client is done: the server ends once every connection has.
    stop: AtomicBool,
}

/// What the server reports when it ends.
#[derive(Debug)]
struct ServerReport {
    buffers: BufferStats,
    accepted: usize,
    refused: usize,
    frames: usize,
    ended_ok: usize,
    ended_err: usize,
    first_error: Option<Error>,
    streams_in_use: usize,
}

/// Runs the echo server on its own loop until `shared.stop` and every connection ended.
fn serve(addr: mpsc::Sender<SocketAddr>, shared: &Shared, started: Instant) -> ServerReport {
    let contexts = CLIENTS + 16;
    let mut memory = OwnedStorage::new(Capacities {
        tcp_listeners: 1,
        tcp_streams: contexts,
        timers: 8,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: SMALL_BUFFERS,
        buffer_size: SMALL_SIZE,
        large_buffers: LARGE_BUFFERS,
        large_buffer_size: MAX_FRAME + HEADER_LEN,
    });
    let stats = Rc::new(PooledEchoStats::default());
    let mut conns: Vec<Conn> = (0..contexts)
        .map(|_| Conn::new(&stats, MAX_FRAME, true))
        .collect();
    let mut acceptor = [Acceptor::new(&stats)];
    let config = Config {
        protothreads: contexts + 1,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let options = ListenOptions {
        backlog: 2048,
        ..ListenOptions::default()
    };
    let server = pooled_echo::start(&mut ev, &mut conns, &mut acceptor, &options);
    let conn_pool = server.conns;
    addr.send(server.addr).unwrap();
    loop {
        ev.run_once(Some(Duration::from_millis(20))).unwrap();
        let buffers = ev.buffer_stats();
        shared
            .pool_pauses
            .store(buffers.pool_pauses, Ordering::Release);
        if shared.stop.load(Ordering::Acquire) && ev.pool_usage(conn_pool).0 == 0 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "server: not done after {DEADLINE:?}: {} connections open, {} accepted, {} frames \
             echoed, {} ended, pool {buffers:?}",
            ev.pool_usage(conn_pool).0,
            stats.accepted.get(),
            stats.frames.get(),
            stats.ended(),
        );
    }
    ServerReport {
        buffers: ev.buffer_stats(),
        accepted: stats.accepted.get(),
        refused: stats.refused.get(),
        frames: stats.frames.get(),
        ended_ok: stats.ended_ok.get(),
        ended_err: stats.ended_err.get(),
        first_error: stats.first_error.get(),
        streams_in_use: ev.in_use().tcp_streams,
    }
}

// ---------------------------------------------------------------------------------------
// The clients.
// ---------------------------------------------------------------------------------------

/// Frame `seq` of client `id`: its id and sequence number, then bytes that depend on both.
/// One in five is larger than a small buffer.
fn frame(id: usize, seq: usize) -> Vec<u8> {
    let len = if (id + seq) % 5 == 0 {
        SMALL_SIZE + 1 + (id * 131 + seq * 17) % (MAX_FRAME - SMALL_SIZE - 1)
    } else {
        8 + (id * 31 + seq * 7) % 600
    };
    let mut f = Vec::with_capacity(HEADER_LEN + len);
    f.extend_from_slice(&(len as u32).to_be_bytes());
    f.extend_from_slice(&(id as u32).to_be_bytes());
    f.extend_from_slice(&(seq as u32).to_be_bytes());
    f.extend((8..len).map(|i| (id * 7 + seq * 13 + i) as u8));
    f
}

fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    c.set_nodelay(true).unwrap();
    c
}

/// Clients `ids`, one connection each: every round, each sends the first half of its frame,
/// then (in the first round, once the server reported a read paused for want of a buffer)
/// the second half, then reads its echo. At the end, each half-closes and expects
/// end-of-stream with nothing more before it.
fn clients(addr: SocketAddr, ids: std::ops::Range<usize>, shared: Arc<Shared>) -> usize {
    let mut socks: Vec<_> = ids.clone().map(|_| connect(addr)).collect();
    let mut echoed = 0;
    for seq in 0..FRAMES {
        let frames: Vec<Vec<u8>> = ids.clone().map(|id| frame(id, seq)).collect();
        for (s, f) in socks.iter_mut().zip(&frames) {
            s.write_all(&f[..f.len() / 2]).unwrap();
        }
        if seq == 0 {
            wait_for(
                "the server to pause a read for want of a buffer",
                CLIENT_TIMEOUT,
                || shared.pool_pauses.load(Ordering::Acquire) > 0,
            );
        }
        for (s, f) in socks.iter_mut().zip(&frames) {
            s.write_all(&f[f.len() / 2..]).unwrap();
        }
        for ((s, f), id) in socks.iter_mut().zip(&frames).zip(ids.clone()) {
            let mut back = vec![0u8; f.len()];
            if let Err(e) = s.read_exact(&mut back) {
                panic!("client {id}: no echo of frame {seq}: {e}");
            }
            assert!(
                back == *f,
                "client {id}: frame {seq} came back as client {} frame {} ({} bytes)",
                u32::from_be_bytes([back[4], back[5], back[6], back[7]]),
                u32::from_be_bytes([back[8], back[9], back[10], back[11]]),
                back.len()
            );
            echoed += 1;
        }
    }
    for (s, id) in socks.iter_mut().zip(ids) {
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = [0u8; 16];
        match s.read(&mut rest) {
            Ok(0) => {}
            Ok(n) => panic!("client {id}: {n} bytes more than it sent came back"),
            Err(e) => panic!("client {id}: no end-of-stream: {e}"),
        }
    }
    echoed
}

/// A client that sends frames and never reads the echoes: it sends until the server stops
/// taking them (its sends block), then stays connected until `done`. Returns how many
/// frames it sent, and whether its sends blocked.
fn greedy(addr: SocketAddr, blocked: mpsc::Sender<()>, done: mpsc::Receiver<()>) -> (usize, bool) {
    // A small receive buffer: the echoes it does not read back up into the server soon.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut c: std::net::TcpStream = sock.into();
    c.set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let f = frame(CLIENTS, 1);
    let mut sent = 0;
    let mut was_blocked = false;
    while sent < 200_000 {
        match c.write_all(&f) {
            Ok(()) => sent += 1,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                was_blocked = true;
                break;
            }
            Err(e) => panic!("greedy client: send failed after {sent} frames: {e}"),
        }
    }
    let _ = blocked.send(());
    let _ = done.recv_timeout(DEADLINE);
    // Closing with echoes unread resets the connection.
    (sent, was_blocked)
}

/// Raises the soft limit of open files to at least `need` (up to the hard limit); returns
/// the limit then in force.
// `rlim_t` is `u64` on 64-bit targets, where the conversions below are no-ops.
#[allow(unsafe_code, clippy::useless_conversion)]
fn raise_fd_limit(need: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a valid pointer to a local.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    // `rlim_t` is 32 bits wide on some targets: compare and clamp in `u64`.
    let (cur, max) = (u64::from(lim.rlim_cur), u64::from(lim.rlim_max));
    if cur < need && max > cur {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max.min(need.try_into().unwrap_or(lim.rlim_max)),
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `setrlimit` reads one `rlimit` through a valid pointer to a local.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return u64::from(raised.rlim_cur);
        }
    }
    cur
}

fn join<T>(what: &str, h: JoinHandle<T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(panic) => {
            eprintln!("{what} failed");
            std::panic::resume_unwind(panic)
        }
    }
}

#[test]
fn a_thousand_clients_and_one_that_never_reads_share_64_buffers() {
    // Both ends of every connection live in this process.
    let need = 2 * (CLIENTS as u64 + 1) + 256;
    let limit = raise_fd_limit(need);
    assert!(
        limit >= need,
        "this test needs {need} open files, the limit is {limit} (raise `ulimit -n`)"
    );
    let started = Instant::now();
    let shared = Arc::new(Shared::default());
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || serve(addr_tx, &shared, started))
    };
    let addr = addr_rx
        .recv_timeout(DEADLINE)
        .expect("the server never started");

    // The greedy client first: it sits on its buffers while the others run.
    let (blocked_tx, blocked_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let greedy = std::thread::spawn(move || greedy(addr, blocked_tx, done_rx));
    blocked_rx
        .recv_timeout(DEADLINE)
        .expect("the greedy client never stopped sending");

    let per_thread = CLIENTS / CLIENT_THREADS;
    let threads: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let shared = Arc::clone(&shared);
            let ids = t * per_thread..(t + 1) * per_thread;
            std::thread::spawn(move || clients(addr, ids, shared))
        })
        .collect();
    let echoed: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    let _ = done_tx.send(());
    let greedy = greedy.join();
    shared.stop.store(true, Ordering::Release);
    let report = join("the server", server);
    let mut total = 0;
    for (t, r) in echoed.into_iter().enumerate() {
        match r {
            Ok(n) => total += n,
            Err(panic) => {
                eprintln!("client thread {t} failed; the server reported {report:?}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    let (greedy_sent, greedy_blocked) = match greedy {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    eprintln!(
        "pool exhaustion: {total} echoes in {:?}; greedy client sent {greedy_sent} frames; \
         server {report:?}",
        started.elapsed()
    );

    assert_eq!(total, CLIENTS * FRAMES);
    assert!(
        greedy_blocked,
        "the server kept reading a client that never reads ({greedy_sent} frames)"
    );
    assert_eq!(report.accepted, CLIENTS + 1);
    assert_eq!(report.refused, 0);
    assert_eq!(
        (report.ended_ok, report.ended_err),
        (CLIENTS, 1),
        "every client ended cleanly but the greedy one ({:?})",
        report.first_error
    );
    assert!(report.frames >= CLIENTS * FRAMES);
    assert!(report.frames <= CLIENTS * FRAMES + greedy_sent);
    assert_eq!(report.streams_in_use, 0);
    let b = report.buffers;
    assert!(b.pool_pauses > 0, "the pool never ran dry");
    assert!(
        b.peak_in_use >= SMALL_BUFFERS && b.peak_in_use <= SMALL_BUFFERS + LARGE_BUFFERS,
        "every small buffer was in use at once (peak {})",
        b.peak_in_use
    );
    assert_eq!(
        (b.small_in_use, b.large_in_use, b.queued, b.paused_streams),
        (0, 0, 0, 0),
        "buffers left in use after every connection closed"
    );
}
