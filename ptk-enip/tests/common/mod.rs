//! What the server tests share: a server on its own thread and loop on ephemeral loopback
//! ports, and a raw-socket client that speaks encapsulation packets.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use ptk_enip::server::{MemoryTags, Server, ServerConfig, ServerStats, ServerStorage};
use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};

/// The tags the reference captures were made with.
pub const CAPTURE_TAGS: &[&str] = &[
    "B=BOOL",
    "SI=SINT",
    "I=INT",
    "D=DINT",
    "L=LINT",
    "USI=USINT",
    "UI=UINT",
    "UD=UDINT",
    "UL=ULINT",
    "R=REAL",
    "LR=LREAL",
    "S=STRING",
    "BA=BOOL[64]",
    "DA=DINT[10]",
    "RA=REAL[4]",
    "SA=STRING[3]",
    "BIG=DINT[2000]",
];

/// How long any one wait of a test may take.
pub const BOUND: Duration = Duration::from_secs(20);

/// A server on its own thread and loop, on an ephemeral loopback port (TCP and UDP).
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<ServerStats>>,
}

impl TestServer {
    pub fn start(specs: &[&str], config: ServerConfig) -> TestServer {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || serve(&specs, config, &flag, tx));
        let addr = rx.recv_timeout(BOUND).expect("the server did not start");
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the server, once its connections are closed (bounded), and returns its
    /// counters.
    pub fn stop(mut self) -> ServerStats {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().expect("stopped once");
        thread.join().expect("the server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(
    specs: &[String],
    config: ServerConfig,
    stop: &AtomicBool,
    started: mpsc::Sender<SocketAddr>,
) -> ServerStats {
    let tags = MemoryTags::from_specs(specs).expect("the tag specs parse");
    let server = Server::new(tags, config);
    let mut memory = OwnedStorage::new(Capacities {
        buffers: 2 * config.max_connections + 4,
        buffer_size: 4096,
        large_buffers: 2,
        large_buffer_size: config.max_packet_len,
        ..Capacities::default()
    });
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: config.max_connections + 2,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ()).unwrap();
    let (listener, udp, addr) = (0..20)
        .find_map(|_| {
            let listener = ev
                .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
                .unwrap();
            let addr = ev.local_addr(listener.raw()).unwrap();
            match ev.udp_bind(addr) {
                Ok(udp) => Some((listener, udp, addr)),
                Err(_) => {
                    ev.close(listener.raw()).unwrap();
                    None
                }
            }
        })
        .expect("no ephemeral port free for both TCP and UDP");
    server
        .start(&mut ev, listener, Some(udp), &mut storage)
        .unwrap();
    started.send(addr).unwrap();
    while !stop.load(Ordering::SeqCst) {
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().open > 0 && Instant::now() < deadline {
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    server.stats()
}

/// A client socket with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(BOUND)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads one encapsulation packet; `None` at end-of-stream before its first byte.
pub fn read_packet(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 24];
    let mut got = 0;
    while got < 24 {
        match s.read(&mut head[got..]) {
            Ok(0) if got == 0 => return None,
            Ok(0) => panic!("the server closed the connection inside a header"),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && got == 0 => return None,
            Err(e) => panic!("reading a reply: {e}"),
        }
    }
    let len = u16::from_le_bytes([head[2], head[3]]) as usize;
    let mut packet = head.to_vec();
    packet.resize(24 + len, 0);
    s.read_exact(&mut packet[24..])
        .expect("the rest of a reply");
    Some(packet)
}

/// Whether the server closed the connection: end-of-stream (or a reset) within the bound.
pub fn is_closed(s: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
        ),
    }
}

/// An encapsulation packet: `command`, `session`, context `_ptk_cx_`, `data`.
pub fn packet(command: u16, session: u32, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(24 + data.len());
    p.extend_from_slice(&command.to_le_bytes());
    p.extend_from_slice(&(data.len() as u16).to_le_bytes());
    p.extend_from_slice(&session.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(b"_ptk_cx_");
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(data);
    p
}

/// Registers a session on `s` and returns its handle.
pub fn register(s: &mut TcpStream) -> u32 {
    s.write_all(&packet(0x65, 0, &[1, 0, 0, 0])).unwrap();
    let reply = read_packet(s).expect("a RegisterSession reply");
    assert_eq!(&reply[..4], &[0x65, 0, 4, 0]);
    assert_eq!(&reply[8..12], &[0, 0, 0, 0], "status");
    u32::from_le_bytes(reply[4..8].try_into().unwrap())
}

/// The data of a SendRRData packet carrying `message`.
pub fn rr_data(message: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xB2, 0];
    d.extend_from_slice(&(message.len() as u16).to_le_bytes());
    d.extend_from_slice(message);
    d
}

/// Sends `message` unconnected in session `session` and returns the CIP reply.
pub fn unconnected(s: &mut TcpStream, session: u32, message: &[u8]) -> Vec<u8> {
    s.write_all(&packet(0x6F, session, &rr_data(message)))
        .unwrap();
    let reply = read_packet(s).expect("a SendRRData reply");
    assert_eq!(&reply[8..12], &[0, 0, 0, 0], "encapsulation status");
    reply[40..].to_vec()
}
