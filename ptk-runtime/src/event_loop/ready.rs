//! The queue of sockets still ready after their handler ran.
//!
//! mio reports edges. A handler that stops reading before `WouldBlock` would never hear of the
//! rest of the data, so the loop keeps a readiness flag per socket direction and, after a
//! handler returns with the flag still set, queues the socket to be dispatched again on the
//! next iteration. An entry is queued at most once per direction, so the queue never needs
//! more than one slot per socket direction.

use crate::handle::RawHandle;

use super::side::Dir;

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

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends; `false` if full (callers size the ring so that it never is).
    #[inline]
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

    /// Keeps only the entries whose handle `keep` accepts, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(RawHandle) -> bool) {
        let n = self.len;
        let mut kept = 0;
        for k in 0..n {
            let i = (self.head + k) % self.buf.len();
            if let Some((h, dir)) = self.buf[i].0.take() {
                if keep(h) {
                    let j = (self.head + kept) % self.buf.len();
                    self.buf[j] = Ready(Some((h, dir)));
                    kept += 1;
                }
            }
        }
        self.len = kept;
    }

    #[inline]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::ResourceType;

    fn h(slot: u32) -> RawHandle {
        RawHandle::new(ResourceType::TcpStream, 0, 1, slot)
    }

    #[test]
    fn retain_keeps_order_across_the_wrap() {
        let mut buf = [Ready::EMPTY; 4];
        let mut q = ReadyQueue::new(&mut buf);
        for s in 0..4 {
            assert!(q.push(h(s), Dir::Read));
        }
        assert!(!q.push(h(9), Dir::Read));
        assert_eq!(q.pop(), Some((h(0), Dir::Read)));
        assert_eq!(q.pop(), Some((h(1), Dir::Read)));
        assert!(q.push(h(4), Dir::Write));
        q.retain(|x| x.slot() != 2);
        assert_eq!(q.len(), 2);
        assert!(q.push(h(5), Dir::Read));
        assert_eq!(q.pop(), Some((h(3), Dir::Read)));
        assert_eq!(q.pop(), Some((h(4), Dir::Write)));
        assert_eq!(q.pop(), Some((h(5), Dir::Read)));
        assert_eq!(q.pop(), None);
    }
}
