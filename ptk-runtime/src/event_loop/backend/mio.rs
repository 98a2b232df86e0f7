//! The `mio` backend: epoll on Linux, kqueue on the BSDs and macOS, in edge-triggered mode.

use std::io;
use std::time::Duration;

use mio::{Poll, Token};

use crate::handle::RawHandle;

use super::{Interest, Poller, Readiness, Socket};

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

/// The token of a socket: the whole handle where `usize` holds it.
#[cfg(target_pointer_width = "64")]
#[inline]
fn token(h: RawHandle) -> io::Result<Token> {
    Ok(Token(h.to_u64() as usize))
}

/// The token of a socket: the handle's short form where `usize` is narrower than a handle.
#[cfg(not(target_pointer_width = "64"))]
fn token(h: RawHandle) -> io::Result<Token> {
    match super::short::encode(h) {
        Some(t) => Ok(Token(t as usize)),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket slot beyond what a 32-bit poller token can name",
        )),
    }
}

impl Poller for MioPoller {
    type Events = mio::Events;
    type Waker = mio::Waker;

    fn new() -> io::Result<Self> {
        Ok(MioPoller { poll: Poll::new()? })
    }

    fn events(capacity: usize) -> mio::Events {
        mio::Events::with_capacity(capacity.max(1))
    }

    fn waker(&self) -> io::Result<mio::Waker> {
        mio::Waker::new(self.poll.registry(), WAKER)
    }

    #[inline]
    fn wake(waker: &mio::Waker) -> io::Result<()> {
        waker.wake()
    }

    fn register<S: Socket>(&self, socket: &mut S, h: RawHandle, i: Interest) -> io::Result<()> {
        self.poll
            .registry()
            .register(socket, token(h)?, interest(i))
    }

    fn reregister<S: Socket>(&self, socket: &mut S, h: RawHandle, i: Interest) -> io::Result<()> {
        self.poll
            .registry()
            .reregister(socket, token(h)?, interest(i))
    }

    fn deregister<S: Socket>(&self, socket: &mut S) -> io::Result<()> {
        self.poll.registry().deregister(socket)
    }

    #[inline]
    fn poll(&mut self, events: &mut mio::Events, timeout: Option<Duration>) -> io::Result<()> {
        self.poll.poll(events, timeout)
    }

    fn clear(events: &mut mio::Events) {
        events.clear();
    }

    #[inline]
    fn reports(events: &mio::Events) -> impl Iterator<Item = Readiness> + '_ {
        events.iter().map(|e| {
            // Non-short-circuit `|`: each test is a bit test, combined without branches.
            let error = e.is_error();
            let read_closed = e.is_read_closed() | error;
            Readiness {
                token: e.token().0 as u64,
                read: e.is_readable() | read_closed,
                write: e.is_writable() | e.is_write_closed() | error,
                read_closed,
            }
        })
    }
}
