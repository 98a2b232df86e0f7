//! A client's view: the first byte is the length `n` of a request PDU, the next `n` bytes the
//! request, the rest the response PDU to check against it. Whatever parses must emit back to
//! the very same bytes and parse again to the same response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptk_modbus::limits::MAX_PDU_LEN;
use ptk_modbus::{Request, Response};

fuzz_target!(|data: &[u8]| {
    let Some((&request_len, rest)) = data.split_first() else {
        return;
    };
    let Some((request_pdu, response_pdu)) = rest.split_at_checked(usize::from(request_len)) else {
        return;
    };
    let Ok(request) = Request::parse(request_pdu) else {
        return;
    };
    if let Ok(response) = Response::parse(response_pdu, &request) {
        let mut out = [0u8; MAX_PDU_LEN];
        let n = response.emit(&mut out).expect("a parsed response emits");
        assert_eq!(n, response.buffer_len());
        assert_eq!(
            &out[..n],
            response_pdu,
            "emit differs from the parsed bytes"
        );
        assert_eq!(Response::parse(&out[..n], &request), Ok(response));
    }
});
