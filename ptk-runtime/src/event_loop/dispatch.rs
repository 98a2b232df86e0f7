//! Dispatch: the steps of one iteration after the poll (timers, I/O, remote work,
//! protothreads), each calling handlers or waking protothreads.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::cx::{Cx, Handler};
use crate::event::{Event, EventKind, Trigger};
use crate::handle::{Handle, RawHandle, ResourceType};
use crate::io::Io;
use crate::status::Outcome;

use super::core::Core;
use super::protothreads::{Task, TaskStep};
use super::ready::Dir;
use super::timers::Purpose;
use super::waiter::Waiter;

fn call<A: 'static>(core: &mut Core<'_, A>, app: &mut A, f: Handler<A>, ev: Event) {
    let mut cx = Cx::new(core, None);
    f(app, &mut cx, ev);
}

pub(super) fn fire_timers<A: 'static>(core: &mut Core<'_, A>, app: &mut A) -> usize {
    let now = core.now();
    let mut calls = 0;
    while let Some(slot) = core.timer_queue.pop_expired(&mut core.timers, now) {
        let Some((h, t)) = core.timers.get_by_index_mut(slot as usize) else {
            continue;
        };
        match t.purpose {
            Purpose::ConnectDeadline(stream) => {
                let _ = core.timers.remove(h);
                core.connect_timed_out(stream);
                calls += dispatch_io(core, app, stream, Dir::Write, false);
            }
            Purpose::PtTimer(pt) => core.wake_pt(pt),
            Purpose::User => {
                let waiter = t.waiter;
                let mut missed = 0;
                if t.repeating {
                    let periods = (now - t.deadline) / t.interval;
                    missed = periods.min(u64::from(u32::MAX)) as u32;
                    let next = t
                        .deadline
                        .saturating_add((periods + 1).saturating_mul(t.interval));
                    core.timer_queue.arm(&mut core.timers, slot, next);
                }
                match waiter {
                    Waiter::Handler(f) => {
                        let kind = EventKind::Expired { missed };
                        call(core, app, f, Event { handle: h, kind });
                        calls += 1;
                    }
                    Waiter::Pt(pt) => {
                        if let Ok(t) = core.timers.get_mut(h) {
                            t.waiter = Waiter::None;
                        }
                        core.wake_pt(pt);
                    }
                    Waiter::None => {}
                }
            }
        }
    }
    calls
}

pub(super) fn run_io<A: 'static>(
    core: &mut Core<'_, A>,
    app: &mut A,
    events: &mio::Events,
) -> usize {
    let mut calls = 0;
    for _ in 0..core.ready.len() {
        let Some((h, dir)) = core.ready.pop() else {
            break;
        };
        core.unqueue(h, dir);
        calls += dispatch_io(core, app, h, dir, true);
    }
    for event in events.iter() {
        // The doorbell's token (0) is no handle: remote work is found in `run_remote`.
        let Some(h) = RawHandle::from_u64(event.token().0 as u64) else {
            continue;
        };
        let read = event.is_readable() || event.is_read_closed() || event.is_error();
        let write = event.is_writable() || event.is_write_closed() || event.is_error();
        match h.resource_type() {
            ResourceType::TcpStream => {
                // The hot path: one handle check, then a protothread reader is woken in place.
                let Ok(i) = core.streams.index_of(h) else {
                    continue; // stale: closed (or reused) since the event was queued
                };
                let Some(s) = core.streams.at_mut(i) else {
                    continue;
                };
                s.readable |= read;
                s.writable |= write;
                s.read_closed |= event.is_read_closed() || event.is_error();
                if read {
                    if let Waiter::Pt(pt) = s.read {
                        s.read = Waiter::None;
                        calls += resume_woken(core, pt, (h, Trigger::Readable));
                    } else {
                        calls += dispatch_io(core, app, h, Dir::Read, true);
                    }
                }
                if write {
                    core.finish_connect(h);
                    calls += dispatch_io(core, app, h, Dir::Write, true);
                }
            }
            ResourceType::TcpListener => {
                let Ok(l) = core.listeners.get_mut(h) else {
                    continue;
                };
                l.readable |= read;
                if read {
                    calls += dispatch_io(core, app, h, Dir::Read, true);
                }
            }
            ResourceType::UdpSocket => {
                let Ok(u) = core.udp.get_mut(h) else {
                    continue;
                };
                u.readable |= read;
                u.writable |= write;
                if read {
                    calls += dispatch_io(core, app, h, Dir::Read, true);
                }
                if write {
                    calls += dispatch_io(core, app, h, Dir::Write, true);
                }
            }
            _ => {}
        }
    }
    calls
}

/// Calls the handler of `(h, dir)` if it has one and the direction is ready; afterwards
/// queues it again if it is still ready. A protothread waiting there is resumed now if
/// `resume` (the I/O step), else queued. Write interest nobody waits for is disarmed.
fn dispatch_io<A: 'static>(
    core: &mut Core<'_, A>,
    app: &mut A,
    h: RawHandle,
    dir: Dir,
    resume: bool,
) -> usize {
    let Some((waiter, ready)) = core.io_waiter(h, dir) else {
        return 0;
    };
    match waiter {
        Waiter::Handler(f) if ready => {
            let kind = match dir {
                Dir::Read => EventKind::Readable,
                Dir::Write => EventKind::Writable,
            };
            call(core, app, f, Event { handle: h, kind });
            core.requeue_if_ready(h, dir);
            1
        }
        Waiter::Handler(_) => 0,
        Waiter::Pt(pt) => {
            // One-shot: the protothread re-polls and registers again if it must wait.
            if let Some(slot) = core.io_waiter_slot(h, dir) {
                *slot = Waiter::None;
            }
            let trigger = match dir {
                Dir::Read => Trigger::Readable,
                Dir::Write => Trigger::Writable,
            };
            if resume {
                resume_woken_out_of_line(core, pt, (h, trigger))
            } else {
                core.pts.wake(pt, (h, trigger));
                0
            }
        }
        Waiter::None => {
            if dir == Dir::Write {
                match h.resource_type() {
                    ResourceType::TcpStream => core.disarm_stream_write(h),
                    ResourceType::UdpSocket => core.disarm_udp_write(h),
                    _ => {}
                }
            }
            0
        }
    }
}

pub(super) fn run_remote<A: 'static>(core: &mut Core<'_, A>, app: &mut A) -> usize {
    if !core.shared.doorbell.swap(false, Ordering::AcqRel) {
        return 0;
    }
    core.drain_remote_signals();
    let shared = Arc::clone(&core.shared);
    let mut calls = 0;
    shared.sources.drain(|i, mask| {
        let mut bits = mask;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some((h, entry)) = core.user.get_by_index(i) else {
                return;
            };
            let f = match entry.waiters[k] {
                Waiter::Handler(f) => f,
                Waiter::Pt(pt) => {
                    // The protothread takes the count itself when it re-polls.
                    if let Ok(e) = core.user.get_mut(h) {
                        e.waiters[k] = Waiter::None;
                    }
                    core.wake_pt(pt);
                    continue;
                }
                Waiter::None => continue, // stays latched
            };
            let count = shared.sources.take(h, k);
            let Some(id) = shared.sources.id_at(h, k) else {
                continue;
            };
            if count > 0 {
                call(
                    core,
                    app,
                    f,
                    Event {
                        handle: h,
                        kind: EventKind::User { id, count },
                    },
                );
                calls += 1;
            }
        }
    });
    for _ in 0..shared.posts_len() {
        let Some((f, arg)) = shared.pop_post() else {
            break;
        };
        let mut cx = Cx::new(core, None);
        f(app, &mut cx, arg);
        calls += 1;
    }
    calls
}

/// Resumes the protothreads that were runnable when this step began, in queue order.
pub(super) fn run_protothreads<A: 'static>(core: &mut Core<'_, A>) -> usize {
    let mut resumed = 0;
    for _ in 0..core.pts.run_len() {
        let Some((i, resume)) = core.pts.pop_resume() else {
            break;
        };
        let Some((h, task)) = resume else {
            continue;
        };
        resume_now(core, i, h, task);
        resumed += 1;
    }
    resumed
}

/// Wakes protothread `pt`, whose registration on `on` just fired (and was cleared): resumed
/// right away when it waits on `on` and is not already queued, else queued as
/// [`wake`](super::protothreads::Protothreads::wake) does. Returns how many resumes it made.
#[inline(always)]
fn resume_woken<A: 'static>(
    core: &mut Core<'_, A>,
    pt: RawHandle,
    on: (RawHandle, Trigger),
) -> usize {
    match core.pts.take_woken(pt, on) {
        Some((i, task)) => {
            resume_now(core, i, pt, task);
            1
        }
        None => {
            core.pts.wake(pt, on);
            0
        }
    }
}

/// [`resume_woken`] for the paths other than a stream's read, kept out of the I/O loop.
#[inline(never)]
fn resume_woken_out_of_line<A: 'static>(
    core: &mut Core<'_, A>,
    pt: RawHandle,
    on: (RawHandle, Trigger),
) -> usize {
    resume_woken(core, pt, on)
}

/// Resumes entry `i` (handle `h`), whose context was taken out as `task`, then puts the
/// context back and queues or ends the entry as its step says.
#[inline(always)]
fn resume_now<'s, A: 'static>(
    core: &mut Core<'s, A>,
    i: u32,
    h: RawHandle,
    task: &'s mut (dyn Task + 'static),
) {
    core.begin_resume(h);
    let step = {
        let mut cx = Cx::new(core, Some(Handle::from_raw_unchecked(h)));
        task.resume_task(&mut cx)
    };
    core.current = None;
    core.pts.put_back(i, task);
    if core.kill_current {
        core.kill_current = false;
        core.end_pt(i, Outcome::Killed);
        return;
    }
    match step {
        TaskStep::Pending if !core.yield_requested && core.registered => {}
        TaskStep::Ended(outcome) => core.end_pt(i, outcome),
        TaskStep::Yielded => core.pts.push_run(i),
        TaskStep::Pending if core.yield_requested => core.pts.push_run(i),
        // Waiting on a bare condition: check it again after the next thing that happens.
        TaskStep::Pending => core.pts.push_repoll(i),
    }
}

/// Closes every live handle `at` finds among `capacity` slots; returns how many.
pub(super) fn close_every<A: 'static>(
    core: &mut Core<'_, A>,
    at: impl Fn(&Core<'_, A>, usize) -> Option<RawHandle>,
    capacity: impl Fn(&Core<'_, A>) -> usize,
) -> usize {
    let mut closed = 0;
    for i in 0..capacity(core) {
        if let Some(h) = at(core, i) {
            if core.close(h).is_ok() {
                closed += 1;
            }
        }
    }
    closed
}
