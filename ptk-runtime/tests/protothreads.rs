//! Protothreads driven by the loop, written by hand against the `Protothread` trait (the
//! macro's own tests live in the facade).

use std::task::Poll;
use std::time::{Duration, Instant};

use ptk_runtime::{
    Capacities, Capacity, Config, Cx, Error, EventLoop, Handle, Outcome, OwnedStorage, Protothread,
    Pt, PtPool, PtStatus, Site, Status, Step, UserEvents,
};

/// Runs the loop until `done` or the time and iteration limits, whichever comes first.
fn run_until<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    mut done: impl FnMut(&EventLoop<'_, A>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..100_000 {
        if done(ev) {
            return;
        }
        assert!(Instant::now() < deadline, "condition not reached in 10 s");
        ev.run_once(Some(Duration::from_millis(20))).unwrap();
    }
    panic!("condition not reached in 100,000 iterations");
}

static SLEEP_SITES: [Site; 1] = [Site {
    file: file!(),
    line: 1,
    column: 1,
    text: "pt_await!(cx.sleep_until(self.at))",
}];

/// Sleeps until `at`, then finishes.
#[derive(Default)]
struct Sleeper {
    pt: Pt,
    at: u64,
    ms: u64,
    woke_at: u64,
}

impl Protothread for Sleeper {
    type Output = ();
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<()> {
        if self.pt.resume_point() == 0 {
            self.at = cx.after_ms(self.ms);
        }
        match cx.sleep_until(self.at) {
            Poll::Pending => {
                self.pt.suspend_at(1);
                Step::Pending
            }
            Poll::Ready(_) => {
                self.woke_at = cx.now_ms();
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
        &SLEEP_SITES
    }
}

#[test]
fn a_sleeping_protothread_waits_reports_its_site_and_ends() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut sleepers: Vec<Sleeper> = (0..2).map(|_| Sleeper::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut sleepers).unwrap();
    let h = ev
        .spawn(
            pool,
            Sleeper {
                ms: 30,
                ..Sleeper::default()
            },
        )
        .unwrap();
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Runnable));
    ev.run_once(Some(Duration::ZERO)).unwrap();
    match ev.pt_status(h).unwrap() {
        PtStatus::Waiting {
            on: None,
            until_ms: Some(at),
            site: Some(site),
        } => {
            assert!(at >= 30);
            assert_eq!(site.text, "pt_await!(cx.sleep_until(self.at))");
        }
        other => panic!("unexpected status {other:?}"),
    }
    assert_eq!(ev.pool_usage(pool), (1, 2));
    run_until(&mut ev, |ev| {
        ev.pt_status(h) == Ok(PtStatus::Ended(Outcome::Finished))
    });
    assert_eq!(ev.pool_usage(pool), (0, 2));
    // The sleep used a timer slot; it is free again.
    assert_eq!(ev.in_use().timers, 0);
}

#[test]
fn spawning_beyond_a_pool_is_out_of_resources_and_slots_are_reused_after_the_end() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut sleepers: Vec<Sleeper> = (0..2).map(|_| Sleeper::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut sleepers).unwrap();
    let a = ev
        .spawn(
            pool,
            Sleeper {
                ms: 1,
                ..Sleeper::default()
            },
        )
        .unwrap();
    let b = ev
        .spawn(
            pool,
            Sleeper {
                ms: 1,
                ..Sleeper::default()
            },
        )
        .unwrap();
    assert_eq!(
        ev.spawn(pool, Sleeper::default()).err(),
        Some(Error::OutOfResources(Capacity::Protothreads))
    );
    run_until(&mut ev, |ev| ev.protothreads_running() == 0);
    let c = ev
        .spawn(
            pool,
            Sleeper {
                ms: 1,
                ..Sleeper::default()
            },
        )
        .unwrap();
    // Oldest free slot first: `a`'s slot, with a new generation.
    assert_eq!(c.raw().slot(), a.raw().slot());
    assert_ne!(c, a);
    assert_eq!(ev.pt_status(b), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.pt_status(a), Err(Error::InvalidHandle));
}

#[test]
fn killing_a_waiting_protothread_frees_its_slot_and_timer() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut sleepers: Vec<Sleeper> = (0..1).map(|_| Sleeper::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut sleepers).unwrap();
    let h = ev
        .spawn(
            pool,
            Sleeper {
                ms: 60_000,
                ..Sleeper::default()
            },
        )
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(ev.in_use().timers, 1);
    ev.kill(h).unwrap();
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Killed)));
    assert_eq!(ev.in_use().timers, 0);
    assert_eq!(ev.kill(h), Err(Error::InvalidHandle));
    assert!(ev
        .spawn(
            pool,
            Sleeper {
                ms: 1,
                ..Sleeper::default()
            }
        )
        .is_ok());
}

/// Raises and takes its own event forever: always ready, never waits.
struct Spinner {
    pt: Pt,
    source: Option<Handle<UserEvents>>,
    spins: u64,
}

impl Protothread for Spinner {
    type Output = Result<(), Error>;
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<Result<(), Error>> {
        let Some(source) = self.source else {
            return Step::Done(Err(Error::InvalidArgument));
        };
        loop {
            if let Err(e) = cx.raise(source, 7) {
                return Step::Done(Err(e));
            }
            match cx.take_event(source, 7) {
                Poll::Ready(Ok(_)) => self.spins += 1,
                Poll::Ready(Err(e)) => return Step::Done(Err(e)),
                Poll::Pending => return Step::Pending,
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
        &[]
    }
}

#[test]
fn a_protothread_that_always_finds_work_does_not_starve_a_sleeper() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut spinners: Vec<Spinner> = (0..1)
        .map(|_| Spinner {
            pt: Pt::new(),
            source: None,
            spins: 0,
        })
        .collect();
    let mut sleepers: Vec<Sleeper> = (0..1).map(|_| Sleeper::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let spin_pool: PtPool<Spinner> = ev.add_protothreads(&mut spinners).unwrap();
    let sleep_pool = ev.add_protothreads(&mut sleepers).unwrap();
    let source = ev.user_events_create().unwrap();
    let spinner = ev
        .spawn(
            spin_pool,
            Spinner {
                pt: Pt::new(),
                source: Some(source),
                spins: 0,
            },
        )
        .unwrap();
    let sleeper = ev
        .spawn(
            sleep_pool,
            Sleeper {
                ms: 20,
                ..Sleeper::default()
            },
        )
        .unwrap();
    run_until(&mut ev, |ev| {
        ev.pt_status(sleeper) == Ok(PtStatus::Ended(Outcome::Finished))
    });
    // The spinner is still going, and was made to give way (it never waits on its own).
    assert_eq!(ev.pt_status(spinner), Ok(PtStatus::Runnable));
    ev.kill(spinner).unwrap();
}

#[test]
fn resuming_a_protothread_in_a_cx_without_a_loop_is_not_supported() {
    let mut s = Sleeper {
        ms: 5,
        ..Sleeper::default()
    };
    let mut cx = Cx::detached();
    // Detached: no clock, no timers; the sleep reports NotSupported and the thread ends.
    assert_eq!(s.resume(&mut cx), Step::Done(()));
}

/// Takes `want` units of a semaphore, one wait at a time.
#[derive(Default)]
struct SemWaiter {
    pt: Pt,
    sem: Option<Handle<ptk_runtime::Semaphore>>,
    got: u32,
    want: u32,
}

impl Protothread for SemWaiter {
    type Output = Result<(), Error>;
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<Result<(), Error>> {
        let Some(sem) = self.sem else {
            return Step::Done(Err(Error::InvalidArgument));
        };
        while self.got < self.want {
            match cx.sem_wait(sem) {
                Poll::Ready(Ok(())) => self.got += 1,
                Poll::Ready(Err(e)) => return Step::Done(Err(e)),
                Poll::Pending => {
                    self.pt.suspend_at(1);
                    return Step::Pending;
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
        &[]
    }
}

#[test]
fn semaphore_units_signalled_from_another_thread_reach_waiters_first_come_first_served() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut waiters: Vec<SemWaiter> = (0..2).map(|_| SemWaiter::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut waiters).unwrap();
    let sem = ev.sem_create(0).unwrap();
    let first = ev
        .spawn(
            pool,
            SemWaiter {
                sem: Some(sem),
                want: 2,
                ..SemWaiter::default()
            },
        )
        .unwrap();
    let second = ev
        .spawn(
            pool,
            SemWaiter {
                sem: Some(sem),
                want: 1,
                ..SemWaiter::default()
            },
        )
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert!(matches!(ev.pt_status(first), Ok(PtStatus::Waiting { .. })));

    let remote = ev.remote();
    std::thread::spawn(move || remote.signal(sem).unwrap())
        .join()
        .unwrap();
    run_until(&mut ev, |ev| {
        ev.sem_count(sem) == Ok(0) && ev.pt_status(first) != Ok(PtStatus::Runnable)
    });
    // The one unit went to the first waiter, which still wants another.
    assert!(matches!(ev.pt_status(first), Ok(PtStatus::Waiting { .. })));
    assert!(matches!(ev.pt_status(second), Ok(PtStatus::Waiting { .. })));

    ev.sem_signal(sem).unwrap();
    ev.sem_signal(sem).unwrap();
    ev.sem_signal(sem).unwrap();
    run_until(&mut ev, |ev| ev.protothreads_running() == 0);
    assert_eq!(ev.pt_status(first), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.pt_status(second), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.sem_count(sem), Ok(1));
}

#[test]
fn closing_a_semaphore_wakes_its_waiters_with_an_invalid_handle() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut waiters: Vec<SemWaiter> = (0..1).map(|_| SemWaiter::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut waiters).unwrap();
    let sem = ev.sem_create(0).unwrap();
    let h = ev
        .spawn(
            pool,
            SemWaiter {
                sem: Some(sem),
                want: 1,
                ..SemWaiter::default()
            },
        )
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    ev.close(sem.raw()).unwrap();
    run_until(&mut ev, |ev| ev.protothreads_running() == 0);
    assert_eq!(
        ev.pt_status(h),
        Ok(PtStatus::Ended(Outcome::Failed(Error::InvalidHandle)))
    );
    assert_eq!(ev.remote().signal(sem), Err(Error::InvalidHandle));
}

/// Waits for one semaphore unit, or for a UDP datagram, under a deadline; records what happened.
#[derive(Default)]
struct Bounded {
    pt: Pt,
    sem: Option<Handle<ptk_runtime::Semaphore>>,
    udp: Option<Handle<ptk_runtime::UdpSocket>>,
    deadline_ms: u64,
    outcome: Option<Result<(), Error>>,
}

impl Protothread for Bounded {
    type Output = ();
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<()> {
        if self.pt.resume_point() == 0 {
            let at = cx.after_ms(self.deadline_ms);
            if let Err(e) = cx.set_deadline(Some(at)) {
                self.outcome = Some(Err(e));
                return Step::Done(());
            }
        }
        let polled = match (self.sem, self.udp) {
            (Some(sem), _) => cx.sem_wait(sem),
            (None, Some(udp)) => {
                let mut buf = [0u8; 16];
                cx.recv_from(udp, &mut buf).map(|r| r.map(|_| ()))
            }
            (None, None) => Poll::Ready(Err(Error::InvalidArgument)),
        };
        match polled {
            Poll::Pending => {
                self.pt.suspend_at(1);
                Step::Pending
            }
            Poll::Ready(r) => {
                self.outcome = Some(r);
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
        &[]
    }
}

#[test]
fn semaphore_and_udp_waits_time_out_at_their_deadline_and_free_their_timer() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut waiters: Vec<Bounded> = (0..2).map(|_| Bounded::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut waiters).unwrap();
    let sem = ev.sem_create(0).unwrap();
    let udp = ev.udp_bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let started = Instant::now();
    let on_sem = ev
        .spawn(
            pool,
            Bounded {
                sem: Some(sem),
                deadline_ms: 30,
                ..Bounded::default()
            },
        )
        .unwrap();
    let on_udp = ev
        .spawn(
            pool,
            Bounded {
                udp: Some(udp),
                deadline_ms: 30,
                ..Bounded::default()
            },
        )
        .unwrap();
    run_until(&mut ev, |ev| ev.protothreads_running() == 0);
    // The loop clock counts whole milliseconds: allow one.
    assert!(started.elapsed() >= Duration::from_millis(29));
    assert_eq!(ev.pt_status(on_sem), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.pt_status(on_udp), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.in_use().timers, 0);
    drop(ev);
    assert_eq!(waiters[0].outcome, Some(Err(Error::Timeout)));
    assert_eq!(waiters[1].outcome, Some(Err(Error::Timeout)));
}
