//! Protothreads written with `#[protothread]` on the mio loop, started over: `restart` from
//! outside while one waits, and `pt_restart!()` from inside.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use common::{new_memory, run_until};
use ptk::{
    kind, protothread, Config, Cx, Error, EventLoop, Handle, Outcome, Pt, PtStatus, Trigger,
    UserEvents,
};

const WAIT: Duration = Duration::from_secs(10);

type PtHandle = Handle<kind::Protothread>;

// ----- restart -----

struct Stepper {
    pt: Pt,
    source: Option<Handle<UserEvents>>,
    starts: Rc<Cell<u32>>,
    /// Restarts itself (with `pt_restart!()`) until it has started this often.
    self_restarts_until: u32,
}

impl Stepper {
    fn poll_event(&mut self, cx: &mut Cx<'_>, id: u32) -> Poll<Result<u32, Error>> {
        match self.source {
            Some(s) => cx.take_event(s, id),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn step(ctx: &mut Stepper, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.starts.set(ctx.starts.get() + 1);
    if ctx.starts.get() < ctx.self_restarts_until {
        pt_restart!();
    }
    pt_await!(ctx.poll_event(cx, 1))?;
    pt_await!(ctx.poll_event(cx, 2))?;
    Ok(())
}

fn stepper_site(ev: &EventLoop<'_>, h: PtHandle) -> Option<(Trigger, u32)> {
    match ev.pt_status(h) {
        Ok(PtStatus::Waiting {
            on: Some((_, trigger)),
            site: Some(site),
            ..
        }) => Some((trigger, site.line)),
        _ => None,
    }
}

#[test]
fn restart_starts_a_waiting_protothread_over_from_the_top() {
    let mut memory = new_memory();
    let starts = Rc::new(Cell::new(0));
    let mut steppers = [Stepper {
        pt: Pt::new(),
        source: None,
        starts: Rc::clone(&starts),
        self_restarts_until: 0,
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut steppers).unwrap();
    let source = ev.user_events_create().unwrap();
    let h = ev
        .cx()
        .spawn_with(pool, |s: &mut Stepper| s.source = Some(source))
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    let (trigger, first_line) = stepper_site(&ev, h).unwrap();
    assert_eq!(trigger, Trigger::User(1));

    ev.raise(source, 1).unwrap();
    run_until(&mut ev, "the second wait", WAIT, 10_000, |ev| {
        stepper_site(ev, h).map(|s| s.0) == Some(Trigger::User(2))
    });
    assert_eq!(stepper_site(&ev, h).unwrap().1, first_line + 1);
    assert_eq!(starts.get(), 1);

    ev.restart(h).unwrap();
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Runnable));
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(starts.get(), 2);
    assert_eq!(stepper_site(&ev, h), Some((Trigger::User(1), first_line)));
    // The old wait on id 2 is gone: raising it does not move the protothread.
    ev.raise(source, 2).unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(stepper_site(&ev, h), Some((Trigger::User(1), first_line)));
    ev.raise(source, 1).unwrap();
    run_until(&mut ev, "the end", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.restart(h), Err(Error::InvalidHandle));
}

#[test]
fn pt_restart_gives_way_and_runs_the_body_again_from_the_top() {
    let mut memory = new_memory();
    let starts = Rc::new(Cell::new(0));
    let mut steppers = [Stepper {
        pt: Pt::new(),
        source: None,
        starts: Rc::clone(&starts),
        self_restarts_until: 3,
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut steppers).unwrap();
    let source = ev.user_events_create().unwrap();
    let h = ev
        .cx()
        .spawn_with(pool, |s: &mut Stepper| s.source = Some(source))
        .unwrap();
    // One start per iteration: a restart gives way like a yield.
    for expected in 1..=3 {
        ev.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(starts.get(), expected);
    }
    assert_eq!(stepper_site(&ev, h).map(|s| s.0), Some(Trigger::User(1)));
}
