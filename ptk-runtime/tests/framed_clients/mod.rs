//! Blocking framed clients of the pooled-server tests (this crate's, and the facade's, which
//! include this file by path): frames are a payload with its 4-byte big-endian length in
//! front.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;

use ptk_runtime::HEADER_LEN;

/// `payload` with its length in front.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// Reads one frame; returns its payload.
pub fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    s.read_exact(&mut header).unwrap();
    let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
    s.read_exact(&mut payload).unwrap();
    payload
}

/// The clients of a group chat (a server that sends every frame to the other members of its
/// sender's group): `groups` groups of `members` connections each (`connect` makes one),
/// numbered from `first`. Each member says hello (`[group, place]`) and must get it back;
/// then in each of `rounds` rounds one member of every group, each in turn, sends
/// `payload(group, round)` and every other member of the group must receive exactly that.
/// At the end every member half-closes and must read end-of-stream with nothing before it.
/// Returns the frames received, hellos aside.
pub fn group_chat(
    mut connect: impl FnMut() -> TcpStream,
    first: usize,
    groups: usize,
    members: usize,
    rounds: usize,
    payload: impl Fn(usize, usize) -> Vec<u8>,
) -> usize {
    let mut socks: Vec<Vec<_>> = (0..groups)
        .map(|_| (0..members).map(|_| connect()).collect())
        .collect();
    for (g, group) in socks.iter_mut().enumerate() {
        for (k, s) in group.iter_mut().enumerate() {
            let hello = [(first + g) as u8, k as u8];
            s.write_all(&frame(&hello)).unwrap();
            assert_eq!(read_frame(s), hello, "the hello of group {g} member {k}");
        }
    }
    let mut received = 0;
    for round in 0..rounds {
        let from = round % members;
        for (g, group) in socks.iter_mut().enumerate() {
            group[from]
                .write_all(&frame(&payload(first + g, round)))
                .unwrap();
        }
        for (g, group) in socks.iter_mut().enumerate() {
            for (k, s) in group.iter_mut().enumerate() {
                if k != from {
                    assert_eq!(
                        read_frame(s),
                        payload(first + g, round),
                        "group {g} member {k}"
                    );
                    received += 1;
                }
            }
        }
    }
    // Nothing more comes: each member half-closes and reads end-of-stream.
    for group in &mut socks {
        for s in group.iter_mut() {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        for s in group.iter_mut() {
            let mut rest = [0u8; 1];
            assert_eq!(s.read(&mut rest).unwrap(), 0, "nothing more than was sent");
        }
    }
    received
}
