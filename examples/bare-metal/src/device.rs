//! [`Device`]: the simulated Modbus device at the other end of the [`Wire`].

use ptk_modbus::limits::MAX_FRAME_LEN;
use ptk_modbus::{Frame, Header, Registers, Request, Response};

use crate::Wire;

/// Holding registers from address 0, answered over a [`Wire`] with the same codec.
#[derive(Clone, Debug)]
pub struct Device {
    holding: [u16; 4],
}

impl Device {
    /// A device with holding registers 0 to 3.
    pub const fn new(holding: [u16; 4]) -> Device {
        Device { holding }
    }

    /// Answers the frame waiting on `wire`, if there is one: a read of holding registers
    /// gets the values, anything else (or a range outside the four registers) exception 2,
    /// illegal data address. Returns whether it answered (a frame the codec refuses gets no
    /// answer, as on a real link).
    pub fn serve(&self, wire: &mut Wire) -> bool {
        let mut reply = [0u8; MAX_FRAME_LEN];
        let n = match self.answer(wire.outgoing(), &mut reply) {
            Some(n) => n,
            None => return false,
        };
        wire.take_outgoing();
        wire.deliver(&reply[..n]);
        true
    }

    /// The answer to `request` in `reply`, and its length.
    fn answer(&self, request: &[u8], reply: &mut [u8]) -> Option<usize> {
        let frame = Frame::new_checked(request).ok()?;
        let header = Header::parse(&frame);
        let wanted = match Request::parse(frame.pdu()).ok()? {
            Request::ReadHoldingRegisters { address, quantity } => {
                let start = usize::from(address);
                self.holding.get(start..start + usize::from(quantity))
            }
            _ => None,
        };
        let mut storage = [0u8; 8];
        let response = match wanted.map(|values| Registers::encode(values, &mut storage)) {
            Some(Ok(values)) => Response::ReadHoldingRegisters(values),
            _ => Response::Exception {
                function: frame.pdu().first().copied().unwrap_or(0) & 0x7F,
                code: ptk_modbus::ExceptionCode::IllegalDataAddress,
            },
        };
        response.emit_frame(header, reply).ok()
    }
}
