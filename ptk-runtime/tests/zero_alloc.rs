//! The loop thread makes no heap allocation after start-up: a counting global allocator,
//! switched on only for the loop's thread while it serves 50 connections echoing 10,000
//! framed messages, fires 1,000 timers and takes 10,000 raises from 4 threads.

mod alloc_counter;
mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{run_until, wait_for};
use ptk_runtime::{
    Capacities, Config, Cx, Event, EventKind, EventLoop, Handle, ListenOptions, OwnedStorage,
    TcpListener, TcpStream, Timer, Trigger,
};

const CONNECTIONS: usize = 50;
const CLIENT_THREADS: usize = 5;
const MESSAGES: usize = 10_000;
const TIMERS: usize = 1_000;
const RAISERS: usize = 4;
const RAISES: u32 = 10_000;
const FRAME_MAX: usize = 4 + 64;

/// One connection's partial frame.
#[derive(Clone, Copy)]
struct Conn {
    buf: [u8; 2 * FRAME_MAX],
    len: usize,
}

/// Application state sized at start-up; handlers only index into it.
struct Server {
    conns: Vec<Conn>,
    accepted: usize,
    messages: usize,
    timer_fires: usize,
    raises: u64,
}

fn on_accept(s: &mut Server, cx: &mut Cx<'_>, ev: Event) {
    let l: Handle<TcpListener> = ev.handle.typed().unwrap();
    while let Poll::Ready(r) = cx.accept(l) {
        let (stream, _) = r.unwrap();
        s.conns[stream.raw().slot() as usize].len = 0;
        cx.set_handler(stream, Trigger::Readable, on_frames)
            .unwrap();
        s.accepted += 1;
    }
}

fn on_frames(s: &mut Server, cx: &mut Cx<'_>, ev: Event) {
    let stream: Handle<TcpStream> = ev.handle.typed().unwrap();
    let c = &mut s.conns[ev.handle.slot() as usize];
    let n = match cx.read(stream, &mut c.buf[c.len..]) {
        Poll::Pending => return,
        Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
            cx.close(ev.handle).unwrap();
            return;
        }
        Poll::Ready(Ok(n)) => n,
    };
    c.len += n;
    loop {
        if c.len < 4 {
            return;
        }
        let frame = 4 + u32::from_be_bytes([c.buf[0], c.buf[1], c.buf[2], c.buf[3]]) as usize;
        assert!(frame <= FRAME_MAX, "frame of {frame} bytes");
        if c.len < frame {
            return;
        }
        // One frame in flight per connection: the send buffer always has room for it.
        assert_eq!(cx.write(stream, &c.buf[..frame]), Poll::Ready(Ok(frame)));
        c.buf.copy_within(frame..c.len, 0);
        c.len -= frame;
        s.messages += 1;
    }
}

fn on_timer(s: &mut Server, _cx: &mut Cx<'_>, _ev: Event) {
    s.timer_fires += 1;
}

fn on_raise(s: &mut Server, _cx: &mut Cx<'_>, ev: Event) {
    if let EventKind::User { count, .. } = ev.kind {
        s.raises += u64::from(count);
    }
}

fn frame(conn: usize, round: usize) -> Vec<u8> {
    let len = 1 + (conn * 7 + round * 13) % 64;
    let mut f = (len as u32).to_be_bytes().to_vec();
    f.extend((0..len).map(|i| (conn + round + i) as u8));
    f
}

/// A client thread: its connections send one frame each per round and read the replies.
fn client(addr: SocketAddr, first: usize, go: Arc<AtomicBool>) -> usize {
    let per_thread = CONNECTIONS / CLIENT_THREADS;
    let rounds = MESSAGES / CONNECTIONS;
    wait_for("the go signal", Duration::from_secs(10), || {
        go.load(Ordering::Acquire)
    });
    let mut socks: Vec<std::net::TcpStream> = (0..per_thread)
        .map(|_| {
            let s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.set_nodelay(true).unwrap();
            s
        })
        .collect();
    let mut echoed = 0;
    for round in 0..rounds {
        for (k, s) in socks.iter_mut().enumerate() {
            s.write_all(&frame(first + k, round)).unwrap();
        }
        for (k, s) in socks.iter_mut().enumerate() {
            let sent = frame(first + k, round);
            let mut back = vec![0u8; sent.len()];
            s.read_exact(&mut back).unwrap();
            assert_eq!(back, sent);
            echoed += 1;
        }
    }
    echoed
}

#[test]
fn the_loop_thread_allocates_nothing_while_serving() {
    let mut memory = OwnedStorage::new(Capacities {
        timers: TIMERS,
        tcp_streams: 64,
        ..Capacities::default()
    });
    let server = Server {
        conns: vec![
            Conn {
                buf: [0; 2 * FRAME_MAX],
                len: 0
            };
            64
        ],
        accepted: 0,
        messages: 0,
        timer_fires: 0,
        raises: 0,
    };
    let mut ev = EventLoop::new(memory.storage(), Config::default(), server).unwrap();
    let l = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    let addr = ev.local_addr(l.raw()).unwrap();
    let timers: Vec<Handle<Timer>> = (0..TIMERS).map(|_| ev.timer_create().unwrap()).collect();
    for &t in &timers {
        ev.set_handler(t, Trigger::Expired, on_timer).unwrap();
    }
    let source = ev.user_events_create().unwrap();
    for id in [1, 16, 2049, 70_000] {
        ev.set_handler(source, Trigger::User(id), on_raise).unwrap();
    }

    // Every thread exists before counting starts: spawning allocates on the spawning thread.
    let go = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|t| {
            let go = Arc::clone(&go);
            std::thread::spawn(move || client(addr, t * CONNECTIONS / CLIENT_THREADS, go))
        })
        .collect();
    let raisers: Vec<_> = (0..RAISERS)
        .map(|t| {
            let (go, remote) = (Arc::clone(&go), ev.remote());
            std::thread::spawn(move || {
                wait_for("the go signal", Duration::from_secs(10), || {
                    go.load(Ordering::Acquire)
                });
                for i in 0..RAISES / RAISERS as u32 {
                    remote
                        .raise(source, [1, 16, 2049, 70_000][(i as usize + t) % 4])
                        .unwrap();
                }
            })
        })
        .collect();

    alloc_counter::count_this_thread(true);
    for (i, &t) in timers.iter().enumerate() {
        ev.timer_start(t, 1 + (i as u64 * 7) % 50, false).unwrap();
    }
    go.store(true, Ordering::Release);
    run_until(
        &mut ev,
        "all the work",
        Duration::from_secs(60),
        10_000_000,
        |ev| {
            let s = ev.app();
            s.accepted == CONNECTIONS
                && s.messages == MESSAGES
                && s.timer_fires == TIMERS
                && s.raises == u64::from(RAISES)
        },
    );
    alloc_counter::count_this_thread(false);
    let allocations = alloc_counter::allocations();

    let echoed: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    for r in raisers {
        r.join().unwrap();
    }
    assert_eq!(echoed, MESSAGES);
    eprintln!("loop-thread heap allocations while serving: {allocations}");
    assert_eq!(
        allocations, 0,
        "the loop thread allocated {allocations} times"
    );
}
