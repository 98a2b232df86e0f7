//! The UDP side of a server: ListIdentity (and ListServices, ListInterfaces) datagrams on
//! the socket bound to the server's port, which clients broadcast to to discover devices.
//!
//! Each reply echoes the request's sender context (pylogix keeps only replies that do) and
//! reports the socket's address and port; other commands are not answered over UDP, as the
//! specification says.

use core::net::{Ipv4Addr, SocketAddr};
use core::task::Poll;

use ptk_runtime::{ptk_debug, Cx, Error, Handle, Pt, UdpSocket};

use super::session::{list_identity_data, list_interfaces_data, list_services_data};
use super::{Server, TagTable};
use crate::limits::{ENCAP_HEADER_LEN, MAX_UNCONNECTED_PACKET_LEN};
use crate::{Command, EncapStatus, Header, Packet};

/// The longest datagram read: a ListIdentity request is a bare header; longer ones are
/// discarded.
const DATAGRAM_LEN: usize = MAX_UNCONNECTED_PACKET_LEN;

/// The longest reply: a ListIdentity item with a 255-byte product name.
const REPLY_LEN: usize = ENCAP_HEADER_LEN + 6 + 34 + 255 + 1;

/// The context of the UDP protothread.
pub(crate) struct Discovery<T: 'static> {
    pt: Pt,
    server: Option<Server<T>>,
    socket: Option<Handle<UdpSocket>>,
    local: SocketAddr,
    datagram: [u8; DATAGRAM_LEN],
    reply: [u8; REPLY_LEN],
    /// The length of the reply to send to `peer`, 0 for none.
    reply_len: usize,
    peer: SocketAddr,
}

impl<T: 'static> Discovery<T> {
    pub(crate) fn new() -> Discovery<T> {
        let nowhere = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        Discovery {
            pt: Pt::new(),
            server: None,
            socket: None,
            local: nowhere,
            datagram: [0; DATAGRAM_LEN],
            reply: [0; REPLY_LEN],
            reply_len: 0,
            peer: nowhere,
        }
    }

    pub(crate) fn open(&mut self, server: Server<T>, socket: Handle<UdpSocket>, local: SocketAddr) {
        self.server = Some(server);
        self.socket = Some(socket);
        self.local = local;
        self.reply_len = 0;
    }

    fn socket(&self) -> Result<Handle<UdpSocket>, Error> {
        self.socket.ok_or(Error::InvalidHandle)
    }

    /// Receives one datagram and builds its reply (`reply_len` 0 when it gets none).
    fn poll_receive(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let socket = match self.socket() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.reply_len = 0;
        match cx.recv_from(socket, &mut self.datagram) {
            Poll::Ready(Ok((n, peer))) => {
                self.peer = peer;
                self.reply_len = self.build_reply(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(Error::InvalidHandle)) => Poll::Ready(Err(Error::InvalidHandle)),
            Poll::Ready(Err(e)) => {
                // Too long for a request, or an error a UDP socket reports for an earlier
                // datagram: nothing to answer, the socket goes on.
                ptk_debug!("enip server: UDP datagram not answered: {e}");
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn build_reply(&mut self, n: usize) -> usize {
        let Some(server) = &self.server else {
            return 0;
        };
        let Ok(packet) = Packet::new_checked(&self.datagram[..n]) else {
            return 0;
        };
        let header = Header::parse(&packet);
        if header.options != 0 {
            return 0;
        }
        let config = server.config();
        let body = &mut self.reply[ENCAP_HEADER_LEN..];
        let len = match header.command {
            Command::LIST_IDENTITY => list_identity_data(config, self.local, body),
            Command::LIST_SERVICES => list_services_data(body),
            Command::LIST_INTERFACES => list_interfaces_data(body),
            _ => return 0,
        };
        server.update(|s| s.datagrams += 1);
        match header
            .reply(EncapStatus::SUCCESS)
            .emit(&mut self.reply, len)
        {
            Ok(head) => head + len,
            Err(_) => 0,
        }
    }

    fn poll_reply(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        match self.socket() {
            Ok(socket) => cx.send_to(socket, &self.reply[..self.reply_len], self.peer),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// Answers datagrams until the socket is closed.
#[ptk_macros::protothread(crate = ::ptk_runtime)]
pub(crate) fn answer_datagrams<T: TagTable + 'static>(
    ctx: &mut Discovery<T>,
    cx: &mut Cx<'_>,
) -> Result<(), Error> {
    loop {
        let received = pt_await!(ctx.poll_receive(cx));
        if let Err(e) = received {
            return Err(e);
        }
        if ctx.reply_len > 0 {
            let sent = pt_await!(ctx.poll_reply(cx));
            if let Err(e) = sent {
                ptk_debug!("enip server: UDP reply to {} not sent: {e}", ctx.peer);
            }
        }
    }
}
