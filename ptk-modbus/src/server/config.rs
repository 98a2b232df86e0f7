//! The settings of a [`Server`](super::Server): [`ServerConfig`], [`UnitIds`], and the
//! [`ConnectionEvent`]s it reports.

use core::net::SocketAddr;

use ptk_runtime::{Error, Handle, TcpStream};

/// The unit ids a server answers. Requests for other unit ids get exception 0x0B (gateway
/// target device failed to respond).
///
/// # Examples
///
/// ```
/// use ptk_modbus::server::UnitIds;
///
/// assert!(UnitIds::any().contains(42));
/// assert!(UnitIds::only(1).contains(1) && !UnitIds::only(1).contains(2));
/// let set = UnitIds::of(&[1, 2, 255]);
/// assert!(set.contains(255) && !set.contains(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitIds {
    bits: [u64; 4],
}

impl UnitIds {
    /// Every unit id (the default: a Modbus/TCP device usually ignores the unit id).
    pub const fn any() -> UnitIds {
        UnitIds {
            bits: [u64::MAX; 4],
        }
    }

    /// Only `id`.
    pub const fn only(id: u8) -> UnitIds {
        UnitIds::none().with(id)
    }

    /// The unit ids in `ids`.
    pub const fn of(ids: &[u8]) -> UnitIds {
        let mut set = UnitIds::none();
        let mut i = 0;
        while i < ids.len() {
            set = set.with(ids[i]);
            i += 1;
        }
        set
    }

    /// No unit id at all.
    pub const fn none() -> UnitIds {
        UnitIds { bits: [0; 4] }
    }

    /// This set and `id`.
    pub const fn with(mut self, id: u8) -> UnitIds {
        self.bits[(id / 64) as usize] |= 1 << (id % 64);
        self
    }

    /// Whether `id` is in the set.
    pub const fn contains(&self, id: u8) -> bool {
        self.bits[(id / 64) as usize] & (1 << (id % 64)) != 0
    }
}

impl Default for UnitIds {
    fn default() -> Self {
        UnitIds::any()
    }
}

/// What happened to a connection, as [`ServerConfig::on_connection`] hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// A connection was accepted and is being served.
    Accepted {
        /// Its stream.
        stream: Handle<TcpStream>,
        /// The client's address.
        peer: SocketAddr,
    },
    /// A connection was refused and closed at once.
    Refused {
        /// The client's address.
        peer: SocketAddr,
        /// Why: [`Error::OutOfResources`] when `max_connections` are open.
        reason: Error,
    },
    /// A served connection was closed.
    Closed {
        /// Its stream (stale from now on).
        stream: Handle<TcpStream>,
        /// The client's address.
        peer: SocketAddr,
        /// How many requests it sent.
        requests: u64,
        /// `Ok` when the client closed, else why the server closed it: [`Error::Timeout`] after
        /// the idle timeout, [`Error::ProtocolError`] or [`Error::MessageTooLarge`] for a
        /// malformed frame, [`Error::Closed`] for a frame cut short, or an I/O error.
        reason: Result<(), Error>,
    },
}

/// How a [`Server`](super::Server) behaves.
///
/// # Examples
///
/// ```
/// use ptk_modbus::server::{ServerConfig, UnitIds};
///
/// let config = ServerConfig {
///     max_connections: 16,
///     idle_timeout_ms: Some(30_000),
///     units: UnitIds::only(1),
///     ..ServerConfig::default()
/// };
/// assert!(config.on_connection.is_none());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// How many connections are served at once (default 64); more are accepted and closed at
    /// once. The loop needs this many protothreads and streams, plus one of each for the
    /// listener and a connection being refused.
    pub max_connections: usize,
    /// A connection that sends no complete request for this long is closed (default
    /// `Some(60_000)`, `None` for never), as is one that waits this long for a buffer of the
    /// loop's pool. Each waiting connection holds one timer slot.
    pub idle_timeout_ms: Option<u64>,
    /// The unit ids served (default [`UnitIds::any`]).
    pub units: UnitIds,
    /// Called on the loop's thread when a connection is accepted, refused or closed (default
    /// `None`). A plain `fn`, so reporting allocates nothing.
    pub on_connection: Option<fn(&ConnectionEvent)>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 64,
            idle_timeout_ms: Some(60_000),
            units: UnitIds::any(),
            on_connection: None,
        }
    }
}
