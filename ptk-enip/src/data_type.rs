//! CIP data type codes: the atomic types and the structure marker, as Read Tag replies and
//! Write Tag requests carry them.

use crate::error::{Error, Result, Violation};
use crate::wire::{Reader, Writer};

/// An atomic CIP data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    /// 0xC1: a boolean in one byte (0 false, anything else true).
    Bool,
    /// 0xC2: a signed 8-bit integer.
    Sint,
    /// 0xC3: a signed 16-bit integer.
    Int,
    /// 0xC4: a signed 32-bit integer.
    Dint,
    /// 0xC5: a signed 64-bit integer.
    Lint,
    /// 0xC6: an unsigned 8-bit integer.
    Usint,
    /// 0xC7: an unsigned 16-bit integer.
    Uint,
    /// 0xC8: an unsigned 32-bit integer.
    Udint,
    /// 0xC9: an unsigned 64-bit integer.
    Ulint,
    /// 0xCA: a 32-bit IEEE 754 float.
    Real,
    /// 0xCB: a 64-bit IEEE 754 float.
    Lreal,
    /// 0xD3: 32 bits; Logix stores BOOL arrays as DWORDs, 32 booleans each.
    Dword,
}

impl DataType {
    /// Every atomic type, in code order.
    pub const ALL: [DataType; 12] = [
        DataType::Bool,
        DataType::Sint,
        DataType::Int,
        DataType::Dint,
        DataType::Lint,
        DataType::Usint,
        DataType::Uint,
        DataType::Udint,
        DataType::Ulint,
        DataType::Real,
        DataType::Lreal,
        DataType::Dword,
    ];

    /// The type's code.
    pub const fn code(self) -> u8 {
        match self {
            DataType::Bool => 0xC1,
            DataType::Sint => 0xC2,
            DataType::Int => 0xC3,
            DataType::Dint => 0xC4,
            DataType::Lint => 0xC5,
            DataType::Usint => 0xC6,
            DataType::Uint => 0xC7,
            DataType::Udint => 0xC8,
            DataType::Ulint => 0xC9,
            DataType::Real => 0xCA,
            DataType::Lreal => 0xCB,
            DataType::Dword => 0xD3,
        }
    }

    /// The type of `code`, or `None` for a code that is not an atomic type of this codec.
    pub const fn from_code(code: u8) -> Option<DataType> {
        Some(match code {
            0xC1 => DataType::Bool,
            0xC2 => DataType::Sint,
            0xC3 => DataType::Int,
            0xC4 => DataType::Dint,
            0xC5 => DataType::Lint,
            0xC6 => DataType::Usint,
            0xC7 => DataType::Uint,
            0xC8 => DataType::Udint,
            0xC9 => DataType::Ulint,
            0xCA => DataType::Real,
            0xCB => DataType::Lreal,
            0xD3 => DataType::Dword,
            _ => return None,
        })
    }

    /// The size of one value in bytes.
    pub const fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::Sint | DataType::Usint => 1,
            DataType::Int | DataType::Uint => 2,
            DataType::Dint | DataType::Udint | DataType::Real | DataType::Dword => 4,
            DataType::Lint | DataType::Ulint | DataType::Lreal => 8,
        }
    }

    /// The name Logix gives the type.
    pub const fn name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::Sint => "SINT",
            DataType::Int => "INT",
            DataType::Dint => "DINT",
            DataType::Lint => "LINT",
            DataType::Usint => "USINT",
            DataType::Uint => "UINT",
            DataType::Udint => "UDINT",
            DataType::Ulint => "ULINT",
            DataType::Real => "REAL",
            DataType::Lreal => "LREAL",
            DataType::Dword => "DWORD",
        }
    }
}

/// The marker of a structure's type field, `0x02A0`, followed by the structure handle.
pub const STRUCTURE_MARKER: u16 = 0x02A0;

/// The structure handle of the Logix STRING type (LEN as DINT, DATA as SINT\[82\]).
pub const LOGIX_STRING_HANDLE: u16 = 0x0FCE;

/// The type field of Read Tag replies and Write Tag requests: an atomic type's code, or the
/// structure marker and the structure's handle (a CRC of its definition, which a writer must
/// echo).
///
/// # Examples
///
/// ```
/// use ptk_enip::{DataType, TagType};
///
/// assert_eq!(TagType::parse(&[0xC4, 0x00, 0x2A]), Ok((TagType::Atomic(DataType::Dint), 2)));
/// let string = TagType::parse(&[0xA0, 0x02, 0xCE, 0x0F]).unwrap().0;
/// assert_eq!(string, TagType::LOGIX_STRING);
/// assert_eq!(string.buffer_len(), 4);
/// assert_eq!(TagType::parse(&[0xD0, 0x00]), Ok((TagType::Other(0x00D0), 2)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagType {
    /// An atomic type.
    Atomic(DataType),
    /// A structure, by its handle.
    Structure(u16),
    /// Another type code (such as 0xD0, a CIP STRING), kept as received.
    Other(u16),
}

impl TagType {
    /// The type of a Logix STRING tag.
    pub const LOGIX_STRING: TagType = TagType::Structure(LOGIX_STRING_HANDLE);

    /// Parses the type field at the start of `bytes` and returns it with its length (2, or 4
    /// for a structure).
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if `bytes` ends inside the field.
    pub fn parse(bytes: &[u8]) -> Result<(TagType, usize)> {
        let mut r = Reader::new(bytes);
        let code = r.u16()?;
        Ok(if code == STRUCTURE_MARKER {
            (TagType::Structure(r.u16()?), 4)
        } else {
            match code.to_le_bytes() {
                [atomic, 0] => match DataType::from_code(atomic) {
                    Some(data_type) => (TagType::Atomic(data_type), 2),
                    None => (TagType::Other(code), 2),
                },
                _ => (TagType::Other(code), 2),
            }
        })
    }

    /// The length of the type field.
    pub const fn buffer_len(&self) -> usize {
        match self {
            TagType::Structure(_) => 4,
            _ => 2,
        }
    }

    /// The size of one element, known for atomic types only.
    pub const fn element_size(&self) -> Option<usize> {
        match self {
            TagType::Atomic(data_type) => Some(data_type.size()),
            _ => None,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match *self {
            TagType::Atomic(data_type) => w.u16(u16::from(data_type.code())),
            TagType::Structure(handle) => w.u16(STRUCTURE_MARKER).u16(handle),
            TagType::Other(STRUCTURE_MARKER) => return Err(Error::Invalid(Violation::DataType)),
            TagType::Other(code) => w.u16(code),
        };
        Ok(())
    }

    /// Writes the type field into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::DataType`] for `Other(0x02A0)`, which would read
    /// back as a structure; [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, self.buffer_len())?;
        self.write(&mut w)?;
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_sizes_are_those_of_cip() {
        let codes: std::vec::Vec<u8> = DataType::ALL.iter().map(|t| t.code()).collect();
        assert_eq!(
            codes,
            [0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xD3]
        );
        for t in DataType::ALL {
            assert_eq!(DataType::from_code(t.code()), Some(t));
        }
        assert_eq!(DataType::Lreal.size(), 8);
        assert_eq!(DataType::Dword.name(), "DWORD");
        assert_eq!(DataType::from_code(0xD0), None);
    }

    #[test]
    fn type_fields_round_trip() {
        for t in [
            TagType::Atomic(DataType::Real),
            TagType::LOGIX_STRING,
            TagType::Other(0x00D0),
            TagType::Other(0x12C4),
        ] {
            let mut buf = [0u8; 4];
            let n = t.emit(&mut buf).unwrap();
            assert_eq!(TagType::parse(&buf[..n]), Ok((t, n)));
        }
        assert_eq!(
            TagType::parse(&[0xA0, 0x02, 0xCE]),
            Err(Error::Malformed(Violation::Truncated))
        );
        assert_eq!(
            TagType::Other(STRUCTURE_MARKER).emit(&mut [0u8; 4]),
            Err(Error::Invalid(Violation::DataType))
        );
    }
}
