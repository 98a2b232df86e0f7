//! The provided-buffer ring of the io_uring backend: chunks of the loop's buffer pool lent
//! to the kernel, which a multishot receive fills as data arrives (Linux 6.0).
//!
//! The ring is one page-aligned array of `entries` descriptors (address, length, buffer id)
//! whose tail the loop advances as it lends a chunk; the kernel takes them from the head, in
//! order, and names the one it filled in the completion's flags (the buffer id is the
//! chunk's index in the pool). Which chunks are lent, and how many, is the loop's business
//! (`ring.rs`): the backend only stores the descriptors and publishes the tail.
//!
//! The array is allocated when the loop is built ([`UringPoller::open_buf_ring`]); lending,
//! resetting and arming a receive allocate nothing.
#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::{opcode, types};

use super::{State, UringPoller};

/// The buffer group of the ring (the loop has one).
const GROUP: u16 = 0;

/// The provided-buffer ring's memory and its tail.
pub(super) struct BufRing {
    base: NonNull<types::BufRingEntry>,
    layout: Layout,
    /// Descriptors in the ring (a power of two, at most 2^15).
    entries: u16,
    /// Descriptors written so far (wrapping): the next goes at `tail & (entries - 1)`.
    tail: u16,
    /// Registered with the kernel.
    registered: bool,
}

impl BufRing {
    /// Publishes the tail to the kernel (after the descriptors it covers were written).
    fn publish(&self) {
        // SAFETY: `base` is the first descriptor of the ring, valid and initialised (zeroed
        // at allocation); the tail field is a `u16` in it, which the kernel only reads.
        let tail = unsafe { types::BufRingEntry::tail(self.base.as_ptr()) };
        // SAFETY: the tail is a naturally aligned `u16` inside the ring's memory, which lives
        // as long as `self`; the kernel reads it concurrently, hence the atomic store.
        let tail = unsafe { &*tail.cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `open_buf_ring` with this layout; `State`'s drop unregistered
        // it first (and the kernel keeps its own pin of the pages until the ring is gone).
        unsafe { alloc::dealloc(self.base.as_ptr().cast(), self.layout) };
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if let Some(b) = self.bufs.as_mut() {
            if b.registered {
                let _ = self.ring.submitter().unregister_buf_ring(GROUP);
                b.registered = false;
            }
        }
    }
}

impl UringPoller {
    /// Makes and registers a provided-buffer ring of `entries` descriptors (rounded down to
    /// a power of two, at most 2^15) for multishot receives. `false` when the kernel lacks
    /// them (before 6.0, probed by `SEND_ZC` of the same release) or refuses the ring: the
    /// loop then keeps to single receives.
    pub(crate) fn open_buf_ring(&self, entries: u32) -> bool {
        let st = &mut *self.st.borrow_mut();
        if st.bufs.is_some() || entries == 0 {
            return st.bufs.is_some();
        }
        let mut probe = io_uring::Probe::new();
        if st.ring.submitter().register_probe(&mut probe).is_err()
            || !probe.is_supported(opcode::SendZc::CODE)
        {
            return false;
        }
        let entries = 1u32 << (31 - entries.min(1 << 15).leading_zeros());
        let size = entries as usize * std::mem::size_of::<types::BufRingEntry>();
        let Ok(layout) = Layout::from_size_align(size.max(4096), 4096) else {
            return false;
        };
        // SAFETY: the layout has a non-zero size.
        let Some(base) = NonNull::new(unsafe { alloc::alloc_zeroed(layout) }) else {
            return false;
        };
        let mut ring = BufRing {
            base: base.cast(),
            layout,
            entries: entries as u16,
            tail: 0,
            registered: false,
        };
        // SAFETY: the memory is page-aligned, zeroed, holds `entries` descriptors and lives
        // until `State` is dropped, which unregisters it first.
        let ok = unsafe {
            st.ring.submitter().register_buf_ring_with_flags(
                base.as_ptr() as u64,
                entries as u16,
                GROUP,
                0,
            )
        }
        .is_ok();
        if !ok {
            return false;
        }
        ring.registered = true;
        st.bufs = Some(ring);
        true
    }

    /// Descriptors the provided-buffer ring holds (0: no ring, no multishot receives).
    pub(crate) fn buf_ring_size(&self) -> u32 {
        self.st
            .borrow()
            .bufs
            .as_ref()
            .map_or(0, |b| u32::from(b.entries))
    }

    /// Lends the chunk at `ptr` (`len` bytes, buffer id `bid`) to the kernel.
    ///
    /// # Safety
    ///
    /// The memory must stay valid, and be touched by nobody else, until a completion names
    /// `bid` or the ring is reset ([`reset_buf_ring`](Self::reset_buf_ring)) with no receive
    /// in flight; the caller lends at most as many chunks as the ring holds at once.
    pub(crate) unsafe fn lend(&self, ptr: *mut u8, len: u32, bid: u16) -> bool {
        let st = &mut *self.st.borrow_mut();
        let Some(b) = st.bufs.as_mut() else {
            return false;
        };
        let at = usize::from(b.tail & (b.entries - 1));
        // SAFETY: `at` is below `entries`, so the descriptor is inside the ring's memory; the
        // kernel does not read it before the tail covers it (published below).
        let e = unsafe { &mut *b.base.as_ptr().add(at) };
        e.set_addr(ptr as u64);
        e.set_len(len);
        e.set_bid(bid);
        b.tail = b.tail.wrapping_add(1);
        b.publish();
        true
    }

    /// Takes every lent chunk back: the ring is unregistered and registered again empty.
    /// Only with no receive in flight (after the loop took them all back).
    pub(crate) fn reset_buf_ring(&self) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        let Some(b) = st.bufs.as_mut() else {
            return Ok(());
        };
        if b.registered {
            st.ring.submitter().unregister_buf_ring(GROUP)?;
            b.registered = false;
        }
        b.tail = 0;
        b.publish();
        // SAFETY: as in `open_buf_ring`: the same memory, which outlives the registration.
        unsafe {
            st.ring.submitter().register_buf_ring_with_flags(
                b.base.as_ptr() as u64,
                b.entries,
                GROUP,
                0,
            )
        }?;
        b.registered = true;
        Ok(())
    }

    /// Queues a multishot receive on `fd` into chunks of the provided-buffer ring, under
    /// `user_data`: counted in flight until its last completion (one without
    /// `IORING_CQE_F_MORE`) is drained.
    ///
    /// While it is armed its completions are the socket's read side (data, the peer's FIN,
    /// an error), so the socket's read poll is paused: removed in the same submission, ahead
    /// of the receive, and added again by [`resume_read`](Self::resume_read) once the
    /// receive's last completion came back. A read poll would only wake the ring a second
    /// time per message for a report nobody acts on.
    pub(crate) fn recv_multi(&self, fd: RawFd, user_data: u64) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        st.pause_read(fd)?;
        let e = opcode::RecvMulti::new(types::Fd(fd), GROUP)
            .build()
            .user_data(user_data);
        // SAFETY: the receive names no memory of its own: it writes only into chunks lent
        // through `lend`, whose caller keeps them valid until a completion names them.
        let pushed = unsafe { st.push_op(&e) };
        if pushed.is_err() {
            st.resume_read(fd)?;
        }
        pushed
    }

    /// A multishot receive on `fd` ended (its last completion was drained): the read poll
    /// paused by [`recv_multi`](Self::recv_multi) is added again, which reports the socket
    /// at once if it is readable, so no edge is lost in between.
    pub(crate) fn resume_read(&self, fd: RawFd) -> io::Result<()> {
        self.st.borrow_mut().resume_read(fd)
    }
}
