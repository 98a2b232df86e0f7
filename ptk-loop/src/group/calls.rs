//! The calls of [`LoopHandle`]: each checks its arguments and the handle on the calling
//! thread, does what must be done there (binding, taking a slot), and queues the rest for
//! the owning worker.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use super::{LoopHandle, PostCallback};
use crate::addr;
use crate::buf::Buf;
use crate::error::{Error, Result};
use crate::event::Ownership;
use crate::opts::{Spread, TcpClientOpts, TcpServerOpts, TimerOpts, UdpOpts};
use crate::shared::{self, Command, Config, Posted};
use crate::sock::{Sock, SockOpt, SockType};

impl LoopHandle {
    /// The group that owns `sock`, if it still exists (how a C call that only gets the
    /// socket finds its loop).
    pub fn of(sock: Sock) -> Option<LoopHandle> {
        shared::lookup(sock.group()).map(|shared| LoopHandle { shared })
    }

    /// Asks every worker to stop; returns at once. [`Loop::wait`](crate::Loop::wait) returns once they have.
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
        let listeners_needed = match s.opts.spread {
            Spread::ReusePort => s.workers.len(),
            Spread::HandOff => 1,
        };
        let shared_port = listeners_needed > 1;
        // Bind every listener first, so that a failure leaves nothing behind.
        let mut listeners = Vec::with_capacity(listeners_needed);
        for _ in 0..listeners_needed {
            let l = bind_listener(addr, backlog, opts.reuse_addr, shared_port)?;
            addr = l.local_addr()?;
            listeners.push(l);
        }
        let mut socks = Vec::with_capacity(listeners_needed);
        for ws in s.workers.iter().take(listeners_needed) {
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
