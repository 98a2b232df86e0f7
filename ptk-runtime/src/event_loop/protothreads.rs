//! Protothreads on the loop: pools of user contexts, the table that schedules them, and the
//! run queue.
//!
//! The caller lends each pool's contexts as `&'s mut [C]` (memory it placed). Every context is
//! bound for the loop's life to one entry of the protothread table, made once in
//! [`EventLoop::new`](super::EventLoop::new) from [`Config::protothreads`](super::Config).
//! Spawning into a pool takes that pool's oldest free entry and moves the new context value
//! into it; a resume takes the context reference out of its entry for the duration of the call,
//! so the running protothread can spawn, kill or inspect any other one (even of its own pool)
//! through its `Cx` without aliasing.
//!
//! A protothread is resumed only when something it waits on fired, its deadline or sleep
//! passed, or it yielded; never by polling all of them. Each entry waits on at most one
//! resource at a time (a new wait replaces the old registration).

use std::any::Any;

use crate::cx::Cx;
use crate::error::{Capacity, Error, Result};
use crate::event::Trigger;
use crate::handle::{RawHandle, ResourceType};
use crate::pt::{Protothread, Site, Step};
use crate::status::Outcome;

const NIL: u32 = u32::MAX;

/// At most this many pools per loop.
pub(crate) const MAX_POOLS: usize = 16;

/// How many operations one resume may make before the loop makes it yield, so a
/// protothread that always finds data ready cannot starve the others.
pub(crate) const BUDGET: u32 = 64;

/// What the table needs of a context: the object-safe face of [`Protothread`].
pub(crate) trait Task {
    fn resume_task(&mut self, cx: &mut Cx<'_>) -> TaskStep;
    fn site_of(&self) -> Option<&'static Site>;
    fn reset_pt(&mut self);
    /// Moves the `Option<Self>` behind `src` into `self`; `false` if `src` holds another type.
    fn load(&mut self, src: &mut dyn Any) -> bool;
    /// The context itself, for a typed initializer.
    fn as_any(&mut self) -> &mut dyn Any;
}

/// What a resume did. `repr(u8)`: a tag byte of its own, so the loop tells the usual
/// `Pending` apart with one compare (as a niche inside `Outcome` it took a decode).
#[repr(u8)]
pub(crate) enum TaskStep {
    Pending,
    Yielded,
    Ended(Outcome),
}

impl<C> Task for C
where
    C: Protothread + 'static,
    C::Output: Into<Outcome>,
{
    fn resume_task(&mut self, cx: &mut Cx<'_>) -> TaskStep {
        match self.resume(cx) {
            Step::Pending => TaskStep::Pending,
            Step::Yielded => TaskStep::Yielded,
            Step::Done(out) => TaskStep::Ended(out.into()),
            Step::Exited => TaskStep::Ended(Outcome::Exited),
        }
    }

    fn site_of(&self) -> Option<&'static Site> {
        self.site()
    }

    fn reset_pt(&mut self) {
        self.pt_mut().reset();
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn load(&mut self, src: &mut dyn Any) -> bool {
        match src.downcast_mut::<Option<C>>().and_then(Option::take) {
            Some(value) => {
                *self = value;
                self.pt_mut().reset();
                true
            }
            None => false,
        }
    }
}

/// One entry of the protothread table.
pub(crate) struct PtEntry<'s> {
    /// The bound context; `None` only while it is being resumed.
    pub(crate) task: Option<&'s mut (dyn Task + 'static)>,
    pub(crate) generation: u16,
    /// While live: the low 32 bits of its handle (type, loop id, generation), so a handle
    /// resolves with one compare; 0 otherwise.
    key: u32,
    pub(crate) pool: u8,
    pub(crate) live: bool,
    pub(crate) outcome: Option<Outcome>,
    free_next: u32,
    run_next: u32,
    pub(crate) queued: bool,
    /// Queued only to re-check a condition it waits for (`pt_wait_until!`), not because
    /// something happened: such entries do not keep the loop from blocking in its poll.
    repoll: bool,
    pub(crate) waiting: Option<(RawHandle, Trigger)>,
    pub(crate) sleep: Option<u64>,
    pub(crate) deadline: Option<u64>,
    pub(crate) timer: Option<RawHandle>,
    /// It has a sleep, a deadline or a timer slot (kept by [`PtEntry::update_timed`] wherever
    /// those change), so a resume knows at once whether its waits need the full check.
    pub(crate) timed: bool,
    pub(crate) joiner: Option<RawHandle>,
    /// The next entry in the queue of the semaphore it waits on.
    sem_next: u32,
    /// A semaphore unit handed to this protothread by a signal, not yet taken by its wait.
    pub(crate) granted: Option<RawHandle>,
}

impl PtEntry<'_> {
    /// Recomputes [`timed`](PtEntry::timed) after its sleep, deadline or timer changed.
    #[inline]
    pub(crate) fn update_timed(&mut self) {
        self.timed = self.sleep.is_some() || self.deadline.is_some() || self.timer.is_some();
    }
}

struct PoolInfo {
    free_head: u32,
    free_tail: u32,
    live: u32,
    capacity: u32,
}

/// The protothread table and run queue of one loop.
pub(crate) struct Protothreads<'s> {
    loop_id: u8,
    pub(crate) entries: Box<[PtEntry<'s>]>,
    bound: usize,
    pools: Vec<PoolInfo>,
    run_head: u32,
    run_tail: u32,
    run_len: usize,
    repolls: usize,
}

impl<'s> Protothreads<'s> {
    /// A table of `capacity` entries (0 allocates nothing: the table of a loop-less core).
    pub(crate) fn new(loop_id: u8, capacity: usize) -> Self {
        let entries = (0..capacity.min(NIL as usize - 1))
            .map(|_| PtEntry {
                task: None,
                generation: 0,
                key: 0,
                pool: 0,
                live: false,
                outcome: None,
                free_next: NIL,
                run_next: NIL,
                queued: false,
                repoll: false,
                waiting: None,
                sleep: None,
                deadline: None,
                timer: None,
                timed: false,
                joiner: None,
                sem_next: NIL,
                granted: None,
            })
            .collect();
        Protothreads {
            loop_id,
            entries,
            bound: 0,
            pools: Vec::with_capacity(if capacity == 0 { 0 } else { MAX_POOLS }),
            run_head: NIL,
            run_tail: NIL,
            run_len: 0,
            repolls: 0,
        }
    }

    /// Starts the generation of every entry at `first` (before any protothread exists; see
    /// `Core::start_generations`).
    pub(crate) fn start_generations_at(&mut self, first: u16) {
        for e in self.entries.iter_mut() {
            e.generation = first;
        }
    }

    /// How far the entries' generations moved past `first`.
    pub(crate) fn generations_since(&self, first: u16) -> u16 {
        self.entries
            .iter()
            .map(|e| e.generation.wrapping_sub(first))
            .max()
            .unwrap_or(0)
    }

    /// Binds every context of `contexts` to a table entry, as a new pool.
    pub(crate) fn add_pool<C>(&mut self, contexts: &'s mut [C]) -> Result<u8>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        if self.pools.len() == MAX_POOLS {
            return Err(Error::InvalidArgument);
        }
        if contexts.len() > self.entries.len() - self.bound {
            return Err(Error::OutOfResources(Capacity::Protothreads));
        }
        let pool = self.pools.len() as u8;
        let mut info = PoolInfo {
            free_head: NIL,
            free_tail: NIL,
            live: 0,
            capacity: contexts.len() as u32,
        };
        for ctx in contexts.iter_mut() {
            let i = self.bound as u32;
            let e = &mut self.entries[i as usize];
            e.task = Some(ctx);
            e.pool = pool;
            push_free(&mut self.entries, &mut info, i);
            self.bound += 1;
        }
        self.pools.push(info);
        Ok(pool)
    }

    #[inline]
    pub(crate) fn handle(&self, i: u32) -> RawHandle {
        RawHandle::new(
            ResourceType::Protothread,
            self.loop_id,
            self.entries[i as usize].generation,
            i,
        )
    }

    /// The entry index of `h` if its generation matches (live or ended).
    pub(crate) fn index(&self, h: RawHandle) -> Result<u32> {
        if h.resource_type() != ResourceType::Protothread || h.loop_id() != self.loop_id {
            return Err(Error::InvalidHandle);
        }
        let i = h.slot();
        match self.entries.get(i as usize) {
            Some(e) if e.generation == h.generation() && (e.live || e.outcome.is_some()) => Ok(i),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// The entry index of `h` if it names a live protothread.
    #[inline]
    pub(crate) fn live_index(&self, h: RawHandle) -> Result<u32> {
        // Type, loop id, generation and liveness in one compare with the entry's key.
        let i = h.slot();
        match self.entries.get(i as usize) {
            Some(e) if e.key == h.to_u64() as u32 => Ok(i),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Takes the oldest free entry of `pool`, moves the context in `value` into it and marks it
    /// live (not yet queued).
    pub(crate) fn spawn(
        &mut self,
        pool: u8,
        loop_id: u8,
        value: &mut dyn Any,
    ) -> Result<RawHandle> {
        let i = self.free_entry(pool, loop_id)?;
        let Some(task) = self.entries[i as usize].task.as_mut() else {
            return Err(Error::InvalidArgument);
        };
        if !task.load(value) {
            return Err(Error::InvalidArgument);
        }
        Ok(self.take_free(pool, i))
    }

    /// Takes the oldest free entry of `pool` with its context as it was left, its resume point
    /// reset, and marks it live (not yet queued); the caller initializes the context.
    pub(crate) fn spawn_in_place(&mut self, pool: u8, loop_id: u8) -> Result<RawHandle> {
        let i = self.free_entry(pool, loop_id)?;
        let h = self.take_free(pool, i);
        if let Some(task) = self.entries[i as usize].task.as_mut() {
            task.reset_pt();
        }
        Ok(h)
    }

    fn free_entry(&self, pool: u8, loop_id: u8) -> Result<u32> {
        if loop_id != self.loop_id {
            return Err(Error::InvalidHandle);
        }
        let info = self
            .pools
            .get(usize::from(pool))
            .ok_or(Error::InvalidArgument)?;
        match info.free_head {
            NIL => Err(Error::OutOfResources(Capacity::Protothreads)),
            i => Ok(i),
        }
    }

    /// Unlinks free entry `i` (the head of its pool's free list) and makes it live.
    fn take_free(&mut self, pool: u8, i: u32) -> RawHandle {
        let info = &mut self.pools[usize::from(pool)];
        let e = &mut self.entries[i as usize];
        info.free_head = e.free_next;
        if info.free_head == NIL {
            info.free_tail = NIL;
        }
        info.live += 1;
        e.free_next = NIL;
        e.generation = e.generation.wrapping_add(1);
        e.live = true;
        e.outcome = None;
        e.waiting = None;
        e.sleep = None;
        e.deadline = None;
        e.update_timed();
        e.joiner = None;
        e.granted = None;
        e.sem_next = NIL;
        let h = self.handle(i);
        self.entries[i as usize].key = h.to_u64() as u32;
        h
    }

    /// Marks entry `i` ended and returns it to its pool's free list. Registrations are the
    /// caller's to clear first.
    pub(crate) fn end(&mut self, i: u32, outcome: Outcome) {
        let e = &mut self.entries[i as usize];
        if !e.live {
            return;
        }
        e.live = false;
        e.key = 0;
        e.outcome = Some(outcome);
        e.waiting = None;
        e.sleep = None;
        e.deadline = None;
        e.update_timed();
        let pool = usize::from(e.pool);
        if let Some(info) = self.pools.get_mut(pool) {
            info.live -= 1;
            push_free(&mut self.entries, info, i);
        }
    }

    /// Queues entry `i` to run (once), because something it waited for happened.
    #[inline]
    pub(crate) fn push_run(&mut self, i: u32) {
        let e = &mut self.entries[i as usize];
        if e.repoll {
            e.repoll = false;
            self.repolls -= 1;
        }
        self.link(i);
    }

    /// Queues live protothread `pt` if it still waits on `on`, whose registration of it just
    /// fired; a stale registration wakes nobody. The registration stays: the resume clears it
    /// unless the protothread waits there again (see `waits.rs`).
    #[inline]
    pub(crate) fn wake(&mut self, pt: RawHandle, on: (RawHandle, Trigger)) {
        let i = pt.slot();
        let Some(e) = self.entries.get_mut(i as usize) else {
            return;
        };
        // The key matches only a live entry of this very handle.
        if e.key != pt.to_u64() as u32 || e.waiting != Some(on) {
            return;
        }
        self.push_run(i);
    }

    /// For a resume right now: the entry index and context of live protothread `pt` if it
    /// waits on `on` (whose registration of it just fired) and is not queued. Its wait stays
    /// registered, as for [`wake`](Self::wake). `None` leaves everything as it was.
    #[inline]
    pub(crate) fn take_woken(
        &mut self,
        pt: RawHandle,
        on: (RawHandle, Trigger),
    ) -> Option<(u32, &'s mut (dyn Task + 'static), bool)> {
        let i = pt.slot();
        let e = self.entries.get_mut(i as usize)?;
        // A side names a protothread only while that is its wait (see `Core::pend_socket`),
        // so the key (live, this very handle) and the queue flags are all there is to check.
        debug_assert!(e.key != pt.to_u64() as u32 || e.waiting == Some(on));
        // (Queued for a repoll is queued too.)
        if e.key != pt.to_u64() as u32 || e.queued {
            return None;
        }
        let task = e.task.take()?;
        Some((i, task, e.timed))
    }

    /// Queues entry `i` to re-check its condition after the next thing that happens.
    pub(crate) fn push_repoll(&mut self, i: u32) {
        let e = &mut self.entries[i as usize];
        if e.queued || !e.live {
            return;
        }
        e.repoll = true;
        self.repolls += 1;
        self.link(i);
    }

    pub(crate) fn repolls(&self) -> usize {
        self.repolls
    }

    #[inline]
    fn link(&mut self, i: u32) {
        let e = &mut self.entries[i as usize];
        if e.queued || !e.live {
            return;
        }
        e.queued = true;
        e.run_next = NIL;
        if self.run_tail == NIL {
            self.run_head = i;
        } else {
            self.entries[self.run_tail as usize].run_next = i;
        }
        self.run_tail = i;
        self.run_len += 1;
    }

    /// Pops the head of the run queue for a resume: its index, its handle and its context,
    /// taken out of the entry until [`put_back`](Self::put_back). `Some((i, None))` for an
    /// entry with nothing to resume (ended since it was queued, or already running).
    #[inline]
    #[allow(clippy::type_complexity)]
    pub(crate) fn pop_resume(
        &mut self,
    ) -> Option<(u32, Option<(RawHandle, &'s mut (dyn Task + 'static), bool)>)> {
        let i = self.run_head;
        let e = self.entries.get_mut(i as usize)?;
        self.run_head = e.run_next;
        if self.run_head == NIL {
            self.run_tail = NIL;
        }
        e.run_next = NIL;
        e.queued = false;
        if e.repoll {
            e.repoll = false;
            self.repolls -= 1;
        }
        self.run_len -= 1;
        if !e.live {
            return Some((i, None));
        }
        // A live entry's key is the low half of its handle; the slot is the high half.
        let h = RawHandle::from_u64((u64::from(i) << 32) | u64::from(e.key));
        let timed = e.timed;
        Some((i, h.zip(e.task.take()).map(|(h, t)| (h, t, timed))))
    }

    /// Returns the context a [`pop_resume`](Self::pop_resume) took out.
    #[inline]
    pub(crate) fn put_back(&mut self, i: u32, task: &'s mut (dyn Task + 'static)) {
        if let Some(e) = self.entries.get_mut(i as usize) {
            e.task = Some(task);
        }
    }

    /// The context of entry `i` as a `C`, if that is its type (for a typed initializer).
    pub(crate) fn context_mut<C: 'static>(&mut self, i: u32) -> Option<&mut C> {
        self.entries
            .get_mut(i as usize)?
            .task
            .as_mut()?
            .as_any()
            .downcast_mut::<C>()
    }

    /// The link of entry `i` in the queue of the semaphore it waits on.
    #[inline]
    pub(crate) fn wait_link(&mut self, i: u32) -> &mut u32 {
        &mut self.entries[i as usize].sem_next
    }

    pub(crate) fn run_len(&self) -> usize {
        self.run_len
    }

    /// (live, capacity) of a pool.
    pub(crate) fn pool_usage(&self, pool: u8) -> Option<(usize, usize)> {
        self.pools
            .get(usize::from(pool))
            .map(|p| (p.live as usize, p.capacity as usize))
    }

    pub(crate) fn live_count(&self) -> usize {
        self.pools.iter().map(|p| p.live as usize).sum()
    }
}

fn push_free(entries: &mut [PtEntry<'_>], info: &mut PoolInfo, i: u32) {
    entries[i as usize].free_next = NIL;
    if info.free_tail == NIL {
        info.free_head = i;
    } else {
        entries[info.free_tail as usize].free_next = i;
    }
    info.free_tail = i;
}
