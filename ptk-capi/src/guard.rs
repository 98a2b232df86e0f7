//! No panic crosses into C: every exported function runs its body through [`guard`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{ptk_err, PTK_ERR_INVALID_PARAM};

/// Runs `f`; a panic (a bug in this crate, never a C caller's doing) becomes
/// `PTK_ERR_INVALID_PARAM` instead of unwinding into C.
pub fn guard(f: impl FnOnce() -> ptk_err) -> ptk_err {
    guard_or(PTK_ERR_INVALID_PARAM, f)
}

/// As [`guard`] for functions that return something else: `fallback` on a panic.
pub fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    // The closures only touch state that stays consistent across a panic (the registry's
    // mutexes are re-taken through poisoning), so asserting unwind safety is sound.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
