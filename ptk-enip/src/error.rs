//! The codec's error type: what went wrong, and what the connection should do about it.

use core::fmt;

use crate::{EncapStatus, GeneralStatus};

/// The result type of the codec.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why the codec refused bytes or a representation.
///
/// The variants are the decisions a driver has to make:
///
/// | variant | where | the driver should |
/// |---|---|---|
/// | [`Incomplete`](Error::Incomplete) | framing a stream | read until the buffer holds `needed` bytes, then try again |
/// | [`Malformed`](Error::Malformed) | parsing | answer with [`Violation::general_status`] (a CIP request) or [`Violation::encap_status`] (an encapsulation packet), or fail the transaction (a reply) |
/// | [`Invalid`](Error::Invalid) | `emit` | fix the representation: it breaks a protocol limit |
/// | [`BufferTooSmall`](Error::BufferTooSmall) | `emit` | give a buffer of `needed` bytes |
///
/// The enum is `Copy` and at most two words wide, so returning it costs nothing.
///
/// # Examples
///
/// A server answers a Read Tag request without its element count with the general status the
/// violation maps to:
///
/// ```
/// use ptk_enip::{Error, GeneralStatus, MessageRequest, ReadTag, Violation};
///
/// // Read Tag (0x4C) of the symbol "A", with no request data.
/// let request = MessageRequest::parse(&[0x4C, 0x02, 0x91, 0x01, b'A', 0x00]).unwrap();
/// let err = ReadTag::parse(request.data).unwrap_err();
/// assert_eq!(err, Error::Malformed(Violation::Truncated));
/// assert_eq!(Violation::Truncated.general_status(), GeneralStatus::NOT_ENOUGH_DATA);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer holds only the start of an encapsulation packet: `needed` is the length of
    /// the whole packet once its 24-byte header is in, and the header's length before that.
    Incomplete {
        /// How many bytes the buffer must hold before trying again.
        needed: usize,
    },
    /// The bytes break the layout of the message they were parsed as.
    Malformed(Violation),
    /// A representation given to `emit` breaks a protocol limit; nothing was written.
    Invalid(Violation),
    /// The buffer given to `emit` is shorter than the `needed` bytes of the message; nothing
    /// was written.
    BufferTooSmall {
        /// How many bytes the message takes.
        needed: usize,
    },
}

/// The protocol rule a packet, message or representation broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Violation {
    /// The encapsulation length field is above the largest data length (65,511 bytes).
    LengthTooLong,
    /// The encapsulation command is not one this codec implements.
    UnknownCommand,
    /// A RegisterSession request asks for another protocol version than 1, or options other
    /// than 0.
    ProtocolVersion,
    /// The bytes end before the layout of their message does.
    Truncated,
    /// Bytes follow the end of a message's layout.
    TrailingBytes,
    /// A common packet format item runs past the data, or has the wrong length for its type.
    ItemLength,
    /// A common packet format holds other items, or in another order, than its command needs.
    ItemType,
    /// An EPATH's size does not match its segments, or a segment runs past the path.
    PathSize,
    /// An EPATH segment of a type (or logical format) the codec does not implement, or
    /// reserved.
    SegmentType,
    /// A pad byte of an EPATH or a message is not zero.
    Padding,
    /// A port segment has port 0, an extended port number below 15, or an empty link address.
    PortSegment,
    /// A symbolic segment is empty.
    SymbolLength,
    /// An EPATH, tag name or route path is longer than its size field can say (255 words).
    PathTooLong,
    /// A tag name does not follow `Symbol[i,j,k].Member.bit` syntax.
    TagName,
    /// A route path is not `port,link` pairs (link a number up to 255 or an IPv4 address).
    RoutePath,
    /// A request has the reply bit (0x80) set, or a reply lacks it.
    ReplyBit,
    /// The service code is not one this codec implements for the object addressed.
    UnknownService,
    /// An additional status size is odd in bytes or runs past the reply.
    ExtendedStatus,
    /// A data type code the codec does not know, or a structure marker without its handle.
    DataType,
    /// An element count is 0, or the data does not hold the elements it announces.
    ElementCount,
    /// A Read-Modify-Write mask size is not 1, 2, 4 or 8, or the masks differ in length.
    MaskSize,
    /// A Multiple Service Packet has no service, or an offset outside its data or out of order.
    ServiceOffset,
    /// A Get_Instance_Attribute_List asks for an attribute whose layout the codec does not
    /// know, or for one attribute twice.
    UnknownAttribute,
    /// A string is longer than its type holds.
    StringLength,
    /// An embedded message is longer than an unconnected message may be (504 bytes).
    MessageTooLong,
    /// A connection size or network connection parameter is out of range or has reserved bits
    /// set.
    ConnectionParameters,
    /// A socket address item is not of the IPv4 family.
    SocketAddress,
}

impl Violation {
    /// A sentence saying which rule was broken.
    pub const fn as_str(self) -> &'static str {
        match self {
            Violation::LengthTooLong => "encapsulation length is above 65511 bytes",
            Violation::UnknownCommand => "encapsulation command is not supported",
            Violation::ProtocolVersion => "session protocol version is not 1 or options not 0",
            Violation::Truncated => "message ends before its layout does",
            Violation::TrailingBytes => "bytes follow the end of the message",
            Violation::ItemLength => "common packet format item length is wrong",
            Violation::ItemType => "common packet format items are not the ones expected",
            Violation::PathSize => "EPATH size does not match its segments",
            Violation::SegmentType => "EPATH segment type is not supported",
            Violation::Padding => "pad byte is not zero",
            Violation::PortSegment => "port segment has a bad port or link address",
            Violation::SymbolLength => "symbolic segment is empty",
            Violation::PathTooLong => "path is longer than 255 words",
            Violation::TagName => "tag name is not of the form Symbol[i,j,k].Member.bit",
            Violation::RoutePath => "route path is not port,link pairs",
            Violation::ReplyBit => "reply bit (0x80) of the service code is wrong",
            Violation::UnknownService => "service is not supported by the object",
            Violation::ExtendedStatus => "additional status size is wrong",
            Violation::DataType => "data type code is not supported",
            Violation::ElementCount => "element count is 0 or does not match the data",
            Violation::MaskSize => "read-modify-write mask size is not 1, 2, 4 or 8",
            Violation::ServiceOffset => "multiple service packet offsets are wrong",
            Violation::UnknownAttribute => "attribute layout is not known",
            Violation::StringLength => "string is longer than its type holds",
            Violation::MessageTooLong => "embedded message is longer than 504 bytes",
            Violation::ConnectionParameters => "connection parameters are out of range",
            Violation::SocketAddress => "socket address is not IPv4",
        }
    }

    /// The CIP general status a server answers a request breaking this rule with.
    ///
    /// | violation | general status |
    /// |---|---|
    /// | `Truncated` | 0x13 not enough data |
    /// | `TrailingBytes`, `MessageTooLong` | 0x15 too much data |
    /// | `PathSize`, `PathTooLong` | 0x26 path size invalid |
    /// | other path and segment errors | 0x04 path segment error |
    /// | `UnknownService` | 0x08 service not supported |
    /// | `UnknownAttribute` | 0x14 attribute not supported |
    /// | `ConnectionParameters` | 0x01 connection failure |
    /// | anything else | 0x03 invalid parameter value |
    pub const fn general_status(self) -> GeneralStatus {
        match self {
            Violation::Truncated => GeneralStatus::NOT_ENOUGH_DATA,
            Violation::TrailingBytes | Violation::MessageTooLong => GeneralStatus::TOO_MUCH_DATA,
            Violation::PathSize | Violation::PathTooLong => GeneralStatus::PATH_SIZE_INVALID,
            Violation::SegmentType
            | Violation::Padding
            | Violation::PortSegment
            | Violation::SymbolLength
            | Violation::TagName
            | Violation::RoutePath => GeneralStatus::PATH_SEGMENT_ERROR,
            Violation::UnknownService | Violation::ReplyBit => GeneralStatus::SERVICE_NOT_SUPPORTED,
            Violation::UnknownAttribute => GeneralStatus::ATTRIBUTE_NOT_SUPPORTED,
            Violation::ConnectionParameters => GeneralStatus::CONNECTION_FAILURE,
            _ => GeneralStatus::INVALID_PARAMETER_VALUE,
        }
    }

    /// The encapsulation status a server answers a packet breaking this rule with.
    ///
    /// | violation | encapsulation status |
    /// |---|---|
    /// | `UnknownCommand` | 0x0001 invalid or unsupported command |
    /// | `LengthTooLong` | 0x0065 invalid length |
    /// | `ProtocolVersion` | 0x0069 unsupported protocol revision |
    /// | anything else | 0x0003 incorrect data |
    pub const fn encap_status(self) -> EncapStatus {
        match self {
            Violation::UnknownCommand => EncapStatus::INVALID_COMMAND,
            Violation::LengthTooLong => EncapStatus::INVALID_LENGTH,
            Violation::ProtocolVersion => EncapStatus::UNSUPPORTED_PROTOCOL,
            _ => EncapStatus::INCORRECT_DATA,
        }
    }
}

impl Error {
    /// The rule broken, for [`Malformed`](Error::Malformed) and [`Invalid`](Error::Invalid).
    pub const fn violation(&self) -> Option<Violation> {
        match *self {
            Error::Malformed(v) | Error::Invalid(v) => Some(v),
            Error::Incomplete { .. } | Error::BufferTooSmall { .. } => None,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Incomplete { needed } => write!(
                f,
                "incomplete EtherNet/IP packet: read until {needed} bytes are buffered"
            ),
            Error::Malformed(v) => write!(f, "malformed EtherNet/IP message: {v}"),
            Error::Invalid(v) => write!(f, "cannot emit EtherNet/IP message: {v}"),
            Error::BufferTooSmall { needed } => write!(
                f,
                "buffer too small for EtherNet/IP message: {needed} bytes needed"
            ),
        }
    }
}

/// Maps codec errors onto the runtime's error codes.
///
/// | codec error | `ptk_runtime::Error` |
/// |---|---|
/// | `Malformed(LengthTooLong)`, `BufferTooSmall` | `MessageTooLarge` |
/// | `Invalid` | `InvalidArgument` |
/// | `Incomplete`, other `Malformed` | `ProtocolError` |
impl From<Error> for ptk_runtime::Error {
    fn from(e: Error) -> ptk_runtime::Error {
        match e {
            Error::Malformed(Violation::LengthTooLong) | Error::BufferTooSmall { .. } => {
                ptk_runtime::Error::MessageTooLarge
            }
            Error::Invalid(_) => ptk_runtime::Error::InvalidArgument,
            Error::Incomplete { .. } | Error::Malformed(_) => ptk_runtime::Error::ProtocolError,
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_onto_runtime_errors_as_documented() {
        use ptk_runtime::Error as Rt;
        let cases = [
            (Error::Incomplete { needed: 24 }, Rt::ProtocolError),
            (Error::Malformed(Violation::Truncated), Rt::ProtocolError),
            (
                Error::Malformed(Violation::LengthTooLong),
                Rt::MessageTooLarge,
            ),
            (Error::Invalid(Violation::PathTooLong), Rt::InvalidArgument),
            (Error::BufferTooSmall { needed: 30 }, Rt::MessageTooLarge),
        ];
        for (codec, runtime) in cases {
            assert_eq!(Rt::from(codec), runtime, "{codec:?}");
        }
    }

    #[test]
    fn error_is_at_most_two_words() {
        assert!(core::mem::size_of::<Error>() <= 2 * core::mem::size_of::<usize>());
    }

    #[test]
    fn violations_map_onto_the_statuses_a_server_answers() {
        assert_eq!(Violation::Truncated.general_status().as_u8(), 0x13);
        assert_eq!(Violation::TrailingBytes.general_status().as_u8(), 0x15);
        assert_eq!(Violation::SegmentType.general_status().as_u8(), 0x04);
        assert_eq!(Violation::PathSize.general_status().as_u8(), 0x26);
        assert_eq!(Violation::UnknownService.general_status().as_u8(), 0x08);
        assert_eq!(Violation::ElementCount.general_status().as_u8(), 0x03);
        assert_eq!(Violation::UnknownCommand.encap_status().as_u32(), 0x0001);
        assert_eq!(Violation::LengthTooLong.encap_status().as_u32(), 0x0065);
        assert_eq!(Violation::ProtocolVersion.encap_status().as_u32(), 0x0069);
        assert_eq!(Violation::ItemType.encap_status().as_u32(), 0x0003);
    }

    #[test]
    fn messages_say_what_happened() {
        use std::string::ToString;
        assert_eq!(
            Error::Incomplete { needed: 24 }.to_string(),
            "incomplete EtherNet/IP packet: read until 24 bytes are buffered"
        );
        assert_eq!(
            Error::Malformed(Violation::PathSize).to_string(),
            "malformed EtherNet/IP message: EPATH size does not match its segments"
        );
    }
}
