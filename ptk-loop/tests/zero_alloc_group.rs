//! Two workers with one listener handing connections over (`Spread::HandOff`) allocate
//! nothing after start-up: counting is switched on for each worker's thread by a wake of a
//! timer it owns, while 20 connections are handed over and echo 200 messages each.

#[path = "../../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ptk_loop::{Event, EventKind, Loop, LoopOpts, Ownership, Spread, TcpServerOpts, TimerOpts};

const CONNECTIONS: usize = 20;
const MESSAGES: usize = 200;

static SWITCHED: AtomicUsize = AtomicUsize::new(0);
static CLOSES: AtomicUsize = AtomicUsize::new(0);
static ACCEPTED: [AtomicUsize; 2] = [const { AtomicUsize::new(0) }; 2];

fn switch(ev: &mut Event<'_>) {
    if ev.kind == EventKind::Wake {
        alloc_counter::count_this_thread(ev.user_data == 1);
        SWITCHED.fetch_add(1, Ordering::SeqCst);
    }
}

fn echo(ev: &mut Event<'_>) {
    match ev.kind {
        EventKind::Accept => {
            ACCEPTED[ev.sock.worker()].fetch_add(1, Ordering::SeqCst);
        }
        EventKind::Read => {
            let buf = ev.take_buf().unwrap();
            ev.owner().write(ev.sock, buf).unwrap();
        }
        EventKind::Close => {
            CLOSES.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn handed_over_connections_cost_no_allocation_on_either_worker() {
    let lp = Loop::new(&LoopOpts {
        worker_threads: 2,
        spread: Spread::HandOff,
        buffers: 256,
        buffer_size: 1024,
        sockets_per_worker: 64,
        ..LoopOpts::default()
    })
    .unwrap();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(echo),
            read_ownership: Ownership::Transfer,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let addr = lp.local_addr(server).unwrap();
    // Objects made by calls go to the workers in turn: one switch timer on each.
    let timers: Vec<_> = (0..2)
        .map(|_| {
            lp.timer_start(&TimerOpts {
                timeout_ms: 3_600_000,
                repeat: true,
                callback: Some(switch),
                ..TimerOpts::default()
            })
            .unwrap()
        })
        .collect();
    let mut workers: Vec<usize> = timers.iter().map(|t| t.worker()).collect();
    workers.sort();
    assert_eq!(workers, vec![0, 1]);
    for t in &timers {
        lp.sock_wake(*t, 1).unwrap();
    }
    wait_until("counting on", || SWITCHED.load(Ordering::SeqCst) == 2);

    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut back = [0u8; 8];
                for m in 0..MESSAGES {
                    let msg = (m as u64 * 31 + i as u64).to_le_bytes();
                    c.write_all(&msg).unwrap();
                    c.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    wait_until("every close", || {
        CLOSES.load(Ordering::SeqCst) == CONNECTIONS
    });
    for t in &timers {
        lp.sock_wake(*t, 0).unwrap();
    }
    wait_until("counting off", || SWITCHED.load(Ordering::SeqCst) == 4);
    let accepted: Vec<usize> = ACCEPTED.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    assert_eq!(accepted, vec![CONNECTIONS / 2; 2]);
    assert_eq!(alloc_counter::allocations(), 0);
    assert_eq!(lp.buffers_available(), 256);
}
