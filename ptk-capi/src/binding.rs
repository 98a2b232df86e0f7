//! [`Entry`]: the C callback and user data bound to one object slot, read without a lock.
//!
//! Every event reads its object's entry, on the worker that owns the slot; the entry changes
//! only when an object is made, accepted, closed or given new user data. So reads are a
//! sequence lock (a counter that is odd while a writer works, read before and after), and
//! writers take a mutex among themselves, which also guards the bookkeeping readers never
//! need (which binding record to free, which handle closed last).
//!
//! `ptk_loop` frees a slot when it closes the object and then delivers the CLOSE, so a new
//! object may be bound to the slot before the old one's CLOSE is delivered: the old binding
//! moves to `prev` until then.
#![allow(unsafe_code)] // Turns the stored address back into the C function pointer it was.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::event::{ptk_callback, ptk_event};

/// One bound object, as the readers see it.
#[derive(Default)]
struct Slot {
    /// The object's `Sock` as `u64`; 0: none.
    sock: AtomicU64,
    /// The C callback's address; 0: none.
    callback: AtomicUsize,
    user_data: AtomicUsize,
}

/// What only writers use.
#[derive(Default)]
struct Books {
    /// The binding record each slot's object owns (freed at its CLOSE; 0: none, as for an
    /// accepted connection, which uses its server's): [cur, prev].
    owned: [usize; 2],
    /// The last handle whose CLOSE was delivered: a late bind of it (the creating call
    /// returning after the object closed already) is ignored.
    closed: u64,
}

/// A bound object, copied out.
#[derive(Clone, Copy)]
pub struct Bound {
    /// The object's handle as `u64`.
    pub sock: u64,
    /// Its C callback.
    pub callback: ptk_callback,
    /// Its C user data.
    pub user_data: usize,
}

/// One object slot's bindings: the current object and the one before it.
#[derive(Default)]
pub struct Entry {
    seq: AtomicU32,
    slots: [Slot; 2],
    books: Mutex<Books>,
}

const CUR: usize = 0;
const PREV: usize = 1;

fn callback_from(addr: usize) -> ptk_callback {
    if addr == 0 {
        return None;
    }
    // SAFETY: every non-zero address stored was a `ptk_callback` function pointer
    // (`callback_addr`), and function pointers round-trip through `usize` unchanged.
    Some(unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*const ptk_event)>(addr) })
}

fn callback_addr(callback: ptk_callback) -> usize {
    callback.map_or(0, |f| f as usize)
}

impl Entry {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a change to the slots as a writer of the sequence lock (the books are held).
    fn write(&self, change: impl FnOnce(&[Slot; 2])) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        change(&self.slots);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }

    fn load(slot: &Slot) -> Bound {
        Bound {
            sock: slot.sock.load(Ordering::Relaxed),
            callback: callback_from(slot.callback.load(Ordering::Relaxed)),
            user_data: slot.user_data.load(Ordering::Relaxed),
        }
    }

    /// Both slots, consistent: lock-free unless a writer is at work.
    pub fn snapshot(&self) -> [Bound; 2] {
        for _ in 0..64 {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                let both = [
                    Entry::load(&self.slots[CUR]),
                    Entry::load(&self.slots[PREV]),
                ];
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return both;
                }
            }
            std::hint::spin_loop();
        }
        // A writer keeps the slots busy: wait for it on the books.
        let _books = self.books();
        [
            Entry::load(&self.slots[CUR]),
            Entry::load(&self.slots[PREV]),
        ]
    }

    /// The binding of handle `sock`, if it is bound here.
    pub fn read(&self, sock: u64) -> Option<Bound> {
        self.snapshot()
            .into_iter()
            .find(|b| b.sock == sock && sock != 0)
    }

    /// Binds `sock` unless it is bound or closed already; the object owns binding record
    /// `owned` (0: none). An object still bound as current moves to `prev`.
    pub fn bind(&self, sock: u64, callback: ptk_callback, user_data: usize, owned: usize) {
        let mut books = self.books();
        let cur = self.slots[CUR].sock.load(Ordering::Relaxed);
        let prev = self.slots[PREV].sock.load(Ordering::Relaxed);
        if cur == sock || prev == sock || books.closed == sock {
            return;
        }
        // Two objects' CLOSEs pending on one slot would need the slot freed and reused twice
        // within one delivery; then the oldest record leaks rather than being freed early.
        self.write(|slots| {
            if cur != 0 {
                let (t, f) = (&slots[PREV], &slots[CUR]);
                t.sock
                    .store(f.sock.load(Ordering::Relaxed), Ordering::Relaxed);
                t.callback
                    .store(f.callback.load(Ordering::Relaxed), Ordering::Relaxed);
                t.user_data
                    .store(f.user_data.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            let c = &slots[CUR];
            c.sock.store(sock, Ordering::Relaxed);
            c.callback.store(callback_addr(callback), Ordering::Relaxed);
            c.user_data.store(user_data, Ordering::Relaxed);
        });
        if cur != 0 {
            books.owned[PREV] = books.owned[CUR];
        }
        books.owned[CUR] = owned;
    }

    /// Changes the user data of `sock`; false if it is not bound here.
    pub fn set_user_data(&self, sock: u64, user_data: usize) -> bool {
        let _books = self.books();
        let Some(i) = (0..2).find(|&i| self.slots[i].sock.load(Ordering::Relaxed) == sock) else {
            return false;
        };
        self.write(|slots| slots[i].user_data.store(user_data, Ordering::Relaxed));
        true
    }

    /// Unbinds `sock` after its CLOSE; the binding record it owned (0: none), or `None` if it
    /// was not bound here.
    pub fn unbind(&self, sock: u64) -> Option<usize> {
        let mut books = self.books();
        let i =
            (0..2).find(|&i| sock != 0 && self.slots[i].sock.load(Ordering::Relaxed) == sock)?;
        self.write(|slots| {
            slots[i].sock.store(0, Ordering::Relaxed);
            slots[i].callback.store(0, Ordering::Relaxed);
            slots[i].user_data.store(0, Ordering::Relaxed);
        });
        books.closed = sock;
        Some(std::mem::take(&mut books.owned[i]))
    }
}
