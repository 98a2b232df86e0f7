//! The single-threaded event loop on `mio`.

mod core;
mod dispatch;
mod io_impl;
mod loop_id;
mod managed;
mod protothreads;
mod ready;
mod remote;
mod semaphores;
mod storage;
mod sys;
mod tcp;
mod timers;
mod udp;
mod user_events;
mod waiter;
mod waits;

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cx::{Cx, Handler};
use crate::error::{Capacity, Error, Result};
use crate::event::Trigger;
use crate::handle::{Handle, Loop, RawHandle, ResourceType};
use crate::io::Io;
use crate::pool::Pool;
use crate::pt::Protothread;
use crate::status::{Outcome, PtPool};

use self::core::{Core, WAKER};
use self::dispatch::{close_every, fire_timers, run_io, run_protothreads, run_remote};
use self::protothreads::Protothreads;
use self::ready::ReadyQueue;
use self::remote::Shared;
use self::semaphores::SharedSems;
use self::timers::{Purpose, TimerQueue};
use self::user_events::SharedSources;
use self::waiter::Waiter;

pub use self::managed::{LoopThreads, ThreadsConfig};
pub use self::ready::Ready;
pub use self::remote::{LoopRemote, PostFn};
pub use self::semaphores::SemEntry;
pub use self::storage::{Capacities, OwnedStorage, Storage};
pub use self::tcp::{ListenerEntry, StreamEntry};
pub use self::timers::TimerEntry;
pub use self::udp::UdpEntry;
pub use self::user_events::{UserEventsEntry, USER_EVENT_IDS};

/// Loop settings that are not pool sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How many readiness events one poll can return (default 1024). More pending events
    /// simply wait for the next iteration.
    pub events_per_poll: usize,
    /// How many posted calls can wait at once (default 64).
    pub post_queue: usize,
    /// How many protothread contexts the loop can hold in all its pools together (default
    /// 1024). The table of their scheduling state is made once, in [`EventLoop::new`].
    pub protothreads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            events_per_poll: 1024,
            post_queue: 64,
            protothreads: 1024,
        }
    }
}

/// A single-threaded event loop on `mio`, with application state `A`.
///
/// An [`EventLoop`] runs over [`Storage`] the caller provides and an application state `A`
/// that every handler receives. After [`EventLoop::new`] it performs no heap allocation: not
/// per event, not per accepted connection, not per message, not per raise from another thread.
///
/// # One iteration
///
/// [`run_once`](EventLoop::run_once) does, in this order (tests depend on it):
///
/// 1. **Poll.** Wait for I/O readiness until the earliest of the caller's timeout, the next
///    timer deadline and a wake from a [`LoopRemote`]. It does not wait at all when work is
///    already waiting (a socket still ready from the previous iteration, raised user events,
///    posted calls).
/// 2. **Timers.** Every timer whose deadline has passed fires, in deadline order (timers with
///    the same deadline in the order they were armed). A repeating timer is re-armed before
///    its handler runs.
/// 3. **I/O.** First the sockets still ready after their handler ran in the previous
///    iteration (in the order they were queued), then the readiness events of this poll in
///    the order the OS reported them; per socket the read handler runs before the write
///    handler. A protothread waiting on a socket (to accept, connect, read or write) is
///    resumed here, at its event, where a handler would be called.
/// 4. **Remote work.** Raised user events (by source slot, then by the order in which the
///    source's ids were first seen), then the posted calls that were queued before this step
///    began, first posted first.
/// 5. **Protothreads.** The protothreads that were runnable when this step began, in the
///    order they became runnable: spawned or restarted ones, those woken by a timer, a
///    deadline, a user event, a semaphore or a join, those that yielded or used up their
///    budget, and those waiting on a bare condition (`pt_wait_until!`), which are checked
///    again after anything else happened.
///
/// Handlers run only on the loop's thread. A stop requested during an iteration takes effect
/// when it ends: [`run`](EventLoop::run) then returns.
///
/// `EventLoop` dereferences to [`dyn Io`](Io), so every operation (`tcp_listen`, `timer_create`,
/// `raise`, ...) can be called on it directly while setting up.
///
/// # Examples
///
/// A timer that fires three times, then stops the loop:
///
/// ```
/// use ptk_runtime::{Capacities, Config, Cx, Event, EventLoop, OwnedStorage, Trigger};
///
/// fn tick(count: &mut u32, cx: &mut Cx<'_>, ev: Event) {
///     *count += 1;
///     if *count == 3 {
///         cx.close(ev.handle).unwrap();
///         cx.stop();
///     }
/// }
///
/// let mut memory = OwnedStorage::new(Capacities::default());
/// let mut ev = EventLoop::new(memory.storage(), Config::default(), 0u32).unwrap();
/// let timer = ev.timer_create().unwrap();
/// ev.set_handler(timer, Trigger::Expired, tick).unwrap();
/// ev.timer_start(timer, 5, true).unwrap();
/// ev.run().unwrap();
/// assert_eq!(*ev.app(), 3);
/// ```
pub struct EventLoop<'s, A: 'static = ()> {
    core: Core<'s, A>,
    events: mio::Events,
    app: A,
}

impl<'s, A: 'static> EventLoop<'s, A> {
    /// Creates a loop over `storage`, with application state `app`.
    ///
    /// This is where the loop allocates everything it will ever need beyond `storage`: the
    /// poller, its event buffer, and the cross-thread half of the user event sources and the
    /// post queue (shared with [`LoopRemote`]s, so it must be reference-counted).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `storage.timer_queue` is shorter than `storage.timers` or
    /// `storage.ready` shorter than [`Capacities::ready_len`]; [`Error::OutOfResources`] with
    /// [`Capacity::Loops`] when 256 loops exist; an OS error creating the poller.
    pub fn new(storage: Storage<'s, A>, config: Config, app: A) -> Result<Self> {
        let caps = storage.capacities();
        if storage.timer_queue.len() < storage.timers.len()
            || storage.ready.len() < caps.ready_len()
            || config.post_queue == 0
            || config.events_per_poll == 0
        {
            return Err(Error::InvalidArgument);
        }
        let id = loop_id::acquire()?;
        let guard = IdGuard(Some(id));
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER)?;
        let sources = SharedSources::new(id, storage.user_events.len());
        let sems = SharedSems::new(id, storage.semaphores.len());
        let shared = Arc::new(Shared::new(waker, sources, sems, config.post_queue));
        let core = Core {
            id,
            poll,
            timers: Pool::new(storage.timers, ResourceType::Timer, id, Capacity::Timers),
            timer_queue: TimerQueue::new(storage.timer_queue),
            listeners: Pool::new(
                storage.tcp_listeners,
                ResourceType::TcpListener,
                id,
                Capacity::TcpListeners,
            ),
            streams: Pool::new(
                storage.tcp_streams,
                ResourceType::TcpStream,
                id,
                Capacity::TcpStreams,
            ),
            udp: Pool::new(
                storage.udp_sockets,
                ResourceType::UdpSocket,
                id,
                Capacity::UdpSockets,
            ),
            user: Pool::new(
                storage.user_events,
                ResourceType::UserEvents,
                id,
                Capacity::UserEventSources,
            ),
            sems: Pool::new(
                storage.semaphores,
                ResourceType::Semaphore,
                id,
                Capacity::Semaphores,
            ),
            shared,
            ready: ReadyQueue::new(storage.ready),
            epoch: Instant::now(),
            now: Cell::new(u64::MAX),
            last_error: None,
            spare_fd: tcp::open_spare(),
            pts: Protothreads::new(id, config.protothreads),
            current: None,
            budget: 0,
            yield_requested: false,
            kill_current: false,
            registered: false,
        };
        let mut guard = guard;
        guard.0 = None;
        Ok(EventLoop {
            core,
            events: mio::Events::with_capacity(config.events_per_poll),
            app,
        })
    }

    /// This loop's id (the loop id field of its handles).
    pub fn id(&self) -> u8 {
        self.core.id
    }

    /// A handle naming this loop.
    pub fn handle(&self) -> Handle<Loop> {
        Handle::from_raw_unchecked(RawHandle::new(ResourceType::Loop, self.core.id, 0, 0))
    }

    /// The application state.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The application state, mutably.
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }

    /// A new remote for other threads.
    pub fn remote(&self) -> LoopRemote<A> {
        LoopRemote {
            shared: Arc::clone(&self.core.shared),
            loop_id: self.core.id,
        }
    }

    /// The capacities of the storage the loop runs in now.
    pub fn capacities(&self) -> Capacities {
        Capacities {
            timers: self.core.timers.capacity(),
            tcp_listeners: self.core.listeners.capacity(),
            tcp_streams: self.core.streams.capacity(),
            udp_sockets: self.core.udp.capacity(),
            user_event_sources: self.core.user.capacity(),
            semaphores: self.core.sems.capacity(),
        }
    }

    /// How many of each resource are in use (user timers and connect timeouts both count as
    /// timers).
    pub fn in_use(&self) -> Capacities {
        Capacities {
            timers: self.core.timers.len(),
            tcp_listeners: self.core.listeners.len(),
            tcp_streams: self.core.streams.len(),
            udp_sockets: self.core.udp.len(),
            user_event_sources: self.core.user.len(),
            semaphores: self.core.sems.len(),
        }
    }

    /// A [`Cx`] over this loop, for code written against `Cx` that runs outside handlers.
    pub fn cx(&mut self) -> Cx<'_> {
        Cx::new(&mut self.core, None)
    }

    /// Sets (or replaces) the handler of `handle` for `trigger`.
    ///
    /// A readable handler is called again on every iteration while its socket stays readable,
    /// and a writable one while its socket stays writable: read until `Pending`, or remove the
    /// handler when it has nothing more to do. Setting a handler on a socket that is already
    /// ready, or on a user event id with latched raises, delivers on the next iteration.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::InvalidArgument`] for a trigger the resource does not
    /// have (`Expired` on a socket, `Writable` on a listener, ...);
    /// [`Error::OutOfResources`] for a new id on a full user event source.
    pub fn set_handler(
        &mut self,
        handle: impl Into<RawHandle>,
        trigger: Trigger,
        handler: Handler<A>,
    ) -> Result<()> {
        let r = self
            .core
            .set_waiter(handle.into(), trigger, Waiter::Handler(handler));
        self.core.note(r)
    }

    /// Removes a handler; removing one that is not set is not an error.
    pub fn remove_handler(&mut self, handle: impl Into<RawHandle>, trigger: Trigger) {
        let _ = self.core.set_waiter(handle.into(), trigger, Waiter::None);
    }

    /// Lends `contexts` to the loop as a pool of protothreads of type `C`, for the loop's
    /// lifetime. Each context is a slot: [`Cx::spawn`] moves a new context value into a free
    /// one; when the protothread ends the slot is free again.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]`(`[`Capacity::Protothreads`]`)` when the loop's table
    /// ([`Config::protothreads`]) cannot hold that many more; [`Error::InvalidArgument`]
    /// beyond 16 pools.
    pub fn add_protothreads<C>(&mut self, contexts: &'s mut [C]) -> Result<PtPool<C>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        let r = self.core.pts.add_pool(contexts);
        let index = self.core.note(r)?;
        Ok(PtPool::new(index, self.core.id))
    }

    /// Spawns a protothread into `pool` (see [`Cx::spawn`]).
    ///
    /// # Errors
    ///
    /// As [`Cx::spawn`].
    pub fn spawn<C>(&mut self, pool: PtPool<C>, ctx: C) -> Result<Handle<crate::kind::Protothread>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        self.cx().spawn(pool, ctx)
    }

    /// How many protothreads of `pool` are running, and how many contexts it has.
    pub fn pool_usage<C>(&self, pool: PtPool<C>) -> (usize, usize) {
        if pool.loop_id != self.core.id {
            return (0, 0);
        }
        self.core.pts.pool_usage(pool.index).unwrap_or((0, 0))
    }

    /// Shuts everything down: kills every protothread, then closes every socket, timer, user
    /// event source and semaphore (the loop itself stays usable). Returns how many protothreads
    /// and resources it ended.
    pub fn close_all(&mut self) -> usize {
        let core = &mut self.core;
        let mut closed = 0;
        for i in 0..core.pts.entries.len() as u32 {
            if core.pts.entries[i as usize].live {
                core.end_pt(i, Outcome::Killed);
                closed += 1;
            }
        }
        closed += close_every(
            core,
            |c, i| c.streams.get_by_index(i).map(|(h, _)| h),
            |c| c.streams.capacity(),
        );
        closed += close_every(
            core,
            |c, i| c.listeners.get_by_index(i).map(|(h, _)| h),
            |c| c.listeners.capacity(),
        );
        closed += close_every(
            core,
            |c, i| c.udp.get_by_index(i).map(|(h, _)| h),
            |c| c.udp.capacity(),
        );
        closed += close_every(
            core,
            |c, i| {
                c.timers
                    .get_by_index(i)
                    .filter(|(_, t)| t.purpose == Purpose::User)
                    .map(|(h, _)| h)
            },
            |c| c.timers.capacity(),
        );
        closed += close_every(
            core,
            |c, i| c.user.get_by_index(i).map(|(h, _)| h),
            |c| c.user.capacity(),
        );
        closed += close_every(
            core,
            |c, i| c.sems.get_by_index(i).map(|(h, _)| h),
            |c| c.sems.capacity(),
        );
        closed
    }

    /// How many protothreads are running in all pools.
    pub fn protothreads_running(&self) -> usize {
        self.core.pts.live_count()
    }

    /// Runs one iteration (see [`EventLoop`] for its order), waiting at most
    /// `timeout` (`None`: until something happens). Returns how many handler calls and
    /// protothread resumes it made.
    ///
    /// # Errors
    ///
    /// An OS error from the poller (interrupted polls are retried on the next call, not
    /// reported).
    pub fn run_once(&mut self, timeout: Option<Duration>) -> Result<usize> {
        let core = &mut self.core;
        let mut wait = timeout;
        if core.has_immediate_work() {
            wait = Some(Duration::ZERO);
        }
        if let Some(deadline) = core.timer_queue.next_deadline(&core.timers) {
            let at = core.epoch + Duration::from_millis(deadline);
            let until = at.saturating_duration_since(Instant::now());
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        if let Err(e) = core.poll.poll(&mut self.events, wait) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(core.fail(e.into()));
            }
            self.events.clear();
        }
        core.clock_moved();
        let app = &mut self.app;
        let mut calls = 0;
        if core.timer_queue.len() > 0 {
            calls += fire_timers(core, app);
        }
        calls += run_io(core, app, &self.events);
        if core.shared.doorbell.load(Ordering::Relaxed) {
            calls += run_remote(core, app);
        }
        if core.pts.run_len() > 0 {
            calls += run_protothreads(core);
        }
        Ok(calls)
    }

    /// Runs iterations until [`stop`](Io::stop) is called (from a handler, a posted call, or a
    /// [`LoopRemote`]). The stop request is consumed, so `run` can be called again.
    ///
    /// # Errors
    ///
    /// As [`run_once`](EventLoop::run_once); the loop stays usable.
    pub fn run(&mut self) -> Result<()> {
        loop {
            self.run_once(None)?;
            let stop = &self.core.shared.stop;
            if stop.load(Ordering::Relaxed) && stop.swap(false, Ordering::AcqRel) {
                return Ok(());
            }
        }
    }

    /// Moves the loop into larger storage. Every live handle stays valid; the old storage
    /// comes back, empty, for the caller to reuse or free.
    ///
    /// The user event and semaphore pools cannot change size (other threads hold their
    /// cross-thread halves), so `larger.user_events` and `larger.semaphores` must have exactly
    /// as many slots as now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if any pool of `larger` is smaller than now, its
    /// `timer_queue` or `ready` is too short, or `user_events` or `semaphores` differs in
    /// length. Nothing
    /// moves then.
    pub fn grow(&mut self, larger: Storage<'s, A>) -> Result<Storage<'s, A>> {
        let now = self.capacities();
        let new = larger.capacities();
        if new.timers < now.timers
            || new.tcp_listeners < now.tcp_listeners
            || new.tcp_streams < now.tcp_streams
            || new.udp_sockets < now.udp_sockets
            || new.user_event_sources != now.user_event_sources
            || new.semaphores != now.semaphores
            || larger.timer_queue.len() < larger.timers.len()
            || larger.ready.len() < new.ready_len()
        {
            return Err(self.core.fail(Error::InvalidArgument));
        }
        let core = &mut self.core;
        let Storage {
            timers,
            timer_queue,
            tcp_listeners,
            tcp_streams,
            udp_sockets,
            user_events,
            ready,
            semaphores,
        } = larger;
        Ok(Storage {
            timers: core.timers.grow(timers)?,
            timer_queue: core.timer_queue.grow(timer_queue),
            tcp_listeners: core.listeners.grow(tcp_listeners)?,
            tcp_streams: core.streams.grow(tcp_streams)?,
            udp_sockets: core.udp.grow(udp_sockets)?,
            user_events: core.user.grow(user_events)?,
            ready: core.ready.grow(ready),
            semaphores: core.sems.grow(semaphores)?,
        })
    }
}

impl<'s, A: 'static> Deref for EventLoop<'s, A> {
    type Target = dyn Io + 's;

    fn deref(&self) -> &Self::Target {
        &self.core
    }
}

impl<'s, A: 'static> DerefMut for EventLoop<'s, A> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.core
    }
}

impl<A: 'static> Drop for EventLoop<'_, A> {
    fn drop(&mut self) {
        // Remotes outlive the loop: make their raises fail instead of counting into the void.
        for i in 0..self.core.user.capacity() {
            if let Some((h, _)) = self.core.user.get_by_index(i) {
                self.core.shared.sources.close(h);
            }
        }
        for i in 0..self.core.sems.capacity() {
            if let Some((h, _)) = self.core.sems.get_by_index(i) {
                self.core.shared.sems.close(h);
            }
        }
        loop_id::release(self.core.id);
    }
}

impl<A: 'static> std::fmt::Debug for EventLoop<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.core.id)
            .field("in_use", &self.in_use())
            .field("capacities", &self.capacities())
            .finish()
    }
}

/// Releases a loop id if `new` fails after taking it.
struct IdGuard(Option<u8>);

impl Drop for IdGuard {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            loop_id::release(id);
        }
    }
}
