use ptk::{protothread, Cx, Pt};

struct Inner {
    count: u32,
}

struct Ctx {
    pt: Pt,
    inner: Inner,
    count: u32,
}

#[protothread]
fn count(ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    let ctx = &mut ctx.inner;
    pt_yield!();
    // After lowering this would silently be the parameter `ctx`, not `ctx.inner`.
    ctx.count += 1;
}

fn main() {}
