//! The request pipeline: queueing CIP requests in SendUnitData or SendRRData, writing them,
//! and handing each reply to the slot whose request it answers.

use core::task::Poll;

use ptk_runtime::{Cx, Error};

use super::session::{Messaging, Phase};
use super::slot::{Slot, SlotState};
use super::{
    Client, ClientError, Ticket, CONNECTION_MANAGER, CONTEXT_MARKER, RX_LEN,
    UNCONNECTED_PRIORITY_TICK, UNCONNECTED_TIMEOUT_TICKS,
};
use crate::limits::{ENCAP_HEADER_LEN, SENDER_CONTEXT_LEN};
use crate::{
    service, Command, Epath, Header, MessageRequest, MessageResponse, Packet, SendData,
    UnconnectedSend,
};

impl<const N: usize> Client<N> {
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
    pub(super) fn route(&mut self, cx: &mut Cx<'_>) {
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

    pub(crate) fn consume(&mut self, n: usize) {
        self.rx.copy_within(n..self.rx_len, 0);
        self.rx_len -= n;
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
