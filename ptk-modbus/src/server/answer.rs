//! Answering one request frame from a [`DataModel`]: the part of the server that neither reads
//! nor writes sockets, so it is tested byte for byte without a loop.

use super::{DataModel, DiagnosticCounters, UnitIds};
use crate::limits::{
    MAX_FIFO_COUNT, MAX_FRAME_LEN, MAX_PDU_LEN, MAX_READ_BITS, MAX_READ_REGISTERS,
    MAX_SERVER_ID_LEN,
};
use crate::{
    Bits, CommEventCounter, CommEventLog, DeviceIdentification, DeviceObjects, Error,
    ExceptionCode, FileRecordData, Frame, Header, ReadDeviceIdCode, Registers, Request, Response,
};

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
    /// The diagnostics of the server, which every connection's requests count in.
    pub(crate) counters: DiagnosticCounters,
}

impl Workspace {
    pub(crate) const fn new() -> Workspace {
        Workspace {
            request: [0; MAX_FRAME_LEN],
            scratch: Scratch::new(),
            counters: DiagnosticCounters::new(),
        }
    }
}

/// Answers the request in `frame` (a whole, checked frame) into the start of `out` and
/// returns the length of the response frame.
///
/// Requests for a unit id outside `units` get exception 0x0B (gateway target device failed to
/// respond), as a gateway answers for a device it does not know. Every request and answer is
/// counted in `counters`.
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
    counters: &mut DiagnosticCounters,
) -> Result<usize, Error> {
    let header = Header::parse(frame);
    let function = frame.pdu().first().copied().unwrap_or(0) & 0x7F;
    let ours = units.contains(header.unit_id);
    counters.received(ours);
    let response = if !ours {
        let code = ExceptionCode::GatewayTargetFailedToRespond;
        Response::Exception { function, code }
    } else {
        match Request::parse(frame.pdu()) {
            Ok(request) => {
                let Scratch {
                    bits,
                    registers,
                    packed,
                } = scratch;
                let served = serve(model, &request, bits, registers, packed, counters);
                served.unwrap_or_else(|code| Response::Exception { function, code })
            }
            Err(e) => match e.exception_response() {
                Some(exception) => exception,
                None => {
                    counters.broken_frame();
                    return Err(e);
                }
            },
        }
    };
    let exception = match response {
        Response::Exception { code, .. } => Some(code),
        _ => None,
    };
    let n = response.emit_frame(header, out)?;
    counters.answered(function, exception);
    Ok(n)
}

/// Carries out `request` on `model` (diagnostics on `counters`); the response borrows
/// `packed` or the request.
fn serve<'p, M: DataModel + ?Sized>(
    model: &mut M,
    request: &Request<'p>,
    bits: &mut [bool; MAX_READ_BITS as usize],
    registers: &mut [u16; MAX_READ_REGISTERS as usize],
    packed: &'p mut [u8],
    counters: &'p mut DiagnosticCounters,
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
        Request::ReadExceptionStatus => {
            Response::ReadExceptionStatus(model.read_exception_status()?)
        }
        Request::Diagnostics { sub_function, data } => {
            let n = counters.diagnose(sub_function, data, registers)?;
            let data = Registers::encode(&registers[..n], packed).map_err(|_| PACK_FAILED)?;
            Response::Diagnostics { sub_function, data }
        }
        Request::GetCommEventCounter => Response::GetCommEventCounter(CommEventCounter {
            busy: false,
            event_count: counters.event_count,
        }),
        Request::GetCommEventLog => {
            let counters: &'p DiagnosticCounters = counters;
            Response::GetCommEventLog(CommEventLog {
                busy: false,
                event_count: counters.event_count,
                message_count: counters.bus_messages,
                events: counters.events(),
            })
        }
        Request::ReportServerId => {
            let room = packed.len().min(MAX_SERVER_ID_LEN);
            let n = model.report_server_id(&mut packed[..room])?;
            if n == 0 || n > room {
                return Err(PACK_FAILED);
            }
            Response::ReportServerId(&packed[..n])
        }
        Request::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        } => {
            model.mask_write_register(address, and_mask, or_mask)?;
            Response::MaskWriteRegister {
                address,
                and_mask,
                or_mask,
            }
        }
        Request::ReadFifoQueue { address } => {
            let values = &mut registers[..usize::from(MAX_FIFO_COUNT)];
            values.fill(0);
            let n = model.read_fifo_queue(address, values)?;
            let values = values.get(..n).ok_or(ExceptionCode::IllegalDataValue)?;
            Response::ReadFifoQueue(Registers::encode(values, packed).map_err(|_| PACK_FAILED)?)
        }
        Request::ReadFileRecord(refs) => {
            let mut at = 0;
            for r in refs.iter() {
                let values = &mut registers[..usize::from(r.record_length)];
                values.fill(0);
                model.read_file_record(r.file_number, r.record_number, values)?;
                let group = FileRecordData::encode(&[values], &mut packed[at..])
                    .map_err(|_| PACK_FAILED)?;
                at += group.as_bytes().len();
            }
            Response::ReadFileRecord(FileRecordData::new(&packed[..at]).ok_or(PACK_FAILED)?)
        }
        Request::WriteFileRecord(records) => {
            for r in records.iter() {
                let n = r.values.len();
                for (slot, value) in registers.iter_mut().zip(r.values.iter()) {
                    *slot = value;
                }
                let values = registers.get(..n).ok_or(PACK_FAILED)?;
                model.write_file_record(r.file_number, r.record_number, values)?;
            }
            Response::WriteFileRecord(records)
        }
        Request::ReadDeviceIdentification { code, object_id } => {
            Response::ReadDeviceIdentification(identify(model, code, object_id, packed)?)
        }
    })
}

/// The longest object value a response carries: a PDU less the function code, MEI type, the
/// five header bytes, and the object's id and length.
const MAX_OBJECT_LEN: usize = MAX_PDU_LEN - 9;

/// Answers read device identification from the model's objects, packed into `packed`: a
/// stream access (codes 1 to 3) from `object_id` (from 0 when `object_id` is outside the
/// category or no object) to the end of its category, as many objects as fit with "more
/// follows" after them; an individual access (code 4) the one object, or
/// `IllegalDataAddress`.
fn identify<'p, M: DataModel + ?Sized>(
    model: &M,
    code: ReadDeviceIdCode,
    object_id: u8,
    packed: &'p mut [u8],
) -> Result<DeviceIdentification<'p>, ExceptionCode> {
    if (0..=2).any(|id| model.device_object(id).is_none()) {
        return Err(ExceptionCode::IllegalFunction);
    }
    let level = if (0x80..=0xFF).any(|id| model.device_object(id).is_some()) {
        3
    } else if (0x03..=0x7F).any(|id| model.device_object(id).is_some()) {
        2
    } else {
        1
    };
    let last = match code {
        ReadDeviceIdCode::Basic => 0x02,
        ReadDeviceIdCode::Regular => 0x7F,
        ReadDeviceIdCode::Extended | ReadDeviceIdCode::Individual => 0xFF,
    };
    // Objects of the body: a PDU less function code, MEI type and five header bytes.
    let room = (MAX_PDU_LEN - 7).min(packed.len());
    let (mut at, mut count, mut next) = (0, 0u8, None);
    let mut put = |packed: &mut [u8], id: u8, value: &[u8]| -> bool {
        let value = &value[..value.len().min(MAX_OBJECT_LEN)];
        let end = at + 2 + value.len();
        if end > room {
            return false;
        }
        packed[at] = id;
        packed[at + 1] = value.len() as u8;
        packed[at + 2..end].copy_from_slice(value);
        at = end;
        count += 1;
        true
    };
    if code == ReadDeviceIdCode::Individual {
        let value = model
            .device_object(object_id)
            .ok_or(ExceptionCode::IllegalDataAddress)?;
        put(packed, object_id, value);
    } else {
        let known = object_id <= last && model.device_object(object_id).is_some();
        let first = if known { object_id } else { 0 };
        for id in first..=last {
            if let Some(value) = model.device_object(id) {
                if !put(packed, id, value) {
                    next = Some(id);
                    break;
                }
            }
        }
    }
    let objects =
        DeviceObjects::new(&packed[..at], count).ok_or(ExceptionCode::ServerDeviceFailure)?;
    Ok(DeviceIdentification {
        code,
        conformity_level: 0x80 | level,
        more_follows: next.is_some(),
        next_object_id: next.unwrap_or(0),
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::MemoryModel;

    fn ask(model: &mut MemoryModel, units: &UnitIds, frame: &[u8]) -> Result<Vec<u8>, Error> {
        let frame = Frame::new_checked(frame)?;
        let mut out = [0u8; MAX_FRAME_LEN];
        let mut counters = DiagnosticCounters::new();
        let n = answer(
            model,
            units,
            &frame,
            &mut out,
            &mut Scratch::new(),
            &mut counters,
        )?;
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

    /// A model of holding registers only: no identification.
    struct Registers10([u16; 10]);

    impl DataModel for Registers10 {
        fn read_holding_registers(
            &mut self,
            address: u16,
            values: &mut [u16],
        ) -> Result<(), ExceptionCode> {
            let start = usize::from(address);
            let src = self
                .0
                .get(start..start + values.len())
                .ok_or(ExceptionCode::IllegalDataAddress)?;
            values.copy_from_slice(src);
            Ok(())
        }

        fn write_registers(&mut self, address: u16, values: &[u16]) -> Result<(), ExceptionCode> {
            let start = usize::from(address);
            self.0
                .get_mut(start..start + values.len())
                .ok_or(ExceptionCode::IllegalDataAddress)?
                .copy_from_slice(values);
            Ok(())
        }
    }

    fn ask_model<M: DataModel>(model: &mut M, frame: &[u8]) -> Vec<u8> {
        let frame = Frame::new_checked(frame).unwrap();
        let mut out = [0u8; MAX_FRAME_LEN];
        let mut counters = DiagnosticCounters::new();
        let n = answer(
            model,
            &UnitIds::any(),
            &frame,
            &mut out,
            &mut Scratch::new(),
            &mut counters,
        )
        .unwrap();
        out[..n].to_vec()
    }

    #[test]
    fn a_model_without_identification_refuses_device_identification_and_server_id() {
        let mut m = Registers10([0; 10]);
        let r = ask_model(&mut m, &[0, 3, 0, 0, 0, 5, 1, 0x2B, 0x0E, 1, 0]);
        assert_eq!(r, vec![0, 3, 0, 0, 0, 3, 1, 0xAB, 1]);
        let r = ask_model(&mut m, &[0, 3, 0, 0, 0, 2, 1, 0x11]);
        assert_eq!(r, vec![0, 3, 0, 0, 0, 3, 1, 0x91, 1]);
        let r = ask_model(&mut m, &[0, 3, 0, 0, 0, 2, 1, 0x07]);
        assert_eq!(r, vec![0, 3, 0, 0, 0, 3, 1, 0x87, 1]);
    }

    #[test]
    fn mask_write_defaults_to_a_read_and_a_write_of_the_register() {
        // The specification's example: 0x12 masked with AND 0xF2, OR 0x25 is 0x17.
        let mut m = Registers10([0; 10]);
        m.0[4] = 0x12;
        let request = [0, 5, 0, 0, 0, 8, 1, 0x16, 0, 4, 0, 0xF2, 0, 0x25];
        assert_eq!(ask_model(&mut m, &request), request.to_vec());
        assert_eq!(m.0[4], 0x17);
        let past = [0, 5, 0, 0, 0, 8, 1, 0x16, 0, 10, 0, 0xF2, 0, 0x25];
        assert_eq!(ask_model(&mut m, &past), vec![0, 5, 0, 0, 0, 3, 1, 0x96, 2]);
    }

    /// A model with many extended objects: a stream does not fit one response.
    struct Chatty;

    impl DataModel for Chatty {
        fn device_object(&self, id: u8) -> Option<&[u8]> {
            const LONG: &[u8] = &[b'x'; 100];
            match id {
                0..=2 => Some(b"abc"),
                0x80..=0x84 => Some(LONG),
                _ => None,
            }
        }
    }

    #[test]
    fn a_stream_that_does_not_fit_says_which_object_follows() {
        let r = ask_model(&mut Chatty, &[0, 1, 0, 0, 0, 5, 1, 0x2B, 0x0E, 3, 0]);
        let pdu = &r[7..];
        // Conformity 0x83, more follows, next object 0x82: three basic objects and two of
        // 100 bytes fit, the third does not.
        assert_eq!(&pdu[..7], &[0x2B, 0x0E, 3, 0x83, 0xFF, 0x82, 5]);
        assert_eq!(pdu.len(), 7 + 3 * 5 + 2 * 102);
        let r = ask_model(&mut Chatty, &[0, 1, 0, 0, 0, 5, 1, 0x2B, 0x0E, 3, 0x82]);
        assert_eq!(&r[7..14], &[0x2B, 0x0E, 3, 0x83, 0xFF, 0x84, 2]);
        let r = ask_model(&mut Chatty, &[0, 1, 0, 0, 0, 5, 1, 0x2B, 0x0E, 3, 0x84]);
        assert_eq!(&r[7..14], &[0x2B, 0x0E, 3, 0x83, 0x00, 0x00, 1]);
        // An individual object that does not exist is an illegal data address.
        let r = ask_model(&mut Chatty, &[0, 1, 0, 0, 0, 5, 1, 0x2B, 0x0E, 4, 0x10]);
        assert_eq!(r, vec![0, 1, 0, 0, 0, 3, 1, 0xAB, 2]);
    }
}
