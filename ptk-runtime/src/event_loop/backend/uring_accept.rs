//! The io_uring backend's multishot accept: probed at setup, armed per listener by the loop
//! (`tcp_listener`), its completions handed back like a receive's (`Events::ops`) but never
//! counted in flight: the request names no memory of the loop, so moving the pools need not
//! wait for it.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, types};

use super::UringPoller;

/// Whether the running kernel has multishot accept (`IORING_ACCEPT_MULTISHOT`, Linux 5.19):
/// the opcode probe only says that `ACCEPT` exists (5.5), so the release is read too.
pub(super) fn probe(probe: &io_uring::Probe) -> bool {
    probe.is_supported(opcode::Accept::CODE) && kernel_at_least(5, 19)
}

/// Whether `uname`'s release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: `uname` writes one `utsname` into `u`, which lives across the call; an
    // all-zero `utsname` is a valid value.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::uname(&raw mut u) } != 0 {
        return false;
    }
    let release: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let mut parts = release.split(|&c| c == b'.' || c == b'-').map(|p| {
        std::str::from_utf8(p)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

impl UringPoller {
    /// Whether listeners accept through the ring (see [`probe`]).
    #[inline]
    pub(crate) fn multishot_accept(&self) -> bool {
        self.st.borrow().multishot_accept
    }

    /// Queues a multishot accept on listening socket `fd` under `code`: each connection it
    /// takes comes back as a completion whose result is the new descriptor (non-blocking,
    /// close-on-exec), or a negated `errno`.
    pub(crate) fn arm_accept(&self, fd: RawFd, code: u64) -> io::Result<()> {
        let st = &mut *self.st.borrow_mut();
        let e = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(code);
        // No address is asked for: the request carries no pointer (`push`'s rule).
        st.push(&e)
    }
}
