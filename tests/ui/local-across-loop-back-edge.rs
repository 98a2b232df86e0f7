use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
    seen: Vec<u32>,
}

#[protothread]
fn repeat(ctx: &mut Ctx, _cx: &mut Cx<'_>) {
    let step = 3;
    loop {
        ctx.seen.push(step);
        if ctx.seen.len() > 4 {
            break;
        }
        pt_yield!();
    }
}

fn main() {}
