//! The services of this codec as one type: a message router request's data parsed by what
//! its service code means on the object its path addresses.

use crate::error::{Error, Result, Violation};
use crate::{
    class, service, AttributeList, Epath, ForwardClose, ForwardOpen, MessageRequest,
    MultipleServices, ReadModifyWrite, ReadTag, ReadTagFragmented, UnconnectedSend, WriteTag,
    WriteTagFragmented,
};

/// A message router request's service and data, parsed.
///
/// [`parse`](Request::parse) tells the services that share a code apart by the path: a
/// path of exactly the Connection Manager (class 0x06, instance 1) makes 0x52
/// Unconnected_Send and 0x4E Forward_Close; on any other path they are Read Tag Fragmented
/// and Read-Modify-Write.
///
/// # Examples
///
/// A server dispatching on what it received:
///
/// ```
/// use ptk_enip::{MessageRequest, ReadTag, Request};
///
/// let bytes = b"\x4C\x04\x91\x06Counts\x02\x00";
/// let message = MessageRequest::parse(bytes).unwrap();
/// match Request::parse(&message) {
///     Ok(Request::ReadTag(ReadTag { elements })) => assert_eq!(elements, 2),
///     Ok(other) => panic!("unexpected {other:?}"),
///     // A real server answers with the general status of `e.violation()`.
///     Err(e) => panic!("refused: {e}"),
/// }
///
/// // A client writing a whole request for a path.
/// let mut buf = [0u8; 16];
/// let n = Request::ReadTag(ReadTag { elements: 2 }).emit(&message.path, &mut buf).unwrap();
/// assert_eq!(&buf[..n], bytes);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Request<'a> {
    /// 0x01 Get_Attribute_All: no data.
    GetAttributeAll,
    /// 0x0E Get_Attribute_Single: no data (the attribute is in the path).
    GetAttributeSingle,
    /// 0x0A Multiple Service Packet, to the Message Router.
    MultipleServicePacket(MultipleServices<'a>),
    /// 0x4C Read Tag.
    ReadTag(ReadTag),
    /// 0x4D Write Tag.
    WriteTag(WriteTag<'a>),
    /// 0x52 Read Tag Fragmented.
    ReadTagFragmented(ReadTagFragmented),
    /// 0x53 Write Tag Fragmented.
    WriteTagFragmented(WriteTagFragmented<'a>),
    /// 0x4E Read-Modify-Write.
    ReadModifyWrite(ReadModifyWrite<'a>),
    /// 0x55 Get_Instance_Attribute_List.
    GetInstanceAttributeList(AttributeList<'a>),
    /// 0x52 Unconnected_Send, to the Connection Manager.
    UnconnectedSend(UnconnectedSend<'a>),
    /// 0x54 Forward_Open or 0x5B Large_Forward_Open, to the Connection Manager.
    ForwardOpen(ForwardOpen<'a>),
    /// 0x4E Forward_Close, to the Connection Manager.
    ForwardClose(ForwardClose<'a>),
}

fn no_data(data: &[u8]) -> Result<()> {
    if data.is_empty() {
        Ok(())
    } else {
        Err(Error::Malformed(Violation::TrailingBytes))
    }
}

impl<'a> Request<'a> {
    /// Parses `request`'s data by its service and path.
    ///
    /// # Errors
    ///
    /// [`Violation::UnknownService`] for a service this codec does not implement on the
    /// object addressed; the errors of the service's own `parse`. Every error's
    /// [`Violation::general_status`] is the status to answer with.
    pub fn parse(request: &MessageRequest<'a>) -> Result<Request<'a>> {
        let data = request.data;
        let unknown = Error::Malformed(Violation::UnknownService);
        if request.path.is_object(class::CONNECTION_MANAGER) {
            return Ok(match request.service {
                service::UNCONNECTED_SEND => {
                    Request::UnconnectedSend(UnconnectedSend::parse(data)?)
                }
                service::FORWARD_OPEN => Request::ForwardOpen(ForwardOpen::parse(data, false)?),
                service::LARGE_FORWARD_OPEN => {
                    Request::ForwardOpen(ForwardOpen::parse(data, true)?)
                }
                service::FORWARD_CLOSE => Request::ForwardClose(ForwardClose::parse(data)?),
                service::GET_ATTRIBUTE_ALL => {
                    no_data(data)?;
                    Request::GetAttributeAll
                }
                service::GET_ATTRIBUTE_SINGLE => {
                    no_data(data)?;
                    Request::GetAttributeSingle
                }
                _ => return Err(unknown),
            });
        }
        Ok(match request.service {
            service::GET_ATTRIBUTE_ALL => {
                no_data(data)?;
                Request::GetAttributeAll
            }
            service::GET_ATTRIBUTE_SINGLE => {
                no_data(data)?;
                Request::GetAttributeSingle
            }
            service::MULTIPLE_SERVICE_PACKET if request.path.is_object(class::MESSAGE_ROUTER) => {
                Request::MultipleServicePacket(MultipleServices::new_checked(data)?)
            }
            service::READ_TAG => Request::ReadTag(ReadTag::parse(data)?),
            service::WRITE_TAG => Request::WriteTag(WriteTag::parse(data)?),
            service::READ_TAG_FRAGMENTED => {
                Request::ReadTagFragmented(ReadTagFragmented::parse(data)?)
            }
            service::WRITE_TAG_FRAGMENTED => {
                Request::WriteTagFragmented(WriteTagFragmented::parse(data)?)
            }
            service::READ_MODIFY_WRITE => Request::ReadModifyWrite(ReadModifyWrite::parse(data)?),
            service::GET_INSTANCE_ATTRIBUTE_LIST => {
                Request::GetInstanceAttributeList(AttributeList::parse(data)?)
            }
            _ => return Err(unknown),
        })
    }

    /// The service code.
    pub const fn service(&self) -> u8 {
        match self {
            Request::GetAttributeAll => service::GET_ATTRIBUTE_ALL,
            Request::GetAttributeSingle => service::GET_ATTRIBUTE_SINGLE,
            Request::MultipleServicePacket(_) => service::MULTIPLE_SERVICE_PACKET,
            Request::ReadTag(_) => service::READ_TAG,
            Request::WriteTag(_) => service::WRITE_TAG,
            Request::ReadTagFragmented(_) => service::READ_TAG_FRAGMENTED,
            Request::WriteTagFragmented(_) => service::WRITE_TAG_FRAGMENTED,
            Request::ReadModifyWrite(_) => service::READ_MODIFY_WRITE,
            Request::GetInstanceAttributeList(_) => service::GET_INSTANCE_ATTRIBUTE_LIST,
            Request::UnconnectedSend(_) => service::UNCONNECTED_SEND,
            Request::ForwardOpen(open) => open.service(),
            Request::ForwardClose(_) => service::FORWARD_CLOSE,
        }
    }

    /// The length of the service data.
    pub const fn data_len(&self) -> usize {
        match self {
            Request::GetAttributeAll | Request::GetAttributeSingle => 0,
            Request::MultipleServicePacket(packet) => packet.as_bytes().len(),
            Request::ReadTag(_) => ReadTag::LEN,
            Request::WriteTag(write) => write.buffer_len(),
            Request::ReadTagFragmented(_) => ReadTagFragmented::LEN,
            Request::WriteTagFragmented(write) => write.buffer_len(),
            Request::ReadModifyWrite(rmw) => rmw.buffer_len(),
            Request::GetInstanceAttributeList(list) => list.as_bytes().len(),
            Request::UnconnectedSend(send) => send.buffer_len(),
            Request::ForwardOpen(open) => open.buffer_len(),
            Request::ForwardClose(close) => close.buffer_len(),
        }
    }

    /// Writes the service data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// The errors of the service's own `emit`.
    pub fn emit_data(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            Request::GetAttributeAll | Request::GetAttributeSingle => Ok(0),
            Request::MultipleServicePacket(packet) => copy(packet.as_bytes(), buf),
            Request::ReadTag(read) => read.emit(buf),
            Request::WriteTag(write) => write.emit(buf),
            Request::ReadTagFragmented(read) => read.emit(buf),
            Request::WriteTagFragmented(write) => write.emit(buf),
            Request::ReadModifyWrite(rmw) => rmw.emit(buf),
            Request::GetInstanceAttributeList(list) => copy(list.as_bytes(), buf),
            Request::UnconnectedSend(send) => send.emit(buf),
            Request::ForwardOpen(open) => open.emit(buf),
            Request::ForwardClose(close) => close.emit(buf),
        }
    }

    /// The length of the whole message router request to `path`.
    pub const fn buffer_len(&self, path: &Epath<'_>) -> usize {
        MessageRequest::header_len(path) + self.data_len()
    }

    /// Writes the whole message router request to `path` into the start of `buf` and returns
    /// its length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is too short (checked first); the errors of
    /// [`emit_data`](Request::emit_data).
    pub fn emit(&self, path: &Epath<'_>, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len(path);
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        let at = MessageRequest::emit_header(self.service(), path, out)?;
        let n = self.emit_data(out.get_mut(at..).unwrap_or_default())?;
        Ok(at + n)
    }
}

fn copy(bytes: &[u8], buf: &mut [u8]) -> Result<usize> {
    let out = buf.get_mut(..bytes.len()).ok_or(Error::BufferTooSmall {
        needed: bytes.len(),
    })?;
    out.copy_from_slice(bytes);
    Ok(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Request<'_>> {
        Request::parse(&MessageRequest::parse(bytes)?)
    }

    #[test]
    fn shared_codes_are_told_apart_by_the_path() {
        // 0x4E with a mask on a tag is Read-Modify-Write ...
        assert!(matches!(
            parse(b"\x4E\x02\x91\x01A\x00\x01\x00\x01\xFF"),
            Ok(Request::ReadModifyWrite(_))
        ));
        // ... and Forward_Close on the Connection Manager.
        let close =
            b"\x4E\x02\x20\x06\x24\x01\x0A\x05\x01\x00\x02\x00\x03\x00\x00\x00\x01\x00\x01\x00";
        assert!(matches!(parse(close), Ok(Request::ForwardClose(_))));
        // 0x52 on a tag is Read Tag Fragmented.
        assert_eq!(
            parse(b"\x52\x02\x91\x01A\x00\x01\x00\x00\x00\x00\x00"),
            Ok(Request::ReadTagFragmented(ReadTagFragmented {
                elements: 1,
                offset: 0
            }))
        );
    }

    #[test]
    fn unknown_services_are_refused() {
        assert_eq!(
            parse(b"\x10\x02\x20\x01\x24\x01"),
            Err(Error::Malformed(Violation::UnknownService))
        );
        assert_eq!(
            parse(b"\x4C\x02\x20\x06\x24\x01\x01\x00"),
            Err(Error::Malformed(Violation::UnknownService))
        );
        assert_eq!(
            parse(b"\x0A\x02\x20\x01\x24\x01\x01\x00\x04\x00\x01"),
            Err(Error::Malformed(Violation::UnknownService))
        );
        assert_eq!(
            parse(b"\x01\x02\x20\x01\x24\x01\x00"),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
    }
}
