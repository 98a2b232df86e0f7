//! Periodic watchers: deliveries on wall-clock boundaries, missed boundaries skipped and
//! counted.
//!
//! The tests use short periods on the real clock. Their assertions are exact relations
//! that hold however late the loop runs (every delivery is on a boundary, never before it,
//! and its missed count is the number of boundaries between it and the previous one); where
//! a count depends on how long the test machine took, the test reads the wall clock on both
//! sides of the moment the loop read it and checks the count against both.

mod common;

use std::task::Poll;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::run_until;
use ptk_runtime::{
    Capacities, Capacity, Config, Cx, Error, Event, EventKind, EventLoop, OwnedStorage, Tick,
    Trigger,
};

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A delivery as the handler saw it.
#[derive(Clone, Copy, Debug)]
struct Seen {
    due_ms: u64,
    missed: u32,
    /// The wall clock when the handler was called, and when it returned.
    entered: u64,
    left: u64,
}

#[derive(Default)]
struct App {
    seen: Vec<Seen>,
    /// Block in the first delivery until this long after its boundary.
    block_first_ms: u64,
}

fn on_tick(app: &mut App, _cx: &mut Cx<'_>, ev: Event) {
    let entered = wall_ms();
    let EventKind::Tick { due_ms, missed } = ev.kind else {
        panic!("a periodic handler got {:?}", ev.kind);
    };
    if app.seen.is_empty() && app.block_first_ms > 0 {
        // The loop is busy past several boundaries.
        while wall_ms() < due_ms + app.block_first_ms {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    app.seen.push(Seen {
        due_ms,
        missed,
        entered,
        left: wall_ms(),
    });
}

fn within() -> Duration {
    Duration::from_secs(10)
}

#[test]
fn deliveries_are_on_the_boundaries_of_the_wall_clock_never_before_them() {
    const PERIOD: u64 = 40;
    const OFFSET: u64 = 7;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), App::default()).unwrap();
    let p = ev.periodic_create().unwrap();
    ev.set_handler(p, Trigger::Tick, on_tick).unwrap();
    assert_eq!(ev.periodic_is_active(p), Ok(false));
    let before = wall_ms();
    ev.periodic_start(p, PERIOD, OFFSET).unwrap();
    let after = wall_ms();
    assert_eq!(ev.periodic_is_active(p), Ok(true));
    run_until(&mut ev, "four deliveries", within(), 10_000, |ev| {
        ev.app().seen.len() == 4
    });
    let seen = ev.app().seen.clone();
    // The first boundary strictly after the start.
    assert!(seen[0].due_ms > before && seen[0].due_ms <= after + PERIOD);
    for (k, s) in seen.iter().enumerate() {
        assert_eq!(
            s.due_ms % PERIOD,
            OFFSET,
            "delivery {k} is on a boundary: {s:?}"
        );
        assert!(s.entered >= s.due_ms, "delivery {k} came early: {s:?}");
        if k > 0 {
            assert_eq!(
                s.due_ms,
                seen[k - 1].due_ms + PERIOD * (u64::from(s.missed) + 1),
                "delivery {k} counts the boundaries it skipped: {seen:?}"
            );
        }
    }
    ev.periodic_stop(p).unwrap();
    assert_eq!(ev.periodic_is_active(p), Ok(false));
    assert_eq!(ev.in_use().timers, 0, "a stopped watcher holds no timer");
    ev.run_once(Some(Duration::from_millis(2 * PERIOD)))
        .unwrap();
    assert_eq!(ev.app().seen.len(), 4, "a stopped watcher is not delivered");
}

#[test]
fn a_loop_busy_past_three_boundaries_skips_them_and_says_two_were_missed() {
    const PERIOD: u64 = 60;
    let mut memory = OwnedStorage::new(Capacities::default());
    let app = App {
        // Past the three boundaries after the first, with half a period to spare.
        block_first_ms: 3 * PERIOD + PERIOD / 2,
        ..App::default()
    };
    let mut ev = EventLoop::new(memory.storage(), Config::default(), app).unwrap();
    let p = ev.periodic_create().unwrap();
    ev.set_handler(p, Trigger::Tick, on_tick).unwrap();
    ev.periodic_start(p, PERIOD, 0).unwrap();
    run_until(&mut ev, "two deliveries", within(), 10_000, |ev| {
        ev.app().seen.len() == 2
    });
    let [first, second] = [ev.app().seen[0], ev.app().seen[1]];
    assert_eq!(first.missed, 0);
    // The loop read the clock for the second delivery between these two readings.
    let boundaries_past = |t: u64| (t - first.due_ms) / PERIOD;
    let (least, most) = (boundaries_past(first.left), boundaries_past(second.entered));
    assert_eq!(
        least, 3,
        "the handler blocked past three boundaries: {first:?}"
    );
    // The latest boundary passed is delivered; the ones before it were missed.
    assert!(
        (least..=most).contains(&u64::from(second.missed + 1)),
        "{first:?} {second:?}"
    );
    if most == least {
        // The loop went on within half a period, as it does unless the machine stalls.
        assert_eq!(second.missed, 2);
        assert_eq!(second.due_ms, first.due_ms + 3 * PERIOD);
    }
    assert_eq!(
        second.due_ms,
        first.due_ms + PERIOD * (u64::from(second.missed) + 1)
    );
}

#[test]
fn deliveries_nobody_took_are_latched_and_count_as_missed() {
    const PERIOD: u64 = 20;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), App::default()).unwrap();
    let p = ev.periodic_create().unwrap();
    // The first boundary, read on both sides of the start (retried if they differ).
    let first = loop {
        let before = wall_ms();
        ev.periodic_start(p, PERIOD, 0).unwrap();
        let after = wall_ms();
        if before / PERIOD == after / PERIOD {
            break (before / PERIOD + 1) * PERIOD;
        }
    };
    assert_eq!(ev.periodic_wait(p), Poll::Pending);
    run_until(&mut ev, "three boundaries", within(), 10_000, |_| {
        wall_ms() >= first + 2 * PERIOD + 5
    });
    // The third boundary's timer expired (the loop's clock runs with the wall clock's, a
    // few milliseconds are to spare): this iteration fires it without waiting.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    let Poll::Ready(Ok(Tick { due_ms, missed })) = ev.periodic_wait(p) else {
        panic!("no delivery latched");
    };
    assert!(due_ms >= first + 2 * PERIOD);
    assert_eq!(
        u64::from(missed),
        (due_ms - first) / PERIOD,
        "every boundary since the first"
    );
    assert_eq!(ev.periodic_wait(p), Poll::Pending, "taken");
    ev.close(p).unwrap();
    assert_eq!(
        ev.in_use().timers,
        0,
        "a closed watcher gives its timer back"
    );
    assert_eq!(ev.periodic_wait(p), Poll::Ready(Err(Error::InvalidHandle)));
}

#[test]
fn schedules_are_checked_and_an_active_watcher_holds_a_timer_slot() {
    let mut memory = OwnedStorage::new(Capacities {
        timers: 1,
        periodics: 2,
        ..Capacities::default()
    });
    let mut ev = EventLoop::new(memory.storage(), Config::default(), App::default()).unwrap();
    let [a, b] = [(); 2].map(|_| ev.periodic_create().unwrap());
    assert_eq!(
        ev.periodic_create(),
        Err(Error::OutOfResources(Capacity::Periodics))
    );
    assert_eq!(ev.periodic_start(a, 0, 0), Err(Error::InvalidArgument));
    assert_eq!(ev.periodic_start(a, 10, 10), Err(Error::InvalidArgument));
    ev.periodic_start(a, 1000, 999).unwrap();
    ev.periodic_start(a, 1000, 0).unwrap(); // re-planned, same timer
    assert_eq!(ev.in_use().timers, 1);
    assert_eq!(
        ev.periodic_start(b, 1000, 0),
        Err(Error::OutOfResources(Capacity::Timers))
    );
    assert_eq!(ev.periodic_is_active(b), Ok(false));
    ev.periodic_stop(a).unwrap();
    ev.periodic_start(b, 1000, 0).unwrap();
    assert_eq!(
        ev.set_handler(a, Trigger::Expired, on_tick),
        Err(Error::InvalidArgument)
    );
    ev.close(a).unwrap();
    assert_eq!(ev.periodic_start(a, 1000, 0), Err(Error::InvalidHandle));
    assert_eq!(ev.periodic_stop(a), Err(Error::InvalidHandle));
}
