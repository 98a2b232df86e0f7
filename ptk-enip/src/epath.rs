//! Padded EPATHs: a checked view over a path's bytes, and a builder that writes segments
//! into a caller's buffer.

use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::limits::MAX_EPATH_LEN;
use crate::logical::{LogicalSegment, LogicalType};
use crate::segment::Segment;
use crate::wire::Reader;

/// A checked view of a padded EPATH: the segments of a request path, route path or
/// connection path, without the size field in front of them.
///
/// [`new_checked`](Epath::new_checked) parses every segment once; after it succeeds the
/// segment iterator never fails.
///
/// # Examples
///
/// ```
/// use ptk_enip::{Epath, LogicalSegment, Segment};
///
/// // Class 0x02 (Message Router), instance 1.
/// let path = Epath::new_checked(&[0x20, 0x02, 0x24, 0x01]).unwrap();
/// assert_eq!(path.class_id(), Some(0x02));
/// assert_eq!(path.instance_id(), Some(1));
/// assert_eq!(path.attribute_id(), None);
/// assert_eq!(path.len_words(), 2);
/// let mut segments = path.segments();
/// assert_eq!(segments.next(), Some(Segment::Logical(LogicalSegment::class(0x02))));
/// assert_eq!(segments.next(), Some(Segment::Logical(LogicalSegment::instance(1))));
/// assert_eq!(segments.next(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Epath<'a> {
    bytes: &'a [u8],
}

impl<'a> Epath<'a> {
    /// The empty path.
    pub const EMPTY: Epath<'static> = Epath { bytes: &[] };

    /// Checks that `bytes` is a sequence of segments the codec implements.
    ///
    /// # Errors
    ///
    /// [`Violation::PathTooLong`] if `bytes` is longer than [`MAX_EPATH_LEN`];
    /// [`Violation::PathSize`] if the last segment runs past the end; the errors of
    /// [`Segment::parse`].
    pub fn new_checked(bytes: &'a [u8]) -> Result<Epath<'a>> {
        if bytes.len() > MAX_EPATH_LEN {
            return Err(Error::Malformed(Violation::PathTooLong));
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let (_, len) = Segment::parse(rest).map_err(|e| match e {
                Error::Malformed(Violation::Truncated) => Error::Malformed(Violation::PathSize),
                e => e,
            })?;
            rest = rest.get(len..).unwrap_or_default();
        }
        Ok(Epath { bytes })
    }

    /// Reads a path preceded by its size in 16-bit words (one byte), as message router
    /// requests carry it, and returns it with the bytes after it.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if there is no size byte; [`Violation::PathSize`] if the path
    /// runs past `bytes`; the errors of [`new_checked`](Epath::new_checked).
    pub fn parse_sized(bytes: &'a [u8]) -> Result<(Epath<'a>, &'a [u8])> {
        let mut r = Reader::new(bytes);
        let words = r.u8()?;
        let path = r
            .bytes(2 * usize::from(words))
            .map_err(|_| Error::Malformed(Violation::PathSize))?;
        Ok((Epath::new_checked(path)?, r.rest()))
    }

    /// The segments, in order.
    pub fn segments(&self) -> Segments<'a> {
        Segments { rest: self.bytes }
    }

    /// The encoded path, without a size field.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The path's length in bytes.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The path's length in 16-bit words, as its size field says it.
    pub const fn len_words(&self) -> u8 {
        (self.bytes.len() / 2) as u8
    }

    /// Whether the path has no segments.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The value of the first logical segment of `kind`.
    pub fn logical(&self, kind: LogicalType) -> Option<u32> {
        self.segments().find_map(|segment| match segment {
            Segment::Logical(logical) if logical.kind == kind => Some(logical.value),
            _ => None,
        })
    }

    /// The class id of the first class segment.
    pub fn class_id(&self) -> Option<u16> {
        self.logical(LogicalType::Class).map(|v| v as u16)
    }

    /// The instance id of the first instance segment.
    pub fn instance_id(&self) -> Option<u32> {
        self.logical(LogicalType::Instance)
    }

    /// The attribute id of the first attribute segment.
    pub fn attribute_id(&self) -> Option<u16> {
        self.logical(LogicalType::Attribute).map(|v| v as u16)
    }

    /// Whether the path is exactly the class and instance 1 given, as the Connection Manager
    /// and the Message Router are addressed.
    pub fn is_object(&self, class: u16) -> bool {
        let mut segments = self.segments();
        matches!(
            (segments.next(), segments.next(), segments.next()),
            (
                Some(Segment::Logical(LogicalSegment { kind: LogicalType::Class, value: c, .. })),
                Some(Segment::Logical(LogicalSegment { kind: LogicalType::Instance, value: 1, .. })),
                None,
            ) if c == u32::from(class)
        )
    }

    /// The length of the path made of `segments`.
    pub fn buffer_len(segments: &[Segment<'_>]) -> usize {
        segments.iter().map(Segment::buffer_len).sum()
    }

    /// Writes `segments` into the start of `buf` and returns the path's length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::PathTooLong`] if the path is longer than
    /// [`MAX_EPATH_LEN`], or the errors of [`Segment::check`]; [`Error::BufferTooSmall`] if
    /// `buf` is too short.
    ///
    /// # Examples
    ///
    /// ```
    /// use ptk_enip::{Epath, LogicalSegment, Segment};
    ///
    /// let segments = [
    ///     Segment::Symbolic(b"Counts"),
    ///     Segment::Logical(LogicalSegment::member(3)),
    /// ];
    /// let mut buf = [0u8; 16];
    /// let n = Epath::emit(&segments, &mut buf).unwrap();
    /// assert_eq!(&buf[..n], b"\x91\x06Counts\x28\x03");
    /// ```
    pub fn emit(segments: &[Segment<'_>], buf: &mut [u8]) -> Result<usize> {
        let mut builder = PathBuilder::new(buf);
        for segment in segments {
            builder.push(segment)?;
        }
        Ok(builder.len())
    }
}

/// The iterator of [`Epath::segments`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        let (segment, len) = Segment::parse(self.rest).ok()?;
        self.rest = self.rest.get(len..).unwrap_or_default();
        Some(segment)
    }
}

impl FusedIterator for Segments<'_> {}

/// Writes the segments of a path one at a time into a caller's buffer, checking each.
///
/// # Examples
///
/// ```
/// use ptk_enip::{Epath, LogicalSegment, PathBuilder, Segment};
///
/// let mut buf = [0u8; 8];
/// let mut path = PathBuilder::new(&mut buf);
/// path.push(&Segment::Logical(LogicalSegment::class(0x01)))?
///     .push(&Segment::Logical(LogicalSegment::instance(1)))?;
/// let path = path.finish();
/// assert_eq!(path.as_bytes(), &[0x20, 0x01, 0x24, 0x01]);
/// # Ok::<(), ptk_enip::Error>(())
/// ```
#[derive(Debug)]
pub struct PathBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> PathBuilder<'b> {
    /// A builder writing from the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> PathBuilder<'b> {
        PathBuilder { buf, len: 0 }
    }

    /// Appends `segment`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::PathTooLong`] if the path would be longer than
    /// [`MAX_EPATH_LEN`], or the errors of [`Segment::check`]; [`Error::BufferTooSmall`] with
    /// the path's length so far plus the segment's. Nothing is appended on error.
    pub fn push(&mut self, segment: &Segment<'_>) -> Result<&mut Self> {
        segment.check()?;
        let end = self.len + segment.buffer_len();
        if end > MAX_EPATH_LEN {
            return Err(Error::Invalid(Violation::PathTooLong));
        }
        let out = self
            .buf
            .get_mut(self.len..)
            .ok_or(Error::BufferTooSmall { needed: end })?;
        let n = segment.emit(out).map_err(|e| match e {
            Error::BufferTooSmall { .. } => Error::BufferTooSmall { needed: end },
            e => e,
        })?;
        self.len += n;
        Ok(self)
    }

    /// The path's length so far.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was pushed yet.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The path written.
    pub fn finish(self) -> Epath<'b> {
        let bytes: &'b [u8] = self.buf;
        Epath {
            bytes: bytes.get(..self.len).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{Link, PortSegment};

    #[test]
    fn sized_paths_split_off_their_data() {
        let bytes = [0x03, 0x91, 0x03, b'a', b'b', b'c', 0x00, 0x01, 0x00];
        let (path, rest) = Epath::parse_sized(&bytes).unwrap();
        assert_eq!(
            path.segments().collect::<std::vec::Vec<_>>(),
            [Segment::Symbolic(b"abc")]
        );
        assert_eq!(rest, &[0x01, 0x00]);
        assert_eq!(
            Epath::parse_sized(&[0x04, 0x20, 0x02]),
            Err(Error::Malformed(Violation::PathSize))
        );
        assert_eq!(
            Epath::parse_sized(&[0x01, 0x91, 0x04]),
            Err(Error::Malformed(Violation::PathSize))
        );
        assert_eq!(
            Epath::parse_sized(&[]),
            Err(Error::Malformed(Violation::Truncated))
        );
    }

    #[test]
    fn the_connection_manager_is_recognised() {
        let path = Epath::new_checked(&[0x20, 0x06, 0x24, 0x01]).unwrap();
        assert!(path.is_object(0x06));
        assert!(!path.is_object(0x02));
        let longer = Epath::new_checked(&[0x20, 0x06, 0x24, 0x01, 0x30, 0x01]).unwrap();
        assert!(!longer.is_object(0x06));
    }

    #[test]
    fn the_builder_refuses_what_does_not_fit() {
        let mut buf = [0u8; 3];
        let mut builder = PathBuilder::new(&mut buf);
        builder
            .push(&Segment::Port(PortSegment {
                port: 1,
                link: Link::Address(0),
            }))
            .unwrap();
        assert_eq!(
            builder
                .push(&Segment::Logical(LogicalSegment::class(2)))
                .err(),
            Some(Error::BufferTooSmall { needed: 4 })
        );
        assert_eq!(builder.finish().as_bytes(), &[0x01, 0x00]);

        let mut big = [0u8; 600];
        let mut builder = PathBuilder::new(&mut big);
        let symbol = [b'x'; 200];
        builder.push(&Segment::Symbolic(&symbol)).unwrap();
        builder.push(&Segment::Symbolic(&symbol)).unwrap();
        assert_eq!(
            builder.push(&Segment::Symbolic(&symbol)).err(),
            Some(Error::Invalid(Violation::PathTooLong))
        );
        assert_eq!(builder.len(), 404);
    }
}
