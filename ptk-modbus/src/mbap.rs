//! The MBAP header and the Modbus/TCP frame (ADU): a checked zero-copy view and its
//! representation.

use crate::error::{Error, Result, Violation};
use crate::limits::{
    MAX_MBAP_LENGTH, MAX_PDU_LEN, MBAP_HEADER_LEN, MIN_FRAME_LEN, MIN_MBAP_LENGTH,
};
use crate::wire::be16;

mod field {
    use core::ops::{Range, RangeFrom};

    pub(super) const TRANSACTION_ID: Range<usize> = 0..2;
    pub(super) const PROTOCOL_ID: Range<usize> = 2..4;
    pub(super) const LENGTH: Range<usize> = 4..6;
    pub(super) const UNIT_ID: usize = 6;
    pub(super) const PDU: RangeFrom<usize> = 7..;
}

/// A zero-copy view of one Modbus/TCP frame: the MBAP header and the PDU it frames.
///
/// [`new_checked`](Frame::new_checked) validates the header and that the whole frame is in the
/// buffer; after it succeeds **no accessor panics**. The buffer may hold more bytes than the
/// frame (the start of the next frame on a stream): [`pdu`](Frame::pdu) and
/// [`frame_len`](Frame::frame_len) stop at the end of this frame.
///
/// [`new_unchecked`](Frame::new_unchecked) skips the checks, for writing a header into a
/// buffer the caller sized; its accessors panic if the buffer is shorter than the header.
///
/// # Examples
///
/// Splitting frames off a stream buffer:
///
/// ```
/// use ptk_modbus::{Error, Frame};
///
/// // One complete read holding registers request and the first 3 bytes of the next.
/// let stream = [
///     0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, //
///     0x00, 0x02, 0x00,
/// ];
/// let frame = Frame::new_checked(&stream[..]).unwrap();
/// assert_eq!(frame.transaction_id(), 1);
/// assert_eq!(frame.unit_id(), 0x11);
/// assert_eq!(frame.pdu(), &[0x03, 0x00, 0x6B, 0x00, 0x03]);
/// assert_eq!(frame.frame_len(), 12);
///
/// let rest = &stream[frame.frame_len()..];
/// assert_eq!(Frame::new_checked(rest).unwrap_err(), Error::Incomplete { needed: 8 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without any check.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Frame::check_len) found a whole, well-formed frame at
    /// its start.
    ///
    /// # Errors
    ///
    /// As [`check_len`](Frame::check_len), plus [`Error::Incomplete`] with the frame's length
    /// if the buffer holds only part of the frame.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let needed = Frame::check_len(buffer.as_ref())?;
        if buffer.as_ref().len() < needed {
            return Err(Error::Incomplete { needed });
        }
        Ok(Frame { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The transaction identifier: the client picks it, the server echoes it.
    pub fn transaction_id(&self) -> u16 {
        self.read_u16(field::TRANSACTION_ID.start)
    }

    /// The protocol identifier, 0 for Modbus (guaranteed by [`new_checked`](Frame::new_checked)).
    pub fn protocol_id(&self) -> u16 {
        self.read_u16(field::PROTOCOL_ID.start)
    }

    /// The MBAP length field: the unit id plus the PDU, in bytes.
    pub fn length(&self) -> u16 {
        self.read_u16(field::LENGTH.start)
    }

    /// The unit identifier, which addresses a device behind a gateway (0xFF when unused).
    pub fn unit_id(&self) -> u8 {
        self.buffer.as_ref()[field::UNIT_ID]
    }

    /// The length of the whole frame, header included, which may be less than the buffer's.
    pub fn frame_len(&self) -> usize {
        field::UNIT_ID + usize::from(self.length())
    }

    /// The PDU: function code and data, up to the end of this frame.
    pub fn pdu(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PDU.start..self.frame_len()]
    }

    fn read_u16(&self, at: usize) -> u16 {
        let buf = self.buffer.as_ref();
        be16(buf[at], buf[at + 1])
    }
}

impl Frame<&[u8]> {
    /// The length of the frame at the start of `buf`, header included, as soon as its header
    /// says so: this is how a stream reader knows how many bytes to wait for. The rest of the
    /// frame need not be in `buf` yet.
    ///
    /// # Errors
    ///
    /// * [`Error::Incomplete`] with `needed` = [`MIN_FRAME_LEN`] while `buf` is too short to
    ///   hold the length field (6 bytes);
    /// * [`Error::Malformed`] with [`Violation::ProtocolId`] if the protocol identifier is not
    ///   0 (checked as soon as its 4 bytes are present), [`Violation::LengthTooShort`] or
    ///   [`Violation::LengthTooLong`] if the length field is outside 2..=254. The stream cannot
    ///   be resynchronised after these: close the connection.
    pub fn check_len(buf: &[u8]) -> Result<usize> {
        if let [_, _, p0, p1, ..] = *buf {
            if be16(p0, p1) != 0 {
                return Err(Error::Malformed(Violation::ProtocolId));
            }
        }
        let [_, _, _, _, l0, l1, ..] = *buf else {
            return Err(Error::Incomplete {
                needed: MIN_FRAME_LEN,
            });
        };
        match be16(l0, l1) {
            length if length < MIN_MBAP_LENGTH => Err(Error::Malformed(Violation::LengthTooShort)),
            length if length > MAX_MBAP_LENGTH => Err(Error::Malformed(Violation::LengthTooLong)),
            length => Ok(field::UNIT_ID + usize::from(length)),
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the transaction identifier.
    pub fn set_transaction_id(&mut self, value: u16) {
        self.buffer.as_mut()[field::TRANSACTION_ID].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the protocol identifier (0 is Modbus; anything else makes the frame malformed).
    pub fn set_protocol_id(&mut self, value: u16) {
        self.buffer.as_mut()[field::PROTOCOL_ID].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the length field; [`pdu_mut`](Frame::pdu_mut) and [`pdu`](Frame::pdu) follow it.
    pub fn set_length(&mut self, value: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the unit identifier.
    pub fn set_unit_id(&mut self, value: u8) {
        self.buffer.as_mut()[field::UNIT_ID] = value;
    }

    /// The PDU, mutably, up to the end of this frame as the length field says.
    pub fn pdu_mut(&mut self) -> &mut [u8] {
        let end = self.frame_len();
        &mut self.buffer.as_mut()[field::PDU.start..end]
    }
}

/// The parsed MBAP header: what varies from frame to frame. The protocol identifier is always
/// 0 and the length field follows from the PDU, so neither is part of the representation.
///
/// # Examples
///
/// ```
/// use ptk_modbus::{Frame, Header};
///
/// let header = Header { transaction_id: 0x1501, unit_id: 0xFF };
/// let mut buf = [0u8; 7];
/// assert_eq!(header.emit(&mut buf, 5), Ok(7));
/// assert_eq!(buf, [0x15, 0x01, 0x00, 0x00, 0x00, 0x06, 0xFF]);
///
/// let frame = Frame::new_unchecked(&buf[..]);
/// assert_eq!(Header::parse(&frame), header);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// The transaction identifier: the client picks it, the server echoes it.
    pub transaction_id: u16,
    /// The unit identifier (0xFF when no gateway routes by it).
    pub unit_id: u8,
}

impl Header {
    /// The header of a frame.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Header {
        Header {
            transaction_id: frame.transaction_id(),
            unit_id: frame.unit_id(),
        }
    }

    /// Writes the 7-byte header of a frame carrying a PDU of `pdu_len` bytes into the start
    /// of `buf` and returns 7.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::EmptyPdu`] or [`Violation::LengthTooLong`] unless
    /// `pdu_len` is in 1..=253; [`Error::BufferTooSmall`] if `buf` is shorter than 7 bytes.
    pub fn emit(&self, buf: &mut [u8], pdu_len: usize) -> Result<usize> {
        let length = match pdu_len {
            0 => return Err(Error::Invalid(Violation::EmptyPdu)),
            // Cannot truncate: at most 254.
            1..=MAX_PDU_LEN => (pdu_len + 1) as u16,
            _ => return Err(Error::Invalid(Violation::LengthTooLong)),
        };
        let header = buf
            .get_mut(..MBAP_HEADER_LEN)
            .ok_or(Error::BufferTooSmall {
                needed: MBAP_HEADER_LEN + pdu_len,
            })?;
        let mut frame = Frame::new_unchecked(header);
        frame.set_transaction_id(self.transaction_id);
        frame.set_protocol_id(0);
        frame.set_length(length);
        frame.set_unit_id(self.unit_id);
        Ok(MBAP_HEADER_LEN)
    }

    /// Writes a whole frame: this header, then the PDU `emit_pdu` writes (it gets the buffer
    /// after the header and returns the PDU's length, as `Request::emit` does). Returns the
    /// frame's length.
    pub(crate) fn emit_frame(
        &self,
        buf: &mut [u8],
        pdu_len: usize,
        emit_pdu: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        let needed = MBAP_HEADER_LEN + pdu_len;
        if buf.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let (header, pdu) = buf.split_at_mut(MBAP_HEADER_LEN);
        let written = emit_pdu(pdu)?;
        self.emit(header, written)?;
        Ok(MBAP_HEADER_LEN + written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 12] = [
        0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03,
    ];

    #[test]
    fn a_complete_frame_exposes_its_fields() {
        let frame = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(frame.transaction_id(), 1);
        assert_eq!(frame.protocol_id(), 0);
        assert_eq!(frame.length(), 6);
        assert_eq!(frame.unit_id(), 0x11);
        assert_eq!(frame.frame_len(), 12);
        assert_eq!(frame.pdu(), &FRAME[7..]);
        assert_eq!(
            Header::parse(&frame),
            Header {
                transaction_id: 1,
                unit_id: 0x11
            }
        );
    }

    #[test]
    fn every_proper_prefix_is_incomplete_with_the_right_need() {
        for cut in 0..FRAME.len() {
            let needed = if cut < 6 { MIN_FRAME_LEN } else { 12 };
            assert_eq!(
                Frame::new_checked(&FRAME[..cut]),
                Err(Error::Incomplete { needed }),
                "{cut}"
            );
        }
    }

    #[test]
    fn a_nonzero_protocol_id_is_malformed_as_soon_as_it_is_seen() {
        let bad = [0x00, 0x01, 0x00, 0x01];
        assert_eq!(
            Frame::check_len(&bad),
            Err(Error::Malformed(Violation::ProtocolId))
        );
        assert_eq!(
            Frame::check_len(&bad[..3]),
            Err(Error::Incomplete {
                needed: MIN_FRAME_LEN
            })
        );
    }

    #[test]
    fn length_field_limits_are_2_and_254() {
        let with_length = |length: u16| {
            let [hi, lo] = length.to_be_bytes();
            Frame::check_len(&[0, 0, 0, 0, hi, lo])
        };
        assert_eq!(
            with_length(0),
            Err(Error::Malformed(Violation::LengthTooShort))
        );
        assert_eq!(
            with_length(1),
            Err(Error::Malformed(Violation::LengthTooShort))
        );
        assert_eq!(with_length(2), Ok(8));
        assert_eq!(with_length(254), Ok(260));
        assert_eq!(
            with_length(255),
            Err(Error::Malformed(Violation::LengthTooLong))
        );
        assert_eq!(
            with_length(0xFFFF),
            Err(Error::Malformed(Violation::LengthTooLong))
        );
    }

    #[test]
    fn trailing_bytes_belong_to_the_next_frame() {
        let mut stream = [0u8; 20];
        stream[..12].copy_from_slice(&FRAME);
        stream[12..].fill(0xEE);
        let frame = Frame::new_checked(&stream[..]).unwrap();
        assert_eq!(frame.pdu(), &FRAME[7..]);
        assert_eq!(frame.frame_len(), 12);
    }

    #[test]
    fn header_emit_checks_pdu_length_and_buffer() {
        let header = Header {
            transaction_id: 7,
            unit_id: 1,
        };
        let mut buf = [0u8; 7];
        assert_eq!(
            header.emit(&mut buf, 0),
            Err(Error::Invalid(Violation::EmptyPdu))
        );
        assert_eq!(
            header.emit(&mut buf, 254),
            Err(Error::Invalid(Violation::LengthTooLong))
        );
        assert_eq!(header.emit(&mut buf, 253), Ok(7));
        assert_eq!(buf, [0x00, 0x07, 0x00, 0x00, 0x00, 0xFE, 0x01]);
        assert_eq!(
            header.emit(&mut buf[..6], 1),
            Err(Error::BufferTooSmall { needed: 8 })
        );
    }
}
