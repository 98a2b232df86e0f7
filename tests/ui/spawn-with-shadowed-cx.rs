use ptk::{protothread, Cx, Pt};

struct Child {
    pt: Pt,
}

#[protothread]
fn child(_ctx: &mut Child, _cx: &mut Cx<'_>) -> u32 {
    pt_yield!();
    1
}

struct Parent {
    pt: Pt,
    child: Child,
}

#[protothread]
fn parent(ctx: &mut Parent, cx: &mut Cx<'_>) -> u32 {
    let cx = 5;
    let _ = cx;
    let v = pt_spawn!(ctx.child);
    v
}

fn main() {}
