//! [`Loop`]: a group of worker loops, and [`LoopHandle`]: every call on it, from any thread
//! (`calls.rs`).

mod calls;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ptk_runtime::{Capacities, Config as Config_, LoopThreads, ThreadsConfig};

use crate::buf::BufPool;
use crate::error::{Error, Result};
use crate::event::{Callback, Ownership};
use crate::opts::LoopOpts;
use crate::shared::{self, Config, SharedObject, WorkerShared};
use crate::sock::{Sock, SockType};
use crate::worker::Worker;

/// A function posted with [`LoopHandle::post`] or [`LoopHandle::post_with`], called on a
/// worker loop's thread with the two words given.
pub type PostCallback = fn(usize, usize);

/// What a group's threads share.
pub(crate) struct Shared {
    pub(crate) id: u8,
    pub(crate) opts: LoopOpts,
    pub(crate) workers: Box<[WorkerShared]>,
    pub(crate) pool: Arc<BufPool>,
    /// Where the next connection, UDP socket or timer goes.
    next_worker: AtomicUsize,
    /// Set once the group is stopped or dropped: calls then fail with `Closed`.
    stopped: AtomicBool,
}

impl Shared {
    /// The pools of one worker's event loop.
    pub(crate) fn capacities(&self) -> Capacities {
        let n = self.opts.sockets_per_worker;
        Capacities {
            // Timers, plus one per connect in progress for its timeout.
            timers: 2 * n,
            tcp_listeners: n,
            tcp_streams: n,
            udp_sockets: n,
            user_event_sources: 1,
            semaphores: 0,
            signals: 0,
            // The runtime's own buffer pool is unused: reads go to the group's buffers.
            buffers: 0,
            buffer_size: 64,
            large_buffers: 0,
            large_buffer_size: 64,
            defers: 0,
            idles: 0,
            periodics: 0,
            file_ops: 0,
            file_op_size: 0,
        }
    }

    fn worker_of(&self, sock: Sock) -> Result<&WorkerShared> {
        if sock.group() != self.id {
            return Err(Error::InvalidParam);
        }
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.workers.get(sock.worker()).ok_or(Error::InvalidParam)
    }

    /// The worker and shared object of a live `sock`.
    fn object(&self, sock: Sock) -> Result<(&WorkerShared, &SharedObject)> {
        let ws = self.worker_of(sock)?;
        Ok((ws, ws.object(sock)?))
    }

    /// As [`object`](Shared::object), for a call that acts on the object: not one closing.
    fn open_object(&self, sock: Sock, kinds: &[SockType]) -> Result<&WorkerShared> {
        let (ws, o) = self.object(sock)?;
        if !kinds.contains(&o.kind()) {
            return Err(Error::InvalidParam);
        }
        if o.closing.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(ws)
    }

    fn next_worker(&self) -> &WorkerShared {
        let i = self.next_worker.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        &self.workers[i]
    }

    fn check_open(&self) -> Result<()> {
        if self.stopped.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn config(
        &self,
        callback: Option<Callback>,
        user_data: usize,
        callback_data: usize,
        ownership: Ownership,
        read_size: usize,
        keep_alive: bool,
    ) -> Result<Config> {
        let callback = callback.ok_or(Error::InvalidParam)?;
        let read_size = if read_size == 0 { 8192 } else { read_size };
        let read_size = read_size.min(self.pool.buffer_size());
        Ok(Config {
            callback,
            user_data,
            callback_data,
            ownership,
            read_size,
            keep_alive,
        })
    }
}

/// Every call of a loop group, from any thread (`Send + Sync`, cheap to clone). A
/// [`Loop`] dereferences to one; a callback reaches its own with [`Event::owner`](crate::Event::owner).
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<Shared>,
}

/// A group of worker threads, each running one event loop (`ptk_loop`).
///
/// Dropping it stops the workers, joins them and closes every object (without events).
///
/// # Examples
///
/// A timer that ticks three times on a worker, then stops the group:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
/// use ptk_loop::{Event, EventKind, Loop, LoopOpts, TimerOpts};
///
/// static TICKS: AtomicUsize = AtomicUsize::new(0);
///
/// fn on_timer(ev: &mut Event<'_>) {
///     if ev.kind == EventKind::Tick && TICKS.fetch_add(1, Ordering::SeqCst) == 2 {
///         ev.owner().stop();
///     }
/// }
///
/// let lp = Loop::new(&LoopOpts { worker_threads: 1, ..LoopOpts::default() }).unwrap();
/// lp.timer_start(&TimerOpts { timeout_ms: 5, repeat: true, callback: Some(on_timer), user_data: 0, ..TimerOpts::default() })
///     .unwrap();
/// lp.wait_timeout(Duration::from_secs(10)).unwrap();
/// assert_eq!(TICKS.load(Ordering::SeqCst), 3);
/// ```
pub struct Loop {
    handle: LoopHandle,
    threads: RwLock<Option<LoopThreads<Worker>>>,
}

fn resolve(opts: &LoopOpts) -> Result<LoopOpts> {
    let d = LoopOpts::default();
    let or = |v: usize, d: usize| if v == 0 { d } else { v };
    let workers = if opts.worker_threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.worker_threads
    };
    let r = LoopOpts {
        worker_threads: workers.min(255),
        max_events: or(opts.max_events, d.max_events),
        auto_start: opts.auto_start,
        sockets_per_worker: or(opts.sockets_per_worker, d.sockets_per_worker),
        buffers: or(opts.buffers, d.buffers),
        buffer_size: or(opts.buffer_size, d.buffer_size),
        commands_per_worker: or(opts.commands_per_worker, d.commands_per_worker),
        writes_per_sock: or(opts.writes_per_sock, d.writes_per_sock),
        spread: opts.spread,
    };
    if opts.worker_threads > 255 || r.sockets_per_worker > 0xff_ffff {
        return Err(Error::InvalidParam);
    }
    Ok(r)
}

impl Loop {
    /// Makes the group: the buffer pool, each worker's object table and command queue, and,
    /// with `auto_start`, the worker threads and their loops.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) for more than 255 workers or
    /// more than 2^24 sockets per worker; [`Error::OutOfMemory`](crate::Error::OutOfMemory)
    /// when the group ids (255) are all in use or a loop cannot be made.
    pub fn new(opts: &LoopOpts) -> Result<Loop> {
        let opts = resolve(opts)?;
        let pool = BufPool::new(opts.buffers, opts.buffer_size);
        let shared = shared::register(|id| {
            Arc::new(Shared {
                id,
                opts,
                workers: (0..opts.worker_threads)
                    .map(|i| {
                        WorkerShared::new(
                            i as u8,
                            opts.sockets_per_worker,
                            opts.commands_per_worker,
                        )
                    })
                    .collect(),
                pool,
                next_worker: AtomicUsize::new(0),
                stopped: AtomicBool::new(false),
            })
        })?;
        let lp = Loop {
            handle: LoopHandle { shared },
            threads: RwLock::new(None),
        };
        if opts.auto_start {
            lp.start()?;
        }
        Ok(lp)
    }

    /// Starts the workers of a group made with `auto_start: false`; does nothing if they
    /// run.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the group was stopped (a group runs
    /// once); an error making a worker's loop.
    pub fn start(&self) -> Result<()> {
        let shared = &self.handle.shared;
        shared.check_open()?;
        let mut threads = self.threads.write().unwrap_or_else(|e| e.into_inner());
        if threads.is_some() {
            return Ok(());
        }
        let config = ThreadsConfig {
            workers: shared.workers.len(),
            capacities: shared.capacities(),
            config: Config_ {
                events_per_poll: shared.opts.max_events,
                post_queue: 4,
                protothreads: 0,
                ..Config_::default()
            },
        };
        let make = Arc::clone(shared);
        let set = Arc::clone(shared);
        let spawned = LoopThreads::spawn(
            config,
            move |i| Worker::new(Arc::clone(&make), i),
            move |i, ev| {
                let ws = &set.workers[i];
                shared::CURRENT.with(|c| c.set(ws as *const WorkerShared as usize));
                shared::LOCAL.with(|l| {
                    let mut l = l.borrow_mut();
                    l.capacity = set.opts.commands_per_worker;
                    l.queue = VecDeque::with_capacity(l.capacity);
                });
                let source = Worker::setup(ev)?;
                let _ = ws.door.set((ev.remote(), source));
                // Commands queued before the start.
                ev.raise(source, 0)
            },
        )
        .map_err(Error::from)?;
        *threads = Some(spawned);
        Ok(())
    }

    /// Blocks until the group stops ([`stop`](LoopHandle::stop), from any thread or a
    /// callback).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the workers were never started;
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) when called from one of the
    /// group's own callbacks (it would wait for itself).
    pub fn wait(&self) -> Result<()> {
        loop {
            match self.wait_timeout(Duration::from_secs(3600)) {
                Err(Error::Timeout) => continue,
                r => return r,
            }
        }
    }

    /// As [`wait`](Loop::wait), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`](crate::Error::Timeout) if the group still runs after `timeout`;
    /// as [`wait`](Loop::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        let here = shared::CURRENT.with(|c| c.get());
        if self
            .handle
            .shared
            .workers
            .iter()
            .any(|w| here == w as *const WorkerShared as usize)
        {
            return Err(Error::InvalidParam);
        }
        let threads = self.threads.read().unwrap_or_else(|e| e.into_inner());
        match &*threads {
            None => Err(Error::Closed),
            Some(t) if t.wait_timeout(timeout) => Ok(()),
            Some(_) => Err(Error::Timeout),
        }
    }

    /// A handle to the group that does not keep it running: calls through it fail with
    /// [`Error::Closed`](crate::Error::Closed) once the `Loop` is dropped.
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        self.handle.stop();
        let threads = self
            .threads
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(threads); // stops and joins
        shared::unregister(self.handle.shared.id);
    }
}

impl std::ops::Deref for Loop {
    type Target = LoopHandle;

    fn deref(&self) -> &LoopHandle {
        &self.handle
    }
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Loop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loop").finish_non_exhaustive()
    }
}
