//! Blocking loopback clients of the framed servers under test (a 4-byte big-endian length,
//! then the payload). Only `std`: the C API's tests include this file too.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a client waits for one reply before its read fails.
pub const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of a frame's length header.
const HEADER_LEN: usize = 4;

/// Polls `done` (with a short pause) from a thread that is not the loop's, bounded by `within`.
pub fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A blocking loopback client whose reads give up after [`CLIENT_READ_TIMEOUT`].
pub fn connect(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(CLIENT_READ_TIMEOUT)).unwrap();
    c.set_nodelay(true).unwrap();
    c
}

/// `payload` with its 4-byte big-endian length in front.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A payload that differs for every (client, message) pair, in content and in length.
pub fn payload(client: usize, message: usize, max: usize) -> Vec<u8> {
    let len = 1 + (client * 31 + message * 17) % max;
    (0..len)
        .map(|i| (client * 7 + message * 13 + i) as u8)
        .collect()
}

/// Sends one frame.
pub fn send_frame(c: &mut std::net::TcpStream, payload: &[u8]) {
    c.write_all(&frame(payload)).unwrap();
}

/// Reads one frame and returns its payload.
pub fn read_frame(c: &mut std::net::TcpStream) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    c.read_exact(&mut header).unwrap();
    let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
    c.read_exact(&mut payload).unwrap();
    payload
}

/// Reads until end-of-stream, bounded by the client's read timeout and by `max_bytes`;
/// returns how many bytes came before it.
pub fn read_to_eof(c: &mut std::net::TcpStream, max_bytes: usize) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match c.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) => panic!("no end-of-stream after {total} bytes: {e}"),
        }
        assert!(
            total <= max_bytes,
            "more than {max_bytes} bytes before end-of-stream"
        );
    }
}
