use ptk::pt_yield;

fn not_a_protothread() {
    pt_yield!();
}

fn main() {
    not_a_protothread();
}
