//! Accepting connections: bursts larger than a listener's queue of accepted connections,
//! closing a listener with connections accepted but not taken, reusing a listener's slot at
//! once, and a full stream pool. On io_uring listeners take connections with a multishot
//! accept in the ring (held until `accept`); on mio with `accept` after a readable edge; the
//! outcomes asserted are the same, except where the kernel's own behaviour differs (said so).
//!
//! The tests count this process's descriptors, so they run one at a time (`SERIAL`).

mod common;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use common::net::{client, echo_round_trip, on_accept, Net};
use common::run_until;
use ptk_runtime::{
    BackendKind, Capacities, Capacity, Config, Error, EventLoop, ListenOptions, OwnedStorage,
    Trigger,
};

const WAIT: Duration = Duration::from_secs(5);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Descriptors open in this process.
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn new_loop(memory: &mut OwnedStorage, echo: bool) -> EventLoop<'_, Net> {
    let net = Net {
        echo,
        ..Net::default()
    };
    EventLoop::new(memory.storage(), Config::default(), net).unwrap()
}

fn v4() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

/// Whether this loop runs on io_uring (listeners accept in the ring there).
fn on_uring<A>(ev: &EventLoop<'_, A>) -> bool {
    ev.backend().running == BackendKind::IoUring
}

/// What a client reads once its connection was closed without being served.
fn end_of(c: &mut std::net::TcpStream) -> std::io::Result<usize> {
    let mut buf = [0u8; 1];
    c.read(&mut buf)
}

#[test]
fn a_burst_larger_than_the_accept_queue_is_accepted_whole_once_each() {
    let _serial = serial();
    const N: usize = 200;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, false);
    let l = ev.tcp_listen(v4(), &ListenOptions::default()).unwrap();
    let local = ev.local_addr(l.raw()).unwrap();
    // Every connection is established (in the kernel's backlog) before the loop runs again,
    // and each says who it is.
    let mut clients: Vec<_> = (0..N).map(|_| client(local)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(format!("{i:04}").as_bytes()).unwrap();
    }
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    run_until(&mut ev, "every connection and its id", WAIT, 10_000, |ev| {
        ev.app().accepts.len() >= N
            && ev.app().received.values().map(Vec::len).sum::<usize>() == 4 * N
    });
    assert_eq!(ev.app().accept_errors(), []);
    let accepted = ev.app().accepted();
    assert_eq!(accepted.len(), N);
    assert_eq!(accepted.iter().collect::<HashSet<_>>().len(), N);
    // Each peer address is a client's, once.
    let peers: HashSet<SocketAddr> = ev.app().accepts.iter().map(|a| a.unwrap().1).collect();
    let locals: HashSet<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    assert_eq!(peers, locals);
    // Each id arrived on exactly one stream.
    let ids: HashSet<Vec<u8>> = ev.app().received.values().cloned().collect();
    let want: HashSet<Vec<u8>> = (0..N).map(|i| format!("{i:04}").into_bytes()).collect();
    assert_eq!(ids, want);
    // Nothing more comes.
    ev.run_once(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(ev.app().accepts.len(), N);
    // And the listener still takes the next one.
    let late = client(local);
    run_until(&mut ev, "one more accept", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == N + 1
    });
    assert_eq!(ev.app().accepts[N].unwrap().1, late.local_addr().unwrap());
}

#[test]
fn closing_a_listener_closes_the_connections_it_accepted_but_nobody_took() {
    let _serial = serial();
    const K: usize = 20;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, false);
    let ring = on_uring(&ev);
    let base = fds();
    // No handler: nobody takes the connections.
    let l = ev.tcp_listen(v4(), &ListenOptions::default()).unwrap();
    let local = ev.local_addr(l.raw()).unwrap();
    let mut clients: Vec<_> = (0..K).map(|_| client(local)).collect();
    if ring {
        // The ring accepts them all, and holds them for `accept`.
        run_until(&mut ev, "the ring's accepts", WAIT, 10_000, |_| {
            fds() == base + 1 + 2 * K
        });
    } else {
        ev.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(fds(), base + 1 + K, "mio leaves them in the backlog");
    }
    ev.close(l.raw()).unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(fds(), base + K, "only the clients are left");
    for c in &mut clients {
        let end = end_of(c).map_err(|e| e.kind());
        if ring {
            // Accepted, then closed by the loop with nothing unread: end-of-stream.
            assert_eq!(end, Ok(0));
        } else {
            // Still in the backlog: the kernel resets them when the listener closes.
            assert_eq!(end, Err(ErrorKind::ConnectionReset));
        }
    }
    drop(clients);
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(fds(), base);
    assert_eq!(
        ev.accept(l),
        std::task::Poll::Ready(Err(Error::InvalidHandle))
    );
}

#[test]
fn dropping_a_loop_closes_the_connections_its_accepts_brought_after_its_last_iteration() {
    let _serial = serial();
    const K: usize = 16;
    let mut memory = OwnedStorage::new(Capacities::default());
    // What a first loop opens for the whole process stays open (it is not counted).
    drop(new_loop(&mut memory, false));
    let base = fds();
    let mut ev = new_loop(&mut memory, false);
    let ring = on_uring(&ev);
    let l = ev.tcp_listen(v4(), &ListenOptions::default()).unwrap();
    let local = ev.local_addr(l.raw()).unwrap();
    // The accept goes to the kernel; the loop never looks at the ring again before it is
    // dropped, so on io_uring the connections below are accepted into completions nobody
    // has read yet.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    let loop_fds = fds() - base;
    let mut clients: Vec<_> = (0..K).map(|_| client(local)).collect();
    if ring {
        let deadline = std::time::Instant::now() + WAIT;
        while fds() < base + loop_fds + 2 * K {
            assert!(
                std::time::Instant::now() < deadline,
                "the kernel accepted {} of {K}",
                fds() - base - loop_fds - K
            );
            std::thread::yield_now();
        }
    }
    drop(ev);
    assert_eq!(
        fds(),
        base + K + 1,
        "the clients, and the listener: its socket is in the storage"
    );
    drop(memory);
    assert_eq!(fds(), base + K, "only the clients are left");
    for c in &mut clients {
        let end = end_of(c).map_err(|e| e.kind());
        if ring {
            assert_eq!(end, Ok(0), "accepted, then closed with the loop");
        } else {
            assert_eq!(end, Err(ErrorKind::ConnectionReset), "reset in the backlog");
        }
    }
}

#[test]
fn a_listener_reusing_a_closed_ones_slot_never_gets_its_connections() {
    let _serial = serial();
    const K: usize = 10;
    const M: usize = 5;
    let mut memory = OwnedStorage::new(Capacities {
        tcp_listeners: 1,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut memory, false);
    let base = fds();
    let a = ev.tcp_listen(v4(), &ListenOptions::default()).unwrap();
    let a_addr = ev.local_addr(a.raw()).unwrap();
    // The accept is armed (submitted with this poll); the connections arrive after it, and
    // their completions are still on the way (or held) when the listener closes.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    let mut old: Vec<_> = (0..K).map(|_| client(a_addr)).collect();
    ev.close(a.raw()).unwrap();
    let b = ev.tcp_listen(v4(), &ListenOptions::default()).unwrap();
    assert_eq!(b.raw().slot(), a.raw().slot(), "the slot is reused");
    assert_ne!(b.raw(), a.raw());
    ev.set_handler(b, Trigger::Readable, on_accept).unwrap();
    let b_addr = ev.local_addr(b.raw()).unwrap();
    let new: Vec<_> = (0..M).map(|_| client(b_addr)).collect();
    run_until(&mut ev, "the new listener's accepts", WAIT, 10_000, |ev| {
        ev.app().accepts.len() >= M
    });
    ev.run_once(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(ev.app().accept_errors(), []);
    let peers: HashSet<SocketAddr> = ev.app().accepts.iter().map(|x| x.unwrap().1).collect();
    let want: HashSet<SocketAddr> = new.iter().map(|c| c.local_addr().unwrap()).collect();
    assert_eq!(peers, want, "exactly the new listener's connections");
    // The old listener's connections were closed: held ones or late completions by the
    // loop (end-of-stream), those still in the backlog by the kernel (reset).
    for c in &mut old {
        let end = end_of(c).map_err(|e| e.kind());
        assert!(
            matches!(end, Ok(0) | Err(ErrorKind::ConnectionReset)),
            "{end:?}"
        );
    }
    drop(old);
    drop(new);
    for s in ev.app().accepted() {
        ev.close(s.raw()).unwrap();
    }
    ev.close(b.raw()).unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(fds(), base, "no descriptor leaked");
}

#[test]
fn a_burst_beyond_the_stream_pool_is_refused_past_the_pool_and_the_rest_served() {
    let _serial = serial();
    const N: usize = 3;
    const EXTRA: usize = 7;
    let mut memory = OwnedStorage::new(Capacities {
        tcp_streams: N,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut memory, true);
    let base = fds();
    let l = ev.tcp_listen(v4(), &ListenOptions::default()).unwrap();
    let local = ev.local_addr(l.raw()).unwrap();
    let mut clients: Vec<_> = (0..N + EXTRA).map(|_| client(local)).collect();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    run_until(&mut ev, "every accept", WAIT, 10_000, |ev| {
        ev.app().accepts.len() >= N + EXTRA
    });
    ev.run_once(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(ev.app().accepts.len(), N + EXTRA);
    assert_eq!(
        ev.app().accept_errors(),
        [Error::OutOfResources(Capacity::TcpStreams); EXTRA]
    );
    let served: HashSet<SocketAddr> = ev
        .app()
        .accepts
        .iter()
        .filter_map(|a| a.ok().map(|a| a.1))
        .collect();
    assert_eq!(served.len(), N);
    for c in &mut clients {
        if served.contains(&c.local_addr().unwrap()) {
            assert_eq!(echo_round_trip(&mut ev, c, b"served"), b"served");
        } else {
            // Accepted and closed at once.
            assert_eq!(end_of(c).map_err(|e| e.kind()), Ok(0));
        }
    }
    drop(clients);
    run_until(&mut ev, "the served clients' ends", WAIT, 10_000, |ev| {
        ev.app().ends.len() == N
    });
    ev.close(l.raw()).unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(fds(), base, "no descriptor leaked");
}
