//! Bad input: truncated messages, lengths that overrun, sizes out of range and segments of
//! unknown types each get their exact error, and every prefix of a valid message is refused
//! cleanly.

use ptk_enip::{
    AttributeList, CommonPacket, ConnectionFailure, Epath, Error, ForwardClose, ForwardOpen,
    ForwardOpenReply, GeneralStatus, IdentityItem, MessageRequest, MessageResponse,
    MultipleServices, Packet, ReadModifyWrite, Request, RoutePath, SendData, TagName,
    UnconnectedSend, Violation, WriteTag,
};

fn malformed(v: Violation) -> Error {
    Error::Malformed(v)
}

/// Parses a message router request and then its service data.
fn request(bytes: &[u8]) -> Result<Request<'_>, Error> {
    Request::parse(&MessageRequest::parse(bytes)?)
}

#[test]
fn encapsulation_lengths_are_bounded() {
    let mut header = [0u8; 24];
    header[2..4].copy_from_slice(&65_512u16.to_le_bytes());
    assert_eq!(
        Packet::check_len(&header),
        Err(malformed(Violation::LengthTooLong))
    );
    header[2..4].copy_from_slice(&65_511u16.to_le_bytes());
    assert_eq!(Packet::check_len(&header), Ok(65_535));
    assert_eq!(
        Packet::new_checked(&header[..]),
        Err(Error::Incomplete { needed: 65_535 })
    );
    assert_eq!(
        Violation::LengthTooLong.encap_status(),
        ptk_enip::EncapStatus::INVALID_LENGTH
    );
}

#[test]
fn common_packet_items_cannot_overrun() {
    let cases: &[(&[u8], Violation)] = &[
        (&[], Violation::Truncated),
        (&[2, 0, 0, 0, 0, 0], Violation::Truncated),
        (&[1, 0, 0xB2, 0, 0xFF, 0xFF, 1, 2, 3], Violation::ItemLength),
        (&[1, 0, 0, 0, 0, 0, 9], Violation::TrailingBytes),
        (&[0xFF, 0xFF], Violation::Truncated),
    ];
    for &(bytes, v) in cases {
        assert_eq!(
            CommonPacket::new_checked(bytes),
            Err(malformed(v)),
            "{bytes:?}"
        );
    }
    // SendRRData whose items are not a null address and unconnected data.
    let data = [0, 0, 0, 0, 0, 0, 1, 0, 0xB2, 0, 0, 0];
    assert_eq!(
        SendData::parse(&data).unwrap().unconnected(),
        Err(malformed(Violation::ItemType))
    );
    let data = [
        0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0, 1, 0, 0, 0, 0xB2, 0, 0, 0,
    ];
    assert_eq!(
        SendData::parse(&data).unwrap().connected(),
        Err(malformed(Violation::ItemType))
    );
}

#[test]
fn paths_are_checked_against_their_size() {
    let cases: &[(&[u8], Violation)] = &[
        (&[0x4C], Violation::Truncated),
        (&[0x4C, 0x02, 0x91, 0x05, b'a'], Violation::PathSize),
        (&[0x4C, 0x01, 0x91, 0x05, 1, 0], Violation::PathSize),
        (&[0x4C, 0x01, 0x20], Violation::PathSize),
        (&[0x4C, 0x01, 0x40, 0x00], Violation::SegmentType),
        (&[0x4C, 0x01, 0x60, 0x00], Violation::SegmentType),
        (&[0x4C, 0x01, 0xA0, 0x00], Violation::SegmentType),
        (&[0x4C, 0x01, 0xC1, 0x00], Violation::SegmentType),
        (&[0x4C, 0x01, 0x3C, 0x00], Violation::SegmentType),
        (
            &[0x4C, 0x03, 0x32, 0x00, 1, 0, 0, 0],
            Violation::SegmentType,
        ),
        (&[0x4C, 0x02, 0x21, 0x07, 1, 0], Violation::Padding),
        (&[0x4C, 0x01, 0x10, 0x00], Violation::PortSegment),
        (&[0x4C, 0x01, 0x91, 0x00], Violation::SymbolLength),
        (&[0xCC, 0x00], Violation::ReplyBit),
    ];
    for &(bytes, v) in cases {
        let err = MessageRequest::parse(bytes).unwrap_err();
        assert_eq!(err, malformed(v), "{bytes:02x?}");
        // Every one of them is answered, not dropped.
        assert_ne!(v.general_status(), GeneralStatus::SUCCESS);
    }
    assert_eq!(
        Violation::PathSize.general_status(),
        GeneralStatus::PATH_SIZE_INVALID
    );
    assert_eq!(
        Violation::SegmentType.general_status(),
        GeneralStatus::PATH_SEGMENT_ERROR
    );
}

#[test]
fn service_data_is_checked_against_its_layout() {
    let cases: &[(&[u8], Violation)] = &[
        // Read Tag without a count, with a zero count, with a byte too many.
        (b"\x4C\x02\x91\x01A\x00", Violation::Truncated),
        (b"\x4C\x02\x91\x01A\x00\x00\x00", Violation::ElementCount),
        (
            b"\x4C\x02\x91\x01A\x00\x01\x00\x00",
            Violation::TrailingBytes,
        ),
        // Write Tag of 2 DINTs with 1 DINT of data, of a structure without its handle.
        (
            b"\x4D\x02\x91\x01A\x00\xC4\x00\x02\x00\x01\x00\x00\x00",
            Violation::ElementCount,
        ),
        (b"\x4D\x02\x91\x01A\x00\xA0\x02\xCE", Violation::Truncated),
        // Read-Modify-Write with a 3-byte mask.
        (
            b"\x4E\x02\x91\x01A\x00\x03\x00\x01\x02\x03\x04\x05\x06",
            Violation::MaskSize,
        ),
        // Multiple Service Packet with no services, with an offset past the end.
        (
            b"\x0A\x02\x20\x02\x24\x01\x00\x00",
            Violation::ServiceOffset,
        ),
        (
            b"\x0A\x02\x20\x02\x24\x01\x01\x00\x09\x00\x01",
            Violation::ServiceOffset,
        ),
        // Get_Instance_Attribute_List of an attribute of unknown layout.
        (
            b"\x55\x02\x20\x6B\x24\x00\x01\x00\x04\x00",
            Violation::UnknownAttribute,
        ),
        // Get_Attribute_All with data, an unknown service.
        (
            b"\x01\x02\x20\x01\x24\x01\x00\x00",
            Violation::TrailingBytes,
        ),
        (b"\x4B\x02\x20\x01\x24\x01", Violation::UnknownService),
        // Forward_Open cut short; Unconnected_Send of 600 bytes.
        (
            b"\x54\x02\x20\x06\x24\x01\x0A\x05\x00",
            Violation::Truncated,
        ),
        (
            b"\x52\x02\x20\x06\x24\x01\x0A\x05\x58\x02",
            Violation::MessageTooLong,
        ),
    ];
    for &(bytes, v) in cases {
        assert_eq!(request(bytes), Err(malformed(v)), "{bytes:02x?}");
    }
}

#[test]
fn replies_are_checked_against_their_layout() {
    assert_eq!(
        MessageResponse::parse(&[0xCC, 0x00, 0x00, 0x02, 0x01]),
        Err(malformed(Violation::ExtendedStatus))
    );
    assert_eq!(
        ForwardOpenReply::parse(&[0u8; 25]),
        Err(malformed(Violation::Truncated))
    );
    let mut long = [0u8; 28];
    long[24] = 2; // an application reply of 2 words, only 1 present
    assert_eq!(
        ForwardOpenReply::parse(&long),
        Err(malformed(Violation::Truncated))
    );
    assert_eq!(
        ConnectionFailure::parse(&[1, 2, 3]),
        Err(malformed(Violation::Truncated))
    );
    let mut identity = [0u8; 40];
    identity[32] = 200; // a product name longer than the item
    assert_eq!(
        IdentityItem::parse(&identity),
        Err(malformed(Violation::Truncated))
    );
}

#[test]
fn every_prefix_of_a_valid_message_is_refused() {
    let open = b"\x54\x02\x20\x06\x24\x01\x0A\x05\x00\x00\x00\x00\x01\x00\x00\x20\x27\x04\x09\x10\
                 \x09\x10\x19\x71\x07\x00\x00\x00\x01\x40\x20\x00\xF4\x43\x01\x40\x20\x00\xF4\x43\
                 \xA3\x03\x01\x00\x20\x02\x24\x01";
    assert!(matches!(request(open), Ok(Request::ForwardOpen(_))));
    for cut in 0..open.len() {
        assert!(request(&open[..cut]).is_err(), "prefix of {cut} bytes");
    }
    let data = &open[6..];
    for cut in 0..data.len() {
        assert!(ForwardOpen::parse(&data[..cut], false).is_err());
    }
    let close = b"\x0A\x05\x27\x04\x09\x10\x09\x10\x19\x71\x03\x00\x01\x00\x20\x02\x24\x01";
    assert!(ForwardClose::parse(close).is_ok());
    for cut in 0..close.len() {
        assert!(ForwardClose::parse(&close[..cut]).is_err());
    }
    let send = b"\x0A\x05\x06\x00\x01\x02\x20\x01\x24\x01\x01\x00\x01\x00";
    assert!(UnconnectedSend::parse(send).is_ok());
    for cut in 0..send.len() {
        assert!(UnconnectedSend::parse(&send[..cut]).is_err());
    }
    let write = b"\x4D\x02\x91\x01A\x00\xC3\x00\x02\x00\x01\x00\x02\x00";
    for cut in 6..write.len() {
        assert!(WriteTag::parse(&write[6..cut]).is_err());
    }
    let rmw = [0x02, 0x00, 0x01, 0x00, 0xFF, 0xFF];
    for cut in 0..rmw.len() {
        assert!(ReadModifyWrite::parse(&rmw[..cut]).is_err());
    }
    let msp = [0x02, 0x00, 0x06, 0x00, 0x07, 0x00, 0xAA, 0xBB];
    for cut in 0..msp.len() {
        assert!(MultipleServices::new_checked(&msp[..cut]).is_err());
    }
    let list = [0x02, 0x00, 0x01, 0x00, 0x02, 0x00];
    for cut in 0..list.len() {
        assert!(AttributeList::parse(&list[..cut]).is_err());
    }
}

#[test]
fn emitters_refuse_what_does_not_fit() {
    // A path of more than 255 words.
    let symbol = [b'x'; 255];
    let segments = [ptk_enip::Segment::Symbolic(&symbol); 2];
    assert_eq!(
        Epath::emit(&segments, &mut [0u8; 1024]),
        Err(Error::Invalid(Violation::PathTooLong))
    );
    let long_tag = format!("{0}.{0}", "y".repeat(255));
    assert_eq!(
        TagName::parse(&long_tag),
        Err(malformed(Violation::PathTooLong))
    );
    let route: Vec<String> = (0..130).map(|_| "1,0".to_string()).collect();
    assert!(RoutePath::parse(&route.join(",")).is_ok());
    let route: Vec<String> = (0..256).map(|_| "1,0".to_string()).collect();
    assert_eq!(
        RoutePath::parse(&route.join(",")),
        Err(malformed(Violation::PathTooLong))
    );
    // A buffer one byte short reports the length needed and writes nothing.
    let tag = TagName::parse("Program:Main.Counts[3]").unwrap();
    let mut buf = [0xEEu8; 23];
    assert_eq!(
        tag.emit(&mut buf),
        Err(Error::BufferTooSmall { needed: 24 })
    );
}
