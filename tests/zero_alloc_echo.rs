//! The protothread echo server allocates nothing on the loop thread: a counting global
//! allocator, switched on only for that thread after the loop and its pools are set up,
//! while the acceptor and one protothread per connection (with `FrameReader`/`FrameWriter`)
//! serve 50 connections x 200 framed messages, from accept to close.

#[path = "../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;
mod common;

use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::echo::{self, Acceptor, Conn, EchoStats};
use common::{connect, frame, payload, read_frame, run_until, wait_for};
use ptk::{Capacities, Config, EventLoop, OwnedStorage};

const CONNECTIONS: usize = 50;
const CLIENT_THREADS: usize = 5;
const MESSAGES_PER_CONNECTION: usize = 200;

/// A client thread: its connections send one frame each per round and read the replies
/// back, then close.
fn client(addr: std::net::SocketAddr, first: usize, go: Arc<AtomicBool>) -> usize {
    wait_for("the go signal", Duration::from_secs(10), || {
        go.load(Ordering::Acquire)
    });
    let ids: Vec<usize> = (first..first + CONNECTIONS / CLIENT_THREADS).collect();
    let mut socks: Vec<_> = ids.iter().map(|_| connect(addr)).collect();
    let mut echoed = 0;
    for m in 0..MESSAGES_PER_CONNECTION {
        for (s, &id) in socks.iter_mut().zip(&ids) {
            s.write_all(&frame(&payload(id, m, echo::MAX_FRAME)))
                .unwrap();
        }
        for (s, &id) in socks.iter_mut().zip(&ids) {
            assert_eq!(read_frame(s), payload(id, m, echo::MAX_FRAME));
            echoed += 1;
        }
    }
    echoed
}

#[test]
fn the_protothread_echo_server_allocates_nothing_on_the_loop_thread() {
    let mut memory = OwnedStorage::new(Capacities {
        tcp_streams: CONNECTIONS + 4,
        ..Capacities::default()
    });
    let stats = Rc::new(EchoStats::default());
    let mut conns: Vec<Conn> = (0..CONNECTIONS).map(|_| Conn::new(&stats)).collect();
    let mut acceptor = [Acceptor::new(&stats)];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    // Every thread exists before counting starts: spawning allocates on the spawning thread.
    let go = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let (go, addr) = (Arc::clone(&go), server.addr);
            std::thread::spawn(move || client(addr, t * CONNECTIONS / CLIENT_THREADS, go))
        })
        .collect();

    alloc_counter::count_this_thread(true);
    go.store(true, Ordering::Release);
    run_until(
        &mut ev,
        "every echo and every close",
        Duration::from_secs(120),
        10_000_000,
        |ev| {
            stats.frames.get() == CONNECTIONS * MESSAGES_PER_CONNECTION
                && stats.accepted.get() == CONNECTIONS
                && ev.pool_usage(server.conns) == (0, CONNECTIONS)
        },
    );
    alloc_counter::count_this_thread(false);
    let allocations = alloc_counter::allocations();

    let echoed: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(echoed, CONNECTIONS * MESSAGES_PER_CONNECTION);
    assert_eq!(ev.in_use().tcp_streams, 0);
    eprintln!(
        "loop-thread heap allocations while serving {CONNECTIONS} x {MESSAGES_PER_CONNECTION} \
         framed messages: {allocations}"
    );
    assert_eq!(
        allocations, 0,
        "the loop thread allocated {allocations} times"
    );
}
