use core::task::Poll;
use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
    log: Vec<u32>,
}

fn ready() -> Poll<u32> {
    Poll::Ready(1)
}

#[protothread]
fn record(ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    ctx.log.push(pt_await!(ready()));
}

fn main() {}
