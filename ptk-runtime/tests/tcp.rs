//! Loopback TCP through handlers: listen, accept, echo, connect failures and timeouts, resets,
//! half-close, partial writes, options, addresses, pool exhaustion and stale handles.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::task::Poll;
use std::time::{Duration, Instant};

use common::net::{client, echo_round_trip, on_accept, on_write_more, Net};
use common::run_until;
use ptk_runtime::{
    Capacities, Capacity, Config, Error, EventLoop, Handle, ListenOptions, OwnedStorage, Shutdown,
    TcpListener, TcpStream, Trigger,
};

const WAIT: Duration = Duration::from_secs(5);

fn v4() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn new_loop(memory: &mut OwnedStorage, echo: bool) -> EventLoop<'_, Net> {
    let net = Net {
        echo,
        ..Net::default()
    };
    EventLoop::new(memory.storage(), Config::default(), net).unwrap()
}

fn listen(ev: &mut EventLoop<'_, Net>, addr: SocketAddr) -> (Handle<TcpListener>, SocketAddr) {
    let l = ev.tcp_listen(addr, &ListenOptions::default()).unwrap();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    let local = ev.local_addr(l.raw()).unwrap();
    assert_eq!(local.ip(), addr.ip());
    assert_ne!(local.port(), 0);
    (l, local)
}

fn accept_n(ev: &mut EventLoop<'_, Net>, n: usize) -> Vec<Handle<TcpStream>> {
    run_until(ev, "accepted connections", WAIT, 10_000, |ev| {
        ev.app().accepts.len() >= n
    });
    ev.app().accepted()
}

/// Runs until the connect of `s` settles and returns its outcome.
fn settle(ev: &mut EventLoop<'_, Net>, s: Handle<TcpStream>) -> Result<(), Error> {
    let mut outcome = None;
    run_until(ev, "the connect to settle", WAIT, 10_000, |ev| {
        if let Poll::Ready(r) = ev.connected(s) {
            outcome = Some(r);
        }
        outcome.is_some()
    });
    outcome.unwrap()
}

#[test]
fn listeners_on_ipv4_and_ipv6_loopback_accept_and_echo() {
    let mut addrs = vec![v4()];
    // Only skip IPv6 when the OS has no IPv6 loopback at all.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        addrs.push("[::1]:0".parse().unwrap());
    } else {
        eprintln!("no IPv6 loopback: testing 127.0.0.1 only");
    }
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, true);
    for addr in addrs {
        let (_, local) = listen(&mut ev, addr);
        let mut c = client(local);
        let before = ev.app().accepts.len();
        let s = accept_n(&mut ev, before + 1)[before];
        let msg = format!("hello over {local}");
        assert_eq!(
            echo_round_trip(&mut ev, &mut c, msg.as_bytes()),
            msg.as_bytes()
        );
        // Addresses agree on both ends.
        let (_, peer) = ev.app().accepts[before].unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        assert_eq!(ev.peer_addr(s), Ok(c.local_addr().unwrap()));
        assert_eq!(ev.local_addr(s.raw()), Ok(c.peer_addr().unwrap()));
        assert_eq!(ev.local_addr(s.raw()), Ok(local));
    }
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let addr = {
        let l = std::net::TcpListener::bind(v4()).unwrap();
        l.local_addr().unwrap()
    }; // closed again: nothing listens on it now
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, true);
    // Linux answers a non-blocking loopback connect with EINPROGRESS, and the refusal comes
    // with the first readiness event.
    let s = ev.tcp_connect(addr, None).unwrap();
    assert_eq!(settle(&mut ev, s), Err(Error::ConnectionRefused));
    assert_eq!(ev.last_error(), Some(Error::ConnectionRefused));
    let mut buf = [0u8; 4];
    assert_eq!(
        ev.read(s, &mut buf),
        Poll::Ready(Err(Error::ConnectionRefused))
    );
    assert_eq!(
        ev.write(s, b"x"),
        Poll::Ready(Err(Error::ConnectionRefused))
    );
    ev.close(s.raw()).unwrap();
    assert_eq!(ev.in_use().tcp_streams, 0);
}

#[test]
fn connect_to_a_listener_with_a_full_queue_times_out() {
    // A loopback listener with backlog 1 that never accepts. Once its accept queue is full,
    // Linux drops further SYNs (the client would retry after a second), so a connect hangs
    // without ever leaving the host.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&v4().into()).unwrap();
    sock.listen(1).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(c) => fillers.push(c),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
                break;
            }
        }
    }
    assert!(fillers.len() < 8, "the accept queue never filled up");

    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, true);
    let started = Instant::now();
    let s = ev.tcp_connect(addr, Some(200)).unwrap();
    assert_eq!(
        ev.in_use().timers,
        1,
        "the connect deadline borrows a timer slot"
    );
    assert_eq!(ev.connected(s), Poll::Pending);
    assert_eq!(settle(&mut ev, s), Err(Error::Timeout));
    // Deadlines are whole milliseconds of loop time (truncated when the clock is read, here
    // right before the connect), so the deadline may come up to 1 ms before 200 ms of real
    // time have passed since `started`.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(199),
        "timed out after {took:?}"
    );
    assert_eq!(
        ev.in_use().timers,
        0,
        "the deadline's timer slot is free again"
    );
    ev.close(s.raw()).unwrap();
    drop(fillers);
}

#[test]
fn peer_reset_is_reported_as_connection_reset() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, false);
    let (_, local) = listen(&mut ev, v4());
    let c = client(local);
    let s = accept_n(&mut ev, 1)[0];
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c); // SO_LINGER 0: close sends RST
    run_until(&mut ev, "the reset", WAIT, 10_000, |ev| {
        ev.app().ends.contains_key(&s.raw())
    });
    // Linux: a read after an RST (with nothing left to read) fails with ECONNRESET once.
    assert_eq!(ev.app().ends[&s.raw()], Err(Error::ConnectionReset));
    let mut buf = [0u8; 4];
    assert_eq!(
        ev.read(s, &mut buf),
        Poll::Ready(Ok(0)),
        "then end-of-stream"
    );
}

#[test]
fn half_close_lets_the_peer_read_eof_and_still_reply() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, false);
    let (_, local) = listen(&mut ev, v4());
    let mut c = client(local);
    let s = accept_n(&mut ev, 1)[0];

    // The loop's side says its piece and half-closes.
    assert_eq!(ev.write(s, b"request"), Poll::Ready(Ok(7)));
    ev.shutdown(s, Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(
        got, b"request",
        "the peer reads the data, then end-of-stream"
    );
    assert_eq!(
        ev.write(s, b"more"),
        Poll::Ready(Err(Error::ConnectionReset))
    );

    // The peer can still send back, and then closes too.
    c.write_all(b"reply").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    run_until(&mut ev, "reply and end-of-stream", WAIT, 10_000, |ev| {
        ev.app().ends.contains_key(&s.raw())
    });
    assert_eq!(ev.app().received[&s.raw()], b"reply");
    assert_eq!(ev.app().ends[&s.raw()], Ok(0));
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

#[test]
fn four_mib_write_completes_through_partial_writes() {
    const LEN: usize = 4 << 20;
    // The peer: a std listener with a small receive buffer, reading on its own thread.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.bind(&v4().into()).unwrap();
    sock.listen(1).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let listener: std::net::TcpListener = sock.into();
    let reader = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut total = 0;
        let mut buf = vec![0u8; 8192];
        loop {
            let n = peer.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, pattern(total + k), "byte {} is wrong", total + k);
            }
            total += n;
            assert!(total <= LEN, "more bytes than were sent");
        }
    });

    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, false);
    ev.app_mut().out = (0..LEN).map(pattern).collect();
    let s = ev.tcp_connect(addr, Some(5_000)).unwrap();
    assert_eq!(settle(&mut ev, s), Ok(()));
    ev.set_send_buffer_size(s.raw(), 4096).unwrap();
    ev.set_handler(s, Trigger::Writable, on_write_more).unwrap();
    run_until(
        &mut ev,
        "4 MiB written",
        Duration::from_secs(30),
        1_000_000,
        |ev| ev.app().write_done,
    );
    assert_eq!(reader.join().unwrap(), LEN);
    let net = ev.app();
    assert_eq!(net.written, LEN);
    assert!(net.pendings >= 1, "a write met a full send buffer");
    assert!(net.partial_writes >= 1);
}

#[test]
fn socket_options_are_set_and_read_back() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, true);
    let (l, local) = listen(&mut ev, v4());
    let _c = client(local);
    let s = accept_n(&mut ev, 1)[0];
    for on in [true, false] {
        ev.set_nodelay(s, on).unwrap();
        assert_eq!(ev.nodelay(s), Ok(on));
    }
    ev.set_keepalive(s, Some(30)).unwrap();
    assert_eq!(ev.keepalive(s), Ok(Some(30)));
    ev.set_keepalive(s, None).unwrap();
    assert_eq!(ev.keepalive(s), Ok(None));
    for h in [s.raw(), l.raw()] {
        ev.set_recv_buffer_size(h, 32 * 1024).unwrap();
        ev.set_send_buffer_size(h, 48 * 1024).unwrap();
        // Linux doubles the value to leave room for its bookkeeping.
        assert_eq!(ev.recv_buffer_size(h), Ok(64 * 1024));
        assert_eq!(ev.send_buffer_size(h), Ok(96 * 1024));
    }
}

#[test]
fn accept_beyond_the_stream_pool_is_out_of_resources_and_the_others_keep_echoing() {
    const N: usize = 3;
    let mut memory = OwnedStorage::new(Capacities {
        tcp_streams: N,
        ..Capacities::default()
    });
    let mut ev = new_loop(&mut memory, true);
    let (l, local) = listen(&mut ev, v4());
    let mut clients: Vec<_> = (0..=N).map(|_| client(local)).collect();
    run_until(&mut ev, "N + 1 accepts", WAIT, 10_000, |ev| {
        ev.app().accepts.len() > N
    });
    assert_eq!(ev.app().accepted().len(), N);
    assert_eq!(
        ev.app().accept_errors(),
        [Error::OutOfResources(Capacity::TcpStreams)]
    );
    assert_eq!(
        ev.last_error(),
        Some(Error::OutOfResources(Capacity::TcpStreams))
    );
    // The extra connection was accepted and closed at once: its client reads end-of-stream.
    let mut extra = clients.pop().unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(extra.read(&mut buf).unwrap(), 0);
    for (i, c) in clients.iter_mut().enumerate() {
        let msg = format!("still here {i}");
        assert_eq!(echo_round_trip(&mut ev, c, msg.as_bytes()), msg.as_bytes());
    }
    // A freed slot takes the next connection.
    drop(clients.pop());
    run_until(&mut ev, "the closed client's end", WAIT, 10_000, |ev| {
        ev.app().ends.len() == 1
    });
    let mut c = client(local);
    run_until(&mut ev, "one more accept", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == N + 2
    });
    assert_eq!(echo_round_trip(&mut ev, &mut c, b"late"), b"late");
    assert!(ev.local_addr(l.raw()).is_ok());
}

#[test]
fn closed_stream_and_listener_handles_are_stale() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, true);
    let (l, local) = listen(&mut ev, v4());
    let _c = client(local);
    let s = accept_n(&mut ev, 1)[0];
    ev.close(s.raw()).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(ev.read(s, &mut buf), Poll::Ready(Err(Error::InvalidHandle)));
    assert_eq!(ev.write(s, b"x"), Poll::Ready(Err(Error::InvalidHandle)));
    assert_eq!(ev.connected(s), Poll::Ready(Err(Error::InvalidHandle)));
    assert_eq!(ev.shutdown(s, Shutdown::Both), Err(Error::InvalidHandle));
    assert_eq!(ev.set_nodelay(s, true), Err(Error::InvalidHandle));
    assert_eq!(ev.local_addr(s.raw()), Err(Error::InvalidHandle));
    assert_eq!(ev.peer_addr(s), Err(Error::InvalidHandle));
    assert_eq!(
        ev.set_handler(s, Trigger::Readable, on_accept),
        Err(Error::InvalidHandle)
    );
    assert_eq!(ev.close(s.raw()), Err(Error::InvalidHandle));
    ev.close(l.raw()).unwrap();
    assert_eq!(ev.accept(l), Poll::Ready(Err(Error::InvalidHandle)));
    assert_eq!(ev.close(l.raw()), Err(Error::InvalidHandle));
    assert_eq!(ev.in_use().tcp_streams, 0);
    assert_eq!(ev.in_use().tcp_listeners, 0);
}

#[test]
fn readable_handler_reading_one_byte_per_call_still_gets_every_byte() {
    const LEN: usize = 1000;
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = new_loop(&mut memory, false);
    ev.app_mut().one_byte = true;
    let (_, local) = listen(&mut ev, v4());
    let mut c = client(local);
    let s = accept_n(&mut ev, 1)[0];
    let sent: Vec<u8> = (0..LEN).map(pattern).collect();
    c.write_all(&sent).unwrap(); // one send, one edge
    run_until(&mut ev, "every byte", WAIT, 100_000, |ev| {
        ev.app().received.get(&s.raw()).map_or(0, Vec::len) == LEN
    });
    assert_eq!(ev.app().received[&s.raw()], sent);
    assert_eq!(ev.app().data_calls, LEN, "one byte per handler call");
}
