use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

#[protothread]
fn value(_ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    let _x = pt_yield!();
}

fn main() {}
