//! Defer and idle watchers: the two watchers that answer the loop itself rather than the
//! outside world.
//!
//! A **defer watcher**, once started, runs at the start of the next iteration (the first
//! step after the poll) and stops again: a call "soon, but not now" that never re-enters the
//! code that asked for it. Started watchers wait in a first-in, first-out queue threaded
//! through their entries (two `u32` links each), so the queue needs no memory of its own,
//! holds each watcher at most once, and stopping a queued watcher unlinks it in `O(1)`.
//!
//! An **idle watcher** runs when the loop runs out of work: it is about to block in its poll
//! (nothing is runnable or waiting to be dispatched) and something happened since idle
//! watchers last ran (see [`Idles`]). It then runs once and the loop blocks as usual: idle
//! watchers never make the loop spin.
//!
//! Both deliver to a handler ([`Trigger::Deferred`](crate::Trigger::Deferred),
//! [`Trigger::Idle`](crate::Trigger::Idle)) or wake a protothread waiting on them; a run
//! that finds neither is latched until someone waits.

use crate::error::{Capacity, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::waiter::Waiter;

const NIL: u32 = u32::MAX;

/// The state of one defer or idle watcher (opaque; see
/// [`Storage::defers`](super::Storage::defers) and [`Storage::idles`](super::Storage::idles)).
pub struct WatcherEntry {
    active: bool,
    /// It ran and nobody has been told yet (a protothread takes it when it polls again).
    pub(crate) fired: bool,
    pub(crate) waiter: Waiter,
    /// The defer queue's links (slot indexes, `NIL` at the ends).
    prev: u32,
    next: u32,
}

impl WatcherEntry {
    fn new() -> Self {
        WatcherEntry {
            active: false,
            fired: false,
            waiter: Waiter::None,
            prev: NIL,
            next: NIL,
        }
    }
}

/// The defer watchers of one loop and their queue.
pub(crate) struct Defers<'s> {
    pool: Pool<'s, WatcherEntry>,
    head: u32,
    tail: u32,
    queued: usize,
}

impl<'s> Defers<'s> {
    pool_accessors!(WatcherEntry: len, capacity, get, get_mut, contains, handle_at, generations);

    pub(crate) fn new(slots: &'s mut [Slot<WatcherEntry>], loop_id: u8) -> Self {
        Defers {
            pool: Pool::new(slots, ResourceType::Defer, loop_id, Capacity::Defers),
            head: NIL,
            tail: NIL,
            queued: 0,
        }
    }

    /// A new stopped watcher.
    pub(crate) fn create(&mut self) -> Result<RawHandle> {
        self.pool.insert(WatcherEntry::new()).map_err(|(_, e)| e)
    }

    /// How many watchers are queued to run.
    #[inline]
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Queues watcher `h` at the back, unless it is queued already.
    pub(crate) fn start(&mut self, h: RawHandle) -> Result<()> {
        let i = self.pool.index_of(h)? as u32;
        let tail = self.tail;
        let e = self.pool.get_mut(h)?;
        if e.active {
            return Ok(());
        }
        e.active = true;
        e.prev = tail;
        e.next = NIL;
        match self.pool.at_mut(tail as usize) {
            Some(t) if tail != NIL => t.next = i,
            _ => self.head = i,
        }
        self.tail = i;
        self.queued += 1;
        Ok(())
    }

    /// Takes watcher `h` off the queue (a stopped watcher also forgets a run it held).
    pub(crate) fn stop(&mut self, h: RawHandle) -> Result<()> {
        let i = self.pool.index_of(h)?;
        self.unlink(i);
        if let Some(e) = self.pool.at_mut(i) {
            e.fired = false;
        }
        Ok(())
    }

    /// Whether watcher `h` is queued.
    pub(crate) fn is_active(&self, h: RawHandle) -> Result<bool> {
        Ok(self.pool.get(h)?.active)
    }

    /// Takes the run watcher `h` holds.
    pub(crate) fn take(&mut self, h: RawHandle) -> Result<bool> {
        Ok(std::mem::take(&mut self.pool.get_mut(h)?.fired))
    }

    /// Takes the watcher at the front of the queue: it is stopped now.
    pub(crate) fn pop(&mut self) -> Option<(RawHandle, &mut WatcherEntry)> {
        let i = self.head as usize;
        if self.head == NIL {
            return None;
        }
        self.unlink(i);
        self.pool.get_by_index_mut(i)
    }

    fn unlink(&mut self, i: usize) {
        let Some(e) = self.pool.at_mut(i) else {
            return;
        };
        if !e.active {
            return;
        }
        e.active = false;
        let (prev, next) = (e.prev, e.next);
        e.prev = NIL;
        e.next = NIL;
        match self.pool.at_mut(prev as usize) {
            Some(p) if prev != NIL => p.next = next,
            _ => self.head = next,
        }
        match self.pool.at_mut(next as usize) {
            Some(n) if next != NIL => n.prev = prev,
            _ => self.tail = prev,
        }
        self.queued -= 1;
    }

    /// Frees watcher `h`, taking it off the queue; `false` if it names none.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        let Ok(i) = self.pool.index_of(h) else {
            return false;
        };
        self.unlink(i);
        self.pool.remove(h).is_ok()
    }

    /// Moves the watchers into larger storage (slot indexes, and so the queue, are kept).
    pub(crate) fn grow(
        &mut self,
        slots: &'s mut [Slot<WatcherEntry>],
    ) -> Result<&'s mut [Slot<WatcherEntry>]> {
        self.pool.grow(slots)
    }
}

/// The idle watchers of one loop, and whether they are due.
///
/// Idle watchers are due when the loop is about to block and something happened since they
/// last ran (or one was started since): the poll reported something (a socket, a wake from
/// another thread, a signal), a timer or periodic watcher was due, or signals or remote work
/// were. What idle watchers themselves cause (handlers they call, defer watchers they start,
/// protothreads they wake and what those do without the loop's help) is not "something
/// happened", so a protothread that waits for idle in a loop runs once per idle period, not
/// over and over.
pub(crate) struct Idles<'s> {
    pool: Pool<'s, WatcherEntry>,
    active: usize,
    /// Something happened since idle watchers last ran (a new loop, and a watcher started,
    /// count as such).
    pub(crate) stirred: bool,
}

impl<'s> Idles<'s> {
    pool_accessors!(WatcherEntry: len, capacity, get, get_mut, contains, handle_at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<WatcherEntry>], loop_id: u8) -> Self {
        Idles {
            pool: Pool::new(slots, ResourceType::Idle, loop_id, Capacity::Idles),
            active: 0,
            stirred: true,
        }
    }

    /// A new stopped watcher.
    pub(crate) fn create(&mut self) -> Result<RawHandle> {
        self.pool.insert(WatcherEntry::new()).map_err(|(_, e)| e)
    }

    /// How many watchers are active.
    #[inline]
    pub(crate) fn active(&self) -> usize {
        self.active
    }

    /// Whether the idle step should run if the loop is about to block.
    #[inline]
    pub(crate) fn due(&self) -> bool {
        self.active != 0 && self.stirred
    }

    /// Starts (`true`) or stops watcher `h`; a stopped watcher forgets a run it held. A
    /// watcher started anew runs the next time the loop runs out of work.
    pub(crate) fn set_active(&mut self, h: RawHandle, active: bool) -> Result<()> {
        let e = self.pool.get_mut(h)?;
        if e.active != active {
            e.active = active;
            if active {
                self.active += 1;
                self.stirred = true;
            } else {
                self.active -= 1;
                e.fired = false;
            }
        }
        Ok(())
    }

    /// Whether watcher `h` is active.
    pub(crate) fn is_active(&self, h: RawHandle) -> Result<bool> {
        Ok(self.pool.get(h)?.active)
    }

    /// Takes the run watcher `h` holds.
    pub(crate) fn take(&mut self, h: RawHandle) -> Result<bool> {
        Ok(std::mem::take(&mut self.pool.get_mut(h)?.fired))
    }

    /// Whether the watcher in slot `i` is active, and its handle.
    pub(crate) fn active_at(&self, i: usize) -> Option<RawHandle> {
        self.pool
            .get_by_index(i)
            .filter(|(_, e)| e.active)
            .map(|(h, _)| h)
    }

    /// Frees watcher `h`; `false` if it names none.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        match self.pool.remove(h) {
            Ok(e) => {
                if e.active {
                    self.active -= 1;
                }
                true
            }
            Err(_) => false,
        }
    }
}
