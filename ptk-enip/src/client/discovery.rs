//! Discovering devices: ListIdentity over UDP to one address or a broadcast address, and the
//! replies collected for a bounded time.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::task::Poll;

use ptk_runtime::{Cx, Error, Handle, UdpSocket};

use super::ClientError;
use crate::limits::{ENCAP_HEADER_LEN, MAX_UNCONNECTED_PACKET_LEN};
use crate::{Command, CommonPacket, Header, IdentityItem, ItemType, Packet, Revision};

/// The sender context of the client's ListIdentity requests.
const CONTEXT: [u8; 8] = *b"ptkfind\0";

/// One device that answered a ListIdentity: where the reply came from and what it says,
/// copied out of the datagram.
///
/// # Examples
///
/// ```
/// use ptk_enip::client::Device;
/// use ptk_enip::{Identity, IdentityItem, Revision, SocketAddress};
///
/// let item = IdentityItem {
///     encapsulation_version: 1,
///     socket: SocketAddress::ipv4([192, 168, 1, 10], 44818),
///     identity: Identity {
///         vendor_id: 1, device_type: 0x0E, product_code: 0x36,
///         revision: Revision { major: 20, minor: 11 }, status: 0x0030,
///         serial_number: 0x1234_5678, product_name: b"1756-L61/B LOGIX5561", state: Some(3),
///     },
/// };
/// let device = Device::new("192.168.1.10:44818".parse().unwrap(), &item);
/// assert_eq!(device.product_name(), b"1756-L61/B LOGIX5561");
/// assert_eq!(
///     device.to_string(),
///     "192.168.1.10:44818 vendor 1 product \"1756-L61/B LOGIX5561\" revision 20.11 serial 0x12345678"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// The address the reply came from.
    pub from: SocketAddr,
    /// The address the device says it accepts encapsulation on (cpppo says 0.0.0.0).
    pub advertised: SocketAddrV4,
    /// The vendor id.
    pub vendor_id: u16,
    /// The device type.
    pub device_type: u16,
    /// The product code.
    pub product_code: u16,
    /// The revision.
    pub revision: Revision,
    /// The status word.
    pub status: u16,
    /// The serial number.
    pub serial_number: u32,
    /// The state byte.
    pub state: Option<u8>,
    name: [u8; 255],
    name_len: u8,
}

impl Device {
    /// The device of a ListIdentity item received from `from`.
    pub fn new(from: SocketAddr, item: &IdentityItem<'_>) -> Device {
        let identity = &item.identity;
        let mut name = [0u8; 255];
        let len = identity.product_name.len().min(255);
        name[..len].copy_from_slice(&identity.product_name[..len]);
        Device {
            from,
            advertised: SocketAddrV4::new(Ipv4Addr::from(item.socket.address), item.socket.port),
            vendor_id: identity.vendor_id,
            device_type: identity.device_type,
            product_code: identity.product_code,
            revision: identity.revision,
            status: identity.status,
            serial_number: identity.serial_number,
            state: identity.state,
            name,
            name_len: len as u8,
        }
    }

    /// The product name.
    pub fn product_name(&self) -> &[u8] {
        &self.name[..usize::from(self.name_len)]
    }
}

/// `ADDRESS vendor V product "NAME" revision MAJOR.MINOR serial 0xSERIAL`.
impl core::fmt::Display for Device {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} vendor {} product \"", self.from, self.vendor_id)?;
        for chunk in self.product_name().utf8_chunks() {
            write!(f, "{}", chunk.valid().escape_debug())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        write!(
            f,
            "\" revision {}.{} serial {:#010x}",
            self.revision.major, self.revision.minor, self.serial_number
        )
    }
}

/// Where a discovery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing sent yet.
    Idle,
    /// The request is being sent; replies are collected until `deadline`.
    Sending {
        socket: Handle<UdpSocket>,
        deadline: u64,
    },
    /// Collecting replies until `deadline`.
    Collecting {
        socket: Handle<UdpSocket>,
        deadline: u64,
    },
    /// The time is up; the socket is closed.
    Done,
}

/// A ListIdentity discovery: one request over UDP to `target` (a device's address, or a
/// broadcast address such as `255.255.255.255:44818`), then every reply that comes within
/// `window_ms`, one per [`poll_next`](Discovery::poll_next).
///
/// # Examples
///
/// Nobody answers on an unused port: the discovery ends empty after its window.
///
/// ```
/// use ptk_enip::client::{ClientError, Device, Discovery};
/// use ptk_macros::protothread;
/// use ptk_runtime::{Capacities, Config, Cx, EventLoop, OwnedStorage, Pt};
///
/// struct Job { pt: Pt, discovery: Discovery, found: Vec<Device>, outcome: Option<Result<(), ClientError>> }
///
/// #[protothread(crate = ::ptk_runtime)]
/// fn job(ctx: &mut Job, cx: &mut Cx<'_>) {
///     loop {
///         match pt_await!(ctx.discovery.poll_next(cx)) {
///             Ok(Some(device)) => ctx.found.push(device),
///             Ok(None) => break,
///             Err(e) => { ctx.outcome = Some(Err(e)); break; }
///         }
///     }
///     ctx.outcome.get_or_insert(Ok(()));
///     cx.stop();
/// }
///
/// let port = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
/// let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));
/// let mut memory = OwnedStorage::new(Capacities::default());
/// let mut jobs = [Job { pt: Pt::new(), discovery: Discovery::new(target, 100), found: Vec::new(), outcome: None }];
/// let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
/// let pool = ev.add_protothreads(&mut jobs)?;
/// ev.cx().spawn_with(pool, |_| {})?;
/// ev.run()?;
/// drop(ev);
/// assert_eq!(jobs[0].outcome, Some(Ok(())));
/// assert!(jobs[0].found.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Discovery {
    target: SocketAddr,
    window_ms: u64,
    state: State,
    buf: [u8; MAX_UNCONNECTED_PACKET_LEN],
}

impl Discovery {
    /// A discovery of the devices at `target` that answer within `window_ms`.
    pub const fn new(target: SocketAddr, window_ms: u64) -> Discovery {
        Discovery {
            target,
            window_ms,
            state: State::Idle,
            buf: [0; MAX_UNCONNECTED_PACKET_LEN],
        }
    }

    /// Sends the request on the first call, then waits for the next reply: `Some(device)`
    /// for each, `None` once the window is over (the socket is then closed). Replies that are
    /// not ListIdentity replies are skipped.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] when the socket cannot be bound or the request not sent (the
    /// socket is closed).
    pub fn poll_next(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<Device>, ClientError>> {
        let r = self.poll_step(cx);
        if r.is_ready() {
            let _ = cx.set_deadline(None);
        }
        r
    }

    fn poll_step(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<Device>, ClientError>> {
        loop {
            match self.state {
                State::Done => return Poll::Ready(Ok(None)),
                State::Idle => {
                    let local = SocketAddr::from(([0, 0, 0, 0], 0));
                    let socket = match cx.udp_bind(local) {
                        Ok(socket) => socket,
                        Err(e) => return Poll::Ready(Err(ClientError::Io(e))),
                    };
                    // A broadcast target needs it; a unicast one is not hurt by it.
                    let _ = cx.set_broadcast(socket, true);
                    let deadline = cx.after_ms(self.window_ms);
                    self.state = State::Sending { socket, deadline };
                }
                State::Sending { socket, deadline } => {
                    let mut request = [0u8; ENCAP_HEADER_LEN];
                    let header = Header {
                        sender_context: CONTEXT,
                        ..Header::request(Command::LIST_IDENTITY, 0)
                    };
                    let _ = header.emit(&mut request, 0);
                    match cx.send_to(socket, &request, self.target) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(_)) => self.state = State::Collecting { socket, deadline },
                        Poll::Ready(Err(e)) => {
                            self.close(cx);
                            return Poll::Ready(Err(ClientError::Io(e)));
                        }
                    }
                }
                State::Collecting { socket, deadline } => {
                    if cx.now_ms() >= deadline {
                        self.close(cx);
                        continue;
                    }
                    if let Err(e) = cx.set_deadline(Some(deadline)) {
                        return Poll::Ready(Err(ClientError::Io(e)));
                    }
                    match cx.recv_from(socket, &mut self.buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok((n, from))) => {
                            if let Some(device) = identity(&self.buf[..n], from) {
                                return Poll::Ready(Ok(Some(device)));
                            }
                        }
                        // The window is over (checked above), or a datagram too long to be
                        // a reply: go on.
                        Poll::Ready(Err(Error::Timeout | Error::MessageTooLarge)) => {}
                        // An ICMP port unreachable from a unicast target: nobody is there.
                        Poll::Ready(Err(Error::ConnectionRefused)) => self.close(cx),
                        Poll::Ready(Err(e)) => {
                            self.close(cx);
                            return Poll::Ready(Err(ClientError::Io(e)));
                        }
                    }
                }
            }
        }
    }

    /// Closes the socket; the discovery gives no more devices.
    pub fn close(&mut self, cx: &mut Cx<'_>) {
        if let State::Sending { socket, .. } | State::Collecting { socket, .. } = self.state {
            let _ = cx.close(socket.raw());
        }
        self.state = State::Done;
    }
}

/// The device of a ListIdentity reply, or `None` for any other datagram.
fn identity(datagram: &[u8], from: SocketAddr) -> Option<Device> {
    let packet = Packet::new_checked(datagram).ok()?;
    if packet.command() != Command::LIST_IDENTITY || !packet.status().is_success() {
        return None;
    }
    let items = CommonPacket::new_checked(packet.into_data()).ok()?;
    let item = items
        .items()
        .find(|item| item.type_id == ItemType::LIST_IDENTITY)?;
    let item = IdentityItem::parse(item.data).ok()?;
    Some(Device::new(from, &item))
}
