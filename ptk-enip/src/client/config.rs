//! The settings of a [`Client`](super::Client) and the route to its target.

use core::fmt;

use crate::limits::{DEFAULT_CONNECTION_SIZE, DEFAULT_LARGE_CONNECTION_SIZE};
use crate::{Epath, RoutePath};

/// The longest route a [`Route`] holds, in bytes of EPATH (a few hops with IP addresses).
pub const MAX_ROUTE_LEN: usize = 64;

/// The route from the device the client connects to, to the target of its requests: the
/// port segments of `1,0` (backplane, slot 0), kept encoded so a [`ClientConfig`] stays
/// `Copy` and allocation-free.
///
/// # Examples
///
/// ```
/// use ptk_enip::client::Route;
///
/// let route = Route::parse("1,0")?;
/// assert_eq!(route.as_epath().as_bytes(), &[0x01, 0x00]);
/// assert_eq!(route, Route::BACKPLANE_SLOT_0);
/// assert!(Route::parse("").unwrap().as_epath().is_empty());
/// # Ok::<(), ptk_enip::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    bytes: [u8; MAX_ROUTE_LEN],
    len: u8,
}

impl Route {
    /// No route: the device the client connects to is the target (CompactLogix, Micro800,
    /// most simulators).
    pub const DIRECT: Route = Route {
        bytes: [0; MAX_ROUTE_LEN],
        len: 0,
    };

    /// `1,0`: out of the backplane port to slot 0, where a ControlLogix controller usually
    /// sits. The default, as in pylogix and pycomm3.
    pub const BACKPLANE_SLOT_0: Route = {
        let mut bytes = [0; MAX_ROUTE_LEN];
        bytes[0] = 0x01;
        Route { bytes, len: 2 }
    };

    /// Parses a route in the text form of [`RoutePath`] (`1,0`, `1,2,2,192.168.1.10,1,0`).
    ///
    /// # Errors
    ///
    /// The errors of [`RoutePath::parse`]; [`Error::BufferTooSmall`](crate::Error) for a
    /// route longer than [`MAX_ROUTE_LEN`] bytes.
    pub fn parse(text: &str) -> crate::Result<Route> {
        let mut route = Route::DIRECT;
        let n = RoutePath::parse(text)?.emit(&mut route.bytes)?;
        route.len = n as u8;
        Ok(route)
    }

    /// The route's EPATH.
    pub fn as_epath(&self) -> Epath<'_> {
        // The bytes were emitted by `RoutePath::emit`: they are a valid path.
        Epath::new_checked(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Route({:02X?})", &self.bytes[..usize::from(self.len)])
    }
}

impl Default for Route {
    fn default() -> Route {
        Route::BACKPLANE_SLOT_0
    }
}

/// The settings of a [`Client`](super::Client).
///
/// # Examples
///
/// ```
/// use ptk_enip::client::{ClientConfig, Route};
///
/// let config = ClientConfig { route: Route::DIRECT, request_timeout_ms: 500, ..ClientConfig::default() };
/// assert_eq!(config.connection_size, 4000);
/// assert_eq!(config.connect_timeout_ms, 3_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The route to the target (default `1,0`).
    pub route: Route,
    /// The connection size asked for in the Large_Forward_Open (default 4000, at most 4002):
    /// the largest request and reply message on the connection.
    pub connection_size: u16,
    /// The connection size asked for in the Forward_Open sent when the target refuses the
    /// Large_Forward_Open (default 504, at most 511).
    pub small_connection_size: u16,
    /// Whether to open a connection at all (default true); false sends every request
    /// unconnected (SendRRData), as the client does when the target refuses both opens.
    pub connected: bool,
    /// The vendor id of the connection triad (default 0x1337).
    pub vendor_id: u16,
    /// The originator serial number of the connection triad (default: derived from the
    /// process id, so two clients on one host differ).
    pub originator_serial: u32,
    /// How long a connect, with its RegisterSession and Forward_Open, may take (default
    /// 3,000 ms).
    pub connect_timeout_ms: u64,
    /// How long a request waits for its answer (default 2,000 ms).
    pub request_timeout_ms: u64,
    /// The wait before reconnecting after the first failure (default 100 ms); it doubles with
    /// every failure in a row, up to `max_backoff_ms`, and starts over once connected.
    pub min_backoff_ms: u64,
    /// The longest wait before reconnecting (default 10,000 ms).
    pub max_backoff_ms: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            route: Route::BACKPLANE_SLOT_0,
            connection_size: DEFAULT_LARGE_CONNECTION_SIZE,
            small_connection_size: DEFAULT_CONNECTION_SIZE,
            connected: true,
            vendor_id: 0x1337,
            originator_serial: 0x5054_4B00 ^ std::process::id(),
            connect_timeout_ms: 3_000,
            request_timeout_ms: 2_000,
            min_backoff_ms: 100,
            max_backoff_ms: 10_000,
        }
    }
}
