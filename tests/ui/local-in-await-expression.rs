use core::task::Poll;
use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

fn poll_after(n: u32) -> Poll<u32> {
    if n > 3 { Poll::Ready(n) } else { Poll::Pending }
}

#[protothread]
fn wait(_ctx: &mut Ctx, _cx: &mut Cx<'_>) -> u32 {
    let limit = 5;
    // The expression is evaluated again on every resume, after `limit` is gone.
    let v = pt_await!(poll_after(limit));
    v
}

fn main() {}
