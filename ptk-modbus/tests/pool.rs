//! The server's requests and answers live in the loop's buffer pool: an idle connection holds
//! no buffer, a partial request holds one until it is answered, pipelined requests split
//! across reads are answered in order, a pool far smaller than two buffers per connection
//! slows the server down without failing anyone, and `Server::start` refuses a pool whose
//! buffers cannot hold a frame.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;

use common::{
    answers, capacities, connect, model, pool_buffers, read_holding, run_until, serve_with_pool,
    with_loop,
};
use ptk_modbus::server::{MemoryModel, Server, ServerConfig, ServerStorage};
use ptk_runtime::{Capacities, Config, Error, EventLoop, ListenOptions, OwnedStorage};

fn nonblocking(s: TcpStream) -> TcpStream {
    s.set_nonblocking(true).unwrap();
    s
}

/// A server of the model for at most `max_connections` clients.
fn server_for(max_connections: usize) -> Server<MemoryModel> {
    let config = ServerConfig {
        max_connections,
        ..ServerConfig::default()
    };
    Server::new(model(), config)
}

/// Runs `f` with a server of two connections on a loop whose pool holds two buffers (as few
/// as the server starts with), and two non-blocking clients of it, both accepted.
fn with_two_clients(
    f: impl FnOnce(&mut EventLoop<'_, ()>, &Server<MemoryModel>, TcpStream, TcpStream),
) {
    let server = server_for(2);
    with_loop(&server, 2, |ev, addr| {
        let a = nonblocking(connect(addr));
        let b = nonblocking(connect(addr));
        run_until(ev, "both accepted", |_| server.stats().open == 2);
        f(ev, &server, a, b);
    });
}

/// Small buffers in use, large buffers in use, buffers queued for sending.
fn in_use(ev: &EventLoop<'_, ()>) -> (usize, usize, usize) {
    let pool = ev.buffer_stats();
    (pool.small_in_use, pool.large_in_use, pool.queued)
}

/// The answer to reading 125 holding registers at 0 that are all 0: the largest answer.
fn read_125_zeros(transaction_id: u16) -> Vec<u8> {
    let [t0, t1] = transaction_id.to_be_bytes();
    let mut answer = vec![t0, t1, 0, 0, 0, 253, 1, 0x03, 250];
    answer.resize(259, 0);
    answer
}

#[test]
fn idle_connections_hold_no_buffer_and_a_partial_request_holds_one() {
    const N: usize = 8;
    let server = server_for(N);
    with_loop(&server, pool_buffers(N), |ev, addr| {
        let mut clients: Vec<_> = (0..N).map(|_| nonblocking(connect(addr))).collect();
        run_until(ev, "every client accepted", |_| server.stats().open == N);
        assert_eq!(in_use(ev), (0, 0, 0), "connected, nothing asked yet");

        // Each asks for the largest answer, all at once, and gets it.
        for (i, s) in clients.iter_mut().enumerate() {
            s.write_all(&read_holding(i as u16, 0, 125)).unwrap();
        }
        for (i, s) in clients.iter_mut().enumerate() {
            assert_eq!(answers(ev, s, 1), [read_125_zeros(i as u16)], "client {i}");
        }
        // Answered and idle: every buffer is back in the pool.
        assert_eq!(in_use(ev), (0, 0, 0), "{N} idle connections");
        assert_eq!(server.stats().open, N);
        assert_eq!(server.stats().requests, N as u64);

        // Five bytes of a request: the connection holds one buffer until it is answered.
        let request = read_holding(100, 7, 1);
        clients[3].write_all(&request[..5]).unwrap();
        run_until(ev, "the partial request read", |ev| in_use(ev) == (1, 0, 0));
        clients[3].write_all(&request[5..]).unwrap();
        assert_eq!(
            answers(ev, &mut clients[3], 1),
            [[0, 100, 0, 0, 0, 5, 1, 3, 2, 0, 0]]
        );
        assert_eq!(in_use(ev), (0, 0, 0), "answered the partial request");
        assert_eq!(server.stats().requests, N as u64 + 1);
        assert!(ev.buffer_stats().peak_in_use <= 2 * N);
    });
}

/// Write multiple registers: `values` from `address`.
fn write_registers(transaction_id: u16, address: u16, values: &[u16]) -> Vec<u8> {
    let [t0, t1] = transaction_id.to_be_bytes();
    let [a0, a1] = address.to_be_bytes();
    let [q0, q1] = (values.len() as u16).to_be_bytes();
    let [l0, l1] = (7 + 2 * values.len() as u16).to_be_bytes();
    let mut frame = vec![t0, t1, 0, 0, l0, l1, 1, 0x10, a0, a1, q0, q1];
    frame.push(2 * values.len() as u8);
    for v in values {
        frame.extend_from_slice(&v.to_be_bytes());
    }
    frame
}

#[test]
fn pipelined_requests_split_across_reads_are_answered_in_order() {
    let server = Server::new(model(), ServerConfig::default());
    with_loop(&server, pool_buffers(1), |ev, addr| {
        let values: Vec<u16> = (0..123).map(|i| 1000 + 7 * i).collect();
        let requests = [
            read_holding(1, 10, 1),
            write_registers(2, 10, &values), // 259 bytes, the largest request
            read_holding(3, 10, 3),
            vec![0, 4, 0, 0, 0, 6, 1, 0x04, 0, 5, 0, 2], // input registers 5 and 6
        ];
        let expected = [
            vec![0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0],
            vec![0, 2, 0, 0, 0, 6, 1, 0x10, 0, 10, 0, 123],
            // What the request before wrote.
            vec![
                0, 3, 0, 0, 0, 9, 1, 3, 6, 0x03, 0xE8, 0x03, 0xEF, 0x03, 0xF6,
            ],
            vec![0, 4, 0, 0, 0, 7, 1, 4, 4, 0, 5, 0, 6],
        ];
        let stream: Vec<u8> = requests.concat();
        let mut s = nonblocking(connect(addr));
        run_until(ev, "accepted", |_| server.stats().open == 1);

        // Part of the first header: read, held, nothing to answer.
        s.write_all(&stream[..5]).unwrap();
        run_until(ev, "the partial header read", |ev| in_use(ev) == (1, 0, 0));
        assert_eq!(server.stats().requests, 0);
        // The first request's rest and 100 bytes of the second: one answer, the second kept.
        let second = 12 + 100;
        s.write_all(&stream[5..second]).unwrap();
        assert_eq!(answers(ev, &mut s, 1), expected[..1]);
        assert_eq!(
            in_use(ev),
            (1, 0, 0),
            "the second request's first 100 bytes"
        );
        // The second's rest, the third, 3 bytes of the fourth: two answers, in order.
        let fourth = 12 + 259 + 12 + 3;
        s.write_all(&stream[second..fourth]).unwrap();
        assert_eq!(answers(ev, &mut s, 2), expected[1..3]);
        assert_eq!(in_use(ev), (1, 0, 0), "the fourth request's first 3 bytes");
        // The fourth's rest.
        s.write_all(&stream[fourth..]).unwrap();
        assert_eq!(answers(ev, &mut s, 1), expected[3..]);
        assert_eq!(in_use(ev), (0, 0, 0));
        assert_eq!(server.stats().requests, 4);
    });
}

/// `n` requests of connection `conn` and their exact answers, in turn: read 125 input
/// registers (the largest answer), write a register of the connection's own, read it back,
/// read 1000 discrete inputs (an answer of 134 bytes).
fn burst(conn: u16, n: u16) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for id in 0..n {
        let [t0, t1] = id.to_be_bytes();
        let at = 100 + conn;
        let [a0, a1] = at.to_be_bytes();
        match id % 4 {
            0 => {
                let start = id % 800;
                let [s0, s1] = start.to_be_bytes();
                requests.extend_from_slice(&[t0, t1, 0, 0, 0, 6, 1, 0x04, s0, s1, 0, 125]);
                let mut answer = vec![t0, t1, 0, 0, 0, 253, 1, 0x04, 250];
                for r in start..start + 125 {
                    answer.extend_from_slice(&r.to_be_bytes());
                }
                expected.push(answer);
            }
            1 => {
                let frame = [t0, t1, 0, 0, 0, 6, 1, 0x06, a0, a1, t0, t1];
                requests.extend_from_slice(&frame);
                expected.push(frame.to_vec());
            }
            2 => {
                requests.extend_from_slice(&read_holding(id, at, 1));
                // The value written by the request before: its transaction id.
                let [v0, v1] = (id - 1).to_be_bytes();
                expected.push(vec![t0, t1, 0, 0, 0, 5, 1, 3, 2, v0, v1]);
            }
            _ => {
                // 1000 inputs (the model's), odd ones on: 0b1010_1010 per byte.
                requests.extend_from_slice(&[t0, t1, 0, 0, 0, 6, 1, 0x02, 0, 0, 0x03, 0xE8]);
                let mut answer = vec![t0, t1, 0, 0, 0, 128, 1, 0x02, 125];
                answer.resize(9 + 125, 0b1010_1010);
                expected.push(answer);
            }
        }
    }
    (requests, expected)
}

/// `clients` connections each send `n` requests in one write and read every answer.
fn bursts(clients: u16, n: u16, buffers: usize) {
    let server = server_for(usize::from(clients));
    let answered = serve_with_pool(&server, buffers, |addr| {
        (0..clients)
            .map(|conn| {
                thread::spawn(move || {
                    let (requests, expected) = burst(conn, n);
                    let mut s = connect(addr);
                    s.write_all(&requests).unwrap();
                    for (i, answer) in expected.iter().enumerate() {
                        let got = common::read_frame(&mut s);
                        assert_eq!(&got, answer, "connection {conn}, request {i}");
                    }
                    let mut rest = [0u8; 1];
                    s.set_nonblocking(true).unwrap();
                    let more = s.read(&mut rest);
                    assert!(
                        matches!(&more, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                        "connection {conn}: more answers than requests: {more:?}"
                    );
                    expected.len()
                })
            })
            .collect()
    });
    assert_eq!(answered, vec![usize::from(n); usize::from(clients)]);
    assert_eq!(server.stats().requests, u64::from(clients) * u64::from(n));
    assert_eq!(server.stats().dropped, 0);
}

#[test]
fn bursts_larger_than_a_buffer_are_answered_in_order() {
    // 4,800 bytes of requests per connection, 64 KiB of answers.
    bursts(4, 400, pool_buffers(4));
}

#[test]
fn a_pool_of_three_buffers_serves_eight_pipelining_clients() {
    bursts(8, 200, 3);
}

#[test]
fn a_pool_of_two_buffers_serves_four_pipelining_clients() {
    bursts(4, 100, 2);
}

/// What `Server::start` says of a loop whose pool has `buffers` small buffers of `size` bytes
/// (and no large ones).
fn start_with_pool(buffers: usize, size: usize) -> Result<(), Error> {
    let server = server_for(2);
    let mut memory = OwnedStorage::new(Capacities {
        buffers,
        buffer_size: size,
        ..capacities(2, 0)
    });
    let mut storage = ServerStorage::new(server.config());
    let loop_config = Config {
        protothreads: 3,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let started = server.start(&mut ev, listener, &mut storage).map(|_| ());
    ev.close_all();
    started
}

#[test]
fn start_needs_two_buffers_that_hold_a_frame() {
    assert_eq!(
        start_with_pool(0, 0),
        Err(Error::InvalidArgument),
        "no pool"
    );
    assert_eq!(
        start_with_pool(1, 260),
        Err(Error::InvalidArgument),
        "one buffer"
    );
    assert_eq!(
        start_with_pool(64, 259),
        Err(Error::InvalidArgument),
        "259 bytes"
    );
    assert_eq!(start_with_pool(2, 260), Ok(()));
}

/// Read 125 input registers from `i % 800`, with transaction id `i`.
fn read_inputs(i: u16) -> [u8; 12] {
    let [t0, t1] = i.to_be_bytes();
    let [s0, s1] = (i % 800).to_be_bytes();
    [t0, t1, 0, 0, 0, 6, 1, 0x04, s0, s1, 0, 125]
}

/// Its answer: input register `r` holds `r`.
fn inputs_answer(i: u16) -> Vec<u8> {
    let [t0, t1] = i.to_be_bytes();
    let mut answer = vec![t0, t1, 0, 0, 0, 253, 1, 0x04, 250];
    for r in i % 800..i % 800 + 125 {
        answer.extend_from_slice(&r.to_be_bytes());
    }
    answer
}

/// Writes `stream` over and over to non-blocking `s`, as much as it takes now, up to `limit`
/// bytes in all (`written` so far).
fn write_available(s: &mut TcpStream, stream: &[u8], written: &mut usize, limit: usize) {
    while *written < limit {
        let at = *written % stream.len();
        let end = stream.len().min(at + (limit - *written));
        match s.write(&stream[at..end]) {
            Ok(n) => *written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("write: {e}"),
        }
    }
}

#[test]
fn a_client_that_does_not_read_holds_its_buffers_and_the_others_wait_for_them() {
    with_two_clients(|ev, server, mut a, mut b| {
        // A pipelines requests without reading a single answer (12 bytes in, 259 out), a
        // thousand ahead of those answered, until its socket is full and its answers wait in
        // the loop's send queue.
        let stream: Vec<u8> = (0..=u16::MAX).flat_map(read_inputs).collect();
        let mut written = 0;
        let ring = ev.backend().running == ptk_runtime::BackendKind::IoUring;
        run_until(ev, "A's answers queued", |ev| {
            let ahead = (server.stats().requests as usize + 1000) * 12;
            write_available(&mut a, &stream, &mut written, ahead);
            if ev.buffer_stats().queued != 1 {
                return false;
            }
            if !ring {
                return true;
            }
            // On io_uring a queued answer leaves with the next poll: it stays queued only
            // once A's socket is full, and then the server reads A no more.
            let answered = server.stats().requests;
            for _ in 0..5 {
                ev.run_once(Some(std::time::Duration::from_millis(1)))
                    .unwrap();
            }
            ev.buffer_stats().queued == 1 && server.stats().requests == answered
        });
        // A holds its answers, perhaps requests too; B's request waits for a buffer.
        let before = server.stats().requests;
        println!(
            "A: {before} requests answered, {} written, when its answers queued",
            written / 12
        );
        b.write_all(&read_holding(7, 0, 1)).unwrap();
        let mut pending = Vec::new();
        for _ in 0..50 {
            ev.run_once(Some(std::time::Duration::from_millis(1)))
                .unwrap();
            common::read_available(&mut b, &mut pending);
        }
        assert!(pending.is_empty(), "B answered while A holds the pool");
        assert_eq!(server.stats().requests, before, "A's requests were read on");
        assert_eq!(ev.buffer_stats().queued, 1);
        // A reads its answers (and finishes the request it was writing): both go on.
        let mut from_a = Vec::new();
        let mut got = 0usize;
        run_until(ev, "A answered", |_| {
            let whole = written.next_multiple_of(12);
            write_available(&mut a, &stream, &mut written, whole);
            common::read_available(&mut a, &mut from_a);
            for answer in common::take_frames(&mut from_a) {
                assert_eq!(answer, inputs_answer(got as u16), "A's answer {got}");
                got += 1;
            }
            got == written / 12 && written % 12 == 0
        });
        assert_eq!(answers(ev, &mut b, 1), [[0, 7, 0, 0, 0, 5, 1, 3, 2, 0, 0]]);
        assert_eq!(in_use(ev), (0, 0, 0));
        assert_eq!(server.stats().requests, got as u64 + 1);
        assert_eq!(server.stats().dropped, 0);
    });
}

#[test]
fn a_read_leaves_the_last_buffer_for_answers() {
    with_two_clients(|ev, server, mut a, mut b| {
        // A's partial request holds one buffer of two.
        let first = read_holding(1, 0, 1);
        a.write_all(&first[..5]).unwrap();
        run_until(ev, "A's partial request read", |ev| in_use(ev) == (1, 0, 0));
        // B pipelines two requests: reading them would take the last buffer, leaving none to
        // answer them in (nor A's, should A pipeline too). B waits instead.
        let mut pair = read_holding(2, 1, 1);
        pair.extend_from_slice(&read_holding(3, 2, 1));
        b.write_all(&pair).unwrap();
        for _ in 0..20 {
            ev.run_once(Some(std::time::Duration::from_millis(1)))
                .unwrap();
        }
        assert_eq!(in_use(ev), (1, 0, 0), "B took the last buffer");
        // A completes its request and pipelines another: A is answered (its requests in one
        // buffer, its answers in the other), then B.
        let mut rest = first[5..].to_vec();
        rest.extend_from_slice(&read_holding(4, 3, 1));
        a.write_all(&rest).unwrap();
        assert_eq!(
            answers(ev, &mut a, 2),
            [
                [0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0],
                [0, 4, 0, 0, 0, 5, 1, 3, 2, 0, 0]
            ]
        );
        assert_eq!(
            answers(ev, &mut b, 2),
            [
                [0, 2, 0, 0, 0, 5, 1, 3, 2, 0, 0],
                [0, 3, 0, 0, 0, 5, 1, 3, 2, 0, 0]
            ]
        );
        assert_eq!(in_use(ev), (0, 0, 0));
        assert_eq!(server.stats().requests, 4);
    });
}

#[test]
fn waiting_for_a_buffer_ends_at_the_idle_timeout() {
    let config = ServerConfig {
        max_connections: 2,
        idle_timeout_ms: Some(100),
        ..ServerConfig::default()
    };
    let server = Server::new(model(), config);
    with_loop(&server, 2, |ev, addr| {
        let mut pair = read_holding(1, 1, 1);
        pair.extend_from_slice(&read_holding(2, 2, 1));

        // The test holds one buffer of two: B's pipelined requests would take the last one,
        // so B waits to read them, until its idle timeout closes it.
        let held = ev.buf_alloc(1).unwrap();
        let mut b = nonblocking(connect(addr));
        run_until(ev, "B accepted", |_| server.stats().open == 1);
        b.write_all(&pair).unwrap();
        run_until(ev, "B closed", |_| server.stats().open == 0);
        assert_eq!((server.stats().dropped, server.stats().requests), (1, 0));
        assert_eq!(in_use(ev), (1, 0, 0), "the test's buffer");
        ev.buf_release(held).unwrap();

        // C's partial request takes one buffer, the test the other: C's requests, completed
        // and pipelined, wait for a buffer to answer in, until C's idle timeout closes it.
        let mut c = nonblocking(connect(addr));
        run_until(ev, "C accepted", |_| server.stats().open == 1);
        c.write_all(&pair[..5]).unwrap();
        run_until(ev, "C's partial request read", |ev| in_use(ev) == (1, 0, 0));
        let held = ev.buf_alloc(1).unwrap();
        c.write_all(&pair[5..]).unwrap();
        run_until(ev, "C closed", |_| server.stats().open == 0);
        assert_eq!((server.stats().dropped, server.stats().requests), (2, 0));
        assert_eq!(in_use(ev), (1, 0, 0), "the test's buffer");
        ev.buf_release(held).unwrap();

        for s in [&mut b, &mut c] {
            s.set_nonblocking(false).unwrap();
            assert!(common::is_closed(s));
        }
    });
}
