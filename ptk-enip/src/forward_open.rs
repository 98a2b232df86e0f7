//! Forward_Open (0x54) and Large_Forward_Open (0x5B) to the Connection Manager: the request
//! that opens a connection, and its success reply.

use crate::error::{Error, Result, Violation};
use crate::wire::{Reader, Writer};
use crate::{ConnectionTriad, Epath, NetworkParameters};

/// The request data of a Forward_Open or, with [`large`](ForwardOpen::large) set, a
/// Large_Forward_Open (whose network connection parameters are 32 bits wide, for connection
/// sizes above 511 bytes).
///
/// # Examples
///
/// ```
/// use ptk_enip::{ConnectionTriad, Epath, ForwardOpen, NetworkParameters};
///
/// let open = ForwardOpen {
///     large: true,
///     priority_tick: 0x0A,
///     timeout_ticks: 0x05,
///     o_t_connection_id: 0,
///     t_o_connection_id: 0x2000_0001,
///     triad: ConnectionTriad { connection_serial: 1, vendor_id: 0x1337, originator_serial: 42 },
///     timeout_multiplier: 7,
///     o_t_rpi: 2_000_000,
///     o_t_parameters: NetworkParameters::explicit(4000),
///     t_o_rpi: 2_000_000,
///     t_o_parameters: NetworkParameters::explicit(4000),
///     transport: 0xA3,
///     // Backplane slot 0, then the Message Router.
///     connection_path: Epath::new_checked(&[0x01, 0x00, 0x20, 0x02, 0x24, 0x01]).unwrap(),
/// };
/// let mut buf = [0u8; 64];
/// let n = open.emit(&mut buf).unwrap();
/// assert_eq!(n, open.buffer_len());
/// assert_eq!(ForwardOpen::parse(&buf[..n], true), Ok(open));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForwardOpen<'a> {
    /// Whether this is a Large_Forward_Open (0x5B).
    pub large: bool,
    /// Bit 4: priority; bits 0 to 3: the tick time, 2^n milliseconds.
    pub priority_tick: u8,
    /// The timeout in ticks of the open itself.
    pub timeout_ticks: u8,
    /// The O->T connection id: 0 in a request, the target picks it.
    pub o_t_connection_id: u32,
    /// The T->O connection id the originator picked.
    pub t_o_connection_id: u32,
    /// The connection triad.
    pub triad: ConnectionTriad,
    /// The connection timeout multiplier: the connection times out after `4 << multiplier`
    /// RPIs without traffic.
    pub timeout_multiplier: u8,
    /// The O->T requested packet interval, in microseconds.
    pub o_t_rpi: u32,
    /// The O->T network connection parameters.
    pub o_t_parameters: NetworkParameters,
    /// The T->O requested packet interval, in microseconds.
    pub t_o_rpi: u32,
    /// The T->O network connection parameters.
    pub t_o_parameters: NetworkParameters,
    /// The transport type and trigger: 0xA3 for a class 3 server connection with
    /// application trigger.
    pub transport: u8,
    /// The connection path: the route and the target object (the Message Router, `20 02 24
    /// 01`, for explicit messaging).
    pub connection_path: Epath<'a>,
}

impl<'a> ForwardOpen<'a> {
    /// Parses the request data of a Forward_Open, or of a Large_Forward_Open if `large`.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if a field is cut short; [`Violation::Padding`] if the
    /// reserved bytes are not 0; [`Violation::ConnectionParameters`] as
    /// [`NetworkParameters::from_u16`]; [`Violation::PathSize`] if the connection path does
    /// not fill the rest of the data; the errors of [`Epath::new_checked`].
    pub fn parse(data: &'a [u8], large: bool) -> Result<ForwardOpen<'a>> {
        let mut r = Reader::new(data);
        let priority_tick = r.u8()?;
        let timeout_ticks = r.u8()?;
        let o_t_connection_id = r.u32()?;
        let t_o_connection_id = r.u32()?;
        let triad = ConnectionTriad::read(&mut r)?;
        let timeout_multiplier = r.u8()?;
        for _ in 0..3 {
            r.pad()?;
        }
        let parameters = |r: &mut Reader<'_>| {
            if large {
                NetworkParameters::from_u32(r.u32()?)
            } else {
                NetworkParameters::from_u16(r.u16()?)
            }
        };
        let o_t_rpi = r.u32()?;
        let o_t_parameters = parameters(&mut r)?;
        let t_o_rpi = r.u32()?;
        let t_o_parameters = parameters(&mut r)?;
        let transport = r.u8()?;
        let words = usize::from(r.u8()?);
        if r.rest().len() != 2 * words {
            return Err(Error::Malformed(Violation::PathSize));
        }
        Ok(ForwardOpen {
            large,
            priority_tick,
            timeout_ticks,
            o_t_connection_id,
            t_o_connection_id,
            triad,
            timeout_multiplier,
            o_t_rpi,
            o_t_parameters,
            t_o_rpi,
            t_o_parameters,
            transport,
            connection_path: Epath::new_checked(r.rest())?,
        })
    }

    /// The service code: [`FORWARD_OPEN`](crate::service::FORWARD_OPEN) or
    /// [`LARGE_FORWARD_OPEN`](crate::service::LARGE_FORWARD_OPEN).
    pub const fn service(&self) -> u8 {
        if self.large {
            crate::service::LARGE_FORWARD_OPEN
        } else {
            crate::service::FORWARD_OPEN
        }
    }

    /// The length of the request data.
    pub const fn buffer_len(&self) -> usize {
        let parameters = if self.large { 4 } else { 2 };
        32 + 2 * parameters + self.connection_path.len()
    }

    /// Writes the request data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ConnectionParameters`] if a connection size does
    /// not fit a Forward_Open (511 bytes); [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let small = if self.large {
            None
        } else {
            Some((self.o_t_parameters.to_u16()?, self.t_o_parameters.to_u16()?))
        };
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u8(self.priority_tick)
            .u8(self.timeout_ticks)
            .u32(self.o_t_connection_id)
            .u32(self.t_o_connection_id);
        self.triad.write(&mut w);
        w.u8(self.timeout_multiplier).zeros(3).u32(self.o_t_rpi);
        match small {
            Some((o_t, _)) => w.u16(o_t),
            None => w.u32(self.o_t_parameters.to_u32()),
        };
        w.u32(self.t_o_rpi);
        match small {
            Some((_, t_o)) => w.u16(t_o),
            None => w.u32(self.t_o_parameters.to_u32()),
        };
        w.u8(self.transport)
            .u8(self.connection_path.len_words())
            .bytes(self.connection_path.as_bytes());
        Ok(w.finish())
    }
}

/// The data of a successful Forward_Open or Large_Forward_Open reply.
///
/// # Examples
///
/// ```
/// use ptk_enip::{ConnectionTriad, ForwardOpenReply};
///
/// let reply = ForwardOpenReply {
///     o_t_connection_id: 0x1000_0001,
///     t_o_connection_id: 0x2000_0001,
///     triad: ConnectionTriad { connection_serial: 1, vendor_id: 0x1337, originator_serial: 42 },
///     o_t_api: 2_000_000,
///     t_o_api: 2_000_000,
///     application_reply: &[],
/// };
/// let mut buf = [0u8; 32];
/// let n = reply.emit(&mut buf).unwrap();
/// assert_eq!(n, 26);
/// assert_eq!(ForwardOpenReply::parse(&buf[..n]), Ok(reply));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForwardOpenReply<'a> {
    /// The O->T connection id the target picked: the id the originator sends with.
    pub o_t_connection_id: u32,
    /// The T->O connection id, as requested.
    pub t_o_connection_id: u32,
    /// The request's triad.
    pub triad: ConnectionTriad,
    /// The O->T actual packet interval, in microseconds.
    pub o_t_api: u32,
    /// The T->O actual packet interval, in microseconds.
    pub t_o_api: u32,
    /// The application reply, an even number of bytes up to 510.
    pub application_reply: &'a [u8],
}

impl<'a> ForwardOpenReply<'a> {
    /// Parses the reply data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if a field or the application reply is cut short;
    /// [`Violation::Padding`] if the reserved byte is not 0; [`Violation::TrailingBytes`]
    /// for bytes after the application reply.
    pub fn parse(data: &'a [u8]) -> Result<ForwardOpenReply<'a>> {
        let mut r = Reader::new(data);
        let o_t_connection_id = r.u32()?;
        let t_o_connection_id = r.u32()?;
        let triad = ConnectionTriad::read(&mut r)?;
        let o_t_api = r.u32()?;
        let t_o_api = r.u32()?;
        let words = usize::from(r.u8()?);
        r.pad()?;
        let application_reply = r.bytes(2 * words)?;
        r.finish()?;
        Ok(ForwardOpenReply {
            o_t_connection_id,
            t_o_connection_id,
            triad,
            o_t_api,
            t_o_api,
            application_reply,
        })
    }

    /// The length of the reply data.
    pub const fn buffer_len(&self) -> usize {
        26 + self.application_reply.len()
    }

    /// Writes the reply data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::Padding`] if the application reply has an odd
    /// length, or [`Violation::TrailingBytes`] if it is longer than 510 bytes;
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let words = application_words(self.application_reply)?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u32(self.o_t_connection_id).u32(self.t_o_connection_id);
        self.triad.write(&mut w);
        w.u32(self.o_t_api)
            .u32(self.t_o_api)
            .u8(words)
            .u8(0)
            .bytes(self.application_reply);
        Ok(w.finish())
    }
}

/// The size in words of an application reply.
pub(crate) fn application_words(reply: &[u8]) -> Result<u8> {
    if reply.len() % 2 == 1 {
        return Err(Error::Invalid(Violation::Padding));
    }
    u8::try_from(reply.len() / 2).map_err(|_| Error::Invalid(Violation::TrailingBytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnectionType, ForwardOpen};

    fn open(large: bool, size: u16) -> ForwardOpen<'static> {
        ForwardOpen {
            large,
            priority_tick: 0x0A,
            timeout_ticks: 0x05,
            o_t_connection_id: 0,
            t_o_connection_id: 0x1122_3344,
            triad: ConnectionTriad {
                connection_serial: 0x5566,
                vendor_id: 0x7788,
                originator_serial: 0x99AA_BBCC,
            },
            timeout_multiplier: 7,
            o_t_rpi: 0x0020_4001,
            o_t_parameters: NetworkParameters::explicit(size),
            t_o_rpi: 0x0020_4001,
            t_o_parameters: NetworkParameters::explicit(size),
            transport: 0xA3,
            connection_path: Epath::new_checked(&[0x01, 0x00, 0x20, 0x02, 0x24, 0x01]).unwrap(),
        }
    }

    #[test]
    fn a_forward_open_has_its_layout() {
        let request = open(false, 500);
        let mut buf = [0u8; 64];
        let n = request.emit(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            &[
                0x0A, 0x05, 0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x88, 0x77, 0xCC, 0xBB,
                0xAA, 0x99, 0x07, 0, 0, 0, 0x01, 0x40, 0x20, 0x00, 0xF4, 0x43, 0x01, 0x40, 0x20,
                0x00, 0xF4, 0x43, 0xA3, 0x03, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01
            ][..]
        );
        assert_eq!(ForwardOpen::parse(&buf[..n], false), Ok(request));
        assert_eq!(
            ForwardOpen::parse(&buf[..n - 1], false),
            Err(Error::Malformed(Violation::PathSize))
        );
    }

    #[test]
    fn only_a_large_forward_open_carries_large_sizes() {
        assert_eq!(
            open(false, 4000).emit(&mut [0u8; 64]),
            Err(Error::Invalid(Violation::ConnectionParameters))
        );
        let request = open(true, 4000);
        let mut buf = [0u8; 64];
        let n = request.emit(&mut buf).unwrap();
        assert_eq!(n, 46);
        assert_eq!(&buf[26..30], &[0xA0, 0x0F, 0x00, 0x42]);
        let parsed = ForwardOpen::parse(&buf[..n], true).unwrap();
        assert_eq!(parsed.o_t_parameters.connection_size, 4000);
        assert_eq!(
            parsed.t_o_parameters.connection_type,
            ConnectionType::PointToPoint
        );
    }

    #[test]
    fn application_replies_are_whole_words() {
        let reply = ForwardOpenReply {
            o_t_connection_id: 1,
            t_o_connection_id: 2,
            triad: ConnectionTriad::default(),
            o_t_api: 3,
            t_o_api: 4,
            application_reply: &[1],
        };
        assert_eq!(
            reply.emit(&mut [0u8; 32]),
            Err(Error::Invalid(Violation::Padding))
        );
        let mut bytes = [0u8; 28];
        bytes[24] = 1;
        bytes[26] = 0xAB;
        let parsed = ForwardOpenReply::parse(&bytes).unwrap();
        assert_eq!(parsed.application_reply, &[0xAB, 0x00]);
        bytes[25] = 1;
        assert_eq!(
            ForwardOpenReply::parse(&bytes),
            Err(Error::Malformed(Violation::Padding))
        );
    }
}
