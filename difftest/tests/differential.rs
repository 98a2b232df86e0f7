//! Every generated case: the protothread and the plain body give the same trace and outcome.

use std::time::Instant;

#[test]
fn lowered_protothreads_behave_like_their_bodies_run_straight_through() {
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut suspensions = 0usize;
    let (mut ok, mut err, mut exited) = (0, 0, 0);
    for case in ptk_difftest::CASES {
        let (pt_trace, pt_out, plain_trace, plain_out) = (case.run)();
        suspensions += pt_trace
            .iter()
            .filter(|e| matches!(e, ptk_difftest::Ev::Pending | ptk_difftest::Ev::Yielded))
            .count();
        match pt_out {
            Some(Ok(_)) => ok += 1,
            Some(Err(_)) => err += 1,
            None => exited += 1,
        }
        if pt_trace != plain_trace || pt_out != plain_out {
            failures.push(format!(
                "{}: protothread {:?} / plain {:?}\n  pt trace    {:?}\n  plain trace {:?}\n{}",
                case.name, pt_out, plain_out, pt_trace, plain_trace, case.source
            ));
        }
    }
    assert!(ptk_difftest::CASES.len() >= 500 || std::env::var_os("PTK_DIFF_COUNT").is_some());
    assert!(
        suspensions > ptk_difftest::CASES.len(),
        "the cases hardly suspend"
    );
    println!(
        "{} cases ({ok} done with Ok, {err} with Err, {exited} exited), {} suspensions, {:?}",
        ptk_difftest::CASES.len(),
        suspensions,
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        ptk_difftest::CASES.len(),
        failures.join("\n")
    );
}
