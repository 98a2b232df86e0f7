//! Protothreads written with `#[protothread]` on the mio loop, seen from outside: their status
//! and the site of their wait, join (finished, failed, exited, killed), a protothread that
//! kills itself, and the reuse of an ended protothread's slot.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use common::{connected_pair, new_memory, run_until};
use ptk::{
    kind, protothread, Config, Cx, Error, EventLoop, Handle, Outcome, Pt, PtStatus, TcpStream,
    Trigger,
};

const WAIT: Duration = Duration::from_secs(10);

type PtHandle = Handle<kind::Protothread>;

// ----- status -----

struct Reader {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    buf: [u8; 16],
    /// The line of the `pt_await!`, as the body itself sees it.
    line: Rc<Cell<u32>>,
    got: Rc<Cell<usize>>,
}

impl Reader {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        match self.stream {
            Some(s) => cx.read(s, &mut self.buf),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn read_once(ctx: &mut Reader, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.line.set(line!() + 1);
    let n = pt_await!(ctx.poll_read(cx))?;
    ctx.got.set(n);
    Ok(())
}

#[test]
fn status_names_the_stream_the_trigger_and_the_line_of_the_await() {
    let mut memory = new_memory();
    let (line, got) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let mut readers = [Reader {
        pt: Pt::new(),
        stream: None,
        buf: [0; 16],
        line: Rc::clone(&line),
        got: Rc::clone(&got),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut readers).unwrap();
    let (stream, mut client) = connected_pair(&mut ev);
    let h = ev
        .cx()
        .spawn_with(pool, |r: &mut Reader| r.stream = Some(stream))
        .unwrap();
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Runnable));
    ev.run_once(Some(Duration::ZERO)).unwrap();

    let status = ev.pt_status(h).unwrap();
    let PtStatus::Waiting {
        on,
        until_ms: None,
        site: Some(site),
    } = status
    else {
        panic!("unexpected status {status}");
    };
    assert_eq!(on, Some((stream.raw(), Trigger::Readable)));
    assert_eq!(site.text, "pt_await!(ctx.poll_read(..))");
    assert_eq!(site.line, line.get());
    assert_eq!(site.file, file!());
    assert_eq!(
        status.to_string(),
        format!(
            "waiting on {} Readable at protothread_status.rs:{} pt_await!(ctx.poll_read(..))",
            stream.raw(),
            line.get()
        )
    );

    client.write_all(b"hello").unwrap();
    run_until(&mut ev, "the read", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(got.get(), 5);
}

// ----- join, kill, exit -----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum How {
    Finish,
    Fail(Error),
    Exit,
    /// Sleeps for a minute: it only ends when killed.
    Hang,
}

struct Child {
    pt: Pt,
    how: How,
    at: u64,
}

#[protothread]
fn child(ctx: &mut Child, cx: &mut Cx<'_>) -> Result<(), Error> {
    // Give way once, so that the joiner waits before the child ends.
    pt_yield!();
    if ctx.how == How::Exit {
        pt_exit!();
    }
    if ctx.how == How::Hang {
        ctx.at = cx.after_ms(60_000);
        pt_await!(cx.sleep_until(ctx.at))?;
    }
    match ctx.how {
        How::Fail(e) => Err(e),
        _ => Ok(()),
    }
}

struct Joiner {
    pt: Pt,
    target: Option<PtHandle>,
    seen: Rc<RefCell<Vec<Outcome>>>,
}

impl Joiner {
    fn poll_join(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Outcome, Error>> {
        match self.target {
            Some(t) => cx.join(t),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn join_one(ctx: &mut Joiner, cx: &mut Cx<'_>) -> Result<(), Error> {
    let outcome = pt_await!(ctx.poll_join(cx))?;
    ctx.seen.borrow_mut().push(outcome);
    Ok(())
}

#[test]
fn join_reports_finished_failed_exited_and_killed() {
    let mut memory = new_memory();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut children: Vec<Child> = (0..4)
        .map(|_| Child {
            pt: Pt::new(),
            how: How::Finish,
            at: 0,
        })
        .collect();
    let mut joiners: Vec<Joiner> = (0..4)
        .map(|_| Joiner {
            pt: Pt::new(),
            target: None,
            seen: Rc::clone(&seen),
        })
        .collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let child_pool = ev.add_protothreads(&mut children).unwrap();
    let join_pool = ev.add_protothreads(&mut joiners).unwrap();

    let hows = [
        How::Finish,
        How::Fail(Error::ProtocolError),
        How::Exit,
        How::Hang,
    ];
    for how in hows {
        let c = ev
            .cx()
            .spawn_with(child_pool, |c: &mut Child| c.how = how)
            .unwrap();
        let j = ev
            .cx()
            .spawn_with(join_pool, |j: &mut Joiner| j.target = Some(c))
            .unwrap();
        ev.run_once(Some(Duration::ZERO)).unwrap();
        // The joiner waits on no resource, at its join.
        match ev.pt_status(j).unwrap() {
            PtStatus::Waiting {
                on: None,
                until_ms: None,
                site: Some(site),
            } => assert_eq!(site.text, "pt_await!(ctx.poll_join(..))"),
            other => panic!("{how:?}: unexpected joiner status {other}"),
        }
        if how == How::Hang {
            run_until(&mut ev, "the child's sleep", WAIT, 10_000, |ev| {
                matches!(
                    ev.pt_status(c),
                    Ok(PtStatus::Waiting {
                        until_ms: Some(_),
                        ..
                    })
                )
            });
            assert_eq!(ev.in_use().timers, 1);
            ev.kill(c).unwrap();
            assert_eq!(ev.in_use().timers, 0, "the sleep's timer went with it");
        }
        run_until(&mut ev, "the join", WAIT, 10_000, |ev| {
            ev.protothreads_running() == 0
        });
        assert_eq!(ev.pt_status(j), Ok(PtStatus::Ended(Outcome::Finished)));
    }
    assert_eq!(
        *seen.borrow(),
        [
            Outcome::Finished,
            Outcome::Failed(Error::ProtocolError),
            Outcome::Exited,
            Outcome::Killed,
        ]
    );
    assert_eq!(ev.last_error(), Some(Error::ProtocolError));
}

// ----- slot reuse -----

#[test]
fn an_ended_protothreads_slot_goes_to_the_next_spawn_under_a_new_handle() {
    let mut memory = new_memory();
    let mut children: Vec<Child> = (0..1)
        .map(|_| Child {
            pt: Pt::new(),
            how: How::Finish,
            at: 0,
        })
        .collect();
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut children).unwrap();
    let first = ev
        .cx()
        .spawn_with(pool, |c: &mut Child| c.how = How::Finish)
        .unwrap();
    assert_eq!(
        ev.cx()
            .spawn_with(pool, |c: &mut Child| c.how = How::Finish),
        Err(Error::OutOfResources(ptk::Capacity::Protothreads))
    );
    run_until(&mut ev, "the first end", WAIT, 10_000, |ev| {
        ev.pool_usage(pool) == (0, 1)
    });
    assert_eq!(ev.pt_status(first), Ok(PtStatus::Ended(Outcome::Finished)));
    let second = ev
        .cx()
        .spawn_with(pool, |c: &mut Child| c.how = How::Hang)
        .unwrap();
    assert_eq!(second.raw().slot(), first.raw().slot());
    assert_ne!(second, first);
    assert_eq!(ev.pt_status(first), Err(Error::InvalidHandle));
    assert_eq!(ev.join(first), Poll::Ready(Err(Error::InvalidHandle)));
    assert_eq!(ev.kill(first), Err(Error::InvalidHandle));
    assert_eq!(ev.pt_status(second), Ok(PtStatus::Runnable));
    ev.kill(second).unwrap();
    assert_eq!(ev.pool_usage(pool), (0, 1));
}

// ----- a protothread that kills itself -----

struct Suicidal {
    pt: Pt,
    after_kill: Rc<Cell<bool>>,
}

#[protothread]
fn kill_self(ctx: &mut Suicidal, cx: &mut Cx<'_>) -> Result<(), Error> {
    if let Some(me) = cx.current() {
        cx.kill(me)?;
    }
    // The resume goes on to its next suspension point; the protothread ends there.
    ctx.after_kill.set(true);
    pt_yield!();
    ctx.after_kill.set(false);
    Ok(())
}

#[test]
fn a_protothread_that_kills_itself_ends_killed_when_its_resume_returns() {
    let mut memory = new_memory();
    let after_kill = Rc::new(Cell::new(false));
    let mut contexts = [Suicidal {
        pt: Pt::new(),
        after_kill: Rc::clone(&after_kill),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let h = ev.cx().spawn_with(pool, |_: &mut Suicidal| {}).unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Killed)));
    assert!(after_kill.get());
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert!(after_kill.get(), "never resumed again");
    assert_eq!(ev.pool_usage(pool), (0, 1));
}
