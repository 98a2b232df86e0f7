//! The Logix tag services on a [`TagTable`]: Read Tag, Read Tag Fragmented, Write Tag,
//! Write Tag Fragmented and Read-Modify-Write, on a symbolic path (`91 ...`) or a symbol
//! instance path (`20 6B 24 ...`), with element segments. A first symbolic segment
//! `Program:NAME` puts the rest of the path in that program's scope (its tags, its symbol
//! instances): `91 0C "Program:Main" 91 06 "Counts" 28 03` is `Program:Main.Counts[3]`.
//!
//! The statuses are Logix's: an unknown name 0x04, an index past its dimension or an
//! unknown instance 0x05, a count past the end of the tag 0xFF / 0x2105, a type other than
//! the tag's 0xFF / 0x2107, too little data 0x13, a fragment past the end of its write 0x15.

use super::router::{refusal, Answer, Router};
use super::tags::{program_in, CipError, ElementType, TagTable};
use crate::service;
use crate::{
    class, Epath, GeneralStatus, LogicalType, MessageRequest, ReadModifyWrite, ReadTag,
    ReadTagFragmented, Segment, Segments, TagType, Violation,
};

/// The element a request path names.
struct Target {
    /// The program whose tag it is, `None` for a controller tag.
    program: Option<u32>,
    instance: u32,
    element: ElementType,
    /// The tag's element count.
    elements: u64,
    /// The element the path names (0 when it names none).
    first: u64,
}

impl Target {
    fn size(&self) -> u64 {
        self.element.size() as u64
    }
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

impl<T: TagTable + ?Sized> Router<'_, T> {
    /// A tag service on the tag `request.path` names.
    pub(crate) fn tag_service(&mut self, request: &MessageRequest<'_>, out: &mut [u8]) -> Answer {
        let target = self.resolve(&request.path)?;
        let data = request.data;
        match request.service {
            service::READ_TAG => {
                let read = ReadTag::parse(data).map_err(refusal)?;
                self.read(&target, read.elements, 0, out)
            }
            service::READ_TAG_FRAGMENTED => {
                let read = ReadTagFragmented::parse(data).map_err(refusal)?;
                self.read(&target, read.elements, read.offset, out)
            }
            service::WRITE_TAG => self.write(&target, data, false),
            service::WRITE_TAG_FRAGMENTED => self.write(&target, data, true),
            service::READ_MODIFY_WRITE => self.read_modify_write(&target, data),
            _ => Err(CipError::SERVICE_NOT_SUPPORTED),
        }
    }

    /// The tag and element `path` names: in the controller's scope, or in a program's when
    /// the path starts with `Program:NAME`.
    fn resolve(&self, path: &Epath<'_>) -> Result<Target, CipError> {
        let mut segments = path.segments();
        if let Some(Segment::Symbolic(name)) = segments.clone().next() {
            if let Some(program) = program_in(name) {
                let id = self
                    .tags
                    .find_program(program)
                    .ok_or(CipError::PATH_SEGMENT_ERROR)?;
                let tags = self
                    .tags
                    .program(id)
                    .ok_or(CipError::PATH_DESTINATION_UNKNOWN)?;
                segments.next();
                return target_in(tags, Some(id), segments);
            }
        }
        target_in(&*self.tags, None, segments)
    }

    /// Reads bytes of the target's tag, in its scope's table.
    fn read_bytes(&mut self, t: &Target, offset: usize, out: &mut [u8]) -> Result<(), CipError> {
        match t.program {
            None => self.tags.read(t.instance, offset, out),
            Some(p) => self
                .tags
                .program_mut(p)
                .ok_or(CipError::PATH_DESTINATION_UNKNOWN)?
                .read(t.instance, offset, out),
        }
    }

    /// Writes bytes of the target's tag, in its scope's table.
    fn write_bytes(&mut self, t: &Target, offset: usize, data: &[u8]) -> Result<(), CipError> {
        match t.program {
            None => self.tags.write(t.instance, offset, data),
            Some(p) => self
                .tags
                .program_mut(p)
                .ok_or(CipError::PATH_DESTINATION_UNKNOWN)?
                .write(t.instance, offset, data),
        }
    }
}

/// The tag of `tags` (the scope of `program`) and the element `segments` name: a symbolic
/// segment or a symbol instance, then element indexes.
fn target_in<U: TagTable + ?Sized>(
    tags: &U,
    program: Option<u32>,
    mut segments: Segments<'_>,
) -> Result<Target, CipError> {
    let instance = match segments.next() {
        Some(Segment::Symbolic(name)) => tags.find(name).ok_or(CipError::PATH_SEGMENT_ERROR)?,
        Some(Segment::Logical(l))
            if l.kind == LogicalType::Class && l.value == u32::from(class::SYMBOL) =>
        {
            match segments.next() {
                Some(Segment::Logical(i)) if i.kind == LogicalType::Instance => i.value,
                _ => return Err(CipError::PATH_SEGMENT_ERROR),
            }
        }
        _ => return Err(CipError::PATH_SEGMENT_ERROR),
    };
    let info = tags
        .tag(instance)
        .ok_or(CipError::PATH_DESTINATION_UNKNOWN)?;
    let mut indexes = [0u32; 3];
    let mut count = 0;
    for segment in segments {
        match segment {
            Segment::Logical(l) if l.kind == LogicalType::Member && count < 3 => {
                indexes[count] = l.value;
                count += 1;
            }
            // Members of atomic tags, bits, nested programs: not served.
            _ => return Err(CipError::PATH_SEGMENT_ERROR),
        }
    }
    let dimensions = usize::from(info.dimension_count());
    if count != 0 && count != dimensions {
        return Err(CipError::PATH_SEGMENT_ERROR);
    }
    let mut first = 0u64;
    for (&index, &dimension) in indexes[..count].iter().zip(&info.dimensions) {
        if index >= dimension {
            return Err(CipError::PATH_DESTINATION_UNKNOWN);
        }
        first = first * u64::from(dimension) + u64::from(index);
    }
    Ok(Target {
        program,
        instance,
        element: info.element,
        elements: info.elements(),
        first,
    })
}

impl<T: TagTable + ?Sized> Router<'_, T> {
    /// Read Tag (`offset` 0) and Read Tag Fragmented: the type, then as many whole
    /// elements' bytes from `offset` as `out` holds; partial transfer (0x06) when more
    /// remain.
    fn read(&mut self, t: &Target, elements: u16, offset: u32, out: &mut [u8]) -> Answer {
        let size = t.size();
        if t.first + u64::from(elements) > t.elements {
            return Err(CipError::BEYOND_END);
        }
        let start = t.first * size;
        let end = start + u64::from(elements) * size;
        let from = start + u64::from(offset);
        if from > end {
            return Err(CipError::BEYOND_END);
        }
        let head = t.element.tag_type().emit(out).map_err(refusal)?;
        let room = (out.len() - head) as u64 / size * size;
        let wanted = end - from;
        let n = wanted.min(room) as usize;
        if n == 0 && wanted > 0 {
            return Err(CipError::new(GeneralStatus::REPLY_DATA_TOO_LARGE));
        }
        self.read_bytes(t, from as usize, &mut out[head..head + n])?;
        let status = if (n as u64) < wanted {
            GeneralStatus::PARTIAL_TRANSFER
        } else {
            GeneralStatus::SUCCESS
        };
        Ok((status, head + n))
    }

    /// Write Tag and Write Tag Fragmented. A Write Tag takes its elements' bytes and
    /// ignores what follows them (pycomm3 1.2 sends its request twice over in one); a
    /// fragment may start and end anywhere inside its write.
    fn write(&mut self, t: &Target, data: &[u8], fragmented: bool) -> Answer {
        let (tag_type, at) = TagType::parse(data).map_err(refusal)?;
        if tag_type != t.element.tag_type() {
            return Err(CipError::TYPE_MISMATCH);
        }
        let elements = le_u16(data, at).ok_or(CipError::NOT_ENOUGH_DATA)?;
        let (offset, payload) = if fragmented {
            let offset = le_u32(data, at + 2).ok_or(CipError::NOT_ENOUGH_DATA)?;
            (u64::from(offset), &data[at + 6..])
        } else {
            (0, &data[at + 2..])
        };
        if elements == 0 {
            return Err(Violation::ElementCount.into());
        }
        if t.first + u64::from(elements) > t.elements {
            return Err(CipError::BEYOND_END);
        }
        let total = u64::from(elements) * t.size();
        let payload = if fragmented {
            if offset + payload.len() as u64 > total {
                return Err(CipError::TOO_MUCH_DATA);
            }
            payload
        } else {
            payload
                .get(..total as usize)
                .ok_or(CipError::NOT_ENOUGH_DATA)?
        };
        let from = t.first * t.size() + offset;
        self.write_bytes(t, from as usize, payload)?;
        Ok((GeneralStatus::SUCCESS, 0))
    }

    /// Read-Modify-Write on the element the path names: `(value | OR) & AND` on the mask's
    /// width (1, 2, 4 or 8 bytes, at most the element's size).
    fn read_modify_write(&mut self, t: &Target, data: &[u8]) -> Answer {
        let rmw = ReadModifyWrite::parse(data).map_err(|e| match e.violation() {
            Some(Violation::MaskSize) => CipError::TYPE_MISMATCH,
            _ => refusal(e),
        })?;
        let width = rmw.or_mask.len();
        if t.element == ElementType::LogixString || width as u64 > t.size() {
            return Err(CipError::TYPE_MISMATCH);
        }
        let at = (t.first * t.size()) as usize;
        let mut value = [0u8; 8];
        self.read_bytes(t, at, &mut value[..width])?;
        let new = rmw.apply(u64::from_le_bytes(value)).to_le_bytes();
        self.write_bytes(t, at, &new[..width])?;
        Ok((GeneralStatus::SUCCESS, 0))
    }
}
