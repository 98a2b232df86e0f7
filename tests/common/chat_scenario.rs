//! The chat-server scenarios, written once against any framed chat server: the protothread
//! one of `chat.rs` (driven on the test's thread) and the C one of `ptk-capi` (a process of
//! its own). Only `std` and `socket2`: the C API's tests include this file too.
//!
//! A server under test implements [`ChatServerUnderTest`]: its address, and a way to let it
//! work until its counts (who joined, who was dropped, how many frames it received) satisfy
//! a condition.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clients::{connect, frame, read_frame, read_to_eof, wait_for};

/// What a chat server has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatCounts {
    /// Peers that joined.
    pub joined: usize,
    /// Peers connected now.
    pub connected: usize,
    /// Frames received from peers.
    pub received: usize,
    /// The seats of the peers dropped for not reading, in order.
    pub dropped: Vec<usize>,
    /// Peers that left by closing (or failing) on their own.
    pub left: usize,
}

/// A chat server the scenarios can run against.
pub trait ChatServerUnderTest {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
    /// Lets the server work until `done` holds for its counts; panics naming `what` after
    /// `within`.
    fn run_until(
        &mut self,
        what: &str,
        within: Duration,
        done: &mut dyn FnMut(&ChatCounts) -> bool,
    );
    /// Its counts now.
    fn counts(&mut self) -> ChatCounts;
}

const WAIT: Duration = Duration::from_secs(10);

/// The server must have room for 4 peers and give every accepted socket a 4 KiB send buffer
/// and an 8 KiB outbox. A client that never reads (with a small receive window) is dropped
/// once its outbox is full, while a normal client gets all 400 messages of a third one in
/// order; the slow client then reads what reached its socket before the drop, and
/// end-of-stream. Returns the seat of the slow client (0).
pub fn a_client_that_never_reads_is_dropped_and_does_not_hold_back_the_others(
    server: &mut dyn ChatServerUnderTest,
) -> usize {
    const MESSAGES: usize = 400;
    const SIZE: usize = 1000;
    const WINDOW: usize = 4;
    let addr = server.addr();

    // The slow client: a small receive window, and it never reads while the others talk.
    let slow_sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    slow_sock.set_recv_buffer_size(4096).unwrap();
    slow_sock.connect(&addr.into()).unwrap();
    let mut slow: std::net::TcpStream = slow_sock.into();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    server.run_until("the slow client", WAIT, &mut |c| c.connected == 1);
    let slow_slot = 0;

    let message = |i: usize| -> Vec<u8> {
        let mut m = format!("message {i:04} ").into_bytes();
        m.resize(SIZE, b'a' + (i % 26) as u8);
        m
    };
    // Messages the normal client has read.
    let ready = Arc::new(AtomicUsize::new(0));
    let normal = {
        let ready = Arc::clone(&ready);
        std::thread::spawn(move || {
            let mut c = connect(addr);
            let started = Instant::now();
            for i in 0..MESSAGES {
                assert_eq!(read_frame(&mut c), message(i), "message {i}");
                ready.fetch_add(1, Ordering::AcqRel);
            }
            (started.elapsed(), c)
        })
    };
    server.run_until("the normal client", WAIT, &mut |c| c.connected == 2);
    // The sender keeps at most WINDOW messages ahead of the normal client, so the normal
    // client's outbox can never fill; the slow client's fills after a few dozen.
    let sender = {
        let ready = Arc::clone(&ready);
        std::thread::spawn(move || {
            let mut c = connect(addr);
            for i in 0..MESSAGES {
                wait_for("the normal client to keep up", WAIT, || {
                    ready.load(Ordering::Acquire) + WINDOW > i
                });
                c.write_all(&frame(&message(i))).unwrap();
            }
            c
        })
    };
    let started = Instant::now();
    server.run_until("every message to the normal client", WAIT, &mut |_| {
        normal.is_finished() && sender.is_finished()
    });
    let took = started.elapsed();
    let (read_all_in, normal) = normal.join().unwrap();
    let sender = sender.join().unwrap();
    eprintln!("normal client read {MESSAGES} messages in {read_all_in:?} (served in {took:?})");
    assert!(read_all_in < WAIT);
    // The last frame's broadcast may still be reported (a separate process prints it).
    server.run_until("the count of every frame", WAIT, &mut |c| {
        c.received == MESSAGES
    });

    assert_eq!(
        server.counts(),
        ChatCounts {
            joined: 3,
            connected: 2,
            received: MESSAGES,
            dropped: vec![slow_slot],
            left: 0,
        }
    );
    // What the slow client was sent before the drop is still there, then end-of-stream.
    let backlog = read_to_eof(&mut slow, MESSAGES * (SIZE + 4));
    assert!(
        backlog > 0 && backlog < MESSAGES * (SIZE + 4),
        "{backlog} bytes"
    );
    drop((sender, normal));
    slow_slot
}
