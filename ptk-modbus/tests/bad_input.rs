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
        "unknown function code 0x09",
        &[0, 1, 0, 0, 0, 6, 1, 0x09, 0, 0, 0, 0],
        &[0, 1, 0, 0, 0, 3, 1, 0x89, 0x01],
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
    (
        "diagnostics sub-function 0x04 (force listen only) is not served",
        &[0, 13, 0, 0, 0, 6, 1, 0x08, 0, 0x04, 0, 0],
        &[0, 13, 0, 0, 0, 3, 1, 0x88, 0x03],
    ),
    (
        "diagnostics bus message count with data 1",
        &[0, 14, 0, 0, 0, 6, 1, 0x08, 0, 0x0B, 0, 1],
        &[0, 14, 0, 0, 0, 3, 1, 0x88, 0x03],
    ),
    (
        "diagnostics with an odd data length",
        &[0, 15, 0, 0, 0, 5, 1, 0x08, 0, 0, 0xA5],
        &[0, 15, 0, 0, 0, 3, 1, 0x88, 0x03],
    ),
    (
        "read exception status with data",
        &[0, 16, 0, 0, 0, 3, 1, 0x07, 0],
        &[0, 16, 0, 0, 0, 3, 1, 0x87, 0x03],
    ),
    (
        "read file record byte count 6",
        &[0, 17, 0, 0, 0, 9, 1, 0x14, 6, 6, 0, 1, 0, 0, 0],
        &[0, 17, 0, 0, 0, 3, 1, 0x94, 0x03],
    ),
    (
        "read file record reference type 5",
        &[0, 18, 0, 0, 0, 10, 1, 0x14, 7, 5, 0, 1, 0, 0, 0, 1],
        &[0, 18, 0, 0, 0, 3, 1, 0x94, 0x02],
    ),
    (
        "read file record past record 9999",
        &[0, 19, 0, 0, 0, 10, 1, 0x14, 7, 6, 0, 1, 0x27, 0x0F, 0, 2],
        &[0, 19, 0, 0, 0, 3, 1, 0x94, 0x02],
    ),
    (
        "read file record of a file the model does not have",
        &[0, 20, 0, 0, 0, 10, 1, 0x14, 7, 6, 0, 9, 0, 0, 0, 1],
        &[0, 20, 0, 0, 0, 3, 1, 0x94, 0x02],
    ),
    (
        "write file record whose group overruns its byte count",
        &[0, 21, 0, 0, 0, 12, 1, 0x15, 9, 6, 0, 1, 0, 0, 0, 2, 0, 1],
        &[0, 21, 0, 0, 0, 3, 1, 0x95, 0x03],
    ),
    (
        "mask write past the model",
        &[0, 22, 0, 0, 0, 8, 1, 0x16, 0x03, 0xE8, 0, 0xF2, 0, 0x25],
        &[0, 22, 0, 0, 0, 3, 1, 0x96, 0x02],
    ),
    (
        "read FIFO queue with a count of 32",
        &[0, 23, 0, 0, 0, 4, 1, 0x18, 0x03, 0xE6],
        &[0, 23, 0, 0, 0, 3, 1, 0x98, 0x03],
    ),
    (
        "read device identification code 5",
        &[0, 24, 0, 0, 0, 5, 1, 0x2B, 0x0E, 5, 0],
        &[0, 24, 0, 0, 0, 3, 1, 0xAB, 0x03],
    ),
    (
        "read device identification of an object that does not exist",
        &[0, 25, 0, 0, 0, 5, 1, 0x2B, 0x0E, 4, 0x42],
        &[0, 25, 0, 0, 0, 3, 1, 0xAB, 0x02],
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
    let mut m = model().with_files(2, 100);
    // A FIFO at 998 that claims 32 values: more than a response may carry.
    m.holding_registers_mut()[998] = 32;
    let server = Server::new(m, ServerConfig::default());
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
    let cases = EXCEPTIONS.len() as u64;
    assert_eq!(cases, 25);
    // The exception cases, 6 bad headers, 1 pipelined, 5 truncated, the good client.
    assert_eq!(stats.accepted, cases + 6 + 1 + 5 + 1);
    // Every bad header and the protocol id after a good request broke a frame; the
    // truncated ones never had a whole header to judge.
    assert_eq!(server.counters().bus_communication_errors, 6 + 1);
    assert_eq!(server.counters().bus_exception_errors, cases as u16);
    assert_eq!(stats.dropped, 6 + 1 + 5);
}
