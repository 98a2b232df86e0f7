use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

#[protothread]
fn fut(_ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    let _f = async {
        pt_yield!();
    };
}

fn main() {}
