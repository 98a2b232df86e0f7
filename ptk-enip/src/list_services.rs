//! The service item (type 0x0100) of a ListServices reply.

use crate::error::Result;
use crate::wire::{Reader, Writer};

/// One encapsulation service a device offers, as a ListServices reply reports it.
///
/// Devices that speak CIP report one service named "Communications".
///
/// # Examples
///
/// ```
/// use ptk_enip::ServiceEntry;
///
/// let entry = ServiceEntry::communications();
/// assert_eq!(entry.name(), b"Communications");
/// let mut buf = [0u8; ServiceEntry::LEN];
/// assert_eq!(entry.emit(&mut buf), Ok(20));
/// assert_eq!(&buf[..4], &[0x01, 0x00, 0x20, 0x01]);
/// assert_eq!(ServiceEntry::parse(&buf), Ok(entry));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceEntry {
    /// The encapsulation protocol version (1).
    pub version: u16,
    /// The capability flags: [`CIP_OVER_TCP`](ServiceEntry::CIP_OVER_TCP) and
    /// [`CLASS_0_1_OVER_UDP`](ServiceEntry::CLASS_0_1_OVER_UDP).
    pub capability_flags: u16,
    /// The service's name, NUL-padded to 16 bytes.
    pub name: [u8; 16],
}

impl ServiceEntry {
    /// The encoded length: version (2), flags (2), name (16).
    pub const LEN: usize = 20;
    /// Capability flag: CIP encapsulation over TCP.
    pub const CIP_OVER_TCP: u16 = 1 << 5;
    /// Capability flag: class 0 and 1 CIP connections over UDP.
    pub const CLASS_0_1_OVER_UDP: u16 = 1 << 8;

    /// The "Communications" service of a CIP device, over TCP and UDP.
    pub const fn communications() -> ServiceEntry {
        let mut name = [0u8; 16];
        let text = b"Communications";
        let mut i = 0;
        while i < text.len() {
            name[i] = text[i];
            i += 1;
        }
        ServiceEntry {
            version: 1,
            capability_flags: ServiceEntry::CIP_OVER_TCP | ServiceEntry::CLASS_0_1_OVER_UDP,
            name,
        }
    }

    /// The name up to its first NUL byte.
    pub fn name(&self) -> &[u8] {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(16);
        &self.name[..end]
    }

    /// Parses the data of a service item.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`](crate::Violation::Truncated) or
    /// [`Violation::TrailingBytes`](crate::Violation::TrailingBytes) if the data is not 20
    /// bytes long.
    pub fn parse(data: &[u8]) -> Result<ServiceEntry> {
        let mut r = Reader::new(data);
        let entry = ServiceEntry {
            version: r.u16()?,
            capability_flags: r.u16()?,
            name: r.array()?,
        };
        r.finish()?;
        Ok(entry)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.version)
            .u16(self.capability_flags)
            .bytes(&self.name);
    }

    /// Writes the item data into the start of `buf` and returns its length (20).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`](crate::Error::BufferTooSmall) if `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, ServiceEntry::LEN)?;
        self.write(&mut w);
        Ok(w.finish())
    }
}
