//! Message router requests and replies: the service, the request path or the status, and the
//! service data.

use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::service::REPLY;
use crate::wire::{len_u8, Reader, Writer};
use crate::{Epath, GeneralStatus};

/// A message router request: a service, the path of the object it applies to, and the
/// service's data.
///
/// The data is parsed by the service's own type ([`ReadTag`](crate::ReadTag),
/// [`ForwardOpen`](crate::ForwardOpen), ...) or all at once by
/// [`Request::parse`](crate::Request::parse).
///
/// # Examples
///
/// ```
/// use ptk_enip::{Epath, MessageRequest};
///
/// // Read Tag of "Counts", one element.
/// let bytes = b"\x4C\x04\x91\x06Counts\x01\x00";
/// let request = MessageRequest::parse(bytes).unwrap();
/// assert_eq!(request.service, 0x4C);
/// assert_eq!(request.data, &[0x01, 0x00]);
///
/// let mut buf = [0u8; 16];
/// let n = request.emit(&mut buf).unwrap();
/// assert_eq!(&buf[..n], bytes);
///
/// // Writing the header first and the data after it, in place.
/// let at = MessageRequest::emit_header(0x4C, &request.path, &mut buf).unwrap();
/// assert_eq!(at, 10);
/// buf[at..at + 2].copy_from_slice(&[0x01, 0x00]);
/// assert_eq!(&buf[..at + 2], bytes);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageRequest<'a> {
    /// The service code, without the reply bit.
    pub service: u8,
    /// The request path.
    pub path: Epath<'a>,
    /// The service data.
    pub data: &'a [u8],
}

impl<'a> MessageRequest<'a> {
    /// Parses a request: service, path size, path and data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] for an empty message; [`Violation::ReplyBit`] if the service
    /// has the reply bit set (this is a reply); the errors of [`Epath::parse_sized`].
    pub fn parse(bytes: &'a [u8]) -> Result<MessageRequest<'a>> {
        let mut r = Reader::new(bytes);
        let service = r.u8()?;
        if service & REPLY != 0 {
            return Err(Error::Malformed(Violation::ReplyBit));
        }
        let (path, data) = Epath::parse_sized(r.rest())?;
        Ok(MessageRequest {
            service,
            path,
            data,
        })
    }

    /// The length of the request's service, path size and path: where its data starts.
    pub const fn header_len(path: &Epath<'_>) -> usize {
        2 + path.len()
    }

    /// The length of the request [`emit`](MessageRequest::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        MessageRequest::header_len(&self.path) + self.data.len()
    }

    /// Writes the service, path size and path into the start of `buf` and returns their
    /// length, where the caller writes the service data.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ReplyBit`] if `service` has the reply bit set;
    /// [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit_header(service: u8, path: &Epath<'_>, buf: &mut [u8]) -> Result<usize> {
        if service & REPLY != 0 {
            return Err(Error::Invalid(Violation::ReplyBit));
        }
        let mut w = Writer::new(buf, MessageRequest::header_len(path))?;
        w.u8(service).u8(path.len_words()).bytes(path.as_bytes());
        Ok(w.finish())
    }

    /// Writes the whole request into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// As [`emit_header`](MessageRequest::emit_header), with the data counted.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if buf.len() < len {
            return Err(Error::BufferTooSmall { needed: len });
        }
        let at = MessageRequest::emit_header(self.service, &self.path, buf)?;
        let mut w = Writer::new(&mut buf[at..], self.data.len())?;
        w.bytes(self.data);
        Ok(at + w.finish())
    }
}

/// The additional status words of a reply: what the general status does not say (for
/// example the extended status of a Connection Manager error).
///
/// # Examples
///
/// ```
/// use ptk_enip::ExtendedStatus;
///
/// let words = ExtendedStatus::new(&[0x00, 0x01, 0x09, 0x01]).unwrap();
/// assert_eq!(words.len(), 2);
/// assert_eq!(words.first(), Some(0x0100));
/// assert!(words.iter().eq([0x0100, 0x0109]));
///
/// let mut storage = [0u8; 2];
/// let encoded = ExtendedStatus::encode(&[0x0107], &mut storage).unwrap();
/// assert_eq!(encoded.as_bytes(), &[0x07, 0x01]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExtendedStatus<'a> {
    bytes: &'a [u8],
}

impl<'a> ExtendedStatus<'a> {
    /// No additional status.
    pub const NONE: ExtendedStatus<'static> = ExtendedStatus { bytes: &[] };

    /// A view of the little-endian words in `bytes`, or `None` if `bytes` has an odd length
    /// or more than 255 words.
    pub const fn new(bytes: &'a [u8]) -> Option<ExtendedStatus<'a>> {
        if bytes.len() % 2 == 0 && bytes.len() <= 2 * 255 {
            Some(ExtendedStatus { bytes })
        } else {
            None
        }
    }

    /// Writes `words` little-endian into the start of `storage` and returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ExtendedStatus`] for more than 255 words;
    /// [`Error::BufferTooSmall`] if `storage` is shorter than `2 * words.len()`.
    pub fn encode(words: &[u16], storage: &'a mut [u8]) -> Result<ExtendedStatus<'a>> {
        len_u8(words.len(), Violation::ExtendedStatus)?;
        let needed = 2 * words.len();
        let out = storage
            .get_mut(..needed)
            .ok_or(Error::BufferTooSmall { needed })?;
        for (pair, word) in out.chunks_exact_mut(2).zip(words) {
            pair.copy_from_slice(&word.to_le_bytes());
        }
        Ok(ExtendedStatus { bytes: out })
    }

    /// The number of words.
    pub const fn len(&self) -> usize {
        self.bytes.len() / 2
    }

    /// Whether there is no additional status.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The first word, which is the extended status of most errors.
    pub fn first(&self) -> Option<u16> {
        self.iter().next()
    }

    /// The words in order.
    pub fn iter(&self) -> ExtendedStatusIter<'a> {
        ExtendedStatusIter {
            chunks: self.bytes.chunks_exact(2),
        }
    }

    /// The little-endian bytes, as they are on the wire.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// The iterator of [`ExtendedStatus::iter`].
#[derive(Clone, Debug)]
pub struct ExtendedStatusIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for ExtendedStatusIter<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        match *self.chunks.next()? {
            [lo, hi] => Some(u16::from_le_bytes([lo, hi])),
            _ => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for ExtendedStatusIter<'_> {}

impl FusedIterator for ExtendedStatusIter<'_> {}

/// A message router reply: the service it answers, the general and additional status, and
/// the service's reply data.
///
/// # Examples
///
/// ```
/// use ptk_enip::{ExtendedStatus, GeneralStatus, MessageResponse};
///
/// // The reply of Read Tag with a DINT of 42.
/// let bytes = [0xCC, 0x00, 0x00, 0x00, 0xC4, 0x00, 0x2A, 0x00, 0x00, 0x00];
/// let reply = MessageResponse::parse(&bytes).unwrap();
/// assert_eq!(reply.service, 0x4C);
/// assert_eq!(reply.status, GeneralStatus::SUCCESS);
/// assert_eq!(reply.data, &[0xC4, 0x00, 0x2A, 0x00, 0x00, 0x00]);
///
/// // A Forward_Open refused with "connection in use" (0x01 / 0x0100).
/// let refusal = MessageResponse {
///     service: 0x54,
///     status: GeneralStatus::CONNECTION_FAILURE,
///     extended_status: ExtendedStatus::new(&[0x00, 0x01]).unwrap(),
///     data: &[],
/// };
/// let mut buf = [0u8; 8];
/// let n = refusal.emit(&mut buf).unwrap();
/// assert_eq!(&buf[..n], &[0xD4, 0x00, 0x01, 0x01, 0x00, 0x01]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageResponse<'a> {
    /// The service answered, without the reply bit.
    pub service: u8,
    /// The general status.
    pub status: GeneralStatus,
    /// The additional status words.
    pub extended_status: ExtendedStatus<'a>,
    /// The reply data.
    pub data: &'a [u8],
}

impl<'a> MessageResponse<'a> {
    /// A successful reply to `service` with `data`.
    pub const fn success(service: u8, data: &'a [u8]) -> MessageResponse<'a> {
        MessageResponse {
            service,
            status: GeneralStatus::SUCCESS,
            extended_status: ExtendedStatus::NONE,
            data,
        }
    }

    /// An error reply to `service` with `status` and no data.
    pub const fn error(service: u8, status: GeneralStatus) -> MessageResponse<'a> {
        MessageResponse {
            service,
            status,
            extended_status: ExtendedStatus::NONE,
            data: &[],
        }
    }

    /// Parses a reply: service with the reply bit, a reserved byte, general status,
    /// additional status size and words, and data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the reply is shorter than its status;
    /// [`Violation::ReplyBit`] if the reply bit is not set; [`Violation::Padding`] if the
    /// reserved byte is not 0; [`Violation::ExtendedStatus`] if the additional status runs
    /// past the reply.
    pub fn parse(bytes: &'a [u8]) -> Result<MessageResponse<'a>> {
        let mut r = Reader::new(bytes);
        let service = r.u8()?;
        if service & REPLY == 0 {
            return Err(Error::Malformed(Violation::ReplyBit));
        }
        r.pad()?;
        let status = GeneralStatus(r.u8()?);
        let words = r.u8()?;
        let extended = r
            .bytes(2 * usize::from(words))
            .map_err(|_| Error::Malformed(Violation::ExtendedStatus))?;
        Ok(MessageResponse {
            service: service & !REPLY,
            status,
            extended_status: ExtendedStatus { bytes: extended },
            data: r.rest(),
        })
    }

    /// The length of a reply's header with `extended_status`: where its data starts.
    pub const fn header_len(extended_status: &ExtendedStatus<'_>) -> usize {
        4 + extended_status.bytes.len()
    }

    /// The length of the reply [`emit`](MessageResponse::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        MessageResponse::header_len(&self.extended_status) + self.data.len()
    }

    /// Writes the reply's service, status and additional status into the start of `buf` and
    /// returns their length, where the caller writes the reply data.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ReplyBit`] if `service` has the reply bit set
    /// already; [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit_header(
        service: u8,
        status: GeneralStatus,
        extended_status: &ExtendedStatus<'_>,
        buf: &mut [u8],
    ) -> Result<usize> {
        if service & REPLY != 0 {
            return Err(Error::Invalid(Violation::ReplyBit));
        }
        let mut w = Writer::new(buf, MessageResponse::header_len(extended_status))?;
        w.u8(service | REPLY)
            .u8(0)
            .u8(status.0)
            .u8(extended_status.len() as u8)
            .bytes(extended_status.bytes);
        Ok(w.finish())
    }

    /// Writes the whole reply into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// As [`emit_header`](MessageResponse::emit_header), with the data counted.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if buf.len() < len {
            return Err(Error::BufferTooSmall { needed: len });
        }
        let at =
            MessageResponse::emit_header(self.service, self.status, &self.extended_status, buf)?;
        let mut w = Writer::new(&mut buf[at..], self.data.len())?;
        w.bytes(self.data);
        Ok(at + w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_are_told_apart() {
        assert_eq!(
            MessageRequest::parse(&[0xCC, 0x00]),
            Err(Error::Malformed(Violation::ReplyBit))
        );
        assert_eq!(
            MessageResponse::parse(&[0x4C, 0x00, 0x00, 0x00]),
            Err(Error::Malformed(Violation::ReplyBit))
        );
        let mut buf = [0u8; 8];
        assert_eq!(
            MessageRequest::emit_header(0x8E, &Epath::EMPTY, &mut buf),
            Err(Error::Invalid(Violation::ReplyBit))
        );
    }

    #[test]
    fn replies_check_their_status_sizes() {
        assert_eq!(
            MessageResponse::parse(&[0xCC, 0x00, 0x00]),
            Err(Error::Malformed(Violation::Truncated))
        );
        assert_eq!(
            MessageResponse::parse(&[0xCC, 0x01, 0x00, 0x00]),
            Err(Error::Malformed(Violation::Padding))
        );
        assert_eq!(
            MessageResponse::parse(&[0xD4, 0x00, 0x01, 0x02, 0x00, 0x01, 0x09]),
            Err(Error::Malformed(Violation::ExtendedStatus))
        );
        let reply = MessageResponse::parse(&[0xD4, 0x00, 0x01, 0x01, 0x00, 0x01, 0xAA]).unwrap();
        assert_eq!(reply.extended_status.first(), Some(0x0100));
        assert_eq!(reply.data, &[0xAA]);
    }

    #[test]
    fn extended_status_views_check_their_length() {
        assert_eq!(ExtendedStatus::new(&[1]), None);
        let words = [0u16; 256];
        let mut storage = [0u8; 512];
        assert_eq!(
            ExtendedStatus::encode(&words, &mut storage),
            Err(Error::Invalid(Violation::ExtendedStatus))
        );
    }
}
