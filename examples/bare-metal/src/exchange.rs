//! [`read_registers`]: the protothread, and [`ReadRegisters`], the context it runs in.

use ptk::{protothread, Cx, Pt};
use ptk_modbus::limits::MAX_READ_REGISTERS;
use ptk_modbus::{ExceptionCode, Frame, Header, Request, Response};

use crate::Wire;

/// The most registers one read returns.
const MAX_VALUES: usize = MAX_READ_REGISTERS as usize;

/// Why an exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeError {
    /// The request could not be built (a quantity out of range), or the answer is malformed
    /// or does not answer the request.
    Codec(ptk_modbus::Error),
    /// The device answered with an exception.
    Exception(ExceptionCode),
    /// The answer carries another transaction id or unit id than the request.
    NotOurs,
    /// The exchange waits for an answer that will not come.
    Stalled,
}

impl From<ptk_modbus::Error> for ExchangeError {
    fn from(e: ptk_modbus::Error) -> ExchangeError {
        ExchangeError::Codec(e)
    }
}

/// A read of holding registers over a [`Wire`]: what the protothread [`read_registers`]
/// needs, and the values it read. Resume it (it implements [`ptk::Protothread`]) until it is
/// done.
#[derive(Debug)]
pub struct ReadRegisters {
    pt: Pt,
    wire: Wire,
    unit_id: u8,
    transaction_id: u16,
    address: u16,
    quantity: u16,
    values: [u16; MAX_VALUES],
    count: usize,
}

impl ReadRegisters {
    /// A read of `quantity` holding registers from `address`, on unit 1 as transaction 1.
    pub const fn new(address: u16, quantity: u16) -> ReadRegisters {
        ReadRegisters {
            pt: Pt::new(),
            wire: Wire::new(),
            unit_id: 1,
            transaction_id: 1,
            address,
            quantity,
            values: [0; MAX_VALUES],
            count: 0,
        }
    }

    /// The link the exchange sends on and receives from.
    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// The link, for the other end to take what was sent and deliver the answer.
    pub fn wire_mut(&mut self) -> &mut Wire {
        &mut self.wire
    }

    /// The values read (empty until the exchange is done).
    pub fn values(&self) -> &[u16] {
        &self.values[..self.count]
    }

    fn request(&self) -> Request<'static> {
        Request::ReadHoldingRegisters {
            address: self.address,
            quantity: self.quantity,
        }
    }

    /// Whether a whole frame has arrived (or bytes that cannot start one: parsing says why).
    fn answer_arrived(&self) -> bool {
        let bytes = self.wire.incoming();
        match Frame::check_len(bytes) {
            Ok(len) => len <= bytes.len(),
            Err(ptk_modbus::Error::Incomplete { .. }) => false,
            Err(_) => true,
        }
    }

    /// Checks the answer against the request and keeps the values.
    fn take_answer(&mut self) -> Result<usize, ExchangeError> {
        let request = self.request();
        let frame = Frame::new_checked(self.wire.incoming())?;
        if frame.transaction_id() != self.transaction_id || frame.unit_id() != self.unit_id {
            return Err(ExchangeError::NotOurs);
        }
        match Response::parse(frame.pdu(), &request)? {
            Response::ReadHoldingRegisters(values) => {
                let mut count = 0;
                for (slot, value) in self.values.iter_mut().zip(values.iter()) {
                    *slot = value;
                    count += 1;
                }
                self.count = count;
                Ok(count)
            }
            Response::Exception { code, .. } => Err(ExchangeError::Exception(code)),
            // `Response::parse` checks the function code against the request.
            _ => Err(ExchangeError::Codec(ptk_modbus::Error::Malformed(
                ptk_modbus::Violation::FunctionMismatch,
            ))),
        }
    }
}

/// Sends the read request and waits until the whole answer has arrived, then parses it:
/// `Step::Pending` while waiting, `Step::Done` with the number of values read.
///
/// # Errors
///
/// [`ExchangeError::Codec`] for a request out of range or an answer that does not answer it,
/// [`ExchangeError::Exception`] for an exception response, [`ExchangeError::NotOurs`] for an
/// answer to another transaction or unit.
#[protothread]
pub fn read_registers(ctx: &mut ReadRegisters, _cx: &mut Cx<'_>) -> Result<usize, ExchangeError> {
    let header = Header {
        transaction_id: ctx.transaction_id,
        unit_id: ctx.unit_id,
    };
    let request = ctx.request();
    let n = request.emit_frame(header, ctx.wire.send_buffer())?;
    ctx.wire.sent(n);
    pt_wait_until!(ctx.answer_arrived());
    ctx.take_answer()
}
