//! Timers: slots in a pool plus a binary min-heap of the armed ones, ordered by
//! (deadline, arming order).
//!
//! Arming, stopping and firing are `O(log n)`; an iteration looks only at the heap top, so tens
//! of thousands of armed timers cost nothing while they wait. Deadlines are whole milliseconds
//! since the loop started. Timers with equal deadlines fire in the order they were armed.

use crate::handle::RawHandle;
use crate::pool::Pool;

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
}

/// The state of one timer (opaque; see [`Storage::timers`](super::Storage::timers)).
pub struct TimerEntry<A> {
    pub(crate) deadline: u64,
    pub(crate) interval: u64,
    pub(crate) repeating: bool,
    pub(crate) pos: u32,
    pub(crate) seq: u64,
    pub(crate) waiter: Waiter<A>,
    pub(crate) purpose: Purpose,
}

impl<A> TimerEntry<A> {
    pub(crate) fn new(purpose: Purpose) -> Self {
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

    pub(crate) fn is_armed(&self) -> bool {
        self.pos != NIL
    }
}

/// The min-heap of armed timer slots, over a borrowed array.
pub(crate) struct TimerQueue<'s> {
    heap: &'s mut [u32],
    len: usize,
    seq: u64,
}

fn key<A>(pool: &Pool<'_, TimerEntry<A>>, slot: u32) -> (u64, u64) {
    pool.at(slot as usize)
        .map_or((u64::MAX, u64::MAX), |t| (t.deadline, t.seq))
}

impl<'s> TimerQueue<'s> {
    pub(crate) fn new(heap: &'s mut [u32]) -> Self {
        TimerQueue {
            heap,
            len: 0,
            seq: 0,
        }
    }

    /// How many timers are armed.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Moves the queue into `larger` (at least as long) and returns the old array.
    pub(crate) fn grow(&mut self, larger: &'s mut [u32]) -> &'s mut [u32] {
        larger[..self.len].copy_from_slice(&self.heap[..self.len]);
        std::mem::replace(&mut self.heap, larger)
    }

    /// Arms (or re-arms) timer `slot` for `deadline`.
    pub(crate) fn arm<A>(&mut self, pool: &mut Pool<'_, TimerEntry<A>>, slot: u32, deadline: u64) {
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
    pub(crate) fn disarm<A>(&mut self, pool: &mut Pool<'_, TimerEntry<A>>, slot: u32) {
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
    pub(crate) fn next_deadline<A>(&self, pool: &Pool<'_, TimerEntry<A>>) -> Option<u64> {
        (self.len > 0).then(|| key(pool, self.heap[0]).0)
    }

    /// Disarms and returns the earliest timer if its deadline is at or before `now`.
    pub(crate) fn pop_expired<A>(
        &mut self,
        pool: &mut Pool<'_, TimerEntry<A>>,
        now: u64,
    ) -> Option<u32> {
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

    fn swap<A>(&mut self, pool: &mut Pool<'_, TimerEntry<A>>, a: usize, b: usize) {
        self.heap.swap(a, b);
        for i in [a, b] {
            if let Some(t) = pool.at_mut(self.heap[i] as usize) {
                t.pos = i as u32;
            }
        }
    }

    fn sift_up<A>(&mut self, pool: &mut Pool<'_, TimerEntry<A>>, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if key(pool, self.heap[i]) >= key(pool, self.heap[parent]) {
                break;
            }
            self.swap(pool, i, parent);
            i = parent;
        }
    }

    fn sift_down<A>(&mut self, pool: &mut Pool<'_, TimerEntry<A>>, mut i: usize) {
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
    use crate::error::Capacity;
    use crate::handle::ResourceType;
    use crate::pool::Slot;

    #[test]
    fn timers_pop_in_deadline_then_arming_order_and_disarm_removes() {
        let mut slots: Vec<Slot<TimerEntry<()>>> = (0..64).map(|_| Slot::EMPTY).collect();
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
