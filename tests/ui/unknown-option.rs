use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

#[protothread(stack = 4)]
fn tick(_ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    pt_yield!();
}

fn main() {}
