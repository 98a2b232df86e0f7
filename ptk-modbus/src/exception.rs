//! Modbus exception codes.

use core::fmt;
use core::hash::{Hash, Hasher};

/// The exception code of a Modbus exception response (Modbus Application Protocol v1.1b3,
/// section 7).
///
/// Codes without a named variant are kept as [`Unknown`](ExceptionCode::Unknown), so a client
/// can log or forward what a server sent. Equality and hashing compare the code on the wire:
/// `ExceptionCode::Unknown(2) == ExceptionCode::IllegalDataAddress`, although
/// [`from_u8`](ExceptionCode::from_u8) never produces such an `Unknown`.
///
/// # Examples
///
/// ```
/// use ptk_modbus::ExceptionCode;
///
/// assert_eq!(ExceptionCode::from_u8(2), ExceptionCode::IllegalDataAddress);
/// assert_eq!(ExceptionCode::IllegalDataValue.as_u8(), 3);
/// assert_eq!(ExceptionCode::from_u8(0x42), ExceptionCode::Unknown(0x42));
/// assert_eq!(
///     ExceptionCode::ServerDeviceBusy.to_string(),
///     "server device busy (6)"
/// );
/// ```
#[derive(Clone, Copy, Debug)]
pub enum ExceptionCode {
    /// 0x01: the function code is not supported by the server.
    IllegalFunction,
    /// 0x02: the data address (or address plus quantity) is not allowed by the server.
    IllegalDataAddress,
    /// 0x03: a value in the request (a quantity, a byte count, a coil value) is not allowed.
    IllegalDataValue,
    /// 0x04: an unrecoverable error occurred while the server performed the action.
    ServerDeviceFailure,
    /// 0x05: the server accepted a long-running request; poll for its completion.
    Acknowledge,
    /// 0x06: the server is busy with a long-running command; retry later.
    ServerDeviceBusy,
    /// 0x08: the server found a parity error in its extended memory (function codes 20 and 21).
    MemoryParityError,
    /// 0x0A: a gateway could not allocate an internal path to the target.
    GatewayPathUnavailable,
    /// 0x0B: a gateway got no response from the target device.
    GatewayTargetFailedToRespond,
    /// Any other code, preserved as received.
    Unknown(u8),
}

impl ExceptionCode {
    /// The exception code for a byte from the wire; never fails.
    pub const fn from_u8(code: u8) -> ExceptionCode {
        match code {
            0x01 => ExceptionCode::IllegalFunction,
            0x02 => ExceptionCode::IllegalDataAddress,
            0x03 => ExceptionCode::IllegalDataValue,
            0x04 => ExceptionCode::ServerDeviceFailure,
            0x05 => ExceptionCode::Acknowledge,
            0x06 => ExceptionCode::ServerDeviceBusy,
            0x08 => ExceptionCode::MemoryParityError,
            0x0A => ExceptionCode::GatewayPathUnavailable,
            0x0B => ExceptionCode::GatewayTargetFailedToRespond,
            other => ExceptionCode::Unknown(other),
        }
    }

    /// The byte this code has on the wire.
    pub const fn as_u8(self) -> u8 {
        match self {
            ExceptionCode::IllegalFunction => 0x01,
            ExceptionCode::IllegalDataAddress => 0x02,
            ExceptionCode::IllegalDataValue => 0x03,
            ExceptionCode::ServerDeviceFailure => 0x04,
            ExceptionCode::Acknowledge => 0x05,
            ExceptionCode::ServerDeviceBusy => 0x06,
            ExceptionCode::MemoryParityError => 0x08,
            ExceptionCode::GatewayPathUnavailable => 0x0A,
            ExceptionCode::GatewayTargetFailedToRespond => 0x0B,
            ExceptionCode::Unknown(other) => other,
        }
    }

    /// A short description of the code, as in the specification.
    pub const fn as_str(self) -> &'static str {
        match ExceptionCode::from_u8(self.as_u8()) {
            ExceptionCode::IllegalFunction => "illegal function",
            ExceptionCode::IllegalDataAddress => "illegal data address",
            ExceptionCode::IllegalDataValue => "illegal data value",
            ExceptionCode::ServerDeviceFailure => "server device failure",
            ExceptionCode::Acknowledge => "acknowledge",
            ExceptionCode::ServerDeviceBusy => "server device busy",
            ExceptionCode::MemoryParityError => "memory parity error",
            ExceptionCode::GatewayPathUnavailable => "gateway path unavailable",
            ExceptionCode::GatewayTargetFailedToRespond => {
                "gateway target device failed to respond"
            }
            ExceptionCode::Unknown(_) => "unknown exception",
        }
    }
}

impl From<u8> for ExceptionCode {
    fn from(code: u8) -> ExceptionCode {
        ExceptionCode::from_u8(code)
    }
}

impl From<ExceptionCode> for u8 {
    fn from(code: ExceptionCode) -> u8 {
        code.as_u8()
    }
}

impl PartialEq for ExceptionCode {
    fn eq(&self, other: &ExceptionCode) -> bool {
        self.as_u8() == other.as_u8()
    }
}

impl Eq for ExceptionCode {}

impl Hash for ExceptionCode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_u8().hash(state);
    }
}

impl fmt::Display for ExceptionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.as_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips_through_the_enum() {
        for byte in 0..=u8::MAX {
            assert_eq!(ExceptionCode::from_u8(byte).as_u8(), byte);
        }
    }

    #[test]
    fn named_codes_have_the_values_of_the_specification() {
        let named = [
            (ExceptionCode::IllegalFunction, 0x01),
            (ExceptionCode::IllegalDataAddress, 0x02),
            (ExceptionCode::IllegalDataValue, 0x03),
            (ExceptionCode::ServerDeviceFailure, 0x04),
            (ExceptionCode::Acknowledge, 0x05),
            (ExceptionCode::ServerDeviceBusy, 0x06),
            (ExceptionCode::MemoryParityError, 0x08),
            (ExceptionCode::GatewayPathUnavailable, 0x0A),
            (ExceptionCode::GatewayTargetFailedToRespond, 0x0B),
        ];
        for (code, byte) in named {
            assert_eq!(code.as_u8(), byte);
            assert!(!matches!(
                ExceptionCode::from_u8(byte),
                ExceptionCode::Unknown(_)
            ));
        }
        for unknown in [0x00, 0x07, 0x09, 0x0C, 0xFF] {
            assert!(
                matches!(ExceptionCode::from_u8(unknown), ExceptionCode::Unknown(b) if b == unknown)
            );
        }
    }

    #[test]
    fn unknown_with_a_named_value_equals_the_named_code() {
        assert_eq!(ExceptionCode::Unknown(1), ExceptionCode::IllegalFunction);
        assert_eq!(ExceptionCode::Unknown(1).as_str(), "illegal function");
        assert_ne!(ExceptionCode::Unknown(7), ExceptionCode::Unknown(9));
    }
}
