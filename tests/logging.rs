//! What the runtime and the Modbus server log (their `log` features are on for this crate's
//! tests): one record per event an operator needs, with the peer and the reason, and one per
//! episode where an event repeats (refusals, an exhausted buffer pool), not one per
//! connection or per message.
//!
//! The logger keeps each thread's records apart, so tests running at once do not see each
//! other's: the loop of each test runs on that test's thread, and so logs there.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::task::Poll;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use ptk::{Capacities, Config, Error, EventLoop, Handle, ListenOptions, OwnedStorage};
use ptk_modbus::server::{MemoryModel, Server, ServerConfig, ServerStorage};

/// Records every record of the thread that logs it.
struct ThreadLogger;

thread_local! {
    static RECORDS: RefCell<Vec<(Level, String, String)>> = const { RefCell::new(Vec::new()) };
}

impl Log for ThreadLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let entry = (
            record.level(),
            record.target().to_string(),
            record.args().to_string(),
        );
        RECORDS.with(|r| r.borrow_mut().push(entry));
    }

    fn flush(&self) {}
}

static LOGGER: ThreadLogger = ThreadLogger;

/// Installs the logger (once per process) and forgets what this thread logged so far.
fn capture() {
    // Another test of this binary may have installed it already: that is the same logger.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LevelFilter::Trace);
    RECORDS.with(|r| r.borrow_mut().clear());
}

/// What this thread's ptk crates logged since [`capture`] (others, such as `mio`, log too),
/// as level and message, each with a target that must start with `crate_name`.
fn records(crate_name: &str) -> Vec<(Level, String)> {
    RECORDS.with(|r| {
        r.borrow()
            .iter()
            .filter(|(_, target, _)| target.starts_with("ptk"))
            .map(|(level, target, message)| {
                assert!(
                    target.starts_with(crate_name),
                    "{message:?} logged with target {target}, not of {crate_name}"
                );
                (*level, message.clone())
            })
            .collect()
    })
}

/// Runs `ev` until `done` (at most 500 iterations of at most 10 ms).
fn run_until<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    mut done: impl FnMut(&mut EventLoop<'_, A>) -> bool,
) {
    for _ in 0..500 {
        if done(ev) {
            return;
        }
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    panic!("the loop did not get there in 500 iterations");
}

#[test]
fn a_modbus_connection_closed_on_a_malformed_frame_logs_one_warning_with_peer_and_reason() {
    capture();
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let server = Server::new(MemoryModel::new(10), config);
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut storage = ServerStorage::new(&config);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    server.start(&mut ev, listener, &mut storage).unwrap();

    // A read of one holding register, but with protocol id 5: the header cannot be trusted.
    let mut client = TcpStream::connect(addr).unwrap();
    let peer = client.local_addr().unwrap();
    client
        .write_all(&[0, 1, 0, 5, 0, 6, 1, 0x03, 0, 0, 0, 1])
        .unwrap();
    run_until(&mut ev, |_| server.stats().dropped == 1);

    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        client.read_to_end(&mut rest).unwrap(),
        0,
        "closed without an answer"
    );
    assert_eq!(
        records("ptk_modbus"),
        [(
            Level::Warn,
            format!(
                "modbus server: closing the connection from {peer}: malformed Modbus frame: \
                 MBAP protocol identifier is not 0"
            )
        )]
    );
}

/// Accepts on `listener` until a connection or an error comes (at most 500 tries).
fn accept(
    ev: &mut EventLoop<'_, ()>,
    listener: Handle<ptk::TcpListener>,
) -> Result<Handle<ptk::TcpStream>, Error> {
    for _ in 0..500 {
        match ev.cx().accept(listener) {
            Poll::Ready(r) => return r.map(|(stream, _)| stream),
            Poll::Pending => {
                ev.run_once(Some(Duration::from_millis(10))).unwrap();
            }
        }
    }
    panic!("no connection to accept in 500 tries");
}

#[test]
fn refusals_for_want_of_stream_slots_log_once_when_they_start_and_once_when_they_end() {
    capture();
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: 1,
        ..Capacities::default()
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr: SocketAddr = ev.local_addr(listener.raw()).unwrap();

    let _first = TcpStream::connect(addr).unwrap();
    let held = accept(&mut ev, listener).unwrap();
    let refused: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for _ in &refused {
        assert_eq!(
            accept(&mut ev, listener),
            Err(Error::OutOfResources(ptk::Capacity::TcpStreams))
        );
    }
    ev.cx().close(held.raw()).unwrap();
    let _last = TcpStream::connect(addr).unwrap();
    accept(&mut ev, listener).unwrap();

    let first_refused = refused[0].local_addr().unwrap();
    assert_eq!(
        records("ptk_runtime"),
        [
            (
                Level::Warn,
                format!(
                    "refusing connections, starting with {first_refused}: out of resources: \
                     every TCP stream slot is in use (give `Storage::tcp_streams` more slots)"
                )
            ),
            (
                Level::Info,
                "accepting connections again after refusing 3".to_string()
            ),
        ]
    );
}

#[test]
fn an_exhausted_buffer_pool_logs_once_per_episode_not_once_per_read() {
    capture();
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: 2,
        buffers: 1,
        buffer_size: 64,
        large_buffers: 0,
        large_buffer_size: 0,
        ..Capacities::default()
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    let mut client_a = TcpStream::connect(addr).unwrap();
    let a = accept(&mut ev, listener).unwrap();
    let mut client_b = TcpStream::connect(addr).unwrap();
    let b = accept(&mut ev, listener).unwrap();

    // A takes the only buffer.
    client_a.write_all(b"first").unwrap();
    let mut held = None;
    run_until(&mut ev, |ev| match ev.cx().read_buf(a) {
        Poll::Ready(r) => {
            held = r.unwrap();
            true
        }
        Poll::Pending => false,
    });
    let held = held.expect("a buffer with A's bytes");

    // B's reads pause, however often it tries: one warning.
    client_b.write_all(b"second").unwrap();
    run_until(&mut ev, |ev| {
        assert!(ev.cx().read_buf(b).is_pending());
        ev.buffer_stats().pool_pauses == 1
    });
    for _ in 0..5 {
        assert!(ev.cx().read_buf(b).is_pending());
        ev.run_once(Some(Duration::ZERO)).unwrap();
    }

    // A gives the buffer back: the episode ends, and B's read goes on.
    ev.cx().buf_release(held).unwrap();
    let mut taken = None;
    run_until(&mut ev, |ev| match ev.cx().read_buf(b) {
        Poll::Ready(r) => {
            taken = r.unwrap();
            true
        }
        Poll::Pending => false,
    });
    assert_eq!(ev.cx().buf(taken.unwrap()).unwrap(), b"second");

    // Dry again: a second episode, a second warning.
    client_a.write_all(b"third").unwrap();
    run_until(&mut ev, |ev| {
        assert!(ev.cx().read_buf(a).is_pending());
        ev.buffer_stats().pool_pauses == 2
    });

    let dry = "buffer pool exhausted: reads pause until buffers are freed (1 of 1 small and 0 of \
               0 large buffers in use; give `Capacities::buffers` more if this recurs)";
    assert_eq!(
        records("ptk_runtime"),
        [
            (Level::Warn, dry.to_string()),
            (
                Level::Info,
                "buffer pool half free again (1 reads paused for it so far, peak 1 of 1 \
                 buffers in use)"
                    .to_string()
            ),
            (Level::Warn, dry.to_string()),
        ]
    );
}
