//! Signal watcher operations.

use std::task::Poll;

use crate::cx::Cx;
use crate::error::Result;
use crate::event::Trigger;
use crate::handle::{Handle, Signal};

impl Cx<'_> {
    /// Starts watching operating-system signal `signo` (`SIGINT`, `SIGTERM`, ... see
    /// [`signals`](crate::signals)): every active watcher of a signal is told when it
    /// arrives, on the loop's thread, through a handler set for [`Trigger::Signal`]
    /// (delivering [`EventKind::Signal`](crate::EventKind::Signal)) or a protothread waiting
    /// in [`signal_wait`](Cx::signal_wait). No thread is started.
    ///
    /// The first watch of a signal number by a loop installs the process's handler for it,
    /// which replaces the signal's default action (for `SIGINT`: ending the process) for as
    /// long as the process lives.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`](crate::Error::OutOfResources) when every watcher slot
    /// ([`Storage::signals`](crate::Storage::signals)) is in use, or the loop has none;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a signal that cannot be
    /// caught (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, ...) or out of range;
    /// [`Error::NotSupported`](crate::Error::NotSupported) on a platform without signals or a
    /// detached `Cx`.
    ///
    /// # Examples
    ///
    /// Stopping a loop cleanly on Ctrl-C or `kill`:
    ///
    /// ```
    /// use ptk_runtime::signals::{SIGINT, SIGTERM};
    /// use ptk_runtime::{Capacities, Config, Cx, Event, EventLoop, OwnedStorage, Trigger};
    ///
    /// fn on_signal(_: &mut (), cx: &mut Cx<'_>, _: Event) {
    ///     cx.stop();
    /// }
    ///
    /// let mut memory = OwnedStorage::new(Capacities::default());
    /// let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    /// for signo in [SIGINT, SIGTERM] {
    ///     let watcher = ev.signal_watch(signo).unwrap();
    ///     ev.set_handler(watcher, Trigger::Signal, on_signal).unwrap();
    /// }
    /// // ... listeners and protothreads ...
    /// # let remote = ev.remote();
    /// # remote.stop();
    /// ev.run().unwrap();
    /// ```
    pub fn signal_watch(&mut self, signo: i32) -> Result<Handle<Signal>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.signals.watch(signo);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Stops a watcher: arrivals are ignored (and one it held is forgotten) until
    /// [`signal_start`](Cx::signal_start). Stopping a stopped watcher is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn signal_stop(&mut self, watcher: Handle<Signal>) -> Result<()> {
        self.set_signal_active(watcher, false)
    }

    /// Starts a stopped watcher again (starting an active one is not an error).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn signal_start(&mut self, watcher: Handle<Signal>) -> Result<()> {
        self.set_signal_active(watcher, true)
    }

    fn set_signal_active(&mut self, watcher: Handle<Signal>, active: bool) -> Result<()> {
        let core = &mut self.core;
        match core.signals.set_active(watcher.raw(), active) {
            Ok(()) => Ok(()),
            Err(_) => Err(core.invalid()),
        }
    }

    /// Whether a watcher is active (watching, not stopped).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle).
    pub fn signal_is_active(&self, watcher: Handle<Signal>) -> Result<bool> {
        let core = &self.core;
        core.signals
            .is_active(watcher.raw())
            .map_err(|_| core.no_such(watcher.raw()))
    }

    /// Takes the arrival the watcher holds: `Ready(Ok(signo))` if its signal arrived since it
    /// was last taken, else `Pending` (registering a wake-up of the running protothread).
    pub fn signal_wait(&mut self, watcher: Handle<Signal>) -> Poll<Result<i32>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = watcher.raw();
        let r = match core.signals.take(h) {
            Ok(Some(signo)) => Poll::Ready(Ok(signo)),
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        };
        core.settle(h, Trigger::Signal, r)
    }
}
