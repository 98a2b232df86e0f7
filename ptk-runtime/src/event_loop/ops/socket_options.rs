//! Socket options and addresses, and shutting down a stream's halves.

use std::net::SocketAddr;

use socket2::SockRef;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::event::Shutdown;
use crate::handle::{Handle, RawHandle, ResourceType, TcpStream};

use super::super::core::Core;

impl Cx<'_> {
    /// Shuts down one or both halves of the connection.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::NotConnected`].
    pub fn shutdown(&mut self, stream: Handle<TcpStream>, how: Shutdown) -> Result<()> {
        let how = match how {
            Shutdown::Read => std::net::Shutdown::Read,
            Shutdown::Write => std::net::Shutdown::Write,
            Shutdown::Both => std::net::Shutdown::Both,
        };
        let r = self.core.with_sock(stream.raw(), |s| s.shutdown(how));
        self.core.note(r)
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_nodelay(&mut self, stream: Handle<TcpStream>, on: bool) -> Result<()> {
        let r = self.core.with_sock(stream.raw(), |s| s.set_tcp_nodelay(on));
        self.core.note(r)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn nodelay(&self, stream: Handle<TcpStream>) -> Result<bool> {
        self.core.with_sock(stream.raw(), |s| s.tcp_nodelay())
    }

    /// The keep-alive idle time in seconds if keep-alive probes are on, else `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error; [`Error::NotSupported`] where the platform
    /// cannot report the idle time.
    pub fn keepalive(&self, stream: Handle<TcpStream>) -> Result<Option<u32>> {
        let on = self.core.with_sock(stream.raw(), |s| s.keepalive())?;
        if !on {
            return Ok(None);
        }
        #[cfg(not(any(
            windows,
            target_os = "haiku",
            target_os = "openbsd",
            target_os = "vita"
        )))]
        {
            let secs = self
                .core
                .with_sock(stream.raw(), |s| s.tcp_keepalive_time())?
                .as_secs();
            Ok(Some(u32::try_from(secs).unwrap_or(u32::MAX)))
        }
        #[cfg(any(
            windows,
            target_os = "haiku",
            target_os = "openbsd",
            target_os = "vita"
        ))]
        Err(Error::NotSupported)
    }

    /// Enables TCP keep-alive probes after `idle_secs` of silence, or disables them (`None`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_keepalive(
        &mut self,
        stream: Handle<TcpStream>,
        idle_secs: Option<u32>,
    ) -> Result<()> {
        let r = self.core.with_sock(stream.raw(), |s| match idle_secs {
            None => s.set_keepalive(false),
            Some(secs) => {
                let ka = socket2::TcpKeepalive::new()
                    .with_time(std::time::Duration::from_secs(u64::from(secs.max(1))));
                s.set_tcp_keepalive(&ka)
            }
        });
        self.core.note(r)
    }

    /// Sets `SO_RCVBUF` of a listener, stream or UDP socket (the kernel may round or double
    /// it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_recv_buffer_size(
        &mut self,
        socket: impl Into<RawHandle>,
        bytes: usize,
    ) -> Result<()> {
        let r = self
            .core
            .with_sock(socket.into(), |s| s.set_recv_buffer_size(bytes));
        self.core.note(r)
    }

    /// Sets `SO_SNDBUF` of a listener, stream or UDP socket (the kernel may round or double
    /// it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn set_send_buffer_size(
        &mut self,
        socket: impl Into<RawHandle>,
        bytes: usize,
    ) -> Result<()> {
        let r = self
            .core
            .with_sock(socket.into(), |s| s.set_send_buffer_size(bytes));
        self.core.note(r)
    }

    /// `SO_RCVBUF` as the kernel reports it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn recv_buffer_size(&self, socket: impl Into<RawHandle>) -> Result<usize> {
        self.core.with_sock(socket.into(), |s| s.recv_buffer_size())
    }

    /// `SO_SNDBUF` as the kernel reports it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn send_buffer_size(&self, socket: impl Into<RawHandle>) -> Result<usize> {
        self.core.with_sock(socket.into(), |s| s.send_buffer_size())
    }

    /// The local address of a listener, stream or UDP socket.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; an OS error.
    pub fn local_addr(&self, socket: impl Into<RawHandle>) -> Result<SocketAddr> {
        self.core.with_sock(socket.into(), |s| {
            s.local_addr()?
                .as_socket()
                .ok_or_else(|| std::io::ErrorKind::Unsupported.into())
        })
    }

    /// The peer address of a connected stream.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::NotConnected`].
    pub fn peer_addr(&self, stream: Handle<TcpStream>) -> Result<SocketAddr> {
        let core = &self.core;
        match core.streams.get(stream.raw()) {
            Ok(s) => Ok(s.sock().peer_addr()?),
            Err(_) => Err(core.no_such(stream.raw())),
        }
    }
}

impl Core<'_> {
    /// Runs `f` on the socket of a listener, stream or UDP socket, mapping its error.
    pub(crate) fn with_sock<T>(
        &self,
        h: RawHandle,
        f: impl FnOnce(SockRef<'_>) -> std::io::Result<T>,
    ) -> Result<T> {
        let sock = match h.resource_type() {
            ResourceType::TcpListener => self.listeners.get(h).map(|l| SockRef::from(l.sock())),
            ResourceType::TcpStream => self.streams.get(h).map(|s| SockRef::from(s.sock())),
            ResourceType::UdpSocket => self.udp.get(h).map(|u| SockRef::from(u.sock())),
            _ => Err(Error::InvalidHandle),
        };
        match sock {
            Ok(sock) => f(sock).map_err(Error::from),
            Err(_) => Err(self.no_such(h)),
        }
    }

    /// The error for a handle that names nothing here, without recording it (for queries
    /// through `&self`): `InvalidHandle`, or `NotSupported` without a loop.
    pub(crate) fn no_such(&self, _h: RawHandle) -> Error {
        if self.is_detached() {
            Error::NotSupported
        } else {
            Error::InvalidHandle
        }
    }
}
