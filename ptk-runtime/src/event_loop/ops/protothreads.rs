//! Protothread operations: spawning into a pool, killing, restarting, inspecting, joining,
//! sleeping and deadlines.

use std::task::Poll;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::handle::{Handle, Protothread as ProtothreadKind};
use crate::pt::Protothread;
use crate::status::{Outcome, PtPool, PtStatus};

impl Cx<'_> {
    /// Spawns a protothread with context `ctx` into `pool`; it first runs in the loop's
    /// protothread step of this iteration or the next.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`] when every context of the pool is in use;
    /// [`Error::InvalidArgument`] for a pool of another loop with another context type;
    /// [`Error::InvalidHandle`] for a pool of another loop.
    pub fn spawn<C>(&mut self, pool: PtPool<C>, ctx: C) -> Result<Handle<ProtothreadKind>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        let core = &mut self.core;
        core.attached()?;
        let mut value = Some(ctx);
        let r = core.pts.spawn(pool.index, pool.loop_id, &mut value);
        let h = core.note(r)?;
        core.pts.push_run(h.slot());
        Ok(Handle::from_raw_unchecked(h))
    }

    /// Spawns a protothread into `pool` reusing a free context in place: `init` sets it up
    /// (the context holds whatever its previous protothread left; its resume point is already
    /// reset). Nothing is moved, so contexts with large buffers spawn at no copying cost.
    ///
    /// # Errors
    ///
    /// As [`Cx::spawn`].
    pub fn spawn_with<C>(
        &mut self,
        pool: PtPool<C>,
        init: impl FnOnce(&mut C),
    ) -> Result<Handle<ProtothreadKind>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        let core = &mut self.core;
        core.attached()?;
        let r = core.pts.spawn_in_place(pool.index, pool.loop_id);
        let h = core.note(r)?;
        let i = h.slot();
        match core.pts.context_mut::<C>(i) {
            Some(ctx) => init(ctx),
            None => {
                // Only a pool token of another loop with the same index can get here.
                core.end_pt(i, Outcome::Killed);
                return Err(core.fail(Error::InvalidArgument));
            }
        }
        core.pts.push_run(i);
        Ok(Handle::from_raw_unchecked(h))
    }

    /// Ends a protothread now: its registrations and timer are dropped, its joiner is woken
    /// with [`Outcome::Killed`], its context slot is free for a new spawn. A protothread that
    /// kills itself ends when its current resume returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if it is not running.
    pub fn kill(&mut self, pt: Handle<ProtothreadKind>) -> Result<()> {
        let core = &mut self.core;
        match core.pt_kill(pt.raw()) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Makes a running protothread start over from the top on its next resume (queued now).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if it is not running; [`Error::InvalidArgument`] for the
    /// calling protothread itself (use `pt_restart!()`).
    pub fn restart(&mut self, pt: Handle<ProtothreadKind>) -> Result<()> {
        let core = &mut self.core;
        match core.pt_restart(pt.raw()) {
            Ok(()) => Ok(()),
            Err(Error::InvalidHandle) => Err(core.invalid()),
            Err(e) => Err(core.fail(e)),
        }
    }

    /// Where a protothread is: runnable, running, waiting (on what, until when, at which
    /// suspension point), or ended (how) while its slot has not been reused.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle (its slot was reused) or a foreign one.
    pub fn pt_status(&self, pt: Handle<ProtothreadKind>) -> Result<PtStatus> {
        self.core
            .pt_status(pt.raw())
            .map_err(|_| self.core.no_such(pt.raw()))
    }

    /// Waits for another protothread to end and gives its [`Outcome`] (immediately if it has
    /// ended and its slot was not reused). One joiner per protothread: a second replaces the
    /// first.
    pub fn join(&mut self, pt: Handle<ProtothreadKind>) -> Poll<Result<Outcome>> {
        self.core.pt_join(pt.raw())
    }

    /// `Ready` once the loop's clock reaches `at_ms` (see [`now_ms`](Cx::now_ms)); a
    /// protothread sleeping uses one timer slot. Compute `at_ms` once, before waiting, and
    /// keep it in the context.
    pub fn sleep_until(&mut self, at_ms: u64) -> Poll<Result<()>> {
        self.core.pt_sleep_until(at_ms)
    }

    /// Sets (or with `None` clears) the deadline of the running protothread: from `at_ms` on,
    /// any operation that would wait answers [`Error::Timeout`] instead (once; the deadline
    /// is then cleared and the protothread continues as written). Uses one timer slot while
    /// set.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] outside a protothread; [`Error::OutOfResources`] when no timer
    /// slot is free.
    pub fn set_deadline(&mut self, at_ms: Option<u64>) -> Result<()> {
        self.core.pt_set_deadline(at_ms)
    }
}
