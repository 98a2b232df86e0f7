//! The codec's error type: what went wrong, and what the connection should do about it.

use core::fmt;

use crate::{ExceptionCode, Response};

/// The result type of the codec.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Why the codec refused bytes or a representation.
///
/// The variants are the decisions a driver has to make, not just descriptions:
///
/// | variant | where | the driver should |
/// |---|---|---|
/// | [`Incomplete`](Error::Incomplete) | framing a stream | read until the buffer holds `needed` bytes, then try again |
/// | [`Malformed`](Error::Malformed) | framing, or a response | close the connection (a server) or fail the transaction (a client) |
/// | [`Exception`](Error::Exception) | a request, on a server | answer with [`exception_response`](Error::exception_response) and go on |
/// | [`Invalid`](Error::Invalid) | `emit` | fix the representation: it breaks a protocol limit |
/// | [`BufferTooSmall`](Error::BufferTooSmall) | `emit` | give a buffer of `needed` bytes ([`MAX_FRAME_LEN`](crate::limits::MAX_FRAME_LEN) always fits) |
///
/// The enum is `Copy` and at most two words wide, so returning it costs nothing.
///
/// # Examples
///
/// A server answers a well-framed request that breaks a limit with the exception the
/// specification asks for:
///
/// ```
/// use ptk_modbus::{Error, ExceptionCode, Request, Response, Violation};
///
/// // Read 2001 coils: one more than the limit of 2000.
/// let err = Request::parse(&[0x01, 0x00, 0x00, 0x07, 0xD1]).unwrap_err();
/// assert_eq!(
///     err,
///     Error::Exception {
///         function: 0x01,
///         code: ExceptionCode::IllegalDataValue,
///         violation: Violation::Quantity,
///     }
/// );
/// let answer = err.exception_response().unwrap();
/// let mut pdu = [0u8; 2];
/// assert_eq!(answer.emit(&mut pdu), Ok(2));
/// assert_eq!(pdu, [0x81, 0x03]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer holds only the start of a frame. `needed` is the length of the whole frame
    /// once the first six bytes (up to the MBAP length field) are present, and the shortest
    /// possible frame ([`MIN_FRAME_LEN`](crate::limits::MIN_FRAME_LEN)) before that: read at
    /// least up to `needed` bytes, then try again.
    Incomplete {
        /// How many bytes the buffer must hold before trying again.
        needed: usize,
    },
    /// The bytes break the framing or the response format. On a stream the frame boundaries
    /// can no longer be trusted, so the connection must be closed.
    Malformed(Violation),
    /// A well-framed request the server must refuse with `code`, sent back as an exception
    /// response to `function` (see [`exception_response`](Error::exception_response)).
    Exception {
        /// The function code of the request, as received.
        function: u8,
        /// The exception code the specification prescribes for `violation`.
        code: ExceptionCode,
        /// The rule the request broke.
        violation: Violation,
    },
    /// A representation given to `emit` breaks a protocol limit; nothing was written.
    Invalid(Violation),
    /// The buffer given to `emit` is shorter than the `needed` bytes of the message; nothing
    /// was written.
    BufferTooSmall {
        /// How many bytes the message takes.
        needed: usize,
    },
}

/// The protocol rule a frame, PDU or representation broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Violation {
    /// The MBAP protocol identifier is not 0 (Modbus).
    ProtocolId,
    /// The MBAP length field is below 2: there is no room for the unit id and a function code.
    LengthTooShort,
    /// The MBAP length field is above 254, or a PDU is longer than 253 bytes.
    LengthTooLong,
    /// The PDU is empty: it has no function code.
    EmptyPdu,
    /// The function code is not one this codec implements.
    UnknownFunction,
    /// The PDU is shorter or longer than the layout of its function code says.
    PduLength,
    /// A quantity of coils or registers is 0 or above the limit of its function code.
    Quantity,
    /// A byte count does not match the quantity it carries (`ceil(quantity / 8)` for coils,
    /// `2 * quantity` for registers), or the bytes that follow it.
    ByteCount,
    /// Address plus quantity passes the end of the 16-bit address space (0x10000).
    AddressRange,
    /// A write single coil value is neither 0xFF00 (on) nor 0x0000 (off).
    CoilValue,
    /// A response carries another function code than the request it answers.
    FunctionMismatch,
    /// A response does not echo what it must of its request: the address, value or quantity
    /// of a write, the sub-function (and, for return query data, the data) of diagnostics,
    /// the groups of a write file record.
    EchoMismatch,
    /// The function code of an exception response has its high bit set already (it must be
    /// below 0x80 before the codec adds it).
    ExceptionFunction,
    /// The MEI type of an encapsulated interface transport (function code 43) is not 14,
    /// Read Device Identification.
    MeiType,
    /// The Read Device ID code is not 1 (basic), 2 (regular), 3 (extended) or 4 (individual).
    ReadDeviceIdCode,
    /// A Read Device Identification response is inconsistent: objects that do not fill the
    /// PDU as their count and lengths say, a more-follows byte other than 0x00 or 0xFF, a
    /// conformity level outside 0x01..=0x03 and 0x81..=0x83, or an individual access answered
    /// with other than exactly one object.
    DeviceIdentification,
    /// A file record group (function codes 20 and 21) has a reference type other than 6, file
    /// number 0, or records outside 0..=9999.
    FileRecord,
    /// A communication event status word (function codes 11 and 12) is neither 0x0000 nor
    /// 0xFFFF.
    StatusWord,
}

impl Violation {
    /// A sentence saying which rule was broken.
    pub const fn as_str(self) -> &'static str {
        match self {
            Violation::ProtocolId => "MBAP protocol identifier is not 0",
            Violation::LengthTooShort => "MBAP length field is below 2 (unit id and function code)",
            Violation::LengthTooLong => {
                "MBAP length field is above 254 (PDU longer than 253 bytes)"
            }
            Violation::EmptyPdu => "PDU has no function code",
            Violation::UnknownFunction => "function code is not supported",
            Violation::PduLength => "PDU length does not match its function code",
            Violation::Quantity => "quantity is 0 or above the limit of the function code",
            Violation::ByteCount => "byte count does not match the quantity or the data",
            Violation::AddressRange => "address plus quantity passes 0x10000",
            Violation::CoilValue => "coil value is neither 0xFF00 nor 0x0000",
            Violation::FunctionMismatch => "response function code differs from the request's",
            Violation::EchoMismatch => "response does not echo its request",
            Violation::ExceptionFunction => "exception function code must be below 0x80",
            Violation::MeiType => "MEI type is not 14 (read device identification)",
            Violation::ReadDeviceIdCode => "read device ID code is not 1, 2, 3 or 4",
            Violation::DeviceIdentification => {
                "device identification response is inconsistent (objects, more follows, \
                 conformity level)"
            }
            Violation::FileRecord => {
                "file record group has a reference type other than 6, file number 0 or records \
                 outside 0..=9999"
            }
            Violation::StatusWord => "status word is neither 0x0000 nor 0xFFFF",
        }
    }
}

impl Error {
    /// The exception response a server sends for this error, if the error is an
    /// [`Exception`](Error::Exception); `None` for every other error, after which a server
    /// closes the connection.
    pub const fn exception_response(&self) -> Option<Response<'static>> {
        match *self {
            Error::Exception { function, code, .. } => Some(Response::Exception {
                // A request function code with the high bit set is answered with the same
                // byte, which is what `function | 0x80` gives for the masked code as well.
                function: function & 0x7F,
                code,
            }),
            _ => None,
        }
    }

    /// Whether the connection must be closed: the framing of the stream is broken.
    pub const fn must_close(&self) -> bool {
        matches!(self, Error::Malformed(_))
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
            Error::Incomplete { needed } => {
                write!(
                    f,
                    "incomplete Modbus frame: read until {needed} bytes are buffered"
                )
            }
            Error::Malformed(v) => write!(f, "malformed Modbus frame: {v}"),
            Error::Exception {
                function,
                code,
                violation,
            } => write!(
                f,
                "Modbus request (function {function:#04x}) refused with {code}: {violation}"
            ),
            Error::Invalid(v) => write!(f, "cannot emit Modbus message: {v}"),
            Error::BufferTooSmall { needed } => {
                write!(
                    f,
                    "buffer too small for Modbus message: {needed} bytes needed"
                )
            }
        }
    }
}

/// Maps codec errors onto the runtime's error codes.
///
/// | codec error | `ptk_runtime::Error` |
/// |---|---|
/// | `Malformed(LengthTooLong)`, `BufferTooSmall` | `MessageTooLarge` |
/// | `Invalid` | `InvalidArgument` |
/// | `Incomplete`, other `Malformed`, `Exception` | `ProtocolError` |
///
/// `Incomplete` only means "read more" while framing a stream; it becomes a protocol error
/// when no more bytes will come (the peer closed mid-frame, or a datagram was cut short).
impl From<Error> for ptk_runtime::Error {
    fn from(e: Error) -> ptk_runtime::Error {
        match e {
            Error::Malformed(Violation::LengthTooLong) | Error::BufferTooSmall { .. } => {
                ptk_runtime::Error::MessageTooLarge
            }
            Error::Invalid(_) => ptk_runtime::Error::InvalidArgument,
            Error::Incomplete { .. } | Error::Malformed(_) | Error::Exception { .. } => {
                ptk_runtime::Error::ProtocolError
            }
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
            (Error::Incomplete { needed: 8 }, Rt::ProtocolError),
            (Error::Malformed(Violation::ProtocolId), Rt::ProtocolError),
            (
                Error::Malformed(Violation::LengthTooShort),
                Rt::ProtocolError,
            ),
            (
                Error::Malformed(Violation::LengthTooLong),
                Rt::MessageTooLarge,
            ),
            (
                Error::Exception {
                    function: 1,
                    code: ExceptionCode::IllegalDataValue,
                    violation: Violation::Quantity,
                },
                Rt::ProtocolError,
            ),
            (Error::Invalid(Violation::Quantity), Rt::InvalidArgument),
            (Error::BufferTooSmall { needed: 12 }, Rt::MessageTooLarge),
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
    fn only_exceptions_have_an_exception_response() {
        let e = Error::Exception {
            function: 0x85,
            code: ExceptionCode::IllegalFunction,
            violation: Violation::UnknownFunction,
        };
        assert_eq!(
            e.exception_response(),
            Some(Response::Exception {
                function: 0x05,
                code: ExceptionCode::IllegalFunction
            })
        );
        assert!(!e.must_close());
        assert_eq!(
            Error::Malformed(Violation::ProtocolId).exception_response(),
            None
        );
        assert!(Error::Malformed(Violation::ProtocolId).must_close());
        assert_eq!(Error::Incomplete { needed: 9 }.exception_response(), None);
    }

    #[test]
    fn messages_say_what_to_do() {
        use std::string::ToString;
        assert_eq!(
            Error::Incomplete { needed: 12 }.to_string(),
            "incomplete Modbus frame: read until 12 bytes are buffered"
        );
        assert_eq!(
            Error::Exception {
                function: 3,
                code: ExceptionCode::IllegalDataValue,
                violation: Violation::Quantity
            }
            .to_string(),
            "Modbus request (function 0x03) refused with illegal data value (3): \
             quantity is 0 or above the limit of the function code"
        );
    }
}
