use ptk::{protothread, Cx, Protothread, Pt, Step};

struct Ctx {
    pt: Pt,
}

#[protothread]
fn broken(_ctx: &mut Ctx, _cx: &mut Cx<'_>) -> u32 {
    let n = 1;
    pt_yield!();
    n
}

// Only the error above is reported: the stub has the function and the impl.
fn main() {
    let mut ctx = Ctx { pt: Pt::new() };
    let mut cx = Cx::detached();
    let step: Step<u32> = broken(&mut ctx, &mut cx);
    let _ = step;
    let _sites = ctx.sites();
}
