//! A client's view: the first byte picks which reply layout the rest is parsed as (message
//! router reply, Read Tag data, Forward_Open and Forward_Close replies, connection failure,
//! ListIdentity item, Identity attributes, Get_Instance_Attribute_List instances). Whatever
//! parses must emit to bytes that parse to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptk_enip::{
    AttributeList, ConnectionFailure, ForwardCloseReply, ForwardOpenReply, Identity, IdentityItem,
    MessageResponse, SymbolInstances, TagData,
};

macro_rules! round_trip {
    ($parse:expr, $bytes:expr, |$r:ident| $len:expr, |$v:ident, $buf:ident| $emit:expr) => {
        if let Ok($r) = $parse($bytes) {
            let mut $buf = vec![0u8; $len];
            let $v = &$r;
            let n = $emit.expect("a parsed reply emits");
            assert_eq!(n, $buf.len());
            assert_eq!($parse(&$buf[..]), Ok($r));
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 8 {
        0 => round_trip!(MessageResponse::parse, bytes, |r| r.buffer_len(), |v, b| v
            .emit(&mut b)),
        1 => round_trip!(TagData::parse, bytes, |r| r.buffer_len(), |v, b| v
            .emit(&mut b)),
        2 => round_trip!(
            ForwardOpenReply::parse,
            bytes,
            |r| r.buffer_len(),
            |v, b| v.emit(&mut b)
        ),
        3 => round_trip!(
            ForwardCloseReply::parse,
            bytes,
            |r| r.buffer_len(),
            |v, b| v.emit(&mut b)
        ),
        4 => round_trip!(
            ConnectionFailure::parse,
            bytes,
            |r| r.buffer_len(),
            |v, b| v.emit(&mut b)
        ),
        5 => round_trip!(IdentityItem::parse, bytes, |r| r.buffer_len(), |v, b| v
            .emit(&mut b)),
        6 => round_trip!(
            Identity::parse_attributes_all,
            bytes,
            |r| r.attributes_all_len(),
            |v, b| v.emit_attributes_all(&mut b)
        ),
        _ => {
            // The attribute list first (its count says how long it is), then the instances.
            let Some(&[c0, c1]) = bytes.get(..2) else {
                return;
            };
            let list_len = 2 + 2 * usize::from(u16::from_le_bytes([c0, c1]));
            let Some((list, instances)) = bytes.split_at_checked(list_len) else {
                return;
            };
            let Ok(attributes) = AttributeList::parse(list) else {
                return;
            };
            let Ok(parsed) = SymbolInstances::new_checked(instances, attributes) else {
                return;
            };
            let mut out = Vec::new();
            for instance in parsed.iter() {
                let mut b = vec![0u8; instance.buffer_len(&attributes)];
                instance
                    .emit(&attributes, &mut b)
                    .expect("a parsed instance emits");
                out.extend(b);
            }
            assert_eq!(&out[..], instances, "instances emit differs");
        }
    }
});
