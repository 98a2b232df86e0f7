//! [`Running`]: the state of the protothread a loop is resuming, read and written by every
//! operation it calls (its budget, what it registered, whether it killed itself).

use crate::handle::RawHandle;

/// The state of the protothread being resumed (handlers run with `current == None`).
#[derive(Debug)]
pub(crate) struct Running {
    /// The protothread being resumed, if any.
    pub(crate) current: Option<RawHandle>,
    /// Operations it may still complete in this resume. Outside resumes (handlers, set-up
    /// code) it is [`Running::UNLIMITED`], renewed after every resume and before every
    /// handler or posted call, so the budget check needs no test for "is a protothread
    /// running".
    budget: u64,
    /// What happened in this resume (the bits below), one byte so the end of a resume
    /// tests it once.
    flags: u8,
}

impl Default for Running {
    fn default() -> Self {
        Running {
            current: None,
            budget: Self::UNLIMITED,
            flags: 0,
        }
    }
}

impl Running {
    /// It registered a wake-up (resource, timer or join) in this resume.
    const REGISTERED: u8 = 1;
    /// It ran out of budget and must be queued again.
    const YIELD: u8 = 2;
    /// It killed itself; it ends when its resume returns.
    const KILL: u8 = 4;
    /// It has a sleep, a deadline or a timer slot: its waits go through the full
    /// `pend` (in `waits.rs`), which checks the deadline and keeps the timer in step.
    const TIMED: u8 = 8;

    /// The budget outside resumes: more operations than any program makes between two resumes
    /// (2^64 - 1; at one operation per nanosecond, 584 years). A 32-bit count could run out in
    /// a set-up loop of a few seconds that never runs the loop.
    const UNLIMITED: u64 = u64::MAX;

    /// Starts the resume of `h`.
    #[inline]
    pub(crate) fn begin(&mut self, h: RawHandle, budget: u32, timed: bool) {
        self.current = Some(h);
        self.budget = u64::from(budget);
        self.flags = if timed { Self::TIMED } else { 0 };
    }

    /// Ends a resume (or starts a handler): no protothread runs, the budget is unlimited.
    #[inline]
    pub(crate) fn end(&mut self) {
        self.current = None;
        self.budget = Self::UNLIMITED;
    }

    /// Spends one unit of the running protothread's budget before an operation; `true` when
    /// the budget is gone (the operation must answer `Pending` without doing anything, and the
    /// protothread is queued again behind the others). Handlers and set-up code are not
    /// limited: [`Running::UNLIMITED`] operations take centuries.
    #[inline]
    pub(crate) fn out_of_budget(&mut self) -> bool {
        if self.budget == 0 {
            self.flags |= Self::YIELD;
            return true;
        }
        self.budget -= 1;
        false
    }

    #[inline]
    pub(crate) fn set_registered(&mut self) {
        self.flags |= Self::REGISTERED;
    }

    /// It registered a wake-up in this resume.
    #[inline]
    pub(crate) fn registered(&self) -> bool {
        self.flags & Self::REGISTERED != 0
    }

    #[inline]
    pub(crate) fn yield_requested(&self) -> bool {
        self.flags & Self::YIELD != 0
    }

    /// The running protothread has neither used up its budget nor a sleep or deadline to
    /// check: a wait it is still registered for needs no work.
    #[inline]
    pub(crate) fn plain(&self) -> bool {
        self.flags & (Self::YIELD | Self::TIMED) == 0
    }

    /// The resume registered a wait and neither yielded nor killed itself.
    #[inline]
    pub(crate) fn waits(&self) -> bool {
        self.flags & (Self::REGISTERED | Self::YIELD | Self::KILL) == Self::REGISTERED
    }

    #[inline]
    pub(crate) fn set_timed(&mut self, timed: bool) {
        if timed {
            self.flags |= Self::TIMED;
        } else {
            self.flags &= !Self::TIMED;
        }
    }

    #[inline]
    pub(crate) fn request_kill(&mut self) {
        self.flags |= Self::KILL;
    }

    #[inline]
    pub(crate) fn kill_requested(&self) -> bool {
        self.flags & Self::KILL != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::ResourceType;

    #[test]
    fn outside_resumes_the_budget_does_not_run_out() {
        let mut run = Running::default();
        for _ in 0..1000 {
            assert!(!run.out_of_budget());
        }
        assert!(!run.yield_requested());
        // What is left outlasts any program: more than a 32-bit count could ever hold.
        assert_eq!(run.budget, Running::UNLIMITED - 1000);
        assert!(run.budget > u64::from(u32::MAX) << 31);
    }

    #[test]
    fn a_protothread_out_of_budget_yields() {
        let mut run = Running::default();
        run.begin(RawHandle::new(ResourceType::Protothread, 0, 0, 1), 2, false);
        assert!(!run.out_of_budget());
        assert!(!run.out_of_budget());
        assert!(run.out_of_budget());
        assert!(run.yield_requested());
        run.end();
        assert!(!run.out_of_budget());
    }
}
