//! Timeouts of blocking-style socket calls, in protothreads: a deadline set with `set_deadline` turns a connect,
//! a read, an accept or a user-event wait that lasts too long into `Err(Timeout)` once, the
//! protothread goes on as written (its next wait has no deadline), and every pool is as
//! reusable afterwards as before.

mod common;

use std::cell::RefCell;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::run_until;
use ptk::{
    protothread, Capacities, Config, Cx, Error, EventLoop, Handle, ListenOptions, Outcome,
    OwnedStorage, Pt, PtStatus, TcpListener, TcpStream, Trigger, UserEvents,
};

const WAIT: Duration = Duration::from_secs(10);
/// How long each first wait may last.
const DEADLINE_MS: u64 = 150;
const EVENT_ID: u32 = 2049;

/// What a protothread waits for, twice: first with a deadline that passes, then without one.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Connect to `stuck` (a full accept queue) first, to `open` the second time.
    Connect {
        stuck: SocketAddr,
        open: SocketAddr,
    },
    Read(Handle<TcpStream>),
    Accept(Handle<TcpListener>),
    Event(Handle<UserEvents>),
}

/// What a wait gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Got {
    Connected,
    Read(usize),
    Accepted,
    Event(u32),
}

/// The steps a protothread took, in order.
#[derive(Debug, PartialEq, Eq)]
enum Trace {
    Waited(Result<Got, Error>),
    Continued,
}

struct Timed {
    pt: Pt,
    op: Option<Op>,
    connecting: Option<Handle<TcpStream>>,
    buf: [u8; 16],
    deadline: u64,
    started: u64,
    waited_ms: Rc<RefCell<Vec<u64>>>,
    trace: Rc<RefCell<Vec<Trace>>>,
}

impl Timed {
    fn new(trace: &Rc<RefCell<Vec<Trace>>>, waited_ms: &Rc<RefCell<Vec<u64>>>) -> Timed {
        Timed {
            pt: Pt::new(),
            op: None,
            connecting: None,
            buf: [0; 16],
            deadline: 0,
            started: 0,
            waited_ms: Rc::clone(waited_ms),
            trace: Rc::clone(trace),
        }
    }

    /// Starts what the wait needs: a connect, for `Op::Connect`.
    fn begin(&mut self, cx: &mut Cx<'_>, first: bool) -> Result<(), Error> {
        if let Some(Op::Connect { stuck, open }) = self.op {
            if let Some(old) = self.connecting.take() {
                cx.close(old.raw())?;
            }
            self.connecting = Some(cx.tcp_connect(if first { stuck } else { open }, None)?);
        }
        Ok(())
    }

    fn poll_op(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Got, Error>> {
        match self.op {
            Some(Op::Connect { .. }) => match self.connecting {
                Some(s) => cx.connected(s).map(|r| r.map(|()| Got::Connected)),
                None => Poll::Ready(Err(Error::InvalidHandle)),
            },
            Some(Op::Read(s)) => cx.read(s, &mut self.buf).map(|r| r.map(Got::Read)),
            Some(Op::Accept(l)) => cx.accept(l).map(|r| {
                r.and_then(|(s, _)| {
                    cx.close(s.raw())?;
                    Ok(Got::Accepted)
                })
            }),
            Some(Op::Event(source)) => cx.take_event(source, EVENT_ID).map(|r| r.map(Got::Event)),
            None => Poll::Ready(Err(Error::InvalidArgument)),
        }
    }

    fn record(&self, step: Trace) {
        self.trace.borrow_mut().push(step);
    }
}

#[protothread]
fn wait_twice(ctx: &mut Timed, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.begin(cx, true)?;
    ctx.started = cx.now_ms();
    ctx.deadline = cx.after_ms(DEADLINE_MS);
    cx.set_deadline(Some(ctx.deadline))?;
    let first = pt_await!(ctx.poll_op(cx));
    ctx.waited_ms.borrow_mut().push(cx.now_ms() - ctx.started);
    ctx.record(Trace::Waited(first));
    ctx.record(Trace::Continued);
    ctx.begin(cx, false)?;
    let second = pt_await!(ctx.poll_op(cx));
    ctx.record(Trace::Waited(second));
    if let Some(s) = ctx.connecting.take() {
        cx.close(s.raw())?;
    }
    Ok(())
}

/// A loopback listener with backlog 1 that never accepts, its queue filled: Linux drops
/// further SYNs, so a connect to it hangs without ever leaving the host.
fn stuck_listener() -> (socket2::Socket, Vec<std::net::TcpStream>, SocketAddr) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    sock.listen(1).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(c) => fillers.push(c),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
                break;
            }
        }
    }
    assert!(fillers.len() < 8, "the accept queue never filled up");
    (sock, fillers, addr)
}

const NO_RESOURCES: Capacities = Capacities {
    timers: 0,
    tcp_listeners: 0,
    tcp_streams: 0,
    udp_sockets: 0,
    user_event_sources: 0,
    semaphores: 0,
    signals: 0,
    defers: 0,
    idles: 0,
    periodics: 0,
    file_ops: 0,
    file_op_size: 0,
    buffers: 0,
    buffer_size: 0,
    large_buffers: 0,
    large_buffer_size: 0,
};

/// Runs `wait_twice` over `op` twice in a row (the second time in a reused context), making
/// the second wait succeed with `unblock` once the first has timed out. Checks the trace, the
/// time waited, the status while waiting and that the deadline's timer is given back.
fn time_out_then_continue(
    ev: &mut EventLoop<'_>,
    pool: ptk::PtPool<Timed>,
    op: Op,
    trace: &Rc<RefCell<Vec<Trace>>>,
    waited_ms: &Rc<RefCell<Vec<u64>>>,
    got: Got,
    mut unblock: impl FnMut(&mut EventLoop<'_>),
) {
    let baseline = ev.in_use();
    for round in 0..2 {
        trace.borrow_mut().clear();
        waited_ms.borrow_mut().clear();
        let started = Instant::now();
        let h = ev
            .cx()
            .spawn_with(pool, |t: &mut Timed| {
                t.op = Some(op);
                t.connecting = None;
            })
            .unwrap();
        ev.run_once(Some(Duration::ZERO)).unwrap();
        match ev.pt_status(h).unwrap() {
            PtStatus::Waiting {
                on: Some((_, trigger)),
                until_ms: Some(at),
                site: Some(site),
            } => {
                assert_eq!(site.text, "pt_await!(ctx.poll_op(..))");
                assert!(at >= DEADLINE_MS, "deadline {at}");
                let expected = match op {
                    Op::Connect { .. } => Trigger::Writable,
                    Op::Read(_) | Op::Accept(_) => Trigger::Readable,
                    Op::Event(_) => Trigger::User(EVENT_ID),
                };
                assert_eq!(trigger, expected);
            }
            other => panic!("round {round}: unexpected status {other}"),
        }
        assert_eq!(
            ev.in_use().timers,
            baseline.timers + 1,
            "the deadline's timer"
        );

        run_until(ev, "the timeout", WAIT, 100_000, |_| {
            trace.borrow().len() == 2
        });
        // The loop's clock counts whole milliseconds (truncated), and the deadline was set
        // from it: measured from outside it may pass up to 1 ms early.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(DEADLINE_MS - 1),
            "timed out after {took:?}"
        );
        let waited = waited_ms.borrow()[0];
        assert!(
            (DEADLINE_MS..DEADLINE_MS + 1000).contains(&waited),
            "waited {waited} ms"
        );
        assert_eq!(
            *trace.borrow(),
            [Trace::Waited(Err(Error::Timeout)), Trace::Continued]
        );
        // The deadline is spent: its timer slot is free while the protothread waits on.
        run_until(ev, "the second wait", WAIT, 10_000, |ev| {
            matches!(
                ev.pt_status(h),
                Ok(PtStatus::Waiting { until_ms: None, .. })
            )
        });
        assert_eq!(ev.in_use().timers, baseline.timers, "round {round}");

        unblock(ev);
        run_until(ev, "the second wait's end", WAIT, 100_000, |ev| {
            ev.protothreads_running() == 0
        });
        assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
        assert_eq!(
            *trace.borrow(),
            [
                Trace::Waited(Err(Error::Timeout)),
                Trace::Continued,
                Trace::Waited(Ok(got)),
            ],
            "round {round}"
        );
        assert_eq!(ev.pool_usage(pool), (0, 1));
        assert_eq!(ev.in_use(), baseline, "round {round}");
    }
}

struct Fixture {
    memory: OwnedStorage,
    contexts: [Timed; 1],
    trace: Rc<RefCell<Vec<Trace>>>,
    waited_ms: Rc<RefCell<Vec<u64>>>,
}

fn fixture() -> Fixture {
    let trace = Rc::new(RefCell::new(Vec::new()));
    let waited_ms = Rc::new(RefCell::new(Vec::new()));
    Fixture {
        memory: OwnedStorage::new(Capacities::default()),
        contexts: [Timed::new(&trace, &waited_ms)],
        trace,
        waited_ms,
    }
}

#[test]
fn a_connect_past_its_deadline_times_out_and_the_protothread_connects_elsewhere() {
    let (_stuck, fillers, stuck) = stuck_listener();
    let open = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let op = Op::Connect {
        stuck,
        open: open.local_addr().unwrap(),
    };
    let mut f = fixture();
    let mut ev = EventLoop::new(f.memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut f.contexts).unwrap();
    time_out_then_continue(
        &mut ev,
        pool,
        op,
        &f.trace,
        &f.waited_ms,
        Got::Connected,
        |_| {},
    );
    assert_eq!(ev.in_use(), NO_RESOURCES);
    drop(fillers);
}

#[test]
fn a_read_past_its_deadline_times_out_and_the_next_read_gets_the_data() {
    let mut f = fixture();
    let mut ev = EventLoop::new(f.memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut f.contexts).unwrap();
    let listener = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    let mut client = std::net::TcpStream::connect(ev.local_addr(listener.raw()).unwrap()).unwrap();
    let mut accepted = None;
    run_until(&mut ev, "the accept", WAIT, 10_000, |ev| {
        if let Poll::Ready(r) = ev.accept(listener) {
            accepted = Some(r.unwrap().0);
        }
        accepted.is_some()
    });
    let stream = accepted.unwrap();
    time_out_then_continue(
        &mut ev,
        pool,
        Op::Read(stream),
        &f.trace,
        &f.waited_ms,
        Got::Read(5),
        |_| client.write_all(b"hello").unwrap(),
    );
}

#[test]
fn an_accept_past_its_deadline_times_out_and_the_next_accept_gets_the_client() {
    let mut f = fixture();
    let mut ev = EventLoop::new(f.memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut f.contexts).unwrap();
    let listener = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    let mut clients = Vec::new();
    time_out_then_continue(
        &mut ev,
        pool,
        Op::Accept(listener),
        &f.trace,
        &f.waited_ms,
        Got::Accepted,
        |_| clients.push(std::net::TcpStream::connect(addr).unwrap()),
    );
    assert_eq!(clients.len(), 2);
}

#[test]
fn a_user_event_wait_past_its_deadline_times_out_and_the_next_wait_gets_the_raise() {
    let mut f = fixture();
    let mut ev = EventLoop::new(f.memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut f.contexts).unwrap();
    let source = ev.user_events_create().unwrap();
    let remote = ev.remote();
    time_out_then_continue(
        &mut ev,
        pool,
        Op::Event(source),
        &f.trace,
        &f.waited_ms,
        Got::Event(1),
        |_| {
            let remote = remote.clone();
            std::thread::spawn(move || remote.raise(source, EVENT_ID).unwrap())
                .join()
                .unwrap();
        },
    );
}

/// Sleeps 150 ms under a 50 ms deadline, then waits for a user event, counting its polls.
struct Napper {
    pt: Pt,
    source: Option<Handle<UserEvents>>,
    at: u64,
    slept: Rc<RefCell<Vec<Result<(), Error>>>>,
    polls: Rc<RefCell<u32>>,
}

impl Napper {
    fn poll_event(&mut self, cx: &mut Cx<'_>) -> Poll<Result<u32, Error>> {
        *self.polls.borrow_mut() += 1;
        match self.source {
            Some(s) => cx.take_event(s, EVENT_ID),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn nap_then_wait(ctx: &mut Napper, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.at = cx.after_ms(50);
    cx.set_deadline(Some(ctx.at))?;
    ctx.at = cx.after_ms(150);
    let slept = pt_await!(cx.sleep_until(ctx.at));
    ctx.slept.borrow_mut().push(slept);
    pt_await!(ctx.poll_event(cx))?;
    Ok(())
}

#[test]
fn a_sleep_cut_short_by_the_deadline_is_over_and_leaves_no_timer_behind() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let (slept, polls) = (Rc::new(RefCell::new(Vec::new())), Rc::new(RefCell::new(0)));
    let mut nappers = [Napper {
        pt: Pt::new(),
        source: None,
        at: 0,
        slept: Rc::clone(&slept),
        polls: Rc::clone(&polls),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut nappers).unwrap();
    let source = ev.user_events_create().unwrap();
    let h = ev
        .cx()
        .spawn_with(pool, |n: &mut Napper| n.source = Some(source))
        .unwrap();
    run_until(&mut ev, "the deadline", WAIT, 10_000, |_| {
        !slept.borrow().is_empty()
    });
    assert_eq!(*slept.borrow(), [Err(Error::Timeout)]);
    // Waiting on the event now, with no sleep or deadline left: nothing wakes it for
    // nothing, and it holds no timer.
    // Past the time the sleep would have ended, too.
    let until = Instant::now() + Duration::from_millis(250);
    for _ in 0..100_000 {
        if Instant::now() >= until {
            break;
        }
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(
        *polls.borrow(),
        1,
        "the event wait was polled again without cause"
    );
    assert!(matches!(
        ev.pt_status(h),
        Ok(PtStatus::Waiting {
            on: Some((_, Trigger::User(EVENT_ID))),
            until_ms: None,
            ..
        })
    ));
    assert_eq!(ev.in_use().timers, 0);
    ev.raise(source, EVENT_ID).unwrap();
    run_until(&mut ev, "the end", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
}
