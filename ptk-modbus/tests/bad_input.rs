//! Bad input against the server from raw sockets: each case gets the exception response the
//! specification prescribes (exact bytes) or a clean close of its own connection, while a
//! well-behaved client on another connection keeps being served throughout.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use common::{ask, connect, is_closed, model, read_holding, serve_while};
use ptk_modbus::server::{Server, ServerConfig};

/// Requests that must be answered with an exception, and the exact answers.
const EXCEPTIONS: &[(&str, &[u8], &[u8])] = &[
    (
        "unknown function code 0x08",
        &[0, 1, 0, 0, 0, 6, 1, 0x08, 0, 0, 0, 0],
        &[0, 1, 0, 0, 0, 3, 1, 0x88, 0x01],
    ),
    (
        "unknown function code 0x41",
        &[0, 2, 0, 0, 0, 2, 1, 0x41],
        &[0, 2, 0, 0, 0, 3, 1, 0xC1, 0x01],
    ),
    (
        "read coils quantity 0",
        &[0, 3, 0, 0, 0, 6, 1, 0x01, 0, 0, 0, 0],
        &[0, 3, 0, 0, 0, 3, 1, 0x81, 0x03],
    ),
    (
        "read coils quantity 2001",
        &[0, 4, 0, 0, 0, 6, 1, 0x01, 0, 0, 0x07, 0xD1],
        &[0, 4, 0, 0, 0, 3, 1, 0x81, 0x03],
    ),
    (
        "read holding quantity 126",
        &[0, 5, 0, 0, 0, 6, 1, 0x03, 0, 0, 0, 126],
        &[0, 5, 0, 0, 0, 3, 1, 0x83, 0x03],
    ),
    (
        "write registers quantity 124",
        &[0, 6, 0, 0, 0, 7, 1, 0x10, 0, 0, 0, 124, 248],
        &[0, 6, 0, 0, 0, 3, 1, 0x90, 0x03],
    ),
    (
        "write registers byte count 3 for 2 registers",
        &[0, 7, 0, 0, 0, 11, 1, 0x10, 0, 0, 0, 2, 3, 0, 1, 0, 2],
        &[0, 7, 0, 0, 0, 3, 1, 0x90, 0x03],
    ),
    (
        "write coils byte count 2 for 8 coils",
        &[0, 8, 0, 0, 0, 9, 1, 0x0F, 0, 0, 0, 8, 2, 0xFF, 0],
        &[0, 8, 0, 0, 0, 3, 1, 0x8F, 0x03],
    ),
    (
        "write single coil value 0x1234",
        &[0, 9, 0, 0, 0, 6, 1, 0x05, 0, 0, 0x12, 0x34],
        &[0, 9, 0, 0, 0, 3, 1, 0x85, 0x03],
    ),
    (
        "read holding past 0x10000",
        &[0, 10, 0, 0, 0, 6, 1, 0x03, 0xFF, 0xFF, 0, 2],
        &[0, 10, 0, 0, 0, 3, 1, 0x83, 0x02],
    ),
    (
        "read holding past the model (1000 registers)",
        &[0, 11, 0, 0, 0, 6, 1, 0x03, 0x03, 0xE7, 0, 2],
        &[0, 11, 0, 0, 0, 3, 1, 0x83, 0x02],
    ),
    (
        "read holding PDU one byte short",
        &[0, 12, 0, 0, 0, 5, 1, 0x03, 0, 0, 0],
        &[0, 12, 0, 0, 0, 3, 1, 0x83, 0x03],
    ),
];

/// Frames after which the server must close the connection.
const CLOSES: &[(&str, &[u8])] = &[
    ("MBAP length 0", &[0, 1, 0, 0, 0, 0, 1, 3, 0, 0, 0, 1]),
    ("MBAP length 1", &[0, 1, 0, 0, 0, 1, 1, 3, 0, 0, 0, 1]),
    ("MBAP length 255", &[0, 1, 0, 0, 0, 255, 1, 3, 0, 0, 0, 1]),
    ("MBAP length 0xFFFF", &[0, 1, 0, 0, 0xFF, 0xFF, 1, 3]),
    ("protocol id 1", &[0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1]),
    (
        "protocol id 0xFFFF",
        &[0, 1, 0xFF, 0xFF, 0, 6, 1, 3, 0, 0, 0, 1],
    ),
];

#[test]
fn bad_input_is_refused_or_closed_while_a_good_client_is_served() {
    let server = Server::new(model(), ServerConfig::default());
    let results = serve_while(&server, |addr| {
        let done = Arc::new(AtomicBool::new(false));
        let good_done = Arc::clone(&done);
        let good = thread::spawn(move || {
            let mut s = connect(addr);
            let mut served = 0u32;
            // Keep asking until the bad clients are done, and at least 100 times.
            while served < 100 || !good_done.load(Ordering::Acquire) {
                let id = served as u16;
                let answer = ask(&mut s, &read_holding(id, 5, 2));
                let [t0, t1] = id.to_be_bytes();
                assert_eq!(answer, [t0, t1, 0, 0, 0, 7, 1, 3, 4, 0, 0, 0, 0]);
                served += 1;
            }
            served
        });
        let bad = thread::spawn(move || {
            for (what, request, expected) in EXCEPTIONS {
                let mut s = connect(addr);
                assert_eq!(&ask(&mut s, request)[..], *expected, "{what}");
                // The connection is still served after the exception.
                assert_eq!(
                    ask(&mut s, &read_holding(77, 0, 1)),
                    [0, 77, 0, 0, 0, 5, 1, 3, 2, 0, 0],
                    "{what}: next request"
                );
            }
            for (what, frame) in CLOSES {
                let mut s = connect(addr);
                s.write_all(frame).unwrap();
                assert!(is_closed(&mut s), "{what}");
            }
            // Answers to the requests before a malformed frame are still written.
            let mut s = connect(addr);
            let mut pipelined = read_holding(1, 0, 1);
            pipelined.extend_from_slice(&[0, 2, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1]);
            s.write_all(&pipelined).unwrap();
            assert_eq!(
                common::read_frame(&mut s),
                [0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0]
            );
            assert!(is_closed(&mut s), "protocol id after a good request");
            // Truncated frames: the client closes mid-frame, the server closes too.
            for cut in [1, 5, 6, 7, 11] {
                let mut s = connect(addr);
                s.write_all(&read_holding(3, 0, 1)[..cut]).unwrap();
                s.shutdown(Shutdown::Write).unwrap();
                assert!(is_closed(&mut s), "truncated after {cut} bytes");
            }
            done.store(true, Ordering::Release);
            0
        });
        vec![good, bad]
    });
    assert!(
        results[0] >= 100,
        "the good client was served {} times",
        results[0]
    );
    let stats = server.stats();
    assert_eq!(stats.open, 0);
    // 12 exception cases, 6 bad headers, 1 pipelined, 5 truncated, the good client.
    assert_eq!(stats.accepted, 12 + 6 + 1 + 5 + 1);
    assert_eq!(stats.dropped, 6 + 1 + 5);
}
