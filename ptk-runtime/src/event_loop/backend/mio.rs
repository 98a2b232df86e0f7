//! The `mio` backend: epoll on Linux, kqueue on the BSDs and macOS, in edge-triggered mode.

use std::io;
use std::time::Duration;

use mio::{Poll, Token};

use crate::handle::RawHandle;

use super::{Interest, Readiness, Socket};

/// The token of the doorbell. Socket tokens are handles, which are never 0.
const WAKER: Token = Token(0);

/// A `mio::Poll` and the registry it owns.
pub(crate) struct MioPoller {
    poll: Poll,
}

fn interest(i: Interest) -> mio::Interest {
    match i {
        Interest::Read => mio::Interest::READABLE,
        Interest::ReadWrite => mio::Interest::READABLE | mio::Interest::WRITABLE,
    }
}

/// The `mio` token of a socket (see [`super::token`]).
#[inline]
fn token(h: RawHandle) -> io::Result<Token> {
    Ok(Token(super::token(h)? as usize))
}

/// A `mio` event as a report.
#[inline]
pub(super) fn readiness(e: &mio::event::Event) -> Readiness {
    // Non-short-circuit `|`: each test is a bit test, combined without branches.
    let error = e.is_error();
    let read_closed = e.is_read_closed() | error;
    Readiness {
        token: e.token().0 as u64,
        read: e.is_readable() | read_closed,
        write: e.is_writable() | e.is_write_closed() | error,
        read_closed,
    }
}

impl MioPoller {
    pub(super) fn new() -> io::Result<Self> {
        Ok(MioPoller { poll: Poll::new()? })
    }

    /// The doorbell: a wake makes a blocked poll return with a report whose token is 0.
    pub(super) fn waker(&self) -> io::Result<mio::Waker> {
        mio::Waker::new(self.poll.registry(), WAKER)
    }

    pub(super) fn register<S: Socket>(
        &self,
        socket: &mut S,
        h: RawHandle,
        i: Interest,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .register(socket, token(h)?, interest(i))
    }

    pub(super) fn reregister<S: Socket>(
        &self,
        socket: &mut S,
        h: RawHandle,
        i: Interest,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .reregister(socket, token(h)?, interest(i))
    }

    pub(super) fn deregister<S: Socket>(&self, socket: &mut S) -> io::Result<()> {
        self.poll.registry().deregister(socket)
    }

    #[inline]
    pub(super) fn poll(
        &mut self,
        events: &mut mio::Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        self.poll.poll(events, timeout)
    }
}
