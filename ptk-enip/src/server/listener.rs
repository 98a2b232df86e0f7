//! The listening side of a server: the protothread that accepts connections, the memory
//! every protothread runs in, and [`Server::start`].

use core::net::SocketAddr;
use core::task::Poll;

use std::boxed::Box;

use ptk_runtime::{
    kind, ptk_info, ptk_warn, Capacity, Cx, Error, EventLoop, Handle, Pt, PtPool, TcpListener,
    TcpStream, UdpSocket,
};

use super::connection::Connection;
use super::discovery::Discovery;
use super::{ConnectionEvent, Server, ServerConfig, TagTable, REPLY_BUFFER_LEN};

/// The context of the accepting protothread.
pub(crate) struct Acceptor<T: 'static> {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    connections: Option<PtPool<Connection<T>>>,
    server: Option<Server<T>>,
    /// Connections refused since the last one admitted: an episode, logged when it starts
    /// and when it ends rather than once per connection.
    refusing: u64,
}

impl<T: 'static> Acceptor<T> {
    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, SocketAddr), Error>> {
        match self.listener {
            Some(listener) => cx.accept(listener),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

impl<T: TagTable + 'static> Acceptor<T> {
    /// Starts a connection's protothread, or refuses and closes the connection.
    fn admit(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>, peer: SocketAddr) {
        let (Some(server), Some(pool)) = (&self.server, self.connections) else {
            let _ = cx.close(stream.raw());
            return;
        };
        let local = cx.local_addr(stream.raw()).unwrap_or(peer);
        let spawned = if server.stats().open >= server.config().max_connections {
            Err(Error::OutOfResources(Capacity::Protothreads))
        } else {
            cx.spawn_with(pool, |c: &mut Connection<T>| {
                c.open(server.clone(), stream, peer, local)
            })
        };
        match spawned {
            Ok(_) => {
                if self.refusing > 0 {
                    ptk_info!(
                        "enip server: accepting connections again after refusing {}",
                        self.refusing
                    );
                    self.refusing = 0;
                }
                server.opened(&ConnectionEvent::Accepted { stream, peer });
            }
            Err(reason) => {
                let _ = cx.close(stream.raw());
                if self.refusing == 0 {
                    ptk_warn!(
                        "enip server: refusing connections ({} open, {} at most), starting with \
                         {peer}: {reason}",
                        server.stats().open,
                        server.config().max_connections
                    );
                }
                self.refusing += 1;
                server.refused(&ConnectionEvent::Refused { peer, reason });
            }
        }
    }
}

/// Accepts connections until the listener is closed.
#[ptk_macros::protothread(crate = ::ptk_runtime)]
pub(crate) fn accept_connections<T: TagTable + 'static>(
    ctx: &mut Acceptor<T>,
    cx: &mut Cx<'_>,
) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        match accepted {
            Ok((stream, peer)) => ctx.admit(cx, stream, peer),
            // The listener is gone: the server stops accepting.
            Err(Error::InvalidHandle) => return Err(Error::InvalidHandle),
            // The runtime accepted and closed one connection it had no room for; the
            // listener goes on.
            Err(_) => {
                if let Some(server) = &ctx.server {
                    server.count_refused();
                }
            }
        }
    }
}

/// The memory a server's protothreads run in: one context per connection, the accepting
/// protothread's and the UDP socket's, made once by [`ServerStorage::new`] and lent to the
/// loop by [`Server::start`].
///
/// A connection's context holds its session and CIP connections, no buffer (about 250
/// bytes on a 64-bit target); packets are in buffers of the loop's pool.
pub struct ServerStorage<T: 'static> {
    connections: Box<[Connection<T>]>,
    acceptor: [Acceptor<T>; 1],
    discovery: [Discovery<T>; 1],
}

impl<T: TagTable + 'static> ServerStorage<T> {
    /// Contexts for `config.max_connections` connections (the one allocation of a server
    /// besides its request buffer).
    pub fn new(config: &ServerConfig) -> ServerStorage<T> {
        ServerStorage {
            connections: (0..config.max_connections)
                .map(|_| Connection::new())
                .collect(),
            acceptor: [Acceptor {
                pt: Pt::new(),
                listener: None,
                connections: None,
                server: None,
                refusing: 0,
            }],
            discovery: [Discovery::new()],
        }
    }

    /// How many connections the storage holds.
    pub fn max_connections(&self) -> usize {
        self.connections.len()
    }
}

impl<T: 'static> core::fmt::Debug for ServerStorage<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerStorage")
            .field("max_connections", &self.connections.len())
            .finish()
    }
}

impl<T: TagTable + 'static> Server<T> {
    /// Serves `listener` and, if given, ListIdentity on `udp` (a socket bound to the same
    /// address and port, as clients broadcast to it) on `ev`: lends `storage` to the loop
    /// as protothread pools and spawns the accepting protothread (which spawns one
    /// protothread per connection) and the UDP one. Returns the accepting protothread's
    /// handle; [`kill`](ptk_runtime::Cx::kill) it (or close the listener) to stop accepting.
    ///
    /// The loop needs room for `max_connections + 2` protothreads
    /// ([`Config::protothreads`](ptk_runtime::Config::protothreads)), `max_connections + 1`
    /// streams (the extra one for a connection being refused) and, with an idle timeout,
    /// `max_connections` timers.
    ///
    /// # Buffers
    ///
    /// Packets are read into, and replies sent from, the loop's buffer pool: its small
    /// buffers must hold the largest reply, [`REPLY_BUFFER_LEN`] (4,048) bytes, and there
    /// must be at least 2. A connection holds none while idle, and one for a packet and its
    /// reply (the buffer the packet was read into takes the reply; a client that pipelines
    /// makes it two). A request longer than a small buffer (pycomm3 sends Write Tag requests of
    /// nearly twice the connection size) needs a large buffer of up to
    /// [`max_packet_len`](ServerConfig::max_packet_len) bytes; without one the connection
    /// closes with [`Error::MessageTooLarge`]. With `max_connections` small buffers no
    /// connection waits for one; with fewer, reads wait for a free buffer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `storage` holds fewer connections than
    /// `max_connections`, or the loop's pool has fewer than 2 small buffers or small buffers
    /// of fewer than [`REPLY_BUFFER_LEN`] bytes; [`Error::OutOfResources`] when the loop
    /// cannot hold the pools.
    pub fn start<'s, A: 'static>(
        &self,
        ev: &mut EventLoop<'s, A>,
        listener: Handle<TcpListener>,
        udp: Option<Handle<UdpSocket>>,
        storage: &'s mut ServerStorage<T>,
    ) -> Result<Handle<kind::Protothread>, Error> {
        let pool = ev.buffer_stats();
        if storage.connections.len() < self.config().max_connections
            || pool.small_capacity < 2
            || pool.small_size < REPLY_BUFFER_LEN
        {
            return Err(Error::InvalidArgument);
        }
        let ServerStorage {
            connections,
            acceptor,
            discovery,
        } = storage;
        let connections = ev.add_protothreads(&mut connections[..])?;
        let acceptor = ev.add_protothreads(&mut acceptor[..])?;
        if let Some(socket) = udp {
            let discovery = ev.add_protothreads(&mut discovery[..])?;
            let local = ev.local_addr(socket.raw())?;
            ev.cx().spawn_with(discovery, |d: &mut Discovery<T>| {
                d.open(self.clone(), socket, local)
            })?;
        }
        ev.cx().spawn_with(acceptor, |a: &mut Acceptor<T>| {
            a.listener = Some(listener);
            a.connections = Some(connections);
            a.server = Some(self.clone());
            a.refusing = 0;
        })
    }
}
