//! UDP operations: bind, datagrams, broadcast and multicast.

use std::net::{IpAddr, SocketAddr};
use std::task::Poll;

use socket2::SockRef;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::event::MulticastInterface;
use crate::event::Trigger;
use crate::handle::{Handle, UdpSocket};

use super::super::side::Attempt;

impl Cx<'_> {
    /// Binds a UDP socket to `addr` (port 0 for an ephemeral one; `0.0.0.0:0` or `[::]:0`
    /// for an "unbound" socket that only sends and receives replies).
    ///
    /// # Errors
    ///
    /// [`Error::AddressInUse`]; [`Error::OutOfResources`].
    pub fn udp_bind(&mut self, addr: SocketAddr) -> Result<Handle<UdpSocket>> {
        let core = &mut self.core;
        let Some(backend) = &core.backend else {
            return Err(core.fail(Error::NotSupported));
        };
        let r = core.udp.bind(addr, backend);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Registers a UDP socket made by the caller (bound and non-blocking), for options the
    /// loop does not set before binding (`SO_REUSEADDR`, ...).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]; a registration error.
    pub fn udp_from_std(&mut self, socket: std::net::UdpSocket) -> Result<Handle<UdpSocket>> {
        let core = &mut self.core;
        let Some(backend) = &core.backend else {
            return Err(core.fail(Error::NotSupported));
        };
        let r = core.udp.adopt(socket, backend);
        core.note(r).map(Handle::from_raw_unchecked)
    }

    /// Sends one datagram to `to`.
    pub fn send_to(
        &mut self,
        socket: Handle<UdpSocket>,
        buf: &[u8],
        to: SocketAddr,
    ) -> Poll<Result<usize>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = socket.raw();
        let u = match core.udp.get_mut(h) {
            Ok(u) => u,
            Err(_) => return Poll::Ready(Err(core.invalid())),
        };
        match u.send_to(buf, to) {
            Attempt::Done(n) => Poll::Ready(Ok(n)),
            Attempt::WouldBlock => {
                let waiter = u.write.waiter;
                if waiter.is_some() {
                    if let Err(e) = core.arm_write(h) {
                        return Poll::Ready(Err(core.fail(e)));
                    }
                }
                core.pend_socket(h, Trigger::Writable, waiter)
            }
            Attempt::Failed(e) => Poll::Ready(Err(core.fail(e))),
        }
    }

    /// Receives one datagram and its sender. A datagram longer than `buf` is
    /// [`Error::MessageTooLarge`] (and is discarded).
    pub fn recv_from(
        &mut self,
        socket: Handle<UdpSocket>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr)>> {
        let core = &mut self.core;
        if core.run.out_of_budget() {
            return Poll::Pending;
        }
        let h = socket.raw();
        let u = match core.udp.get_mut(h) {
            Ok(u) => u,
            Err(_) => return Poll::Ready(Err(core.invalid())),
        };
        match u.recv_from(buf) {
            Attempt::Done(r) => Poll::Ready(Ok(r)),
            Attempt::WouldBlock => {
                let waiter = u.read.waiter;
                core.pend_socket(h, Trigger::Readable, waiter)
            }
            Attempt::Failed(e) => Poll::Ready(Err(core.fail(e))),
        }
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_broadcast(&mut self, socket: Handle<UdpSocket>, on: bool) -> Result<()> {
        let r = self.core.with_sock(socket.raw(), |s| s.set_broadcast(on));
        self.core.note(r)
    }

    /// Joins multicast group `group` on the interface with address `interface` (IPv4) or
    /// index `interface_index` (IPv6; 0 for the default). The group's family must match the
    /// socket's.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a non-multicast group or a family mismatch.
    pub fn join_multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<()> {
        self.multicast(socket, group, interface, true)
    }

    /// Leaves a multicast group joined with [`join_multicast`](Cx::join_multicast).
    ///
    /// # Errors
    ///
    /// As for `join_multicast`; an OS error if the group was not joined.
    pub fn leave_multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: IpAddr,
        interface: MulticastInterface,
    ) -> Result<()> {
        self.multicast(socket, group, interface, false)
    }

    fn multicast(
        &mut self,
        socket: Handle<UdpSocket>,
        group: IpAddr,
        interface: MulticastInterface,
        join: bool,
    ) -> Result<()> {
        let core = &mut self.core;
        let r = match core.udp.get(socket.raw()) {
            Ok(u) => u.multicast(group, interface, join),
            Err(_) => return Err(core.invalid()),
        };
        core.note(r)
    }

    /// Sets the multicast TTL (IPv4) or hop limit (IPv6).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_multicast_ttl(&mut self, socket: Handle<UdpSocket>, ttl: u32) -> Result<()> {
        let r = self.core.with_sock(socket.raw(), |s: SockRef<'_>| {
            if s.local_addr()?.is_ipv4() {
                s.set_multicast_ttl_v4(ttl)
            } else {
                s.set_multicast_hops_v6(ttl)
            }
        });
        self.core.note(r)
    }

    /// Whether multicast datagrams sent by this socket loop back to local listeners.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_multicast_loop(&mut self, socket: Handle<UdpSocket>, on: bool) -> Result<()> {
        let r = self.core.with_sock(socket.raw(), |s: SockRef<'_>| {
            if s.local_addr()?.is_ipv4() {
                s.set_multicast_loop_v4(on)
            } else {
                s.set_multicast_loop_v6(on)
            }
        });
        self.core.note(r)
    }
}
