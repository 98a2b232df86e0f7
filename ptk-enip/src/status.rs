//! CIP general status codes.

use core::fmt;

/// The general status of a CIP reply. Unknown codes are kept.
///
/// # Examples
///
/// ```
/// use ptk_enip::GeneralStatus;
///
/// assert!(GeneralStatus::SUCCESS.is_success());
/// assert_eq!(GeneralStatus(0x05).to_string(), "path destination unknown (0x05)");
/// assert_eq!(GeneralStatus(0xEE).description(), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GeneralStatus(pub u8);

macro_rules! statuses {
    ($($name:ident = $code:literal, $text:literal;)*) => {
        impl GeneralStatus {
            $(
                #[doc = concat!("`", stringify!($code), "`: ", $text, ".")]
                pub const $name: GeneralStatus = GeneralStatus($code);
            )*

            /// What the status means, or `None` for a code CIP does not define.
            pub const fn description(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x00, "success";
    CONNECTION_FAILURE = 0x01, "connection failure";
    RESOURCE_UNAVAILABLE = 0x02, "resource unavailable";
    INVALID_PARAMETER_VALUE = 0x03, "invalid parameter value";
    PATH_SEGMENT_ERROR = 0x04, "path segment error";
    PATH_DESTINATION_UNKNOWN = 0x05, "path destination unknown";
    PARTIAL_TRANSFER = 0x06, "partial transfer";
    CONNECTION_LOST = 0x07, "connection lost";
    SERVICE_NOT_SUPPORTED = 0x08, "service not supported";
    INVALID_ATTRIBUTE_VALUE = 0x09, "invalid attribute value";
    ATTRIBUTE_LIST_ERROR = 0x0A, "attribute list error";
    ALREADY_IN_REQUESTED_MODE = 0x0B, "already in requested mode or state";
    OBJECT_STATE_CONFLICT = 0x0C, "object state conflict";
    OBJECT_ALREADY_EXISTS = 0x0D, "object already exists";
    ATTRIBUTE_NOT_SETTABLE = 0x0E, "attribute not settable";
    PRIVILEGE_VIOLATION = 0x0F, "privilege violation";
    DEVICE_STATE_CONFLICT = 0x10, "device state conflict";
    REPLY_DATA_TOO_LARGE = 0x11, "reply data too large";
    FRAGMENTATION_OF_PRIMITIVE = 0x12, "fragmentation of a primitive value";
    NOT_ENOUGH_DATA = 0x13, "not enough data";
    ATTRIBUTE_NOT_SUPPORTED = 0x14, "attribute not supported";
    TOO_MUCH_DATA = 0x15, "too much data";
    OBJECT_DOES_NOT_EXIST = 0x16, "object does not exist";
    FRAGMENTATION_NOT_IN_PROGRESS = 0x17, "service fragmentation sequence not in progress";
    NO_STORED_ATTRIBUTE_DATA = 0x18, "no stored attribute data";
    STORE_OPERATION_FAILURE = 0x19, "store operation failure";
    REQUEST_TOO_LARGE = 0x1A, "routing failure, request packet too large";
    RESPONSE_TOO_LARGE = 0x1B, "routing failure, response packet too large";
    MISSING_ATTRIBUTE_LIST_ENTRY = 0x1C, "missing attribute list entry data";
    INVALID_ATTRIBUTE_VALUE_LIST = 0x1D, "invalid attribute value list";
    EMBEDDED_SERVICE_ERROR = 0x1E, "embedded service error";
    VENDOR_SPECIFIC = 0x1F, "vendor specific error";
    INVALID_PARAMETER = 0x20, "invalid parameter";
    WRITE_ONCE_VALUE = 0x21, "write-once value or medium already written";
    INVALID_REPLY = 0x22, "invalid reply received";
    BUFFER_OVERFLOW = 0x23, "buffer overflow";
    MESSAGE_FORMAT_ERROR = 0x24, "message format error";
    KEY_FAILURE_IN_PATH = 0x25, "key failure in path";
    PATH_SIZE_INVALID = 0x26, "path size invalid";
    UNEXPECTED_ATTRIBUTE = 0x27, "unexpected attribute in list";
    INVALID_MEMBER_ID = 0x28, "invalid member id";
    MEMBER_NOT_SETTABLE = 0x29, "member not settable";
    GROUP_2_SERVER_FAILURE = 0x2A, "group 2 only server general failure";
    UNKNOWN_MODBUS_ERROR = 0x2B, "unknown Modbus error";
    ATTRIBUTE_NOT_GETTABLE = 0x2C, "attribute not gettable";
}

impl GeneralStatus {
    /// The status code.
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// Whether the status is success (0x00).
    pub const fn is_success(self) -> bool {
        self.0 == 0
    }

    /// Whether a reply with this status carries its service's data: success, partial
    /// transfer (0x06, which Read Tag Fragmented and Get_Instance_Attribute_List answer when
    /// more data follows) and embedded service error (0x1E, which Multiple Service Packet
    /// answers when some of its services failed).
    pub const fn has_data(self) -> bool {
        matches!(self.0, 0x00 | 0x06 | 0x1E)
    }
}

impl fmt::Debug for GeneralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GeneralStatus({:#04x})", self.0)
    }
}

impl fmt::Display for GeneralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(text) => write!(f, "{text} ({:#04x})", self.0),
            None => write!(f, "unknown general status ({:#04x})", self.0),
        }
    }
}
