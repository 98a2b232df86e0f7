//! Signal watchers: signals reach every active watcher on the loop's thread, arrivals latch
//! until someone waits, stopped watchers ignore them, protothreads wait for them, and a loop
//! can stop on them. Signals are process-wide, so the tests of this binary take turns.
#![cfg(unix)]

mod alloc_counter;
mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk_runtime::signals::{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use ptk_runtime::{
    Capacities, Capacity, Config, Cx, Error, Event, EventKind, EventLoop, Handle, Outcome,
    OwnedStorage, Protothread, Pt, PtStatus, RawHandle, Signal, Site, Status, Step, Trigger,
};

/// One test at a time: a raised signal reaches every loop of the process that watches it.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn raise(signo: i32) {
    signal_hook::low_level::raise(signo).unwrap();
}

/// What the handlers saw: (watcher, signal, on the loop's thread).
type Trace = Vec<(RawHandle, i32, bool)>;

struct App {
    loop_thread: std::thread::ThreadId,
    trace: Trace,
}

fn record(app: &mut App, _cx: &mut Cx<'_>, ev: Event) {
    let EventKind::Signal { signo } = ev.kind else {
        panic!("a signal handler got {:?}", ev.kind);
    };
    let here = std::thread::current().id() == app.loop_thread;
    app.trace.push((ev.handle, signo, here));
}

fn new_loop(memory: &mut OwnedStorage) -> EventLoop<'_, App> {
    let app = App {
        loop_thread: std::thread::current().id(),
        trace: Vec::new(),
    };
    EventLoop::new(memory.storage(), Config::default(), app).unwrap()
}

fn within() -> Duration {
    Duration::from_secs(10)
}

#[test]
fn a_signal_reaches_every_active_watcher_of_it_on_the_loop_thread() {
    let _turn = turn();
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    let a = ev.signal_watch(SIGUSR1).unwrap();
    let other = ev.signal_watch(SIGUSR2).unwrap();
    let b = ev.signal_watch(SIGUSR1).unwrap();
    for w in [a, other, b] {
        ev.set_handler(w, Trigger::Signal, record).unwrap();
    }
    // Raised from another thread: the handlers still run on the loop's.
    std::thread::spawn(|| raise(SIGUSR1)).join().unwrap();
    run_until(&mut ev, "both SIGUSR1 watchers", within(), 10_000, |ev| {
        ev.app().trace.len() == 2
    });
    assert_eq!(
        ev.app().trace,
        vec![(a.raw(), SIGUSR1, true), (b.raw(), SIGUSR1, true)]
    );
    // Nothing more comes: the SIGUSR2 watcher saw nothing.
    ev.run_once(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(ev.app().trace.len(), 2);
}

#[test]
fn two_watchers_of_one_signal_both_fire_once_per_raise() {
    let _turn = turn();
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    let a = ev.signal_watch(SIGUSR1).unwrap();
    let b = ev.signal_watch(SIGUSR1).unwrap();
    for w in [a, b] {
        ev.set_handler(w, Trigger::Signal, record).unwrap();
    }
    for raised in 1..=3 {
        // One raise at a time, each seen before the next (arrivals in between would
        // coalesce): each raise is one delivery to each watcher, in watcher order.
        raise(SIGUSR1);
        run_until(&mut ev, "both watchers", within(), 10_000, |ev| {
            ev.app().trace.len() == 2 * raised
        });
        // And no second delivery of the same raise.
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
        assert_eq!(ev.app().trace.len(), 2 * raised);
    }
    let once = [(a.raw(), SIGUSR1, true), (b.raw(), SIGUSR1, true)];
    assert_eq!(ev.app().trace, [once, once, once].concat());

    // Closed, a watcher gets nothing more; the other goes on.
    ev.close(a).unwrap();
    assert_eq!(ev.signal_is_active(a), Err(Error::InvalidHandle));
    raise(SIGUSR1);
    run_until(&mut ev, "the remaining watcher", within(), 10_000, |ev| {
        ev.app().trace.len() == 7
    });
    ev.run_once(Some(Duration::from_millis(10))).unwrap();
    assert_eq!(ev.app().trace[6..], [(b.raw(), SIGUSR1, true)]);
}

#[test]
fn an_arrival_is_latched_until_a_handler_is_set_and_a_stopped_watcher_ignores_arrivals() {
    let _turn = turn();
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    let latched = ev.signal_watch(SIGUSR2).unwrap();
    let stopped = ev.signal_watch(SIGUSR2).unwrap();
    // A watcher with a handler shows when the arrival has been read off the pipe.
    let probe = ev.signal_watch(SIGUSR2).unwrap();
    ev.set_handler(stopped, Trigger::Signal, record).unwrap();
    ev.set_handler(probe, Trigger::Signal, record).unwrap();
    ev.signal_stop(stopped).unwrap();
    assert_eq!(ev.signal_is_active(stopped), Ok(false));
    assert_eq!(ev.signal_is_active(latched), Ok(true));
    raise(SIGUSR2);
    run_until(&mut ev, "the probe", within(), 10_000, |ev| {
        !ev.app().trace.is_empty()
    });
    assert_eq!(ev.app().trace, vec![(probe.raw(), SIGUSR2, true)]);
    // The watcher with no waiter kept it; a handler set now gets it on the next iteration.
    ev.set_handler(latched, Trigger::Signal, record).unwrap();
    run_until(&mut ev, "the latched arrival", within(), 10_000, |ev| {
        ev.app().trace.len() == 2
    });
    assert_eq!(ev.app().trace[1], (latched.raw(), SIGUSR2, true));

    // Started again, the stopped watcher gets the next arrival, as do the other two.
    ev.signal_start(stopped).unwrap();
    raise(SIGUSR2);
    run_until(&mut ev, "three deliveries", within(), 10_000, |ev| {
        ev.app().trace.len() == 5
    });
    assert_eq!(
        ev.app().trace[2..],
        [
            (latched.raw(), SIGUSR2, true),
            (stopped.raw(), SIGUSR2, true),
            (probe.raw(), SIGUSR2, true)
        ]
    );
    ev.run_once(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(ev.app().trace.len(), 5);
}

#[test]
fn watchers_are_resources_with_capacities_stale_handles_and_argument_checks() {
    let _turn = turn();
    let mut memory = OwnedStorage::new(Capacities {
        signals: 2,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut memory);
    let a = ev.signal_watch(SIGUSR1).unwrap();
    let _b = ev.signal_watch(SIGUSR1).unwrap();
    assert_eq!(
        ev.signal_watch(SIGUSR2),
        Err(Error::OutOfResources(Capacity::Signals))
    );
    assert_eq!(ev.in_use().signals, 2);
    ev.close(a).unwrap();
    assert_eq!(ev.close(a), Err(Error::InvalidHandle));
    assert_eq!(ev.signal_stop(a), Err(Error::InvalidHandle));
    assert_eq!(ev.signal_is_active(a), Err(Error::InvalidHandle));
    assert_eq!(
        ev.set_handler(a, Trigger::Signal, record),
        Err(Error::InvalidHandle)
    );
    // SIGKILL cannot be caught; 0 and huge numbers are no signals.
    for bad in [signal_hook::consts::SIGKILL, 0, -1, 1000] {
        assert_eq!(ev.signal_watch(bad), Err(Error::InvalidArgument), "{bad}");
    }
    let c = ev.signal_watch(SIGUSR2).unwrap();
    assert_eq!(
        ev.set_handler(c, Trigger::Readable, record),
        Err(Error::InvalidArgument)
    );

    // A loop without watcher slots has no signals at all.
    let mut none = OwnedStorage::new(Capacities {
        signals: 0,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut none);
    assert_eq!(
        ev.signal_watch(SIGUSR1),
        Err(Error::OutOfResources(Capacity::Signals))
    );
    // Nor does a context without a loop.
    assert_eq!(
        Cx::detached().signal_watch(SIGUSR1),
        Err(Error::NotSupported)
    );
}

static WAIT_SITES: [Site; 1] = [Site {
    file: file!(),
    line: 1,
    column: 1,
    text: "pt_await!(cx.signal_wait(self.watcher))",
}];

/// Waits for the watcher's signal `times` times (recording each in `got`), then finishes.
#[derive(Default)]
struct Waiter {
    pt: Pt,
    watcher: Option<Handle<Signal>>,
    times: usize,
    got: Rc<RefCell<Vec<i32>>>,
}

impl Protothread for Waiter {
    type Output = Result<(), Error>;
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<Self::Output> {
        let Some(w) = self.watcher else {
            return Step::Done(Err(Error::InvalidArgument));
        };
        while self.got.borrow().len() < self.times {
            match cx.signal_wait(w) {
                Poll::Pending => {
                    self.pt.suspend_at(1);
                    return Step::Pending;
                }
                Poll::Ready(Ok(signo)) => self.got.borrow_mut().push(signo),
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

#[test]
fn a_protothread_waits_for_a_signal_and_is_woken_by_the_close_of_its_watcher() {
    let _turn = turn();
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut waiters: Vec<Waiter> = (0..2).map(|_| Waiter::default()).collect();
    let mut ev = new_loop(&mut memory);
    let pool = ev.add_protothreads(&mut waiters).unwrap();
    let w = ev.signal_watch(SIGUSR1).unwrap();
    let got = Rc::new(RefCell::new(Vec::new()));
    let pt = ev
        .spawn(
            pool,
            Waiter {
                watcher: Some(w),
                times: 2,
                got: Rc::clone(&got),
                ..Waiter::default()
            },
        )
        .unwrap();
    run_until(&mut ev, "the wait", within(), 10_000, |ev| {
        matches!(ev.pt_status(pt), Ok(PtStatus::Waiting { on: Some(_), .. }))
    });
    assert_eq!(
        ev.pt_status(pt),
        Ok(PtStatus::Waiting {
            on: Some((w.raw(), Trigger::Signal)),
            until_ms: None,
            site: Some(&WAIT_SITES[0]),
        })
    );
    for n in 1..=2 {
        // One arrival at a time: arrivals between two takes would coalesce.
        raise(SIGUSR1);
        run_until(
            &mut ev,
            "the protothread to take it",
            within(),
            10_000,
            |_| got.borrow().len() == n,
        );
    }
    assert_eq!(*got.borrow(), [SIGUSR1, SIGUSR1]);
    run_until(&mut ev, "the end", within(), 10_000, |ev| {
        matches!(ev.pt_status(pt), Ok(PtStatus::Ended(_)))
    });
    assert_eq!(ev.pt_status(pt), Ok(PtStatus::Ended(Outcome::Finished)));

    // Closing a watcher wakes its waiter, which then sees the handle gone.
    let w2 = ev.signal_watch(SIGUSR2).unwrap();
    let pt2 = ev
        .spawn(
            pool,
            Waiter {
                watcher: Some(w2),
                times: 1,
                ..Waiter::default()
            },
        )
        .unwrap();
    run_until(&mut ev, "the second wait", within(), 10_000, |ev| {
        matches!(ev.pt_status(pt2), Ok(PtStatus::Waiting { on: Some(_), .. }))
    });
    ev.close(w2).unwrap();
    run_until(&mut ev, "the woken waiter", within(), 10_000, |ev| {
        matches!(ev.pt_status(pt2), Ok(PtStatus::Ended(_)))
    });
    assert_eq!(
        ev.pt_status(pt2),
        Ok(PtStatus::Ended(Outcome::Failed(Error::InvalidHandle)))
    );
}

#[test]
fn stop_on_signals_makes_run_return_and_delivery_allocates_nothing() {
    let _turn = turn();
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory);
    let watchers = ev.stop_on_signals(&[SIGINT, SIGTERM]).unwrap();
    assert_eq!(watchers.len(), 2);
    for signo in [SIGTERM, SIGINT] {
        let raiser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            raise(signo);
        });
        alloc_counter::count_this_thread(true);
        let before = alloc_counter::allocations();
        ev.run().unwrap();
        let after = alloc_counter::allocations();
        alloc_counter::count_this_thread(false);
        raiser.join().unwrap();
        assert_eq!(
            after - before,
            0,
            "allocations while delivering signal {signo}"
        );
    }
}
