//! A server's view of CIP: arbitrary bytes as a message router request, with its path and
//! service data parsed, and the same bytes as a tag name and a route path. Whatever parses
//! must emit back to bytes that parse to the same thing (the very same bytes, except for the
//! long AND mask of Read-Modify-Write the codec accepts from pycomm3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptk_enip::{Epath, MessageRequest, Request, RoutePath, Segment, TagName};

fuzz_target!(|data: &[u8]| {
    check_request(data, 2);
    let text = String::from_utf8_lossy(data);
    if let Ok(tag) = TagName::parse(&text) {
        let mut out = vec![0u8; tag.buffer_len()];
        let n = tag.emit(&mut out).expect("a parsed tag name emits");
        let path = Epath::new_checked(&out[..n]).expect("a tag name is a valid path");
        assert_eq!(path.segments().count(), tag.segments().count());
    }
    if let Ok(route) = RoutePath::parse(&text) {
        let mut out = vec![0u8; route.buffer_len()];
        let n = route.emit(&mut out).expect("a parsed route emits");
        let path = Epath::new_checked(&out[..n]).expect("a route is a valid path");
        assert!(path.segments().eq(route.segments().map(Segment::Port)));
    }
});

/// Parses `bytes` as a request and checks its round trip, then the requests it embeds (a
/// Multiple Service Packet's, an Unconnected_Send's) down to `depth` levels.
fn check_request(bytes: &[u8], depth: u32) {
    let Ok(message) = MessageRequest::parse(bytes) else {
        return;
    };
    let mut out = vec![0u8; message.buffer_len()];
    message.emit(&mut out).expect("a parsed request emits");
    assert_eq!(&out[..], bytes, "message emit differs");
    for segment in message.path.segments() {
        let mut b = vec![0u8; segment.buffer_len()];
        segment.emit(&mut b).expect("a parsed segment emits");
        assert_eq!(Segment::parse(&b), Ok((segment, b.len())));
    }
    let Ok(request) = Request::parse(&message) else {
        return;
    };
    let mut out = vec![0u8; request.buffer_len(&message.path)];
    let n = request
        .emit(&message.path, &mut out)
        .expect("a parsed service emits");
    assert_eq!(n, out.len());
    if !matches!(request, Request::ReadModifyWrite(_)) {
        assert_eq!(&out[..], bytes, "service emit differs");
    }
    let again = MessageRequest::parse(&out).expect("an emitted request parses");
    assert_eq!(Request::parse(&again), Ok(request));
    if depth == 0 {
        return;
    }
    match request {
        Request::MultipleServicePacket(packet) => {
            for embedded in packet.iter() {
                check_request(embedded, depth - 1);
            }
        }
        Request::UnconnectedSend(send) => check_request(send.message, depth - 1),
        _ => {}
    }
}
