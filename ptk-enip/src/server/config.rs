//! The settings of a [`Server`](super::Server): [`ServerConfig`], the identity it reports,
//! and the [`ConnectionEvent`]s it reports.

use core::net::{Ipv4Addr, SocketAddr};

use ptk_runtime::{Error, Handle, TcpStream};

use crate::{Identity, Revision};

/// What the server says it is: the Identity object (ListIdentity, Get_Attribute_All and
/// Get_Attribute_Single of class 0x01) and the controller's name (class 0x64).
///
/// The revision matters to clients: pycomm3 addresses controller tags by symbol instance
/// from major revision 21 and asks for the external access attribute from 18.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The vendor id (default 1, Rockwell Automation).
    pub vendor_id: u16,
    /// The device type (default 0x0E, programmable logic controller).
    pub device_type: u16,
    /// The product code (default 0x96).
    pub product_code: u16,
    /// The revision (default 32.11).
    pub revision: Revision,
    /// The status word (default 0x3060: run mode, configured).
    pub status: u16,
    /// The serial number (default 0x00C0FFEE).
    pub serial_number: u32,
    /// The product name, at most 255 bytes (default `1756-L85E/B PTK`; a name starting with
    /// `2080` makes pycomm3 take the device for a Micro800, with no multiple service
    /// packets).
    pub product_name: &'static str,
    /// The state (default 3, operational).
    pub state: u8,
    /// The controller's (program's) name that class 0x64 reports (default `PTK`).
    pub controller_name: &'static str,
}

impl Default for DeviceIdentity {
    fn default() -> Self {
        DeviceIdentity {
            vendor_id: 1,
            device_type: 0x0E,
            product_code: 0x96,
            revision: Revision {
                major: 32,
                minor: 11,
            },
            status: 0x3060,
            serial_number: 0x00C0_FFEE,
            product_name: "1756-L85E/B PTK",
            state: 3,
            controller_name: "PTK",
        }
    }
}

impl DeviceIdentity {
    /// The Identity object's attributes.
    pub fn identity(&self) -> Identity<'static> {
        Identity {
            vendor_id: self.vendor_id,
            device_type: self.device_type,
            product_code: self.product_code,
            revision: self.revision,
            status: self.status,
            serial_number: self.serial_number,
            product_name: self.product_name.as_bytes(),
            state: Some(self.state),
        }
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
        /// How many encapsulation packets it sent.
        requests: u64,
        /// `Ok` when the client closed or unregistered its session, else why the server
        /// closed it: [`Error::Timeout`] after the idle timeout, [`Error::ProtocolError`] for
        /// a packet the stream cannot go on after (see [`Server`](super::Server)),
        /// [`Error::MessageTooLarge`] for a packet longer than `max_packet_len`,
        /// [`Error::Closed`] for a packet cut short, or an I/O error.
        reason: Result<(), Error>,
    },
}

/// How a [`Server`](super::Server) behaves.
///
/// # Examples
///
/// ```
/// use ptk_enip::server::{DeviceIdentity, ServerConfig};
///
/// let config = ServerConfig {
///     max_connections: 16,
///     identity: DeviceIdentity { product_name: "ptk test PLC", ..DeviceIdentity::default() },
///     ..ServerConfig::default()
/// };
/// assert_eq!(config.identity.revision.major, 32);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ServerConfig {
    /// How many TCP connections are served at once (default 64); more are accepted and
    /// closed at once. The loop needs this many protothreads and streams, plus one of each
    /// for the listener and a connection being refused (and one protothread for the UDP
    /// socket, if served).
    pub max_connections: usize,
    /// A connection that sends no complete packet for this long is closed (default
    /// `Some(60_000)`, `None` for never), as is one that waits this long for a pool buffer.
    /// Each waiting connection holds one timer slot.
    pub idle_timeout_ms: Option<u64>,
    /// The longest encapsulation packet taken (default 8,192 bytes: a Large_Forward_Open
    /// connection's 4,048-byte packets, and pycomm3's Write Tag of nearly that size sent
    /// twice over). A longer one is answered with encapsulation status 0x65 (invalid length)
    /// and the connection closes. The loop's pool must have a buffer class this large for
    /// such packets to be read (see [`Server::start`](super::Server::start)).
    pub max_packet_len: usize,
    /// CIP connections (Forward_Open) one session may hold at once (default 4, at most
    /// [`MAX_CIP_CONNECTIONS`](super::MAX_CIP_CONNECTIONS)); more are refused with 0x01 /
    /// 0x0113.
    pub cip_connections_per_session: usize,
    /// The device the server says it is.
    pub identity: DeviceIdentity,
    /// The IPv4 address a ListIdentity reply reports when the socket is bound to
    /// `0.0.0.0` (default `None`: 0.0.0.0 over UDP; over TCP the connection's local address
    /// is always used).
    pub advertised_address: Option<Ipv4Addr>,
    /// Called on the loop's thread when a connection is accepted, refused or closed (default
    /// `None`). A plain `fn`, so reporting allocates nothing.
    pub on_connection: Option<fn(&ConnectionEvent)>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 64,
            idle_timeout_ms: Some(60_000),
            max_packet_len: 8192,
            cip_connections_per_session: 4,
            identity: DeviceIdentity::default(),
            advertised_address: None,
            on_connection: None,
        }
    }
}
