//! The few libc calls the benchmark needs: the descriptor limit and resource usage.
#![allow(unsafe_code)] // libc calls with out-parameters; each block says why it is sound.

use std::mem::MaybeUninit;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, so 10,000 connections fit.
///
/// # Errors
///
/// The OS error of `getrlimit`/`setrlimit` (valgrind, for one, refuses some raises).
pub fn raise_fd_limit() -> std::io::Result<()> {
    let mut lim = MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: `lim` is valid for writes of one `rlimit`, which `getrlimit` fills on success.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, lim.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `getrlimit` returned 0, so it initialized `lim`.
    let mut lim = unsafe { lim.assume_init() };
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is an initialized `rlimit` that outlives the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// CPU time (user + system) this process has used, in microseconds.
pub fn cpu_time_us() -> u64 {
    let mut usage = MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` is valid for writes of one `rusage`, which `getrusage` fills on success.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: `getrusage` returned 0, so it initialized `usage`.
    let usage = unsafe { usage.assume_init() };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// The peak resident set size of this process in KiB: `VmHWM` of `/proc/self/status`, or
/// `ru_maxrss` where that file is missing.
pub fn peak_rss_kb() -> u64 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        if let Some(kb) = hwm {
            return kb;
        }
    }
    let mut usage = MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: as in `cpu_time_us`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: `getrusage` returned 0, so it initialized `usage`.
    unsafe { usage.assume_init() }.ru_maxrss as u64
}
