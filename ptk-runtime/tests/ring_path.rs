//! The io_uring message path: pooled receives and sends as requests on the ring (partial
//! sends, the peer's FIN, a reset, closing with sends queued and in flight). Each test runs on
//! io_uring strictly, with one receive request per read, and does nothing where the feature
//! is not compiled in.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk_runtime::{
    BackendKind, Capacities, Config, Error, EventLoop, Handle, ListenOptions, OwnedStorage,
    TcpStream,
};

const WAIT: Duration = Duration::from_secs(5);
const SMALL: usize = 256;
const LARGE: usize = 64 * 1024;

fn ring_config() -> Option<Config> {
    BackendKind::IoUring.compiled_in().then(|| Config {
        backend: BackendKind::IoUring,
        backend_strict: true,
        // The single receives (the fallback where multishot receives are missing; those
        // have tests of their own in `ring_multishot.rs`).
        multishot_receive: false,
        ..Config::default()
    })
}

fn memory() -> OwnedStorage {
    OwnedStorage::new(Capacities {
        tcp_streams: 4,
        tcp_listeners: 1,
        buffers: 8,
        buffer_size: SMALL,
        large_buffers: 2,
        large_buffer_size: LARGE,
        ..Capacities::default()
    })
}

/// A connected pair: the loop's side and the peer (with a read timeout, small buffers when
/// `tight`).
fn pair(ev: &mut EventLoop<'_, ()>, tight: bool) -> (Handle<TcpStream>, std::net::TcpStream) {
    let l = ev
        .tcp_listen(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            &ListenOptions::default(),
        )
        .unwrap();
    let addr = ev.local_addr(l.raw()).unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if tight {
        sock.set_recv_buffer_size(4096).unwrap();
    }
    sock.connect(&addr.into()).unwrap();
    let peer: std::net::TcpStream = sock.into();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = None;
    run_until(ev, "the accept", WAIT, 10_000, |ev| {
        if let Poll::Ready(r) = ev.accept(l) {
            got = Some(r.unwrap().0);
        }
        got.is_some()
    });
    ev.close(l.raw()).unwrap();
    let s = got.unwrap();
    if tight {
        ev.set_send_buffer_size(s.raw(), 4096).unwrap();
    }
    (s, peer)
}

/// Runs the loop until `rx_read(s, need)` answers.
fn rx_read(ev: &mut EventLoop<'_, ()>, s: Handle<TcpStream>, need: usize) -> Result<usize, Error> {
    let mut got = None;
    run_until(ev, "an rx_read", WAIT, 10_000, |ev| {
        if let Poll::Ready(r) = ev.rx_read(s, need) {
            got = Some(r);
        }
        got.is_some()
    });
    got.unwrap()
}

fn patterned(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn a_send_goes_with_the_next_poll_and_a_partial_send_sends_the_rest() {
    let Some(config) = ring_config() else { return };
    let mut memory = memory();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let (s, mut peer) = pair(&mut ev, true);
    // One large buffer, far more than the socket takes at once: the kernel's first send is
    // short, and the loop sends the rest from where it stopped.
    let bytes = patterned(LARGE);
    let b = ev.buf_alloc(LARGE).unwrap();
    ev.buf_mut(b).unwrap().extend_from_slice(&bytes).unwrap();
    ev.send_buf(s, b).unwrap();
    // Queued, not sent: the ring sends it with the next poll.
    assert_eq!(ev.buffer_stats().queued, 1);
    assert_eq!(ev.poll_sent(s), Poll::Pending);
    let reader = std::thread::spawn(move || {
        let mut got = vec![0; LARGE];
        peer.read_exact(&mut got).unwrap();
        (got, peer)
    });
    let mut done = None;
    run_until(&mut ev, "the sends", WAIT, 100_000, |ev| {
        if let Poll::Ready(r) = ev.poll_sent(s) {
            done = Some(r);
        }
        done.is_some()
    });
    assert_eq!(done, Some(Ok(())));
    let (got, _peer) = reader.join().unwrap();
    assert!(got == bytes, "the bytes arrived changed or out of order");
    let stats = ev.buffer_stats();
    assert_eq!((stats.large_in_use, stats.queued), (0, 0));
}

#[test]
fn sends_keep_their_order_behind_one_in_flight() {
    let Some(config) = ring_config() else { return };
    let mut memory = memory();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let (s, mut peer) = pair(&mut ev, false);
    let mut want = Vec::new();
    for i in 0..3u8 {
        let b = ev.buf_alloc(10).unwrap();
        let msg = [b'a' + i; 10];
        ev.buf_mut(b).unwrap().extend_from_slice(&msg).unwrap();
        ev.send_buf(s, b).unwrap();
        want.extend_from_slice(&msg);
    }
    assert_eq!(ev.buffer_stats().queued, 3);
    let mut done = None;
    run_until(&mut ev, "the sends", WAIT, 1000, |ev| {
        if let Poll::Ready(r) = ev.poll_sent(s) {
            done = Some(r);
        }
        done.is_some()
    });
    assert_eq!(done, Some(Ok(())));
    let mut got = vec![0; 30];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn a_receive_brings_the_bytes_then_the_fin_is_end_of_stream_for_good() {
    let Some(config) = ring_config() else { return };
    let mut memory = memory();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let (s, mut peer) = pair(&mut ev, false);
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    peer.write_all(b"hello").unwrap();
    assert_eq!(rx_read(&mut ev, s, 1), Ok(5));
    assert_eq!(ev.rx(s), Ok(&b"hello"[..]));
    peer.shutdown(Shutdown::Write).unwrap();
    // The receive behind the contents meets the FIN: 0, the contents stay.
    assert_eq!(rx_read(&mut ev, s, 6), Ok(0));
    assert_eq!(ev.rx(s), Ok(&b"hello"[..]));
    ev.rx_consume(s, 5).unwrap();
    // From then on, end-of-stream at once, and no buffer is taken for it.
    assert_eq!(ev.rx_read(s, 1), Poll::Ready(Ok(0)));
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    // The stream still sends.
    let b = ev.buf_alloc(3).unwrap();
    ev.buf_mut(b).unwrap().extend_from_slice(b"bye").unwrap();
    ev.send_buf(s, b).unwrap();
    let mut done = None;
    run_until(&mut ev, "the send", WAIT, 1000, |ev| {
        if let Poll::Ready(r) = ev.poll_sent(s) {
            done = Some(r);
        }
        done.is_some()
    });
    assert_eq!(done, Some(Ok(())));
    let mut got = [0; 3];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"bye");
}

#[test]
fn a_reset_is_the_receives_error() {
    let Some(config) = ring_config() else { return };
    let mut memory = memory();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let (s, peer) = pair(&mut ev, false);
    // The first receive finds nothing (`EAGAIN`): the stream waits for its next edge
    // holding no buffer.
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    assert_eq!(
        ev.buffer_stats().small_in_use,
        1,
        "the queued receive's chunk"
    );
    ev.run_once(Some(Duration::from_millis(1))).unwrap();
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    assert_eq!(rx_read(&mut ev, s, 1), Err(Error::ConnectionReset));
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    ev.close(s.raw()).unwrap();
}

#[test]
fn closing_with_sends_queued_and_in_flight_frees_every_buffer_once_the_kernel_is_done() {
    let Some(config) = ring_config() else { return };
    let mut memory = memory();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let (s, peer) = pair(&mut ev, true);
    // The peer does not read: the first large send fills both socket buffers and stays in
    // the kernel; two more wait behind it.
    for _ in 0..2 {
        let b = ev.buf_alloc(LARGE).unwrap();
        ev.buf_mut(b)
            .unwrap()
            .extend_from_slice(&patterned(LARGE))
            .unwrap();
        ev.send_buf(s, b).unwrap();
    }
    let b = ev.buf_alloc(SMALL).unwrap();
    ev.buf_mut(b).unwrap().extend_from_slice(b"tail").unwrap();
    ev.send_buf(s, b).unwrap();
    for _ in 0..3 {
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
    }
    assert_eq!(ev.poll_sent(s), Poll::Pending);
    let stats = ev.buffer_stats();
    assert_eq!(
        (stats.large_in_use, stats.small_in_use, stats.queued),
        (2, 1, 3)
    );
    ev.close(s.raw()).unwrap();
    // What waited behind is freed at once; the buffer the kernel reads, on its completion.
    let stats = ev.buffer_stats();
    assert_eq!(
        (stats.large_in_use, stats.small_in_use, stats.queued),
        (1, 0, 0)
    );
    run_until(&mut ev, "the cancelled send", WAIT, 1000, |ev| {
        ev.buffer_stats().large_in_use == 0
    });
    assert_eq!(ev.in_use().tcp_streams, 0);
    drop(peer);
}

#[test]
fn dropping_the_loop_with_requests_in_flight_waits_for_them() {
    let Some(config) = ring_config() else { return };
    let mut memory = memory();
    let (peer, _peer2) = {
        let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
        let (r, peer) = pair(&mut ev, false);
        let (w, peer2) = pair(&mut ev, true);
        // A send waiting for room in the kernel, and a receive queued for it.
        let b = ev.buf_alloc(LARGE).unwrap();
        ev.buf_mut(b)
            .unwrap()
            .extend_from_slice(&patterned(LARGE))
            .unwrap();
        ev.send_buf(w, b).unwrap();
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
        assert_eq!(ev.rx_read(r, 1), Poll::Pending);
        let stats = ev.buffer_stats();
        assert_eq!((stats.small_in_use, stats.large_in_use), (1, 1));
        (peer, peer2)
    };
    // The pool's memory is free to go: the kernel gave everything back. Writing to the
    // peer now reaches no receive into it.
    let mut peer = peer;
    let _ = peer.write_all(b"late");
    drop(memory);
}
