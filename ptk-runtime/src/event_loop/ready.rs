//! The queue of sockets still ready after their handler ran.
//!
//! mio reports edges. A handler that stops reading before `WouldBlock` would never hear of the
//! rest of the data, so the loop keeps a readiness flag per socket direction and, after a
//! handler returns with the flag still set, queues the socket to be dispatched again on the
//! next iteration. An entry is queued at most once per direction, so the queue never needs
//! more than one slot per socket direction.

use crate::handle::RawHandle;

/// Which half of a socket a readiness flag or waiter is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// One entry of the ready queue (opaque; see [`Storage::ready`](super::Storage::ready)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready(Option<(RawHandle, Dir)>);

impl Ready {
    /// An empty entry.
    pub const EMPTY: Ready = Ready(None);
}

impl Default for Ready {
    fn default() -> Self {
        Ready::EMPTY
    }
}

/// A FIFO ring over borrowed entries.
pub(crate) struct ReadyQueue<'s> {
    buf: &'s mut [Ready],
    head: usize,
    len: usize,
}

impl<'s> ReadyQueue<'s> {
    pub(crate) fn new(buf: &'s mut [Ready]) -> Self {
        ReadyQueue {
            buf,
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends; `false` if full (callers size the ring so that it never is).
    pub(crate) fn push(&mut self, h: RawHandle, dir: Dir) -> bool {
        if self.len == self.buf.len() {
            return false;
        }
        let i = (self.head + self.len) % self.buf.len();
        self.buf[i] = Ready(Some((h, dir)));
        self.len += 1;
        true
    }

    /// Moves the queue into `larger` (at least as long) and returns the old ring.
    pub(crate) fn grow(&mut self, larger: &'s mut [Ready]) -> &'s mut [Ready] {
        let mut n = 0;
        while let Some((h, dir)) = self.pop() {
            larger[n] = Ready(Some((h, dir)));
            n += 1;
        }
        self.head = 0;
        self.len = n;
        std::mem::replace(&mut self.buf, larger)
    }

    pub(crate) fn pop(&mut self) -> Option<(RawHandle, Dir)> {
        if self.len == 0 {
            return None;
        }
        let item = std::mem::take(&mut self.buf[self.head]).0;
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
        item
    }
}
