//! Bad input to the server over loopback: every refusal is a clean, exact reply, the
//! connection closes only where the stream cannot go on (and then after a reply where one is
//! due), and other connections are never affected.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{connect, is_closed, packet, read_packet, register, rr_data, unconnected, TestServer};
use ptk_enip::server::ServerConfig;

const TAGS: &[&str] = &["D=DINT", "DA=DINT[10]", "S=STRING"];

fn server() -> TestServer {
    TestServer::start(TAGS, ServerConfig::default())
}

/// A registered connection, and the proof it works: D read as 0.
fn session(server: &TestServer) -> (TcpStream, u32) {
    let mut s = connect(server.addr);
    let handle = register(&mut s);
    assert_works(&mut s, handle);
    (s, handle)
}

fn assert_works(s: &mut TcpStream, handle: u32) {
    let reply = unconnected(s, handle, b"\x4C\x02\x91\x01D\x00\x01\x00");
    assert_eq!(reply, [0xCC, 0, 0, 0, 0xC4, 0, 0, 0, 0, 0]);
}

/// The encapsulation status of a reply, its data length, and the data.
fn status(reply: &[u8]) -> (u32, usize) {
    (
        u32::from_le_bytes(reply[8..12].try_into().unwrap()),
        u16::from_le_bytes([reply[2], reply[3]]) as usize,
    )
}

#[test]
fn a_packet_cut_short_closes_only_its_connection() {
    let server = server();
    let (mut other, handle) = session(&server);
    let mut s = connect(server.addr);
    // Half a RegisterSession header, then the client goes away.
    s.write_all(&packet(0x65, 0, &[1, 0, 0, 0])[..12]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(is_closed(&mut s));
    assert_works(&mut other, handle);
    drop(other);
    let stats = server.stop();
    assert_eq!(stats.dropped, 1, "{stats:?}");
}

#[test]
fn an_oversized_packet_is_answered_with_invalid_length_then_closed() {
    let server = server();
    let (mut other, handle) = session(&server);
    let mut s = connect(server.addr);
    let mut huge = packet(0x6F, 0, &[]);
    huge[2..4].copy_from_slice(&60_000u16.to_le_bytes());
    s.write_all(&huge).unwrap();
    let reply = read_packet(&mut s).expect("a reply before the close");
    assert_eq!(&reply[..4], &[0x6F, 0, 0, 0]);
    assert_eq!(status(&reply), (0x65, 0));
    assert_eq!(&reply[12..20], b"_ptk_cx_", "sender context echoed");
    assert!(is_closed(&mut s));
    assert_works(&mut other, handle);
}

#[test]
fn a_wrong_session_handle_is_refused_and_the_connection_goes_on() {
    let server = server();
    let (mut s, handle) = session(&server);
    for wrong in [0, handle ^ 1] {
        s.write_all(&packet(
            0x6F,
            wrong,
            &rr_data(b"\x4C\x02\x91\x01D\x00\x01\x00"),
        ))
        .unwrap();
        let reply = read_packet(&mut s).unwrap();
        assert_eq!(status(&reply), (0x64, 0), "session {wrong:#x}");
        assert_eq!(&reply[4..8], &wrong.to_le_bytes());
    }
    assert_works(&mut s, handle);
    // Before any RegisterSession too.
    let mut fresh = connect(server.addr);
    fresh
        .write_all(&packet(
            0x70,
            handle,
            &rr_data(b"\x4C\x02\x91\x01D\x00\x01\x00"),
        ))
        .unwrap();
    assert_eq!(status(&read_packet(&mut fresh).unwrap()), (0x64, 0));
}

#[test]
fn session_registration_errors_are_answered() {
    let server = server();
    let (mut s, handle) = session(&server);
    // A second RegisterSession on the same connection.
    s.write_all(&packet(0x65, 0, &[1, 0, 0, 0])).unwrap();
    let reply = read_packet(&mut s).unwrap();
    assert_eq!(status(&reply), (0x01, 4));
    assert_eq!(&reply[24..], &[1, 0, 0, 0]);
    assert_works(&mut s, handle);
    // Protocol version 2.
    let mut fresh = connect(server.addr);
    fresh.write_all(&packet(0x65, 0, &[2, 0, 0, 0])).unwrap();
    let reply = read_packet(&mut fresh).unwrap();
    assert_eq!(status(&reply), (0x69, 4));
    assert_eq!(&reply[4..8], &[0, 0, 0, 0], "no session given");
    assert_eq!(&reply[24..], &[1, 0, 0, 0], "the version served");
    // Data of the wrong length.
    fresh.write_all(&packet(0x65, 0, &[1, 0])).unwrap();
    assert_eq!(status(&read_packet(&mut fresh).unwrap()).0, 0x03);
    // Then a good one.
    register(&mut fresh);
}

#[test]
fn unknown_commands_and_bad_items_are_refused_and_the_connection_goes_on() {
    let server = server();
    let (mut s, handle) = session(&server);
    s.write_all(&packet(0x0099, handle, &[1, 2, 3])).unwrap();
    assert_eq!(status(&read_packet(&mut s).unwrap()), (0x01, 0));
    // SendRRData whose items are a connected pair, or cut short.
    let mut items = rr_data(b"\x4C\x02\x91\x01D\x00\x01\x00");
    items[12] = 0xB1;
    s.write_all(&packet(0x6F, handle, &items)).unwrap();
    assert_eq!(status(&read_packet(&mut s).unwrap()), (0x03, 0));
    let short = rr_data(b"\x4C\x02\x91\x01D\x00\x01\x00");
    s.write_all(&packet(0x6F, handle, &short[..18])).unwrap();
    assert_eq!(status(&read_packet(&mut s).unwrap()), (0x03, 0));
    // NOP gets no reply; the next request does.
    s.write_all(&packet(0x00, handle, &[0xAA; 8])).unwrap();
    assert_works(&mut s, handle);
}

/// Requests the message router refuses, with their exact replies.
#[test]
fn cip_refusals_have_logix_statuses() {
    let server = server();
    let (mut s, handle) = session(&server);
    let cases: &[(&[u8], &[u8])] = &[
        // An unknown tag: path segment error.
        (b"\x4C\x02\x91\x01X\x00\x01\x00", &[0xCC, 0, 0x04, 0]),
        // An index past the array: path destination unknown.
        (b"\x4C\x03\x91\x02DA\x28\x0A\x01\x00", &[0xCC, 0, 0x05, 0]),
        // Three elements from DA[8]: past the end.
        (b"\x4C\x03\x91\x02DA\x28\x08\x03\x00", &[0xCC, 0, 0xFF, 1, 0x05, 0x21]),
        // An index on a scalar, a member of a DINT.
        (b"\x4C\x03\x91\x01D\x00\x28\x00\x01\x00", &[0xCC, 0, 0x04, 0]),
        (b"\x4C\x04\x91\x01D\x00\x91\x01x\x00\x01\x00", &[0xCC, 0, 0x04, 0]),
        // An unknown symbol instance.
        (b"\x4C\x02\x20\x6B\x24\x09\x01\x00", &[0xCC, 0, 0x05, 0]),
        // No element count.
        (b"\x4C\x02\x91\x01D\x00", &[0xCC, 0, 0x13, 0]),
        // Write Tag of a REAL to a DINT; of too little data.
        (
            b"\x4D\x02\x91\x01D\x00\xCA\x00\x01\x00\x00\x00\x80\x3F",
            &[0xCD, 0, 0xFF, 1, 0x07, 0x21],
        ),
        (b"\x4D\x02\x91\x01D\x00\xC4\x00\x01\x00\x01\x00", &[0xCD, 0, 0x13, 0]),
        // Read-Modify-Write of a STRING; a mask wider than a DINT.
        (b"\x4E\x02\x91\x01S\x00\x01\x00\x01\xFF", &[0xCE, 0, 0xFF, 1, 0x07, 0x21]),
        (
            b"\x4E\x02\x91\x01D\x00\x08\x00\x01\x00\x00\x00\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
            &[0xCE, 0, 0xFF, 1, 0x07, 0x21],
        ),
        // A service tags do not have; one the Identity object does not have.
        (b"\x10\x02\x91\x01D\x00", &[0x90, 0, 0x08, 0]),
        (b"\x10\x03\x20\x01\x24\x01\x30\x01\x01\x00", &[0x90, 0, 0x08, 0]),
        // An object the server does not have; an attribute the Identity object lacks.
        (b"\x01\x02\x20\x99\x24\x01", &[0x81, 0, 0x05, 0]),
        (b"\x0E\x03\x20\x01\x24\x01\x30\x63", &[0x8E, 0, 0x14, 0]),
        // A path of a segment type not served; a path size past the message; no path size.
        (b"\x4C\x01\x60\x00\x01\x00", &[0xCC, 0, 0x04, 0]),
        (b"\x4C\x09\x91\x01D\x00", &[0xCC, 0, 0x26, 0]),
        (b"\x4C", &[0xCC, 0, 0x13, 0]),
        // A reply code as a request.
        (b"\xCC\x02\x91\x01D\x00\x01\x00", &[0xCC, 0, 0x08, 0]),
        // Unconnected_Send routed elsewhere than 1,0: connection failure, invalid port.
        (
            b"\x52\x02\x20\x06\x24\x01\x0A\x05\x08\x00\x4C\x02\x91\x01D\x00\x01\x00\x01\x00\x01\x03",
            &[0xD2, 0, 0x01, 1, 0x11, 0x03, 1, 0],
        ),
        // A Multiple Service Packet with a bad offset table.
        (b"\x0A\x02\x20\x02\x24\x01\x01\x00\x07\x00\x01\x02", &[0x8A, 0, 0x03, 0]),
        // A template the server does not have.
        (b"\x03\x03\x20\x6C\x25\x00\x00\x01\x01\x00\x01\x00", &[0x83, 0, 0x05, 0]),
    ];
    for (request, expected) in cases {
        let reply = unconnected(&mut s, handle, request);
        assert_eq!(&reply, expected, "request {request:02x?}");
    }
    // A Multiple Service Packet whose second request fails: embedded service error.
    let reply = unconnected(
        &mut s,
        handle,
        b"\x0A\x02\x20\x02\x24\x01\x02\x00\x06\x00\x0E\x00\x4C\x02\x91\x01D\x00\x01\x00\x4C\x02\x91\x01X\x00\x01\x00",
    );
    assert_eq!(
        reply,
        [
            0x8A, 0, 0x1E, 0, 2, 0, 6, 0, 16, 0, // status, count, offsets
            0xCC, 0, 0, 0, 0xC4, 0, 0, 0, 0, 0, // D
            0xCC, 0, 0x04, 0, // X
        ]
    );
    assert_works(&mut s, handle);
}

/// A Forward_Open with the given connection path and T->O size.
fn forward_open(path: &[u8], size: u16) -> Vec<u8> {
    let mut m = b"\x54\x02\x20\x06\x24\x01\x0A\x0E".to_vec();
    m.extend_from_slice(&0u32.to_le_bytes()); // O->T id
    m.extend_from_slice(&0x1234u32.to_le_bytes()); // T->O id
    m.extend_from_slice(&[0x07, 0x00, 0x37, 0x13, 42, 0, 0, 0]); // triad
    m.extend_from_slice(&[3, 0, 0, 0]); // multiplier, reserved
    m.extend_from_slice(&2_000_000u32.to_le_bytes());
    m.extend_from_slice(&(0x4200u16 | size).to_le_bytes());
    m.extend_from_slice(&2_000_000u32.to_le_bytes());
    m.extend_from_slice(&(0x4200u16 | size).to_le_bytes());
    m.push(0xA3);
    m.push((path.len() / 2) as u8);
    m.extend_from_slice(path);
    m
}

#[test]
fn forward_open_refusals_name_the_connection() {
    let server = server();
    let (mut s, handle) = session(&server);
    let triad = [0x07, 0x00, 0x37, 0x13, 42, 0, 0, 0];
    // A path to slot 3: invalid segment in the connection path.
    let reply = unconnected(
        &mut s,
        handle,
        &forward_open(b"\x01\x03\x20\x02\x24\x01", 500),
    );
    let mut expected = vec![0xD4, 0, 0x01, 1, 0x15, 0x03];
    expected.extend_from_slice(&triad);
    expected.extend_from_slice(&[3, 0]);
    assert_eq!(reply, expected);
    // A size too small for any reply: invalid connection size.
    let reply = unconnected(
        &mut s,
        handle,
        &forward_open(b"\x01\x00\x20\x02\x24\x01", 8),
    );
    assert_eq!(&reply[..6], &[0xD4, 0, 0x01, 1, 0x09, 0x01]);
    // A good one, then the same triad again: connection in use.
    let good = forward_open(b"\x01\x00\x20\x02\x24\x01", 500);
    let reply = unconnected(&mut s, handle, &good);
    assert_eq!(&reply[..4], &[0xD4, 0, 0, 0]);
    let id = u32::from_le_bytes(reply[4..8].try_into().unwrap());
    let reply = unconnected(&mut s, handle, &good);
    assert_eq!(&reply[..6], &[0xD4, 0, 0x01, 1, 0x00, 0x01]);
    // Forward_Close of an unknown triad: connection not found.
    let mut close = b"\x4E\x02\x20\x06\x24\x01\x0A\x0E\x08\x00\x37\x13\x2A\x00\x00\x00".to_vec();
    close.extend_from_slice(&[3, 0, 1, 0, 0x20, 0x02, 0x24, 0x01]);
    let reply = unconnected(&mut s, handle, &close);
    assert_eq!(
        reply,
        [0xCE, 0, 0x01, 1, 0x07, 0x01, 0x08, 0, 0x37, 0x13, 42, 0, 0, 0, 0, 0]
    );
    // The connection works: a connected Read Tag, the sequence count echoed.
    let mut data = vec![0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0];
    data.extend_from_slice(&id.to_le_bytes());
    data.extend_from_slice(&[0xB1, 0, 10, 0, 0x34, 0x12]);
    data.extend_from_slice(b"\x4C\x02\x91\x01D\x00\x01\x00");
    s.write_all(&packet(0x70, handle, &data)).unwrap();
    let reply = read_packet(&mut s).unwrap();
    assert_eq!(
        &reply[24..],
        &[
            0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0, 0x34, 0x12, 0, 0, // T->O id
            0xB1, 0, 12, 0, 0x34, 0x12, 0xCC, 0, 0, 0, 0xC4, 0, 0, 0, 0, 0,
        ]
    );
}

#[test]
fn send_unit_data_on_a_connection_never_opened_closes_only_that_connection() {
    let server = server();
    let (mut other, other_handle) = session(&server);
    let (mut s, handle) = session(&server);
    let mut data = vec![0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0, 1, 2, 3, 4];
    data.extend_from_slice(&[0xB1, 0, 10, 0, 1, 0]);
    data.extend_from_slice(b"\x4C\x02\x91\x01D\x00\x01\x00");
    s.write_all(&packet(0x70, handle, &data)).unwrap();
    assert!(is_closed(&mut s));
    assert_works(&mut other, other_handle);
}

#[test]
fn unregister_session_closes_the_connection_cleanly() {
    let server = server();
    let (mut s, handle) = session(&server);
    s.write_all(&packet(0x66, handle, &[])).unwrap();
    assert!(is_closed(&mut s));
    drop(s);
    let stats = server.stop();
    assert_eq!((stats.accepted, stats.dropped, stats.open), (1, 0, 0));
}

#[test]
fn an_idle_connection_is_closed_after_the_timeout() {
    let config = ServerConfig {
        idle_timeout_ms: Some(100),
        ..ServerConfig::default()
    };
    let server = TestServer::start(TAGS, config);
    let (mut s, _) = session(&server);
    assert!(is_closed(&mut s));
    drop(s);
    let stats = server.stop();
    assert_eq!(stats.dropped, 1);
}
