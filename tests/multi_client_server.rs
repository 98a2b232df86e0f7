//! The multi-client server test plan against the protothread echo and chat servers: one client, clients one after another, concurrent clients, 100 clients with
//! 10 messages each, a client that does not read, a client that leaves mid-frame, and a
//! graceful shutdown. The loop runs on the test's thread; blocking std clients run on others.

mod common;

use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::chat::{ChatMemory, ChatServer};
use common::chat_scenario::{self, ChatCounts, ChatServerUnderTest};
use common::echo::{self, Acceptor, Conn, EchoStats};
use common::{connect, payload, read_frame, run_until, send_frame, serve_clients, wait_for};
use ptk::{kind, Capacities, Config, Error, EventLoop, Handle, Outcome, OwnedStorage, PtStatus};

type PtHandle = Handle<kind::Protothread>;

const WAIT: Duration = Duration::from_secs(10);

fn echo_memory(conns: usize) -> (OwnedStorage, Rc<EchoStats>, Vec<Conn>, [Acceptor; 1]) {
    let memory = OwnedStorage::new(Capacities {
        tcp_streams: conns + 8,
        ..Capacities::default()
    });
    let stats = Rc::new(EchoStats::default());
    let contexts = (0..conns).map(|_| Conn::new(&stats)).collect();
    (memory, Rc::clone(&stats), contexts, [Acceptor::new(&stats)])
}

#[test]
fn a_single_client_gets_its_frame_back() {
    let (mut memory, stats, mut conns, mut acceptor) = echo_memory(4);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    let mut c = connect(server.addr);
    send_frame(&mut c, b"hello, protothreads");
    run_until(&mut ev, "the echo", WAIT, 10_000, |_| {
        stats.frames.get() == 1
    });
    assert_eq!(read_frame(&mut c), b"hello, protothreads");
    assert_eq!(ev.pool_usage(server.conns), (1, 4));

    drop(c);
    run_until(&mut ev, "the close", WAIT, 10_000, |ev| {
        ev.pool_usage(server.conns) == (0, 4)
    });
    let conn = stats.last_conn.get().unwrap();
    assert_eq!(ev.pt_status(conn), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.in_use().tcp_streams, 0);
    assert_eq!(stats.accepted.get(), 1);
}

#[test]
fn twenty_clients_one_after_another_reuse_the_four_connection_slots() {
    let (mut memory, stats, mut conns, mut acceptor) = echo_memory(4);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    let mut slots = Vec::new();
    for i in 0..20 {
        let mut c = connect(server.addr);
        let msg = payload(i, 0, 200);
        send_frame(&mut c, &msg);
        run_until(&mut ev, "the echo", WAIT, 10_000, |_| {
            stats.frames.get() == i + 1
        });
        assert_eq!(read_frame(&mut c), msg, "client {i}");
        assert_eq!(ev.pool_usage(server.conns), (1, 4), "client {i}");
        drop(c);
        run_until(&mut ev, "the close", WAIT, 10_000, |ev| {
            ev.pool_usage(server.conns) == (0, 4)
        });
        let conn = stats.last_conn.get().unwrap();
        assert_eq!(ev.pt_status(conn), Ok(PtStatus::Ended(Outcome::Finished)));
        slots.push(conn.raw().slot());
    }
    // The oldest free context is taken first, so the four contexts take turns.
    let first = slots[0];
    let expected: Vec<u32> = (0..20).map(|i| first + i % 4).collect();
    assert_eq!(slots, expected);
    assert_eq!(stats.accepted.get(), 20);
    assert_eq!(stats.refused.get(), 0);
    assert_eq!(ev.in_use().tcp_streams, 0);
}

#[test]
fn ten_concurrent_clients_are_all_connected_at_once_and_all_get_their_echo() {
    const CLIENTS: usize = 10;
    let (mut memory, stats, mut conns, mut acceptor) = echo_memory(CLIENTS);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    let go = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (go, addr) = (Arc::clone(&go), server.addr);
            std::thread::spawn(move || {
                let mut c = connect(addr);
                wait_for("the go signal", WAIT, || go.load(Ordering::Acquire));
                let msg = payload(i, 0, 500);
                send_frame(&mut c, &msg);
                assert_eq!(read_frame(&mut c), msg, "client {i}");
            })
        })
        .collect();
    // Nobody sends before every client has its own protothread.
    run_until(&mut ev, "all the connections", WAIT, 10_000, |ev| {
        ev.pool_usage(server.conns) == (CLIENTS, CLIENTS)
    });
    assert_eq!(stats.frames.get(), 0);
    go.store(true, Ordering::Release);
    serve_clients(&mut ev, "the echoes", WAIT, clients);
    assert_eq!(stats.frames.get(), CLIENTS);
    run_until(&mut ev, "the closes", WAIT, 10_000, |ev| {
        ev.pool_usage(server.conns) == (0, CLIENTS)
    });
    assert_eq!(stats.accepted.get(), CLIENTS);
}

#[test]
fn a_hundred_clients_with_ten_messages_each_get_every_byte_back() {
    const CLIENTS: usize = 100;
    const THREADS: usize = 10;
    const MESSAGES: usize = 10;
    let (mut memory, stats, mut conns, mut acceptor) = echo_memory(CLIENTS);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    let started = Instant::now();
    let clients: Vec<_> = (0..THREADS)
        .map(|t| {
            let addr = server.addr;
            std::thread::spawn(move || {
                let ids: Vec<usize> =
                    (t * CLIENTS / THREADS..(t + 1) * CLIENTS / THREADS).collect();
                let mut socks: Vec<_> = ids.iter().map(|_| connect(addr)).collect();
                let mut latencies = Vec::new();
                for m in 0..MESSAGES {
                    let sent_at = Instant::now();
                    for (s, &id) in socks.iter_mut().zip(&ids) {
                        send_frame(s, &payload(id, m, echo::MAX_FRAME));
                    }
                    for (s, &id) in socks.iter_mut().zip(&ids) {
                        assert_eq!(
                            read_frame(s),
                            payload(id, m, echo::MAX_FRAME),
                            "client {id}, message {m}"
                        );
                        latencies.push(sent_at.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> =
        serve_clients(&mut ev, "1,000 echoes", Duration::from_secs(60), clients)
            .into_iter()
            .flatten()
            .collect();
    let took = started.elapsed();
    assert_eq!(latencies.len(), CLIENTS * MESSAGES);
    assert_eq!(stats.frames.get(), CLIENTS * MESSAGES);
    assert_eq!(stats.accepted.get(), CLIENTS);
    latencies.sort();
    let (p50, p99) = (
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    );
    eprintln!(
        "100 clients x 10 messages: {took:?}, round trip p50 {p50:?}, p99 {p99:?}, max {:?}",
        latencies[latencies.len() - 1]
    );
    // The plan's bound: latency under 100 ms per message with 100 clients.
    assert!(
        p50 < Duration::from_millis(100),
        "median round trip {p50:?}"
    );
    run_until(&mut ev, "the closes", WAIT, 100_000, |ev| {
        ev.pool_usage(server.conns) == (0, CLIENTS)
    });
    assert_eq!(ev.in_use().tcp_streams, 0);
}

/// The protothread chat server of `common::chat`, driven on the test's thread.
struct ProtothreadChat<'s, 'e> {
    ev: &'e mut EventLoop<'s, ()>,
    server: ChatServer,
    /// The protothreads of seat 0 when its peer joined.
    seat0: (Option<PtHandle>, Option<PtHandle>),
}

impl ProtothreadChat<'_, '_> {
    fn counts_of(server: &ChatServer) -> ChatCounts {
        let hub = server.hub.borrow();
        ChatCounts {
            joined: hub.joined,
            connected: hub.connected(),
            received: hub.received,
            dropped: hub.dropped.clone(),
            left: hub.left,
        }
    }
}

impl ChatServerUnderTest for ProtothreadChat<'_, '_> {
    fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    fn run_until(
        &mut self,
        what: &str,
        within: Duration,
        done: &mut dyn FnMut(&ChatCounts) -> bool,
    ) {
        let server = &self.server;
        let seat0 = &mut self.seat0;
        run_until(self.ev, what, within, 10_000_000, |_| {
            if seat0.0.is_none() {
                *seat0 = server.hub.borrow().protothreads(0);
            }
            done(&Self::counts_of(server))
        });
    }

    fn counts(&mut self) -> ChatCounts {
        Self::counts_of(&self.server)
    }
}

#[test]
fn a_chat_client_that_never_reads_is_dropped_and_does_not_hold_back_the_others() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut chat = ChatMemory::new(4, Some(4096));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = chat.start(&mut ev);
    let mut under_test = ProtothreadChat {
        ev: &mut ev,
        server,
        seat0: (None, None),
    };
    let slow_slot =
        chat_scenario::a_client_that_never_reads_is_dropped_and_does_not_hold_back_the_others(
            &mut under_test,
        );
    assert_eq!(slow_slot, 0);
    // The slow peer's two protothreads were killed, not left waiting.
    let (slow_reader, slow_writer) = under_test.seat0;
    assert_eq!(
        ev.pt_status(slow_reader.unwrap()),
        Ok(PtStatus::Ended(Outcome::Killed))
    );
    assert_eq!(
        ev.pt_status(slow_writer.unwrap()),
        Ok(PtStatus::Ended(Outcome::Killed))
    );
}

#[test]
fn a_client_leaving_mid_frame_ends_its_protothread_with_closed_and_others_go_on() {
    let (mut memory, stats, mut conns, mut acceptor) = echo_memory(4);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    let mut steady = connect(server.addr);
    send_frame(&mut steady, b"before");
    run_until(&mut ev, "the first echo", WAIT, 10_000, |_| {
        stats.frames.get() == 1
    });
    assert_eq!(read_frame(&mut steady), b"before");
    let steady_pt = stats.last_conn.get().unwrap();

    let mut leaver = connect(server.addr);
    run_until(&mut ev, "the second accept", WAIT, 10_000, |_| {
        stats.accepted.get() == 2
    });
    let leaver_pt = stats.last_conn.get().unwrap();
    // A header announcing 100 bytes, then 10 of them, then gone.
    leaver.write_all(&100u32.to_be_bytes()).unwrap();
    leaver.write_all(&[7; 10]).unwrap();
    drop(leaver);
    run_until(&mut ev, "the mid-frame close", WAIT, 10_000, |ev| {
        ev.pool_usage(server.conns) == (1, 4)
    });
    assert_eq!(
        ev.pt_status(leaver_pt),
        Ok(PtStatus::Ended(Outcome::Failed(Error::Closed)))
    );

    send_frame(&mut steady, b"after");
    run_until(&mut ev, "the second echo", WAIT, 10_000, |_| {
        stats.frames.get() == 2
    });
    assert_eq!(read_frame(&mut steady), b"after");
    assert!(matches!(
        ev.pt_status(steady_pt),
        Ok(PtStatus::Waiting { .. })
    ));
    assert_eq!(ev.in_use().tcp_streams, 1);
}

#[test]
fn close_all_ends_every_connection_and_frees_every_slot() {
    const CLIENTS: usize = 5;
    let (mut memory, stats, mut conns, mut acceptor) = echo_memory(8);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let server = echo::start(&mut ev, &mut conns, &mut acceptor);

    let mut clients: Vec<_> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        send_frame(c, &payload(i, 0, 100));
    }
    run_until(&mut ev, "the echoes", WAIT, 10_000, |_| {
        stats.frames.get() == CLIENTS
    });
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(read_frame(c), payload(i, 0, 100));
    }
    assert_eq!(ev.protothreads_running(), CLIENTS + 1);

    // Every connection's protothread, the acceptor, every stream and the listener.
    assert_eq!(ev.close_all(), 2 * (CLIENTS + 1));
    assert_eq!(
        ev.in_use(),
        Capacities {
            timers: 0,
            tcp_listeners: 0,
            tcp_streams: 0,
            udp_sockets: 0,
            user_event_sources: 0,
            semaphores: 0,
            signals: 0,
            defers: 0,
            idles: 0,
            periodics: 0,
            file_ops: 0,
            file_op_size: 0,
            buffers: 0,
            buffer_size: 0,
            large_buffers: 0,
            large_buffer_size: 0,
        }
    );
    assert_eq!(ev.protothreads_running(), 0);
    assert_eq!(ev.pool_usage(server.conns), (0, 8));
    assert_eq!(
        ev.pt_status(server.acceptor),
        Ok(PtStatus::Ended(Outcome::Killed))
    );
    for c in &mut clients {
        let mut buf = [0u8; 1];
        assert_eq!(c.read(&mut buf).unwrap(), 0, "end-of-stream");
    }
    // Nothing is left to run: an iteration does nothing.
    assert_eq!(ev.run_once(Some(Duration::ZERO)).unwrap(), 0);
}
