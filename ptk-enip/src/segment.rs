//! The segments of a padded EPATH: port, logical (see `logical`), electronic key, ANSI
//! extended symbolic and simple data segments.

use crate::error::{Error, Result, Violation};
use crate::logical::{LogicalFormat, LogicalSegment, LogicalType};
use crate::wire::{Reader, Writer};

/// The link address of a port segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Link<'a> {
    /// A one-byte link address: a backplane slot, a DH+ or ControlNet node.
    Address(u8),
    /// An extended link address of 1 to 255 bytes: an IP address as text, such as
    /// `b"192.168.1.10"`.
    Extended(&'a [u8]),
}

/// A port segment: leave through `port` towards the node at `link`.
///
/// Port 1 is the backplane of a ControlLogix chassis and port 2 an Ethernet or ControlNet
/// port of a communication module, so `1,0` is "the controller in slot 0".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortSegment<'a> {
    /// The port, 1 to 65,535 (ports from 15 up use the extended port field).
    pub port: u16,
    /// The link address on that port.
    pub link: Link<'a>,
}

impl PortSegment<'_> {
    /// The encoded length without the pad byte.
    fn unpadded_len(&self) -> usize {
        let (extended_link, link_len) = match self.link {
            Link::Address(_) => (0, 1),
            Link::Extended(link) => (1, link.len()),
        };
        let extended_port = if self.port >= 15 { 2 } else { 0 };
        1 + extended_link + extended_port + link_len
    }
}

/// An electronic key segment (key format 4): the identity a connection's target must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ElectronicKey {
    /// The vendor id (0 matches any).
    pub vendor_id: u16,
    /// The device type (0 matches any).
    pub device_type: u16,
    /// The product code (0 matches any).
    pub product_code: u16,
    /// The major revision, 0 to 127 (0 matches any).
    pub major_revision: u8,
    /// Whether a compatible device is accepted instead of an exact match.
    pub compatibility: bool,
    /// The minor revision (0 matches any).
    pub minor_revision: u8,
}

/// One segment of a padded EPATH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Segment<'a> {
    /// A port segment (`0x01`..=`0x1F`), the hops of a route path.
    Port(PortSegment<'a>),
    /// A logical segment (`0x20`..=`0x33`).
    Logical(LogicalSegment),
    /// An electronic key segment (`0x34`, key format 4).
    ElectronicKey(ElectronicKey),
    /// An ANSI extended symbolic segment (`0x91`): a tag or member name of 1 to 255 bytes.
    Symbolic(&'a [u8]),
    /// A simple data segment (`0x80`): an even number of bytes, up to 510.
    Data(&'a [u8]),
}

const SEGMENT_TYPE: Error = Error::Malformed(Violation::SegmentType);
const PORT: Error = Error::Malformed(Violation::PortSegment);
const SYMBOLIC: u8 = 0x91;
const SIMPLE_DATA: u8 = 0x80;
const ELECTRONIC_KEY: u8 = 0x34;
const KEY_FORMAT: u8 = 4;
const EXTENDED_LINK: u8 = 0x10;
const EXTENDED_PORT: u8 = 0x0F;

impl<'a> Segment<'a> {
    /// Parses the segment at the start of `bytes` and returns it with its length (pad bytes
    /// included, so always even).
    ///
    /// # Errors
    ///
    /// * [`Violation::Truncated`] if the segment runs past `bytes`;
    /// * [`Violation::SegmentType`] for a segment type the codec does not implement (network,
    ///   symbolic `0x6X`, data types), a reserved logical type or format, a 32-bit class or
    ///   attribute id, or a key format other than 4;
    /// * [`Violation::PortSegment`] for port 0, an extended port below 15 or an empty
    ///   extended link address;
    /// * [`Violation::SymbolLength`] for an empty symbol;
    /// * [`Violation::Padding`] for a pad byte that is not zero.
    pub fn parse(bytes: &'a [u8]) -> Result<(Segment<'a>, usize)> {
        let mut r = Reader::new(bytes);
        let kind = r.u8()?;
        let segment = match kind {
            0x00..=0x1F => Segment::Port(parse_port(kind, &mut r)?),
            0x20..=0x33 => {
                let logical = LogicalType::from_bits((kind >> 2) & 0x07).ok_or(SEGMENT_TYPE)?;
                let (format, value) = match kind & 0x03 {
                    0 => (LogicalFormat::U8, u32::from(r.u8()?)),
                    1 => {
                        r.pad()?;
                        (LogicalFormat::U16, u32::from(r.u16()?))
                    }
                    2 if logical.allows_32_bit() => {
                        r.pad()?;
                        (LogicalFormat::U32, r.u32()?)
                    }
                    _ => return Err(SEGMENT_TYPE),
                };
                Segment::Logical(LogicalSegment {
                    kind: logical,
                    value,
                    format,
                })
            }
            ELECTRONIC_KEY => {
                if r.u8()? != KEY_FORMAT {
                    return Err(SEGMENT_TYPE);
                }
                let vendor_id = r.u16()?;
                let device_type = r.u16()?;
                let product_code = r.u16()?;
                let [major, minor_revision] = r.array()?;
                Segment::ElectronicKey(ElectronicKey {
                    vendor_id,
                    device_type,
                    product_code,
                    major_revision: major & 0x7F,
                    compatibility: major & 0x80 != 0,
                    minor_revision,
                })
            }
            SYMBOLIC => {
                let len = r.u8()?;
                if len == 0 {
                    return Err(Error::Malformed(Violation::SymbolLength));
                }
                let symbol = r.bytes(usize::from(len))?;
                if len % 2 == 1 {
                    r.pad()?;
                }
                Segment::Symbolic(symbol)
            }
            SIMPLE_DATA => {
                let words = r.u8()?;
                Segment::Data(r.bytes(2 * usize::from(words))?)
            }
            _ => return Err(SEGMENT_TYPE),
        };
        let len = bytes.len() - r.rest().len();
        Ok((segment, len))
    }

    /// The encoded length, pad bytes included.
    pub fn buffer_len(&self) -> usize {
        match self {
            Segment::Port(port) => {
                let len = port.unpadded_len();
                len + len % 2
            }
            Segment::Logical(logical) => logical.format.encoded_len(),
            Segment::ElectronicKey(_) => 10,
            Segment::Symbolic(symbol) => 2 + symbol.len() + symbol.len() % 2,
            Segment::Data(data) => 2 + data.len(),
        }
    }

    /// Checks that the segment can be encoded.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with the [`Violation`] [`parse`](Segment::parse) would report, or
    /// [`Violation::PathTooLong`] for a symbol over 255 bytes or data over 510 bytes.
    pub fn check(&self) -> Result<()> {
        let invalid = Error::Invalid;
        match *self {
            Segment::Port(PortSegment { port, link }) => {
                let link_ok = match link {
                    Link::Address(_) => true,
                    Link::Extended(link) => (1..=255).contains(&link.len()),
                };
                if port == 0 || !link_ok {
                    return Err(invalid(Violation::PortSegment));
                }
            }
            Segment::Logical(logical) => logical.check()?,
            Segment::ElectronicKey(key) => {
                if key.major_revision > 0x7F {
                    return Err(invalid(Violation::SegmentType));
                }
            }
            Segment::Symbolic(symbol) => {
                if symbol.is_empty() {
                    return Err(invalid(Violation::SymbolLength));
                }
                if symbol.len() > 255 {
                    return Err(invalid(Violation::PathTooLong));
                }
            }
            Segment::Data(data) => {
                if data.len() % 2 == 1 {
                    return Err(invalid(Violation::Padding));
                }
                if data.len() > 510 {
                    return Err(invalid(Violation::PathTooLong));
                }
            }
        }
        Ok(())
    }

    /// Writes the segment, pad bytes included, into the start of `buf` and returns its
    /// length.
    ///
    /// # Errors
    ///
    /// As [`check`](Segment::check); [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let len = self.buffer_len();
        let mut w = Writer::new(buf, len)?;
        match *self {
            Segment::Port(PortSegment { port, link }) => {
                let nibble = if port >= 15 {
                    EXTENDED_PORT
                } else {
                    port as u8
                };
                match link {
                    Link::Address(address) => {
                        w.u8(nibble);
                        if port >= 15 {
                            w.u16(port);
                        }
                        w.u8(address);
                    }
                    Link::Extended(link) => {
                        w.u8(EXTENDED_LINK | nibble).u8(link.len() as u8);
                        if port >= 15 {
                            w.u16(port);
                        }
                        w.bytes(link);
                    }
                }
                if (PortSegment { port, link }).unpadded_len() % 2 == 1 {
                    w.u8(0);
                }
            }
            Segment::Logical(LogicalSegment {
                kind,
                value,
                format,
            }) => {
                let head = 0x20 | kind.bits() << 2;
                match format {
                    LogicalFormat::U8 => w.u8(head).u8(value as u8),
                    LogicalFormat::U16 => w.u8(head | 1).u8(0).u16(value as u16),
                    LogicalFormat::U32 => w.u8(head | 2).u8(0).u32(value),
                };
            }
            Segment::ElectronicKey(key) => {
                let major = key.major_revision | if key.compatibility { 0x80 } else { 0 };
                w.u8(ELECTRONIC_KEY)
                    .u8(KEY_FORMAT)
                    .u16(key.vendor_id)
                    .u16(key.device_type)
                    .u16(key.product_code)
                    .u8(major)
                    .u8(key.minor_revision);
            }
            Segment::Symbolic(symbol) => {
                w.u8(SYMBOLIC).u8(symbol.len() as u8).bytes(symbol);
                if symbol.len() % 2 == 1 {
                    w.u8(0);
                }
            }
            Segment::Data(data) => {
                w.u8(SIMPLE_DATA).u8((data.len() / 2) as u8).bytes(data);
            }
        }
        Ok(w.finish())
    }
}

fn parse_port<'a>(kind: u8, r: &mut Reader<'a>) -> Result<PortSegment<'a>> {
    let nibble = kind & 0x0F;
    if nibble == 0 {
        return Err(PORT);
    }
    let extended_link = kind & EXTENDED_LINK != 0;
    let link_len = if extended_link {
        match r.u8()? {
            0 => return Err(PORT),
            len => usize::from(len),
        }
    } else {
        1
    };
    let port = if nibble == EXTENDED_PORT {
        match r.u16()? {
            port if port < 15 => return Err(PORT),
            port => port,
        }
    } else {
        u16::from(nibble)
    };
    let link = if extended_link {
        Link::Extended(r.bytes(link_len)?)
    } else {
        Link::Address(r.u8()?)
    };
    let segment = PortSegment { port, link };
    if segment.unpadded_len() % 2 == 1 {
        r.pad()?;
    }
    Ok(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(segment: Segment<'_>, bytes: &[u8]) {
        let mut buf = [0u8; 64];
        let n = segment.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], bytes, "{segment:?}");
        assert_eq!(segment.buffer_len(), n);
        assert_eq!(Segment::parse(bytes), Ok((segment, n)));
    }

    #[test]
    fn logical_segments_have_three_widths() {
        round_trip(Segment::Logical(LogicalSegment::class(0x6B)), &[0x20, 0x6B]);
        round_trip(
            Segment::Logical(LogicalSegment::instance(0x1234)),
            &[0x25, 0x00, 0x34, 0x12],
        );
        round_trip(
            Segment::Logical(LogicalSegment::instance(0x0001_0000)),
            &[0x26, 0x00, 0x00, 0x00, 0x01, 0x00],
        );
        round_trip(
            Segment::Logical(LogicalSegment::attribute(1)),
            &[0x30, 0x01],
        );
        round_trip(
            Segment::Logical(LogicalSegment::member(70_000)),
            &[0x2A, 0x00, 0x70, 0x11, 0x01, 0x00],
        );
        // A wider format than needed is kept.
        let wide = LogicalSegment {
            kind: LogicalType::Instance,
            value: 5,
            format: LogicalFormat::U16,
        };
        round_trip(Segment::Logical(wide), &[0x25, 0x00, 0x05, 0x00]);
    }

    #[test]
    fn port_segments_pad_to_words() {
        let backplane = PortSegment {
            port: 1,
            link: Link::Address(0),
        };
        round_trip(Segment::Port(backplane), &[0x01, 0x00]);
        let ip = PortSegment {
            port: 2,
            link: Link::Extended(b"192.168.1.10"),
        };
        let mut expected = std::vec![0x12, 12];
        expected.extend_from_slice(b"192.168.1.10");
        round_trip(Segment::Port(ip), &expected);
        let odd = PortSegment {
            port: 2,
            link: Link::Extended(b"10.0.0.1"),
        };
        let mut expected = std::vec![0x12, 8];
        expected.extend_from_slice(b"10.0.0.1");
        round_trip(Segment::Port(odd), &expected);
        let far = PortSegment {
            port: 300,
            link: Link::Address(7),
        };
        round_trip(Segment::Port(far), &[0x0F, 0x2C, 0x01, 0x07]);
        let far_ip = PortSegment {
            port: 20,
            link: Link::Extended(b"1.2.3.4"),
        };
        let mut expected = std::vec![0x1F, 7, 20, 0];
        expected.extend_from_slice(b"1.2.3.4");
        expected.push(0);
        round_trip(Segment::Port(far_ip), &expected);
    }

    #[test]
    fn symbols_and_keys_round_trip() {
        round_trip(Segment::Symbolic(b"Abc"), &[0x91, 3, b'A', b'b', b'c', 0]);
        round_trip(Segment::Symbolic(b"Ab"), &[0x91, 2, b'A', b'b']);
        round_trip(Segment::Data(&[1, 2]), &[0x80, 1, 1, 2]);
        let key = ElectronicKey {
            vendor_id: 1,
            device_type: 0x0E,
            product_code: 0x36,
            major_revision: 20,
            compatibility: true,
            minor_revision: 11,
        };
        round_trip(
            Segment::ElectronicKey(key),
            &[0x34, 0x04, 1, 0, 0x0E, 0, 0x36, 0, 0x94, 11],
        );
    }

    #[test]
    fn bad_segments_are_refused() {
        let cases: &[(&[u8], Violation)] = &[
            (&[0x20], Violation::Truncated),
            (&[0x22, 0, 1, 2, 3, 4], Violation::SegmentType), // 32-bit class
            (&[0x23, 0], Violation::SegmentType),             // reserved format
            (&[0x38, 1], Violation::SegmentType),             // service id
            (&[0x25, 1, 0, 0], Violation::Padding),
            (&[0x00, 1], Violation::PortSegment),
            (&[0x11, 0, 0, 0], Violation::PortSegment),
            (&[0x0F, 3, 0, 1], Violation::PortSegment),
            (&[0x91, 0], Violation::SymbolLength),
            (&[0x91, 1, b'A', 1], Violation::Padding),
            (&[0x91, 4, b'A'], Violation::Truncated),
            (&[0x43, 0], Violation::SegmentType),
            (&[0x34, 5, 0, 0, 0, 0, 0, 0, 0, 0], Violation::SegmentType),
            (&[0xE0], Violation::SegmentType),
        ];
        for &(bytes, violation) in cases {
            assert_eq!(
                Segment::parse(bytes),
                Err(Error::Malformed(violation)),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn unencodable_segments_are_refused() {
        let mut buf = [0u8; 8];
        let class32 = LogicalSegment {
            kind: LogicalType::Class,
            value: 1,
            format: LogicalFormat::U32,
        };
        assert_eq!(
            Segment::Logical(class32).emit(&mut buf),
            Err(Error::Invalid(Violation::SegmentType))
        );
        let narrow = LogicalSegment {
            kind: LogicalType::Instance,
            value: 300,
            format: LogicalFormat::U8,
        };
        assert_eq!(
            Segment::Logical(narrow).emit(&mut buf),
            Err(Error::Invalid(Violation::SegmentType))
        );
        let port0 = PortSegment {
            port: 0,
            link: Link::Address(1),
        };
        assert_eq!(
            Segment::Port(port0).emit(&mut buf),
            Err(Error::Invalid(Violation::PortSegment))
        );
        assert_eq!(
            Segment::Symbolic(b"").emit(&mut buf),
            Err(Error::Invalid(Violation::SymbolLength))
        );
    }
}
