//! Properties over generated messages: every valid representation survives emit then parse
//! (and emits to the same bytes again), and no input bytes make a parser panic.

use proptest::prelude::*;
use ptk_enip::{
    AttributeList, Command, CommonPacket, ConnectionFailure, ConnectionTriad, ConnectionType,
    DataType, ElectronicKey, Elements, EncapStatus, Epath, ExtendedStatus, ForwardClose,
    ForwardCloseReply, ForwardOpen, ForwardOpenReply, GeneralStatus, Header, Identity,
    IdentityItem, Item, ItemType, Link, LogicalFormat, LogicalSegment, LogicalType, LogixString,
    MessageRequest, MessageResponse, MultipleServices, MultipleServicesBuilder, NetworkParameters,
    Packet, PortSegment, ReadModifyWrite, ReadTag, ReadTagFragmented, RegisterSession, Request,
    Revision, RoutePath, Segment, SendData, ServiceEntry, SocketAddress, SymbolInstance,
    SymbolInstances, TagData, TagName, TagSegment, TagType, UnconnectedSend, Value, WriteTag,
    WriteTagFragmented,
};

/// The owned material a segment borrows from.
#[derive(Clone, Debug)]
enum SegmentSpec {
    Port(u16, Option<Vec<u8>>, u8),
    Logical(u8, u32, u8),
    Key(ElectronicKey),
    Symbol(Vec<u8>),
    Data(Vec<u8>),
}

impl SegmentSpec {
    fn segment(&self) -> Segment<'_> {
        match self {
            SegmentSpec::Port(port, extended, address) => Segment::Port(PortSegment {
                port: *port,
                link: match extended {
                    Some(link) => Link::Extended(link),
                    None => Link::Address(*address),
                },
            }),
            SegmentSpec::Logical(kind, value, widen) => {
                let kind = [
                    LogicalType::Class,
                    LogicalType::Instance,
                    LogicalType::Member,
                    LogicalType::ConnectionPoint,
                    LogicalType::Attribute,
                ][usize::from(*kind)];
                let wide = matches!(kind, LogicalType::Class | LogicalType::Attribute);
                let value = if wide { *value & 0xFFFF } else { *value };
                let mut segment = LogicalSegment::new(kind, value);
                // Sometimes a wider format than needed, which must be kept.
                if *widen == 1 && segment.format == LogicalFormat::U8 {
                    segment.format = LogicalFormat::U16;
                }
                if *widen == 2 && !wide {
                    segment.format = LogicalFormat::U32;
                }
                Segment::Logical(segment)
            }
            SegmentSpec::Key(key) => Segment::ElectronicKey(*key),
            SegmentSpec::Symbol(symbol) => Segment::Symbolic(symbol),
            SegmentSpec::Data(data) => Segment::Data(data),
        }
    }
}

fn segment_spec() -> impl Strategy<Value = SegmentSpec> {
    prop_oneof![
        (
            1..=u16::MAX,
            prop::option::of(prop::collection::vec(any::<u8>(), 1..20)),
            any::<u8>()
        )
            .prop_map(|(p, e, a)| SegmentSpec::Port(p, e, a)),
        (0u8..5, any::<u32>(), 0u8..3).prop_map(|(k, v, w)| SegmentSpec::Logical(k, v, w)),
        (
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            0u8..128,
            any::<bool>(),
            any::<u8>()
        )
            .prop_map(
                |(v, d, p, major, c, minor)| SegmentSpec::Key(ElectronicKey {
                    vendor_id: v,
                    device_type: d,
                    product_code: p,
                    major_revision: major,
                    compatibility: c,
                    minor_revision: minor,
                })
            ),
        prop::collection::vec(any::<u8>(), 1..40).prop_map(SegmentSpec::Symbol),
        prop::collection::vec(any::<u8>(), 0..10)
            .prop_map(|mut d| {
                d.truncate(d.len() / 2 * 2);
                d
            })
            .prop_map(SegmentSpec::Data),
    ]
}

fn path_specs() -> impl Strategy<Value = Vec<SegmentSpec>> {
    prop::collection::vec(segment_spec(), 0..8)
}

/// Emits the segments as a path into `buf`.
fn path<'b>(specs: &[SegmentSpec], buf: &'b mut [u8]) -> Epath<'b> {
    let segments: Vec<Segment<'_>> = specs.iter().map(SegmentSpec::segment).collect();
    let n = Epath::emit(&segments, buf).unwrap();
    Epath::new_checked(&buf[..n]).unwrap()
}

fn parameters() -> impl Strategy<Value = NetworkParameters> {
    (any::<bool>(), 0u8..3, 0u8..4, any::<bool>(), any::<u16>()).prop_map(
        |(owner, kind, priority, variable, size)| NetworkParameters {
            redundant_owner: owner,
            connection_type: [
                ConnectionType::Null,
                ConnectionType::Multicast,
                ConnectionType::PointToPoint,
            ][usize::from(kind)],
            priority,
            variable,
            connection_size: size,
        },
    )
}

fn triad() -> impl Strategy<Value = ConnectionTriad> {
    (any::<u16>(), any::<u16>(), any::<u32>()).prop_map(|(s, v, o)| ConnectionTriad {
        connection_serial: s,
        vendor_id: v,
        originator_serial: o,
    })
}

fn data_type() -> impl Strategy<Value = DataType> {
    (0..DataType::ALL.len()).prop_map(|i| DataType::ALL[i])
}

fn tag_type() -> impl Strategy<Value = TagType> {
    prop_oneof![
        data_type().prop_map(TagType::Atomic),
        any::<u16>().prop_map(TagType::Structure),
        (0u16..0xC1).prop_map(TagType::Other),
    ]
}

/// Emits `f`'s output into a fresh buffer of `len` bytes and returns it.
fn emitted(len: usize, f: impl FnOnce(&mut [u8]) -> ptk_enip::Result<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = f(&mut buf).unwrap();
    assert_eq!(n, len, "buffer_len and emit disagree");
    buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn packets_round_trip(
        command in any::<u16>(), session in any::<u32>(), status in any::<u32>(),
        context in any::<[u8; 8]>(), options in any::<u32>(),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let header = Header { command: Command(command), session_handle: session,
            status: EncapStatus(status), sender_context: context, options };
        let bytes = emitted(24 + data.len(), |b| header.emit_packet(b, data.len(), |d| {
            d.copy_from_slice(&data);
            Ok(data.len())
        }));
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(Header::parse(&packet), header);
        prop_assert_eq!(packet.data(), &data[..]);
        for cut in 0..bytes.len() {
            let needed = if cut < 24 { 24 } else { bytes.len() };
            prop_assert_eq!(Packet::new_checked(&bytes[..cut]), Err(ptk_enip::Error::Incomplete { needed }));
        }
    }

    #[test]
    fn paths_round_trip(specs in path_specs()) {
        let mut buf = [0u8; 600];
        let segments: Vec<Segment<'_>> = specs.iter().map(SegmentSpec::segment).collect();
        let len = Epath::buffer_len(&segments);
        prop_assume!(len <= 510);
        let path = path(&specs, &mut buf);
        prop_assert_eq!(path.len(), len);
        prop_assert_eq!(path.len() % 2, 0);
        prop_assert!(path.segments().eq(segments.iter().copied()));
    }

    #[test]
    fn message_requests_and_responses_round_trip(
        service in 0u8..0x80, specs in path_specs(), data in prop::collection::vec(any::<u8>(), 0..32),
        status in any::<u8>(), words in prop::collection::vec(any::<u16>(), 0..4),
    ) {
        let mut buf = [0u8; 600];
        let segments: Vec<Segment<'_>> = specs.iter().map(SegmentSpec::segment).collect();
        prop_assume!(Epath::buffer_len(&segments) <= 510);
        let path = path(&specs, &mut buf);
        let request = MessageRequest { service, path, data: &data };
        let bytes = emitted(request.buffer_len(), |b| request.emit(b));
        prop_assert_eq!(MessageRequest::parse(&bytes), Ok(request));

        let mut storage = [0u8; 8];
        let extended_status = ExtendedStatus::encode(&words, &mut storage).unwrap();
        let reply = MessageResponse { service, status: GeneralStatus(status), extended_status, data: &data };
        let bytes = emitted(reply.buffer_len(), |b| reply.emit(b));
        prop_assert_eq!(MessageResponse::parse(&bytes), Ok(reply));
    }

    #[test]
    fn common_packets_round_trip(
        connection_id in any::<u32>(), sequence in any::<u16>(), long_sequence in any::<u32>(),
        data in prop::collection::vec(any::<u8>(), 0..32),
        address in any::<[u8; 4]>(), port in any::<u16>(), other in 0x0200u16..0x7FFF,
        flags in any::<u16>(), name in any::<[u8; 16]>(),
    ) {
        let items = [
            Item::NullAddress,
            Item::ConnectedAddress { connection_id },
            Item::SequencedAddress { connection_id, sequence: long_sequence },
            Item::UnconnectedData(&data),
            Item::ConnectedData { sequence, data: &data },
            Item::SockaddrOriginatorToTarget(SocketAddress::ipv4(address, port)),
            Item::SockaddrTargetToOriginator(SocketAddress::ipv4(address, port)),
            Item::ListServices(ServiceEntry { version: 1, capability_flags: flags, name }),
            Item::Other { type_id: ItemType(other), data: &data },
        ];
        let bytes = emitted(CommonPacket::buffer_len(&items), |b| CommonPacket::emit(&items, b));
        let cpf = CommonPacket::new_checked(&bytes).unwrap();
        prop_assert_eq!(cpf.len(), items.len());
        for (raw, item) in cpf.items().zip(items) {
            prop_assert_eq!(raw.parse(), Ok(item));
        }
    }

    #[test]
    fn send_data_round_trips(
        timeout in any::<u16>(), connection_id in any::<u32>(), sequence in any::<u16>(),
        message in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let copy = |m: &mut [u8]| { m.copy_from_slice(&message); Ok(message.len()) };
        let bytes = emitted(SendData::unconnected_len(message.len()),
            |b| SendData::emit_unconnected(timeout, message.len(), b, copy));
        let parsed = SendData::parse(&bytes).unwrap();
        prop_assert_eq!(parsed.timeout, timeout);
        prop_assert_eq!(parsed.unconnected(), Ok(&message[..]));
        let bytes = emitted(SendData::connected_len(message.len()),
            |b| SendData::emit_connected(connection_id, sequence, message.len(), b, copy));
        let connected = SendData::parse(&bytes).unwrap().connected().unwrap();
        prop_assert_eq!((connected.connection_id, connected.sequence, connected.message),
            (connection_id, sequence, &message[..]));
    }

    #[test]
    fn identities_round_trip(
        version in any::<u16>(), address in any::<[u8; 4]>(), port in any::<u16>(),
        vendor in any::<u16>(), device in any::<u16>(), product in any::<u16>(),
        major in any::<u8>(), minor in any::<u8>(), status in any::<u16>(), serial in any::<u32>(),
        name in prop::collection::vec(any::<u8>(), 0..40), state in prop::option::of(any::<u8>()),
    ) {
        let identity = Identity { vendor_id: vendor, device_type: device, product_code: product,
            revision: Revision { major, minor }, status, serial_number: serial,
            product_name: &name, state };
        let bytes = emitted(identity.attributes_all_len(), |b| identity.emit_attributes_all(b));
        prop_assert_eq!(Identity::parse_attributes_all(&bytes), Ok(identity));
        let item = IdentityItem { encapsulation_version: version,
            socket: SocketAddress::ipv4(address, port),
            identity: Identity { state: Some(state.unwrap_or(0xFF)), ..identity } };
        let bytes = emitted(item.buffer_len(), |b| item.emit(b));
        prop_assert_eq!(IdentityItem::parse(&bytes), Ok(item));
        let session = RegisterSession { protocol_version: version, options: status };
        let bytes = emitted(4, |b| session.emit(b));
        prop_assert_eq!(RegisterSession::parse(&bytes), Ok(session));
    }

    #[test]
    fn tag_services_round_trip(
        elements in 1u16..=u16::MAX, offset in any::<u32>(), tag_type in tag_type(),
        count in 1u16..8, raw in prop::collection::vec(any::<u8>(), 0..64), mask in 0usize..4,
    ) {
        let read = Request::ReadTag(ReadTag { elements });
        let fragmented = Request::ReadTagFragmented(ReadTagFragmented { elements, offset });
        // Data of exactly `count` elements for atomic types.
        let data: Vec<u8> = match tag_type.element_size() {
            Some(size) => raw.iter().copied().cycle().take(size * usize::from(count)).chain(
                core::iter::repeat(0)).take(size * usize::from(count)).collect(),
            None => raw.clone(),
        };
        let write = Request::WriteTag(WriteTag { tag_type, elements: count, data: &data });
        let fragment_len = data.len() / 2;
        let write_fragment = Request::WriteTagFragmented(WriteTagFragmented {
            tag_type, elements: count, offset: (data.len() - fragment_len) as u32,
            data: &data[..fragment_len] });
        let size = [1, 2, 4, 8][mask];
        let masks: Vec<u8> = raw.iter().copied().chain(core::iter::repeat(0xA5)).take(2 * size).collect();
        let rmw = Request::ReadModifyWrite(ReadModifyWrite { or_mask: &masks[..size], and_mask: &masks[size..] });
        let path = Epath::new_checked(b"\x91\x03Tag\x00").unwrap();
        for request in [read, fragmented, write, write_fragment, rmw] {
            let bytes = emitted(request.buffer_len(&path), |b| request.emit(&path, b));
            let parsed = MessageRequest::parse(&bytes).unwrap();
            prop_assert_eq!(parsed.path, path);
            prop_assert_eq!(Request::parse(&parsed), Ok(request));
        }
        let reply = TagData { tag_type, data: &data };
        let bytes = emitted(reply.buffer_len(), |b| reply.emit(b));
        prop_assert_eq!(TagData::parse(&bytes), Ok(reply));
    }

    #[test]
    fn multiple_service_packets_round_trip(
        messages in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..20), 1..10),
    ) {
        let len = MultipleServices::buffer_len(messages.iter().map(Vec::len));
        let bytes = emitted(len, |b| {
            let mut builder = MultipleServicesBuilder::new(b, messages.len() as u16)?;
            for m in &messages {
                builder.push(m)?;
            }
            builder.finish()
        });
        let packet = MultipleServices::new_checked(&bytes).unwrap();
        prop_assert!(packet.iter().eq(messages.iter().map(Vec::as_slice)));
    }

    #[test]
    fn symbol_instances_round_trip(
        ids in prop::sample::subsequence(vec![1u16, 2, 3, 5, 6, 7, 8, 10], 1..=8).prop_shuffle(),
        tags in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u8>(), 0..20),
            any::<u16>(), any::<u32>(), any::<u16>(), any::<[u32; 3]>(), any::<u8>()), 0..5),
    ) {
        let mut storage = [0u8; 32];
        let attributes = AttributeList::encode(&ids, &mut storage).unwrap();
        prop_assert_eq!(AttributeList::parse(attributes.as_bytes()), Ok(attributes));
        let instances: Vec<SymbolInstance<'_>> = tags.iter().map(|(id, name, t, a, s, d, x)| {
            let mut tag = SymbolInstance { instance_id: *id, ..Default::default() };
            for attribute in attributes.iter() {
                match attribute {
                    1 => tag.name = name,
                    2 => tag.symbol_type = *t,
                    3 => tag.address = *a,
                    5 => tag.object_address = *a ^ 1,
                    6 => tag.software_control = *a ^ 2,
                    7 => tag.element_size = *s,
                    8 => tag.dimensions = *d,
                    _ => tag.external_access = *x,
                }
            }
            tag
        }).collect();
        let mut bytes = Vec::new();
        for tag in &instances {
            bytes.extend(emitted(tag.buffer_len(&attributes), |b| tag.emit(&attributes, b)));
        }
        let parsed = SymbolInstances::new_checked(&bytes, attributes).unwrap();
        prop_assert!(parsed.iter().eq(instances.iter().copied()));
    }

    #[test]
    fn connection_manager_round_trips(
        large in any::<bool>(), tick in any::<u8>(), ticks in any::<u8>(), ids in any::<(u32, u32)>(),
        triad in triad(), multiplier in any::<u8>(), rpis in any::<(u32, u32)>(),
        o_t in parameters(), t_o in parameters(), transport in any::<u8>(),
        specs in path_specs(), message in prop::collection::vec(any::<u8>(), 0..40),
        reply_words in prop::collection::vec(any::<u16>(), 0..4), remaining in prop::option::of(any::<u8>()),
    ) {
        let mut buf = [0u8; 600];
        let segments: Vec<Segment<'_>> = specs.iter().map(SegmentSpec::segment).collect();
        prop_assume!(Epath::buffer_len(&segments) <= 510);
        let path = path(&specs, &mut buf);
        let (o_t, t_o) = if large {
            (o_t, t_o)
        } else {
            (NetworkParameters { connection_size: o_t.connection_size & 0x1FF, ..o_t },
             NetworkParameters { connection_size: t_o.connection_size & 0x1FF, ..t_o })
        };
        let open = ForwardOpen { large, priority_tick: tick, timeout_ticks: ticks,
            o_t_connection_id: ids.0, t_o_connection_id: ids.1, triad,
            timeout_multiplier: multiplier, o_t_rpi: rpis.0, o_t_parameters: o_t,
            t_o_rpi: rpis.1, t_o_parameters: t_o, transport, connection_path: path };
        let bytes = emitted(open.buffer_len(), |b| open.emit(b));
        prop_assert_eq!(ForwardOpen::parse(&bytes, large), Ok(open));

        let close = ForwardClose { priority_tick: tick, timeout_ticks: ticks, triad, connection_path: path };
        let bytes = emitted(close.buffer_len(), |b| close.emit(b));
        prop_assert_eq!(ForwardClose::parse(&bytes), Ok(close));

        let send = UnconnectedSend { priority_tick: tick, timeout_ticks: ticks, message: &message, route_path: path };
        let bytes = emitted(send.buffer_len(), |b| send.emit(b));
        prop_assert_eq!(UnconnectedSend::parse(&bytes), Ok(send));

        let application: Vec<u8> = reply_words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let reply = ForwardOpenReply { o_t_connection_id: ids.0, t_o_connection_id: ids.1, triad,
            o_t_api: rpis.0, t_o_api: rpis.1, application_reply: &application };
        let bytes = emitted(reply.buffer_len(), |b| reply.emit(b));
        prop_assert_eq!(ForwardOpenReply::parse(&bytes), Ok(reply));
        let reply = ForwardCloseReply { triad, application_reply: &application };
        let bytes = emitted(reply.buffer_len(), |b| reply.emit(b));
        prop_assert_eq!(ForwardCloseReply::parse(&bytes), Ok(reply));
        let failure = ConnectionFailure { triad, remaining_path_size: remaining };
        let bytes = emitted(failure.buffer_len(), |b| failure.emit(b));
        prop_assert_eq!(ConnectionFailure::parse(&bytes), Ok(failure));
    }

    #[test]
    fn values_round_trip(data_type in data_type(), raw in prop::collection::vec(any::<u8>(), 0..64),
        text in prop::collection::vec(any::<u8>(), 0..=82)) {
        let usable = raw.len() / data_type.size() * data_type.size();
        let elements = Elements::new(data_type, &raw[..usable]).unwrap();
        let values: Vec<Value> = elements.iter().collect();
        prop_assert_eq!(values.len(), elements.len());
        let mut storage = vec![0u8; usable];
        let encoded = Elements::encode(data_type, &values, &mut storage).unwrap();
        // Every byte pattern survives except BOOLs (any non-zero is true) and NaNs.
        let again: Vec<Value> = encoded.iter().collect();
        for (a, b) in values.iter().zip(&again) {
            match (a, b) {
                (Value::Real(x), Value::Real(y)) => prop_assert!(x.to_bits() == y.to_bits()),
                (Value::Lreal(x), Value::Lreal(y)) => prop_assert!(x.to_bits() == y.to_bits()),
                _ => prop_assert_eq!(a, b),
            }
        }
        let mut buf = [0u8; 88];
        LogixString::encode(&text, &mut buf).unwrap();
        prop_assert_eq!(LogixString::parse(&buf).unwrap().as_bytes(), &text[..]);
    }

    #[test]
    fn tag_names_round_trip(
        parts in prop::collection::vec(("[A-Za-z_][A-Za-z0-9_:]{0,12}",
            prop::collection::vec(0u32..1_000_000, 0..=3)), 1..5),
        bit in prop::option::of(0u8..64),
    ) {
        let mut text = String::new();
        let mut expected = Vec::new();
        for (i, (name, indices)) in parts.iter().enumerate() {
            if i > 0 {
                text.push('.');
            }
            text.push_str(name);
            expected.push(TagSegment::Symbol(name));
            if !indices.is_empty() {
                let list: Vec<String> = indices.iter().map(u32::to_string).collect();
                text.push_str(&format!("[{}]", list.join(",")));
                expected.extend(indices.iter().map(|&i| TagSegment::Index(i)));
            }
        }
        if let Some(bit) = bit {
            text.push_str(&format!(".{bit}"));
        }
        let tag = TagName::parse(&text).unwrap();
        prop_assert_eq!(tag.bit(), bit);
        prop_assert!(tag.segments().eq(expected.iter().copied()));
        let bytes = emitted(tag.buffer_len(), |b| tag.emit(b));
        let path = Epath::new_checked(&bytes).unwrap();
        prop_assert_eq!(path.segments().count(), expected.len());
    }

    #[test]
    fn route_paths_round_trip(hops in prop::collection::vec((1u16..=u16::MAX,
        prop_oneof![any::<u8>().prop_map(|a| a.to_string()),
            any::<[u8; 4]>().prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}"))]), 0..6)) {
        let text: Vec<String> = hops.iter().map(|(p, l)| format!("{p},{l}")).collect();
        let text = text.join(",");
        let route = RoutePath::parse(&text).unwrap();
        let bytes = emitted(route.buffer_len(), |b| route.emit(b));
        let path = Epath::new_checked(&bytes).unwrap();
        prop_assert!(path.segments().eq(route.segments().map(Segment::Port)));
        prop_assert_eq!(route.segments().count(), hops.len());
    }

    #[test]
    fn no_parser_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = Packet::new_checked(&bytes[..]).map(|p| (Header::parse(&p), SendData::parse(p.into_data()).is_ok()));
        if let Ok(send) = SendData::parse(&bytes) {
            let _ = (send.unconnected(), send.connected());
        }
        if let Ok(cpf) = CommonPacket::new_checked(&bytes) {
            for item in cpf.items() {
                let _ = item.parse();
            }
        }
        if let Ok(request) = MessageRequest::parse(&bytes) {
            let _ = request.path.segments().count();
            if let Ok(parsed) = Request::parse(&request) {
                let mut out = vec![0u8; parsed.buffer_len(&request.path)];
                // Whatever parses emits back to the same bytes, or (for the lenient AND mask
                // of Read-Modify-Write) to bytes that parse to the same request.
                let n = parsed.emit(&request.path, &mut out).unwrap();
                let again = MessageRequest::parse(&out[..n]).unwrap();
                prop_assert_eq!(Request::parse(&again), Ok(parsed));
            }
        }
        let _ = MessageResponse::parse(&bytes);
        let _ = ForwardOpenReply::parse(&bytes);
        let _ = ForwardCloseReply::parse(&bytes);
        let _ = ConnectionFailure::parse(&bytes);
        let _ = IdentityItem::parse(&bytes);
        let _ = Identity::parse_attributes_all(&bytes);
        let _ = LogixString::parse(&bytes);
        let _ = TagData::parse(&bytes);
        if let Ok(list) = AttributeList::parse(&bytes) {
            let _ = SymbolInstances::new_checked(&bytes, list).map(|s| s.iter().count());
        }
        let _ = MultipleServices::new_checked(&bytes).map(|m| m.iter().count());
        let text = String::from_utf8_lossy(&bytes);
        let _ = TagName::parse(&text).map(|t| t.segments().count());
        let _ = RoutePath::parse(&text).map(|r| r.segments().count());
    }
}
