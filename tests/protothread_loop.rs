//! Protothreads written with `#[protothread]` on the mio loop: status and its site, join,
//! kill, restart, slot reuse, the order of resumes within one iteration, fairness under a
//! protothread that never has to wait, and semaphores between protothreads and from another
//! thread.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Write;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk::{
    kind, protothread, Capacities, Config, Cx, Error, Event, EventLoop, Handle, ListenOptions,
    Outcome, OwnedStorage, Pt, PtStatus, Semaphore, TcpStream, Trigger, UdpSocket, UserEvents,
};

const WAIT: Duration = Duration::from_secs(10);

type PtHandle = Handle<kind::Protothread>;

fn new_memory() -> OwnedStorage {
    OwnedStorage::new(Capacities::default())
}

/// Accepts one loopback connection on `ev`: (server side, client side).
fn connected_pair(ev: &mut EventLoop<'_>) -> (Handle<TcpStream>, std::net::TcpStream) {
    let listener = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    let client = std::net::TcpStream::connect(ev.local_addr(listener.raw()).unwrap()).unwrap();
    let mut accepted = None;
    run_until(ev, "the accept", WAIT, 10_000, |ev| {
        if let Poll::Ready(r) = ev.accept(listener) {
            accepted = Some(r.unwrap().0);
        }
        accepted.is_some()
    });
    ev.close(listener.raw()).unwrap();
    (accepted.unwrap(), client)
}

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
            "waiting on {} Readable at protothread_loop.rs:{} pt_await!(ctx.poll_read(..))",
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

// ----- order within one iteration -----

type Trace = Rc<RefCell<Vec<&'static str>>>;

/// Sleeps 1 ms, then notes that it ran.
struct Napper {
    pt: Pt,
    at: u64,
    trace: Trace,
}

#[protothread]
fn nap(ctx: &mut Napper, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.at = cx.after_ms(1);
    pt_await!(cx.sleep_until(ctx.at))?;
    ctx.trace.borrow_mut().push("sleeper");
    Ok(())
}

/// Waits for one datagram, then notes that it ran.
struct DatagramReader {
    pt: Pt,
    socket: Option<Handle<UdpSocket>>,
    buf: [u8; 8],
    trace: Trace,
}

impl DatagramReader {
    fn poll_recv(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        match self.socket {
            Some(s) => cx.recv_from(s, &mut self.buf).map_ok(|(n, _)| n),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn read_datagram(ctx: &mut DatagramReader, cx: &mut Cx<'_>) -> Result<(), Error> {
    pt_await!(ctx.poll_recv(cx))?;
    ctx.trace.borrow_mut().push("reader");
    Ok(())
}

fn note_user_event(trace: &mut Trace, _cx: &mut Cx<'_>, _event: Event) {
    trace.borrow_mut().push("user event");
}

#[test]
fn a_protothread_woken_by_io_runs_in_the_io_step_others_in_the_protothread_step() {
    let trace = Trace::default();
    let mut nappers = [Napper {
        pt: Pt::new(),
        at: 0,
        trace: Rc::clone(&trace),
    }];
    let mut readers = [DatagramReader {
        pt: Pt::new(),
        socket: None,
        buf: [0; 8],
        trace: Rc::clone(&trace),
    }];
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Rc::clone(&trace)).unwrap();
    let socket = ev.udp_bind((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
    let source = ev.user_events_create().unwrap();
    ev.set_handler(source, Trigger::User(1), note_user_event)
        .unwrap();
    let nappers = ev.add_protothreads(&mut nappers).unwrap();
    let readers = ev.add_protothreads(&mut readers).unwrap();
    let napper = ev.cx().spawn_with(nappers, |_: &mut Napper| {}).unwrap();
    let reader = ev
        .cx()
        .spawn_with(readers, |r: &mut DatagramReader| r.socket = Some(socket))
        .unwrap();
    // Both start and wait: one on its 1 ms sleep, one on the socket.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert!(matches!(ev.pt_status(napper), Ok(PtStatus::Waiting { .. })));
    assert!(matches!(ev.pt_status(reader), Ok(PtStatus::Waiting { .. })));
    assert!(trace.borrow().is_empty());
    // Now all three are due together: the sleep (timer step), the datagram (I/O step) and
    // the user event (remote step).
    let to = ev.local_addr(socket.raw()).unwrap();
    std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .send_to(b"ready", to)
        .unwrap();
    ev.raise(source, 1).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 3);
    // The reader runs at its event, where a handler would; the sleeper, woken in the timer
    // step, waits for the protothread step.
    assert_eq!(*trace.borrow(), ["reader", "user event", "sleeper"]);
}

// ----- fairness -----

struct Sleeper {
    pt: Pt,
    at: u64,
    late_ms: Rc<Cell<Option<u64>>>,
}

#[protothread]
fn sleep_20ms(ctx: &mut Sleeper, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.at = cx.after_ms(20);
    pt_await!(cx.sleep_until(ctx.at))?;
    ctx.late_ms.set(Some(cx.now_ms() - ctx.at));
    Ok(())
}

/// Raises and takes its own user event forever: it never has to wait.
struct EventSpinner {
    pt: Pt,
    source: Option<Handle<UserEvents>>,
    spins: Rc<Cell<u64>>,
}

impl EventSpinner {
    fn poll_spin(&mut self, cx: &mut Cx<'_>) -> Poll<Result<u32, Error>> {
        let Some(source) = self.source else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        if let Err(e) = cx.raise(source, 7) {
            return Poll::Ready(Err(e));
        }
        cx.take_event(source, 7)
    }
}

#[protothread]
fn spin_on_events(ctx: &mut EventSpinner, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let n = pt_await!(ctx.poll_spin(cx))?;
        ctx.spins.set(ctx.spins.get() + u64::from(n));
    }
}

/// Reads a socket that a client keeps full: data is (nearly) always ready.
struct SocketSpinner {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    buf: [u8; 64],
    bytes: Rc<Cell<u64>>,
}

impl SocketSpinner {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        match self.stream {
            Some(s) => cx.read(s, &mut self.buf),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn spin_on_socket(ctx: &mut SocketSpinner, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let n = pt_await!(ctx.poll_read(cx))?;
        if n == 0 {
            return Ok(());
        }
        ctx.bytes.set(ctx.bytes.get() + n as u64);
    }
}

/// How late a 20 ms sleeper may wake while something else always has work.
const LATE_BOUND_MS: u64 = 100;

fn sleeper_is_on_time_next_to(
    ev: &mut EventLoop<'_>,
    sleepers: ptk::PtPool<Sleeper>,
    late_ms: &Rc<Cell<Option<u64>>>,
    progress: impl Fn() -> u64,
) {
    let before = progress();
    let sleeper = ev.cx().spawn_with(sleepers, |_: &mut Sleeper| {}).unwrap();
    run_until(ev, "the sleeper", WAIT, 1_000_000, |ev| {
        ev.pt_status(sleeper) == Ok(PtStatus::Ended(Outcome::Finished))
    });
    let late = late_ms.get().unwrap();
    assert!(late < LATE_BOUND_MS, "the sleeper woke {late} ms late");
    assert!(
        progress() > before,
        "the busy protothread made progress too"
    );
}

#[test]
fn a_protothread_raising_and_taking_its_own_event_does_not_starve_a_sleeper() {
    let mut memory = new_memory();
    let (spins, late_ms) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(None)));
    let mut spinners = [EventSpinner {
        pt: Pt::new(),
        source: None,
        spins: Rc::clone(&spins),
    }];
    let mut sleepers = [Sleeper {
        pt: Pt::new(),
        at: 0,
        late_ms: Rc::clone(&late_ms),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let spin_pool = ev.add_protothreads(&mut spinners).unwrap();
    let sleep_pool = ev.add_protothreads(&mut sleepers).unwrap();
    let source = ev.user_events_create().unwrap();
    let spinner = ev
        .cx()
        .spawn_with(spin_pool, |s: &mut EventSpinner| s.source = Some(source))
        .unwrap();
    sleeper_is_on_time_next_to(&mut ev, sleep_pool, &late_ms, || spins.get());
    // Still going: made to give way by its budget, never waiting on its own.
    assert_eq!(ev.pt_status(spinner), Ok(PtStatus::Runnable));
    ev.kill(spinner).unwrap();
}

#[test]
fn a_protothread_reading_a_socket_kept_full_does_not_starve_a_sleeper() {
    let mut memory = new_memory();
    let (bytes, late_ms) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(None)));
    let mut spinners = [SocketSpinner {
        pt: Pt::new(),
        stream: None,
        buf: [0; 64],
        bytes: Rc::clone(&bytes),
    }];
    let mut sleepers = [Sleeper {
        pt: Pt::new(),
        at: 0,
        late_ms: Rc::clone(&late_ms),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let spin_pool = ev.add_protothreads(&mut spinners).unwrap();
    let sleep_pool = ev.add_protothreads(&mut sleepers).unwrap();
    let (stream, mut client) = connected_pair(&mut ev);

    // The client keeps the socket full until told to stop (bounded by time too).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        client
            .set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        std::thread::spawn(move || {
            let chunk = [0x5a; 4096];
            let until = std::time::Instant::now() + WAIT;
            while !stop.load(Ordering::Acquire) && std::time::Instant::now() < until {
                // A timed-out write just means the socket is full right now.
                let _ = client.write(&chunk);
            }
        })
    };
    let spinner = ev
        .cx()
        .spawn_with(spin_pool, |s: &mut SocketSpinner| s.stream = Some(stream))
        .unwrap();
    run_until(&mut ev, "the first bytes", WAIT, 100_000, |_| {
        bytes.get() > 0
    });
    sleeper_is_on_time_next_to(&mut ev, sleep_pool, &late_ms, || bytes.get());
    stop.store(true, Ordering::Release);
    writer.join().unwrap();
    // The client is gone: the reader drains what is left and ends at end-of-stream.
    run_until(&mut ev, "the reader's end", WAIT, 1_000_000, |ev| {
        ev.pt_status(spinner) == Ok(PtStatus::Ended(Outcome::Finished))
    });
}

// ----- semaphores -----

const ITEMS: u32 = 20;
const SLOTS: u32 = 3;

/// A bounded buffer between a producer and a consumer, guarded by two semaphores.
struct Buffer {
    items: VecDeque<u32>,
    most: usize,
    consumed: Vec<u32>,
}

struct Party {
    pt: Pt,
    producer: bool,
    next: u32,
    /// Units to take before touching the buffer, and units to give after.
    take: Option<Handle<Semaphore>>,
    give: Option<Handle<Semaphore>>,
    buffer: Rc<RefCell<Buffer>>,
}

impl Party {
    fn poll_take(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.take {
            Some(s) => cx.sem_wait(s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// The producer puts its next item in, the consumer takes the oldest out.
    fn exchange(&mut self) -> Result<(), Error> {
        let mut b = self.buffer.borrow_mut();
        if self.producer {
            b.items.push_back(self.next);
            b.most = b.most.max(b.items.len());
        } else {
            let item = b.items.pop_front().ok_or(Error::ProtocolError)?;
            b.consumed.push(item);
        }
        Ok(())
    }

    fn give(&self, cx: &mut Cx<'_>) -> Result<(), Error> {
        cx.sem_signal(self.give.ok_or(Error::InvalidHandle)?)
    }
}

#[protothread]
fn trade(ctx: &mut Party, cx: &mut Cx<'_>) -> Result<(), Error> {
    while ctx.next < ITEMS {
        pt_await!(ctx.poll_take(cx))?;
        ctx.exchange()?;
        ctx.next += 1;
        ctx.give(cx)?;
    }
    Ok(())
}

#[test]
fn a_producer_and_a_consumer_share_a_bounded_buffer_through_two_semaphores() {
    let mut memory = new_memory();
    let buffer = Rc::new(RefCell::new(Buffer {
        items: VecDeque::new(),
        most: 0,
        consumed: Vec::new(),
    }));
    let party = || Party {
        pt: Pt::new(),
        producer: false,
        next: 0,
        take: None,
        give: None,
        buffer: Rc::clone(&buffer),
    };
    let mut producers = [party()];
    let mut consumers = [party()];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let producer_pool = ev.add_protothreads(&mut producers).unwrap();
    let consumer_pool = ev.add_protothreads(&mut consumers).unwrap();
    let free = ev.sem_create(SLOTS).unwrap();
    let full = ev.sem_create(0).unwrap();
    // The consumer starts first and must wait for the first item.
    let consumer = ev
        .cx()
        .spawn_with(consumer_pool, |p: &mut Party| {
            p.take = Some(full);
            p.give = Some(free);
        })
        .unwrap();
    let producer = ev
        .cx()
        .spawn_with(producer_pool, |p: &mut Party| {
            p.producer = true;
            p.take = Some(free);
            p.give = Some(full);
        })
        .unwrap();
    run_until(&mut ev, "every item", WAIT, 100_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(
        ev.pt_status(producer),
        Ok(PtStatus::Ended(Outcome::Finished))
    );
    assert_eq!(
        ev.pt_status(consumer),
        Ok(PtStatus::Ended(Outcome::Finished))
    );
    let b = buffer.borrow();
    assert_eq!(b.consumed, (0..ITEMS).collect::<Vec<_>>());
    assert_eq!(
        b.most, SLOTS as usize,
        "the producer filled the buffer, never beyond"
    );
    assert_eq!(ev.sem_count(free), Ok(SLOTS));
    assert_eq!(ev.sem_count(full), Ok(0));
}

struct Taker {
    pt: Pt,
    sem: Option<Handle<Semaphore>>,
    taken: Rc<Cell<u32>>,
}

impl Taker {
    fn poll_take(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.sem {
            Some(s) => cx.sem_wait(s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn take_three(ctx: &mut Taker, cx: &mut Cx<'_>) -> Result<(), Error> {
    while ctx.taken.get() < 3 {
        pt_await!(ctx.poll_take(cx))?;
        ctx.taken.set(ctx.taken.get() + 1);
    }
    Ok(())
}

#[test]
fn units_signalled_from_another_thread_wake_a_waiting_protothread() {
    let mut memory = new_memory();
    let taken = Rc::new(Cell::new(0));
    let mut takers = [Taker {
        pt: Pt::new(),
        sem: None,
        taken: Rc::clone(&taken),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut takers).unwrap();
    let sem = ev.sem_create(0).unwrap();
    let h = ev
        .cx()
        .spawn_with(pool, |t: &mut Taker| t.sem = Some(sem))
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    match ev.pt_status(h).unwrap() {
        PtStatus::Waiting {
            on: Some((on, Trigger::Available)),
            site: Some(site),
            ..
        } if on == sem.raw() => assert_eq!(site.text, "pt_await!(ctx.poll_take(..))"),
        other => panic!("unexpected status {other}"),
    }

    let remote = ev.remote();
    let signaller = std::thread::spawn(move || {
        for _ in 0..3 {
            remote.signal(sem).unwrap();
        }
    });
    run_until(&mut ev, "three units", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    signaller.join().unwrap();
    assert_eq!(taken.get(), 3);
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.sem_count(sem), Ok(0));
}
