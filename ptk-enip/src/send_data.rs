//! The data of SendRRData and SendUnitData: interface handle, timeout and the common packet
//! format, with the two shapes CIP messaging uses.

use crate::error::{Error, Result, Violation};
use crate::limits::{CONNECTED_CPF_OVERHEAD, SEND_DATA_HEADER_LEN, UNCONNECTED_CPF_OVERHEAD};
use crate::wire::{len_u16, Reader, Writer};
use crate::{CommonPacket, Item, ItemType};

/// The data of a SendRRData or SendUnitData packet.
///
/// Unconnected messages (SendRRData) carry a null address item and an unconnected data item;
/// connected messages (SendUnitData) a connected address item and a connected data item.
/// [`unconnected`](SendData::unconnected) and [`connected`](SendData::connected) pick the
/// message out of those; [`emit_unconnected`](SendData::emit_unconnected) and
/// [`emit_connected`](SendData::emit_connected) write them around a message emitted in place.
///
/// # Examples
///
/// A client wraps a CIP request in SendRRData data, and a server unwraps it:
///
/// ```
/// use ptk_enip::SendData;
///
/// // Get_Attribute_All of the Identity object, instance 1.
/// let request = [0x01, 0x02, 0x20, 0x01, 0x24, 0x01];
/// let mut buf = [0u8; 64];
/// let n = SendData::emit_unconnected(0, request.len(), &mut buf, |out| {
///     out.copy_from_slice(&request);
///     Ok(request.len())
/// })
/// .unwrap();
/// assert_eq!(
///     &buf[..n],
///     &[
///         0, 0, 0, 0, 0, 0, // interface handle, timeout
///         2, 0, 0, 0, 0, 0, 0xB2, 0, 6, 0, // null address, unconnected data of 6 bytes
///         0x01, 0x02, 0x20, 0x01, 0x24, 0x01,
///     ]
/// );
///
/// let data = SendData::parse(&buf[..n]).unwrap();
/// assert_eq!(data.unconnected(), Ok(&request[..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendData<'a> {
    /// The interface handle: 0 for CIP.
    pub interface_handle: u32,
    /// The timeout in seconds the target may take (SendRRData), 0 otherwise.
    pub timeout: u16,
    /// The items.
    pub packet: CommonPacket<'a>,
}

/// A connected message as SendUnitData carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectedMessage<'a> {
    /// The connection identifier of the connected address item: the receiver's own id for
    /// this connection (the T->O id a server assigned, as a client sends it; the O->T id in a
    /// server's replies).
    pub connection_id: u32,
    /// The sequence count of the connected data item; a reply echoes its request's.
    pub sequence: u16,
    /// The CIP message.
    pub message: &'a [u8],
}

impl<'a> SendData<'a> {
    /// Parses the data of a SendRRData or SendUnitData packet.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the data is shorter than its header; the errors of
    /// [`CommonPacket::new_checked`].
    pub fn parse(data: &'a [u8]) -> Result<SendData<'a>> {
        let mut r = Reader::new(data);
        let interface_handle = r.u32()?;
        let timeout = r.u16()?;
        Ok(SendData {
            interface_handle,
            timeout,
            packet: CommonPacket::new_checked(r.rest())?,
        })
    }

    /// The length of the data [`emit`](SendData::emit) writes.
    pub fn buffer_len(&self) -> usize {
        SEND_DATA_HEADER_LEN + self.packet.as_bytes().len()
    }

    /// Writes the data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, self.buffer_len())?;
        w.u32(self.interface_handle)
            .u16(self.timeout)
            .bytes(self.packet.as_bytes());
        Ok(w.finish())
    }

    /// The CIP message of an unconnected message: a null address item and an unconnected
    /// data item, optionally followed by socket address items (as in the reply to a
    /// Forward_Open of a class 0/1 connection).
    ///
    /// # Errors
    ///
    /// [`Violation::ItemType`] for other items; the errors of [`Item::parse`].
    pub fn unconnected(&self) -> Result<&'a [u8]> {
        let mut items = self.packet.items();
        let (Some(address), Some(data)) = (items.next(), items.next()) else {
            return Err(Error::Malformed(Violation::ItemType));
        };
        check_sockaddr_only(items)?;
        match (address.parse()?, data.parse()?) {
            (Item::NullAddress, Item::UnconnectedData(message)) => Ok(message),
            _ => Err(Error::Malformed(Violation::ItemType)),
        }
    }

    /// The connection, sequence count and CIP message of a connected message: a connected
    /// address item and a connected data item.
    ///
    /// # Errors
    ///
    /// [`Violation::ItemType`] for other items; the errors of [`Item::parse`].
    pub fn connected(&self) -> Result<ConnectedMessage<'a>> {
        let mut items = self.packet.items();
        let (Some(address), Some(data), None) = (items.next(), items.next(), items.next()) else {
            return Err(Error::Malformed(Violation::ItemType));
        };
        match (address.parse()?, data.parse()?) {
            (Item::ConnectedAddress { connection_id }, Item::ConnectedData { sequence, data }) => {
                Ok(ConnectedMessage {
                    connection_id,
                    sequence,
                    message: data,
                })
            }
            _ => Err(Error::Malformed(Violation::ItemType)),
        }
    }

    /// The length of the SendRRData data around an unconnected message of `message_len`
    /// bytes.
    pub const fn unconnected_len(message_len: usize) -> usize {
        SEND_DATA_HEADER_LEN + UNCONNECTED_CPF_OVERHEAD + message_len
    }

    /// The length of the SendUnitData data around a connected message of `message_len`
    /// bytes.
    pub const fn connected_len(message_len: usize) -> usize {
        SEND_DATA_HEADER_LEN + CONNECTED_CPF_OVERHEAD + message_len
    }

    /// Writes SendRRData data with `timeout` around a `message_len`-byte message, which
    /// `emit_message` writes into the slice it is given. Returns the length,
    /// [`unconnected_len`](SendData::unconnected_len).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ItemLength`] if the message is longer than 65,535
    /// bytes; [`Error::BufferTooSmall`] if `buf` is too short (checked before anything is
    /// written); whatever `emit_message` returns.
    pub fn emit_unconnected(
        timeout: u16,
        message_len: usize,
        buf: &mut [u8],
        emit_message: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        let item_len = len_u16(message_len, Violation::ItemLength)?;
        let mut w = Writer::new(buf, SendData::unconnected_len(message_len))?;
        w.u32(0)
            .u16(timeout)
            .u16(2)
            .u16(ItemType::NULL_ADDRESS.0)
            .u16(0)
            .u16(ItemType::UNCONNECTED_DATA.0)
            .u16(item_len);
        emit_message(&mut w.nested(message_len)[..message_len])?;
        Ok(w.finish())
    }

    /// Writes SendUnitData data around a `message_len`-byte connected message on
    /// `connection_id` with `sequence`, which `emit_message` writes into the slice it is
    /// given. Returns the length, [`connected_len`](SendData::connected_len).
    ///
    /// # Errors
    ///
    /// As [`emit_unconnected`](SendData::emit_unconnected), with 65,533 bytes as the longest
    /// message.
    pub fn emit_connected(
        connection_id: u32,
        sequence: u16,
        message_len: usize,
        buf: &mut [u8],
        emit_message: impl FnOnce(&mut [u8]) -> Result<usize>,
    ) -> Result<usize> {
        let item_len = len_u16(message_len + 2, Violation::ItemLength)?;
        let mut w = Writer::new(buf, SendData::connected_len(message_len))?;
        w.u32(0)
            .u16(0)
            .u16(2)
            .u16(ItemType::CONNECTED_ADDRESS.0)
            .u16(4)
            .u32(connection_id)
            .u16(ItemType::CONNECTED_DATA.0)
            .u16(item_len)
            .u16(sequence);
        emit_message(&mut w.nested(message_len)[..message_len])?;
        Ok(w.finish())
    }
}

fn check_sockaddr_only(items: crate::Items<'_>) -> Result<()> {
    for item in items {
        if !matches!(
            item.type_id,
            ItemType::SOCKADDR_O_T | ItemType::SOCKADDR_T_O
        ) {
            return Err(Error::Malformed(Violation::ItemType));
        }
        item.parse()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_messages_round_trip() {
        let mut buf = [0u8; 40];
        let n = SendData::emit_connected(0xDEAD_BEEF, 0x0102, 2, &mut buf, |out| {
            out.copy_from_slice(&[0xCC, 0x00]);
            Ok(2)
        })
        .unwrap();
        assert_eq!(n, 24);
        assert_eq!(
            &buf[..n],
            &[
                0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0, 0xEF, 0xBE, 0xAD, 0xDE, 0xB1, 0, 4, 0, 2, 1,
                0xCC, 0
            ]
        );
        let data = SendData::parse(&buf[..n]).unwrap();
        assert_eq!(
            data.connected(),
            Ok(ConnectedMessage {
                connection_id: 0xDEAD_BEEF,
                sequence: 0x0102,
                message: &[0xCC, 0x00]
            })
        );
        assert_eq!(
            data.unconnected(),
            Err(Error::Malformed(Violation::ItemType))
        );
        let mut again = [0u8; 24];
        assert_eq!(data.emit(&mut again), Ok(24));
        assert_eq!(again, buf[..24]);
    }

    #[test]
    fn short_buffers_are_refused_before_writing() {
        let mut buf = [0xAAu8; 17];
        assert_eq!(
            SendData::emit_unconnected(0, 2, &mut buf, |_| Ok(2)),
            Err(Error::BufferTooSmall { needed: 18 })
        );
        assert_eq!(buf, [0xAA; 17]);
    }
}
