//! [`MemoryTags`], a [`TagTable`] in memory, and the `NAME=TYPE[N]` specs it is made from.

use core::cmp::Ordering;
use core::fmt;
use core::str::FromStr;

use std::boxed::Box;
use std::string::{String, ToString};
use std::vec::Vec;

use super::tags::{CipError, ElementType, TagInfo, TagTable, PROGRAM_PREFIX};
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

/// The longest tag or program name (Logix allows 40 characters).
pub const MAX_NAME_LEN: usize = 40;

/// One tag to serve, as the command line of `enip_server` gives it: `NAME=TYPE` or
/// `NAME=TYPE[N]` for a controller tag, `Program:PROGRAM.NAME=TYPE[N]` for a tag of program
/// `PROGRAM` (made when its first tag is added).
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
///
/// let spec: TagSpec = "Program:Main.Counts=DINT[10]".parse().unwrap();
/// assert_eq!(spec.program(), Some("Main"));
/// assert_eq!(spec.tag_name(), "Counts");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagSpec {
    /// The tag's name as the spec gives it: `Counts`, or `Program:Main.Counts` for a
    /// program-scoped tag ([`program`](TagSpec::program) and
    /// [`tag_name`](TagSpec::tag_name) split it).
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
    /// A name starting with `Program:` is not `Program:PROGRAM.NAME`, or the program's name
    /// is empty, too long, or not letters, digits and `_` starting with a letter or `_`.
    BadProgramName,
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
                 letter or '_' (Program:PROGRAM.NAME for a program's tag)"
            ),
            TagSpecErrorKind::BadProgramName => write!(
                f,
                "a program's tag is Program:PROGRAM.NAME, PROGRAM being 1 to {MAX_NAME_LEN} \
                 letters, digits and '_', starting with a letter or '_'"
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
                f.write_str("another tag of the same scope has this name (names ignore case)")
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

/// `Program:PROGRAM.NAME` split into the program's name and the tag's; `None` for a name
/// without the prefix (ASCII case ignored, as Logix does).
fn split_program(name: &str) -> Option<(&str, Option<&str>)> {
    let prefix = name.get(..PROGRAM_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(PROGRAM_PREFIX) {
        return None;
    }
    let scoped = &name[PROGRAM_PREFIX.len()..];
    Some(match scoped.split_once('.') {
        Some((program, tag)) => (program, Some(tag)),
        None => (scoped, None),
    })
}

impl FromStr for TagSpec {
    type Err = TagSpecError;

    fn from_str(text: &str) -> Result<TagSpec, TagSpecError> {
        let err = |kind| TagSpecError::new(text, kind);
        let (name, rest) = text
            .split_once('=')
            .ok_or(err(TagSpecErrorKind::MissingType))?;
        let tag_name = match split_program(name) {
            None => name,
            Some((program, Some(tag))) if valid_name(program) => tag,
            Some(_) => return Err(err(TagSpecErrorKind::BadProgramName)),
        };
        if !valid_name(tag_name) {
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
    /// The program of a program-scoped tag (`Main` for `Program:Main.Counts`), `None` for a
    /// controller tag.
    pub fn program(&self) -> Option<&str> {
        split_program(&self.name).map(|(program, _)| program)
    }

    /// The tag's name within its scope: `Counts` for `Counts` and for
    /// `Program:Main.Counts`.
    pub fn tag_name(&self) -> &str {
        match split_program(&self.name) {
            Some((_, Some(tag))) => tag,
            _ => &self.name,
        }
    }

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
/// lookups. Program-scoped specs (`Program:Main.Counts=DINT`) go to the program's own
/// table, made with its first tag; programs are numbered in that order. Serving allocates
/// nothing.
///
/// # Examples
///
/// ```
/// use ptk_enip::server::{MemoryTags, TagTable};
///
/// let mut tags = MemoryTags::from_specs([
///     "Counts=DINT[10]",
///     "Name=STRING",
///     "Flags=BOOL[64]",
///     "Program:Main.Counts=INT[4]",
/// ])?;
/// assert_eq!(tags.len(), 3);
/// assert_eq!(tags.find(b"counts"), Some(1));
/// let flags = tags.tag(3).unwrap();
/// assert_eq!(flags.dimensions, [2, 0, 0]); // two DWORDs
///
/// tags.write(1, 4, &7i32.to_le_bytes()).unwrap();
/// assert_eq!(tags.bytes(1).unwrap()[4..8], 7i32.to_le_bytes());
///
/// // Program:Main, with a Counts of its own.
/// assert_eq!(tags.programs(), 1);
/// assert_eq!(tags.find_program(b"MAIN"), Some(1));
/// let main = tags.program_tags_mut("Main").unwrap();
/// assert_eq!(main.find(b"Counts"), Some(1));
/// main.write(1, 6, &(-1i16).to_le_bytes()).unwrap();
/// assert_eq!(main.bytes(1).unwrap(), [0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
/// # Ok::<(), ptk_enip::server::TagSpecError>(())
/// ```
#[derive(Default)]
pub struct MemoryTags {
    entries: Vec<Entry>,
    /// Indexes into `entries`, sorted by name ignoring ASCII case.
    by_name: Vec<u32>,
    data: Vec<u8>,
    /// The programs, in the order their first tags were added.
    programs: Vec<Program>,
}

/// One program of a [`MemoryTags`]: its name and its tags.
struct Program {
    name: Box<str>,
    tags: MemoryTags,
}

impl fmt::Debug for MemoryTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTags")
            .field("tags", &self.entries.len())
            .field("bytes", &self.data.len())
            .field("programs", &self.programs.len())
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

    /// Adds the tag of `spec`, all zero, and returns its symbol instance id: in the
    /// controller's table, or in its program's for a program-scoped spec (the program is
    /// made with its first tag).
    ///
    /// # Errors
    ///
    /// [`TagSpecErrorKind::DuplicateName`] if a tag of the same scope has its name already.
    pub fn add(&mut self, spec: &TagSpec) -> Result<u32, TagSpecError> {
        let Some(program) = spec.program() else {
            return self.add_entry(spec.tag_name(), spec);
        };
        let index = match self
            .programs
            .iter()
            .position(|p| p.name.eq_ignore_ascii_case(program))
        {
            Some(index) => index,
            None => {
                self.programs.push(Program {
                    name: program.into(),
                    tags: MemoryTags::new(),
                });
                self.programs.len() - 1
            }
        };
        self.programs[index].tags.add_entry(spec.tag_name(), spec)
    }

    /// The tags of the program named `name` (without `Program:`, ASCII case ignored).
    pub fn program_tags(&self, name: &str) -> Option<&MemoryTags> {
        let program = self.find_program(name.as_bytes())?;
        self.programs.get(program as usize - 1).map(|p| &p.tags)
    }

    /// The tags of the program named `name`, to change them.
    pub fn program_tags_mut(&mut self, name: &str) -> Option<&mut MemoryTags> {
        let program = self.find_program(name.as_bytes())?;
        self.programs
            .get_mut(program as usize - 1)
            .map(|p| &mut p.tags)
    }

    fn add_entry(&mut self, name: &str, spec: &TagSpec) -> Result<u32, TagSpecError> {
        let slot = match self.by_name.binary_search_by(|&i| {
            cmp_ignore_case(self.entries[i as usize].name.as_bytes(), name.as_bytes())
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
            name: name.into(),
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

    fn program_entry(&self, program: u32) -> Option<&Program> {
        self.programs
            .get(usize::try_from(program.checked_sub(1)?).ok()?)
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

    fn programs(&self) -> u32 {
        self.programs.len() as u32
    }

    fn program_name(&self, program: u32) -> Option<&str> {
        self.program_entry(program).map(|p| &*p.name)
    }

    fn program(&self, program: u32) -> Option<&dyn TagTable> {
        self.program_entry(program)
            .map(|p| &p.tags as &dyn TagTable)
    }

    fn program_mut(&mut self, program: u32) -> Option<&mut dyn TagTable> {
        let index = usize::try_from(program.checked_sub(1)?).ok()?;
        self.programs
            .get_mut(index)
            .map(|p| &mut p.tags as &mut dyn TagTable)
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
            "tag spec \"a=INT\": another tag of the same scope has this name (names ignore case)"
        );
    }

    #[test]
    fn program_scoped_specs_go_to_their_programs() {
        let spec: TagSpec = "program:Main.Counts=DINT[3]".parse().unwrap();
        assert_eq!((spec.program(), spec.tag_name()), (Some("Main"), "Counts"));
        assert_eq!(spec.to_string(), "program:Main.Counts=DINT[3]");
        let plain: TagSpec = "Counts=DINT".parse().unwrap();
        assert_eq!((plain.program(), plain.tag_name()), (None, "Counts"));

        let mut t = MemoryTags::from_specs([
            "Counts=DINT",
            "Program:Main.Counts=INT[2]",
            "Program:Aux.X=SINT",
            "Program:MAIN.Speed=REAL",
        ])
        .unwrap();
        assert_eq!((t.len(), t.programs()), (1, 2));
        assert_eq!(t.program_name(1), Some("Main"));
        assert_eq!(t.program_name(2), Some("Aux"));
        assert_eq!(t.program_name(3), None);
        assert_eq!(t.find_program(b"aux"), Some(2));
        assert_eq!(t.find_program(b"Program:Aux"), None);
        let main = t.program(1).unwrap();
        assert_eq!((main.len(), main.programs()), (2, 0));
        assert_eq!(main.find(b"SPEED"), Some(2));
        assert_eq!(main.tag(1).unwrap().dimensions, [2, 0, 0]);
        assert_eq!(t.program_mut(1).unwrap().write(1, 2, &[5, 0]), Ok(()));
        assert_eq!(
            t.program_tags("main").unwrap().bytes(1),
            Some(&[0, 0, 5, 0][..])
        );
        assert_eq!(t.bytes(1), Some(&[0, 0, 0, 0][..]));
        assert!(t.program(0).is_none() && t.program_mut(3).is_none());
        assert!(t.program_tags("Nope").is_none());
    }

    #[test]
    fn bad_program_specs_say_what_is_wrong() {
        assert_eq!(kind("Program:Main=DINT"), TagSpecErrorKind::BadProgramName);
        assert_eq!(kind("Program:.X=DINT"), TagSpecErrorKind::BadProgramName);
        assert_eq!(
            kind("Program:9Main.X=DINT"),
            TagSpecErrorKind::BadProgramName
        );
        assert_eq!(
            kind("Program:Ma-in.X=DINT"),
            TagSpecErrorKind::BadProgramName
        );
        let long = std::format!("Program:{}.X=DINT", "P".repeat(41));
        assert_eq!(kind(&long), TagSpecErrorKind::BadProgramName);
        assert_eq!(kind("Program:Main.=DINT"), TagSpecErrorKind::BadName);
        assert_eq!(kind("Program:Main.X.Y=DINT"), TagSpecErrorKind::BadName);
        assert_eq!(
            kind("Program:Main.Program:X.Y=DINT"),
            TagSpecErrorKind::BadName
        );
        assert_eq!(kind("Task:Main.X=DINT"), TagSpecErrorKind::BadName);
        assert_eq!(
            "Program:Main=DINT"
                .parse::<TagSpec>()
                .unwrap_err()
                .to_string(),
            "tag spec \"Program:Main=DINT\": a program's tag is Program:PROGRAM.NAME, PROGRAM \
             being 1 to 40 letters, digits and '_', starting with a letter or '_'"
        );
        // The same name in two scopes is two tags; twice in one program is refused.
        assert!(MemoryTags::from_specs(["X=DINT", "Program:A.X=DINT", "Program:B.X=DINT"]).is_ok());
        let dup = MemoryTags::from_specs(["Program:A.X=DINT", "program:a.x=INT"]).unwrap_err();
        assert_eq!(dup.kind(), &TagSpecErrorKind::DuplicateName);
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
