//! What the loop reports about the protothreads it runs: [`Outcome`] when one ends,
//! [`PtStatus`] at any time, and the [`PtPool`] token that names a pool of contexts.

use core::fmt;
use core::marker::PhantomData;

use crate::error::Error;
use crate::event::Trigger;
use crate::handle::RawHandle;
use crate::pt::Site;

/// How a protothread ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It returned normally (its output was `()` or `Ok(_)`).
    Finished,
    /// It returned an error (its output was `Err(e)`), converted into an [`Error`].
    Failed(Error),
    /// It ended with `pt_exit!()`.
    Exited,
    /// It was killed.
    Killed,
}

impl From<()> for Outcome {
    fn from((): ()) -> Outcome {
        Outcome::Finished
    }
}

impl<T, E: Into<Error>> From<core::result::Result<T, E>> for Outcome {
    fn from(r: core::result::Result<T, E>) -> Outcome {
        match r {
            Ok(_) => Outcome::Finished,
            Err(e) => Outcome::Failed(e.into()),
        }
    }
}

/// Where a protothread is, as `Cx::pt_status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtStatus {
    /// Queued to run on this or the next iteration.
    Runnable,
    /// Being resumed right now (it asked about itself).
    Running,
    /// Suspended until something wakes it.
    Waiting {
        /// The resource and trigger it waits on, if it waits on one (not for a condition
        /// or a sleep).
        on: Option<(RawHandle, Trigger)>,
        /// The deadline or sleep time it waits for, in loop milliseconds, if any.
        until_ms: Option<u64>,
        /// The suspension point it is stopped at.
        site: Option<&'static Site>,
    },
    /// It ended, and its slot has not been reused yet.
    Ended(Outcome),
}

impl fmt::Display for PtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PtStatus::Runnable => f.write_str("runnable"),
            PtStatus::Running => f.write_str("running"),
            PtStatus::Waiting { on, until_ms, site } => {
                f.write_str("waiting")?;
                if let Some((h, t)) = on {
                    write!(f, " on {h} {t:?}")?;
                }
                if let Some(ms) = until_ms {
                    write!(f, " until {ms} ms")?;
                }
                if let Some(site) = site {
                    write!(f, " at {site}")?;
                }
                Ok(())
            }
            PtStatus::Ended(Outcome::Failed(e)) => write!(f, "failed: {e}"),
            PtStatus::Ended(o) => write!(f, "ended: {o:?}"),
        }
    }
}

/// Names a pool of protothread contexts of type `C` registered with a loop (see
/// `EventLoop::add_protothreads`); pass it to [`Cx::spawn`](crate::Cx::spawn).
pub struct PtPool<C> {
    pub(crate) index: u8,
    pub(crate) loop_id: u8,
    _marker: PhantomData<fn() -> C>,
}

impl<C> PtPool<C> {
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) const fn new(index: u8, loop_id: u8) -> Self {
        PtPool {
            index,
            loop_id,
            _marker: PhantomData,
        }
    }
}

impl<C> Clone for PtPool<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for PtPool<C> {}

impl<C> fmt::Debug for PtPool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PtPool({}@{})", self.index, self.loop_id)
    }
}
