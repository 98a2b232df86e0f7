//! A global allocator that counts allocations once armed.
//!
//! Each server binary installs it with `#[global_allocator]` and arms it right after its
//! listener is ready, so start-up memory (pools, buffers, the runtime) is not counted and
//! everything after it is: per connection and per message.
#![allow(unsafe_code)] // `GlobalAlloc` is an unsafe trait; this module only forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ARMED: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls (and their
/// bytes) once [`arm_allocation_counter`] was called.
///
/// # Examples
///
/// ```
/// #[global_allocator]
/// static ALLOC: ptk_bench::CountingAlloc = ptk_bench::CountingAlloc;
///
/// ptk_bench::arm_allocation_counter();
/// let v = vec![1u8; 10];
/// assert_eq!(ptk_bench::allocations(), (1, 10));
/// drop(v);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

#[inline]
fn note(bytes: usize) {
    if ARMED.load(Ordering::Relaxed) {
        COUNT.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// contract `GlobalAlloc` asks of an implementation is the one `System` keeps; the counting
// touches only atomics and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is `System`, with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the size rules.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting allocations (call once the server is ready to accept).
pub fn arm_allocation_counter() {
    ARMED.store(true, Ordering::Relaxed);
}

/// Allocations and allocated bytes counted since [`arm_allocation_counter`].
pub fn allocations() -> (u64, u64) {
    (COUNT.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed))
}
