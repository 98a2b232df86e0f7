//! Responses: the PDUs a server sends and a client parses against the request it sent.

use crate::device_id::{DeviceIdentification, MEI_READ_DEVICE_ID};
use crate::diagnostics::{status_word, STATUS_BUSY, STATUS_READY};
use crate::error::{Error, Result, Violation};
use crate::limits::{
    bit_bytes, fits_address_space, MAX_COMM_EVENTS, MAX_DIAGNOSTIC_DATA, MAX_FIFO_COUNT,
    MAX_PDU_LEN, MAX_READ_BITS, MAX_READ_REGISTERS, MAX_SERVER_ID_LEN, MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS,
};
use crate::mbap::Header;
use crate::request::{COIL_OFF, COIL_ON};
use crate::wire::{be16, Writer};
use crate::{
    Bits, CommEventCounter, CommEventLog, Diagnostic, ExceptionCode, FileRecordData, FileRecords,
    Registers, Request,
};

/// The bit a server sets in the function code of an exception response.
const EXCEPTION_BIT: u8 = 0x80;

/// A parsed Modbus response PDU, borrowing its data from the buffer it was parsed from.
///
/// A response does not say everything about itself — a read coils response carries a byte
/// count, not the number of coils — so a client parses it against the request it sent:
/// [`parse`](Response::parse) checks the function code, the byte count against the quantity
/// asked for, and that a write response echoes its request. A server builds responses and
/// [`emit`](Response::emit)s them; `emit` checks the limits a response can be checked against
/// on its own (quantities, address range).
///
/// # Examples
///
/// ```
/// use ptk_modbus::{ExceptionCode, Request, Response};
///
/// // Read coils 20..=38 and the answer of the specification.
/// let request = Request::ReadCoils { address: 0x0013, quantity: 0x0013 };
/// let response = Response::parse(&[0x01, 0x03, 0xCD, 0x6B, 0x05], &request).unwrap();
/// let Response::ReadCoils(coils) = response else { unreachable!() };
/// assert_eq!(coils.len(), 19);
/// assert_eq!(coils.get(0), Some(true));
///
/// // The same request answered with an exception.
/// let response = Response::parse(&[0x81, 0x02], &request).unwrap();
/// assert_eq!(
///     response,
///     Response::Exception { function: 0x01, code: ExceptionCode::IllegalDataAddress }
/// );
///
/// // A byte count that does not match the 19 coils asked for.
/// assert!(Response::parse(&[0x01, 0x02, 0xCD, 0x6B], &request).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<'a> {
    /// 0x01: the coils read, as many as the request asked for.
    ReadCoils(Bits<'a>),
    /// 0x02: the discrete inputs read, as many as the request asked for.
    ReadDiscreteInputs(Bits<'a>),
    /// 0x03: the holding registers read.
    ReadHoldingRegisters(Registers<'a>),
    /// 0x04: the input registers read.
    ReadInputRegisters(Registers<'a>),
    /// 0x05: the echo of a write single coil request.
    WriteSingleCoil {
        /// The coil's address.
        address: u16,
        /// The state written.
        value: bool,
    },
    /// 0x06: the echo of a write single register request.
    WriteSingleRegister {
        /// The register's address.
        address: u16,
        /// The value written.
        value: u16,
    },
    /// 0x0F: the address and quantity of a write multiple coils request.
    WriteMultipleCoils {
        /// The first coil's address.
        address: u16,
        /// How many coils were written (1..=1968).
        quantity: u16,
    },
    /// 0x10: the address and quantity of a write multiple registers request.
    WriteMultipleRegisters {
        /// The first register's address.
        address: u16,
        /// How many registers were written (1..=123).
        quantity: u16,
    },
    /// 0x17: the registers read by a read/write multiple registers request.
    ReadWriteMultipleRegisters(Registers<'a>),
    /// 0x2B / 0x0E: device identification objects.
    ReadDeviceIdentification(DeviceIdentification<'a>),
    /// 0x07: the eight exception status outputs, output 0 in the lowest bit.
    ReadExceptionStatus(u8),
    /// 0x08: the echo of the sub-function and the data it returns (0..=125 registers; for
    /// return query data, the request's data).
    Diagnostics {
        /// The sub-function code of the request.
        sub_function: u16,
        /// The response data.
        data: Registers<'a>,
    },
    /// 0x0B: the status word and the event counter.
    GetCommEventCounter(CommEventCounter),
    /// 0x0C: the status word, the counters and up to 64 events.
    GetCommEventLog(CommEventLog<'a>),
    /// 0x11: the server id, the run indicator status (0x00 off, 0xFF on) and any additional
    /// data, as the device lays them out (1..=251 bytes).
    ReportServerId(&'a [u8]),
    /// 0x14: the registers of each group asked for, in the order asked.
    ReadFileRecord(FileRecordData<'a>),
    /// 0x15: the echo of a write file record request.
    WriteFileRecord(FileRecords<'a>),
    /// 0x16: the echo of a mask write register request.
    MaskWriteRegister {
        /// The register's address.
        address: u16,
        /// The AND mask.
        and_mask: u16,
        /// The OR mask.
        or_mask: u16,
    },
    /// 0x18: the registers queued (0..=31), the oldest first.
    ReadFifoQueue(Registers<'a>),
    /// An exception response: `function | 0x80` and `code` on the wire.
    Exception {
        /// The function code of the request, below 0x80.
        function: u8,
        /// Why the server refused the request.
        code: ExceptionCode,
    },
}

impl<'a> Response<'a> {
    /// Parses a response PDU (function code and data, without the MBAP header) that answers
    /// `request`, as a client does.
    ///
    /// # Errors
    ///
    /// * [`Error::Invalid`] if `request` itself breaks a limit (it could not have been sent);
    /// * [`Error::Malformed`] if the response does not answer `request`:
    ///   [`Violation::FunctionMismatch`] for another function code,
    ///   [`Violation::ByteCount`] for a byte count that does not fit the quantity asked for,
    ///   [`Violation::PduLength`] for a PDU longer or shorter than its layout,
    ///   [`Violation::EchoMismatch`] for a write response that does not echo the request,
    ///   [`Violation::CoilValue`] for a write single coil echo other than 0xFF00 or 0x0000,
    ///   [`Violation::EmptyPdu`] or [`Violation::LengthTooLong`] for a PDU outside 1..=253
    ///   bytes; for Read Device Identification, [`Violation::MeiType`],
    ///   [`Violation::ReadDeviceIdCode`] and [`Violation::DeviceIdentification`] (see there);
    ///   [`Violation::StatusWord`] for a comm event status word other than 0x0000 and 0xFFFF;
    ///   [`Violation::Quantity`] for a FIFO count above 31 or more than 64 events.
    pub fn parse(pdu: &'a [u8], request: &Request<'_>) -> Result<Response<'a>> {
        let Some((&function, body)) = pdu.split_first() else {
            return Err(Error::Malformed(Violation::EmptyPdu));
        };
        if pdu.len() > MAX_PDU_LEN {
            return Err(Error::Malformed(Violation::LengthTooLong));
        }
        request
            .check()
            .map_err(|(_, violation)| Error::Invalid(violation))?;
        let expected = request.function_code().as_u8();
        if function & !EXCEPTION_BIT != expected {
            return Err(Error::Malformed(Violation::FunctionMismatch));
        }
        if function & EXCEPTION_BIT != 0 {
            let [code] = *body else {
                return Err(malformed(Violation::PduLength));
            };
            return Ok(Response::Exception {
                function: expected,
                code: ExceptionCode::from_u8(code),
            });
        }
        Ok(match *request {
            Request::ReadCoils { quantity, .. } => Response::ReadCoils(parse_bits(body, quantity)?),
            Request::ReadDiscreteInputs { quantity, .. } => {
                Response::ReadDiscreteInputs(parse_bits(body, quantity)?)
            }
            Request::ReadHoldingRegisters { quantity, .. } => {
                Response::ReadHoldingRegisters(parse_registers(body, quantity)?)
            }
            Request::ReadInputRegisters { quantity, .. } => {
                Response::ReadInputRegisters(parse_registers(body, quantity)?)
            }
            Request::ReadWriteMultipleRegisters { read_quantity, .. } => {
                Response::ReadWriteMultipleRegisters(parse_registers(body, read_quantity)?)
            }
            Request::WriteSingleCoil { address, value } => {
                let (echo_address, raw) = parse_pair(body)?;
                let echo_value = match raw {
                    COIL_ON => true,
                    COIL_OFF => false,
                    _ => return Err(malformed(Violation::CoilValue)),
                };
                check_echo((echo_address, echo_value) == (address, value))?;
                Response::WriteSingleCoil { address, value }
            }
            Request::WriteSingleRegister { address, value } => {
                check_echo(parse_pair(body)? == (address, value))?;
                Response::WriteSingleRegister { address, value }
            }
            Request::WriteMultipleCoils { address, values } => {
                let quantity = values.len() as u16; // checked: at most 1968
                check_echo(parse_pair(body)? == (address, quantity))?;
                Response::WriteMultipleCoils { address, quantity }
            }
            Request::WriteMultipleRegisters { address, values } => {
                let quantity = values.len() as u16; // checked: at most 123
                check_echo(parse_pair(body)? == (address, quantity))?;
                Response::WriteMultipleRegisters { address, quantity }
            }
            Request::ReadDeviceIdentification { code, .. } => {
                let [mei, ref rest @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                if mei != MEI_READ_DEVICE_ID {
                    return Err(malformed(Violation::MeiType));
                }
                let identification = DeviceIdentification::parse(rest)?;
                check_echo(identification.code == code)?;
                Response::ReadDeviceIdentification(identification)
            }
            Request::ReadExceptionStatus => {
                let [status] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                Response::ReadExceptionStatus(status)
            }
            Request::Diagnostics { sub_function, data } => {
                let [s0, s1, ref rest @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                let echo = Registers::new(rest).ok_or(malformed(Violation::PduLength))?;
                check_echo(be16(s0, s1) == sub_function)?;
                if sub_function == Diagnostic::ReturnQueryData.as_u16() {
                    check_echo(echo == data)?;
                }
                Response::Diagnostics {
                    sub_function,
                    data: echo,
                }
            }
            Request::GetCommEventCounter => {
                let [s0, s1, e0, e1] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                Response::GetCommEventCounter(CommEventCounter {
                    busy: parse_status(be16(s0, s1))?,
                    event_count: be16(e0, e1),
                })
            }
            Request::GetCommEventLog => {
                let [count, s0, s1, e0, e1, m0, m1, ref events @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                if usize::from(count) != 6 + events.len() {
                    return Err(malformed(Violation::ByteCount));
                }
                if events.len() > MAX_COMM_EVENTS {
                    return Err(malformed(Violation::Quantity));
                }
                Response::GetCommEventLog(CommEventLog {
                    busy: parse_status(be16(s0, s1))?,
                    event_count: be16(e0, e1),
                    message_count: be16(m0, m1),
                    events,
                })
            }
            Request::ReportServerId => {
                let [count, ref data @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                if count == 0 || usize::from(count) != data.len() {
                    return Err(malformed(Violation::ByteCount));
                }
                Response::ReportServerId(data)
            }
            Request::ReadFileRecord(refs) => {
                let [count, ref groups @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                if usize::from(count) != groups.len() {
                    return Err(malformed(Violation::ByteCount));
                }
                let data = FileRecordData::new(groups).ok_or(malformed(Violation::FileRecord))?;
                let answers = data.len() == refs.len()
                    && data
                        .iter()
                        .zip(refs.iter())
                        .all(|(got, asked)| got.len() == usize::from(asked.record_length));
                if !answers {
                    return Err(malformed(Violation::ByteCount));
                }
                Response::ReadFileRecord(data)
            }
            Request::WriteFileRecord(records) => {
                let [count, ref groups @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                if usize::from(count) != groups.len() {
                    return Err(malformed(Violation::ByteCount));
                }
                check_echo(groups == records.as_bytes())?;
                let echo = FileRecords::new(groups).ok_or(malformed(Violation::FileRecord))?;
                Response::WriteFileRecord(echo)
            }
            Request::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            } => {
                let [a0, a1, n0, n1, o0, o1] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                check_echo(
                    (be16(a0, a1), be16(n0, n1), be16(o0, o1)) == (address, and_mask, or_mask),
                )?;
                Response::MaskWriteRegister {
                    address,
                    and_mask,
                    or_mask,
                }
            }
            Request::ReadFifoQueue { .. } => {
                let [c0, c1, f0, f1, ref data @ ..] = *body else {
                    return Err(malformed(Violation::PduLength));
                };
                let fifo_count = be16(f0, f1);
                if fifo_count > MAX_FIFO_COUNT {
                    return Err(malformed(Violation::Quantity));
                }
                if usize::from(be16(c0, c1)) != 2 + 2 * usize::from(fifo_count) {
                    return Err(malformed(Violation::ByteCount));
                }
                if data.len() != 2 * usize::from(fifo_count) {
                    return Err(malformed(Violation::PduLength));
                }
                Response::ReadFifoQueue(
                    Registers::new(data).ok_or(malformed(Violation::PduLength))?,
                )
            }
        })
    }

    /// The function code of the request this response answers (below 0x80 for exceptions
    /// too).
    pub const fn function(&self) -> u8 {
        match self {
            Response::ReadCoils(_) => 0x01,
            Response::ReadDiscreteInputs(_) => 0x02,
            Response::ReadHoldingRegisters(_) => 0x03,
            Response::ReadInputRegisters(_) => 0x04,
            Response::WriteSingleCoil { .. } => 0x05,
            Response::WriteSingleRegister { .. } => 0x06,
            Response::WriteMultipleCoils { .. } => 0x0F,
            Response::WriteMultipleRegisters { .. } => 0x10,
            Response::ReadWriteMultipleRegisters(_) => 0x17,
            Response::ReadDeviceIdentification(_) => 0x2B,
            Response::ReadExceptionStatus(_) => 0x07,
            Response::Diagnostics { .. } => 0x08,
            Response::GetCommEventCounter(_) => 0x0B,
            Response::GetCommEventLog(_) => 0x0C,
            Response::ReportServerId(_) => 0x11,
            Response::ReadFileRecord(_) => 0x14,
            Response::WriteFileRecord(_) => 0x15,
            Response::MaskWriteRegister { .. } => 0x16,
            Response::ReadFifoQueue(_) => 0x18,
            Response::Exception { function, .. } => *function,
        }
    }

    /// Whether this is an exception response.
    pub const fn is_exception(&self) -> bool {
        matches!(self, Response::Exception { .. })
    }

    /// Checks the limits a response can be checked against without its request.
    fn check(&self) -> Result<(), Violation> {
        let quantity = |len: usize, max: u16| {
            if (1..=usize::from(max)).contains(&len) {
                Ok(())
            } else {
                Err(Violation::Quantity)
            }
        };
        let range = |address: u16, q: u16, max: u16| {
            quantity(usize::from(q), max)?;
            if fits_address_space(address, q) {
                Ok(())
            } else {
                Err(Violation::AddressRange)
            }
        };
        match *self {
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                quantity(bits.len(), MAX_READ_BITS)
            }
            Response::ReadHoldingRegisters(regs)
            | Response::ReadInputRegisters(regs)
            | Response::ReadWriteMultipleRegisters(regs) => {
                quantity(regs.len(), MAX_READ_REGISTERS)
            }
            Response::WriteSingleCoil { .. } | Response::WriteSingleRegister { .. } => Ok(()),
            Response::WriteMultipleCoils { address, quantity } => {
                range(address, quantity, MAX_WRITE_BITS)
            }
            Response::WriteMultipleRegisters { address, quantity } => {
                range(address, quantity, MAX_WRITE_REGISTERS)
            }
            Response::ReadDeviceIdentification(identification) => {
                identification.check()?;
                if self.buffer_len() > MAX_PDU_LEN {
                    return Err(Violation::LengthTooLong);
                }
                Ok(())
            }
            Response::ReadExceptionStatus(_)
            | Response::GetCommEventCounter(_)
            | Response::MaskWriteRegister { .. } => Ok(()),
            Response::Diagnostics { data, .. } => at_most(data.len(), MAX_DIAGNOSTIC_DATA),
            Response::GetCommEventLog(log) => at_most(log.events.len(), MAX_COMM_EVENTS),
            Response::ReportServerId(data) => {
                if data.is_empty() {
                    return Err(Violation::Quantity);
                }
                at_most(data.len(), MAX_SERVER_ID_LEN)
            }
            Response::ReadFileRecord(data) => {
                if data.is_empty() {
                    return Err(Violation::Quantity);
                }
                at_most(self.buffer_len(), MAX_PDU_LEN).map_err(|_| Violation::LengthTooLong)
            }
            Response::WriteFileRecord(records) => {
                // What a request accepts; the echo is checked against it.
                Request::WriteFileRecord(records)
                    .check()
                    .map_err(|(_, violation)| violation)
            }
            Response::ReadFifoQueue(values) => at_most(values.len(), usize::from(MAX_FIFO_COUNT)),
            Response::Exception { function, .. } if function & EXCEPTION_BIT != 0 => {
                Err(Violation::ExceptionFunction)
            }
            Response::Exception { .. } => Ok(()),
        }
    }

    /// The length of the PDU [`emit`](Response::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                2 + bits.as_bytes().len()
            }
            Response::ReadHoldingRegisters(regs)
            | Response::ReadInputRegisters(regs)
            | Response::ReadWriteMultipleRegisters(regs) => 2 + regs.as_bytes().len(),
            Response::ReadDeviceIdentification(identification) => 1 + identification.body_len(),
            Response::Exception { .. } | Response::ReadExceptionStatus(_) => 2,
            Response::Diagnostics { data, .. } => 3 + data.as_bytes().len(),
            Response::GetCommEventLog(log) => 8 + log.events.len(),
            Response::ReportServerId(data) => 2 + data.len(),
            Response::ReadFileRecord(data) => 2 + data.as_bytes().len(),
            Response::WriteFileRecord(records) => 2 + records.as_bytes().len(),
            Response::MaskWriteRegister { .. } => 7,
            Response::ReadFifoQueue(values) => 5 + values.as_bytes().len(),
            _ => 5,
        }
    }

    /// Writes the response PDU into the start of `buf` and returns its length,
    /// [`buffer_len`](Response::buffer_len).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the response breaks a limit: [`Violation::Quantity`] for 0 or
    /// too many values, [`Violation::AddressRange`] for a write echo past 0x10000,
    /// [`Violation::ExceptionFunction`] for an exception function code of 0x80 or more,
    /// [`Violation::DeviceIdentification`] or [`Violation::LengthTooLong`] for an inconsistent
    /// or oversized device identification.
    /// [`Error::BufferTooSmall`] if `buf` is shorter than the PDU. Nothing is written on
    /// error.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check().map_err(Error::Invalid)?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        match *self {
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                let bytes = bits.as_bytes();
                debug_assert_eq!(bytes.len(), bit_bytes(bits.len() as u16));
                w.u8(self.function()).u8(bytes.len() as u8).bytes(bytes)
            }
            Response::ReadHoldingRegisters(regs)
            | Response::ReadInputRegisters(regs)
            | Response::ReadWriteMultipleRegisters(regs) => {
                let bytes = regs.as_bytes();
                w.u8(self.function()).u8(bytes.len() as u8).bytes(bytes)
            }
            Response::WriteSingleCoil { address, value } => w
                .u8(self.function())
                .u16(address)
                .u16(if value { COIL_ON } else { COIL_OFF }),
            Response::WriteSingleRegister {
                address,
                value: second,
            }
            | Response::WriteMultipleCoils {
                address,
                quantity: second,
            }
            | Response::WriteMultipleRegisters {
                address,
                quantity: second,
            } => w.u8(self.function()).u16(address).u16(second),
            Response::ReadDeviceIdentification(identification) => {
                identification.emit_body(w.u8(self.function()));
                &mut w
            }
            Response::Exception { function, code } => {
                w.u8(function | EXCEPTION_BIT).u8(code.as_u8())
            }
            Response::ReadExceptionStatus(status) => w.u8(self.function()).u8(status),
            Response::Diagnostics { sub_function, data } => w
                .u8(self.function())
                .u16(sub_function)
                .bytes(data.as_bytes()),
            Response::GetCommEventCounter(counter) => w
                .u8(self.function())
                .u16(status_word(counter.busy))
                .u16(counter.event_count),
            Response::GetCommEventLog(log) => w
                .u8(self.function())
                .u8(6 + log.events.len() as u8)
                .u16(status_word(log.busy))
                .u16(log.event_count)
                .u16(log.message_count)
                .bytes(log.events),
            Response::ReportServerId(data) => {
                w.u8(self.function()).u8(data.len() as u8).bytes(data)
            }
            Response::ReadFileRecord(data) => {
                let bytes = data.as_bytes();
                w.u8(self.function()).u8(bytes.len() as u8).bytes(bytes)
            }
            Response::WriteFileRecord(records) => {
                let bytes = records.as_bytes();
                w.u8(self.function()).u8(bytes.len() as u8).bytes(bytes)
            }
            Response::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            } => w
                .u8(self.function())
                .u16(address)
                .u16(and_mask)
                .u16(or_mask),
            Response::ReadFifoQueue(values) => {
                let bytes = values.as_bytes();
                w.u8(self.function())
                    .u16(2 + bytes.len() as u16)
                    .u16(values.len() as u16)
                    .bytes(bytes)
            }
        };
        Ok(w.finish())
    }

    /// Writes a whole Modbus/TCP frame, `header` then the PDU, into the start of `buf` and
    /// returns its length.
    ///
    /// # Errors
    ///
    /// As [`emit`](Response::emit); [`Error::BufferTooSmall`] counts the header too.
    pub fn emit_frame(&self, header: Header, buf: &mut [u8]) -> Result<usize> {
        header.emit_frame(buf, self.buffer_len(), |pdu| self.emit(pdu))
    }
}

const fn malformed(violation: Violation) -> Error {
    Error::Malformed(violation)
}

fn at_most(len: usize, max: usize) -> Result<(), Violation> {
    if len <= max {
        Ok(())
    } else {
        Err(Violation::Quantity)
    }
}

/// Whether a comm event status word says busy.
fn parse_status(word: u16) -> Result<bool> {
    match word {
        STATUS_READY => Ok(false),
        STATUS_BUSY => Ok(true),
        _ => Err(malformed(Violation::StatusWord)),
    }
}

fn parse_bits(body: &[u8], quantity: u16) -> Result<Bits<'_>> {
    let [count, ref data @ ..] = *body else {
        return Err(malformed(Violation::PduLength));
    };
    if usize::from(count) != bit_bytes(quantity) {
        return Err(malformed(Violation::ByteCount));
    }
    Bits::new(data, quantity).ok_or(malformed(Violation::PduLength))
}

fn parse_registers(body: &[u8], quantity: u16) -> Result<Registers<'_>> {
    let [count, ref data @ ..] = *body else {
        return Err(malformed(Violation::PduLength));
    };
    if usize::from(count) != 2 * usize::from(quantity) {
        return Err(malformed(Violation::ByteCount));
    }
    if data.len() != usize::from(count) {
        return Err(malformed(Violation::PduLength));
    }
    Registers::new(data).ok_or(malformed(Violation::PduLength))
}

/// The two 16-bit fields of a write response.
fn parse_pair(body: &[u8]) -> Result<(u16, u16)> {
    let [a0, a1, b0, b1] = *body else {
        return Err(malformed(Violation::PduLength));
    };
    Ok((be16(a0, a1), be16(b0, b1)))
}

fn check_echo(matches: bool) -> Result<()> {
    if matches {
        Ok(())
    } else {
        Err(malformed(Violation::EchoMismatch))
    }
}
