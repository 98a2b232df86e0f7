//! UDP sockets: bound or "unbound" (an ephemeral port), datagrams with their peer address,
//! broadcast and multicast. Readiness is kept per direction as for TCP streams; a receive
//! clears it only on `WouldBlock` (a datagram socket may hold several datagrams).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Capacity, Error, Result};
use crate::event::MulticastInterface;
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::backend::{Backend, Interest};
use super::side::{Attempt, Side};

/// The state of one UDP socket (opaque; see
/// [`Storage::udp_sockets`](super::Storage::udp_sockets)).
pub struct UdpEntry {
    sock: mio::net::UdpSocket,
    pub(crate) read: Side,
    pub(crate) write: Side,
    write_armed: bool,
}

impl UdpEntry {
    /// The socket (for options and addresses).
    pub(crate) fn sock(&self) -> &mio::net::UdpSocket {
        &self.sock
    }

    /// Sends one datagram to `to`.
    pub(crate) fn send_to(&mut self, buf: &[u8], to: SocketAddr) -> Attempt<usize> {
        loop {
            match self.sock.send_to(buf, to) {
                Ok(n) => return Attempt::Done(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.write.ready = false;
                    return Attempt::WouldBlock;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Attempt::Failed(e.into()),
            }
        }
    }

    /// Receives one datagram and its sender; a datagram longer than `buf` is
    /// `MessageTooLarge` (and is discarded).
    pub(crate) fn recv_from(&mut self, buf: &mut [u8]) -> Attempt<(usize, SocketAddr)> {
        loop {
            match super::sys::recv_from_checked(&self.sock, buf) {
                Ok((_, true, _)) => return Attempt::Failed(Error::MessageTooLarge),
                Ok((n, false, Some(addr))) => return Attempt::Done((n, addr)),
                Ok((_, false, None)) => return Attempt::Failed(Error::NotSupported),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.read.ready = false;
                    return Attempt::WouldBlock;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Attempt::Failed(e.into()),
            }
        }
    }

    /// Arms write interest if someone may wait to write and the socket is not known writable.
    pub(crate) fn arm_write(&mut self, h: RawHandle, backend: &Backend) -> Result<()> {
        if !self.write_armed && !self.write.ready {
            backend.reregister(&mut self.sock, h, Interest::ReadWrite)?;
            self.write_armed = true;
        }
        Ok(())
    }

    /// Disarms write interest when nobody waits to write.
    pub(crate) fn disarm_write(&mut self, h: RawHandle, backend: &Backend) {
        if self.write_armed
            && !self.write.waiter.is_some()
            && backend
                .reregister(&mut self.sock, h, Interest::Read)
                .is_ok()
        {
            self.write_armed = false;
        }
    }

    /// Joins (`join`) or leaves multicast group `group` on `interface`.
    pub(crate) fn multicast(
        &self,
        group: IpAddr,
        interface: MulticastInterface,
        join: bool,
    ) -> Result<()> {
        let sock = &self.sock;
        let local = sock.local_addr()?;
        if !group.is_multicast() || local.is_ipv4() != group.is_ipv4() {
            return Err(Error::InvalidArgument);
        }
        match (group, interface) {
            (IpAddr::V4(g), MulticastInterface::Default | MulticastInterface::V4(_)) => {
                let i = match interface {
                    MulticastInterface::V4(i) => i,
                    _ => Ipv4Addr::UNSPECIFIED,
                };
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
}

/// The UDP sockets of one loop.
pub(crate) struct UdpSockets<'s> {
    pool: Pool<'s, UdpEntry>,
}

impl<'s> UdpSockets<'s> {
    pool_accessors!(UdpEntry: len, capacity, get, get_mut, contains, handle_at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<UdpEntry>], loop_id: u8) -> Self {
        UdpSockets {
            pool: Pool::new(
                slots,
                ResourceType::UdpSocket,
                loop_id,
                Capacity::UdpSockets,
            ),
        }
    }

    /// Binds and registers a socket on `addr`.
    pub(crate) fn bind(&mut self, addr: SocketAddr, backend: &Backend) -> Result<RawHandle> {
        if self.pool.len() == self.pool.capacity() {
            return Err(Error::OutOfResources(Capacity::UdpSockets));
        }
        let sock = std::net::UdpSocket::bind(addr)?;
        sock.set_nonblocking(true)?;
        self.adopt(sock, backend)
    }

    /// Registers a UDP socket made elsewhere (bound and non-blocking).
    pub(crate) fn adopt(
        &mut self,
        sock: std::net::UdpSocket,
        backend: &Backend,
    ) -> Result<RawHandle> {
        if self.pool.len() == self.pool.capacity() {
            return Err(Error::OutOfResources(Capacity::UdpSockets));
        }
        let entry = UdpEntry {
            sock: mio::net::UdpSocket::from_std(sock),
            read: Side::new(false),
            write: Side::new(true),
            write_armed: false,
        };
        let h = self.pool.insert(entry).map_err(|(_, e)| e)?;
        let registered = match self.pool.get_mut(h) {
            Ok(u) => backend.register(&mut u.sock, h, Interest::Read),
            Err(_) => Ok(()),
        };
        if let Err(e) = registered {
            let _ = self.pool.remove(h);
            return Err(e.into());
        }
        Ok(h)
    }

    /// Deregisters and closes socket `h`; `false` if it names none.
    pub(crate) fn close(&mut self, h: RawHandle, backend: &Backend) -> bool {
        let Ok(mut u) = self.pool.remove(h) else {
            return false;
        };
        let _ = backend.deregister(&mut u.sock);
        true
    }
}
