//! Answering one request frame from a [`DataModel`]: the part of the server that neither reads
//! nor writes sockets, so it is tested byte for byte without a loop.

use super::{DataModel, UnitIds};
use crate::limits::{MAX_FRAME_LEN, MAX_READ_BITS, MAX_READ_REGISTERS};
use crate::{Bits, Error, ExceptionCode, Frame, Header, Registers, Request, Response};

/// Room for the largest read of each kind, kept (in the server's [`Workspace`]) so a request
/// costs no large zeroing: only the part a request uses is cleared before the model fills it.
pub(crate) struct Scratch {
    bits: [bool; MAX_READ_BITS as usize],
    registers: [u16; MAX_READ_REGISTERS as usize],
    packed: [u8; 2 * MAX_READ_REGISTERS as usize],
}

impl Scratch {
    pub(crate) const fn new() -> Scratch {
        Scratch {
            bits: [false; MAX_READ_BITS as usize],
            registers: [0; MAX_READ_REGISTERS as usize],
            packed: [0; 2 * MAX_READ_REGISTERS as usize],
        }
    }
}

/// What answering needs besides the model and the answer's buffer, one per server: answers
/// are made one at a time on the loop's thread, so the connections share it.
pub(crate) struct Workspace {
    /// The request being answered, copied out of the pool buffer it was read into (the
    /// answer is written into another pool buffer, and the pool lends one view at a time).
    pub(crate) request: [u8; MAX_FRAME_LEN],
    pub(crate) scratch: Scratch,
}

impl Workspace {
    pub(crate) const fn new() -> Workspace {
        Workspace {
            request: [0; MAX_FRAME_LEN],
            scratch: Scratch::new(),
        }
    }
}

/// Answers the request in `frame` (a whole, checked frame) into the start of `out` and
/// returns the length of the response frame.
///
/// Requests for a unit id outside `units` get exception 0x0B (gateway target device failed to
/// respond), as a gateway answers for a device it does not know.
///
/// # Errors
///
/// A codec error that is not an exception (the connection must be closed), or
/// [`Error::BufferTooSmall`] if `out` is shorter than the response.
pub(crate) fn answer<M: DataModel + ?Sized>(
    model: &mut M,
    units: &UnitIds,
    frame: &Frame<&[u8]>,
    out: &mut [u8],
    scratch: &mut Scratch,
) -> Result<usize, Error> {
    let header = Header::parse(frame);
    let function = frame.pdu().first().copied().unwrap_or(0) & 0x7F;
    if !units.contains(header.unit_id) {
        let code = ExceptionCode::GatewayTargetFailedToRespond;
        return Response::Exception { function, code }.emit_frame(header, out);
    }
    let request = match Request::parse(frame.pdu()) {
        Ok(request) => request,
        Err(e) => {
            return match e.exception_response() {
                Some(exception) => exception.emit_frame(header, out),
                None => Err(e),
            };
        }
    };
    let Scratch {
        bits,
        registers,
        packed,
    } = scratch;
    let served = serve(model, &request, bits, registers, packed);
    let response = served.unwrap_or_else(|code| Response::Exception {
        function: request.function_code().as_u8(),
        code,
    });
    response.emit_frame(header, out)
}

/// Carries out `request` on `model`; the response borrows `packed`.
fn serve<'p, M: DataModel + ?Sized>(
    model: &mut M,
    request: &Request<'_>,
    bits: &mut [bool; MAX_READ_BITS as usize],
    registers: &mut [u16; MAX_READ_REGISTERS as usize],
    packed: &'p mut [u8],
) -> Result<Response<'p>, ExceptionCode> {
    // Packing cannot fail: `packed` holds the largest read, and the codec checked quantities.
    const PACK_FAILED: ExceptionCode = ExceptionCode::ServerDeviceFailure;
    Ok(match *request {
        Request::ReadCoils { address, quantity } => {
            let values = &mut bits[..usize::from(quantity)];
            values.fill(false);
            model.read_coils(address, values)?;
            Response::ReadCoils(Bits::pack(values, packed).map_err(|_| PACK_FAILED)?)
        }
        Request::ReadDiscreteInputs { address, quantity } => {
            let values = &mut bits[..usize::from(quantity)];
            values.fill(false);
            model.read_discrete_inputs(address, values)?;
            Response::ReadDiscreteInputs(Bits::pack(values, packed).map_err(|_| PACK_FAILED)?)
        }
        Request::ReadHoldingRegisters { address, quantity } => {
            let values = &mut registers[..usize::from(quantity)];
            values.fill(0);
            model.read_holding_registers(address, values)?;
            let values = Registers::encode(values, packed).map_err(|_| PACK_FAILED)?;
            Response::ReadHoldingRegisters(values)
        }
        Request::ReadInputRegisters { address, quantity } => {
            let values = &mut registers[..usize::from(quantity)];
            values.fill(0);
            model.read_input_registers(address, values)?;
            let values = Registers::encode(values, packed).map_err(|_| PACK_FAILED)?;
            Response::ReadInputRegisters(values)
        }
        Request::WriteSingleCoil { address, value } => {
            model.write_coils(address, &[value])?;
            Response::WriteSingleCoil { address, value }
        }
        Request::WriteSingleRegister { address, value } => {
            model.write_registers(address, &[value])?;
            Response::WriteSingleRegister { address, value }
        }
        Request::WriteMultipleCoils { address, values } => {
            let n = values.len();
            for (slot, value) in bits.iter_mut().zip(values.iter()) {
                *slot = value;
            }
            model.write_coils(address, &bits[..n])?;
            Response::WriteMultipleCoils {
                address,
                quantity: n as u16, // the codec checked: at most 1968
            }
        }
        Request::WriteMultipleRegisters { address, values } => {
            let n = values.len();
            for (slot, value) in registers.iter_mut().zip(values.iter()) {
                *slot = value;
            }
            model.write_registers(address, &registers[..n])?;
            Response::WriteMultipleRegisters {
                address,
                quantity: n as u16, // the codec checked: at most 123
            }
        }
        Request::ReadWriteMultipleRegisters {
            read_address,
            read_quantity,
            write_address,
            values,
        } => {
            let read = usize::from(read_quantity);
            // Check the read range before writing, so a refused request changes nothing.
            registers[..read].fill(0);
            model.read_holding_registers(read_address, &mut registers[..read])?;
            let n = values.len();
            for (slot, value) in registers.iter_mut().zip(values.iter()) {
                *slot = value;
            }
            model.write_registers(write_address, &registers[..n])?;
            let values = &mut registers[..read];
            values.fill(0);
            model.read_holding_registers(read_address, values)?;
            let values = Registers::encode(values, packed).map_err(|_| PACK_FAILED)?;
            Response::ReadWriteMultipleRegisters(values)
        }
        _ => return Err(ExceptionCode::IllegalFunction),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::MemoryModel;

    fn ask(model: &mut MemoryModel, units: &UnitIds, frame: &[u8]) -> Result<Vec<u8>, Error> {
        let frame = Frame::new_checked(frame)?;
        let mut out = [0u8; MAX_FRAME_LEN];
        let n = answer(model, units, &frame, &mut out, &mut Scratch::new())?;
        Ok(out[..n].to_vec())
    }

    #[test]
    fn a_read_is_answered_from_the_model() {
        let mut m = MemoryModel::new(10);
        m.holding_registers_mut()[1] = 0x1234;
        let r = ask(
            &mut m,
            &UnitIds::any(),
            &[0, 9, 0, 0, 0, 6, 1, 3, 0, 1, 0, 2],
        );
        assert_eq!(r, Ok(vec![0, 9, 0, 0, 0, 7, 1, 3, 4, 0x12, 0x34, 0, 0]));
    }

    #[test]
    fn an_address_past_the_model_is_an_illegal_data_address() {
        let mut m = MemoryModel::new(10);
        let r = ask(
            &mut m,
            &UnitIds::any(),
            &[0, 9, 0, 0, 0, 6, 1, 1, 0, 9, 0, 2],
        );
        assert_eq!(r, Ok(vec![0, 9, 0, 0, 0, 3, 1, 0x81, 2]));
    }

    #[test]
    fn a_refused_read_write_changes_nothing() {
        let mut m = MemoryModel::new(10);
        // Write 1 register at 0, read 2 from 9: the read is out of the model.
        let r = ask(
            &mut m,
            &UnitIds::any(),
            &[
                0, 1, 0, 0, 0, 13, 1, 0x17, 0, 9, 0, 2, 0, 0, 0, 1, 2, 0xAB, 0xCD,
            ],
        );
        assert_eq!(r, Ok(vec![0, 1, 0, 0, 0, 3, 1, 0x97, 2]));
        assert_eq!(m.holding_registers()[0], 0);
    }

    #[test]
    fn other_units_get_gateway_target_failed_to_respond() {
        let mut m = MemoryModel::new(10);
        let r = ask(
            &mut m,
            &UnitIds::only(7),
            &[0, 2, 0, 0, 0, 6, 8, 3, 0, 0, 0, 1],
        );
        assert_eq!(r, Ok(vec![0, 2, 0, 0, 0, 3, 8, 0x83, 0x0B]));
        let r = ask(
            &mut m,
            &UnitIds::only(7),
            &[0, 2, 0, 0, 0, 6, 7, 3, 0, 0, 0, 1],
        );
        assert_eq!(r, Ok(vec![0, 2, 0, 0, 0, 5, 7, 3, 2, 0, 0]));
    }

    #[test]
    fn device_identification_is_an_illegal_function() {
        let mut m = MemoryModel::new(10);
        let r = ask(
            &mut m,
            &UnitIds::any(),
            &[0, 3, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0],
        );
        assert_eq!(r, Ok(vec![0, 3, 0, 0, 0, 3, 1, 0xAB, 1]));
    }
}
