//! The connection under a client: connecting with a timeout, and reconnecting with
//! exponential backoff after a failure.

use core::net::SocketAddr;
use core::task::Poll;

use ptk_runtime::{Cx, Error, Handle, TcpStream};

/// The settings of a [`Client`](super::Client).
///
/// # Examples
///
/// ```
/// use ptk_modbus::client::ClientConfig;
///
/// let config = ClientConfig { unit_id: 17, request_timeout_ms: 250, ..ClientConfig::default() };
/// assert_eq!(config.connect_timeout_ms, 3_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The unit id of the typed requests (`poll_read_coils`, ...); default 1.
    pub unit_id: u8,
    /// How long a connect may take (default 3,000 ms).
    pub connect_timeout_ms: u64,
    /// How long a request waits for its answer (default 1,000 ms).
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
            unit_id: 1,
            connect_timeout_ms: 3_000,
            request_timeout_ms: 1_000,
            min_backoff_ms: 100,
            max_backoff_ms: 10_000,
        }
    }
}

/// Where the connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No socket; the next connect may start at `retry_at` (loop milliseconds).
    Down { retry_at: u64 },
    /// A connect is in progress.
    Connecting(Handle<TcpStream>),
    /// Connected.
    Up(Handle<TcpStream>),
}

/// A connection that reconnects with backoff.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    pub(crate) addr: SocketAddr,
    pub(crate) config: ClientConfig,
    state: State,
    backoff_ms: u64,
}

impl Link {
    pub(crate) const fn new(addr: SocketAddr, config: ClientConfig) -> Link {
        Link {
            addr,
            config,
            state: State::Down { retry_at: 0 },
            backoff_ms: 0,
        }
    }

    /// The connected stream, if connected.
    pub(crate) fn stream(&self) -> Option<Handle<TcpStream>> {
        match self.state {
            State::Up(s) => Some(s),
            _ => None,
        }
    }

    /// Connects (after the backoff, if the last attempt failed): `Ready(Ok)` once connected.
    pub(crate) fn poll_connect(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<Handle<TcpStream>, Error>> {
        loop {
            match self.state {
                State::Up(stream) => return Poll::Ready(Ok(stream)),
                State::Down { retry_at } => {
                    if cx.now_ms() < retry_at {
                        match cx.sleep_until(retry_at) {
                            Poll::Ready(Ok(())) => {}
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                    match cx.tcp_connect(self.addr, Some(self.config.connect_timeout_ms)) {
                        Ok(stream) => self.state = State::Connecting(stream),
                        Err(e) => {
                            self.down(cx, None);
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                State::Connecting(stream) => match cx.connected(stream) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        let _ = cx.set_nodelay(stream, true);
                        self.backoff_ms = 0;
                        self.state = State::Up(stream);
                    }
                    Poll::Ready(Err(e)) => {
                        self.down(cx, Some(stream));
                        ptk_runtime::ptk_info!(
                            "modbus client: cannot connect to {}: {e} (next try in {} ms)",
                            self.addr,
                            self.backoff_ms
                        );
                        return Poll::Ready(Err(e));
                    }
                },
            }
        }
    }

    /// Closes the socket after a failure; the next connect waits for the backoff.
    pub(crate) fn fail(&mut self, cx: &mut Cx<'_>) {
        let stream = match self.state {
            State::Up(s) | State::Connecting(s) => Some(s),
            State::Down { .. } => None,
        };
        self.down(cx, stream);
    }

    fn down(&mut self, cx: &mut Cx<'_>, stream: Option<Handle<TcpStream>>) {
        if let Some(stream) = stream {
            let _ = cx.close(stream.raw());
        }
        self.backoff_ms = if self.backoff_ms == 0 {
            self.config.min_backoff_ms
        } else {
            self.backoff_ms.saturating_mul(2)
        }
        .min(self.config.max_backoff_ms);
        self.state = State::Down {
            retry_at: cx.after_ms(self.backoff_ms),
        };
    }

    /// Closes the socket without a backoff (the user is done with it).
    pub(crate) fn close(&mut self, cx: &mut Cx<'_>) {
        if let State::Up(s) | State::Connecting(s) = self.state {
            let _ = cx.close(s.raw());
        }
        self.state = State::Down { retry_at: 0 };
        self.backoff_ms = 0;
    }
}
