//! Shared pieces of the facade's integration tests: bounded driving of a loop, loopback
//! connections, blocking framed clients, and the protothread servers under test (`echo`,
//! `pooled_echo`, `chat`).
#![allow(dead_code)]

pub mod chat;
pub mod echo;
pub mod pooled_echo;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ptk::{Capacities, EventLoop, Handle, ListenOptions, OwnedStorage, TcpStream, HEADER_LEN};

/// How long one `run_once` may wait inside the bounded loops.
pub const STEP: Duration = Duration::from_millis(20);

/// How long a client waits for one reply before its read fails.
pub const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `ev` until `done` holds, at most `max_iterations` iterations and `within` wall time;
/// panics naming `what` when either bound is hit first. Returns the iterations used.
pub fn run_until<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    what: &str,
    within: Duration,
    max_iterations: usize,
    mut done: impl FnMut(&mut EventLoop<'_, A>) -> bool,
) -> usize {
    let deadline = Instant::now() + within;
    for i in 0..max_iterations {
        if done(ev) {
            return i;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out after {within:?} ({i} iterations) waiting for {what}"
        );
        if let Err(e) = ev.run_once(Some(left.min(STEP))) {
            panic!("run_once failed while waiting for {what}: {e}");
        }
    }
    assert!(
        done(ev),
        "gave up after {max_iterations} iterations waiting for {what}"
    );
    max_iterations
}

/// Storage for a loop with the default capacities.
pub fn new_memory() -> OwnedStorage {
    OwnedStorage::new(Capacities::default())
}

/// Accepts one loopback connection on `ev` (bounded like [`run_until`], by
/// [`CLIENT_READ_TIMEOUT`]): (server side, client side). The listener is closed again.
pub fn connected_pair<A: 'static>(
    ev: &mut EventLoop<'_, A>,
) -> (Handle<TcpStream>, std::net::TcpStream) {
    let listener = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    let client = std::net::TcpStream::connect(ev.local_addr(listener.raw()).unwrap()).unwrap();
    let mut accepted = None;
    run_until(ev, "the accept", CLIENT_READ_TIMEOUT, 10_000, |ev| {
        if let Poll::Ready(r) = ev.accept(listener) {
            accepted = Some(r.unwrap().0);
        }
        accepted.is_some()
    });
    ev.close(listener.raw()).unwrap();
    (accepted.unwrap(), client)
}

/// Runs `ev` until every client thread has finished (bounded like [`run_until`]), then joins
/// them, re-raising a client's panic here.
pub fn serve_clients<A: 'static, T>(
    ev: &mut EventLoop<'_, A>,
    what: &str,
    within: Duration,
    clients: Vec<JoinHandle<T>>,
) -> Vec<T> {
    run_until(ev, what, within, 10_000_000, |_| {
        clients.iter().all(JoinHandle::is_finished)
    });
    clients
        .into_iter()
        .map(|c| match c.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
        .collect()
}

/// Polls `done` (with a short pause) from a thread that is not the loop's, bounded by `within`.
pub fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A blocking loopback client whose reads give up after [`CLIENT_READ_TIMEOUT`].
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(CLIENT_READ_TIMEOUT)).unwrap();
    c.set_nodelay(true).unwrap();
    c
}

/// `payload` with its 4-byte big-endian length in front.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A payload that differs for every (client, message) pair, in content and in length.
pub fn payload(client: usize, message: usize, max: usize) -> Vec<u8> {
    let len = 1 + (client * 31 + message * 17) % max;
    (0..len)
        .map(|i| (client * 7 + message * 13 + i) as u8)
        .collect()
}

/// Sends one frame.
pub fn send_frame(c: &mut std::net::TcpStream, payload: &[u8]) {
    c.write_all(&frame(payload)).unwrap();
}

/// Reads one frame and returns its payload.
pub fn read_frame(c: &mut std::net::TcpStream) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    c.read_exact(&mut header).unwrap();
    let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
    c.read_exact(&mut payload).unwrap();
    payload
}

/// Reads until end-of-stream, bounded by the client's read timeout and by `max_bytes`;
/// returns how many bytes came before it.
pub fn read_to_eof(c: &mut std::net::TcpStream, max_bytes: usize) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match c.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("no end-of-stream after {total} bytes: {e}"),
        }
        assert!(
            total <= max_bytes,
            "more than {max_bytes} bytes before end-of-stream"
        );
    }
}
