//! The steps of one iteration after the poll (timers, I/O, remote work, protothreads), each
//! calling handlers or resuming protothreads through the loop's [`Cx`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::cx::Cx;
use crate::event::{Event, EventKind, Trigger};
use crate::handle::{RawHandle, ResourceType};
use crate::status::Outcome;

#[cfg(not(target_pointer_width = "64"))]
use super::backend::short;
use super::backend::{Events, Readiness};
use super::core::Core;
use super::protothreads::{Task, TaskStep};
use super::remote::PostQueue;
use super::side::Dir;
use super::timers::Purpose;
use super::waiter::Waiter;
use super::watch_steps::fire_periodic;

/// Step 2: every timer whose deadline has passed, in deadline order.
pub(super) fn fire_timers<A: 'static>(cx: &mut Cx<'_>, state: &mut A) -> usize {
    let now = cx.core.clock.now();
    let mut calls = 0;
    while let Some(t) = cx.core.timers.pop_expired(now) {
        match t.purpose {
            Purpose::ConnectDeadline(stream) => {
                cx.core.timers.remove(t.handle);
                if let Ok(s) = cx.core.streams.get_mut(stream) {
                    s.connect_timed_out();
                }
                calls += dispatch_io(cx, state, stream, Dir::Write, false);
            }
            Purpose::PtTimer(pt) => cx.core.wake_pt(pt),
            Purpose::Periodic(p) => calls += fire_periodic(cx, state, p, t.handle),
            Purpose::User => match t.waiter {
                Waiter::Handler(f) => {
                    let kind = EventKind::Expired { missed: t.missed };
                    f.call(
                        state,
                        cx,
                        Event {
                            handle: t.handle,
                            kind,
                        },
                    );
                    calls += 1;
                }
                Waiter::Pt(pt) => cx.core.wake_pt(pt),
                Waiter::None => {}
            },
        }
    }
    calls
}

/// Step 3: sockets still ready after their handler ran last iteration, then this poll's
/// reports.
#[inline(always)]
pub(super) fn run_io<A: 'static>(cx: &mut Cx<'_>, state: &mut A, events: &Events) -> usize {
    let mut calls = 0;
    if cx.core.ready.len() != 0 {
        calls += run_ready(cx, state);
    }
    if !events.ops().is_empty() {
        calls += run_completions(cx, state, events);
    }
    for r in events.reports() {
        // A stream's report, the hot path (picked by the handle's type field; the whole handle
        // is checked against its slot just below), then a protothread reader is resumed here.
        if token_type(r.token) == ResourceType::TcpStream as u8 {
            if let Some(h) = socket_handle(&cx.core, r.token) {
                let Ok(s) = cx.core.streams.get_mut(h) else {
                    continue; // stale: closed (or reused) since the event was queued
                };
                s.on_readiness(&r);
                // A stream with a multishot receive armed is woken by its completions.
                if r.read && !s.ring.armed {
                    if let Waiter::Pt(pt) = s.read.waiter {
                        calls += resume_woken(cx, pt, (h, Trigger::Readable));
                    } else {
                        calls += dispatch_io(cx, state, h, Dir::Read, true);
                    }
                }
                if r.write {
                    calls += stream_writable(cx, state, h);
                }
            }
            continue;
        }
        if r.token == 0 {
            // The doorbell: a remote left work, done in `run_remote`.
            cx.core.due |= Core::REMOTE_DUE;
        } else if let Some(h) = socket_handle(&cx.core, r.token) {
            calls += other_readiness(cx, state, h, r);
        }
    }
    calls
}

/// The completions of receives and sends in the ring: each applied to its stream, whose
/// reader or writer is then woken as by a report.
#[inline(never)]
fn run_completions<A: 'static>(cx: &mut Cx<'_>, state: &mut A, events: &Events) -> usize {
    let mut calls = 0;
    for &d in events.ops() {
        let Some((h, dir)) = cx.core.ring_done(d) else {
            continue;
        };
        calls += match dir {
            Dir::Read => {
                let waiter = cx.core.side(h, Dir::Read).map(|s| s.waiter);
                if let Some(Waiter::Pt(pt)) = waiter {
                    resume_woken(cx, pt, (h, Trigger::Readable))
                } else {
                    dispatch_io(cx, state, h, Dir::Read, true)
                }
            }
            Dir::Write => stream_writable(cx, state, h),
        };
    }
    calls
}

/// The type field of a report's token.
#[inline(always)]
fn token_type(token: u64) -> u8 {
    #[cfg(target_pointer_width = "64")]
    return token as u8;
    #[cfg(not(target_pointer_width = "64"))]
    return short::ty(token);
}

/// The handle a report's token names: the token itself where it holds a whole handle (the
/// pool checks it on use).
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn socket_handle(_: &Core<'_>, token: u64) -> Option<RawHandle> {
    RawHandle::from_u64(token)
}

/// The handle a report's short token names: the live handle of its slot, if type and low
/// generation bits match (see [`short`]).
#[cfg(not(target_pointer_width = "64"))]
fn socket_handle(core: &Core<'_>, token: u64) -> Option<RawHandle> {
    let i = short::slot(token);
    let h = match ResourceType::from_u8(short::ty(token))? {
        ResourceType::TcpStream => core.streams.handle_at(i)?,
        ResourceType::TcpListener => core.listeners.handle_at(i)?,
        ResourceType::UdpSocket => core.udp.handle_at(i)?,
        ResourceType::Loop => RawHandle::new(ResourceType::Loop, core.id, 0, 0),
        _ => return None,
    };
    short::names(token, h).then_some(h)
}

/// The sockets still ready after their handler ran in the previous iteration, in the order
/// they were queued.
#[inline(never)]
fn run_ready<A: 'static>(cx: &mut Cx<'_>, state: &mut A) -> usize {
    let mut calls = 0;
    for _ in 0..cx.core.ready.len() {
        let Some((h, dir)) = cx.core.ready.pop() else {
            break;
        };
        if let Some(side) = cx.core.side_mut(h, dir) {
            side.queued = false;
        }
        calls += dispatch_io(cx, state, h, dir, true);
    }
    calls
}

/// A report about a listener or a UDP socket.
#[inline(never)]
fn other_readiness<A: 'static>(
    cx: &mut Cx<'_>,
    state: &mut A,
    h: RawHandle,
    r: Readiness,
) -> usize {
    let mut calls = 0;
    match h.resource_type() {
        ResourceType::TcpListener => {
            let Ok(l) = cx.core.listeners.get_mut(h) else {
                return 0;
            };
            l.read.ready |= r.read;
            if r.read {
                calls += dispatch_io(cx, state, h, Dir::Read, true);
            }
        }
        // The loop's own handle names its signal pipe.
        ResourceType::Loop => {
            let arrived = cx.core.signals.collect();
            cx.core.due |= if arrived { Core::SIGNALS_DUE } else { 0 };
        }
        ResourceType::UdpSocket => {
            let Ok(u) = cx.core.udp.get_mut(h) else {
                return 0;
            };
            u.read.ready |= r.read;
            u.write.ready |= r.write;
            if r.read {
                calls += dispatch_io(cx, state, h, Dir::Read, true);
            }
            if r.write {
                calls += dispatch_io(cx, state, h, Dir::Write, true);
            }
        }
        _ => {}
    }
    calls
}

/// A writable edge of stream `h`: settles a connect in progress, then dispatches.
#[inline(never)]
fn stream_writable<A: 'static>(cx: &mut Cx<'_>, state: &mut A, h: RawHandle) -> usize {
    let (timer, sending) = match cx.core.streams.get_mut(h) {
        Ok(s) => (s.finish_connect(), s.bufs.sending()),
        Err(_) => return 0,
    };
    if let Some(t) = timer {
        cx.core.timers.remove(t);
    }
    if sending {
        cx.core.flush_on_writable(h);
    }
    dispatch_io(cx, state, h, Dir::Write, true)
}

/// Calls the handler of `(h, dir)` if it has one and the direction is ready; afterwards
/// queues it again if it is still ready. A protothread waiting there is resumed now if
/// `resume` (the I/O step), else queued. Write interest nobody waits for is disarmed.
#[inline(never)]
fn dispatch_io<A: 'static>(
    cx: &mut Cx<'_>,
    state: &mut A,
    h: RawHandle,
    dir: Dir,
    resume: bool,
) -> usize {
    let Some(side) = cx.core.side(h, dir) else {
        return 0;
    };
    match (side.waiter, side.ready) {
        (Waiter::Handler(f), true) => {
            let kind = match dir {
                Dir::Read => EventKind::Readable,
                Dir::Write => EventKind::Writable,
            };
            f.call(state, cx, Event { handle: h, kind });
            cx.core.requeue_if_ready(h, dir);
            1
        }
        (Waiter::Handler(_), false) => 0,
        (Waiter::Pt(pt), _) => {
            let trigger = match dir {
                Dir::Read => Trigger::Readable,
                Dir::Write => Trigger::Writable,
            };
            if resume {
                resume_woken_out_of_line(cx, pt, (h, trigger))
            } else {
                cx.core.pts.wake(pt, (h, trigger));
                0
            }
        }
        (Waiter::None, _) => {
            if dir == Dir::Write {
                cx.core.disarm_write(h);
            }
            0
        }
    }
}

/// Signals that arrived (end of step 3): every watcher holding an arrival that has a waiter
/// is told, in slot order. Handlers get [`EventKind::Signal`]; a waiting protothread is
/// queued and takes the arrival itself when it polls again.
#[inline(never)]
pub(super) fn deliver_signals<A: 'static>(cx: &mut Cx<'_>, state: &mut A) -> usize {
    cx.core.due &= !Core::SIGNALS_DUE;
    let mut calls = 0;
    for i in 0..cx.core.signals.capacity() {
        let Some((h, w)) = cx.core.signals.at(i) else {
            continue;
        };
        if !w.arrived {
            continue;
        }
        match w.waiter {
            Waiter::Handler(f) => {
                let signo = w.signo();
                if let Ok(w) = cx.core.signals.get_mut(h) {
                    w.arrived = false;
                }
                let kind = EventKind::Signal { signo };
                f.call(state, cx, Event { handle: h, kind });
                calls += 1;
            }
            Waiter::Pt(pt) => {
                if let Ok(w) = cx.core.signals.get_mut(h) {
                    w.waiter = Waiter::None;
                }
                cx.core.wake_pt(pt);
            }
            Waiter::None => {} // stays latched
        }
    }
    calls
}

/// Step 4: raised user events, then the posted calls queued before this step began.
pub(super) fn run_remote<A: 'static>(
    cx: &mut Cx<'_>,
    state: &mut A,
    posts: &PostQueue<A>,
) -> usize {
    let Some(shared) = cx.core.shared.as_ref().map(Arc::clone) else {
        return 0;
    };
    // Only run when due (the doorbell's token came back, or work was left on this thread):
    // take the doorbell, so that the next ring wakes the poller again.
    shared.doorbell.swap(false, Ordering::AcqRel);
    cx.core.due &= !Core::REMOTE_DUE;
    if shared.stop.load(Ordering::Relaxed) && shared.stop.swap(false, Ordering::AcqRel) {
        cx.core.due |= Core::STOP;
    }
    cx.core.drain_remote_signals();
    let mut calls = 0;
    shared.sources.drain(|i, mask| {
        let mut bits = mask;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some((h, entry)) = cx.core.user.at(i) else {
                return;
            };
            let f = match entry.waiters[k] {
                Waiter::Handler(f) => f,
                Waiter::Pt(pt) => {
                    // The protothread takes the count itself when it polls again.
                    if let Ok(e) = cx.core.user.get_mut(h) {
                        e.waiters[k] = Waiter::None;
                    }
                    cx.core.wake_pt(pt);
                    continue;
                }
                Waiter::None => continue, // stays latched
            };
            let count = shared.sources.take(h, k);
            let Some(id) = shared.sources.id_at(h, k) else {
                continue;
            };
            if count > 0 {
                let kind = EventKind::User { id, count };
                f.call(state, cx, Event { handle: h, kind });
                calls += 1;
            }
        }
    });
    for _ in 0..posts.len() {
        let Some((f, arg)) = posts.pop() else {
            break;
        };
        cx.core.run.end();
        f(state, cx, arg);
        calls += 1;
    }
    calls
}

/// Step 5: the protothreads that were runnable when this step began, in queue order.
pub(super) fn run_protothreads(cx: &mut Cx<'_>) -> usize {
    let mut resumed = 0;
    for _ in 0..cx.core.pts.run_len() {
        let Some((i, resume)) = cx.core.pts.pop_resume() else {
            break;
        };
        let Some((h, task, timed)) = resume else {
            continue;
        };
        resume_now(cx, i, h, task, timed);
        resumed += 1;
    }
    resumed
}

/// Wakes protothread `pt`, whose registration on `on` just fired: resumed right away when it
/// waits on `on` and is not already queued, else queued as
/// [`wake`](super::protothreads::Protothreads::wake) does. Returns how many resumes it made.
#[inline(always)]
fn resume_woken(cx: &mut Cx<'_>, pt: RawHandle, on: (RawHandle, Trigger)) -> usize {
    match cx.core.pts.take_woken(pt, on) {
        Some((i, task, timed)) => {
            resume_now(cx, i, pt, task, timed);
            1
        }
        None => {
            cx.core.pts.wake(pt, on);
            0
        }
    }
}

/// [`resume_woken`] for the paths other than a stream's read, kept out of the I/O loop.
#[inline(never)]
fn resume_woken_out_of_line(cx: &mut Cx<'_>, pt: RawHandle, on: (RawHandle, Trigger)) -> usize {
    resume_woken(cx, pt, on)
}

/// Resumes entry `i` (handle `h`, `timed` if it has a sleep, a deadline or a timer), whose
/// context was taken out as `task`, then puts the context back and queues or ends the entry
/// as its step says.
#[inline(always)]
fn resume_now<'s>(
    cx: &mut Cx<'s>,
    i: u32,
    h: RawHandle,
    task: &'s mut (dyn Task + 'static),
    timed: bool,
) {
    cx.core.begin_resume(h, timed);
    let step = task.resume_task(cx);
    let core = &mut cx.core;
    let waits = core.finish_resume(i);
    core.pts.put_back(i, task);
    if waits && matches!(step, TaskStep::Pending) {
        return; // the usual end: waiting where it was woken, or elsewhere
    }
    if core.run.kill_requested() {
        core.end_pt(i, Outcome::Killed);
        return;
    }
    match step {
        TaskStep::Ended(outcome) => core.end_pt(i, outcome),
        TaskStep::Yielded => core.pts.push_run(i),
        TaskStep::Pending if core.run.yield_requested() => core.pts.push_run(i),
        // Waiting on a bare condition: check it again after the next thing that happens.
        TaskStep::Pending => core.pts.push_repoll(i),
    }
}
