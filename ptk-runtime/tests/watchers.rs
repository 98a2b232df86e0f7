//! Defer and idle watchers, and `run_until_idle`: exact traces of what runs in which
//! iteration.

mod alloc_counter;
mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use ptk_runtime::{
    Capacities, Capacity, Config, Cx, Defer, Error, Event, EventKind, EventLoop, Handle, Idle,
    ListenOptions, OwnedStorage, Protothread, Pt, RawHandle, Site, Status, Step, Trigger,
};

/// What ran, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ran {
    Defer(RawHandle),
    Idle(RawHandle),
    Timer,
}

#[derive(Default)]
struct App {
    trace: Vec<Ran>,
    /// A defer watcher the handler of `starter` starts.
    chained: Option<(RawHandle, Handle<Defer>)>,
    /// A defer watcher that starts itself again until it ran this many times.
    again: Option<(Handle<Defer>, usize)>,
}

fn on_defer(app: &mut App, cx: &mut Cx<'_>, ev: Event) {
    assert_eq!(ev.kind, EventKind::Deferred);
    app.trace.push(Ran::Defer(ev.handle));
    if let Some((starter, next)) = app.chained {
        if starter == ev.handle {
            cx.defer_start(next).unwrap();
        }
    }
    if let Some((d, times)) = app.again {
        let ran = app
            .trace
            .iter()
            .filter(|r| **r == Ran::Defer(d.raw()))
            .count();
        if d.raw() == ev.handle && ran < times {
            cx.defer_start(d).unwrap();
        }
    }
}

fn on_idle(app: &mut App, _cx: &mut Cx<'_>, ev: Event) {
    assert_eq!(ev.kind, EventKind::Idle);
    app.trace.push(Ran::Idle(ev.handle));
}

fn on_timer(app: &mut App, _cx: &mut Cx<'_>, _ev: Event) {
    app.trace.push(Ran::Timer);
}

fn new_loop(memory: &mut OwnedStorage) -> EventLoop<'_, App> {
    EventLoop::new(memory.storage(), Config::default(), App::default()).unwrap()
}

/// A short wait for iterations that should find nothing to do.
const QUIET: Option<Duration> = Some(Duration::from_millis(10));

#[test]
fn defer_watchers_run_first_in_the_next_iteration_in_start_order_and_stop() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    let [a, b, c, d] = [(); 4].map(|_| ev.defer_create().unwrap());
    for w in [a, b, c, d] {
        ev.set_handler(w, Trigger::Deferred, on_defer).unwrap();
        assert_eq!(ev.defer_is_active(w), Ok(false));
    }
    let timer = ev.timer_create().unwrap();
    ev.set_handler(timer, Trigger::Expired, on_timer).unwrap();
    ev.timer_start(timer, 1, false).unwrap();
    // Let its deadline pass, so that it is due in the same iteration as the defer watchers.
    std::thread::sleep(Duration::from_millis(3));
    // `a` starts `d` when it runs: `d` waits for the iteration after.
    ev.app_mut().chained = Some((a.raw(), d));
    for w in [c, a, b] {
        ev.defer_start(w).unwrap();
    }
    ev.defer_start(c).unwrap(); // queued already: stays first
    ev.defer_stop(b).unwrap();
    assert_eq!(ev.defer_is_active(b), Ok(false));
    assert_eq!(ev.defer_is_active(c), Ok(true));

    // Before the timers, and without waiting in the poll (the wait would be 5 s).
    assert_eq!(ev.run_once(Some(Duration::from_secs(5))), Ok(3));
    assert_eq!(
        ev.app().trace,
        [Ran::Defer(c.raw()), Ran::Defer(a.raw()), Ran::Timer]
    );
    for w in [a, c] {
        assert_eq!(
            ev.defer_is_active(w),
            Ok(false),
            "a watcher stops as it runs"
        );
    }
    assert_eq!(ev.defer_is_active(d), Ok(true));
    assert_eq!(ev.run_once(Some(Duration::from_secs(5))), Ok(1));
    assert_eq!(ev.app().trace[3..], [Ran::Defer(d.raw())]);
    assert_eq!(ev.run_once(QUIET), Ok(0));
    assert_eq!(ev.app().trace.len(), 4);

    // Closing a queued watcher takes it off the queue.
    ev.defer_start(a).unwrap();
    ev.defer_start(c).unwrap();
    ev.close(a).unwrap();
    assert_eq!(ev.defer_is_active(a), Err(Error::InvalidHandle));
    assert_eq!(ev.defer_start(a), Err(Error::InvalidHandle));
    assert_eq!(ev.run_once(QUIET), Ok(1));
    assert_eq!(ev.app().trace[4..], [Ran::Defer(c.raw())]);
}

#[test]
fn defer_watchers_have_a_capacity_and_need_a_loop() {
    let mut memory = OwnedStorage::new(Capacities {
        defers: 2,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut memory);
    let kept = [ev.defer_create().unwrap(), ev.defer_create().unwrap()];
    assert_eq!(
        ev.defer_create(),
        Err(Error::OutOfResources(Capacity::Defers))
    );
    ev.close(kept[0]).unwrap();
    assert!(ev.defer_create().is_ok());
    assert_eq!(
        ev.set_handler(kept[1], Trigger::Idle, on_idle),
        Err(Error::InvalidArgument)
    );
    let mut detached = Cx::detached();
    assert_eq!(detached.defer_create(), Err(Error::NotSupported));
    assert_eq!(detached.idle_create(), Err(Error::NotSupported));
    assert_eq!(detached.periodic_create(), Err(Error::NotSupported));
}

/// Waits on a defer or idle watcher `times` times, recording each wake-up with its
/// iteration count.
struct Waiter {
    pt: Pt,
    on: Option<On>,
    times: usize,
    got: Rc<RefCell<Vec<u32>>>,
    iteration: Rc<RefCell<u32>>,
}

#[derive(Clone, Copy)]
enum On {
    Defer(Handle<Defer>),
    Idle(Handle<Idle>),
}

static WAIT_SITES: [Site; 1] = [Site {
    file: file!(),
    line: 1,
    column: 1,
    text: "wait",
}];

impl Protothread for Waiter {
    type Output = Result<(), Error>;
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<Self::Output> {
        while self.got.borrow().len() < self.times {
            let r = match self.on {
                Some(On::Defer(d)) => cx.defer_wait(d),
                Some(On::Idle(i)) => cx.idle_wait(i),
                None => Poll::Ready(Err(Error::InvalidArgument)),
            };
            match r {
                Poll::Pending => {
                    self.pt.suspend_at(1);
                    return Step::Pending;
                }
                Poll::Ready(Ok(())) => {
                    let now = *self.iteration.borrow();
                    self.got.borrow_mut().push(now);
                }
                Poll::Ready(Err(e)) => {
                    self.pt.finish(Status::Done);
                    return Step::Done(Err(e));
                }
            }
        }
        self.pt.finish(Status::Done);
        Step::Done(Ok(()))
    }
    fn pt(&self) -> &Pt {
        &self.pt
    }
    fn pt_mut(&mut self) -> &mut Pt {
        &mut self.pt
    }
    fn sites(&self) -> &'static [Site] {
        &WAIT_SITES
    }
}

fn waiter(on: On, times: usize, got: &Rc<RefCell<Vec<u32>>>, it: &Rc<RefCell<u32>>) -> Waiter {
    Waiter {
        pt: Pt::new(),
        on: Some(on),
        times,
        got: Rc::clone(got),
        iteration: Rc::clone(it),
    }
}

/// Runs `n` iterations numbered from `first`, each waiting at most `QUIET`; returns the
/// calls each made.
fn iterations(ev: &mut EventLoop<'_, App>, it: &Rc<RefCell<u32>>, n: u32) -> Vec<usize> {
    (0..n)
        .map(|_| {
            *it.borrow_mut() += 1;
            ev.run_once(QUIET).unwrap()
        })
        .collect()
}

#[test]
fn a_protothread_waiting_on_a_defer_watcher_resumes_once_per_iteration() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut pts: Vec<Waiter> = Vec::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let it = Rc::new(RefCell::new(0));
    let mut ev = new_loop(&mut memory);
    let d = ev.defer_create().unwrap();
    pts.push(waiter(On::Defer(d), 3, &got, &it));
    let pool = ev.add_protothreads(&mut pts[..]).unwrap();
    let _pt = ev.cx().spawn_with(pool, |_| {}).unwrap();
    // 1: the protothread starts the watcher and waits; 2, 3, 4: the watcher runs first and
    // the protothread, woken, takes it and waits again; 5: nothing.
    let calls = iterations(&mut ev, &it, 5);
    assert_eq!(*got.borrow(), [2, 3, 4]);
    assert_eq!(calls, [1, 1, 1, 1, 0]);
    assert_eq!(ev.defer_is_active(d), Ok(false));
}

#[test]
fn idle_watchers_run_once_when_the_loop_runs_out_of_work_and_never_while_busy() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    let i = ev.idle_create().unwrap();
    ev.set_handler(i, Trigger::Idle, on_idle).unwrap();
    assert_eq!(ev.idle_is_active(i), Ok(false));
    // Busy for three iterations: a defer watcher that starts itself again twice.
    let d = ev.defer_create().unwrap();
    ev.set_handler(d, Trigger::Deferred, on_defer).unwrap();
    ev.app_mut().again = Some((d, 3));
    ev.defer_start(d).unwrap();
    ev.idle_start(i).unwrap();
    assert_eq!(ev.idle_is_active(i), Ok(true));
    let it = Rc::new(RefCell::new(0));
    // 1-3: the defer watcher; 4: out of work: idle; 5, 6: still nothing happened since.
    let calls = iterations(&mut ev, &it, 6);
    let (idle, defer) = (Ran::Idle(i.raw()), Ran::Defer(d.raw()));
    assert_eq!(ev.app().trace, [defer, defer, defer, idle]);
    assert_eq!(calls, [1, 1, 1, 1, 0, 0]);

    // A timer fires: something happened, so the next time the loop runs out of work the
    // idle watcher runs again, once.
    let timer = ev.timer_create().unwrap();
    ev.set_handler(timer, Trigger::Expired, on_timer).unwrap();
    ev.timer_start(timer, 1, false).unwrap();
    std::thread::sleep(Duration::from_millis(3)); // its deadline passed: due in the next poll
    let calls = iterations(&mut ev, &it, 3);
    assert_eq!(ev.app().trace[4..], [Ran::Timer, idle]);
    assert_eq!(calls, [1, 1, 0]);

    // Stopped, it does not run.
    ev.idle_stop(i).unwrap();
    ev.timer_start(timer, 1, false).unwrap();
    std::thread::sleep(Duration::from_millis(3));
    let calls = iterations(&mut ev, &it, 3);
    assert_eq!(ev.app().trace[6..], [Ran::Timer]);
    assert_eq!(calls, [1, 0, 0]);
    // Started again, it runs the next time the loop runs out of work.
    ev.idle_start(i).unwrap();
    let calls = iterations(&mut ev, &it, 2);
    assert_eq!(ev.app().trace[7..], [idle]);
    assert_eq!(calls, [1, 0]);
}

#[test]
fn a_protothread_waiting_for_idle_runs_once_per_idle_period_without_spinning() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut pts: Vec<Waiter> = Vec::new();
    let got = Rc::new(RefCell::new(Vec::new()));
    let it = Rc::new(RefCell::new(0));
    let mut ev = new_loop(&mut memory);
    let i = ev.idle_create().unwrap();
    ev.idle_start(i).unwrap();
    pts.push(waiter(On::Idle(i), 10, &got, &it));
    let pool = ev.add_protothreads(&mut pts[..]).unwrap();
    let _pt = ev.cx().spawn_with(pool, |_| {}).unwrap();
    let events = ev.user_events_create().unwrap();
    // 1: the protothread starts and waits (the loop is busy); 2: out of work: idle wakes
    // it, it takes the run and waits again; 3-5: nothing happened since.
    let calls = iterations(&mut ev, &it, 5);
    assert_eq!(*got.borrow(), [2]);
    assert_eq!(calls, [1, 1, 0, 0, 0]);
    // A raise (remote work, here from the loop's own thread) is something happening: 6
    // delivers it (nobody waits: latched), 7 is idle again.
    ev.raise(events, 1).unwrap();
    let calls = iterations(&mut ev, &it, 3);
    assert_eq!(*got.borrow(), [2, 7]);
    assert_eq!(calls, [0, 1, 0]);
}

#[test]
fn run_until_idle_returns_when_nothing_is_alive() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    assert!(!ev.is_alive());
    ev.run_until_idle().unwrap(); // at once

    // A one-shot timer and a defer watcher: alive until both ran.
    let timer = ev.timer_create().unwrap();
    ev.set_handler(timer, Trigger::Expired, on_timer).unwrap();
    ev.timer_start(timer, 5, false).unwrap();
    let d = ev.defer_create().unwrap();
    ev.set_handler(d, Trigger::Deferred, on_defer).unwrap();
    ev.defer_start(d).unwrap();
    assert!(ev.is_alive());
    ev.run_until_idle().unwrap();
    assert_eq!(ev.app().trace, [Ran::Defer(d.raw()), Ran::Timer]);
    assert!(!ev.is_alive());

    // Watchers that wait for the outside world keep it alive while active.
    let i = ev.idle_create().unwrap();
    assert!(!ev.is_alive(), "a stopped idle watcher is not alive");
    ev.idle_start(i).unwrap();
    assert!(ev.is_alive());
    ev.idle_stop(i).unwrap();
    let listener = ev
        .tcp_listen(
            (std::net::Ipv4Addr::LOCALHOST, 0).into(),
            &ListenOptions::default(),
        )
        .unwrap();
    assert!(!ev.is_alive(), "a listener nobody accepts on is not alive");
    ev.set_handler(listener, Trigger::Readable, on_timer)
        .unwrap();
    assert!(ev.is_alive());
    ev.close(listener).unwrap();
    #[cfg(unix)]
    {
        let w = ev.signal_watch(ptk_runtime::signals::SIGWINCH).unwrap();
        assert!(ev.is_alive());
        ev.signal_stop(w).unwrap();
        assert!(!ev.is_alive());
    }
    let events = ev.user_events_create().unwrap();
    ev.set_handler(events, Trigger::User(1), on_timer).unwrap();
    assert!(ev.is_alive());
    ev.remove_handler(events, Trigger::User(1));
    assert!(!ev.is_alive());
    ev.run_until_idle().unwrap();
}

/// Sleeps once for 5 ms, then ends.
#[derive(Default)]
struct Sleeper {
    pt: Pt,
    until: u64,
}

impl Protothread for Sleeper {
    type Output = ();
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<()> {
        if self.until == 0 {
            self.until = cx.after_ms(5);
        }
        match cx.sleep_until(self.until) {
            Poll::Pending => {
                self.pt.suspend_at(1);
                Step::Pending
            }
            Poll::Ready(_) => {
                self.pt.finish(Status::Done);
                Step::Done(())
            }
        }
    }
    fn pt(&self) -> &Pt {
        &self.pt
    }
    fn pt_mut(&mut self) -> &mut Pt {
        &mut self.pt
    }
    fn sites(&self) -> &'static [Site] {
        &WAIT_SITES
    }
}

#[test]
fn run_until_idle_waits_for_live_protothreads_and_stops_on_request() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut pts = [Sleeper::default(), Sleeper::default()];
    let mut ev = new_loop(&mut memory);
    let pool = ev.add_protothreads(&mut pts).unwrap();
    let pt = ev.spawn(pool, Sleeper::default()).unwrap();
    assert!(ev.is_alive());
    ev.run_until_idle().unwrap();
    assert!(matches!(
        ev.pt_status(pt),
        Ok(ptk_runtime::PtStatus::Ended(_))
    ));
    assert!(!ev.is_alive());

    // A stop makes it return with work left, like `run` (a stop from an idle handler does
    // not wait for another event first).
    let i = ev.idle_create().unwrap();
    ev.idle_start(i).unwrap();
    fn stop(_: &mut App, cx: &mut Cx<'_>, _: Event) {
        cx.stop();
    }
    ev.set_handler(i, Trigger::Idle, stop).unwrap();
    ev.run_until_idle().unwrap();
    assert!(ev.is_alive());
}

fn on_tick(app: &mut App, _cx: &mut Cx<'_>, ev: Event) {
    assert!(matches!(ev.kind, EventKind::Tick { .. }));
    app.trace.push(Ran::Timer);
}

#[test]
fn watchers_allocate_nothing_once_the_loop_is_made() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    ev.app_mut().trace.reserve(1000);
    let d = ev.defer_create().unwrap();
    let i = ev.idle_create().unwrap();
    let p = ev.periodic_create().unwrap();
    ev.set_handler(d, Trigger::Deferred, on_defer).unwrap();
    ev.set_handler(i, Trigger::Idle, on_idle).unwrap();
    ev.set_handler(p, Trigger::Tick, on_tick).unwrap();
    ev.app_mut().again = Some((d, 20));
    alloc_counter::count_this_thread(true);
    let before = alloc_counter::allocations();
    ev.defer_start(d).unwrap();
    ev.idle_start(i).unwrap();
    ev.periodic_start(p, 5, 0).unwrap();
    common::run_until(
        &mut ev,
        "five ticks",
        Duration::from_secs(10),
        10_000,
        |ev| ev.app().trace.iter().filter(|r| **r == Ran::Timer).count() >= 5,
    );
    ev.close(p).unwrap();
    ev.idle_stop(i).unwrap();
    ev.run_until_idle().unwrap();
    let after = alloc_counter::allocations();
    alloc_counter::count_this_thread(false);
    assert_eq!(after - before, 0);
    let trace = &ev.app().trace;
    assert_eq!(
        trace.iter().filter(|r| **r == Ran::Defer(d.raw())).count(),
        20
    );
    assert!(trace.contains(&Ran::Idle(i.raw())));
}
