//! Compile-fail cases of `#[protothread]` (one per rejection, `tests/ui/*.rs`, each with the
//! `.stderr` it must produce) and pass cases (`tests/ui/pass/*.rs`).
//!
//! The `.stderr` files were recorded with rustc stable 1.95.0; compiler messages change between
//! versions, so re-record them (`TRYBUILD=overwrite cargo test --test protothread_ui`) and
//! review the diff when the pinned toolchain moves.

#[test]
fn protothread_rejections_and_accepted_forms() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
