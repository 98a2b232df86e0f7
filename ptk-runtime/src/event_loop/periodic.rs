//! Periodic watchers: deliveries at wall-clock boundaries, `offset + k * period`
//! milliseconds since the Unix epoch (`CLOCK_REALTIME`), for schedules people read off a clock
//! ("every minute on the minute", "every 100 ms on the 100 ms").
//!
//! A repeating timer counts its period on the loop's monotonic clock from when it was started,
//! so its deliveries are not aligned to anything and follow no change of the wall clock. A
//! periodic watcher computes its next boundary from the wall clock each time it fires and
//! waits for it on the monotonic clock (an active watcher holds one of the loop's timer slots
//! for that). When the loop was busy, or the wall clock jumped forward, past boundaries are
//! skipped: one delivery stands for the latest boundary passed and says how many before it
//! were missed. When the wall clock jumps back, the watcher waits for the first boundary
//! after the new time.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::waiter::Waiter;

/// One delivery of a periodic watcher, as a waiting protothread receives it
/// (handlers get the same fields in [`EventKind::Tick`](crate::EventKind::Tick)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tick {
    /// The boundary this delivery stands for, in milliseconds since the Unix epoch.
    pub due_ms: u64,
    /// Boundaries that passed without a delivery since the previous one.
    pub missed: u32,
}

/// The wall clock in whole milliseconds since the Unix epoch (0 before it).
pub(crate) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A wall-clock schedule: `offset + k * period` (`offset < period`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) period: u64,
    pub(crate) offset: u64,
}

/// What to do when a periodic watcher's timer expires at wall time `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Expiry {
    /// The delivery, if a boundary passed.
    pub(crate) tick: Option<Tick>,
    /// The next boundary to wait for.
    pub(crate) next: u64,
}

impl Schedule {
    /// The first boundary strictly after `now`.
    pub(crate) fn after(self, now: u64) -> u64 {
        let Schedule { period, offset } = self;
        if now < offset {
            return offset;
        }
        let k = (now - offset) / period + 1;
        offset.saturating_add(k.saturating_mul(period))
    }

    /// The watcher waited for boundary `due`; the wall clock reads `now`. At or past `due`:
    /// a delivery for the latest boundary passed, counting the ones skipped before it.
    /// Before it (the monotonic timer ran a little ahead, or the wall clock went back): no
    /// delivery, and the first boundary after `now` (which is `due` unless the clock went back
    /// by more than a period).
    pub(crate) fn expire(self, due: u64, now: u64) -> Expiry {
        if now < due {
            let next = if due - now > self.period {
                self.after(now)
            } else {
                due
            };
            return Expiry { tick: None, next };
        }
        let skipped = (now - due) / self.period;
        let latest = due + skipped * self.period;
        Expiry {
            tick: Some(Tick {
                due_ms: latest,
                missed: skipped.min(u64::from(u32::MAX)) as u32,
            }),
            next: latest + self.period,
        }
    }
}

/// The state of one periodic watcher (opaque; see
/// [`Storage::periodics`](super::Storage::periodics)).
pub struct PeriodicEntry {
    schedule: Schedule,
    /// The boundary waited for, while active.
    next: u64,
    /// The loop timer it waits with, while active.
    pub(crate) timer: Option<RawHandle>,
    /// A delivery nobody has been told of yet.
    pub(crate) fired: Option<Tick>,
    pub(crate) waiter: Waiter,
}

/// The periodic watchers of one loop.
pub(crate) struct Periodics<'s> {
    pool: Pool<'s, PeriodicEntry>,
    active: usize,
}

impl<'s> Periodics<'s> {
    pool_accessors!(PeriodicEntry: len, capacity, get, get_mut, contains, handle_at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<PeriodicEntry>], loop_id: u8) -> Self {
        Periodics {
            pool: Pool::new(slots, ResourceType::Periodic, loop_id, Capacity::Periodics),
            active: 0,
        }
    }

    /// A new stopped watcher.
    pub(crate) fn create(&mut self) -> Result<RawHandle> {
        self.pool
            .insert(PeriodicEntry {
                schedule: Schedule {
                    period: 1,
                    offset: 0,
                },
                next: 0,
                timer: None,
                fired: None,
                waiter: Waiter::None,
            })
            .map_err(|(_, e)| e)
    }

    /// How many watchers are active.
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    /// Sets the schedule of watcher `h` and returns the first boundary after `now`.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` for a zero period or an offset not below the period.
    pub(crate) fn plan(&mut self, h: RawHandle, period: u64, offset: u64, now: u64) -> Result<u64> {
        if period == 0 || offset >= period {
            return Err(Error::InvalidArgument);
        }
        let e = self.pool.get_mut(h)?;
        e.schedule = Schedule { period, offset };
        e.next = e.schedule.after(now);
        e.fired = None;
        Ok(e.next)
    }

    /// Records that watcher `h` waits with `timer` (`None`: stopped); returns the timer it
    /// waited with before, if any.
    pub(crate) fn set_timer(
        &mut self,
        h: RawHandle,
        timer: Option<RawHandle>,
    ) -> Result<Option<RawHandle>> {
        let e = self.pool.get_mut(h)?;
        let old = std::mem::replace(&mut e.timer, timer);
        match (old.is_some(), timer.is_some()) {
            (false, true) => self.active += 1,
            (true, false) => {
                self.active -= 1;
                e.fired = None;
            }
            _ => {}
        }
        Ok(old)
    }

    /// Whether watcher `h` is active.
    pub(crate) fn is_active(&self, h: RawHandle) -> Result<bool> {
        Ok(self.pool.get(h)?.timer.is_some())
    }

    /// Watcher `h`'s timer expired at wall time `now`: the delivery (merged into one nobody
    /// took yet when `latch`), and the next boundary, now waited for.
    pub(crate) fn expire(&mut self, h: RawHandle, now: u64) -> Result<Expiry> {
        let e = self.pool.get_mut(h)?;
        let x = e.schedule.expire(e.next, now);
        e.next = x.next;
        Ok(x)
    }

    /// Latches `tick` on watcher `h` for a protothread to take, merged with one nobody took:
    /// that one counts as missed too.
    pub(crate) fn latch(&mut self, h: RawHandle, tick: Tick) {
        if let Ok(e) = self.pool.get_mut(h) {
            e.fired = Some(match e.fired {
                Some(old) => Tick {
                    due_ms: tick.due_ms,
                    missed: old.missed.saturating_add(1).saturating_add(tick.missed),
                },
                None => tick,
            });
        }
    }

    /// Takes the delivery watcher `h` holds.
    pub(crate) fn take(&mut self, h: RawHandle) -> Result<Option<Tick>> {
        Ok(self.pool.get_mut(h)?.fired.take())
    }

    /// Frees watcher `h`; its timer, if it had one (for the caller to free).
    pub(crate) fn remove(&mut self, h: RawHandle) -> Option<Option<RawHandle>> {
        let e = self.pool.remove(h).ok()?;
        if e.timer.is_some() {
            self.active -= 1;
        }
        Some(e.timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_50_FROM_20: Schedule = Schedule {
        period: 50,
        offset: 20,
    };

    #[test]
    fn the_first_boundary_is_the_next_one_strictly_after_now() {
        let s = EVERY_50_FROM_20;
        assert_eq!(s.after(0), 20);
        assert_eq!(s.after(19), 20);
        assert_eq!(s.after(20), 70);
        assert_eq!(s.after(21), 70);
        assert_eq!(s.after(1_000_069), 1_000_070);
        assert_eq!(s.after(1_000_070), 1_000_120);
    }

    #[test]
    fn an_expiry_on_time_delivers_that_boundary_and_waits_for_the_next() {
        let x = EVERY_50_FROM_20.expire(1070, 1070);
        let tick = Some(Tick {
            due_ms: 1070,
            missed: 0,
        });
        assert_eq!(x, Expiry { tick, next: 1120 });
        // Late within the period: still that boundary, nothing missed.
        assert_eq!(
            EVERY_50_FROM_20.expire(1070, 1119),
            Expiry { tick, next: 1120 }
        );
    }

    #[test]
    fn a_late_expiry_delivers_the_latest_boundary_and_counts_the_skipped_ones() {
        let x = EVERY_50_FROM_20.expire(1070, 1170);
        assert_eq!(
            x,
            Expiry {
                tick: Some(Tick {
                    due_ms: 1170,
                    missed: 2
                }),
                next: 1220
            }
        );
        let x = EVERY_50_FROM_20.expire(1070, 1219);
        assert_eq!(x.tick.map(|t| (t.due_ms, t.missed)), Some((1170, 2)));
    }

    #[test]
    fn an_early_expiry_waits_for_the_same_boundary_and_a_clock_set_back_for_the_first_after_it() {
        assert_eq!(
            EVERY_50_FROM_20.expire(1070, 1069),
            Expiry {
                tick: None,
                next: 1070
            }
        );
        // Set back by more than a period: the first boundary after the new time.
        assert_eq!(
            EVERY_50_FROM_20.expire(1070, 500),
            Expiry {
                tick: None,
                next: 520
            }
        );
    }
}
