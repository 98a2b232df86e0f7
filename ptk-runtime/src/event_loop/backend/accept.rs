//! Accepting in the ring: a listener's multishot accept on a completion-based backend
//! (io_uring from Linux 5.19), whose completions come back in [`Events::ops`](super::Events)
//! under an [`op::ACCEPT`](super::op::ACCEPT) code, each an accepted descriptor (or a negated
//! `errno`). The listener side of it (the queue of accepted descriptors, stopping and
//! re-arming) is in `tcp_listener`.
//!
//! The code's chunk field carries the listener's arm number in its low 19 bits; the backend
//! sets bit 19 ([`MORE`]) of the field in a completion after which the request stays armed
//! (`IORING_CQE_F_MORE`). A completion without it is the request's last.

use std::io;

use super::Backend;

/// The flag a backend sets in the chunk field ([`super::op::aux`]) of an accept completion
/// after which the multishot accept stays armed.
pub(crate) const MORE: u32 = 1 << 19;
/// Arm numbers an accept code can carry.
pub(crate) const ARMS: u32 = 1 << 19;

impl Backend {
    /// Whether listeners take connections through a multishot accept in the ring (io_uring
    /// on a kernel that has it); else they accept directly after a readiness edge.
    #[inline]
    pub(crate) fn accepts_in_ring(&self) -> bool {
        match self {
            Backend::Mio(_) => false,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.multishot_accept(),
        }
    }

    /// Queues a multishot accept on `listener` under `code` (an [`super::op::ACCEPT`] code),
    /// submitted by the next poll. Accepted descriptors are non-blocking and close-on-exec.
    #[cfg_attr(
        not(all(feature = "io-uring", target_os = "linux")),
        allow(unused_variables)
    )]
    pub(crate) fn arm_accept(
        &self,
        listener: &::mio::net::TcpListener,
        code: u64,
    ) -> io::Result<()> {
        match self {
            Backend::Mio(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            Backend::Uring(p) => p.arm_accept(std::os::fd::AsRawFd::as_raw_fd(listener), code),
        }
    }
}
