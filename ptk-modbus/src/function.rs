//! The function codes the codec implements.

/// A Modbus function code this codec implements (public function codes of the Modbus
/// Application Protocol v1.1b3, section 6).
///
/// # Examples
///
/// ```
/// use ptk_modbus::FunctionCode;
///
/// assert_eq!(FunctionCode::from_u8(0x10), Some(FunctionCode::WriteMultipleRegisters));
/// assert_eq!(FunctionCode::ReadWriteMultipleRegisters.as_u8(), 23);
/// assert_eq!(FunctionCode::from_u8(0x08), Some(FunctionCode::Diagnostics));
/// assert_eq!(FunctionCode::from_u8(0x09), None); // not a public function code
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum FunctionCode {
    /// 0x01: read 1 to 2000 coils.
    ReadCoils = 0x01,
    /// 0x02: read 1 to 2000 discrete inputs.
    ReadDiscreteInputs = 0x02,
    /// 0x03: read 1 to 125 holding registers.
    ReadHoldingRegisters = 0x03,
    /// 0x04: read 1 to 125 input registers.
    ReadInputRegisters = 0x04,
    /// 0x05: write one coil (0xFF00 on, 0x0000 off).
    WriteSingleCoil = 0x05,
    /// 0x06: write one holding register.
    WriteSingleRegister = 0x06,
    /// 0x07: read the eight exception status outputs.
    ReadExceptionStatus = 0x07,
    /// 0x08: diagnostics, a sub-function and its data.
    Diagnostics = 0x08,
    /// 0x0B (11): get the communication event counter.
    GetCommEventCounter = 0x0B,
    /// 0x0C (12): get the communication event log.
    GetCommEventLog = 0x0C,
    /// 0x0F (15): write 1 to 1968 coils.
    WriteMultipleCoils = 0x0F,
    /// 0x10 (16): write 1 to 123 holding registers.
    WriteMultipleRegisters = 0x10,
    /// 0x11 (17): report the server id and run indicator.
    ReportServerId = 0x11,
    /// 0x14 (20): read groups of records from files.
    ReadFileRecord = 0x14,
    /// 0x15 (21): write groups of records to files.
    WriteFileRecord = 0x15,
    /// 0x16 (22): change bits of one holding register through an AND and an OR mask.
    MaskWriteRegister = 0x16,
    /// 0x17 (23): write 1 to 121 holding registers, then read 1 to 125, in one transaction.
    ReadWriteMultipleRegisters = 0x17,
    /// 0x18 (24): read a first-in-first-out queue of up to 31 registers.
    ReadFifoQueue = 0x18,
    /// 0x2B (43): encapsulated interface transport; the codec implements its MEI type 14,
    /// Read Device Identification.
    EncapsulatedInterfaceTransport = 0x2B,
}

impl FunctionCode {
    /// The function code of a byte, or `None` if the codec does not implement it.
    pub const fn from_u8(byte: u8) -> Option<FunctionCode> {
        Some(match byte {
            0x01 => FunctionCode::ReadCoils,
            0x02 => FunctionCode::ReadDiscreteInputs,
            0x03 => FunctionCode::ReadHoldingRegisters,
            0x04 => FunctionCode::ReadInputRegisters,
            0x05 => FunctionCode::WriteSingleCoil,
            0x06 => FunctionCode::WriteSingleRegister,
            0x07 => FunctionCode::ReadExceptionStatus,
            0x08 => FunctionCode::Diagnostics,
            0x0B => FunctionCode::GetCommEventCounter,
            0x0C => FunctionCode::GetCommEventLog,
            0x0F => FunctionCode::WriteMultipleCoils,
            0x10 => FunctionCode::WriteMultipleRegisters,
            0x11 => FunctionCode::ReportServerId,
            0x14 => FunctionCode::ReadFileRecord,
            0x15 => FunctionCode::WriteFileRecord,
            0x16 => FunctionCode::MaskWriteRegister,
            0x17 => FunctionCode::ReadWriteMultipleRegisters,
            0x18 => FunctionCode::ReadFifoQueue,
            0x2B => FunctionCode::EncapsulatedInterfaceTransport,
            _ => return None,
        })
    }

    /// The byte of the function code on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_u8_inverts_as_u8_and_knows_nothing_else() {
        let mut known = 0;
        for byte in 0..=u8::MAX {
            if let Some(code) = FunctionCode::from_u8(byte) {
                assert_eq!(code.as_u8(), byte);
                known += 1;
            }
        }
        assert_eq!(known, 19);
    }
}
