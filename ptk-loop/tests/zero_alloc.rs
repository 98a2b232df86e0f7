//! After the group is made, its worker makes no heap allocation: a counting global
//! allocator, switched on for the worker's thread (by a posted call) while it accepts 20
//! connections and echoes 500 messages on each (half the connections copying borrowed
//! buffers, half writing back transferred ones), ticks a timer and takes 10,000 wakes from
//! another thread, which itself allocates nothing for them either.

#[path = "../../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ptk_loop::{Event, EventKind, Loop, LoopOpts, Ownership, TcpServerOpts, TimerOpts};

const CONNECTIONS: usize = 20;
const MESSAGES: usize = 500;
const WAKES: usize = 10_000;

static COUNTING: AtomicUsize = AtomicUsize::new(0);
static CLOSES: AtomicUsize = AtomicUsize::new(0);
static WOKEN: AtomicUsize = AtomicUsize::new(0);
static TICKS: AtomicUsize = AtomicUsize::new(0);

fn count(on: usize) {
    alloc_counter::count_this_thread(on == 1);
    COUNTING.store(on + 10, Ordering::SeqCst);
}

fn echo(ev: &mut Event<'_>) {
    match ev.kind {
        EventKind::Read => {
            let lp = ev.owner();
            let out = match ev.take_buf() {
                Some(b) => b,
                None => {
                    let mut b = lp.buf_alloc().unwrap();
                    b.extend_from_slice(ev.buf().unwrap().as_slice()).unwrap();
                    b
                }
            };
            lp.write(ev.sock, out).unwrap();
        }
        EventKind::Close => {
            CLOSES.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
}

fn on_timer(ev: &mut Event<'_>) {
    match ev.kind {
        EventKind::Tick => TICKS.fetch_add(1, Ordering::SeqCst),
        EventKind::Wake => WOKEN.fetch_add(1, Ordering::SeqCst),
        _ => 0,
    };
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_worker_and_calling_threads_allocate_nothing_per_message_connection_or_wake() {
    let lp = Loop::new(&LoopOpts {
        worker_threads: 1,
        buffers: 256,
        buffer_size: 1024,
        sockets_per_worker: 64,
        ..LoopOpts::default()
    })
    .unwrap();
    let mut servers = Vec::new();
    for ownership in [Ownership::Borrowed, Ownership::Transfer] {
        let s = lp
            .tcp_server_start(&TcpServerOpts {
                bind_host: "127.0.0.1",
                callback: Some(echo),
                read_ownership: ownership,
                ..TcpServerOpts::default()
            })
            .unwrap();
        servers.push(lp.local_addr(s).unwrap());
    }
    let timer = lp
        .timer_start(&TimerOpts {
            timeout_ms: 1,
            repeat: true,
            callback: Some(on_timer),
            user_data: 0,
            ..TimerOpts::default()
        })
        .unwrap();
    lp.post(count, 1).unwrap();
    wait_until("counting on", || COUNTING.load(Ordering::SeqCst) == 11);

    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let addr = servers[i % 2];
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
    alloc_counter::count_this_thread(true);
    for i in 0..WAKES {
        while lp.sock_wake(timer, i).is_err() {
            std::thread::yield_now();
        }
    }
    alloc_counter::count_this_thread(false);
    for c in clients {
        c.join().unwrap();
    }
    wait_until("every close", || {
        CLOSES.load(Ordering::SeqCst) == CONNECTIONS
    });
    wait_until("every wake", || WOKEN.load(Ordering::SeqCst) == WAKES);
    lp.post(count, 0).unwrap();
    wait_until("counting off", || COUNTING.load(Ordering::SeqCst) == 10);
    assert!(TICKS.load(Ordering::SeqCst) > 0);
    assert_eq!(alloc_counter::allocations(), 0);
    assert_eq!(lp.buffers_available(), 256);
}
