//! 4 worker loops, one listener handing connections to the workers in turn, serve 1,000
//! connections; every message comes back once, and each worker gets exactly a quarter.

#[path = "group/scenario.rs"]
mod scenario;

#[test]
fn four_hand_off_loops_serve_a_thousand_connections_evenly_and_every_message_comes_back_once() {
    assert_eq!(scenario::run(ptk_loop::Spread::HandOff), vec![250; 4]);
}
