//! User event operations: sources, raising from the loop thread, waiting for an id.

use std::task::Poll;

use crate::cx::Cx;
use crate::error::Result;
use crate::event::Trigger;
use crate::handle::{Handle, UserEvents};

impl Cx<'_> {
    /// Creates a user event source.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when every source is in use.
    pub fn user_events_create(&mut self) -> Result<Handle<UserEvents>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.user.create();
        let h = core.note(r)?;
        if let Some(shared) = &core.shared {
            shared.sources.open(h);
        }
        Ok(Handle::from_raw_unchecked(h))
    }

    /// Raises event `id` of `source` (from the loop thread; other threads use
    /// [`LoopRemote::raise`](crate::LoopRemote::raise)). Never blocks, never allocates.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle);
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when the source already holds
    /// as many distinct ids as it can.
    pub fn raise(&mut self, source: Handle<UserEvents>, id: u32) -> Result<()> {
        let core = &mut self.core;
        let r = core
            .shared()
            .and_then(|s| s.sources.raise(source.raw(), id));
        core.note(r)?;
        core.doorbell();
        Ok(())
    }

    /// Takes the raises of `id` latched since the last take: `Ready(Ok(count))` if there were
    /// any, else `Pending` (registering a wake-up of the running protothread).
    pub fn take_event(&mut self, source: Handle<UserEvents>, id: u32) -> Poll<Result<u32>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = source.raw();
        let r = match core.shared() {
            Ok(shared) => match shared.sources.slot_of(h, id, false) {
                Ok(Some(k)) => match shared.sources.take(h, k) {
                    0 => Poll::Pending,
                    n => Poll::Ready(Ok(n)),
                },
                Ok(None) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            Err(e) => Poll::Ready(Err(e)),
        };
        core.settle(h, Trigger::User(id), r)
    }
}
