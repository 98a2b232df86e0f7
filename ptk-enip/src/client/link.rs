//! The TCP connection under a client: connecting with a timeout, and reconnecting with
//! exponential backoff after a failure.

use core::net::SocketAddr;
use core::task::Poll;

use ptk_runtime::{Cx, Error, Handle, TcpStream};

/// Where the TCP connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No socket; the next connect may start at `retry_at` (loop milliseconds).
    Down { retry_at: u64 },
    /// A connect is in progress.
    Connecting(Handle<TcpStream>),
    /// Connected.
    Up(Handle<TcpStream>),
}

/// A TCP connection that reconnects with backoff.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Link {
    pub(crate) addr: SocketAddr,
    state: State,
    backoff_ms: u64,
    min_backoff_ms: u64,
    max_backoff_ms: u64,
}

impl Link {
    pub(crate) const fn new(addr: SocketAddr, min_backoff_ms: u64, max_backoff_ms: u64) -> Link {
        Link {
            addr,
            state: State::Down { retry_at: 0 },
            backoff_ms: 0,
            min_backoff_ms,
            max_backoff_ms,
        }
    }

    /// The connected stream, if connected.
    pub(crate) fn stream(&self) -> Option<Handle<TcpStream>> {
        match self.state {
            State::Up(s) => Some(s),
            _ => None,
        }
    }

    /// The milliseconds the next failure waits before reconnecting.
    pub(crate) fn backoff_ms(&self) -> u64 {
        self.backoff_ms
    }

    /// Connects (after the backoff, if the last attempt failed): `Ready(Ok)` once connected.
    pub(crate) fn poll_connect(
        &mut self,
        cx: &mut Cx<'_>,
        timeout_ms: u64,
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
                    match cx.tcp_connect(self.addr, Some(timeout_ms)) {
                        Ok(stream) => self.state = State::Connecting(stream),
                        Err(e) => {
                            self.fail(cx);
                            return Poll::Ready(Err(e));
                        }
                    }
                }
                State::Connecting(stream) => match cx.connected(stream) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        let _ = cx.set_nodelay(stream, true);
                        self.state = State::Up(stream);
                    }
                    Poll::Ready(Err(e)) => {
                        self.fail(cx);
                        return Poll::Ready(Err(e));
                    }
                },
            }
        }
    }

    /// The session is up: the next failure waits the shortest backoff again.
    pub(crate) fn established(&mut self) {
        self.backoff_ms = 0;
    }

    /// Closes the socket after a failure; the next connect waits for the backoff.
    pub(crate) fn fail(&mut self, cx: &mut Cx<'_>) {
        let stream = match self.state {
            State::Up(s) | State::Connecting(s) => Some(s),
            State::Down { .. } => None,
        };
        self.backoff_ms = if self.backoff_ms == 0 {
            self.min_backoff_ms
        } else {
            self.backoff_ms.saturating_mul(2)
        }
        .min(self.max_backoff_ms);
        self.down(cx, stream);
    }

    fn down(&mut self, cx: &mut Cx<'_>, stream: Option<Handle<TcpStream>>) {
        if let Some(stream) = stream {
            let _ = cx.close(stream.raw());
        }
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
