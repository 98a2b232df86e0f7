use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

#[protothread]
async fn reader(_ctx: &mut Ctx, _cx: &mut Cx<'_>) -> impl Sized {
    pt_yield!();
}

fn main() {}
