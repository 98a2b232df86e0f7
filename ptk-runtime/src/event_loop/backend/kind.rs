//! Which backend a loop asks for and which one it runs on.

use core::fmt;

/// The event backend of a loop, asked for with [`Config::backend`](crate::Config::backend)
/// and reported by [`EventLoop::backend`](crate::EventLoop::backend).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// `mio`: epoll on Linux, kqueue on the BSDs and macOS. Available everywhere.
    #[default]
    Mio,
    /// io_uring (Linux, with the `io-uring` cargo feature): readiness by multishot polls,
    /// the pooled message path by receive and send operations in the ring, submitted in one
    /// batch per iteration. Falls back to [`Mio`](BackendKind::Mio) where the kernel or a
    /// seccomp policy refuses it.
    IoUring,
}

impl BackendKind {
    /// The name used by `PTK_BACKEND` and the examples' `--backend`: `mio` or `io_uring`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Mio => "mio",
            BackendKind::IoUring => "io_uring",
        }
    }

    /// Parses `mio` or `io_uring` (also `io-uring`, `uring`); `None` for anything else.
    pub fn parse(name: &str) -> Option<BackendKind> {
        match name {
            "mio" | "epoll" => Some(BackendKind::Mio),
            "io_uring" | "io-uring" | "uring" => Some(BackendKind::IoUring),
            _ => None,
        }
    }

    /// Parses the value of a command-line `--backend` option: `mio` or `io_uring`. The error
    /// says what is wrong: an unknown name, or io_uring asked of a build without it (the
    /// `io-uring` cargo feature, Linux only).
    ///
    /// # Errors
    ///
    /// A message for the user, as above.
    pub fn from_arg(value: &str) -> Result<BackendKind, String> {
        let kind = BackendKind::parse(value)
            .ok_or_else(|| format!("--backend {value}: unknown backend (mio or io_uring)"))?;
        if !kind.compiled_in() {
            return Err(format!(
                "--backend {value}: this program was built without the io_uring backend \
                 (build it with `--features io-uring`, on Linux)"
            ));
        }
        Ok(kind)
    }

    /// Whether this build can run the backend at all (io_uring needs the `io-uring` feature
    /// and Linux; the kernel may still refuse it at run time).
    pub fn compiled_in(self) -> bool {
        match self {
            BackendKind::Mio => true,
            BackendKind::IoUring => cfg!(all(feature = "io-uring", target_os = "linux")),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a loop that asked for io_uring runs on `mio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallbackReason {
    /// The build has no io_uring backend (the `io-uring` feature is off, or not Linux).
    NotCompiled,
    /// The kernel refused to set up a ring: this OS error (`ENOSYS` on kernels without
    /// io_uring, `EPERM` under a seccomp policy such as Docker's default, `ENOMEM` when the
    /// locked-memory limit is too low).
    Refused(i32),
    /// The kernel's io_uring lacks a feature the backend needs (it names it).
    Missing(&'static str),
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackReason::NotCompiled => {
                f.write_str("this build has no io_uring backend (cargo feature `io-uring`)")
            }
            FallbackReason::Refused(errno) => write!(
                f,
                "the kernel refused io_uring_setup: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
            FallbackReason::Missing(what) => write!(f, "the kernel's io_uring lacks {what}"),
        }
    }
}

/// Which backend a loop runs on, which one it was asked for, and why they differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendStatus {
    /// What [`Config::backend`](crate::Config::backend) asked for.
    pub requested: BackendKind,
    /// What the loop runs on.
    pub running: BackendKind,
    /// Why io_uring was asked for and `mio` runs (logged once, when the loop was made).
    pub fallback: Option<FallbackReason>,
}
