//! Counting semaphore operations.

use std::task::Poll;

use crate::cx::Cx;
use crate::error::Result;
use crate::handle::{Handle, Semaphore};

impl Cx<'_> {
    /// Creates a counting semaphore holding `initial` units.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when every semaphore slot is
    /// in use.
    pub fn sem_create(&mut self, initial: u32) -> Result<Handle<Semaphore>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.sems.create(initial);
        let h = core.note(r)?;
        if let Some(shared) = &core.shared {
            shared.sems.open(h);
        }
        Ok(Handle::from_raw_unchecked(h))
    }

    /// Adds one unit: it goes to the protothread that has waited longest (woken holding it),
    /// or into the count. From other threads use
    /// [`LoopRemote::signal`](crate::LoopRemote::signal).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn sem_signal(&mut self, semaphore: Handle<Semaphore>) -> Result<()> {
        let core = &mut self.core;
        match core.sem_signal(semaphore.raw(), 1) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Takes one unit: `Ready(Ok(()))` at once if the count is positive, else the running
    /// protothread queues (first come, first served) and gets the next signalled unit.
    pub fn sem_wait(&mut self, semaphore: Handle<Semaphore>) -> Poll<Result<()>> {
        self.core.sem_wait(semaphore.raw())
    }

    /// The units a semaphore holds now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn sem_count(&self, semaphore: Handle<Semaphore>) -> Result<u32> {
        let core = &self.core;
        core.sems
            .count(semaphore.raw())
            .map_err(|_| core.no_such(semaphore.raw()))
    }
}
