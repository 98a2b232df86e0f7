//! Every form and position the lowering supports, compiled as a user would write it.
use core::task::Poll;
use ptk::{protothread, Cx, Protothread, Pt, Step};

#[derive(Default)]
struct Child {
    pt: Pt,
    runs: u32,
}

impl Protothread for Child {
    #[protothread]
    fn resume(&mut self, _cx: &mut Cx<'_>) -> Result<u32, String> {
        self.runs += 1;
        pt_yield!();
        Ok(self.runs)
    }
}

#[derive(Default)]
struct Session {
    pt: Pt,
    child: Child,
    polls: u32,
    i: u32,
    total: u32,
    log: Vec<String>,
}

impl Session {
    fn poll(&mut self) -> Poll<Result<u32, String>> {
        self.polls += 1;
        if self.polls % 2 == 0 { Poll::Ready(Ok(self.polls)) } else { Poll::Pending }
    }
}

#[protothread]
fn session(ctx: &mut Session, cx: &mut Cx<'_>) -> Result<u32, String> {
    let first = pt_await!(ctx.poll())?;
    ctx.total = first;
    ctx.total += pt_spawn!(ctx.child)?;
    'outer: while ctx.i < 4 {
        ctx.i += 1;
        match pt_await!(ctx.poll())? {
            n if n % 3 == 0 => continue 'outer,
            n => ctx.total += n,
        }
        if let Some(last) = ctx.log.last() {
            if last.is_empty() {
                break 'outer;
            }
        }
        pt_wait_until!(ctx.polls > 2);
        pt_wait_while!(ctx.polls > 1000);
        pt_yield_until!(true);
    }
    ctx.total += loop {
        pt_yield!();
        break 7;
    };
    let Ok(v) = pt_await!(ctx.poll()) else {
        return Err("poll failed".into());
    };
    ctx.log.push(format!("{v}"));
    if ctx.total > 1_000_000 {
        pt_exit!();
    }
    Ok(ctx.total)
}

fn main() {
    let mut s = Session::default();
    let mut cx = Cx::detached();
    let mut steps = 0;
    loop {
        steps += 1;
        match s.resume(&mut cx) {
            Step::Pending | Step::Yielded => continue,
            Step::Done(out) => {
                assert!(out.is_ok());
                break;
            }
            Step::Exited => panic!("exited"),
        }
    }
    assert!(steps > 5);
    assert_eq!(s.sites().len(), 8);
}
