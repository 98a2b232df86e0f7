//! A worker: the state its event loop's handlers receive, and what they do with the
//! runtime's readiness events to make completion events (`handlers.rs`).

mod handlers;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;

use ptk_runtime::{
    Cx, EventLoop, Handle, RawHandle, ResourceType, TcpStream, Trigger, UdpSocket, UserEvents,
};

use self::handlers::{on_accept, on_commands, on_tick, on_udp, on_writable};

use crate::buf::Buf;
use crate::error::Error;
use crate::event::{Event, EventKind, Ownership};
use crate::group::{LoopHandle, Shared};
use crate::opts::Spread;
use crate::shared::{self, Command, Config, WorkerShared};
use crate::sock::{Sock, SockOpt, SockType};

/// A write waiting to be sent: the buffer, and for UDP its destination.
struct Pending {
    buf: Buf,
    to: Option<SocketAddr>,
}

/// The loop-thread part of an object.
struct Object {
    sock: Option<Sock>,
    rt: Option<RawHandle>,
    kind: SockType,
    config: Config,
    connecting: bool,
    repeat: bool,
    /// The next worker's listener of the same server.
    next: Option<Sock>,
    writes: VecDeque<Pending>,
    /// Bytes of the first write already sent.
    sent: usize,
    /// Whether the runtime's writable handler is set.
    want_write: bool,
}

fn ignore(_: &mut Event<'_>) {}

/// A worker loop's application state.
pub(crate) struct Worker {
    handle: LoopHandle,
    index: usize,
    objects: Vec<Object>,
    /// Object slot by runtime resource slot: streams, listeners, UDP sockets, timers.
    by_rt: [Vec<u32>; 4],
    /// The other half of the command queue, swapped in to drain it without holding its lock.
    spare: VecDeque<Command>,
    /// The same for the worker's thread-local queue.
    local: VecDeque<Command>,
    source: Option<Handle<UserEvents>>,
    writes_per_sock: usize,
    /// Whether servers hand accepted connections to the workers in turn
    /// ([`Spread::HandOff`](crate::Spread::HandOff)), and to which one next.
    hand_off: bool,
    next_target: usize,
}

fn rt_kind(h: RawHandle) -> usize {
    match h.resource_type() {
        ResourceType::TcpStream => 0,
        ResourceType::TcpListener => 1,
        ResourceType::UdpSocket => 2,
        _ => 3,
    }
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>, index: usize) -> Worker {
        let slots = shared.opts.sockets_per_worker;
        let writes = shared.opts.writes_per_sock;
        let commands = shared.opts.commands_per_worker;
        let objects = (0..slots)
            .map(|_| Object {
                sock: None,
                rt: None,
                kind: SockType::Timer,
                config: Config {
                    callback: ignore,
                    user_data: 0,
                    callback_data: 0,
                    ownership: Ownership::Borrowed,
                    read_size: 0,
                    keep_alive: false,
                },
                connecting: false,
                repeat: false,
                next: None,
                writes: VecDeque::with_capacity(writes),
                sent: 0,
                want_write: false,
            })
            .collect();
        let caps = shared.capacities();
        let hand_off = shared.opts.spread == Spread::HandOff && shared.workers.len() > 1;
        Worker {
            handle: LoopHandle { shared },
            index,
            objects,
            by_rt: [
                vec![u32::MAX; caps.tcp_streams],
                vec![u32::MAX; caps.tcp_listeners],
                vec![u32::MAX; caps.udp_sockets],
                vec![u32::MAX; caps.timers],
            ],
            spare: VecDeque::with_capacity(commands),
            local: VecDeque::with_capacity(commands),
            source: None,
            writes_per_sock: writes,
            hand_off,
            next_target: index,
        }
    }

    fn ws(&self) -> &WorkerShared {
        &self.handle.shared.workers[self.index]
    }

    /// Sets the worker up on its loop: the user event source other threads raise.
    pub(crate) fn setup(ev: &mut EventLoop<'_, Worker>) -> ptk_runtime::Result<Handle<UserEvents>> {
        let source = ev.user_events_create()?;
        ev.set_handler(source, Trigger::User(0), on_commands)?;
        ev.app_mut().source = Some(source);
        Ok(source)
    }

    fn slot_of(&self, h: RawHandle) -> Option<usize> {
        let s = *self.by_rt[rt_kind(h)].get(h.slot() as usize)?;
        (s != u32::MAX).then_some(s as usize)
    }

    fn bind_rt(&mut self, slot: usize, h: RawHandle) {
        self.objects[slot].rt = Some(h);
        if let Some(e) = self.by_rt[rt_kind(h)].get_mut(h.slot() as usize) {
            *e = slot as u32;
        }
    }

    /// The loop-thread object of `sock`, if it is the live one.
    fn live(&self, sock: Sock) -> Option<usize> {
        let o = self.objects.get(sock.slot())?;
        (o.sock == Some(sock)).then_some(sock.slot())
    }

    fn emit(&self, slot: usize, kind: EventKind, ev: Emit) {
        let o = &self.objects[slot];
        let Some(sock) = ev.sock.or(o.sock) else {
            return;
        };
        let mut event = Event {
            kind,
            sock,
            ownership: ev.ownership,
            remote: ev.remote,
            error: ev.error,
            user_data: ev.user_data.unwrap_or(o.config.user_data),
            callback_data: o.config.callback_data,
            buf: ev.buf,
            owner: &self.handle,
        };
        let callback = o.config.callback;
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&mut event)));
        if run.is_err() {
            // A callback that panicked left its own state unknown: the group stops rather
            // than go on with it (and the panic does not unwind through the loop).
            self.handle.stop();
        }
    }

    fn open(&mut self, sock: Sock, kind: SockType, config: Config) -> usize {
        let slot = sock.slot();
        let o = &mut self.objects[slot];
        o.sock = Some(sock);
        o.rt = None;
        o.kind = kind;
        o.config = config;
        o.connecting = false;
        o.repeat = false;
        o.next = None;
        o.sent = 0;
        o.want_write = false;
        slot
    }

    /// Closes object `slot`: the runtime resource, its queued writes, its handle; then the
    /// close event (unless `quiet`), and the next listener of a server.
    fn finish(&mut self, cx: &mut Cx<'_>, slot: usize, error: Option<Error>, quiet: bool) {
        let Some(sock) = self.objects[slot].sock else {
            return;
        };
        if let Some(h) = self.objects[slot].rt.take() {
            let _ = cx.close(h);
            if let Some(e) = self.by_rt[rt_kind(h)].get_mut(h.slot() as usize) {
                *e = u32::MAX;
            }
        }
        self.objects[slot].writes.clear();
        if let Some(e) = error {
            self.emit(slot, EventKind::Error, Emit::error(e));
        }
        self.ws().objects[slot]
            .closing
            .store(true, std::sync::atomic::Ordering::Release);
        self.ws().free(sock);
        if !quiet {
            self.emit(slot, EventKind::Close, Emit::for_sock(sock));
        }
        let o = &mut self.objects[slot];
        o.sock = None;
        o.config.callback = ignore;
        if let Some(next) = o.next.take() {
            if let Some(ws) = self.handle.shared.workers.get(next.worker()) {
                let _ = ws.push(Command::Close {
                    sock: next,
                    quiet: true,
                });
            }
        }
    }

    fn execute(&mut self, cx: &mut Cx<'_>, cmd: Command) {
        match cmd {
            Command::Listen {
                sock,
                listener,
                config,
                next,
            } => {
                let slot = self.open(sock, SockType::TcpServer, config);
                self.objects[slot].next = next;
                let made = cx
                    .tcp_listener_from_std(listener)
                    .and_then(|l| cx.set_handler(l, Trigger::Readable, on_accept).map(|()| l));
                match made {
                    Ok(l) => self.bind_rt(slot, l.raw()),
                    Err(e) => self.finish(cx, slot, Some(e.into()), false),
                }
            }
            Command::Adopt {
                sock,
                stream,
                peer,
                config,
            } => {
                let slot = self.open(sock, SockType::TcpClient, config);
                let made = cx.tcp_stream_from_std(stream).and_then(|s| {
                    cx.set_handler(s, Trigger::Readable, handlers::on_readable)
                        .map(|()| s)
                });
                match made {
                    Ok(s) => {
                        self.bind_rt(slot, s.raw());
                        handlers::connected(self, cx, slot, s, Some(peer));
                        let accept = Emit {
                            sock: Some(sock),
                            remote: Some(peer),
                            ..Emit::default()
                        };
                        self.emit(slot, EventKind::Accept, accept);
                    }
                    Err(_) => {
                        // Never announced: the connection just goes (the peer sees it close).
                        self.ws().free(sock);
                        self.objects[slot].sock = None;
                    }
                }
            }
            Command::Connect {
                sock,
                addr,
                timeout_ms,
                config,
            } => {
                let slot = self.open(sock, SockType::TcpClient, config);
                let made = cx.tcp_connect(addr, Some(timeout_ms)).and_then(|s| {
                    cx.set_handler(s, Trigger::Writable, on_writable)
                        .map(|()| s)
                });
                match made {
                    Ok(s) => {
                        self.bind_rt(slot, s.raw());
                        self.objects[slot].connecting = true;
                        self.objects[slot].want_write = true;
                    }
                    Err(e) => self.finish(cx, slot, Some(e.into()), false),
                }
            }
            Command::Udp {
                sock,
                socket,
                config,
            } => {
                let slot = self.open(sock, SockType::Udp, config);
                let made = cx
                    .udp_from_std(socket)
                    .and_then(|u| cx.set_handler(u, Trigger::Readable, on_udp).map(|()| u));
                match made {
                    Ok(u) => self.bind_rt(slot, u.raw()),
                    Err(e) => self.finish(cx, slot, Some(e.into()), false),
                }
            }
            Command::Timer {
                sock,
                ms,
                repeat,
                config,
            } => {
                let slot = self.open(sock, SockType::Timer, config);
                self.objects[slot].repeat = repeat;
                let made = cx.timer_create().and_then(|t| {
                    cx.set_handler(t, Trigger::Expired, on_tick)?;
                    cx.timer_start(t, ms, repeat)?;
                    Ok(t)
                });
                match made {
                    Ok(t) => self.bind_rt(slot, t.raw()),
                    Err(e) => self.finish(cx, slot, Some(e.into()), false),
                }
            }
            Command::Write { sock, buf } => self.queue_write(cx, sock, buf, None),
            Command::UdpSend { sock, buf, to } => self.queue_write(cx, sock, buf, Some(to)),
            Command::Close { sock, quiet } => {
                if let Some(slot) = self.live(sock) {
                    self.finish(cx, slot, None, quiet);
                }
            }
            Command::Wake { sock, user_data } => {
                if let Some(slot) = self.live(sock) {
                    self.emit(slot, EventKind::Wake, Emit::wake(user_data));
                }
            }
            Command::Post { f, a, b } => match f {
                shared::Posted::One(f) => f(a),
                shared::Posted::Two(f) => f(a, b),
            },
            Command::SetOption { sock, opt, value } => self.set_option(cx, sock, opt, value),
        }
    }

    fn set_option(&mut self, cx: &mut Cx<'_>, sock: Sock, opt: SockOpt, value: usize) {
        let Some(slot) = self.live(sock) else {
            return;
        };
        let Some(h) = self.objects[slot].rt else {
            return;
        };
        let r = match (opt, h.typed::<TcpStream>()) {
            (SockOpt::KeepAlive, Ok(s)) => cx.set_keepalive(s, (value != 0).then_some(60)),
            (SockOpt::NoDelay, Ok(s)) => cx.set_nodelay(s, value != 0),
            (SockOpt::RecvBuffer, _) => cx.set_recv_buffer_size(h, value),
            (SockOpt::SendBuffer, _) => cx.set_send_buffer_size(h, value),
            _ => Ok(()),
        };
        // Kernel sizes read back (the kernel doubles or rounds them).
        if matches!(opt, SockOpt::RecvBuffer | SockOpt::SendBuffer) {
            let v = if opt == SockOpt::RecvBuffer {
                cx.recv_buffer_size(h)
            } else {
                cx.send_buffer_size(h)
            };
            if let Ok(v) = v {
                self.ws().objects[slot].set_option(opt, v);
            }
        }
        if let Err(e) = r {
            self.emit(slot, EventKind::Error, Emit::error(e.into()));
        }
    }

    fn queue_write(&mut self, cx: &mut Cx<'_>, sock: Sock, buf: Buf, to: Option<SocketAddr>) {
        let Some(slot) = self.live(sock) else {
            return;
        };
        if self.objects[slot].writes.len() >= self.writes_per_sock {
            drop(buf);
            self.emit(slot, EventKind::Error, Emit::error(Error::WouldBlock));
            return;
        }
        let o = &mut self.objects[slot];
        if to.is_none() && o.writes.is_empty() && !o.connecting {
            // The common case: nothing queued, so try to send it all now.
            if let Some(s) = o.rt.and_then(|h| h.typed::<TcpStream>().ok()) {
                match cx.write(s, buf.as_slice()) {
                    Poll::Ready(Ok(n)) if n == buf.len() => {
                        self.emit(
                            slot,
                            EventKind::WriteDone,
                            Emit::buf(buf, Ownership::Borrowed, None),
                        );
                        return;
                    }
                    Poll::Ready(Ok(n)) => o.sent = n,
                    Poll::Pending => {}
                    Poll::Ready(Err(e)) => {
                        drop(buf);
                        self.finish(cx, slot, Some(e.into()), false);
                        return;
                    }
                }
            }
        }
        self.objects[slot].writes.push_back(Pending { buf, to });
        if !self.objects[slot].connecting {
            self.flush(cx, slot);
        }
    }

    /// Sends queued writes as far as the socket takes them; each one sent completes.
    fn flush(&mut self, cx: &mut Cx<'_>, slot: usize) {
        let Some(h) = self.objects[slot].rt else {
            return;
        };
        loop {
            let o = &mut self.objects[slot];
            let Some(p) = o.writes.front() else {
                break;
            };
            let r = match (p.to, h.typed::<TcpStream>(), h.typed::<UdpSocket>()) {
                (None, Ok(s), _) => cx.write(s, &p.buf.as_slice()[o.sent..]),
                (Some(to), _, Ok(u)) => match cx.send_to(u, p.buf.as_slice(), to) {
                    Poll::Ready(Ok(_)) => Poll::Ready(Ok(p.buf.len() - o.sent)),
                    other => other,
                },
                _ => Poll::Ready(Err(ptk_runtime::Error::InvalidArgument)),
            };
            match r {
                Poll::Ready(Ok(n)) => {
                    o.sent += n;
                    if o.sent < p.buf.len() {
                        continue;
                    }
                    o.sent = 0;
                    let Some(done) = o.writes.pop_front() else {
                        break;
                    };
                    let kind = if done.to.is_some() {
                        EventKind::UdpWriteDone
                    } else {
                        EventKind::WriteDone
                    };
                    self.emit(slot, kind, Emit::buf(done.buf, Ownership::Borrowed, None));
                    if self.objects[slot].sock.is_none() {
                        return;
                    }
                }
                Poll::Pending => {
                    if !o.want_write {
                        o.want_write = true;
                        let _ = cx.set_handler(h, Trigger::Writable, on_writable);
                    }
                    return;
                }
                Poll::Ready(Err(e)) => {
                    if o.kind == SockType::Udp {
                        // A failed datagram ends only itself.
                        o.sent = 0;
                        o.writes.pop_front();
                        self.emit(slot, EventKind::Error, Emit::error(e.into()));
                        continue;
                    }
                    self.finish(cx, slot, Some(e.into()), false);
                    return;
                }
            }
        }
        let o = &mut self.objects[slot];
        if o.want_write {
            o.want_write = false;
            cx.remove_handler(h, Trigger::Writable);
        }
    }

    /// Runs the queued commands: first those the worker's own callbacks queued, then those
    /// of other threads; only those queued before the call (later ones wait for the next
    /// raise, so a callback that queues on every event cannot hold the loop).
    fn drain(&mut self, cx: &mut Cx<'_>) {
        if shared::local_len() > 0 {
            shared::swap_local(&mut self.local);
            while let Some(cmd) = self.local.pop_front() {
                self.execute(cx, cmd);
            }
        }
        let ws = &self.handle.shared.workers[self.index];
        // A command pushed after this load raises the worker again: skipping is safe.
        if ws.queued.load(std::sync::atomic::Ordering::Acquire) > 0 {
            let mut c = ws.commands.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut c.queue, &mut self.spare);
            ws.queued.store(0, std::sync::atomic::Ordering::Release);
            drop(c);
            while let Some(cmd) = self.spare.pop_front() {
                self.execute(cx, cmd);
            }
        }
        if shared::local_len() > 0 {
            if let Some(source) = self.source {
                let _ = cx.raise(source, 0);
            }
        }
    }
}

/// The optional parts of an event.
#[derive(Default)]
struct Emit {
    sock: Option<Sock>,
    ownership: Ownership,
    remote: Option<SocketAddr>,
    error: Option<Error>,
    user_data: Option<usize>,
    buf: Option<Buf>,
}

impl Emit {
    fn error(e: Error) -> Emit {
        Emit {
            error: Some(e),
            ..Emit::default()
        }
    }

    fn for_sock(sock: Sock) -> Emit {
        Emit {
            sock: Some(sock),
            ..Emit::default()
        }
    }

    fn wake(user_data: usize) -> Emit {
        Emit {
            user_data: Some(user_data),
            ..Emit::default()
        }
    }

    fn buf(buf: Buf, ownership: Ownership, remote: Option<SocketAddr>) -> Emit {
        Emit {
            buf: Some(buf),
            ownership,
            remote,
            ..Emit::default()
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The loop is gone with every runtime resource: make the handles stale.
        for o in &mut self.objects {
            if let Some(sock) = o.sock.take() {
                self.handle.shared.workers[self.index].free(sock);
            }
        }
    }
}
