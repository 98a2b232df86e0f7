//! Responses: the PDUs a server sends and a client parses against the request it sent.

use crate::device_id::{DeviceIdentification, MEI_READ_DEVICE_ID};
use crate::error::{Error, Result, Violation};
use crate::limits::{
    bit_bytes, fits_address_space, MAX_PDU_LEN, MAX_READ_BITS, MAX_READ_REGISTERS, MAX_WRITE_BITS,
    MAX_WRITE_REGISTERS,
};
use crate::mbap::Header;
use crate::request::{COIL_OFF, COIL_ON};
use crate::wire::{be16, Writer};
use crate::{Bits, ExceptionCode, Registers, Request};

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
    ///   [`Violation::ReadDeviceIdCode`] and [`Violation::DeviceIdentification`] (see there).
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
            Response::Exception { .. } => 2,
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
