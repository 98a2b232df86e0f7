//! The Identity object (class 0x01): its attributes, as Get_Attribute_All and
//! Get_Attribute_Single answer them and as a ListIdentity reply reports them.

use crate::error::{Error, Result, Violation};
use crate::wire::{len_u8, Reader, Writer};
use crate::SocketAddress;

/// The attribute ids of the Identity object.
pub mod attribute {
    /// Vendor id (UINT).
    pub const VENDOR_ID: u16 = 1;
    /// Device type (UINT).
    pub const DEVICE_TYPE: u16 = 2;
    /// Product code (UINT).
    pub const PRODUCT_CODE: u16 = 3;
    /// Revision: major and minor (two USINT).
    pub const REVISION: u16 = 4;
    /// Status (WORD).
    pub const STATUS: u16 = 5;
    /// Serial number (UDINT).
    pub const SERIAL_NUMBER: u16 = 6;
    /// Product name (SHORT_STRING).
    pub const PRODUCT_NAME: u16 = 7;
    /// State (USINT).
    pub const STATE: u16 = 8;
}

/// A device's major and minor revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Revision {
    /// The major revision (the firmware's, on a Logix controller).
    pub major: u8,
    /// The minor revision.
    pub minor: u8,
}

/// The identity of a device: what its Identity object instance 1 holds.
///
/// [`parse_attributes_all`](Identity::parse_attributes_all) and
/// [`emit_attributes_all`](Identity::emit_attributes_all) read and write the data of a
/// Get_Attribute_All reply; [`emit_attribute`](Identity::emit_attribute) the data of a
/// Get_Attribute_Single reply. A ListIdentity reply carries it in an [`IdentityItem`].
///
/// # Examples
///
/// ```
/// use ptk_enip::{Identity, Revision};
///
/// let identity = Identity {
///     vendor_id: 1,
///     device_type: 0x0E,
///     product_code: 54,
///     revision: Revision { major: 20, minor: 11 },
///     status: 0x0030,
///     serial_number: 0x00C0_FFEE,
///     product_name: b"1756-L61/B LOGIX5561",
///     state: None,
/// };
/// let mut buf = [0u8; 64];
/// let n = identity.emit_attributes_all(&mut buf).unwrap();
/// assert_eq!(n, identity.attributes_all_len());
/// assert_eq!(&buf[..6], &[0x01, 0x00, 0x0E, 0x00, 0x36, 0x00]);
/// assert_eq!(Identity::parse_attributes_all(&buf[..n]), Ok(identity));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity<'a> {
    /// The vendor id (1 for Rockwell Automation/Allen-Bradley).
    pub vendor_id: u16,
    /// The device type (0x0E for a programmable logic controller).
    pub device_type: u16,
    /// The product code.
    pub product_code: u16,
    /// The revision.
    pub revision: Revision,
    /// The status word.
    pub status: u16,
    /// The serial number.
    pub serial_number: u32,
    /// The product name, at most 255 bytes.
    pub product_name: &'a [u8],
    /// The state (attribute 8), if the device reports it: 0 nonexistent, 1 self-testing, 2
    /// standby, 3 operational, 4 major recoverable fault, 5 major unrecoverable fault, 255
    /// unknown.
    pub state: Option<u8>,
}

/// What a ListIdentity item reports when a device has no state attribute.
const STATE_UNKNOWN: u8 = 0xFF;

impl<'a> Identity<'a> {
    /// Length of the fields before the product name.
    const FIXED_LEN: usize = 14;

    /// Parses the data of a Get_Attribute_All reply of the Identity object: attributes 1 to
    /// 7, and the state if a byte follows them (bytes after it belong to optional attributes
    /// and are ignored).
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the data ends before the product name does.
    pub fn parse_attributes_all(data: &'a [u8]) -> Result<Identity<'a>> {
        let mut r = Reader::new(data);
        let mut identity = Identity::read(&mut r)?;
        identity.state = r.rest().first().copied();
        Ok(identity)
    }

    fn read(r: &mut Reader<'a>) -> Result<Identity<'a>> {
        let vendor_id = r.u16()?;
        let device_type = r.u16()?;
        let product_code = r.u16()?;
        let [major, minor] = r.array()?;
        let status = r.u16()?;
        let serial_number = r.u32()?;
        let name_len = r.u8()?;
        let product_name = r.bytes(usize::from(name_len))?;
        Ok(Identity {
            vendor_id,
            device_type,
            product_code,
            revision: Revision { major, minor },
            status,
            serial_number,
            product_name,
            state: None,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.vendor_id)
            .u16(self.device_type)
            .u16(self.product_code)
            .u8(self.revision.major)
            .u8(self.revision.minor)
            .u16(self.status)
            .u32(self.serial_number)
            .u8(self.product_name.len() as u8)
            .bytes(self.product_name);
    }

    fn check(&self) -> Result<()> {
        len_u8(self.product_name.len(), Violation::StringLength).map(|_| ())
    }

    /// The length of the Get_Attribute_All reply data [`emit_attributes_all`] writes.
    ///
    /// [`emit_attributes_all`]: Identity::emit_attributes_all
    pub fn attributes_all_len(&self) -> usize {
        Identity::FIXED_LEN + 1 + self.product_name.len() + usize::from(self.state.is_some())
    }

    /// Writes the data of a Get_Attribute_All reply (attributes 1 to 7, then the state if
    /// there is one) into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::StringLength`] if the product name is longer
    /// than 255 bytes; [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit_attributes_all(&self, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let mut w = Writer::new(buf, self.attributes_all_len())?;
        self.write(&mut w);
        if let Some(state) = self.state {
            w.u8(state);
        }
        Ok(w.finish())
    }

    /// Writes the data of a Get_Attribute_Single reply for attribute `id` (see
    /// [`identity_attribute`](crate::identity_attribute)) into the start of `buf` and returns
    /// its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::UnknownAttribute`] for an id outside 1..=8, or 8
    /// when the identity has no state (a server answers general status 0x14, attribute not
    /// supported); [`Violation::StringLength`] as
    /// [`emit_attributes_all`](Identity::emit_attributes_all); [`Error::BufferTooSmall`].
    pub fn emit_attribute(&self, id: u16, buf: &mut [u8]) -> Result<usize> {
        self.check()?;
        let len = match id {
            attribute::VENDOR_ID
            | attribute::DEVICE_TYPE
            | attribute::PRODUCT_CODE
            | attribute::REVISION
            | attribute::STATUS => 2,
            attribute::SERIAL_NUMBER => 4,
            attribute::PRODUCT_NAME => 1 + self.product_name.len(),
            attribute::STATE if self.state.is_some() => 1,
            _ => return Err(Error::Invalid(Violation::UnknownAttribute)),
        };
        let mut w = Writer::new(buf, len)?;
        match id {
            attribute::VENDOR_ID => w.u16(self.vendor_id),
            attribute::DEVICE_TYPE => w.u16(self.device_type),
            attribute::PRODUCT_CODE => w.u16(self.product_code),
            attribute::REVISION => w.u8(self.revision.major).u8(self.revision.minor),
            attribute::STATUS => w.u16(self.status),
            attribute::SERIAL_NUMBER => w.u32(self.serial_number),
            attribute::PRODUCT_NAME => w.u8(self.product_name.len() as u8).bytes(self.product_name),
            _ => w.u8(self.state.unwrap_or(STATE_UNKNOWN)),
        };
        Ok(w.finish())
    }
}

/// The identity item (type 0x0C) of a ListIdentity reply: the encapsulation protocol
/// version, the socket the device listens on, and its [`Identity`].
///
/// A device without a state attribute reports state 255 (unknown): an identity whose
/// [`state`](Identity::state) is `None` is emitted so, and every parsed item has a state.
///
/// # Examples
///
/// ```
/// use ptk_enip::{Identity, IdentityItem, Revision, SocketAddress};
///
/// let item = IdentityItem {
///     encapsulation_version: 1,
///     socket: SocketAddress::ipv4([127, 0, 0, 1], 44818),
///     identity: Identity {
///         vendor_id: 1,
///         device_type: 0x0E,
///         product_code: 54,
///         revision: Revision { major: 20, minor: 11 },
///         status: 0x0030,
///         serial_number: 0x00C0_FFEE,
///         product_name: b"ptk",
///         state: Some(3),
///     },
/// };
/// let mut buf = [0u8; 64];
/// let n = item.emit(&mut buf).unwrap();
/// assert_eq!(n, 37);
/// assert_eq!(IdentityItem::parse(&buf[..n]), Ok(item));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdentityItem<'a> {
    /// The encapsulation protocol version (1).
    pub encapsulation_version: u16,
    /// The socket address the device accepts encapsulation on.
    pub socket: SocketAddress,
    /// The device's identity.
    pub identity: Identity<'a>,
}

impl<'a> IdentityItem<'a> {
    /// Parses the data of a ListIdentity item.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the data ends before the state;
    /// [`Violation::TrailingBytes`] if bytes follow it.
    pub fn parse(data: &'a [u8]) -> Result<IdentityItem<'a>> {
        let mut r = Reader::new(data);
        let encapsulation_version = r.u16()?;
        let socket = SocketAddress::parse(r.bytes(SocketAddress::LEN)?)?;
        let mut identity = Identity::read(&mut r)?;
        identity.state = Some(r.u8()?);
        r.finish()?;
        Ok(IdentityItem {
            encapsulation_version,
            socket,
            identity,
        })
    }

    /// The length of the item data [`emit`](IdentityItem::emit) writes.
    pub fn buffer_len(&self) -> usize {
        2 + SocketAddress::LEN + Identity::FIXED_LEN + 1 + self.identity.product_name.len() + 1
    }

    /// Writes the item data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::StringLength`] if the product name is longer than
    /// 255 bytes; [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        self.identity.check()?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u16(self.encapsulation_version);
        self.socket.write(&mut w);
        self.identity.write(&mut w);
        w.u8(self.identity.state.unwrap_or(STATE_UNKNOWN));
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity<'static> {
        Identity {
            vendor_id: 1,
            device_type: 0x0E,
            product_code: 0x36,
            revision: Revision {
                major: 20,
                minor: 11,
            },
            status: 0x3060,
            serial_number: 0x1234_5678,
            product_name: b"1756-L61",
            state: Some(3),
        }
    }

    #[test]
    fn attributes_all_keeps_an_optional_state() {
        let mut buf = [0u8; 32];
        let mut id = identity();
        let n = id.emit_attributes_all(&mut buf).unwrap();
        assert_eq!(n, 24);
        assert_eq!(buf[n - 1], 3);
        assert_eq!(Identity::parse_attributes_all(&buf[..n]), Ok(id));
        id.state = None;
        let n = id.emit_attributes_all(&mut buf).unwrap();
        assert_eq!(Identity::parse_attributes_all(&buf[..n]), Ok(id));
        assert_eq!(
            Identity::parse_attributes_all(&buf[..n - 1]),
            Err(Error::Malformed(Violation::Truncated))
        );
    }

    #[test]
    fn single_attributes_have_their_types() {
        let id = identity();
        let mut buf = [0u8; 16];
        let n = id.emit_attribute(attribute::REVISION, &mut buf).unwrap();
        assert_eq!(&buf[..n], &[20, 11]);
        let n = id
            .emit_attribute(attribute::SERIAL_NUMBER, &mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &[0x78, 0x56, 0x34, 0x12]);
        let n = id
            .emit_attribute(attribute::PRODUCT_NAME, &mut buf)
            .unwrap();
        assert_eq!(&buf[..n], b"\x081756-L61");
        let n = id.emit_attribute(attribute::STATE, &mut buf).unwrap();
        assert_eq!(&buf[..n], &[3]);
        assert_eq!(
            id.emit_attribute(9, &mut buf),
            Err(Error::Invalid(Violation::UnknownAttribute))
        );
    }

    #[test]
    fn a_list_identity_item_without_state_reports_unknown() {
        let mut id = identity();
        id.state = None;
        let item = IdentityItem {
            encapsulation_version: 1,
            socket: SocketAddress::ipv4([10, 0, 0, 1], 0xAF12),
            identity: id,
        };
        let mut buf = [0u8; 64];
        let n = item.emit(&mut buf).unwrap();
        assert_eq!(buf[n - 1], 0xFF);
        let parsed = IdentityItem::parse(&buf[..n]).unwrap();
        assert_eq!(parsed.identity.state, Some(0xFF));
        assert_eq!(
            IdentityItem::parse(&buf[..n + 1]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
    }
}
