//! The Modbus/TCP server driver: one protothread accepts, one protothread per connection
//! answers requests from a [`DataModel`].
//!
//! # Design
//!
//! A [`Server`] is the state the protothreads share on the loop's thread: the data model, the
//! [`ServerConfig`], the [`ServerStats`] and the scratch room answers are made in, behind one
//! reference count. [`Server::start`] lends a [`ServerStorage`] — one small context per
//! connection (96 bytes, no buffer), made once — to an [`EventLoop`](ptk_runtime::EventLoop),
//! so serving allocates nothing: not per connection, not per request.
//!
//! Requests and answers live in the loop's buffer pool
//! ([`Capacities::buffers`](ptk_runtime::Capacities::buffers), whose small buffers must hold
//! a 260-byte frame; see [`Server::start`]). A connection holds a buffer only while it has
//! requests to answer or answers to send: an idle one holds none, so memory follows the
//! requests in flight, not the connections open.
//!
//! A connection reads whatever the client sent, answers every complete request in it in order
//! (a pipelining client gets its answers in the order it asked), hands the answers to the loop
//! to send, and reads again once they are sent. Requests the specification says to refuse get
//! their exception response: `IllegalFunction` for a function code the server does not
//! implement (device identification, 43, among them), `IllegalDataValue` for a quantity, byte
//! count or value out of range, `IllegalDataAddress` for addresses past 0x10000 or outside the
//! model. A frame whose header cannot be trusted (protocol id not 0, length field outside
//! 2..=254) or that the client cuts short by closing closes that connection, after the answers
//! to the requests before it; every other connection goes on.
//!
//! # Examples
//!
//! Serve a [`MemoryModel`] of 100 of each table on an ephemeral port, and read two holding
//! registers from a plain `std` socket:
//!
//! ```
//! use std::io::{Read, Write};
//! use ptk_modbus::server::{MemoryModel, Server, ServerConfig, ServerStorage};
//! use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};
//!
//! let config = ServerConfig { max_connections: 4, ..ServerConfig::default() };
//! let mut model = MemoryModel::new(100);
//! model.holding_registers_mut()[10] = 0x1234;
//! let server = Server::new(model, config);
//!
//! let mut memory = OwnedStorage::new(Capacities::default());
//! let mut storage = ServerStorage::new(&config);
//! let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
//! let listener = ev.tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())?;
//! let addr = ev.local_addr(listener.raw())?;
//! server.start(&mut ev, listener, &mut storage)?;
//!
//! let client = std::thread::spawn(move || {
//!     let mut s = std::net::TcpStream::connect(addr).unwrap();
//!     s.write_all(&[0, 1, 0, 0, 0, 6, 1, 0x03, 0, 10, 0, 2]).unwrap();
//!     let mut answer = [0u8; 13];
//!     s.read_exact(&mut answer).unwrap();
//!     answer
//! });
//! while !client.is_finished() {
//!     ev.run_once(Some(std::time::Duration::from_millis(10)))?;
//! }
//! assert_eq!(client.join().unwrap(), [0, 1, 0, 0, 0, 7, 1, 0x03, 4, 0x12, 0x34, 0, 0]);
//! assert_eq!(server.stats().requests, 1);
//! # Ok::<(), ptk_runtime::Error>(())
//! ```

mod answer;
mod config;
mod connection;
mod counters;
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing;
mod listener;
mod memory;
mod model;

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

use answer::Workspace;
pub use config::{ConnectionEvent, ServerConfig, UnitIds};
pub use counters::DiagnosticCounters;
pub use listener::ServerStorage;
pub use memory::MemoryModel;
pub use model::DataModel;

/// What a server has done so far, as [`Server::stats`] reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections refused: `max_connections` were open, or the loop had no room.
    pub refused: u64,
    /// Connections open now.
    pub open: usize,
    /// Requests answered (exception responses included).
    pub requests: u64,
    /// Connections closed by the server: idle timeout, malformed or truncated frame, I/O error.
    pub dropped: u64,
}

/// A Modbus/TCP server over data model `M`: cheap to clone (a reference count), shared by the
/// protothreads that serve it on one loop's thread.
///
/// See the [module documentation](self) for a complete example.
pub struct Server<M> {
    shared: Rc<Shared<M>>,
}

struct Shared<M> {
    model: RefCell<M>,
    config: ServerConfig,
    stats: Cell<ServerStats>,
    /// What answering a request needs, shared by the connections (about 2.8 KiB, once per
    /// server rather than in every connection's context).
    work: RefCell<Workspace>,
}

impl<M> Clone for Server<M> {
    fn clone(&self) -> Self {
        Server {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl<M> core::fmt::Debug for Server<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.shared.config)
            .field("stats", &self.shared.stats.get())
            .finish_non_exhaustive()
    }
}

impl<M> Server<M> {
    /// A server of `model` with `config`; [`start`](Server::start) it on a loop.
    pub fn new(model: M, config: ServerConfig) -> Server<M> {
        Server {
            shared: Rc::new(Shared {
                model: RefCell::new(model),
                config,
                stats: Cell::new(ServerStats::default()),
                work: RefCell::new(Workspace::new()),
            }),
        }
    }

    /// The data model, to read or change it between requests (on the loop's thread, from a
    /// handler, another protothread, or between iterations).
    ///
    /// # Panics
    ///
    /// If the model is borrowed already: do not hold the returned guard across a call that
    /// runs the loop.
    pub fn model(&self) -> RefMut<'_, M> {
        self.shared.model.borrow_mut()
    }

    /// The settings the server was made with.
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// What the server has done so far.
    pub fn stats(&self) -> ServerStats {
        self.shared.stats.get()
    }

    /// The diagnostics counters and comm event log, as diagnostics (function code 8), get
    /// comm event counter (11) and get comm event log (12) report them.
    ///
    /// # Panics
    ///
    /// If called while the server answers a request (from a [`DataModel`] method).
    pub fn counters(&self) -> DiagnosticCounters {
        self.shared.work.borrow().counters
    }

    /// Counts a frame whose header could not be trusted.
    fn count_broken_frame(&self) {
        self.workspace().counters.broken_frame();
    }

    fn workspace(&self) -> RefMut<'_, Workspace> {
        self.shared.work.borrow_mut()
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

    fn count_requests(&self, n: u64) {
        self.update(|s| s.requests += n);
    }
}
