//! User event sources and the remote: raises from many threads, latching, id capacity, stale
//! and foreign handles, posted calls and stopping a running loop from another thread.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::ThreadId;
use std::time::Duration;

use common::{run_until, wait_for};
use ptk_runtime::{
    Capacities, Capacity, Config, Cx, Error, Event, EventKind, EventLoop, Handle, OwnedStorage,
    RawHandle, Trigger, UserEvents, USER_EVENT_IDS,
};

const SPARSE_IDS: [u32; 4] = [1, 16, 2049, 70_000];

#[derive(Default)]
struct Trace {
    /// Every user event delivery: (source, id, count).
    deliveries: Vec<(RawHandle, u32, u32)>,
    /// Every posted call: (argument, thread it ran on).
    posts: Vec<(u64, ThreadId)>,
    sentinel_fired: bool,
    entered: Option<Arc<AtomicBool>>,
}

impl Trace {
    fn total(&self, id: u32) -> u64 {
        self.deliveries
            .iter()
            .filter(|d| d.1 == id)
            .map(|d| u64::from(d.2))
            .sum()
    }
}

fn on_user(trace: &mut Trace, _cx: &mut Cx<'_>, ev: Event) {
    let EventKind::User { id, count } = ev.kind else {
        panic!("unexpected event {ev:?}");
    };
    assert!(count >= 1, "a delivery stands for at least one raise");
    trace.deliveries.push((ev.handle, id, count));
}

fn on_post(trace: &mut Trace, _cx: &mut Cx<'_>, arg: u64) {
    trace.posts.push((arg, std::thread::current().id()));
}

fn on_sentinel(trace: &mut Trace, _cx: &mut Cx<'_>, _ev: Event) {
    trace.sentinel_fired = true;
    if let Some(entered) = &trace.entered {
        entered.store(true, Ordering::Release);
    }
}

/// Runs until a fresh `ms` timer fired: a bounded "nothing else arrived meanwhile" wait.
fn run_past_sentinel(ev: &mut EventLoop<'_, Trace>, ms: u64) {
    ev.app_mut().sentinel_fired = false;
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, on_sentinel).unwrap();
    ev.timer_start(t, ms, false).unwrap();
    run_until(
        ev,
        "the sentinel timer",
        Duration::from_secs(5),
        10_000,
        |ev| ev.app().sentinel_fired,
    );
    ev.close(t.raw()).unwrap();
}

fn new_loop(memory: &mut OwnedStorage, config: Config) -> EventLoop<'_, Trace> {
    EventLoop::new(memory.storage(), config, Trace::default()).unwrap()
}

#[test]
fn four_threads_raising_sparse_ids_are_counted_exactly() {
    const THREADS: u32 = 4;
    const PER_THREAD: u32 = 10_000;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, Config::default());
    let source = ev.user_events_create().unwrap();
    for id in SPARSE_IDS {
        ev.set_handler(source, Trigger::User(id), on_user).unwrap();
    }
    let raisers: Vec<_> = (0..THREADS)
        .map(|t| {
            let remote = ev.remote();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let id = SPARSE_IDS[((i + t) % 4) as usize];
                    remote.raise(source, id).unwrap();
                }
            })
        })
        .collect();
    let total = u64::from(THREADS * PER_THREAD);
    run_until(
        &mut ev,
        "40,000 raises",
        Duration::from_secs(20),
        1_000_000,
        |ev| SPARSE_IDS.iter().map(|&id| ev.app().total(id)).sum::<u64>() >= total,
    );
    for r in raisers {
        r.join().unwrap();
    }
    // Nothing more arrives after the last raise was seen.
    run_past_sentinel(&mut ev, 10);
    for id in SPARSE_IDS {
        assert_eq!(ev.app().total(id), total / 4, "raises of id {id}");
    }
    let trace = ev.app();
    assert!(trace.deliveries.iter().all(|d| d.0 == source.raw()));
    assert!(trace.deliveries.len() as u64 <= total);
}

#[test]
fn raise_without_handler_is_latched_until_a_handler_is_set() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, Config::default());
    let source = ev.user_events_create().unwrap();
    let remote = ev.remote();
    for _ in 0..5 {
        remote.raise(source, 2049).unwrap();
    }
    ev.raise(source, 2049).unwrap();
    run_past_sentinel(&mut ev, 10);
    assert_eq!(ev.app().deliveries, []);

    ev.set_handler(source, Trigger::User(2049), on_user)
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(ev.app().deliveries, [(source.raw(), 2049, 6)]);

    // Without a handler, raises latch again and come out when one is set again.
    ev.remove_handler(source, Trigger::User(2049));
    for _ in 0..3 {
        remote.raise(source, 2049).unwrap();
    }
    run_past_sentinel(&mut ev, 10);
    assert_eq!(ev.app().deliveries.len(), 1);
    ev.set_handler(source, Trigger::User(2049), on_user)
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        ev.app().deliveries,
        [(source.raw(), 2049, 6), (source.raw(), 2049, 3)]
    );
}

#[test]
fn a_thirty_third_distinct_id_is_out_of_resources() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, Config::default());
    let source = ev.user_events_create().unwrap();
    let remote = ev.remote();
    let ids: Vec<u32> = (0..USER_EVENT_IDS as u32).map(|i| 1 + i * 4099).collect();
    for &id in &ids {
        remote.raise(source, id).unwrap();
    }
    let extra = 7;
    assert_eq!(
        remote.raise(source, extra),
        Err(Error::OutOfResources(Capacity::UserEventIds))
    );
    assert_eq!(
        ev.raise(source, extra),
        Err(Error::OutOfResources(Capacity::UserEventIds))
    );
    assert_eq!(
        ev.set_handler(source, Trigger::User(extra), on_user),
        Err(Error::OutOfResources(Capacity::UserEventIds))
    );
    // Ids the source already holds still work.
    remote.raise(source, ids[31]).unwrap();
    ev.set_handler(source, Trigger::User(ids[31]), on_user)
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(ev.app().deliveries, [(source.raw(), ids[31], 2)]);
}

#[test]
fn closed_source_rejects_raises_and_handlers() {
    let mut memory = OwnedStorage::new(Capacities {
        user_event_sources: 1,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut memory, Config::default());
    let source = ev.user_events_create().unwrap();
    let remote = ev.remote();
    ev.set_handler(source, Trigger::User(1), on_user).unwrap();
    remote.raise(source, 1).unwrap();
    ev.close(source.raw()).unwrap();
    assert_eq!(remote.raise(source, 1), Err(Error::InvalidHandle));
    assert_eq!(ev.raise(source, 1), Err(Error::InvalidHandle));
    assert_eq!(
        ev.set_handler(source, Trigger::User(1), on_user),
        Err(Error::InvalidHandle)
    );
    assert_eq!(ev.close(source.raw()), Err(Error::InvalidHandle));
    // The raise made before the close is dropped with the source.
    run_past_sentinel(&mut ev, 10);
    assert_eq!(ev.app().deliveries, []);
    // A new source in the same slot does not inherit the old ids or counts.
    let again = ev.user_events_create().unwrap();
    assert_eq!(again.raw().slot(), source.raw().slot());
    assert_eq!(ev.take_event(again, 1), std::task::Poll::Pending);
}

#[test]
fn handles_of_another_loop_are_rejected() {
    let mut memory_a = OwnedStorage::new(Capacities::default());
    let mut memory_b = OwnedStorage::new(Capacities::default());
    let mut a = new_loop(&mut memory_a, Config::default());
    let mut b = new_loop(&mut memory_b, Config::default());
    assert_ne!(a.id(), b.id());
    let source_a = a.user_events_create().unwrap();
    let source_b = b.user_events_create().unwrap();
    // Same slot and generation, different loop id.
    assert_eq!(source_a.raw().slot(), source_b.raw().slot());
    assert_eq!(source_a.raw().generation(), source_b.raw().generation());
    assert_eq!(b.remote().raise(source_a, 1), Err(Error::InvalidHandle));
    assert_eq!(b.raise(source_a, 1), Err(Error::InvalidHandle));
    assert_eq!(
        b.set_handler(source_a, Trigger::User(1), on_user),
        Err(Error::InvalidHandle)
    );
    assert_eq!(b.close(source_a.raw()), Err(Error::InvalidHandle));
    a.remote().raise(source_a, 1).unwrap();
    b.remote().raise(source_b, 1).unwrap();
}

#[test]
fn posted_calls_run_on_the_loop_thread_in_posting_order() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, Config::default());
    let remote = ev.remote();
    std::thread::spawn(move || {
        for arg in 0..40 {
            remote.post(on_post, arg).unwrap();
        }
    })
    .join()
    .unwrap();
    run_until(
        &mut ev,
        "40 posted calls",
        Duration::from_secs(5),
        1_000,
        |ev| ev.app().posts.len() == 40,
    );
    let me = std::thread::current().id();
    let expected: Vec<(u64, ThreadId)> = (0..40).map(|arg| (arg, me)).collect();
    assert_eq!(ev.app().posts, expected);
}

#[test]
fn full_post_queue_is_out_of_resources_until_drained() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let config = Config {
        post_queue: 4,
        ..Config::default()
    };
    let mut ev = new_loop(&mut memory, config);
    let remote = ev.remote();
    for arg in 0..4 {
        remote.post(on_post, arg).unwrap();
    }
    assert_eq!(
        remote.post(on_post, 4),
        Err(Error::OutOfResources(Capacity::PostQueue))
    );
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 4);
    let args: Vec<u64> = ev.app().posts.iter().map(|p| p.0).collect();
    assert_eq!(args, [0, 1, 2, 3]);
    remote.post(on_post, 5).unwrap();
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(ev.app().posts.last().map(|p| p.0), Some(5));
}

#[test]
fn stop_from_another_thread_makes_run_return() {
    let entered = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let (remote_tx, remote_rx) = mpsc::channel();
    let loop_entered = Arc::clone(&entered);
    let runner = std::thread::spawn(move || {
        let mut memory = OwnedStorage::new(Capacities::default());
        let mut ev = new_loop(&mut memory, Config::default());
        ev.app_mut().entered = Some(loop_entered);
        // A timer that fires once `run` is under way; after it the loop has nothing to do and
        // blocks in its poll until the remote wakes it.
        let t = ev.timer_create().unwrap();
        ev.set_handler(t, Trigger::Expired, on_sentinel).unwrap();
        ev.timer_start(t, 5, false).unwrap();
        remote_tx.send(ev.remote()).unwrap();
        let first = ev.run();
        // The stop request was consumed: the loop runs again until the next one.
        let source: Handle<UserEvents> = ev.user_events_create().unwrap();
        ev.set_handler(source, Trigger::User(1), on_user).unwrap();
        done_tx.send((first, Some(source))).unwrap();
        let second = ev.run();
        done_tx.send((second, None)).unwrap();
        ev.app().deliveries.clone()
    });
    let remote = remote_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    wait_for("the loop to run its timer", Duration::from_secs(5), || {
        entered.load(Ordering::Acquire)
    });
    remote.stop();
    let (first, source) = done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(first, Ok(()));
    let source = source.unwrap();
    remote.raise(source, 1).unwrap();
    remote.stop();
    let (second, _) = done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(second, Ok(()));
    let deliveries = runner.join().unwrap();
    assert_eq!(deliveries, [(source.raw(), 1, 1)]);
}
