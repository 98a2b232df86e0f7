//! 4 worker loops with one `SO_REUSEPORT` listener each serve 1,000 connections; every
//! message comes back once, and the kernel gives every worker some of the connections.

#[path = "group/scenario.rs"]
mod scenario;

#[test]
fn four_reuse_port_loops_serve_a_thousand_connections_and_every_message_comes_back_once() {
    let per_worker = scenario::run(ptk_loop::Spread::ReusePort);
    assert!(
        per_worker.iter().all(|&n| n > 0),
        "connections per worker: {per_worker:?}"
    );
}
