//! The request/response examples of the Modbus Application Protocol Specification v1.1b3,
//! section 6, byte for byte: each parses to the expected representation and emits back to the
//! same bytes.

use ptk_modbus::{
    Bits, CommEventCounter, CommEventLog, DeviceIdentification, DeviceObject, DeviceObjects,
    ExceptionCode, FileRecord, FileRecordData, FileRecordRef, FileRecordRefs, FileRecords, Frame,
    Header, ReadDeviceIdCode, Registers, Request, Response,
};

/// Parses `pdu` as a request, checks it is `expected`, and that it emits back to `pdu`.
fn request_round_trip(pdu: &[u8], expected: Request<'_>) {
    let request = Request::parse(pdu).unwrap();
    assert_eq!(request, expected);
    assert_eq!(request.buffer_len(), pdu.len());
    let mut buf = [0u8; 253];
    assert_eq!(request.emit(&mut buf), Ok(pdu.len()));
    assert_eq!(&buf[..pdu.len()], pdu);
}

/// Parses `pdu` as the response to `request`, checks it is `expected`, and that it emits back
/// to `pdu`.
fn response_round_trip(pdu: &[u8], request: &Request<'_>, expected: Response<'_>) {
    let response = Response::parse(pdu, request).unwrap();
    assert_eq!(response, expected);
    assert_eq!(response.buffer_len(), pdu.len());
    let mut buf = [0u8; 253];
    assert_eq!(response.emit(&mut buf), Ok(pdu.len()));
    assert_eq!(&buf[..pdu.len()], pdu);
}

#[test]
fn read_coils_20_to_38() {
    let request = Request::ReadCoils {
        address: 0x0013,
        quantity: 0x0013,
    };
    request_round_trip(&[0x01, 0x00, 0x13, 0x00, 0x13], request);
    let coils = Bits::new(&[0xCD, 0x6B, 0x05], 19).unwrap();
    response_round_trip(
        &[0x01, 0x03, 0xCD, 0x6B, 0x05],
        &request,
        Response::ReadCoils(coils),
    );
    // Coils 27..20 are 1100_1101 (0xCD): coil 20 is the least significant bit.
    let expected = [
        true, false, true, true, false, false, true, true, // 20..=27
        true, true, false, true, false, true, true, false, // 28..=35
        true, false, true, // 36..=38
    ];
    assert!(coils.iter().eq(expected));
}

#[test]
fn read_discrete_inputs_197_to_218() {
    let request = Request::ReadDiscreteInputs {
        address: 0x00C4,
        quantity: 0x0016,
    };
    request_round_trip(&[0x02, 0x00, 0xC4, 0x00, 0x16], request);
    let inputs = Bits::new(&[0xAC, 0xDB, 0x35], 22).unwrap();
    response_round_trip(
        &[0x02, 0x03, 0xAC, 0xDB, 0x35],
        &request,
        Response::ReadDiscreteInputs(inputs),
    );
    assert_eq!(inputs.get(0), Some(false));
    assert_eq!(inputs.get(2), Some(true));
    assert_eq!(inputs.get(21), Some(true));
    assert_eq!(inputs.iter().filter(|&on| on).count(), 4 + 6 + 4);
}

#[test]
fn read_holding_registers_108_to_110() {
    let request = Request::ReadHoldingRegisters {
        address: 0x006B,
        quantity: 3,
    };
    request_round_trip(&[0x03, 0x00, 0x6B, 0x00, 0x03], request);
    let pdu = [0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64];
    let values = Registers::new(&pdu[2..]).unwrap();
    response_round_trip(&pdu, &request, Response::ReadHoldingRegisters(values));
    assert!(values.iter().eq([555, 0, 100]));
}

#[test]
fn read_input_register_9() {
    let request = Request::ReadInputRegisters {
        address: 0x0008,
        quantity: 1,
    };
    request_round_trip(&[0x04, 0x00, 0x08, 0x00, 0x01], request);
    let values = Registers::new(&[0x00, 0x0A]).unwrap();
    response_round_trip(
        &[0x04, 0x02, 0x00, 0x0A],
        &request,
        Response::ReadInputRegisters(values),
    );
    assert_eq!(values.get(0), Some(10));
}

#[test]
fn write_single_coil_173_on() {
    let request = Request::WriteSingleCoil {
        address: 0x00AC,
        value: true,
    };
    request_round_trip(&[0x05, 0x00, 0xAC, 0xFF, 0x00], request);
    response_round_trip(
        &[0x05, 0x00, 0xAC, 0xFF, 0x00],
        &request,
        Response::WriteSingleCoil {
            address: 0x00AC,
            value: true,
        },
    );
    request_round_trip(
        &[0x05, 0x00, 0xAC, 0x00, 0x00],
        Request::WriteSingleCoil {
            address: 0x00AC,
            value: false,
        },
    );
}

#[test]
fn write_single_register_2_to_3() {
    let request = Request::WriteSingleRegister {
        address: 0x0001,
        value: 0x0003,
    };
    request_round_trip(&[0x06, 0x00, 0x01, 0x00, 0x03], request);
    response_round_trip(
        &[0x06, 0x00, 0x01, 0x00, 0x03],
        &request,
        Response::WriteSingleRegister {
            address: 1,
            value: 3,
        },
    );
}

#[test]
fn write_multiple_coils_20_to_29() {
    let pdu = [0x0F, 0x00, 0x13, 0x00, 0x0A, 0x02, 0xCD, 0x01];
    let values = Bits::new(&[0xCD, 0x01], 10).unwrap();
    let request = Request::WriteMultipleCoils {
        address: 0x0013,
        values,
    };
    request_round_trip(&pdu, request);
    response_round_trip(
        &[0x0F, 0x00, 0x13, 0x00, 0x0A],
        &request,
        Response::WriteMultipleCoils {
            address: 0x0013,
            quantity: 10,
        },
    );
    let mut storage = [0u8; 2];
    let packed = Bits::pack(
        &[
            true, false, true, true, false, false, true, true, true, false,
        ],
        &mut storage,
    )
    .unwrap();
    assert_eq!(packed, values);
    assert_eq!(packed.as_bytes(), &[0xCD, 0x01]);
}

#[test]
fn write_multiple_registers_2_and_3() {
    let pdu = [0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02];
    let values = Registers::new(&pdu[6..]).unwrap();
    let request = Request::WriteMultipleRegisters { address: 1, values };
    request_round_trip(&pdu, request);
    response_round_trip(
        &[0x10, 0x00, 0x01, 0x00, 0x02],
        &request,
        Response::WriteMultipleRegisters {
            address: 1,
            quantity: 2,
        },
    );
    assert!(values.iter().eq([0x000A, 0x0102]));
}

#[test]
fn read_write_multiple_registers() {
    // Read 6 registers from 4, write 3 registers (0x00FF each) from 15.
    let pdu = [
        0x17, 0x00, 0x03, 0x00, 0x06, 0x00, 0x0E, 0x00, 0x03, 0x06, 0x00, 0xFF, 0x00, 0xFF, 0x00,
        0xFF,
    ];
    let request = Request::ReadWriteMultipleRegisters {
        read_address: 3,
        read_quantity: 6,
        write_address: 0x0E,
        values: Registers::new(&pdu[10..]).unwrap(),
    };
    request_round_trip(&pdu, request);
    let response = [
        0x17, 0x0C, 0x00, 0xFE, 0x0A, 0xCD, 0x00, 0x01, 0x00, 0x03, 0x00, 0x0D, 0x00, 0xFF,
    ];
    let read = Registers::new(&response[2..]).unwrap();
    response_round_trip(
        &response,
        &request,
        Response::ReadWriteMultipleRegisters(read),
    );
    assert!(read
        .iter()
        .eq([0x00FE, 0x0ACD, 0x0001, 0x0003, 0x000D, 0x00FF]));
}

#[test]
fn exception_to_read_coils_at_1185() {
    let request = Request::ReadCoils {
        address: 0x04A1,
        quantity: 1,
    };
    request_round_trip(&[0x01, 0x04, 0xA1, 0x00, 0x01], request);
    response_round_trip(
        &[0x81, 0x02],
        &request,
        Response::Exception {
            function: 0x01,
            code: ExceptionCode::IllegalDataAddress,
        },
    );
}

#[test]
fn unknown_exception_codes_are_preserved() {
    let request = Request::WriteSingleRegister {
        address: 0,
        value: 0,
    };
    response_round_trip(
        &[0x86, 0x42],
        &request,
        Response::Exception {
            function: 0x06,
            code: ExceptionCode::Unknown(0x42),
        },
    );
}

#[test]
fn a_whole_frame_round_trips_with_its_header() {
    let wire = [
        0x15, 0x01, 0x00, 0x00, 0x00, 0x06, 0xFF, 0x03, 0x00, 0x6B, 0x00, 0x03,
    ];
    let frame = Frame::new_checked(&wire[..]).unwrap();
    let header = Header::parse(&frame);
    assert_eq!(
        header,
        Header {
            transaction_id: 0x1501,
            unit_id: 0xFF
        }
    );
    let request = Request::parse(frame.pdu()).unwrap();
    let mut buf = [0u8; 260];
    assert_eq!(request.emit_frame(header, &mut buf), Ok(wire.len()));
    assert_eq!(&buf[..wire.len()], &wire);
}

#[test]
fn read_device_identification_basic_stream() {
    // The layout of the specification's example (section 6.21), with object lengths that
    // match their values.
    let request = Request::ReadDeviceIdentification {
        code: ReadDeviceIdCode::Basic,
        object_id: 0,
    };
    request_round_trip(&[0x2B, 0x0E, 0x01, 0x00], request);
    let mut pdu = vec![0x2B, 0x0E, 0x01, 0x01, 0x00, 0x00, 0x03];
    for (id, value) in [
        (0u8, &b"Company identification"[..]),
        (1, b"Product code XX"),
        (2, b"V2.11"),
    ] {
        pdu.push(id);
        pdu.push(value.len() as u8);
        pdu.extend_from_slice(value);
    }
    let objects = DeviceObjects::new(&pdu[7..], 3).unwrap();
    response_round_trip(
        &pdu,
        &request,
        Response::ReadDeviceIdentification(DeviceIdentification {
            code: ReadDeviceIdCode::Basic,
            conformity_level: 0x01,
            more_follows: false,
            next_object_id: 0,
            objects,
        }),
    );
    let values: Vec<_> = objects.iter().map(|o| (o.id, o.value)).collect();
    assert_eq!(
        values,
        [
            (0, &b"Company identification"[..]),
            (1, b"Product code XX"),
            (2, b"V2.11")
        ]
    );
}

#[test]
fn read_device_identification_individual_object() {
    let request = Request::ReadDeviceIdentification {
        code: ReadDeviceIdCode::Individual,
        object_id: 0x02,
    };
    request_round_trip(&[0x2B, 0x0E, 0x04, 0x02], request);
    let pdu = b"\x2B\x0E\x04\x81\x00\x00\x01\x02\x05V2.11";
    let Response::ReadDeviceIdentification(id) = Response::parse(pdu, &request).unwrap() else {
        panic!("expected identification");
    };
    assert_eq!(id.conformity_level, 0x81);
    assert_eq!(
        id.objects.iter().next(),
        Some(DeviceObject {
            id: 2,
            value: b"V2.11"
        })
    );
    response_round_trip(pdu, &request, Response::ReadDeviceIdentification(id));
    response_round_trip(
        &[0xAB, 0x02],
        &request,
        Response::Exception {
            function: 0x2B,
            code: ExceptionCode::IllegalDataAddress,
        },
    );
}

#[test]
fn read_exception_status_0x6d() {
    let request = Request::ReadExceptionStatus;
    request_round_trip(&[0x07], request);
    response_round_trip(&[0x07, 0x6D], &request, Response::ReadExceptionStatus(0x6D));
}

#[test]
fn diagnostics_return_query_data() {
    let data = Registers::new(&[0xA5, 0x37]).unwrap();
    let request = Request::Diagnostics {
        sub_function: 0x0000,
        data,
    };
    request_round_trip(&[0x08, 0x00, 0x00, 0xA5, 0x37], request);
    response_round_trip(
        &[0x08, 0x00, 0x00, 0xA5, 0x37],
        &request,
        Response::Diagnostics {
            sub_function: 0x0000,
            data,
        },
    );
    // Return query data must come back as it went.
    assert!(Response::parse(&[0x08, 0x00, 0x00, 0xA5, 0x38], &request).is_err());
    assert!(Response::parse(&[0x08, 0x00, 0x01, 0xA5, 0x37], &request).is_err());
}

#[test]
fn get_comm_event_counter_busy_0x108() {
    let request = Request::GetCommEventCounter;
    request_round_trip(&[0x0B], request);
    response_round_trip(
        &[0x0B, 0xFF, 0xFF, 0x01, 0x08],
        &request,
        Response::GetCommEventCounter(CommEventCounter {
            busy: true,
            event_count: 0x0108,
        }),
    );
}

#[test]
fn get_comm_event_log_two_events() {
    let request = Request::GetCommEventLog;
    request_round_trip(&[0x0C], request);
    response_round_trip(
        &[0x0C, 0x08, 0x00, 0x00, 0x01, 0x08, 0x01, 0x21, 0x20, 0x00],
        &request,
        Response::GetCommEventLog(CommEventLog {
            busy: false,
            event_count: 0x0108,
            message_count: 0x0121,
            events: &[0x20, 0x00],
        }),
    );
}

#[test]
fn report_server_id() {
    // The specification gives the layout only: byte count, server id, run indicator (0xFF
    // on), additional data.
    let request = Request::ReportServerId;
    request_round_trip(&[0x11], request);
    response_round_trip(
        &[0x11, 0x03, 0x2A, 0xFF, 0x01],
        &request,
        Response::ReportServerId(&[0x2A, 0xFF, 0x01]),
    );
}

#[test]
fn read_file_record_two_groups() {
    let mut storage = [0u8; 14];
    let refs = FileRecordRefs::encode(
        &[
            FileRecordRef {
                file_number: 4,
                record_number: 1,
                record_length: 2,
            },
            FileRecordRef {
                file_number: 3,
                record_number: 9,
                record_length: 2,
            },
        ],
        &mut storage,
    )
    .unwrap();
    let request = Request::ReadFileRecord(refs);
    request_round_trip(
        &[
            0x14, 0x0E, 0x06, 0x00, 0x04, 0x00, 0x01, 0x00, 0x02, 0x06, 0x00, 0x03, 0x00, 0x09,
            0x00, 0x02,
        ],
        request,
    );
    let answer = [
        0x05, 0x06, 0x0D, 0xFE, 0x00, 0x20, 0x05, 0x06, 0x33, 0xCD, 0x00, 0x40,
    ];
    let mut pdu = vec![0x14, 0x0C];
    pdu.extend_from_slice(&answer);
    let data = FileRecordData::new(&answer).unwrap();
    response_round_trip(&pdu, &request, Response::ReadFileRecord(data));
    let groups: Vec<Vec<u16>> = data.iter().map(|g| g.iter().collect()).collect();
    assert_eq!(groups, vec![vec![0x0DFE, 0x0020], vec![0x33CD, 0x0040]]);
    // Groups of another length than asked for do not answer the request.
    let mut short = vec![
        0x14, 0x0A, 0x05, 0x06, 0x0D, 0xFE, 0x00, 0x20, 0x03, 0x06, 0x33,
    ];
    short.push(0xCD);
    assert!(Response::parse(&short, &request).is_err());
}

#[test]
fn write_file_record_one_group() {
    let pdu = [
        0x15, 0x0D, 0x06, 0x00, 0x04, 0x00, 0x07, 0x00, 0x03, 0x06, 0xAF, 0x04, 0xBE, 0x10, 0x0D,
    ];
    let values = Registers::new(&[0x06, 0xAF, 0x04, 0xBE, 0x10, 0x0D]).unwrap();
    let mut storage = [0u8; 13];
    let records = FileRecords::encode(
        &[FileRecord {
            file_number: 4,
            record_number: 7,
            values,
        }],
        &mut storage,
    )
    .unwrap();
    let request = Request::WriteFileRecord(records);
    request_round_trip(&pdu, request);
    // The response is an echo of the request.
    response_round_trip(&pdu, &request, Response::WriteFileRecord(records));
}

#[test]
fn mask_write_register_4() {
    let request = Request::MaskWriteRegister {
        address: 0x0004,
        and_mask: 0x00F2,
        or_mask: 0x0025,
    };
    let pdu = [0x16, 0x00, 0x04, 0x00, 0xF2, 0x00, 0x25];
    request_round_trip(&pdu, request);
    response_round_trip(
        &pdu,
        &request,
        Response::MaskWriteRegister {
            address: 0x0004,
            and_mask: 0x00F2,
            or_mask: 0x0025,
        },
    );
}

#[test]
fn read_fifo_queue_at_0x4de() {
    let request = Request::ReadFifoQueue { address: 0x04DE };
    request_round_trip(&[0x18, 0x04, 0xDE], request);
    let values = Registers::new(&[0x01, 0xB8, 0x12, 0x84]).unwrap();
    response_round_trip(
        &[0x18, 0x00, 0x06, 0x00, 0x02, 0x01, 0xB8, 0x12, 0x84],
        &request,
        Response::ReadFifoQueue(values),
    );
}
