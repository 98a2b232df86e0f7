//! 1,000 concurrent Modbus clients against one server: every connection is open at once, and
//! every request of every connection is answered correctly.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::{ask, connect, model, serve_while};
use ptk_modbus::server::{Server, ServerConfig};

const THREADS: usize = 20;
const PER_THREAD: usize = 50;
const CLIENTS: usize = THREADS * PER_THREAD;
const ROUNDS: usize = 3;

#[test]
fn a_thousand_concurrent_clients_are_all_answered_correctly() {
    let config = ServerConfig {
        max_connections: CLIENTS,
        ..ServerConfig::default()
    };
    let server = Server::new(model(), config);
    let answered = serve_while(&server, |addr| {
        let all_connected = Arc::new(Barrier::new(THREADS));
        (0..THREADS)
            .map(|t| {
                let all_connected = Arc::clone(&all_connected);
                thread::spawn(move || {
                    let mut conns: Vec<_> = (0..PER_THREAD).map(|_| connect(addr)).collect();
                    // Every connection is open before any is used.
                    all_connected.wait();
                    let mut answered = 0;
                    for round in 0..ROUNDS {
                        for (i, s) in conns.iter_mut().enumerate() {
                            let client = t * PER_THREAD + i;
                            let id = (client * ROUNDS + round) as u16;
                            let [t0, t1] = id.to_be_bytes();
                            // Input register i holds i; read two from `client % 999`.
                            let at = (client % 999) as u16;
                            let [a0, a1] = at.to_be_bytes();
                            let request = [t0, t1, 0, 0, 0, 6, 1, 0x04, a0, a1, 0, 2];
                            let [v0, v1] = at.to_be_bytes();
                            let [w0, w1] = (at + 1).to_be_bytes();
                            assert_eq!(
                                ask(s, &request),
                                [t0, t1, 0, 0, 0, 7, 1, 0x04, 4, v0, v1, w0, w1],
                                "client {client} round {round}"
                            );
                            // And a write of its own register, echoed.
                            let [r0, r1] = (client as u16).to_be_bytes();
                            let [x0, x1] = (round as u16).to_be_bytes();
                            let write = [t0, t1, 0, 0, 0, 6, 1, 0x06, r0, r1, x0, x1];
                            assert_eq!(ask(s, &write), write, "client {client} round {round}");
                            answered += 2;
                        }
                    }
                    answered
                })
            })
            .collect()
    });
    assert_eq!(answered.iter().sum::<usize>(), CLIENTS * ROUNDS * 2);
    let stats = server.stats();
    assert_eq!(stats.accepted, CLIENTS as u64);
    assert_eq!(stats.refused, 0);
    assert_eq!(stats.requests, (CLIENTS * ROUNDS * 2) as u64);
    let model = server.model();
    assert!(model.holding_registers()[..CLIENTS]
        .iter()
        .all(|&v| v == ROUNDS as u16 - 1));
}
