use ptk::{protothread, Cx, Pt};

struct Ctx {
    pt: Pt,
}

impl Ctx {
    #[protothread]
    fn run(&mut self, _cx: &mut Cx<'_>) {
        pt_yield!();
    }
}

fn main() {}
