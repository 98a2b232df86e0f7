//! TCP listeners: binding with the options of [`ListenOptions`], and taking connections off
//! the accept queue even when the process is out of file descriptors.
//!
//! # Accepting in the ring (io_uring)
//!
//! Where the backend accepts in the ring ([`Backend::accepts_in_ring`]), each listener keeps
//! one multishot accept armed. Each of its completions is an accepted descriptor, held in the
//! listener's queue (a list through the loop's store of held descriptors, made with the loop:
//! nothing is allocated per connection) until [`Listeners::accept`] takes it, the peer's
//! address then read with `getpeername`. A completion wakes the listener's waiter exactly as
//! a readable edge does. Once the queue holds [`ACCEPT_QUEUE`] descriptors the accept is
//! cancelled (connections then wait in the kernel's backlog, as when nobody accepts on the
//! direct path), and it is armed again when `accept` has taken the queue down to half;
//! completions already posted when the cancel lands are still held (in the store's room
//! beyond the queues). An accept the kernel ends (no `IORING_CQE_F_MORE`) is armed again; one
//! that ends with an error hands the error to the next `accept`, which reports it as the
//! direct path would, and the listener then accepts directly (the readiness poll stays
//! registered for that) until a direct accept finds the backlog drained, when the multishot
//! accept is armed again.
//!
//! Closing a listener cancels its accept and closes the descriptors it held. A completion
//! carries the listener's slot and generation ([`op::ACCEPT`]), so one that comes after the
//! close (the slot maybe reused already) closes its descriptor and reaches nobody. An arm
//! number in the code tells the completions of an accept cancelled and armed again apart.
//! Dropping the loop cancels every accept and handles completions until the kernel has
//! ended them all ([`Listeners::cancel_accepts`]), so no accepted descriptor is left open.
//! The store is made only for a loop made with listener slots: one that gets its first
//! slots from `EventLoop::grow` accepts directly.

use std::io::ErrorKind;
use std::net::SocketAddr;
#[cfg(unix)]
use std::os::fd::OwnedFd;
#[cfg(not(unix))]
type OwnedFd = std::convert::Infallible;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Capacity, Error, Result};
use crate::event::ListenOptions;
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::backend::errno::{ECANCELED, EINVAL};
use super::backend::{op, Backend, Interest, OpDone, ACCEPT_ARMS, ACCEPT_MORE};
use super::side::{Attempt, Side};

/// Descriptors a listener's multishot accept holds for `accept` before it is stopped.
pub(crate) const ACCEPT_QUEUE: u32 = 64;
/// Accepted descriptors a loop holds for all its listeners at most (the queues, and what
/// comes after a queue filled while its accept's cancel was on the way): beyond, a
/// connection is closed (refused) at once.
const STORE: usize = 4096;
/// No entry of the store.
const NIL: u32 = u32::MAX;

/// One entry of the store of accepted descriptors: a descriptor and the next entry of its
/// list (a listener's queue, or the free list).
struct Held {
    fd: Option<OwnedFd>,
    next: u32,
}

/// A listener's multishot accept and the queue of what it accepted.
#[derive(Clone, Copy, Debug)]
struct RingAccept {
    /// The queue: first and last entry of the store, and length.
    head: u32,
    tail: u32,
    len: u32,
    /// The arm number of the accept last queued.
    arm: u32,
    /// That accept is armed: neither cancelled nor ended.
    live: bool,
    /// The `errno` that ended it, for the next `accept` to report (0: none).
    error: i32,
}

impl RingAccept {
    const NEW: RingAccept = RingAccept {
        head: NIL,
        tail: NIL,
        len: 0,
        arm: 0,
        live: false,
        error: 0,
    };
}

/// The state of one TCP listener (opaque; see
/// [`Storage::tcp_listeners`](super::Storage::tcp_listeners)).
pub struct ListenerEntry {
    sock: mio::net::TcpListener,
    pub(crate) read: Side,
    ring: RingAccept,
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
    /// Listeners accept through a multishot accept in the ring (see the module docs).
    ring: bool,
    /// The store of accepted descriptors not taken yet (empty unless `ring`).
    store: Vec<Held>,
    /// The first free entry of the store.
    free: u32,
    /// Multishot accepts in the kernel: armed and not yet ended by their last completion
    /// (the one without `IORING_CQE_F_MORE`), whether their listener lives or not.
    in_kernel: u32,
}

/// Takes ownership of the descriptor an accept completion brought (`fd` non-negative).
#[cfg(unix)]
#[allow(unsafe_code)]
fn own(fd: i32) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` is the result of an accept completion (non-negative): a descriptor the
    // kernel installed for this process, which nothing else names, and each completion is
    // handled once (`accept_done`).
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(unix))]
fn own(_: i32) -> Option<OwnedFd> {
    None
}

/// The stream of an accepted descriptor.
#[cfg(unix)]
fn stream(fd: OwnedFd) -> mio::net::TcpStream {
    mio::net::TcpStream::from_std(std::net::TcpStream::from(fd))
}

#[cfg(not(unix))]
fn stream(fd: OwnedFd) -> mio::net::TcpStream {
    match fd {}
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

    /// Listeners over `slots`; `spare` keeps a reserve descriptor (not for a loop-less core);
    /// `ring`: they accept in the ring ([`Backend::accepts_in_ring`]).
    pub(crate) fn new(
        slots: &'s mut [Slot<ListenerEntry>],
        loop_id: u8,
        spare: bool,
        ring: bool,
    ) -> Self {
        let ring = ring && !slots.is_empty() && slots.len() <= op::SLOTS as usize;
        let n = if ring { STORE } else { 0 };
        let store = (0..n)
            .map(|i| Held {
                fd: None,
                next: if i + 1 < n { i as u32 + 1 } else { NIL },
            })
            .collect();
        Listeners {
            ring,
            store,
            free: if n > 0 { 0 } else { NIL },
            in_kernel: 0,
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
            ring: RingAccept::NEW,
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
        if self.ring {
            // Not armed (the queue full of a submission error): the listener accepts
            // directly until it finds the backlog drained, and arms it then.
            let _ = self.arm(h, backend);
        }
        Ok(h)
    }

    /// The code of listener `h`'s accept number `arm`.
    #[inline]
    fn code(h: RawHandle, arm: u32) -> u64 {
        op::encode(op::ACCEPT, h.slot(), h.generation(), arm)
    }

    /// Arms a new multishot accept on listener `h`.
    fn arm(&mut self, h: RawHandle, backend: &Backend) -> std::io::Result<()> {
        let Ok(l) = self.pool.get_mut(h) else {
            return Ok(());
        };
        let arm = (l.ring.arm + 1) % ACCEPT_ARMS;
        backend.arm_accept(&l.sock, Self::code(h, arm))?;
        l.ring.arm = arm;
        l.ring.live = true;
        self.in_kernel += 1;
        Ok(())
    }

    /// Multishot accepts still in the kernel (see [`cancel_accepts`](Self::cancel_accepts)).
    pub(crate) fn accepts_in_kernel(&self) -> u32 {
        self.in_kernel
    }

    /// Cancels every armed multishot accept (the loop is dropped): the descriptors the
    /// kernel accepted until each cancel lands still come as completions, which must be
    /// handled until [`accepts_in_kernel`](Self::accepts_in_kernel) is 0, or they would stay
    /// open when the ring closes.
    pub(crate) fn cancel_accepts(&mut self, backend: &Backend) {
        for i in 0..self.pool.capacity() {
            let Some(h) = self.handle_at(i) else {
                continue;
            };
            if let Ok(l) = self.pool.get_mut(h) {
                if l.ring.live {
                    l.ring.live = false;
                    let _ = backend.cancel(Self::code(h, l.ring.arm));
                }
            }
        }
        // Nothing is armed again from now on.
        self.ring = false;
    }

    /// The completion of a multishot accept: the descriptor held in its listener's queue
    /// (and the listener returned, to be woken as by a readable edge), or, for a listener
    /// closed since, closed.
    pub(crate) fn accept_done(
        &mut self,
        d: OpDone,
        backend: Option<&Backend>,
    ) -> Option<RawHandle> {
        let aux = op::aux(d.user_data);
        let (more, arm) = (aux & ACCEPT_MORE != 0, aux & (ACCEPT_ARMS - 1));
        if !more {
            self.in_kernel = self.in_kernel.saturating_sub(1);
        }
        let fd = if d.result >= 0 { own(d.result) } else { None };
        let h = self
            .handle_at(op::slot(d.user_data) as usize)
            .filter(|h| h.generation() == op::generation(d.user_data))?;
        // (`?`: the listener closed, `fd` is dropped, which closes the connection.)
        let l = self.pool.get_mut(h).ok()?;
        let current = arm == l.ring.arm;
        let (mut wake, mut refuse) = (false, false);
        if let Some(fd) = fd {
            wake = true;
            if self.free == NIL {
                drop(fd);
                refuse = true;
            } else {
                let i = self.free;
                let e = &mut self.store[i as usize];
                self.free = e.next;
                e.fd = Some(fd);
                e.next = NIL;
                match l.ring.tail {
                    NIL => l.ring.head = i,
                    t => self.store[t as usize].next = i,
                }
                l.ring.tail = i;
                l.ring.len += 1;
            }
        } else if current && l.ring.live && d.result != -ECANCELED {
            wake = true;
            l.ring.error = -d.result;
            if d.result == -EINVAL {
                // The kernel has no multishot accept after all: accept directly from now on.
                self.ring = false;
            }
        }
        if current && !more {
            l.ring.live = false;
        }
        if refuse {
            // Every entry of the store holds a connection nobody took: this one is closed.
            self.refused(None, Error::OutOfResources(Capacity::Pool));
        }
        let Ok(l) = self.pool.get_mut(h) else {
            return None;
        };
        let Some(backend) = backend else {
            return wake.then_some(h);
        };
        if l.ring.live && l.ring.len >= ACCEPT_QUEUE {
            // Full: stop taking connections off the backlog until `accept` drains it.
            l.ring.live = false;
            let _ = backend.cancel(Self::code(h, l.ring.arm));
        } else if current && !more && d.result >= 0 && self.ring && l.ring.len < ACCEPT_QUEUE {
            // The kernel ended it without an error: armed again (a full queue is armed
            // again when `accept` drains it).
            let _ = self.arm(h, backend);
        }
        if wake {
            if let Ok(l) = self.pool.get_mut(h) {
                l.read.ready = true;
            }
        }
        wake.then_some(h)
    }

    /// Takes the first descriptor of listener `h`'s queue, arming its accept again when the
    /// queue is down to half; or the error that ended the accept; `None`: nothing held.
    fn take_held(
        &mut self,
        h: RawHandle,
        backend: Option<&Backend>,
    ) -> Option<std::result::Result<OwnedFd, std::io::Error>> {
        let l = self.pool.get_mut(h).ok()?;
        if l.ring.len == 0 {
            if l.ring.error == 0 {
                return None;
            }
            let e = std::io::Error::from_raw_os_error(l.ring.error);
            l.ring.error = 0;
            return Some(Err(e));
        }
        let i = l.ring.head;
        let e = self.store.get_mut(i as usize)?;
        let fd = e.fd.take();
        l.ring.head = e.next;
        e.next = self.free;
        self.free = i;
        l.ring.len -= 1;
        if l.ring.len == 0 {
            l.ring.tail = NIL;
        }
        let rearm = !l.ring.live && l.ring.error == 0 && l.ring.len <= ACCEPT_QUEUE / 2;
        if let (true, true, Some(backend)) = (rearm, self.ring, backend) {
            let _ = self.arm(h, backend);
        }
        fd.map(Ok)
    }

    /// Takes one connection off the queue of listener `h`.
    ///
    /// When the process is out of descriptors, the pending connection is taken with the
    /// reserve descriptor and closed (the peer sees a reset), so the listener does not stay
    /// readable forever, and the error is `OutOfResources(FileDescriptors)`.
    ///
    /// Where listeners accept in the ring, the connection comes from the listener's queue
    /// (see the module docs) and `backend` arms the accept again when due.
    pub(crate) fn accept(
        &mut self,
        h: RawHandle,
        backend: Option<&Backend>,
    ) -> Attempt<(mio::net::TcpStream, SocketAddr)> {
        let entry = match self.pool.get_mut(h) {
            Ok(e) => e,
            Err(e) => return Attempt::Failed(e),
        };
        if self.ring || entry.ring.len > 0 || entry.ring.error != 0 {
            match self.take_held(h, backend) {
                Some(Ok(fd)) => {
                    let sock = stream(fd);
                    return match sock.peer_addr() {
                        Ok(peer) => Attempt::Done((sock, peer)),
                        // Reset by the peer while it waited: closed here.
                        Err(_) => Attempt::Failed(Error::ConnectionReset),
                    };
                }
                Some(Err(e)) => return self.accept_failed(h, e),
                None => {}
            }
        }
        let entry = match self.pool.get_mut(h) {
            Ok(e) => e,
            Err(e) => return Attempt::Failed(e),
        };
        if entry.ring.live {
            // Its accept is armed: the next connection comes as its completion.
            entry.read.ready = false;
            return Attempt::WouldBlock;
        }
        match entry.sock.accept() {
            Ok(pair) => Attempt::Done(pair),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                entry.read.ready = false;
                if let (true, Some(backend)) = (self.ring, backend) {
                    // The backlog is drained: the ring takes the next connections again.
                    let _ = self.arm(h, backend);
                }
                Attempt::WouldBlock
            }
            Err(e) => self.accept_failed(h, e),
        }
    }

    /// An accept of listener `h` failed with `e` (directly or in the ring).
    fn accept_failed(
        &mut self,
        h: RawHandle,
        e: std::io::Error,
    ) -> Attempt<(mio::net::TcpStream, SocketAddr)> {
        if e.kind() == ErrorKind::Interrupted || e.kind() == ErrorKind::ConnectionAborted {
            // The peer gave up before we took it; the listener itself is fine.
            return Attempt::Failed(Error::ConnectionReset);
        }
        let err = Error::from(e);
        if err == Error::OutOfResources(Capacity::FileDescriptors) {
            if self.shed_one(h) {
                return Attempt::WouldBlock;
            }
            self.refused(None, err);
        }
        Attempt::Failed(err)
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

    /// Deregisters and closes listener `h`; `false` if it names none. Its accept in the ring
    /// is cancelled and the connections it held are closed.
    pub(crate) fn close(&mut self, h: RawHandle, backend: &Backend) -> bool {
        let Ok(mut l) = self.pool.remove(h) else {
            return false;
        };
        if l.ring.live {
            let _ = backend.cancel(Self::code(h, l.ring.arm));
        }
        let mut i = l.ring.head;
        while let Some(e) = self.store.get_mut(i as usize) {
            drop(e.fd.take());
            i = std::mem::replace(&mut e.next, self.free);
            self.free = l.ring.head;
            l.ring.head = i;
        }
        // (The cancel goes to the kernel with the deregistration's submission.)
        let _ = backend.deregister(&mut l.sock);
        true
    }
}
