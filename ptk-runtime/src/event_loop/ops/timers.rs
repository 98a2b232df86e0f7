//! Timer operations.

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::handle::{Handle, Timer};

use super::super::timers::Purpose;

impl Cx<'_> {
    /// Creates a stopped timer.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`] when every timer slot is in use.
    pub fn timer_create(&mut self) -> Result<Handle<Timer>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.timers.create(Purpose::User);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// (Re)starts a timer: it expires `interval_ms` milliseconds from now, and then every
    /// `interval_ms` if `repeating`. Restarting an armed timer moves its deadline.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an interval of 0; [`Error::InvalidHandle`].
    pub fn timer_start(
        &mut self,
        timer: Handle<Timer>,
        interval_ms: u64,
        repeating: bool,
    ) -> Result<()> {
        let core = &mut self.core;
        if interval_ms == 0 {
            core.attached()?;
            return Err(core.fail(Error::InvalidArgument));
        }
        let deadline = core.clock.read().saturating_add(interval_ms);
        match core
            .timers
            .start(timer.raw(), deadline, interval_ms, repeating)
        {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Stops a timer before it expires (a stopped timer is not an error).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    pub fn timer_stop(&mut self, timer: Handle<Timer>) -> Result<()> {
        let core = &mut self.core;
        match core.timers.stop(timer.raw()) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Whether the timer is armed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    pub fn timer_is_armed(&self, timer: Handle<Timer>) -> Result<bool> {
        self.timer_deadline(timer).map(|d| d.is_some())
    }

    /// When an armed timer expires next, in the milliseconds of [`now_ms`](Cx::now_ms);
    /// `None` for a stopped timer. Timers fire in the order of this deadline, and timers with
    /// the same deadline in the order they were armed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    pub fn timer_deadline(&self, timer: Handle<Timer>) -> Result<Option<u64>> {
        let core = &self.core;
        if !core.timers.is_user(timer.raw()) {
            return Err(core.no_such(timer.raw()));
        }
        core.timers.deadline(timer.raw())
    }
}
