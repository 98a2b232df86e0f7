//! The forms and options of `#[protothread]`: method form, `crate = ..`, `pt = ..`, generic
//! contexts, and control flow around suspension points, each with its exact trace.

use core::task::Poll;

use ptk::{protothread, Cx, Protothread, Pt, Step};

fn run<P: Protothread>(p: &mut P, max: usize) -> Vec<Step<P::Output>> {
    let mut cx = Cx::detached();
    let mut steps = Vec::new();
    for _ in 0..max {
        let step = p.resume(&mut cx);
        let finished = step.is_finished();
        steps.push(step);
        if finished {
            break;
        }
    }
    steps
}

#[derive(Debug, Default)]
struct Counter {
    pt: Pt,
    n: u32,
    trace: Vec<u32>,
}

impl Protothread for Counter {
    #[protothread]
    fn resume(&mut self, _cx: &mut Cx<'_>) -> u32 {
        self.n = 0;
        while self.n < 3 {
            pt_yield!();
            self.n += 1;
            self.trace.push(self.n);
        }
        self.n * 10
    }
}

#[test]
fn method_form_implements_protothread_in_place() {
    let mut c = Counter::default();
    assert_eq!(
        run(&mut c, 10),
        [Step::Yielded, Step::Yielded, Step::Yielded, Step::Done(30)]
    );
    assert_eq!(c.trace, [1, 2, 3]);
    assert_eq!(c.sites().len(), 1);
}

/// A context that names its `Pt` differently and depends only on `ptk-runtime`.
#[derive(Debug, Default)]
struct Clock {
    state: Inner,
    ticks: u32,
}

#[derive(Debug, Default)]
struct Inner {
    resume: ptk_runtime::Pt,
}

#[protothread(crate = ::ptk_runtime, pt = state.resume)]
fn tick(ctx: &mut Clock, _cx: &mut ptk_runtime::Cx<'_>) -> u32 {
    pt_yield!();
    ctx.ticks += 1;
    ctx.ticks
}

#[test]
fn crate_and_pt_options_are_honoured() {
    let mut c = Clock::default();
    let mut cx = ptk_runtime::Cx::detached();
    assert_eq!(c.resume(&mut cx), ptk_runtime::Step::Yielded);
    assert_eq!(c.state.resume.resume_point(), 1);
    assert_eq!(c.resume(&mut cx), ptk_runtime::Step::Done(1));
    // The free function stays callable and is the resume function.
    assert_eq!(tick(&mut c, &mut cx), ptk_runtime::Step::Yielded);
}

trait Feed {
    fn next(&mut self) -> Poll<Option<u8>>;
}

struct Bytes {
    data: &'static [u8],
    at: usize,
    stall: bool,
}

impl Feed for Bytes {
    fn next(&mut self) -> Poll<Option<u8>> {
        self.stall = !self.stall;
        if self.stall {
            return Poll::Pending;
        }
        let b = self.data.get(self.at).copied();
        self.at += 1;
        Poll::Ready(b)
    }
}

struct Summer<F: Feed> {
    pt: Pt,
    feed: F,
    sum: u32,
    trace: Vec<String>,
}

#[protothread]
fn sum_until_zero<F: Feed>(ctx: &mut Summer<F>, _cx: &mut Cx<'_>) -> Result<u32, &'static str> {
    let total = 'outer: loop {
        match pt_await!(ctx.feed.next()) {
            None => break ctx.sum,
            Some(0) => {
                ctx.trace.push("zero".into());
                break 'outer ctx.sum + 1000;
            }
            Some(b) if b > 200 => return Err("too big"),
            Some(b) => {
                ctx.sum += u32::from(b);
                ctx.trace.push(format!("+{b}"));
                if b % 2 == 1 {
                    continue;
                }
                pt_yield!();
                ctx.trace.push("even".into());
            }
        }
    };
    Ok(total)
}

#[test]
fn generic_context_with_match_arms_guards_and_break_value() {
    let mut s = Summer {
        pt: Pt::new(),
        feed: Bytes {
            data: &[3, 4, 0, 9],
            at: 0,
            stall: false,
        },
        sum: 0,
        trace: Vec::new(),
    };
    assert_eq!(
        run(&mut s, 30),
        [
            Step::Pending,
            Step::Pending,
            Step::Yielded,
            Step::Pending,
            Step::Done(Ok(1007))
        ]
    );
    assert_eq!(s.trace, ["+3", "+4", "even", "zero"]);

    let mut s = Summer {
        pt: Pt::new(),
        feed: Bytes {
            data: &[250],
            at: 0,
            stall: true,
        },
        sum: 0,
        trace: Vec::new(),
    };
    assert_eq!(run(&mut s, 30), [Step::Done(Err("too big"))]);

    let mut s = Summer {
        pt: Pt::new(),
        feed: Bytes {
            data: &[2],
            at: 0,
            stall: true,
        },
        sum: 0,
        trace: Vec::new(),
    };
    assert_eq!(
        run(&mut s, 30),
        [Step::Yielded, Step::Pending, Step::Done(Ok(2))]
    );
}

#[derive(Debug, Default)]
struct Parser {
    pt: Pt,
    input: Vec<&'static str>,
    values: Vec<u32>,
}

fn parse(s: &str) -> Result<u32, String> {
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

#[protothread]
fn parse_all(ctx: &mut Parser, _cx: &mut Cx<'_>) -> Result<usize, String> {
    while let Some(s) = ctx.input.pop() {
        let v = parse(s)?;
        ctx.values.push(v);
        pt_yield!();
    }
    Ok(ctx.values.len())
}

#[test]
fn question_mark_inside_a_loop_ends_with_the_error() {
    let mut p = Parser {
        input: vec!["x", "2", "1"],
        ..Parser::default()
    };
    assert_eq!(
        run(&mut p, 10),
        [
            Step::Yielded,
            Step::Yielded,
            Step::Done(Err("\"x\": invalid digit found in string".into()))
        ]
    );
    assert_eq!(p.values, [1, 2]);
}

#[derive(Debug, Default)]
struct Blocks {
    pt: Pt,
    a: Option<u32>,
    b: Option<u32>,
    trace: Vec<String>,
}

#[protothread]
fn labelled_block(ctx: &mut Blocks, _cx: &mut Cx<'_>) -> u32 {
    let v = 'found: {
        if let Some(a) = ctx.a {
            ctx.trace.push(format!("a {a}"));
            pt_yield!();
            break 'found 1;
        } else if let Some(b) = ctx.b {
            ctx.trace.push(format!("b {b}"));
        }
        pt_yield!();
        ctx.trace.push("neither".into());
        2
    };
    ctx.trace.push(format!("v {v}"));
    v
}

#[test]
fn labelled_block_and_else_if_let_with_suspension_points() {
    let mut b = Blocks {
        a: Some(7),
        ..Blocks::default()
    };
    assert_eq!(run(&mut b, 10), [Step::Yielded, Step::Done(1)]);
    assert_eq!(b.trace, ["a 7", "v 1"]);
    let mut b = Blocks {
        b: Some(8),
        ..Blocks::default()
    };
    assert_eq!(run(&mut b, 10), [Step::Yielded, Step::Done(2)]);
    assert_eq!(b.trace, ["b 8", "neither", "v 2"]);
}
