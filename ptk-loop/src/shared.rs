//! What the threads calling a group and its worker loops share: per worker, the object table
//! (which handles are live, their kind, cached options and addresses), the free slots and
//! the command queue; the group registry that finds a group from a handle.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ptk_runtime::{Handle, LoopRemote, UserEvents};

use crate::buf::Buf;
use crate::error::{Error, Result};
use crate::event::{Callback, Ownership};
use crate::group::PostCallback;
use crate::sock::{Sock, SockOpt, SockType};
use crate::worker::Worker;

/// How an object calls back, decided when it is made.
#[derive(Clone, Copy)]
pub(crate) struct Config {
    pub(crate) callback: Callback,
    pub(crate) user_data: usize,
    pub(crate) callback_data: usize,
    pub(crate) ownership: Ownership,
    pub(crate) read_size: usize,
    pub(crate) keep_alive: bool,
}

/// A posted function, of one word or two.
#[derive(Clone, Copy)]
pub(crate) enum Posted {
    One(fn(usize)),
    Two(PostCallback),
}

/// Work for a worker loop, queued by any thread.
pub(crate) enum Command {
    Listen {
        sock: Sock,
        listener: TcpListener,
        config: Config,
        /// The next worker's listener of the same server, closed with this one.
        next: Option<Sock>,
    },
    /// A connection another worker accepted for this one.
    Adopt {
        sock: Sock,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        config: Config,
    },
    Connect {
        sock: Sock,
        addr: SocketAddr,
        timeout_ms: u64,
        config: Config,
    },
    Udp {
        sock: Sock,
        socket: UdpSocket,
        config: Config,
    },
    Timer {
        sock: Sock,
        ms: u64,
        repeat: bool,
        config: Config,
    },
    Write {
        sock: Sock,
        buf: Buf,
    },
    UdpSend {
        sock: Sock,
        buf: Buf,
        to: SocketAddr,
    },
    /// `quiet`: no close event (the other workers' listeners of a server).
    Close {
        sock: Sock,
        quiet: bool,
    },
    Wake {
        sock: Sock,
        user_data: usize,
    },
    Post {
        f: Posted,
        a: usize,
        b: usize,
    },
    SetOption {
        sock: Sock,
        opt: SockOpt,
        value: usize,
    },
}

/// The part of an object every thread can see.
pub(crate) struct SharedObject {
    /// The object's handle while it is open, else 0.
    pub(crate) live: AtomicU64,
    pub(crate) generation: AtomicU32,
    pub(crate) kind: AtomicU8,
    /// Set by the first close (so a second one is `Closed`).
    pub(crate) closing: AtomicBool,
    /// Option values in `SockOpt` order, as set or as last read from the kernel.
    pub(crate) options: [AtomicUsize; 5],
    /// Local and remote address, once known.
    pub(crate) addrs: Mutex<(Option<SocketAddr>, Option<SocketAddr>)>,
}

impl SharedObject {
    fn new() -> SharedObject {
        SharedObject {
            live: AtomicU64::new(0),
            generation: AtomicU32::new(0),
            kind: AtomicU8::new(0),
            closing: AtomicBool::new(false),
            options: Default::default(),
            addrs: Mutex::new((None, None)),
        }
    }

    pub(crate) fn kind(&self) -> SockType {
        match self.kind.load(Ordering::Acquire) {
            0 => SockType::TcpServer,
            1 => SockType::TcpClient,
            2 => SockType::Udp,
            _ => SockType::Timer,
        }
    }

    pub(crate) fn set_option(&self, opt: SockOpt, value: usize) {
        self.options[opt as usize].store(value, Ordering::Release);
    }

    pub(crate) fn set_addrs(&self, local: Option<SocketAddr>, remote: Option<SocketAddr>) {
        let mut a = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
        if local.is_some() {
            a.0 = local;
        }
        if remote.is_some() {
            a.1 = remote;
        }
    }
}

/// The bounded command queue of a worker.
pub(crate) struct Commands {
    pub(crate) queue: VecDeque<Command>,
    pub(crate) capacity: usize,
}

/// One worker's shared state.
pub(crate) struct WorkerShared {
    pub(crate) index: u8,
    pub(crate) objects: Box<[SharedObject]>,
    free: Mutex<Vec<u32>>,
    pub(crate) commands: Mutex<Commands>,
    /// Commands in `commands` (written under its lock): the worker skips the lock when 0.
    pub(crate) queued: AtomicUsize,
    /// How to wake the worker's loop, once it runs.
    pub(crate) door: OnceLock<(LoopRemote<Worker>, Handle<UserEvents>)>,
}

thread_local! {
    /// The address of the `WorkerShared` whose loop runs on this thread (0 on other
    /// threads).
    pub(crate) static CURRENT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// The commands that callbacks on this worker's thread queue for their own worker: no
    /// lock, no wake (the worker runs them when the callback returns), and a flood of calls
    /// from other threads cannot fill it. Made when the worker starts.
    pub(crate) static LOCAL: std::cell::RefCell<Commands> = const {
        std::cell::RefCell::new(Commands { queue: VecDeque::new(), capacity: 0 })
    };
}

/// Swaps this thread's own queue with `spare` (empty, with as much room): the caller runs
/// what was queued while new calls fill the other one.
pub(crate) fn swap_local(spare: &mut VecDeque<Command>) {
    LOCAL.with(|l| std::mem::swap(&mut l.borrow_mut().queue, spare));
}

/// Commands waiting in this thread's own queue.
pub(crate) fn local_len() -> usize {
    LOCAL.with(|l| l.borrow().queue.len())
}

impl WorkerShared {
    pub(crate) fn new(index: u8, slots: usize, commands: usize) -> WorkerShared {
        WorkerShared {
            index,
            objects: (0..slots).map(|_| SharedObject::new()).collect(),
            // Popped from the end: slot 0 is handed out first.
            free: Mutex::new((0..slots as u32).rev().collect()),
            commands: Mutex::new(Commands {
                queue: VecDeque::with_capacity(commands),
                capacity: commands,
            }),
            queued: AtomicUsize::new(0),
            door: OnceLock::new(),
        }
    }

    /// Takes a free slot for an object of `kind` and makes its handle live.
    pub(crate) fn alloc(&self, group: u8, kind: SockType) -> Result<Sock> {
        let slot = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or(Error::OutOfMemory)?;
        let o = &self.objects[slot as usize];
        let generation = o.generation.load(Ordering::Acquire).wrapping_add(1) & 0xff_ffff;
        o.generation.store(generation, Ordering::Release);
        let sock = Sock::new(group, self.index, slot, generation);
        o.kind.store(kind as u8, Ordering::Release);
        o.closing.store(false, Ordering::Release);
        for v in &o.options {
            v.store(0, Ordering::Release);
        }
        *o.addrs.lock().unwrap_or_else(|e| e.into_inner()) = (None, None);
        o.live.store(sock.to_u64(), Ordering::Release);
        Ok(sock)
    }

    /// Makes `sock` stale and its slot free (once; `false` if it already was).
    pub(crate) fn free(&self, sock: Sock) -> bool {
        let o = &self.objects[sock.slot()];
        if o.live
            .compare_exchange(sock.to_u64(), 0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // The list was made with room for every slot: no allocation.
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sock.slot() as u32);
        true
    }

    /// The object `sock` names, if it is live.
    pub(crate) fn object(&self, sock: Sock) -> Result<&SharedObject> {
        let o = self.objects.get(sock.slot()).ok_or(Error::InvalidParam)?;
        if o.live.load(Ordering::Acquire) == sock.to_u64() {
            Ok(o)
        } else {
            Err(Error::Closed)
        }
    }

    /// Queues `cmd`: on the worker's own thread in its local queue, from other threads in
    /// the shared one, waking the loop.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`] when the queue is full (the command, and a buffer in it, is
    /// dropped).
    pub(crate) fn push(&self, cmd: Command) -> Result<()> {
        if CURRENT.with(|c| c.get()) == self as *const WorkerShared as usize {
            return LOCAL.with(|l| {
                let mut l = l.borrow_mut();
                if l.queue.len() >= l.capacity {
                    return Err(Error::OutOfMemory);
                }
                l.queue.push_back(cmd);
                Ok(())
            });
        }
        {
            let mut c = self.commands.lock().unwrap_or_else(|e| e.into_inner());
            if c.queue.len() >= c.capacity {
                return Err(Error::OutOfMemory);
            }
            c.queue.push_back(cmd);
            self.queued.store(c.queue.len(), Ordering::Release);
        }
        if let Some((remote, source)) = self.door.get() {
            // A raise fails only once the loop is gone; the command then dies with it.
            let _ = remote.raise(*source, 0);
        }
        Ok(())
    }
}

/// The groups alive, by id (1 to 255), so that a call given only a handle finds its group.
static GROUPS: Mutex<[Option<Weak<crate::group::Shared>>; 256]> = Mutex::new([const { None }; 256]);
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Registers a group under a free id (round-robin, so an id comes back late).
pub(crate) fn register(
    make: impl FnOnce(u8) -> Arc<crate::group::Shared>,
) -> Result<Arc<crate::group::Shared>> {
    let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..255 {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed) % 255 + 1;
        let slot = &mut groups[id];
        if slot.as_ref().is_none_or(|w| w.strong_count() == 0) {
            let shared = make(id as u8);
            *slot = Some(Arc::downgrade(&shared));
            return Ok(shared);
        }
    }
    Err(Error::OutOfMemory)
}

/// Removes group `id` from the registry.
pub(crate) fn unregister(id: u8) {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())[usize::from(id)] = None;
}

/// The group with id `id`, if alive.
pub(crate) fn lookup(id: u8) -> Option<Arc<crate::group::Shared>> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())[usize::from(id)]
        .as_ref()
        .and_then(Weak::upgrade)
}
