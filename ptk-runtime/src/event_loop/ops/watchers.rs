//! Defer, idle and periodic watcher operations.

use std::task::Poll;

use crate::cx::Cx;
use crate::error::Result;
use crate::event::Trigger;
use crate::event_loop::periodic::Tick;
use crate::handle::{Defer, Handle, Idle, Periodic};

impl Cx<'_> {
    /// A new defer watcher, stopped. Once [started](Cx::defer_start), it runs at the start of
    /// the next iteration (the first step after the poll, which then does not block) and
    /// stops: its handler for [`Trigger::Deferred`] is called
    /// ([`EventKind::Deferred`](crate::EventKind::Deferred)) or the protothread waiting in
    /// [`defer_wait`](Cx::defer_wait) is resumed. Started watchers run in the order they were
    /// started; one started while the queue runs waits for the next iteration.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when every slot
    /// ([`Storage::defers`](crate::Storage::defers)) is in use;
    /// [`Error::NotSupported`](crate::Error::NotSupported) on a detached `Cx`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ptk_runtime::{Capacities, Config, Cx, Event, EventLoop, OwnedStorage, Trigger};
    ///
    /// fn later(trace: &mut Vec<&'static str>, _: &mut Cx<'_>, _: Event) {
    ///     trace.push("deferred");
    /// }
    ///
    /// let mut memory = OwnedStorage::new(Capacities::default());
    /// let mut ev = EventLoop::new(memory.storage(), Config::default(), Vec::new()).unwrap();
    /// let d = ev.defer_create().unwrap();
    /// ev.set_handler(d, Trigger::Deferred, later).unwrap();
    /// ev.defer_start(d).unwrap();
    /// assert_eq!(ev.defer_is_active(d), Ok(true));
    /// ev.run_until_idle().unwrap();
    /// assert_eq!(*ev.app(), ["deferred"]);
    /// assert_eq!(ev.defer_is_active(d), Ok(false));
    /// ```
    pub fn defer_create(&mut self) -> Result<Handle<Defer>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.defers.create();
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Queues a defer watcher to run at the start of the next iteration (a queued watcher
    /// stays where it is).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn defer_start(&mut self, watcher: Handle<Defer>) -> Result<()> {
        let core = &mut self.core;
        match core.defer_start(watcher.raw()) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Takes a defer watcher off the queue (and forgets a run nobody took). Stopping a
    /// stopped watcher is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn defer_stop(&mut self, watcher: Handle<Defer>) -> Result<()> {
        let core = &mut self.core;
        match core.defers.stop(watcher.raw()) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Whether a defer watcher is queued to run.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn defer_is_active(&self, watcher: Handle<Defer>) -> Result<bool> {
        let core = &self.core;
        core.defers
            .is_active(watcher.raw())
            .map_err(|_| core.no_such(watcher.raw()))
    }

    /// Waits until the defer watcher has run: `Ready(Ok(()))` if it ran since this was last
    /// answered, else `Pending`, starting the watcher if it is stopped. In a protothread,
    /// `pt_await!(cx.defer_wait(d))` resumes at the start of the next iteration.
    pub fn defer_wait(&mut self, watcher: Handle<Defer>) -> Poll<Result<()>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = watcher.raw();
        let r = match core.defers.take(h) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => match core.defer_start(h) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            Err(e) => Poll::Ready(Err(e)),
        };
        core.settle(h, Trigger::Deferred, r)
    }

    /// A new idle watcher, stopped. An active idle watcher runs when the loop runs out of
    /// work: at the start of an iteration whose poll would block (no protothread is
    /// runnable, no socket is still ready, nothing is due), provided something happened since
    /// idle watchers last ran (the poll reported something, a timer or periodic watcher
    /// fired, signals or remote work came; a new loop, and starting a watcher, count as
    /// such). Its
    /// handler for [`Trigger::Idle`] is called ([`EventKind::Idle`](crate::EventKind::Idle))
    /// or the protothread waiting in [`idle_wait`](Cx::idle_wait) is resumed. Then the loop
    /// blocks as usual: what idle watchers cause does not count as something happening, so
    /// idle watchers run once per idle period and never make the loop spin.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when every slot
    /// ([`Storage::idles`](crate::Storage::idles)) is in use;
    /// [`Error::NotSupported`](crate::Error::NotSupported) on a detached `Cx`.
    pub fn idle_create(&mut self) -> Result<Handle<Idle>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.idles.create();
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Starts an idle watcher (starting an active one is not an error).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn idle_start(&mut self, watcher: Handle<Idle>) -> Result<()> {
        self.set_idle_active(watcher, true)
    }

    /// Stops an idle watcher (and forgets a run nobody took). Stopping a stopped watcher is
    /// not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn idle_stop(&mut self, watcher: Handle<Idle>) -> Result<()> {
        self.set_idle_active(watcher, false)
    }

    fn set_idle_active(&mut self, watcher: Handle<Idle>, active: bool) -> Result<()> {
        let core = &mut self.core;
        match core.idles.set_active(watcher.raw(), active) {
            Ok(()) => {
                core.sync_idle_bits();
                Ok(())
            }
            Err(_) => Err(core.invalid()),
        }
    }

    /// Whether an idle watcher is active.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn idle_is_active(&self, watcher: Handle<Idle>) -> Result<bool> {
        let core = &self.core;
        core.idles
            .is_active(watcher.raw())
            .map_err(|_| core.no_such(watcher.raw()))
    }

    /// Waits until the loop runs out of work: `Ready(Ok(()))` if the (active) idle watcher
    /// ran since this was last answered, else `Pending`.
    pub fn idle_wait(&mut self, watcher: Handle<Idle>) -> Poll<Result<()>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = watcher.raw();
        let r = match core.idles.take(h) {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        };
        core.settle(h, Trigger::Idle, r)
    }

    /// A new periodic watcher, stopped. See [`periodic_start`](Cx::periodic_start).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when every slot
    /// ([`Storage::periodics`](crate::Storage::periodics)) is in use;
    /// [`Error::NotSupported`](crate::Error::NotSupported) on a detached `Cx`.
    pub fn periodic_create(&mut self) -> Result<Handle<Periodic>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.periodics.create();
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Starts (or re-plans) a periodic watcher: it fires at every wall-clock time
    /// `offset_ms + k * period_ms` milliseconds since the Unix epoch (`CLOCK_REALTIME`) after
    /// now; `period_ms = 60_000, offset_ms = 0` fires on every minute. Its handler for
    /// [`Trigger::Tick`] gets [`EventKind::Tick`](crate::EventKind::Tick) with the boundary
    /// and how many boundaries before it were missed (the loop was busy, or the clock jumped
    /// forward: missed boundaries are skipped, never delivered late one after another); a
    /// protothread gets the same from [`periodic_wait`](Cx::periodic_wait).
    ///
    /// Unlike a repeating timer, which counts its period on the loop's monotonic clock from
    /// when it was started, a periodic watcher stays on the wall clock's boundaries, and
    /// follows it when it is set. An active watcher holds one timer slot.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a zero period or an
    /// offset not below the period;
    /// [`Error::OutOfResources`](crate::Error::OutOfResources)`(`[`Capacity::Timers`](crate::Capacity::Timers)`)`
    /// when no timer slot is free; [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    ///
    /// # Examples
    ///
    /// ```
    /// use ptk_runtime::{Capacities, Config, Cx, Event, EventKind, EventLoop, OwnedStorage, Trigger};
    ///
    /// fn tick(due: &mut Vec<u64>, cx: &mut Cx<'_>, ev: Event) {
    ///     if let EventKind::Tick { due_ms, .. } = ev.kind {
    ///         due.push(due_ms);
    ///     }
    ///     if due.len() == 2 {
    ///         cx.close(ev.handle).unwrap();
    ///     }
    /// }
    ///
    /// let mut memory = OwnedStorage::new(Capacities::default());
    /// let mut ev = EventLoop::new(memory.storage(), Config::default(), Vec::new()).unwrap();
    /// let p = ev.periodic_create().unwrap();
    /// ev.set_handler(p, Trigger::Tick, tick).unwrap();
    /// // Every 20 ms, on the 20 ms plus 5.
    /// ev.periodic_start(p, 20, 5).unwrap();
    /// ev.run_until_idle().unwrap();
    /// assert!(ev.app().iter().all(|due| due % 20 == 5));
    /// ```
    pub fn periodic_start(
        &mut self,
        watcher: Handle<Periodic>,
        period_ms: u64,
        offset_ms: u64,
    ) -> Result<()> {
        let core = &mut self.core;
        let r = core.periodic_start(watcher.raw(), period_ms, offset_ms);
        match r {
            Err(crate::Error::InvalidHandle) => Err(core.invalid()),
            r => core.note(r),
        }
    }

    /// Stops a periodic watcher (and forgets a delivery nobody took), giving its timer slot
    /// back. Stopping a stopped watcher is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn periodic_stop(&mut self, watcher: Handle<Periodic>) -> Result<()> {
        let core = &mut self.core;
        match core.periodic_stop(watcher.raw()) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Whether a periodic watcher is active.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn periodic_is_active(&self, watcher: Handle<Periodic>) -> Result<bool> {
        let core = &self.core;
        core.periodics
            .is_active(watcher.raw())
            .map_err(|_| core.no_such(watcher.raw()))
    }

    /// Takes the delivery the periodic watcher holds: `Ready(Ok(tick))` if a boundary passed
    /// since this was last answered (deliveries nobody took count as missed), else `Pending`.
    pub fn periodic_wait(&mut self, watcher: Handle<Periodic>) -> Poll<Result<Tick>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = watcher.raw();
        let r = match core.periodics.take(h) {
            Ok(Some(tick)) => Poll::Ready(Ok(tick)),
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        };
        core.settle(h, Trigger::Tick, r)
    }
}
