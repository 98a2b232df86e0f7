//! The single-threaded event loop.
//!
//! The loop is built in layers, each importing only the ones below it:
//!
//! * `backend/`: the poller contract, its `mio` implementation and (feature `io-uring`) its
//!   io_uring implementation;
//! * `waiter.rs`, `side.rs`, `ready.rs`, `clock.rs`, `handler.rs`: small shared pieces;
//! * one module per source, owning its state and invariants: `timers.rs`,
//!   `tcp_listener.rs`, `tcp_stream.rs`, `udp.rs`, `user_events.rs`, `semaphores.rs`,
//!   `signals.rs`, `watchers.rs` (defer and idle watchers), `periodic.rs`, `files.rs` (file
//!   operations and their worker), `buffers.rs` (the buffer pool), `protothreads.rs`;
//! * `core.rs` (+ `waits.rs`): the sources composed, and what spans them;
//! * `ops/`: the operations as methods of [`Cx`];
//! * `dispatch.rs`, `watch_steps.rs`, `iteration.rs` and `alive.rs`: the steps of an
//!   iteration and their order, and running until nothing is alive;
//! * this file: [`EventLoop`], which owns the `Cx` and the application state.

#[macro_use]
mod pool_accessors;

mod alive;
mod backend;
mod buffers;
mod clock;
mod core;
mod dispatch;
mod files;
mod handler;
mod iteration;
mod loop_id;
mod managed;
mod ops;
mod periodic;
mod protothreads;
mod ready;
mod remote;
mod ring;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod ring_files;
mod ring_recv;
mod running;
mod semaphores;
mod side;
mod signals;
mod storage;
mod sys;
mod tcp_listener;
mod tcp_stream;
mod timers;
mod udp;
mod user_events;
mod waiter;
mod waits;
mod watch_steps;
mod watchers;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::cx::{Cx, Handler};
use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::{Handle, Loop, RawHandle, ResourceType};
use crate::pt::Protothread;
use crate::status::{Outcome, PtPool};

use self::backend::{Backend, Events};
use self::handler::AppType;
use self::remote::{PostQueue, Shared};
use self::semaphores::SharedSems;
use self::user_events::SharedSources;

pub use self::backend::{BackendKind, BackendStatus, FallbackReason};
pub use self::buffers::{BufMut, BufferClass, BufferEntry, BufferStats};
#[cfg(feature = "fuzzing")]
pub(crate) use self::buffers::{Buffers, StreamBufs};
pub(crate) use self::core::Core;
pub use self::files::{FileOpEntry, FileWrite, FILE_PATH_MAX};
pub use self::managed::{LoopThreads, ThreadsConfig};
pub use self::periodic::{PeriodicEntry, Tick};
pub use self::ready::Ready;
pub use self::remote::{LoopRemote, PostFn};
pub use self::semaphores::SemEntry;
pub use self::signals::SignalEntry;
pub use self::storage::{Capacities, OwnedStorage, Storage};
pub use self::tcp_listener::ListenerEntry;
pub use self::tcp_stream::StreamEntry;
pub use self::timers::TimerEntry;
pub use self::udp::UdpEntry;
pub use self::user_events::{UserEventsEntry, USER_EVENT_IDS};
pub use self::watchers::WatcherEntry;

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
    /// How many pool buffers one TCP stream may hold at once, lent by its reads, allocated
    /// for it or queued for its writes (default 4; at least 2, since a frame reader that
    /// takes a frame out of a buffer holding more moves the rest to a second one). A stream
    /// at its cap pauses its reads until it gives one back, so one slow connection cannot
    /// take the whole pool.
    pub buffers_per_stream: usize,
    /// The event backend to run on (default [`BackendKind::Mio`], or what the `PTK_BACKEND`
    /// environment variable names, see [`Config::default`]). Asking for
    /// [`BackendKind::IoUring`] where it cannot run (the `io-uring` feature is off, not
    /// Linux, or the kernel or a seccomp policy refuses it) runs on `mio` instead, logs why
    /// once and reports it in [`EventLoop::backend`], unless `backend_strict`.
    pub backend: BackendKind,
    /// Makes a fallback from the backend asked for an error of [`EventLoop::new`] instead
    /// (default false, or true when the environment variable `PTK_BACKEND_STRICT` is `1`).
    pub backend_strict: bool,
    /// On io_uring (Linux 6.0 or later), pooled reads use one multishot receive per stream
    /// into buffers of the pool lent to the kernel, instead of one receive request per read
    /// (default true, or false when the environment variable `PTK_RECV_MULTISHOT` is `0`).
    /// [`EventLoop::multishot_receive`] says whether they do.
    pub multishot_receive: bool,
}

impl Default for Config {
    /// The defaults above. The backend can be chosen from outside the program: the
    /// environment variable `PTK_BACKEND` set to `io_uring` (or `mio`) selects it, and
    /// `PTK_BACKEND_STRICT=1` makes a fallback an error (this is how the whole test suite
    /// runs on io_uring in CI). An unknown `PTK_BACKEND` value is ignored.
    fn default() -> Self {
        let env = |name: &str| std::env::var(name).ok();
        Config {
            events_per_poll: 1024,
            post_queue: 64,
            protothreads: 1024,
            buffers_per_stream: 4,
            backend: env("PTK_BACKEND")
                .and_then(|v| BackendKind::parse(&v))
                .unwrap_or_default(),
            backend_strict: env("PTK_BACKEND_STRICT").is_some_and(|v| v == "1"),
            multishot_receive: env("PTK_RECV_MULTISHOT").is_none_or(|v| v != "0"),
        }
    }
}

/// Test hook: while `refuse` is true, every io_uring setup of a new loop fails as a seccomp
/// policy makes it fail (`EPERM`), so that the fallback to `mio` can be tested on any kernel.
/// Not part of the API.
#[doc(hidden)]
pub fn __refuse_io_uring(refuse: bool) {
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    backend::uring::refuse_setup(refuse);
    #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
    let _ = refuse;
}

/// A single-threaded event loop, with application state `A`.
///
/// An [`EventLoop`] runs over [`Storage`] the caller provides and an application state `A`
/// that every handler receives. After [`EventLoop::new`] it performs no heap allocation: not
/// per event, not per accepted connection, not per message, not per raise from another thread.
///
/// # One iteration
///
/// [`run_once`](EventLoop::run_once) does, in this order (tests depend on it):
///
/// 0. **Paused reads.** When streams wait for pool buffers, as many of them as there are
///    free buffers of the class each waits for are let go, first paused first (their
///    protothreads queued for step 5, their handlers for step 3).
/// 1. **Idle, then poll.** If the poll is about to block (none of the work below is
///    waiting) and something happened since idle watchers last ran, every active idle
///    watcher runs, in slot order (handlers called, protothreads queued for step 5: the poll
///    then does not block). Then wait for I/O readiness until the earliest of the caller's
///    timeout, the next timer deadline and a wake from a [`LoopRemote`] or the file worker.
///    It does not wait at all when work is already waiting (a socket still ready from the
///    previous iteration, raised user events, posted calls, a signal arrival someone now
///    waits for, a started defer watcher, runnable protothreads).
/// 2. **Deferred, then timers.** First the defer watchers that were started before this
///    step began, first started first (each stops as it runs). Then every timer whose
///    deadline has passed fires, in deadline order (timers with the same deadline in the
///    order they were armed); a repeating timer is re-armed before its handler runs, and a
///    periodic watcher whose wall-clock boundary passed is delivered in the same order.
/// 3. **I/O.** First the sockets still ready after their handler ran in the previous
///    iteration (in the order they were queued), then the readiness events of this poll in
///    the order the OS reported them; per socket the read handler runs before the write
///    handler. A protothread waiting on a socket (to accept, connect, read or write) is
///    resumed here, at its event, where a handler would be called. The step ends with the
///    signals that arrived: every watcher that holds one and has a waiter is told, in
///    watcher slot order (handlers called, protothreads queued for step 5).
/// 4. **Remote work.** Raised user events (by source slot, then by the order in which the
///    source's ids were first seen), then the posted calls that were queued before this step
///    began, first posted first, then the file operations the file worker finished.
/// 5. **Protothreads.** The protothreads that were runnable when this step began, in the
///    order they became runnable: spawned or restarted ones, those woken by a timer, a
///    deadline, a user event, a semaphore, a join or a watcher, those that yielded or used up
///    their budget, and those waiting on a bare condition (`pt_wait_until!`), which are
///    checked again after anything else happened.
///
/// Handlers run only on the loop's thread. A stop requested during an iteration takes effect
/// when it ends: [`run`](EventLoop::run) then returns. [`run_until_idle`](EventLoop::run_until_idle)
/// also returns once nothing is alive.
///
/// `EventLoop` dereferences to its [`Cx`], so every operation (`tcp_listen`, `timer_create`,
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
    cx: Cx<'s>,
    app: A,
    /// The loop's id, kept here (not read from the core) because the core behind `cx` can be
    /// swapped away by safe code: the id is released when this loop is dropped.
    id: u8,
    /// Where the generations of this loop's pools started (see `loop_id`).
    first: loop_id::Generations,
    /// The cross-thread half the core was made with, for [`remote`](EventLoop::remote), kept
    /// here for the same reason.
    shared: Arc<Shared>,
    posts: Arc<PostQueue<A>>,
    events: Events,
    backend_status: BackendStatus,
}

impl<'s, A: 'static> EventLoop<'s, A> {
    /// Creates a loop over `storage`, with application state `app`.
    ///
    /// This is where the loop allocates everything it will ever need beyond `storage`: the
    /// poller, its event buffer, the protothread table, and the cross-thread half of the user
    /// event sources, semaphores and the post queue (shared with [`LoopRemote`]s, so it must be
    /// reference-counted). With file operation slots (`storage.file_ops`), it also makes the
    /// file jobs with their staging memory and, unless the loop runs on io_uring (whose ring
    /// does file operations itself), starts the file worker thread.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `storage.timer_queue` is shorter than `storage.timers` or
    /// `storage.ready` shorter than [`Capacities::ready_len`], the buffer slots, free stacks
    /// or memory are too small for `storage.buffer_classes` (or a class has chunks of 0 bytes
    /// or over `u32::MAX`), or `config` asks for an empty post queue or event buffer or fewer
    /// than 2 `buffers_per_stream`, or there are file operation slots with a `file_op_size`
    /// of 0; [`Error::OutOfResources`] with
    /// [`Capacity::Loops`](crate::Capacity::Loops) when 256 loops exist; an OS error creating
    /// the poller or starting the file worker.
    pub fn new(storage: Storage<'s>, config: Config, app: A) -> Result<Self> {
        let caps = storage.capacities();
        if storage.timer_queue.len() < storage.timers.len()
            || storage.ready.len() < caps.ready_len()
            || config.post_queue == 0
            || config.events_per_poll == 0
            || config.buffers_per_stream < 2
            || !storage.buffers_fit()
        {
            return Err(Error::InvalidArgument);
        }
        let storage_file_op_size = storage.file_op_size;
        let (id, first) = loop_id::acquire()?;
        let mut guard = IdGuard(Some((id, first)));
        let (backend, events, waker, backend_status) = Backend::open(
            config.backend,
            config.backend_strict,
            config.events_per_poll,
        )?;
        let sources = SharedSources::new(id, storage.user_events.len());
        let sems = SharedSems::new(id, storage.semaphores.len());
        let shared = Arc::new(Shared::new(waker, sources, sems));
        let app_type = AppType::of::<A>();
        let mut core = Core::new(
            id,
            storage,
            Some(backend),
            Some(Arc::clone(&shared)),
            config.protothreads,
            config.buffers_per_stream,
            app_type,
        );
        let file_op_size = storage_file_op_size;
        core.start_generations(first);
        core.ring = core
            .backend
            .as_ref()
            .is_some_and(|b| ring::fits(b, core.streams.capacity(), core.buffers.chunks()));
        core.open_recv_ring(config.multishot_receive);
        core.open_signals(core.signals.capacity())?;
        let native_files = core.backend.as_ref().is_some_and(Backend::completes);
        core.files.start(file_op_size, &shared, native_files)?;
        guard.0 = None;
        Ok(EventLoop {
            cx: Cx::new(core),
            app,
            id,
            first,
            shared,
            posts: Arc::new(PostQueue::new(config.post_queue)),
            events,
            backend_status,
        })
    }

    fn core(&self) -> &Core<'s> {
        &self.cx.core
    }

    /// Whether pooled reads ([`Cx::rx_read`](crate::Cx::rx_read)) use multishot receives
    /// into buffers of the pool lent to the kernel (io_uring on Linux 6.0 or later), rather
    /// than one receive request per read. `false` on `mio`, on older kernels, and when
    /// [`Config::multishot_receive`] is off.
    pub fn multishot_receive(&self) -> bool {
        self.core().multishot()
    }

    /// Free pool buffers lent to the kernel for multishot receives now (see
    /// [`multishot_receive`](Self::multishot_receive)): they count as free in
    /// [`buffer_stats`](crate::Cx::buffer_stats), not in use. At most half the free buffers
    /// of the class reads borrow from are lent.
    pub fn buffers_lent(&self) -> usize {
        self.core().buffers.lent as usize
    }

    /// Which backend this loop runs on, which one its [`Config`] asked for, and why they
    /// differ (the fallback is also logged once, through the `log` facade, when the loop is
    /// made).
    pub fn backend(&self) -> BackendStatus {
        self.backend_status
    }

    /// This loop's id (the loop id field of its handles).
    pub fn id(&self) -> u8 {
        self.id
    }

    /// A handle naming this loop.
    pub fn handle(&self) -> Handle<Loop> {
        // The generation field tells loops with the same id apart: each starts its pools'
        // generations past the previous one's.
        Handle::from_raw_unchecked(RawHandle::new(
            ResourceType::Loop,
            self.id,
            self.first.pools,
            0,
        ))
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
            shared: Arc::clone(&self.shared),
            posts: Arc::clone(&self.posts),
            loop_id: self.id,
        }
    }

    /// The capacities of the storage the loop runs in now.
    pub fn capacities(&self) -> Capacities {
        let c = self.core();
        let classes = c.buffers.classes();
        Capacities {
            timers: c.timers.capacity(),
            tcp_listeners: c.listeners.capacity(),
            tcp_streams: c.streams.capacity(),
            udp_sockets: c.udp.capacity(),
            user_event_sources: c.user.capacity(),
            semaphores: c.sems.capacity(),
            signals: c.signals.capacity(),
            defers: c.defers.capacity(),
            idles: c.idles.capacity(),
            periodics: c.periodics.capacity(),
            file_ops: c.files.capacity(),
            file_op_size: c.files.op_size(),
            buffers: classes[0].count,
            buffer_size: classes[0].size,
            large_buffers: classes[1].count,
            large_buffer_size: classes[1].size,
        }
    }

    /// How many of each resource are in use (user timers, connect timeouts and protothread
    /// sleeps and deadlines all count as timers; the buffer sizes, which are not counts, are
    /// 0, so that an idle loop answers all zeros).
    pub fn in_use(&self) -> Capacities {
        let c = self.core();
        let b = c.buffers.stats();
        Capacities {
            timers: c.timers.len(),
            tcp_listeners: c.listeners.len(),
            tcp_streams: c.streams.len(),
            udp_sockets: c.udp.len(),
            user_event_sources: c.user.len(),
            semaphores: c.sems.len(),
            signals: c.signals.len(),
            defers: c.defers.len(),
            idles: c.idles.len(),
            periodics: c.periodics.len(),
            file_ops: c.files.len(),
            file_op_size: 0,
            buffers: b.small_in_use,
            buffer_size: 0,
            large_buffers: b.large_in_use,
            large_buffer_size: 0,
        }
    }

    /// The loop's [`Cx`], for code written against `Cx` that runs outside handlers and
    /// protothreads (setting up, tests). `EventLoop` also dereferences to it.
    pub fn cx(&mut self) -> &mut Cx<'s> {
        &mut self.cx
    }

    /// Sets (or replaces) the handler of `handle` for `trigger`; see [`Cx::set_handler`].
    ///
    /// # Errors
    ///
    /// As [`Cx::set_handler`].
    pub fn set_handler(
        &mut self,
        handle: impl Into<RawHandle>,
        trigger: Trigger,
        handler: Handler<A>,
    ) -> Result<()> {
        self.cx.set_handler(handle, trigger, handler)
    }

    /// Makes the loop stop (its [`run`](EventLoop::run) return) when any of `signals` arrives:
    /// one signal watcher per signal, whose handler calls [`Cx::stop`]. The usual way to end
    /// a server cleanly on Ctrl-C (`SIGINT`) or `kill` (`SIGTERM`), on the loop's thread and
    /// without a signal thread. Returns the watchers (close them to stop watching).
    ///
    /// # Errors
    ///
    /// As [`Cx::signal_watch`] (watchers made before an error stay).
    ///
    /// # Examples
    ///
    /// ```
    /// use ptk_runtime::signals::{SIGINT, SIGTERM};
    /// use ptk_runtime::{Capacities, Config, EventLoop, OwnedStorage};
    ///
    /// let mut memory = OwnedStorage::new(Capacities::default());
    /// let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    /// let watchers = ev.stop_on_signals(&[SIGINT, SIGTERM]).unwrap();
    /// assert_eq!(watchers.len(), 2);
    /// ```
    #[cfg(unix)]
    pub fn stop_on_signals<const N: usize>(
        &mut self,
        signals: &[i32; N],
    ) -> Result<[Handle<crate::kind::Signal>; N]> {
        fn stop<A>(_: &mut A, cx: &mut Cx<'_>, _: crate::event::Event) {
            cx.stop();
        }
        // Placeholders, each replaced before the array is returned.
        let none = RawHandle::new(ResourceType::Signal, self.core().id, 0, 0);
        let mut watchers = [Handle::from_raw_unchecked(none); N];
        for (w, &signo) in watchers.iter_mut().zip(signals) {
            *w = self.cx.signal_watch(signo)?;
            self.cx.set_handler(*w, Trigger::Signal, stop::<A>)?;
        }
        Ok(watchers)
    }

    /// Lends `contexts` to the loop as a pool of protothreads of type `C`, for the loop's
    /// lifetime. Each context is a slot: [`Cx::spawn`] moves a new context value into a free
    /// one; when the protothread ends the slot is free again.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]`(`[`Capacity::Protothreads`](crate::Capacity::Protothreads)`)`
    /// when the loop's table ([`Config::protothreads`]) cannot hold that many more;
    /// [`Error::InvalidArgument`] beyond 16 pools.
    pub fn add_protothreads<C>(&mut self, contexts: &'s mut [C]) -> Result<PtPool<C>>
    where
        C: Protothread + 'static,
        C::Output: Into<Outcome>,
    {
        let core = &mut self.cx.core;
        let r = core.pts.add_pool(contexts);
        let index = core.note(r)?;
        Ok(PtPool::new(index, core.id))
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
        self.cx.spawn(pool, ctx)
    }

    /// How many protothreads of `pool` are running, and how many contexts it has.
    pub fn pool_usage<C>(&self, pool: PtPool<C>) -> (usize, usize) {
        if pool.loop_id != self.core().id {
            return (0, 0);
        }
        self.core().pts.pool_usage(pool.index).unwrap_or((0, 0))
    }

    /// Shuts everything down: kills every protothread, then closes every socket, timer, user
    /// event source, semaphore, watcher and file operation (the loop itself stays usable). Returns how many protothreads
    /// and resources it ended.
    pub fn close_all(&mut self) -> usize {
        let core = &mut self.cx.core;
        let mut closed = 0;
        for i in 0..core.pts.entries.len() as u32 {
            if core.pts.entries[i as usize].live {
                core.end_pt(i, Outcome::Killed);
                closed += 1;
            }
        }
        let mut close_each =
            |core: &mut Core<'s>, n: usize, at: fn(&Core<'s>, usize) -> Option<RawHandle>| {
                for i in 0..n {
                    if let Some(h) = at(core, i) {
                        if core.close(h) {
                            closed += 1;
                        }
                    }
                }
            };
        close_each(core, core.streams.capacity(), |c, i| c.streams.handle_at(i));
        close_each(core, core.listeners.capacity(), |c, i| {
            c.listeners.handle_at(i)
        });
        close_each(core, core.udp.capacity(), |c, i| c.udp.handle_at(i));
        close_each(core, core.timers.capacity(), |c, i| c.timers.user_at(i));
        close_each(core, core.user.capacity(), |c, i| {
            c.user.at(i).map(|(h, _)| h)
        });
        close_each(core, core.sems.capacity(), |c, i| c.sems.handle_at(i));
        close_each(core, core.signals.capacity(), |c, i| {
            c.signals.at(i).map(|(h, _)| h)
        });
        close_each(core, core.defers.capacity(), |c, i| c.defers.handle_at(i));
        close_each(core, core.idles.capacity(), |c, i| c.idles.handle_at(i));
        close_each(core, core.periodics.capacity(), |c, i| {
            c.periodics.handle_at(i)
        });
        close_each(core, core.files.capacity(), |c, i| c.files.handle_at(i));
        closed
    }

    /// How many protothreads are running in all pools.
    pub fn protothreads_running(&self) -> usize {
        self.core().pts.live_count()
    }
}

impl<'s, A: 'static> Deref for EventLoop<'s, A> {
    type Target = Cx<'s>;

    fn deref(&self) -> &Cx<'s> {
        &self.cx
    }
}

impl<'s, A: 'static> DerefMut for EventLoop<'s, A> {
    fn deref_mut(&mut self) -> &mut Cx<'s> {
        &mut self.cx
    }
}

impl<A: 'static> Drop for EventLoop<'_, A> {
    fn drop(&mut self) {
        // The kernel may still write into (or read from) the buffer pool, which is borrowed
        // storage that outlives the loop only briefly: take every request back first.
        self.cx.core.ring_quiesce(&mut self.events);
        // So may it into a file operation's staging memory.
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        self.cx.core.ring_files_quiesce(&mut self.events);
        // And accept connections for a listener until its accept's cancel lands.
        self.cx.core.ring_accepts_quiesce(&mut self.events);
        let core = &self.cx.core;
        // Remotes outlive the loop: make their raises fail instead of counting into the void.
        if let Some(shared) = &core.shared {
            for i in 0..core.user.capacity() {
                if let Some((h, _)) = core.user.at(i) {
                    shared.sources.close(h);
                }
            }
            for i in 0..core.sems.capacity() {
                if let Some(h) = core.sems.handle_at(i) {
                    shared.sems.close(h);
                }
            }
        }
        // The core behind `cx` can have been swapped for another loop's by safe code: then
        // its pools say nothing about this loop's, and the next loop with this id starts
        // half the generation range (and 2^40 buffer uses) further on instead.
        let next = if core.id == self.id {
            core.next_generations(self.first)
        } else {
            loop_id::Generations {
                pools: self.first.pools.wrapping_add(0x8000),
                buffers: self.first.buffers.wrapping_add(1 << 40),
            }
        };
        loop_id::release(self.id, next);
    }
}

impl<A: 'static> std::fmt::Debug for EventLoop<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.id)
            .field("in_use", &self.in_use())
            .field("capacities", &self.capacities())
            .finish()
    }
}

/// Releases a loop id if `new` fails after taking it (nothing was handed out: the next loop
/// with the id starts where this one would have).
struct IdGuard(Option<(u8, loop_id::Generations)>);

impl Drop for IdGuard {
    fn drop(&mut self) {
        if let Some((id, first)) = self.0 {
            loop_id::release(id, first);
        }
    }
}
