//! The group scenario, run by `group_reuse_port.rs` and `group_hand_off.rs` (one process
//! each, since it counts in statics): a group of 4 worker loops serves 1,000 connections made
//! by a second group; every message comes back exactly once on its own connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ptk_loop::{Event, EventKind, Loop, LoopOpts, Ownership, Spread, TcpClientOpts, TcpServerOpts};

const CONNECTIONS: usize = 1_000;
const MESSAGES: usize = 10;

static ACCEPTED: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];
static SERVER_CLOSES: AtomicUsize = AtomicUsize::new(0);
static CLIENT_DONE: AtomicUsize = AtomicUsize::new(0);
static ERRORS: AtomicUsize = AtomicUsize::new(0);
/// How many times each message came back.
static SEEN: [AtomicUsize; CONNECTIONS * MESSAGES] =
    [const { AtomicUsize::new(0) }; CONNECTIONS * MESSAGES];
/// Each client connection's partial frame.
static PARTIAL: Mutex<Vec<(usize, [u8; 8])>> = Mutex::new(Vec::new());

fn server(ev: &mut Event<'_>) {
    match ev.kind {
        EventKind::Accept => {
            ACCEPTED[ev.sock.worker()].fetch_add(1, Ordering::SeqCst);
        }
        EventKind::Read => {
            let buf = ev.take_buf().expect("transfer mode");
            ev.owner().write(ev.sock, buf).unwrap();
        }
        EventKind::Close => {
            SERVER_CLOSES.fetch_add(1, Ordering::SeqCst);
        }
        EventKind::Error => {
            ERRORS.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
}

fn send(ev: &Event<'_>, id: usize) {
    let lp = ev.owner();
    let mut b = lp.buf_alloc().unwrap();
    b.extend_from_slice(&(id as u64).to_le_bytes()).unwrap();
    lp.write(ev.sock, b).unwrap();
}

fn client(ev: &mut Event<'_>) {
    let conn = ev.user_data;
    match ev.kind {
        EventKind::Connect => send(ev, conn * MESSAGES),
        EventKind::Read => {
            let mut next = None;
            {
                let mut partial = PARTIAL.lock().unwrap();
                let (len, frame) = &mut partial[conn];
                for &byte in ev.buf().unwrap().as_slice() {
                    frame[*len] = byte;
                    *len += 1;
                    if *len == 8 {
                        *len = 0;
                        let id = u64::from_le_bytes(*frame) as usize;
                        assert_eq!(
                            id / MESSAGES,
                            conn,
                            "a message came back on another connection"
                        );
                        SEEN[id].fetch_add(1, Ordering::SeqCst);
                        next = Some(id + 1);
                    }
                }
            }
            match next {
                Some(id) if id % MESSAGES != 0 => send(ev, id),
                Some(_) => {
                    ev.owner().close(ev.sock).unwrap();
                }
                None => {}
            }
        }
        EventKind::Close => {
            CLIENT_DONE.fetch_add(1, Ordering::SeqCst);
        }
        EventKind::Error => {
            ERRORS.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
}

/// Runs the scenario; returns the connections each server worker accepted.
pub fn run(spread: Spread) -> Vec<usize> {
    *PARTIAL.lock().unwrap() = vec![(0, [0; 8]); CONNECTIONS];
    let servers = Loop::new(&LoopOpts {
        worker_threads: 4,
        spread,
        buffers: 4096,
        buffer_size: 256,
        ..LoopOpts::default()
    })
    .unwrap();
    assert_eq!(servers.workers(), 4);
    let s = servers
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            backlog: 1024,
            callback: Some(server),
            read_ownership: Ownership::Transfer,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let port = servers.local_addr(s).unwrap().port();
    let clients = Loop::new(&LoopOpts {
        worker_threads: 2,
        buffers: 4096,
        buffer_size: 256,
        ..LoopOpts::default()
    })
    .unwrap();
    for conn in 0..CONNECTIONS {
        clients
            .tcp_connect(&TcpClientOpts {
                port,
                callback: Some(client),
                user_data: conn,
                ..TcpClientOpts::default()
            })
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while CLIENT_DONE.load(Ordering::SeqCst) < CONNECTIONS
        || SERVER_CLOSES.load(Ordering::SeqCst) < CONNECTIONS
    {
        assert!(
            Instant::now() < deadline,
            "timed out: {} clients done, {} server closes, {} errors",
            CLIENT_DONE.load(Ordering::SeqCst),
            SERVER_CLOSES.load(Ordering::SeqCst),
            ERRORS.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ERRORS.load(Ordering::SeqCst), 0);
    for (id, n) in SEEN.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "message {id}");
    }
    let per_worker: Vec<usize> = ACCEPTED.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    assert_eq!(per_worker.iter().sum::<usize>(), CONNECTIONS);
    assert!(
        per_worker.iter().all(|&n| n > 0),
        "connections per worker: {per_worker:?}"
    );
    // Every buffer is back once the connections are gone.
    assert_eq!(servers.buffers_available(), 4096);
    assert_eq!(clients.buffers_available(), 4096);
    servers.close(s).unwrap();
    per_worker
}
