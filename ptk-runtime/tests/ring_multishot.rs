//! Multishot receives into pool buffers lent to the kernel (io_uring, Linux 6.0): bytes in
//! order through queued chunks, a stream that does not read held at its cap while others go
//! on, the kernel's ring running dry and reads recovering, closing with chunks queued,
//! `grow` with receives armed, direct reads behind queued chunks. Each test runs on io_uring
//! strictly, and does nothing where the feature is not compiled in or the kernel has no
//! multishot receives.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk_runtime::{
    BackendKind, Capacities, Config, EventLoop, Handle, ListenOptions, OwnedStorage, TcpStream,
};

const WAIT: Duration = Duration::from_secs(5);
const SMALL: usize = 256;

fn config(per_stream: usize) -> Option<Config> {
    BackendKind::IoUring.compiled_in().then(|| Config {
        backend: BackendKind::IoUring,
        backend_strict: true,
        multishot_receive: true,
        buffers_per_stream: per_stream,
        ..Config::default()
    })
}

fn memory(streams: usize, buffers: usize) -> OwnedStorage {
    OwnedStorage::new(Capacities {
        tcp_streams: streams,
        tcp_listeners: 1,
        buffers,
        buffer_size: SMALL,
        large_buffers: 0,
        ..Capacities::default()
    })
}

/// A loop with multishot receives, or `None` where they are missing.
fn ring_loop<'s>(memory: &'s mut OwnedStorage, per_stream: usize) -> Option<EventLoop<'s, ()>> {
    let ev = EventLoop::new(memory.storage(), config(per_stream)?, ()).unwrap();
    if !ev.multishot_receive() {
        eprintln!("no multishot receives on this kernel: skipped");
        return None;
    }
    Some(ev)
}

/// `n` connected pairs: the loop's sides and the peers.
fn pairs(ev: &mut EventLoop<'_, ()>, n: usize) -> Vec<(Handle<TcpStream>, std::net::TcpStream)> {
    let l = ev
        .tcp_listen(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            &ListenOptions::default(),
        )
        .unwrap();
    let addr = ev.local_addr(l.raw()).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let peer = std::net::TcpStream::connect(addr).unwrap();
        peer.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = None;
        run_until(ev, "the accept", WAIT, 10_000, |ev| {
            if let Poll::Ready(r) = ev.accept(l) {
                got = Some(r.unwrap().0);
            }
            got.is_some()
        });
        out.push((got.unwrap(), peer));
    }
    ev.close(l.raw()).unwrap();
    out
}

fn patterned(from: usize, n: usize) -> Vec<u8> {
    (from..from + n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Reads `want` bytes of `s` through its receive buffer (consuming them as they come).
fn read_all(ev: &mut EventLoop<'_, ()>, s: Handle<TcpStream>, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    run_until(ev, "the bytes", WAIT, 100_000, |ev| {
        while got.len() < want {
            match ev.rx_read(s, 1) {
                Poll::Ready(Ok(n)) => {
                    assert!(n > 0, "end of stream after {} bytes", got.len());
                    let rx = ev.rx(s).unwrap().to_vec();
                    ev.rx_consume(s, rx.len()).unwrap();
                    got.extend_from_slice(&rx);
                }
                Poll::Ready(Err(e)) => panic!("read failed after {} bytes: {e}", got.len()),
                Poll::Pending => break,
            }
        }
        got.len() >= want
    });
    got
}

/// Runs a few iterations that wait for nothing.
fn settle(ev: &mut EventLoop<'_, ()>) {
    for _ in 0..3 {
        ev.run_once(Some(Duration::from_millis(2))).unwrap();
    }
}

#[test]
fn many_messages_arrive_whole_and_in_order_through_queued_chunks() {
    let mut memory = memory(2, 32);
    let Some(mut ev) = ring_loop(&mut memory, 4) else {
        return;
    };
    let (s, mut peer) = pairs(&mut ev, 1).pop().unwrap();
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    // Armed: no chunk is the stream's while it waits; some are lent (counted free).
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert!(ev.buffers_lent() > 0);
    let bytes = patterned(0, 100 * SMALL + 17);
    let writer = {
        let bytes = bytes.clone();
        let mut peer = peer.try_clone().unwrap();
        std::thread::spawn(move || {
            for part in bytes.chunks(1000) {
                peer.write_all(part).unwrap();
            }
        })
    };
    let got = read_all(&mut ev, s, bytes.len());
    writer.join().unwrap();
    assert!(got == bytes, "bytes changed or out of order");
    settle(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    // At most half the free chunks are ever lent.
    assert!(ev.buffers_lent() <= 16, "{}", ev.buffers_lent());
    ev.close(s.raw()).unwrap();
    peer.write_all(b"after").unwrap_or(());
    settle(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn a_stream_that_does_not_read_stops_at_its_cap_and_the_others_go_on() {
    const CAP: usize = 4;
    let mut memory = memory(4, 32);
    let Some(mut ev) = ring_loop(&mut memory, CAP) else {
        return;
    };
    let mut ps = pairs(&mut ev, 3);
    let (hog, mut hog_peer) = ps.remove(0);
    // The hog's first read arms its receive, and it never reads again.
    assert_eq!(ev.rx_read(hog, 1), Poll::Pending);
    let flood = patterned(0, 64 * 1024);
    hog_peer.set_nonblocking(true).unwrap();
    let mut sent = 0;
    // Far more than its cap of chunks: the peer writes until the socket buffers are full.
    run_until(
        &mut ev,
        "the hog's peer to block",
        WAIT,
        100_000,
        |_| match hog_peer.write(&flood) {
            Ok(n) => {
                sent += n;
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            Err(e) => panic!("{e}"),
        },
    );
    settle(&mut ev);
    // The hog holds its cap, give or take what the kernel filled before its cancel took
    // effect (never more than the chunks lent then: half the free ones), and keeps it.
    let held = ev.buffer_stats().small_in_use;
    assert!((CAP..=CAP + 16).contains(&held), "the hog holds {held}");
    settle(&mut ev);
    assert_eq!(
        ev.buffer_stats().small_in_use,
        held,
        "its receive was not stopped"
    );
    assert!(sent > held * SMALL, "the peer sent {sent}");
    // The others read all their peers send.
    for (i, (s, peer)) in ps.iter_mut().enumerate() {
        let bytes = patterned(i, 20 * SMALL);
        peer.write_all(&bytes).unwrap();
        assert!(read_all(&mut ev, *s, bytes.len()) == bytes, "stream {i}");
    }
    assert_eq!(ev.buffer_stats().small_in_use, held);
    // Closing the hog frees everything it held: the pool is back to all free.
    ev.close(hog.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    settle(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    for (s, _) in ps {
        ev.close(s.raw()).unwrap();
    }
    settle(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    // Every chunk can be taken again once the lent ones come back with the loop's end.
    let lent = ev.buffers_lent();
    let taken: Vec<_> = (0..32 - lent).map(|_| ev.buf_alloc(1).unwrap()).collect();
    assert_eq!(taken.len() + lent, 32);
    for b in taken {
        ev.buf_release(b).unwrap();
    }
}

#[test]
fn a_reader_whose_stream_drains_the_cap_goes_on_reading() {
    const CAP: usize = 2;
    let mut memory = memory(2, 32);
    let Some(mut ev) = ring_loop(&mut memory, CAP) else {
        return;
    };
    let (s, mut peer) = pairs(&mut ev, 1).pop().unwrap();
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    // Many chunks' worth arrives before the stream reads: its receive stops at the cap,
    // and is armed again as the reads drain it, until every byte is read.
    let bytes = patterned(3, 40 * SMALL + 5);
    peer.write_all(&bytes).unwrap();
    settle(&mut ev);
    let got = read_all(&mut ev, s, bytes.len());
    assert!(got == bytes, "bytes changed or out of order");
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    ev.close(s.raw()).unwrap();
}

#[test]
fn when_the_kernel_runs_out_of_lent_chunks_reads_recover() {
    let mut memory = memory(2, 8);
    let Some(mut ev) = ring_loop(&mut memory, 16) else {
        return;
    };
    let (s, mut peer) = pairs(&mut ev, 1).pop().unwrap();
    // Seven of the eight chunks are taken: none can be lent (never more than stay free),
    // so the stream reads by single receives into the last free chunk.
    let mut held: Vec<_> = (0..7).map(|_| ev.buf_alloc(1).unwrap()).collect();
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    assert_eq!(ev.buffers_lent(), 0);
    let bytes = patterned(5, 30 * SMALL);
    peer.write_all(&bytes).unwrap();
    assert!(
        read_all(&mut ev, s, bytes.len()) == bytes,
        "single receives"
    );
    assert_eq!(ev.buffers_lent(), 0);
    // With two free, one is lent: the multishot receive fills it and the kernel's ring runs
    // dry (ENOBUFS ends the receive), again and again; every byte still comes, in order.
    ev.buf_release(held.pop().unwrap()).unwrap();
    let bytes = patterned(6, 30 * SMALL);
    peer.write_all(&bytes).unwrap();
    assert!(
        read_all(&mut ev, s, bytes.len()) == bytes,
        "ENOBUFS and re-arms"
    );
    assert!(ev.buffers_lent() <= 1);
    // With every chunk free again, the ring gets its share back and the stream goes on.
    for b in held {
        ev.buf_release(b).unwrap();
    }
    let more = patterned(9, 30 * SMALL);
    peer.write_all(&more).unwrap();
    assert!(read_all(&mut ev, s, more.len()) == more);
    assert!(ev.buffers_lent() >= 1);
    // No chunk is left in use, and no read waits for the pool.
    settle(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(ev.buffer_stats().paused_streams, 0);
    ev.close(s.raw()).unwrap();
}

#[test]
fn closing_with_chunks_queued_frees_them_and_late_completions_go_back() {
    let mut memory = memory(1, 16);
    let Some(mut ev) = ring_loop(&mut memory, 8) else {
        return;
    };
    let (s, mut peer) = pairs(&mut ev, 1).pop().unwrap();
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    // Three chunks' worth in one write: queued on the stream, not read.
    peer.write_all(&patterned(0, 2 * SMALL + 88)).unwrap();
    run_until(&mut ev, "the queued chunks", WAIT, 1000, |ev| {
        ev.buffer_stats().small_in_use == 3
    });
    // More comes, and the stream closes before the loop sees it.
    peer.write_all(&patterned(1, 3 * SMALL)).unwrap();
    ev.close(s.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    settle(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(ev.in_use().tcp_streams, 0);
    // A new stream in the same slot gets only its own bytes.
    let (t, mut peer2) = pairs(&mut ev, 1).pop().unwrap();
    assert_eq!(t.raw().slot(), s.raw().slot());
    peer2.write_all(b"mine").unwrap();
    assert_eq!(read_all(&mut ev, t, 4), b"mine");
    ev.close(t.raw()).unwrap();
}

#[test]
fn growing_with_receives_armed_and_chunks_queued_keeps_every_byte() {
    let mut memory = memory(2, 16);
    let mut larger = OwnedStorage::new(Capacities {
        tcp_streams: 8,
        tcp_listeners: 1,
        buffers: 16,
        buffer_size: SMALL,
        large_buffers: 0,
        ..Capacities::default()
    });
    let Some(mut ev) = ring_loop(&mut memory, 8) else {
        return;
    };
    let mut ps = pairs(&mut ev, 2);
    let (idle, mut idle_peer) = ps.pop().unwrap();
    let (busy, mut busy_peer) = ps.pop().unwrap();
    assert_eq!(ev.rx_read(idle, 1), Poll::Pending);
    assert_eq!(ev.rx_read(busy, 1), Poll::Pending);
    let first = patterned(0, 2 * SMALL + 10);
    busy_peer.write_all(&first).unwrap();
    run_until(&mut ev, "the queued chunks", WAIT, 1000, |ev| {
        ev.buffer_stats().small_in_use == 3
    });
    let _old = ev.grow(larger.storage()).unwrap();
    // Every lent chunk came back before the memory moved; the queued ones moved with it.
    assert_eq!(ev.capacities().tcp_streams, 8);
    assert_eq!(ev.buffer_stats().small_in_use, 3);
    let mut want = first.clone();
    let second = patterned(7, 3 * SMALL);
    busy_peer.write_all(&second).unwrap();
    want.extend_from_slice(&second);
    assert!(read_all(&mut ev, busy, want.len()) == want);
    idle_peer.write_all(b"still here").unwrap();
    assert_eq!(read_all(&mut ev, idle, 10), b"still here");
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    ev.close(busy.raw()).unwrap();
    ev.close(idle.raw()).unwrap();
}

#[test]
fn a_direct_read_behind_queued_chunks_gets_the_bytes_in_order() {
    let mut memory = memory(2, 16);
    let Some(mut ev) = ring_loop(&mut memory, 8) else {
        return;
    };
    let (s, mut peer) = pairs(&mut ev, 1).pop().unwrap();
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    let bytes = patterned(0, 3 * SMALL);
    peer.write_all(&bytes[..2 * SMALL]).unwrap();
    run_until(&mut ev, "the queued chunks", WAIT, 1000, |ev| {
        ev.buffer_stats().small_in_use == 2
    });
    peer.write_all(&bytes[2 * SMALL..]).unwrap();
    let mut got = Vec::new();
    run_until(&mut ev, "the direct reads", WAIT, 10_000, |ev| {
        let mut buf = [0; 100];
        while let Poll::Ready(r) = ev.read(s, &mut buf) {
            let n = r.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        got.len() >= bytes.len()
    });
    assert!(got == bytes, "bytes changed or out of order");
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    // The peer still hears the stream.
    let b = ev.buf_alloc(2).unwrap();
    ev.buf_mut(b).unwrap().extend_from_slice(b"ok").unwrap();
    ev.send_buf(s, b).unwrap();
    run_until(&mut ev, "the send", WAIT, 1000, |ev| {
        matches!(ev.poll_sent(s), Poll::Ready(_))
    });
    let mut two = [0; 2];
    peer.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"ok");
    ev.close(s.raw()).unwrap();
}
