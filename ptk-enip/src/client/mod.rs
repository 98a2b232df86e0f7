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
mod requests;
mod session;
mod slot;
mod tags;

use core::net::SocketAddr;
use ptk_runtime::{Cx, Error};

use crate::limits::{MAX_CONNECTED_PACKET_LEN, MAX_UNCONNECTED_MESSAGE};
use crate::{class, MessageResponse};

pub use browse::{TagEntry, TypeName};
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
