use core::task::Poll;
use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

fn ready(n: u32) -> Poll<u32> {
    Poll::Ready(n)
}

#[protothread]
fn twice(_ctx: &mut Ctx, _cx: &mut Cx<'_>) -> u32 {
    let v = pt_await!(ready(pt_await!(ready(1))));
    v
}

fn main() {}
