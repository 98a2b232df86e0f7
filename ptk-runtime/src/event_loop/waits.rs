//! Protothread waits: registering the running protothread on what it waits for, its deadline
//! and sleep timer, waking it, and cleaning up when it ends or is killed.
//!
//! # How long a registration lasts
//!
//! A protothread waits on one thing at a time. Waits on a timer, a user event, a semaphore
//! or a join are one-shot: the wake-up clears them. A wait on a socket direction stays
//! registered when it fires: the protothread is resumed, and if in that resume it waits on
//! the same direction again (the next read of a connection, typically), nothing needs to be
//! registered anew. A resume that ends without waiting anywhere drops what is left
//! ([`Core::finish_resume`]), so a protothread is still resumed only for what it waits on.

use std::sync::Arc;
use std::task::Poll;

use crate::error::{Capacity, Error, Result};
use crate::event::Trigger;
use crate::handle::{RawHandle, ResourceType};
use crate::status::{Outcome, PtStatus};

use super::core::Core;
use super::protothreads::BUDGET;
use super::side::Dir;
use super::timers::Purpose;
use super::user_events::USER_EVENT_IDS;
use super::waiter::Waiter;

impl Core<'_> {
    /// See [`Running::out_of_budget`](super::running::Running::out_of_budget).
    #[inline]
    pub(crate) fn out_of_budget(&mut self) -> bool {
        self.run.out_of_budget()
    }

    /// Starts a resume of protothread `h`.
    #[inline]
    pub(crate) fn begin_resume(&mut self, h: RawHandle, timed: bool) {
        self.run.begin(h, BUDGET, timed);
    }

    /// Ends the resume of entry `i`: a registration left from an earlier wait that this
    /// resume did not wait on again is dropped. Returns whether the protothread waits now.
    #[inline]
    pub(crate) fn finish_resume(&mut self, i: u32) -> bool {
        self.run.end();
        if self.run.waits() {
            return true;
        }
        if self.pts.entries[i as usize].waiting.is_some() {
            self.clear_wait(i);
        }
        false
    }

    /// The answer of a socket operation that must wait on `(h, trigger)`, whose side has
    /// `waiter` now: when the running protothread is still registered there (it was woken by
    /// that side and waits on it again) and has no sleep or deadline to check, nothing
    /// changes; anything else goes through [`pend`](Self::pend).
    ///
    /// A side names a protothread only while that protothread's wait is that side: every
    /// path that moves a protothread's wait elsewhere ([`clear_wait`](Self::clear_wait))
    /// clears the side first. So `waiter == Pt(current)` alone says the registration stands.
    #[inline]
    pub(crate) fn pend_socket<T>(
        &mut self,
        h: RawHandle,
        trigger: Trigger,
        waiter: Waiter,
    ) -> Poll<Result<T>> {
        if let (Some(cur), Waiter::Pt(p)) = (self.run.current, waiter) {
            if p == cur && self.run.plain() {
                debug_assert_eq!(
                    self.pts.entries[cur.slot() as usize].waiting,
                    Some((h, trigger))
                );
                self.run.set_registered();
                return Poll::Pending;
            }
        }
        self.pend(Some((h, trigger)))
    }

    /// The answer of an operation that would have to wait: registers the running protothread
    /// (if any) on `on` and arms its timer; a passed deadline answers `Timeout` instead.
    pub(crate) fn pend<T>(&mut self, on: Option<(RawHandle, Trigger)>) -> Poll<Result<T>> {
        let Some(cur) = self.run.current else {
            return Poll::Pending;
        };
        if self.run.yield_requested() {
            return Poll::Pending;
        }
        let i = cur.slot();
        if let Some(d) = self.pts.entries[i as usize].deadline {
            if self.clock.now() >= d {
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
        self.run.set_registered();
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
            self.sems.enqueue(h, i, &mut self.pts)?;
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
        let side = self.side_mut(h, dir)?;
        let displaced = match side.waiter {
            Waiter::Handler(_) => return Some(Err(Error::InvalidArgument)),
            Waiter::Pt(other) if other != pt => Some(other),
            _ => None,
        };
        side.waiter = Waiter::Pt(pt);
        self.pts.entries[i as usize].waiting = Some((h, trigger));
        let armed = match dir {
            Dir::Write => self.arm_write(h),
            Dir::Read => Ok(()),
        };
        if let Some(other) = displaced {
            self.wake_pt(other);
        }
        Some(armed)
    }

    /// Drops the registration of entry `i` from the resource it waits on, if it is still there.
    pub(crate) fn clear_wait(&mut self, i: u32) {
        let Some((h, trigger)) = self.pts.entries[i as usize].waiting.take() else {
            return;
        };
        if h.resource_type() == ResourceType::Semaphore {
            self.sems.unlink(h, i, &mut self.pts);
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
        let mut waiting = [None; USER_EVENT_IDS + 1];
        match h.resource_type() {
            ResourceType::TcpListener | ResourceType::TcpStream | ResourceType::UdpSocket => {
                for (k, dir) in [Dir::Read, Dir::Write].into_iter().enumerate() {
                    if let Some(Waiter::Pt(pt)) = self.side(h, dir).map(|s| s.waiter) {
                        waiting[k] = Some(pt);
                    }
                }
            }
            ResourceType::Timer => {
                if let Ok(Waiter::Pt(pt)) = self.timers.waiter(h) {
                    waiting[0] = Some(pt);
                }
            }
            ResourceType::Signal => {
                if let Ok(Waiter::Pt(pt)) = self.signals.get(h).map(|w| w.waiter) {
                    waiting[0] = Some(pt);
                }
            }
            ResourceType::Defer => {
                if let Ok(Waiter::Pt(pt)) = self.defers.get(h).map(|w| w.waiter) {
                    waiting[0] = Some(pt);
                }
            }
            ResourceType::Idle => {
                if let Ok(Waiter::Pt(pt)) = self.idles.get(h).map(|w| w.waiter) {
                    waiting[0] = Some(pt);
                }
            }
            ResourceType::Periodic => {
                if let Ok(Waiter::Pt(pt)) = self.periodics.get(h).map(|w| w.waiter) {
                    waiting[0] = Some(pt);
                }
            }
            ResourceType::FileOp => {
                if let Ok(Waiter::Pt(pt)) = self.files.get(h).map(|w| w.waiter) {
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

    /// Queues protothread `pt` to run if it is live. The protothread being resumed is only
    /// released from its wait (its resume goes on; queuing it would resume it once more for
    /// nothing, as when it closes the socket it was registered on), unless it registered a
    /// wait in this resume already.
    pub(crate) fn wake_pt(&mut self, pt: RawHandle) {
        if let Ok(i) = self.pts.live_index(pt) {
            self.clear_wait(i);
            if self.run.current != Some(pt) || self.run.registered() {
                self.pts.push_run(i);
            }
        }
    }

    /// Arms the timer of entry `i` at its earliest sleep or deadline, taking a timer slot if it
    /// has none; with neither, frees its slot.
    fn sync_pt_timer(&mut self, i: u32) -> Result<()> {
        let r = self.sync_pt_timer_inner(i);
        let e = &mut self.pts.entries[i as usize];
        e.update_timed();
        let timed = e.timed;
        if self.run.current.is_some_and(|c| c.slot() == i) {
            self.run.set_timed(timed);
        }
        r
    }

    fn sync_pt_timer_inner(&mut self, i: u32) -> Result<()> {
        let e = &self.pts.entries[i as usize];
        let want = match (e.sleep, e.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (want, e.timer) {
            (None, None) => {}
            (None, Some(t)) => {
                // Give the slot back: a protothread that slept or had a deadline once must not
                // hold a timer for the rest of its life (the pool would run dry).
                self.timers.remove(t);
                self.pts.entries[i as usize].timer = None;
            }
            (Some(at), Some(t)) => self.timers.arm(t, at),
            (Some(at), None) => {
                let pt = self.pts.handle(i);
                let t = self
                    .timers
                    .create_armed(Purpose::PtTimer(pt), at)
                    .map_err(|_| Error::OutOfResources(Capacity::Timers))?;
                self.pts.entries[i as usize].timer = Some(t);
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
            self.timers.remove(t);
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
        let Some(cur) = self.run.current else {
            return Poll::Ready(Err(self.fail(Error::NotSupported)));
        };
        let i = cur.slot() as usize;
        if self.clock.now() >= at_ms {
            if self.pts.entries[i].sleep.take().is_some() {
                let _ = self.sync_pt_timer(i as u32);
            }
            return Poll::Ready(Ok(()));
        }
        self.pts.entries[i].sleep = Some(at_ms);
        self.pend(None)
    }

    pub(crate) fn pt_set_deadline(&mut self, at_ms: Option<u64>) -> Result<()> {
        let Some(cur) = self.run.current else {
            return Err(self.fail(Error::NotSupported));
        };
        let i = cur.slot();
        let e = &mut self.pts.entries[i as usize];
        if at_ms.is_none() && !e.timed {
            // No deadline, no sleep, no timer: nothing to clear (drivers that time out
            // optionally call this once per request).
            return Ok(());
        }
        e.deadline = at_ms;
        self.sync_pt_timer(i)
    }

    pub(crate) fn pt_kill(&mut self, pt: RawHandle) -> Result<()> {
        let i = self.pts.live_index(pt)?;
        if self.run.current == Some(pt) {
            // Its context is out of the table while it runs; it ends when the resume returns.
            self.run.request_kill();
            return Ok(());
        }
        self.end_pt(i, Outcome::Killed);
        Ok(())
    }

    pub(crate) fn pt_restart(&mut self, pt: RawHandle) -> Result<()> {
        let i = self.pts.live_index(pt)?;
        if self.run.current == Some(pt) {
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
        if self.run.current == Some(pt) {
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
            Err(_) => return Poll::Ready(Err(self.invalid())),
        };
        let e = &self.pts.entries[i as usize];
        if !e.live {
            if let Some(o) = e.outcome {
                return Poll::Ready(Ok(o));
            }
        }
        match self.run.current {
            Some(cur) if cur == pt => Poll::Ready(Err(self.fail(Error::InvalidArgument))),
            Some(cur) => {
                self.pts.entries[i as usize].joiner = Some(cur);
                self.pend(None)
            }
            None => Poll::Pending,
        }
    }

    /// Adds `n` units to semaphore `h`: each goes straight to the oldest waiter (which is
    /// woken holding it), or into the count when nobody waits.
    pub(crate) fn sem_signal(&mut self, h: RawHandle, n: u32) -> Result<()> {
        if !self.sems.contains(h) {
            return Err(Error::InvalidHandle);
        }
        for _ in 0..n {
            match self.sems.pop(h, &mut self.pts) {
                Some(i) => {
                    let e = &mut self.pts.entries[i as usize];
                    e.waiting = None;
                    e.granted = Some(h);
                    let pt = self.pts.handle(i);
                    self.wake_pt(pt);
                }
                None => self.sems.add(h)?,
            }
        }
        Ok(())
    }

    /// Takes a unit of semaphore `h`, or queues the running protothread for the next one.
    pub(crate) fn sem_wait(&mut self, h: RawHandle) -> Poll<Result<()>> {
        if self.out_of_budget() {
            return Poll::Pending;
        }
        if let Some(cur) = self.run.current {
            let e = &mut self.pts.entries[cur.slot() as usize];
            if e.granted == Some(h) {
                e.granted = None;
                return Poll::Ready(Ok(()));
            }
        }
        match self.sems.try_take(h) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) if self.run.current.is_none() => Poll::Pending,
            Ok(false) => self.pend(Some((h, Trigger::Available))),
            Err(_) => Poll::Ready(Err(self.invalid())),
        }
    }

    /// Closes semaphore `h`; its waiters wake and see the handle gone.
    pub(crate) fn close_sem(&mut self, h: RawHandle) -> bool {
        while let Some(i) = self.sems.pop(h, &mut self.pts) {
            self.pts.entries[i as usize].waiting = None;
            let pt = self.pts.handle(i);
            self.wake_pt(pt);
        }
        if !self.sems.remove(h) {
            return false;
        }
        if let Some(shared) = &self.shared {
            shared.sems.close(h);
        }
        true
    }

    /// Applies the signals other threads raised.
    pub(crate) fn drain_remote_signals(&mut self) {
        let Some(shared) = self.shared.as_ref().map(Arc::clone) else {
            return;
        };
        shared.sems.drain(|slot, n| {
            if let Some(h) = self.sems.handle_at(slot) {
                let _ = self.sem_signal(h, n);
            }
        });
    }
}
