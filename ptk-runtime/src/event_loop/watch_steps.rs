//! The steps of an iteration that serve defer, idle and periodic watchers and file
//! operations, and what the core does for them across sources (waiters, periodic timers).
//!
//! Every delivery follows the same rule as signals: a handler is called; a protothread
//! waiting there is queued (step 5) and takes the delivery itself when it polls again; with
//! neither, the delivery is latched for the next wait.

use crate::cx::Cx;
use crate::error::{Capacity, Error, Result};
use crate::event::{Event, EventKind, Trigger};
use crate::handle::{RawHandle, ResourceType};

use super::backend::Events;
use super::core::Core;
use super::periodic::{wall_ms, Tick};
use super::timers::Purpose;
use super::waiter::Waiter;

impl Core<'_> {
    /// Sets the idle bits of [`due`](Core::due) from the idle watchers' state.
    pub(crate) fn sync_idle_bits(&mut self) {
        let armed = if self.idles.active() != 0 {
            Self::IDLE_ARMED
        } else {
            0
        };
        let due = if self.idles.due() { Self::IDLE_DUE } else { 0 };
        self.due = (self.due & !(Self::IDLE_ARMED | Self::IDLE_DUE)) | armed | due;
    }

    /// Notes whether the poll that just returned `events` stirred the idle watchers (see
    /// `watchers::Idles`): it reported something, a timer (or periodic watcher) is due, or
    /// signals or remote work are. Defer watchers and runnable protothreads do not count:
    /// idle watchers may have started or woken them.
    pub(crate) fn note_idle_stir(&mut self, events: &Events) {
        if self.due & (Self::IDLE_ARMED | Self::IDLE_DUE) != Self::IDLE_ARMED {
            return; // none active, or stirred already
        }
        let stirred = self.due & (Self::SIGNALS_DUE | Self::REMOTE_DUE) != 0
            || events.reports().next().is_some()
            || self
                .timers
                .next_deadline()
                .is_some_and(|d| d <= self.clock.now());
        if stirred {
            self.idles.stirred = true;
            self.due |= Self::IDLE_DUE;
        }
    }

    /// Sets the waiter of a defer, idle or periodic watcher or a file operation.
    pub(crate) fn set_watcher_waiter(
        &mut self,
        h: RawHandle,
        trigger: Trigger,
        w: Waiter,
    ) -> Result<()> {
        let slot = match (trigger, h.resource_type()) {
            (Trigger::Deferred, ResourceType::Defer) => &mut self.defers.get_mut(h)?.waiter,
            (Trigger::Idle, ResourceType::Idle) => &mut self.idles.get_mut(h)?.waiter,
            (Trigger::Tick, ResourceType::Periodic) => &mut self.periodics.get_mut(h)?.waiter,
            (Trigger::FileDone, ResourceType::FileOp) => &mut self.files.get_mut(h)?.waiter,
            _ => return Err(Error::InvalidArgument),
        };
        *slot = w;
        Ok(())
    }

    /// Queues defer watcher `h` to run at the start of the next iteration.
    pub(crate) fn defer_start(&mut self, h: RawHandle) -> Result<()> {
        self.defers.start(h)?;
        self.due |= Self::DEFER_DUE;
        Ok(())
    }

    /// Starts periodic watcher `h` on its schedule (re-planned from now if it was active).
    pub(crate) fn periodic_start(&mut self, h: RawHandle, period: u64, offset: u64) -> Result<()> {
        let now = wall_ms();
        let next = self.periodics.plan(h, period, offset, now)?;
        let at = self.clock.read().saturating_add(next - now);
        match self.periodics.get(h)?.timer {
            Some(t) => self.timers.arm(t, at),
            None => {
                let t = self
                    .timers
                    .create_armed(Purpose::Periodic(h), at)
                    .map_err(|_| Error::OutOfResources(Capacity::Timers))?;
                self.periodics.set_timer(h, Some(t))?;
            }
        }
        Ok(())
    }

    /// Stops periodic watcher `h`, giving its timer slot back.
    pub(crate) fn periodic_stop(&mut self, h: RawHandle) -> Result<()> {
        if let Some(t) = self.periodics.set_timer(h, None)? {
            self.timers.remove(t);
        }
        Ok(())
    }

    /// Hands a delivery to waiter `w` of `(h, trigger)`: a protothread is woken (its wait
    /// registration cleared) and `latch` records the delivery for it; with no waiter the
    /// delivery is latched. Returns the handler to call, if any.
    fn hand_over(
        &mut self,
        h: RawHandle,
        trigger: Trigger,
        w: Waiter,
        latch: impl FnOnce(&mut Self),
    ) -> Option<super::handler::ErasedHandler> {
        match w {
            Waiter::Handler(f) => Some(f),
            Waiter::Pt(pt) => {
                latch(self);
                let _ = self.set_watcher_waiter(h, trigger, Waiter::None);
                self.wake_pt(pt);
                None
            }
            Waiter::None => {
                latch(self);
                None
            }
        }
    }
}

/// Step 2 begins with the defer watchers queued when it began, first started first. Each is
/// stopped as it runs.
pub(super) fn run_deferred<A: 'static>(cx: &mut Cx<'_>, state: &mut A) -> usize {
    cx.core.due &= !Core::DEFER_DUE;
    let mut calls = 0;
    for _ in 0..cx.core.defers.queued() {
        let Some((h, e)) = cx.core.defers.pop() else {
            break;
        };
        let w = e.waiter;
        let latch = |core: &mut Core<'_>| {
            if let Ok(e) = core.defers.get_mut(h) {
                e.fired = true;
            }
        };
        if let Some(f) = cx.core.hand_over(h, Trigger::Deferred, w, latch) {
            let kind = EventKind::Deferred;
            f.call(state, cx, Event { handle: h, kind });
            calls += 1;
        }
    }
    if cx.core.defers.queued() > 0 {
        cx.core.due |= Core::DEFER_DUE;
    }
    calls
}

/// Step 1 begins with the idle watchers when they are due (see `watchers::Idles`), in slot
/// order.
pub(super) fn run_idle<A: 'static>(cx: &mut Cx<'_>, state: &mut A) -> usize {
    cx.core.idles.stirred = false;
    cx.core.due &= !Core::IDLE_DUE;
    let mut calls = 0;
    for i in 0..cx.core.idles.capacity() {
        let Some(h) = cx.core.idles.active_at(i) else {
            continue;
        };
        let Ok(w) = cx.core.idles.get(h).map(|e| e.waiter) else {
            continue;
        };
        let latch = |core: &mut Core<'_>| {
            if let Ok(e) = core.idles.get_mut(h) {
                e.fired = true;
            }
        };
        if let Some(f) = cx.core.hand_over(h, Trigger::Idle, w, latch) {
            let kind = EventKind::Idle;
            f.call(state, cx, Event { handle: h, kind });
            calls += 1;
        }
    }
    calls
}

/// The timer of periodic watcher `p` expired (step 2, in deadline order with the timers):
/// waits for the next boundary, and delivers if a boundary passed.
pub(super) fn fire_periodic<A: 'static>(
    cx: &mut Cx<'_>,
    state: &mut A,
    p: RawHandle,
    timer: RawHandle,
) -> usize {
    let core = &mut cx.core;
    let now = wall_ms();
    let Ok(x) = core.periodics.expire(p, now) else {
        core.timers.remove(timer);
        return 0;
    };
    let at = core.clock.read().saturating_add(x.next.saturating_sub(now));
    core.timers.arm(timer, at);
    let Some(tick) = x.tick else {
        return 0;
    };
    let Ok(w) = core.periodics.get(p).map(|e| e.waiter) else {
        return 0;
    };
    let latch = |core: &mut Core<'_>| core.periodics.latch(p, tick);
    match core.hand_over(p, Trigger::Tick, w, latch) {
        Some(f) => {
            let Tick { due_ms, missed } = tick;
            let kind = EventKind::Tick { due_ms, missed };
            f.call(state, cx, Event { handle: p, kind });
            1
        }
        None => 0,
    }
}

/// The end of step 4: file operations the worker finished.
pub(super) fn deliver_files<A: 'static>(cx: &mut Cx<'_>, state: &mut A) -> usize {
    if !cx.core.files.any_finished() {
        return 0;
    }
    let mut calls = 0;
    for i in 0..cx.core.files.capacity() {
        let Some((op, result)) = cx.core.files.finished(i) else {
            continue;
        };
        let Ok(w) = cx.core.files.get(op).map(|e| e.waiter) else {
            continue;
        };
        // The result stays on the operation: nothing more to latch.
        if let Some(f) = cx.core.hand_over(op, Trigger::FileDone, w, |_| {}) {
            let kind = EventKind::FileDone { result };
            f.call(state, cx, Event { handle: op, kind });
            calls += 1;
        }
    }
    calls
}
