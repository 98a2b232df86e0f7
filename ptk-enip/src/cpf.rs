//! The common packet format: the count-prefixed list of address and data items that
//! SendRRData, SendUnitData, ListIdentity, ListServices and ListInterfaces carry.

use core::fmt;
use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::wire::{len_u16, Reader, Writer};
use crate::{IdentityItem, ServiceEntry};

/// The type code of a common packet format item.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemType(pub u16);

impl ItemType {
    /// 0x0000: null address, for unconnected messages.
    pub const NULL_ADDRESS: ItemType = ItemType(0x0000);
    /// 0x000C: a ListIdentity reply's identity.
    pub const LIST_IDENTITY: ItemType = ItemType(0x000C);
    /// 0x00A1: connected address: the connection identifier.
    pub const CONNECTED_ADDRESS: ItemType = ItemType(0x00A1);
    /// 0x00B1: connected data: a sequence count and the CIP message.
    pub const CONNECTED_DATA: ItemType = ItemType(0x00B1);
    /// 0x00B2: unconnected data: the CIP message.
    pub const UNCONNECTED_DATA: ItemType = ItemType(0x00B2);
    /// 0x0100: a ListServices reply's service.
    pub const LIST_SERVICES: ItemType = ItemType(0x0100);
    /// 0x8000: socket address, originator to target.
    pub const SOCKADDR_O_T: ItemType = ItemType(0x8000);
    /// 0x8001: socket address, target to originator.
    pub const SOCKADDR_T_O: ItemType = ItemType(0x8001);
    /// 0x8002: sequenced address: connection identifier and sequence number (class 0/1).
    pub const SEQUENCED_ADDRESS: ItemType = ItemType(0x8002);
}

impl fmt::Debug for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ItemType({:#06x})", self.0)
    }
}

/// An IPv4 socket address as the sockaddr info items and ListIdentity carry it: the fields
/// of a `sockaddr_in`, **big-endian**, with 8 zero bytes after them.
///
/// The family is kept as received (it should be 2, `AF_INET`; a few devices send it
/// byte-swapped) and the 8 trailing bytes are ignored on parse and written as zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketAddress {
    /// The address family, 2 for IPv4.
    pub family: u16,
    /// The UDP or TCP port.
    pub port: u16,
    /// The IPv4 address, most significant byte first.
    pub address: [u8; 4],
}

impl SocketAddress {
    /// The encoded length: family (2), port (2), address (4), zeros (8).
    pub const LEN: usize = 16;
    /// The IPv4 address family.
    pub const AF_INET: u16 = 2;

    /// An IPv4 socket address.
    pub const fn ipv4(address: [u8; 4], port: u16) -> SocketAddress {
        SocketAddress {
            family: SocketAddress::AF_INET,
            port,
            address,
        }
    }

    /// Parses the 16 bytes of a socket address.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if `bytes` is shorter than 16 bytes.
    pub fn parse(bytes: &[u8]) -> Result<SocketAddress> {
        let mut r = Reader::new(bytes);
        let [f0, f1, p0, p1, a0, a1, a2, a3] = r.array()?;
        r.bytes(8)?;
        Ok(SocketAddress {
            family: u16::from_be_bytes([f0, f1]),
            port: u16::from_be_bytes([p0, p1]),
            address: [a0, a1, a2, a3],
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&self.family.to_be_bytes())
            .bytes(&self.port.to_be_bytes())
            .bytes(&self.address)
            .zeros(8);
    }
}

/// One item of a common packet format, parsed by its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item<'a> {
    /// 0x0000: the null address of an unconnected message.
    NullAddress,
    /// 0x00A1: the connection identifier of a connected message.
    ConnectedAddress {
        /// The connection identifier the receiver assigned in its Forward_Open reply.
        connection_id: u32,
    },
    /// 0x8002: the connection identifier and sequence number of a class 0/1 message.
    SequencedAddress {
        /// The connection identifier.
        connection_id: u32,
        /// The encapsulation sequence number.
        sequence: u32,
    },
    /// 0x00B2: an unconnected CIP message.
    UnconnectedData(&'a [u8]),
    /// 0x00B1: a connected CIP message and its sequence count.
    ConnectedData {
        /// The transport sequence count, echoed by the reply.
        sequence: u16,
        /// The CIP message.
        data: &'a [u8],
    },
    /// 0x8000: the socket address of the originator-to-target direction of a class 0/1
    /// connection.
    SockaddrOriginatorToTarget(SocketAddress),
    /// 0x8001: the socket address of the target-to-originator direction of a class 0/1
    /// connection.
    SockaddrTargetToOriginator(SocketAddress),
    /// 0x000C: a ListIdentity reply's identity.
    ListIdentity(IdentityItem<'a>),
    /// 0x0100: a ListServices reply's service.
    ListServices(ServiceEntry),
    /// An item of another type, kept as bytes.
    Other {
        /// The item type.
        type_id: ItemType,
        /// The item data.
        data: &'a [u8],
    },
}

impl<'a> Item<'a> {
    /// Parses the `data` of an item of type `type_id`.
    ///
    /// # Errors
    ///
    /// [`Violation::ItemLength`] if the data does not have the length its type has;
    /// the errors of [`IdentityItem::parse`] and [`ServiceEntry::parse`].
    pub fn parse(type_id: ItemType, data: &'a [u8]) -> Result<Item<'a>> {
        let bad_length = Error::Malformed(Violation::ItemLength);
        let fixed = |len: usize| {
            if data.len() == len {
                Ok(Reader::new(data))
            } else {
                Err(bad_length)
            }
        };
        Ok(match type_id {
            ItemType::NULL_ADDRESS => {
                fixed(0)?;
                Item::NullAddress
            }
            ItemType::CONNECTED_ADDRESS => Item::ConnectedAddress {
                connection_id: fixed(4)?.u32()?,
            },
            ItemType::SEQUENCED_ADDRESS => {
                let mut r = fixed(8)?;
                Item::SequencedAddress {
                    connection_id: r.u32()?,
                    sequence: r.u32()?,
                }
            }
            ItemType::UNCONNECTED_DATA => Item::UnconnectedData(data),
            ItemType::CONNECTED_DATA => {
                let mut r = Reader::new(data);
                let sequence = r.u16().map_err(|_| bad_length)?;
                Item::ConnectedData {
                    sequence,
                    data: r.rest(),
                }
            }
            ItemType::SOCKADDR_O_T => {
                Item::SockaddrOriginatorToTarget(SocketAddress::parse(fixed(16)?.rest())?)
            }
            ItemType::SOCKADDR_T_O => {
                Item::SockaddrTargetToOriginator(SocketAddress::parse(fixed(16)?.rest())?)
            }
            ItemType::LIST_IDENTITY => Item::ListIdentity(IdentityItem::parse(data)?),
            ItemType::LIST_SERVICES => Item::ListServices(ServiceEntry::parse(data)?),
            type_id => Item::Other { type_id, data },
        })
    }

    /// The item's type code.
    pub const fn type_id(&self) -> ItemType {
        match self {
            Item::NullAddress => ItemType::NULL_ADDRESS,
            Item::ConnectedAddress { .. } => ItemType::CONNECTED_ADDRESS,
            Item::SequencedAddress { .. } => ItemType::SEQUENCED_ADDRESS,
            Item::UnconnectedData(_) => ItemType::UNCONNECTED_DATA,
            Item::ConnectedData { .. } => ItemType::CONNECTED_DATA,
            Item::SockaddrOriginatorToTarget(_) => ItemType::SOCKADDR_O_T,
            Item::SockaddrTargetToOriginator(_) => ItemType::SOCKADDR_T_O,
            Item::ListIdentity(_) => ItemType::LIST_IDENTITY,
            Item::ListServices(_) => ItemType::LIST_SERVICES,
            Item::Other { type_id, .. } => *type_id,
        }
    }

    /// The length of the item's data, without its 4-byte type and length header.
    pub fn data_len(&self) -> usize {
        match self {
            Item::NullAddress => 0,
            Item::ConnectedAddress { .. } => 4,
            Item::SequencedAddress { .. } => 8,
            Item::UnconnectedData(data) | Item::Other { data, .. } => data.len(),
            Item::ConnectedData { data, .. } => 2 + data.len(),
            Item::SockaddrOriginatorToTarget(_) | Item::SockaddrTargetToOriginator(_) => {
                SocketAddress::LEN
            }
            Item::ListIdentity(item) => item.buffer_len(),
            Item::ListServices(_) => ServiceEntry::LEN,
        }
    }

    /// The length of the item with its header, as [`emit`](Item::emit) writes it.
    pub fn buffer_len(&self) -> usize {
        4 + self.data_len()
    }

    /// Writes the item, header and data, into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ItemLength`] if the data is longer than 65,535
    /// bytes, or the errors of the identity item's emit; [`Error::BufferTooSmall`] if `buf`
    /// is shorter than the item.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let data_len = len_u16(self.data_len(), Violation::ItemLength)?;
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u16(self.type_id().0).u16(data_len);
        match *self {
            Item::NullAddress => &mut w,
            Item::ConnectedAddress { connection_id } => w.u32(connection_id),
            Item::SequencedAddress {
                connection_id,
                sequence,
            } => w.u32(connection_id).u32(sequence),
            Item::UnconnectedData(data) | Item::Other { data, .. } => w.bytes(data),
            Item::ConnectedData { sequence, data } => w.u16(sequence).bytes(data),
            Item::SockaddrOriginatorToTarget(addr) | Item::SockaddrTargetToOriginator(addr) => {
                addr.write(&mut w);
                &mut w
            }
            Item::ListIdentity(item) => {
                item.emit(w.nested(usize::from(data_len)))?;
                &mut w
            }
            Item::ListServices(entry) => {
                entry.write(&mut w);
                &mut w
            }
        };
        Ok(w.finish())
    }
}

/// A checked view of a common packet format: the item count and the items.
///
/// [`new_checked`](CommonPacket::new_checked) validates that the items, as their headers say,
/// fill the bytes exactly; after it succeeds the item iterator never fails and no accessor
/// panics. Items are yielded raw ([`RawItem`]) and parsed on demand ([`RawItem::parse`]).
///
/// # Examples
///
/// ```
/// use ptk_enip::{CommonPacket, Item, ItemType};
///
/// let items = [Item::NullAddress, Item::UnconnectedData(&[0x01, 0x02, 0x20, 0x01, 0x24, 0x01])];
/// let mut buf = [0u8; 32];
/// let n = CommonPacket::emit(&items, &mut buf).unwrap();
/// assert_eq!(
///     &buf[..n],
///     &[2, 0, 0, 0, 0, 0, 0xB2, 0, 6, 0, 0x01, 0x02, 0x20, 0x01, 0x24, 0x01]
/// );
///
/// let cpf = CommonPacket::new_checked(&buf[..n]).unwrap();
/// assert_eq!(cpf.len(), 2);
/// let second = cpf.items().nth(1).unwrap();
/// assert_eq!(second.type_id, ItemType::UNCONNECTED_DATA);
/// assert_eq!(second.parse().unwrap(), items[1]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommonPacket<'a> {
    bytes: &'a [u8],
    count: u16,
}

impl<'a> CommonPacket<'a> {
    /// Checks that `bytes` is exactly a common packet format: a count, then that many items.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the count or an item header is cut short,
    /// [`Violation::ItemLength`] if an item's data runs past `bytes`,
    /// [`Violation::TrailingBytes`] if bytes follow the last item.
    pub fn new_checked(bytes: &'a [u8]) -> Result<CommonPacket<'a>> {
        let mut r = Reader::new(bytes);
        let count = r.u16()?;
        for _ in 0..count {
            let _type_id = r.u16()?;
            let len = usize::from(r.u16()?);
            r.bytes(len)
                .map_err(|_| Error::Malformed(Violation::ItemLength))?;
        }
        r.finish()?;
        Ok(CommonPacket { bytes, count })
    }

    /// The number of items.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no items (as in a ListInterfaces reply of a device without any).
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The items, in order.
    pub fn items(&self) -> Items<'a> {
        Items {
            rest: self.bytes.get(2..).unwrap_or_default(),
            left: self.count,
        }
    }

    /// The bytes of the whole common packet format, count included.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The length of the common packet format of `items`.
    pub fn buffer_len(items: &[Item<'_>]) -> usize {
        2 + items.iter().map(Item::buffer_len).sum::<usize>()
    }

    /// Writes the count and `items` into the start of `buf` and returns the length.
    ///
    /// # Errors
    ///
    /// The errors of [`Item::emit`]; [`Error::Invalid`] with [`Violation::ItemLength`] for
    /// more than 65,535 items; [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit(items: &[Item<'_>], buf: &mut [u8]) -> Result<usize> {
        let count = len_u16(items.len(), Violation::ItemLength)?;
        let len = CommonPacket::buffer_len(items);
        let mut w = Writer::new(buf, len)?;
        w.u16(count);
        for item in items {
            let item_len = item.buffer_len();
            item.emit(w.nested(item_len))?;
        }
        Ok(w.finish())
    }
}

/// An item as it is on the wire: its type and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawItem<'a> {
    /// The item type.
    pub type_id: ItemType,
    /// The item data.
    pub data: &'a [u8],
}

impl<'a> RawItem<'a> {
    /// Parses the item by its type; see [`Item::parse`].
    ///
    /// # Errors
    ///
    /// As [`Item::parse`].
    pub fn parse(&self) -> Result<Item<'a>> {
        Item::parse(self.type_id, self.data)
    }
}

/// The iterator of [`CommonPacket::items`].
#[derive(Clone, Debug)]
pub struct Items<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for Items<'a> {
    type Item = RawItem<'a>;

    fn next(&mut self) -> Option<RawItem<'a>> {
        if self.left == 0 {
            return None;
        }
        let mut r = Reader::new(self.rest);
        let type_id = ItemType(r.u16().ok()?);
        let len = usize::from(r.u16().ok()?);
        let data = r.bytes(len).ok()?;
        self.rest = r.rest();
        self.left -= 1;
        Some(RawItem { type_id, data })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for Items<'_> {}

impl FusedIterator for Items<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connected_message_has_its_two_items() {
        let bytes = [
            0x02, 0x00, 0xA1, 0x00, 0x04, 0x00, 0x78, 0x56, 0x34, 0x12, 0xB1, 0x00, 0x04, 0x00,
            0x07, 0x00, 0xCC, 0x00,
        ];
        let cpf = CommonPacket::new_checked(&bytes).unwrap();
        let items: std::vec::Vec<_> = cpf.items().map(|i| i.parse().unwrap()).collect();
        assert_eq!(
            items,
            [
                Item::ConnectedAddress {
                    connection_id: 0x1234_5678
                },
                Item::ConnectedData {
                    sequence: 7,
                    data: &[0xCC, 0x00]
                }
            ]
        );
        let mut out = [0u8; 18];
        assert_eq!(CommonPacket::emit(&items, &mut out), Ok(18));
        assert_eq!(out, bytes);
    }

    #[test]
    fn item_lengths_are_checked() {
        assert_eq!(
            CommonPacket::new_checked(&[1, 0, 0xB2, 0, 5, 0, 1, 2]),
            Err(Error::Malformed(Violation::ItemLength))
        );
        assert_eq!(
            CommonPacket::new_checked(&[1, 0, 0xB2]),
            Err(Error::Malformed(Violation::Truncated))
        );
        assert_eq!(
            CommonPacket::new_checked(&[0, 0, 0]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
        assert_eq!(
            Item::parse(ItemType::CONNECTED_ADDRESS, &[1, 2, 3]),
            Err(Error::Malformed(Violation::ItemLength))
        );
        assert_eq!(
            Item::parse(ItemType::CONNECTED_DATA, &[1]),
            Err(Error::Malformed(Violation::ItemLength))
        );
    }

    #[test]
    fn socket_addresses_are_big_endian() {
        let item = Item::SockaddrOriginatorToTarget(SocketAddress::ipv4([192, 168, 1, 10], 2222));
        let mut buf = [0u8; 20];
        assert_eq!(item.emit(&mut buf), Ok(20));
        assert_eq!(
            buf,
            [
                0x00, 0x80, 0x10, 0x00, 0x00, 0x02, 0x08, 0xAE, 192, 168, 1, 10, 0, 0, 0, 0, 0, 0,
                0, 0
            ]
        );
        assert_eq!(Item::parse(ItemType::SOCKADDR_O_T, &buf[4..]), Ok(item));
    }
}
