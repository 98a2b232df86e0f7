//! Timers: one-shot, repeating with missed periods, stop, restart, close, and 50,000 armed
//! timers firing in deadline order.

mod common;

use std::time::Duration;

use common::run_until;
use ptk_runtime::{
    Capacities, Config, Cx, Error, Event, EventKind, EventLoop, Handle, OwnedStorage, RawHandle,
    Timer, Trigger,
};

/// One delivery: which timer, the loop time, `missed`, and the deadline it was re-armed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fire {
    timer: RawHandle,
    now: u64,
    missed: u32,
    next_deadline: Option<u64>,
}

#[derive(Default)]
struct Trace {
    fires: Vec<Fire>,
    /// Stop the timer after this many deliveries (0: never).
    stop_after: usize,
    /// Block the loop in the first delivery for this long, as a busy handler would.
    busy_first: Duration,
}

fn record(trace: &mut Trace, cx: &mut Cx<'_>, ev: Event) {
    let EventKind::Expired { missed } = ev.kind else {
        panic!("unexpected event {ev:?}");
    };
    let timer: Handle<Timer> = ev.handle.typed().unwrap();
    trace.fires.push(Fire {
        timer: ev.handle,
        now: cx.now_ms(),
        missed,
        next_deadline: cx.timer_deadline(timer).unwrap(),
    });
    if trace.fires.len() == 1 && !trace.busy_first.is_zero() {
        std::thread::sleep(trace.busy_first);
    }
    if trace.fires.len() == trace.stop_after {
        cx.timer_stop(timer).unwrap();
    }
}

fn fires_of(ev: &EventLoop<'_, Trace>, t: Handle<Timer>) -> Vec<Fire> {
    ev.app()
        .fires
        .iter()
        .copied()
        .filter(|f| f.timer == t.raw())
        .collect()
}

/// Arms a one-shot sentinel timer and runs until it fired: a bounded wait for "nothing else
/// happened in the meantime" without a fixed sleep.
fn run_past_sentinel(ev: &mut EventLoop<'_, Trace>, ms: u64) {
    let sentinel = ev.timer_create().unwrap();
    ev.set_handler(sentinel, Trigger::Expired, record).unwrap();
    ev.timer_start(sentinel, ms, false).unwrap();
    run_until(
        ev,
        "the sentinel timer",
        Duration::from_secs(5),
        10_000,
        |ev| !fires_of(ev, sentinel).is_empty(),
    );
    ev.close(sentinel.raw()).unwrap();
}

fn small_loop(memory: &mut OwnedStorage) -> EventLoop<'_, Trace> {
    EventLoop::new(memory.storage(), Config::default(), Trace::default()).unwrap()
}

#[test]
fn one_shot_timer_fires_once_and_disarms() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = small_loop(&mut memory);
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, record).unwrap();
    ev.timer_start(t, 5, false).unwrap();
    let deadline = ev.timer_deadline(t).unwrap().unwrap();
    assert!(ev.timer_is_armed(t).unwrap());
    run_until(
        &mut ev,
        "the one-shot timer",
        Duration::from_secs(5),
        10_000,
        |ev| !fires_of(ev, t).is_empty(),
    );
    run_past_sentinel(&mut ev, 30);
    let fires = fires_of(&ev, t);
    assert_eq!(fires.len(), 1, "{fires:?}");
    assert!(
        fires[0].now >= deadline,
        "fired at {} before {deadline}",
        fires[0].now
    );
    assert_eq!(fires[0].missed, 0);
    assert_eq!(fires[0].next_deadline, None);
    assert!(!ev.timer_is_armed(t).unwrap());
}

#[test]
fn repeating_timer_fires_every_period_and_counts_the_missed_ones() {
    const INTERVAL: u64 = 10;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = small_loop(&mut memory);
    ev.app_mut().stop_after = 4;
    ev.app_mut().busy_first = Duration::from_millis(35);
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, record).unwrap();
    ev.timer_start(t, INTERVAL, true).unwrap();
    let first_deadline = ev.timer_deadline(t).unwrap().unwrap();
    run_until(
        &mut ev,
        "four deliveries",
        Duration::from_secs(5),
        10_000,
        |ev| fires_of(ev, t).len() == 4,
    );
    run_past_sentinel(&mut ev, 3 * INTERVAL);
    let fires = fires_of(&ev, t);
    assert_eq!(fires.len(), 4, "stopped after 4: {fires:?}");
    let mut deadline = first_deadline;
    for (k, f) in fires.iter().enumerate() {
        assert!(
            f.now >= deadline,
            "delivery {k} at {} before its deadline {deadline}",
            f.now
        );
        assert_eq!(
            u64::from(f.missed),
            (f.now - deadline) / INTERVAL,
            "delivery {k}"
        );
        let next = deadline + (u64::from(f.missed) + 1) * INTERVAL;
        if k < 3 {
            assert_eq!(
                f.next_deadline,
                Some(next),
                "delivery {k} re-arms after the missed"
            );
            assert!(f.now < next);
        }
        deadline = next;
    }
    // The first handler kept the loop busy for 35 ms: at least 2 whole periods were missed.
    assert!(fires[1].missed >= 2, "{fires:?}");
    assert!(!ev.timer_is_armed(t).unwrap());
}

#[test]
fn timer_stopped_before_expiry_never_fires() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = small_loop(&mut memory);
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, record).unwrap();
    ev.timer_start(t, 10, true).unwrap();
    ev.timer_stop(t).unwrap();
    assert!(!ev.timer_is_armed(t).unwrap());
    assert_eq!(ev.timer_deadline(t), Ok(None));
    ev.timer_stop(t).unwrap(); // stopping a stopped timer is fine
    run_past_sentinel(&mut ev, 40);
    assert_eq!(fires_of(&ev, t), []);
}

#[test]
fn restart_moves_the_deadline_later_and_earlier() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = small_loop(&mut memory);
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, record).unwrap();

    // Later: armed for 10 ms, restarted for 60 ms; a 30 ms sentinel fires first.
    ev.timer_start(t, 10, false).unwrap();
    let early = ev.timer_deadline(t).unwrap().unwrap();
    ev.timer_start(t, 60, false).unwrap();
    let late = ev.timer_deadline(t).unwrap().unwrap();
    assert!(late >= early + 50, "{early} -> {late}");
    run_past_sentinel(&mut ev, 30);
    assert_eq!(fires_of(&ev, t), []);
    run_until(
        &mut ev,
        "the restarted timer",
        Duration::from_secs(5),
        10_000,
        |ev| !fires_of(ev, t).is_empty(),
    );
    assert!(fires_of(&ev, t)[0].now >= late);

    // Earlier: armed for 10 s, restarted for 5 ms.
    ev.app_mut().fires.clear();
    ev.timer_start(t, 10_000, false).unwrap();
    let far = ev.timer_deadline(t).unwrap().unwrap();
    ev.timer_start(t, 5, false).unwrap();
    let near = ev.timer_deadline(t).unwrap().unwrap();
    run_until(
        &mut ev,
        "the re-armed timer",
        Duration::from_secs(5),
        10_000,
        |ev| !fires_of(ev, t).is_empty(),
    );
    let fired = fires_of(&ev, t)[0].now;
    assert!(
        (near..far).contains(&fired),
        "fired at {fired}, armed for {near}"
    );
    assert_eq!(fires_of(&ev, t).len(), 1);
}

#[test]
fn interval_zero_is_an_invalid_argument() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = small_loop(&mut memory);
    let t = ev.timer_create().unwrap();
    assert_eq!(ev.timer_start(t, 0, false), Err(Error::InvalidArgument));
    assert_eq!(ev.timer_start(t, 0, true), Err(Error::InvalidArgument));
    assert_eq!(ev.last_error(), Some(Error::InvalidArgument));
    assert!(!ev.timer_is_armed(t).unwrap());
}

#[test]
fn closed_timer_handle_is_stale_and_its_armed_timer_never_fires() {
    let mut memory = OwnedStorage::new(Capacities {
        timers: 2,
        ..Capacities::default()
    });
    let mut ev = small_loop(&mut memory);
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, record).unwrap();
    ev.timer_start(t, 5, false).unwrap();
    ev.close(t.raw()).unwrap();
    assert_eq!(ev.timer_start(t, 5, false), Err(Error::InvalidHandle));
    assert_eq!(ev.timer_stop(t), Err(Error::InvalidHandle));
    assert_eq!(ev.timer_is_armed(t), Err(Error::InvalidHandle));
    assert_eq!(ev.timer_deadline(t), Err(Error::InvalidHandle));
    assert_eq!(
        ev.set_handler(t, Trigger::Expired, record),
        Err(Error::InvalidHandle)
    );
    assert_eq!(ev.close(t.raw()), Err(Error::InvalidHandle));
    assert_eq!(ev.last_error(), Some(Error::InvalidHandle));
    // Freed slots are reused first in, first out: the second new timer takes t's slot, and
    // the stale handle still does not name it.
    let u = ev.timer_create().unwrap();
    let v = ev.timer_create().unwrap();
    assert_eq!(v.raw().slot(), t.raw().slot());
    assert_ne!(v, t);
    assert_eq!(ev.timer_stop(t), Err(Error::InvalidHandle));
    assert_eq!(ev.close(t.raw()), Err(Error::InvalidHandle));
    assert!(!ev.timer_is_armed(v).unwrap());
    ev.close(u.raw()).unwrap();
    run_past_sentinel(&mut ev, 20);
    assert_eq!(fires_of(&ev, t), []);
    assert_eq!(ev.in_use().timers, 1);
}

#[test]
fn fifty_thousand_armed_timers_fire_once_each_in_deadline_order() {
    const N: usize = 50_000;
    let mut memory = OwnedStorage::new(Capacities {
        timers: N,
        ..Capacities::default()
    });
    let mut ev = small_loop(&mut memory);
    ev.app_mut().fires.reserve(N);
    let mut seed: u32 = 0x2545_f491;
    let mut armed = Vec::with_capacity(N);
    for _ in 0..N {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let interval = u64::from(seed % 200) + 1;
        let t = ev.timer_create().unwrap();
        ev.set_handler(t, Trigger::Expired, record).unwrap();
        ev.timer_start(t, interval, false).unwrap();
        armed.push(t);
    }
    assert_eq!(ev.in_use().timers, N);
    // The loop orders by (deadline, arming order); arming 50,000 timers may span several
    // milliseconds of clock, so take each deadline from the loop rather than assume it.
    let mut expected: Vec<(u64, usize, RawHandle)> = armed
        .iter()
        .enumerate()
        .map(|(seq, &t)| (ev.timer_deadline(t).unwrap().unwrap(), seq, t.raw()))
        .collect();
    expected.sort_unstable();
    run_until(
        &mut ev,
        "50,000 timers",
        Duration::from_secs(20),
        100_000,
        |ev| ev.app().fires.len() >= N,
    );
    let fires = &ev.app().fires;
    assert_eq!(fires.len(), N);
    let order: Vec<RawHandle> = fires.iter().map(|f| f.timer).collect();
    let expected_order: Vec<RawHandle> = expected.iter().map(|e| e.2).collect();
    assert!(
        order == expected_order,
        "timers fired out of (deadline, arming) order"
    );
    for (f, (deadline, _, _)) in fires.iter().zip(&expected) {
        assert!(
            f.now >= *deadline,
            "{} fired at {} before {deadline}",
            f.timer,
            f.now
        );
        assert_eq!(f.missed, 0);
    }
    assert!(armed.iter().all(|&t| !ev.timer_is_armed(t).unwrap()));
}

/// The loop clock is read lazily: stable within one iteration, and moving on in the next one
/// even though no timer is armed (nothing else reads the clock then).
#[test]
fn now_ms_is_stable_within_an_iteration_and_moves_between_them() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let first = ev.now_ms();
    let mut later = first;
    // `run_once` blocks in the poll for its whole timeout: nothing is registered to wake it.
    for _ in 0..200 {
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
        later = ev.now_ms();
        assert_eq!(ev.now_ms(), later, "two reads in one iteration differ");
        if later >= first + 5 {
            break;
        }
    }
    assert!(
        later >= first + 5,
        "the clock did not move: {first} -> {later}"
    );
}
