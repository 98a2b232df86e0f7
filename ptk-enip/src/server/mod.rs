//! The EtherNet/IP server driver: a Logix-like tag server over a [`TagTable`], as
//! protothreads. One accepts TCP connections, one per connection answers its packets, one
//! answers ListIdentity datagrams on the UDP socket of the same port.
//!
//! # Design
//!
//! A [`Server`] is the state the protothreads share on the loop's thread: the tag table, the
//! [`ServerConfig`], the [`ServerStats`], the ids it hands out and one scratch buffer a
//! request is copied into while it is answered, behind one reference count.
//! [`Server::start`] lends a [`ServerStorage`] (one small context per connection, made once)
//! to an [`EventLoop`](ptk_runtime::EventLoop), so serving allocates nothing: not per
//! connection, not per request.
//!
//! Packets are read into the connection's receive buffer from the loop's pool and answered
//! in a pool buffer handed to the loop to send, one at a time, in order (EtherNet/IP clients
//! wait for each reply; one that pipelines gets its replies in order). An idle connection
//! holds no buffer.
//!
//! # What it answers
//!
//! | encapsulation | |
//! |---|---|
//! | RegisterSession, UnRegisterSession | one session per connection; UnRegisterSession closes it |
//! | ListIdentity (TCP and UDP), ListServices, ListInterfaces, NOP | |
//! | SendRRData | unconnected messages; Unconnected_Send routed `1,0` or empty |
//! | SendUnitData | connected messages of a Forward_Open's connection, sequence count echoed |
//!
//! Message router requests: Forward_Open and Large_Forward_Open (class 3, to the Message
//! Router, `1,0` or no route, up to 4,002 bytes), Forward_Close, Unconnected_Send, Multiple
//! Service Packet, Get_Attribute_All / Get_Attribute_Single of the Identity object,
//! Get_Attribute_All of the controller object (class 0x64: its name), Read Tag, Write Tag,
//! their fragmented forms and Read-Modify-Write on symbolic or symbol instance paths,
//! Get_Instance_Attribute_List on the Symbol class (the tag list, paged), and
//! Get_Attribute_List and Read of the STRING template (class 0x6C, instance 0x0FCE).
//!
//! Program-scoped tags ([`TagTable::program`]) are addressed as Logix addresses them: a
//! first symbolic segment `Program:NAME`, then the tag's symbolic segment (or its symbol
//! instance in the program) and element indexes, so `Program:Main.Counts[3]` is
//! `91 0C "Program:Main" 91 06 "Counts" 28 03`, in every tag service and inside Multiple
//! Service Packets. The controller's tag list ends with one entry per program, named
//! `Program:NAME` with symbol type 0x1068, as a controller lists it; pylogix and pycomm3
//! then list each program with `91 <len> "Program:NAME" 20 6B 24 <start>`, which answers
//! that program's tags, paged as the controller's.
//!
//! A request the server refuses gets its CIP status in a normal reply and the connection
//! goes on: 0x04 for an unknown tag name, 0x05 for an index out of range, an unknown
//! instance or object, 0x08 for a service the object does not have, 0xFF / 0x2105 past the
//! end of a tag, 0xFF / 0x2107 for a type other than the tag's, 0x13 for missing data. An
//! encapsulation packet with a session handle not this connection's is answered with status
//! 0x64, an unknown command with 0x01; both leave the connection open. The connection
//! closes (after the replies before) only when the stream cannot go on: a packet longer
//! than [`ServerConfig::max_packet_len`] (answered with status 0x65 first), SendUnitData on
//! a connection the session does not have, a packet cut short by the client closing, the
//! idle timeout. Other connections are never affected.
//!
//! # Examples
//!
//! Serve one DINT on an ephemeral port and read it from a plain socket:
//!
//! ```
//! use std::io::{Read, Write};
//! use ptk_enip::server::{MemoryTags, Server, ServerConfig, ServerStorage, TagTable};
//! use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};
//!
//! let mut tags = MemoryTags::from_specs(["Counts=DINT"]).unwrap();
//! tags.write(1, 0, &42i32.to_le_bytes()).unwrap();
//! let config = ServerConfig { max_connections: 4, ..ServerConfig::default() };
//! let server = Server::new(tags, config);
//!
//! let mut memory = OwnedStorage::new(Capacities {
//!     buffers: 8,
//!     buffer_size: 8192,
//!     ..Capacities::default()
//! });
//! let mut storage = ServerStorage::new(&config);
//! let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
//! let listener = ev.tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())?;
//! let addr = ev.local_addr(listener.raw())?;
//! server.start(&mut ev, listener, None, &mut storage)?;
//!
//! let client = std::thread::spawn(move || {
//!     let mut s = std::net::TcpStream::connect(addr).unwrap();
//!     let mut reply = [0u8; 28];
//!     // RegisterSession.
//!     let mut register = [0u8; 28];
//!     register[0] = 0x65;
//!     register[2] = 4;
//!     register[24] = 1;
//!     s.write_all(&register).unwrap();
//!     s.read_exact(&mut reply).unwrap();
//!     let session: [u8; 4] = reply[4..8].try_into().unwrap();
//!     // SendRRData: Read Tag of "Counts", one element.
//!     let message = b"\x4C\x04\x91\x06Counts\x01\x00";
//!     let mut packet = vec![0x6F, 0, 16 + message.len() as u8, 0];
//!     packet.extend_from_slice(&session);
//!     packet.extend_from_slice(&[0; 16]); // status, sender context, options
//!     packet.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xB2, 0]);
//!     packet.extend_from_slice(&[message.len() as u8, 0]);
//!     packet.extend_from_slice(message);
//!     s.write_all(&packet).unwrap();
//!     let mut reply = [0u8; 50];
//!     s.read_exact(&mut reply).unwrap();
//!     reply[40..].to_vec()
//! });
//! while !client.is_finished() {
//!     ev.run_once(Some(std::time::Duration::from_millis(10)))?;
//! }
//! // Read Tag's reply: success, DINT, 42.
//! assert_eq!(client.join().unwrap(), [0xCC, 0, 0, 0, 0xC4, 0, 42, 0, 0, 0]);
//! assert_eq!(server.stats().requests, 2);
//! # Ok::<(), ptk_runtime::Error>(())
//! ```

mod config;
mod connection;
mod discovery;
mod listener;
mod memory;
mod objects;
mod router;
mod session;
mod tag_services;
mod tags;

use std::boxed::Box;
use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;
use std::vec;

pub use config::{ConnectionEvent, DeviceIdentity, ServerConfig};
pub use listener::ServerStorage;
pub use memory::{
    LogixType, MemoryTags, TagSpec, TagSpecError, TagSpecErrorKind, MAX_ARRAY_LEN, MAX_NAME_LEN,
};
pub use tags::{CipError, ElementType, TagInfo, TagTable};

use session::Ids;

/// The most CIP connections (Forward_Open) one session may hold; see
/// [`ServerConfig::cip_connections_per_session`].
pub const MAX_CIP_CONNECTIONS: usize = 8;

/// The length of the largest reply: a SendUnitData carrying a 4,002-byte connection's
/// reply. The loop's small buffers must hold it.
pub const REPLY_BUFFER_LEN: usize = crate::limits::MAX_CONNECTED_PACKET_LEN;

/// What a server has done so far, as [`Server::stats`] reports it.
///
/// `requests` counts round trips: every encapsulation packet a client sent over TCP is one
/// (a client waits for each reply). A benchmark divides it by the calls it made to compare
/// clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections refused: `max_connections` were open, or the loop had no room.
    pub refused: u64,
    /// Connections open now.
    pub open: usize,
    /// Encapsulation packets received over TCP (NOP and UnRegisterSession included).
    pub requests: u64,
    /// CIP requests carried by SendRRData and SendUnitData (a Multiple Service Packet or
    /// an Unconnected_Send is one).
    pub cip_requests: u64,
    /// Requests inside Multiple Service Packets.
    pub embedded_requests: u64,
    /// Datagrams answered on the UDP socket (ListIdentity, ListServices, ListInterfaces).
    pub datagrams: u64,
    /// Connections closed by the server: idle timeout, a packet it cannot go on after, I/O
    /// error.
    pub dropped: u64,
}

/// An EtherNet/IP server over tag table `T`: cheap to clone (a reference count), shared by
/// the protothreads that serve it on one loop's thread.
///
/// See the [module documentation](self) for a complete example.
pub struct Server<T> {
    shared: Rc<Shared<T>>,
}

struct Shared<T> {
    tags: RefCell<T>,
    config: ServerConfig,
    stats: Cell<ServerStats>,
    ids: Ids,
    /// The request being answered, copied out of its connection's receive buffer
    /// (`max_packet_len` bytes, once per server).
    request: RefCell<Box<[u8]>>,
}

impl<T> Clone for Server<T> {
    fn clone(&self) -> Self {
        Server {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl<T> core::fmt::Debug for Server<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.shared.config)
            .field("stats", &self.shared.stats.get())
            .finish_non_exhaustive()
    }
}

impl<T> Server<T> {
    /// A server of `tags` with `config`; [`start`](Server::start) it on a loop.
    pub fn new(tags: T, config: ServerConfig) -> Server<T> {
        Server {
            shared: Rc::new(Shared {
                tags: RefCell::new(tags),
                config,
                stats: Cell::new(ServerStats::default()),
                ids: Ids::new(),
                request: RefCell::new(vec![0u8; config.max_packet_len].into_boxed_slice()),
            }),
        }
    }

    /// The tag table, to read or change it between requests (on the loop's thread).
    ///
    /// # Panics
    ///
    /// If the table is borrowed already: do not hold the returned guard across a call that
    /// runs the loop.
    pub fn tags(&self) -> RefMut<'_, T> {
        self.shared.tags.borrow_mut()
    }

    /// The settings the server was made with.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// What the server has done so far.
    pub fn stats(&self) -> ServerStats {
        self.shared.stats.get()
    }

    fn update(&self, f: impl FnOnce(&mut ServerStats)) {
        let mut stats = self.shared.stats.get();
        f(&mut stats);
        self.shared.stats.set(stats);
    }

    fn report(&self, event: &ConnectionEvent) {
        if let Some(on_connection) = self.shared.config.on_connection {
            on_connection(event);
        }
    }

    fn opened(&self, event: &ConnectionEvent) {
        self.update(|s| {
            s.accepted += 1;
            s.open += 1;
        });
        self.report(event);
    }

    fn refused(&self, event: &ConnectionEvent) {
        self.count_refused();
        self.report(event);
    }

    fn count_refused(&self) {
        self.update(|s| s.refused += 1);
    }

    fn closed(&self, event: &ConnectionEvent) {
        let dropped = matches!(event, ConnectionEvent::Closed { reason: Err(_), .. });
        self.update(|s| {
            s.open = s.open.saturating_sub(1);
            s.dropped += u64::from(dropped);
        });
        self.report(event);
    }
}
