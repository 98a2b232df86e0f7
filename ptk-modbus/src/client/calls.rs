//! One request at a time, one method per function code, with the answer copied into the
//! caller's buffer.

use core::task::Poll;

use ptk_runtime::Cx;

use super::{Client, ClientError};
use crate::limits::{MAX_READ_BITS, MAX_WRITE_REGISTERS};
use crate::{Bits, Registers, Request, Response};

/// The answer did not have the shape of its request's answer (cannot happen: the client checked
/// it against the request).
const MISMATCH: ClientError =
    ClientError::Protocol(crate::Error::Malformed(crate::Violation::FunctionMismatch));

impl<const N: usize> Client<N> {
    /// Reads `out.len()` coils from `address` (function code 1) of
    /// [`ClientConfig::unit_id`](super::ClientConfig::unit_id) into `out`.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 2000 coils.
    pub fn poll_read_coils(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        out: &mut [bool],
    ) -> Poll<Result<(), ClientError>> {
        let quantity = quantity(out.len());
        let request = Request::ReadCoils { address, quantity };
        self.poll_bits(cx, &request, out)
    }

    /// Reads `out.len()` discrete inputs from `address` (function code 2) into `out`.
    ///
    /// # Errors
    ///
    /// As [`poll_read_coils`](Client::poll_read_coils).
    pub fn poll_read_discrete_inputs(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        out: &mut [bool],
    ) -> Poll<Result<(), ClientError>> {
        let quantity = quantity(out.len());
        let request = Request::ReadDiscreteInputs { address, quantity };
        self.poll_bits(cx, &request, out)
    }

    /// Reads `out.len()` holding registers from `address` (function code 3) into `out`.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 125 registers.
    pub fn poll_read_holding_registers(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        out: &mut [u16],
    ) -> Poll<Result<(), ClientError>> {
        let quantity = quantity(out.len());
        let request = Request::ReadHoldingRegisters { address, quantity };
        self.poll_registers(cx, &request, out)
    }

    /// Reads `out.len()` input registers from `address` (function code 4) into `out`.
    ///
    /// # Errors
    ///
    /// As [`poll_read_holding_registers`](Client::poll_read_holding_registers).
    pub fn poll_read_input_registers(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        out: &mut [u16],
    ) -> Poll<Result<(), ClientError>> {
        let quantity = quantity(out.len());
        let request = Request::ReadInputRegisters { address, quantity };
        self.poll_registers(cx, &request, out)
    }

    /// Writes one coil (function code 5).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_write_coil(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        value: bool,
    ) -> Poll<Result<(), ClientError>> {
        self.poll_write(cx, &Request::WriteSingleCoil { address, value })
    }

    /// Writes one holding register (function code 6).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_write_register(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        value: u16,
    ) -> Poll<Result<(), ClientError>> {
        self.poll_write(cx, &Request::WriteSingleRegister { address, value })
    }

    /// Writes `values` to the coils from `address` (function code 15).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 1968 coils.
    pub fn poll_write_coils(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        values: &[bool],
    ) -> Poll<Result<(), ClientError>> {
        let mut packed = [0u8; MAX_READ_BITS as usize / 8];
        let values = match Bits::pack(values, &mut packed) {
            Ok(bits) => bits,
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        self.poll_write(cx, &Request::WriteMultipleCoils { address, values })
    }

    /// Writes `values` to the holding registers from `address` (function code 16).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 123 registers.
    pub fn poll_write_registers(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        values: &[u16],
    ) -> Poll<Result<(), ClientError>> {
        let mut packed = [0u8; 2 * MAX_WRITE_REGISTERS as usize];
        let values = match Registers::encode(values, &mut packed) {
            Ok(registers) => registers,
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        self.poll_write(cx, &Request::WriteMultipleRegisters { address, values })
    }

    /// Writes `values` to the holding registers from `write_address`, then reads `out.len()`
    /// holding registers from `read_address` into `out`, in one transaction (function code
    /// 23).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 121 registers to write or 125 to read.
    pub fn poll_read_write_registers(
        &mut self,
        cx: &mut Cx<'_>,
        read_address: u16,
        out: &mut [u16],
        write_address: u16,
        values: &[u16],
    ) -> Poll<Result<(), ClientError>> {
        let mut packed = [0u8; 2 * MAX_WRITE_REGISTERS as usize];
        let values = match Registers::encode(values, &mut packed) {
            Ok(registers) => registers,
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        let request = Request::ReadWriteMultipleRegisters {
            read_address,
            read_quantity: quantity(out.len()),
            write_address,
            values,
        };
        self.poll_registers(cx, &request, out)
    }

    fn poll_write(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request<'_>,
    ) -> Poll<Result<(), ClientError>> {
        let unit = self.link.config.unit_id;
        self.poll_call(cx, unit, request).map(|r| r.map(|_| ()))
    }

    fn poll_bits(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request<'_>,
        out: &mut [bool],
    ) -> Poll<Result<(), ClientError>> {
        let unit = self.link.config.unit_id;
        let ticket = match self.poll_call(cx, unit, request) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(ticket)) => ticket,
        };
        Poll::Ready(match self.response(ticket) {
            Some(Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits)) => {
                for (slot, bit) in out.iter_mut().zip(bits.iter()) {
                    *slot = bit;
                }
                Ok(())
            }
            _ => Err(MISMATCH),
        })
    }

    fn poll_registers(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request<'_>,
        out: &mut [u16],
    ) -> Poll<Result<(), ClientError>> {
        let unit = self.link.config.unit_id;
        let ticket = match self.poll_call(cx, unit, request) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(ticket)) => ticket,
        };
        Poll::Ready(match self.response(ticket) {
            Some(
                Response::ReadHoldingRegisters(registers)
                | Response::ReadInputRegisters(registers)
                | Response::ReadWriteMultipleRegisters(registers),
            ) => {
                for (slot, value) in out.iter_mut().zip(registers.iter()) {
                    *slot = value;
                }
                Ok(())
            }
            _ => Err(MISMATCH),
        })
    }
}

/// A buffer length as a quantity; lengths past `u16::MAX` are refused by the codec anyway.
fn quantity(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}
