//! Reading and writing one tag by name: whole arrays, fragmented transfers, Logix strings and
//! bits by Read-Modify-Write.

use core::task::Poll;

use ptk_runtime::Cx;

use super::{check, cip_error, Client, ClientError};
use crate::limits::{LOGIX_STRING_LEN, MAX_EPATH_LEN};
use crate::{
    service, DataType, Elements, Epath, GeneralStatus, LogixString, MessageRequest,
    ReadModifyWrite, ReadTag, ReadTagFragmented, TagData, TagName, TagType, Value, WriteTag,
    WriteTagFragmented,
};

/// What [`Client::poll_read_tag`] read: the type, and how many bytes of data it copied into
/// the caller's buffer.
///
/// # Examples
///
/// ```
/// use ptk_enip::client::TagRead;
/// use ptk_enip::{DataType, TagType, Value};
///
/// let data = [7, 0, 0, 0, 0xF9, 0xFF, 0xFF, 0xFF];
/// let read = TagRead { tag_type: TagType::Atomic(DataType::Dint), len: 8 };
/// assert!(read.elements(&data).unwrap().iter().eq([Value::Dint(7), Value::Dint(-7)]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagRead {
    /// The tag's type (BOOL for a bit `Tag.5`).
    pub tag_type: TagType,
    /// The bytes of data copied.
    pub len: usize,
}

impl TagRead {
    /// The values, for an atomic type: `data` is the caller's buffer.
    pub fn elements<'a>(&self, data: &'a [u8]) -> Option<Elements<'a>> {
        match self.tag_type {
            TagType::Atomic(t) => Elements::new(t, data.get(..self.len)?),
            _ => None,
        }
    }

    /// The strings, for Logix STRING tags: one per 88 bytes of `data`.
    pub fn strings<'a>(
        &self,
        data: &'a [u8],
    ) -> Option<impl Iterator<Item = crate::Result<LogixString<'a>>> + 'a> {
        if self.tag_type != TagType::LOGIX_STRING {
            return None;
        }
        Some(
            data.get(..self.len)?
                .chunks(LOGIX_STRING_LEN)
                .map(LogixString::parse),
        )
    }
}

/// Where a multi-step call is, across resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes transferred so far (fragments), or the next instance id (tag list).
    pub(crate) offset: usize,
    /// The step of a bit write: 0 reads the tag's type, 1 writes the bit.
    pub(crate) step: u8,
    /// The size of the tag a bit write changes.
    pub(crate) size: u8,
    /// Entries visited so far (tag list).
    pub(crate) count: usize,
}

impl Progress {
    pub(crate) const NONE: Progress = Progress {
        offset: 0,
        step: 0,
        size: 0,
        count: 0,
    };
}

/// The request path of `name` in `buf`, with the bit of a trailing `.N`.
pub(crate) fn tag_path<'b>(
    name: &str,
    buf: &'b mut [u8; MAX_EPATH_LEN],
) -> Result<(Epath<'b>, Option<u8>), ClientError> {
    let tag = TagName::parse(name).map_err(ClientError::InvalidRequest)?;
    let n = tag.emit(buf).map_err(ClientError::InvalidRequest)?;
    let path = Epath::new_checked(&buf[..n]).map_err(ClientError::InvalidRequest)?;
    Ok((path, tag.bit()))
}

/// The integer value of the bytes of one element of an integer type, and its size.
pub(crate) fn integer(tag_type: TagType, data: &[u8]) -> Result<(u64, usize), ClientError> {
    let size = match tag_type {
        TagType::Atomic(
            t @ (DataType::Sint
            | DataType::Int
            | DataType::Dint
            | DataType::Lint
            | DataType::Usint
            | DataType::Uint
            | DataType::Udint
            | DataType::Ulint
            | DataType::Dword),
        ) => t.size(),
        other => return Err(ClientError::UnexpectedType(other)),
    };
    let bytes = data
        .get(..size)
        .ok_or(ClientError::Protocol(crate::Error::Malformed(
            crate::Violation::ElementCount,
        )))?;
    let value = bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    Ok((value, size))
}

/// Bit `bit` of one element of an integer type.
pub(crate) fn bit_of(tag_type: TagType, data: &[u8], bit: u8) -> Result<bool, ClientError> {
    let (value, size) = integer(tag_type, data)?;
    if usize::from(bit) >= 8 * size {
        return Err(ClientError::UnexpectedType(tag_type));
    }
    Ok(value >> bit & 1 == 1)
}

macro_rules! ready {
    ($e:expr) => {
        match $e {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(v)) => v,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        }
    };
}
pub(crate) use ready;

impl<const N: usize> Client<N> {
    /// Reads `elements` elements of the tag `name` (`Counts`, `Program:Main.Counts[3]`,
    /// `MyUdt.Field`, a bit `Counts[3].5`) into `out` and returns the type and length of the
    /// data. Data longer than one reply comes in fragments (Read Tag, then Read Tag Fragmented
    /// while the target answers "partial transfer"). A bit reads its integer and gives one
    /// byte, 0 or 1, of type BOOL.
    ///
    /// Pass the same arguments on every call until it is `Ready`.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidRequest`] for a name that does not parse; [`ClientError::Cip`]
    /// for an error status (0x05 or 0x04 for a tag the target does not have, 0xFF / 0x2105
    /// past its end); [`ClientError::BufferTooSmall`] if the data does not fit `out`;
    /// [`ClientError::UnexpectedType`] for a bit of a tag that is not an integer; as
    /// [`poll_call`](Client::poll_call).
    pub fn poll_read_tag(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        elements: u16,
        out: &mut [u8],
    ) -> Poll<Result<super::TagRead, ClientError>> {
        let r = self.poll_read_steps(cx, name, elements, out);
        if r.is_ready() {
            self.progress = Progress::NONE;
        }
        r
    }

    fn poll_read_steps(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        elements: u16,
        out: &mut [u8],
    ) -> Poll<Result<TagRead, ClientError>> {
        let mut buf = [0u8; MAX_EPATH_LEN];
        let (path, bit) = match tag_path(name, &mut buf) {
            Ok(p) => p,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let elements = if bit.is_some() { 1 } else { elements };
        loop {
            let offset = self.progress.offset;
            let ticket = if offset == 0 {
                let read = ReadTag { elements };
                ready!(
                    self.poll_call_with(cx, service::READ_TAG, &path, ReadTag::LEN, |o| {
                        read.emit(o)
                    })
                )
            } else {
                let read = ReadTagFragmented {
                    elements,
                    offset: offset as u32,
                };
                let len = ReadTagFragmented::LEN;
                ready!(
                    self.poll_call_with(cx, service::READ_TAG_FRAGMENTED, &path, len, |o| {
                        read.emit(o)
                    })
                )
            };
            let Some(reply) = self.response(ticket) else {
                return Poll::Ready(Err(MISSING));
            };
            let partial = reply.status == GeneralStatus::PARTIAL_TRANSFER;
            if !partial && !reply.status.is_success() {
                return Poll::Ready(Err(cip_error(&reply)));
            }
            let data = match TagData::parse(reply.data) {
                Ok(data) => data,
                Err(e) => return Poll::Ready(Err(ClientError::Protocol(e))),
            };
            let end = offset + data.data.len();
            let Some(room) = out.get_mut(offset..end) else {
                return Poll::Ready(Err(ClientError::BufferTooSmall { needed: end }));
            };
            room.copy_from_slice(data.data);
            if partial {
                if data.data.is_empty() {
                    // No progress: asking again would loop forever.
                    return Poll::Ready(Err(ClientError::Protocol(crate::Error::Malformed(
                        crate::Violation::Truncated,
                    ))));
                }
                self.progress.offset = end;
                continue;
            }
            return Poll::Ready(match bit {
                None => Ok(TagRead {
                    tag_type: data.tag_type,
                    len: end,
                }),
                Some(bit) => bit_of(data.tag_type, out, bit).map(|on| {
                    out[0] = u8::from(on);
                    TagRead {
                        tag_type: TagType::Atomic(DataType::Bool),
                        len: 1,
                    }
                }),
            });
        }
    }

    /// Reads one value of an atomic type (or a bit, as [`Value::Bool`]).
    ///
    /// # Errors
    ///
    /// As [`poll_read_tag`](Client::poll_read_tag); [`ClientError::UnexpectedType`] for a
    /// tag that is not of an atomic type.
    pub fn poll_read_value(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
    ) -> Poll<Result<Value, ClientError>> {
        let mut data = [0u8; LOGIX_STRING_LEN];
        let read = ready!(self.poll_read_tag(cx, name, 1, &mut data));
        Poll::Ready(match read.tag_type {
            TagType::Atomic(t) => Value::decode(t, data.get(..t.size()).unwrap_or_default())
                .map_err(ClientError::Protocol),
            other => Err(ClientError::UnexpectedType(other)),
        })
    }

    /// Writes `elements` elements of `tag_type` from `data` to the tag `name`, in one Write
    /// Tag or, when the request would be longer than the connection allows, in Write Tag
    /// Fragmented requests (on element boundaries for atomic types).
    ///
    /// Pass the same arguments on every call until it is `Ready`.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidRequest`] for a name that does not parse, a bit (write bits
    /// with [`poll_write_value`](Client::poll_write_value)), or data that is not `elements`
    /// values of an atomic type; [`ClientError::Cip`] for an error status (0xFF / 0x2107 for
    /// a type that is not the tag's); as [`poll_call`](Client::poll_call).
    pub fn poll_write_tag(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        tag_type: TagType,
        elements: u16,
        data: &[u8],
    ) -> Poll<Result<(), ClientError>> {
        let r = self.poll_write_steps(cx, name, tag_type, elements, data);
        if r.is_ready() {
            self.progress = Progress::NONE;
        }
        r
    }

    fn poll_write_steps(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        tag_type: TagType,
        elements: u16,
        data: &[u8],
    ) -> Poll<Result<(), ClientError>> {
        let mut buf = [0u8; MAX_EPATH_LEN];
        let path = match tag_path(name, &mut buf) {
            Ok((_, Some(_))) => return Poll::Ready(Err(BIT_WRITE)),
            Ok((path, None)) => path,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let whole = WriteTag {
            tag_type,
            elements,
            data,
        };
        ready!(self.poll_connect(cx));
        loop {
            let capacity = self.request_capacity();
            let head = MessageRequest::header_len(&path) + tag_type.buffer_len();
            let ticket = if self.progress.offset == 0 && head + 2 + data.len() <= capacity {
                let len = whole.buffer_len();
                ready!(self.poll_call_with(cx, service::WRITE_TAG, &path, len, |o| whole.emit(o)))
            } else {
                let mut room = capacity.saturating_sub(head + 6);
                if let Some(size) = tag_type.element_size() {
                    room -= room % size;
                }
                let offset = self.progress.offset;
                let end = data.len().min(offset + room);
                if room == 0 || offset >= data.len() {
                    return Poll::Ready(Err(ClientError::InvalidRequest(crate::Error::Invalid(
                        crate::Violation::MessageTooLong,
                    ))));
                }
                let fragment = WriteTagFragmented {
                    tag_type,
                    elements,
                    offset: offset as u32,
                    data: &data[offset..end],
                };
                let len = fragment.buffer_len();
                let ticket = ready!(self.poll_call_with(
                    cx,
                    service::WRITE_TAG_FRAGMENTED,
                    &path,
                    len,
                    |o| fragment.emit(o)
                ));
                if end < data.len() {
                    if let Err(e) = self.response(ticket).as_ref().map_or(Err(MISSING), check) {
                        return Poll::Ready(Err(e));
                    }
                    self.progress.offset = end;
                    continue;
                }
                ticket
            };
            return Poll::Ready(self.response(ticket).as_ref().map_or(Err(MISSING), check));
        }
    }

    /// Writes one value to the tag `name`. A bit (`Flags.5`, with [`Value::Bool`]) is
    /// written by Read-Modify-Write on its integer, after a read that learns the integer's
    /// size: the controller changes the one bit atomically.
    ///
    /// # Errors
    ///
    /// As [`poll_write_tag`](Client::poll_write_tag); [`ClientError::InvalidRequest`] for a
    /// bit with a value that is not a `Bool`; [`ClientError::UnexpectedType`] for a bit of a
    /// tag that is not an integer.
    pub fn poll_write_value(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        value: Value,
    ) -> Poll<Result<(), ClientError>> {
        let bit = match TagName::parse(name) {
            Ok(tag) => tag.bit(),
            Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
        };
        let Some(bit) = bit else {
            let mut data = [0u8; 8];
            let n = value.encode(&mut data).unwrap_or(0);
            let t = TagType::Atomic(value.data_type());
            return self.poll_write_tag(cx, name, t, 1, &data[..n]);
        };
        let Value::Bool(on) = value else {
            return Poll::Ready(Err(ClientError::UnexpectedType(TagType::Atomic(
                value.data_type(),
            ))));
        };
        let r = self.poll_write_bit(cx, name, bit, on);
        if r.is_ready() {
            self.progress = Progress::NONE;
        }
        r
    }

    fn poll_write_bit(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        bit: u8,
        on: bool,
    ) -> Poll<Result<(), ClientError>> {
        let mut buf = [0u8; MAX_EPATH_LEN];
        let path = match tag_path(name, &mut buf) {
            Ok((path, _)) => path,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if self.progress.step == 0 {
            let read = ReadTag { elements: 1 };
            let ticket =
                ready!(
                    self.poll_call_with(cx, service::READ_TAG, &path, ReadTag::LEN, |o| {
                        read.emit(o)
                    })
                );
            let Some(reply) = self.response(ticket) else {
                return Poll::Ready(Err(MISSING));
            };
            if let Err(e) = check(&reply) {
                return Poll::Ready(Err(e));
            }
            let size = match TagData::parse(reply.data)
                .map_err(ClientError::Protocol)
                .and_then(|d| integer(d.tag_type, d.data).map(|(_, size)| (d.tag_type, size)))
            {
                Ok((_, size)) if usize::from(bit) < 8 * size => size,
                Ok((t, _)) => return Poll::Ready(Err(ClientError::UnexpectedType(t))),
                Err(e) => return Poll::Ready(Err(e)),
            };
            self.progress.step = 1;
            self.progress.size = size as u8;
        }
        let size = usize::from(self.progress.size);
        let mask = 1u64 << bit;
        let (or, and) = if on { (mask, !0) } else { (0, !mask) };
        let (or, and) = (or.to_le_bytes(), and.to_le_bytes());
        let rmw = ReadModifyWrite {
            or_mask: &or[..size],
            and_mask: &and[..size],
        };
        let len = rmw.buffer_len();
        let ticket = ready!(
            self.poll_call_with(cx, service::READ_MODIFY_WRITE, &path, len, |o| {
                rmw.emit(o)
            })
        );
        Poll::Ready(self.response(ticket).as_ref().map_or(Err(MISSING), check))
    }

    /// Writes `text` (at most 82 bytes) to the Logix STRING tag `name`.
    ///
    /// # Errors
    ///
    /// As [`poll_write_tag`](Client::poll_write_tag); [`ClientError::InvalidRequest`] for a
    /// text longer than 82 bytes.
    pub fn poll_write_string(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        text: &[u8],
    ) -> Poll<Result<(), ClientError>> {
        let mut data = [0u8; LOGIX_STRING_LEN];
        if let Err(e) = LogixString::encode(text, &mut data) {
            return Poll::Ready(Err(ClientError::InvalidRequest(e)));
        }
        self.poll_write_tag(cx, name, TagType::LOGIX_STRING, 1, &data)
    }
}

/// A delivered reply that is not there (cannot happen: `poll_call` delivered it).
pub(crate) const MISSING: ClientError = ClientError::Io(ptk_runtime::Error::InvalidHandle);

/// A bit given to a call that writes whole elements.
const BIT_WRITE: ClientError =
    ClientError::InvalidRequest(crate::Error::Invalid(crate::Violation::TagName));
