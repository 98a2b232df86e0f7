//! The loop clock: whole milliseconds since the loop started, read at most once per iteration.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Milliseconds since `epoch`, cached for the current iteration.
pub(crate) struct Clock {
    epoch: Instant,
    /// This iteration's reading (`u64::MAX`: not read yet). Iterations in which nobody asks
    /// the time (no timer armed, no sleep, no deadline) never read the clock.
    now: Cell<u64>,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
            now: Cell::new(u64::MAX),
        }
    }

    /// Reads the clock now, bypassing this iteration's cached value.
    #[inline]
    pub(crate) fn read(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// This iteration's time, read at the first call of the iteration.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self.now.get() {
            u64::MAX => {
                let t = self.read();
                self.now.set(t);
                t
            }
            t => t,
        }
    }

    /// A new iteration begins: the next [`now`](Self::now) reads the clock again.
    #[inline]
    pub(crate) fn next_iteration(&self) {
        self.now.set(u64::MAX);
    }

    /// How long from the real time now until loop time `at_ms` (zero if passed).
    pub(crate) fn until(&self, at_ms: u64) -> Duration {
        (self.epoch + Duration::from_millis(at_ms)).saturating_duration_since(Instant::now())
    }
}
