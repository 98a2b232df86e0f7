//! UDP sockets: bound or "unbound" (an ephemeral port), datagrams with their peer address,
//! broadcast and multicast. Readiness is tracked as for TCP streams.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::task::Poll;

use crate::error::{Capacity, Error, Result};
use crate::handle::{Handle, RawHandle, UdpSocket};
use crate::io::MulticastInterface;

use super::core::{token, Core};
use super::waiter::Waiter;

/// The state of one UDP socket (opaque; see
/// [`Storage::udp_sockets`](super::Storage::udp_sockets)).
pub struct UdpEntry<A> {
    pub(crate) sock: mio::net::UdpSocket,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) write_armed: bool,
    pub(crate) queued: [bool; 2],
    pub(crate) read: Waiter<A>,
    pub(crate) write: Waiter<A>,
}

impl<A> Core<'_, A> {
    pub(crate) fn udp_bind(&mut self, addr: SocketAddr) -> Result<Handle<UdpSocket>> {
        if self.udp.len() == self.udp.capacity() {
            return Err(Error::OutOfResources(Capacity::UdpSockets));
        }
        let sock = mio::net::UdpSocket::bind(addr)?;
        let entry = UdpEntry {
            sock,
            readable: false,
            writable: true,
            write_armed: false,
            queued: [false; 2],
            read: Waiter::None,
            write: Waiter::None,
        };
        let h = self.udp.insert(entry).map_err(|(_, e)| e)?;
        let registry = self.poll.registry();
        let registered = match self.udp.get_mut(h) {
            Ok(u) => registry.register(&mut u.sock, token(h), mio::Interest::READABLE),
            Err(_) => Ok(()),
        };
        if let Err(e) = registered {
            let _ = self.udp.remove(h);
            return Err(e.into());
        }
        Ok(Handle::from_raw_unchecked(h))
    }

    pub(crate) fn send_to(
        &mut self,
        h: Handle<UdpSocket>,
        buf: &[u8],
        to: SocketAddr,
    ) -> Poll<Result<usize>> {
        let registry = self.poll.registry();
        let u = match self.udp.get_mut(h.raw()) {
            Ok(u) => u,
            Err(e) => return Poll::Ready(Err(e)),
        };
        loop {
            match u.sock.send_to(buf, to) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    u.writable = false;
                    if u.write.is_some() && !u.write_armed {
                        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
                        if let Err(e) = registry.reregister(&mut u.sock, token(h.raw()), interest) {
                            return Poll::Ready(Err(e.into()));
                        }
                        u.write_armed = true;
                    }
                    return Poll::Pending;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    pub(crate) fn recv_from(
        &mut self,
        h: Handle<UdpSocket>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr)>> {
        let u = match self.udp.get_mut(h.raw()) {
            Ok(u) => u,
            Err(e) => return Poll::Ready(Err(e)),
        };
        loop {
            match super::sys::recv_from_checked(&u.sock, buf) {
                Ok((_, true, _)) => return Poll::Ready(Err(Error::MessageTooLarge)),
                Ok((n, false, Some(addr))) => return Poll::Ready(Ok((n, addr))),
                Ok((_, false, None)) => return Poll::Ready(Err(Error::NotSupported)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    u.readable = false;
                    return Poll::Pending;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }

    pub(crate) fn arm_udp_write(&mut self, h: RawHandle) -> Result<()> {
        let registry = self.poll.registry();
        let u = self.udp.get_mut(h)?;
        if !u.write_armed && !u.writable {
            registry.reregister(
                &mut u.sock,
                token(h),
                mio::Interest::READABLE | mio::Interest::WRITABLE,
            )?;
            u.write_armed = true;
        }
        Ok(())
    }

    pub(crate) fn disarm_udp_write(&mut self, h: RawHandle) {
        let registry = self.poll.registry();
        if let Ok(u) = self.udp.get_mut(h) {
            if u.write_armed
                && !u.write.is_some()
                && registry
                    .reregister(&mut u.sock, token(h), mio::Interest::READABLE)
                    .is_ok()
            {
                u.write_armed = false;
            }
        }
    }

    pub(crate) fn udp_sock(&self, h: Handle<UdpSocket>) -> Result<&mio::net::UdpSocket> {
        self.udp.get(h.raw()).map(|u| &u.sock)
    }

    pub(crate) fn multicast(
        &mut self,
        h: Handle<UdpSocket>,
        group: IpAddr,
        interface: MulticastInterface,
        join: bool,
    ) -> Result<()> {
        let sock = self.udp_sock(h)?;
        let local = sock.local_addr()?;
        if !group.is_multicast() || local.is_ipv4() != group.is_ipv4() {
            return Err(Error::InvalidArgument);
        }
        match (group, interface) {
            (IpAddr::V4(g), MulticastInterface::Default) => {
                if join {
                    sock.join_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED)?
                } else {
                    sock.leave_multicast_v4(&g, &Ipv4Addr::UNSPECIFIED)?
                }
            }
            (IpAddr::V4(g), MulticastInterface::V4(i)) => {
                if join {
                    sock.join_multicast_v4(&g, &i)?
                } else {
                    sock.leave_multicast_v4(&g, &i)?
                }
            }
            (IpAddr::V6(g), MulticastInterface::Default | MulticastInterface::V6(_)) => {
                let index = match interface {
                    MulticastInterface::V6(i) => i,
                    _ => 0,
                };
                if join {
                    sock.join_multicast_v6(&g, index)?
                } else {
                    sock.leave_multicast_v6(&g, index)?
                }
            }
            (IpAddr::V4(_), MulticastInterface::V6(_))
            | (IpAddr::V6(_), MulticastInterface::V4(_)) => return Err(Error::InvalidArgument),
        }
        Ok(())
    }

    pub(crate) fn close_udp(&mut self, h: RawHandle) -> bool {
        let Ok(mut u) = self.udp.remove(h) else {
            return false;
        };
        let _ = self.poll.registry().deregister(&mut u.sock);
        true
    }
}
