use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

struct ParseError;
struct DriverError;

fn parse() -> Result<u32, ParseError> {
    Ok(1)
}

#[protothread]
fn drive(_ctx: &mut Ctx, _cx: &mut Cx<'_>) -> Result<u32, DriverError> {
    pt_yield!();
    let v = parse()?;
    Ok(v)
}

fn main() {}
