//! TCP listeners and streams.
//!
//! Each socket keeps edge-triggered readiness flags: set when mio reports an edge, cleared when
//! an operation meets `WouldBlock` or, for stream reads, when a read comes back short (it
//! drained the receive queue; see [`Core::stream_read`]). Read interest stays registered for a socket's life;
//! write interest is armed only while someone waits to write (a connect in progress, a
//! writable handler, a write that met `WouldBlock` with a waiter) and disarmed lazily, on the
//! next writable edge that finds nobody waiting.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::task::Poll;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::error::{Capacity, Error, Result};
use crate::event::{ListenOptions, Shutdown, Trigger};
use crate::handle::{Handle, RawHandle, TcpListener, TcpStream};

use super::core::Core;
use super::ready::Dir;
use super::timers::{Purpose, TimerEntry};
use super::waiter::Waiter;

/// The state of one TCP listener (opaque; see
/// [`Storage::tcp_listeners`](super::Storage::tcp_listeners)).
pub struct ListenerEntry<A> {
    pub(crate) sock: mio::net::TcpListener,
    pub(crate) readable: bool,
    pub(crate) queued: bool,
    pub(crate) read: Waiter<A>,
}

/// The state of one TCP stream (opaque; see
/// [`Storage::tcp_streams`](super::Storage::tcp_streams)).
pub struct StreamEntry<A> {
    pub(crate) sock: mio::net::TcpStream,
    /// Data (or the end of it) may be waiting. Set by every readable edge, cleared by a read
    /// that meets `WouldBlock` or that comes back short (see [`Core::stream_read`]).
    pub(crate) readable: bool,
    /// The peer closed its half or the socket failed (sticky): from then on only `WouldBlock`
    /// clears `readable`, since no further edge would report what is left to read.
    pub(crate) read_closed: bool,
    pub(crate) writable: bool,
    pub(crate) write_armed: bool,
    pub(crate) connecting: bool,
    pub(crate) connect_error: Option<Error>,
    pub(crate) connect_timer: Option<RawHandle>,
    pub(crate) queued: [bool; 2],
    pub(crate) read: Waiter<A>,
    pub(crate) write: Waiter<A>,
}

impl<A> StreamEntry<A> {
    fn new(sock: mio::net::TcpStream, connecting: bool) -> Self {
        StreamEntry {
            sock,
            // Until the first edge, reads try the socket (data may have come before the
            // stream was registered).
            readable: true,
            read_closed: false,
            writable: !connecting,
            write_armed: connecting,
            connecting,
            connect_error: None,
            connect_timer: None,
            queued: [false; 2],
            read: Waiter::None,
            write: Waiter::None,
        }
    }
}

fn listener_socket(addr: SocketAddr, o: &ListenOptions) -> std::io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(o.reuse_address)?;
    if o.reuse_port {
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        sock.set_reuse_port(true)?;
        #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
        return Err(std::io::ErrorKind::Unsupported.into());
    }
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(o.backlog.min(i32::MAX as u32) as i32)?;
    Ok(sock)
}

impl<A> Core<'_, A> {
    pub(crate) fn tcp_listen(
        &mut self,
        addr: SocketAddr,
        o: &ListenOptions,
    ) -> Result<Handle<TcpListener>> {
        if self.listeners.len() == self.listeners.capacity() {
            return Err(Error::OutOfResources(Capacity::TcpListeners));
        }
        let sock = listener_socket(addr, o)?;
        let std_listener: std::net::TcpListener = sock.into();
        let mio_listener = mio::net::TcpListener::from_std(std_listener);
        let entry = ListenerEntry {
            sock: mio_listener,
            readable: false,
            queued: false,
            read: Waiter::None,
        };
        let h = self.listeners.insert(entry).map_err(|(_, e)| e)?;
        let registered = match self.listeners.get_mut(h) {
            Ok(l) => self.poll.registry().register(
                &mut l.sock,
                super::core::token(h),
                mio::Interest::READABLE,
            ),
            Err(_) => Ok(()),
        };
        if let Err(e) = registered {
            let _ = self.listeners.remove(h);
            return Err(e.into());
        }
        Ok(Handle::from_raw_unchecked(h))
    }

    pub(crate) fn accept(
        &mut self,
        l: Handle<TcpListener>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr)>> {
        let full = self.streams.len() == self.streams.capacity();
        let entry = match self.listeners.get_mut(l.raw()) {
            Ok(e) => e,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let (sock, peer) = match entry.sock.accept() {
            Ok(pair) => pair,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                entry.readable = false;
                return Poll::Pending;
            }
            Err(e)
                if e.kind() == ErrorKind::Interrupted
                    || e.kind() == ErrorKind::ConnectionAborted =>
            {
                // The peer gave up before we took it; the listener itself is fine.
                return Poll::Ready(Err(Error::ConnectionReset));
            }
            Err(e) => {
                let err = Error::from(e);
                if err == Error::OutOfResources(Capacity::FileDescriptors) {
                    // Use the reserve descriptor to take the connection off the queue and
                    // close it, so the listener does not stay readable forever. Linux takes
                    // the descriptor before it looks at the queue, so `EMFILE` also comes
                    // with nothing pending: then the retry says `WouldBlock` and the listener
                    // is simply not readable.
                    self.spare_fd = None;
                    let nothing_pending = match self.listeners.get_mut(l.raw()) {
                        Ok(l) => match l.sock.accept() {
                            Ok(taken) => {
                                drop(taken);
                                false
                            }
                            Err(e) => e.kind() == ErrorKind::WouldBlock,
                        },
                        Err(_) => false,
                    };
                    self.spare_fd = open_spare();
                    if nothing_pending {
                        if let Ok(l) = self.listeners.get_mut(l.raw()) {
                            l.readable = false;
                        }
                        return Poll::Pending;
                    }
                }
                return Poll::Ready(Err(err));
            }
        };
        if full {
            drop(sock); // closes: the peer sees end-of-stream or a reset
            return Poll::Ready(Err(Error::OutOfResources(Capacity::TcpStreams)));
        }
        match self.streams.insert(StreamEntry::new(sock, false)) {
            Ok(h) => {
                if let Err(e) = self.register_stream(h, false) {
                    let _ = self.streams.remove(h);
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok((Handle::from_raw_unchecked(h), peer)))
            }
            Err((_, e)) => Poll::Ready(Err(e)),
        }
    }

    fn register_stream(&mut self, h: RawHandle, write: bool) -> Result<()> {
        let registry = self.poll.registry();
        match self.streams.get_mut(h) {
            Ok(s) => {
                let interest = if write {
                    mio::Interest::READABLE | mio::Interest::WRITABLE
                } else {
                    mio::Interest::READABLE
                };
                registry
                    .register(&mut s.sock, super::core::token(h), interest)
                    .map_err(Error::from)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn tcp_connect(
        &mut self,
        addr: SocketAddr,
        timeout_ms: Option<u64>,
    ) -> Result<Handle<TcpStream>> {
        if self.streams.len() == self.streams.capacity() {
            return Err(Error::OutOfResources(Capacity::TcpStreams));
        }
        if timeout_ms == Some(0) {
            return Err(Error::InvalidArgument);
        }
        if timeout_ms.is_some() && self.timers.len() == self.timers.capacity() {
            return Err(Error::OutOfResources(Capacity::Timers));
        }
        let sock = mio::net::TcpStream::connect(addr)?;
        let h = self
            .streams
            .insert(StreamEntry::new(sock, true))
            .map_err(|(_, e)| e)?;
        if let Err(e) = self.register_stream(h, true) {
            let _ = self.streams.remove(h);
            return Err(e);
        }
        if let Some(ms) = timeout_ms {
            let t = match self
                .timers
                .insert(TimerEntry::new(Purpose::ConnectDeadline(h)))
            {
                Ok(t) => t,
                Err((_, e)) => {
                    self.close_stream(h);
                    return Err(e);
                }
            };
            let deadline = self.clock().saturating_add(ms);
            self.timer_queue.arm(&mut self.timers, t.slot(), deadline);
            if let Ok(s) = self.streams.get_mut(h) {
                s.connect_timer = Some(t);
            }
        }
        Ok(Handle::from_raw_unchecked(h))
    }

    /// Settles a connect after a writable edge: connected, failed, or still in progress.
    pub(crate) fn finish_connect(&mut self, h: RawHandle) {
        let Ok(s) = self.streams.get_mut(h) else {
            return;
        };
        if !s.connecting {
            return;
        }
        let outcome = match s.sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(Err(Error::from(e))),
            Ok(None) => match s.sock.peer_addr() {
                Ok(_) => Some(Ok(())),
                Err(e) if e.kind() == ErrorKind::NotConnected => None,
                Err(e) => Some(Err(Error::from(e))),
            },
        };
        match outcome {
            None => s.writable = false,
            Some(r) => {
                s.connecting = false;
                s.writable = true;
                s.connect_error = r.err();
                let timer = s.connect_timer.take();
                if let Some(t) = timer {
                    self.timer_queue.disarm(&mut self.timers, t.slot());
                    let _ = self.timers.remove(t);
                }
            }
        }
    }

    /// A connect deadline passed.
    pub(crate) fn connect_timed_out(&mut self, h: RawHandle) {
        if let Ok(s) = self.streams.get_mut(h) {
            if s.connecting {
                s.connecting = false;
                s.writable = true;
                s.connect_error = Some(Error::Timeout);
                s.connect_timer = None;
            }
        }
    }

    pub(crate) fn connected(&mut self, h: Handle<TcpStream>) -> Poll<Result<()>> {
        let s = match self.streams.get_mut(h.raw()) {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if s.connecting {
            return Poll::Pending;
        }
        match s.connect_error {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// [`Io::read`](crate::Io::read): spends budget, reads, and when there is nothing to read
    /// registers the running protothread. The stream is resolved once for all of it.
    ///
    /// A read that comes back short (`0 < n < buf.len()`) drained the socket's receive queue,
    /// so readiness is cleared without the extra `read` that would meet `WouldBlock`: with
    /// edge-triggered epoll/kqueue, anything arriving later raises a new edge. (tokio's
    /// `PollEvented` does the same.) After the peer's FIN or an error, which raise no further
    /// edge, only `WouldBlock` clears it.
    #[inline]
    pub(crate) fn stream_read(&mut self, h: RawHandle, buf: &mut [u8]) -> Poll<Result<usize>> {
        let Some(i) = self.streams.index_of(h).ok() else {
            return self.invalid_read();
        };
        let Some(s) = self.streams.at_mut(i) else {
            return self.invalid_read();
        };
        if s.connecting || s.connect_error.is_some() {
            return self.unconnected(h, Dir::Read);
        }
        if !s.readable && !buf.is_empty() {
            // A read that waits completes nothing, so it spends no budget.
            return self.pend_read(i, h);
        }
        if self.out_of_budget() {
            return Poll::Pending;
        }
        let Some(s) = self.streams.at_mut(i) else {
            return self.invalid_read();
        };
        loop {
            match s.sock.read(buf) {
                Ok(n) => {
                    if n > 0 && n < buf.len() && !s.read_closed {
                        s.readable = false;
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    s.readable = false;
                    return self.pend_read(i, h);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(self.fail(e.into()))),
            }
        }
    }

    /// [`Io::write`](crate::Io::write), as [`stream_read`](Self::stream_read) is for reads.
    #[inline(always)]
    pub(crate) fn stream_write(&mut self, h: RawHandle, buf: &[u8]) -> Poll<Result<usize>> {
        if self.out_of_budget() {
            return Poll::Pending;
        }
        let Some(i) = self.streams.index_of(h).ok() else {
            return Poll::Ready(Err(self.fail(Error::InvalidHandle)));
        };
        let Some(s) = self.streams.at_mut(i) else {
            return Poll::Ready(Err(self.fail(Error::InvalidHandle)));
        };
        if s.connecting || s.connect_error.is_some() {
            return self.unconnected(h, Dir::Write);
        }
        loop {
            match s.sock.write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return self.write_blocked(h),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(self.fail(e.into()))),
            }
        }
    }

    /// A read of a handle that names no stream of this loop.
    #[cold]
    fn invalid_read(&mut self) -> Poll<Result<usize>> {
        Poll::Ready(Err(self.fail(Error::InvalidHandle)))
    }

    /// [`Io::write_all`](crate::Io::write_all): writes until `*written == buf.len()` with the
    /// stream resolved once; each write spends budget, as [`Io::write`](crate::Io::write) does.
    #[inline]
    pub(crate) fn stream_write_all(
        &mut self,
        h: RawHandle,
        buf: &[u8],
        written: &mut usize,
    ) -> Poll<Result<()>> {
        if *written >= buf.len() {
            return Poll::Ready(Ok(()));
        }
        let Some(i) = self.streams.index_of(h).ok() else {
            return Poll::Ready(Err(self.fail(Error::InvalidHandle)));
        };
        loop {
            if self.out_of_budget() {
                return Poll::Pending;
            }
            let Some(s) = self.streams.at_mut(i) else {
                return Poll::Ready(Err(self.fail(Error::InvalidHandle)));
            };
            if s.connecting || s.connect_error.is_some() {
                return match self.unconnected(h, Dir::Write) {
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    _ => Poll::Pending,
                };
            }
            match s.sock.write(&buf[*written..]) {
                Ok(0) => return Poll::Ready(Err(self.fail(Error::Closed))),
                Ok(n) => {
                    *written += n;
                    if *written >= buf.len() {
                        return Poll::Ready(Ok(()));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return match self.write_blocked(h) {
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Pending,
                    };
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(self.fail(e.into()))),
            }
        }
    }

    /// A read or write of a stream whose connect is in progress (wait for it) or failed.
    #[cold]
    fn unconnected(&mut self, h: RawHandle, dir: Dir) -> Poll<Result<usize>> {
        let trigger = match dir {
            Dir::Read => Trigger::Readable,
            Dir::Write => Trigger::Writable,
        };
        match self.streams.get(h).map(|s| (s.connecting, s.connect_error)) {
            Ok((true, _)) => self.pend(Some((h, trigger))),
            Ok((false, Some(e))) | Err(e) => Poll::Ready(Err(self.fail(e))),
            Ok((false, None)) => Poll::Ready(Err(self.fail(Error::InvalidArgument))),
        }
    }

    /// A write met `WouldBlock`: arms write interest if someone waits, and waits.
    #[cold]
    fn write_blocked(&mut self, h: RawHandle) -> Poll<Result<usize>> {
        let registry = self.poll.registry();
        if let Ok(s) = self.streams.get_mut(h) {
            s.writable = false;
            if s.write.is_some() && !s.write_armed {
                let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
                if let Err(e) = registry.reregister(&mut s.sock, super::core::token(h), interest) {
                    return Poll::Ready(Err(self.fail(e.into())));
                }
                s.write_armed = true;
            }
        }
        self.pend(Some((h, Trigger::Writable)))
    }

    /// A read of stream slot `i` met `WouldBlock`: the running protothread waits for it to be
    /// readable. The common case (nothing else registered, no timer) is done in place; every
    /// other case goes through [`pend`](Self::pend).
    #[inline]
    fn pend_read<T>(&mut self, i: usize, h: RawHandle) -> Poll<Result<T>> {
        let trigger = Trigger::Readable;
        if let Some(cur) = self.current {
            let pi = cur.slot() as usize;
            let e = &self.pts.entries[pi];
            let plain = !self.yield_requested
                && e.waiting.is_none()
                && e.deadline.is_none()
                && e.sleep.is_none()
                && e.timer.is_none();
            if plain {
                if let Some(s) = self.streams.at_mut(i) {
                    if let Waiter::None = s.read {
                        s.read = Waiter::Pt(cur);
                        self.pts.entries[pi].waiting = Some((h, trigger));
                        self.registered = true;
                        return Poll::Pending;
                    }
                }
            }
        }
        self.pend(Some((h, trigger)))
    }

    /// Arms write interest of a stream if it waits to write and is not known writable.
    pub(crate) fn arm_stream_write(&mut self, h: RawHandle) -> Result<()> {
        let registry = self.poll.registry();
        let s = self.streams.get_mut(h)?;
        if !s.write_armed && !s.writable {
            registry.reregister(
                &mut s.sock,
                super::core::token(h),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )?;
            s.write_armed = true;
        }
        Ok(())
    }

    /// Disarms write interest of a stream nobody waits to write to.
    pub(crate) fn disarm_stream_write(&mut self, h: RawHandle) {
        let registry = self.poll.registry();
        if let Ok(s) = self.streams.get_mut(h) {
            if s.write_armed
                && !s.write.is_some()
                && !s.connecting
                && registry
                    .reregister(&mut s.sock, super::core::token(h), mio::Interest::READABLE)
                    .is_ok()
            {
                s.write_armed = false;
            }
        }
    }

    pub(crate) fn shutdown(&mut self, h: Handle<TcpStream>, how: Shutdown) -> Result<()> {
        let s = self.streams.get_mut(h.raw())?;
        let how = match how {
            Shutdown::Read => std::net::Shutdown::Read,
            Shutdown::Write => std::net::Shutdown::Write,
            Shutdown::Both => std::net::Shutdown::Both,
        };
        s.sock.shutdown(how).map_err(Error::from)
    }

    pub(crate) fn stream_sock(&self, h: RawHandle) -> Result<&mio::net::TcpStream> {
        self.streams.get(h).map(|s| &s.sock)
    }

    pub(crate) fn set_keepalive(
        &mut self,
        h: Handle<TcpStream>,
        idle_secs: Option<u32>,
    ) -> Result<()> {
        let sock = SockRef::from(self.stream_sock(h.raw())?);
        match idle_secs {
            None => sock.set_keepalive(false)?,
            Some(secs) => {
                let ka = socket2::TcpKeepalive::new()
                    .with_time(std::time::Duration::from_secs(u64::from(secs.max(1))));
                sock.set_tcp_keepalive(&ka)?;
            }
        }
        Ok(())
    }

    pub(crate) fn keepalive(&self, h: Handle<TcpStream>) -> Result<Option<u32>> {
        let sock = SockRef::from(self.stream_sock(h.raw())?);
        if !sock.keepalive()? {
            return Ok(None);
        }
        #[cfg(not(any(
            windows,
            target_os = "haiku",
            target_os = "openbsd",
            target_os = "vita"
        )))]
        {
            let secs = sock.tcp_keepalive_time()?.as_secs();
            Ok(Some(u32::try_from(secs).unwrap_or(u32::MAX)))
        }
        #[cfg(any(
            windows,
            target_os = "haiku",
            target_os = "openbsd",
            target_os = "vita"
        ))]
        Err(Error::NotSupported)
    }

    /// Closes a stream: deregisters it, frees its connect timer, drops (closes) the socket.
    pub(crate) fn close_stream(&mut self, h: RawHandle) -> bool {
        let Ok(mut s) = self.streams.remove(h) else {
            return false;
        };
        let _ = self.poll.registry().deregister(&mut s.sock);
        if let Some(t) = s.connect_timer.take() {
            self.timer_queue.disarm(&mut self.timers, t.slot());
            let _ = self.timers.remove(t);
        }
        true
    }

    pub(crate) fn close_listener(&mut self, h: RawHandle) -> bool {
        let Ok(mut l) = self.listeners.remove(h) else {
            return false;
        };
        let _ = self.poll.registry().deregister(&mut l.sock);
        true
    }
}

/// Opens the reserve descriptor used when `accept` meets `EMFILE`.
pub(crate) fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}
