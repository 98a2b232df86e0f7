//! The EtherNet/IP client driver: a Logix tag [`Client`] a protothread embeds in its context
//! and drives with poll-style calls, and [`Discovery`] of devices by ListIdentity over UDP.
//!
//! # Design
//!
//! A `Client<N>` is a plain value: the target's address and route, a TCP connection that
//! reconnects with backoff, the session and the CIP connection, `N` request slots (each
//! holds the reply of its request) and fixed receive and send buffers. It has no protothread
//! of its own: the protothread that embeds it calls its `poll_*` methods inside `pt_await!`,
//! and whatever they wait on wakes that protothread. Nothing is allocated.
//!
//! Connecting is TCP, RegisterSession, then a Large_Forward_Open of
//! [`ClientConfig::connection_size`] bytes (4000); if the target refuses it, a Forward_Open of
//! [`ClientConfig::small_connection_size`] (504); if it refuses that too (cpppo's simulator
//! does for some paths, small devices do), every request goes unconnected in SendRRData,
//! through an Unconnected_Send when the route is not empty. Connected requests carry a
//! sequence count; every request carries its id in the sender context, which is how replies
//! find their slot.
//!
//! Two levels of API:
//!
//! * **Tags**, one call at a time, kept across resumes (pass the same arguments until it is
//!   `Ready`): [`poll_read_tag`](Client::poll_read_tag) (whole arrays, fragmented when the
//!   data is longer than one reply, `Tag.5` bits), [`poll_read_value`](Client::poll_read_value),
//!   [`poll_write_tag`](Client::poll_write_tag) (fragmented likewise),
//!   [`poll_write_value`](Client::poll_write_value) (bits by Read-Modify-Write),
//!   [`poll_write_string`](Client::poll_write_string), [`poll_read_many`](Client::poll_read_many)
//!   and [`poll_write_many`](Client::poll_write_many) (Multiple_Service_Packets filled to the
//!   connection size, several in flight), [`poll_list_tags`](Client::poll_list_tags).
//! * **Any CIP request**, pipelined: [`send`](Client::send) up to `N` requests, then
//!   [`poll_response`](Client::poll_response) for each ticket in any order and
//!   [`response`](Client::response) to read the reply; or [`poll_call`](Client::poll_call)
//!   for one at a time.
//!
//! Every request has its own timeout ([`ClientConfig::request_timeout_ms`]); a timed-out
//! request frees its slot and a late reply to it is dropped. A failed connection (refused,
//! reset, a malformed packet, an encapsulation error) fails every request in flight and is
//! reopened by the next request after a backoff that doubles from
//! [`ClientConfig::min_backoff_ms`] up to [`ClientConfig::max_backoff_ms`]. A CIP error
//! status is [`ClientError::Cip`], with the general and extended status, and leaves the
//! connection up.
//!
//! # Examples
//!
//! A protothread that reads a tag, against a target that is not there (the connect fails
//! and the error says so):
//!
//! ```
//! use ptk_enip::client::{Client, ClientConfig, ClientError, TagRead};
//! use ptk_macros::protothread;
//! use ptk_runtime::{Capacities, Config, Cx, EventLoop, OwnedStorage, Pt};
//!
//! struct Job {
//!     pt: Pt,
//!     client: Box<Client<2>>,
//!     data: [u8; 64],
//!     outcome: Option<Result<TagRead, ClientError>>,
//! }
//!
//! #[protothread(crate = ::ptk_runtime)]
//! fn job(ctx: &mut Job, cx: &mut Cx<'_>) {
//!     let r = pt_await!(ctx.client.poll_read_tag(cx, "Program:Main.Counts[3]", 1, &mut ctx.data));
//!     ctx.outcome = Some(r);
//!     ctx.client.close(cx);
//!     cx.stop();
//! }
//!
//! // A port nothing listens on.
//! let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
//! let config = ClientConfig { connect_timeout_ms: 500, ..ClientConfig::default() };
//! let mut memory = OwnedStorage::new(Capacities::default());
//! let mut jobs = [Job { pt: Pt::new(), client: Box::new(Client::new(addr, config)), data: [0; 64], outcome: None }];
//! let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
//! let pool = ev.add_protothreads(&mut jobs)?;
//! ev.cx().spawn_with(pool, |_| {})?;
//! ev.run()?;
//! drop(ev);
//! assert!(matches!(jobs[0].outcome, Some(Err(ClientError::Io(_)))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod browse;
mod config;
mod discovery;
mod error;
mod link;
mod many;
mod session;
mod slot;
mod tags;

use core::net::SocketAddr;
use core::task::Poll;

use ptk_runtime::{Cx, Error};

use crate::limits::{
    ENCAP_HEADER_LEN, MAX_CONNECTED_PACKET_LEN, MAX_UNCONNECTED_MESSAGE, SENDER_CONTEXT_LEN,
};
use crate::{
    class, service, Command, Epath, Header, MessageRequest, MessageResponse, Packet, SendData,
    UnconnectedSend,
};

pub use browse::TagEntry;
pub use config::{ClientConfig, Route, MAX_ROUTE_LEN};
pub use discovery::{Device, Discovery};
pub use error::ClientError;
pub use tags::TagRead;

use link::Link;
use session::{Messaging, Phase, Session};
use slot::{Slot, SlotState};

/// Bytes of replies a client buffers: two of the largest connected packets.
const RX_LEN: usize = 2 * MAX_CONNECTED_PACKET_LEN;
/// Bytes of requests a client buffers before they are written: four of the largest.
const TX_LEN: usize = 4 * MAX_CONNECTED_PACKET_LEN;
/// The sender context of the client's requests: the request id in the first two bytes, then
/// this marker.
const CONTEXT_MARKER: [u8; 6] = *b"ptk\0\0\0";
/// Unconnected_Send timing: 2^10 ms ticks, 5 of them (about 5 s), as pycomm3 sends.
const UNCONNECTED_PRIORITY_TICK: u8 = 0x0A;
const UNCONNECTED_TIMEOUT_TICKS: u8 = 0x05;
/// The path of the Connection Manager (`20 06 24 01`).
const CONNECTION_MANAGER: [u8; 4] = [0x20, 0x06, 0x24, 0x01];

/// Names a request sent with [`Client::send`]: its slot and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket {
    slot: u8,
    id: u16,
}

impl Ticket {
    /// The request's id on the wire: the first two bytes of its sender context and, on a
    /// connection, its sequence count.
    pub const fn id(&self) -> u16 {
        self.id
    }
}

/// A Logix tag client with up to `N` requests in flight on one connection (1 to 255).
///
/// About 40 KB for `N` = 4: keep it in a `Box` or a `static` rather than on a small stack.
/// See the [module documentation](self) for the design and an example.
#[derive(Clone)]
pub struct Client<const N: usize = 4> {
    link: Link,
    config: ClientConfig,
    session: Session,
    next_id: u16,
    slots: [Slot; N],
    rx: [u8; RX_LEN],
    rx_len: usize,
    /// Bytes of a reply too long for `rx` still to be dropped as they come.
    skip: usize,
    tx: [u8; TX_LEN],
    tx_len: usize,
    written: usize,
    /// Encapsulation packets written since the client was made.
    requests_sent: u64,
    /// The request of the one-at-a-time calls, between its send and its reply.
    call: Option<Ticket>,
    /// The progress of a multi-step call (fragments, pages, bit writes) across resumes.
    progress: tags::Progress,
    /// The progress of a batch (`poll_read_many`, `poll_write_many`) across resumes.
    batch: many::Batch,
}

impl<const N: usize> core::fmt::Debug for Client<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.link.addr)
            .field("session", &self.session)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl<const N: usize> Client<N> {
    /// A client of the target at `addr` (port 44818 for a controller); it connects on its
    /// first request.
    pub fn new(addr: SocketAddr, config: ClientConfig) -> Client<N> {
        Client {
            link: Link::new(addr, config.min_backoff_ms, config.max_backoff_ms),
            config,
            session: Session::CLOSED,
            next_id: 1,
            slots: [Slot::EMPTY; N],
            rx: [0; RX_LEN],
            rx_len: 0,
            skip: 0,
            tx: [0; TX_LEN],
            tx_len: 0,
            written: 0,
            requests_sent: 0,
            call: None,
            progress: tags::Progress::NONE,
            batch: many::Batch::NONE,
        }
    }

    /// The target's address.
    pub fn addr(&self) -> SocketAddr {
        self.link.addr
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Whether the session is up (connected or unconnected messaging).
    pub fn is_connected(&self) -> bool {
        self.session.phase == Phase::Ready
    }

    /// The connection size of the open CIP connection (what the target granted in the
    /// Forward_Open reply), or `None` for unconnected messaging or no session.
    pub fn connection_size(&self) -> Option<u16> {
        match (self.session.phase, self.session.messaging) {
            (Phase::Ready, Messaging::Connected { size, .. }) => Some(size),
            _ => None,
        }
    }

    /// Encapsulation packets written since the client was made, session set-up included:
    /// the round trips a workload took.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent
    }

    /// How many requests are in flight.
    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Sent)
            .count()
    }

    /// The longest request message (service, path and data) the session carries: the
    /// connection size less the sequence count, or 504 bytes unconnected.
    pub fn request_capacity(&self) -> usize {
        match self.session.messaging {
            Messaging::Connected { size, .. } => usize::from(size).saturating_sub(2),
            Messaging::Unconnected => MAX_UNCONNECTED_MESSAGE,
        }
    }

    /// The longest reply message the client plans for when it packs requests: the
    /// connection size less 4 bytes (a Logix controller answers with at most the connection
    /// size less 8 bytes of reply data), or 504 bytes unconnected.
    pub fn reply_capacity(&self) -> usize {
        match self.session.messaging {
            Messaging::Connected { size, .. } => usize::from(size).saturating_sub(4),
            Messaging::Unconnected => MAX_UNCONNECTED_MESSAGE,
        }
    }

    /// Queues a CIP request (service, `path`, `data_len` bytes of data that `emit_data`
    /// writes) and returns its ticket; it is written by the next
    /// [`poll_response`](Client::poll_response) or [`poll_flush`](Client::poll_flush).
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`]`(`[`Error::NotConnected`]`)` unless the session is up
    /// ([`poll_connect`](Client::poll_connect) first); [`ClientError::Busy`] when `N`
    /// requests are in flight or the send buffer is full; [`ClientError::InvalidRequest`] for a
    /// message longer than [`request_capacity`](Client::request_capacity), or whatever
    /// `emit_data` returns.
    pub fn send(
        &mut self,
        cx: &mut Cx<'_>,
        service: u8,
        path: &Epath<'_>,
        data_len: usize,
        emit_data: impl FnOnce(&mut [u8]) -> crate::Result<usize>,
    ) -> Result<Ticket, ClientError> {
        if self.session.phase != Phase::Ready {
            return Err(ClientError::Io(Error::NotConnected));
        }
        let message_len = MessageRequest::header_len(path) + data_len;
        if message_len > self.request_capacity() {
            return Err(ClientError::InvalidRequest(crate::Error::Invalid(
                crate::Violation::MessageTooLong,
            )));
        }
        let slot = self
            .slots
            .iter()
            .position(Slot::is_reusable)
            .ok_or(ClientError::Busy)?;
        let id = self.take_id();
        let emit_message = |out: &mut [u8]| -> crate::Result<usize> {
            let at = MessageRequest::emit_header(service, path, out)?;
            let n = emit_data(out.get_mut(at..).unwrap_or_default())?;
            Ok(at + n)
        };
        let mut header = Header::request(Command::SEND_RR_DATA, self.session.handle);
        header.sender_context[..2].copy_from_slice(&id.to_le_bytes());
        header.sender_context[2..].copy_from_slice(&CONTEXT_MARKER);
        let out = &mut self.tx[self.tx_len..];
        let route = self.config.route;
        let written = match self.session.messaging {
            Messaging::Connected { o_t_id, .. } => {
                header.command = Command::SEND_UNIT_DATA;
                header.emit_packet(out, SendData::connected_len(message_len), |data| {
                    SendData::emit_connected(o_t_id, id, message_len, data, emit_message)
                })
            }
            Messaging::Unconnected if route.as_epath().is_empty() => {
                header.emit_packet(out, SendData::unconnected_len(message_len), |data| {
                    SendData::emit_unconnected(0, message_len, data, emit_message)
                })
            }
            Messaging::Unconnected => {
                let route = route.as_epath();
                let send = UnconnectedSend {
                    priority_tick: UNCONNECTED_PRIORITY_TICK,
                    timeout_ticks: UNCONNECTED_TIMEOUT_TICKS,
                    message: &[],
                    route_path: route,
                };
                let cm = Epath::new_checked(&CONNECTION_MANAGER).unwrap_or_default();
                let outer_len =
                    MessageRequest::header_len(&cm) + UnconnectedSend::len_for(message_len, &route);
                header.emit_packet(out, SendData::unconnected_len(outer_len), |data| {
                    SendData::emit_unconnected(0, outer_len, data, |m| {
                        let at = MessageRequest::emit_header(service::UNCONNECTED_SEND, &cm, m)?;
                        let n = send.emit_with(
                            message_len,
                            m.get_mut(at..).unwrap_or_default(),
                            emit_message,
                        )?;
                        Ok(at + n)
                    })
                })
            }
        };
        let n = match written {
            Ok(n) => n,
            Err(crate::Error::BufferTooSmall { .. }) => return Err(ClientError::Busy),
            Err(e) => return Err(ClientError::InvalidRequest(e)),
        };
        let s = &mut self.slots[slot];
        s.state = SlotState::Sent;
        s.id = id;
        s.service = service;
        s.deadline = cx.after_ms(self.config.request_timeout_ms);
        s.items = (0, 0);
        self.tx_len += n;
        self.requests_sent += 1;
        Ok(Ticket {
            slot: slot as u8,
            id,
        })
    }

    /// A request id no request in flight has.
    fn take_id(&mut self) -> u16 {
        loop {
            let id = self.next_id;
            self.next_id = id.wrapping_add(1);
            if !self
                .slots
                .iter()
                .any(|s| s.state == SlotState::Sent && s.id == id)
            {
                return id;
            }
        }
    }

    /// Writes the queued requests.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the write fails (the connection is closed and every request
    /// in flight fails with the same error).
    pub fn poll_flush(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), ClientError>> {
        if self.tx_len == 0 {
            return Poll::Ready(Ok(()));
        }
        let Some(stream) = self.link.stream() else {
            return Poll::Ready(Err(ClientError::Io(Error::NotConnected)));
        };
        match cx.write_all(stream, &self.tx[..self.tx_len], &mut self.written) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                self.tx_len = 0;
                self.written = 0;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.fail_link(cx, ClientError::Io(e));
                Poll::Ready(Err(ClientError::Io(e)))
            }
        }
    }

    /// Waits for the reply to `ticket`, writing queued requests and reading replies (of any
    /// ticket) meanwhile. `Ready(Ok(()))` once a reply to the request's service is in, whatever
    /// its status: read it with [`response`](Client::response).
    ///
    /// # Errors
    ///
    /// [`ClientError::Timeout`] when the request's timeout passed, [`ClientError::Protocol`]
    /// for a reply that does not answer the request, [`ClientError::ReplyTooLarge`],
    /// [`ClientError::Io`] or [`ClientError::Encapsulation`] when the connection failed, and
    /// `Io(`[`Error::InvalidHandle`]`)` for a ticket whose outcome was delivered already.
    pub fn poll_response(
        &mut self,
        cx: &mut Cx<'_>,
        ticket: Ticket,
    ) -> Poll<Result<(), ClientError>> {
        let r = self.poll_outcome(cx, ticket);
        if r.is_ready() {
            let _ = cx.set_deadline(None);
        }
        r
    }

    fn poll_outcome(&mut self, cx: &mut Cx<'_>, ticket: Ticket) -> Poll<Result<(), ClientError>> {
        let i = usize::from(ticket.slot);
        loop {
            if let Some(outcome) = self.take_outcome(ticket) {
                return Poll::Ready(outcome);
            }
            let slot = &mut self.slots[i];
            let deadline = slot.deadline;
            if cx.now_ms() >= deadline {
                slot.state = SlotState::Free;
                ptk_runtime::ptk_warn!(
                    "enip client: request {} to {} timed out after {} ms",
                    ticket.id,
                    self.link.addr,
                    self.config.request_timeout_ms
                );
                return Poll::Ready(Err(ClientError::Timeout));
            }
            if let Err(e) = cx.set_deadline(Some(deadline)) {
                return Poll::Ready(Err(ClientError::Io(e)));
            }
            match self.poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(ClientError::Io(Error::Timeout))) => continue,
                // A failed write failed every request in flight, this one too.
                Poll::Ready(_) => {}
            }
            if self.slots[i].state != SlotState::Sent {
                continue;
            }
            match self.poll_read(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {}
            }
        }
    }

    /// Reads what the target sent and routes whole replies to their slots.
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<()> {
        let Some(stream) = self.link.stream() else {
            self.fail_all(ClientError::Io(Error::NotConnected));
            return Poll::Ready(());
        };
        match cx.read(stream, &mut self.rx[self.rx_len..]) {
            Poll::Pending => return Poll::Pending,
            // A deadline passed while waiting: the caller checks its own.
            Poll::Ready(Err(Error::Timeout)) => {}
            Poll::Ready(Err(e)) => self.fail_link(cx, ClientError::Io(e)),
            Poll::Ready(Ok(0)) => self.fail_link(cx, ClientError::Io(Error::Closed)),
            Poll::Ready(Ok(n)) => {
                self.rx_len += n;
                self.route(cx);
            }
        }
        Poll::Ready(())
    }

    /// The outcome of `ticket` once it has one, delivered once: `None` while the request
    /// waits for its reply.
    fn take_outcome(&mut self, ticket: Ticket) -> Option<Result<(), ClientError>> {
        let Some(slot) = self.slots.get_mut(usize::from(ticket.slot)) else {
            return Some(Err(ClientError::Io(Error::InvalidHandle)));
        };
        if slot.id != ticket.id {
            return Some(Err(ClientError::Io(Error::InvalidHandle)));
        }
        match slot.state {
            SlotState::Answered => {
                slot.state = SlotState::Delivered;
                Some(Ok(()))
            }
            SlotState::Failed(e) => {
                slot.state = SlotState::Free;
                Some(Err(e))
            }
            SlotState::Free | SlotState::Delivered => {
                Some(Err(ClientError::Io(Error::InvalidHandle)))
            }
            SlotState::Sent => None,
        }
    }

    /// Hands every whole packet in the receive buffer to its slot.
    fn route(&mut self, cx: &mut Cx<'_>) {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.rx_len);
                self.consume(n);
                self.skip -= n;
                if self.skip > 0 {
                    return;
                }
            }
            let needed = match Packet::check_len(&self.rx[..self.rx_len]) {
                Ok(needed) => needed,
                Err(crate::Error::Incomplete { .. }) => return,
                Err(e) => return self.fail_link(cx, ClientError::Protocol(e)),
            };
            if needed > RX_LEN {
                // Too long to hold: fail its request and drop it as it comes.
                let id = context_id(&self.rx[..self.rx_len]);
                if let Some(slot) = self.sent_slot(id) {
                    slot.state = SlotState::Failed(ClientError::ReplyTooLarge {
                        len: needed - ENCAP_HEADER_LEN,
                    });
                }
                self.skip = needed;
                continue;
            }
            if self.rx_len < needed {
                return;
            }
            if let Err(e) = self.deliver(needed) {
                return self.fail_link(cx, e);
            }
            self.consume(needed);
        }
    }

    /// Gives the packet at the start of the receive buffer to the slot whose request it
    /// answers. An error closes the connection.
    fn deliver(&mut self, len: usize) -> Result<(), ClientError> {
        let packet = Packet::new_checked(&self.rx[..len]).map_err(ClientError::Protocol)?;
        let command = packet.command();
        if command == Command::NOP {
            return Ok(());
        }
        if !packet.status().is_success() {
            return Err(ClientError::Encapsulation(packet.status()));
        }
        let id = context_id(packet.into_inner());
        let data = SendData::parse(packet.into_data()).map_err(ClientError::Protocol)?;
        let message = match (command, self.session.messaging) {
            (Command::SEND_UNIT_DATA, Messaging::Connected { .. }) => {
                let message = data.connected().map_err(ClientError::Protocol)?;
                if message.sequence != id {
                    return Err(ClientError::Protocol(crate::Error::Malformed(
                        crate::Violation::ItemType,
                    )));
                }
                message.message
            }
            (Command::SEND_RR_DATA, Messaging::Unconnected) => {
                data.unconnected().map_err(ClientError::Protocol)?
            }
            _ => {
                return Err(ClientError::Protocol(crate::Error::Malformed(
                    crate::Violation::UnknownCommand,
                )))
            }
        };
        // A reply to no request in flight is late (its request timed out): dropped.
        let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| s.state == SlotState::Sent && s.id == id)
        else {
            return Ok(());
        };
        slot.answer(message);
        Ok(())
    }

    fn sent_slot(&mut self, id: u16) -> Option<&mut Slot> {
        self.slots
            .iter_mut()
            .find(|s| s.state == SlotState::Sent && s.id == id)
    }

    fn consume(&mut self, n: usize) {
        self.rx.copy_within(n..self.rx_len, 0);
        self.rx_len -= n;
    }

    /// Closes the connection after a failure and fails every request in flight with `e`.
    fn fail_link(&mut self, cx: &mut Cx<'_>, e: ClientError) {
        match e {
            ClientError::Protocol(_) | ClientError::Encapsulation(_) => ptk_runtime::ptk_warn!(
                "enip client: closing the connection to {}: {e}",
                self.link.addr
            ),
            _ => ptk_runtime::ptk_info!("enip client: {}: {e}", self.link.addr),
        }
        self.link.fail(cx);
        self.session = Session::CLOSED;
        self.fail_all(e);
    }

    fn fail_all(&mut self, e: ClientError) {
        for slot in &mut self.slots {
            if slot.state == SlotState::Sent {
                slot.state = SlotState::Failed(e);
            }
        }
        self.rx_len = 0;
        self.skip = 0;
        self.tx_len = 0;
        self.written = 0;
    }

    /// Closes the connection at once (without Forward_Close: the target drops the connection
    /// with the socket) and forgets every request in flight; a later request connects again,
    /// without backoff. Call it before the protothread ends, or the socket stays open.
    pub fn close(&mut self, cx: &mut Cx<'_>) {
        self.fail_all(ClientError::Io(Error::Closed));
        for slot in &mut self.slots {
            slot.state = SlotState::Free;
        }
        self.link.close(cx);
        self.session = Session::CLOSED;
        self.call = None;
        self.progress = tags::Progress::NONE;
        self.batch = many::Batch::NONE;
    }

    /// The reply to `ticket`, after [`poll_response`](Client::poll_response) (or
    /// [`poll_call`](Client::poll_call)) gave `Ok`; `None` for any other ticket. The reply
    /// stays readable until the ticket's slot takes a new request.
    pub fn response(&self, ticket: Ticket) -> Option<MessageResponse<'_>> {
        let slot = self.slots.get(usize::from(ticket.slot))?;
        if slot.id != ticket.id || slot.state != SlotState::Delivered {
            return None;
        }
        slot.reply()
    }

    /// Sends a CIP request (connecting first if need be) and waits for its reply: one
    /// request at a time, kept across resumes — the request is read on the first call only.
    /// Read the reply with [`response`](Client::response); its status is not checked.
    ///
    /// # Errors
    ///
    /// As [`poll_connect`](Client::poll_connect), [`send`](Client::send) and
    /// [`poll_response`](Client::poll_response).
    pub fn poll_call(
        &mut self,
        cx: &mut Cx<'_>,
        service: u8,
        path: &Epath<'_>,
        data: &[u8],
    ) -> Poll<Result<Ticket, ClientError>> {
        self.poll_call_with(cx, service, path, data.len(), |out| {
            out[..data.len()].copy_from_slice(data);
            Ok(data.len())
        })
    }

    /// [`poll_call`](Client::poll_call) with the data written by `emit_data`.
    pub(crate) fn poll_call_with(
        &mut self,
        cx: &mut Cx<'_>,
        service: u8,
        path: &Epath<'_>,
        data_len: usize,
        emit_data: impl FnOnce(&mut [u8]) -> crate::Result<usize>,
    ) -> Poll<Result<Ticket, ClientError>> {
        let ticket = match self.call {
            Some(ticket) => ticket,
            None => {
                match self.poll_connect(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
                match self.send(cx, service, path, data_len, emit_data) {
                    Ok(ticket) => *self.call.insert(ticket),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        };
        let r = self.poll_response(cx, ticket);
        if r.is_ready() {
            self.call = None;
        }
        r.map(|r| r.map(|()| ticket))
    }
}

/// The request id in the sender context of the packet at the start of `buf` (at least a
/// header long).
fn context_id(buf: &[u8]) -> u16 {
    match buf.get(12..12 + SENDER_CONTEXT_LEN) {
        Some(&[a, b, ..]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// The status of a reply as a result: success, or [`ClientError::Cip`].
pub(crate) fn check(reply: &MessageResponse<'_>) -> Result<(), ClientError> {
    if reply.status.is_success() {
        Ok(())
    } else {
        Err(cip_error(reply))
    }
}

/// The [`ClientError::Cip`] of an error reply.
pub(crate) fn cip_error(reply: &MessageResponse<'_>) -> ClientError {
    ClientError::Cip {
        general: reply.status,
        extended: reply.extended_status.first(),
    }
}

/// The Message Router's path, `20 02 24 01`, where Multiple_Service_Packets go.
pub(crate) const MESSAGE_ROUTER: [u8; 4] = [0x20, class::MESSAGE_ROUTER as u8, 0x24, 0x01];
