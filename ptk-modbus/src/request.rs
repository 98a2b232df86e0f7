//! Requests: the PDUs a client sends and a server parses.

use crate::device_id::MEI_READ_DEVICE_ID;
use crate::error::{Error, Result, Violation};
use crate::file_record::{GROUP_HEADER_LEN, REFERENCE_TYPE};
use crate::limits::{
    bit_bytes, fits_address_space, MAX_DIAGNOSTIC_DATA, MAX_FILE_RECORD_NUMBER, MAX_PDU_LEN,
    MAX_READ_BITS, MAX_READ_REGISTERS, MAX_READ_WRITE_REGISTERS, MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS, READ_FILE_BYTE_COUNT, WRITE_FILE_BYTE_COUNT,
};
use crate::mbap::Header;
use crate::wire::{be16, Writer};
use crate::{
    Bits, ExceptionCode, FileRecordRefs, FileRecords, FunctionCode, ReadDeviceIdCode, Registers,
};

/// The on-the-wire value of a coil that is on, in write single coil.
pub(crate) const COIL_ON: u16 = 0xFF00;
/// The on-the-wire value of a coil that is off, in write single coil.
pub(crate) const COIL_OFF: u16 = 0x0000;

/// What a server answers for a broken rule: the exception code and the rule.
pub(crate) type Reject = (ExceptionCode, Violation);

const BAD_LENGTH: Reject = (ExceptionCode::IllegalDataValue, Violation::PduLength);

/// A parsed Modbus request PDU, borrowing its data from the buffer it was parsed from.
///
/// [`parse`](Request::parse) accepts exactly the PDUs the specification allows, and
/// [`emit`](Request::emit) writes only PDUs `parse` accepts: both enforce every quantity,
/// byte count and address limit of [`limits`](crate::limits). Emitting a parsed request gives
/// back the bytes it was parsed from.
///
/// # Examples
///
/// ```
/// use ptk_modbus::{Registers, Request};
///
/// // Write multiple registers, the example of the specification: 0x000A and 0x0102 to
/// // registers 2 and 3 (address 1).
/// let pdu = [0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02];
/// let request = Request::parse(&pdu).unwrap();
/// let Request::WriteMultipleRegisters { address, values } = request else { unreachable!() };
/// assert_eq!(address, 1);
/// assert!(values.iter().eq([0x000A, 0x0102]));
///
/// let mut buf = [0u8; 253];
/// let n = request.emit(&mut buf).unwrap();
/// assert_eq!(n, request.buffer_len());
/// assert_eq!(&buf[..n], &pdu);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request<'a> {
    /// 0x01: read `quantity` (1..=2000) coils from `address`.
    ReadCoils {
        /// The first coil's address.
        address: u16,
        /// How many coils to read.
        quantity: u16,
    },
    /// 0x02: read `quantity` (1..=2000) discrete inputs from `address`.
    ReadDiscreteInputs {
        /// The first input's address.
        address: u16,
        /// How many inputs to read.
        quantity: u16,
    },
    /// 0x03: read `quantity` (1..=125) holding registers from `address`.
    ReadHoldingRegisters {
        /// The first register's address.
        address: u16,
        /// How many registers to read.
        quantity: u16,
    },
    /// 0x04: read `quantity` (1..=125) input registers from `address`.
    ReadInputRegisters {
        /// The first register's address.
        address: u16,
        /// How many registers to read.
        quantity: u16,
    },
    /// 0x05: switch the coil at `address` on (`true`, 0xFF00) or off (`false`, 0x0000).
    WriteSingleCoil {
        /// The coil's address.
        address: u16,
        /// The new state.
        value: bool,
    },
    /// 0x06: write `value` to the holding register at `address`.
    WriteSingleRegister {
        /// The register's address.
        address: u16,
        /// The new value.
        value: u16,
    },
    /// 0x0F: write `values` (1..=1968 coils) from `address`.
    WriteMultipleCoils {
        /// The first coil's address.
        address: u16,
        /// The new states.
        values: Bits<'a>,
    },
    /// 0x10: write `values` (1..=123 registers) from `address`.
    WriteMultipleRegisters {
        /// The first register's address.
        address: u16,
        /// The new values.
        values: Registers<'a>,
    },
    /// 0x17: write `values` (1..=121 registers) from `write_address`, then read
    /// `read_quantity` (1..=125) registers from `read_address`.
    ReadWriteMultipleRegisters {
        /// The first register to read.
        read_address: u16,
        /// How many registers to read.
        read_quantity: u16,
        /// The first register to write.
        write_address: u16,
        /// The values to write.
        values: Registers<'a>,
    },
    /// 0x07: read the eight exception status outputs.
    ReadExceptionStatus,
    /// 0x08: diagnostics `sub_function` (see [`Diagnostic`](crate::Diagnostic)) with `data`
    /// (0..=125 registers).
    Diagnostics {
        /// The sub-function code.
        sub_function: u16,
        /// The request data.
        data: Registers<'a>,
    },
    /// 0x0B: get the communication event counter.
    GetCommEventCounter,
    /// 0x0C: get the communication event log.
    GetCommEventLog,
    /// 0x11: report the server id.
    ReportServerId,
    /// 0x14: read the groups of records `refs` names (1..=35 groups, whose answer fits one
    /// PDU).
    ReadFileRecord(FileRecordRefs<'a>),
    /// 0x15: write the groups of records `records` carries (1 or more, in 9..=251 bytes).
    WriteFileRecord(FileRecords<'a>),
    /// 0x16: set the holding register at `address` to `(current AND and_mask) OR (or_mask
    /// AND NOT and_mask)`.
    MaskWriteRegister {
        /// The register's address.
        address: u16,
        /// The bits of the current value to keep.
        and_mask: u16,
        /// The bits to set among those not kept.
        or_mask: u16,
    },
    /// 0x18: read the FIFO queue whose count register is at `address`.
    ReadFifoQueue {
        /// The address of the FIFO's count register.
        address: u16,
    },
    /// 0x2B / 0x0E: read the device identification objects `code` selects, starting at (or,
    /// for [`ReadDeviceIdCode::Individual`], only) `object_id`.
    ReadDeviceIdentification {
        /// Which objects to read and how.
        code: ReadDeviceIdCode,
        /// The first object to read (stream access) or the one object (individual access).
        object_id: u8,
    },
}

impl<'a> Request<'a> {
    /// Parses a request PDU (function code and data, without the MBAP header), as a server
    /// does.
    ///
    /// The checks follow the order of the specification's state diagrams: function code,
    /// then quantity and byte count, then address range.
    ///
    /// # Errors
    ///
    /// * [`Error::Malformed`] with [`Violation::EmptyPdu`] or [`Violation::LengthTooLong`] if
    ///   `pdu` is empty or longer than 253 bytes (a [`Frame`](crate::Frame) never yields such
    ///   a PDU);
    /// * [`Error::Exception`] for a PDU the server must answer with an exception:
    ///   - [`ExceptionCode::IllegalFunction`] for a function code the codec does not know, or
    ///     an encapsulated interface transport (43) of another MEI type than 14;
    ///   - [`ExceptionCode::IllegalDataValue`] for a quantity out of its range, a byte count
    ///     inconsistent with the quantity, a PDU whose length does not fit its function code,
    ///     a write single coil value other than 0xFF00 and 0x0000, or a Read Device ID code
    ///     outside 1..=4;
    ///   - [`ExceptionCode::IllegalDataAddress`] when address plus quantity passes 0x10000, or
    ///     for a file record group of reference type other than 6, file number 0 or records
    ///     outside 0..=9999 ([`Violation::FileRecord`]).
    pub fn parse(pdu: &'a [u8]) -> Result<Request<'a>> {
        let Some((&function, body)) = pdu.split_first() else {
            return Err(Error::Malformed(Violation::EmptyPdu));
        };
        if pdu.len() > MAX_PDU_LEN {
            return Err(Error::Malformed(Violation::LengthTooLong));
        }
        let reject = |(code, violation): Reject| Error::Exception {
            function,
            code,
            violation,
        };
        let request = Request::parse_body(function, body).map_err(reject)?;
        request.check().map_err(reject)?;
        Ok(request)
    }

    fn parse_body(function: u8, body: &'a [u8]) -> Result<Request<'a>, Reject> {
        use FunctionCode as F;
        let Some(code) = FunctionCode::from_u8(function) else {
            return Err((ExceptionCode::IllegalFunction, Violation::UnknownFunction));
        };
        Ok(match code {
            F::ReadCoils
            | F::ReadDiscreteInputs
            | F::ReadHoldingRegisters
            | F::ReadInputRegisters => {
                let [a0, a1, q0, q1] = *body else {
                    return Err(BAD_LENGTH);
                };
                let (address, quantity) = (be16(a0, a1), be16(q0, q1));
                match code {
                    F::ReadCoils => Request::ReadCoils { address, quantity },
                    F::ReadDiscreteInputs => Request::ReadDiscreteInputs { address, quantity },
                    F::ReadHoldingRegisters => Request::ReadHoldingRegisters { address, quantity },
                    _ => Request::ReadInputRegisters { address, quantity },
                }
            }
            F::WriteSingleCoil => {
                let [a0, a1, v0, v1] = *body else {
                    return Err(BAD_LENGTH);
                };
                let value = match be16(v0, v1) {
                    COIL_ON => true,
                    COIL_OFF => false,
                    _ => return Err((ExceptionCode::IllegalDataValue, Violation::CoilValue)),
                };
                Request::WriteSingleCoil {
                    address: be16(a0, a1),
                    value,
                }
            }
            F::WriteSingleRegister => {
                let [a0, a1, v0, v1] = *body else {
                    return Err(BAD_LENGTH);
                };
                Request::WriteSingleRegister {
                    address: be16(a0, a1),
                    value: be16(v0, v1),
                }
            }
            F::WriteMultipleCoils => {
                let [a0, a1, q0, q1, count, ref data @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                let quantity = be16(q0, q1);
                check_quantity(quantity, MAX_WRITE_BITS)?;
                check_byte_count(count, bit_bytes(quantity), data)?;
                let values = Bits::new(data, quantity).ok_or(BAD_LENGTH)?;
                Request::WriteMultipleCoils {
                    address: be16(a0, a1),
                    values,
                }
            }
            F::WriteMultipleRegisters => {
                let [a0, a1, q0, q1, count, ref data @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                let quantity = be16(q0, q1);
                check_quantity(quantity, MAX_WRITE_REGISTERS)?;
                check_byte_count(count, 2 * usize::from(quantity), data)?;
                let values = Registers::new(data).ok_or(BAD_LENGTH)?;
                Request::WriteMultipleRegisters {
                    address: be16(a0, a1),
                    values,
                }
            }
            F::ReadWriteMultipleRegisters => {
                let [r0, r1, rq0, rq1, w0, w1, wq0, wq1, count, ref data @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                let read_quantity = be16(rq0, rq1);
                let write_quantity = be16(wq0, wq1);
                check_quantity(read_quantity, MAX_READ_REGISTERS)?;
                check_quantity(write_quantity, MAX_READ_WRITE_REGISTERS)?;
                check_byte_count(count, 2 * usize::from(write_quantity), data)?;
                let values = Registers::new(data).ok_or(BAD_LENGTH)?;
                Request::ReadWriteMultipleRegisters {
                    read_address: be16(r0, r1),
                    read_quantity,
                    write_address: be16(w0, w1),
                    values,
                }
            }
            F::ReadExceptionStatus
            | F::GetCommEventCounter
            | F::GetCommEventLog
            | F::ReportServerId => {
                if !body.is_empty() {
                    return Err(BAD_LENGTH);
                }
                match code {
                    F::ReadExceptionStatus => Request::ReadExceptionStatus,
                    F::GetCommEventCounter => Request::GetCommEventCounter,
                    F::GetCommEventLog => Request::GetCommEventLog,
                    _ => Request::ReportServerId,
                }
            }
            F::Diagnostics => {
                let [s0, s1, ref data @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                Request::Diagnostics {
                    sub_function: be16(s0, s1),
                    data: Registers::new(data).ok_or(BAD_LENGTH)?,
                }
            }
            F::ReadFileRecord => {
                let [count, ref groups @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                if !READ_FILE_BYTE_COUNT.contains(&count)
                    || usize::from(count) % GROUP_HEADER_LEN != 0
                {
                    return Err((ExceptionCode::IllegalDataValue, Violation::ByteCount));
                }
                if groups.len() != usize::from(count) {
                    return Err(BAD_LENGTH);
                }
                let refs = FileRecordRefs::new(groups).ok_or(BAD_FILE_RECORD)?;
                Request::ReadFileRecord(refs)
            }
            F::WriteFileRecord => {
                let [count, ref groups @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                if !WRITE_FILE_BYTE_COUNT.contains(&count) {
                    return Err((ExceptionCode::IllegalDataValue, Violation::ByteCount));
                }
                if groups.len() != usize::from(count) {
                    return Err(BAD_LENGTH);
                }
                Request::WriteFileRecord(parse_write_groups(groups)?)
            }
            F::MaskWriteRegister => {
                let [a0, a1, n0, n1, o0, o1] = *body else {
                    return Err(BAD_LENGTH);
                };
                Request::MaskWriteRegister {
                    address: be16(a0, a1),
                    and_mask: be16(n0, n1),
                    or_mask: be16(o0, o1),
                }
            }
            F::ReadFifoQueue => {
                let [a0, a1] = *body else {
                    return Err(BAD_LENGTH);
                };
                Request::ReadFifoQueue {
                    address: be16(a0, a1),
                }
            }
            F::EncapsulatedInterfaceTransport => {
                let [mei, ref rest @ ..] = *body else {
                    return Err(BAD_LENGTH);
                };
                if mei != MEI_READ_DEVICE_ID {
                    return Err((ExceptionCode::IllegalFunction, Violation::MeiType));
                }
                let [code, object_id] = *rest else {
                    return Err(BAD_LENGTH);
                };
                let Some(code) = ReadDeviceIdCode::from_u8(code) else {
                    return Err((ExceptionCode::IllegalDataValue, Violation::ReadDeviceIdCode));
                };
                Request::ReadDeviceIdentification { code, object_id }
            }
        })
    }

    /// Checks every limit of the request's function code: the quantity range first, then the
    /// address range, as a server does.
    pub(crate) fn check(&self) -> Result<(), Reject> {
        match *self {
            Request::ReadCoils { address, quantity }
            | Request::ReadDiscreteInputs { address, quantity } => {
                check_range(address, quantity, MAX_READ_BITS)
            }
            Request::ReadHoldingRegisters { address, quantity }
            | Request::ReadInputRegisters { address, quantity } => {
                check_range(address, quantity, MAX_READ_REGISTERS)
            }
            Request::WriteSingleCoil { .. }
            | Request::WriteSingleRegister { .. }
            | Request::ReadDeviceIdentification { .. }
            | Request::ReadExceptionStatus
            | Request::GetCommEventCounter
            | Request::GetCommEventLog
            | Request::ReportServerId
            | Request::MaskWriteRegister { .. }
            | Request::ReadFifoQueue { .. } => Ok(()),
            Request::Diagnostics { data, .. } => {
                if data.len() <= MAX_DIAGNOSTIC_DATA {
                    Ok(())
                } else {
                    Err((ExceptionCode::IllegalDataValue, Violation::Quantity))
                }
            }
            Request::ReadFileRecord(refs) => {
                let count = refs.as_bytes().len();
                if count == 0 || !READ_FILE_BYTE_COUNT.contains(&(count.min(255) as u8)) {
                    return Err((ExceptionCode::IllegalDataValue, Violation::ByteCount));
                }
                // The answer: function code, byte count, and per group a length, the
                // reference type and the registers.
                let mut answer_len = 2;
                for r in refs.iter() {
                    if r.record_length == 0 {
                        return Err((ExceptionCode::IllegalDataValue, Violation::Quantity));
                    }
                    check_records(r.file_number, r.record_number, r.record_length)?;
                    answer_len += 2 + 2 * usize::from(r.record_length);
                }
                if answer_len > MAX_PDU_LEN {
                    return Err((ExceptionCode::IllegalDataValue, Violation::Quantity));
                }
                Ok(())
            }
            Request::WriteFileRecord(records) => {
                let count = records.as_bytes().len();
                if count > 255 || !WRITE_FILE_BYTE_COUNT.contains(&(count as u8)) {
                    return Err((ExceptionCode::IllegalDataValue, Violation::ByteCount));
                }
                for r in records.iter() {
                    if r.values.is_empty() {
                        return Err((ExceptionCode::IllegalDataValue, Violation::Quantity));
                    }
                    check_records(r.file_number, r.record_number, count_of(r.values.len()))?;
                }
                Ok(())
            }
            Request::WriteMultipleCoils { address, values } => {
                check_range(address, count(values.len()), MAX_WRITE_BITS)
            }
            Request::WriteMultipleRegisters { address, values } => {
                check_range(address, count(values.len()), MAX_WRITE_REGISTERS)
            }
            Request::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                write_address,
                values,
            } => {
                let write_quantity = count(values.len());
                check_quantity(read_quantity, MAX_READ_REGISTERS)?;
                check_quantity(write_quantity, MAX_READ_WRITE_REGISTERS)?;
                check_range(read_address, read_quantity, MAX_READ_REGISTERS)?;
                check_range(write_address, write_quantity, MAX_READ_WRITE_REGISTERS)
            }
        }
    }

    /// The function code of the request.
    pub const fn function_code(&self) -> FunctionCode {
        match self {
            Request::ReadCoils { .. } => FunctionCode::ReadCoils,
            Request::ReadDiscreteInputs { .. } => FunctionCode::ReadDiscreteInputs,
            Request::ReadHoldingRegisters { .. } => FunctionCode::ReadHoldingRegisters,
            Request::ReadInputRegisters { .. } => FunctionCode::ReadInputRegisters,
            Request::WriteSingleCoil { .. } => FunctionCode::WriteSingleCoil,
            Request::WriteSingleRegister { .. } => FunctionCode::WriteSingleRegister,
            Request::WriteMultipleCoils { .. } => FunctionCode::WriteMultipleCoils,
            Request::WriteMultipleRegisters { .. } => FunctionCode::WriteMultipleRegisters,
            Request::ReadWriteMultipleRegisters { .. } => FunctionCode::ReadWriteMultipleRegisters,
            Request::ReadDeviceIdentification { .. } => {
                FunctionCode::EncapsulatedInterfaceTransport
            }
            Request::ReadExceptionStatus => FunctionCode::ReadExceptionStatus,
            Request::Diagnostics { .. } => FunctionCode::Diagnostics,
            Request::GetCommEventCounter => FunctionCode::GetCommEventCounter,
            Request::GetCommEventLog => FunctionCode::GetCommEventLog,
            Request::ReportServerId => FunctionCode::ReportServerId,
            Request::ReadFileRecord(_) => FunctionCode::ReadFileRecord,
            Request::WriteFileRecord(_) => FunctionCode::WriteFileRecord,
            Request::MaskWriteRegister { .. } => FunctionCode::MaskWriteRegister,
            Request::ReadFifoQueue { .. } => FunctionCode::ReadFifoQueue,
        }
    }

    /// The length of the PDU [`emit`](Request::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Request::WriteMultipleCoils { values, .. } => 6 + values.as_bytes().len(),
            Request::WriteMultipleRegisters { values, .. } => 6 + values.as_bytes().len(),
            Request::ReadWriteMultipleRegisters { values, .. } => 10 + values.as_bytes().len(),
            Request::ReadDeviceIdentification { .. } => 4,
            Request::ReadExceptionStatus
            | Request::GetCommEventCounter
            | Request::GetCommEventLog
            | Request::ReportServerId => 1,
            Request::Diagnostics { data, .. } => 3 + data.as_bytes().len(),
            Request::ReadFileRecord(refs) => 2 + refs.as_bytes().len(),
            Request::WriteFileRecord(records) => 2 + records.as_bytes().len(),
            Request::MaskWriteRegister { .. } => 7,
            Request::ReadFifoQueue { .. } => 3,
            _ => 5,
        }
    }

    /// Writes the request PDU into the start of `buf` and returns its length,
    /// [`buffer_len`](Request::buffer_len).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the request breaks a limit (the [`Violation`] that
    /// [`parse`](Request::parse) would report); [`Error::BufferTooSmall`] if `buf` is shorter
    /// than the PDU. Nothing is written on error.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()
            .map_err(|(_, violation)| Error::Invalid(violation))?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u8(self.function_code().as_u8());
        match *self {
            Request::ReadCoils { address, quantity }
            | Request::ReadDiscreteInputs { address, quantity }
            | Request::ReadHoldingRegisters { address, quantity }
            | Request::ReadInputRegisters { address, quantity } => w.u16(address).u16(quantity),
            Request::WriteSingleCoil { address, value } => {
                w.u16(address).u16(if value { COIL_ON } else { COIL_OFF })
            }
            Request::WriteSingleRegister { address, value } => w.u16(address).u16(value),
            Request::WriteMultipleCoils { address, values } => {
                let bytes = values.as_bytes();
                w.u16(address)
                    .u16(count(values.len()))
                    .u8(bytes.len() as u8)
                    .bytes(bytes)
            }
            Request::WriteMultipleRegisters { address, values } => {
                let bytes = values.as_bytes();
                w.u16(address)
                    .u16(count(values.len()))
                    .u8(bytes.len() as u8)
                    .bytes(bytes)
            }
            Request::ReadWriteMultipleRegisters {
                read_address,
                read_quantity,
                write_address,
                values,
            } => {
                let bytes = values.as_bytes();
                w.u16(read_address)
                    .u16(read_quantity)
                    .u16(write_address)
                    .u16(count(values.len()))
                    .u8(bytes.len() as u8)
                    .bytes(bytes)
            }
            Request::ReadDeviceIdentification { code, object_id } => {
                w.u8(MEI_READ_DEVICE_ID).u8(code.as_u8()).u8(object_id)
            }
            Request::ReadExceptionStatus
            | Request::GetCommEventCounter
            | Request::GetCommEventLog
            | Request::ReportServerId => &mut w,
            Request::Diagnostics { sub_function, data } => {
                w.u16(sub_function).bytes(data.as_bytes())
            }
            Request::ReadFileRecord(refs) => {
                let bytes = refs.as_bytes();
                w.u8(bytes.len() as u8).bytes(bytes)
            }
            Request::WriteFileRecord(records) => {
                let bytes = records.as_bytes();
                w.u8(bytes.len() as u8).bytes(bytes)
            }
            Request::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            } => w.u16(address).u16(and_mask).u16(or_mask),
            Request::ReadFifoQueue { address } => w.u16(address),
        };
        Ok(w.finish())
    }

    /// Writes a whole Modbus/TCP frame, `header` then the PDU, into the start of `buf` and
    /// returns its length.
    ///
    /// # Errors
    ///
    /// As [`emit`](Request::emit); [`Error::BufferTooSmall`] counts the header too.
    ///
    /// # Examples
    ///
    /// ```
    /// use ptk_modbus::{Header, Request};
    ///
    /// let request = Request::ReadHoldingRegisters { address: 0x006B, quantity: 3 };
    /// let mut buf = [0u8; ptk_modbus::limits::MAX_FRAME_LEN];
    /// let n = request.emit_frame(Header { transaction_id: 1, unit_id: 0x11 }, &mut buf).unwrap();
    /// assert_eq!(&buf[..n], &[0, 1, 0, 0, 0, 6, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03]);
    /// ```
    pub fn emit_frame(&self, header: Header, buf: &mut [u8]) -> Result<usize> {
        header.emit_frame(buf, self.buffer_len(), |pdu| self.emit(pdu))
    }
}

/// A count of values as a quantity field; counts past `u16::MAX` cannot be valid anyway.
fn count(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

const fn count_of(len: usize) -> u16 {
    if len > u16::MAX as usize {
        u16::MAX
    } else {
        len as u16
    }
}

const BAD_FILE_RECORD: Reject = (ExceptionCode::IllegalDataAddress, Violation::FileRecord);

/// Checks the file and records of a file record group: file 1..=0xFFFF, records within
/// 0..=9999.
fn check_records(file_number: u16, record_number: u16, length: u16) -> Result<(), Reject> {
    let last = u32::from(record_number) + u32::from(length) - 1;
    if file_number == 0 || last > u32::from(MAX_FILE_RECORD_NUMBER) {
        Err(BAD_FILE_RECORD)
    } else {
        Ok(())
    }
}

/// The groups of a write file record request, whose byte count was checked: they must fill
/// `groups` exactly (a byte count that does not is an illegal data value) and be of reference
/// type 6 (an illegal data address, as the specification's state diagram has it).
fn parse_write_groups(groups: &[u8]) -> Result<FileRecords<'_>, Reject> {
    let mut rest = groups;
    while !rest.is_empty() {
        let [kind, _, _, _, _, l0, l1, ref tail @ ..] = *rest else {
            return Err((ExceptionCode::IllegalDataValue, Violation::ByteCount));
        };
        if kind != REFERENCE_TYPE {
            return Err(BAD_FILE_RECORD);
        }
        rest = tail
            .get(2 * usize::from(be16(l0, l1))..)
            .ok_or((ExceptionCode::IllegalDataValue, Violation::ByteCount))?;
    }
    FileRecords::new(groups).ok_or((ExceptionCode::IllegalDataValue, Violation::ByteCount))
}

fn check_quantity(quantity: u16, max: u16) -> Result<(), Reject> {
    if (1..=max).contains(&quantity) {
        Ok(())
    } else {
        Err((ExceptionCode::IllegalDataValue, Violation::Quantity))
    }
}

fn check_range(address: u16, quantity: u16, max: u16) -> Result<(), Reject> {
    check_quantity(quantity, max)?;
    if fits_address_space(address, quantity) {
        Ok(())
    } else {
        Err((ExceptionCode::IllegalDataAddress, Violation::AddressRange))
    }
}

fn check_byte_count(count: u8, expected: usize, data: &[u8]) -> Result<(), Reject> {
    if usize::from(count) != expected {
        Err((ExceptionCode::IllegalDataValue, Violation::ByteCount))
    } else if data.len() != expected {
        Err(BAD_LENGTH)
    } else {
        Ok(())
    }
}
