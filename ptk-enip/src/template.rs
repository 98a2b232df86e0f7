//! The Logix Template object (class 0x6C): one instance per structure type, whose attributes
//! and definition (members, then names) clients read to decode structure tags.
//!
//! Clients fetch a template in two steps: Get_Attribute_List (0x03) of attributes 4, 5, 2
//! and 1 (pylogix asks 3 too), then Read (0x4C) of the definition, by byte offset and count.

use crate::error::{Error, Result, Violation};
use crate::wire::{Reader, Writer};
use crate::{DataType, LOGIX_STRING_HANDLE};

/// The attribute ids of the Template object.
pub mod attribute {
    /// The structure handle (UINT): what Read Tag replies and Write Tag requests carry after
    /// the structure marker.
    pub const STRUCTURE_HANDLE: u16 = 1;
    /// The number of members (UINT).
    pub const MEMBER_COUNT: u16 = 2;
    /// An attribute pylogix asks for and Logix answers with a UINT; pylogix reads the
    /// member count at a fixed offset that holds only when this value is 2 bytes long.
    pub const RESERVED: u16 = 3;
    /// The size of the definition in 32-bit words (UDINT), counting 20 bytes of header the
    /// Read service does not return: clients read `4 * size - 20` bytes (pycomm3 asks 21
    /// less, pylogix rounds up to whole words).
    pub const DEFINITION_SIZE: u16 = 4;
    /// The size in bytes of one value of the structure (UDINT), as Read Tag transfers it.
    pub const STRUCTURE_SIZE: u16 = 5;
}

/// One member of a template definition: 8 bytes.
///
/// # Examples
///
/// ```
/// use ptk_enip::TemplateMember;
///
/// // DATA, SINT[82] at byte 4, as in the STRING template.
/// let data = TemplateMember { info: 82, type_code: 0x00C2, offset: 4 };
/// let mut buf = [0u8; 8];
/// assert_eq!(data.emit(&mut buf), Ok(8));
/// assert_eq!(buf, [0x52, 0x00, 0xC2, 0x00, 0x04, 0x00, 0x00, 0x00]);
/// assert_eq!(TemplateMember::parse(&buf), Ok(data));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TemplateMember {
    /// The array size of an array member, the bit number of a BOOL member, else 0.
    pub info: u16,
    /// The member's type: an atomic code, or a structure's symbol type word.
    pub type_code: u16,
    /// The member's byte offset in the structure.
    pub offset: u32,
}

impl TemplateMember {
    /// The encoded length.
    pub const LEN: usize = 8;

    /// Parses a member from the start of `bytes`.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if `bytes` is shorter than 8 bytes.
    pub fn parse(bytes: &[u8]) -> Result<TemplateMember> {
        let mut r = Reader::new(bytes);
        Ok(TemplateMember {
            info: r.u16()?,
            type_code: r.u16()?,
            offset: r.u32()?,
        })
    }

    /// Writes the member into the start of `buf` and returns its length (8).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, TemplateMember::LEN)?;
        w.u16(self.info).u16(self.type_code).u32(self.offset);
        Ok(w.finish())
    }
}

/// The request data of Read (0x4C) on a template instance: a byte offset into the
/// definition and how many bytes to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadTemplate {
    /// The byte offset into the definition.
    pub offset: u32,
    /// How many bytes to return.
    pub bytes: u16,
}

impl ReadTemplate {
    /// The encoded length.
    pub const LEN: usize = 6;

    /// Parses the request data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] or [`Violation::TrailingBytes`] for data other than 6 bytes.
    pub fn parse(data: &[u8]) -> Result<ReadTemplate> {
        let mut r = Reader::new(data);
        let read = ReadTemplate {
            offset: r.u32()?,
            bytes: r.u16()?,
        };
        r.finish()?;
        Ok(read)
    }
}

/// A structure type as the Template object serves it: its handle, member count, size, and
/// definition (members, then NUL-terminated names, the template's own name first).
///
/// # Examples
///
/// What pycomm3 and pylogix read of the predefined STRING:
///
/// ```
/// use ptk_enip::{template_attribute, Template};
///
/// let string = Template::LOGIX_STRING;
/// let mut buf = [0u8; 8];
/// let n = string.emit_attribute(template_attribute::DEFINITION_SIZE, &mut buf).unwrap();
/// assert_eq!(&buf[..n], &[15, 0, 0, 0]);
/// let n = string.emit_attribute(template_attribute::STRUCTURE_HANDLE, &mut buf).unwrap();
/// assert_eq!(&buf[..n], &[0xCE, 0x0F]);
///
/// // pycomm3 reads 4 * 15 - 21 bytes from 0; the definition ends with its names.
/// let mut definition = [0u8; 39];
/// assert_eq!(string.read_definition(0, 39, &mut definition), Ok(39));
/// assert!(definition.ends_with(b"ASCIISTRING82\0LEN\0DATA\0"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Template<'a> {
    /// The structure handle (attribute 1).
    pub handle: u16,
    /// The number of members (attribute 2).
    pub member_count: u16,
    /// The size of one value in bytes (attribute 5).
    pub structure_size: u32,
    /// The definition: `member_count` [`TemplateMember`]s, the names, zero padding to a
    /// multiple of 4 bytes.
    pub definition: &'a [u8],
}

/// The STRING definition: LEN (DINT at 0), DATA (SINT\[82\] at 4), then the names. The
/// template name has no `;` (pylogix would read member info after one).
const LOGIX_STRING_DEFINITION: [u8; 40] = *b"\x00\x00\xC4\x00\x00\x00\x00\x00\
\x52\x00\xC2\x00\x04\x00\x00\x00\
ASCIISTRING82\0LEN\0DATA\0\0";

impl Template<'_> {
    /// The predefined Logix STRING (template instance and handle 0x0FCE, 88 bytes): named
    /// `ASCIISTRING82`, which pycomm3 reports as `STRING`.
    pub const LOGIX_STRING: Template<'static> = Template {
        handle: LOGIX_STRING_HANDLE,
        member_count: 2,
        structure_size: crate::limits::LOGIX_STRING_LEN as u32,
        definition: &LOGIX_STRING_DEFINITION,
    };

    /// The definition size attribute: the definition and 20 bytes of header, in 32-bit
    /// words (rounded up).
    pub const fn definition_words(&self) -> u32 {
        (self.definition.len() as u32 + 20).div_ceil(4)
    }

    /// Writes the value of attribute `id` (see [`template_attribute`](crate::template_attribute))
    /// into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::UnknownAttribute`] for another id (a server
    /// answers that attribute with status 0x14); [`Error::BufferTooSmall`].
    pub fn emit_attribute(&self, id: u16, buf: &mut [u8]) -> Result<usize> {
        let len = match id {
            attribute::STRUCTURE_HANDLE | attribute::MEMBER_COUNT | attribute::RESERVED => 2,
            attribute::DEFINITION_SIZE | attribute::STRUCTURE_SIZE => 4,
            _ => return Err(Error::Invalid(Violation::UnknownAttribute)),
        };
        let mut w = Writer::new(buf, len)?;
        match id {
            attribute::STRUCTURE_HANDLE => w.u16(self.handle),
            attribute::MEMBER_COUNT => w.u16(self.member_count),
            attribute::RESERVED => w.u16(0),
            attribute::DEFINITION_SIZE => w.u32(self.definition_words()),
            _ => w.u32(self.structure_size),
        };
        Ok(w.finish())
    }

    /// Writes `count` bytes of the definition from byte `offset` into the start of `buf`,
    /// zeros past its end (pylogix asks for whole words past it, and loops until it has as
    /// many bytes as it asked for). Returns `count`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is shorter than `count`.
    pub fn read_definition(&self, offset: u32, count: u16, buf: &mut [u8]) -> Result<usize> {
        let count = usize::from(count);
        let out = buf
            .get_mut(..count)
            .ok_or(Error::BufferTooSmall { needed: count })?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.definition.len());
        let part = &self.definition[start..];
        let n = part.len().min(count);
        out[..n].copy_from_slice(&part[..n]);
        out[n..].fill(0);
        Ok(count)
    }

    /// The members of the definition, as far as it holds them.
    pub fn members(&self) -> impl Iterator<Item = TemplateMember> + '_ {
        self.definition
            .chunks_exact(TemplateMember::LEN)
            .take(usize::from(self.member_count))
            .filter_map(|m| TemplateMember::parse(m).ok())
    }
}

/// The member type of a STRING's DATA: SINT.
const _: () = assert!(LOGIX_STRING_DEFINITION[10] == DataType::Sint.code());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_template_satisfies_both_clients_size_rules() {
        let t = Template::LOGIX_STRING;
        assert_eq!(t.definition.len(), 40);
        assert_eq!(t.definition_words(), 15);
        // pycomm3 reads size * 4 - 21 bytes, pylogix ceil((size * 4 - 23) / 4) * 4: both
        // within the padded definition.
        assert_eq!(15 * 4 - 21, 39);
        assert_eq!((15 * 4 - 23_usize).div_ceil(4) * 4, 40);
        let members: std::vec::Vec<_> = t.members().collect();
        assert_eq!(
            members,
            [
                TemplateMember {
                    info: 0,
                    type_code: 0xC4,
                    offset: 0
                },
                TemplateMember {
                    info: 82,
                    type_code: 0xC2,
                    offset: 4
                },
            ]
        );
    }

    #[test]
    fn reads_past_the_definition_are_zero_padded() {
        let mut buf = [0xAAu8; 8];
        assert_eq!(
            Template::LOGIX_STRING.read_definition(36, 8, &mut buf),
            Ok(8)
        );
        assert_eq!(buf, [b'T', b'A', 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Template::LOGIX_STRING.read_definition(u32::MAX, 2, &mut buf),
            Ok(2)
        );
        assert_eq!(&buf[..2], &[0, 0]);
        assert_eq!(
            Template::LOGIX_STRING.read_definition(0, 9, &mut [0u8; 4]),
            Err(Error::BufferTooSmall { needed: 9 })
        );
    }
}
