//! `FrameReader`, the length-prefixed framing of a TCP stream: the stream arrives in chunks
//! split at arbitrary points, each read gets at most one chunk (or part of one), and the
//! caller polls, peeks and consumes in an arbitrary order. Every frame the reader returns must
//! be the next frame of the stream, byte for byte; a header over the maximum must be
//! `MessageTooLarge`; the end of the stream must be `Ok(None)` between frames and `Closed` in
//! the middle of one; no read is asked to fill an empty room and nothing is buffered past the
//! reader's size.
#![no_main]

use std::collections::VecDeque;
use std::task::Poll;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ptk_runtime::fuzzing::poll_frame_from;
use ptk_runtime::{Error, FrameReader, HEADER_LEN};

/// The reader's size: small, so that full buffers and oversized headers are common.
const N: usize = 64;

#[derive(Arbitrary, Debug)]
enum Step {
    /// Poll for a frame; consume it when `consume` says so.
    Poll { consume: bool },
    /// Look at the front frame without reading.
    Peek,
    /// Consume the front frame, if any.
    Consume,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The largest payload, modulo what fits.
    max: u8,
    /// The stream, cut into the chunks the reads deliver.
    chunks: Vec<Vec<u8>>,
    /// Whether the peer closes after the last chunk (else reads then wait).
    closes: bool,
    steps: Vec<Step>,
}

/// The frames of `stream` as a parser written for this check sees them.
enum Next {
    Frame(Vec<u8>),
    TooLarge,
    /// Not all of it is there: how many bytes are.
    Partial(usize),
}

fn next_frame(stream: &[u8], max: usize) -> Next {
    let Some(head) = stream.get(..HEADER_LEN) else {
        return Next::Partial(stream.len());
    };
    let n = u32::from_be_bytes(head.try_into().unwrap()) as usize;
    if n > max {
        return Next::TooLarge;
    }
    match stream.get(HEADER_LEN..HEADER_LEN + n) {
        Some(payload) => Next::Frame(payload.to_vec()),
        None => Next::Partial(stream.len()),
    }
}

fuzz_target!(|input: Input| {
    let max = usize::from(input.max) % (N - HEADER_LEN + 1);
    let mut reader = FrameReader::<N>::with_max_frame(max).expect("max fits");
    let mut chunks: VecDeque<&[u8]> = input
        .chunks
        .iter()
        .map(Vec::as_slice)
        .filter(|c| !c.is_empty())
        .collect();
    // What the reader has been given and not yet returned as a frame.
    let mut unread: Vec<u8> = Vec::new();
    let mut consumed = 0usize;
    let mut done = false;
    for step in input.steps.iter().take(256) {
        if done {
            break;
        }
        let expected = next_frame(&unread[consumed..], max);
        match step {
            Step::Peek => match &expected {
                Next::Frame(payload) => {
                    // Known only once the reader looked; before, `frame` parses too.
                    assert_eq!(reader.complete(), Ok(Some(payload.len())));
                    assert_eq!(reader.frame(), &payload[..]);
                    assert_eq!(
                        reader.frame_with_header(),
                        &unread[consumed..consumed + HEADER_LEN + payload.len()]
                    );
                }
                Next::TooLarge => assert_eq!(reader.complete(), Err(Error::MessageTooLarge)),
                Next::Partial(_) => {
                    assert_eq!(reader.complete(), Ok(None));
                    assert_eq!(reader.frame(), b"");
                }
            },
            Step::Consume => {
                reader.consume();
                if let Next::Frame(payload) = expected {
                    consumed += HEADER_LEN + payload.len();
                }
            }
            Step::Poll { consume } => {
                let got = poll_frame_from(&mut reader, |room: &mut [u8]| {
                    assert!(
                        !room.is_empty(),
                        "a read into no room reads as end-of-stream"
                    );
                    let Some(chunk) = chunks.front_mut() else {
                        // The peer closed, or nothing more has come yet.
                        return if input.closes {
                            Poll::Ready(Ok(0))
                        } else {
                            Poll::Pending
                        };
                    };
                    let n = chunk.len().min(room.len());
                    room[..n].copy_from_slice(&chunk[..n]);
                    unread.extend_from_slice(&chunk[..n]);
                    *chunk = &chunk[n..];
                    if chunk.is_empty() {
                        chunks.pop_front();
                    }
                    Poll::Ready(Ok(n))
                });
                let rest = &unread[consumed..];
                assert!(reader.buffered() == rest.len() && rest.len() <= N);
                match got {
                    Poll::Ready(Ok(Some(n))) => {
                        let Next::Frame(payload) = next_frame(rest, max) else {
                            panic!("a frame the stream does not hold: {n} bytes");
                        };
                        assert_eq!(n, payload.len());
                        assert_eq!(reader.frame(), &payload[..]);
                        if *consume {
                            reader.consume();
                            consumed += HEADER_LEN + n;
                        }
                    }
                    Poll::Ready(Ok(None)) => {
                        assert!(input.closes && chunks.is_empty() && rest.is_empty());
                        done = true;
                    }
                    Poll::Ready(Err(Error::Closed)) => {
                        assert!(input.closes && chunks.is_empty());
                        assert!(matches!(next_frame(rest, max), Next::Partial(k) if k > 0));
                        done = true;
                    }
                    Poll::Ready(Err(Error::MessageTooLarge)) => {
                        assert!(matches!(next_frame(rest, max), Next::TooLarge));
                        done = true;
                    }
                    Poll::Pending => {
                        assert!(!input.closes && chunks.is_empty());
                        assert!(matches!(next_frame(rest, max), Next::Partial(_)));
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    if !done {
        assert_eq!(reader.buffered(), unread.len() - consumed);
    }
});
