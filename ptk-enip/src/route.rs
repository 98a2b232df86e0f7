//! Route paths in their textual form, `port,link` pairs such as `1,0` or
//! `1,0,2,192.168.1.10,1,0`, as users and client libraries write them.

use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::segment::{Link, PortSegment, Segment};
use crate::PathBuilder;

/// A route path parsed from text: comma-separated pairs of a port and a link address.
///
/// A port is a number from 1 to 65,535, or `bp`/`backplane` (1) or `enet` (2). A link
/// address is a number from 0 to 255 (a slot or node) or an IPv4 address, which becomes an
/// extended link address. Spaces around the commas are allowed. The empty text is the empty
/// route (a target reached directly).
///
/// The route borrows the text: [`segments`](RoutePath::segments) yields port segments whose
/// IP address links point into it, and [`emit`](RoutePath::emit) writes the EPATH.
///
/// # Examples
///
/// ```
/// use ptk_enip::{Link, PortSegment, RoutePath};
///
/// let route = RoutePath::parse("1,0")?;
/// let mut buf = [0u8; 32];
/// let n = route.emit(&mut buf)?;
/// assert_eq!(&buf[..n], &[0x01, 0x00]);
///
/// // Out of the backplane to slot 2, out of its Ethernet port to 192.168.1.10, then to the
/// // controller in slot 0 of that chassis.
/// let route = RoutePath::parse("1,2,2,192.168.1.10,1,0")?;
/// let hops: Vec<PortSegment<'_>> = route.segments().collect();
/// assert_eq!(hops[1], PortSegment { port: 2, link: Link::Extended(b"192.168.1.10") });
/// let n = route.emit(&mut buf)?;
/// assert_eq!(&buf[..n], b"\x01\x02\x12\x0C192.168.1.10\x01\x00");
///
/// assert!(RoutePath::parse("1,0,2").is_err());
/// assert!(RoutePath::parse("1,256").is_err());
/// # Ok::<(), ptk_enip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoutePath<'a> {
    text: &'a str,
}

const ROUTE: Error = Error::Malformed(Violation::RoutePath);

impl<'a> RoutePath<'a> {
    /// Checks the syntax of `text`.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] with [`Violation::RoutePath`] for an odd number of items, a port
    /// that is not 1..=65,535 or a known name, or a link that is neither 0..=255 nor an IPv4
    /// address; [`Violation::PathTooLong`] if the EPATH would pass 510 bytes.
    pub fn parse(text: &'a str) -> Result<RoutePath<'a>> {
        let route = RoutePath { text };
        let mut items = route.items();
        let mut len = 0;
        while let Some(port) = items.next() {
            let link = items.next().ok_or(ROUTE)?;
            let segment = parse_pair(port, link)?;
            len += Segment::Port(segment).buffer_len();
        }
        if len > crate::limits::MAX_EPATH_LEN {
            return Err(Error::Malformed(Violation::PathTooLong));
        }
        Ok(route)
    }

    fn items(&self) -> impl Iterator<Item = &'a str> {
        let text = self.text.trim();
        text.split(',')
            .map(str::trim)
            .filter(move |_| !text.is_empty())
    }

    /// The text the route was parsed from.
    pub const fn as_str(&self) -> &'a str {
        self.text
    }

    /// The hops, in order.
    pub fn segments(&self) -> RouteSegments<'a> {
        let text = self.text.trim();
        RouteSegments {
            rest: if text.is_empty() { None } else { Some(text) },
        }
    }

    /// The length of the EPATH.
    pub fn buffer_len(&self) -> usize {
        self.segments()
            .map(|port| Segment::Port(port).buffer_len())
            .sum()
    }

    /// Appends the route's segments to `path`.
    ///
    /// # Errors
    ///
    /// The errors of [`PathBuilder::push`].
    pub fn push_to(&self, path: &mut PathBuilder<'_>) -> Result<()> {
        for port in self.segments() {
            path.push(&Segment::Port(port))?;
        }
        Ok(())
    }

    /// Writes the EPATH into the start of `buf` and returns its length.
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

/// The iterator of [`RoutePath::segments`].
#[derive(Clone, Debug)]
pub struct RouteSegments<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for RouteSegments<'a> {
    type Item = PortSegment<'a>;

    fn next(&mut self) -> Option<PortSegment<'a>> {
        let rest = self.rest?;
        let mut items = rest.splitn(3, ',');
        let (port, link) = (items.next()?, items.next()?);
        self.rest = items.next();
        parse_pair(port.trim(), link.trim()).ok()
    }
}

impl FusedIterator for RouteSegments<'_> {}

fn parse_pair<'a>(port: &str, link: &'a str) -> Result<PortSegment<'a>> {
    let port = match port {
        "bp" | "backplane" => 1,
        "enet" => 2,
        digits => match decimal(digits) {
            Some(port @ 1..=0xFFFF) => port as u16,
            _ => return Err(ROUTE),
        },
    };
    let link = if is_ipv4(link) {
        Link::Extended(link.as_bytes())
    } else {
        match decimal(link) {
            Some(address @ 0..=0xFF) => Link::Address(address as u8),
            _ => return Err(ROUTE),
        }
    };
    Ok(PortSegment { port, link })
}

/// A decimal number of at most 9 digits (so it cannot overflow), without sign or spaces.
pub(crate) fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.bytes()
            .fold(0, |n, digit| n * 10 + u32::from(digit - b'0')),
    )
}

fn is_ipv4(text: &str) -> bool {
    let mut parts = 0;
    for part in text.split('.') {
        parts += 1;
        if part.len() > 3 || !matches!(decimal(part), Some(0..=255)) {
            return false;
        }
    }
    parts == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_accept_spaces_names_and_the_empty_route() {
        let route = RoutePath::parse(" bp , 3 ").unwrap();
        assert_eq!(
            route.segments().collect::<std::vec::Vec<_>>(),
            [PortSegment {
                port: 1,
                link: Link::Address(3)
            }]
        );
        let empty = RoutePath::parse("").unwrap();
        assert_eq!(empty.segments().count(), 0);
        assert_eq!(empty.buffer_len(), 0);
        let far = RoutePath::parse("18,7").unwrap();
        let mut buf = [0u8; 8];
        let n = far.emit(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[0x0F, 18, 0, 7]);
    }

    #[test]
    fn bad_routes_are_refused() {
        for text in [
            "1",
            "1,0,",
            ",",
            "0,1",
            "65536,1",
            "1,-1",
            "1,1.2.3",
            "1,1.2.3.256",
            "1,a.b.c.d",
            "1,1..2.3",
            "x,0",
            "1,0 0",
        ] {
            assert_eq!(RoutePath::parse(text), Err(ROUTE), "{text:?}");
        }
    }

    #[test]
    fn decimals_do_not_overflow() {
        assert_eq!(decimal("999999999"), Some(999_999_999));
        assert_eq!(decimal("1000000000"), None);
        assert_eq!(decimal("+1"), None);
        assert_eq!(decimal(""), None);
    }
}
