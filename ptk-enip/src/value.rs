//! Values of the atomic types, arrays of them as borrowed views, and the Logix STRING
//! structure: little-endian, encoded into and decoded from caller buffers.

use core::fmt;
use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::limits::{LOGIX_STRING_CAPACITY, LOGIX_STRING_LEN};
use crate::DataType;

/// One value of an atomic type.
///
/// # Examples
///
/// ```
/// use ptk_enip::{DataType, Value};
///
/// let mut buf = [0u8; 8];
/// assert_eq!(Value::Dint(-2).encode(&mut buf), Ok(4));
/// assert_eq!(&buf[..4], &[0xFE, 0xFF, 0xFF, 0xFF]);
/// assert_eq!(Value::decode(DataType::Dint, &buf[..4]), Ok(Value::Dint(-2)));
/// assert_eq!(Value::decode(DataType::Real, &1.5f32.to_le_bytes()), Ok(Value::Real(1.5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// BOOL, encoded as 1 (true) or 0; any non-zero byte decodes as true.
    Bool(bool),
    /// SINT.
    Sint(i8),
    /// INT.
    Int(i16),
    /// DINT.
    Dint(i32),
    /// LINT.
    Lint(i64),
    /// USINT.
    Usint(u8),
    /// UINT.
    Uint(u16),
    /// UDINT.
    Udint(u32),
    /// ULINT.
    Ulint(u64),
    /// REAL.
    Real(f32),
    /// LREAL.
    Lreal(f64),
    /// DWORD: 32 booleans, bit 0 first.
    Dword(u32),
}

impl Value {
    /// The value's type.
    pub const fn data_type(&self) -> DataType {
        match self {
            Value::Bool(_) => DataType::Bool,
            Value::Sint(_) => DataType::Sint,
            Value::Int(_) => DataType::Int,
            Value::Dint(_) => DataType::Dint,
            Value::Lint(_) => DataType::Lint,
            Value::Usint(_) => DataType::Usint,
            Value::Uint(_) => DataType::Uint,
            Value::Udint(_) => DataType::Udint,
            Value::Ulint(_) => DataType::Ulint,
            Value::Real(_) => DataType::Real,
            Value::Lreal(_) => DataType::Lreal,
            Value::Dword(_) => DataType::Dword,
        }
    }

    /// Decodes a value of `data_type` from exactly its size in bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] with [`Violation::ElementCount`] if `bytes` is not
    /// `data_type.size()` long.
    pub fn decode(data_type: DataType, bytes: &[u8]) -> Result<Value> {
        if bytes.len() != data_type.size() {
            return Err(Error::Malformed(Violation::ElementCount));
        }
        let mut b = [0u8; 8];
        b[..bytes.len()].copy_from_slice(bytes);
        let [b0, b1, b2, b3, ..] = b;
        let (w2, w4) = ([b0, b1], [b0, b1, b2, b3]);
        Ok(match data_type {
            DataType::Bool => Value::Bool(b0 != 0),
            DataType::Sint => Value::Sint(b0 as i8),
            DataType::Usint => Value::Usint(b0),
            DataType::Int => Value::Int(i16::from_le_bytes(w2)),
            DataType::Uint => Value::Uint(u16::from_le_bytes(w2)),
            DataType::Dint => Value::Dint(i32::from_le_bytes(w4)),
            DataType::Udint => Value::Udint(u32::from_le_bytes(w4)),
            DataType::Dword => Value::Dword(u32::from_le_bytes(w4)),
            DataType::Real => Value::Real(f32::from_le_bytes(w4)),
            DataType::Lint => Value::Lint(i64::from_le_bytes(b)),
            DataType::Ulint => Value::Ulint(u64::from_le_bytes(b)),
            DataType::Lreal => Value::Lreal(f64::from_le_bytes(b)),
        })
    }

    /// Writes the value little-endian into the start of `buf` and returns its size.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is shorter than the type's size.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize> {
        let mut b = [0u8; 8];
        match *self {
            Value::Bool(v) => b[0] = u8::from(v),
            Value::Sint(v) => b[0] = v as u8,
            Value::Usint(v) => b[0] = v,
            Value::Int(v) => b[..2].copy_from_slice(&v.to_le_bytes()),
            Value::Uint(v) => b[..2].copy_from_slice(&v.to_le_bytes()),
            Value::Dint(v) => b[..4].copy_from_slice(&v.to_le_bytes()),
            Value::Udint(v) | Value::Dword(v) => b[..4].copy_from_slice(&v.to_le_bytes()),
            Value::Real(v) => b[..4].copy_from_slice(&v.to_le_bytes()),
            Value::Lint(v) => b = v.to_le_bytes(),
            Value::Ulint(v) => b = v.to_le_bytes(),
            Value::Lreal(v) => b = v.to_le_bytes(),
        }
        let size = self.data_type().size();
        buf.get_mut(..size)
            .ok_or(Error::BufferTooSmall { needed: size })?
            .copy_from_slice(&b[..size]);
        Ok(size)
    }
}

/// An array of values of one atomic type, borrowed as little-endian bytes: the data of a
/// Read Tag reply or a Write Tag request.
///
/// # Examples
///
/// ```
/// use ptk_enip::{DataType, Elements, Value};
///
/// let reply_data = [0x01, 0x00, 0xFF, 0xFF];
/// let values = Elements::new(DataType::Int, &reply_data).unwrap();
/// assert_eq!(values.len(), 2);
/// assert!(values.iter().eq([Value::Int(1), Value::Int(-1)]));
///
/// let mut storage = [0u8; 8];
/// let written = Elements::encode(DataType::Dint, &[Value::Dint(7), Value::Dint(-7)], &mut storage)
///     .unwrap();
/// assert_eq!(written.as_bytes(), &[7, 0, 0, 0, 0xF9, 0xFF, 0xFF, 0xFF]);
/// assert_eq!(written.get(1), Some(Value::Dint(-7)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Elements<'a> {
    data_type: DataType,
    bytes: &'a [u8],
}

impl<'a> Elements<'a> {
    /// A view of the values of `data_type` in `bytes`, or `None` if `bytes` is not a whole
    /// number of values.
    pub const fn new(data_type: DataType, bytes: &'a [u8]) -> Option<Elements<'a>> {
        if bytes.len() % data_type.size() == 0 {
            Some(Elements { data_type, bytes })
        } else {
            None
        }
    }

    /// Encodes `values`, which must all be of `data_type`, into the start of `storage` and
    /// returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::DataType`] if a value is of another type;
    /// [`Error::BufferTooSmall`] if `storage` is too short. Nothing is written on error.
    pub fn encode(
        data_type: DataType,
        values: &[Value],
        storage: &'a mut [u8],
    ) -> Result<Elements<'a>> {
        if values.iter().any(|v| v.data_type() != data_type) {
            return Err(Error::Invalid(Violation::DataType));
        }
        let needed = values.len() * data_type.size();
        let out = storage
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        for (chunk, value) in out.chunks_exact_mut(data_type.size()).zip(values) {
            value.encode(chunk)?;
        }
        Ok(Elements {
            data_type,
            bytes: out,
        })
    }

    /// The values' type.
    pub const fn data_type(&self) -> DataType {
        self.data_type
    }

    /// The number of values.
    pub const fn len(&self) -> usize {
        self.bytes.len() / self.data_type.size()
    }

    /// Whether there are no values.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The value at `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<Value> {
        let size = self.data_type.size();
        let at = index.checked_mul(size)?;
        let bytes = self.bytes.get(at..at.checked_add(size)?)?;
        Value::decode(self.data_type, bytes).ok()
    }

    /// The values in order.
    pub fn iter(&self) -> ElementsIter<'a> {
        ElementsIter {
            data_type: self.data_type,
            chunks: self.bytes.chunks_exact(self.data_type.size()),
        }
    }

    /// The little-endian bytes, as they are on the wire.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for Elements<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.data_type.name())?;
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The iterator of [`Elements::iter`].
#[derive(Clone, Debug)]
pub struct ElementsIter<'a> {
    data_type: DataType,
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for ElementsIter<'_> {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        Value::decode(self.data_type, self.chunks.next()?).ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for ElementsIter<'_> {}

impl FusedIterator for ElementsIter<'_> {}

/// A Logix STRING, the structure with handle 0x0FCE: a DINT length and 82 SINT characters,
/// 88 bytes with padding.
///
/// # Examples
///
/// ```
/// use ptk_enip::{limits::LOGIX_STRING_LEN, LogixString};
///
/// let mut buf = [0u8; LOGIX_STRING_LEN];
/// assert_eq!(LogixString::encode(b"hello", &mut buf), Ok(88));
/// assert_eq!(&buf[..9], &[5, 0, 0, 0, b'h', b'e', b'l', b'l', b'o']);
/// assert_eq!(LogixString::parse(&buf).unwrap().as_bytes(), b"hello");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogixString<'a> {
    text: &'a [u8],
}

impl<'a> LogixString<'a> {
    /// Reads the string of one STRING structure: `bytes` must hold its LEN and at least LEN
    /// characters, and no more than the 88 bytes of the structure.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the bytes end before the characters do;
    /// [`Violation::StringLength`] if LEN is negative or above 82;
    /// [`Violation::TrailingBytes`] if `bytes` is longer than 88.
    pub fn parse(bytes: &'a [u8]) -> Result<LogixString<'a>> {
        if bytes.len() > LOGIX_STRING_LEN {
            return Err(Error::Malformed(Violation::TrailingBytes));
        }
        let [l0, l1, l2, l3, ref data @ ..] = *bytes else {
            return Err(Error::Malformed(Violation::Truncated));
        };
        let len = usize::try_from(i32::from_le_bytes([l0, l1, l2, l3]))
            .ok()
            .filter(|&len| len <= LOGIX_STRING_CAPACITY)
            .ok_or(Error::Malformed(Violation::StringLength))?;
        let text = data
            .get(..len)
            .ok_or(Error::Malformed(Violation::Truncated))?;
        Ok(LogixString { text })
    }

    /// The characters.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.text
    }

    /// Writes `text` as a whole 88-byte STRING structure (unused characters zero) into the
    /// start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::StringLength`] for more than 82 characters;
    /// [`Error::BufferTooSmall`] if `buf` is shorter than 88 bytes.
    pub fn encode(text: &[u8], buf: &mut [u8]) -> Result<usize> {
        if text.len() > LOGIX_STRING_CAPACITY {
            return Err(Error::Invalid(Violation::StringLength));
        }
        let out = buf
            .get_mut(..LOGIX_STRING_LEN)
            .ok_or(Error::BufferTooSmall {
                needed: LOGIX_STRING_LEN,
            })?;
        out.fill(0);
        out[..4].copy_from_slice(&(text.len() as u32).to_le_bytes());
        out[4..4 + text.len()].copy_from_slice(text);
        Ok(LOGIX_STRING_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let values = [
            Value::Bool(true),
            Value::Sint(-128),
            Value::Int(-300),
            Value::Dint(i32::MIN),
            Value::Lint(-1),
            Value::Usint(255),
            Value::Uint(65_535),
            Value::Udint(0xDEAD_BEEF),
            Value::Ulint(u64::MAX),
            Value::Real(-0.25),
            Value::Lreal(1e300),
            Value::Dword(0x8000_0001),
        ];
        for value in values {
            let mut buf = [0u8; 8];
            let n = value.encode(&mut buf).unwrap();
            assert_eq!(n, value.data_type().size());
            assert_eq!(Value::decode(value.data_type(), &buf[..n]), Ok(value));
        }
        assert_eq!(
            Value::decode(DataType::Bool, &[0x02]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            Value::decode(DataType::Int, &[1]),
            Err(Error::Malformed(Violation::ElementCount))
        );
        assert_eq!(
            Value::Lint(1).encode(&mut [0u8; 7]),
            Err(Error::BufferTooSmall { needed: 8 })
        );
    }

    #[test]
    fn element_views_check_types_and_sizes() {
        assert_eq!(Elements::new(DataType::Dint, &[0, 0, 0]), None);
        let mut storage = [0u8; 4];
        assert_eq!(
            Elements::encode(DataType::Dint, &[Value::Int(1)], &mut storage),
            Err(Error::Invalid(Violation::DataType))
        );
        assert_eq!(
            Elements::encode(DataType::Dint, &[Value::Dint(1); 2], &mut storage),
            Err(Error::BufferTooSmall { needed: 8 })
        );
        let view = Elements::new(DataType::Bool, &[0, 1]).unwrap();
        assert_eq!(std::format!("{view:?}"), "BOOL[Bool(false), Bool(true)]");
        assert_eq!(view.get(usize::MAX), None);
    }

    #[test]
    fn logix_strings_are_checked() {
        assert_eq!(
            LogixString::parse(&[83, 0, 0, 0]),
            Err(Error::Malformed(Violation::StringLength))
        );
        assert_eq!(
            LogixString::parse(&[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(Error::Malformed(Violation::StringLength))
        );
        assert_eq!(
            LogixString::parse(&[3, 0, 0, 0, b'a']),
            Err(Error::Malformed(Violation::Truncated))
        );
        assert_eq!(
            LogixString::parse(&[0; 89]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
        assert_eq!(
            LogixString::encode(&[b'x'; 83], &mut [0u8; 88]),
            Err(Error::Invalid(Violation::StringLength))
        );
    }
}
