//! One iteration of the loop ([`EventLoop::run_once`]) and running until stopped.
//!
//! The order of the steps is documented on [`EventLoop`] (tests depend on it). This is the
//! path every message takes: each step is tested with one load where it has nothing to do.

use std::time::Duration;

use crate::error::{Error, Result};

use super::core::Core;
use super::dispatch::{deliver_signals, fire_timers, run_io, run_protothreads, run_remote};
use super::watch_steps::{deliver_files, run_deferred, run_idle};
use super::EventLoop;

impl<A: 'static> EventLoop<'_, A> {
    /// Runs one iteration (see [`EventLoop`] for its order), waiting at most
    /// `timeout` (`None`: until something happens). Returns how many handler calls and
    /// protothread resumes it made.
    ///
    /// # Errors
    ///
    /// An OS error from the poller (interrupted polls are retried on the next call, not
    /// reported).
    pub fn run_once(&mut self, timeout: Option<Duration>) -> Result<usize> {
        let core = &mut self.cx.core;
        if core.buffers.parked != 0 {
            core.let_paused_reads_go();
        }
        #[cfg(feature = "log")]
        core.buffers.note_refilled();
        let mut calls = 0;
        let mut stopped_when_idle = false;
        if core.due & Core::IDLE_DUE != 0 && !core.has_immediate_work() {
            calls += run_idle(&mut self.cx, &mut self.app);
            // A stop asked for here must not wait for the next event.
            stopped_when_idle = self.cx.core.due & Core::STOP != 0;
        }
        let core = &mut self.cx.core;
        let mut wait = timeout;
        if core.has_immediate_work() || stopped_when_idle {
            wait = Some(Duration::ZERO);
        } else if let Some(deadline) = core.timers.next_deadline() {
            let until = core.clock.until(deadline);
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        let Some(backend) = core.backend.as_mut() else {
            return Err(Error::NotSupported);
        };
        if let Err(e) = backend.poll(&mut self.events, wait) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(core.fail(e.into()));
            }
            self.events.clear();
        }
        core.clock.next_iteration();
        let state = &mut self.app;
        let cx = &mut self.cx;
        if cx.core.due & (Core::IDLE_ARMED | Core::DEFER_DUE) != 0 {
            cx.core.note_idle_stir(&self.events);
            if cx.core.due & Core::DEFER_DUE != 0 {
                calls += run_deferred(cx, state);
            }
        }
        if cx.core.timers.armed() > 0 {
            calls += fire_timers(cx, state);
        }
        calls += run_io(cx, state, &self.events);
        if cx.core.due & (Core::SIGNALS_DUE | Core::REMOTE_DUE) != 0 {
            if cx.core.due & Core::SIGNALS_DUE != 0 {
                // The end of the I/O step.
                calls += deliver_signals(cx, state);
            }
            if cx.core.due & Core::REMOTE_DUE != 0 {
                calls += run_remote(cx, state, &self.posts);
                // After the doorbell was taken: a job finished since rings it again.
                calls += deliver_files(cx, state);
            }
        }
        if cx.core.pts.run_len() > 0 {
            calls += run_protothreads(cx);
        }
        Ok(calls)
    }

    /// Runs iterations until [`stop`](crate::Cx::stop) is called (from a handler, a protothread, a
    /// posted call, or a [`LoopRemote`](super::LoopRemote)). The stop request is consumed, so `run` can be
    /// called again.
    ///
    /// # Errors
    ///
    /// As [`run_once`](EventLoop::run_once); the loop stays usable.
    pub fn run(&mut self) -> Result<()> {
        loop {
            self.run_once(None)?;
            if self.cx.core.due & Core::STOP != 0 {
                self.cx.core.due &= !Core::STOP;
                return Ok(());
            }
        }
    }
}
