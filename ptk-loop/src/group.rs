//! [`Loop`]: a group of worker loops, and [`LoopHandle`]: every call on it, from any thread.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ptk_runtime::{Capacities, Config as Config_, LoopThreads, ThreadsConfig};

use crate::addr;
use crate::buf::{Buf, BufPool};
use crate::error::{Error, Result};
use crate::event::{Callback, Ownership};
use crate::opts::{LoopOpts, TcpClientOpts, TcpServerOpts, TimerOpts, UdpOpts};
use crate::shared::{self, Command, Config, Posted, SharedObject, WorkerShared};
use crate::sock::{Sock, SockOpt, SockType};
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
    /// [`Error::Closed`](crate::Error::Closed) if the workers were never started.
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

impl LoopHandle {
    /// The group that owns `sock`, if it still exists (how a C call that only gets the
    /// socket finds its loop).
    pub fn of(sock: Sock) -> Option<LoopHandle> {
        shared::lookup(sock.group()).map(|shared| LoopHandle { shared })
    }

    /// Asks every worker to stop; returns at once. [`Loop::wait`] returns once they have.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        for ws in self.shared.workers.iter() {
            if let Some((remote, _)) = ws.door.get() {
                remote.stop();
            }
        }
    }

    /// Whether the workers run (started and not yet stopped).
    pub fn is_running(&self) -> bool {
        !self.shared.stopped.load(Ordering::Acquire)
            && self.shared.workers.iter().all(|w| w.door.get().is_some())
    }

    /// How many worker loops the group has.
    pub fn workers(&self) -> usize {
        self.shared.workers.len()
    }

    /// Calls `f(user_data)` on the first worker's thread, after the calls queued before.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the worker's command queue is
    /// full; [`Error::Closed`](crate::Error::Closed) after the group stopped.
    pub fn post(&self, f: fn(usize), user_data: usize) -> Result<()> {
        self.shared.check_open()?;
        self.shared.workers[0].push(Command::Post {
            f: Posted::One(f),
            a: user_data,
            b: 0,
        })
    }

    /// Calls `f(a, b)` on the first worker's thread, after the calls queued before: two
    /// words, for a caller that needs a function of its own and its data (the C layer's
    /// `ptk_loop_post(loop, cb, user_data)`).
    ///
    /// # Errors
    ///
    /// As [`post`](LoopHandle::post).
    pub fn post_with(&self, f: PostCallback, a: usize, b: usize) -> Result<()> {
        self.shared.check_open()?;
        self.shared.workers[0].push(Command::Post {
            f: Posted::Two(f),
            a,
            b,
        })
    }

    /// Takes a buffer from the group's pool.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when every buffer is in use.
    pub fn buf_alloc(&self) -> Result<Buf> {
        self.shared.pool.alloc()
    }

    /// Buffers of the pool not in use now.
    pub fn buffers_available(&self) -> usize {
        self.shared.pool.available()
    }

    /// Buffers of the pool in all (`LoopOpts::buffers`).
    pub fn buffers(&self) -> usize {
        self.shared.pool.count()
    }

    /// Starts a TCP server: binds and listens at once (so a busy port is an error here),
    /// one listener per worker sharing the port (`SO_REUSEPORT`), so that the kernel spreads
    /// connections over the workers. Accepted connections get
    /// [`EventKind::Accept`](crate::EventKind::Accept) on the server's callback.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) without a callback, for a host
    /// that is not a numeric address;
    /// [`Error::AddressInUse`](crate::Error::AddressInUse);
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when a worker has no free slot.
    pub fn tcp_server_start(&self, opts: &TcpServerOpts<'_>) -> Result<Sock> {
        let s = &*self.shared;
        s.check_open()?;
        let config = s.config(
            opts.callback,
            opts.user_data,
            opts.callback_data,
            opts.read_ownership,
            opts.read_buffer_size,
            opts.keep_alive,
        )?;
        let host = if opts.bind_host.is_empty() {
            "0.0.0.0"
        } else {
            opts.bind_host
        };
        let mut addr = addr::parse(host, opts.port)?;
        let backlog = if opts.backlog == 0 { 128 } else { opts.backlog };
        let shared_port = s.workers.len() > 1;
        // Bind every listener first, so that a failure leaves nothing behind.
        let mut listeners = Vec::with_capacity(s.workers.len());
        for _ in 0..s.workers.len() {
            let l = bind_listener(addr, backlog, opts.reuse_addr, shared_port)?;
            addr = l.local_addr()?;
            listeners.push(l);
        }
        let mut socks = Vec::with_capacity(s.workers.len());
        for ws in s.workers.iter() {
            match ws.alloc(s.id, SockType::TcpServer) {
                Ok(sock) => socks.push(sock),
                Err(e) => {
                    for (sock, ws) in socks.iter().zip(s.workers.iter()) {
                        ws.free(*sock);
                    }
                    return Err(e);
                }
            }
        }
        for (i, (sock, l)) in socks.iter().zip(listeners).enumerate() {
            let ws = &s.workers[i];
            let o = &ws.objects[sock.slot()];
            o.set_addrs(Some(addr), None);
            o.set_option(SockOpt::ReuseAddr, usize::from(opts.reuse_addr));
            let r = socket2::SockRef::from(&l);
            o.set_option(SockOpt::RecvBuffer, r.recv_buffer_size().unwrap_or(0));
            o.set_option(SockOpt::SendBuffer, r.send_buffer_size().unwrap_or(0));
            let cmd = Command::Listen {
                sock: *sock,
                listener: l,
                config,
                next: socks.get(i + 1).copied(),
            };
            if let Err(e) = ws.push(cmd) {
                // Those queued close with the first; the rest were never opened.
                for (j, sock) in socks.iter().enumerate().skip(i) {
                    s.workers[j].free(*sock);
                }
                if i > 0 {
                    let _ = self.close(socks[0]);
                }
                return Err(e);
            }
        }
        Ok(socks[0])
    }

    /// Starts connecting; the outcome is an event: [`Connect`](crate::EventKind::Connect),
    /// or [`Error`](crate::EventKind::Error) (refused, timed out, unreachable) then
    /// [`Close`](crate::EventKind::Close).
    ///
    /// # Errors
    ///
    /// As [`tcp_server_start`](LoopHandle::tcp_server_start) for the arguments; port 0 is
    /// [`Error::InvalidParam`](crate::Error::InvalidParam).
    pub fn tcp_connect(&self, opts: &TcpClientOpts<'_>) -> Result<Sock> {
        let s = &*self.shared;
        s.check_open()?;
        let config = s.config(
            opts.callback,
            opts.user_data,
            opts.callback_data,
            opts.read_ownership,
            opts.read_buffer_size,
            opts.keep_alive,
        )?;
        if opts.port == 0 {
            return Err(Error::InvalidParam);
        }
        let addr = addr::parse(opts.host, opts.port)?;
        if addr.ip().is_unspecified() {
            return Err(Error::InvalidParam);
        }
        let timeout_ms = if opts.connect_timeout_ms == 0 {
            30_000
        } else {
            opts.connect_timeout_ms
        };
        let ws = s.next_worker();
        let sock = ws.alloc(s.id, SockType::TcpClient)?;
        ws.objects[sock.slot()].set_addrs(None, Some(addr));
        let cmd = Command::Connect {
            sock,
            addr,
            timeout_ms: u64::from(timeout_ms),
            config,
        };
        ws.push(cmd).inspect_err(|_| {
            ws.free(sock);
        })?;
        Ok(sock)
    }

    /// Binds a UDP socket at once; datagrams arrive as
    /// [`UdpRead`](crate::EventKind::UdpRead).
    ///
    /// # Errors
    ///
    /// As [`tcp_server_start`](LoopHandle::tcp_server_start).
    pub fn udp_create(&self, opts: &UdpOpts<'_>) -> Result<Sock> {
        let s = &*self.shared;
        s.check_open()?;
        let config = s.config(
            opts.callback,
            opts.user_data,
            opts.callback_data,
            opts.read_ownership,
            opts.read_buffer_size,
            false,
        )?;
        let addr = addr::parse(opts.bind_host, opts.bind_port)?;
        let sock2 = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        sock2.set_reuse_address(opts.reuse_addr)?;
        sock2.set_broadcast(opts.broadcast)?;
        sock2.set_nonblocking(true)?;
        sock2.bind(&addr.into())?;
        let socket: std::net::UdpSocket = sock2.into();
        let ws = s.next_worker();
        let sock = ws.alloc(s.id, SockType::Udp)?;
        let o = &ws.objects[sock.slot()];
        o.set_addrs(socket.local_addr().ok(), None);
        o.set_option(SockOpt::ReuseAddr, usize::from(opts.reuse_addr));
        let r = socket2::SockRef::from(&socket);
        o.set_option(SockOpt::RecvBuffer, r.recv_buffer_size().unwrap_or(0));
        o.set_option(SockOpt::SendBuffer, r.send_buffer_size().unwrap_or(0));
        ws.push(Command::Udp {
            sock,
            socket,
            config,
        })
        .inspect_err(|_| {
            ws.free(sock);
        })?;
        Ok(sock)
    }

    /// Sends `buf` as one datagram to `host:port` (numeric); the loop owns `buf` from now on
    /// and reports [`UdpWriteDone`](crate::EventKind::UdpWriteDone) once it is sent (or an
    /// [`Error`](crate::EventKind::Error) event if the send fails).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) for a stale handle;
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) for a handle that is not a UDP
    /// socket or a bad address; [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the
    /// command queue is full. The buffer is freed in every error case.
    pub fn udp_send(&self, sock: Sock, buf: Buf, host: &str, port: u16) -> Result<()> {
        let ws = self.shared.open_object(sock, &[SockType::Udp])?;
        let to = addr::parse(host, port)?;
        if port == 0 {
            return Err(Error::InvalidParam);
        }
        ws.push(Command::UdpSend { sock, buf, to })
    }

    /// Starts a timer: [`Tick`](crate::EventKind::Tick) after `timeout_ms`, then every
    /// `timeout_ms` if it repeats (until stopped), or a [`Close`](crate::EventKind::Close)
    /// right after the one tick if it does not.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) without a callback or for a
    /// timeout of 0; [`Error::OutOfMemory`](crate::Error::OutOfMemory).
    pub fn timer_start(&self, opts: &TimerOpts) -> Result<Sock> {
        let s = &*self.shared;
        s.check_open()?;
        let callback = opts.callback.ok_or(Error::InvalidParam)?;
        if opts.timeout_ms == 0 {
            return Err(Error::InvalidParam);
        }
        let config = Config {
            callback,
            user_data: opts.user_data,
            callback_data: opts.callback_data,
            ownership: Ownership::Borrowed,
            read_size: 0,
            keep_alive: false,
        };
        let ws = s.next_worker();
        let sock = ws.alloc(s.id, SockType::Timer)?;
        ws.push(Command::Timer {
            sock,
            ms: opts.timeout_ms,
            repeat: opts.repeat,
            config,
        })
        .inspect_err(|_| {
            ws.free(sock);
        })?;
        Ok(sock)
    }

    /// Stops a timer: it gets its [`Close`](crate::EventKind::Close) and no more ticks.
    ///
    /// # Errors
    ///
    /// As [`close`](LoopHandle::close); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for an object that is not a timer.
    pub fn timer_stop(&self, sock: Sock) -> Result<()> {
        self.shared.open_object(sock, &[SockType::Timer])?;
        self.close(sock)
    }

    /// Sends `buf` on a connection after the writes before it; the loop owns `buf` from now
    /// on and reports [`WriteDone`](crate::EventKind::WriteDone) once all of it is sent.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) for a stale handle;
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) for an object that is not a
    /// connection; [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the command queue
    /// is full. The buffer is freed in every error case.
    pub fn write(&self, sock: Sock, buf: Buf) -> Result<()> {
        let ws = self.shared.open_object(sock, &[SockType::TcpClient])?;
        ws.push(Command::Write { sock, buf })
    }

    /// Closes any object: writes not yet sent are dropped, and the object's callback gets
    /// [`Close`](crate::EventKind::Close), its last event.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) for a stale handle (or one already closing);
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the command queue is full.
    pub fn close(&self, sock: Sock) -> Result<()> {
        let (ws, o) = self.shared.object(sock)?;
        if o.closing.swap(true, Ordering::AcqRel) {
            return Err(Error::Closed);
        }
        ws.push(Command::Close { sock, quiet: false })
            .inspect_err(|_| o.closing.store(false, Ordering::Release))
    }

    /// Makes the object's callback get [`Wake`](crate::EventKind::Wake) with `user_data`, on
    /// its loop's thread. Wakes are not merged: each call is one event.
    ///
    /// # Errors
    ///
    /// As [`close`](LoopHandle::close).
    pub fn sock_wake(&self, sock: Sock, user_data: usize) -> Result<()> {
        let ws = self.shared.open_object(sock, &ALL_TYPES)?;
        ws.push(Command::Wake { sock, user_data })
    }

    /// What kind of object `sock` names.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) for a stale handle;
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) for one of another group.
    pub fn sock_type(&self, sock: Sock) -> Result<SockType> {
        Ok(self.shared.object(sock)?.1.kind())
    }

    /// The local address of a server, connection or UDP socket.
    ///
    /// # Errors
    ///
    /// As [`sock_type`](LoopHandle::sock_type); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for a timer; [`Error::Closed`](crate::Error::Closed) for a connection not yet
    /// connected.
    pub fn local_addr(&self, sock: Sock) -> Result<SocketAddr> {
        let (_, o) = self.shared.object(sock)?;
        if o.kind() == SockType::Timer {
            return Err(Error::InvalidParam);
        }
        let a = o.addrs.lock().unwrap_or_else(|e| e.into_inner()).0;
        a.ok_or(Error::Closed)
    }

    /// The peer of a connection (for a connect in progress, the address it connects to).
    ///
    /// # Errors
    ///
    /// As [`local_addr`](LoopHandle::local_addr); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for a server or UDP socket.
    pub fn remote_addr(&self, sock: Sock) -> Result<SocketAddr> {
        let (_, o) = self.shared.object(sock)?;
        if o.kind() != SockType::TcpClient {
            return Err(Error::InvalidParam);
        }
        let a = o.addrs.lock().unwrap_or_else(|e| e.into_inner()).1;
        a.ok_or(Error::Closed)
    }

    /// Sets a socket option (booleans as 0 or 1). Applied on the object's loop; the value
    /// reads back at once (buffer sizes as the kernel reports them once applied).
    ///
    /// # Errors
    ///
    /// As [`sock_type`](LoopHandle::sock_type); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for an option the object does not have.
    pub fn set_option(&self, sock: Sock, opt: SockOpt, value: usize) -> Result<()> {
        let (ws, o) = self.shared.object(sock)?;
        option_applies(o.kind(), opt)?;
        let value = match opt {
            SockOpt::KeepAlive | SockOpt::NoDelay | SockOpt::ReuseAddr => usize::from(value != 0),
            _ => value,
        };
        o.set_option(opt, value);
        if opt == SockOpt::ReuseAddr {
            return Ok(());
        }
        ws.push(Command::SetOption { sock, opt, value })
    }

    /// Reads a socket option (booleans as 0 or 1; buffer sizes as the kernel reports them).
    ///
    /// # Errors
    ///
    /// As [`set_option`](LoopHandle::set_option).
    pub fn get_option(&self, sock: Sock, opt: SockOpt) -> Result<usize> {
        let (_, o) = self.shared.object(sock)?;
        option_applies(o.kind(), opt)?;
        Ok(o.options[opt as usize].load(Ordering::Acquire))
    }
}

const ALL_TYPES: [SockType; 4] = [
    SockType::TcpServer,
    SockType::TcpClient,
    SockType::Udp,
    SockType::Timer,
];

fn option_applies(kind: SockType, opt: SockOpt) -> Result<()> {
    let ok = match opt {
        SockOpt::KeepAlive | SockOpt::NoDelay => kind == SockType::TcpClient,
        SockOpt::ReuseAddr => matches!(kind, SockType::TcpServer | SockType::Udp),
        SockOpt::RecvBuffer | SockOpt::SendBuffer => kind != SockType::Timer,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParam)
    }
}

fn bind_listener(
    addr: SocketAddr,
    backlog: u32,
    reuse_addr: bool,
    reuse_port: bool,
) -> Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(reuse_addr)?;
    if reuse_port {
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        sock.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(sock.into())
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
