//! Every limit a request must respect, at its edge and one past it, in `parse` (which a server
//! answers with the right exception) and in `emit` (which refuses to write it).

use ptk_modbus::limits::{
    MAX_READ_BITS, MAX_READ_REGISTERS, MAX_READ_WRITE_REGISTERS, MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS,
};
use ptk_modbus::{Bits, Error, ExceptionCode, Registers, Request, Violation};

const VALUE: ExceptionCode = ExceptionCode::IllegalDataValue;
const ADDRESS: ExceptionCode = ExceptionCode::IllegalDataAddress;

fn refused(function: u8, code: ExceptionCode, violation: Violation) -> Error {
    Error::Exception {
        function,
        code,
        violation,
    }
}

/// A read request PDU (function codes 1 to 4).
fn read(function: u8, address: u16, quantity: u16) -> [u8; 5] {
    let [a0, a1] = address.to_be_bytes();
    let [q0, q1] = quantity.to_be_bytes();
    [function, a0, a1, q0, q1]
}

/// A write multiple request PDU (function codes 15 and 16) with `data_len` bytes of data.
fn write_multiple(
    function: u8,
    address: u16,
    quantity: u16,
    count: u8,
    data_len: usize,
) -> Vec<u8> {
    let mut pdu = vec![function];
    pdu.extend_from_slice(&address.to_be_bytes());
    pdu.extend_from_slice(&quantity.to_be_bytes());
    pdu.push(count);
    pdu.resize(pdu.len() + data_len, 0);
    pdu
}

/// A read/write multiple registers request PDU (function code 23).
fn read_write(read: (u16, u16), write: (u16, u16), count: u8, data_len: usize) -> Vec<u8> {
    let mut pdu = vec![0x17];
    for field in [read.0, read.1, write.0, write.1] {
        pdu.extend_from_slice(&field.to_be_bytes());
    }
    pdu.push(count);
    pdu.resize(pdu.len() + data_len, 0);
    pdu
}

#[test]
fn read_bits_quantity_is_1_to_2000() {
    for function in [0x01, 0x02] {
        assert!(Request::parse(&read(function, 0, 1)).is_ok());
        assert!(Request::parse(&read(function, 0, MAX_READ_BITS)).is_ok());
        for quantity in [0, MAX_READ_BITS + 1, u16::MAX] {
            assert_eq!(
                Request::parse(&read(function, 0, quantity)),
                Err(refused(function, VALUE, Violation::Quantity))
            );
        }
    }
}

#[test]
fn read_registers_quantity_is_1_to_125() {
    for function in [0x03, 0x04] {
        assert!(Request::parse(&read(function, 0, 1)).is_ok());
        assert!(Request::parse(&read(function, 0, MAX_READ_REGISTERS)).is_ok());
        for quantity in [0, MAX_READ_REGISTERS + 1] {
            assert_eq!(
                Request::parse(&read(function, 0, quantity)),
                Err(refused(function, VALUE, Violation::Quantity))
            );
        }
    }
}

#[test]
fn reads_must_end_at_or_before_0x10000() {
    for (function, max) in [(1, 2000), (2, 2000), (3, 125), (4, 125)] {
        let last_start = (0x1_0000 - u32::from(max)) as u16;
        assert!(Request::parse(&read(function, last_start, max)).is_ok());
        assert!(Request::parse(&read(function, 0xFFFF, 1)).is_ok());
        assert_eq!(
            Request::parse(&read(function, last_start + 1, max)),
            Err(refused(function, ADDRESS, Violation::AddressRange))
        );
        assert_eq!(
            Request::parse(&read(function, 0xFFFF, 2)),
            Err(refused(function, ADDRESS, Violation::AddressRange))
        );
        // Quantity is checked before the address, as in the specification's state diagrams.
        assert_eq!(
            Request::parse(&read(function, 0xFFFF, max + 1)),
            Err(refused(function, VALUE, Violation::Quantity))
        );
    }
}

#[test]
fn write_single_coil_value_is_0xff00_or_0x0000() {
    assert!(Request::parse(&[0x05, 0xFF, 0xFF, 0xFF, 0x00]).is_ok());
    for bad in [[0xFF, 0x01], [0x00, 0x01], [0x00, 0xFF], [0xFF, 0xFF]] {
        assert_eq!(
            Request::parse(&[0x05, 0x00, 0x00, bad[0], bad[1]]),
            Err(refused(0x05, VALUE, Violation::CoilValue))
        );
    }
}

#[test]
fn write_single_register_takes_any_address_and_value() {
    assert_eq!(
        Request::parse(&[0x06, 0xFF, 0xFF, 0xFF, 0xFF]),
        Ok(Request::WriteSingleRegister {
            address: 0xFFFF,
            value: 0xFFFF
        })
    );
}

#[test]
fn write_coils_quantity_is_1_to_1968_with_ceil_q_over_8_bytes() {
    assert!(Request::parse(&write_multiple(0x0F, 0, 1, 1, 1)).is_ok());
    assert!(Request::parse(&write_multiple(0x0F, 0, MAX_WRITE_BITS, 246, 246)).is_ok());
    assert_eq!(
        Request::parse(&write_multiple(0x0F, 0, MAX_WRITE_BITS + 1, 247, 247)),
        Err(refused(0x0F, VALUE, Violation::Quantity))
    );
    assert_eq!(
        Request::parse(&write_multiple(0x0F, 0, 0, 0, 0)),
        Err(refused(0x0F, VALUE, Violation::Quantity))
    );
    // 9 coils take 2 bytes: 1 and 3 are wrong counts.
    assert!(Request::parse(&write_multiple(0x0F, 0, 9, 2, 2)).is_ok());
    for count in [1, 3] {
        assert_eq!(
            Request::parse(&write_multiple(0x0F, 0, 9, count, usize::from(count))),
            Err(refused(0x0F, VALUE, Violation::ByteCount))
        );
    }
    // A right count with fewer or more bytes after it.
    for data_len in [1, 3] {
        assert_eq!(
            Request::parse(&write_multiple(0x0F, 0, 9, 2, data_len)),
            Err(refused(0x0F, VALUE, Violation::PduLength))
        );
    }
}

#[test]
fn write_registers_quantity_is_1_to_123_with_2q_bytes() {
    assert!(Request::parse(&write_multiple(0x10, 0, 1, 2, 2)).is_ok());
    assert!(Request::parse(&write_multiple(0x10, 0, MAX_WRITE_REGISTERS, 246, 246)).is_ok());
    assert_eq!(
        Request::parse(&write_multiple(0x10, 0, MAX_WRITE_REGISTERS + 1, 248, 246)),
        Err(refused(0x10, VALUE, Violation::Quantity))
    );
    assert_eq!(
        Request::parse(&write_multiple(0x10, 0, 0, 0, 0)),
        Err(refused(0x10, VALUE, Violation::Quantity))
    );
    assert_eq!(
        Request::parse(&write_multiple(0x10, 0, 2, 3, 3)),
        Err(refused(0x10, VALUE, Violation::ByteCount))
    );
    assert_eq!(
        Request::parse(&write_multiple(0x10, 0, 2, 4, 5)),
        Err(refused(0x10, VALUE, Violation::PduLength))
    );
}

#[test]
fn writes_must_end_at_or_before_0x10000() {
    assert!(Request::parse(&write_multiple(0x0F, 0xFFF7, 9, 2, 2)).is_ok());
    assert_eq!(
        Request::parse(&write_multiple(0x0F, 0xFFF8, 9, 2, 2)),
        Err(refused(0x0F, ADDRESS, Violation::AddressRange))
    );
    assert!(Request::parse(&write_multiple(0x10, 0xFFFE, 2, 4, 4)).is_ok());
    assert_eq!(
        Request::parse(&write_multiple(0x10, 0xFFFF, 2, 4, 4)),
        Err(refused(0x10, ADDRESS, Violation::AddressRange))
    );
}

#[test]
fn read_write_registers_reads_1_to_125_and_writes_1_to_121() {
    let ok = |read_quantity: u16, write_quantity: u16| {
        let count = (2 * write_quantity) as u8;
        let pdu = read_write(
            (0, read_quantity),
            (0, write_quantity),
            count,
            usize::from(count),
        );
        Request::parse(&pdu).map(|_| ())
    };
    assert_eq!(ok(1, 1), Ok(()));
    assert_eq!(ok(MAX_READ_REGISTERS, MAX_READ_WRITE_REGISTERS), Ok(()));
    let quantity = Err(refused(0x17, VALUE, Violation::Quantity));
    assert_eq!(ok(MAX_READ_REGISTERS + 1, 1), quantity);
    assert_eq!(ok(0, 1), quantity);
    // 122 registers with their 244 bytes would pass 253 bytes: the quantity is refused first.
    let pdu = read_write((0, 1), (0, MAX_READ_WRITE_REGISTERS + 1), 244, 242);
    assert_eq!(Request::parse(&pdu).map(|_| ()), quantity);
    assert_eq!(ok(1, 0), quantity);
    assert_eq!(
        Request::parse(&read_write((0, 1), (0, 2), 3, 3)),
        Err(refused(0x17, VALUE, Violation::ByteCount))
    );
    assert_eq!(
        Request::parse(&read_write((0, 1), (0, 2), 4, 3)),
        Err(refused(0x17, VALUE, Violation::PduLength))
    );
}

#[test]
fn read_write_registers_checks_both_address_ranges() {
    assert!(Request::parse(&read_write((0xFF83, 125), (0xFFFF, 1), 2, 2)).is_ok());
    let address = Err(refused(0x17, ADDRESS, Violation::AddressRange));
    assert_eq!(
        Request::parse(&read_write((0xFF84, 125), (0, 1), 2, 2)),
        address
    );
    assert_eq!(
        Request::parse(&read_write((0, 1), (0xFFFF, 2), 4, 4)),
        address
    );
}

#[test]
fn fixed_size_pdus_one_byte_short_or_long_are_refused_with_illegal_data_value() {
    for function in [0x01, 0x02, 0x03, 0x04, 0x05, 0x06] {
        let long = [function, 0, 1, 0, 1, 0];
        for pdu in [&long[..4], &long[..]] {
            assert_eq!(
                Request::parse(pdu),
                Err(refused(function, VALUE, Violation::PduLength)),
                "{pdu:02x?}"
            );
        }
    }
    for function in [0x0F, 0x10] {
        assert_eq!(
            Request::parse(&[function, 0, 0, 0, 1]),
            Err(refused(function, VALUE, Violation::PduLength))
        );
    }
    assert_eq!(
        Request::parse(&[0x17, 0, 0, 0, 1, 0, 0, 0, 1]),
        Err(refused(0x17, VALUE, Violation::PduLength))
    );
}

#[test]
fn unknown_function_codes_are_refused_with_illegal_function() {
    for function in [0x00, 0x09, 0x0A, 0x0D, 0x12, 0x19, 0x7F, 0x80, 0x81, 0xFF] {
        let err = Request::parse(&[function, 0, 0, 0, 1]).unwrap_err();
        assert_eq!(
            err,
            refused(
                function,
                ExceptionCode::IllegalFunction,
                Violation::UnknownFunction
            )
        );
        let mut answer = [0u8; 2];
        assert_eq!(err.exception_response().unwrap().emit(&mut answer), Ok(2));
        assert_eq!(answer, [function | 0x80, 0x01]);
    }
}

#[test]
fn functions_without_data_take_none() {
    for function in [0x07, 0x0B, 0x0C, 0x11] {
        assert!(Request::parse(&[function]).is_ok(), "{function:#04x}");
        assert_eq!(
            Request::parse(&[function, 0]),
            Err(refused(function, VALUE, Violation::PduLength))
        );
    }
}

#[test]
fn new_function_layouts_are_checked() {
    let address = ExceptionCode::IllegalDataAddress;
    let cases: &[(&[u8], ExceptionCode, Violation)] = &[
        // Diagnostics: a sub-function of two bytes and whole registers of data.
        (&[0x08, 0], VALUE, Violation::PduLength),
        (&[0x08, 0, 0, 1], VALUE, Violation::PduLength),
        // Mask write: address and two masks, exactly.
        (&[0x16, 0, 1, 0, 2, 0], VALUE, Violation::PduLength),
        (&[0x16, 0, 1, 0, 2, 0, 3, 0], VALUE, Violation::PduLength),
        // Read FIFO queue: an address, exactly.
        (&[0x18, 0], VALUE, Violation::PduLength),
        (&[0x18, 0, 0, 0], VALUE, Violation::PduLength),
        // Read file record: byte count 7..=245 in groups of 7, all present.
        (&[0x14], VALUE, Violation::PduLength),
        (&[0x14, 0], VALUE, Violation::ByteCount),
        (
            &[0x14, 8, 6, 0, 1, 0, 0, 0, 1, 0],
            VALUE,
            Violation::ByteCount,
        ),
        (&[0x14, 7, 6, 0, 1, 0, 0, 0], VALUE, Violation::PduLength),
        (&[0x14, 7, 6, 0, 1, 0, 0, 0, 0], VALUE, Violation::Quantity),
        (
            &[0x14, 7, 6, 0, 0, 0, 0, 0, 1],
            address,
            Violation::FileRecord,
        ),
        (
            &[0x14, 7, 6, 0, 1, 0x27, 0x10, 0, 1],
            address,
            Violation::FileRecord,
        ),
        (
            &[0x14, 7, 6, 0, 1, 0, 0, 0, 125],
            VALUE,
            Violation::Quantity,
        ),
        // Write file record: byte count 9..=251, groups that fill it, reference type 6.
        (
            &[0x15, 8, 6, 0, 1, 0, 0, 0, 0, 0],
            VALUE,
            Violation::ByteCount,
        ),
        (
            &[0x15, 9, 6, 0, 1, 0, 0, 0, 1, 0, 1, 0],
            VALUE,
            Violation::PduLength,
        ),
        (
            &[0x15, 9, 6, 0, 1, 0, 0, 0, 2, 0, 1],
            VALUE,
            Violation::ByteCount,
        ),
        (
            &[0x15, 9, 7, 0, 1, 0, 0, 0, 1, 0, 1],
            address,
            Violation::FileRecord,
        ),
        (
            &[0x15, 11, 6, 0, 1, 0x27, 0x0F, 0, 2, 0, 1, 0, 2],
            address,
            Violation::FileRecord,
        ),
    ];
    for (pdu, code, violation) in cases {
        assert_eq!(
            Request::parse(pdu),
            Err(refused(pdu[0], *code, *violation)),
            "{pdu:02x?}"
        );
    }
    // The last record, 9999, is fine.
    assert!(Request::parse(&[0x15, 9, 6, 0, 1, 0x27, 0x0F, 0, 1, 0, 1]).is_ok());
    // 35 groups of one record each: the largest byte count, 245.
    let mut pdu = vec![0x14, 245];
    for _ in 0..35 {
        pdu.extend_from_slice(&[6, 0, 1, 0, 0, 0, 1]);
    }
    assert!(Request::parse(&pdu).is_ok());
}

#[test]
fn pdus_outside_1_to_253_bytes_are_malformed() {
    assert_eq!(
        Request::parse(&[]),
        Err(Error::Malformed(Violation::EmptyPdu))
    );
    let too_long = write_multiple(0x0F, 0, 1976, 247, 248);
    assert_eq!(too_long.len(), 254);
    assert_eq!(
        Request::parse(&too_long),
        Err(Error::Malformed(Violation::LengthTooLong))
    );
}

#[test]
fn emit_refuses_what_parse_refuses() {
    let mut buf = [0u8; 260];
    let invalid = |request: Request<'_>, violation| {
        let mut buf = [0u8; 260];
        assert_eq!(
            request.emit(&mut buf),
            Err(Error::Invalid(violation)),
            "{request:?}"
        );
    };
    invalid(
        Request::ReadCoils {
            address: 0,
            quantity: 0,
        },
        Violation::Quantity,
    );
    invalid(
        Request::ReadCoils {
            address: 0,
            quantity: 2001,
        },
        Violation::Quantity,
    );
    invalid(
        Request::ReadDiscreteInputs {
            address: 0xFFFF,
            quantity: 2,
        },
        Violation::AddressRange,
    );
    invalid(
        Request::ReadInputRegisters {
            address: 0,
            quantity: 126,
        },
        Violation::Quantity,
    );

    let zeros = [0u8; 250];
    let coils = |n: u16| Bits::new(&zeros[..n.div_ceil(8).into()], n).unwrap();
    let registers = |n: usize| Registers::new(&zeros[..2 * n]).unwrap();
    invalid(
        Request::WriteMultipleCoils {
            address: 0,
            values: coils(0),
        },
        Violation::Quantity,
    );
    invalid(
        Request::WriteMultipleCoils {
            address: 0,
            values: coils(1969),
        },
        Violation::Quantity,
    );
    invalid(
        Request::WriteMultipleCoils {
            address: 0xFFFF,
            values: coils(2),
        },
        Violation::AddressRange,
    );
    invalid(
        Request::WriteMultipleRegisters {
            address: 0,
            values: registers(124),
        },
        Violation::Quantity,
    );
    invalid(
        Request::ReadWriteMultipleRegisters {
            read_address: 0,
            read_quantity: 1,
            write_address: 0,
            values: registers(122),
        },
        Violation::Quantity,
    );

    let largest = Request::WriteMultipleRegisters {
        address: 0,
        values: registers(123),
    };
    assert_eq!(largest.emit(&mut buf), Ok(252));
    assert_eq!(
        largest.emit(&mut buf[..251]),
        Err(Error::BufferTooSmall { needed: 252 })
    );
    assert_eq!(
        Request::WriteMultipleCoils {
            address: 0,
            values: coils(1968)
        }
        .emit(&mut buf),
        Ok(252)
    );
}

#[test]
fn read_device_identification_needs_mei_14_and_a_code_of_1_to_4() {
    for code in 1..=4 {
        assert!(Request::parse(&[0x2B, 0x0E, code, 0x00]).is_ok());
    }
    for code in [0, 5, 0xFF] {
        assert_eq!(
            Request::parse(&[0x2B, 0x0E, code, 0x00]),
            Err(refused(0x2B, VALUE, Violation::ReadDeviceIdCode))
        );
    }
    // MEI type 13 is CANopen General Reference, which the codec does not implement.
    assert_eq!(
        Request::parse(&[0x2B, 0x0D, 0x01, 0x00]),
        Err(refused(
            0x2B,
            ExceptionCode::IllegalFunction,
            Violation::MeiType
        ))
    );
    for pdu in [
        &[0x2B][..],
        &[0x2B, 0x0E, 0x01],
        &[0x2B, 0x0E, 0x01, 0x00, 0x00],
    ] {
        assert_eq!(
            Request::parse(pdu),
            Err(refused(0x2B, VALUE, Violation::PduLength))
        );
    }
}
