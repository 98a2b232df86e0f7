//! Behaviour of `#[protothread]`: exact traces of resumes, steps and outputs, driven by hand
//! with `Cx::detached()`.

use core::task::Poll;

use ptk::{protothread, Cx, Protothread, Pt, Status, Step};

/// A poll source that is pending `pending` times, then ready with `value`.
#[derive(Debug, Default)]
struct Source {
    pending: u32,
    polls: u32,
    value: u32,
}

impl Source {
    fn poll(&mut self) -> Poll<u32> {
        self.polls += 1;
        if self.polls > self.pending {
            Poll::Ready(self.value)
        } else {
            Poll::Pending
        }
    }
}

#[derive(Debug, Default)]
struct Reader {
    pt: Pt,
    source: Source,
    total: u32,
    trace: Vec<String>,
}

#[protothread]
fn read_twice(ctx: &mut Reader, _cx: &mut Cx<'_>) -> Result<u32, String> {
    ctx.trace.push("start".into());
    let a = pt_await!(ctx.source.poll());
    ctx.trace.push(format!("a={a}"));
    ctx.total += a;
    pt_yield!();
    ctx.trace.push("after yield".into());
    ctx.source.polls = 0;
    ctx.total += pt_await!(ctx.source.poll());
    if ctx.total > 100 {
        return Err(format!("too much: {}", ctx.total));
    }
    ctx.trace.push("end".into());
    Ok(ctx.total)
}

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

#[test]
fn await_reevaluates_its_expression_until_ready_and_code_before_it_runs_once() {
    let mut r = Reader {
        source: Source {
            pending: 2,
            value: 5,
            ..Source::default()
        },
        ..Reader::default()
    };
    let steps = run(&mut r, 20);
    assert_eq!(
        steps,
        [
            Step::Pending,
            Step::Pending,
            Step::Yielded,
            Step::Pending,
            Step::Pending,
            Step::Done(Ok(10))
        ]
    );
    assert_eq!(r.trace, ["start", "a=5", "after yield", "end"]);
    assert_eq!(r.pt.status(), Status::Done);
    assert_eq!(r.pt.resume_point(), 0);
}

#[test]
fn return_finishes_with_its_value_and_a_further_resume_starts_over() {
    let mut r = Reader {
        source: Source {
            pending: 0,
            value: 60,
            ..Source::default()
        },
        ..Reader::default()
    };
    assert_eq!(
        run(&mut r, 10),
        [Step::Yielded, Step::Done(Err("too much: 120".to_string()))]
    );
    r.source = Source {
        pending: 0,
        value: 1,
        ..Source::default()
    };
    r.total = 0;
    assert_eq!(run(&mut r, 10), [Step::Yielded, Step::Done(Ok(2))]);
    assert_eq!(
        r.trace,
        [
            "start",
            "a=60",
            "after yield",
            "start",
            "a=1",
            "after yield",
            "end"
        ]
    );
}

#[test]
fn sites_name_file_line_and_abbreviated_text_and_site_follows_the_resume_point() {
    let mut r = Reader {
        source: Source {
            pending: 1,
            value: 1,
            ..Source::default()
        },
        ..Reader::default()
    };
    let sites: Vec<String> = r.sites().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        sites,
        [
            "protothread_trace.rs:38 pt_await!(ctx.source.poll())",
            "protothread_trace.rs:41 pt_yield!()",
            "protothread_trace.rs:44 pt_await!(ctx.source.poll())",
        ]
    );
    assert_eq!(r.sites()[0].column, 13);
    assert_eq!(r.site(), None);
    let mut cx = Cx::detached();
    assert_eq!(r.resume(&mut cx), Step::Pending);
    assert_eq!(r.pt.resume_point(), 1);
    assert_eq!(r.site().map(|s| s.line), Some(38));
    assert_eq!(r.resume(&mut cx), Step::Yielded);
    assert_eq!(r.site().map(|s| s.text), Some("pt_yield!()"));
}

#[derive(Debug, Default)]
struct Waiter {
    pt: Pt,
    checks: u32,
    ready_after: u32,
    trace: Vec<&'static str>,
}

impl Waiter {
    fn ready(&mut self) -> bool {
        self.checks += 1;
        self.trace.push("check");
        self.checks > self.ready_after
    }
}

#[protothread]
fn waits(ctx: &mut Waiter, _cx: &mut Cx<'_>) {
    ctx.trace.push("top");
    pt_wait_until!(ctx.ready());
    ctx.trace.push("until done");
    ctx.checks = 0;
    pt_wait_while!(!ctx.ready());
    ctx.trace.push("while done");
    ctx.checks = 0;
    pt_yield_until!(ctx.ready());
    ctx.trace.push("yield until done");
}

/// Conditions written as comparisons: the expansion must not trip clippy (`nonminimal_bool`
/// on a negated comparison), which the workspace's clippy run checks.
#[derive(Default)]
struct Counter {
    pt: Pt,
    n: u32,
    seen: Vec<u32>,
}

#[protothread]
fn counts(ctx: &mut Counter, _cx: &mut Cx<'_>) {
    pt_wait_until!(ctx.n >= 2);
    ctx.seen.push(ctx.n);
    pt_wait_while!(ctx.n < 4);
    ctx.seen.push(ctx.n);
    pt_yield_until!(ctx.n >= 6);
    ctx.seen.push(ctx.n);
}

#[test]
fn comparison_conditions_are_checked_on_every_resume() {
    let mut c = Counter::default();
    let mut cx = Cx::detached();
    let mut steps = Vec::new();
    for _ in 0..20 {
        let step = c.resume(&mut cx);
        let done = matches!(step, Step::Done(()));
        steps.push(step);
        if done {
            break;
        }
        c.n += 1;
    }
    assert_eq!(c.seen, [2, 4, 6]);
    assert_eq!(
        steps,
        [
            Step::Pending,
            Step::Pending,
            Step::Pending,
            Step::Pending,
            Step::Yielded,
            Step::Pending,
            Step::Done(())
        ]
    );
}

#[test]
fn wait_until_wait_while_and_yield_until_check_on_every_resume() {
    let mut w = Waiter {
        ready_after: 1,
        ..Waiter::default()
    };
    assert_eq!(
        run(&mut w, 20),
        [
            Step::Pending,
            Step::Pending,
            Step::Yielded,
            Step::Pending,
            Step::Done(())
        ]
    );
    assert_eq!(
        w.trace,
        [
            "top",
            "check",
            "check",
            "until done",
            "check",
            "check",
            "while done",
            "check",
            "check",
            "yield until done"
        ]
    );
}

#[test]
fn yield_until_yields_once_even_when_the_condition_already_holds() {
    let mut w = Waiter {
        ready_after: 0,
        ..Waiter::default()
    };
    assert_eq!(run(&mut w, 20), [Step::Yielded, Step::Done(())]);
    assert_eq!(
        w.trace,
        [
            "top",
            "check",
            "until done",
            "check",
            "while done",
            "check",
            "yield until done"
        ]
    );
}

#[derive(Debug, Default)]
struct Child {
    pt: Pt,
    yields: u32,
    exit: bool,
    i: u32,
}

#[protothread]
fn child(ctx: &mut Child, _cx: &mut Cx<'_>) -> u32 {
    ctx.i = 0;
    while ctx.i < ctx.yields {
        ctx.i += 1;
        pt_yield!();
    }
    if ctx.exit {
        pt_exit!();
    }
    ctx.i * 100
}

#[derive(Debug, Default)]
struct Parent {
    pt: Pt,
    child: Child,
    got: Vec<u32>,
    trace: Vec<&'static str>,
}

#[protothread]
fn parent(ctx: &mut Parent, cx: &mut Cx<'_>) -> usize {
    ctx.trace.push("parent start");
    let first = pt_spawn!(ctx.child);
    ctx.got.push(first);
    ctx.child.yields = 1;
    let second = pt_spawn!(ctx.child);
    ctx.got.push(second);
    ctx.trace.push("parent end");
    ctx.got.len()
}

#[test]
fn spawn_resets_and_drives_the_child_and_evaluates_to_its_output() {
    let mut p = Parent {
        child: Child {
            yields: 2,
            ..Child::default()
        },
        ..Parent::default()
    };
    // A finished child from an earlier run is reset by the spawn.
    p.child.pt.finish(Status::Done);
    assert_eq!(
        run(&mut p, 20),
        [Step::Yielded, Step::Yielded, Step::Yielded, Step::Done(2)]
    );
    assert_eq!(p.got, [200, 100]);
    assert_eq!(p.trace, ["parent start", "parent end"]);
    assert_eq!(p.child.pt.status(), Status::Done);
}

#[test]
fn a_child_that_exits_makes_its_parent_exit() {
    let mut p = Parent {
        child: Child {
            yields: 1,
            exit: true,
            ..Child::default()
        },
        ..Parent::default()
    };
    assert_eq!(run(&mut p, 20), [Step::Yielded, Step::Exited]);
    assert_eq!(p.pt.status(), Status::Exited);
    assert!(p.got.is_empty());
}

#[derive(Debug, Default)]
struct Restarter {
    pt: Pt,
    runs: u32,
    trace: Vec<String>,
}

#[protothread]
fn restarts(ctx: &mut Restarter, _cx: &mut Cx<'_>) -> u32 {
    ctx.runs += 1;
    ctx.trace.push(format!("run {}", ctx.runs));
    pt_yield!();
    if ctx.runs < 3 {
        pt_restart!();
    }
    if ctx.runs == 7 {
        pt_exit!();
    }
    ctx.runs
}

#[test]
fn restart_gives_way_and_starts_over_from_the_top() {
    let mut r = Restarter::default();
    assert_eq!(
        run(&mut r, 20),
        [
            Step::Yielded,
            Step::Yielded,
            Step::Yielded,
            Step::Yielded,
            Step::Yielded,
            Step::Done(3)
        ]
    );
    assert_eq!(r.trace, ["run 1", "run 2", "run 3"]);
}

#[test]
fn exit_ends_without_output() {
    let mut r = Restarter {
        runs: 6,
        ..Restarter::default()
    };
    assert_eq!(run(&mut r, 20), [Step::Yielded, Step::Exited]);
    assert_eq!(r.pt.status(), Status::Exited);
    assert_eq!(r.pt.resume_point(), 0);
}
