//! The size and quantity limits of Modbus/TCP.
//!
//! Every limit comes from the Modbus Application Protocol Specification v1.1b3 and the Modbus
//! Messaging on TCP/IP Implementation Guide v1.0b. The codec enforces all of them in both
//! directions: `parse` rejects what breaks them and `emit` refuses to write it.

/// Length of the MBAP header: transaction id (2), protocol id (2), length (2), unit id (1).
pub const MBAP_HEADER_LEN: usize = 7;

/// The largest PDU: 256 bytes of a serial line ADU minus address (1) and CRC (2).
pub const MAX_PDU_LEN: usize = 253;

/// The smallest value of the MBAP length field: unit id plus a function code.
pub const MIN_MBAP_LENGTH: u16 = 2;

/// The largest value of the MBAP length field: unit id plus the largest PDU.
pub const MAX_MBAP_LENGTH: u16 = 1 + MAX_PDU_LEN as u16;

/// The shortest frame: an MBAP header and a function code.
pub const MIN_FRAME_LEN: usize = MBAP_HEADER_LEN + 1;

/// The longest frame: an MBAP header and the largest PDU (260 bytes). A receive buffer of this
/// size always holds a whole frame.
pub const MAX_FRAME_LEN: usize = MBAP_HEADER_LEN + MAX_PDU_LEN;

/// The number of addresses of each Modbus table: a request's address plus quantity must not
/// pass it.
pub const ADDRESS_SPACE: u32 = 0x1_0000;

/// Most coils or discrete inputs one read (function codes 1 and 2) may ask for.
pub const MAX_READ_BITS: u16 = 2000;

/// Most registers one read (function codes 3 and 4, and the read part of 23) may ask for.
pub const MAX_READ_REGISTERS: u16 = 125;

/// Most coils one write multiple coils request (function code 15) may carry.
pub const MAX_WRITE_BITS: u16 = 1968;

/// Most registers one write multiple registers request (function code 16) may carry.
pub const MAX_WRITE_REGISTERS: u16 = 123;

/// Most registers the write part of a read/write multiple registers request (function code 23)
/// may carry.
pub const MAX_READ_WRITE_REGISTERS: u16 = 121;

/// Most registers a read FIFO queue response (function code 24) may carry.
pub const MAX_FIFO_COUNT: u16 = 31;

/// Most event bytes a get comm event log response (function code 12) may carry.
pub const MAX_COMM_EVENTS: usize = 64;

/// Most registers of diagnostics data (function code 8): a 253-byte PDU less the function code
/// and the sub-function.
pub const MAX_DIAGNOSTIC_DATA: usize = 125;

/// The highest record number of a file (function codes 20 and 21): files have records
/// 0..=9999.
pub const MAX_FILE_RECORD_NUMBER: u16 = 0x270F;

/// The byte count range of a read file record request: one to 35 groups of seven bytes.
pub const READ_FILE_BYTE_COUNT: core::ops::RangeInclusive<u8> = 0x07..=0xF5;

/// The byte count range of a write file record request: one group of one record, to a full
/// PDU.
pub const WRITE_FILE_BYTE_COUNT: core::ops::RangeInclusive<u8> = 0x09..=0xFB;

/// Most bytes of a report server id response's data: a 253-byte PDU less the function code and
/// the byte count.
pub const MAX_SERVER_ID_LEN: usize = 251;

/// Bytes needed to pack `bits` coils, eight to a byte.
pub const fn bit_bytes(bits: u16) -> usize {
    (bits as usize).div_ceil(8)
}

/// Whether `quantity` items starting at `address` stay inside the 16-bit address space.
pub const fn fits_address_space(address: u16, quantity: u16) -> bool {
    address as u32 + quantity as u32 <= ADDRESS_SPACE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_have_the_values_of_the_specification() {
        assert_eq!(MAX_READ_BITS, 0x7D0);
        assert_eq!(MAX_READ_REGISTERS, 0x7D);
        assert_eq!(MAX_WRITE_BITS, 0x7B0);
        assert_eq!(MAX_WRITE_REGISTERS, 0x7B);
        assert_eq!(MAX_READ_WRITE_REGISTERS, 0x79);
        assert_eq!(MAX_MBAP_LENGTH, 254);
        assert_eq!(MAX_FRAME_LEN, 260);
    }

    #[test]
    fn the_largest_quantities_fill_the_largest_pdu_or_less() {
        // Read responses: function, byte count, data.
        assert!(2 + bit_bytes(MAX_READ_BITS) <= MAX_PDU_LEN);
        assert!(2 + 2 * MAX_READ_REGISTERS as usize <= MAX_PDU_LEN);
        // Write requests: function, address, quantity, byte count, data.
        assert!(6 + bit_bytes(MAX_WRITE_BITS) <= MAX_PDU_LEN);
        assert!(6 + 2 * MAX_WRITE_REGISTERS as usize <= MAX_PDU_LEN);
        assert!(10 + 2 * MAX_READ_WRITE_REGISTERS as usize <= MAX_PDU_LEN);
    }

    #[test]
    fn address_space_ends_at_0x10000() {
        assert!(fits_address_space(0xFFFF, 1));
        assert!(!fits_address_space(0xFFFF, 2));
        assert!(fits_address_space(0, u16::MAX));
        assert_eq!(bit_bytes(0), 0);
        assert_eq!(bit_bytes(1), 1);
        assert_eq!(bit_bytes(8), 1);
        assert_eq!(bit_bytes(9), 2);
        assert_eq!(bit_bytes(2000), 250);
    }
}
