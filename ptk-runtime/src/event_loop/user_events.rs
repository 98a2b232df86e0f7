//! User event sources: a fixed number of event ids per source, raised from any thread.
//!
//! Each source has [`USER_EVENT_IDS`] event slots keyed by **sparse** `u32` ids (1, 16,
//! 2049, ...): an id takes a slot the first time it is raised or waited for, found again by a
//! linear search. The half other threads touch lives in atomics made at start-up:
//!
//! * a slot's **key** word holds (claimed, source generation, id). Claims happen in slot
//!   order with compare-and-swap, so two threads raising a new id at once agree on one slot;
//! * a slot's **count** word holds (source generation, raises not yet delivered). A raise
//!   adds one; the loop takes the whole count at once;
//! * per source a bitmask of slots with raises, and per loop a bitset of such sources, so the
//!   loop visits only what was raised.
//!
//! # Delivery contract
//!
//! Every raise that returned `Ok` is counted exactly once. Raises of one id that happen
//! before the loop delivers them **coalesce** into one delivery whose
//! [`EventKind::User`](crate::EventKind::User) `count` is the number of raises. A raise with
//! nobody waiting stays latched (its count keeps growing) and is delivered on the iteration
//! after a handler is set for that id. A count saturates at `u32::MAX`. A raise that races
//! with the closing of its source fails with `InvalidHandle` or is dropped with the source.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::waiter::Waiter;

/// How many distinct event ids one user event source can hold.
pub const USER_EVENT_IDS: usize = 32;

const CLAIMED: u64 = 1 << 63;

/// The loop-side state of one user event source (opaque; see
/// [`Storage::user_events`](super::Storage::user_events)): who waits for each of its ids.
pub struct UserEventsEntry {
    pub(crate) waiters: [Waiter; USER_EVENT_IDS],
}

/// The user event sources of one loop (their loop-side half).
pub(crate) struct UserEventSources<'s> {
    pool: Pool<'s, UserEventsEntry>,
}

impl<'s> UserEventSources<'s> {
    pool_accessors!(UserEventsEntry: len, capacity, get, get_mut, contains, at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<UserEventsEntry>], loop_id: u8) -> Self {
        UserEventSources {
            pool: Pool::new(
                slots,
                ResourceType::UserEvents,
                loop_id,
                Capacity::UserEventSources,
            ),
        }
    }

    /// A new source with nobody waiting.
    pub(crate) fn create(&mut self) -> Result<RawHandle> {
        self.pool
            .insert(UserEventsEntry {
                waiters: [Waiter::None; USER_EVENT_IDS],
            })
            .map_err(|(_, e)| e)
    }

    /// Frees source `h`; `false` if it names none.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        self.pool.remove(h).is_ok()
    }
}

/// The cross-thread half of one source.
struct SharedSource {
    handle: AtomicU64,
    pending: AtomicU64,
    keys: [AtomicU64; USER_EVENT_IDS],
    counts: [AtomicU64; USER_EVENT_IDS],
}

/// The cross-thread half of every source of one loop.
pub(crate) struct SharedSources {
    loop_id: u8,
    sources: Box<[SharedSource]>,
    dirty: Box<[AtomicU64]>,
}

fn key_of(generation: u16, id: u32) -> u64 {
    CLAIMED | (u64::from(generation) << 32) | u64::from(id)
}

/// Whether generation `a` is newer than `b`, modulo wrap.
fn newer(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000
}

impl SharedSources {
    pub(crate) fn new(loop_id: u8, n: usize) -> Self {
        let sources = (0..n)
            .map(|_| SharedSource {
                handle: AtomicU64::new(0),
                pending: AtomicU64::new(0),
                keys: std::array::from_fn(|_| AtomicU64::new(0)),
                counts: std::array::from_fn(|_| AtomicU64::new(0)),
            })
            .collect();
        let dirty = (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
        SharedSources {
            loop_id,
            sources,
            dirty,
        }
    }

    /// Publishes a new source in slot `h.slot()`.
    pub(crate) fn open(&self, h: RawHandle) {
        if let Some(s) = self.sources.get(h.slot() as usize) {
            s.pending.store(0, Ordering::Relaxed);
            s.handle.store(h.to_u64(), Ordering::Release);
        }
    }

    /// Withdraws a source; later raises with its handle fail.
    pub(crate) fn close(&self, h: RawHandle) {
        if let Some(s) = self.sources.get(h.slot() as usize) {
            s.handle.store(0, Ordering::Release);
            s.pending.store(0, Ordering::Relaxed);
        }
    }

    fn source(&self, h: RawHandle) -> Result<&SharedSource> {
        if h.resource_type() != ResourceType::UserEvents || h.loop_id() != self.loop_id {
            return Err(Error::InvalidHandle);
        }
        let s = self
            .sources
            .get(h.slot() as usize)
            .ok_or(Error::InvalidHandle)?;
        if s.handle.load(Ordering::Acquire) != h.to_u64() {
            return Err(Error::InvalidHandle);
        }
        Ok(s)
    }

    /// The slot of `id` in source `h`, claiming a free one if `claim`.
    pub(crate) fn slot_of(&self, h: RawHandle, id: u32, claim: bool) -> Result<Option<usize>> {
        let s = self.source(h)?;
        let generation = h.generation();
        let want = key_of(generation, id);
        for (k, key) in s.keys.iter().enumerate() {
            let mut cur = key.load(Ordering::Acquire);
            loop {
                if cur == want {
                    return Ok(Some(k));
                }
                let live = cur & CLAIMED != 0 && (cur >> 32) as u16 == generation;
                if live {
                    break; // another id's slot
                }
                if !claim {
                    return Ok(None); // ids are claimed in slot order: no later slot has it
                }
                match key.compare_exchange(cur, want, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return Ok(Some(k)),
                    Err(now) => cur = now,
                }
            }
        }
        if claim {
            Err(Error::OutOfResources(Capacity::UserEventIds))
        } else {
            Ok(None)
        }
    }

    /// Counts one raise of `id` and marks it for the loop. Safe from any thread.
    pub(crate) fn raise(&self, h: RawHandle, id: u32) -> Result<()> {
        let k = self.slot_of(h, id, true)?.ok_or(Error::InvalidHandle)?;
        let s = self.source(h)?;
        let generation = h.generation();
        let count = &s.counts[k];
        let mut cur = count.load(Ordering::Acquire);
        loop {
            let g = (cur >> 32) as u16;
            let next = if g == generation {
                if cur as u32 == u32::MAX {
                    break; // saturated; still marked pending below
                }
                cur + 1
            } else if newer(g, generation) {
                return Err(Error::InvalidHandle);
            } else {
                (u64::from(generation) << 32) | 1
            };
            match count.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.mark(h.slot() as usize, k);
        Ok(())
    }

    /// Marks slot `k` of source `i` as having raises for the loop to look at.
    pub(crate) fn mark(&self, i: usize, k: usize) {
        if let Some(s) = self.sources.get(i) {
            s.pending.fetch_or(1 << k, Ordering::AcqRel);
            self.dirty[i / 64].fetch_or(1 << (i % 64), Ordering::AcqRel);
        }
    }

    /// The raises of slot `k` not yet taken.
    pub(crate) fn peek(&self, h: RawHandle, k: usize) -> u32 {
        let Some(s) = self.sources.get(h.slot() as usize) else {
            return 0;
        };
        let cur = s.counts[k].load(Ordering::Acquire);
        if (cur >> 32) as u16 == h.generation() {
            cur as u32
        } else {
            0
        }
    }

    /// Takes every raise of slot `k` (loop thread).
    pub(crate) fn take(&self, h: RawHandle, k: usize) -> u32 {
        let Some(s) = self.sources.get(h.slot() as usize) else {
            return 0;
        };
        let generation = h.generation();
        let count = &s.counts[k];
        let mut cur = count.load(Ordering::Acquire);
        loop {
            if (cur >> 32) as u16 != generation || cur as u32 == 0 {
                return 0;
            }
            let next = u64::from(generation) << 32;
            match count.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return cur as u32,
                Err(now) => cur = now,
            }
        }
    }

    /// The id held by slot `k` of source `h`.
    pub(crate) fn id_at(&self, h: RawHandle, k: usize) -> Option<u32> {
        let s = self.sources.get(h.slot() as usize)?;
        let key = s.keys[k].load(Ordering::Acquire);
        (key & CLAIMED != 0 && (key >> 32) as u16 == h.generation()).then_some(key as u32)
    }

    /// Calls `f(source index, slot mask)` for every source with raises, clearing the marks.
    pub(crate) fn drain(&self, mut f: impl FnMut(usize, u64)) {
        for (w, word) in self.dirty.iter().enumerate() {
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let i = w * 64 + b;
                let mask = self.sources[i].pending.swap(0, Ordering::AcqRel);
                if mask != 0 {
                    f(i, mask);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(slot: u32, generation: u16) -> RawHandle {
        RawHandle::new(ResourceType::UserEvents, 1, generation, slot)
    }

    #[test]
    fn sparse_ids_claim_slots_in_order_and_fill_up() {
        let s = SharedSources::new(1, 2);
        let a = h(0, 1);
        s.open(a);
        assert_eq!(s.slot_of(a, 2049, true), Ok(Some(0)));
        assert_eq!(s.slot_of(a, 1, true), Ok(Some(1)));
        assert_eq!(s.slot_of(a, 2049, false), Ok(Some(0)));
        assert_eq!(s.slot_of(a, 16, false), Ok(None));
        for id in 100..100 + USER_EVENT_IDS as u32 - 2 {
            s.raise(a, id).unwrap();
        }
        assert_eq!(
            s.raise(a, 7),
            Err(Error::OutOfResources(Capacity::UserEventIds))
        );
        assert_eq!(s.raise(a, 1), Ok(()));
    }

    #[test]
    fn raises_coalesce_and_are_taken_once() {
        let s = SharedSources::new(1, 1);
        let a = h(0, 3);
        s.open(a);
        for _ in 0..5 {
            s.raise(a, 16).unwrap();
        }
        let mut seen = Vec::new();
        s.drain(|i, mask| seen.push((i, mask)));
        assert_eq!(seen, vec![(0, 1)]);
        assert_eq!(s.take(a, 0), 5);
        assert_eq!(s.take(a, 0), 0);
        s.drain(|_, _| panic!("nothing is pending"));
    }

    #[test]
    fn stale_and_foreign_handles_cannot_raise() {
        let s = SharedSources::new(1, 1);
        let a = h(0, 3);
        s.open(a);
        assert_eq!(s.raise(h(0, 2), 1), Err(Error::InvalidHandle));
        assert_eq!(
            s.raise(RawHandle::new(ResourceType::UserEvents, 2, 3, 0), 1),
            Err(Error::InvalidHandle)
        );
        assert_eq!(
            s.raise(RawHandle::new(ResourceType::Timer, 1, 3, 0), 1),
            Err(Error::InvalidHandle)
        );
        assert_eq!(s.raise(h(5, 3), 1), Err(Error::InvalidHandle));
        s.close(a);
        assert_eq!(s.raise(a, 1), Err(Error::InvalidHandle));
        // A new incarnation of the slot starts with fresh ids and counts.
        let b = h(0, 4);
        s.open(b);
        s.raise(b, 9).unwrap();
        assert_eq!(s.slot_of(b, 9, false), Ok(Some(0)));
        assert_eq!(s.take(b, 0), 1);
    }

    #[test]
    fn concurrent_raises_of_new_ids_agree_on_slots_and_lose_nothing() {
        let s = SharedSources::new(1, 1);
        let a = h(0, 1);
        s.open(a);
        let per_thread = if cfg!(miri) { 50 } else { 5_000 };
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..per_thread {
                        s.raise(a, [1, 16, 2049, 70_000][((i + t) % 4) as usize])
                            .unwrap();
                    }
                });
            }
        });
        let mut total = 0;
        for id in [1, 16, 2049, 70_000] {
            let k = s.slot_of(a, id, false).unwrap().unwrap();
            total += s.take(a, k);
        }
        assert_eq!(total, 4 * per_thread);
        assert_eq!(s.slot_of(a, 5, false), Ok(None));
    }
}
