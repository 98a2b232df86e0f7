//! A server's view of the encapsulation layer: arbitrary bytes from a TCP stream, split into
//! packets and parsed by command. Whatever parses must emit back to the very same bytes (or,
//! for socket addresses whose 8 trailing bytes are ignored, to bytes that parse the same).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptk_enip::{Command, CommonPacket, Header, Item, Packet, RegisterSession, SendData};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(packet) = Packet::new_checked(rest) {
        let len = packet.packet_len();
        assert!(len <= rest.len());
        let header = Header::parse(&packet);
        let body = packet.data();
        let mut out = vec![0u8; len];
        let n = header
            .emit_packet(&mut out, body.len(), |d| {
                d.copy_from_slice(body);
                Ok(body.len())
            })
            .expect("a parsed header emits");
        assert_eq!(&out[..n], &rest[..len], "header emit differs");
        match header.command {
            Command::REGISTER_SESSION => {
                if let Ok(session) = RegisterSession::parse(body) {
                    let mut b = [0u8; 4];
                    session.emit(&mut b).expect("a parsed session emits");
                    assert_eq!(&b[..], body);
                }
            }
            Command::SEND_RR_DATA | Command::SEND_UNIT_DATA => {
                if let Ok(send) = SendData::parse(body) {
                    let mut b = vec![0u8; send.buffer_len()];
                    send.emit(&mut b).expect("parsed send data emits");
                    assert_eq!(&b[..], body);
                    check_items(send.packet);
                    if let Ok(message) = send.unconnected() {
                        let mut again = vec![0u8; SendData::unconnected_len(message.len())];
                        SendData::emit_unconnected(send.timeout, message.len(), &mut again, |m| {
                            m.copy_from_slice(message);
                            Ok(message.len())
                        })
                        .expect("an unconnected message emits");
                        assert_eq!(SendData::parse(&again).unwrap().unconnected(), Ok(message));
                    }
                    if let Ok(c) = send.connected() {
                        let mut again = vec![0u8; SendData::connected_len(c.message.len())];
                        SendData::emit_connected(
                            c.connection_id,
                            c.sequence,
                            c.message.len(),
                            &mut again,
                            |m| {
                                m.copy_from_slice(c.message);
                                Ok(c.message.len())
                            },
                        )
                        .expect("a connected message emits");
                        assert_eq!(SendData::parse(&again).unwrap().connected(), Ok(c));
                    }
                }
            }
            _ => {
                if let Ok(cpf) = CommonPacket::new_checked(body) {
                    check_items(cpf);
                }
            }
        }
        rest = &rest[len..];
    }
});

fn check_items(cpf: CommonPacket<'_>) {
    let items: Vec<Item<'_>> = cpf.items().filter_map(|raw| raw.parse().ok()).collect();
    let mut out = vec![0u8; CommonPacket::buffer_len(&items)];
    let n = CommonPacket::emit(&items, &mut out).expect("parsed items emit");
    let again = CommonPacket::new_checked(&out[..n]).expect("emitted items check");
    let reparsed: Vec<Item<'_>> = again
        .items()
        .map(|raw| raw.parse().expect("reparses"))
        .collect();
    assert_eq!(reparsed, items);
}
