//! Several loops: library-managed threads, foreign handles, growing storage, the last error
//! and the documented order of one iteration.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use common::net::{client, echo_round_trip, on_accept, Net};
use common::run_until;
use ptk_runtime::{
    Capacities, Config, Cx, Error, Event, EventKind, EventLoop, ListenOptions, LoopThreads,
    OwnedStorage, ThreadsConfig, Trigger,
};

const WAIT: Duration = Duration::from_secs(5);

fn lo() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

type Seen = Arc<Mutex<Vec<(usize, String)>>>;

struct Worker {
    index: usize,
    seen: Seen,
}

fn record_thread(w: &mut Worker, _cx: &mut Cx<'_>, arg: u64) {
    let name = std::thread::current().name().unwrap_or("?").to_string();
    w.seen.lock().unwrap().push((w.index + arg as usize, name));
}

#[test]
fn loop_threads_run_two_loops_until_stopped() {
    let seen: Seen = Arc::default();
    let for_workers = Arc::clone(&seen);
    let threads = LoopThreads::spawn(
        ThreadsConfig {
            workers: 2,
            ..ThreadsConfig::default()
        },
        move |index| Worker {
            index,
            seen: Arc::clone(&for_workers),
        },
        |_, ev| ev.timer_create().map(|_| ()),
    )
    .unwrap();
    assert!(threads.is_running());
    let remotes = threads.remotes();
    assert_eq!(remotes.len(), 2);
    assert_ne!(remotes[0].loop_id(), remotes[1].loop_id());
    for r in remotes {
        r.post(record_thread, 0).unwrap();
    }
    common::wait_for("both posts", WAIT, || seen.lock().unwrap().len() == 2);
    let mut got = seen.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        [(0, "ptk-loop-0".to_string()), (1, "ptk-loop-1".to_string())]
    );
    assert!(
        !threads.wait_timeout(Duration::from_millis(10)),
        "still running"
    );
    threads.stop();
    assert!(threads.wait_timeout(WAIT));
    assert!(!threads.is_running());
    assert_eq!(threads.wait(), Ok(()));
}

#[test]
fn loop_threads_report_a_failing_setup() {
    let r = LoopThreads::spawn(
        ThreadsConfig {
            workers: 2,
            ..ThreadsConfig::default()
        },
        |_| (),
        |worker, ev| {
            if worker == 1 {
                let t = ev.timer_create()?;
                ev.timer_start(t, 0, false)
            } else {
                Ok(())
            }
        },
    );
    assert_eq!(r.err(), Some(Error::InvalidArgument));
}

#[test]
fn a_handle_of_one_loop_is_rejected_by_another() {
    let mut memory_a = OwnedStorage::new(Capacities::default());
    let mut memory_b = OwnedStorage::new(Capacities::default());
    let mut a = EventLoop::new(memory_a.storage(), Config::default(), ()).unwrap();
    let mut b = EventLoop::new(memory_b.storage(), Config::default(), ()).unwrap();
    let ta = a.timer_create().unwrap();
    let tb = b.timer_create().unwrap();
    assert_eq!(
        (ta.raw().slot(), ta.raw().generation()),
        (tb.raw().slot(), tb.raw().generation())
    );
    assert_eq!(b.timer_start(ta, 10, false), Err(Error::InvalidHandle));
    assert_eq!(b.timer_stop(ta), Err(Error::InvalidHandle));
    assert_eq!(b.close(ta.raw()), Err(Error::InvalidHandle));
    let ua = a.udp_bind(lo()).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        b.recv_from(ua, &mut buf),
        Poll::Ready(Err(Error::InvalidHandle))
    );
    assert_eq!(b.local_addr(ua.raw()), Err(Error::InvalidHandle));
    // Both loops still own theirs.
    a.timer_start(ta, 10, false).unwrap();
    b.timer_start(tb, 10, false).unwrap();
}

fn count_tick(n: &mut u64, _cx: &mut Cx<'_>, _ev: Event) {
    *n += 1;
}

fn note_tick(ticks: &mut Vec<&'static str>, _cx: &mut Cx<'_>, _ev: Event) {
    ticks.push("tick");
}

#[test]
fn a_loop_whose_cx_was_swapped_with_another_loops_calls_no_handler_of_the_other() {
    let mut memory_a = OwnedStorage::new(Capacities::default());
    let mut memory_b = OwnedStorage::new(Capacities::default());
    let mut a = EventLoop::new(memory_a.storage(), Config::default(), 0u64).unwrap();
    let mut b = EventLoop::new(memory_b.storage(), Config::default(), Vec::new()).unwrap();
    let (id_a, id_b) = (a.id(), b.id());
    let ta = a.timer_create().unwrap();
    a.set_handler(ta, Trigger::Expired, count_tick).unwrap();
    let tb = b.timer_create().unwrap();
    b.set_handler(tb, Trigger::Expired, note_tick).unwrap();

    // Safe code can exchange the loop state behind two loops' `Cx`: each loop then runs the
    // other's timers, whose handlers take the other application type, so none is called.
    std::mem::swap(a.cx(), b.cx());
    b.timer_start(ta, 1, false).unwrap();
    a.timer_start(tb, 1, false).unwrap();
    run_until(&mut a, "b's timer, in a", WAIT, 1_000, |a| {
        !a.timer_is_armed(tb).unwrap()
    });
    run_until(&mut b, "a's timer, in b", WAIT, 1_000, |b| {
        !b.timer_is_armed(ta).unwrap()
    });
    assert_eq!(*a.app(), 0);
    assert!(b.app().is_empty());
    assert_eq!((a.id(), b.id()), (id_a, id_b));
    // A loop left with a detached `Cx` reports it instead of running, and still has remotes.
    let mut detached: Cx<'_> = Cx::detached();
    std::mem::swap(a.cx(), &mut detached);
    assert_eq!(a.run_once(Some(Duration::ZERO)), Err(Error::NotSupported));
    drop(a.remote());
    std::mem::swap(a.cx(), &mut detached);

    // Swapped back, each calls its own handlers again.
    std::mem::swap(a.cx(), b.cx());
    a.timer_start(ta, 1, false).unwrap();
    b.timer_start(tb, 1, false).unwrap();
    run_until(&mut a, "a's timer", WAIT, 1_000, |a| *a.app() == 1);
    run_until(&mut b, "b's timer", WAIT, 1_000, |b| b.app().len() == 1);
    assert_eq!(*a.app(), 1);
    assert_eq!(*b.app(), ["tick"]);
}

fn on_tick(net: &mut Net, _cx: &mut Cx<'_>, _ev: Event) {
    net.data_calls += 1; // this test's loop counts timer ticks here
}

#[test]
fn grow_keeps_every_live_handle_working_and_rejects_smaller_storage() {
    let small = Capacities {
        timers: 2,
        tcp_listeners: 1,
        tcp_streams: 2,
        udp_sockets: 1,
        user_event_sources: 2,
        semaphores: 1,
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
    let large = Capacities {
        timers: 8,
        tcp_listeners: 2,
        tcp_streams: 8,
        udp_sockets: 4,
        user_event_sources: 2,
        semaphores: 1,
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
    let mut memory_small = OwnedStorage::new(small);
    let mut memory_large = OwnedStorage::new(large);
    let mut memory_tiny = OwnedStorage::new(Capacities {
        tcp_streams: 1,
        ..small
    });
    let net = Net {
        echo: true,
        ..Net::default()
    };
    let mut ev = EventLoop::new(memory_small.storage(), Config::default(), net).unwrap();
    let l = ev.tcp_listen(lo(), &ListenOptions::default()).unwrap();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    let addr = ev.local_addr(l.raw()).unwrap();
    let mut c = client(addr);
    run_until(&mut ev, "the accept", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == 1
    });
    assert_eq!(echo_round_trip(&mut ev, &mut c, b"before"), b"before");
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, on_tick).unwrap();
    ev.timer_start(t, 20, true).unwrap();
    let deadline = ev.timer_deadline(t).unwrap();
    let u = ev.udp_bind(lo()).unwrap();
    let u_addr = ev.local_addr(u.raw()).unwrap();
    let source = ev.user_events_create().unwrap();
    assert_eq!(ev.timer_create().map(|_| ()), Ok(()));
    assert!(ev.timer_create().is_err(), "the small pool is full");

    assert_eq!(
        ev.grow(memory_tiny.storage()).err(),
        Some(Error::InvalidArgument)
    );
    assert_eq!(ev.last_error(), Some(Error::InvalidArgument));
    assert_eq!(ev.capacities(), small);

    let old = ev.grow(memory_large.storage()).unwrap();
    assert_eq!(old.capacities(), small);
    assert!(old.timers.iter().all(|s| !s.is_used()));
    assert_eq!(ev.capacities(), large);
    assert_eq!(ev.in_use().timers, 2);
    assert_eq!(ev.in_use().tcp_streams, 1);

    // Everything made before still works.
    assert_eq!(ev.timer_deadline(t), Ok(deadline));
    run_until(&mut ev, "ticks after grow", WAIT, 10_000, |ev| {
        ev.app().data_calls >= 2
    });
    assert_eq!(echo_round_trip(&mut ev, &mut c, b"after"), b"after");
    assert_eq!(ev.send_to(u, b"self", u_addr), Poll::Ready(Ok(4)));
    let mut buf = [0u8; 8];
    assert_eq!(ev.recv_from(u, &mut buf), Poll::Ready(Ok((4, u_addr))));
    ev.raise(source, 5).unwrap();
    assert_eq!(ev.take_event(source, 5), Poll::Ready(Ok(1)));
    // And the new room is usable.
    let mut c2 = client(addr);
    run_until(&mut ev, "an accept after grow", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == 2
    });
    assert_eq!(echo_round_trip(&mut ev, &mut c2, b"new"), b"new");
    for _ in 0..6 {
        ev.timer_create().unwrap();
    }
    assert_eq!(ev.in_use().timers, 8);
}

#[test]
fn last_error_is_the_error_of_the_last_failed_operation() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    assert_eq!(ev.last_error(), None);
    let t = ev.timer_create().unwrap();
    assert_eq!(ev.last_error(), None);
    assert_eq!(ev.timer_start(t, 0, false), Err(Error::InvalidArgument));
    assert_eq!(ev.last_error(), Some(Error::InvalidArgument));
    ev.timer_start(t, 10, false).unwrap();
    assert_eq!(
        ev.last_error(),
        Some(Error::InvalidArgument),
        "a success does not clear it"
    );
    ev.close(t.raw()).unwrap();
    assert_eq!(ev.close(t.raw()), Err(Error::InvalidHandle));
    assert_eq!(ev.last_error(), Some(Error::InvalidHandle));
}

fn trace_event(trace: &mut Vec<&'static str>, cx: &mut Cx<'_>, ev: Event) {
    trace.push(match ev.kind {
        EventKind::Expired { .. } => "timer",
        EventKind::Readable => {
            let mut buf = [0u8; 16];
            let u = ev.handle.typed().unwrap();
            while let Poll::Ready(r) = cx.recv_from(u, &mut buf) {
                r.unwrap();
            }
            "io"
        }
        EventKind::User { .. } => "user event",
        EventKind::Writable => "writable",
        _ => "other",
    });
}

fn trace_post(trace: &mut Vec<&'static str>, _cx: &mut Cx<'_>, _arg: u64) {
    trace.push("post");
}

#[test]
fn one_iteration_runs_timers_then_io_then_user_events_then_posts() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Vec::new()).unwrap();
    let remote = ev.remote();
    // Posted and raised first, so that arrival order cannot explain the trace.
    remote.post(trace_post, 0).unwrap();
    let source = ev.user_events_create().unwrap();
    ev.set_handler(source, Trigger::User(1), trace_event)
        .unwrap();
    remote.raise(source, 1).unwrap();
    let u = ev.udp_bind(lo()).unwrap();
    ev.set_handler(u, Trigger::Readable, trace_event).unwrap();
    let u_addr = ev.local_addr(u.raw()).unwrap();
    assert_eq!(ev.send_to(u, b"ready", u_addr), Poll::Ready(Ok(5)));
    let t = ev.timer_create().unwrap();
    ev.set_handler(t, Trigger::Expired, trace_event).unwrap();
    ev.timer_start(t, 1, false).unwrap();
    // Let the 1 ms deadline pass without running the loop, so all four are due together.
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 4);
    assert_eq!(*ev.app(), ["timer", "io", "user event", "post"]);
}
