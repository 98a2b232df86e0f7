//! A server connection's byte stream: arbitrary bytes, cut into the chunks its reads get,
//! split into requests and answered as the connection does (`front` finds each request or
//! what a partial one still needs, `Answerer` answers it from a `MemoryModel`). Every whole
//! request before the first untrustworthy header gets exactly one answer, in order, with its
//! transaction and unit id, that parses as a response to it; a partial request never needs
//! more than the connection's buffer holds; a bad header or a stream cut in the middle of a
//! frame ends the connection with an error, never a panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ptk_modbus::fuzzing::{front, Answerer, Front};
use ptk_modbus::limits::MAX_FRAME_LEN;
use ptk_modbus::server::{MemoryModel, UnitIds};
use ptk_modbus::{Frame, Request, Response};

/// The pool buffer a connection reads into (a small buffer holds at least one frame).
const BUFFER: usize = MAX_FRAME_LEN;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Table sizes of the model.
    size: u8,
    /// Serve only these unit ids (all when empty).
    units: Vec<u8>,
    chunks: Vec<Vec<u8>>,
}

/// How the connection ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The stream ended between requests.
    Clean,
    /// In the middle of a frame.
    Cut,
    /// At a header that cannot be trusted.
    Malformed,
}

fuzz_target!(|input: Input| {
    let units = if input.units.is_empty() {
        UnitIds::any()
    } else {
        UnitIds::of(&input.units)
    };
    let mut answerer = Answerer::new(MemoryModel::new(usize::from(input.size)), units);
    let stream: Vec<u8> = input.chunks.concat();

    // The connection: a buffer of `BUFFER` bytes, read into after its contents.
    let mut rx: Vec<u8> = Vec::new();
    let mut answers: Vec<Vec<u8>> = Vec::new();
    let mut requests: Vec<Vec<u8>> = Vec::new();
    let mut chunks = input
        .chunks
        .iter()
        .map(Vec::as_slice)
        .filter(|c| !c.is_empty());
    let mut chunk: &[u8] = &[];
    let end = 'conn: loop {
        // Answer every whole request buffered.
        let need = loop {
            match front(&rx) {
                Ok(Front::Request(len)) => {
                    assert!(len <= rx.len() && len <= MAX_FRAME_LEN);
                    let mut out = [0u8; MAX_FRAME_LEN];
                    let n = answerer
                        .answer(&rx[..len], &mut out)
                        .expect("a request with a trusted header is answered");
                    requests.push(rx[..len].to_vec());
                    answers.push(out[..n].to_vec());
                    rx.drain(..len);
                }
                Ok(Front::Partial(k)) => {
                    assert!(k > rx.len(), "a partial frame needs more than is there");
                    assert!(
                        k <= BUFFER,
                        "a partial frame needs {k} bytes, past the buffer"
                    );
                    break k;
                }
                Err(_) => break 'conn End::Malformed,
            }
        };
        // Read: what the chunk has, at most the room after the contents.
        if chunk.is_empty() {
            match chunks.next() {
                Some(c) => chunk = c,
                None if rx.is_empty() => break End::Clean,
                None => break End::Cut,
            }
        }
        let room = BUFFER - rx.len();
        assert!(room > 0 && rx.len() < need);
        let n = chunk.len().min(room);
        rx.extend_from_slice(&chunk[..n]);
        chunk = &chunk[n..];
    };

    // What the stream holds, as `Frame::new_checked` frames it.
    let mut rest = &stream[..];
    let mut expected = Vec::new();
    let expected_end = loop {
        match Frame::new_checked(rest) {
            Ok(frame) => {
                expected.push(&rest[..frame.frame_len()]);
                rest = &rest[frame.frame_len()..];
            }
            Err(ptk_modbus::Error::Incomplete { .. }) if rest.is_empty() => break End::Clean,
            Err(ptk_modbus::Error::Incomplete { .. }) => break End::Cut,
            Err(_) => break End::Malformed,
        }
    };
    assert_eq!(end, expected_end);
    assert_eq!(requests, expected, "one answer per request, in order");

    for (request, answer) in requests.iter().zip(&answers) {
        let request = Frame::new_checked(&request[..]).expect("a framed request");
        let answer = Frame::new_checked(&answer[..]).expect("an answer frames");
        assert_eq!(answer.transaction_id(), request.transaction_id());
        assert_eq!(answer.unit_id(), request.unit_id());
        let function = request.pdu()[0];
        assert_eq!(answer.pdu()[0] & 0x7F, function & 0x7F);
        if let Ok(parsed) = Request::parse(request.pdu()) {
            let response = Response::parse(answer.pdu(), &parsed)
                .unwrap_or_else(|e| panic!("answer {:?} to {parsed:?}: {e:?}", answer.pdu()));
            if !units.contains(request.unit_id()) {
                assert!(matches!(response, Response::Exception { .. }));
            }
        } else {
            assert_eq!(answer.pdu().len(), 2, "a refused request gets an exception");
            assert_eq!(answer.pdu()[0], function | 0x80);
        }
    }
});
