//! The size limits of EtherNet/IP and CIP.
//!
//! The protocol limits come from the EtherNet/IP adaptation of CIP (encapsulation, common
//! packet format) and CIP Volume 1 (EPATHs, the Connection Manager). The Logix limits are
//! the ones ControlLogix and CompactLogix controllers apply, which clients such as pycomm3
//! and pylogix size their requests by.

/// Length of the encapsulation header: command (2), length (2), session handle (4), status
/// (4), sender context (8), options (4).
pub const ENCAP_HEADER_LEN: usize = 24;

/// The largest encapsulation data length: a 65,535-byte packet less the header.
pub const MAX_ENCAP_DATA_LEN: usize = 65_535 - ENCAP_HEADER_LEN;

/// The longest encapsulation packet.
pub const MAX_PACKET_LEN: usize = ENCAP_HEADER_LEN + MAX_ENCAP_DATA_LEN;

/// The encapsulation protocol version of RegisterSession and ListIdentity.
pub const PROTOCOL_VERSION: u16 = 1;

/// Length of the sender context of the encapsulation header.
pub const SENDER_CONTEXT_LEN: usize = 8;

/// The bytes of SendRRData and SendUnitData data before the common packet format: interface
/// handle (4) and timeout (2).
pub const SEND_DATA_HEADER_LEN: usize = 6;

/// The common packet format around an unconnected message (SendRRData): item count (2), a
/// null address item (4) and the header of an unconnected data item (4).
pub const UNCONNECTED_CPF_OVERHEAD: usize = 10;

/// The common packet format around a connected message (SendUnitData): item count (2), a
/// connected address item (8), the header of a connected data item (4) and its sequence
/// count (2).
pub const CONNECTED_CPF_OVERHEAD: usize = 16;

/// The largest unconnected (UCMM) message, and so the largest request embedded in an
/// Unconnected_Send.
pub const MAX_UNCONNECTED_MESSAGE: usize = 504;

/// The largest connection size a Forward_Open can ask for: its 9-bit size field.
pub const MAX_CONNECTION_SIZE: u16 = 511;

/// The largest connection size Logix controllers grant a Large_Forward_Open.
pub const MAX_LARGE_CONNECTION_SIZE: u16 = 4002;

/// The connection size pycomm3 and cpppo ask for in a Large_Forward_Open.
pub const DEFAULT_LARGE_CONNECTION_SIZE: u16 = 4000;

/// The connection size clients ask for in a Forward_Open (pycomm3 and pylogix use 500 or
/// 504 bytes).
pub const DEFAULT_CONNECTION_SIZE: u16 = 504;

/// The largest padded EPATH: its size field counts 16-bit words in a byte.
pub const MAX_EPATH_LEN: usize = 2 * u8::MAX as usize;

/// The longest symbol an ANSI extended symbolic segment holds.
pub const MAX_SYMBOL_LEN: usize = u8::MAX as usize;

/// The largest encapsulation packet carrying a connected message of the largest Logix
/// connection size: a receive buffer of this size holds every packet of such a connection.
pub const MAX_CONNECTED_PACKET_LEN: usize = ENCAP_HEADER_LEN
    + SEND_DATA_HEADER_LEN
    + CONNECTED_CPF_OVERHEAD
    + MAX_LARGE_CONNECTION_SIZE as usize;

/// The largest encapsulation packet carrying an unconnected message of at most
/// [`MAX_UNCONNECTED_MESSAGE`] bytes.
pub const MAX_UNCONNECTED_PACKET_LEN: usize =
    ENCAP_HEADER_LEN + SEND_DATA_HEADER_LEN + UNCONNECTED_CPF_OVERHEAD + MAX_UNCONNECTED_MESSAGE;

/// Length of a Logix STRING: LEN (DINT) and 82 SINT characters, padded to 88 bytes.
pub const LOGIX_STRING_LEN: usize = 88;

/// The most characters a Logix STRING holds.
pub const LOGIX_STRING_CAPACITY: usize = 82;

/// The largest element count of Read Tag and Write Tag: its 16-bit field.
pub const MAX_ELEMENTS: u16 = u16::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_have_the_documented_values() {
        assert_eq!(MAX_ENCAP_DATA_LEN, 65_511);
        assert_eq!(MAX_PACKET_LEN, 65_535);
        assert_eq!(MAX_EPATH_LEN, 510);
        assert_eq!(MAX_CONNECTED_PACKET_LEN, 24 + 6 + 16 + 4002);
        assert_eq!(MAX_UNCONNECTED_PACKET_LEN, 544);
        assert_eq!(LOGIX_STRING_LEN, 4 + LOGIX_STRING_CAPACITY + 2);
    }
}
