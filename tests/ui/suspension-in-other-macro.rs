use core::task::Poll;
use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

fn ready() -> Poll<u32> {
    Poll::Ready(1)
}

#[protothread]
fn show(_ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    println!("{}", pt_await!(ready()));
}

fn main() {}
