//! Published encodings, parsed field by field and emitted back byte for byte.
//!
//! The requests are what pycomm3 1.2.16's request builders write (Logix tag services over a
//! connected session, the Connection Manager services over SendRRData); the replies follow
//! the layouts of the EtherNet/IP specification and were checked against pycomm3's own reply
//! parsers. Session handle 0x11223344, sender context `_pycomm_` throughout.

use ptk_enip::{
    class, service, Command, CommonPacket, ConnectionTriad, ConnectionType, DataType, Elements,
    EncapStatus, Epath, ForwardClose, ForwardOpen, Header, Item, Link, LogicalSegment,
    MessageRequest, MessageResponse, MultipleServices, NetworkParameters, Packet, PortSegment,
    ReadModifyWrite, ReadTag, ReadTagFragmented, RegisterSession, Request, RoutePath, Segment,
    SendData, TagData, TagName, TagType, UnconnectedSend, Value, WriteTag, WriteTagFragmented,
};

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

const CONTEXT: [u8; 8] = *b"_pycomm_";

/// Frames `bytes` as one whole packet and checks the header fields every example shares.
fn packet(bytes: &[u8], command: Command, session: u32) -> Packet<&[u8]> {
    let packet = Packet::new_checked(bytes).unwrap();
    assert_eq!(packet.packet_len(), bytes.len());
    let header = Header::parse(&packet);
    assert_eq!(header.command, command);
    assert_eq!(header.session_handle, session);
    assert_eq!(header.status, EncapStatus::SUCCESS);
    assert_eq!(header.sender_context, CONTEXT);
    assert_eq!(header.options, 0);
    packet
}

/// Emits `header` around `data` and checks that this gives back `bytes`.
fn emits_back(header: Header, data: &[u8], bytes: &[u8]) {
    let mut out = vec![0u8; bytes.len()];
    let n = header
        .emit_packet(&mut out, data.len(), |d| {
            d.copy_from_slice(data);
            Ok(data.len())
        })
        .unwrap();
    assert_eq!(&out[..n], bytes);
}

/// The CIP message of a connected packet, checked against pycomm3's addressing.
fn connected_message(bytes: &[u8], sequence: u16) -> &[u8] {
    let packet = packet(bytes, Command::SEND_UNIT_DATA, 0x1122_3344);
    let send = SendData::parse(packet.data()).unwrap();
    assert_eq!(send.interface_handle, 0);
    assert_eq!(send.timeout, 10);
    let mut data = vec![0u8; send.buffer_len()];
    assert_eq!(send.emit(&mut data), Ok(data.len()));
    assert_eq!(data, packet.data());
    let message = send.connected().unwrap();
    assert_eq!(message.connection_id, 0x1122_3344);
    assert_eq!(message.sequence, sequence);
    emits_back(Header::parse(&packet), &data, bytes);
    // The message sits at the end of the packet.
    &bytes[bytes.len() - message.message.len()..]
}

/// The CIP message of an unconnected packet.
fn unconnected_message(bytes: &[u8]) -> &[u8] {
    let packet = packet(bytes, Command::SEND_RR_DATA, 0x1122_3344);
    let send = SendData::parse(packet.data()).unwrap();
    assert_eq!(send.timeout, 10);
    let message = send.unconnected().unwrap();
    // SendData::emit_unconnected writes the same bytes, timeout included.
    let mut data = vec![0u8; SendData::unconnected_len(message.len())];
    SendData::emit_unconnected(10, message.len(), &mut data, |m| {
        m.copy_from_slice(message);
        Ok(message.len())
    })
    .unwrap();
    assert_eq!(data, packet.data());
    &bytes[bytes.len() - message.len()..]
}

/// Emits a request for `tag` and checks it against `message`.
fn request_for_tag(tag: &str, request: Request<'_>, message: &[u8]) {
    let mut path = [0u8; 64];
    let n = TagName::parse(tag).unwrap().emit(&mut path).unwrap();
    let path = Epath::new_checked(&path[..n]).unwrap();
    let mut out = [0u8; 128];
    let n = request.emit(&path, &mut out).unwrap();
    assert_eq!(&out[..n], message, "{tag}");
}

#[test]
fn register_session_request() {
    let bytes = hex("6500040000000000000000005f7079636f6d6d5f0000000001000000");
    let packet = packet(&bytes, Command::REGISTER_SESSION, 0);
    assert_eq!(
        RegisterSession::parse(packet.data()),
        Ok(RegisterSession::V1)
    );
    assert_eq!(RegisterSession::V1.check(), Ok(()));
    let mut header = Header::request(Command::REGISTER_SESSION, 0);
    header.sender_context = CONTEXT;
    emits_back(header, &[1, 0, 0, 0], &bytes);
}

#[test]
fn unregister_session_and_list_identity_requests_have_no_data() {
    let bytes = hex("6600000044332211000000005f7079636f6d6d5f00000000");
    assert!(packet(&bytes, Command::UNREGISTER_SESSION, 0x1122_3344)
        .data()
        .is_empty());
    let bytes = hex("6300000000000000000000005f7079636f6d6d5f00000000");
    assert!(packet(&bytes, Command::LIST_IDENTITY, 0).data().is_empty());
}

#[test]
fn read_tag_of_a_program_tag_element() {
    let bytes = hex(
        "7000320044332211000000005f7079636f6d6d5f00000000000000000a000200a100040044332211\
         b1001e0007004c0c910c50726f6772616d3a4d61696e9106436f756e747328030100",
    );
    let message = connected_message(&bytes, 7);
    let request = MessageRequest::parse(message).unwrap();
    assert_eq!(request.service, service::READ_TAG);
    assert!(request.path.segments().eq([
        Segment::Symbolic(b"Program:Main"),
        Segment::Symbolic(b"Counts"),
        Segment::Logical(LogicalSegment::member(3)),
    ]));
    assert_eq!(
        Request::parse(&request),
        Ok(Request::ReadTag(ReadTag { elements: 1 }))
    );
    request_for_tag(
        "Program:Main.Counts[3]",
        Request::ReadTag(ReadTag { elements: 1 }),
        message,
    );
}

#[test]
fn write_tag_of_a_two_dimensional_member() {
    let bytes = hex(
        "7000340044332211000000005f7079636f6d6d5f00000000000000000a000200a100040044332211\
         b100200008004d0a91054d795564740091054669656c640028012802c40001002a000000",
    );
    let message = connected_message(&bytes, 8);
    let request = MessageRequest::parse(message).unwrap();
    let Ok(Request::WriteTag(write)) = Request::parse(&request) else {
        panic!("not a write");
    };
    assert_eq!(write.tag_type, TagType::Atomic(DataType::Dint));
    assert_eq!(write.elements, 1);
    assert!(write.values().unwrap().iter().eq([Value::Dint(42)]));
    request_for_tag("MyUdt.Field[1,2]", Request::WriteTag(write), message);
}

#[test]
fn read_tag_fragmented_from_an_offset() {
    let bytes = hex(
        "7000260044332211000000005f7079636f6d6d5f00000000000000000a000200a100040044332211\
         b10012000900520491034269670028006400f4010000",
    );
    let message = connected_message(&bytes, 9);
    let request = MessageRequest::parse(message).unwrap();
    let expected = ReadTagFragmented {
        elements: 100,
        offset: 0x1F4,
    };
    assert_eq!(
        Request::parse(&request),
        Ok(Request::ReadTagFragmented(expected))
    );
    request_for_tag("Big[0]", Request::ReadTagFragmented(expected), message);
}

#[test]
fn write_tag_fragmented_of_reals() {
    let message = hex("530591055265616c73002802ca000300040000000000c03f000000c0");
    let request = MessageRequest::parse(&message).unwrap();
    let Ok(Request::WriteTagFragmented(write)) = Request::parse(&request) else {
        panic!("not a fragmented write");
    };
    assert_eq!(
        write,
        WriteTagFragmented {
            tag_type: TagType::Atomic(DataType::Real),
            elements: 3,
            offset: 4,
            data: &[0, 0, 0xC0, 0x3F, 0, 0, 0, 0xC0],
        }
    );
    let values = Elements::new(DataType::Real, write.data).unwrap();
    assert!(values.iter().eq([Value::Real(1.5), Value::Real(-2.0)]));
    request_for_tag("Reals[2]", Request::WriteTagFragmented(write), &message);
}

#[test]
fn read_modify_write_of_two_bits() {
    // Set bit 5, clear bit 3 of a DINT; pycomm3 sends the AND mask as 8 bytes.
    let bytes = hex(
        "70002e0044332211000000005f7079636f6d6d5f00000000000000000a000200a100040044332211\
         b1001a000b004e049105466c61677300040020000000f7ffffffffffffff",
    );
    let message = connected_message(&bytes, 11);
    let request = MessageRequest::parse(message).unwrap();
    let Ok(Request::ReadModifyWrite(rmw)) = Request::parse(&request) else {
        panic!("not a read-modify-write");
    };
    assert_eq!(rmw.or_mask, &[0x20, 0, 0, 0]);
    assert_eq!(rmw.and_mask, &[0xF7, 0xFF, 0xFF, 0xFF]);
    assert_eq!(rmw.apply(0x0000_000F), 0x0000_0027);
    // The codec writes the AND mask at the mask size.
    let mut out = [0u8; 16];
    let n = rmw.emit(&mut out).unwrap();
    assert_eq!(&out[..n], &request.data[..10]);
    assert_eq!(
        ReadModifyWrite::parse(&out[..n]).unwrap(),
        ReadModifyWrite::parse(request.data).unwrap()
    );
}

#[test]
fn multiple_service_packet_of_two_reads() {
    let bytes = hex(
        "7000320044332211000000005f7079636f6d6d5f00000000000000000a000200a100040044332211\
         b1001e000c000a0220022401020006000e004c029101410001004c02910242620a00",
    );
    let message = connected_message(&bytes, 12);
    let request = MessageRequest::parse(message).unwrap();
    assert!(request.path.is_object(class::MESSAGE_ROUTER));
    let Ok(Request::MultipleServicePacket(packet)) = Request::parse(&request) else {
        panic!("not a multiple service packet");
    };
    let reads: Vec<(Vec<u8>, Request<'_>)> = packet
        .iter()
        .map(|m| {
            let r = MessageRequest::parse(m).unwrap();
            (r.path.as_bytes().to_vec(), Request::parse(&r).unwrap())
        })
        .collect();
    assert_eq!(
        reads,
        [
            (
                b"\x91\x01A\x00".to_vec(),
                Request::ReadTag(ReadTag { elements: 1 })
            ),
            (
                b"\x91\x02Bb".to_vec(),
                Request::ReadTag(ReadTag { elements: 10 })
            ),
        ]
    );
    let mut out = [0u8; 32];
    let mut builder = ptk_enip::MultipleServicesBuilder::new(&mut out, 2).unwrap();
    for m in packet.iter() {
        builder.push(m).unwrap();
    }
    let n = builder.finish().unwrap();
    assert_eq!(&out[..n], request.data);
    assert_eq!(MultipleServices::new_checked(&out[..n]), Ok(packet));
}

fn pycomm3_triad() -> ConnectionTriad {
    ConnectionTriad {
        connection_serial: 0x0427,
        vendor_id: 0x1009,
        originator_serial: 0x7119_1009,
    }
}

#[test]
fn forward_open_and_large_forward_open() {
    for (hex_text, large, size) in [
        (
            "6f00400044332211000000005f7079636f6d6d5f00000000000000000a00020000000000b2003000\
             5402200624010a05000000000100002027040910091019710700000001402000a04301402000a043\
             a303010020022401",
            false,
            0x1A0,
        ),
        (
            "6f00440044332211000000005f7079636f6d6d5f00000000000000000a00020000000000b2003400\
             5b02200624010a05000000000100002027040910091019710700000001402000a00f004201402000\
             a00f0042a303010020022401",
            true,
            4000,
        ),
    ] {
        let bytes = hex(hex_text);
        let message = unconnected_message(&bytes);
        let request = MessageRequest::parse(message).unwrap();
        assert!(request.path.is_object(class::CONNECTION_MANAGER));
        let Ok(Request::ForwardOpen(open)) = Request::parse(&request) else {
            panic!("not a forward open");
        };
        let parameters = NetworkParameters {
            redundant_owner: false,
            connection_type: ConnectionType::PointToPoint,
            priority: 0,
            variable: true,
            connection_size: size,
        };
        let route = [0x01, 0x00, 0x20, 0x02, 0x24, 0x01];
        assert_eq!(
            open,
            ForwardOpen {
                large,
                priority_tick: 0x0A,
                timeout_ticks: 0x05,
                o_t_connection_id: 0,
                t_o_connection_id: 0x2000_0001,
                triad: pycomm3_triad(),
                timeout_multiplier: 7,
                o_t_rpi: 0x0020_4001,
                o_t_parameters: parameters,
                t_o_rpi: 0x0020_4001,
                t_o_parameters: parameters,
                transport: 0xA3,
                connection_path: Epath::new_checked(&route).unwrap(),
            }
        );
        let mut out = [0u8; 64];
        let n = Request::ForwardOpen(open)
            .emit(&request.path, &mut out)
            .unwrap();
        assert_eq!(&out[..n], message);
    }
}

#[test]
fn forward_close() {
    let bytes = hex(
        "6f00280044332211000000005f7079636f6d6d5f00000000000000000a00020000000000b2001800\
         4e02200624010a0527040910091019710300010020022401",
    );
    let message = unconnected_message(&bytes);
    let request = MessageRequest::parse(message).unwrap();
    let Ok(Request::ForwardClose(close)) = Request::parse(&request) else {
        panic!("not a forward close");
    };
    assert_eq!(close.triad, pycomm3_triad());
    // The connection path: the route `1,0` to the Message Router.
    let mut path = [0u8; 16];
    let mut builder = ptk_enip::PathBuilder::new(&mut path);
    RoutePath::parse("1,0")
        .unwrap()
        .push_to(&mut builder)
        .unwrap();
    builder
        .push(&Segment::Logical(LogicalSegment::class(
            class::MESSAGE_ROUTER,
        )))
        .unwrap()
        .push(&Segment::Logical(LogicalSegment::instance(1)))
        .unwrap();
    let path = builder.finish();
    let rebuilt = ForwardClose {
        priority_tick: 0x0A,
        timeout_ticks: 0x05,
        triad: pycomm3_triad(),
        connection_path: path,
    };
    assert_eq!(close, rebuilt);
    let mut out = [0u8; 32];
    let n = Request::ForwardClose(rebuilt)
        .emit(&request.path, &mut out)
        .unwrap();
    assert_eq!(&out[..n], message);
}

#[test]
fn unconnected_send_of_get_attribute_all() {
    let bytes = hex(
        "6f00240044332211000000005f7079636f6d6d5f00000000000000000a00020000000000b2001400\
         5202200624010a05060001022001240101000100",
    );
    let message = unconnected_message(&bytes);
    let request = MessageRequest::parse(message).unwrap();
    let Ok(Request::UnconnectedSend(send)) = Request::parse(&request) else {
        panic!("not an unconnected send");
    };
    assert_eq!(send.timeout_ms(), 1024 * 5);
    assert!(send.route_path.segments().eq([Segment::Port(PortSegment {
        port: 1,
        link: Link::Address(0)
    })]));
    let embedded = MessageRequest::parse(send.message).unwrap();
    assert_eq!(embedded.service, service::GET_ATTRIBUTE_ALL);
    assert!(embedded.path.is_object(class::IDENTITY));
    assert_eq!(Request::parse(&embedded), Ok(Request::GetAttributeAll));
    let mut out = [0u8; 32];
    let n = UnconnectedSend {
        route_path: Epath::new_checked(&[0x01, 0x00]).unwrap(),
        ..send
    }
    .emit(&mut out)
    .unwrap();
    assert_eq!(&out[..n], request.data);
}

#[test]
fn get_instance_attribute_list_as_pylogix_asks() {
    // pylogix's tag list request: symbol class, instance 0, attributes name, type, dimensions.
    let message = [
        0x55, 0x02, 0x20, 0x6B, 0x24, 0x00, 0x03, 0x00, 0x01, 0x00, 0x02, 0x00, 0x08, 0x00,
    ];
    let request = MessageRequest::parse(&message).unwrap();
    assert_eq!(request.path.class_id(), Some(class::SYMBOL));
    assert_eq!(request.path.instance_id(), Some(0));
    let Ok(Request::GetInstanceAttributeList(list)) = Request::parse(&request) else {
        panic!("not a get instance attribute list");
    };
    assert!(list.iter().eq([1, 2, 8]));
}

#[test]
fn list_identity_reply() {
    let bytes = hex(
        "6300330000000000000000005f7079636f6d6d5f0000000001000c002d0001000002af12c0a8010a\
         000000000000000001000c00a600051c3000cdab12000b313735362d454e32542f4403",
    );
    let packet = packet(&bytes, Command::LIST_IDENTITY, 0);
    let cpf = CommonPacket::new_checked(packet.data()).unwrap();
    assert_eq!(cpf.len(), 1);
    let Ok(Item::ListIdentity(item)) = cpf.items().next().unwrap().parse() else {
        panic!("not an identity");
    };
    assert_eq!(item.encapsulation_version, 1);
    assert_eq!(
        item.socket,
        ptk_enip::SocketAddress::ipv4([192, 168, 1, 10], 44818)
    );
    let id = item.identity;
    assert_eq!(
        (id.vendor_id, id.device_type, id.product_code),
        (1, 0x0C, 0xA6)
    );
    assert_eq!((id.revision.major, id.revision.minor), (5, 28));
    assert_eq!(id.status, 0x0030);
    assert_eq!(id.serial_number, 0x0012_ABCD);
    assert_eq!(id.product_name, b"1756-EN2T/D");
    assert_eq!(id.state, Some(3));
    let mut out = [0u8; 64];
    let n = CommonPacket::emit(&[Item::ListIdentity(item)], &mut out).unwrap();
    assert_eq!(&out[..n], packet.data());
}

#[test]
fn read_tag_reply_over_send_rr_data() {
    let bytes = hex(
        "6f001a0044332211000000005f7079636f6d6d5f00000000000000000000020000000000b2000a00\
         cc000000c400fbffffff",
    );
    let packet = packet(&bytes, Command::SEND_RR_DATA, 0x1122_3344);
    let message = SendData::parse(packet.data())
        .unwrap()
        .unconnected()
        .unwrap();
    let reply = MessageResponse::parse(message).unwrap();
    assert_eq!(reply.service, service::READ_TAG);
    assert!(reply.status.is_success());
    assert!(reply.extended_status.is_empty());
    let data = TagData::parse(reply.data).unwrap();
    assert!(data.values().unwrap().iter().eq([Value::Dint(-5)]));
    let mut out = [0u8; 16];
    let n = reply.emit(&mut out).unwrap();
    assert_eq!(&out[..n], message);
    let header = Header::parse(&packet).reply(EncapStatus::SUCCESS);
    let mut wire = [0u8; 64];
    let n = header
        .emit_packet(&mut wire, SendData::unconnected_len(message.len()), |d| {
            SendData::emit_unconnected(0, message.len(), d, |m| {
                m.copy_from_slice(message);
                Ok(message.len())
            })
        })
        .unwrap();
    assert_eq!(&wire[..n], &bytes[..]);
}

#[test]
fn write_tag_of_a_logix_string() {
    // Write Tag of a STRING: the structure marker, handle 0x0FCE, one element of 88 bytes.
    let mut value = [0u8; 88];
    ptk_enip::LogixString::encode(b"ptk", &mut value).unwrap();
    let write = WriteTag {
        tag_type: TagType::LOGIX_STRING,
        elements: 1,
        data: &value,
    };
    let mut out = [0u8; 128];
    let path = Epath::new_checked(b"\x91\x04Name").unwrap();
    let n = Request::WriteTag(write).emit(&path, &mut out).unwrap();
    assert_eq!(
        &out[..18],
        b"\x4D\x03\x91\x04Name\xA0\x02\xCE\x0F\x01\x00\x03\x00\x00\x00ptk"
            .get(..18)
            .unwrap()
    );
    assert_eq!(n, 8 + 4 + 2 + 88);
    let parsed = MessageRequest::parse(&out[..n]).unwrap();
    let Ok(Request::WriteTag(back)) = Request::parse(&parsed) else {
        panic!("not a write");
    };
    assert_eq!(
        ptk_enip::LogixString::parse(back.data).unwrap().as_bytes(),
        b"ptk"
    );
}
