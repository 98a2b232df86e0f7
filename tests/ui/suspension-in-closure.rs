use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
    items: Vec<u32>,
}

#[protothread]
fn each(ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    ctx.items.iter().for_each(|_| {
        pt_yield!();
    });
}

fn main() {}
