//! Discovery by ListIdentity over UDP: a unicast request to a device answering on loopback,
//! and a broadcast to the loopback network, each reply decoded exactly; a datagram that is
//! not a ListIdentity reply is skipped.

mod client_fake;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use client_fake::{run_script, Done, Step};
use ptk_enip::client::{ClientConfig, Device};
use ptk_enip::{Command, Header, Identity, IdentityItem, Revision, SocketAddress};

/// A device on `bind` that answers every ListIdentity with a junk datagram first, then its
/// identity; returns its address and the requests it saw.
fn device(bind: &str) -> (SocketAddr, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let socket = UdpSocket::bind(bind).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 600];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        let request = buf[..n].to_vec();
        let item = IdentityItem {
            encapsulation_version: 1,
            socket: SocketAddress::ipv4([127, 0, 0, 1], addr.port()),
            identity: Identity {
                vendor_id: 1,
                device_type: 0x0E,
                product_code: 0x36,
                revision: Revision {
                    major: 20,
                    minor: 11,
                },
                status: 0x0030,
                serial_number: 0x00C0_FFEE,
                product_name: b"1756-L61/B LOGIX5561",
                state: Some(3),
            },
        };
        let mut body = vec![1, 0, 0x0C, 0];
        let mut data = [0u8; 64];
        let len = item.emit(&mut data).unwrap();
        body.extend_from_slice(&(len as u16).to_le_bytes());
        body.extend_from_slice(&data[..len]);
        let packet = Packet::reply_to(&request, &body);
        socket.send_to(b"not a reply", from).unwrap();
        socket.send_to(&packet, from).unwrap();
        vec![request]
    });
    (addr, thread)
}

struct Packet;

impl Packet {
    fn reply_to(request: &[u8], body: &[u8]) -> Vec<u8> {
        let header = ptk_enip::Packet::new_checked(request).unwrap();
        let mut out = vec![0u8; 24];
        Header::parse(&header)
            .reply(ptk_enip::EncapStatus::SUCCESS)
            .emit(&mut out, body.len())
            .unwrap();
        out.extend_from_slice(body);
        out
    }
}

fn expected(from: SocketAddr) -> String {
    format!("{from} vendor 1 product \"1756-L61/B LOGIX5561\" revision 20.11 serial 0x00c0ffee")
}

#[test]
fn a_unicast_list_identity_finds_the_device_and_skips_other_datagrams() {
    let (addr, device) = device("127.0.0.1:0");
    let script = run_script(
        addr,
        ClientConfig::default(),
        vec![Step::Discover(addr, 500)],
    );
    let requests = device.join().unwrap();
    // ListIdentity, no data, session 0, our sender context.
    assert_eq!(requests[0][..4], [0x63, 0x00, 0x00, 0x00]);
    assert_eq!(&requests[0][12..20], b"ptkfind\0");
    assert_eq!(requests[0].len(), 24);
    let [Done::Devices(devices)] = &script.done[..] else {
        panic!("{:?}", script.done)
    };
    let lines: Vec<String> = devices.iter().map(Device::to_string).collect();
    assert_eq!(lines, [expected(addr)]);
    assert_eq!(devices[0].state, Some(3));
    assert_eq!(devices[0].advertised.port(), addr.port());
    assert_eq!(Command::LIST_IDENTITY.as_u16(), 0x63);
}

#[test]
fn a_broadcast_list_identity_collects_the_replies_of_its_window() {
    let (addr, device) = device("0.0.0.0:0");
    let target = SocketAddr::from(([127, 255, 255, 255], addr.port()));
    let script = run_script(
        target,
        ClientConfig::default(),
        vec![Step::Discover(target, 500)],
    );
    device.join().unwrap();
    let [Done::Devices(devices)] = &script.done[..] else {
        panic!("{:?}", script.done)
    };
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].from.port(), addr.port());
    assert_eq!(devices[0].product_name(), b"1756-L61/B LOGIX5561");
}
