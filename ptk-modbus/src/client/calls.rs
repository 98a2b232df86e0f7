//! One request at a time, one method per function code, with the answer copied into the
//! caller's buffer.

use core::task::Poll;

use ptk_runtime::Cx;

use super::{Client, ClientError};
use crate::limits::{MAX_DIAGNOSTIC_DATA, MAX_PDU_LEN, MAX_READ_BITS, MAX_WRITE_REGISTERS};
use crate::{
    Bits, CommEventCounter, FileRecord, FileRecordRef, FileRecordRefs, FileRecords, Registers,
    Request, Response,
};

/// What get comm event log (function code 12) answered besides the events, which
/// [`Client::poll_get_comm_event_log`] copies into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommEventLogCounts {
    /// Whether the server is still processing a previous command.
    pub busy: bool,
    /// Requests the server completed normally.
    pub event_count: u16,
    /// Messages the server processed.
    pub message_count: u16,
    /// How many events the server sent (0..=64), the most recent first.
    pub events: usize,
}

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

    /// Reads the eight exception status outputs (function code 7), output 0 in the lowest
    /// bit.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_read_exception_status(&mut self, cx: &mut Cx<'_>) -> Poll<Result<u8, ClientError>> {
        self.poll_answer(cx, &Request::ReadExceptionStatus, |r| match r {
            Response::ReadExceptionStatus(status) => Some(status),
            _ => None,
        })
    }

    /// Runs diagnostics `sub_function` (function code 8, see
    /// [`Diagnostic`](crate::Diagnostic)) with `data`; copies the response data into `out` (as
    /// much as fits) and returns how many registers the server sent.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for more than 125
    /// registers of data; [`ClientError::Protocol`] for return query data (0x00) that does not
    /// come back as sent.
    pub fn poll_diagnostics(
        &mut self,
        cx: &mut Cx<'_>,
        sub_function: u16,
        data: &[u16],
        out: &mut [u16],
    ) -> Poll<Result<usize, ClientError>> {
        let mut packed = [0u8; 2 * MAX_DIAGNOSTIC_DATA];
        let data = match Registers::encode(data, &mut packed) {
            Ok(registers) => registers,
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        let request = Request::Diagnostics { sub_function, data };
        self.poll_answer(cx, &request, |r| match r {
            Response::Diagnostics { data, .. } => Some(copy_registers(data, out)),
            _ => None,
        })
    }

    /// Gets the status word and event counter (function code 11).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_get_comm_event_counter(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<CommEventCounter, ClientError>> {
        self.poll_answer(cx, &Request::GetCommEventCounter, |r| match r {
            Response::GetCommEventCounter(counter) => Some(counter),
            _ => None,
        })
    }

    /// Gets the comm event log (function code 12): copies the events (up to 64, the most
    /// recent first) into `events`, as many as fit, and returns the counters.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_get_comm_event_log(
        &mut self,
        cx: &mut Cx<'_>,
        events: &mut [u8],
    ) -> Poll<Result<CommEventLogCounts, ClientError>> {
        self.poll_answer(cx, &Request::GetCommEventLog, |r| match r {
            Response::GetCommEventLog(log) => {
                let n = log.events.len().min(events.len());
                events[..n].copy_from_slice(&log.events[..n]);
                Some(CommEventLogCounts {
                    busy: log.busy,
                    event_count: log.event_count,
                    message_count: log.message_count,
                    events: log.events.len(),
                })
            }
            _ => None,
        })
    }

    /// Reports the server id (function code 17): copies the data (server id, run indicator
    /// status, additional data; 1..=251 bytes) into `out`, as much as fits, and returns its
    /// length.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_report_server_id(
        &mut self,
        cx: &mut Cx<'_>,
        out: &mut [u8],
    ) -> Poll<Result<usize, ClientError>> {
        self.poll_answer(cx, &Request::ReportServerId, |r| match r {
            Response::ReportServerId(data) => {
                let n = data.len().min(out.len());
                out[..n].copy_from_slice(&data[..n]);
                Some(data.len())
            }
            _ => None,
        })
    }

    /// Reads `out.len()` records of file `file_number` from `record_number` into `out`
    /// (function code 20, one group).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 124 records, file number 0, or records past 9999. Several groups in one request:
    /// [`poll_call`](Client::poll_call) with a [`Request::ReadFileRecord`].
    pub fn poll_read_file_record(
        &mut self,
        cx: &mut Cx<'_>,
        file_number: u16,
        record_number: u16,
        out: &mut [u16],
    ) -> Poll<Result<(), ClientError>> {
        let mut packed = [0u8; 7];
        let group = FileRecordRef {
            file_number,
            record_number,
            record_length: quantity(out.len()),
        };
        let refs = match FileRecordRefs::encode(&[group], &mut packed) {
            Ok(refs) => refs,
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        self.poll_answer(cx, &Request::ReadFileRecord(refs), |r| match r {
            Response::ReadFileRecord(data) => {
                let values = data.iter().next()?;
                copy_registers(values, out);
                Some(())
            }
            _ => None,
        })
    }

    /// Writes `values` to the records of file `file_number` from `record_number` (function
    /// code 21, one group).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call); [`ClientError::InvalidRequest`] for 0 or more than
    /// 122 values, file number 0, or records past 9999.
    pub fn poll_write_file_record(
        &mut self,
        cx: &mut Cx<'_>,
        file_number: u16,
        record_number: u16,
        values: &[u16],
    ) -> Poll<Result<(), ClientError>> {
        let mut registers = [0u8; MAX_PDU_LEN];
        let mut packed = [0u8; MAX_PDU_LEN];
        let request = Registers::encode(values, &mut registers).and_then(|values| {
            let group = FileRecord {
                file_number,
                record_number,
                values,
            };
            FileRecords::encode(&[group], &mut packed)
        });
        let records = match request {
            Ok(records) => records,
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        self.poll_write(cx, &Request::WriteFileRecord(records))
    }

    /// Sets the holding register at `address` to `(current AND and_mask) OR (or_mask AND NOT
    /// and_mask)` (function code 22).
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_mask_write_register(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        and_mask: u16,
        or_mask: u16,
    ) -> Poll<Result<(), ClientError>> {
        let request = Request::MaskWriteRegister {
            address,
            and_mask,
            or_mask,
        };
        self.poll_write(cx, &request)
    }

    /// Reads the FIFO queue whose count register is at `address` (function code 24): copies
    /// the queued registers (up to 31, the oldest first) into `out`, as many as fit, and
    /// returns how many are queued.
    ///
    /// # Errors
    ///
    /// As [`poll_call`](Client::poll_call).
    pub fn poll_read_fifo_queue(
        &mut self,
        cx: &mut Cx<'_>,
        address: u16,
        out: &mut [u16],
    ) -> Poll<Result<usize, ClientError>> {
        self.poll_answer(cx, &Request::ReadFifoQueue { address }, |r| match r {
            Response::ReadFifoQueue(values) => Some(copy_registers(values, out)),
            _ => None,
        })
    }

    /// Sends `request` to the configured unit, waits for its answer and takes what `take`
    /// makes of it (`None`: not the answer's shape, which the client's checks rule out).
    fn poll_answer<T>(
        &mut self,
        cx: &mut Cx<'_>,
        request: &Request<'_>,
        take: impl FnOnce(Response<'_>) -> Option<T>,
    ) -> Poll<Result<T, ClientError>> {
        let unit = self.link.config.unit_id;
        let ticket = match self.poll_call(cx, unit, request) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(ticket)) => ticket,
        };
        Poll::Ready(self.response(ticket).and_then(take).ok_or(MISMATCH))
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

/// Copies `values` into `out`, as many as fit; returns how many there were.
fn copy_registers(values: Registers<'_>, out: &mut [u16]) -> usize {
    for (slot, value) in out.iter_mut().zip(values.iter()) {
        *slot = value;
    }
    values.len()
}

/// A buffer length as a quantity; lengths past `u16::MAX` are refused by the codec anyway.
fn quantity(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}
