//! A protothread woken by its socket that moves on, in the same resume, to wait on something
//! else (a user event, a sleep) or on a bare condition: the socket's registration, which
//! stays when it fires (see the module docs of the runtime's `event_loop/waits.rs`), does
//! not outlive that resume, so more data does not resume the protothread; one waiting on a
//! bare condition is checked again after every event instead. (`protothread_echo_wait.rs`
//! has the registration that is kept.) A protothread that closes the socket it was woken by
//! is not resumed once more for the close; a handler set where a protothread waits wakes it,
//! and its wait fails.
//!
//! Every protothread here notes each poll of its suspension points in a trace: a resume
//! polls the point it stopped at once, so the trace counts resumes exactly.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{connected_pair, new_memory, run_until};
use ptk::{
    kind, protothread, Config, Cx, Error, Event, EventLoop, Handle, Outcome, Protothread, Pt,
    PtPool, PtStatus, TcpStream, Trigger, UserEvents,
};

const WAIT: Duration = Duration::from_secs(10);

type Trace = Rc<RefCell<Vec<String>>>;

fn note(trace: &Trace, what: String) {
    trace.borrow_mut().push(what);
}

/// `read` on `stream` into `buf`, noted as `read: pending`, `read: <the bytes>` or the error.
fn traced_read(
    cx: &mut Cx<'_>,
    stream: Option<Handle<TcpStream>>,
    buf: &mut [u8],
    trace: &Trace,
) -> Poll<Result<usize, Error>> {
    let Some(s) = stream else {
        return Poll::Ready(Err(Error::InvalidHandle));
    };
    let r = cx.read(s, buf);
    note(
        trace,
        match &r {
            Poll::Pending => "read: pending".to_string(),
            Poll::Ready(Ok(n)) => format!("read: {:?}", String::from_utf8_lossy(&buf[..*n])),
            Poll::Ready(Err(e)) => format!("read: {e:?}"),
        },
    );
    r
}

/// `take_event` of id 1 on `source`, noted as `event: <the answer>`.
fn traced_event(
    cx: &mut Cx<'_>,
    source: Option<Handle<UserEvents>>,
    trace: &Trace,
) -> Poll<Result<u32, Error>> {
    let r = match source {
        Some(s) => cx.take_event(s, 1),
        None => Poll::Ready(Err(Error::InvalidHandle)),
    };
    note(trace, format!("event: {r:?}"));
    r
}

/// Spawns a protothread of `pool` that reads a new loopback stream (`init` hands it the
/// stream), and runs it to its first wait on the still empty socket. Returns the protothread,
/// its stream and the client end.
fn spawn_reader<A: 'static, C>(
    ev: &mut EventLoop<'_, A>,
    pool: PtPool<C>,
    trace: &Trace,
    init: impl FnOnce(&mut C, Handle<TcpStream>),
) -> (
    Handle<kind::Protothread>,
    Handle<TcpStream>,
    std::net::TcpStream,
)
where
    C: Protothread + 'static,
    C::Output: Into<Outcome>,
{
    let (stream, client) = connected_pair(ev);
    let h = ev
        .cx()
        .spawn_with(pool, |c: &mut C| init(c, stream))
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(*trace.borrow(), ["read: pending"]);
    (h, stream, client)
}

/// Runs one iteration that has to wait for the client's bytes (nothing else is due), and
/// returns how many handler calls and resumes it made. The poll returning well before
/// `WAIT` shows the bytes reached the loop in this very iteration.
fn one_iteration_woken_by_the_bytes<A: 'static>(ev: &mut EventLoop<'_, A>) -> usize {
    let started = Instant::now();
    let calls = ev.run_once(Some(WAIT)).unwrap();
    assert!(
        started.elapsed() < WAIT / 2,
        "the client's bytes did not wake the poll"
    );
    calls
}

// ----- a protothread that moved on to another wait -----

/// Reads, then waits for user event 1 before it reads again.
struct ReadThenEvent {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    source: Option<Handle<UserEvents>>,
    buf: [u8; 16],
    trace: Trace,
}

impl ReadThenEvent {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        traced_read(cx, self.stream, &mut self.buf, &self.trace)
    }

    fn poll_event(&mut self, cx: &mut Cx<'_>) -> Poll<Result<u32, Error>> {
        traced_event(cx, self.source, &self.trace)
    }
}

#[protothread]
fn read_then_wait_for_an_event(ctx: &mut ReadThenEvent, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let n = pt_await!(ctx.poll_read(cx))?;
        if n == 0 {
            return Ok(());
        }
        pt_await!(ctx.poll_event(cx))?;
    }
}

#[test]
fn a_protothread_woken_by_its_socket_that_then_waits_for_an_event_is_not_resumed_by_more_data() {
    let mut memory = new_memory();
    let trace = Trace::default();
    let mut contexts = [ReadThenEvent {
        pt: Pt::new(),
        stream: None,
        source: None,
        buf: [0; 16],
        trace: Rc::clone(&trace),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let source = ev.user_events_create().unwrap();
    let (h, _, mut client) =
        spawn_reader(&mut ev, pool, &trace, |c: &mut ReadThenEvent, stream| {
            c.stream = Some(stream);
            c.source = Some(source);
        });

    // Woken by its socket, it reads and, in the same resume, waits for the event instead.
    client.write_all(b"a").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 1);
    assert_eq!(
        *trace.borrow(),
        ["read: pending", "read: \"a\"", "event: Pending"]
    );
    let on = |ev: &EventLoop<'_>| match ev.pt_status(h) {
        Ok(PtStatus::Waiting { on, .. }) => on,
        other => panic!("unexpected status {other:?}"),
    };
    assert_eq!(on(&ev), Some((source.raw(), Trigger::User(1))));

    // More data: the socket is no longer what it waits on, so nothing is resumed.
    client.write_all(b"b").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 0);
    for _ in 0..3 {
        assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 0);
    }
    assert_eq!(trace.borrow().len(), 3, "no resume for the data");
    assert_eq!(on(&ev), Some((source.raw(), Trigger::User(1))));

    // The event: one resume, which takes it, finds the data waiting and waits again.
    ev.raise(source, 1).unwrap();
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(
        trace.borrow()[3..],
        ["event: Ready(Ok(1))", "read: \"b\"", "event: Pending"]
    );

    drop(client);
    ev.raise(source, 1).unwrap();
    run_until(&mut ev, "the end-of-stream", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(trace.borrow()[6..], ["event: Ready(Ok(1))", "read: \"\""]);
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
}

/// How long [`ReadThenSleep`] sleeps after each read: long enough that the checks between
/// its read and its wake-up are done well before it wakes.
const NAP_MS: u64 = 1_000;

/// Reads, then sleeps [`NAP_MS`] before it reads again.
struct ReadThenSleep {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    buf: [u8; 16],
    at: u64,
    trace: Trace,
}

impl ReadThenSleep {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        traced_read(cx, self.stream, &mut self.buf, &self.trace)
    }

    fn poll_sleep(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let r = cx.sleep_until(self.at);
        note(&self.trace, format!("sleep: {r:?}"));
        r
    }
}

#[protothread]
fn read_then_sleep(ctx: &mut ReadThenSleep, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let n = pt_await!(ctx.poll_read(cx))?;
        if n == 0 {
            return Ok(());
        }
        ctx.at = cx.after_ms(NAP_MS);
        pt_await!(ctx.poll_sleep(cx))?;
    }
}

#[test]
fn a_protothread_woken_by_its_socket_that_then_sleeps_is_not_resumed_by_more_data() {
    let mut memory = new_memory();
    let trace = Trace::default();
    let mut contexts = [ReadThenSleep {
        pt: Pt::new(),
        stream: None,
        buf: [0; 16],
        at: 0,
        trace: Rc::clone(&trace),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let (h, _, mut client) =
        spawn_reader(&mut ev, pool, &trace, |c: &mut ReadThenSleep, stream| {
            c.stream = Some(stream)
        });

    client.write_all(b"a").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 1);
    assert_eq!(
        *trace.borrow(),
        ["read: pending", "read: \"a\"", "sleep: Pending"]
    );
    let Ok(PtStatus::Waiting {
        on: None,
        until_ms: Some(at),
        ..
    }) = ev.pt_status(h)
    else {
        panic!("unexpected status {:?}", ev.pt_status(h));
    };

    client.write_all(b"b").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 0);
    for _ in 0..3 {
        assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 0);
    }
    assert!(ev.now_ms() < at, "checked while it still slept");
    assert_eq!(trace.borrow().len(), 3, "no resume for the data");

    // Its sleep ends: one resume, which finds the data waiting and sleeps again.
    run_until(&mut ev, "the end of the sleep", WAIT, 10_000, |_| {
        trace.borrow().len() > 3
    });
    assert_eq!(
        trace.borrow()[3..],
        ["sleep: Ready(Ok(()))", "read: \"b\"", "sleep: Pending"]
    );
    ev.kill(h).unwrap();
    assert_eq!(ev.in_use().timers, 0);
}

// ----- a protothread that moved on to a bare condition -----

/// Reads, then waits until `go` holds (set by a handler) before it reads again.
struct ReadThenCondition {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    buf: [u8; 16],
    go: Rc<Cell<bool>>,
    trace: Trace,
}

impl ReadThenCondition {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        traced_read(cx, self.stream, &mut self.buf, &self.trace)
    }

    fn go(&self) -> bool {
        let go = self.go.get();
        note(&self.trace, format!("check: {go}"));
        go
    }
}

#[protothread]
fn read_then_wait_until_go(ctx: &mut ReadThenCondition, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let n = pt_await!(ctx.poll_read(cx))?;
        if n == 0 {
            return Ok(());
        }
        pt_wait_until!(ctx.go());
        ctx.go.set(false);
    }
}

fn set_go(go: &mut Rc<Cell<bool>>, _cx: &mut Cx<'_>, _event: Event) {
    go.set(true);
}

#[test]
fn a_protothread_woken_by_its_socket_that_then_waits_on_a_condition_is_checked_after_each_event() {
    let mut memory = new_memory();
    let (trace, go) = (Trace::default(), Rc::new(Cell::new(false)));
    let mut contexts = [ReadThenCondition {
        pt: Pt::new(),
        stream: None,
        buf: [0; 16],
        go: Rc::clone(&go),
        trace: Rc::clone(&trace),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Rc::clone(&go)).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let source = ev.user_events_create().unwrap();
    ev.set_handler(source, Trigger::User(1), set_go).unwrap();
    let (h, _, mut client) = spawn_reader(
        &mut ev,
        pool,
        &trace,
        |c: &mut ReadThenCondition, stream| c.stream = Some(stream),
    );

    // Woken by its socket in the I/O step, it reads and stops at its condition; the
    // protothread step of the same iteration checks the condition again.
    client.write_all(b"a").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 2);
    assert_eq!(
        *trace.borrow(),
        [
            "read: pending",
            "read: \"a\"",
            "check: false",
            "check: false"
        ]
    );
    // Queued for its next check, not waiting on the socket.
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Runnable));

    // More data: it does not wait on the socket, so it is not resumed at the data; it is
    // checked once more, in the protothread step, as after anything that happens.
    client.write_all(b"b").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 1);
    assert_eq!(trace.borrow()[4..], ["check: false"]);
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Runnable));

    // Another event (a handler sets `go`): checked after it, it goes on, finds the data that
    // came meanwhile and stops at its condition again.
    ev.raise(source, 1).unwrap();
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 2);
    assert_eq!(
        trace.borrow()[5..],
        ["check: true", "read: \"b\"", "check: false"]
    );

    // End-of-stream, and `go` once more: it goes on, reads the end and ends.
    drop(client);
    ev.raise(source, 1).unwrap();
    run_until(&mut ev, "the end-of-stream", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(trace.borrow()[8..], ["check: true", "read: \"\""]);
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
}

// ----- a protothread that closes the socket it was woken by -----

/// Reads once, closes its stream, then waits for user event 1.
struct ReadCloseThenEvent {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    source: Option<Handle<UserEvents>>,
    buf: [u8; 16],
    trace: Trace,
}

#[protothread]
fn read_close_then_wait_for_an_event(
    ctx: &mut ReadCloseThenEvent,
    cx: &mut Cx<'_>,
) -> Result<(), Error> {
    pt_await!(traced_read(cx, ctx.stream, &mut ctx.buf, &ctx.trace))?;
    if let Some(s) = ctx.stream.take() {
        cx.close(s)?;
        note(&ctx.trace, "closed".to_string());
    }
    pt_await!(traced_event(cx, ctx.source, &ctx.trace))?;
    Ok(())
}

#[test]
fn a_protothread_that_closes_the_socket_it_waited_on_is_not_resumed_for_the_close() {
    let mut memory = new_memory();
    let trace = Trace::default();
    let mut contexts = [ReadCloseThenEvent {
        pt: Pt::new(),
        stream: None,
        source: None,
        buf: [0; 16],
        trace: Rc::clone(&trace),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let source = ev.user_events_create().unwrap();
    let (h, _, mut client) = spawn_reader(
        &mut ev,
        pool,
        &trace,
        |c: &mut ReadCloseThenEvent, stream| {
            c.stream = Some(stream);
            c.source = Some(source);
        },
    );

    // Woken by its socket, it reads, closes the socket (whose waiter it still is) and waits
    // for the event: one resume in that iteration, none for the close after it.
    client.write_all(b"a").unwrap();
    assert_eq!(one_iteration_woken_by_the_bytes(&mut ev), 1);
    for _ in 0..3 {
        assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 0);
    }
    assert_eq!(
        *trace.borrow(),
        ["read: pending", "read: \"a\"", "closed", "event: Pending"]
    );
    assert_eq!(ev.in_use().tcp_streams, 0);

    ev.raise(source, 1).unwrap();
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(trace.borrow()[4..], ["event: Ready(Ok(1))"]);
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
}

// ----- a handler set where a protothread waits -----

/// Reads until the end of the stream, noting each poll.
struct ReadOnly {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    buf: [u8; 16],
    trace: Trace,
}

#[protothread]
fn read_to_the_end(ctx: &mut ReadOnly, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let n = pt_await!(traced_read(cx, ctx.stream, &mut ctx.buf, &ctx.trace))?;
        if n == 0 {
            return Ok(());
        }
    }
}

fn ignore_event(_: &mut (), _cx: &mut Cx<'_>, _event: Event) {}

#[test]
fn a_handler_set_where_a_protothread_waits_wakes_it_and_its_wait_fails() {
    let mut memory = new_memory();
    let trace = Trace::default();
    let mut contexts = [ReadOnly {
        pt: Pt::new(),
        stream: None,
        buf: [0; 16],
        trace: Rc::clone(&trace),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let (h, stream, _client) = spawn_reader(&mut ev, pool, &trace, |c: &mut ReadOnly, stream| {
        c.stream = Some(stream)
    });

    // The handler takes the trigger: the protothread, which would never be woken again, is
    // resumed at once and its wait reports the conflict.
    ev.set_handler(stream, Trigger::Readable, ignore_event)
        .unwrap();
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(*trace.borrow(), ["read: pending", "read: InvalidArgument"]);
    assert_eq!(
        ev.pt_status(h),
        Ok(PtStatus::Ended(Outcome::Failed(Error::InvalidArgument)))
    );

    // Removing the handler again leaves nothing behind: a new reader waits there normally.
    ev.remove_handler(stream, Trigger::Readable);
    trace.borrow_mut().clear();
    let h = ev
        .cx()
        .spawn_with(pool, |c: &mut ReadOnly| c.stream = Some(stream))
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(*trace.borrow(), ["read: pending"]);
    let Ok(PtStatus::Waiting { on, .. }) = ev.pt_status(h) else {
        panic!("unexpected status {:?}", ev.pt_status(h));
    };
    assert_eq!(on, Some((stream.raw(), Trigger::Readable)));
}
