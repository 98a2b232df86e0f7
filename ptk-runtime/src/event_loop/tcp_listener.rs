//! TCP listeners: binding with the options of [`ListenOptions`], and taking connections off
//! the accept queue even when the process is out of file descriptors.

use std::io::ErrorKind;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Capacity, Error, Result};
use crate::event::ListenOptions;
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::backend::{Backend, Interest};
use super::side::{Attempt, Side};

/// The state of one TCP listener (opaque; see
/// [`Storage::tcp_listeners`](super::Storage::tcp_listeners)).
pub struct ListenerEntry {
    sock: mio::net::TcpListener,
    pub(crate) read: Side,
}

impl ListenerEntry {
    /// The socket (for options and addresses).
    pub(crate) fn sock(&self) -> &mio::net::TcpListener {
        &self.sock
    }
}

/// The TCP listeners of one loop.
pub(crate) struct Listeners<'s> {
    pool: Pool<'s, ListenerEntry>,
    /// A descriptor kept in reserve so an `accept` that hits `EMFILE` can still take the
    /// pending connection off the queue (and close it) instead of spinning on it.
    spare_fd: Option<std::fs::File>,
    /// Connections refused for want of room since the last one accepted: an episode, logged
    /// when it starts and when it ends rather than once per connection.
    refusing: u64,
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

/// Opens the reserve descriptor used when `accept` meets `EMFILE`.
fn open_spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

/// [`open_spare`], saying so when there is none: out of descriptors, `accept` then cannot
/// take a pending connection off the queue to refuse it.
fn spare_or_warn() -> Option<std::fs::File> {
    let spare = open_spare();
    if spare.is_none() {
        ptk_warn!(
            "cannot open /dev/null for the reserve descriptor: when out of file descriptors, \
             listeners cannot refuse pending connections and stay readable"
        );
    }
    spare
}

impl<'s> Listeners<'s> {
    pool_accessors!(ListenerEntry: len, capacity, get, get_mut, contains, handle_at, generations, grow);

    /// Listeners over `slots`; `spare` keeps a reserve descriptor (not for a loop-less core).
    pub(crate) fn new(slots: &'s mut [Slot<ListenerEntry>], loop_id: u8, spare: bool) -> Self {
        Listeners {
            pool: Pool::new(
                slots,
                ResourceType::TcpListener,
                loop_id,
                Capacity::TcpListeners,
            ),
            spare_fd: if spare { spare_or_warn() } else { None },
            refusing: 0,
        }
    }

    /// A connection was taken off a queue and closed for want of room (`peer`, when it is
    /// known): logs the first of an episode.
    #[cold]
    #[inline(never)]
    pub(crate) fn refused(&mut self, peer: Option<SocketAddr>, why: Error) {
        if self.refusing == 0 {
            match peer {
                Some(peer) => ptk_warn!("refusing connections, starting with {peer}: {why}"),
                None => ptk_warn!("refusing connections: {why}"),
            }
        }
        self.refusing += 1;
    }

    /// A connection was accepted: ends an episode of refusals.
    #[inline]
    pub(crate) fn accepted(&mut self) {
        if self.refusing > 0 {
            self.end_refusals();
        }
    }

    #[cold]
    #[inline(never)]
    fn end_refusals(&mut self) {
        ptk_info!(
            "accepting connections again after refusing {}",
            self.refusing
        );
        self.refusing = 0;
    }

    /// Binds, listens and registers a listener on `addr`.
    pub(crate) fn listen(
        &mut self,
        addr: SocketAddr,
        o: &ListenOptions,
        backend: &Backend,
    ) -> Result<RawHandle> {
        if self.pool.len() == self.pool.capacity() {
            return Err(Error::OutOfResources(Capacity::TcpListeners));
        }
        let sock = listener_socket(addr, o)?;
        self.adopt(sock.into(), backend)
    }

    /// Registers a listening socket made elsewhere (bound, listening and non-blocking).
    pub(crate) fn adopt(
        &mut self,
        sock: std::net::TcpListener,
        backend: &Backend,
    ) -> Result<RawHandle> {
        if self.pool.len() == self.pool.capacity() {
            return Err(Error::OutOfResources(Capacity::TcpListeners));
        }
        let entry = ListenerEntry {
            sock: mio::net::TcpListener::from_std(sock),
            read: Side::new(false),
        };
        let h = self.pool.insert(entry).map_err(|(_, e)| e)?;
        let registered = match self.pool.get_mut(h) {
            Ok(l) => backend.register(&mut l.sock, h, Interest::Read),
            Err(_) => Ok(()),
        };
        if let Err(e) = registered {
            let _ = self.pool.remove(h);
            return Err(e.into());
        }
        Ok(h)
    }

    /// Takes one connection off the queue of listener `h`.
    ///
    /// When the process is out of descriptors, the pending connection is taken with the
    /// reserve descriptor and closed (the peer sees a reset), so the listener does not stay
    /// readable forever, and the error is `OutOfResources(FileDescriptors)`.
    pub(crate) fn accept(&mut self, h: RawHandle) -> Attempt<(mio::net::TcpStream, SocketAddr)> {
        let entry = match self.pool.get_mut(h) {
            Ok(e) => e,
            Err(e) => return Attempt::Failed(e),
        };
        match entry.sock.accept() {
            Ok(pair) => Attempt::Done(pair),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                entry.read.ready = false;
                Attempt::WouldBlock
            }
            Err(e)
                if e.kind() == ErrorKind::Interrupted
                    || e.kind() == ErrorKind::ConnectionAborted =>
            {
                // The peer gave up before we took it; the listener itself is fine.
                Attempt::Failed(Error::ConnectionReset)
            }
            Err(e) => {
                let err = Error::from(e);
                if err == Error::OutOfResources(Capacity::FileDescriptors) {
                    if self.shed_one(h) {
                        return Attempt::WouldBlock;
                    }
                    self.refused(None, err);
                }
                Attempt::Failed(err)
            }
        }
    }

    /// After `EMFILE`: takes the pending connection off the queue with the reserve descriptor
    /// and closes it. Linux takes the descriptor before it looks at the queue, so `EMFILE`
    /// also comes with nothing pending: then this returns `true` and the listener is simply
    /// not readable.
    fn shed_one(&mut self, h: RawHandle) -> bool {
        self.spare_fd = None;
        let nothing_pending = match self.pool.get_mut(h) {
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
            if let Ok(l) = self.pool.get_mut(h) {
                l.read.ready = false;
            }
        }
        nothing_pending
    }

    /// Deregisters and closes listener `h`; `false` if it names none.
    pub(crate) fn close(&mut self, h: RawHandle, backend: &Backend) -> bool {
        let Ok(mut l) = self.pool.remove(h) else {
            return false;
        };
        let _ = backend.deregister(&mut l.sock);
        true
    }
}
