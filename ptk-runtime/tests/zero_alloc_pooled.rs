//! The pooled path allocates nothing on the loop thread either: a counting global allocator,
//! switched on for that thread after the loops are set up, while handlers serve
//!
//! * an echo over `PooledFrameReader` + `take_frame` + `send_buf`, on a pool so small that
//!   reads pause for want of a buffer (and go on when one is free), and
//! * a fan-out, on a second loop: every frame a client sends goes to the other members of its
//!   group, each copy in a buffer of its own (`buf_alloc`, filled, `send_buf`),
//!
//! from the first accept to the last close.

mod alloc_counter;
mod common;
mod framed_clients;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::wait_for;
use framed_clients::{frame, group_chat, read_frame};
use ptk_runtime::{
    Capacities, Config, Cx, Event, EventLoop, Handle, Handler, ListenOptions, OwnedStorage,
    PooledFrameReader, TcpListener, TcpStream, Trigger, HEADER_LEN,
};

const ECHO_CONNECTIONS: usize = 40;
const ECHO_THREADS: usize = 2;
const ECHO_ROUNDS: usize = 100;
const GROUPS: usize = 10;
const GROUP: usize = 4;
const CHAT_THREADS: usize = 2;
const CHAT_ROUNDS: usize = 100;
/// Largest payload: larger than a small buffer, so some frames move to large ones.
const MAX_PAYLOAD: usize = 600;
const SMALL: usize = 256;
const LARGE: usize = 1024;
const WAIT: Duration = Duration::from_secs(60);

fn payload(a: usize, b: usize) -> Vec<u8> {
    let len = 2 + (a * 37 + b * 11) % (MAX_PAYLOAD - 1);
    (0..len).map(|i| (a * 3 + b * 7 + i) as u8).collect()
}

fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

// ---------------------------------------------------------------------------------------
// The echo: handlers, one pooled frame reader per stream slot.
// ---------------------------------------------------------------------------------------

struct Echo {
    readers: Vec<PooledFrameReader>,
    accepted: usize,
    frames: usize,
    closed: usize,
    /// The loop's `pool_pauses`, for the clients to see.
    pool_pauses: Arc<AtomicU64>,
}

fn on_echo_accept(e: &mut Echo, cx: &mut Cx<'_>, ev: Event) {
    let l: Handle<TcpListener> = ev.handle.typed().unwrap();
    while let Poll::Ready(r) = cx.accept(l) {
        let (s, _) = r.expect("accept");
        e.readers[s.raw().slot() as usize] = PooledFrameReader::new(MAX_PAYLOAD);
        cx.set_handler(s, Trigger::Readable, on_echo).unwrap();
        e.accepted += 1;
    }
}

fn on_echo(e: &mut Echo, cx: &mut Cx<'_>, ev: Event) {
    let s: Handle<TcpStream> = ev.handle.typed().unwrap();
    let reader = &mut e.readers[ev.handle.slot() as usize];
    loop {
        match reader.poll_frame(cx, s) {
            Poll::Pending => break,
            Poll::Ready(Ok(Some(_))) => {
                let f = reader.take_frame(cx).expect("take_frame");
                cx.send_buf(s, f).expect("send_buf");
                e.frames += 1;
            }
            Poll::Ready(end) => {
                assert_eq!(end, Ok(None), "an echo connection ended badly");
                reader.release(cx);
                cx.close(s.raw()).unwrap();
                e.closed += 1;
                break;
            }
        }
    }
    let pauses = cx.buffer_stats().pool_pauses;
    e.pool_pauses.store(pauses, Ordering::Release);
}

/// Echo clients: every round, each connection sends the first half of a frame, then the
/// second, then reads the echo. In the first round they wait for a read paused for want of
/// a buffer (their partial frames outnumber the buffers) before sending the second halves.
fn echo_clients(
    addr: SocketAddr,
    first: usize,
    n: usize,
    go: Arc<AtomicBool>,
    pauses: Arc<AtomicU64>,
) -> usize {
    wait_for("the go signal", WAIT, || go.load(Ordering::Acquire));
    let mut socks: Vec<_> = (0..n).map(|_| connect(addr)).collect();
    let mut echoed = 0;
    for round in 0..ECHO_ROUNDS {
        let frames: Vec<_> = (0..n).map(|k| frame(&payload(first + k, round))).collect();
        for (s, f) in socks.iter_mut().zip(&frames) {
            s.write_all(&f[..f.len() / 2]).unwrap();
        }
        if round == 0 {
            wait_for("a read paused for the pool", WAIT, || {
                pauses.load(Ordering::Acquire) > 0
            });
        }
        for (s, f) in socks.iter_mut().zip(&frames) {
            s.write_all(&f[f.len() / 2..]).unwrap();
        }
        for (s, f) in socks.iter_mut().zip(&frames) {
            assert_eq!(read_frame(s), f[HEADER_LEN..]);
            echoed += 1;
        }
    }
    echoed
}

// ---------------------------------------------------------------------------------------
// The fan-out: handlers; a connection's first frame says its group and place in it.
// ---------------------------------------------------------------------------------------

struct FanOut {
    readers: Vec<PooledFrameReader>,
    /// Per stream slot: its (group, place) once it said hello.
    member: Vec<Option<(usize, usize)>>,
    groups: Vec<[Option<Handle<TcpStream>>; GROUP]>,
    accepted: usize,
    received: usize,
    relayed: usize,
    closed: usize,
}

fn on_fan_accept(f: &mut FanOut, cx: &mut Cx<'_>, ev: Event) {
    let l: Handle<TcpListener> = ev.handle.typed().unwrap();
    while let Poll::Ready(r) = cx.accept(l) {
        let (s, _) = r.expect("accept");
        let slot = s.raw().slot() as usize;
        f.readers[slot] = PooledFrameReader::new(MAX_PAYLOAD);
        f.member[slot] = None;
        cx.set_handler(s, Trigger::Readable, on_fan).unwrap();
        f.accepted += 1;
    }
}

fn on_fan(f: &mut FanOut, cx: &mut Cx<'_>, ev: Event) {
    let s: Handle<TcpStream> = ev.handle.typed().unwrap();
    let slot = ev.handle.slot() as usize;
    loop {
        let len = match f.readers[slot].poll_frame(cx, s) {
            Poll::Pending => return,
            Poll::Ready(Ok(Some(len))) => len,
            Poll::Ready(end) => {
                assert_eq!(end, Ok(None), "a fan-out connection ended badly");
                f.readers[slot].release(cx);
                if let Some((g, k)) = f.member[slot].take() {
                    f.groups[g][k] = None;
                }
                cx.close(s.raw()).unwrap();
                f.closed += 1;
                return;
            }
        };
        let Some((g, k)) = f.member[slot] else {
            // Hello: [group, place]; acknowledged by sending it back.
            let hello = f.readers[slot].frame(cx);
            let (g, k) = (usize::from(hello[0]), usize::from(hello[1]));
            f.member[slot] = Some((g, k));
            f.groups[g][k] = Some(s);
            let ack = f.readers[slot].take_frame(cx).expect("take_frame");
            cx.send_buf(s, ack).expect("send_buf");
            continue;
        };
        // A copy for every other member, each in a buffer of its own.
        let mut copy = [0u8; HEADER_LEN + MAX_PAYLOAD];
        let n = HEADER_LEN + len;
        copy[..n].copy_from_slice(f.readers[slot].frame_with_header(cx));
        for (m, peer) in f.groups[g].iter().enumerate() {
            let Some(peer) = *peer else { continue };
            if m == k {
                continue;
            }
            let b = cx.buf_alloc(n).expect("buf_alloc");
            cx.buf_mut(b)
                .unwrap()
                .extend_from_slice(&copy[..n])
                .unwrap();
            cx.send_buf(peer, b).expect("send_buf");
            f.relayed += 1;
        }
        f.readers[slot].consume(cx);
        f.received += 1;
    }
}

/// Fan-out clients: groups `first..first + n` of a group chat, once the test says go.
fn fan_clients(addr: SocketAddr, first: usize, n: usize, go: Arc<AtomicBool>) -> usize {
    wait_for("the go signal", WAIT, || go.load(Ordering::Acquire));
    group_chat(|| connect(addr), first, n, GROUP, CHAT_ROUNDS, payload)
}

/// Listens on an ephemeral loopback port of `ev`, accepting with `on_accept`; returns the
/// address.
fn listen<A: 'static>(ev: &mut EventLoop<'_, A>, on_accept: Handler<A>) -> SocketAddr {
    let loopback: SocketAddr = (Ipv4Addr::LOCALHOST, 0).into();
    let l = ev.tcp_listen(loopback, &ListenOptions::default()).unwrap();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    ev.local_addr(l.raw()).unwrap()
}

#[test]
fn the_pooled_echo_and_fan_out_allocate_nothing_on_the_loop_thread() {
    let streams = 64;
    let mut echo_memory = OwnedStorage::new(Capacities {
        tcp_streams: streams,
        buffers: 8,
        buffer_size: SMALL,
        large_buffers: 4,
        large_buffer_size: LARGE,
        ..Capacities::default()
    });
    let mut fan_memory = OwnedStorage::new(Capacities {
        tcp_streams: streams,
        buffers: 256,
        buffer_size: SMALL,
        large_buffers: 64,
        large_buffer_size: LARGE,
        ..Capacities::default()
    });
    let pauses = Arc::new(AtomicU64::new(0));
    let echo = Echo {
        readers: vec![PooledFrameReader::new(MAX_PAYLOAD); streams],
        accepted: 0,
        frames: 0,
        closed: 0,
        pool_pauses: Arc::clone(&pauses),
    };
    let fan = FanOut {
        readers: vec![PooledFrameReader::new(MAX_PAYLOAD); streams],
        member: vec![None; streams],
        groups: vec![[None; GROUP]; GROUPS],
        accepted: 0,
        received: 0,
        relayed: 0,
        closed: 0,
    };
    let mut echo_ev = EventLoop::new(echo_memory.storage(), Config::default(), echo).unwrap();
    let mut fan_ev = EventLoop::new(fan_memory.storage(), Config::default(), fan).unwrap();
    let echo_addr = listen(&mut echo_ev, on_echo_accept);
    let fan_addr = listen(&mut fan_ev, on_fan_accept);

    // Every thread exists before counting starts: spawning allocates on the spawning thread.
    let go = Arc::new(AtomicBool::new(false));
    let per_echo = ECHO_CONNECTIONS / ECHO_THREADS;
    let per_fan = GROUPS / CHAT_THREADS;
    let echo_clients: Vec<_> = (0..ECHO_THREADS)
        .map(|t| {
            let (go, pauses) = (Arc::clone(&go), Arc::clone(&pauses));
            std::thread::spawn(move || echo_clients(echo_addr, t * per_echo, per_echo, go, pauses))
        })
        .collect();
    let fan_clients: Vec<_> = (0..CHAT_THREADS)
        .map(|t| {
            let go = Arc::clone(&go);
            std::thread::spawn(move || fan_clients(fan_addr, t * per_fan, per_fan, go))
        })
        .collect();

    alloc_counter::count_this_thread(true);
    go.store(true, Ordering::Release);
    let deadline = Instant::now() + WAIT;
    let step = Some(Duration::from_millis(1));
    loop {
        let (e, f) = (echo_ev.app(), fan_ev.app());
        if e.closed == ECHO_CONNECTIONS && f.closed == GROUPS * GROUP {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not done after {WAIT:?}: echo {} accepted, {} frames, {} closed; fan-out {} \
             accepted, {} received, {} closed",
            e.accepted,
            e.frames,
            e.closed,
            f.accepted,
            f.received,
            f.closed
        );
        echo_ev.run_once(step).unwrap();
        fan_ev.run_once(step).unwrap();
    }
    alloc_counter::count_this_thread(false);
    let allocations = alloc_counter::allocations();

    let echoed: usize = echo_clients.into_iter().map(|c| c.join().unwrap()).sum();
    let received: usize = fan_clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(echoed, ECHO_CONNECTIONS * ECHO_ROUNDS);
    assert_eq!(echo_ev.app().frames, ECHO_CONNECTIONS * ECHO_ROUNDS);
    assert_eq!(received, GROUPS * (GROUP - 1) * CHAT_ROUNDS);
    assert_eq!(fan_ev.app().relayed, received);
    assert_eq!(fan_ev.app().received, GROUPS * CHAT_ROUNDS);
    let e = echo_ev.buffer_stats();
    assert!(e.pool_pauses > 0, "the echo's pool never ran dry");
    assert_eq!((e.small_in_use, e.large_in_use, e.queued), (0, 0, 0));
    let f = fan_ev.buffer_stats();
    assert_eq!((f.small_in_use, f.large_in_use, f.queued), (0, 0, 0));
    assert!(f.large_capacity > 0 && f.peak_in_use > 0);
    eprintln!(
        "loop-thread heap allocations while serving {} echoes and {} fan-out copies: \
         {allocations} (echo pool {e:?})",
        echoed, received
    );
    assert_eq!(
        allocations, 0,
        "the loop thread allocated {allocations} times"
    );
}
