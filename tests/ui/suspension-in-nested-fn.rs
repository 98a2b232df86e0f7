use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

#[protothread]
fn outer(_ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    fn helper() {
        pt_yield!();
    }
    helper();
}

fn main() {}
