//! The Logix tag services: Read Tag (0x4C), Write Tag (0x4D), Read Tag Fragmented (0x52),
//! Write Tag Fragmented (0x53) and Read-Modify-Write (0x4E): their request data and the
//! read replies' data.

use crate::error::{Error, Result, Violation};
use crate::wire::{Reader, Writer};
use crate::{Elements, TagType};

/// The request data of Read Tag (0x4C): how many elements to read from the tag's path.
///
/// # Examples
///
/// ```
/// use ptk_enip::ReadTag;
///
/// assert_eq!(ReadTag::parse(&[0x0A, 0x00]), Ok(ReadTag { elements: 10 }));
/// let mut buf = [0u8; 2];
/// assert_eq!(ReadTag { elements: 1 }.emit(&mut buf), Ok(2));
/// assert_eq!(buf, [0x01, 0x00]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadTag {
    /// The number of elements, 1 or more.
    pub elements: u16,
}

/// The request data of Read Tag Fragmented (0x52): the elements to read, and the byte offset
/// of the fragment to start at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadTagFragmented {
    /// The number of elements, 1 or more.
    pub elements: u16,
    /// The offset in bytes into the tag's data of the elements.
    pub offset: u32,
}

/// The request data of Write Tag (0x4D): the type, the element count and the values.
///
/// # Examples
///
/// ```
/// use ptk_enip::{DataType, TagType, WriteTag};
///
/// let data = [0xC4, 0x00, 0x01, 0x00, 0x2A, 0x00, 0x00, 0x00];
/// let write = WriteTag::parse(&data).unwrap();
/// assert_eq!(write.tag_type, TagType::Atomic(DataType::Dint));
/// assert_eq!(write.elements, 1);
/// assert_eq!(write.data, &[0x2A, 0x00, 0x00, 0x00]);
/// assert_eq!(write.values().unwrap().get(0), Some(ptk_enip::Value::Dint(42)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WriteTag<'a> {
    /// The type of the values.
    pub tag_type: TagType,
    /// The number of elements, 1 or more.
    pub elements: u16,
    /// The values, `elements` times the element size for atomic types.
    pub data: &'a [u8],
}

/// The request data of Write Tag Fragmented (0x53): one fragment of a write whose whole
/// data is longer than one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WriteTagFragmented<'a> {
    /// The type of the values.
    pub tag_type: TagType,
    /// The number of elements of the whole write.
    pub elements: u16,
    /// The byte offset of this fragment in the whole write's data.
    pub offset: u32,
    /// This fragment's bytes.
    pub data: &'a [u8],
}

/// The request data of Read-Modify-Write (0x4E) on an integer tag: the tag becomes
/// `(value OR or_mask) AND and_mask`, done atomically by the controller. This is how a client
/// writes single bits (`Tag.5`) without racing the program.
///
/// pycomm3 1.2 always sends an 8-byte AND mask whatever the mask size says; the codec
/// accepts AND mask bytes past the mask size when they are all 0xFF (bits that change
/// nothing) and ignores them.
///
/// # Examples
///
/// ```
/// use ptk_enip::ReadModifyWrite;
///
/// // Set bit 5 of a DINT: OR 0x20, AND 0xFFFFFFFF.
/// let data = [0x04, 0x00, 0x20, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
/// let rmw = ReadModifyWrite::parse(&data).unwrap();
/// assert_eq!(rmw.apply(0x0000_0001), 0x0000_0021);
/// let mut buf = [0u8; 10];
/// assert_eq!(rmw.emit(&mut buf), Ok(10));
/// assert_eq!(buf, data);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadModifyWrite<'a> {
    /// The bits to set, little-endian, 1, 2, 4 or 8 bytes.
    pub or_mask: &'a [u8],
    /// The bits to keep, little-endian, as long as the OR mask.
    pub and_mask: &'a [u8],
}

/// The data of a Read Tag or Read Tag Fragmented reply: the type and the values (or, for a
/// fragment, this fragment's bytes).
///
/// # Examples
///
/// ```
/// use ptk_enip::{DataType, TagData, TagType, Value};
///
/// let data = [0xCA, 0x00, 0x00, 0x00, 0xC0, 0x3F];
/// let reply = TagData::parse(&data).unwrap();
/// assert_eq!(reply.tag_type, TagType::Atomic(DataType::Real));
/// assert_eq!(reply.values().unwrap().get(0), Some(Value::Real(1.5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagData<'a> {
    /// The type of the values.
    pub tag_type: TagType,
    /// The values' bytes.
    pub data: &'a [u8],
}

fn check_elements(elements: u16) -> Result<()> {
    if elements == 0 {
        Err(Error::Malformed(Violation::ElementCount))
    } else {
        Ok(())
    }
}

fn invalid(e: Error) -> Error {
    match e {
        Error::Malformed(v) => Error::Invalid(v),
        e => e,
    }
}

impl ReadTag {
    /// The length of the request data.
    pub const LEN: usize = 2;

    /// Parses the request data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] or [`Violation::TrailingBytes`] if the data is not 2 bytes;
    /// [`Violation::ElementCount`] for 0 elements.
    pub fn parse(data: &[u8]) -> Result<ReadTag> {
        let mut r = Reader::new(data);
        let elements = r.u16()?;
        r.finish()?;
        check_elements(elements)?;
        Ok(ReadTag { elements })
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ElementCount`] for 0 elements;
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_elements(self.elements).map_err(invalid)?;
        let mut w = Writer::new(buf, ReadTag::LEN)?;
        w.u16(self.elements);
        Ok(w.finish())
    }
}

impl ReadTagFragmented {
    /// The length of the request data.
    pub const LEN: usize = 6;

    /// Parses the request data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] or [`Violation::TrailingBytes`] if the data is not 6 bytes;
    /// [`Violation::ElementCount`] for 0 elements.
    pub fn parse(data: &[u8]) -> Result<ReadTagFragmented> {
        let mut r = Reader::new(data);
        let elements = r.u16()?;
        let offset = r.u32()?;
        r.finish()?;
        check_elements(elements)?;
        Ok(ReadTagFragmented { elements, offset })
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// As [`ReadTag::emit`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        check_elements(self.elements).map_err(invalid)?;
        let mut w = Writer::new(buf, ReadTagFragmented::LEN)?;
        w.u16(self.elements).u32(self.offset);
        Ok(w.finish())
    }
}

impl<'a> WriteTag<'a> {
    /// Parses the request data. For an atomic type the data must hold exactly `elements`
    /// values; for a structure the server checks it against the structure's size.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the type or count is cut short;
    /// [`Violation::ElementCount`] for 0 elements or data that is not `elements` values of an
    /// atomic type.
    pub fn parse(data: &'a [u8]) -> Result<WriteTag<'a>> {
        let (tag_type, at) = TagType::parse(data)?;
        let mut r = Reader::new(data.get(at..).unwrap_or_default());
        let elements = r.u16()?;
        let write = WriteTag {
            tag_type,
            elements,
            data: r.rest(),
        };
        write.check()?;
        Ok(write)
    }

    fn check(&self) -> Result<()> {
        check_elements(self.elements)?;
        match self.tag_type.element_size() {
            Some(size) if size * usize::from(self.elements) != self.data.len() => {
                Err(Error::Malformed(Violation::ElementCount))
            }
            _ => Ok(()),
        }
    }

    /// The values, for an atomic type.
    pub fn values(&self) -> Option<Elements<'a>> {
        match self.tag_type {
            crate::TagType::Atomic(data_type) => Elements::new(data_type, self.data),
            _ => None,
        }
    }

    /// The length of the request data.
    pub const fn buffer_len(&self) -> usize {
        self.tag_type.buffer_len() + 2 + self.data.len()
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the violation [`parse`](WriteTag::parse) would report, or that
    /// of [`TagType::emit`]; [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check().map_err(invalid)?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        self.tag_type.write(&mut w)?;
        w.u16(self.elements).bytes(self.data);
        Ok(w.finish())
    }
}

impl<'a> WriteTagFragmented<'a> {
    /// Parses the request data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the type, count or offset is cut short;
    /// [`Violation::ElementCount`] for 0 elements, or a fragment that passes the end of
    /// `elements` values of an atomic type.
    pub fn parse(data: &'a [u8]) -> Result<WriteTagFragmented<'a>> {
        let (tag_type, at) = TagType::parse(data)?;
        let mut r = Reader::new(data.get(at..).unwrap_or_default());
        let elements = r.u16()?;
        let offset = r.u32()?;
        let write = WriteTagFragmented {
            tag_type,
            elements,
            offset,
            data: r.rest(),
        };
        write.check()?;
        Ok(write)
    }

    fn check(&self) -> Result<()> {
        check_elements(self.elements)?;
        if let Some(size) = self.tag_type.element_size() {
            let total = size as u64 * u64::from(self.elements);
            if u64::from(self.offset) + self.data.len() as u64 > total {
                return Err(Error::Malformed(Violation::ElementCount));
            }
        }
        Ok(())
    }

    /// The length of the request data.
    pub const fn buffer_len(&self) -> usize {
        self.tag_type.buffer_len() + 6 + self.data.len()
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// As [`WriteTag::emit`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check().map_err(invalid)?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        self.tag_type.write(&mut w)?;
        w.u16(self.elements).u32(self.offset).bytes(self.data);
        Ok(w.finish())
    }
}

impl<'a> ReadModifyWrite<'a> {
    /// Parses the request data: the mask size, the OR mask and the AND mask.
    ///
    /// # Errors
    ///
    /// [`Violation::MaskSize`] for a size other than 1, 2, 4 or 8;
    /// [`Violation::Truncated`] if the masks are cut short; [`Violation::TrailingBytes`] if
    /// bytes follow the AND mask other than the 0xFF padding described above.
    pub fn parse(data: &'a [u8]) -> Result<ReadModifyWrite<'a>> {
        let mut r = Reader::new(data);
        let size = usize::from(r.u16()?);
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(Error::Malformed(Violation::MaskSize));
        }
        let or_mask = r.bytes(size)?;
        let and_mask = r.bytes(size)?;
        let rest = r.rest();
        if !rest.is_empty() && (size + rest.len() != 8 || rest.iter().any(|&b| b != 0xFF)) {
            return Err(Error::Malformed(Violation::TrailingBytes));
        }
        Ok(ReadModifyWrite { or_mask, and_mask })
    }

    /// The masks as integers, for masks of up to 8 bytes.
    pub fn masks(&self) -> (u64, u64) {
        (le_u64(self.or_mask), le_u64(self.and_mask))
    }

    /// The value of a tag holding `current` after the modification: `(current | or) & and`,
    /// on the mask's width (bits above it are kept).
    pub fn apply(&self, current: u64) -> u64 {
        let (or, and) = self.masks();
        let width = 8 * self.or_mask.len().min(8);
        let above = if width >= 64 { 0 } else { !0u64 << width };
        (current | or) & (and | above)
    }

    /// The length of the request data.
    pub const fn buffer_len(&self) -> usize {
        2 + self.or_mask.len() + self.and_mask.len()
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::MaskSize`] if the masks are not both 1, 2, 4 or
    /// 8 bytes long; [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let size = self.or_mask.len();
        if !matches!(size, 1 | 2 | 4 | 8) || self.and_mask.len() != size {
            return Err(Error::Invalid(Violation::MaskSize));
        }
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u16(size as u16).bytes(self.or_mask).bytes(self.and_mask);
        Ok(w.finish())
    }
}

fn le_u64(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0, |acc, &b| acc << 8 | u64::from(b))
}

impl<'a> TagData<'a> {
    /// Parses the data of a Read Tag or Read Tag Fragmented reply: the type field and the
    /// bytes after it.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the type field is cut short.
    pub fn parse(data: &'a [u8]) -> Result<TagData<'a>> {
        let (tag_type, at) = TagType::parse(data)?;
        Ok(TagData {
            tag_type,
            data: data.get(at..).unwrap_or_default(),
        })
    }

    /// The values, for an atomic type whose data is a whole number of values.
    pub fn values(&self) -> Option<Elements<'a>> {
        match self.tag_type {
            TagType::Atomic(data_type) => Elements::new(data_type, self.data),
            _ => None,
        }
    }

    /// The length of the reply data.
    pub const fn buffer_len(&self) -> usize {
        self.tag_type.buffer_len() + self.data.len()
    }

    /// Writes the type field into the start of `buf` and returns its length, where the
    /// caller writes the values.
    ///
    /// # Errors
    ///
    /// As [`TagType::emit`].
    pub fn emit_header(tag_type: TagType, buf: &mut [u8]) -> Result<usize> {
        tag_type.emit(buf)
    }

    /// Writes the reply data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// As [`TagType::emit`]; [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, self.buffer_len())?;
        self.tag_type.write(&mut w)?;
        w.bytes(self.data);
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataType;

    #[test]
    fn element_counts_are_checked() {
        assert_eq!(
            ReadTag::parse(&[0, 0]),
            Err(Error::Malformed(Violation::ElementCount))
        );
        assert_eq!(
            ReadTag::parse(&[1, 0, 0]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
        assert_eq!(
            WriteTag::parse(&[0xC3, 0, 2, 0, 1, 0]),
            Err(Error::Malformed(Violation::ElementCount))
        );
        let fragment = WriteTagFragmented {
            tag_type: TagType::Atomic(DataType::Int),
            elements: 2,
            offset: 2,
            data: &[1, 0, 2, 0],
        };
        assert_eq!(
            fragment.emit(&mut [0u8; 16]),
            Err(Error::Invalid(Violation::ElementCount))
        );
    }

    #[test]
    fn structure_writes_carry_their_handle() {
        let mut text = [0u8; 88];
        crate::LogixString::encode(b"hi", &mut text).unwrap();
        let write = WriteTag {
            tag_type: TagType::LOGIX_STRING,
            elements: 1,
            data: &text,
        };
        let mut buf = [0u8; 96];
        let n = write.emit(&mut buf).unwrap();
        assert_eq!(n, 94);
        assert_eq!(&buf[..8], &[0xA0, 0x02, 0xCE, 0x0F, 0x01, 0x00, 0x02, 0x00]);
        assert_eq!(WriteTag::parse(&buf[..n]), Ok(write));
    }

    #[test]
    fn read_modify_write_accepts_the_long_and_mask_of_pycomm3() {
        // Mask size 2 (an INT), clear bit 3: OR 0x0000, AND 0xFFF7 sent as 8 bytes.
        let data = [2, 0, 0, 0, 0xF7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        let rmw = ReadModifyWrite::parse(&data).unwrap();
        assert_eq!(rmw.and_mask, &[0xF7, 0xFF]);
        assert_eq!(rmw.apply(0x000F), 0x0007);
        assert_eq!(
            ReadModifyWrite::parse(&[2, 0, 0, 0, 0xF7, 0xFF, 0x00]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
        assert_eq!(
            ReadModifyWrite::parse(&[3, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::Malformed(Violation::MaskSize))
        );
        let rmw = ReadModifyWrite {
            or_mask: &[1],
            and_mask: &[0xFF, 0xFF],
        };
        assert_eq!(
            rmw.emit(&mut [0u8; 8]),
            Err(Error::Invalid(Violation::MaskSize))
        );
    }
}
