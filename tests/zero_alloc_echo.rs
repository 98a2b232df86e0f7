//! The protothread echo server allocates nothing on the loop thread: a counting global
//! allocator, switched on only for that thread after the loop and its pools are set up,
//! while the acceptor and one protothread per connection (with `FrameReader`/`FrameWriter`)
//! serve 50 connections x 200 framed messages, from accept to close.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::echo::{self, Acceptor, Conn, EchoStats};
use common::{connect, frame, payload, read_frame, run_until, wait_for};
use ptk::{Capacities, Config, EventLoop, OwnedStorage};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    if COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call forwards to the system allocator unchanged; counting touches only an
// atomic and a const-initialized thread-local, neither of which allocates.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`; `ptr` came from this allocator, which is `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

    COUNT_HERE.with(|c| c.set(true));
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
    COUNT_HERE.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);

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
