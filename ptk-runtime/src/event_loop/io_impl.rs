//! [`Io`] for the mio loop: each operation forwards to the source that owns it and records
//! failures as the loop's last error.

use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::task::Poll;

use socket2::SockRef;

use crate::cx::Handler;
use crate::error::{Error, Result};
use crate::event::{ListenOptions, Shutdown, Trigger};
use crate::handle::{
    Handle, Protothread as ProtothreadKind, RawHandle, ResourceType, Semaphore, TcpListener,
    TcpStream, Timer, UdpSocket, UserEvents,
};
use crate::io::{Io, MulticastInterface};
use crate::status::{Outcome, PtStatus};

use super::core::Core;
use super::timers::{Purpose, TimerEntry};
use super::user_events::UserEventsEntry;
use super::waiter::Waiter;

impl<A> Core<'_, A> {
    /// Runs an operation that may have to wait on `(h, trigger)`: spends budget first,
    /// registers the running protothread when it answers `Pending`, records errors.
    fn waiting_op<T>(
        &mut self,
        h: RawHandle,
        trigger: Trigger,
        op: impl FnOnce(&mut Self) -> Poll<Result<T>>,
    ) -> Poll<Result<T>> {
        if self.out_of_budget() {
            return Poll::Pending;
        }
        match op(self) {
            Poll::Pending => self.pend(Some((h, trigger))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.fail(e))),
            ready => ready,
        }
    }
}

impl<A: 'static> Io for Core<'_, A> {
    fn now_ms(&self) -> u64 {
        self.now()
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
    }

    fn last_error(&self) -> Option<Error> {
        self.last_error
    }

    fn close(&mut self, h: RawHandle) -> Result<()> {
        self.wake_waiters_of(h);
        let closed = match h.resource_type() {
            ResourceType::Timer => match self.timers.get(h) {
                Ok(t) if t.purpose == Purpose::User => {
                    self.timer_queue.disarm(&mut self.timers, h.slot());
                    self.timers.remove(h).is_ok()
                }
                _ => false,
            },
            ResourceType::TcpListener => self.close_listener(h),
            ResourceType::TcpStream => self.close_stream(h),
            ResourceType::UdpSocket => self.close_udp(h),
            ResourceType::Semaphore => self.close_sem(h),
            ResourceType::UserEvents => {
                let ok = self.user.remove(h).is_ok();
                if ok {
                    self.shared.sources.close(h);
                }
                ok
            }
            _ => false,
        };
        if closed {
            Ok(())
        } else {
            Err(self.fail(Error::InvalidHandle))
        }
    }

    fn set_handler_any(&mut self, h: RawHandle, trigger: Trigger, handler: &dyn Any) -> Result<()> {
        let Some(f) = handler.downcast_ref::<Handler<A>>() else {
            return Err(self.fail(Error::InvalidArgument));
        };
        let r = self.set_waiter(h, trigger, Waiter::Handler(*f));
        self.note(r)
    }

    fn remove_handler(&mut self, h: RawHandle, trigger: Trigger) {
        let _ = self.set_waiter(h, trigger, Waiter::None);
    }

    fn timer_create(&mut self) -> Result<Handle<Timer>> {
        let r = self
            .timers
            .insert(TimerEntry::new(Purpose::User))
            .map_err(|(_, e)| e);
        self.note(r).map(Handle::from_raw_unchecked)
    }

    fn timer_start(
        &mut self,
        timer: Handle<Timer>,
        interval_ms: u64,
        repeating: bool,
    ) -> Result<()> {
        if interval_ms == 0 {
            return Err(self.fail(Error::InvalidArgument));
        }
        let deadline = self.clock().saturating_add(interval_ms);
        match self.timers.get_mut(timer.raw()) {
            Ok(t) if t.purpose == Purpose::User => {
                t.interval = interval_ms;
                t.repeating = repeating;
            }
            _ => return Err(self.fail(Error::InvalidHandle)),
        }
        self.timer_queue
            .arm(&mut self.timers, timer.raw().slot(), deadline);
        Ok(())
    }

    fn timer_stop(&mut self, timer: Handle<Timer>) -> Result<()> {
        match self.timers.get(timer.raw()) {
            Ok(t) if t.purpose == Purpose::User => {
                self.timer_queue
                    .disarm(&mut self.timers, timer.raw().slot());
                Ok(())
            }
            _ => Err(self.fail(Error::InvalidHandle)),
        }
    }

    fn timer_is_armed(&self, timer: Handle<Timer>) -> Result<bool> {
        self.timers.get(timer.raw()).map(TimerEntry::is_armed)
    }

    fn timer_deadline(&self, timer: Handle<Timer>) -> Result<Option<u64>> {
        let t = self.timers.get(timer.raw())?;
        Ok(t.is_armed().then_some(t.deadline))
    }

    fn tcp_listen(
        &mut self,
        addr: SocketAddr,
        options: &ListenOptions,
    ) -> Result<Handle<TcpListener>> {
        let r = Core::tcp_listen(self, addr, options);
        self.note(r)
    }

    fn accept(
        &mut self,
        listener: Handle<TcpListener>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr)>> {
        self.waiting_op(listener.raw(), Trigger::Readable, |c| {
            Core::accept(c, listener)
        })
    }

    fn tcp_connect(
        &mut self,
        addr: SocketAddr,
        timeout_ms: Option<u64>,
    ) -> Result<Handle<TcpStream>> {
        let r = Core::tcp_connect(self, addr, timeout_ms);
        self.note(r)
    }

    fn connected(&mut self, stream: Handle<TcpStream>) -> Poll<Result<()>> {
        self.waiting_op(stream.raw(), Trigger::Writable, |c| {
            Core::connected(c, stream)
        })
    }

    fn read(&mut self, stream: Handle<TcpStream>, buf: &mut [u8]) -> Poll<Result<usize>> {
        self.stream_read(stream.raw(), buf)
    }

    fn write(&mut self, stream: Handle<TcpStream>, buf: &[u8]) -> Poll<Result<usize>> {
        self.stream_write(stream.raw(), buf)
    }

    fn write_all(
        &mut self,
        stream: Handle<TcpStream>,
        buf: &[u8],
        written: &mut usize,
    ) -> Poll<Result<()>> {
        self.stream_write_all(stream.raw(), buf, written)
    }

    fn shutdown(&mut self, stream: Handle<TcpStream>, how: Shutdown) -> Result<()> {
        let r = Core::shutdown(self, stream, how);
        self.note(r)
    }

    fn set_nodelay(&mut self, stream: Handle<TcpStream>, on: bool) -> Result<()> {
        let r = self
            .stream_sock(stream.raw())
            .and_then(|s| s.set_nodelay(on).map_err(Error::from));
        self.note(r)
    }

    fn nodelay(&self, stream: Handle<TcpStream>) -> Result<bool> {
        Ok(self.stream_sock(stream.raw())?.nodelay()?)
    }

    fn keepalive(&self, stream: Handle<TcpStream>) -> Result<Option<u32>> {
        Core::keepalive(self, stream)
    }

    fn set_keepalive(&mut self, stream: Handle<TcpStream>, idle_secs: Option<u32>) -> Result<()> {
        let r = Core::set_keepalive(self, stream, idle_secs);
        self.note(r)
    }

    fn set_recv_buffer_size(&mut self, socket: RawHandle, bytes: usize) -> Result<()> {
        let r = self.with_sock(socket, |s| s.set_recv_buffer_size(bytes));
        self.note(r)
    }

    fn set_send_buffer_size(&mut self, socket: RawHandle, bytes: usize) -> Result<()> {
        let r = self.with_sock(socket, |s| s.set_send_buffer_size(bytes));
        self.note(r)
    }

    fn recv_buffer_size(&self, socket: RawHandle) -> Result<usize> {
        self.with_sock(socket, |s| s.recv_buffer_size())
    }

    fn send_buffer_size(&self, socket: RawHandle) -> Result<usize> {
        self.with_sock(socket, |s| s.send_buffer_size())
    }

    fn local_addr(&self, socket: RawHandle) -> Result<SocketAddr> {
        match socket.resource_type() {
            ResourceType::TcpListener => Ok(self.listeners.get(socket)?.sock.local_addr()?),
            ResourceType::TcpStream => Ok(self.streams.get(socket)?.sock.local_addr()?),
            ResourceType::UdpSocket => Ok(self.udp.get(socket)?.sock.local_addr()?),
            _ => Err(Error::InvalidHandle),
        }
    }

    fn peer_addr(&self, stream: Handle<TcpStream>) -> Result<SocketAddr> {
        Ok(self.stream_sock(stream.raw())?.peer_addr()?)
    }

    fn udp_bind(&mut self, addr: SocketAddr) -> Result<Handle<UdpSocket>> {
        let r = Core::udp_bind(self, addr);
        self.note(r)
    }

    fn send_to(
        &mut self,
        socket: Handle<UdpSocket>,
        buf: &[u8],
        to: SocketAddr,
    ) -> Poll<Result<usize>> {
        self.waiting_op(socket.raw(), Trigger::Writable, |c| {
            Core::send_to(c, socket, buf, to)
        })
    }

    fn recv_from(
        &mut self,
        socket: Handle<UdpSocket>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr)>> {
        self.waiting_op(socket.raw(), Trigger::Readable, |c| {
            Core::recv_from(c, socket, buf)
        })
    }

    fn set_broadcast(&mut self, socket: Handle<UdpSocket>, on: bool) -> Result<()> {
        let r = self
            .udp_sock(socket)
            .and_then(|s| s.set_broadcast(on).map_err(Error::from));
        self.note(r)
    }

    fn join_multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<()> {
        let r = self.multicast(socket, group, interface, true);
        self.note(r)
    }

    fn leave_multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<()> {
        let r = self.multicast(socket, group, interface, false);
        self.note(r)
    }

    fn set_multicast_ttl(&mut self, socket: Handle<UdpSocket>, ttl: u32) -> Result<()> {
        let r = self.udp_sock(socket).and_then(|s| {
            if s.local_addr()?.is_ipv4() {
                s.set_multicast_ttl_v4(ttl).map_err(Error::from)
            } else {
                SockRef::from(s)
                    .set_multicast_hops_v6(ttl)
                    .map_err(Error::from)
            }
        });
        self.note(r)
    }

    fn set_multicast_loop(&mut self, socket: Handle<UdpSocket>, on: bool) -> Result<()> {
        let r = self.udp_sock(socket).and_then(|s| {
            if s.local_addr()?.is_ipv4() {
                s.set_multicast_loop_v4(on).map_err(Error::from)
            } else {
                s.set_multicast_loop_v6(on).map_err(Error::from)
            }
        });
        self.note(r)
    }

    fn user_events_create(&mut self) -> Result<Handle<UserEvents>> {
        let r = self.user.insert(UserEventsEntry::new()).map_err(|(_, e)| e);
        let h = self.note(r)?;
        self.shared.sources.open(h);
        Ok(Handle::from_raw_unchecked(h))
    }

    fn raise(&mut self, source: Handle<UserEvents>, id: u32) -> Result<()> {
        let r = self.shared.sources.raise(source.raw(), id);
        self.note(r)?;
        // On the loop thread no wake-up is needed: the doorbell alone keeps the next poll
        // from blocking.
        self.shared.doorbell.store(true, Ordering::Release);
        Ok(())
    }

    fn take_event(&mut self, source: Handle<UserEvents>, id: u32) -> Poll<Result<u32>> {
        self.waiting_op(source.raw(), Trigger::User(id), |c| {
            match c.shared.sources.slot_of(source.raw(), id, false)? {
                Some(k) => match c.shared.sources.take(source.raw(), k) {
                    0 => Poll::Pending,
                    n => Poll::Ready(Ok(n)),
                },
                None => Poll::Pending,
            }
        })
    }

    fn sem_create(&mut self, initial: u32) -> Result<Handle<Semaphore>> {
        let r = Core::sem_create(self, initial);
        self.note(r)
    }

    fn sem_signal(&mut self, semaphore: Handle<Semaphore>) -> Result<()> {
        let r = Core::sem_signal(self, semaphore.raw(), 1);
        self.note(r)
    }

    fn sem_wait(&mut self, semaphore: Handle<Semaphore>) -> Poll<Result<()>> {
        Core::sem_wait(self, semaphore.raw())
    }

    fn sem_count(&self, semaphore: Handle<Semaphore>) -> Result<u32> {
        Core::sem_count(self, semaphore.raw())
    }

    fn spawn_any(
        &mut self,
        pool: u8,
        loop_id: u8,
        ctx: &mut dyn Any,
    ) -> Result<Handle<ProtothreadKind>> {
        let r = self.pts.spawn(pool, loop_id, ctx);
        let h = self.note(r)?;
        self.pts.push_run(h.slot());
        Ok(Handle::from_raw_unchecked(h))
    }

    fn spawn_in_place(
        &mut self,
        pool: u8,
        loop_id: u8,
    ) -> Result<(Handle<ProtothreadKind>, &mut dyn Any)> {
        let h = match self.pts.spawn_in_place(pool, loop_id) {
            Ok(h) => h,
            Err(e) => return Err(self.fail(e)),
        };
        self.pts.push_run(h.slot());
        match self.pts.entries[h.slot() as usize].task.as_mut() {
            Some(task) => Ok((Handle::from_raw_unchecked(h), task.as_any())),
            None => Err(Error::InvalidArgument),
        }
    }

    fn kill(&mut self, pt: Handle<ProtothreadKind>) -> Result<()> {
        let r = self.pt_kill(pt.raw());
        self.note(r)
    }

    fn restart(&mut self, pt: Handle<ProtothreadKind>) -> Result<()> {
        let r = self.pt_restart(pt.raw());
        self.note(r)
    }

    fn pt_status(&self, pt: Handle<ProtothreadKind>) -> Result<PtStatus> {
        Core::pt_status(self, pt.raw())
    }

    fn join(&mut self, pt: Handle<ProtothreadKind>) -> Poll<Result<Outcome>> {
        self.pt_join(pt.raw())
    }

    fn sleep_until(&mut self, at_ms: u64) -> Poll<Result<()>> {
        self.pt_sleep_until(at_ms)
    }

    fn set_deadline(&mut self, at_ms: Option<u64>) -> Result<()> {
        self.pt_set_deadline(at_ms)
    }
}

impl<A> Core<'_, A> {
    fn with_sock<T>(
        &self,
        h: RawHandle,
        f: impl FnOnce(SockRef<'_>) -> std::io::Result<T>,
    ) -> Result<T> {
        let sock = match h.resource_type() {
            ResourceType::TcpListener => SockRef::from(&self.listeners.get(h)?.sock),
            ResourceType::TcpStream => SockRef::from(&self.streams.get(h)?.sock),
            ResourceType::UdpSocket => SockRef::from(&self.udp.get(h)?.sock),
            _ => return Err(Error::InvalidHandle),
        };
        f(sock).map_err(Error::from)
    }

    /// Sets or clears the waiter of `(h, trigger)`, arming what it needs.
    pub(crate) fn set_waiter(
        &mut self,
        h: RawHandle,
        trigger: Trigger,
        w: Waiter<A>,
    ) -> Result<()> {
        use super::ready::Dir;
        let set = w.is_some();
        match (h.resource_type(), trigger) {
            (ResourceType::TcpListener, Trigger::Readable) => {
                self.listeners.get_mut(h)?.read = w;
                self.requeue_if_ready(h, Dir::Read);
            }
            (ResourceType::TcpStream, Trigger::Readable) => {
                self.streams.get_mut(h)?.read = w;
                self.requeue_if_ready(h, Dir::Read);
            }
            (ResourceType::TcpStream, Trigger::Writable) => {
                self.streams.get_mut(h)?.write = w;
                if set {
                    self.arm_stream_write(h)?;
                    self.requeue_if_ready(h, Dir::Write);
                }
            }
            (ResourceType::UdpSocket, Trigger::Readable) => {
                self.udp.get_mut(h)?.read = w;
                self.requeue_if_ready(h, Dir::Read);
            }
            (ResourceType::UdpSocket, Trigger::Writable) => {
                self.udp.get_mut(h)?.write = w;
                if set {
                    self.arm_udp_write(h)?;
                    self.requeue_if_ready(h, Dir::Write);
                }
            }
            (ResourceType::Timer, Trigger::Expired) => match self.timers.get_mut(h) {
                Ok(t) if t.purpose == Purpose::User => t.waiter = w,
                _ => return Err(Error::InvalidHandle),
            },
            (ResourceType::UserEvents, Trigger::User(id)) => {
                self.user.get(h)?;
                if let Some(k) = self.shared.sources.slot_of(h, id, set)? {
                    self.user.get_mut(h)?.waiters[k] = w;
                    if set && self.shared.sources.peek(h, k) > 0 {
                        // Latched raises: deliver on the next iteration.
                        self.shared.sources.mark(h.slot() as usize, k);
                        self.shared.doorbell.store(true, Ordering::Release);
                    }
                }
            }
            _ => {
                return Err(if self.exists(h) {
                    Error::InvalidArgument
                } else {
                    Error::InvalidHandle
                });
            }
        }
        Ok(())
    }

    fn exists(&self, h: RawHandle) -> bool {
        match h.resource_type() {
            ResourceType::Timer => self.timers.contains(h),
            ResourceType::TcpListener => self.listeners.contains(h),
            ResourceType::TcpStream => self.streams.contains(h),
            ResourceType::UdpSocket => self.udp.contains(h),
            ResourceType::UserEvents => self.user.contains(h),
            ResourceType::Semaphore => self.sems.contains(h),
            _ => false,
        }
    }
}
