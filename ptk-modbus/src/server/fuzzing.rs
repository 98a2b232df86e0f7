//! The server's answering without a loop, for the fuzz targets (feature `fuzzing`).

use super::answer::{answer, Workspace};
pub use super::connection::{front, Front};
use super::{DiagnosticCounters, MemoryModel, UnitIds};
use crate::Frame;

/// What a connection answers requests with: a [`MemoryModel`], the unit ids served and the
/// server's workspace.
pub struct Answerer {
    model: MemoryModel,
    units: UnitIds,
    work: Box<Workspace>,
    counters: DiagnosticCounters,
}

impl core::fmt::Debug for Answerer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Answerer")
            .field("units", &self.units)
            .finish_non_exhaustive()
    }
}

impl Answerer {
    /// Answers from `model` for `units`.
    pub fn new(model: MemoryModel, units: UnitIds) -> Answerer {
        Answerer {
            model,
            units,
            work: Box::new(Workspace::new()),
            counters: DiagnosticCounters::new(),
        }
    }

    /// The diagnostic counters, as the requests so far left them.
    pub fn counters(&self) -> &DiagnosticCounters {
        &self.counters
    }

    /// The model, as the requests so far left it.
    pub fn model(&self) -> &MemoryModel {
        &self.model
    }

    /// Answers the request frame `request` (as [`front`] found it: `Front::Request(len)` with
    /// `len == request.len()`) into the start of `out`, as a connection does: the length of
    /// the answer.
    ///
    /// # Errors
    ///
    /// A codec error that is not an exception (the connection closes), or
    /// `BufferTooSmall` if `out` is shorter than the answer.
    pub fn answer(&mut self, request: &[u8], out: &mut [u8]) -> Result<usize, crate::Error> {
        let Workspace { scratch, .. } = &mut *self.work;
        let frame = Frame::new_unchecked(request);
        answer(
            &mut self.model,
            &self.units,
            &frame,
            out,
            scratch,
            &mut self.counters,
        )
    }
}
