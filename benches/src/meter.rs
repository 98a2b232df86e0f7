//! [`Meter`]: frames echoed, and what they cost in allocations and CPU time.

use crate::alloc::{allocations, arm_allocation_counter};
use crate::sys::{cpu_time_us, peak_rss_kb};

/// Counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Mark {
    frames: u64,
    allocs: u64,
    bytes: u64,
    cpu_us: u64,
}

impl Mark {
    fn now(frames: u64) -> Mark {
        let (allocs, bytes) = allocations();
        Mark {
            frames,
            allocs,
            bytes,
            cpu_us: cpu_time_us(),
        }
    }
}

/// Counts the frames a server echoed and tells it when to stop.
///
/// Besides the totals since [`start`](Meter::start) (which include accepting every
/// connection), it marks the counters when the frame count passes a quarter and three
/// quarters of `--messages`: the window between is the steady state, where every connection
/// is open and only messages flow, and its allocations and CPU time divided by its frames
/// are the per-message costs.
///
/// # Examples
///
/// ```
/// let mut meter = ptk_bench::Meter::start(8);
/// assert!(!meter.count(4));
/// assert!(meter.count(4));
/// assert!(meter.report("doc").starts_with("report server=doc frames=8 "));
/// ```
#[derive(Debug)]
pub struct Meter {
    messages: u64,
    frames: u64,
    next_mark: u64,
    start: Mark,
    steady: [Option<Mark>; 2],
}

impl Meter {
    /// Arms the allocation counter and starts counting towards `messages` frames.
    pub fn start(messages: u64) -> Meter {
        arm_allocation_counter();
        Meter {
            messages,
            frames: 0,
            next_mark: (messages / 4).max(1),
            start: Mark::now(0),
            steady: [None; 2],
        }
    }

    /// Adds `frames` echoed frames; true once `messages` frames were echoed.
    #[inline]
    pub fn count(&mut self, frames: u64) -> bool {
        self.frames += frames;
        if self.frames >= self.next_mark {
            self.mark();
        }
        self.frames >= self.messages
    }

    /// Frames echoed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    #[cold]
    fn mark(&mut self) {
        let now = Mark::now(self.frames);
        if self.steady[0].is_none() {
            self.steady[0] = Some(now);
            self.next_mark = (self.messages / 4).saturating_mul(3).max(self.frames + 1);
        } else {
            self.steady[1] = Some(now);
            self.next_mark = u64::MAX;
        }
    }

    /// The machine-readable line a server prints on stderr as it exits:
    /// `report server=NAME frames=F allocs=A alloc_bytes=B steady_frames=SF steady_allocs=SA
    /// cpu_us=C steady_cpu_us=SC peak_rss_kb=K` (the steady fields are 0 when the run ended
    /// before three quarters of `--messages`).
    pub fn report(&self, server: &str) -> String {
        let end = Mark::now(self.frames);
        let (a, b) = match self.steady {
            [Some(a), Some(b)] => (a, b),
            _ => (Mark::default(), Mark::default()),
        };
        format!(
            "report server={server} frames={} allocs={} alloc_bytes={} steady_frames={} \
             steady_allocs={} cpu_us={} steady_cpu_us={} peak_rss_kb={}",
            self.frames,
            end.allocs - self.start.allocs,
            end.bytes - self.start.bytes,
            b.frames - a.frames,
            b.allocs - a.allocs,
            end.cpu_us - self.start.cpu_us,
            b.cpu_us - a.cpu_us,
            peak_rss_kb(),
        )
    }
}
