use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
    total: u32,
}

#[protothread]
fn sum(ctx: &mut Ctx, _cx: &mut Cx<'_>) -> u32 {
    let n = ctx.total * 2;
    pt_yield!();
    ctx.total += n;
    ctx.total
}

fn main() {}
