//! The server allocates nothing on the loop's thread once started: a counting global
//! allocator, switched on for the loop's thread only, while 10 connections are accepted and
//! send 33,000 requests of many function codes (exceptions included), 11 pipelined at a time
//! in two writes that cut a frame (so the server reads requests into pool buffers, completes
//! partial frames and builds answers in pool buffers), and every buffer goes back to the pool.

#[path = "../../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;
mod common;

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use common::{capacities, connect, model, pool_buffers, read_frame, BOUND};
use ptk_modbus::server::{Server, ServerConfig, ServerStorage};
use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};

const CONNECTIONS: usize = 10;
const BATCHES: usize = 300;

/// Eleven requests of different function codes and their exact answers.
fn batch(id: u16, conn: u16) -> (Vec<u8>, Vec<Vec<u8>>) {
    let [t0, t1] = id.to_be_bytes();
    let [c0, c1] = conn.to_be_bytes();
    let mut frames = vec![0u8; 60];
    let requests: [[u8; 12]; 5] = [
        [t0, t1, 0, 0, 0, 6, 1, 0x06, c0, c1, t0, t1], // write register `conn` = id
        [t0, t1, 0, 0, 0, 6, 1, 0x03, c0, c1, 0, 1],   // read it back
        [t0, t1, 0, 0, 0, 6, 1, 0x01, 0x03, 0xE8, 0, 1], // coil 1000: outside the model
        [t0, t1, 0, 0, 0, 6, 1, 0x02, 0, 0, 0, 9],     // discrete inputs 0..9
        [t0, t1, 0, 0, 0, 6, 1, 0x04, c0, c1, 0, 125], // input registers conn..conn + 125
    ];
    for (i, r) in requests.iter().enumerate() {
        frames[12 * i..12 * i + 12].copy_from_slice(r);
    }
    let mut largest = vec![t0, t1, 0, 0, 0, 253, 1, 0x04, 250];
    for r in conn..conn + 125 {
        largest.extend_from_slice(&r.to_be_bytes());
    }
    let mut answers = vec![
        requests[0].to_vec(),
        vec![t0, t1, 0, 0, 0, 5, 1, 0x03, 2, t0, t1],
        vec![t0, t1, 0, 0, 0, 3, 1, 0x81, 0x02],
        vec![t0, t1, 0, 0, 0, 5, 1, 0x02, 2, 0b1010_1010, 0],
        largest,
    ];
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut identification = vec![t0, t1, 0, 0];
    identification.extend_from_slice(&(27 + version.len() as u16).to_be_bytes());
    identification.extend_from_slice(&[1, 0x2B, 0x0E, 1, 0x81, 0, 0, 3, 0, 3]);
    identification.extend_from_slice(b"ptk\x01\x0Aptk-modbus\x02");
    identification.push(version.len() as u8);
    identification.extend_from_slice(version);
    let mask_write = [t0, t1, 0, 0, 0, 8, 1, 0x16, c0, c1, 0xFF, 0xFF, 0, 0];
    let return_query_data = [t0, t1, 0, 0, 0, 6, 1, 0x08, 0, 0, t0, t1];
    let more: [(Vec<u8>, Vec<u8>); 6] = [
        // Read exception status: 0.
        (
            vec![t0, t1, 0, 0, 0, 2, 1, 0x07],
            vec![t0, t1, 0, 0, 0, 3, 1, 0x07, 0],
        ),
        // Mask write that keeps every bit: an echo.
        (mask_write.to_vec(), mask_write.to_vec()),
        // Diagnostics, return query data: an echo.
        (return_query_data.to_vec(), return_query_data.to_vec()),
        // An empty FIFO at 999.
        (
            vec![t0, t1, 0, 0, 0, 4, 1, 0x18, 0x03, 0xE7],
            vec![t0, t1, 0, 0, 0, 6, 1, 0x18, 0, 2, 0, 0],
        ),
        // A file the model does not have.
        (
            vec![t0, t1, 0, 0, 0, 10, 1, 0x14, 7, 6, 0, 1, 0, 0, 0, 1],
            vec![t0, t1, 0, 0, 0, 3, 1, 0x94, 0x02],
        ),
        // The basic identification objects.
        (
            vec![t0, t1, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0],
            identification,
        ),
    ];
    for (request, answer) in more {
        frames.extend_from_slice(&request);
        answers.push(answer);
    }
    (frames, answers)
}

#[test]
fn serving_allocates_nothing_after_start_up() {
    serve_counting(pool_buffers(CONNECTIONS));
}

/// Three buffers for ten connections: reads and answers wait for buffers, and allocate
/// nothing either.
#[test]
fn waiting_for_pool_buffers_allocates_nothing() {
    serve_counting(3);
}

/// Serves the batches with a pool of `buffers` buffers, counting the loop thread's
/// allocations.
fn serve_counting(buffers: usize) {
    let config = ServerConfig {
        max_connections: CONNECTIONS,
        ..ServerConfig::default()
    };
    let server = Server::new(model(), config);
    let mut memory = OwnedStorage::new(Capacities {
        buffers,
        ..capacities(CONNECTIONS, 0)
    });
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: CONNECTIONS + 1,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    server.start(&mut ev, listener, &mut storage).unwrap();
    let clients: Vec<_> = (0..CONNECTIONS as u16)
        .map(|conn| {
            thread::spawn(move || {
                let mut s = connect(addr);
                for b in 0..BATCHES as u16 {
                    let (frames, answers) = batch(b, conn);
                    // Cut in the middle of the third frame.
                    s.write_all(&frames[..30]).unwrap();
                    s.write_all(&frames[30..]).unwrap();
                    for answer in answers {
                        assert_eq!(read_frame(&mut s), answer, "connection {conn} batch {b}");
                    }
                }
            })
        })
        .collect();

    alloc_counter::count_this_thread(true);
    let start = Instant::now();
    while !clients.iter().all(thread::JoinHandle::is_finished) || server.stats().open > 0 {
        assert!(
            start.elapsed() < BOUND,
            "clients did not finish in {BOUND:?}"
        );
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
    }
    alloc_counter::count_this_thread(false);

    for c in clients {
        c.join().unwrap();
    }
    let requests = server.stats().requests;
    assert_eq!(requests, (CONNECTIONS * BATCHES * 11) as u64);
    assert_eq!(server.stats().accepted, CONNECTIONS as u64);
    let pool = ev.buffer_stats();
    assert_eq!(
        (pool.small_in_use, pool.large_in_use, pool.queued),
        (0, 0, 0)
    );
    assert!(pool.peak_in_use >= 1 && pool.peak_in_use <= buffers.min(2 * CONNECTIONS));
    let allocations = alloc_counter::allocations();
    println!(
        "{allocations} allocations on the loop thread for {requests} requests; at most {} of \
         {buffers} pool buffers in use at once, reads paused {} times",
        pool.peak_in_use, pool.pool_pauses
    );
    assert_eq!(allocations, 0);
}
