//! Whether a loop still has anything to do, and running it until it has not
//! ([`EventLoop::run_until_idle`]).

use std::sync::atomic::Ordering;

use crate::error::Result;

use super::core::Core;
use super::side::Dir;
use super::EventLoop;

impl Core<'_> {
    /// Whether anything can still happen without new work from outside the loop's
    /// callbacks: see [`EventLoop::run_until_idle`] for the list.
    pub(crate) fn is_alive(&self) -> bool {
        let due = Self::SIGNALS_DUE | Self::REMOTE_DUE | Self::DEFER_DUE;
        if self.due & due != 0
            || self.timers.armed() > 0
            || self.ready.len() > 0
            || self.idles.active() > 0
            || self.periodics.active() > 0
            || self.files.in_flight() > 0
            || self.pts.live_count() > 0
            || self
                .shared
                .as_ref()
                .is_some_and(|s| s.doorbell.load(Ordering::Acquire))
        {
            return true;
        }
        let waited = |h, dir| self.side(h, dir).is_some_and(|s| s.waiter.is_some());
        let socket = |h| waited(h, Dir::Read) || waited(h, Dir::Write);
        (0..self.streams.capacity()).any(|i| {
            self.streams
                .handle_at(i)
                .is_some_and(|h| socket(h) || self.streams.get(h).is_ok_and(|s| s.bufs.sending()))
        }) || (0..self.listeners.capacity())
            .any(|i| self.listeners.handle_at(i).is_some_and(socket))
            || (0..self.udp.capacity()).any(|i| self.udp.handle_at(i).is_some_and(socket))
            || (0..self.signals.capacity()).any(|i| {
                self.signals
                    .at(i)
                    .is_some_and(|(h, _)| self.signals.is_active(h).unwrap_or(false))
            })
            || (0..self.user.capacity()).any(|i| {
                self.user
                    .at(i)
                    .is_some_and(|(_, e)| e.waiters.iter().any(|w| w.is_some()))
            })
    }
}

impl<A: 'static> EventLoop<'_, A> {
    /// Runs iterations until nothing is alive, then returns ("has work? no: exit the loop");
    /// at once on a loop with nothing alive. Also returns, like [`run`](EventLoop::run),
    /// when [`stop`](crate::Cx::stop) is called (the request is consumed).
    ///
    /// Alive, checked before each iteration, means any of: an armed timer (a protothread's
    /// sleep or deadline and a connect's timeout included); an active periodic, idle or
    /// signal watcher, or a queued defer watcher; a socket with a handler or a waiting
    /// protothread on either direction, still ready to be dispatched, or with queued sends;
    /// a user event source with a handler or a waiting protothread on any id; posted calls
    /// or raises not yet run (the doorbell rung); a file operation in flight; a live
    /// protothread (runnable or waiting on anything, a semaphore or a join included).
    ///
    /// So a loop that serves a listener with a handler, watches `SIGINT` or has an active
    /// idle watcher never runs out of work: close or stop those first. (Idle watchers are
    /// not about this: they run when the loop has nothing to do *now*; this returns when it
    /// will never have anything to do again.) Like [`run`](EventLoop::run), each iteration
    /// blocks until something happens, so a protothread waiting for something nothing will
    /// do keeps this from returning.
    ///
    /// # Errors
    ///
    /// As [`run_once`](EventLoop::run_once); the loop stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use ptk_runtime::{Capacities, Config, Cx, Event, EventLoop, OwnedStorage, Trigger};
    ///
    /// fn tick(count: &mut u32, cx: &mut Cx<'_>, ev: Event) {
    ///     *count += 1;
    ///     if *count == 3 {
    ///         cx.close(ev.handle).unwrap();
    ///     }
    /// }
    ///
    /// let mut memory = OwnedStorage::new(Capacities::default());
    /// let mut ev = EventLoop::new(memory.storage(), Config::default(), 0u32).unwrap();
    /// ev.run_until_idle().unwrap(); // nothing alive: returns at once
    /// let timer = ev.timer_create().unwrap();
    /// ev.set_handler(timer, Trigger::Expired, tick).unwrap();
    /// ev.timer_start(timer, 5, true).unwrap();
    /// ev.run_until_idle().unwrap(); // until the timer is closed
    /// assert_eq!(*ev.app(), 3);
    /// ```
    pub fn run_until_idle(&mut self) -> Result<()> {
        loop {
            if self.cx.core.due & Core::STOP != 0 {
                self.cx.core.due &= !Core::STOP;
                return Ok(());
            }
            if !self.cx.core.is_alive() && self.posts.len() == 0 {
                return Ok(());
            }
            self.run_once(None)?;
        }
    }

    /// Whether the loop has anything alive (see [`run_until_idle`](EventLoop::run_until_idle)).
    pub fn is_alive(&self) -> bool {
        self.cx.core.is_alive() || self.posts.len() > 0
    }
}
