//! `ptk_now_ms`: the monotonic clock in milliseconds.
#![allow(unsafe_code)] // Exports a C symbol (`#[no_mangle]`); no pointer is dereferenced here.

use crate::guard::guard_or;

/// `uint64_t ptk_now_ms(void)`: milliseconds of a monotonic clock (for intervals, not
/// dates), [`ptk_loop::now_ms`].
#[no_mangle]
pub extern "C" fn ptk_now_ms() -> u64 {
    guard_or(0, ptk_loop::now_ms)
}
