//! [`Loop`]: a group of worker loops, and [`LoopHandle`]: every call on it, from any thread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::buf::Buf;
use crate::error::Result;
use crate::opts::{LoopOpts, TcpClientOpts, TcpServerOpts, TimerOpts, UdpOpts};
use crate::sock::{Sock, SockOpt, SockType};

/// A function posted with [`LoopHandle::post`], called on a worker loop's thread.
pub type PostCallback = fn(usize);

pub(crate) struct Shared;

/// Every call of a loop group, from any thread (`Send + Sync`, cheap to clone). A
/// [`Loop`] dereferences to one; a callback reaches its own with [`Event::owner`](crate::Event::owner).
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) shared: Arc<Shared>,
}

/// A group of worker threads, each running one event loop (`ptk_loop`).
///
/// Dropping it stops the workers, joins them and closes every object.
pub struct Loop {
    handle: LoopHandle,
}

impl Loop {
    /// Makes the group: the buffer pool, each worker's object table and command queue, and,
    /// with `auto_start`, the worker threads and their loops.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) for more than 255 workers or a
    /// size the pools cannot have; [`Error::OutOfMemory`](crate::Error::OutOfMemory) when
    /// the groups ids (255) are all in use or a loop cannot be made.
    pub fn new(opts: &LoopOpts) -> Result<Loop> {
        let _ = opts;
        unimplemented!()
    }

    /// Starts the workers of a group made with `auto_start: false`; does nothing if they
    /// run.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the group was stopped (a group runs
    /// once); an error making a worker's loop.
    pub fn start(&self) -> Result<()> {
        unimplemented!()
    }

    /// Blocks until the group stops ([`stop`](LoopHandle::stop), from any thread or a
    /// callback).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) if the workers were never started.
    pub fn wait(&self) -> Result<()> {
        unimplemented!()
    }

    /// As [`wait`](Loop::wait), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`](crate::Error::Timeout) if the group still runs after `timeout`;
    /// as [`wait`](Loop::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        let _ = timeout;
        unimplemented!()
    }

    /// A handle to the group that does not keep it running: calls through it fail with
    /// [`Error::Closed`](crate::Error::Closed) once the `Loop` is dropped.
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
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
        let _ = sock;
        unimplemented!()
    }

    /// Asks every worker to stop; returns at once. [`Loop::wait`] returns once they have.
    pub fn stop(&self) {
        unimplemented!()
    }

    /// Whether the workers run (started and not yet stopped).
    pub fn is_running(&self) -> bool {
        unimplemented!()
    }

    /// How many worker loops the group has.
    pub fn workers(&self) -> usize {
        unimplemented!()
    }

    /// Calls `f(user_data)` on the first worker's thread, after the calls queued before.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the worker's command queue is
    /// full; [`Error::Closed`](crate::Error::Closed) after the group stopped.
    pub fn post(&self, f: PostCallback, user_data: usize) -> Result<()> {
        let _ = (f, user_data);
        unimplemented!()
    }

    /// Takes a buffer from the group's pool.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when every buffer is in use.
    pub fn buf_alloc(&self) -> Result<Buf> {
        unimplemented!()
    }

    /// Buffers of the pool not in use now.
    pub fn buffers_available(&self) -> usize {
        unimplemented!()
    }

    /// Starts a TCP server: binds and listens at once (so a busy port is an error here),
    /// one listener per worker sharing the port (`SO_REUSEPORT`), so that the kernel spreads
    /// connections over the workers. Accepted connections get
    /// [`EventKind::Accept`](crate::EventKind::Accept) on the server's callback.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) without a callback, for a host
    /// that is not a numeric address or a `read_buffer_size` above the pool's buffers;
    /// [`Error::AddressInUse`](crate::Error::AddressInUse);
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when a worker has no free slot.
    pub fn tcp_server_start(&self, opts: &TcpServerOpts<'_>) -> Result<Sock> {
        let _ = opts;
        unimplemented!()
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
        let _ = opts;
        unimplemented!()
    }

    /// Binds a UDP socket at once; datagrams arrive as
    /// [`UdpRead`](crate::EventKind::UdpRead).
    ///
    /// # Errors
    ///
    /// As [`tcp_server_start`](LoopHandle::tcp_server_start).
    pub fn udp_create(&self, opts: &UdpOpts<'_>) -> Result<Sock> {
        let _ = opts;
        unimplemented!()
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
        let _ = (sock, buf, host, port);
        unimplemented!()
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
        let _ = opts;
        unimplemented!()
    }

    /// Stops a timer: it gets its [`Close`](crate::EventKind::Close) and no more ticks.
    ///
    /// # Errors
    ///
    /// As [`close`](LoopHandle::close); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for an object that is not a timer.
    pub fn timer_stop(&self, sock: Sock) -> Result<()> {
        let _ = sock;
        unimplemented!()
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
        let _ = (sock, buf);
        unimplemented!()
    }

    /// Closes any object: writes not yet sent are dropped, and the object's callback gets
    /// [`Close`](crate::EventKind::Close), its last event.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) for a stale handle (or one already closing);
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the command queue is full.
    pub fn close(&self, sock: Sock) -> Result<()> {
        let _ = sock;
        unimplemented!()
    }

    /// Makes the object's callback get [`Wake`](crate::EventKind::Wake) with `user_data`, on
    /// its loop's thread. Wakes are not merged: each call is one event.
    ///
    /// # Errors
    ///
    /// As [`close`](LoopHandle::close).
    pub fn sock_wake(&self, sock: Sock, user_data: usize) -> Result<()> {
        let _ = (sock, user_data);
        unimplemented!()
    }

    /// What kind of object `sock` names.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`](crate::Error::Closed) for a stale handle;
    /// [`Error::InvalidParam`](crate::Error::InvalidParam) for one of another group.
    pub fn sock_type(&self, sock: Sock) -> Result<SockType> {
        let _ = sock;
        unimplemented!()
    }

    /// The local address of a server, connection or UDP socket.
    ///
    /// # Errors
    ///
    /// As [`sock_type`](LoopHandle::sock_type); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for a timer; [`Error::Closed`](crate::Error::Closed) for a connection not yet
    /// connected.
    pub fn local_addr(&self, sock: Sock) -> Result<SocketAddr> {
        let _ = sock;
        unimplemented!()
    }

    /// The peer of a connection.
    ///
    /// # Errors
    ///
    /// As [`local_addr`](LoopHandle::local_addr); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for a server or UDP socket.
    pub fn remote_addr(&self, sock: Sock) -> Result<SocketAddr> {
        let _ = sock;
        unimplemented!()
    }

    /// Sets a socket option (booleans as 0 or 1). Applied on the object's loop; the value
    /// reads back at once.
    ///
    /// # Errors
    ///
    /// As [`sock_type`](LoopHandle::sock_type); [`Error::InvalidParam`](crate::Error::InvalidParam)
    /// for an option the object does not have.
    pub fn set_option(&self, sock: Sock, opt: SockOpt, value: usize) -> Result<()> {
        let _ = (sock, opt, value);
        unimplemented!()
    }

    /// Reads a socket option (booleans as 0 or 1; buffer sizes as the kernel reports them).
    ///
    /// # Errors
    ///
    /// As [`set_option`](LoopHandle::set_option).
    pub fn get_option(&self, sock: Sock, opt: SockOpt) -> Result<usize> {
        let _ = (sock, opt);
        unimplemented!()
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
