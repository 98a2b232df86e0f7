use ptk::{protothread, Cx, Pt};

struct Lock;

struct Ctx {
    pt: Pt,
}

fn lock() -> Lock {
    Lock
}

#[protothread]
fn critical(_ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    let _guard = lock();
    pt_yield!();
}

fn main() {}
