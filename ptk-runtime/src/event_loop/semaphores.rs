//! Counting semaphores (Contiki's pt-sem): protothreads wait, anyone signals.
//!
//! A semaphore holds a count. [`Cx::sem_wait`](crate::Cx::sem_wait) takes one unit or, when
//! the count is 0, queues the running protothread (first come, first served). A signal adds a
//! unit and hands it to the first waiter. Signals come from handlers, protothreads, or other
//! threads through [`LoopRemote::signal`](super::LoopRemote::signal); those land in an atomic
//! counter and reach the semaphore in the loop's remote-work step, like user events.
//!
//! The queue of waiters is linked through the protothread table (a protothread waits on one
//! thing at a time), so a semaphore is three words whatever the number of waiters.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::protothreads::Protothreads;

const NIL: u32 = u32::MAX;

/// The state of one semaphore (opaque; see
/// [`Storage::semaphores`](super::Storage::semaphores)).
pub struct SemEntry {
    count: u32,
    /// FIFO of waiting protothreads, linked through their table entries.
    head: u32,
    tail: u32,
}

/// The cross-thread half: signals not yet applied, per semaphore slot.
pub(crate) struct SharedSems {
    loop_id: u8,
    handles: Box<[AtomicU64]>,
    pending: Box<[AtomicU32]>,
    dirty: Box<[AtomicU64]>,
}

impl SharedSems {
    pub(crate) fn new(loop_id: u8, n: usize) -> Self {
        SharedSems {
            loop_id,
            handles: (0..n).map(|_| AtomicU64::new(0)).collect(),
            pending: (0..n).map(|_| AtomicU32::new(0)).collect(),
            dirty: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn open(&self, h: RawHandle) {
        let i = h.slot() as usize;
        self.pending[i].store(0, Ordering::Relaxed);
        self.handles[i].store(h.to_u64(), Ordering::Release);
    }

    pub(crate) fn close(&self, h: RawHandle) {
        self.handles[h.slot() as usize].store(0, Ordering::Release);
    }

    /// Records one signal from any thread.
    pub(crate) fn signal(&self, h: RawHandle) -> Result<()> {
        if h.resource_type() != ResourceType::Semaphore || h.loop_id() != self.loop_id {
            return Err(Error::InvalidHandle);
        }
        let i = h.slot() as usize;
        let live = self.handles.get(i).ok_or(Error::InvalidHandle)?;
        if live.load(Ordering::Acquire) != h.to_u64() {
            return Err(Error::InvalidHandle);
        }
        let _ =
            self.pending[i].fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_add(1));
        self.dirty[i / 64].fetch_or(1 << (i % 64), Ordering::AcqRel);
        Ok(())
    }

    /// Calls `f(slot, signals)` for every semaphore with remote signals, clearing them.
    pub(crate) fn drain(&self, mut f: impl FnMut(usize, u32)) {
        for (w, word) in self.dirty.iter().enumerate() {
            if word.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let i = w * 64 + b;
                let n = self.pending[i].swap(0, Ordering::AcqRel);
                if n > 0 {
                    f(i, n);
                }
            }
        }
    }
}

/// The semaphores of one loop (their loop-side half).
pub(crate) struct Semaphores<'s> {
    pool: Pool<'s, SemEntry>,
}

impl<'s> Semaphores<'s> {
    pool_accessors!(SemEntry: len, capacity, contains, handle_at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<SemEntry>], loop_id: u8) -> Self {
        Semaphores {
            pool: Pool::new(
                slots,
                ResourceType::Semaphore,
                loop_id,
                Capacity::Semaphores,
            ),
        }
    }

    /// A new semaphore holding `initial` units.
    pub(crate) fn create(&mut self, initial: u32) -> Result<RawHandle> {
        self.pool
            .insert(SemEntry {
                count: initial,
                head: NIL,
                tail: NIL,
            })
            .map_err(|(_, e)| e)
    }

    /// Frees semaphore `h` (its queue must be empty); `false` if it names none.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        self.pool.remove(h).is_ok()
    }

    /// The units semaphore `h` holds.
    pub(crate) fn count(&self, h: RawHandle) -> Result<u32> {
        Ok(self.pool.get(h)?.count)
    }

    /// Takes one unit if there is one.
    pub(crate) fn try_take(&mut self, h: RawHandle) -> Result<bool> {
        let s = self.pool.get_mut(h)?;
        if s.count == 0 {
            return Ok(false);
        }
        s.count -= 1;
        Ok(true)
    }

    /// Adds one unit to the count (nobody waits).
    pub(crate) fn add(&mut self, h: RawHandle) -> Result<()> {
        let s = self.pool.get_mut(h)?;
        s.count = s.count.saturating_add(1);
        Ok(())
    }

    /// Queues protothread table entry `i` on semaphore `h`.
    pub(crate) fn enqueue(
        &mut self,
        h: RawHandle,
        i: u32,
        pts: &mut Protothreads<'_>,
    ) -> Result<()> {
        let s = self.pool.get_mut(h)?;
        *pts.wait_link(i) = NIL;
        if s.tail == NIL {
            s.head = i;
        } else {
            *pts.wait_link(s.tail) = i;
        }
        s.tail = i;
        Ok(())
    }

    /// Takes the entry that has waited longest on semaphore `h` off its queue.
    pub(crate) fn pop(&mut self, h: RawHandle, pts: &mut Protothreads<'_>) -> Option<u32> {
        let s = self.pool.get_mut(h).ok()?;
        let i = s.head;
        if i == NIL {
            return None;
        }
        s.head = *pts.wait_link(i);
        if s.head == NIL {
            s.tail = NIL;
        }
        *pts.wait_link(i) = NIL;
        Some(i)
    }

    /// Takes table entry `i` off the queue of semaphore `h`, wherever it is.
    pub(crate) fn unlink(&mut self, h: RawHandle, i: u32, pts: &mut Protothreads<'_>) {
        let Ok(s) = self.pool.get_mut(h) else { return };
        let (mut prev, mut cur) = (NIL, s.head);
        while cur != NIL {
            let next = *pts.wait_link(cur);
            if cur == i {
                if prev == NIL {
                    s.head = next;
                } else {
                    *pts.wait_link(prev) = next;
                }
                if s.tail == i {
                    s.tail = prev;
                }
                *pts.wait_link(i) = NIL;
                return;
            }
            prev = cur;
            cur = next;
        }
    }
}
