//! A client checks a response against the request it sent; a server can only emit responses
//! within the limits of their function codes.

use ptk_modbus::{Bits, Error, ExceptionCode, Registers, Request, Response, Violation};

fn malformed(violation: Violation) -> Error {
    Error::Malformed(violation)
}

const READ_19_COILS: Request<'static> = Request::ReadCoils {
    address: 0x13,
    quantity: 19,
};
const READ_3_REGISTERS: Request<'static> = Request::ReadHoldingRegisters {
    address: 0,
    quantity: 3,
};

#[test]
fn read_bits_byte_count_must_be_ceil_quantity_over_8() {
    assert!(Response::parse(&[0x01, 0x03, 0xCD, 0x6B, 0x05], &READ_19_COILS).is_ok());
    assert_eq!(
        Response::parse(&[0x01, 0x02, 0xCD, 0x6B], &READ_19_COILS),
        Err(malformed(Violation::ByteCount))
    );
    assert_eq!(
        Response::parse(&[0x01, 0x04, 0xCD, 0x6B, 0x05, 0x00], &READ_19_COILS),
        Err(malformed(Violation::ByteCount))
    );
    assert_eq!(
        Response::parse(&[0x01, 0x03, 0xCD, 0x6B], &READ_19_COILS),
        Err(malformed(Violation::PduLength))
    );
    assert_eq!(
        Response::parse(&[0x01, 0x03, 0xCD, 0x6B, 0x05, 0x00], &READ_19_COILS),
        Err(malformed(Violation::PduLength))
    );
    assert_eq!(
        Response::parse(&[0x01], &READ_19_COILS),
        Err(malformed(Violation::PduLength))
    );
}

#[test]
fn the_largest_read_coils_response_is_250_bytes_of_bits() {
    let request = Request::ReadDiscreteInputs {
        address: 0,
        quantity: 2000,
    };
    let mut pdu = vec![0x02, 250];
    pdu.resize(252, 0xFF);
    let Ok(Response::ReadDiscreteInputs(bits)) = Response::parse(&pdu, &request) else {
        panic!("2000 inputs must parse");
    };
    assert_eq!(bits.len(), 2000);
    assert!(bits.iter().all(|on| on));
}

#[test]
fn read_registers_byte_count_must_be_twice_the_quantity() {
    let ok = [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64];
    assert!(Response::parse(&ok, &READ_3_REGISTERS).is_ok());
    assert_eq!(
        Response::parse(&[0x03, 0x04, 0x02, 0x2B, 0x00, 0x00], &READ_3_REGISTERS),
        Err(malformed(Violation::ByteCount))
    );
    assert_eq!(
        Response::parse(&ok[..7], &READ_3_REGISTERS),
        Err(malformed(Violation::PduLength))
    );
    let request = Request::ReadInputRegisters {
        address: 0,
        quantity: 125,
    };
    let mut largest = vec![0x04, 250];
    largest.resize(252, 0);
    assert!(Response::parse(&largest, &request).is_ok());
}

#[test]
fn function_codes_must_match_the_request() {
    assert_eq!(
        Response::parse(&[0x02, 0x03, 0xCD, 0x6B, 0x05], &READ_19_COILS),
        Err(malformed(Violation::FunctionMismatch))
    );
    assert_eq!(
        Response::parse(&[0x83, 0x02], &READ_19_COILS),
        Err(malformed(Violation::FunctionMismatch))
    );
    assert_eq!(
        Response::parse(&[0x81, 0x02, 0x00], &READ_19_COILS),
        Err(malformed(Violation::PduLength))
    );
    assert_eq!(
        Response::parse(&[0x81], &READ_19_COILS),
        Err(malformed(Violation::PduLength))
    );
    assert_eq!(
        Response::parse(&[], &READ_19_COILS),
        Err(malformed(Violation::EmptyPdu))
    );
}

#[test]
fn write_responses_must_echo_the_request() {
    let coil = Request::WriteSingleCoil {
        address: 0xAC,
        value: true,
    };
    assert!(Response::parse(&[0x05, 0x00, 0xAC, 0xFF, 0x00], &coil).is_ok());
    assert_eq!(
        Response::parse(&[0x05, 0x00, 0xAC, 0x00, 0x00], &coil),
        Err(malformed(Violation::EchoMismatch))
    );
    assert_eq!(
        Response::parse(&[0x05, 0x00, 0xAD, 0xFF, 0x00], &coil),
        Err(malformed(Violation::EchoMismatch))
    );
    assert_eq!(
        Response::parse(&[0x05, 0x00, 0xAC, 0x12, 0x34], &coil),
        Err(malformed(Violation::CoilValue))
    );

    let register = Request::WriteSingleRegister {
        address: 1,
        value: 3,
    };
    assert_eq!(
        Response::parse(&[0x06, 0x00, 0x01, 0x00, 0x04], &register),
        Err(malformed(Violation::EchoMismatch))
    );

    let data = [0xCD, 0x01];
    let coils = Request::WriteMultipleCoils {
        address: 0x13,
        values: Bits::new(&data, 10).unwrap(),
    };
    assert_eq!(
        Response::parse(&[0x0F, 0x00, 0x13, 0x00, 0x0A], &coils),
        Ok(Response::WriteMultipleCoils {
            address: 0x13,
            quantity: 10
        })
    );
    assert_eq!(
        Response::parse(&[0x0F, 0x00, 0x13, 0x00, 0x09], &coils),
        Err(malformed(Violation::EchoMismatch))
    );
    assert_eq!(
        Response::parse(&[0x0F, 0x00, 0x13, 0x00], &coils),
        Err(malformed(Violation::PduLength))
    );

    let values = [0, 10, 1, 2];
    let registers = Request::WriteMultipleRegisters {
        address: 1,
        values: Registers::new(&values).unwrap(),
    };
    assert_eq!(
        Response::parse(&[0x10, 0x00, 0x02, 0x00, 0x02], &registers),
        Err(malformed(Violation::EchoMismatch))
    );
}

#[test]
fn a_request_that_could_not_have_been_sent_is_invalid() {
    let request = Request::ReadCoils {
        address: 0,
        quantity: 0,
    };
    assert_eq!(
        Response::parse(&[0x01, 0x00], &request),
        Err(Error::Invalid(Violation::Quantity))
    );
}

#[test]
fn emit_refuses_responses_out_of_limits() {
    let zeros = [0u8; 252];
    let mut buf = [0u8; 260];
    let cases = [
        (
            Response::ReadCoils(Bits::new(&[], 0).unwrap()),
            Violation::Quantity,
        ),
        (
            Response::ReadCoils(Bits::new(&zeros[..251], 2001).unwrap()),
            Violation::Quantity,
        ),
        (
            Response::ReadHoldingRegisters(Registers::new(&[]).unwrap()),
            Violation::Quantity,
        ),
        (
            Response::ReadInputRegisters(Registers::new(&zeros[..252]).unwrap()),
            Violation::Quantity,
        ),
        (
            Response::WriteMultipleCoils {
                address: 0,
                quantity: 1969,
            },
            Violation::Quantity,
        ),
        (
            Response::WriteMultipleCoils {
                address: 0xFFFF,
                quantity: 2,
            },
            Violation::AddressRange,
        ),
        (
            Response::WriteMultipleRegisters {
                address: 0,
                quantity: 124,
            },
            Violation::Quantity,
        ),
        (
            Response::WriteMultipleRegisters {
                address: 0,
                quantity: 0,
            },
            Violation::Quantity,
        ),
        (
            Response::Exception {
                function: 0x81,
                code: ExceptionCode::IllegalFunction,
            },
            Violation::ExceptionFunction,
        ),
    ];
    for (response, violation) in cases {
        assert_eq!(
            response.emit(&mut buf),
            Err(Error::Invalid(violation)),
            "{response:?}"
        );
    }
    let largest = Response::ReadCoils(Bits::new(&zeros[..250], 2000).unwrap());
    assert_eq!(largest.emit(&mut buf), Ok(252));
    assert_eq!(
        largest.emit(&mut buf[..251]),
        Err(Error::BufferTooSmall { needed: 252 })
    );
}

#[test]
fn device_identification_responses_are_checked_for_consistency() {
    use ptk_modbus::ReadDeviceIdCode::{Basic, Individual};
    let basic = Request::ReadDeviceIdentification {
        code: Basic,
        object_id: 0,
    };
    let individual = Request::ReadDeviceIdentification {
        code: Individual,
        object_id: 1,
    };
    let inconsistent = Err(malformed(Violation::DeviceIdentification));

    assert!(Response::parse(b"\x2B\x0E\x01\x01\xFF\x01\x01\x00\x01A", &basic).is_ok());
    assert!(Response::parse(b"\x2B\x0E\x01\x83\x00\x00\x00", &basic).is_ok());
    // More follows must be 0x00 or 0xFF.
    assert_eq!(
        Response::parse(b"\x2B\x0E\x01\x01\x01\x00\x00", &basic),
        inconsistent
    );
    // Conformity level 0x01..=0x03 or 0x81..=0x83.
    for level in [0x00, 0x04, 0x80, 0x84] {
        let pdu = [0x2B, 0x0E, 0x01, level, 0x00, 0x00, 0x00];
        assert_eq!(Response::parse(&pdu, &basic), inconsistent);
    }
    // Objects must fill the PDU exactly as count and lengths say.
    assert_eq!(
        Response::parse(b"\x2B\x0E\x01\x01\x00\x00\x01\x00\x02A", &basic),
        inconsistent
    );
    assert_eq!(
        Response::parse(b"\x2B\x0E\x01\x01\x00\x00\x01\x00\x01AB", &basic),
        inconsistent
    );
    assert_eq!(
        Response::parse(b"\x2B\x0E\x01\x01\x00\x00\x02\x00\x01A", &basic),
        inconsistent
    );
    // The code must echo the request's.
    assert_eq!(
        Response::parse(b"\x2B\x0E\x02\x01\x00\x00\x00", &basic),
        Err(malformed(Violation::EchoMismatch))
    );
    assert_eq!(
        Response::parse(b"\x2B\x0E\x07\x01\x00\x00\x00", &basic),
        Err(malformed(Violation::ReadDeviceIdCode))
    );
    assert_eq!(
        Response::parse(b"\x2B\x0D\x01\x01\x00\x00\x00", &basic),
        Err(malformed(Violation::MeiType))
    );
    assert_eq!(
        Response::parse(b"\x2B\x0E\x01\x01\x00\x00", &basic),
        Err(malformed(Violation::PduLength))
    );
    // An individual access returns exactly one object and nothing more.
    assert!(Response::parse(b"\x2B\x0E\x04\x81\x00\x00\x01\x01\x01A", &individual).is_ok());
    assert_eq!(
        Response::parse(b"\x2B\x0E\x04\x81\x00\x00\x00", &individual),
        inconsistent
    );
    assert_eq!(
        Response::parse(b"\x2B\x0E\x04\x81\xFF\x02\x01\x01\x01A", &individual),
        inconsistent
    );
}

#[test]
fn device_identification_emit_refuses_more_than_253_bytes() {
    use ptk_modbus::{DeviceIdentification, DeviceObject, DeviceObjects, ReadDeviceIdCode};
    let value = [b'x'; 244];
    let mut storage = [0u8; 300];
    let objects = DeviceObjects::encode(
        &[DeviceObject {
            id: 0x80,
            value: &value,
        }],
        &mut storage,
    )
    .unwrap();
    let mut identification = Response::ReadDeviceIdentification(DeviceIdentification {
        code: ReadDeviceIdCode::Extended,
        conformity_level: 0x03,
        more_follows: false,
        next_object_id: 0,
        objects,
    });
    let mut buf = [0u8; 300];
    assert_eq!(identification.emit(&mut buf), Ok(253));
    let value = [b'x'; 245];
    let mut storage = [0u8; 300];
    let objects = DeviceObjects::encode(
        &[DeviceObject {
            id: 0x80,
            value: &value,
        }],
        &mut storage,
    )
    .unwrap();
    if let Response::ReadDeviceIdentification(id) = &mut identification {
        id.objects = objects;
    }
    assert_eq!(
        identification.emit(&mut buf),
        Err(Error::Invalid(Violation::LengthTooLong))
    );
}
