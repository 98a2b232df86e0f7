//! Shared pieces of the facade's integration tests: bounded driving of a loop, loopback
//! connections, blocking framed clients, and the protothread servers under test (`echo`,
//! `pooled_echo`, `chat`).
#![allow(dead_code)]

pub mod chat;
pub mod chat_scenario;
pub mod clients;
pub mod echo;
pub mod pooled_echo;

// Each test binary uses some of them.
#[allow(unused_imports)]
pub use clients::{
    connect, frame, payload, read_frame, read_to_eof, send_frame, wait_for, CLIENT_READ_TIMEOUT,
};

use std::net::Ipv4Addr;
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ptk::{Capacities, EventLoop, Handle, ListenOptions, OwnedStorage, TcpStream};

/// How long one `run_once` may wait inside the bounded loops.
pub const STEP: Duration = Duration::from_millis(20);

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
