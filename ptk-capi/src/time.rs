//! `ptk_now_ms`: the monotonic clock in milliseconds.
#![allow(unsafe_code)] // Exports a C symbol and reads the clock through libc.

use crate::guard::guard_or;

/// `uint64_t ptk_now_ms(void)`: milliseconds of the monotonic clock (`CLOCK_MONOTONIC`:
/// never goes back, unrelated to the date). 0 if the clock cannot be read.
#[no_mangle]
pub extern "C" fn ptk_now_ms() -> u64 {
    guard_or(0, || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call's duration.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
            return 0;
        }
        let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
        let millis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
        secs.saturating_mul(1000).saturating_add(millis)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_moves_forward_with_the_std_monotonic_clock() {
        let (a, started) = (ptk_now_ms(), std::time::Instant::now());
        while started.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        let b = ptk_now_ms();
        assert!(a > 0);
        assert!((20..1000).contains(&(b - a)), "{a} -> {b}");
    }
}
