//! Setting up a session: TCP, RegisterSession, then Large_Forward_Open, Forward_Open or
//! unconnected messaging, whichever the target accepts first.

use core::sync::atomic::{AtomicU16, Ordering};
use core::task::Poll;

use ptk_runtime::{Cx, Error};

use super::{Client, ClientError, CONNECTION_MANAGER, MESSAGE_ROUTER};
use crate::limits::{MAX_EPATH_LEN, MAX_LARGE_CONNECTION_SIZE};
use crate::{
    Command, ConnectionTriad, Epath, ForwardOpen, ForwardOpenReply, Header, MessageRequest,
    MessageResponse, NetworkParameters, Packet, PathBuilder, RegisterSession, SendData,
};

/// How the session sends CIP requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Messaging {
    /// On a class 3 connection, in SendUnitData.
    Connected {
        /// The id the target picked, which every request carries.
        o_t_id: u32,
        /// The connection size the target granted.
        size: u16,
    },
    /// In SendRRData, through Unconnected_Send when the route is not empty.
    Unconnected,
}

/// The connection serial number of the next Forward_Open of any client of this process.
///
/// A target refuses a Forward_Open whose connection triad (connection serial, vendor id,
/// originator serial) is one of its open connections' (status 0x01 / 0x0100), and every
/// client of a process has the same vendor id and, by default, originator serial: the
/// connection serial alone must tell their connections apart, so the clients of a process
/// take it from one counter (never 0, which some targets read as "no connection").
fn next_connection_serial() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(1);
    loop {
        let serial = NEXT.fetch_add(1, Ordering::Relaxed);
        if serial != 0 {
            return serial;
        }
    }
}

/// Where the session set-up is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No TCP connection, or not yet registered.
    Closed,
    /// RegisterSession sent; its reply is due by `deadline`.
    Registering { deadline: u64 },
    /// A (Large_)Forward_Open sent; its reply is due by `deadline`.
    Opening { large: bool, deadline: u64 },
    /// Requests may go.
    Ready,
}

/// The session with the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) phase: Phase,
    pub(crate) handle: u32,
    pub(crate) messaging: Messaging,
    /// The connection serial number of the last Forward_Open.
    serial: u16,
}

impl Session {
    pub(crate) const CLOSED: Session = Session {
        phase: Phase::Closed,
        handle: 0,
        messaging: Messaging::Unconnected,
        serial: 0,
    };
}

/// The RPI asked for in both directions, in microseconds (what pycomm3 asks for).
const RPI_US: u32 = 2_113_537;
/// The connection timeout multiplier: 4 << 7 RPIs, about 18 minutes without traffic.
const TIMEOUT_MULTIPLIER: u8 = 7;
/// Transport class 3, application trigger, server.
const TRANSPORT_CLASS_3: u8 = 0xA3;

impl<const N: usize> Client<N> {
    /// Connects and sets up the session, waiting for the backoff first if the last attempt
    /// or connection failed. The requests connect by themselves; this is for connecting
    /// ahead of them.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] with the connect's error ([`Error::Timeout`] after
    /// [`ClientConfig::connect_timeout_ms`](super::ClientConfig::connect_timeout_ms),
    /// [`Error::ConnectionRefused`], ...); [`ClientError::Encapsulation`] when the target
    /// refuses the session; [`ClientError::Protocol`] for a reply that is not one.
    pub fn poll_connect(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), ClientError>> {
        loop {
            match self.session.phase {
                Phase::Ready => {
                    if self.peer_closed_while_idle(cx) {
                        continue;
                    }
                    return Poll::Ready(Ok(()));
                }
                Phase::Closed => {
                    match self.link.poll_connect(cx, self.config.connect_timeout_ms) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            ptk_runtime::ptk_info!(
                                "enip client: cannot connect to {}: {e} (next try in {} ms)",
                                self.link.addr,
                                self.link.backoff_ms()
                            );
                            return Poll::Ready(Err(ClientError::Io(e)));
                        }
                        Poll::Ready(Ok(_)) => {}
                    }
                    self.fail_all(ClientError::Io(Error::Closed));
                    let header = Header::request(Command::REGISTER_SESSION, 0);
                    let n = header.emit_packet(&mut self.tx, RegisterSession::LEN, |data| {
                        RegisterSession::V1.emit(data)
                    });
                    self.queue_setup(n);
                    self.session.phase = Phase::Registering {
                        deadline: cx.after_ms(self.config.connect_timeout_ms),
                    };
                }
                Phase::Registering { deadline } => {
                    let len = match self.poll_setup_reply(cx, deadline) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(len)) => len,
                    };
                    let reply = registered(&self.rx[..len]);
                    self.consume(len);
                    match reply {
                        Ok(handle) => self.session.handle = handle,
                        Err(e) => return Poll::Ready(Err(self.setup_failed(cx, e))),
                    }
                    if self.config.connected {
                        self.send_forward_open(cx, true);
                    } else {
                        self.ready(Messaging::Unconnected);
                    }
                }
                Phase::Opening { large, deadline } => {
                    let len = match self.poll_setup_reply(cx, deadline) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(len)) => len,
                    };
                    let reply = opened(&self.rx[..len]);
                    self.consume(len);
                    match reply {
                        Ok(Some(o_t_id)) => {
                            let size = self.asked_size(large);
                            self.ready(Messaging::Connected { o_t_id, size });
                        }
                        Ok(None) if large => self.send_forward_open(cx, false),
                        Ok(None) => self.ready(Messaging::Unconnected),
                        Err(e) => return Poll::Ready(Err(self.setup_failed(cx, e))),
                    }
                }
            }
        }
    }

    fn ready(&mut self, messaging: Messaging) {
        ptk_runtime::ptk_info!(
            "enip client: session {:#010x} with {} ready: {messaging:?}",
            self.session.handle,
            self.link.addr
        );
        self.session.messaging = messaging;
        self.session.phase = Phase::Ready;
        self.link.established();
    }

    /// Queues a set-up packet of the `n` bytes at the start of the send buffer.
    fn queue_setup(&mut self, n: crate::Result<usize>) {
        // The set-up packets are a few dozen bytes: they always fit.
        self.tx_len = n.unwrap_or(0);
        self.written = 0;
        self.requests_sent += 1;
    }

    /// The connection size a Large_Forward_Open (`large`) or Forward_Open asks for.
    fn asked_size(&self, large: bool) -> u16 {
        if large {
            self.config.connection_size.min(MAX_LARGE_CONNECTION_SIZE)
        } else {
            self.config
                .small_connection_size
                .min(crate::limits::MAX_CONNECTION_SIZE)
        }
    }

    /// Whether the target closed the connection while no request was in flight (a
    /// controller's or server's idle timeout): then the session is reset, with no backoff
    /// since nothing failed, and the caller connects again before its request instead of
    /// sending it into a closed stream. Costs no system call unless the stream became
    /// readable: the loop answers a read of a drained stream from its readiness flag.
    fn peer_closed_while_idle(&mut self, cx: &mut Cx<'_>) -> bool {
        if self.in_flight() != 0 {
            return false;
        }
        let Some(stream) = self.link.stream() else {
            return false;
        };
        match cx.read(stream, &mut self.rx[self.rx_len..]) {
            Poll::Pending | Poll::Ready(Err(Error::Timeout)) => false,
            Poll::Ready(Ok(0)) => {
                ptk_runtime::ptk_info!(
                    "enip client: {} closed the idle connection; connecting again",
                    self.link.addr
                );
                self.link.close(cx);
                self.session = Session::CLOSED;
                true
            }
            // Bytes nobody asked for (a late reply to a request that timed out): routed,
            // which drops them.
            Poll::Ready(Ok(n)) => {
                self.rx_len += n;
                self.route(cx);
                false
            }
            Poll::Ready(Err(e)) => {
                self.fail_link(cx, ClientError::Io(e));
                false
            }
        }
    }

    /// Queues a Large_Forward_Open (`large`) or a Forward_Open.
    fn send_forward_open(&mut self, cx: &mut Cx<'_>, large: bool) {
        let serial = next_connection_serial();
        self.session.serial = serial;
        let size = self.asked_size(large);
        let mut path_buf = [0u8; MAX_EPATH_LEN];
        let route = self.config.route;
        let connection_path = {
            let mut path = PathBuilder::new(&mut path_buf);
            for segment in route.as_epath().segments() {
                let _ = path.push(&segment);
            }
            let router = Epath::new_checked(&MESSAGE_ROUTER).unwrap_or_default();
            for segment in router.segments() {
                let _ = path.push(&segment);
            }
            path.finish()
        };
        let open = ForwardOpen {
            large,
            priority_tick: 0x0A,
            timeout_ticks: 0x05,
            o_t_connection_id: 0,
            t_o_connection_id: 0x5054_0000 | u32::from(serial),
            triad: ConnectionTriad {
                connection_serial: serial,
                vendor_id: self.config.vendor_id,
                originator_serial: self.config.originator_serial,
            },
            timeout_multiplier: TIMEOUT_MULTIPLIER,
            o_t_rpi: RPI_US,
            o_t_parameters: NetworkParameters::explicit(size),
            t_o_rpi: RPI_US,
            t_o_parameters: NetworkParameters::explicit(size),
            transport: TRANSPORT_CLASS_3,
            connection_path,
        };
        let cm = Epath::new_checked(&CONNECTION_MANAGER).unwrap_or_default();
        let message_len = MessageRequest::header_len(&cm) + open.buffer_len();
        let header = Header::request(Command::SEND_RR_DATA, self.session.handle);
        let n = header.emit_packet(&mut self.tx, SendData::unconnected_len(message_len), |d| {
            SendData::emit_unconnected(0, message_len, d, |m| {
                let at = MessageRequest::emit_header(open.service(), &cm, m)?;
                Ok(at + open.emit(&mut m[at..])?)
            })
        });
        self.queue_setup(n);
        self.session.phase = Phase::Opening {
            large,
            deadline: cx.after_ms(self.config.connect_timeout_ms),
        };
    }

    /// Writes the set-up packet and waits for one whole packet in reply; returns its length.
    fn poll_setup_reply(
        &mut self,
        cx: &mut Cx<'_>,
        deadline: u64,
    ) -> Poll<Result<usize, ClientError>> {
        loop {
            if cx.now_ms() >= deadline {
                let _ = cx.set_deadline(None);
                return Poll::Ready(Err(self.setup_failed(cx, ClientError::Timeout)));
            }
            if let Err(e) = cx.set_deadline(Some(deadline)) {
                return Poll::Ready(Err(ClientError::Io(e)));
            }
            match self.poll_flush(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(ClientError::Io(Error::Timeout))) => continue,
                Poll::Ready(Err(e)) => {
                    let _ = cx.set_deadline(None);
                    self.session = Session::CLOSED;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) => {}
            }
            match Packet::check_len(&self.rx[..self.rx_len]) {
                Ok(needed) if needed <= self.rx_len => {
                    let _ = cx.set_deadline(None);
                    return Poll::Ready(Ok(needed));
                }
                Ok(needed) if needed > self.rx.len() => {
                    let _ = cx.set_deadline(None);
                    let e = ClientError::ReplyTooLarge { len: needed };
                    return Poll::Ready(Err(self.setup_failed(cx, e)));
                }
                Ok(_) | Err(crate::Error::Incomplete { .. }) => {}
                Err(e) => {
                    let _ = cx.set_deadline(None);
                    return Poll::Ready(Err(self.setup_failed(cx, ClientError::Protocol(e))));
                }
            }
            let Some(stream) = self.link.stream() else {
                self.session = Session::CLOSED;
                return Poll::Ready(Err(ClientError::Io(Error::NotConnected)));
            };
            match cx.read(stream, &mut self.rx[self.rx_len..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(Error::Timeout)) => {}
                Poll::Ready(Err(e)) => {
                    let _ = cx.set_deadline(None);
                    return Poll::Ready(Err(self.setup_failed(cx, ClientError::Io(e))));
                }
                Poll::Ready(Ok(0)) => {
                    let _ = cx.set_deadline(None);
                    let e = ClientError::Io(Error::Closed);
                    return Poll::Ready(Err(self.setup_failed(cx, e)));
                }
                Poll::Ready(Ok(n)) => self.rx_len += n,
            }
        }
    }

    /// Closes the connection after a failed set-up and gives back `e`.
    fn setup_failed(&mut self, cx: &mut Cx<'_>, e: ClientError) -> ClientError {
        self.fail_link(cx, e);
        e
    }
}

/// The session handle of a RegisterSession reply.
fn registered(packet: &[u8]) -> Result<u32, ClientError> {
    let packet = Packet::new_checked(packet).map_err(ClientError::Protocol)?;
    if !packet.status().is_success() {
        return Err(ClientError::Encapsulation(packet.status()));
    }
    if packet.command() != Command::REGISTER_SESSION {
        return Err(ClientError::Protocol(crate::Error::Malformed(
            crate::Violation::UnknownCommand,
        )));
    }
    RegisterSession::parse(packet.data()).map_err(ClientError::Protocol)?;
    Ok(packet.session_handle())
}

/// The O->T connection id of a Forward_Open reply (the target granted the size asked for:
/// the reply does not repeat it), or `None` when the target refused the open with a CIP
/// status (the next way to try comes next).
fn opened(packet: &[u8]) -> Result<Option<u32>, ClientError> {
    let packet = Packet::new_checked(packet).map_err(ClientError::Protocol)?;
    if !packet.status().is_success() {
        return Err(ClientError::Encapsulation(packet.status()));
    }
    let data = SendData::parse(packet.into_data()).map_err(ClientError::Protocol)?;
    let message = data.unconnected().map_err(ClientError::Protocol)?;
    let reply = MessageResponse::parse(message).map_err(ClientError::Protocol)?;
    if !reply.status.is_success() {
        ptk_runtime::ptk_info!(
            "enip client: forward open refused: {}",
            super::cip_error(&reply)
        );
        return Ok(None);
    }
    let open = ForwardOpenReply::parse(reply.data).map_err(ClientError::Protocol)?;
    Ok(Some(open.o_t_connection_id))
}
