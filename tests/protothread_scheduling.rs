//! Protothreads written with `#[protothread]` on the mio loop, scheduled: the order of resumes
//! within one iteration, and fairness under a protothread that never has to wait.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{connected_pair, new_memory, run_until};
use ptk::{
    protothread, Capacities, Config, Cx, Error, Event, EventLoop, Handle, Outcome, OwnedStorage,
    Pt, PtStatus, TcpStream, Trigger, UdpSocket, UserEvents,
};

const WAIT: Duration = Duration::from_secs(10);

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
