use core::task::Poll;
use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
    hits: u32,
}

fn ready() -> Poll<bool> {
    Poll::Ready(true)
}

#[protothread]
fn check(ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    if pt_await!(ready()) {
        ctx.hits += 1;
    }
}

fn main() {}
