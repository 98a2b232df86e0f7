//! TCP operations: listen, accept, connect, read and write.

use std::net::SocketAddr;
use std::task::Poll;

use crate::cx::Cx;
use crate::error::{Capacity, Error, Result};
use crate::event::{ListenOptions, Trigger};
use crate::handle::{Handle, RawHandle, TcpListener, TcpStream};

use super::super::core::Core;
use super::super::side::Attempt;
use super::super::tcp_stream::Connection;
use super::super::timers::Purpose;

impl Cx<'_> {
    /// Binds and listens on `addr`.
    ///
    /// # Errors
    ///
    /// [`Error::AddressInUse`], [`Error::OutOfResources`], [`Error::NotSupported`] for
    /// `reuse_port` where the platform lacks it.
    pub fn tcp_listen(
        &mut self,
        addr: SocketAddr,
        options: &ListenOptions,
    ) -> Result<Handle<TcpListener>> {
        let core = &mut self.core;
        let Some(backend) = &core.backend else {
            return Err(core.fail(Error::NotSupported));
        };
        let r = core.listeners.listen(addr, options, backend);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Registers a listening socket made by the caller (for options the loop does not set,
    /// or to bind on another thread and hand the listener over). The socket must be bound,
    /// listening and non-blocking.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]; a registration error.
    pub fn tcp_listener_from_std(
        &mut self,
        listener: std::net::TcpListener,
    ) -> Result<Handle<TcpListener>> {
        let core = &mut self.core;
        let Some(backend) = &core.backend else {
            return Err(core.fail(Error::NotSupported));
        };
        let r = core.listeners.adopt(listener, backend);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Accepts one pending connection.
    ///
    /// When the stream pool is full or the process is out of file descriptors the pending
    /// connection is accepted and closed at once (the peer sees a reset or end-of-stream) and
    /// the error is [`Error::OutOfResources`] naming the capacity; the listener keeps working.
    pub fn accept(
        &mut self,
        listener: Handle<TcpListener>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr)>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = listener.raw();
        let full = core.streams.is_full();
        let (sock, peer) = match core.listeners.accept(h, core.backend.as_ref()) {
            Attempt::Done(pair) => pair,
            Attempt::WouldBlock => {
                let waiter = core
                    .listeners
                    .get(h)
                    .map(|l| l.read.waiter)
                    .unwrap_or_default();
                return core.pend_socket(h, Trigger::Readable, waiter);
            }
            Attempt::Failed(Error::InvalidHandle) => return Poll::Ready(Err(core.invalid())),
            Attempt::Failed(e) => return Poll::Ready(Err(core.fail(e))),
        };
        let Some(backend) = &core.backend else {
            return Poll::Ready(Err(core.invalid()));
        };
        if full {
            drop(sock); // closes: the peer sees end-of-stream or a reset
            let e = Error::OutOfResources(Capacity::TcpStreams);
            core.listeners.refused(Some(peer), e);
            return Poll::Ready(Err(core.fail(e)));
        }
        match core.streams.open(sock, false, backend) {
            Ok(s) => {
                core.listeners.accepted();
                Poll::Ready(Ok((Handle::from_raw_unchecked(s), peer)))
            }
            Err(e) => {
                core.listeners.refused(Some(peer), e);
                Poll::Ready(Err(core.fail(e)))
            }
        }
    }

    /// Accepts one pending connection without registering it with this loop: the socket
    /// (non-blocking) is the caller's, for example to hand to another loop's
    /// [`tcp_stream_from_std`](Cx::tcp_stream_from_std).
    pub fn accept_std(
        &mut self,
        listener: Handle<TcpListener>,
    ) -> Poll<Result<(std::net::TcpStream, SocketAddr)>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = listener.raw();
        match core.listeners.accept(h, core.backend.as_ref()) {
            Attempt::Done((sock, peer)) => {
                core.listeners.accepted();
                Poll::Ready(Ok((sock.into(), peer)))
            }
            Attempt::WouldBlock => {
                let waiter = core
                    .listeners
                    .get(h)
                    .map(|l| l.read.waiter)
                    .unwrap_or_default();
                core.pend_socket(h, Trigger::Readable, waiter)
            }
            Attempt::Failed(Error::InvalidHandle) => Poll::Ready(Err(core.invalid())),
            Attempt::Failed(e) => Poll::Ready(Err(core.fail(e))),
        }
    }

    /// Registers a connected, non-blocking stream made elsewhere (such as one that
    /// [`accept_std`](Cx::accept_std) took on another loop).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]; a registration error.
    pub fn tcp_stream_from_std(
        &mut self,
        stream: std::net::TcpStream,
    ) -> Result<Handle<TcpStream>> {
        let core = &mut self.core;
        let Some(backend) = &core.backend else {
            return Err(core.fail(Error::NotSupported));
        };
        if core.streams.is_full() {
            return Err(core.fail(Error::OutOfResources(Capacity::TcpStreams)));
        }
        let r = core
            .streams
            .open(mio::net::TcpStream::from_std(stream), false, backend);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Starts a non-blocking connect; wait for it with [`connected`](Cx::connected). With
    /// `timeout_ms`, a connect still in progress after that long fails with
    /// [`Error::Timeout`] (this uses one timer slot while connecting).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]; [`Error::InvalidArgument`] for a timeout of 0; an immediate
    /// failure of the connect call.
    pub fn tcp_connect(
        &mut self,
        addr: SocketAddr,
        timeout_ms: Option<u64>,
    ) -> Result<Handle<TcpStream>> {
        let r = self.core.tcp_connect(addr, timeout_ms);
        self.core.note(r).map(Handle::from_raw_unchecked)
    }

    /// The outcome of a connect: `Ready(Ok(()))` once connected, `Ready(Err(_))` with
    /// [`Error::ConnectionRefused`], [`Error::Timeout`], ... when it failed.
    pub fn connected(&mut self, stream: Handle<TcpStream>) -> Poll<Result<()>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = stream.raw();
        let r = match core.streams.get(h).map(|s| s.connection()) {
            Ok(Connection::Ready) => Poll::Ready(Ok(())),
            Ok(Connection::Connecting) => Poll::Pending,
            Ok(Connection::Failed(e)) => Poll::Ready(Err(e)),
            Err(e) => Poll::Ready(Err(e)),
        };
        core.settle(h, Trigger::Writable, r)
    }

    /// Reads into `buf`. `Ready(Ok(0))` is end-of-stream (or an empty `buf`).
    ///
    /// A read that finds nothing makes no system call when the stream is known drained: it
    /// registers the running protothread and answers `Pending`.
    #[inline]
    pub fn read(&mut self, stream: Handle<TcpStream>, buf: &mut [u8]) -> Poll<Result<usize>> {
        let core = &mut self.core;
        let h = stream.raw();
        let Ok(s) = core.streams.get_mut(h) else {
            return Poll::Ready(Err(core.invalid()));
        };
        if s.connection() != Connection::Ready {
            return core.unconnected(h, Trigger::Readable);
        }
        let s = if core.buffers.mq.is_some()
            && (s.ring.armed || !s.ring.ready_queue_empty() || s.bufs.rx.is_some())
        {
            // What multishot receives brought comes first.
            if let Some(r) = core.ring_direct_read(h, buf) {
                return r;
            }
            match core.streams.get_mut(h) {
                Ok(s) => s,
                Err(_) => return Poll::Ready(Err(core.invalid())),
            }
        } else {
            s
        };
        if !s.read.ready && !buf.is_empty() {
            // A read that waits completes nothing, so it spends no budget.
            let waiter = s.read.waiter;
            return core.pend_socket(h, Trigger::Readable, waiter);
        }
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        match s.read(buf) {
            Attempt::Done(n) => Poll::Ready(Ok(n)),
            Attempt::WouldBlock => {
                let waiter = s.read.waiter;
                core.pend_socket(h, Trigger::Readable, waiter)
            }
            Attempt::Failed(e) => Poll::Ready(Err(core.fail(e))),
        }
    }

    /// Writes some of `buf`; the count may be less than `buf.len()` (a partial write).
    #[inline]
    pub fn write(&mut self, stream: Handle<TcpStream>, buf: &[u8]) -> Poll<Result<usize>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = stream.raw();
        let Ok(s) = core.streams.get_mut(h) else {
            return Poll::Ready(Err(core.invalid()));
        };
        if s.connection() != Connection::Ready {
            return core.unconnected(h, Trigger::Writable);
        }
        let s = if s.bufs.sending() {
            // Buffers handed to `send_buf` go first.
            if let Some(wait) = core.sends_first(h) {
                return wait;
            }
            match core.streams.get_mut(h) {
                Ok(s) => s,
                Err(_) => return Poll::Ready(Err(core.invalid())),
            }
        } else {
            s
        };
        match s.write(buf) {
            Attempt::Done(n) => Poll::Ready(Ok(n)),
            Attempt::WouldBlock => core.write_blocked(h),
            Attempt::Failed(e) => Poll::Ready(Err(core.fail(e))),
        }
    }

    /// Writes all of `buf`, across as many resumes as it takes: `written` (kept in the
    /// context) counts the bytes already written and must start at 0. `Ready(Ok(()))` once
    /// `*written == buf.len()`. The stream is resolved once per call; each write spends
    /// budget, as [`write`](Cx::write) does.
    ///
    /// # Errors
    ///
    /// As [`write`](Cx::write); [`Error::Closed`] if the socket takes 0 bytes.
    #[inline]
    pub fn write_all(
        &mut self,
        stream: Handle<TcpStream>,
        buf: &[u8],
        written: &mut usize,
    ) -> Poll<Result<()>> {
        if *written >= buf.len() {
            return Poll::Ready(Ok(()));
        }
        let core = &mut self.core;
        let h = stream.raw();
        let Ok(i) = core.streams.index_of(h) else {
            return Poll::Ready(Err(core.invalid()));
        };
        if core.streams.at_mut(i).is_some_and(|s| s.bufs.sending()) {
            // Buffers handed to `send_buf` go first.
            if let Some(wait) = core.sends_first(h) {
                return wait;
            }
        }
        loop {
            if core.run.out_of_budget() {
                return Poll::Pending;
            }
            let Some(s) = core.streams.at_mut(i) else {
                return Poll::Ready(Err(core.invalid()));
            };
            if s.connection() != Connection::Ready {
                return match core.unconnected::<usize>(h, Trigger::Writable) {
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    _ => Poll::Pending,
                };
            }
            match s.write(&buf[*written..]) {
                Attempt::Done(0) => return Poll::Ready(Err(core.fail(Error::Closed))),
                Attempt::Done(n) => {
                    *written += n;
                    if *written >= buf.len() {
                        return Poll::Ready(Ok(()));
                    }
                }
                Attempt::WouldBlock => {
                    return match core.write_blocked::<usize>(h) {
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Pending,
                    };
                }
                Attempt::Failed(e) => return Poll::Ready(Err(core.fail(e))),
            }
        }
    }
}

impl Core<'_> {
    fn tcp_connect(&mut self, addr: SocketAddr, timeout_ms: Option<u64>) -> Result<RawHandle> {
        let Some(backend) = &self.backend else {
            return Err(Error::NotSupported);
        };
        if self.streams.is_full() {
            return Err(Error::OutOfResources(Capacity::TcpStreams));
        }
        if timeout_ms == Some(0) {
            return Err(Error::InvalidArgument);
        }
        if timeout_ms.is_some() && self.timers.len() == self.timers.capacity() {
            return Err(Error::OutOfResources(Capacity::Timers));
        }
        let sock = mio::net::TcpStream::connect(addr)?;
        let h = self.streams.open(sock, true, backend)?;
        if let Some(ms) = timeout_ms {
            let deadline = self.clock.read().saturating_add(ms);
            match self
                .timers
                .create_armed(Purpose::ConnectDeadline(h), deadline)
            {
                Ok(t) => {
                    if let Ok(s) = self.streams.get_mut(h) {
                        s.set_connect_timer(t);
                    }
                }
                Err(e) => {
                    self.streams.close(h, backend, &mut self.buffers);
                    return Err(e);
                }
            }
        }
        Ok(h)
    }

    /// A read or write of a stream whose connect is in progress (wait for it) or failed.
    #[cold]
    #[inline(never)]
    pub(crate) fn unconnected<T>(&mut self, h: RawHandle, trigger: Trigger) -> Poll<Result<T>> {
        match self.streams.get(h).map(|s| s.connection()) {
            Ok(Connection::Connecting) => self.pend(Some((h, trigger))),
            Ok(Connection::Failed(e)) => Poll::Ready(Err(self.fail(e))),
            Ok(Connection::Ready) => Poll::Ready(Err(self.fail(Error::InvalidArgument))),
            Err(_) => Poll::Ready(Err(self.invalid())),
        }
    }

    /// A write of stream `h` while buffers handed to `send_buf` are queued: sends them first;
    /// `None` once none is left (the write goes on), else the wait or the failure.
    #[cold]
    #[inline(never)]
    fn sends_first<T>(&mut self, h: RawHandle) -> Option<Poll<Result<T>>> {
        match self.flush_sends(h) {
            Ok(true) => None,
            Ok(false) => {
                let waiter = match self.streams.get(h) {
                    Ok(s) => s.write.waiter,
                    Err(_) => return Some(Poll::Ready(Err(self.invalid()))),
                };
                if let Err(e) = self.arm_write(h) {
                    return Some(Poll::Ready(Err(self.fail(e))));
                }
                Some(self.pend_socket(h, Trigger::Writable, waiter))
            }
            Err(e) => Some(Poll::Ready(Err(self.fail(e)))),
        }
    }

    /// A stream write met `WouldBlock`: arms write interest if someone waits (a writable
    /// handler would otherwise never hear of the next edge), and waits.
    #[cold]
    #[inline(never)]
    fn write_blocked<T>(&mut self, h: RawHandle) -> Poll<Result<T>> {
        let waiter = match self.streams.get(h) {
            Ok(s) => s.write.waiter,
            Err(_) => return Poll::Ready(Err(self.invalid())),
        };
        if waiter.is_some() {
            if let Err(e) = self.arm_write(h) {
                return Poll::Ready(Err(self.fail(e)));
            }
        }
        self.pend_socket(h, Trigger::Writable, waiter)
    }
}
