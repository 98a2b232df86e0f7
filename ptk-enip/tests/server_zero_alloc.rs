//! The server allocates nothing on the loop's thread once started: a counting global
//! allocator, switched on for the loop's thread only, while 6 connections each register a
//! session, open a 4,002-byte connection and make hundreds of requests of every kind
//! (fragmented reads and writes, multiple service packets, bit writes, the tag list, the
//! template, a program's tags and tag list, refusals), and ListIdentity datagrams arrive on the UDP socket.

#[path = "../../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;
mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, packet, read_packet, register, unconnected, BOUND};
use ptk_enip::server::{MemoryTags, Server, ServerConfig, ServerStorage};
use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};

const CONNECTIONS: usize = 6;
const ROUNDS: usize = 40;

/// A Large_Forward_Open of 4,002 bytes with serial `serial`; returns the O->T id.
fn open(s: &mut TcpStream, handle: u32, serial: u16) -> u32 {
    let mut m = b"\x5B\x02\x20\x06\x24\x01\x0A\x0E".to_vec();
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&(0x100 + u32::from(serial)).to_le_bytes());
    m.extend_from_slice(&serial.to_le_bytes());
    m.extend_from_slice(&[0x37, 0x13, 42, 0, 0, 0, 3, 0, 0, 0]);
    m.extend_from_slice(&2_000_000u32.to_le_bytes());
    m.extend_from_slice(&0x4200_0FA2u32.to_le_bytes());
    m.extend_from_slice(&2_000_000u32.to_le_bytes());
    m.extend_from_slice(&0x4200_0FA2u32.to_le_bytes());
    m.extend_from_slice(&[0xA3, 3, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01]);
    let reply = unconnected(s, handle, &m);
    assert_eq!(&reply[..4], &[0xDB, 0, 0, 0]);
    u32::from_le_bytes(reply[4..8].try_into().unwrap())
}

/// Sends `message` on connection `id` with sequence `seq`; returns the CIP reply.
fn connected(s: &mut TcpStream, handle: u32, id: u32, seq: u16, message: &[u8]) -> Vec<u8> {
    let mut data = vec![0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0];
    data.extend_from_slice(&id.to_le_bytes());
    data.extend_from_slice(&[0xB1, 0]);
    data.extend_from_slice(&(message.len() as u16 + 2).to_le_bytes());
    data.extend_from_slice(&seq.to_le_bytes());
    data.extend_from_slice(message);
    s.write_all(&packet(0x70, handle, &data)).unwrap();
    let reply = read_packet(s).expect("a SendUnitData reply");
    assert_eq!(&reply[44..46], &seq.to_le_bytes(), "sequence count echoed");
    reply[46..].to_vec()
}

fn client(addr: SocketAddr, n: u16) {
    let mut s = connect(addr);
    let handle = register(&mut s);
    let id = open(&mut s, handle, n);
    let mut seq = 0u16;
    let mut ask = |s: &mut TcpStream, m: &[u8]| {
        seq = seq.wrapping_add(1);
        connected(s, handle, id, seq, m)
    };
    let big = b"\x91\x03BIG\x00";
    for round in 0..ROUNDS as u32 {
        let value = round * 100 + u32::from(n);
        // Write D, read it back.
        let mut w = b"\x4D\x02\x91\x01D\x00\xC4\x00\x01\x00".to_vec();
        w.extend_from_slice(&value.to_le_bytes());
        assert_eq!(ask(&mut s, &w), [0xCD, 0, 0, 0]);
        let mut expect = vec![0xCC, 0, 0, 0, 0xC4, 0];
        expect.extend_from_slice(&value.to_le_bytes());
        // Other clients write D too: only the layout is certain.
        assert_eq!(
            ask(&mut s, b"\x4C\x02\x91\x01D\x00\x01\x00").len(),
            expect.len()
        );
        // Read all of BIG: a partial read, then fragments.
        let mut read = vec![0x4C, 3];
        read.extend_from_slice(big);
        read.extend_from_slice(&2000u16.to_le_bytes());
        let first = ask(&mut s, &read);
        assert_eq!(&first[..6], &[0xCC, 0, 0x06, 0, 0xC4, 0]);
        let mut offset = (first.len() - 6) as u32;
        while offset < 8000 {
            let mut frag = vec![0x52, 3];
            frag.extend_from_slice(big);
            frag.extend_from_slice(&2000u16.to_le_bytes());
            frag.extend_from_slice(&offset.to_le_bytes());
            let r = ask(&mut s, &frag);
            assert!(matches!(r[2], 0 | 6), "status {:#x}", r[2]);
            offset += (r.len() - 6) as u32;
        }
        assert_eq!(offset, 8000);
        // A Write Tag Fragmented of BIG's first 1,000 elements.
        let mut wf = vec![0x53, 3];
        wf.extend_from_slice(big);
        wf.extend_from_slice(&[0xC4, 0]);
        wf.extend_from_slice(&1000u16.to_le_bytes());
        wf.extend_from_slice(&0u32.to_le_bytes());
        wf.extend_from_slice(&[7u8; 3000]);
        assert_eq!(ask(&mut s, &wf), [0xD3, 0, 0, 0]);
        // A bit of a BOOL array set by Read-Modify-Write, an unknown tag, a MSP.
        assert_eq!(
            ask(
                &mut s,
                b"\x4E\x03\x91\x02BA\x28\x01\x04\x00\x20\x00\x00\x00\xFF\xFF\xFF\xFF"
            ),
            [0xCE, 0, 0, 0]
        );
        assert_eq!(
            ask(&mut s, b"\x4C\x02\x91\x01X\x00\x01\x00"),
            [0xCC, 0, 4, 0]
        );
        let msp = b"\x0A\x02\x20\x02\x24\x01\x02\x00\x06\x00\x0E\x00\x4C\x02\x91\x01D\x00\x01\x00\x4C\x02\x91\x01S\x00\x01\x00";
        let r = ask(&mut s, msp);
        assert_eq!(&r[..4], &[0x8A, 0, 0, 0]);
        assert_eq!(r.len(), 4 + 6 + 10 + 4 + 4 + 88);
        // The tag list and the STRING template.
        let list = ask(
            &mut s,
            b"\x55\x03\x20\x6B\x25\x00\x00\x00\x03\x00\x01\x00\x02\x00\x08\x00",
        );
        assert_eq!(&list[..4], &[0xD5, 0, 0, 0]);
        // A program's tag written and read, the program's tag list.
        let p = b"\x91\x0CProgram:Main\x91\x01P\x00\x28\x02";
        let write = [&b"\x4D\x0A"[..], p, b"\xC4\x00\x01\x00\x05\x00\x00\x00"].concat();
        assert_eq!(ask(&mut s, &write), [0xCD, 0, 0, 0]);
        let read = [&b"\x4C\x0A"[..], p, b"\x01\x00"].concat();
        assert_eq!(ask(&mut s, &read), [0xCC, 0, 0, 0, 0xC4, 0, 5, 0, 0, 0]);
        let list = ask(
            &mut s,
            b"\x55\x09\x91\x0CProgram:Main\x20\x6B\x24\x00\x03\x00\x01\x00\x02\x00\x08\x00",
        );
        assert_eq!(
            list,
            [
                &[0xD5, 0, 0, 0, 1, 0, 0, 0, 1, 0, b'P', 0xC4, 0x20][..],
                &[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            ]
            .concat()
        );
        let t = ask(
            &mut s,
            b"\x03\x03\x20\x6C\x25\x00\xCE\x0F\x04\x00\x04\x00\x05\x00\x02\x00\x01\x00",
        );
        assert_eq!(&t[..4], &[0x83, 0, 0, 0]);
        let def = ask(
            &mut s,
            b"\x4C\x03\x20\x6C\x25\x00\xCE\x0F\x00\x00\x00\x00\x27\x00",
        );
        assert_eq!(def.len(), 4 + 39);
        // Unconnected: the identity through Unconnected_Send, ListIdentity over TCP.
        let identity = unconnected(
            &mut s,
            handle,
            b"\x52\x02\x20\x06\x24\x01\x0A\x05\x06\x00\x01\x02\x20\x01\x24\x01\x01\x00\x01\x00",
        );
        assert_eq!(&identity[..4], &[0x81, 0, 0, 0]);
        s.write_all(&packet(0x63, handle, &[])).unwrap();
        assert_eq!(read_packet(&mut s).unwrap()[..2], [0x63, 0]);
    }
    s.write_all(&packet(0x66, handle, &[])).unwrap();
    assert!(common::is_closed(&mut s));
}

#[test]
fn serving_allocates_nothing_after_start_up() {
    serve_counting(2 * CONNECTIONS);
}

/// Two small buffers for six connections: each exchange answers in the buffer its packet was
/// read into, so the connections share two buffers, and allocate nothing either.
#[test]
fn waiting_for_pool_buffers_allocates_nothing() {
    serve_counting(2);
}

fn serve_counting(buffers: usize) {
    let config = ServerConfig {
        max_connections: CONNECTIONS,
        ..ServerConfig::default()
    };
    let tags = MemoryTags::from_specs([
        "D=DINT",
        "S=STRING",
        "BA=BOOL[64]",
        "BIG=DINT[2000]",
        "Program:Main.P=DINT[4]",
    ])
    .unwrap();
    let server = Server::new(tags, config);
    let mut memory = OwnedStorage::new(Capacities {
        buffers,
        buffer_size: 4096,
        large_buffers: 2,
        large_buffer_size: config.max_packet_len,
        ..Capacities::default()
    });
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: CONNECTIONS + 2,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ()).unwrap();
    let listener = ev
        .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
        .unwrap();
    let addr = ev.local_addr(listener.raw()).unwrap();
    let udp = ev.udp_bind(addr).unwrap();
    server
        .start(&mut ev, listener, Some(udp), &mut storage)
        .unwrap();
    let mut clients: Vec<_> = (0..CONNECTIONS as u16)
        .map(|n| thread::spawn(move || client(addr, n)))
        .collect();
    clients.push(thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(BOUND)).unwrap();
        for _ in 0..ROUNDS {
            socket.send_to(&packet(0x63, 0, &[]), addr).unwrap();
            let mut buf = [0u8; 600];
            let (n, _) = socket.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..2], &[0x63, 0]);
            assert_eq!(&buf[12..20], b"_ptk_cx_");
            assert!(n > 60);
        }
    }));

    alloc_counter::count_this_thread(true);
    let start = Instant::now();
    while !clients.iter().all(thread::JoinHandle::is_finished) || server.stats().open > 0 {
        assert!(start.elapsed() < BOUND * 3, "clients did not finish");
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
    }
    alloc_counter::count_this_thread(false);
    for c in clients {
        c.join().expect("a client failed");
    }
    let stats = server.stats();
    let pool = ev.buffer_stats();
    println!(
        "{stats:?}, {} allocations, {} pool pauses",
        alloc_counter::allocations(),
        pool.pool_pauses
    );
    assert_eq!(
        alloc_counter::allocations(),
        0,
        "allocations on the loop's thread"
    );
    assert_eq!(stats.accepted, CONNECTIONS as u64);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.datagrams, ROUNDS as u64);
    assert!(stats.requests > (CONNECTIONS * ROUNDS * 10) as u64);
    assert_eq!((pool.small_in_use, pool.large_in_use), (0, 0));
}
