//! Exact event traces of every event kind on one worker loop: accept, connect, reads in both
//! buffer modes, write completions, closes and errors (refused connect, connect timeout,
//! peer reset), one-shot and repeating timers, UDP, wakes and posted calls.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{record, recorder, Rec};
use ptk_loop::{
    Error, Event, EventKind, Loop, LoopOpts, Ownership, TcpClientOpts, TcpServerOpts, TimerOpts,
    UdpOpts,
};

fn one_loop() -> Loop {
    Loop::new(&LoopOpts {
        worker_threads: 1,
        buffers: 16,
        buffer_size: 1024,
        sockets_per_worker: 64,
        ..LoopOpts::default()
    })
    .unwrap()
}

fn client(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn port_of(lp: &Loop, sock: ptk_loop::Sock) -> u16 {
    lp.local_addr(sock).unwrap().port()
}

/// Records, and echoes reads by copying the borrowed buffer into a new one.
fn echo_copy(ev: &mut Event<'_>) {
    record(ev);
    if ev.kind == EventKind::Read {
        let lp = ev.owner();
        let mut out = lp.buf_alloc().unwrap();
        out.extend_from_slice(ev.buf().unwrap().as_slice()).unwrap();
        lp.write(ev.sock, out).unwrap();
    }
}

/// Records, and echoes reads by writing back the buffer it was handed.
fn echo_transfer(ev: &mut Event<'_>) {
    record(ev);
    if ev.kind == EventKind::Read {
        let buf = ev.take_buf().unwrap();
        ev.owner().write(ev.sock, buf).unwrap();
    }
}

#[test]
fn a_server_traces_accept_read_write_done_and_close_with_borrowed_buffers() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(echo_copy),
            user_data: ud,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let mut c = client(port_of(&lp, server));
    c.write_all(b"hello").unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    let peer = c.local_addr().unwrap();
    drop(c);
    let ev = rec.wait(4);
    let conn = ev[0].sock;
    assert_ne!(conn, server);
    assert_eq!(
        ev,
        vec![
            Rec::of(EventKind::Accept, conn).ud(ud).remote(peer),
            Rec::of(EventKind::Read, conn)
                .ud(ud)
                .data(b"hello", Ownership::Borrowed),
            Rec::of(EventKind::WriteDone, conn)
                .ud(ud)
                .data(b"hello", Ownership::Borrowed),
            Rec::of(EventKind::Close, conn).ud(ud),
        ]
    );
    // The connection's handle is stale; the server's is not.
    assert_eq!(lp.write(conn, lp.buf_alloc().unwrap()), Err(Error::Closed));
    assert_eq!(lp.sock_type(server), Ok(ptk_loop::SockType::TcpServer));
    lp.close(server).unwrap();
    assert_eq!(rec.wait(5)[4], Rec::of(EventKind::Close, server).ud(ud));
    assert_eq!(lp.close(server), Err(Error::Closed));
    assert_eq!(lp.buffers_available(), 16);
}

#[test]
fn a_transfer_read_hands_over_the_buffer_that_the_callback_writes_back() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(echo_transfer),
            user_data: ud,
            read_ownership: Ownership::Transfer,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let mut c = client(port_of(&lp, server));
    for msg in [&b"one"[..], b"two"] {
        c.write_all(msg).unwrap();
        let mut back = [0u8; 3];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, msg);
    }
    drop(c);
    let ev = rec.wait(6);
    let conn = ev[0].sock;
    // Recorded before the callback takes it; the write completion lends it back.
    assert_eq!(
        ev[1..],
        [
            Rec::of(EventKind::Read, conn)
                .ud(ud)
                .data(b"one", Ownership::Transfer),
            Rec::of(EventKind::WriteDone, conn)
                .ud(ud)
                .data(b"one", Ownership::Borrowed),
            Rec::of(EventKind::Read, conn)
                .ud(ud)
                .data(b"two", Ownership::Transfer),
            Rec::of(EventKind::WriteDone, conn)
                .ud(ud)
                .data(b"two", Ownership::Borrowed),
            Rec::of(EventKind::Close, conn).ud(ud),
        ]
    );
    assert_eq!(lp.buffers_available(), 16);
}

/// Records, and on connect writes "ping".
fn pinger(ev: &mut Event<'_>) {
    record(ev);
    if ev.kind == EventKind::Connect {
        let lp = ev.owner();
        let mut b = lp.buf_alloc().unwrap();
        b.extend_from_slice(b"ping").unwrap();
        lp.write(ev.sock, b).unwrap();
    }
}

#[test]
fn a_client_traces_connect_write_done_read_and_the_peers_close() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let sock = lp
        .tcp_connect(&TcpClientOpts {
            host: "127.0.0.1",
            port: addr.port(),
            callback: Some(pinger),
            user_data: ud,
            ..TcpClientOpts::default()
        })
        .unwrap();
    let (mut peer, _) = l.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = [0u8; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    assert_eq!(rec.wait(2).len(), 2);
    peer.write_all(b"pong").unwrap();
    rec.wait(3);
    assert_eq!(lp.remote_addr(sock), Ok(addr));
    assert_eq!(lp.local_addr(sock), Ok(peer.peer_addr().unwrap()));
    drop(peer);
    assert_eq!(
        rec.wait(4),
        vec![
            Rec::of(EventKind::Connect, sock).ud(ud).remote(addr),
            Rec::of(EventKind::WriteDone, sock)
                .ud(ud)
                .data(b"ping", Ownership::Borrowed),
            Rec::of(EventKind::Read, sock)
                .ud(ud)
                .data(b"pong", Ownership::Borrowed),
            Rec::of(EventKind::Close, sock).ud(ud),
        ]
    );
    assert_eq!(lp.sock_type(sock), Err(Error::Closed));
}

#[test]
fn a_refused_connect_is_an_error_then_a_close() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sock = lp
        .tcp_connect(&TcpClientOpts {
            port,
            callback: Some(record),
            user_data: ud,
            ..TcpClientOpts::default()
        })
        .unwrap();
    assert_eq!(
        rec.wait(2),
        vec![
            Rec::of(EventKind::Error, sock)
                .ud(ud)
                .error(Error::ConnectionRefused),
            Rec::of(EventKind::Close, sock).ud(ud),
        ]
    );
}

#[test]
fn a_connect_that_gets_no_answer_times_out() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    // A listener with a backlog of 0 that never accepts: once its queue is full, the
    // kernel drops further connection requests, so a connect stays in progress.
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let _ = s.connect(&addr.into());
        fillers.push(s);
    }
    let sock = lp
        .tcp_connect(&TcpClientOpts {
            port: addr.port(),
            callback: Some(record),
            user_data: ud,
            connect_timeout_ms: 200,
            ..TcpClientOpts::default()
        })
        .unwrap();
    assert_eq!(
        rec.wait(2),
        vec![
            Rec::of(EventKind::Error, sock).ud(ud).error(Error::Timeout),
            Rec::of(EventKind::Close, sock).ud(ud),
        ]
    );
}

#[test]
fn a_peer_reset_is_an_error_closed_then_a_close() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(record),
            user_data: ud,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let c = client(port_of(&lp, server));
    let peer = c.local_addr().unwrap();
    let conn = rec.wait(1)[0].sock;
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    assert_eq!(
        rec.wait(3),
        vec![
            Rec::of(EventKind::Accept, conn).ud(ud).remote(peer),
            Rec::of(EventKind::Error, conn).ud(ud).error(Error::Closed),
            Rec::of(EventKind::Close, conn).ud(ud),
        ]
    );
}

/// Records, and closes every accepted connection at once.
fn closer(ev: &mut Event<'_>) {
    record(ev);
    if ev.kind == EventKind::Accept {
        ev.owner().close(ev.sock).unwrap();
        assert_eq!(ev.owner().close(ev.sock), Err(Error::Closed));
    }
}

#[test]
fn closing_a_connection_gives_its_close_and_the_peer_sees_end_of_stream() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(closer),
            user_data: ud,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let mut c = client(port_of(&lp, server));
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    let ev = rec.wait(2);
    let conn = ev[0].sock;
    assert_eq!(ev[1], Rec::of(EventKind::Close, conn).ud(ud));
}

static TICKS: AtomicUsize = AtomicUsize::new(0);

/// Records, and stops its (repeating) timer at the third tick.
fn three_ticks(ev: &mut Event<'_>) {
    record(ev);
    if ev.kind == EventKind::Tick && TICKS.fetch_add(1, Ordering::SeqCst) == 2 {
        ev.owner().timer_stop(ev.sock).unwrap();
    }
}

#[test]
fn timers_tick_once_then_close_or_repeat_until_stopped() {
    let lp = one_loop();
    let (once, ud1) = recorder();
    let t1 = lp
        .timer_start(&TimerOpts {
            timeout_ms: 5,
            repeat: false,
            callback: Some(record),
            user_data: ud1,
            ..TimerOpts::default()
        })
        .unwrap();
    assert_eq!(
        once.wait(2),
        vec![
            Rec::of(EventKind::Tick, t1).ud(ud1),
            Rec::of(EventKind::Close, t1).ud(ud1)
        ]
    );
    let (rep, ud2) = recorder();
    let t2 = lp
        .timer_start(&TimerOpts {
            timeout_ms: 5,
            repeat: true,
            callback: Some(three_ticks),
            user_data: ud2,
            ..TimerOpts::default()
        })
        .unwrap();
    let tick = Rec::of(EventKind::Tick, t2).ud(ud2);
    assert_eq!(
        rep.wait(4),
        vec![
            tick.clone(),
            tick.clone(),
            tick,
            Rec::of(EventKind::Close, t2).ud(ud2)
        ]
    );
    assert_eq!(lp.timer_stop(t2), Err(Error::Closed));
    assert_eq!(
        lp.timer_start(&TimerOpts {
            timeout_ms: 0,
            callback: Some(record),
            ..TimerOpts::default()
        }),
        Err(Error::InvalidParam)
    );
}

#[test]
fn udp_traces_a_datagram_read_and_a_send_done() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let sock = lp
        .udp_create(&UdpOpts {
            bind_host: "127.0.0.1",
            callback: Some(record),
            user_data: ud,
            ..UdpOpts::default()
        })
        .unwrap();
    let ours = lp.local_addr(sock).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    peer.send_to(b"dgram", ours).unwrap();
    rec.wait(1);
    let mut b = lp.buf_alloc().unwrap();
    b.extend_from_slice(b"reply").unwrap();
    let to = peer.local_addr().unwrap();
    lp.udp_send(sock, b, "127.0.0.1", to.port()).unwrap();
    let mut got = [0u8; 16];
    let (n, from) = peer.recv_from(&mut got).unwrap();
    assert_eq!((&got[..n], from), (&b"reply"[..], ours));
    lp.close(sock).unwrap();
    assert_eq!(
        rec.wait(3),
        vec![
            Rec::of(EventKind::UdpRead, sock)
                .ud(ud)
                .data(b"dgram", Ownership::Borrowed)
                .remote(to),
            Rec::of(EventKind::UdpWriteDone, sock)
                .ud(ud)
                .data(b"reply", Ownership::Borrowed),
            Rec::of(EventKind::Close, sock).ud(ud),
        ]
    );
    assert_eq!(
        lp.udp_send(sock, lp.buf_alloc().unwrap(), "127.0.0.1", to.port()),
        Err(Error::Closed)
    );
}

static POSTED: AtomicUsize = AtomicUsize::new(0);

fn posted(user_data: usize) {
    POSTED.store(user_data, Ordering::SeqCst);
}

#[test]
fn wakes_from_other_threads_arrive_each_with_its_value_and_posts_run_on_the_loop() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let t = lp
        .timer_start(&TimerOpts {
            timeout_ms: 60_000,
            repeat: true,
            callback: Some(record),
            user_data: ud,
            ..TimerOpts::default()
        })
        .unwrap();
    let h = lp.handle().clone();
    std::thread::spawn(move || {
        h.sock_wake(t, ud * 1000 + 1).unwrap();
        h.sock_wake(t, ud * 1000 + 2).unwrap();
        h.post(posted, 77).unwrap();
    })
    .join()
    .unwrap();
    let ev = rec.wait(2);
    assert_eq!(
        ev,
        vec![
            Rec::of(EventKind::Wake, t).ud(ud * 1000 + 1),
            Rec::of(EventKind::Wake, t).ud(ud * 1000 + 2),
        ]
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while POSTED.load(Ordering::SeqCst) != 77 {
        assert!(
            std::time::Instant::now() < deadline,
            "the posted call never ran"
        );
        std::thread::yield_now();
    }
    lp.timer_stop(t).unwrap();
    assert_eq!(rec.wait(3)[2], Rec::of(EventKind::Close, t).ud(ud));
}

#[test]
fn bad_arguments_and_stale_or_foreign_handles_are_errors() {
    let lp = one_loop();
    let other = one_loop();
    let (_rec, ud) = recorder();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let opts = TcpServerOpts {
        bind_host: "127.0.0.1",
        port: busy.local_addr().unwrap().port(),
        callback: Some(record),
        user_data: ud,
        reuse_addr: false,
        ..TcpServerOpts::default()
    };
    assert_eq!(lp.tcp_server_start(&opts), Err(Error::AddressInUse));
    let named = TcpServerOpts {
        bind_host: "example.com",
        port: 0,
        ..opts
    };
    assert_eq!(lp.tcp_server_start(&named), Err(Error::InvalidParam));
    let no_cb = TcpServerOpts {
        callback: None,
        port: 0,
        ..opts
    };
    assert_eq!(lp.tcp_server_start(&no_cb), Err(Error::InvalidParam));
    assert_eq!(
        lp.tcp_connect(&TcpClientOpts {
            port: 0,
            callback: Some(record),
            ..TcpClientOpts::default()
        }),
        Err(Error::InvalidParam)
    );
    let t = lp
        .timer_start(&TimerOpts {
            timeout_ms: 60_000,
            repeat: true,
            callback: Some(record),
            user_data: ud,
            ..TimerOpts::default()
        })
        .unwrap();
    // Wrong kind, wrong group, forged.
    assert_eq!(
        lp.write(t, lp.buf_alloc().unwrap()),
        Err(Error::InvalidParam)
    );
    assert_eq!(lp.local_addr(t), Err(Error::InvalidParam));
    assert_eq!(other.sock_type(t), Err(Error::InvalidParam));
    assert_eq!(other.close(t), Err(Error::InvalidParam));
    let forged = ptk_loop::Sock::from_u64(t.to_u64() + (1 << 16)).unwrap();
    assert_eq!(lp.sock_type(forged), Err(Error::Closed));
    assert_eq!(ptk_loop::Sock::from_u64(0), None);
    assert_eq!(ptk_loop::LoopHandle::of(t).map(|h| h.workers()), Some(1));
    // Every failed write freed its buffer.
    assert_eq!(lp.buffers_available(), 16);
    drop(lp);
    assert!(ptk_loop::LoopHandle::of(t).is_none());
}

#[test]
fn socket_options_read_back_what_was_set() {
    use ptk_loop::SockOpt;
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(record),
            user_data: ud,
            ..TcpServerOpts::default()
        })
        .unwrap();
    assert_eq!(lp.get_option(server, SockOpt::ReuseAddr), Ok(1));
    assert_eq!(
        lp.get_option(server, SockOpt::NoDelay),
        Err(Error::InvalidParam)
    );
    let _c = client(port_of(&lp, server));
    let conn = rec.wait(1)[0].sock;
    assert_eq!(lp.get_option(conn, SockOpt::NoDelay), Ok(1));
    assert_eq!(lp.get_option(conn, SockOpt::KeepAlive), Ok(0));
    lp.set_option(conn, SockOpt::KeepAlive, 1).unwrap();
    assert_eq!(lp.get_option(conn, SockOpt::KeepAlive), Ok(1));
    assert!(lp.get_option(conn, SockOpt::RecvBuffer).unwrap() > 0);
    assert_eq!(
        lp.get_option(conn, SockOpt::ReuseAddr),
        Err(Error::InvalidParam)
    );
}

#[test]
fn a_group_made_without_auto_start_runs_queued_work_once_started_and_stops() {
    let lp = Loop::new(&LoopOpts {
        worker_threads: 2,
        auto_start: false,
        ..LoopOpts::default()
    })
    .unwrap();
    assert!(!lp.is_running());
    assert_eq!(
        lp.wait_timeout(Duration::from_millis(1)),
        Err(Error::Closed)
    );
    let (rec, ud) = recorder();
    let t = lp
        .timer_start(&TimerOpts {
            timeout_ms: 1,
            callback: Some(record),
            user_data: ud,
            repeat: false,
            ..TimerOpts::default()
        })
        .unwrap();
    lp.start().unwrap();
    assert!(lp.is_running());
    assert_eq!(rec.wait(2)[0], Rec::of(EventKind::Tick, t).ud(ud));
    assert_eq!(
        lp.wait_timeout(Duration::from_millis(10)),
        Err(Error::Timeout)
    );
    lp.stop();
    lp.wait_timeout(Duration::from_secs(5)).unwrap();
    assert!(!lp.is_running());
    assert_eq!(lp.start(), Err(Error::Closed));
    assert_eq!(
        lp.timer_start(&TimerOpts {
            timeout_ms: 1,
            callback: Some(record),
            user_data: ud,
            repeat: false,
            ..TimerOpts::default()
        }),
        Err(Error::Closed)
    );
}

static TAKEN: std::sync::Mutex<Vec<ptk_loop::Buf>> = std::sync::Mutex::new(Vec::new());

/// Keeps every transferred read buffer, then records (so a test that saw the event finds
/// the buffer kept).
fn keeper(ev: &mut Event<'_>) {
    if ev.kind == EventKind::Read {
        TAKEN.lock().unwrap().push(ev.take_buf().unwrap());
    }
    record(ev);
}

#[test]
fn a_transferred_buffer_is_owned_by_the_callee_and_freed_from_another_thread() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(keeper),
            user_data: ud,
            read_ownership: Ownership::Transfer,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let mut c = client(port_of(&lp, server));
    c.write_all(b"abc").unwrap();
    let ev = rec.wait(2);
    // Taken before it was recorded: the event no longer holds it.
    assert_eq!(
        ev[1],
        Rec {
            ownership: Ownership::Transfer,
            ..Rec::of(EventKind::Read, ev[0].sock).ud(ud)
        }
    );
    // The connection is open and the callee holds the buffer: one is out of the pool.
    assert_eq!(lp.buffers_available(), 15);
    let taken = TAKEN.lock().unwrap().pop().unwrap();
    assert_eq!(taken.as_slice(), b"abc");
    std::thread::spawn(move || drop(taken)).join().unwrap();
    assert_eq!(lp.buffers_available(), 16);
}

#[test]
fn dropping_a_running_group_closes_everything_and_its_handles_go_stale() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(record),
            user_data: ud,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let mut c = client(port_of(&lp, server));
    let conn = rec.wait(1)[0].sock;
    let h = lp.handle().clone();
    assert!(h.is_running());
    drop(lp);
    assert!(!h.is_running());
    assert_eq!(h.close(conn), Err(Error::Closed));
    assert_eq!(h.close(server), Err(Error::Closed));
    assert_eq!(h.buf_alloc().map(|b| b.len()), Ok(0));
    // The connection was closed with its worker: the peer reads end-of-stream.
    let mut b = [0u8; 1];
    assert_eq!(c.read(&mut b).unwrap(), 0);
    // No event after the drop.
    assert_eq!(rec.events().len(), 1);
}

static SEEN_DATA: AtomicUsize = AtomicUsize::new(0);

fn keep_callback_data(ev: &mut Event<'_>) {
    if ev.kind == EventKind::Tick {
        SEEN_DATA.store(ev.callback_data * 1000 + ev.user_data, Ordering::SeqCst);
    }
}

static SUM: AtomicUsize = AtomicUsize::new(0);

fn add(a: usize, b: usize) {
    SUM.store(a + b, Ordering::SeqCst);
}

#[test]
fn events_carry_the_callback_data_and_post_with_passes_two_words() {
    let lp = one_loop();
    lp.timer_start(&TimerOpts {
        timeout_ms: 1,
        callback: Some(keep_callback_data),
        user_data: 7,
        callback_data: 5,
        ..TimerOpts::default()
    })
    .unwrap();
    lp.post_with(add, 40, 2).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while SEEN_DATA.load(Ordering::SeqCst) != 5007 || SUM.load(Ordering::SeqCst) != 42 {
        assert!(
            std::time::Instant::now() < deadline,
            "no tick or no posted call"
        );
        std::thread::yield_now();
    }
}

#[test]
fn writes_from_other_threads_are_sent_in_order_and_each_completes() {
    let lp = one_loop();
    let (rec, ud) = recorder();
    let server = lp
        .tcp_server_start(&TcpServerOpts {
            bind_host: "127.0.0.1",
            callback: Some(record),
            user_data: ud,
            ..TcpServerOpts::default()
        })
        .unwrap();
    let mut c = client(port_of(&lp, server));
    let conn = rec.wait(1)[0].sock;
    let h = lp.handle().clone();
    std::thread::spawn(move || {
        for part in [&b"from "[..], b"another ", b"thread"] {
            let mut b = h.buf_alloc().unwrap();
            b.extend_from_slice(part).unwrap();
            h.write(conn, b).unwrap();
        }
    })
    .join()
    .unwrap();
    let mut got = [0u8; 19];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from another thread");
    let done = |d: &[u8]| {
        Rec::of(EventKind::WriteDone, conn)
            .ud(ud)
            .data(d, Ownership::Borrowed)
    };
    assert_eq!(
        rec.wait(4)[1..],
        [done(b"from "), done(b"another "), done(b"thread")]
    );
}

static WAITED: std::sync::Mutex<Option<Result<(), Error>>> = std::sync::Mutex::new(None);

#[test]
fn waiting_for_the_group_from_its_own_callback_is_refused() {
    static LOOP: std::sync::OnceLock<Loop> = std::sync::OnceLock::new();
    fn try_wait(ev: &mut Event<'_>) {
        if ev.kind == EventKind::Tick {
            *WAITED.lock().unwrap() = Some(LOOP.get().unwrap().wait());
        }
    }
    let lp = LOOP.get_or_init(one_loop);
    lp.timer_start(&TimerOpts {
        timeout_ms: 1,
        callback: Some(try_wait),
        ..TimerOpts::default()
    })
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while WAITED.lock().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the timer never ticked"
        );
        std::thread::yield_now();
    }
    assert_eq!(*WAITED.lock().unwrap(), Some(Err(Error::InvalidParam)));
    lp.stop();
}
