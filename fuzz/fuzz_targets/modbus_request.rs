//! A server's view: arbitrary bytes from a TCP stream, split into MBAP frames and parsed as
//! requests. Whatever parses must emit back to the very same bytes and parse again to the same
//! request; whatever is refused with an exception must yield an exception response that emits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptk_modbus::limits::MAX_FRAME_LEN;
use ptk_modbus::{Error, Frame, Header, Request};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(frame) = Frame::new_checked(rest) {
        let len = frame.frame_len();
        assert!(len <= rest.len() && len <= MAX_FRAME_LEN);
        let header = Header::parse(&frame);
        let mut out = [0u8; MAX_FRAME_LEN];
        match Request::parse(frame.pdu()) {
            Ok(request) => {
                let n = request
                    .emit_frame(header, &mut out)
                    .expect("a parsed request emits");
                assert_eq!(
                    &out[..n],
                    &rest[..len],
                    "emit differs from the parsed bytes"
                );
                let again = Frame::new_checked(&out[..n]).expect("an emitted frame frames");
                assert_eq!(Request::parse(again.pdu()), Ok(request));
            }
            Err(e @ Error::Exception { function, .. }) => {
                let answer = e.exception_response().expect("exceptions have a response");
                let n = answer
                    .emit_frame(header, &mut out)
                    .expect("an exception emits");
                assert_eq!(n, 9);
                assert_eq!(out[7], function | 0x80);
            }
            Err(e) => panic!("a framed PDU is never {e:?}"),
        }
        rest = &rest[len..];
    }
});
