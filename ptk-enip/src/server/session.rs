//! The encapsulation layer of one TCP connection: its session, its CIP connections, and the
//! answer to each packet (RegisterSession, ListIdentity, SendRRData, SendUnitData, ...).

use core::cell::Cell;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use ptk_runtime::Error;

use super::router::{connected_reply_data, Nesting, Router, UNCONNECTED_REPLY_DATA};
use super::tags::TagTable;
use super::{ServerConfig, MAX_CIP_CONNECTIONS};
use crate::limits::{ENCAP_HEADER_LEN, PROTOCOL_VERSION};
use crate::{
    Command, ConnectionTriad, EncapStatus, Header, IdentityItem, ItemType, Packet, RegisterSession,
    SendData, ServiceEntry, SocketAddress,
};

/// A class 3 connection a Forward_Open made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CipConnection {
    /// The id the client sends with (the server picked it).
    pub(crate) o_t_id: u32,
    /// The id the server answers with (the client picked it).
    pub(crate) t_o_id: u32,
    pub(crate) triad: ConnectionTriad,
    /// The T->O connection size: the most a reply may take.
    pub(crate) size: u16,
}

/// The session of one TCP connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Session {
    /// The session handle RegisterSession gave, 0 before.
    pub(crate) handle: u32,
    pub(crate) connections: [Option<CipConnection>; MAX_CIP_CONNECTIONS],
}

/// What to do after a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send the reply of this length.
    Reply(usize),
    /// Nothing to send (NOP, a packet with options set).
    Silent,
    /// Close the connection: `Ok` when the client unregistered its session.
    Close(Result<(), Error>),
}

/// What the server hands out to every connection: session handles and O->T connection ids.
#[derive(Debug)]
pub(crate) struct Ids {
    pub(crate) session: Cell<u32>,
    pub(crate) connection: Cell<u32>,
}

impl Ids {
    pub(crate) fn new() -> Ids {
        Ids {
            session: Cell::new(0x1000_0001),
            connection: Cell::new(0x2000_0001),
        }
    }

    fn next_session(&self) -> u32 {
        let id = self.session.get();
        self.session.set(match id.wrapping_add(1) {
            0 => 1,
            next => next,
        });
        id
    }
}

/// What answering a packet counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PacketCounts {
    /// CIP requests carried (1 for a SendRRData or SendUnitData, else 0).
    pub(crate) cip: u64,
    /// Requests inside Multiple Service Packets.
    pub(crate) embedded: u64,
}

/// Everything answering a packet needs.
pub(crate) struct Context<'a, T: ?Sized> {
    pub(crate) tags: &'a mut T,
    pub(crate) config: &'a ServerConfig,
    pub(crate) ids: &'a Ids,
    pub(crate) session: &'a mut Session,
    /// The connection's local address: what ListIdentity reports.
    pub(crate) local: SocketAddr,
    pub(crate) counts: PacketCounts,
}

/// Writes the reply header for `request` with `status` and `data_len` bytes of data (which
/// the caller wrote at `out[24..]`); returns the reply's length.
fn reply(out: &mut [u8], request: &Header, status: EncapStatus, data_len: usize) -> usize {
    match request.reply(status).emit(out, data_len) {
        Ok(n) => n + data_len,
        Err(_) => 0,
    }
}

/// The data of a ListIdentity reply (one identity item) into `out`; its length.
pub(crate) fn list_identity_data(
    config: &ServerConfig,
    local: SocketAddr,
    out: &mut [u8],
) -> usize {
    let address = match local.ip() {
        IpAddr::V4(a) if a.is_unspecified() => config.advertised_address.unwrap_or(a),
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => a.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    let item = IdentityItem {
        encapsulation_version: PROTOCOL_VERSION,
        socket: SocketAddress::ipv4(address.octets(), local.port()),
        identity: config.identity.identity(),
    };
    let len = item.buffer_len();
    let Some(head) = out.get_mut(..6) else {
        return 0;
    };
    head[..2].copy_from_slice(&1u16.to_le_bytes());
    head[2..4].copy_from_slice(&ItemType::LIST_IDENTITY.0.to_le_bytes());
    head[4..6].copy_from_slice(&(len as u16).to_le_bytes());
    match item.emit(&mut out[6..]) {
        Ok(n) => 6 + n,
        Err(_) => 0,
    }
}

/// The data of a ListServices reply: the Communications service.
pub(crate) fn list_services_data(out: &mut [u8]) -> usize {
    let Some(head) = out.get_mut(..6) else {
        return 0;
    };
    head[..2].copy_from_slice(&1u16.to_le_bytes());
    head[2..4].copy_from_slice(&ItemType::LIST_SERVICES.0.to_le_bytes());
    head[4..6].copy_from_slice(&(ServiceEntry::LEN as u16).to_le_bytes());
    match ServiceEntry::communications().emit(&mut out[6..]) {
        Ok(n) => 6 + n,
        Err(_) => 0,
    }
}

/// The data of a ListInterfaces reply: no interface.
pub(crate) fn list_interfaces_data(out: &mut [u8]) -> usize {
    match out.get_mut(..2) {
        Some(count) => {
            count.copy_from_slice(&0u16.to_le_bytes());
            2
        }
        None => 0,
    }
}

impl<T: TagTable + ?Sized> Context<'_, T> {
    /// Answers the whole packet `packet` into `out` (room for the largest reply, 4,048
    /// bytes).
    pub(crate) fn answer(&mut self, packet: &[u8], out: &mut [u8]) -> Outcome {
        let Ok(packet) = Packet::new_checked(packet) else {
            return Outcome::Close(Err(Error::ProtocolError));
        };
        let header = Header::parse(&packet);
        if header.options != 0 {
            // The specification's rule: a receiver discards such packets.
            return Outcome::Silent;
        }
        let data = packet.data();
        let (status, len) = {
            let body = out.get_mut(ENCAP_HEADER_LEN..).unwrap_or_default();
            match header.command {
                Command::NOP => return Outcome::Silent,
                Command::LIST_IDENTITY => (
                    EncapStatus::SUCCESS,
                    list_identity_data(self.config, self.local, body),
                ),
                Command::LIST_SERVICES => (EncapStatus::SUCCESS, list_services_data(body)),
                Command::LIST_INTERFACES => (EncapStatus::SUCCESS, list_interfaces_data(body)),
                Command::REGISTER_SESSION => return self.register(&header, data, out),
                Command::UNREGISTER_SESSION => return Outcome::Close(Ok(())),
                Command::SEND_RR_DATA | Command::SEND_UNIT_DATA => {
                    if self.session.handle == 0 || header.session_handle != self.session.handle {
                        (EncapStatus::INVALID_SESSION, 0)
                    } else {
                        return self.send_data(&header, data, out);
                    }
                }
                _ => (EncapStatus::INVALID_COMMAND, 0),
            }
        };
        Outcome::Reply(reply(out, &header, status, len))
    }

    fn register(&mut self, header: &Header, data: &[u8], out: &mut [u8]) -> Outcome {
        let echo = |out: &mut [u8], header: &Header, status| {
            // The reply carries the protocol version and options: ours when refusing.
            let body = RegisterSession::V1;
            let n = out
                .get_mut(ENCAP_HEADER_LEN..)
                .and_then(|b| body.emit(b).ok())
                .unwrap_or(0);
            reply(out, header, status, n)
        };
        if self.session.handle != 0 {
            // One session per TCP connection.
            return Outcome::Reply(echo(out, header, EncapStatus::INVALID_COMMAND));
        }
        let status = match RegisterSession::parse(data) {
            Ok(r) if r.check().is_ok() => EncapStatus::SUCCESS,
            Ok(_) => EncapStatus::UNSUPPORTED_PROTOCOL,
            Err(e) => e
                .violation()
                .map_or(EncapStatus::INCORRECT_DATA, |v| v.encap_status()),
        };
        if !status.is_success() {
            return Outcome::Reply(echo(out, header, status));
        }
        self.session.handle = self.config_session_handle();
        let header = Header {
            session_handle: self.session.handle,
            ..*header
        };
        Outcome::Reply(echo(out, &header, EncapStatus::SUCCESS))
    }

    fn config_session_handle(&self) -> u32 {
        self.ids.next_session()
    }

    /// SendRRData and SendUnitData: the CIP request answered by the router, in the same
    /// items.
    fn send_data(&mut self, header: &Header, data: &[u8], out: &mut [u8]) -> Outcome {
        let incorrect = |out: &mut [u8], v: Option<crate::Violation>| {
            let status = v.map_or(EncapStatus::INCORRECT_DATA, |v| v.encap_status());
            Outcome::Reply(reply(out, header, status, 0))
        };
        let send = match SendData::parse(data) {
            Ok(s) => s,
            Err(e) => return incorrect(out, e.violation()),
        };
        if header.command == Command::SEND_RR_DATA {
            let message = match send.unconnected() {
                Ok(m) => m,
                Err(e) => return incorrect(out, e.violation()),
            };
            // Interface handle, timeout, item count, null address, data item header.
            const AT: usize = ENCAP_HEADER_LEN + 16;
            let end = out.len().min(AT + 4 + UNCONNECTED_REPLY_DATA);
            let Some(room) = out.get_mut(AT..end) else {
                return Outcome::Close(Err(Error::MessageTooLarge));
            };
            let n = self.route(message, room);
            let body = &mut out[ENCAP_HEADER_LEN..AT];
            body.fill(0);
            body[6..8].copy_from_slice(&2u16.to_le_bytes());
            body[12..14].copy_from_slice(&ItemType::UNCONNECTED_DATA.0.to_le_bytes());
            body[14..16].copy_from_slice(&(n as u16).to_le_bytes());
            return Outcome::Reply(reply(out, header, EncapStatus::SUCCESS, 16 + n));
        }
        let message = match send.connected() {
            Ok(m) => m,
            Err(e) => return incorrect(out, e.violation()),
        };
        let Some(connection) = self
            .session
            .connections
            .iter()
            .flatten()
            .find(|c| c.o_t_id == message.connection_id)
            .copied()
        else {
            // A connection this session never opened (or closed): the client and the
            // server disagree about the state, and the client would wait forever for an
            // answer the specification says not to send.
            return Outcome::Close(Err(Error::ProtocolError));
        };
        // Interface handle, timeout, item count, connected address, data item header,
        // sequence count.
        const AT: usize = ENCAP_HEADER_LEN + 22;
        let end = out
            .len()
            .min(AT + 4 + connected_reply_data(connection.size));
        let Some(room) = out.get_mut(AT..end) else {
            return Outcome::Close(Err(Error::MessageTooLarge));
        };
        let n = self.route(message.message, room);
        let body = &mut out[ENCAP_HEADER_LEN..AT];
        body.fill(0);
        body[6..8].copy_from_slice(&2u16.to_le_bytes());
        body[8..10].copy_from_slice(&ItemType::CONNECTED_ADDRESS.0.to_le_bytes());
        body[10..12].copy_from_slice(&4u16.to_le_bytes());
        body[12..16].copy_from_slice(&connection.t_o_id.to_le_bytes());
        body[16..18].copy_from_slice(&ItemType::CONNECTED_DATA.0.to_le_bytes());
        body[18..20].copy_from_slice(&(n as u16 + 2).to_le_bytes());
        body[20..22].copy_from_slice(&message.sequence.to_le_bytes());
        Outcome::Reply(reply(out, header, EncapStatus::SUCCESS, 22 + n))
    }

    /// One CIP request through the message router.
    fn route(&mut self, message: &[u8], out: &mut [u8]) -> usize {
        self.counts.cip += 1;
        let mut router = Router {
            tags: &mut *self.tags,
            config: self.config,
            session: &mut *self.session,
            next_connection: &self.ids.connection,
            counts: Default::default(),
        };
        let n = router.execute(message, Nesting::Top, out);
        self.counts.embedded += router.counts.embedded;
        n
    }
}
