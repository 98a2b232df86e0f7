use ptk::{protothread, Pt};

struct Ctx {
    pt: Pt,
}

#[protothread]
fn missing_cx(ctx: &mut Ctx) -> u32 {
    pt_yield!();
    ctx.pt.resume_point().into()
}

fn main() {}
