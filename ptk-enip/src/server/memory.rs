//! [`MemoryTags`], a [`TagTable`] in memory, and the `NAME=TYPE[N]` specs it is made from.

use core::cmp::Ordering;
use core::fmt;
use core::str::FromStr;

use std::boxed::Box;
use std::string::{String, ToString};
use std::vec::Vec;

use super::tags::{CipError, ElementType, TagInfo, TagTable};
use crate::DataType;

/// The types a tag spec names: the Logix atomic types and STRING.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogixType {
    /// An atomic type (not [`DataType::Dword`], which only BOOL arrays are made of).
    Atomic(DataType),
    /// The predefined Logix STRING.
    String,
}

impl LogixType {
    /// The type named `name` (ASCII case ignored): `BOOL`, `SINT`, `INT`, `DINT`, `LINT`,
    /// `USINT`, `UINT`, `UDINT`, `ULINT`, `REAL`, `LREAL` or `STRING`.
    pub fn from_name(name: &str) -> Option<LogixType> {
        if name.eq_ignore_ascii_case("STRING") {
            return Some(LogixType::String);
        }
        DataType::ALL
            .into_iter()
            .filter(|&t| t != DataType::Dword)
            .find(|t| t.name().eq_ignore_ascii_case(name))
            .map(LogixType::Atomic)
    }

    /// The name, as a spec writes it.
    pub const fn name(self) -> &'static str {
        match self {
            LogixType::Atomic(t) => t.name(),
            LogixType::String => "STRING",
        }
    }
}

/// The most elements one array tag may have.
pub const MAX_ARRAY_LEN: u32 = 1 << 24;

/// The longest tag name (Logix allows 40 characters).
pub const MAX_NAME_LEN: usize = 40;

/// One tag to serve, as the command line of `enip_server` gives it: `NAME=TYPE` or
/// `NAME=TYPE[N]`.
///
/// # Examples
///
/// ```
/// use ptk_enip::server::{LogixType, TagSpec};
/// use ptk_enip::DataType;
///
/// let spec: TagSpec = "Counts=DINT[10]".parse().unwrap();
/// assert_eq!(spec.name, "Counts");
/// assert_eq!(spec.logix_type, LogixType::Atomic(DataType::Dint));
/// assert_eq!(spec.count, Some(10));
///
/// let err = "Flags=BOOL[10]".parse::<TagSpec>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "tag spec \"Flags=BOOL[10]\": a BOOL array holds whole 32-bit words: give a multiple of 32"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagSpec {
    /// The tag's name.
    pub name: String,
    /// Its type.
    pub logix_type: LogixType,
    /// The number of elements of an array, `None` for a scalar.
    pub count: Option<u32>,
}

/// Why a tag spec was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagSpecError {
    spec: String,
    kind: TagSpecErrorKind,
}

/// What was wrong with a tag spec.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagSpecErrorKind {
    /// No `=` between the name and the type.
    MissingType,
    /// The name is empty, too long, or not letters, digits and `_` starting with a letter or
    /// `_`.
    BadName,
    /// The type is not one of the Logix types served.
    UnknownType,
    /// The array size is not a number from 1 to [`MAX_ARRAY_LEN`], or the `]` is missing.
    BadArraySize,
    /// A BOOL array whose size is not a multiple of 32.
    BoolArraySize,
    /// Another tag has the same name (ignoring ASCII case).
    DuplicateName,
}

impl TagSpecError {
    fn new(spec: &str, kind: TagSpecErrorKind) -> TagSpecError {
        TagSpecError {
            spec: spec.to_string(),
            kind,
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &TagSpecErrorKind {
        &self.kind
    }
}

impl fmt::Display for TagSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tag spec {:?}: ", self.spec)?;
        match self.kind {
            TagSpecErrorKind::MissingType => f.write_str("expected NAME=TYPE or NAME=TYPE[N]"),
            TagSpecErrorKind::BadName => write!(
                f,
                "a tag name is 1 to {MAX_NAME_LEN} letters, digits and '_', starting with a \
                 letter or '_'"
            ),
            TagSpecErrorKind::UnknownType => f.write_str(
                "the type must be one of BOOL, SINT, INT, DINT, LINT, USINT, UINT, UDINT, \
                 ULINT, REAL, LREAL, STRING",
            ),
            TagSpecErrorKind::BadArraySize => write!(
                f,
                "the array size must be a number from 1 to {MAX_ARRAY_LEN} in brackets"
            ),
            TagSpecErrorKind::BoolArraySize => {
                f.write_str("a BOOL array holds whole 32-bit words: give a multiple of 32")
            }
            TagSpecErrorKind::DuplicateName => {
                f.write_str("another tag has this name (names ignore case)")
            }
        }
    }
}

impl std::error::Error for TagSpecError {}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_NAME_LEN
}

impl FromStr for TagSpec {
    type Err = TagSpecError;

    fn from_str(text: &str) -> Result<TagSpec, TagSpecError> {
        let err = |kind| TagSpecError::new(text, kind);
        let (name, rest) = text
            .split_once('=')
            .ok_or(err(TagSpecErrorKind::MissingType))?;
        if !valid_name(name) {
            return Err(err(TagSpecErrorKind::BadName));
        }
        let (type_name, count) = match rest.split_once('[') {
            None => (rest, None),
            Some((type_name, size)) => {
                let count = size
                    .strip_suffix(']')
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|n| (1..=MAX_ARRAY_LEN).contains(n))
                    .ok_or(err(TagSpecErrorKind::BadArraySize))?;
                (type_name, Some(count))
            }
        };
        let logix_type =
            LogixType::from_name(type_name).ok_or(err(TagSpecErrorKind::UnknownType))?;
        if logix_type == LogixType::Atomic(DataType::Bool) && count.is_some_and(|n| n % 32 != 0) {
            return Err(err(TagSpecErrorKind::BoolArraySize));
        }
        Ok(TagSpec {
            name: name.to_string(),
            logix_type,
            count,
        })
    }
}

impl fmt::Display for TagSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.logix_type.name())?;
        match self.count {
            Some(n) => write!(f, "[{n}]"),
            None => Ok(()),
        }
    }
}

impl TagSpec {
    /// The element type the wire sees: a `BOOL[N]` is DWORDs, as a controller stores it.
    pub fn element(&self) -> ElementType {
        match (self.logix_type, self.count) {
            (LogixType::Atomic(DataType::Bool), Some(_)) => ElementType::Atomic(DataType::Dword),
            (LogixType::Atomic(t), _) => ElementType::Atomic(t),
            (LogixType::String, _) => ElementType::LogixString,
        }
    }

    /// The dimensions the wire sees: `[N / 32, 0, 0]` for a `BOOL[N]`.
    pub fn dimensions(&self) -> [u32; 3] {
        match (self.logix_type, self.count) {
            (_, None) => [0; 3],
            (LogixType::Atomic(DataType::Bool), Some(n)) => [n / 32, 0, 0],
            (_, Some(n)) => [n, 0, 0],
        }
    }
}

struct Entry {
    name: Box<str>,
    element: ElementType,
    dimensions: [u32; 3],
    /// Where the tag's bytes start in `MemoryTags::data`.
    start: usize,
    len: usize,
}

/// A [`TagTable`] in memory: tags made at start-up from [`TagSpec`]s, all bytes zero at
/// first, with symbol instance ids in the order they were added and a name index for
/// lookups. Serving allocates nothing.
///
/// # Examples
///
/// ```
/// use ptk_enip::server::{MemoryTags, TagTable};
///
/// let mut tags = MemoryTags::from_specs(["Counts=DINT[10]", "Name=STRING", "Flags=BOOL[64]"])?;
/// assert_eq!(tags.len(), 3);
/// assert_eq!(tags.find(b"counts"), Some(1));
/// let flags = tags.tag(3).unwrap();
/// assert_eq!(flags.dimensions, [2, 0, 0]); // two DWORDs
///
/// tags.write(1, 4, &7i32.to_le_bytes()).unwrap();
/// assert_eq!(tags.bytes(1).unwrap()[4..8], 7i32.to_le_bytes());
/// # Ok::<(), ptk_enip::server::TagSpecError>(())
/// ```
#[derive(Default)]
pub struct MemoryTags {
    entries: Vec<Entry>,
    /// Indexes into `entries`, sorted by name ignoring ASCII case.
    by_name: Vec<u32>,
    data: Vec<u8>,
}

impl fmt::Debug for MemoryTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTags")
            .field("tags", &self.entries.len())
            .field("bytes", &self.data.len())
            .finish()
    }
}

fn cmp_ignore_case(a: &[u8], b: &[u8]) -> Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

impl MemoryTags {
    /// An empty table.
    pub fn new() -> MemoryTags {
        MemoryTags::default()
    }

    /// A table of the tags `specs` give, in order.
    ///
    /// # Errors
    ///
    /// The first spec that does not parse, or names a tag twice.
    pub fn from_specs<I>(specs: I) -> Result<MemoryTags, TagSpecError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut tags = MemoryTags::new();
        for text in specs {
            let spec: TagSpec = text.as_ref().parse()?;
            tags.add(&spec)?;
        }
        Ok(tags)
    }

    /// Adds the tag of `spec`, all zero, and returns its symbol instance id.
    ///
    /// # Errors
    ///
    /// [`TagSpecErrorKind::DuplicateName`] if a tag has its name already.
    pub fn add(&mut self, spec: &TagSpec) -> Result<u32, TagSpecError> {
        let slot = match self.by_name.binary_search_by(|&i| {
            cmp_ignore_case(
                self.entries[i as usize].name.as_bytes(),
                spec.name.as_bytes(),
            )
        }) {
            Ok(_) => {
                return Err(TagSpecError::new(
                    &spec.to_string(),
                    TagSpecErrorKind::DuplicateName,
                ))
            }
            Err(slot) => slot,
        };
        let element = spec.element();
        let dimensions = spec.dimensions();
        let elements = dimensions
            .iter()
            .take_while(|&&d| d != 0)
            .map(|&d| d as usize)
            .product::<usize>();
        let len = elements * element.size();
        let start = self.data.len();
        self.data.resize(start + len, 0);
        let index = self.entries.len() as u32;
        self.entries.push(Entry {
            name: spec.name.as_str().into(),
            element,
            dimensions,
            start,
            len,
        });
        self.by_name.insert(slot, index);
        Ok(index + 1)
    }

    /// The bytes of the tag of symbol instance `instance`.
    pub fn bytes(&self, instance: u32) -> Option<&[u8]> {
        let e = self.entry(instance)?;
        self.data.get(e.start..e.start + e.len)
    }

    /// The bytes of the tag of symbol instance `instance`, to change them.
    pub fn bytes_mut(&mut self, instance: u32) -> Option<&mut [u8]> {
        let (start, len) = self.entry(instance).map(|e| (e.start, e.len))?;
        self.data.get_mut(start..start + len)
    }

    fn entry(&self, instance: u32) -> Option<&Entry> {
        self.entries
            .get(usize::try_from(instance.checked_sub(1)?).ok()?)
    }

    fn range(&self, instance: u32, offset: usize, len: usize) -> Result<usize, CipError> {
        let e = self
            .entry(instance)
            .ok_or(CipError::PATH_DESTINATION_UNKNOWN)?;
        match offset.checked_add(len) {
            Some(end) if end <= e.len => Ok(e.start + offset),
            _ => Err(CipError::BEYOND_END),
        }
    }
}

impl TagTable for MemoryTags {
    fn len(&self) -> u32 {
        self.entries.len() as u32
    }

    fn tag(&self, instance: u32) -> Option<TagInfo<'_>> {
        self.entry(instance).map(|e| TagInfo {
            name: &e.name,
            element: e.element,
            dimensions: e.dimensions,
        })
    }

    fn find(&self, name: &[u8]) -> Option<u32> {
        self.by_name
            .binary_search_by(|&i| cmp_ignore_case(self.entries[i as usize].name.as_bytes(), name))
            .ok()
            .map(|slot| self.by_name[slot] + 1)
    }

    fn read(&mut self, instance: u32, offset: usize, out: &mut [u8]) -> Result<(), CipError> {
        let at = self.range(instance, offset, out.len())?;
        out.copy_from_slice(&self.data[at..at + out.len()]);
        Ok(())
    }

    fn write(&mut self, instance: u32, offset: usize, data: &[u8]) -> Result<(), CipError> {
        let at = self.range(instance, offset, data.len())?;
        self.data[at..at + data.len()].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> TagSpecErrorKind {
        text.parse::<TagSpec>().unwrap_err().kind
    }

    #[test]
    fn specs_parse_every_type_and_array() {
        for name in [
            "BOOL", "SINT", "INT", "DINT", "LINT", "USINT", "UINT", "UDINT", "ULINT", "REAL",
            "LREAL", "STRING",
        ] {
            let spec: TagSpec = std::format!("T={name}[3]").parse().unwrap_or_else(|e| {
                // BOOL arrays need multiples of 32.
                assert_eq!(name, "BOOL", "{e}");
                "T=BOOL[32]".parse().unwrap()
            });
            assert_eq!(spec.logix_type.name(), name);
        }
        let b: TagSpec = "BA=bool[64]".parse().unwrap();
        assert_eq!(b.element(), ElementType::Atomic(DataType::Dword));
        assert_eq!(b.dimensions(), [2, 0, 0]);
        assert_eq!(b.to_string(), "BA=BOOL[64]");
        let s: TagSpec = "S=STRING".parse().unwrap();
        assert_eq!(s.element(), ElementType::LogixString);
        assert_eq!(s.dimensions(), [0; 3]);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert_eq!(kind("D"), TagSpecErrorKind::MissingType);
        assert_eq!(kind("=DINT"), TagSpecErrorKind::BadName);
        assert_eq!(kind("9D=DINT"), TagSpecErrorKind::BadName);
        assert_eq!(kind("D.x=DINT"), TagSpecErrorKind::BadName);
        assert_eq!(kind("D=DWORD"), TagSpecErrorKind::UnknownType);
        assert_eq!(kind("D=FLOAT"), TagSpecErrorKind::UnknownType);
        assert_eq!(kind("D=DINT[0]"), TagSpecErrorKind::BadArraySize);
        assert_eq!(kind("D=DINT[x]"), TagSpecErrorKind::BadArraySize);
        assert_eq!(kind("D=DINT[3"), TagSpecErrorKind::BadArraySize);
        assert_eq!(kind("D=DINT[99999999999]"), TagSpecErrorKind::BadArraySize);
        assert_eq!(kind("B=BOOL[33]"), TagSpecErrorKind::BoolArraySize);
        let dup = MemoryTags::from_specs(["A=DINT", "a=INT"]).unwrap_err();
        assert_eq!(dup.kind(), &TagSpecErrorKind::DuplicateName);
        assert_eq!(
            dup.to_string(),
            "tag spec \"a=INT\": another tag has this name (names ignore case)"
        );
    }

    #[test]
    fn names_are_found_ignoring_case_and_bytes_stay_in_their_tag() {
        let mut t = MemoryTags::from_specs(["Zed=SINT", "alpha=DINT[2]", "Mid=LREAL"]).unwrap();
        assert_eq!(t.find(b"ZED"), Some(1));
        assert_eq!(t.find(b"Alpha"), Some(2));
        assert_eq!(t.find(b"mid"), Some(3));
        assert_eq!(t.find(b"none"), None);
        assert_eq!(t.write(2, 4, &[1, 2, 3, 4]), Ok(()));
        assert_eq!(t.write(2, 5, &[1, 2, 3, 4]), Err(CipError::BEYOND_END));
        assert_eq!(t.bytes(2), Some(&[0, 0, 0, 0, 1, 2, 3, 4][..]));
        assert_eq!(t.bytes(1), Some(&[0][..]));
        let mut out = [0u8; 8];
        assert_eq!(t.read(3, 0, &mut out), Ok(()));
        assert_eq!(
            t.read(4, 0, &mut out),
            Err(CipError::PATH_DESTINATION_UNKNOWN)
        );
        assert_eq!(
            t.read(0, 0, &mut out),
            Err(CipError::PATH_DESTINATION_UNKNOWN)
        );
    }
}
