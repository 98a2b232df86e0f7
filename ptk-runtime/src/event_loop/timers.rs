//! Timers: slots in a pool plus a binary min-heap of the armed ones, ordered by
//! (deadline, arming order).
//!
//! Arming, stopping and firing are `O(log n)`; an iteration looks only at the heap top, so tens
//! of thousands of armed timers cost nothing while they wait. Deadlines are whole milliseconds
//! since the loop started, counted from the iteration's reading of the clock (truncated to
//! the millisecond, as libuv's loop time is), not from the instant a timer is armed (see
//! ARCHITECTURE.md, "One iteration"). Timers with equal deadlines fire in the order they
//! were armed.
//!
//! Besides the user's timers, the pool lends slots to the loop itself: the timeout of a
//! connecting stream and the sleep or deadline of a protothread ([`Purpose`]). Only user
//! timers are visible through handles given to the user.

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::waiter::Waiter;

const NIL: u32 = u32::MAX;

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A timer the user made.
    User,
    /// The timeout of a connecting stream.
    ConnectDeadline(RawHandle),
    /// The sleep or deadline of a protothread.
    PtTimer(RawHandle),
    /// The next boundary of a periodic watcher.
    Periodic(RawHandle),
}

/// The state of one timer (opaque; see [`Storage::timers`](super::Storage::timers)).
pub struct TimerEntry {
    deadline: u64,
    interval: u64,
    repeating: bool,
    pos: u32,
    seq: u64,
    waiter: Waiter,
    purpose: Purpose,
}

impl TimerEntry {
    fn new(purpose: Purpose) -> Self {
        TimerEntry {
            deadline: 0,
            interval: 0,
            repeating: false,
            pos: NIL,
            seq: 0,
            waiter: Waiter::None,
            purpose,
        }
    }

    fn is_armed(&self) -> bool {
        self.pos != NIL
    }
}

/// A timer that expired, as [`Timers::pop_expired`] reports it.
pub(crate) struct Expired {
    pub(crate) handle: RawHandle,
    pub(crate) purpose: Purpose,
    /// The waiter of a user timer (a repeating one is armed again already).
    pub(crate) waiter: Waiter,
    /// Whole periods of a repeating timer that passed without a delivery.
    pub(crate) missed: u32,
}

/// The timers of one loop: their pool and the heap of armed ones.
pub(crate) struct Timers<'s> {
    pool: Pool<'s, TimerEntry>,
    queue: TimerQueue<'s>,
}

impl<'s> Timers<'s> {
    /// Timers over `slots`; `heap` has at least as many entries (checked by the loop).
    pub(crate) fn new(slots: &'s mut [Slot<TimerEntry>], heap: &'s mut [u32], loop_id: u8) -> Self {
        Timers {
            pool: Pool::new(slots, ResourceType::Timer, loop_id, Capacity::Timers),
            queue: TimerQueue::new(heap),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pool.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.pool.capacity()
    }

    /// Starts the pool's generations at `first` (see `Core::start_generations`).
    pub(crate) fn start_generations_at(&mut self, first: u16) {
        self.pool.start_generations_at(first);
    }

    /// How far the pool's generations moved past `first`.
    pub(crate) fn generations_since(&self, first: u16) -> u16 {
        self.pool.generations_since(first)
    }

    /// How many timers are armed.
    #[inline]
    pub(crate) fn armed(&self) -> usize {
        self.queue.len()
    }

    /// A new stopped timer for `purpose`.
    pub(crate) fn create(&mut self, purpose: Purpose) -> Result<RawHandle> {
        self.pool
            .insert(TimerEntry::new(purpose))
            .map_err(|(_, e)| e)
    }

    /// A new timer for `purpose`, armed for `deadline`.
    pub(crate) fn create_armed(&mut self, purpose: Purpose, deadline: u64) -> Result<RawHandle> {
        let h = self.create(purpose)?;
        self.queue.arm(&mut self.pool, h.slot(), deadline);
        Ok(h)
    }

    /// Disarms and frees a timer; `false` if `h` names none.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        if !self.pool.contains(h) {
            return false;
        }
        self.queue.disarm(&mut self.pool, h.slot());
        self.pool.remove(h).is_ok()
    }

    /// The user timer `h`.
    fn user(&self, h: RawHandle) -> Result<&TimerEntry> {
        match self.pool.get(h) {
            Ok(t) if t.purpose == Purpose::User => Ok(t),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Whether `h` names a user timer.
    pub(crate) fn is_user(&self, h: RawHandle) -> bool {
        self.user(h).is_ok()
    }

    /// (Re)starts user timer `h` to expire at `deadline`, then every `interval` if
    /// `repeating`.
    pub(crate) fn start(
        &mut self,
        h: RawHandle,
        deadline: u64,
        interval: u64,
        repeating: bool,
    ) -> Result<()> {
        self.user(h)?;
        if let Ok(t) = self.pool.get_mut(h) {
            t.interval = interval;
            t.repeating = repeating;
        }
        self.queue.arm(&mut self.pool, h.slot(), deadline);
        Ok(())
    }

    /// Stops user timer `h` (a stopped timer is not an error).
    pub(crate) fn stop(&mut self, h: RawHandle) -> Result<()> {
        self.user(h)?;
        self.queue.disarm(&mut self.pool, h.slot());
        Ok(())
    }

    /// The deadline of timer `h` if it is armed.
    pub(crate) fn deadline(&self, h: RawHandle) -> Result<Option<u64>> {
        let t = self.pool.get(h)?;
        Ok(t.is_armed().then_some(t.deadline))
    }

    /// Arms (or re-arms) a loop-owned timer for `deadline`, unless it is armed for exactly that.
    pub(crate) fn arm(&mut self, h: RawHandle, deadline: u64) {
        match self.pool.get(h) {
            Ok(t) if t.is_armed() && t.deadline == deadline => {}
            Ok(_) => self.queue.arm(&mut self.pool, h.slot(), deadline),
            Err(_) => {}
        }
    }

    /// The waiter of user timer `h`.
    pub(crate) fn waiter(&self, h: RawHandle) -> Result<Waiter> {
        self.user(h).map(|t| t.waiter)
    }

    /// Sets the waiter of user timer `h`.
    pub(crate) fn set_waiter(&mut self, h: RawHandle, w: Waiter) -> Result<()> {
        self.user(h)?;
        if let Ok(t) = self.pool.get_mut(h) {
            t.waiter = w;
        }
        Ok(())
    }

    /// The earliest deadline, if any timer is armed.
    #[inline(always)]
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.queue.next_deadline(&self.pool)
    }

    /// Takes the earliest timer whose deadline is at or before `now`. A repeating user timer is
    /// armed again for its next period (skipping the periods that passed); a protothread
    /// waiting on a user timer is unregistered (it re-registers if it waits again).
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<Expired> {
        loop {
            let slot = self.queue.pop_expired(&mut self.pool, now)?;
            let Some((handle, t)) = self.pool.get_by_index_mut(slot as usize) else {
                continue;
            };
            let mut missed = 0;
            let waiter = t.waiter;
            let purpose = t.purpose;
            if purpose == Purpose::User {
                if let Waiter::Pt(_) = waiter {
                    t.waiter = Waiter::None;
                }
                if t.repeating {
                    let periods = (now - t.deadline) / t.interval;
                    missed = periods.min(u64::from(u32::MAX)) as u32;
                    let next = t
                        .deadline
                        .saturating_add((periods + 1).saturating_mul(t.interval));
                    self.queue.arm(&mut self.pool, slot, next);
                }
            }
            return Some(Expired {
                handle,
                purpose,
                waiter,
                missed,
            });
        }
    }

    /// The handle in slot `i` if it is a user timer (for closing them all).
    pub(crate) fn user_at(&self, i: usize) -> Option<RawHandle> {
        self.pool
            .get_by_index(i)
            .filter(|(_, t)| t.purpose == Purpose::User)
            .map(|(h, _)| h)
    }

    /// Moves the timers into larger storage; the old storage comes back.
    #[allow(clippy::type_complexity)]
    pub(crate) fn grow(
        &mut self,
        slots: &'s mut [Slot<TimerEntry>],
        heap: &'s mut [u32],
    ) -> Result<(&'s mut [Slot<TimerEntry>], &'s mut [u32])> {
        let old_slots = self.pool.grow(slots)?;
        Ok((old_slots, self.queue.grow(heap)))
    }
}

/// The min-heap of armed timer slots, over a borrowed array.
struct TimerQueue<'s> {
    heap: &'s mut [u32],
    len: usize,
    seq: u64,
}

fn key(pool: &Pool<'_, TimerEntry>, slot: u32) -> (u64, u64) {
    pool.at(slot as usize)
        .map_or((u64::MAX, u64::MAX), |t| (t.deadline, t.seq))
}

impl<'s> TimerQueue<'s> {
    fn new(heap: &'s mut [u32]) -> Self {
        TimerQueue {
            heap,
            len: 0,
            seq: 0,
        }
    }

    /// How many timers are armed.
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    /// Moves the queue into `larger` (at least as long) and returns the old array.
    fn grow(&mut self, larger: &'s mut [u32]) -> &'s mut [u32] {
        larger[..self.len].copy_from_slice(&self.heap[..self.len]);
        std::mem::replace(&mut self.heap, larger)
    }

    /// Arms (or re-arms) timer `slot` for `deadline`.
    fn arm(&mut self, pool: &mut Pool<'_, TimerEntry>, slot: u32, deadline: u64) {
        self.disarm(pool, slot);
        self.seq += 1;
        let Some(t) = pool.at_mut(slot as usize) else {
            return;
        };
        t.deadline = deadline;
        t.seq = self.seq;
        let i = self.len;
        if i >= self.heap.len() {
            // Cannot happen: the heap has a place per timer slot (checked at start-up).
            return;
        }
        self.heap[i] = slot;
        t.pos = i as u32;
        self.len += 1;
        self.sift_up(pool, i);
    }

    /// Disarms timer `slot` if it is armed.
    fn disarm(&mut self, pool: &mut Pool<'_, TimerEntry>, slot: u32) {
        let Some(t) = pool.at_mut(slot as usize) else {
            return;
        };
        let pos = t.pos;
        if pos == NIL {
            return;
        }
        t.pos = NIL;
        let i = pos as usize;
        self.len -= 1;
        if i == self.len {
            return;
        }
        let moved = self.heap[self.len];
        self.heap[i] = moved;
        if let Some(m) = pool.at_mut(moved as usize) {
            m.pos = i as u32;
        }
        self.sift_down(pool, i);
        self.sift_up(pool, i);
    }

    /// The earliest deadline, if any timer is armed.
    #[inline(always)]
    fn next_deadline(&self, pool: &Pool<'_, TimerEntry>) -> Option<u64> {
        (self.len > 0).then(|| key(pool, self.heap[0]).0)
    }

    /// Disarms and returns the earliest timer if its deadline is at or before `now`.
    fn pop_expired(&mut self, pool: &mut Pool<'_, TimerEntry>, now: u64) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let top = self.heap[0];
        if key(pool, top).0 > now {
            return None;
        }
        self.disarm(pool, top);
        Some(top)
    }

    fn swap(&mut self, pool: &mut Pool<'_, TimerEntry>, a: usize, b: usize) {
        self.heap.swap(a, b);
        for i in [a, b] {
            if let Some(t) = pool.at_mut(self.heap[i] as usize) {
                t.pos = i as u32;
            }
        }
    }

    fn sift_up(&mut self, pool: &mut Pool<'_, TimerEntry>, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if key(pool, self.heap[i]) >= key(pool, self.heap[parent]) {
                break;
            }
            self.swap(pool, i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, pool: &mut Pool<'_, TimerEntry>, mut i: usize) {
        loop {
            let l = 2 * i + 1;
            let r = l + 1;
            let mut min = i;
            if l < self.len && key(pool, self.heap[l]) < key(pool, self.heap[min]) {
                min = l;
            }
            if r < self.len && key(pool, self.heap[r]) < key(pool, self.heap[min]) {
                min = r;
            }
            if min == i {
                break;
            }
            self.swap(pool, i, min);
            i = min;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_pop_in_deadline_then_arming_order_and_disarm_removes() {
        let mut slots: Vec<Slot<TimerEntry>> = (0..64).map(|_| Slot::EMPTY).collect();
        let mut heap = vec![0u32; 64];
        let mut pool = Pool::new(&mut slots, ResourceType::Timer, 0, Capacity::Timers);
        let mut q = TimerQueue::new(&mut heap);
        let mut handles = Vec::new();
        for i in 0..64u64 {
            let h = pool
                .insert(TimerEntry::new(Purpose::User))
                .map_err(|e| e.1)
                .unwrap();
            // Deadlines 0..16 four times over, armed in slot order.
            q.arm(&mut pool, h.slot(), (i * 7) % 16);
            handles.push(h);
        }
        // Stop every slot divisible by 5.
        for h in handles.iter().filter(|h| h.slot() % 5 == 0) {
            q.disarm(&mut pool, h.slot());
        }
        let mut fired = Vec::new();
        while let Some(slot) = q.pop_expired(&mut pool, 100) {
            let t = pool.at(slot as usize).unwrap();
            fired.push((t.deadline, t.seq, slot));
        }
        let mut expected: Vec<_> = (0..64u32)
            .filter(|s| s % 5 != 0)
            .map(|s| {
                let t = pool.at(s as usize).unwrap();
                (t.deadline, t.seq, s)
            })
            .collect();
        expected.sort();
        assert_eq!(fired, expected);
        assert_eq!(q.len(), 0);
    }
}
