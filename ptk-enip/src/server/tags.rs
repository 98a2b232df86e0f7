//! [`TagTable`], what a server serves: Logix tags by name and symbol instance, their types
//! and dimensions, and their bytes.

use core::fmt;

use crate::{DataType, GeneralStatus, SymbolType, TagType, LOGIX_STRING_HANDLE};

/// What a program's name is prefixed with in the tag list and in paths: `Program:Main`.
pub(crate) const PROGRAM_PREFIX: &str = "Program:";

/// The program name in a path's first symbolic segment (`Main` of `Program:Main`, the
/// prefix's ASCII case ignored, as Logix does), `None` for any other name.
pub(crate) fn program_in(segment: &[u8]) -> Option<&[u8]> {
    let (prefix, name) = segment.split_at_checked(PROGRAM_PREFIX.len())?;
    prefix
        .eq_ignore_ascii_case(PROGRAM_PREFIX.as_bytes())
        .then_some(name)
}

/// The type of one element of a tag, as the wire carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// An atomic type. A Logix `BOOL[N]` is `N / 32` elements of [`DataType::Dword`].
    Atomic(DataType),
    /// The predefined Logix STRING: LEN (DINT), DATA (SINT\[82\]), 2 pad bytes; 88 bytes.
    LogixString,
}

impl ElementType {
    /// The size of one element in bytes.
    pub const fn size(self) -> usize {
        match self {
            ElementType::Atomic(data_type) => data_type.size(),
            ElementType::LogixString => crate::limits::LOGIX_STRING_LEN,
        }
    }

    /// The type field of Read Tag replies and Write Tag requests.
    pub const fn tag_type(self) -> TagType {
        match self {
            ElementType::Atomic(data_type) => TagType::Atomic(data_type),
            ElementType::LogixString => TagType::LOGIX_STRING,
        }
    }

    /// The symbol type word of a tag of this type with `dimensions` array dimensions.
    pub const fn symbol_type(self, dimensions: u8) -> SymbolType {
        match self {
            ElementType::Atomic(data_type) => SymbolType::atomic_type(data_type, dimensions),
            ElementType::LogixString => SymbolType::structure(LOGIX_STRING_HANDLE, dimensions),
        }
    }
}

/// What a [`TagTable`] says about one tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagInfo<'a> {
    /// The name, as listed (lookups ignore ASCII case, as Logix does).
    pub name: &'a str,
    /// The type of each element.
    pub element: ElementType,
    /// The array dimensions, 0 for unused ones: `[0, 0, 0]` for a scalar, `[n, 0, 0]` for
    /// an array of `n` elements. Dimensions are used from the first, without gaps.
    pub dimensions: [u32; 3],
}

impl TagInfo<'_> {
    /// How many dimensions the tag has (0 for a scalar).
    pub fn dimension_count(&self) -> u8 {
        self.dimensions.iter().take_while(|&&d| d != 0).count() as u8
    }

    /// How many elements the tag holds (1 for a scalar).
    pub fn elements(&self) -> u64 {
        self.dimensions
            .iter()
            .take_while(|&&d| d != 0)
            .map(|&d| u64::from(d))
            .product()
    }

    /// How many bytes the tag holds.
    pub fn byte_len(&self) -> u64 {
        self.elements() * self.element.size() as u64
    }
}

/// A refusal the server answers a request with: a CIP general status and, for Logix's
/// 0xFF general errors, an extended status word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CipError {
    /// The general status.
    pub status: GeneralStatus,
    /// The extended status word, if any.
    pub extended: Option<u16>,
}

impl CipError {
    /// A refusal with `status` and no extended status.
    pub const fn new(status: GeneralStatus) -> CipError {
        CipError {
            status,
            extended: None,
        }
    }

    /// A Logix general error (0xFF) with `extended` status.
    pub const fn logix(extended: u16) -> CipError {
        CipError {
            status: GeneralStatus(0xFF),
            extended: Some(extended),
        }
    }

    /// 0x04: the path names no tag (an unknown name), or has segments a tag of its type
    /// does not take.
    pub const PATH_SEGMENT_ERROR: CipError = CipError::new(GeneralStatus::PATH_SEGMENT_ERROR);
    /// 0x05: the path's destination does not exist (an index past a dimension, an unknown
    /// instance or class).
    pub const PATH_DESTINATION_UNKNOWN: CipError =
        CipError::new(GeneralStatus::PATH_DESTINATION_UNKNOWN);
    /// 0x08: the object does not implement the service.
    pub const SERVICE_NOT_SUPPORTED: CipError = CipError::new(GeneralStatus::SERVICE_NOT_SUPPORTED);
    /// 0x0F: the tag may not be accessed this way (such as a write to a read-only tag).
    pub const PRIVILEGE_VIOLATION: CipError = CipError::new(GeneralStatus::PRIVILEGE_VIOLATION);
    /// 0x13: the request carries fewer bytes than it announces.
    pub const NOT_ENOUGH_DATA: CipError = CipError::new(GeneralStatus::NOT_ENOUGH_DATA);
    /// 0x15: the request carries more bytes than its target takes.
    pub const TOO_MUCH_DATA: CipError = CipError::new(GeneralStatus::TOO_MUCH_DATA);
    /// 0xFF / 0x2105: the access goes past the end of the tag.
    pub const BEYOND_END: CipError = CipError::logix(0x2105);
    /// 0xFF / 0x2107: the request's data type is not the tag's.
    pub const TYPE_MISMATCH: CipError = CipError::logix(0x2107);
}

impl From<crate::Violation> for CipError {
    fn from(v: crate::Violation) -> CipError {
        CipError::new(v.general_status())
    }
}

impl fmt::Display for CipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.extended {
            Some(ext) => write!(f, "{} / extended {ext:#06x}", self.status),
            None => write!(f, "{}", self.status),
        }
    }
}

/// The tags a [`Server`](super::Server) serves, by symbol instance id (1 to
/// [`len`](TagTable::len), in listing order) and by name.
///
/// Those are the controller's tags. A table may also have programs, each with tags of its
/// own (program-scoped tags, `Program:Main.Counts`): [`programs`](TagTable::programs) says
/// how many (ids 1 to that), [`program_name`](TagTable::program_name) names each (`Main`),
/// and [`program`](TagTable::program) / [`program_mut`](TagTable::program_mut) give a
/// program's tags as a table of their own, with symbol instance ids of their own. The
/// defaults have no programs.
///
/// The server checks every request against [`tag`](TagTable::tag) (type, dimensions,
/// element indexes, counts) before it calls [`read`](TagTable::read) or
/// [`write`](TagTable::write), so those get ranges inside the tag's bytes: `offset` counts
/// bytes from the tag's first element. A refusal they return is answered as it is.
///
/// The server calls the table on the loop's thread, one request at a time, and allocates
/// nothing around it; a table that allocates nothing keeps serving allocation-free.
/// [`MemoryTags`](super::MemoryTags) is a table in memory, made from `NAME=TYPE[N]` specs.
///
/// # Examples
///
/// A table of one read-only DINT, `Answer`, holding 42:
///
/// ```
/// use ptk_enip::server::{CipError, ElementType, TagInfo, TagTable};
/// use ptk_enip::DataType;
///
/// struct Answer;
///
/// impl TagTable for Answer {
///     fn len(&self) -> u32 {
///         1
///     }
///     fn tag(&self, instance: u32) -> Option<TagInfo<'_>> {
///         (instance == 1).then_some(TagInfo {
///             name: "Answer",
///             element: ElementType::Atomic(DataType::Dint),
///             dimensions: [0, 0, 0],
///         })
///     }
///     fn read(&mut self, _instance: u32, offset: usize, out: &mut [u8]) -> Result<(), CipError> {
///         out.copy_from_slice(&42i32.to_le_bytes()[offset..offset + out.len()]);
///         Ok(())
///     }
///     fn write(&mut self, _instance: u32, _offset: usize, _data: &[u8]) -> Result<(), CipError> {
///         Err(CipError::PRIVILEGE_VIOLATION)
///     }
/// }
///
/// let mut table = Answer;
/// assert_eq!(table.find(b"ANSWER"), Some(1));
/// let mut value = [0u8; 4];
/// table.read(1, 0, &mut value).unwrap();
/// assert_eq!(i32::from_le_bytes(value), 42);
/// ```
pub trait TagTable {
    /// How many tags there are: their symbol instance ids are 1 to this.
    fn len(&self) -> u32;

    /// Whether the table has no tag.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tag of symbol instance `instance`, `None` outside 1 to [`len`](TagTable::len).
    fn tag(&self, instance: u32) -> Option<TagInfo<'_>>;

    /// The symbol instance of the tag named `name`, ignoring ASCII case. The default looks
    /// at every tag in turn; a large table should answer from an index.
    fn find(&self, name: &[u8]) -> Option<u32> {
        (1..=self.len()).find(|&i| {
            self.tag(i)
                .is_some_and(|t| t.name.as_bytes().eq_ignore_ascii_case(name))
        })
    }

    /// Fills `out` with the tag's bytes from byte `offset` (little-endian values, elements
    /// one after the other).
    ///
    /// # Errors
    ///
    /// The refusal to answer.
    fn read(&mut self, instance: u32, offset: usize, out: &mut [u8]) -> Result<(), CipError>;

    /// Writes `data` into the tag's bytes from byte `offset`.
    ///
    /// # Errors
    ///
    /// The refusal to answer; a refused write should change nothing.
    fn write(&mut self, instance: u32, offset: usize, data: &[u8]) -> Result<(), CipError>;

    /// How many programs there are: their ids are 1 to this. The default has none.
    ///
    /// The controller's tag list has an entry `Program:NAME` for each, after the tags.
    fn programs(&self) -> u32 {
        0
    }

    /// The name of program `program` without the `Program:` prefix (`Main`), `None` outside
    /// 1 to [`programs`](TagTable::programs). A name over 247 bytes cannot be addressed (a
    /// path's symbolic segment holds 255) and is left out of the tag list.
    fn program_name(&self, program: u32) -> Option<&str> {
        let _ = program;
        None
    }

    /// The id of the program named `name` (without the `Program:` prefix), ignoring ASCII
    /// case. The default looks at every program in turn.
    fn find_program(&self, name: &[u8]) -> Option<u32> {
        (1..=self.programs()).find(|&p| {
            self.program_name(p)
                .is_some_and(|n| n.as_bytes().eq_ignore_ascii_case(name))
        })
    }

    /// The tags of program `program`, `None` outside 1 to [`programs`](TagTable::programs).
    /// Its tags are found, listed, read and written through it as the controller's are
    /// through `self`; a program's table has no programs of its own.
    fn program(&self, program: u32) -> Option<&dyn TagTable> {
        let _ = program;
        None
    }

    /// The tags of program `program`, to read and write them; the same table as
    /// [`program`](TagTable::program) gives.
    fn program_mut(&mut self, program: u32) -> Option<&mut dyn TagTable> {
        let _ = program;
        None
    }
}
