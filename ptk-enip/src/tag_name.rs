//! Logix tag names in their textual form, such as `Program:Main.Counts[3]`,
//! `MyUdt.Field[1,2]` or `Tag.5`, and the request path they address.

use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::limits::{MAX_EPATH_LEN, MAX_SYMBOL_LEN};
use crate::logical::LogicalSegment;
use crate::route::decimal;
use crate::segment::Segment;
use crate::PathBuilder;

/// One step of a tag name: a symbol (the tag, or a member of a structure) or an array index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagSegment<'a> {
    /// A tag or member name: an ANSI extended symbolic segment.
    Symbol(&'a str),
    /// An array index: a member segment.
    Index(u32),
}

/// A tag name parsed from text.
///
/// The syntax is `Name[i,j,k].Member[i].Member...` with up to three indices per pair of
/// brackets, and an optional final `.N`: the bit `N` (0 to 63) of an integer. Names start
/// with a letter or `_` and go on with letters, digits, `_` and `:` (as in `Program:Main` or
/// `Local:1:I`). A bit is not part of the request path: a client reads the integer and picks
/// the bit, or writes it with Read-Modify-Write.
///
/// # Examples
///
/// ```
/// use ptk_enip::{TagName, TagSegment};
///
/// let tag = TagName::parse("Program:Main.Counts[3]")?;
/// assert!(tag.segments().eq([
///     TagSegment::Symbol("Program:Main"),
///     TagSegment::Symbol("Counts"),
///     TagSegment::Index(3),
/// ]));
/// let mut buf = [0u8; 32];
/// let n = tag.emit(&mut buf)?;
/// assert_eq!(&buf[..n], b"\x91\x0CProgram:Main\x91\x06Counts\x28\x03");
///
/// let element = TagName::parse("MyUdt.Field[1,2]")?;
/// assert!(element.segments().eq([
///     TagSegment::Symbol("MyUdt"),
///     TagSegment::Symbol("Field"),
///     TagSegment::Index(1),
///     TagSegment::Index(2),
/// ]));
///
/// let bit = TagName::parse("Tag.5")?;
/// assert_eq!(bit.bit(), Some(5));
/// assert!(bit.segments().eq([TagSegment::Symbol("Tag")]));
///
/// assert!(TagName::parse("1Tag").is_err());
/// assert!(TagName::parse("Tag[1,2,3,4]").is_err());
/// # Ok::<(), ptk_enip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagName<'a> {
    /// The text without the bit.
    path: &'a str,
    bit: Option<u8>,
}

const TAG: Error = Error::Malformed(Violation::TagName);

impl<'a> TagName<'a> {
    /// Checks the syntax of `text`.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] with [`Violation::TagName`] for text that does not follow the
    /// syntax above; [`Violation::PathTooLong`] for a name over 255 bytes or a request path
    /// over 510 bytes.
    pub fn parse(text: &'a str) -> Result<TagName<'a>> {
        let (path, bit) = match text.rsplit_once('.') {
            Some((head, last)) if last.bytes().all(|b| b.is_ascii_digit()) => {
                let bit = decimal(last).filter(|&bit| bit < 64).ok_or(TAG)?;
                (head, Some(bit as u8))
            }
            _ => (text, None),
        };
        let mut len = 0;
        for part in path.split('.') {
            let (name, indices) = match part.split_once('[') {
                Some((name, rest)) => (name, Some(rest.strip_suffix(']').ok_or(TAG)?)),
                None => (part, None),
            };
            check_name(name)?;
            len += Segment::Symbolic(name.as_bytes()).buffer_len();
            if let Some(indices) = indices {
                let mut count = 0;
                for index in indices.split(',') {
                    let index = decimal(index.trim()).ok_or(TAG)?;
                    len += Segment::Logical(LogicalSegment::member(index)).buffer_len();
                    count += 1;
                }
                if count > 3 {
                    return Err(TAG);
                }
            }
        }
        if len > MAX_EPATH_LEN {
            return Err(Error::Malformed(Violation::PathTooLong));
        }
        Ok(TagName { path, bit })
    }

    /// The bit of a trailing `.N`, if there is one.
    pub const fn bit(&self) -> Option<u8> {
        self.bit
    }

    /// The name without the bit: the tag whose path [`emit`](TagName::emit) writes.
    pub const fn as_str(&self) -> &'a str {
        self.path
    }

    /// The steps of the path, in order.
    pub fn segments(&self) -> TagSegments<'a> {
        TagSegments {
            rest: Some(self.path),
            indices: None,
        }
    }

    /// The length of the request path.
    pub fn buffer_len(&self) -> usize {
        self.segments().map(|s| segment(s).buffer_len()).sum()
    }

    /// Appends the request path's segments to `path`.
    ///
    /// # Errors
    ///
    /// The errors of [`PathBuilder::push`].
    pub fn push_to(&self, path: &mut PathBuilder<'_>) -> Result<()> {
        for step in self.segments() {
            path.push(&segment(step))?;
        }
        Ok(())
    }

    /// Writes the request path (without a size field) into the start of `buf` and returns
    /// its length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut path = PathBuilder::new(buf);
        self.push_to(&mut path)?;
        Ok(path.len())
    }
}

fn segment(step: TagSegment<'_>) -> Segment<'_> {
    match step {
        TagSegment::Symbol(name) => Segment::Symbolic(name.as_bytes()),
        TagSegment::Index(index) => Segment::Logical(LogicalSegment::member(index)),
    }
}

fn check_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if !first_ok || !rest_ok {
        return Err(TAG);
    }
    if name.len() > MAX_SYMBOL_LEN {
        return Err(Error::Malformed(Violation::PathTooLong));
    }
    Ok(())
}

/// The iterator of [`TagName::segments`].
#[derive(Clone, Debug)]
pub struct TagSegments<'a> {
    rest: Option<&'a str>,
    indices: Option<&'a str>,
}

impl<'a> Iterator for TagSegments<'a> {
    type Item = TagSegment<'a>;

    fn next(&mut self) -> Option<TagSegment<'a>> {
        if let Some(indices) = self.indices {
            let (index, rest) = match indices.split_once(',') {
                Some((index, rest)) => (index, Some(rest)),
                None => (indices, None),
            };
            self.indices = rest;
            return decimal(index.trim()).map(TagSegment::Index);
        }
        let rest = self.rest?;
        let (part, rest) = match rest.split_once('.') {
            Some((part, rest)) => (part, Some(rest)),
            None => (rest, None),
        };
        self.rest = rest;
        match part.split_once('[') {
            Some((name, indices)) => {
                self.indices = indices.strip_suffix(']');
                Some(TagSegment::Symbol(name))
            }
            None => Some(TagSegment::Symbol(part)),
        }
    }
}

impl FusedIterator for TagSegments<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indices_become_segments() {
        let tag = TagName::parse("Local:1:I.Data[ 70000 ]").unwrap();
        let mut buf = [0u8; 32];
        let n = tag.emit(&mut buf).unwrap();
        assert_eq!(n, tag.buffer_len());
        assert_eq!(
            &buf[..n],
            b"\x91\x09Local:1:I\x00\x91\x04Data\x2A\x00\x70\x11\x01\x00"
        );
        let tag = TagName::parse("_x[300].y.31").unwrap();
        assert_eq!(tag.bit(), Some(31));
        assert_eq!(tag.as_str(), "_x[300].y");
        let n = tag.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"\x91\x02_x\x29\x00\x2C\x01\x91\x01y\x00");
    }

    #[test]
    fn bad_names_are_refused() {
        for text in [
            "",
            ".",
            "A.",
            ".A",
            "A..B",
            "A[",
            "A[]",
            "A[1",
            "A[1]]",
            "A[x]",
            "A[1]B",
            "A.64",
            "A.1.2",
            "A-B",
            "A b",
            "5",
            "A[1,2,3,4]",
            "A.[1]",
            "A[-1]",
        ] {
            assert!(TagName::parse(text).is_err(), "{text:?}");
        }
        let long = "x".repeat(256);
        assert_eq!(
            TagName::parse(&long),
            Err(Error::Malformed(Violation::PathTooLong))
        );
    }

    #[test]
    fn a_short_buffer_is_reported() {
        let tag = TagName::parse("Counts[3]").unwrap();
        assert_eq!(
            tag.emit(&mut [0u8; 9]),
            Err(Error::BufferTooSmall { needed: 10 })
        );
    }
}
