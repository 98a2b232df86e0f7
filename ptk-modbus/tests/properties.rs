//! Properties over generated messages: every valid representation survives emit then parse,
//! and no input bytes make a parser panic.

use proptest::prelude::*;
use ptk_modbus::limits::{
    MAX_FRAME_LEN, MAX_PDU_LEN, MAX_READ_BITS, MAX_READ_REGISTERS, MAX_READ_WRITE_REGISTERS,
    MAX_WRITE_BITS, MAX_WRITE_REGISTERS,
};
use ptk_modbus::{
    Bits, CommEventCounter, CommEventLog, DeviceIdentification, DeviceObject, DeviceObjects, Error,
    ExceptionCode, FileRecord, FileRecordData, FileRecordRef, FileRecordRefs, FileRecords, Frame,
    Header, ReadDeviceIdCode, Registers, Request, Response,
};

/// The owned material a request borrows from; the request is rebuilt from it in each case.
#[derive(Clone, Debug)]
enum RequestSpec {
    Read {
        function: u8,
        address: u16,
        quantity: u16,
    },
    WriteSingleCoil {
        address: u16,
        value: bool,
    },
    WriteSingleRegister {
        address: u16,
        value: u16,
    },
    WriteCoils {
        address: u16,
        bits: Vec<bool>,
    },
    WriteRegisters {
        address: u16,
        values: Vec<u16>,
    },
    ReadWrite {
        read_address: u16,
        read_quantity: u16,
        write_address: u16,
        values: Vec<u16>,
    },
    DeviceId {
        code: u8,
        object_id: u8,
    },
    /// Function codes 7, 11, 12 and 17: no data.
    NoData(u8),
    Diagnostics {
        sub_function: u16,
        data: Vec<u16>,
    },
    MaskWrite {
        address: u16,
        and_mask: u16,
        or_mask: u16,
    },
    Fifo {
        address: u16,
    },
    /// File, first record and length of each group.
    ReadFile(Vec<(u16, u16, u16)>),
    /// File, first record and values of each group.
    WriteFile(Vec<(u16, u16, Vec<u16>)>),
}

/// A file number and a first record that leave room for `len` records below 10000.
fn file_group(len: u16) -> impl Strategy<Value = (u16, u16)> {
    (1..=u16::MAX, 0..=(10_000 - len))
}

/// An address that leaves room for `quantity` items below 0x10000.
fn address_for(quantity: u16) -> impl Strategy<Value = u16> {
    0..=(0x1_0000 - u32::from(quantity)) as u16
}

fn request_spec() -> impl Strategy<Value = RequestSpec> {
    let read = (1u8..=4).prop_flat_map(|function| {
        let max = if function <= 2 {
            MAX_READ_BITS
        } else {
            MAX_READ_REGISTERS
        };
        (1..=max).prop_flat_map(move |quantity| {
            address_for(quantity).prop_map(move |address| RequestSpec::Read {
                function,
                address,
                quantity,
            })
        })
    });
    let coils = prop::collection::vec(any::<bool>(), 1..=usize::from(MAX_WRITE_BITS))
        .prop_flat_map(|bits| {
            address_for(bits.len() as u16).prop_map(move |address| RequestSpec::WriteCoils {
                address,
                bits: bits.clone(),
            })
        });
    let registers = prop::collection::vec(any::<u16>(), 1..=usize::from(MAX_WRITE_REGISTERS))
        .prop_flat_map(|values| {
            address_for(values.len() as u16).prop_map(move |address| RequestSpec::WriteRegisters {
                address,
                values: values.clone(),
            })
        });
    let read_write = (
        1..=MAX_READ_REGISTERS,
        prop::collection::vec(any::<u16>(), 1..=usize::from(MAX_READ_WRITE_REGISTERS)),
    )
        .prop_flat_map(|(read_quantity, values)| {
            (address_for(read_quantity), address_for(values.len() as u16)).prop_map(
                move |(read_address, write_address)| RequestSpec::ReadWrite {
                    read_address,
                    read_quantity,
                    write_address,
                    values: values.clone(),
                },
            )
        });
    prop_oneof![
        read,
        (any::<u16>(), any::<bool>())
            .prop_map(|(address, value)| RequestSpec::WriteSingleCoil { address, value }),
        (any::<u16>(), any::<u16>())
            .prop_map(|(address, value)| RequestSpec::WriteSingleRegister { address, value }),
        coils,
        registers,
        read_write,
        (1u8..=4, any::<u8>())
            .prop_map(|(code, object_id)| RequestSpec::DeviceId { code, object_id }),
        prop::sample::select(vec![0x07u8, 0x0B, 0x0C, 0x11]).prop_map(RequestSpec::NoData),
        (any::<u16>(), prop::collection::vec(any::<u16>(), 0..=125))
            .prop_map(|(sub_function, data)| RequestSpec::Diagnostics { sub_function, data }),
        (any::<u16>(), any::<u16>(), any::<u16>()).prop_map(|(address, and_mask, or_mask)| {
            RequestSpec::MaskWrite {
                address,
                and_mask,
                or_mask,
            }
        }),
        any::<u16>().prop_map(|address| RequestSpec::Fifo { address }),
        prop::collection::vec(
            (1u16..=20).prop_flat_map(|len| file_group(len).prop_map(move |(f, r)| (f, r, len))),
            1..=5,
        )
        .prop_map(RequestSpec::ReadFile),
        prop::collection::vec(
            prop::collection::vec(any::<u16>(), 1..=30).prop_flat_map(|values| {
                file_group(values.len() as u16).prop_map(move |(f, r)| (f, r, values.clone()))
            }),
            1..=3,
        )
        .prop_map(RequestSpec::WriteFile),
    ]
}

/// Builds the request of `spec`, its data encoded into `storage`.
fn build<'a>(spec: &RequestSpec, storage: &'a mut [u8; 256]) -> Request<'a> {
    match *spec {
        RequestSpec::Read {
            function,
            address,
            quantity,
        } => match function {
            1 => Request::ReadCoils { address, quantity },
            2 => Request::ReadDiscreteInputs { address, quantity },
            3 => Request::ReadHoldingRegisters { address, quantity },
            _ => Request::ReadInputRegisters { address, quantity },
        },
        RequestSpec::WriteSingleCoil { address, value } => {
            Request::WriteSingleCoil { address, value }
        }
        RequestSpec::WriteSingleRegister { address, value } => {
            Request::WriteSingleRegister { address, value }
        }
        RequestSpec::WriteCoils { address, ref bits } => Request::WriteMultipleCoils {
            address,
            values: Bits::pack(bits, storage).unwrap(),
        },
        RequestSpec::WriteRegisters {
            address,
            ref values,
        } => Request::WriteMultipleRegisters {
            address,
            values: Registers::encode(values, storage).unwrap(),
        },
        RequestSpec::ReadWrite {
            read_address,
            read_quantity,
            write_address,
            ref values,
        } => Request::ReadWriteMultipleRegisters {
            read_address,
            read_quantity,
            write_address,
            values: Registers::encode(values, storage).unwrap(),
        },
        RequestSpec::DeviceId { code, object_id } => Request::ReadDeviceIdentification {
            code: ReadDeviceIdCode::from_u8(code).unwrap(),
            object_id,
        },
        RequestSpec::NoData(function) => match function {
            0x07 => Request::ReadExceptionStatus,
            0x0B => Request::GetCommEventCounter,
            0x0C => Request::GetCommEventLog,
            _ => Request::ReportServerId,
        },
        RequestSpec::Diagnostics {
            sub_function,
            ref data,
        } => Request::Diagnostics {
            sub_function,
            data: Registers::encode(data, storage).unwrap(),
        },
        RequestSpec::MaskWrite {
            address,
            and_mask,
            or_mask,
        } => Request::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        },
        RequestSpec::Fifo { address } => Request::ReadFifoQueue { address },
        RequestSpec::ReadFile(ref groups) => {
            let refs: Vec<FileRecordRef> = groups
                .iter()
                .map(
                    |&(file_number, record_number, record_length)| FileRecordRef {
                        file_number,
                        record_number,
                        record_length,
                    },
                )
                .collect();
            Request::ReadFileRecord(FileRecordRefs::encode(&refs, storage).unwrap())
        }
        RequestSpec::WriteFile(ref groups) => {
            let packed: Vec<Vec<u8>> = groups
                .iter()
                .map(|(_, _, values)| values.iter().flat_map(|v| v.to_be_bytes()).collect())
                .collect();
            let records: Vec<FileRecord<'_>> = groups
                .iter()
                .zip(&packed)
                .map(|(&(file_number, record_number, _), bytes)| FileRecord {
                    file_number,
                    record_number,
                    values: Registers::new(bytes).unwrap(),
                })
                .collect();
            Request::WriteFileRecord(FileRecords::encode(&records, storage).unwrap())
        }
    }
}

/// What a device identification response is made of, before it is encoded.
#[derive(Clone, Debug)]
struct IdentificationSpec {
    conformity_level: u8,
    more_follows: bool,
    next_object_id: u8,
    objects: Vec<(u8, Vec<u8>)>,
}

fn identification_spec() -> impl Strategy<Value = IdentificationSpec> {
    (
        prop::sample::select(vec![0x01, 0x02, 0x03, 0x81, 0x82, 0x83]),
        any::<bool>(),
        any::<u8>(),
        prop::collection::vec(
            (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40)),
            1..6,
        ),
    )
        .prop_map(
            |(conformity_level, more_follows, next_object_id, objects)| IdentificationSpec {
                conformity_level,
                more_follows,
                next_object_id,
                objects,
            },
        )
}

/// The identification answering `code`, its objects encoded into `storage`; an individual
/// access gets one object and no more.
fn identification<'a>(
    code: ReadDeviceIdCode,
    spec: &IdentificationSpec,
    storage: &'a mut [u8; 256],
) -> DeviceIdentification<'a> {
    let individual = code == ReadDeviceIdCode::Individual;
    let objects: Vec<_> = spec
        .objects
        .iter()
        .map(|(id, value)| DeviceObject { id: *id, value })
        .collect();
    let objects = if individual {
        &objects[..1]
    } else {
        &objects[..]
    };
    DeviceIdentification {
        code,
        conformity_level: spec.conformity_level,
        more_follows: spec.more_follows && !individual,
        next_object_id: spec.next_object_id,
        objects: DeviceObjects::encode(objects, storage).unwrap(),
    }
}

/// A response that answers `request`, with data from `seed` (and file record groups encoded
/// into `files`).
fn answer<'a>(
    request: &Request<'a>,
    seed: &'a [u8; 256],
    identification: DeviceIdentification<'a>,
    exception: Option<u8>,
    files: &'a mut [u8; 256],
) -> Response<'a> {
    if let Some(code) = exception {
        return Response::Exception {
            function: request.function_code().as_u8(),
            code: ExceptionCode::from_u8(code),
        };
    }
    let bits = |quantity: u16| Bits::new(&seed[..quantity.div_ceil(8).into()], quantity).unwrap();
    let registers = |quantity: u16| Registers::new(&seed[..2 * usize::from(quantity)]).unwrap();
    match *request {
        Request::ReadCoils { quantity, .. } => Response::ReadCoils(bits(quantity)),
        Request::ReadDiscreteInputs { quantity, .. } => {
            Response::ReadDiscreteInputs(bits(quantity))
        }
        Request::ReadHoldingRegisters { quantity, .. } => {
            Response::ReadHoldingRegisters(registers(quantity))
        }
        Request::ReadInputRegisters { quantity, .. } => {
            Response::ReadInputRegisters(registers(quantity))
        }
        Request::ReadWriteMultipleRegisters { read_quantity, .. } => {
            Response::ReadWriteMultipleRegisters(registers(read_quantity))
        }
        Request::WriteSingleCoil { address, value } => Response::WriteSingleCoil { address, value },
        Request::WriteSingleRegister { address, value } => {
            Response::WriteSingleRegister { address, value }
        }
        Request::WriteMultipleCoils { address, values } => Response::WriteMultipleCoils {
            address,
            quantity: values.len() as u16,
        },
        Request::WriteMultipleRegisters { address, values } => Response::WriteMultipleRegisters {
            address,
            quantity: values.len() as u16,
        },
        Request::ReadDeviceIdentification { .. } => {
            Response::ReadDeviceIdentification(identification)
        }
        Request::ReadExceptionStatus => Response::ReadExceptionStatus(seed[0]),
        Request::GetCommEventCounter => Response::GetCommEventCounter(CommEventCounter {
            busy: seed[0] % 2 == 1,
            event_count: u16::from_be_bytes([seed[1], seed[2]]),
        }),
        Request::GetCommEventLog => Response::GetCommEventLog(CommEventLog {
            busy: seed[0] % 2 == 1,
            event_count: u16::from_be_bytes([seed[1], seed[2]]),
            message_count: u16::from_be_bytes([seed[3], seed[4]]),
            events: &seed[..usize::from(seed[5]) % 65],
        }),
        Request::ReportServerId => {
            Response::ReportServerId(&seed[..1 + usize::from(seed[0]) % 251])
        }
        Request::Diagnostics { sub_function, data } => Response::Diagnostics {
            sub_function,
            data: if sub_function == 0 {
                data
            } else {
                registers(u16::from(seed[0]) % 126)
            },
        },
        Request::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        } => Response::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        },
        Request::ReadFifoQueue { .. } => {
            Response::ReadFifoQueue(registers(u16::from(seed[0]) % 32))
        }
        Request::ReadFileRecord(refs) => {
            let groups: Vec<Vec<u16>> = refs
                .iter()
                .map(|r| registers(r.record_length).iter().collect())
                .collect();
            let slices: Vec<&[u16]> = groups.iter().map(Vec::as_slice).collect();
            Response::ReadFileRecord(FileRecordData::encode(&slices, files).unwrap())
        }
        Request::WriteFileRecord(records) => Response::WriteFileRecord(records),
        _ => unreachable!("the generator makes no other requests"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn requests_survive_emit_then_parse(spec in request_spec(), transaction_id: u16, unit_id: u8) {
        let mut storage = [0u8; 256];
        let request = build(&spec, &mut storage);
        let mut wire = [0u8; MAX_FRAME_LEN];
        let header = Header { transaction_id, unit_id };
        let n = request.emit_frame(header, &mut wire).unwrap();
        prop_assert_eq!(n, 7 + request.buffer_len());

        let frame = Frame::new_checked(&wire[..n]).unwrap();
        prop_assert_eq!(Header::parse(&frame), header);
        prop_assert_eq!(Request::parse(frame.pdu()), Ok(request));
    }

    #[test]
    fn responses_survive_emit_then_parse_against_their_request(
        spec in request_spec(),
        seed in prop::array::uniform32(any::<u8>()),
        exception in prop::option::weighted(0.2, any::<u8>()),
        id_spec in identification_spec(),
        id_code in 1u8..=4,
    ) {
        let mut storage = [0u8; 256];
        let request = build(&spec, &mut storage);
        let mut data = [0u8; 256];
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = seed[i % 32].rotate_left(i as u32);
        }
        let code = match request {
            Request::ReadDeviceIdentification { code, .. } => code,
            _ => ReadDeviceIdCode::from_u8(id_code).unwrap(),
        };
        let mut object_storage = [0u8; 256];
        let identification = identification(code, &id_spec, &mut object_storage);
        let mut files = [0u8; 256];
        let response = answer(&request, &data, identification, exception, &mut files);
        let mut pdu = [0u8; MAX_PDU_LEN];
        let n = response.emit(&mut pdu).unwrap();
        prop_assert_eq!(n, response.buffer_len());
        prop_assert_eq!(Response::parse(&pdu[..n], &request), Ok(response));
    }

    #[test]
    fn request_parse_never_panics_and_reemits_the_same_bytes(
        pdu in prop::collection::vec(any::<u8>(), 0..=MAX_PDU_LEN + 2),
    ) {
        if let Ok(request) = Request::parse(&pdu) {
            let mut out = [0u8; MAX_PDU_LEN];
            let n = request.emit(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &pdu[..]);
        }
    }

    #[test]
    fn request_parse_of_mutated_valid_requests_never_panics(
        spec in request_spec(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut storage = [0u8; 256];
        let request = build(&spec, &mut storage);
        let mut pdu = [0u8; MAX_PDU_LEN];
        let n = request.emit(&mut pdu).unwrap();
        for (at, xor) in flips {
            pdu[at.index(n)] ^= xor;
        }
        match Request::parse(&pdu[..n]) {
            Ok(parsed) => {
                let mut out = [0u8; MAX_PDU_LEN];
                let m = parsed.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..m], &pdu[..n]);
            }
            Err(Error::Exception { function, .. }) => prop_assert_eq!(function, pdu[0]),
            Err(e) => prop_assert!(false, "a {n}-byte PDU is well framed, got {e:?}"),
        }
    }

    #[test]
    fn response_parse_never_panics_and_reemits_the_same_bytes(
        spec in request_spec(),
        pdu in prop::collection::vec(any::<u8>(), 0..=MAX_PDU_LEN + 2),
    ) {
        let mut storage = [0u8; 256];
        let request = build(&spec, &mut storage);
        let mut pdu = pdu;
        // Give most inputs the right function code so parsing gets past the first check.
        if let Some(first) = pdu.first_mut() {
            if *first % 4 != 0 {
                *first = request.function_code().as_u8() | (*first & 0x80);
            }
        }
        if let Ok(response) = Response::parse(&pdu, &request) {
            let mut out = [0u8; MAX_PDU_LEN];
            let n = response.emit(&mut out).unwrap();
            prop_assert_eq!(&out[..n], &pdu[..]);
        }
    }

    #[test]
    fn frame_check_never_panics_and_agrees_with_the_length_field(
        bytes in prop::collection::vec(any::<u8>(), 0..=MAX_FRAME_LEN + 4),
        zero_protocol: bool,
    ) {
        let mut bytes = bytes;
        if zero_protocol && bytes.len() >= 4 {
            bytes[2] = 0;
            bytes[3] = 0;
        }
        match Frame::new_checked(&bytes[..]) {
            Ok(frame) => {
                prop_assert_eq!(frame.protocol_id(), 0);
                prop_assert!((2..=254).contains(&frame.length()));
                prop_assert_eq!(frame.pdu().len(), usize::from(frame.length()) - 1);
                prop_assert!(frame.frame_len() <= bytes.len());
            }
            Err(Error::Incomplete { needed }) => prop_assert!(needed > bytes.len()),
            Err(Error::Malformed(_)) => {}
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }
}
