//! The Modbus/TCP client driver: a [`Client`] a protothread embeds in its context and drives
//! with poll-style calls.
//!
//! # Design
//!
//! A `Client<N>` is a plain value: the server's address, a connection that reconnects with
//! backoff, `N` request slots (each keeps its request's PDU to check the answer against, and
//! the answer's PDU), and fixed receive and send buffers. It has no protothread of its own:
//! the protothread that embeds it calls its `poll_*` methods inside `pt_await!`, and whatever
//! they wait on (connect, read, write, a request's timeout) wakes that protothread. Nothing is
//! allocated.
//!
//! Two levels of API:
//!
//! * **One request at a time**, with the answer copied into the caller's buffer:
//!   [`poll_read_holding_registers`](Client::poll_read_holding_registers),
//!   [`poll_write_coils`](Client::poll_write_coils), ... (one per function code, each
//!   connecting first if need be), or [`poll_call`](Client::poll_call) for any [`Request`],
//!   then [`response`](Client::response) to read the answer.
//! * **Pipelined**: [`send`](Client::send) up to `N` requests (each gets a [`Ticket`] and a
//!   transaction id), then [`poll_response`](Client::poll_response) for each ticket in any
//!   order; answers are matched to requests by transaction id.
//!
//! Every request has its own timeout ([`ClientConfig::request_timeout_ms`]); a timed-out
//! request frees its slot and a late answer to it is dropped. A failed connection (refused,
//! reset, a malformed frame) fails every request in flight with the error and is reopened by the
//! next request after a backoff that doubles from [`ClientConfig::min_backoff_ms`] up to
//! [`ClientConfig::max_backoff_ms`].
//!
//! # Examples
//!
//! A protothread that writes two registers and reads them back, against a ptk server on the
//! same loop:
//!
//! ```
//! use ptk_macros::protothread;
//! use ptk_modbus::client::{Client, ClientConfig, ClientError};
//! use ptk_modbus::server::{MemoryModel, Server, ServerConfig, ServerStorage};
//! use ptk_runtime::{Capacities, Config, Cx, EventLoop, ListenOptions, OwnedStorage, Pt};
//!
//! struct Job {
//!     pt: Pt,
//!     client: Client<2>,
//!     values: [u16; 2],
//! }
//!
//! #[protothread(crate = ::ptk_runtime)]
//! fn job(ctx: &mut Job, cx: &mut Cx<'_>) -> Result<(), ClientError> {
//!     pt_await!(ctx.client.poll_write_registers(cx, 100, &[7, 8]))?;
//!     pt_await!(ctx.client.poll_read_holding_registers(cx, 100, &mut ctx.values))?;
//!     ctx.client.close(cx);
//!     cx.stop();
//!     Ok(())
//! }
//!
//! let config = ServerConfig { max_connections: 2, ..ServerConfig::default() };
//! let server = Server::new(MemoryModel::new(1000), config);
//! let mut storage = ServerStorage::new(&config);
//! let mut memory = OwnedStorage::new(Capacities::default());
//! let mut jobs = [Job { pt: Pt::new(), client: Client::new(([127, 0, 0, 1], 0).into(), ClientConfig::default()), values: [0; 2] }];
//! let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
//! let listener = ev.tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())?;
//! let addr = ev.local_addr(listener.raw())?;
//! server.start(&mut ev, listener, &mut storage)?;
//! let pool = ev.add_protothreads(&mut jobs)?;
//! ev.cx().spawn_with(pool, |j| j.client = Client::new(addr, ClientConfig::default()))?;
//! ev.run()?;
//! drop(ev);
//! assert_eq!(jobs[0].values, [7, 8]);
//! assert_eq!(server.model().holding_registers()[100..102], [7, 8]);
//! # Ok::<(), ptk_runtime::Error>(())
//! ```

mod calls;
mod error;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing;
mod link;
mod slot;

use core::net::SocketAddr;
use core::task::Poll;

use ptk_runtime::{Cx, Error};

use crate::limits::MAX_FRAME_LEN;
use crate::{Frame, Header, Request, Response};

pub use calls::CommEventLogCounts;
pub use error::ClientError;
pub use link::ClientConfig;

use link::Link;
use slot::{Slot, SlotState};

/// Bytes of answers a client buffers.
const RX_LEN: usize = 4 * MAX_FRAME_LEN;
/// Bytes of requests a client buffers before they are written.
const TX_LEN: usize = 4 * MAX_FRAME_LEN;

/// Names a request sent with [`Client::send`]: its slot and transaction id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket {
    slot: u8,
    transaction_id: u16,
}

impl Ticket {
    /// The transaction id of the request on the wire.
    pub const fn transaction_id(&self) -> u16 {
        self.transaction_id
    }
}

/// A Modbus/TCP client with up to `N` requests in flight on one connection (at most 255).
///
/// See the [module documentation](self) for the design and a complete example.
#[derive(Clone)]
pub struct Client<const N: usize = 4> {
    link: Link,
    next_transaction_id: u16,
    slots: [Slot; N],
    rx: [u8; RX_LEN],
    rx_len: usize,
    tx: [u8; TX_LEN],
    tx_len: usize,
    written: usize,
    /// The request of the one-at-a-time calls, between its send and its answer.
    call: Option<Ticket>,
}

impl<const N: usize> core::fmt::Debug for Client<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.link.addr)
            .field("connected", &self.link.stream().is_some())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl<const N: usize> Client<N> {
    /// A client of the server at `addr`; it connects on its first request.
    pub const fn new(addr: SocketAddr, config: ClientConfig) -> Client<N> {
        Client {
            link: Link::new(addr, config),
            next_transaction_id: 1,
            slots: [Slot::EMPTY; N],
            rx: [0; RX_LEN],
            rx_len: 0,
            tx: [0; TX_LEN],
            tx_len: 0,
            written: 0,
            call: None,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.link.addr
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.link.config
    }

    /// Whether the client is connected.
    pub fn is_connected(&self) -> bool {
        self.link.stream().is_some()
    }

    /// How many requests are in flight.
    pub fn in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.state == SlotState::Sent)
            .count()
    }

    /// Connects, waiting for the backoff first if the last connect or connection failed.
    /// The requests connect by themselves; this is for connecting ahead of them.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] with the connect's error ([`Error::Timeout`] after
    /// [`ClientConfig::connect_timeout_ms`], [`Error::ConnectionRefused`], ...).
    pub fn poll_connect(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), ClientError>> {
        self.link
            .poll_connect(cx)
            .map(|r| r.map(|_| ()).map_err(ClientError::Io))
    }

    /// Closes the connection and forgets every request in flight; a later request connects
    /// again, without backoff. Call it before the protothread ends, or the socket
    /// stays open.
    pub fn close(&mut self, cx: &mut Cx<'_>) {
        self.fail_all(ClientError::Io(Error::Closed));
        for slot in &mut self.slots {
            slot.state = SlotState::Free;
        }
        self.link.close(cx);
        self.call = None;
    }

    /// Queues `request` for `unit_id` and returns its ticket; the request is written by the
    /// next [`poll_response`](Client::poll_response) or [`poll_flush`](Client::poll_flush).
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`]`(`[`Error::NotConnected`]`)` unless connected
    /// ([`poll_connect`](Client::poll_connect) first); [`ClientError::Busy`] when `N` requests
    /// are in flight or the send buffer is full; [`ClientError::InvalidRequest`] for a request
    /// that breaks a protocol limit.
    pub fn send(
        &mut self,
        cx: &mut Cx<'_>,
        unit_id: u8,
        request: &Request<'_>,
    ) -> Result<Ticket, ClientError> {
        if self.link.stream().is_none() {
            return Err(ClientError::Io(Error::NotConnected));
        }
        let deadline = cx.after_ms(self.link.config.request_timeout_ms);
        self.queue(unit_id, request, deadline)
    }

    /// [`send`](Self::send) once connected: the request waits for its answer until
    /// `deadline` (loop milliseconds).
    fn queue(
        &mut self,
        unit_id: u8,
        request: &Request<'_>,
        deadline: u64,
    ) -> Result<Ticket, ClientError> {
        let slot = self
            .slots
            .iter()
            .position(Slot::is_reusable)
            .ok_or(ClientError::Busy)?;
        let transaction_id = self.take_transaction_id();
        let header = Header {
            transaction_id,
            unit_id,
        };
        let n = match request.emit_frame(header, &mut self.tx[self.tx_len..]) {
            Ok(n) => n,
            Err(crate::Error::BufferTooSmall { .. }) => return Err(ClientError::Busy),
            Err(e) => return Err(ClientError::InvalidRequest(e)),
        };
        let frame = &self.tx[self.tx_len..self.tx_len + n];
        let s = &mut self.slots[slot];
        s.store_request(&frame[crate::limits::MBAP_HEADER_LEN..]);
        s.state = SlotState::Sent;
        s.transaction_id = transaction_id;
        s.unit_id = unit_id;
        s.deadline = deadline;
        self.tx_len += n;
        Ok(Ticket {
            slot: slot as u8,
            transaction_id,
        })
    }

    /// A transaction id no request in flight has.
    fn take_transaction_id(&mut self) -> u16 {
        loop {
            let id = self.next_transaction_id;
            self.next_transaction_id = id.wrapping_add(1);
            if !self
                .slots
                .iter()
                .any(|s| s.state == SlotState::Sent && s.transaction_id == id)
            {
                return id;
            }
        }
    }

    /// Writes the queued requests.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the write fails (the connection is closed and every request in
    /// flight fails with the same error).
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

    /// Waits for the answer to `ticket`, writing queued requests and reading answers (of any
    /// ticket) meanwhile. `Ready(Ok(()))` once a valid answer is in: read it with
    /// [`response`](Client::response).
    ///
    /// # Errors
    ///
    /// [`ClientError::Exception`] for an exception response, [`ClientError::Timeout`] when the
    /// request's timeout passed, [`ClientError::Protocol`] for an answer that does not answer
    /// the request, [`ClientError::UnitIdMismatch`] for an answer from another unit id, [`ClientError::Io`] when the connection failed, and
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
                    "modbus client: request {} to {} timed out after {} ms",
                    ticket.transaction_id,
                    self.link.addr,
                    self.link.config.request_timeout_ms
                );
                return Poll::Ready(Err(ClientError::Timeout));
            }
            if let Err(e) = cx.set_deadline(Some(deadline)) {
                return Poll::Ready(Err(ClientError::Io(e)));
            }
            match self.poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(ClientError::Io(Error::Timeout))) => continue,
                // The write failed every request in flight, this one too.
                Poll::Ready(_) => {}
            }
            if self.slots[i].state != SlotState::Sent {
                continue;
            }
            let Some(stream) = self.link.stream() else {
                self.slots[i].state = SlotState::Free;
                return Poll::Ready(Err(ClientError::Io(Error::NotConnected)));
            };
            match cx.read(stream, &mut self.rx[self.rx_len..]) {
                Poll::Pending => return Poll::Pending,
                // The request's deadline passed while waiting: checked at the top.
                Poll::Ready(Err(Error::Timeout)) => {}
                Poll::Ready(Err(e)) => self.fail_link(cx, ClientError::Io(e)),
                Poll::Ready(Ok(0)) => self.fail_link(cx, ClientError::Io(Error::Closed)),
                Poll::Ready(Ok(n)) => {
                    self.rx_len += n;
                    self.route(cx);
                }
            }
        }
    }

    /// The outcome of `ticket` once it has one, delivered once: `None` while the request
    /// waits for its answer.
    fn take_outcome(&mut self, ticket: Ticket) -> Option<Result<(), ClientError>> {
        let Some(slot) = self.slots.get_mut(usize::from(ticket.slot)) else {
            return Some(Err(ClientError::Io(Error::InvalidHandle)));
        };
        if slot.transaction_id != ticket.transaction_id {
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

    /// Hands every complete answer in the receive buffer to its request.
    fn route(&mut self, cx: &mut Cx<'_>) {
        if let Err(e) = self.route_buffered() {
            self.fail_link(cx, e);
        }
    }

    /// [`route`](Self::route) up to the socket: `Err` for a frame whose header cannot be
    /// trusted (the connection must close).
    fn route_buffered(&mut self) -> Result<(), ClientError> {
        let mut consumed = 0;
        loop {
            let buffered = &self.rx[consumed..self.rx_len];
            let len = match Frame::check_len(buffered) {
                Ok(len) if len <= buffered.len() => len,
                Ok(_) | Err(crate::Error::Incomplete { .. }) => break,
                Err(e) => return Err(ClientError::Protocol(e)),
            };
            let frame = Frame::new_unchecked(&buffered[..len]);
            let (id, unit) = (frame.transaction_id(), frame.unit_id());
            // An answer nobody waits for (its request timed out) is dropped.
            if let Some(slot) = self
                .slots
                .iter_mut()
                .find(|s| s.state == SlotState::Sent && s.transaction_id == id)
            {
                if slot.unit_id == unit {
                    slot.answer(frame.pdu());
                } else {
                    slot.state = SlotState::Failed(ClientError::UnitIdMismatch {
                        request: slot.unit_id,
                        reply: unit,
                    });
                }
            }
            consumed += len;
        }
        self.rx.copy_within(consumed..self.rx_len, 0);
        self.rx_len -= consumed;
        Ok(())
    }

    /// Closes the connection after a failure and fails every request in flight with `e`.
    fn fail_link(&mut self, cx: &mut Cx<'_>, e: ClientError) {
        match e {
            ClientError::Protocol(_) => ptk_runtime::ptk_warn!(
                "modbus client: closing the connection to {}: {e}",
                self.link.addr
            ),
            _ => ptk_runtime::ptk_info!("modbus client: {}: {e}", self.link.addr),
        }
        self.link.fail(cx);
        self.fail_all(e);
    }

    fn fail_all(&mut self, e: ClientError) {
        for slot in &mut self.slots {
            if slot.state == SlotState::Sent {
                slot.state = SlotState::Failed(e);
            }
        }
        self.rx_len = 0;
        self.tx_len = 0;
        self.written = 0;
    }

    /// The answer to `ticket`, after [`poll_response`](Client::poll_response) (or
    /// [`poll_call`](Client::poll_call)) gave `Ok`; `None` for any other ticket. The answer
    /// stays readable until the ticket's slot takes a new request.
    pub fn response(&self, ticket: Ticket) -> Option<Response<'_>> {
        let slot = self.slots.get(usize::from(ticket.slot))?;
        if slot.transaction_id != ticket.transaction_id || slot.state != SlotState::Delivered {
            return None;
        }
        slot.response()
    }

    /// Sends `request` to `unit_id` (connecting first if need be) and waits for its answer:
    /// one request at a time, kept across resumes — `request` is read on the first call only.
    /// Read the answer with [`response`](Client::response).
    ///
    /// # Errors
    ///
    /// As [`poll_connect`](Client::poll_connect), [`send`](Client::send) and
    /// [`poll_response`](Client::poll_response).
    pub fn poll_call(
        &mut self,
        cx: &mut Cx<'_>,
        unit_id: u8,
        request: &Request<'_>,
    ) -> Poll<Result<Ticket, ClientError>> {
        let ticket = match self.call {
            Some(ticket) => ticket,
            None => {
                match self.poll_connect(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {}
                }
                match self.send(cx, unit_id, request) {
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
