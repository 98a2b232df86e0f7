//! The listening side of a server: the protothread that accepts connections and the memory
//! every connection's protothread runs in.

use core::net::SocketAddr;
use core::task::Poll;

use std::boxed::Box;

use ptk_runtime::{
    kind, ptk_info, ptk_warn, Capacity, Cx, Error, EventLoop, Handle, Pt, PtPool, TcpListener,
    TcpStream,
};

use super::connection::Connection;
use super::{ConnectionEvent, DataModel, Server, ServerConfig};
use crate::limits::MAX_FRAME_LEN;

/// The context of the accepting protothread.
pub(crate) struct Acceptor<M: 'static> {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    connections: Option<PtPool<Connection<M>>>,
    server: Option<Server<M>>,
    /// The loop's pool has fewer small buffers than two per connection.
    short_pool: bool,
    /// Connections refused since the last one admitted: an episode, logged when it starts
    /// and when it ends rather than once per connection.
    refusing: u64,
}

impl<M: 'static> Acceptor<M> {
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

impl<M: DataModel + 'static> Acceptor<M> {
    /// Starts a connection's protothread, or refuses and closes the connection.
    fn admit(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>, peer: SocketAddr) {
        let short_pool = self.short_pool;
        let (Some(server), Some(pool)) = (&self.server, self.connections) else {
            let _ = cx.close(stream.raw());
            return;
        };
        let spawned = if server.stats().open >= server.config().max_connections {
            Err(Error::OutOfResources(Capacity::Protothreads))
        } else {
            cx.spawn_with(pool, |c: &mut Connection<M>| {
                c.open(server.clone(), stream, peer, short_pool)
            })
        };
        match spawned {
            Ok(_) => {
                if self.refusing > 0 {
                    ptk_info!(
                        "modbus server: accepting connections again after refusing {}",
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
                        "modbus server: refusing connections ({} open, {} at most), starting \
                         with {peer}: {reason}",
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
pub(crate) fn accept_connections<M: DataModel + 'static>(
    ctx: &mut Acceptor<M>,
    cx: &mut Cx<'_>,
) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        match accepted {
            Ok((stream, peer)) => ctx.admit(cx, stream, peer),
            // The listener is gone: the server stops accepting.
            Err(Error::InvalidHandle) => return Err(Error::InvalidHandle),
            // The runtime accepted and closed one connection it had no room for (full stream
            // pool, no file descriptor left); the listener goes on.
            Err(_) => {
                if let Some(server) = &ctx.server {
                    server.count_refused();
                }
            }
        }
    }
}

/// The memory a server's protothreads run in: one context per connection and the accepting
/// protothread's, made once by [`ServerStorage::new`] and lent to the loop by
/// [`Server::start`].
///
/// A connection's context holds no buffer, only handles and counters: 96 bytes on a 64-bit
/// target, whatever the model. Requests and answers are in buffers of the loop's pool, held
/// only while a connection has requests to answer or answers to send (see
/// [`Server::start`]).
pub struct ServerStorage<M: 'static> {
    connections: Box<[Connection<M>]>,
    acceptor: [Acceptor<M>; 1],
}

impl<M: DataModel + 'static> ServerStorage<M> {
    /// Contexts for `config.max_connections` connections (the one allocation of a server).
    pub fn new(config: &ServerConfig) -> ServerStorage<M> {
        ServerStorage {
            connections: (0..config.max_connections)
                .map(|_| Connection::new())
                .collect(),
            acceptor: [Acceptor {
                pt: Pt::new(),
                listener: None,
                connections: None,
                server: None,
                short_pool: false,
                refusing: 0,
            }],
        }
    }

    /// How many connections the storage holds.
    pub fn max_connections(&self) -> usize {
        self.connections.len()
    }
}

impl<M: 'static> core::fmt::Debug for ServerStorage<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerStorage")
            .field("max_connections", &self.connections.len())
            .finish()
    }
}

impl<M: DataModel + 'static> Server<M> {
    /// Serves `listener` on `ev`: lends `storage` to the loop as two protothread pools and
    /// spawns the accepting protothread, which spawns one protothread per connection. Returns
    /// the accepting protothread's handle; [`kill`](ptk_runtime::Cx::kill) it (or close the
    /// listener) to stop accepting.
    ///
    /// The loop needs room for `max_connections + 1` protothreads
    /// ([`Config::protothreads`](ptk_runtime::Config::protothreads)), `max_connections + 1`
    /// streams (the extra one for a connection being refused) and, with an idle timeout,
    /// `max_connections` timers.
    ///
    /// # Buffers
    ///
    /// Requests are read into, and answers sent from, the loop's buffer pool
    /// ([`Capacities::buffers`](ptk_runtime::Capacities::buffers) of
    /// [`buffer_size`](ptk_runtime::Capacities::buffer_size) bytes): its small buffers must hold
    /// a whole frame, [`MAX_FRAME_LEN`] (260) bytes, and there must be at least 2. A
    /// connection holds none while idle, one for a request and its answer (the buffer the
    /// request was read into takes the answer), two while a client pipelines: one with the
    /// requests not answered yet, one with answers. With `2 * max_connections` small buffers
    /// (besides what else on the loop takes) no connection waits for one. With fewer, the
    /// server slows down rather than failing: a read waits while it would take the last free
    /// buffer (kept for answers), an answer while none is free (it takes a large buffer when
    /// no small one is), looking again every millisecond, until the idle timeout. Small buffers
    /// of a few frames suit Modbus: of 1 KiB, one read takes dozens of usual requests (three of
    /// the largest), one buffer of answers as many (three of the largest).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `storage` holds fewer connections than
    /// `max_connections`, or the loop's pool has fewer than 2 small buffers or small buffers
    /// of fewer than [`MAX_FRAME_LEN`] bytes; [`Error::OutOfResources`] when the loop cannot
    /// hold the pools.
    pub fn start<'s, A: 'static>(
        &self,
        ev: &mut EventLoop<'s, A>,
        listener: Handle<TcpListener>,
        storage: &'s mut ServerStorage<M>,
    ) -> Result<Handle<kind::Protothread>, Error> {
        let pool = ev.buffer_stats();
        let short_pool = pool.small_capacity < 2 * self.config().max_connections;
        if storage.connections.len() < self.config().max_connections
            || pool.small_capacity < 2
            || pool.small_size < MAX_FRAME_LEN
        {
            return Err(Error::InvalidArgument);
        }
        let ServerStorage {
            connections,
            acceptor,
        } = storage;
        let connections = ev.add_protothreads(&mut connections[..])?;
        let acceptor = ev.add_protothreads(&mut acceptor[..])?;
        ev.cx().spawn_with(acceptor, |a: &mut Acceptor<M>| {
            a.listener = Some(listener);
            a.connections = Some(connections);
            a.server = Some(self.clone());
            a.short_pool = short_pool;
            a.refusing = 0;
        })
    }
}
