//! The client's reply routing: requests sent, answers (well-formed, for the wrong unit, for
//! no request, or arbitrary bytes) arriving in arbitrary pieces, outcomes taken in any order.
//! Each answer must reach the request with its transaction id, and only while that request
//! waits; a wrong unit, an answer that does not answer the request or an exception fails that
//! request alone; a header that cannot be trusted fails every request in flight; outcomes are
//! delivered once; the receive buffer always has room for the rest of a frame.
#![no_main]

use std::collections::VecDeque;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ptk_modbus::client::ClientError;
use ptk_modbus::fuzzing::Routing;
use ptk_modbus::limits::MAX_FRAME_LEN;
use ptk_modbus::{Error, Frame, Registers, Request, Response};
use ptk_runtime::Error as IoError;

const N: usize = 3;

#[derive(Arbitrary, Debug)]
enum Ask {
    ReadCoils(u16, u16),
    ReadHoldingRegisters(u16, u16),
    WriteSingleRegister(u16, u16),
    WriteMultipleRegisters(u16, Vec<u16>),
}

#[derive(Arbitrary, Debug)]
enum Reply {
    /// A well-formed answer.
    Good,
    /// An exception with this code.
    Exception(u8),
    /// This PDU.
    Pdu(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Send {
        unit: u8,
        ask: Ask,
    },
    /// An answer to the `to`th slot's request, for its unit or another.
    Answer {
        to: u8,
        other_unit: bool,
        reply: Reply,
    },
    /// An answer with a transaction id of its own.
    Stray {
        transaction_id: u16,
        pdu: Vec<u8>,
    },
    /// Bytes as they come.
    Raw(Vec<u8>),
    /// The client reads up to this many of the bytes on their way.
    Read(u16),
    /// The outcome of the `n`th ticket.
    Take(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<Op>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Free,
    Sent,
    Answered,
    Failed(ClientError),
    Delivered,
}

#[derive(Clone, Debug)]
struct Slot {
    state: State,
    transaction_id: u16,
    unit: u8,
    request: Vec<u8>,
    response: Vec<u8>,
}

fn frame(transaction_id: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let len = (pdu.len() + 1).min(0xFFFF) as u16;
    let mut v = transaction_id.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&len.to_be_bytes());
    v.push(unit);
    v.extend_from_slice(pdu);
    v
}

/// A well-formed answer to the request PDU `request`.
fn good_answer(request: &[u8]) -> Vec<u8> {
    match Request::parse(request) {
        Ok(Request::ReadCoils { quantity, .. }) => {
            let n = usize::from(quantity).div_ceil(8);
            let mut v = vec![1, n as u8];
            v.resize(2 + n, 0);
            v
        }
        Ok(Request::ReadHoldingRegisters { quantity, .. }) => {
            let n = 2 * usize::from(quantity);
            let mut v = vec![3, n as u8];
            v.resize(2 + n, 0xA5);
            v
        }
        Ok(Request::WriteMultipleRegisters { .. }) => request[..5].to_vec(),
        _ => request.to_vec(),
    }
}

fuzz_target!(|input: Input| {
    let mut client = Routing::<N>::new();
    let mut slots: Vec<Slot> = (0..N)
        .map(|_| Slot {
            state: State::Free,
            transaction_id: 0,
            unit: 0,
            request: Vec::new(),
            response: Vec::new(),
        })
        .collect();
    let mut next_id: u16 = 1;
    let mut tickets = Vec::new();
    // Bytes on their way, and bytes received and not routed.
    let mut wire: VecDeque<u8> = VecDeque::new();
    let mut received: Vec<u8> = Vec::new();

    for op in input.ops.iter().take(128) {
        match op {
            Op::Send { unit, ask } => {
                let mut storage = [0u8; 250];
                let request = match ask {
                    Ask::ReadCoils(address, quantity) => Request::ReadCoils {
                        address: *address,
                        quantity: *quantity,
                    },
                    Ask::ReadHoldingRegisters(address, quantity) => Request::ReadHoldingRegisters {
                        address: *address,
                        quantity: *quantity,
                    },
                    Ask::WriteSingleRegister(address, value) => Request::WriteSingleRegister {
                        address: *address,
                        value: *value,
                    },
                    Ask::WriteMultipleRegisters(address, values) => {
                        let values = &values[..values.len().min(125)];
                        let Ok(values) = Registers::encode(values, &mut storage) else {
                            continue;
                        };
                        Request::WriteMultipleRegisters {
                            address: *address,
                            values,
                        }
                    }
                };
                let mut pdu = [0u8; MAX_FRAME_LEN];
                let emitted = request.emit(&mut pdu);
                let r = client.send(*unit, &request);
                let Some(i) = slots
                    .iter()
                    .position(|s| matches!(s.state, State::Free | State::Delivered))
                else {
                    assert_eq!(r, Err(ClientError::Busy));
                    continue;
                };
                // The id is taken before the request is checked.
                let mut id = next_id;
                while slots
                    .iter()
                    .any(|s| s.state == State::Sent && s.transaction_id == id)
                {
                    id = id.wrapping_add(1);
                }
                next_id = id.wrapping_add(1);
                let Ok(len) = emitted else {
                    assert!(matches!(r, Err(ClientError::InvalidRequest(_))), "{r:?}");
                    continue;
                };
                let ticket = r.expect("a free slot");
                assert_eq!(ticket.transaction_id(), id, "ids in flight are unique");
                slots[i] = Slot {
                    state: State::Sent,
                    transaction_id: id,
                    unit: *unit,
                    request: pdu[..len].to_vec(),
                    response: Vec::new(),
                };
                tickets.push((i, ticket));
            }
            Op::Answer {
                to,
                other_unit,
                reply,
            } => {
                let s = &slots[usize::from(*to) % N];
                let pdu = match reply {
                    Reply::Good => good_answer(&s.request),
                    Reply::Exception(code) => {
                        vec![s.request.first().copied().unwrap_or(0) | 0x80, *code]
                    }
                    Reply::Pdu(pdu) => pdu.clone(),
                };
                let unit = if *other_unit {
                    s.unit.wrapping_add(1)
                } else {
                    s.unit
                };
                wire.extend(frame(s.transaction_id, unit, &pdu));
            }
            Op::Stray {
                transaction_id,
                pdu,
            } => wire.extend(frame(*transaction_id, 0, pdu)),
            Op::Raw(bytes) => wire.extend(bytes),
            Op::Read(max) => {
                let room = client.room();
                assert!(room > 0, "a read with no room would read as end-of-stream");
                let take = usize::from(*max).min(wire.len());
                let bytes: Vec<u8> = wire.iter().copied().take(take).collect();
                let r = client.receive(&bytes);
                let n = take.min(room);
                wire.drain(..n);
                received.extend_from_slice(&bytes[..n]);
                // Route as the model sees it.
                let mut failed = None;
                loop {
                    match Frame::new_checked(&received[..]) {
                        Ok(f) => {
                            let len = f.frame_len();
                            if let Some(s) = slots.iter_mut().find(|s| {
                                s.state == State::Sent && s.transaction_id == f.transaction_id()
                            }) {
                                let request = Request::parse(&s.request).expect("sent");
                                s.state = if s.unit != f.unit_id() {
                                    State::Failed(ClientError::UnitIdMismatch {
                                        request: s.unit,
                                        reply: f.unit_id(),
                                    })
                                } else {
                                    match Response::parse(f.pdu(), &request) {
                                        Ok(Response::Exception { code, .. }) => {
                                            State::Failed(ClientError::Exception(code))
                                        }
                                        Ok(_) => {
                                            s.response = f.pdu().to_vec();
                                            State::Answered
                                        }
                                        Err(e) => State::Failed(ClientError::Protocol(e)),
                                    }
                                };
                            }
                            received.drain(..len);
                        }
                        Err(Error::Incomplete { .. }) => break,
                        Err(e) => {
                            failed = Some(ClientError::Protocol(e));
                            break;
                        }
                    }
                }
                match failed {
                    Some(e) => {
                        assert_eq!(r, Err(e));
                        for s in &mut slots {
                            if s.state == State::Sent {
                                s.state = State::Failed(e);
                            }
                        }
                        received.clear();
                    }
                    None => assert_eq!(r, Ok(n)),
                }
                assert_eq!(client.buffered(), received.len());
                assert!(received.len() < MAX_FRAME_LEN, "only a partial frame stays");
            }
            Op::Take(k) => {
                if tickets.is_empty() {
                    continue;
                }
                let (i, ticket) = tickets[usize::from(*k) % tickets.len()];
                let got = client.take_outcome(ticket);
                let s = &mut slots[i];
                let expected = if s.transaction_id != ticket.transaction_id() {
                    Some(Err(ClientError::Io(IoError::InvalidHandle)))
                } else {
                    match s.state {
                        State::Sent => None,
                        State::Answered => {
                            s.state = State::Delivered;
                            Some(Ok(()))
                        }
                        State::Failed(e) => {
                            s.state = State::Free;
                            Some(Err(e))
                        }
                        State::Free | State::Delivered => {
                            Some(Err(ClientError::Io(IoError::InvalidHandle)))
                        }
                    }
                };
                assert_eq!(got, expected);
                if s.state == State::Delivered && s.transaction_id == ticket.transaction_id() {
                    let request = Request::parse(&s.request).expect("sent");
                    let response = Response::parse(&s.response, &request).expect("answered");
                    assert_eq!(client.response(ticket), Some(response));
                } else {
                    assert_eq!(client.response(ticket), None);
                }
            }
        }
        assert_eq!(
            client.in_flight(),
            slots.iter().filter(|s| s.state == State::Sent).count()
        );
    }
});
