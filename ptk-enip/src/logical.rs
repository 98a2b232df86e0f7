//! Logical segments: class, instance, member, connection point and attribute ids, in 8, 16
//! or 32 bits.

use crate::error::{Error, Result, Violation};

/// What a logical segment addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalType {
    /// A class id (`0x20`).
    Class,
    /// An instance id (`0x24`).
    Instance,
    /// A member id (`0x28`); Logix addresses array elements with it.
    Member,
    /// A connection point (`0x2C`).
    ConnectionPoint,
    /// An attribute id (`0x30`).
    Attribute,
}

impl LogicalType {
    pub(crate) const fn bits(self) -> u8 {
        match self {
            LogicalType::Class => 0,
            LogicalType::Instance => 1,
            LogicalType::Member => 2,
            LogicalType::ConnectionPoint => 3,
            LogicalType::Attribute => 4,
        }
    }

    pub(crate) const fn from_bits(bits: u8) -> Option<LogicalType> {
        Some(match bits {
            0 => LogicalType::Class,
            1 => LogicalType::Instance,
            2 => LogicalType::Member,
            3 => LogicalType::ConnectionPoint,
            4 => LogicalType::Attribute,
            _ => return None,
        })
    }

    /// Whether the 32-bit format is allowed: for instances, members and connection points.
    pub(crate) const fn allows_32_bit(self) -> bool {
        matches!(
            self,
            LogicalType::Instance | LogicalType::Member | LogicalType::ConnectionPoint
        )
    }
}

/// The width of a logical segment's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogicalFormat {
    /// One byte, right after the segment type.
    U8,
    /// Two bytes, after a pad byte.
    U16,
    /// Four bytes, after a pad byte.
    U32,
}

impl LogicalFormat {
    /// The smallest format that holds `value`.
    pub const fn of(value: u32) -> LogicalFormat {
        if value <= 0xFF {
            LogicalFormat::U8
        } else if value <= 0xFFFF {
            LogicalFormat::U16
        } else {
            LogicalFormat::U32
        }
    }

    pub(crate) const fn encoded_len(self) -> usize {
        match self {
            LogicalFormat::U8 => 2,
            LogicalFormat::U16 => 4,
            LogicalFormat::U32 => 6,
        }
    }
}

/// A logical segment: a class, instance, member, connection point or attribute id.
///
/// The constructors pick the smallest format for the value; a parsed segment keeps the
/// format it had on the wire, so it emits to the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogicalSegment {
    /// What the value addresses.
    pub kind: LogicalType,
    /// The id.
    pub value: u32,
    /// The width the value is encoded with; it must hold the value.
    pub format: LogicalFormat,
}

impl LogicalSegment {
    /// A segment of `kind` with `value`, in the smallest format.
    pub const fn new(kind: LogicalType, value: u32) -> LogicalSegment {
        LogicalSegment {
            kind,
            value,
            format: LogicalFormat::of(value),
        }
    }

    /// A class id.
    pub const fn class(id: u16) -> LogicalSegment {
        LogicalSegment::new(LogicalType::Class, id as u32)
    }

    /// An instance id.
    pub const fn instance(id: u32) -> LogicalSegment {
        LogicalSegment::new(LogicalType::Instance, id)
    }

    /// An attribute id.
    pub const fn attribute(id: u16) -> LogicalSegment {
        LogicalSegment::new(LogicalType::Attribute, id as u32)
    }

    /// A member id, which is how Logix addresses an array element.
    pub const fn member(id: u32) -> LogicalSegment {
        LogicalSegment::new(LogicalType::Member, id)
    }

    /// A connection point.
    pub const fn connection_point(id: u32) -> LogicalSegment {
        LogicalSegment::new(LogicalType::ConnectionPoint, id)
    }

    pub(crate) fn check(&self) -> Result<()> {
        let fits = self.format >= LogicalFormat::of(self.value);
        let allowed = self.format != LogicalFormat::U32 || self.kind.allows_32_bit();
        if fits && allowed {
            Ok(())
        } else {
            Err(Error::Invalid(Violation::SegmentType))
        }
    }
}
