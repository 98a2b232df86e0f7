//! A server on a loop in the test's thread, and helpers for raw std clients.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ptk_modbus::server::{MemoryModel, Server, ServerConfig, ServerStorage};
use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};

/// No test waits longer than this for anything.
pub const BOUND: Duration = Duration::from_secs(60);

/// A model of 1000 of each table, with input `i` on for odd `i` and input register `i` = `i`.
pub fn model() -> MemoryModel {
    let mut m = MemoryModel::new(1000);
    for (i, v) in m.discrete_inputs_mut().iter_mut().enumerate() {
        *v = i % 2 == 1;
    }
    for (i, v) in m.input_registers_mut().iter_mut().enumerate() {
        *v = i as u16;
    }
    m
}

/// Bytes per pool buffer: a few frames (a Modbus frame is at most 260 bytes).
pub const BUFFER_SIZE: usize = 1024;

/// Pool buffers for a server of `connections`: two per connection (requests not answered yet
/// and answers, when a client pipelines) and a few spare.
pub fn pool_buffers(connections: usize) -> usize {
    2 * connections + 8
}

/// Loop capacities for a server of `connections` plus `extra` streams of test clients.
pub fn capacities(connections: usize, extra: usize) -> Capacities {
    Capacities {
        tcp_listeners: 1,
        tcp_streams: connections + 1 + extra,
        timers: connections + 1 + 2 * extra,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: pool_buffers(connections),
        buffer_size: BUFFER_SIZE,
        large_buffers: 0,
        large_buffer_size: 0,
    }
}

/// Serves `server` on an ephemeral port in this thread until every thread `clients` starts
/// (given the address) has finished; returns their results. The loop's pool has
/// [`pool_buffers`] buffers; every one must be back in the pool once the clients are gone.
pub fn serve_while<R: Send + 'static>(
    server: &Server<MemoryModel>,
    clients: impl FnOnce(SocketAddr) -> Vec<JoinHandle<R>>,
) -> Vec<R> {
    serve_with_pool(
        server,
        pool_buffers(server.config().max_connections),
        clients,
    )
}

/// [`serve_while`] with a pool of `buffers` buffers of [`BUFFER_SIZE`] bytes.
pub fn serve_with_pool<R: Send + 'static>(
    server: &Server<MemoryModel>,
    buffers: usize,
    clients: impl FnOnce(SocketAddr) -> Vec<JoinHandle<R>>,
) -> Vec<R> {
    with_loop(server, buffers, |ev, addr| {
        let threads = clients(addr);
        let start = Instant::now();
        while !threads.iter().all(JoinHandle::is_finished) {
            assert!(
                start.elapsed() < BOUND,
                "clients did not finish in {BOUND:?}"
            );
            ev.run_once(Some(Duration::from_millis(5))).unwrap();
        }
        // The clients closed their sockets: let the server see every close.
        run_until(ev, "every connection closed", |_| server.stats().open == 0);
        let pool = ev.buffer_stats();
        assert_eq!(
            (pool.small_in_use, pool.large_in_use),
            (0, 0),
            "buffers still in use with every connection closed"
        );
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// Runs `f` with a loop in this thread serving `server` on an ephemeral port (its address
/// given), over a pool of `buffers` buffers of [`BUFFER_SIZE`] bytes; closes everything
/// after.
pub fn with_loop<R>(
    server: &Server<MemoryModel>,
    buffers: usize,
    f: impl FnOnce(&mut EventLoop<'_, ()>, SocketAddr) -> R,
) -> R {
    let config = *server.config();
    let mut memory = OwnedStorage::new(Capacities {
        buffers,
        ..capacities(config.max_connections, 0)
    });
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: config.max_connections + 1,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    server.start(&mut ev, listener, &mut storage).unwrap();
    let r = f(&mut ev, addr);
    ev.close_all();
    r
}

/// Runs the loop until `done` says so; fails after [`BOUND`].
pub fn run_until(
    ev: &mut EventLoop<'_, ()>,
    what: &str,
    mut done: impl FnMut(&mut EventLoop<'_, ()>) -> bool,
) {
    let start = Instant::now();
    while !done(ev) {
        assert!(start.elapsed() < BOUND, "not {what} after {BOUND:?}");
        ev.run_once(Some(Duration::from_millis(1))).unwrap();
    }
}

/// The whole frames at the front of `pending`, taken out of it.
pub fn take_frames(pending: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while pending.len() >= 6 {
        let len = 6 + usize::from(u16::from_be_bytes([pending[4], pending[5]]));
        if pending.len() < len {
            break;
        }
        frames.push(pending.drain(..len).collect());
    }
    frames
}

/// Reads what a non-blocking socket has into `pending` (nothing if it has nothing yet).
pub fn read_available(s: &mut TcpStream, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => panic!("the server closed the connection"),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Runs the loop until non-blocking client `s` has received `n` whole frames; returns them.
pub fn answers(ev: &mut EventLoop<'_, ()>, s: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
    let mut pending = Vec::new();
    let mut frames = Vec::new();
    run_until(ev, "answered", |_| {
        read_available(s, &mut pending);
        frames.extend(take_frames(&mut pending));
        frames.len() >= n
    });
    assert!(pending.is_empty(), "more than {n} answers");
    assert_eq!(frames.len(), n, "more than {n} answers");
    frames
}

/// A blocking std client with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `request` and reads one whole response frame.
pub fn ask(s: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    s.write_all(request).unwrap();
    read_frame(s)
}

/// Reads one whole frame.
pub fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; 6];
    s.read_exact(&mut header).unwrap();
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut frame = header.to_vec();
    frame.resize(6 + len, 0);
    s.read_exact(&mut frame[6..]).unwrap();
    frame
}

/// Whether the server closed the connection: reads see end-of-stream (or a reset).
pub fn is_closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("expected a close, got {n} more bytes: {:?}", &buf[..n]),
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

/// A read holding registers request frame.
pub fn read_holding(transaction_id: u16, address: u16, quantity: u16) -> Vec<u8> {
    let [t0, t1] = transaction_id.to_be_bytes();
    let [a0, a1] = address.to_be_bytes();
    let [q0, q1] = quantity.to_be_bytes();
    vec![t0, t1, 0, 0, 0, 6, 1, 0x03, a0, a1, q0, q1]
}

/// Runs a loop with a server over `model` and the protothreads `contexts` until one stops
/// it; returns the server.
pub fn run_with<C, F>(
    model: MemoryModel,
    config: ServerConfig,
    contexts: &mut [C],
    start: F,
) -> Server<MemoryModel>
where
    C: ptk_runtime::Protothread + 'static,
    C::Output: Into<ptk_runtime::Outcome>,
    F: Fn(SocketAddr, &mut C),
{
    let server = Server::new(model, config);
    let mut memory = OwnedStorage::new(capacities(config.max_connections, contexts.len()));
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: config.max_connections + 1 + contexts.len(),
        ..Config::default()
    };
    let n = contexts.len();
    let mut ev = EventLoop::new(memory.storage(), loop_config, ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    server.start(&mut ev, listener, &mut storage).unwrap();
    let pool = ev.add_protothreads(contexts).unwrap();
    for _ in 0..n {
        ev.cx().spawn_with(pool, |c| start(addr, c)).unwrap();
    }
    let began = Instant::now();
    loop {
        assert!(
            began.elapsed() < BOUND,
            "the loop did not stop in {BOUND:?}"
        );
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
        if ev.pool_usage(pool).0 == 0 {
            break;
        }
    }
    server
}
