//! The encapsulation packet: a checked zero-copy view and the parsed header, with the
//! command and status codes.

use core::fmt;

use crate::error::{Error, Result, Violation};
use crate::limits::{ENCAP_HEADER_LEN, MAX_ENCAP_DATA_LEN, SENDER_CONTEXT_LEN};
use crate::wire::{len_u16, Writer};

mod field {
    use core::ops::Range;

    pub(super) const COMMAND: Range<usize> = 0..2;
    pub(super) const LENGTH: Range<usize> = 2..4;
    pub(super) const SESSION: Range<usize> = 4..8;
    pub(super) const STATUS: Range<usize> = 8..12;
    pub(super) const CONTEXT: Range<usize> = 12..20;
    pub(super) const OPTIONS: Range<usize> = 20..24;
}

/// An encapsulation command code. Unknown codes are kept, so a server can answer them with
/// [`EncapStatus::INVALID_COMMAND`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Command(pub u16);

impl Command {
    /// 0x0000: no operation, no reply (used as a keep-alive over TCP).
    pub const NOP: Command = Command(0x0000);
    /// 0x0004: which encapsulation services the target offers.
    pub const LIST_SERVICES: Command = Command(0x0004);
    /// 0x0063: the target's identity (also sent as a UDP broadcast).
    pub const LIST_IDENTITY: Command = Command(0x0063);
    /// 0x0064: the target's non-CIP interfaces.
    pub const LIST_INTERFACES: Command = Command(0x0064);
    /// 0x0065: open a session; the reply carries the session handle.
    pub const REGISTER_SESSION: Command = Command(0x0065);
    /// 0x0066: close the session, no reply.
    pub const UNREGISTER_SESSION: Command = Command(0x0066);
    /// 0x006F: an unconnected (request/reply) CIP message.
    pub const SEND_RR_DATA: Command = Command(0x006F);
    /// 0x0070: a connected (class 3) CIP message.
    pub const SEND_UNIT_DATA: Command = Command(0x0070);

    /// The command's code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the codec implements the command.
    pub const fn is_known(self) -> bool {
        matches!(
            self.0,
            0x0000 | 0x0004 | 0x0063 | 0x0064 | 0x0065 | 0x0066 | 0x006F | 0x0070
        )
    }

    /// The command's name in the specification, or `None` for an unknown code.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0000 => "NOP",
            0x0004 => "ListServices",
            0x0063 => "ListIdentity",
            0x0064 => "ListInterfaces",
            0x0065 => "RegisterSession",
            0x0066 => "UnRegisterSession",
            0x006F => "SendRRData",
            0x0070 => "SendUnitData",
            _ => return None,
        })
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "Command({:#06x})", self.0),
        }
    }
}

/// The status word of the encapsulation header: 0 in requests, the outcome in replies.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncapStatus(pub u32);

impl EncapStatus {
    /// 0x0000: success.
    pub const SUCCESS: EncapStatus = EncapStatus(0x0000);
    /// 0x0001: the command is invalid or not supported.
    pub const INVALID_COMMAND: EncapStatus = EncapStatus(0x0001);
    /// 0x0002: the receiver has no memory to handle the command.
    pub const INSUFFICIENT_MEMORY: EncapStatus = EncapStatus(0x0002);
    /// 0x0003: the data of the command is malformed.
    pub const INCORRECT_DATA: EncapStatus = EncapStatus(0x0003);
    /// 0x0064: the session handle is not one the receiver registered.
    pub const INVALID_SESSION: EncapStatus = EncapStatus(0x0064);
    /// 0x0065: the length field is wrong for the command.
    pub const INVALID_LENGTH: EncapStatus = EncapStatus(0x0065);
    /// 0x0069: the protocol version of RegisterSession is not supported.
    pub const UNSUPPORTED_PROTOCOL: EncapStatus = EncapStatus(0x0069);

    /// The status code.
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// Whether the status is success.
    pub const fn is_success(self) -> bool {
        self.0 == 0
    }

    /// What the status means, or `None` for a code the specification does not define.
    pub const fn description(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0000 => "success",
            0x0001 => "invalid or unsupported command",
            0x0002 => "insufficient memory",
            0x0003 => "incorrect data",
            0x0064 => "invalid session handle",
            0x0065 => "invalid length",
            0x0069 => "unsupported protocol revision",
            _ => return None,
        })
    }
}

impl fmt::Debug for EncapStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncapStatus({:#06x})", self.0)
    }
}

impl fmt::Display for EncapStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(text) => write!(f, "{text} ({:#06x})", self.0),
            None => write!(f, "unknown encapsulation status ({:#06x})", self.0),
        }
    }
}

/// A zero-copy view of one encapsulation packet: the 24-byte header and the data it frames.
///
/// [`new_checked`](Packet::new_checked) validates the length field and that the whole packet
/// is in the buffer; after it succeeds **no accessor panics**. The buffer may hold more bytes
/// than the packet (the start of the next one on a stream): [`data`](Packet::data) and
/// [`packet_len`](Packet::packet_len) stop at the end of this packet.
///
/// [`new_unchecked`](Packet::new_unchecked) skips the checks, for writing a header into a
/// buffer the caller sized; its accessors panic if the buffer is shorter than the header.
///
/// # Examples
///
/// Splitting packets off a stream buffer:
///
/// ```
/// use ptk_enip::{Command, Error, Packet};
///
/// // A RegisterSession request, then the first 10 bytes of the next packet.
/// let mut stream = [0u8; 38];
/// stream[..6].copy_from_slice(&[0x65, 0x00, 0x04, 0x00, 0x00, 0x00]);
/// stream[24..28].copy_from_slice(&[0x01, 0x00, 0x00, 0x00]);
/// let packet = Packet::new_checked(&stream[..]).unwrap();
/// assert_eq!(packet.command(), Command::REGISTER_SESSION);
/// assert_eq!(packet.data(), &[0x01, 0x00, 0x00, 0x00]);
/// assert_eq!(packet.packet_len(), 28);
///
/// let rest = &stream[packet.packet_len()..];
/// assert_eq!(Packet::new_checked(rest).unwrap_err(), Error::Incomplete { needed: 24 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without any check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Packet::check_len) found a whole packet at its
    /// start.
    ///
    /// # Errors
    ///
    /// As [`check_len`](Packet::check_len), plus [`Error::Incomplete`] with the packet's
    /// length if the buffer holds only part of the packet.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let needed = Packet::check_len(buffer.as_ref())?;
        if buffer.as_ref().len() < needed {
            return Err(Error::Incomplete { needed });
        }
        Ok(Packet { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The command.
    pub fn command(&self) -> Command {
        Command(self.read_u16(field::COMMAND.start))
    }

    /// The length field: the bytes of data after the header.
    pub fn length(&self) -> u16 {
        self.read_u16(field::LENGTH.start)
    }

    /// The session handle: 0 before RegisterSession, then the one its reply gave.
    pub fn session_handle(&self) -> u32 {
        self.read_u32(field::SESSION.start)
    }

    /// The status: 0 in requests, the outcome in replies.
    pub fn status(&self) -> EncapStatus {
        EncapStatus(self.read_u32(field::STATUS.start))
    }

    /// The sender context: 8 bytes the sender chooses and the receiver echoes.
    pub fn sender_context(&self) -> [u8; SENDER_CONTEXT_LEN] {
        let mut context = [0u8; SENDER_CONTEXT_LEN];
        context.copy_from_slice(&self.buffer.as_ref()[field::CONTEXT]);
        context
    }

    /// The options word (0; a receiver discards packets where it is not).
    pub fn options(&self) -> u32 {
        self.read_u32(field::OPTIONS.start)
    }

    /// The length of the whole packet, header included, which may be less than the buffer's.
    pub fn packet_len(&self) -> usize {
        ENCAP_HEADER_LEN + usize::from(self.length())
    }

    /// The command-specific data, up to the end of this packet.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[ENCAP_HEADER_LEN..self.packet_len()]
    }

    fn read_u16(&self, at: usize) -> u16 {
        let buf = self.buffer.as_ref();
        u16::from_le_bytes([buf[at], buf[at + 1]])
    }

    fn read_u32(&self, at: usize) -> u32 {
        let buf = self.buffer.as_ref();
        u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The data, borrowed for as long as the buffer rather than the view.
    pub fn into_data(self) -> &'a [u8] {
        let end = self.packet_len();
        &self.buffer[ENCAP_HEADER_LEN..end]
    }
}

impl Packet<&[u8]> {
    /// The length of the packet at the start of `buf`, header included, as soon as its
    /// header is in: this is how a stream reader knows how many bytes to wait for.
    ///
    /// # Errors
    ///
    /// * [`Error::Incomplete`] with `needed` = 24 while `buf` holds less than the header;
    /// * [`Error::Malformed`] with [`Violation::LengthTooLong`] if the length field is above
    ///   [`MAX_ENCAP_DATA_LEN`]. The stream cannot be trusted after this: close the
    ///   connection.
    pub fn check_len(buf: &[u8]) -> Result<usize> {
        let Some(&[l0, l1]) = buf.get(field::LENGTH) else {
            return Err(Error::Incomplete {
                needed: ENCAP_HEADER_LEN,
            });
        };
        if buf.len() < ENCAP_HEADER_LEN {
            return Err(Error::Incomplete {
                needed: ENCAP_HEADER_LEN,
            });
        }
        let length = usize::from(u16::from_le_bytes([l0, l1]));
        if length > MAX_ENCAP_DATA_LEN {
            return Err(Error::Malformed(Violation::LengthTooLong));
        }
        Ok(ENCAP_HEADER_LEN + length)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the command.
    pub fn set_command(&mut self, value: Command) {
        self.buffer.as_mut()[field::COMMAND].copy_from_slice(&value.0.to_le_bytes());
    }

    /// Sets the length field; [`data`](Packet::data) follows it.
    pub fn set_length(&mut self, value: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&value.to_le_bytes());
    }

    /// Sets the session handle.
    pub fn set_session_handle(&mut self, value: u32) {
        self.buffer.as_mut()[field::SESSION].copy_from_slice(&value.to_le_bytes());
    }

    /// Sets the status.
    pub fn set_status(&mut self, value: EncapStatus) {
        self.buffer.as_mut()[field::STATUS].copy_from_slice(&value.0.to_le_bytes());
    }

    /// Sets the sender context.
    pub fn set_sender_context(&mut self, value: [u8; SENDER_CONTEXT_LEN]) {
        self.buffer.as_mut()[field::CONTEXT].copy_from_slice(&value);
    }

    /// Sets the options word.
    pub fn set_options(&mut self, value: u32) {
        self.buffer.as_mut()[field::OPTIONS].copy_from_slice(&value.to_le_bytes());
    }

    /// The data, mutably, up to the end of this packet as the length field says.
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = self.packet_len();
        &mut self.buffer.as_mut()[ENCAP_HEADER_LEN..end]
    }
}

/// The parsed encapsulation header: everything but the length, which follows from the data.
///
/// # Examples
///
/// A reply header echoes the request's command, session and sender context:
///
/// ```
/// use ptk_enip::{Command, EncapStatus, Header, Packet};
///
/// let request = Header {
///     command: Command::LIST_IDENTITY,
///     session_handle: 0,
///     status: EncapStatus::SUCCESS,
///     sender_context: *b"ptk\0\0\0\0\0",
///     options: 0,
/// };
/// let mut buf = [0u8; 24];
/// assert_eq!(request.emit(&mut buf, 0), Ok(24));
/// assert_eq!(&buf[..4], &[0x63, 0x00, 0x00, 0x00]);
///
/// let packet = Packet::new_checked(&buf[..]).unwrap();
/// let reply = Header::parse(&packet).reply(EncapStatus::SUCCESS);
/// assert_eq!(reply.sender_context, *b"ptk\0\0\0\0\0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The command.
    pub command: Command,
    /// The session handle (0 before RegisterSession).
    pub session_handle: u32,
    /// The status (success in requests).
    pub status: EncapStatus,
    /// The sender context, echoed by the receiver.
    pub sender_context: [u8; SENDER_CONTEXT_LEN],
    /// The options word (0).
    pub options: u32,
}

impl Header {
    /// The header of a request with `command` in session `session_handle`, with a zero sender
    /// context.
    pub const fn request(command: Command, session_handle: u32) -> Header {
        Header {
            command,
            session_handle,
            status: EncapStatus::SUCCESS,
            sender_context: [0; SENDER_CONTEXT_LEN],
            options: 0,
        }
    }

    /// The header of the reply to this request: the same command, session, sender context
    /// and options, with `status`.
    pub const fn reply(&self, status: EncapStatus) -> Header {
        Header { status, ..*self }
    }

    /// Reads the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Header {
        Header {
            command: packet.command(),
            session_handle: packet.session_handle(),
            status: packet.status(),
            sender_context: packet.sender_context(),
            options: packet.options(),
        }
    }

    /// Writes the header, with a length field of `data_len`, into the start of `buf` and
    /// returns its length (24).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::LengthTooLong`] if `data_len` is above
    /// [`MAX_ENCAP_DATA_LEN`]; [`Error::BufferTooSmall`] if `buf` is shorter than the header.
    pub fn emit(&self, buf: &mut [u8], data_len: usize) -> Result<usize> {
        if data_len > MAX_ENCAP_DATA_LEN {
            return Err(Error::Invalid(Violation::LengthTooLong));
        }
        let mut w = Writer::new(buf, ENCAP_HEADER_LEN)?;
        w.u16(self.command.0)
            .u16(len_u16(data_len, Violation::LengthTooLong)?)
            .u32(self.session_handle)
            .u32(self.status.0)
            .bytes(&self.sender_context)
            .u32(self.options);
        Ok(w.finish())
    }

    /// Writes a whole packet: this header, then the `data_len` bytes `emit_data` writes into
    /// the slice it is given (which starts after the header). Returns the packet's length.
    ///
    /// # Errors
    ///
    /// As [`emit`](Header::emit), with [`Error::BufferTooSmall`] counting the data too; and
    /// whatever `emit_data` returns. Nothing is written when the buffer is too small.
    pub fn emit_packet(
        &self,
        buf: &mut [u8],
        data_len: usize,
        emit_data: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        let needed = ENCAP_HEADER_LEN + data_len;
        if buf.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let (head, rest) = buf.split_at_mut(ENCAP_HEADER_LEN);
        self.emit(head, data_len)?;
        let written = emit_data(&mut rest[..data_len])?;
        debug_assert_eq!(written, data_len, "data_len and the emitter disagree");
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_len_waits_for_the_whole_header() {
        assert_eq!(
            Packet::check_len(&[0x65, 0x00, 0x04]),
            Err(Error::Incomplete { needed: 24 })
        );
        let mut header = [0u8; 24];
        header[2..4].copy_from_slice(&4u16.to_le_bytes());
        assert_eq!(
            Packet::check_len(&header[..23]),
            Err(Error::Incomplete { needed: 24 })
        );
        assert_eq!(Packet::check_len(&header), Ok(28));
        assert_eq!(
            Packet::new_checked(&header[..]),
            Err(Error::Incomplete { needed: 28 })
        );
        header[2..4].copy_from_slice(&0xFFE8u16.to_le_bytes());
        assert_eq!(
            Packet::check_len(&header),
            Err(Error::Malformed(Violation::LengthTooLong))
        );
    }

    #[test]
    fn setters_write_what_accessors_read() {
        let mut buf = [0u8; 30];
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        packet.set_command(Command::SEND_RR_DATA);
        packet.set_length(6);
        packet.set_session_handle(0x1234_5678);
        packet.set_status(EncapStatus::INVALID_SESSION);
        packet.set_sender_context(*b"abcdefgh");
        packet.set_options(0);
        packet.data_mut().copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        let packet = Packet::new_checked(&buf[..]).unwrap();
        let header = Header::parse(&packet);
        assert_eq!(header.command, Command::SEND_RR_DATA);
        assert_eq!(header.session_handle, 0x1234_5678);
        assert_eq!(header.status, EncapStatus::INVALID_SESSION);
        assert_eq!(&header.sender_context, b"abcdefgh");
        assert_eq!(packet.data(), &[1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn codes_have_names() {
        assert_eq!(
            std::format!("{:?}", Command::SEND_UNIT_DATA),
            "SendUnitData"
        );
        assert_eq!(std::format!("{:?}", Command(0x99)), "Command(0x0099)");
        assert!(!Command(0x72).is_known());
        assert_eq!(
            std::format!("{}", EncapStatus::INVALID_SESSION),
            "invalid session handle (0x0064)"
        );
        assert!(EncapStatus::SUCCESS.is_success());
    }

    #[test]
    fn emit_packet_checks_the_whole_length_first() {
        let header = Header::request(Command::NOP, 0);
        let mut buf = [0xAAu8; 27];
        assert_eq!(
            header.emit_packet(&mut buf, 4, |_| Ok(4)),
            Err(Error::BufferTooSmall { needed: 28 })
        );
        assert_eq!(buf, [0xAA; 27]);
        let n = header
            .emit_packet(&mut buf, 3, |data| {
                data.copy_from_slice(&[7, 8, 9]);
                Ok(3)
            })
            .unwrap();
        assert_eq!(n, 27);
        assert_eq!(&buf[2..4], &[3, 0]);
        assert_eq!(&buf[24..], &[7, 8, 9]);
    }
}
