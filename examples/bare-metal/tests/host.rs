//! The exchange run by hand on the host, step by step, with the device's answer arriving in
//! pieces; and run to completion by `run`, including the ways it fails.

use ptk::{Cx, Protothread, Step};
use ptk_bare_metal_example::{run, Device, ExchangeError, ReadRegisters};
use ptk_modbus::{ExceptionCode, Violation};

const DEVICE: Device = Device::new([0x1111, 0x2222, 0x3333, 0x4444]);

#[test]
fn the_exchange_sends_its_request_and_waits_until_the_whole_answer_is_there() {
    let mut exchange = ReadRegisters::new(1, 2);
    let mut cx = Cx::detached();

    // The request goes out, and the protothread waits: nothing has come back.
    assert_eq!(exchange.resume(&mut cx), Step::Pending);
    assert_eq!(
        exchange.wire().outgoing(),
        [0, 1, 0, 0, 0, 6, 1, 0x03, 0, 1, 0, 2]
    );
    assert_eq!(exchange.resume(&mut cx), Step::Pending);

    // The device takes the request and answers.
    assert!(DEVICE.serve(exchange.wire_mut()));
    assert_eq!(exchange.wire().outgoing(), [] as [u8; 0]);
    let answer = exchange.wire().incoming().to_vec();
    assert_eq!(
        answer,
        [0, 1, 0, 0, 0, 7, 1, 0x03, 4, 0x22, 0x22, 0x33, 0x33]
    );

    // The same answer arriving in two pieces: one resume per piece, done at the second.
    let mut exchange = ReadRegisters::new(1, 2);
    assert_eq!(exchange.resume(&mut cx), Step::Pending);
    exchange.wire_mut().take_outgoing();
    assert_eq!(exchange.wire_mut().deliver(&answer[..9]), 9);
    assert_eq!(exchange.resume(&mut cx), Step::Pending);
    assert_eq!(exchange.values(), [] as [u16; 0]);
    assert_eq!(exchange.wire_mut().deliver(&answer[9..]), 4);
    assert_eq!(exchange.resume(&mut cx), Step::Done(Ok(2)));
    assert_eq!(exchange.values(), [0x2222, 0x3333]);
}

#[test]
fn the_main_loop_runs_the_exchange_to_its_outcome() {
    let mut exchange = ReadRegisters::new(0, 4);
    assert_eq!(run(&mut exchange, &DEVICE), Ok(4));
    assert_eq!(exchange.values(), [0x1111, 0x2222, 0x3333, 0x4444]);

    // Past the device's four registers: exception 2, illegal data address.
    let mut exchange = ReadRegisters::new(3, 2);
    assert_eq!(
        run(&mut exchange, &DEVICE),
        Err(ExchangeError::Exception(ExceptionCode::IllegalDataAddress))
    );
    assert_eq!(exchange.values(), [] as [u16; 0]);

    // A quantity the codec refuses to send.
    let mut exchange = ReadRegisters::new(0, 0);
    assert_eq!(
        run(&mut exchange, &DEVICE),
        Err(ExchangeError::Codec(ptk_modbus::Error::Invalid(
            Violation::Quantity
        )))
    );
}

#[test]
fn an_answer_to_another_transaction_is_not_taken() {
    let mut exchange = ReadRegisters::new(0, 1);
    let mut cx = Cx::detached();
    assert_eq!(exchange.resume(&mut cx), Step::Pending);
    exchange.wire_mut().take_outgoing();
    exchange
        .wire_mut()
        .deliver(&[0, 9, 0, 0, 0, 5, 1, 0x03, 2, 0x11, 0x11]);
    assert_eq!(
        exchange.resume(&mut cx),
        Step::Done(Err(ExchangeError::NotOurs))
    );
}
