//! The C side's record of every loop group and of every object's C callback.
//!
//! A `ptk_loop *` is not an address: it is `serial << 8 | group id`, checked against the
//! live groups on every call, so a destroyed loop's handle is refused instead of
//! dereferenced. A `ptk_sock *` is the object's [`Sock`] as an integer (its group id is the
//! low byte, so a call that gets only the socket finds the group here).
//!
//! Each group has a binding table, one entry per object slot (worker × slot, the layout
//! `Sock` documents): the C callback and `user_data` of the object in that slot, and which
//! `Sock` they belong to. Events read it without a lock; binding and unbinding (creation,
//! accept, close, `ptk_sock_set_user_data`) take the group's `bind` mutex, so they happen per
//! object, never per message.

use std::cell::RefCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ptk_loop::{Loop, LoopHandle, Sock};

use crate::binding::Entry;
use crate::event::ptk_callback;

/// Object slots per worker: `LoopOpts::sockets_per_worker`, the same for every group.
pub const SOCKETS_PER_WORKER: usize = 1024;

/// What an object was made with: handed to `ptk_loop` as the object's `user_data`, so the
/// first events of an object find its callback even before the creating call returns.
pub struct Binding {
    /// The group that made the object.
    pub group: Arc<Group>,
    /// The C callback.
    pub callback: ptk_callback,
    /// The C user data.
    pub user_data: *mut c_void,
}

/// A loop group as the C API knows it.
pub struct Group {
    /// `ptk_loop *`'s serial part.
    pub serial: u64,
    /// The `ptk_loop` group id of its objects (0 until the first one is made).
    gid: AtomicUsize,
    /// Set (under the table's lock) when the group leaves the table: it is never published
    /// in [`LIVE`] again.
    removed: AtomicBool,
    /// Per worker: whether that worker's thread has the group as its current group.
    current_on: Box<[AtomicBool]>,
    /// Calls on the group (does not keep it alive).
    pub handle: LoopHandle,
    /// The group itself, until `ptk_loop_destroy` takes it.
    pub owner: Mutex<Option<Loop>>,
    /// One per object slot.
    entries: Box<[Entry]>,
}

/// The C callback and user data of an object, read at an event.
pub struct Target {
    /// The C callback.
    pub callback: ptk_callback,
    /// The C user data.
    pub user_data: *mut c_void,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Group {
    /// A group around `lp`, with an entry per object slot of its workers.
    pub fn new(serial: u64, lp: Loop) -> Group {
        let workers = lp.workers();
        Group {
            serial,
            gid: AtomicUsize::new(0),
            removed: AtomicBool::new(false),
            current_on: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            handle: lp.handle().clone(),
            owner: Mutex::new(Some(lp)),
            entries: (0..workers * SOCKETS_PER_WORKER)
                .map(|_| Entry::default())
                .collect(),
        }
    }

    /// The entry of `sock`'s slot (the layout `Sock` documents: worker in bits 8-15, slot in
    /// bits 16-39).
    fn entry(&self, sock: Sock) -> Option<&Entry> {
        let v = sock.to_u64();
        let worker = (v >> 8) as u8 as usize;
        let slot = ((v >> 16) & 0xff_ffff) as usize;
        if slot >= SOCKETS_PER_WORKER {
            return None;
        }
        self.entries.get(worker * SOCKETS_PER_WORKER + slot)
    }

    /// Binds `sock` to a callback and user data unless it is bound or closed already.
    /// `owned`: the `Box<Binding>` to free at its close, if the entry owns one.
    pub fn bind(&self, sock: Sock, callback: ptk_callback, user_data: *mut c_void, owned: usize) {
        if let Some(e) = self.entry(sock) {
            e.bind(sock.to_u64(), callback, user_data as usize, owned);
        }
    }

    /// The callback and user data bound to `sock`, if it is bound.
    pub fn target(&self, sock: Sock) -> Option<Target> {
        let b = self.entry(sock)?.read(sock.to_u64())?;
        Some(Target {
            callback: b.callback,
            user_data: b.user_data as *mut c_void,
        })
    }

    /// Changes the user data of a bound object; false if `sock` is not bound.
    pub fn set_user_data(&self, sock: Sock, user_data: *mut c_void) -> bool {
        self.entry(sock)
            .is_some_and(|e| e.set_user_data(sock.to_u64(), user_data as usize))
    }

    /// Unbinds `sock` after its CLOSE, freeing the binding it owned.
    pub fn unbind(&self, sock: Sock) {
        if let Some(owned) = self.entry(sock).and_then(|e| e.unbind(sock.to_u64())) {
            free_binding(owned);
        }
    }

    /// Delivers `each` for every object still bound, unbinding them all (for CLOSE at
    /// destroy, after the workers stopped).
    pub fn drain(&self, mut each: impl FnMut(Sock, Target)) {
        for entry in self.entries.iter() {
            let [cur, prev] = entry.snapshot();
            for b in [prev, cur] {
                let Some(sock) = Sock::from_u64(b.sock) else {
                    continue;
                };
                each(
                    sock,
                    Target {
                        callback: b.callback,
                        user_data: b.user_data as *mut c_void,
                    },
                );
                self.unbind(sock);
            }
        }
    }
}

/// Frees a `Box<Binding>` made by [`binding_into_raw`]; 0 is nothing.
pub fn free_binding(raw: usize) {
    if raw != 0 {
        // SAFETY: non-zero values come from `binding_into_raw`, and each is freed once: an
        // entry hands its record out once (taken under its books' lock at the CLOSE), or the
        // creating call frees it itself when creation failed (then no entry ever held it).
        #[allow(unsafe_code)]
        drop(unsafe { Box::from_raw(raw as *mut Binding) });
    }
}

/// A binding as the `usize` user data of a `ptk_loop` object.
pub fn binding_into_raw(b: Box<Binding>) -> usize {
    Box::into_raw(b) as usize
}

/// Reads the binding a `ptk_loop` object's user data points at.
///
/// # Safety
///
/// `raw` came from [`binding_into_raw`] and was not freed.
#[allow(unsafe_code)]
pub unsafe fn binding_at<'a>(raw: usize) -> Option<&'a Binding> {
    // SAFETY: the caller promises `raw` is 0 or a live binding.
    unsafe { (raw as *const Binding).as_ref() }
}

/// Every live group by its `ptk_loop *` index, and by its `ptk_loop` group id (the low byte
/// of its `Sock`s, learned from the first object it makes).
struct Table {
    by_index: [Option<Arc<Group>>; 256],
    by_gid: [Option<Arc<Group>>; 256],
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    by_index: [const { None }; 256],
    by_gid: [const { None }; 256],
});
/// The live groups by `ptk_loop` group id, for the workers' deliveries: published when the
/// group id is learnt, withdrawn when the group leaves the table (before its workers are
/// stopped and joined; `ptk_loop_destroy` holds the group until after that).
static LIVE: [AtomicPtr<Group>; 256] = [const { AtomicPtr::new(std::ptr::null_mut()) }; 256];

/// The serial of the next group.
static SERIAL: AtomicU64 = AtomicU64::new(1);
/// 1 + the index of the most recently created group still alive (0: none).
static LATEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The group whose callback runs on this thread (set by the delivery of an event).
    static CURRENT: RefCell<Option<Arc<Group>>> = const { RefCell::new(None) };
}

/// Records a new group; `None` when 256 are alive. Returns its `ptk_loop *` value.
pub fn insert(lp: Loop) -> Result<(usize, Arc<Group>), Loop> {
    let mut t = lock(&TABLE);
    let Some(index) = t.by_index.iter().position(Option::is_none) else {
        return Err(lp);
    };
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let group = Arc::new(Group::new(serial, lp));
    t.by_index[index] = Some(Arc::clone(&group));
    LATEST.store(index + 1, Ordering::Release);
    Ok(((serial << 8 | index as u64) as usize, group))
}

/// The group a `ptk_loop *` names, if it is alive.
pub fn by_loop(handle: usize) -> Option<Arc<Group>> {
    let group = lock(&TABLE).by_index[handle & 0xff].clone()?;
    (group.serial == (handle as u64) >> 8).then_some(group)
}

/// Removes the group a `ptk_loop *` names.
pub fn remove(handle: usize) -> Option<Arc<Group>> {
    let index = handle & 0xff;
    let mut t = lock(&TABLE);
    if t.by_index[index].as_ref()?.serial != (handle as u64) >> 8 {
        return None;
    }
    let _ = LATEST.compare_exchange(index + 1, 0, Ordering::AcqRel, Ordering::Acquire);
    let group = t.by_index[index].take()?;
    group.removed.store(true, Ordering::Release);
    let gid = group.gid.load(Ordering::Acquire);
    let _ = LIVE[gid].compare_exchange(
        Arc::as_ptr(&group).cast_mut(),
        std::ptr::null_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    if t.by_gid[gid]
        .as_ref()
        .is_some_and(|g| Arc::ptr_eq(g, &group))
    {
        t.by_gid[gid] = None;
    }
    Some(group)
}

fn gid_of(sock: Sock) -> usize {
    (sock.to_u64() & 0xff) as usize
}

/// Notes that `group` makes objects with `sock`'s group id.
pub fn learn(group: &Arc<Group>, sock: Sock) {
    let gid = gid_of(sock);
    if group.gid.swap(gid, Ordering::AcqRel) != gid {
        let mut t = lock(&TABLE);
        if !group.removed.load(Ordering::Acquire) {
            t.by_gid[gid] = Some(Arc::clone(group));
            LIVE[gid].store(Arc::as_ptr(group).cast_mut(), Ordering::Release);
        }
    }
}

/// Runs `f` with the live group of `sock`'s group id, on one of its workers, if that
/// worker's thread has it as its current group already (the fast path of every event: one
/// atomic load, no lock, no reference count, no thread-local).
///
/// Only for deliveries: the caller is a worker of the group, so the group cannot be freed
/// while `f` runs.
#[inline(always)]
pub fn with_live<R>(sock: Sock, f: impl FnOnce(&Group) -> R) -> Option<R> {
    let p = LIVE[gid_of(sock)].load(Ordering::Acquire);
    // SAFETY: a published pointer is withdrawn (under the table's lock) before the group's
    // workers are stopped, and `ptk_loop_destroy` holds the group's `Arc` until it has joined
    // them; this runs on one of those workers, inside a delivery, so the group is alive.
    #[allow(unsafe_code)]
    let group = unsafe { p.as_ref() }?;
    let ready = group
        .current_on
        .get(sock.worker())
        .is_some_and(|r| r.load(Ordering::Relaxed));
    ready.then(|| f(group))
}

/// The group that owns `sock`: this thread's current group if it is that one, else from the
/// table.
pub fn by_sock(sock: Sock) -> Option<Arc<Group>> {
    let gid = gid_of(sock);
    with_current(sock, Arc::clone).or_else(|| lock(&TABLE).by_gid[gid].clone())
}

/// The group whose callback runs on this thread, else the most recently created one.
pub fn current_or_latest() -> Option<Arc<Group>> {
    CURRENT
        .with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
        .or_else(|| {
            let latest = LATEST.load(Ordering::Acquire);
            latest
                .checked_sub(1)
                .and_then(|i| lock(&TABLE).by_index[i].clone())
        })
}

/// Makes `group` the current group of this thread, the thread of `sock`'s worker.
pub fn set_current_worker(group: &Arc<Group>, sock: Sock) {
    set_current(group);
    if is_current(group) {
        if let Some(r) = group.current_on.get(sock.worker()) {
            r.store(true, Ordering::Relaxed);
        }
    }
}

/// Makes `group` this thread's current group.
pub fn set_current(group: &Arc<Group>) {
    CURRENT.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if !c.as_ref().is_some_and(|g| Arc::ptr_eq(g, group)) {
                *c = Some(Arc::clone(group));
            }
        }
    });
}

/// Replaces this thread's current group; the one it had.
/// While a callback of this thread runs (its delivery borrows the current group), nothing
/// is swapped and `group` is handed back.
pub fn swap_current(group: Option<Arc<Group>>) -> Option<Arc<Group>> {
    CURRENT.with(|c| match c.try_borrow_mut() {
        Ok(mut c) => std::mem::replace(&mut *c, group),
        Err(_) => group,
    })
}

/// Whether this thread is delivering `group`'s events (one of its workers).
pub fn is_current(group: &Arc<Group>) -> bool {
    CURRENT.with(|c| {
        c.try_borrow()
            .is_ok_and(|c| c.as_ref().is_some_and(|g| Arc::ptr_eq(g, group)))
    })
}

/// Runs `f` with this thread's current group if it owns `sock`, without touching a lock or a
/// reference count (the fast path of every event and of calls from callbacks); `None` if
/// the thread has no current group or another one.
#[inline(always)]
pub fn with_current<R>(sock: Sock, f: impl FnOnce(&Arc<Group>) -> R) -> Option<R> {
    let gid = gid_of(sock);
    CURRENT.with(|c| {
        let c = c.try_borrow().ok()?;
        let g = c
            .as_ref()
            .filter(|g| g.gid.load(Ordering::Relaxed) == gid)?;
        Some(f(g))
    })
}
