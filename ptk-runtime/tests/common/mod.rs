//! Bounded driving of an event loop, shared by the integration tests.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use ptk_runtime::EventLoop;

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

pub mod net;
