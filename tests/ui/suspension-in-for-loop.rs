use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
    sent: u32,
}

#[protothread]
fn send_all(ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    for _ in 0..3 {
        pt_yield!();
        ctx.sent += 1;
    }
}

fn main() {}
