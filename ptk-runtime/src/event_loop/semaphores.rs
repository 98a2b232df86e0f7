//! Counting semaphores (Contiki's pt-sem): protothreads wait, anyone signals.
//!
//! A semaphore holds a count. [`Io::sem_wait`](crate::Io::sem_wait) takes one unit or, when
//! the count is 0, queues the running protothread (first come, first served). A signal adds a
//! unit and wakes the first waiter. Signals come from handlers, protothreads, or other threads
//! through [`LoopRemote::signal`](super::LoopRemote::signal); those land in an atomic counter
//! and reach the semaphore in the loop's remote-work step, like user events.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Poll;

use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::{Handle, RawHandle, ResourceType, Semaphore};

use super::core::Core;

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

    fn open(&self, h: RawHandle) {
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

impl<A> Core<'_, A> {
    pub(crate) fn sem_create(&mut self, initial: u32) -> Result<Handle<Semaphore>> {
        let entry = SemEntry {
            count: initial,
            head: NIL,
            tail: NIL,
        };
        let h = self.sems.insert(entry).map_err(|(_, e)| e)?;
        self.shared.sems.open(h);
        Ok(Handle::from_raw_unchecked(h))
    }

    /// Adds `n` units: each goes straight to the oldest waiter (which is woken holding it),
    /// or into the count when nobody waits.
    pub(crate) fn sem_signal(&mut self, h: RawHandle, n: u32) -> Result<()> {
        self.sems.get(h)?;
        for _ in 0..n {
            match self.sem_pop(h) {
                Some(pt) => {
                    self.pts.entries[pt.slot() as usize].granted = Some(h);
                    self.wake_pt(pt);
                }
                None => {
                    let s = self.sems.get_mut(h)?;
                    s.count = s.count.saturating_add(1);
                }
            }
        }
        Ok(())
    }

    pub(crate) fn sem_wait(&mut self, h: RawHandle) -> Poll<Result<()>> {
        if self.out_of_budget() {
            return Poll::Pending;
        }
        if let Some(cur) = self.current {
            let e = &mut self.pts.entries[cur.slot() as usize];
            if e.granted == Some(h) {
                e.granted = None;
                return Poll::Ready(Ok(()));
            }
        }
        let s = match self.sems.get_mut(h) {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(self.fail(e))),
        };
        if s.count > 0 {
            s.count -= 1;
            return Poll::Ready(Ok(()));
        }
        if self.current.is_none() {
            return Poll::Pending;
        }
        self.pend(Some((h, Trigger::Signal)))
    }

    pub(crate) fn sem_count(&self, h: RawHandle) -> Result<u32> {
        Ok(self.sems.get(h)?.count)
    }

    /// Queues protothread table entry `i` on semaphore `h` (once).
    pub(crate) fn sem_enqueue(&mut self, h: RawHandle, i: u32) -> Result<()> {
        let s = self.sems.get_mut(h)?;
        let e = &mut self.pts.entries[i as usize];
        e.sem_next = NIL;
        if s.tail == NIL {
            s.head = i;
        } else {
            self.pts.entries[s.tail as usize].sem_next = i;
        }
        s.tail = i;
        Ok(())
    }

    fn sem_pop(&mut self, h: RawHandle) -> Option<RawHandle> {
        let s = self.sems.get_mut(h).ok()?;
        let i = s.head;
        if i == NIL {
            return None;
        }
        s.head = self.pts.entries[i as usize].sem_next;
        if s.head == NIL {
            s.tail = NIL;
        }
        self.pts.entries[i as usize].sem_next = NIL;
        self.pts.entries[i as usize].waiting = None;
        Some(self.pts.handle(i))
    }

    /// Takes table entry `i` off the wait queue of semaphore `h`.
    pub(crate) fn sem_unlink(&mut self, h: RawHandle, i: u32) {
        let Ok(s) = self.sems.get_mut(h) else { return };
        let (mut prev, mut cur) = (NIL, s.head);
        while cur != NIL {
            let next = self.pts.entries[cur as usize].sem_next;
            if cur == i {
                if prev == NIL {
                    s.head = next;
                } else {
                    self.pts.entries[prev as usize].sem_next = next;
                }
                if s.tail == i {
                    s.tail = prev;
                }
                self.pts.entries[i as usize].sem_next = NIL;
                return;
            }
            prev = cur;
            cur = next;
        }
    }

    /// Closes a semaphore; its waiters wake and see the handle gone.
    pub(crate) fn close_sem(&mut self, h: RawHandle) -> bool {
        while let Some(pt) = self.sem_pop(h) {
            self.wake_pt(pt);
        }
        if self.sems.remove(h).is_err() {
            return false;
        }
        self.shared.sems.close(h);
        true
    }

    /// Applies signals raised from other threads.
    pub(crate) fn drain_remote_signals(&mut self) {
        let shared = std::sync::Arc::clone(&self.shared);
        shared.sems.drain(|slot, n| {
            if let Some((h, _)) = self.sems.get_by_index(slot) {
                let _ = self.sem_signal(h, n);
            }
        });
    }
}
