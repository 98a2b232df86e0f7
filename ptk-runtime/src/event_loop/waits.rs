//! Protothread waits: registering the running protothread on what it waits for, its deadline
//! and sleep timer, waking it, and cleaning up when it ends or is killed.

use std::task::Poll;

use crate::error::{Capacity, Error, Result};
use crate::event::Trigger;
use crate::handle::{RawHandle, ResourceType};
use crate::status::{Outcome, PtStatus};

use super::core::Core;
use super::protothreads::BUDGET;
use super::timers::{Purpose, TimerEntry};
use super::user_events::USER_EVENT_IDS;
use super::waiter::Waiter;

impl<A> Core<'_, A> {
    /// Spends one unit of the running protothread's budget before an operation; `true` when
    /// the budget is gone (the operation must answer `Pending` without doing anything, and the
    /// protothread is queued again behind the others).
    #[inline]
    pub(crate) fn out_of_budget(&mut self) -> bool {
        if self.current.is_none() {
            return false;
        }
        if self.budget == 0 {
            self.yield_requested = true;
            return true;
        }
        self.budget -= 1;
        false
    }

    /// Starts a resume of protothread `h`.
    #[inline]
    pub(crate) fn begin_resume(&mut self, h: RawHandle) {
        self.current = Some(h);
        self.budget = BUDGET;
        self.yield_requested = false;
        self.registered = false;
    }

    /// The answer of an operation that would have to wait: registers the running protothread
    /// (if any) on `on` and arms its timer; a passed deadline answers `Timeout` instead.
    pub(crate) fn pend<T>(&mut self, on: Option<(RawHandle, Trigger)>) -> Poll<Result<T>> {
        let Some(cur) = self.current else {
            return Poll::Pending;
        };
        if self.yield_requested {
            return Poll::Pending;
        }
        let i = cur.slot();
        if let Some(d) = self.pts.entries[i as usize].deadline {
            if self.now() >= d {
                // The wait that timed out is over, a sleep included: a sleep left behind
                // would keep its timer, which, once past, re-arms in the past on every wait.
                let e = &mut self.pts.entries[i as usize];
                e.deadline = None;
                e.sleep = None;
                self.clear_wait(i);
                let _ = self.sync_pt_timer(i);
                return Poll::Ready(Err(self.fail(Error::Timeout)));
            }
        }
        match on {
            Some((h, trigger)) => {
                if let Err(e) = self.register(cur, h, trigger) {
                    return Poll::Ready(Err(self.fail(e)));
                }
            }
            None => self.clear_wait(i),
        }
        let e = &self.pts.entries[i as usize];
        // Without a sleep, a deadline or a timer slot there is nothing to arm or give back.
        if e.sleep.is_some() || e.deadline.is_some() || e.timer.is_some() {
            if let Err(e) = self.sync_pt_timer(i) {
                return Poll::Ready(Err(self.fail(e)));
            }
        }
        self.registered = true;
        Poll::Pending
    }

    /// Makes protothread `pt` the waiter of `(h, trigger)`, replacing its previous wait.
    fn register(&mut self, pt: RawHandle, h: RawHandle, trigger: Trigger) -> Result<()> {
        let i = pt.slot();
        if self.pts.entries[i as usize].waiting == Some((h, trigger))
            && matches!(self.waiter_of(h, trigger), Some(Waiter::Pt(p)) if p == pt)
        {
            return Ok(());
        }
        if let Some(done) = self.register_io(pt, h, trigger) {
            return done;
        }
        self.clear_wait(i);
        if h.resource_type() == ResourceType::Semaphore {
            self.sem_enqueue(h, i)?;
            self.pts.entries[i as usize].waiting = Some((h, trigger));
            return Ok(());
        }
        match self.waiter_of(h, trigger) {
            Some(Waiter::Handler(_)) => return Err(Error::InvalidArgument),
            Some(Waiter::Pt(other)) if other != pt => self.wake_pt(other),
            _ => {}
        }
        self.set_waiter(h, trigger, Waiter::Pt(pt))?;
        self.pts.entries[i as usize].waiting = Some((h, trigger));
        Ok(())
    }

    /// Registration on a socket, the hot path: sets the waiter field in place. `None` when
    /// `(h, trigger)` is not a live socket direction (the general path then reports why).
    #[inline]
    fn register_io(&mut self, pt: RawHandle, h: RawHandle, trigger: Trigger) -> Option<Result<()>> {
        use super::ready::Dir;
        let dir = match trigger {
            Trigger::Readable => Dir::Read,
            Trigger::Writable => Dir::Write,
            _ => return None,
        };
        let i = pt.slot();
        // `clear_wait` does nothing without a wait: skip the call on the common path (the
        // protothread was woken, which cleared its wait).
        if matches!(self.pts.entries[i as usize].waiting, Some(w) if w != (h, trigger)) {
            self.clear_wait(i);
        }
        let slot = self.io_waiter_slot(h, dir)?;
        let displaced = match *slot {
            Waiter::Handler(_) => return Some(Err(Error::InvalidArgument)),
            Waiter::Pt(other) if other != pt => Some(other),
            _ => None,
        };
        *slot = Waiter::Pt(pt);
        self.pts.entries[i as usize].waiting = Some((h, trigger));
        let armed = match (h.resource_type(), dir) {
            (ResourceType::TcpStream, Dir::Write) => self.arm_stream_write(h),
            (ResourceType::UdpSocket, Dir::Write) => self.arm_udp_write(h),
            _ => Ok(()),
        };
        if let Some(other) = displaced {
            self.wake_pt(other);
        }
        Some(armed)
    }

    /// The current waiter of `(h, trigger)`, if the resource exists.
    pub(crate) fn waiter_of(&self, h: RawHandle, trigger: Trigger) -> Option<Waiter<A>> {
        use super::ready::Dir;
        match (h.resource_type(), trigger) {
            (
                ResourceType::TcpListener | ResourceType::TcpStream | ResourceType::UdpSocket,
                Trigger::Readable,
            ) => self.io_waiter(h, Dir::Read).map(|w| w.0),
            (ResourceType::TcpStream | ResourceType::UdpSocket, Trigger::Writable) => {
                self.io_waiter(h, Dir::Write).map(|w| w.0)
            }
            (ResourceType::Timer, Trigger::Expired) => self.timers.get(h).ok().map(|t| t.waiter),
            (ResourceType::UserEvents, Trigger::User(id)) => {
                let k = self.shared.sources.slot_of(h, id, false).ok()??;
                self.user.get(h).ok().map(|u| u.waiters[k])
            }
            _ => None,
        }
    }

    /// Drops the registration of entry `i` from the resource it waits on, if it is still there.
    pub(crate) fn clear_wait(&mut self, i: u32) {
        let Some((h, trigger)) = self.pts.entries[i as usize].waiting.take() else {
            return;
        };
        if h.resource_type() == ResourceType::Semaphore {
            self.sem_unlink(h, i);
            return;
        }
        let pt = self.pts.handle(i);
        if matches!(self.waiter_of(h, trigger), Some(Waiter::Pt(p)) if p == pt) {
            let _ = self.set_waiter(h, trigger, Waiter::None);
        }
    }

    /// Wakes every protothread waiting on resource `h` (which is about to close), so that
    /// its next poll reports the closed handle instead of waiting forever.
    pub(crate) fn wake_waiters_of(&mut self, h: RawHandle) {
        use super::ready::Dir;
        let mut waiting = [None; USER_EVENT_IDS + 1];
        match h.resource_type() {
            ResourceType::TcpListener | ResourceType::TcpStream | ResourceType::UdpSocket => {
                for (k, dir) in [Dir::Read, Dir::Write].into_iter().enumerate() {
                    if let Some((Waiter::Pt(pt), _)) = self.io_waiter(h, dir) {
                        waiting[k] = Some(pt);
                    }
                }
            }
            ResourceType::Timer => {
                if let Ok(Waiter::Pt(pt)) = self.timers.get(h).map(|t| t.waiter) {
                    waiting[0] = Some(pt);
                }
            }
            ResourceType::UserEvents => {
                if let Ok(u) = self.user.get(h) {
                    for (k, w) in u.waiters.iter().enumerate() {
                        if let Waiter::Pt(pt) = w {
                            waiting[k] = Some(*pt);
                        }
                    }
                }
            }
            _ => {}
        }
        for pt in waiting.into_iter().flatten() {
            self.wake_pt(pt);
        }
    }

    /// Queues protothread `pt` to run if it is live.
    pub(crate) fn wake_pt(&mut self, pt: RawHandle) {
        if let Ok(i) = self.pts.live_index(pt) {
            self.clear_wait(i);
            self.pts.push_run(i);
        }
    }

    /// Arms the timer of entry `i` at its earliest sleep or deadline, taking a timer slot if it
    /// has none; with neither, frees its slot.
    fn sync_pt_timer(&mut self, i: u32) -> Result<()> {
        let e = &self.pts.entries[i as usize];
        let want = match (e.sleep, e.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timer = e.timer;
        match (want, timer) {
            (None, None) => {}
            (None, Some(t)) => {
                // Give the slot back: a protothread that slept or had a deadline once must not
                // hold a timer for the rest of its life (the pool would run dry).
                self.timer_queue.disarm(&mut self.timers, t.slot());
                let _ = self.timers.remove(t);
                self.pts.entries[i as usize].timer = None;
            }
            (Some(at), Some(t)) => {
                let armed_at = self
                    .timers
                    .get(t)
                    .ok()
                    .filter(|t| t.is_armed())
                    .map(|t| t.deadline);
                if armed_at != Some(at) {
                    self.timer_queue.arm(&mut self.timers, t.slot(), at);
                }
            }
            (Some(at), None) => {
                let pt = self.pts.handle(i);
                let t = self
                    .timers
                    .insert(TimerEntry::new(Purpose::PtTimer(pt)))
                    .map_err(|_| Error::OutOfResources(Capacity::Timers))?;
                self.pts.entries[i as usize].timer = Some(t);
                self.timer_queue.arm(&mut self.timers, t.slot(), at);
            }
        }
        Ok(())
    }

    /// Ends entry `i`: drops its registrations and timer, wakes its joiner, frees the entry.
    pub(crate) fn end_pt(&mut self, i: u32, outcome: Outcome) {
        if !self.pts.entries[i as usize].live {
            return;
        }
        self.clear_wait(i);
        if let Some(t) = self.pts.entries[i as usize].timer.take() {
            self.timer_queue.disarm(&mut self.timers, t.slot());
            let _ = self.timers.remove(t);
        }
        let joiner = self.pts.entries[i as usize].joiner.take();
        if let Some(sem) = self.pts.entries[i as usize].granted.take() {
            // A unit handed over but never taken goes to the next waiter.
            let _ = self.sem_signal(sem, 1);
        }
        self.pts.end(i, outcome);
        if let Outcome::Failed(e) = outcome {
            self.last_error = Some(e);
        }
        if let Some(j) = joiner {
            self.wake_pt(j);
        }
    }

    pub(crate) fn pt_sleep_until(&mut self, at_ms: u64) -> Poll<Result<()>> {
        let Some(cur) = self.current else {
            return Poll::Ready(Err(self.fail(Error::NotSupported)));
        };
        let i = cur.slot() as usize;
        if self.now() >= at_ms {
            if self.pts.entries[i].sleep.take().is_some() {
                let _ = self.sync_pt_timer(i as u32);
            }
            return Poll::Ready(Ok(()));
        }
        self.pts.entries[i].sleep = Some(at_ms);
        self.pend(None)
    }

    pub(crate) fn pt_set_deadline(&mut self, at_ms: Option<u64>) -> Result<()> {
        let Some(cur) = self.current else {
            return Err(self.fail(Error::NotSupported));
        };
        let i = cur.slot();
        self.pts.entries[i as usize].deadline = at_ms;
        self.sync_pt_timer(i)
    }

    pub(crate) fn pt_kill(&mut self, pt: RawHandle) -> Result<()> {
        let i = self.pts.live_index(pt)?;
        if self.current == Some(pt) {
            // Its context is out of the table while it runs; it ends when the resume returns.
            self.kill_current = true;
            return Ok(());
        }
        self.end_pt(i, Outcome::Killed);
        Ok(())
    }

    pub(crate) fn pt_restart(&mut self, pt: RawHandle) -> Result<()> {
        let i = self.pts.live_index(pt)?;
        if self.current == Some(pt) {
            return Err(Error::InvalidArgument); // use pt_restart!() from inside
        }
        self.clear_wait(i);
        let e = &mut self.pts.entries[i as usize];
        e.sleep = None;
        e.deadline = None;
        if let Some(task) = e.task.as_mut() {
            task.reset_pt();
        }
        let _ = self.sync_pt_timer(i);
        self.pts.push_run(i);
        Ok(())
    }

    pub(crate) fn pt_status(&self, pt: RawHandle) -> Result<PtStatus> {
        let i = self.pts.index(pt)?;
        let e = &self.pts.entries[i as usize];
        if let Some(o) = e.outcome.filter(|_| !e.live) {
            return Ok(PtStatus::Ended(o));
        }
        if self.current == Some(pt) {
            return Ok(PtStatus::Running);
        }
        if e.queued {
            return Ok(PtStatus::Runnable);
        }
        let until_ms = match (e.sleep, e.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(PtStatus::Waiting {
            on: e.waiting,
            until_ms,
            site: e.task.as_ref().and_then(|t| t.site_of()),
        })
    }

    pub(crate) fn pt_join(&mut self, pt: RawHandle) -> Poll<Result<Outcome>> {
        let i = match self.pts.index(pt) {
            Ok(i) => i,
            Err(e) => return Poll::Ready(Err(self.fail(e))),
        };
        let e = &self.pts.entries[i as usize];
        if !e.live {
            if let Some(o) = e.outcome {
                return Poll::Ready(Ok(o));
            }
        }
        match self.current {
            Some(cur) if cur == pt => Poll::Ready(Err(self.fail(Error::InvalidArgument))),
            Some(cur) => {
                self.pts.entries[i as usize].joiner = Some(cur);
                self.pend(None)
            }
            None => Poll::Pending,
        }
    }
}
