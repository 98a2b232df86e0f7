//! Differential test of `#[protothread]`.
//!
//! The build script writes random, well-formed protothread bodies — nested `if`/`match`/
//! `loop`/`while`/`while let`, labelled `break`/`continue`, `break` with a value, early
//! `return`, `?`, and every suspension macro — each twice: as a `#[protothread]` function, and
//! as a plain function where every suspension point records the events the protothread's
//! driver would see (`Pending`, `Yielded`) and goes on. `tests/differential.rs` drives every
//! protothread to its end with [`drive`] and asserts that both give the same trace of events
//! and the same outcome.
//!
//! Every loop in a generated body is bounded by a counter, every wait is released by a fixed
//! schedule of the [`State`], so each case ends.
//!
//! # Choosing the cases
//!
//! `PTK_DIFF_SEED` (default 0x5eed_2024) and `PTK_DIFF_COUNT` (default 500) choose the
//! seed and the number of cases; the build script reruns when they change:
//!
//! ```text
//! PTK_DIFF_SEED=7 PTK_DIFF_COUNT=2000 cargo test -p ptk-difftest
//! ```

use core::task::Poll;

use ptk::{protothread, Cx, Protothread, Pt, Step};

/// What a case records, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// A plain statement ran.
    Mark(u32),
    /// A poll expression was evaluated.
    Poll(u32),
    /// A wait condition was evaluated.
    Cond(u32),
    /// A branch condition was evaluated.
    Flip(u32),
    /// A fallible step ran.
    Check(u32),
    /// The protothread returned `Step::Pending` (or the plain body would have).
    Pending,
    /// The protothread returned `Step::Yielded` (or the plain body would have).
    Yielded,
}

/// The state both versions of a case share: counters, the pseudo-random branch source, the
/// schedule of waits and the trace.
#[derive(Debug)]
pub struct State {
    /// Loop counters, one per nesting depth.
    pub c: [u32; 8],
    /// An accumulator the body adds values into.
    pub acc: u32,
    /// How many times the body restarted (bounded by the body).
    pub restarts: u32,
    /// Set by the plain version when it exits.
    pub exited: bool,
    /// Runs of the child (the plain version's model of it).
    pub child_runs: u32,
    /// The trace.
    pub trace: Vec<Ev>,
    rng: u64,
    tick: u32,
}

impl State {
    /// A state whose branches follow `seed`.
    pub fn new(seed: u64) -> State {
        State {
            c: [0; 8],
            acc: 0,
            restarts: 0,
            exited: false,
            child_runs: 0,
            trace: Vec::new(),
            rng: seed | 1,
            tick: 0,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Records a plain statement.
    pub fn mark(&mut self, id: u32) {
        self.trace.push(Ev::Mark(id));
    }

    /// A branch condition: true half of the time.
    pub fn flip(&mut self, id: u32) -> bool {
        self.trace.push(Ev::Flip(id));
        self.next_random() % 2 == 0
    }

    /// A branch condition: true an eighth of the time.
    pub fn rare(&mut self, id: u32) -> bool {
        self.trace.push(Ev::Flip(id));
        self.next_random() % 8 == 0
    }

    /// A match scrutinee: 0, 1 or 2.
    pub fn pick(&mut self, id: u32) -> u32 {
        self.trace.push(Ev::Flip(id));
        (self.next_random() % 3) as u32
    }

    /// An `if let` scrutinee.
    pub fn maybe(&mut self, id: u32) -> Option<u32> {
        self.trace.push(Ev::Flip(id));
        (self.next_random() % 2 == 0).then_some(id % 7)
    }

    /// The `while let` source of loop `k`: `Some` for the first `n` calls after `c[k] = 0`.
    pub fn next(&mut self, k: usize, n: u32) -> Option<u32> {
        self.c[k] += 1;
        (self.c[k] <= n).then_some(self.c[k])
    }

    /// A fallible step: fails a sixteenth of the time.
    pub fn check(&mut self, id: u32) -> Result<(), u32> {
        self.trace.push(Ev::Check(id));
        if self.next_random() % 16 == 0 {
            Err(id)
        } else {
            Ok(())
        }
    }

    /// A poll source: pending every third evaluation.
    pub fn poll(&mut self, id: u32) -> Poll<u32> {
        self.trace.push(Ev::Poll(id));
        self.tick += 1;
        if self.tick % 3 == 1 {
            Poll::Pending
        } else {
            Poll::Ready(id % 5)
        }
    }

    /// A fallible poll source.
    pub fn poll_res(&mut self, id: u32) -> Poll<Result<u32, u32>> {
        match self.poll(id) {
            Poll::Ready(v) if self.next_random() % 16 == 0 => Poll::Ready(Err(v + 100)),
            Poll::Ready(v) => Poll::Ready(Ok(v)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// A wait condition: true every third evaluation.
    pub fn cond(&mut self, id: u32) -> bool {
        self.trace.push(Ev::Cond(id));
        self.tick += 1;
        self.tick % 3 == 0
    }

    /// The plain model of `pt_await!(self.poll(id))`.
    pub fn await_plain(&mut self, id: u32) -> u32 {
        loop {
            match self.poll(id) {
                Poll::Ready(v) => return v,
                Poll::Pending => self.trace.push(Ev::Pending),
            }
        }
    }

    /// The plain model of `pt_await!(self.poll_res(id))`.
    pub fn await_res_plain(&mut self, id: u32) -> Result<u32, u32> {
        loop {
            match self.poll_res(id) {
                Poll::Ready(v) => return v,
                Poll::Pending => self.trace.push(Ev::Pending),
            }
        }
    }

    /// The plain model of `pt_wait_until!(self.cond(id))`.
    pub fn wait_until_plain(&mut self, id: u32) {
        while !self.cond(id) {
            self.trace.push(Ev::Pending);
        }
    }

    /// The plain model of `pt_wait_while!(self.cond(id))`.
    pub fn wait_while_plain(&mut self, id: u32) {
        while self.cond(id) {
            self.trace.push(Ev::Pending);
        }
    }

    /// The plain model of `pt_yield!()`.
    pub fn yield_plain(&mut self) {
        self.trace.push(Ev::Yielded);
    }

    /// The plain model of `pt_yield_until!(self.cond(id))`.
    pub fn yield_until_plain(&mut self, id: u32) {
        self.trace.push(Ev::Yielded);
        self.wait_until_plain(id);
    }

    /// The plain model of `pt_spawn!(ctx.child)`: `None` if the child exits.
    pub fn spawn_plain(&mut self) -> Option<u32> {
        self.child_runs += 1;
        for _ in 0..self.child_runs % 3 {
            self.trace.push(Ev::Yielded);
        }
        if self.child_runs % 5 == 4 {
            return None;
        }
        Some(self.child_runs * 10)
    }
}

/// The child protothread every case may spawn.
#[derive(Debug, Default)]
pub struct Child {
    pt: Pt,
    runs: u32,
    i: u32,
}

/// Yields `runs % 3` times, exits on every fifth run, otherwise returns `runs * 10`.
#[protothread]
pub fn child(ctx: &mut Child, _cx: &mut Cx<'_>) -> u32 {
    ctx.runs += 1;
    ctx.i = 0;
    while ctx.i < ctx.runs % 3 {
        ctx.i += 1;
        pt_yield!();
    }
    if ctx.runs % 5 == 4 {
        pt_exit!();
    }
    ctx.runs * 10
}

/// Drives a protothread to its end, recording `Pending`/`Yielded` into its trace; `None` if
/// it exited.
///
/// # Panics
///
/// If it does not finish within a million resumes (a generated body is bounded far below).
pub fn drive<P: Protothread>(p: &mut P, trace: fn(&mut P) -> &mut Vec<Ev>) -> Option<P::Output> {
    let mut cx = Cx::detached();
    for _ in 0..1_000_000 {
        match p.resume(&mut cx) {
            Step::Pending => trace(p).push(Ev::Pending),
            Step::Yielded => trace(p).push(Ev::Yielded),
            Step::Done(output) => return Some(output),
            Step::Exited => return None,
        }
    }
    panic!("protothread did not finish")
}

/// The result of one case: the trace and outcome of the protothread, then of the plain body
/// (`None` = exited).
pub type Comparison = (
    Vec<Ev>,
    Option<Result<u32, u32>>,
    Vec<Ev>,
    Option<Result<u32, u32>>,
);

/// One generated case.
pub struct Case {
    /// `case_N`.
    pub name: &'static str,
    /// The body as a protothread, for failure reports.
    pub source: &'static str,
    /// Runs both versions.
    pub run: fn() -> Comparison,
}

/// The context of one case's protothread.
#[macro_export]
#[doc(hidden)]
macro_rules! case_context {
    () => {
        #[allow(dead_code)]
        pub struct Ctx {
            pt: $crate::__Pt,
            s: $crate::State,
            child: $crate::Child,
        }
    };
}

#[doc(hidden)]
pub use ptk::Pt as __Pt;

#[allow(
    clippy::all,
    unused_variables,
    unused_labels,
    unreachable_code,
    missing_docs
)]
mod cases {
    use super::*;
    include!(concat!(env!("OUT_DIR"), "/cases.rs"));
}

pub use cases::CASES;
