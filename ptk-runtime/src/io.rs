//! [`Io`], the operations running code can ask of its event loop.

use core::any::Any;
use core::net::SocketAddr;
use core::task::Poll;

use crate::error::{Error, Result};
use crate::event::{ListenOptions, Shutdown, Trigger};
use crate::handle::{
    Handle, Protothread as ProtothreadKind, RawHandle, Semaphore, TcpListener, TcpStream, Timer,
    UdpSocket, UserEvents,
};
use crate::status::{Outcome, PtStatus};

/// The runtime operations of an event loop.
///
/// Handlers and protothreads receive a [`Cx`](crate::Cx), which dereferences to `dyn Io`, so
/// every method here is called as `cx.read(stream, buf)`, `cx.timer_start(t, 100, false)`, ...
/// The mio event loop implements it; a [`Cx::detached`](crate::Cx::detached) context answers
/// every operation with [`Error::NotSupported`]. The trait needs neither `std` nor `alloc`, so
/// other backends can implement it.
///
/// Operations that may have to wait are **poll-style**: they return `Poll::Ready` with the
/// result, or `Poll::Pending` after registering a one-shot wake-up of the running protothread
/// for exactly that resource and direction. Handlers are persistent and need no registration:
/// a `Pending` answer just means "wait for the next event".
///
/// Every method has a default body that fails with [`Error::NotSupported`], which is what a
/// backend without that feature answers.
#[allow(unused_variables)]
pub trait Io {
    // ----- loop -----

    /// Milliseconds since the loop started, as of this iteration: the loop reads the clock at
    /// most once per iteration, the first time anyone needs it (an armed timer, a deadline, a
    /// sleep, or this call), and every later call in the same iteration answers the same
    /// value. Iterations that never need the time never read the clock.
    fn now_ms(&self) -> u64 {
        0
    }

    /// Asks the loop to return from [`run`](crate::EventLoop::run) after this iteration.
    fn stop(&mut self) {}

    /// The last error an operation of this loop returned, if any.
    fn last_error(&self) -> Option<Error> {
        None
    }

    /// Closes any resource (timer, socket, user event source) and removes its handlers.
    /// Closing a handle that is already closed is `Err(InvalidHandle)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale, foreign or unknown handle.
    fn close(&mut self, handle: RawHandle) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Sets (or replaces) the handler of `handle` for `trigger`; `handler` must be a
    /// `fn(&mut A, &mut Cx<'_>, Event)` for the loop's application state type `A`. Prefer the
    /// typed [`Cx::set_handler`](crate::Cx::set_handler).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::InvalidArgument`] for a trigger the resource does not
    /// have or a handler of the wrong type; [`Error::OutOfResources`] when the handler table
    /// (or, for a new user event id, the source) is full.
    fn set_handler_any(
        &mut self,
        handle: RawHandle,
        trigger: Trigger,
        handler: &dyn Any,
    ) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Removes the handler of `handle` for `trigger`. Removing a handler that is not set (or of
    /// a closed resource) is not an error.
    fn remove_handler(&mut self, handle: RawHandle, trigger: Trigger) {}

    // ----- timers -----

    /// Creates a stopped timer.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`] when every timer slot is in use.
    fn timer_create(&mut self) -> Result<Handle<Timer>> {
        Err(Error::NotSupported)
    }

    /// (Re)starts a timer: it expires `interval_ms` milliseconds from now, and then every
    /// `interval_ms` if `repeating`. Restarting an armed timer moves its deadline.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an interval of 0; [`Error::InvalidHandle`].
    fn timer_start(
        &mut self,
        timer: Handle<Timer>,
        interval_ms: u64,
        repeating: bool,
    ) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Stops a timer before it expires (a stopped timer is not an error).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    fn timer_stop(&mut self, timer: Handle<Timer>) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Whether the timer is armed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    fn timer_is_armed(&self, timer: Handle<Timer>) -> Result<bool> {
        Err(Error::NotSupported)
    }

    /// When an armed timer expires next, in the milliseconds of [`now_ms`](Io::now_ms);
    /// `None` for a stopped timer. Timers fire in the order of this deadline, and timers with
    /// the same deadline in the order they were armed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    fn timer_deadline(&self, timer: Handle<Timer>) -> Result<Option<u64>> {
        Err(Error::NotSupported)
    }

    // ----- TCP -----

    /// Binds and listens on `addr`.
    ///
    /// # Errors
    ///
    /// [`Error::AddressInUse`], [`Error::OutOfResources`], [`Error::NotSupported`] for
    /// `reuse_port` where the platform lacks it.
    fn tcp_listen(
        &mut self,
        addr: SocketAddr,
        options: &ListenOptions,
    ) -> Result<Handle<TcpListener>> {
        Err(Error::NotSupported)
    }

    /// Accepts one pending connection.
    ///
    /// When the stream pool is full or the process is out of file descriptors the pending
    /// connection is accepted and closed at once (the peer sees a reset or end-of-stream) and
    /// the error is [`Error::OutOfResources`] naming the capacity; the listener keeps working.
    fn accept(
        &mut self,
        listener: Handle<TcpListener>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr)>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Starts a non-blocking connect; wait for it with [`connected`](Io::connected). With
    /// `timeout_ms`, a connect still in progress after that long fails with
    /// [`Error::Timeout`] (this uses one timer slot while connecting).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]; an immediate failure of the connect call.
    fn tcp_connect(
        &mut self,
        addr: SocketAddr,
        timeout_ms: Option<u64>,
    ) -> Result<Handle<TcpStream>> {
        Err(Error::NotSupported)
    }

    /// The outcome of a connect: `Ready(Ok(()))` once connected, `Ready(Err(_))` with
    /// [`Error::ConnectionRefused`], [`Error::Timeout`], ... when it failed.
    fn connected(&mut self, stream: Handle<TcpStream>) -> Poll<Result<()>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Reads into `buf`. `Ready(Ok(0))` is end-of-stream (or an empty `buf`).
    fn read(&mut self, stream: Handle<TcpStream>, buf: &mut [u8]) -> Poll<Result<usize>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Writes some of `buf`; the count may be less than `buf.len()` (a partial write).
    fn write(&mut self, stream: Handle<TcpStream>, buf: &[u8]) -> Poll<Result<usize>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Writes all of `buf`, across as many resumes as it takes: `written` (kept in the
    /// context) counts the bytes already written and must start at 0. `Ready(Ok(()))` once
    /// `*written == buf.len()`.
    fn write_all(
        &mut self,
        stream: Handle<TcpStream>,
        buf: &[u8],
        written: &mut usize,
    ) -> Poll<Result<()>> {
        while *written < buf.len() {
            match self.write(stream, &buf[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Shuts down one or both halves of the connection.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::NotConnected`].
    fn shutdown(&mut self, stream: Handle<TcpStream>, how: Shutdown) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_nodelay(&mut self, stream: Handle<TcpStream>, on: bool) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn nodelay(&self, stream: Handle<TcpStream>) -> Result<bool> {
        Err(Error::NotSupported)
    }

    /// The keep-alive idle time in seconds if keep-alive probes are on, else `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error; [`Error::NotSupported`] where the platform
    /// cannot report the idle time.
    fn keepalive(&self, stream: Handle<TcpStream>) -> Result<Option<u32>> {
        Err(Error::NotSupported)
    }

    /// Enables TCP keep-alive probes after `idle_secs` of silence, or disables them (`None`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_keepalive(&mut self, stream: Handle<TcpStream>, idle_secs: Option<u32>) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Sets `SO_RCVBUF` (the kernel may round or double it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_recv_buffer_size(&mut self, socket: RawHandle, bytes: usize) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Sets `SO_SNDBUF` (the kernel may round or double it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_send_buffer_size(&mut self, socket: RawHandle, bytes: usize) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// `SO_RCVBUF` as the kernel reports it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn recv_buffer_size(&self, socket: RawHandle) -> Result<usize> {
        Err(Error::NotSupported)
    }

    /// `SO_SNDBUF` as the kernel reports it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn send_buffer_size(&self, socket: RawHandle) -> Result<usize> {
        Err(Error::NotSupported)
    }

    /// The local address of a listener, stream or UDP socket.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn local_addr(&self, socket: RawHandle) -> Result<SocketAddr> {
        Err(Error::NotSupported)
    }

    /// The peer address of a connected stream.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::NotConnected`].
    fn peer_addr(&self, stream: Handle<TcpStream>) -> Result<SocketAddr> {
        Err(Error::NotSupported)
    }

    // ----- UDP -----

    /// Binds a UDP socket to `addr` (port 0 for an ephemeral one; `0.0.0.0:0` or `[::]:0`
    /// for an "unbound" socket that only sends and receives replies).
    ///
    /// # Errors
    ///
    /// [`Error::AddressInUse`]; [`Error::OutOfResources`].
    fn udp_bind(&mut self, addr: SocketAddr) -> Result<Handle<UdpSocket>> {
        Err(Error::NotSupported)
    }

    /// Sends one datagram to `to`.
    fn send_to(
        &mut self,
        socket: Handle<UdpSocket>,
        buf: &[u8],
        to: SocketAddr,
    ) -> Poll<Result<usize>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Receives one datagram and its sender. A datagram longer than `buf` is
    /// [`Error::MessageTooLarge`] (and is discarded).
    fn recv_from(
        &mut self,
        socket: Handle<UdpSocket>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr)>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_broadcast(&mut self, socket: Handle<UdpSocket>, on: bool) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Joins multicast group `group` on the interface with address `interface` (IPv4) or
    /// index `interface_index` (IPv6; 0 for the default). The group's family must match the
    /// socket's.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a non-multicast group or a family mismatch.
    fn join_multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: core::net::IpAddr,
        interface: MulticastInterface,
    ) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Leaves a multicast group joined with [`join_multicast`](Io::join_multicast).
    ///
    /// # Errors
    ///
    /// As for `join_multicast`; an OS error if the group was not joined.
    fn leave_multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: core::net::IpAddr,
        interface: MulticastInterface,
    ) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Sets the multicast TTL (IPv4) or hop limit (IPv6).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_multicast_ttl(&mut self, socket: Handle<UdpSocket>, ttl: u32) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Whether multicast datagrams sent by this socket loop back to local listeners.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    fn set_multicast_loop(&mut self, socket: Handle<UdpSocket>, on: bool) -> Result<()> {
        Err(Error::NotSupported)
    }

    // ----- user events -----

    /// Creates a user event source.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`] when every source is in use.
    fn user_events_create(&mut self) -> Result<Handle<UserEvents>> {
        Err(Error::NotSupported)
    }

    /// Raises event `id` of `source` (from the loop thread; other threads use
    /// [`LoopRemote::raise`](crate::LoopRemote::raise)). Never blocks, never allocates.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::OutOfResources`] when the source already holds as
    /// many distinct ids as it can.
    fn raise(&mut self, source: Handle<UserEvents>, id: u32) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Takes the raises of `id` latched since the last take: `Ready(Ok(count))` if there were
    /// any, else `Pending` (registering a wake-up of the running protothread).
    fn take_event(&mut self, source: Handle<UserEvents>, id: u32) -> Poll<Result<u32>> {
        Poll::Ready(Err(Error::NotSupported))
    }
    // ----- semaphores -----

    /// Creates a counting semaphore holding `initial` units.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`] when every semaphore slot is in use.
    fn sem_create(&mut self, initial: u32) -> Result<Handle<Semaphore>> {
        Err(Error::NotSupported)
    }

    /// Adds one unit: it goes to the protothread that has waited longest (woken holding it),
    /// or into the count. From other threads use
    /// [`LoopRemote::signal`](crate::LoopRemote::signal).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    fn sem_signal(&mut self, semaphore: Handle<Semaphore>) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Takes one unit: `Ready(Ok(()))` at once if the count is positive, else the running
    /// protothread queues (first come, first served) and gets the next signalled unit.
    fn sem_wait(&mut self, semaphore: Handle<Semaphore>) -> Poll<Result<()>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// The units a semaphore holds now.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    fn sem_count(&self, semaphore: Handle<Semaphore>) -> Result<u32> {
        Err(Error::NotSupported)
    }

    // ----- protothreads -----

    /// Spawns a protothread into pool `pool` of loop `loop_id`, moving the context out of
    /// `ctx` (an `Option<C>` of the pool's context type). Prefer the typed
    /// [`Cx::spawn`](crate::Cx::spawn).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`] when every context of the pool is in use;
    /// [`Error::InvalidArgument`] for an unknown pool or a context of the wrong type;
    /// [`Error::InvalidHandle`] for a pool of another loop.
    #[doc(hidden)]
    fn spawn_any(
        &mut self,
        pool: u8,
        loop_id: u8,
        ctx: &mut dyn Any,
    ) -> Result<Handle<ProtothreadKind>> {
        Err(Error::NotSupported)
    }

    /// Spawns a protothread into pool `pool` of loop `loop_id` reusing the context in place:
    /// returns the new handle and the context (a `C` of the pool) for the caller to initialize
    /// before the protothread first runs. Prefer the typed
    /// [`Cx::spawn_with`](crate::Cx::spawn_with).
    ///
    /// # Errors
    ///
    /// As [`spawn_any`](Io::spawn_any).
    #[doc(hidden)]
    fn spawn_in_place(
        &mut self,
        pool: u8,
        loop_id: u8,
    ) -> Result<(Handle<ProtothreadKind>, &mut dyn Any)> {
        Err(Error::NotSupported)
    }

    /// Ends a protothread now: its registrations and timer are dropped, its joiner is woken
    /// with [`Outcome::Killed`], its context slot is free for a new spawn. A protothread that
    /// kills itself ends when its current resume returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if it is not running.
    fn kill(&mut self, pt: Handle<ProtothreadKind>) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Makes a running protothread start over from the top on its next resume (queued now).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if it is not running; [`Error::InvalidArgument`] for the
    /// calling protothread itself (use `pt_restart!()`).
    fn restart(&mut self, pt: Handle<ProtothreadKind>) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// Where a protothread is: runnable, running, waiting (on what, until when, at which
    /// suspension point), or ended (how) while its slot has not been reused.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle (its slot was reused) or a foreign one.
    fn pt_status(&self, pt: Handle<ProtothreadKind>) -> Result<PtStatus> {
        Err(Error::NotSupported)
    }

    /// Waits for another protothread to end and gives its [`Outcome`] (immediately if it has
    /// ended and its slot was not reused). One joiner per protothread: a second replaces the
    /// first.
    fn join(&mut self, pt: Handle<ProtothreadKind>) -> Poll<Result<Outcome>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// `Ready` once the loop's clock reaches `at_ms` (see [`now_ms`](Io::now_ms)); a
    /// protothread sleeping uses one timer slot. Compute `at_ms` once, before waiting, and
    /// keep it in the context.
    fn sleep_until(&mut self, at_ms: u64) -> Poll<Result<()>> {
        Poll::Ready(Err(Error::NotSupported))
    }

    /// Sets (or with `None` clears) the deadline of the running protothread: from `at_ms` on,
    /// any operation of this trait that would wait answers [`Error::Timeout`] instead (once;
    /// the deadline is then cleared and the protothread continues as written). Uses one timer
    /// slot while set.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] outside a protothread; [`Error::OutOfResources`] when no timer
    /// slot is free.
    fn set_deadline(&mut self, at_ms: Option<u64>) -> Result<()> {
        Err(Error::NotSupported)
    }

    /// `now_ms() + ms`, saturating: a deadline or sleep time `ms` milliseconds from now.
    fn after_ms(&self, ms: u64) -> u64 {
        self.now_ms().saturating_add(ms)
    }
}

/// The interface of a multicast membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MulticastInterface {
    /// Let the system choose (IPv4 `INADDR_ANY`, IPv6 interface 0).
    Default,
    /// The IPv4 interface with this address.
    V4(core::net::Ipv4Addr),
    /// The IPv6 interface with this index.
    V6(u32),
}

/// The `Io` of a context with no loop behind it: everything is `NotSupported`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Detached;

/// What a detached [`Cx`](crate::Cx) points at. An empty array, because `&mut []` is the one
/// mutable borrow a `const fn` may hand out for `'static`: every `Cx` then reaches its `Io`
/// through a plain reference, with no "is there a loop" branch on each operation.
pub(crate) type NoLoop = [Detached; 0];

impl Io for NoLoop {}
