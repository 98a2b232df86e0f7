//! Signal watchers: operating-system signals (`SIGINT`, `SIGTERM`, ...) delivered on the
//! loop's thread, to handlers and protothreads, without a signal thread.
//!
//! Each loop with signal watcher slots owns one self-pipe from `signal-hook` (through
//! `signal-hook-mio`): the signal handler, which may run on any thread, only marks the signal
//! arrived and writes a byte to the pipe; the pipe's read end is registered with the loop's
//! poller like a socket, so an arrival wakes the loop, which then tells every active watcher
//! of that signal. No thread is started: a process whose only thread is the loop's stays
//! single-threaded, which keeps the C library's system call wrappers on their fast path.
//! (A self-pipe rather than `signalfd`: `signalfd` only works if the signal is blocked in
//! every thread of the process, which a library cannot promise.)
//!
//! Several watchers of one signal all fire. Arrivals coalesce: a watcher is told that its
//! signal arrived at least once since it was last told. A watcher that is stopped ignores
//! arrivals; an active watcher that nobody waits on keeps the arrival latched until a handler
//! is set or a protothread waits.
//!
//! Watching a signal number for the first time installs `signal-hook`'s handler for it
//! (which allocates once, in `signal-hook`'s registry); from then on deliveries allocate
//! nothing. When the loop is dropped its handlers are removed, but the signal's default
//! action is not restored: a `SIGINT` after that is ignored.

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::backend::{Backend, Interest};
use super::waiter::Waiter;

/// The state of one signal watcher (opaque; see [`Storage::signals`](super::Storage::signals)).
pub struct SignalEntry {
    signo: i32,
    active: bool,
    /// The signal arrived while active and nobody has been told yet.
    pub(crate) arrived: bool,
    pub(crate) waiter: Waiter,
}

impl SignalEntry {
    /// The watched signal.
    pub(crate) fn signo(&self) -> i32 {
        self.signo
    }
}

/// The signal number bits of the signals a loop has asked `signal-hook` to deliver.
const WATCHED_WORDS: usize = 2;

/// The signal watchers of one loop, and its self-pipe.
pub(crate) struct Signals<'s> {
    pool: Pool<'s, SignalEntry>,
    #[cfg(unix)]
    pipe: Option<signal_hook_mio::v1_0::Signals>,
    watched: [u64; WATCHED_WORDS],
}

impl<'s> Signals<'s> {
    pool_accessors!(SignalEntry: len, capacity, get, get_mut, contains, at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<SignalEntry>], loop_id: u8) -> Self {
        Signals {
            pool: Pool::new(slots, ResourceType::Signal, loop_id, Capacity::Signals),
            #[cfg(unix)]
            pipe: None,
            watched: [0; WATCHED_WORDS],
        }
    }

    /// Opens the self-pipe and registers it under `token` (a handle no resource has), when
    /// `slots`, the watcher slots the loop has (or is about to have: `EventLoop::grow` opens
    /// it before anything moves), is not 0 and it is not open yet.
    pub(crate) fn open(&mut self, backend: &Backend, token: RawHandle, slots: usize) -> Result<()> {
        #[cfg(unix)]
        if slots == 0 || self.pipe.is_some() {
            return Ok(());
        }
        #[cfg(unix)]
        {
            let mut pipe = signal_hook_mio::v1_0::Signals::new(std::iter::empty::<i32>())?;
            backend.register(&mut pipe, token, Interest::Read)?;
            self.pipe = Some(pipe);
        }
        #[cfg(not(unix))]
        let _ = (backend, token, slots);
        Ok(())
    }

    /// A new active watcher of `signo`.
    ///
    /// # Errors
    ///
    /// `OutOfResources(Signals)` when every slot is in use; `InvalidArgument` for a signal
    /// that cannot be caught (`SIGKILL`, `SIGSTOP`, ...) or is out of range; `NotSupported`
    /// on a platform without signals.
    pub(crate) fn watch(&mut self, signo: i32) -> Result<RawHandle> {
        let bit = usize::try_from(signo)
            .ok()
            .filter(|&s| s > 0 && s < 64 * WATCHED_WORDS)
            .ok_or(Error::InvalidArgument)?;
        if self.pool.len() == self.pool.capacity() {
            return Err(Error::OutOfResources(Capacity::Signals));
        }
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if self.watched[word] & mask == 0 {
            self.deliver(signo)?;
            self.watched[word] |= mask;
        }
        self.pool
            .insert(SignalEntry {
                signo,
                active: true,
                arrived: false,
                waiter: Waiter::None,
            })
            .map_err(|(_, e)| e)
    }

    /// Asks `signal-hook` to deliver `signo` through the pipe.
    fn deliver(&mut self, signo: i32) -> Result<()> {
        #[cfg(unix)]
        {
            // signal-hook panics on these rather than failing: check first.
            if signal_hook::consts::FORBIDDEN.contains(&signo) {
                return Err(Error::InvalidArgument);
            }
            let pipe = self.pipe.as_ref().ok_or(Error::NotSupported)?;
            pipe.add_signal(signo).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidInput => Error::InvalidArgument,
                _ => Error::from(e),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = signo;
            Err(Error::NotSupported)
        }
    }

    /// Starts (`true`) or stops a watcher; a stopped watcher forgets an arrival it held.
    pub(crate) fn set_active(&mut self, h: RawHandle, active: bool) -> Result<()> {
        let w = self.pool.get_mut(h)?;
        w.active = active;
        if !active {
            w.arrived = false;
        }
        Ok(())
    }

    /// Whether watcher `h` is active.
    pub(crate) fn is_active(&self, h: RawHandle) -> Result<bool> {
        Ok(self.pool.get(h)?.active)
    }

    /// Takes the arrival watcher `h` holds: `Some(signo)` if its signal arrived.
    pub(crate) fn take(&mut self, h: RawHandle) -> Result<Option<i32>> {
        let w = self.pool.get_mut(h)?;
        Ok(std::mem::take(&mut w.arrived).then_some(w.signo))
    }

    /// Reads the pipe and marks every active watcher of each signal that arrived. Returns
    /// whether any watcher was marked.
    pub(crate) fn collect(&mut self) -> bool {
        #[cfg(unix)]
        {
            let Some(pipe) = self.pipe.as_mut() else {
                return false;
            };
            let mut marked = false;
            for signo in pipe.pending() {
                for i in 0..self.pool.capacity() {
                    if let Some(w) = self.pool.at_mut(i) {
                        if w.active && w.signo == signo {
                            w.arrived = true;
                            marked = true;
                        }
                    }
                }
            }
            marked
        }
        #[cfg(not(unix))]
        false
    }

    /// Frees watcher `h`; `false` if it names none. The signal stays delivered to the pipe
    /// (other watchers may come); arrivals with no watcher are dropped.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        self.pool.remove(h).is_ok()
    }
}
