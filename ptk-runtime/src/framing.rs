//! Length-prefixed framing over fixed buffers that live in the protothread's context.
//!
//! A frame is a 4-byte big-endian payload length followed by the payload. [`FrameReader`]
//! collects frames from a TCP stream, [`FrameWriter`] queues and sends them; both are plain
//! values with an inline buffer of `N` bytes, so a context that holds them needs no other
//! memory. A header announcing more than the reader's maximum is
//! [`Error::MessageTooLarge`]: the caller closes that connection and every other one goes on.
//!
//! # Examples
//!
//! An echo loop, written by hand (with `#[protothread]` it is three `pt_await!`s):
//!
//! ```no_run
//! use std::task::Poll;
//! use ptk_runtime::{Cx, Error, FrameReader, FrameWriter, Handle, TcpStream};
//!
//! fn echo_step(
//!     cx: &mut Cx<'_>,
//!     stream: Handle<TcpStream>,
//!     reader: &mut FrameReader<1028>,
//!     writer: &mut FrameWriter<1028>,
//! ) -> Poll<Result<(), Error>> {
//!     loop {
//!         if writer.is_empty() {
//!             match reader.poll_frame(cx, stream)? {
//!                 Poll::Pending => return Poll::Pending,
//!                 Poll::Ready(None) => return Poll::Ready(Ok(())), // peer closed
//!                 Poll::Ready(Some(_)) => {
//!                     writer.push(reader.frame())?;
//!                     reader.consume();
//!                 }
//!             }
//!         }
//!         match writer.poll_flush(cx, stream)? {
//!             Poll::Pending => return Poll::Pending,
//!             Poll::Ready(()) => {}
//!         }
//!     }
//! }
//! ```

#[cfg(feature = "std")]
use core::task::Poll;

#[cfg(feature = "std")]
use crate::cx::Cx;
use crate::error::{Error, Result};
#[cfg(feature = "std")]
use crate::handle::{Handle, TcpStream};

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

pub(crate) fn header(buf: &[u8]) -> Option<usize> {
    let h: [u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
    Some(u32::from_be_bytes(h) as usize)
}

/// Reads length-prefixed frames into an inline buffer of `N` bytes (payloads of up to
/// `N - 4` bytes, or a smaller configured maximum).
#[derive(Clone)]
pub struct FrameReader<const N: usize> {
    buf: [u8; N],
    len: usize,
    max: usize,
    /// The payload length of the complete frame at the front, once `poll_frame` or
    /// `complete` has found it; `None` means unknown (not parsed since the last change of
    /// the front), never "no frame". Reset by `consume` and `clear`; appending bytes leaves a
    /// known front frame as it is.
    front: Option<usize>,
}

impl<const N: usize> Default for FrameReader<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameReader<N> {
    /// An empty reader accepting payloads of up to `N - 4` bytes.
    pub const fn new() -> Self {
        FrameReader {
            buf: [0; N],
            len: 0,
            max: N.saturating_sub(HEADER_LEN),
            front: None,
        }
    }

    /// An empty reader accepting payloads of up to `max` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `max + 4 > N`.
    pub const fn with_max_frame(max: usize) -> Result<Self> {
        if max > N.saturating_sub(HEADER_LEN) {
            return Err(Error::InvalidArgument);
        }
        Ok(FrameReader {
            buf: [0; N],
            len: 0,
            max,
            front: None,
        })
    }

    /// The largest payload accepted.
    pub const fn max_frame(&self) -> usize {
        self.max
    }

    /// Bytes buffered and not consumed (the front frame and whatever follows it).
    pub const fn buffered(&self) -> usize {
        self.len
    }

    /// Forgets everything buffered (for reuse on a new connection).
    pub fn clear(&mut self) {
        self.len = 0;
        self.front = None;
    }

    /// The payload length of the complete frame at the front, if there is one.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] when the front header announces more than the maximum.
    pub fn complete(&self) -> Result<Option<usize>> {
        if let Some(n) = self.front {
            return Ok(Some(n));
        }
        self.parse_front()
    }

    /// Parses the front header (ignoring the cached length).
    #[inline]
    fn parse_front(&self) -> Result<Option<usize>> {
        match header(&self.buf[..self.len]) {
            None => Ok(None),
            Some(n) if n > self.max => Err(Error::MessageTooLarge),
            Some(n) if self.len >= HEADER_LEN + n => Ok(Some(n)),
            Some(_) => Ok(None),
        }
    }

    /// Reads until a whole frame is at the front: `Ready(Ok(Some(len)))` with the payload
    /// length (read it with [`frame`](Self::frame), then [`consume`](Self::consume) it);
    /// `Ready(Ok(None))` when the peer closed between frames. Frames already buffered are
    /// returned without reading.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] for a header over the maximum; [`Error::Closed`] when the
    /// peer closed in the middle of a frame; any error of the read.
    #[cfg(feature = "std")]
    #[inline]
    pub fn poll_frame(
        &mut self,
        cx: &mut Cx<'_>,
        stream: Handle<TcpStream>,
    ) -> Poll<Result<Option<usize>>> {
        self.poll_frame_from(|room| cx.read(stream, room))
    }

    /// [`poll_frame`](Self::poll_frame) over any source of reads: `read` fills the room it is
    /// given and answers as [`Cx::read`] does (0 bytes at end-of-stream).
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn poll_frame_from(
        &mut self,
        mut read: impl FnMut(&mut [u8]) -> Poll<Result<usize>>,
    ) -> Poll<Result<Option<usize>>> {
        loop {
            if let Some(n) = self.front {
                return Poll::Ready(Ok(Some(n)));
            }
            match self.parse_front() {
                Err(e) => return Poll::Ready(Err(e)),
                Ok(Some(n)) => {
                    self.front = Some(n);
                    return Poll::Ready(Ok(Some(n)));
                }
                Ok(None) => {}
            }
            if self.len == N {
                // Only reachable when N < HEADER_LEN: no frame can ever fit.
                return Poll::Ready(Err(Error::MessageTooLarge));
            }
            match read(&mut self.buf[self.len..]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) if self.len == 0 => return Poll::Ready(Ok(None)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                Poll::Ready(Ok(n)) => self.len += n,
            }
        }
    }

    /// The payload of the complete frame at the front (empty if there is none).
    pub fn frame(&self) -> &[u8] {
        match self.complete() {
            Ok(Some(n)) => &self.buf[HEADER_LEN..HEADER_LEN + n],
            _ => &[],
        }
    }

    /// The complete frame at the front with its length prefix, as it came off the wire (empty
    /// if there is none): for relaying or echoing a frame without copying it.
    pub fn frame_with_header(&self) -> &[u8] {
        match self.complete() {
            Ok(Some(n)) => &self.buf[..HEADER_LEN + n],
            _ => &[],
        }
    }

    /// Drops the complete frame at the front (nothing if there is none).
    pub fn consume(&mut self) {
        if let Ok(Some(n)) = self.complete() {
            let end = HEADER_LEN + n;
            if end < self.len {
                self.buf.copy_within(end..self.len, 0);
            }
            self.len -= end;
            self.front = None;
        }
    }
}

impl<const N: usize> core::fmt::Debug for FrameReader<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.len)
            .field("max_frame", &self.max)
            .finish()
    }
}

/// Queues length-prefixed frames in an inline buffer of `N` bytes and writes them out,
/// across partial writes.
#[derive(Clone)]
pub struct FrameWriter<const N: usize> {
    buf: [u8; N],
    len: usize,
    sent: usize,
}

impl<const N: usize> Default for FrameWriter<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameWriter<N> {
    /// An empty writer.
    pub const fn new() -> Self {
        FrameWriter {
            buf: [0; N],
            len: 0,
            sent: 0,
        }
    }

    /// Whether everything queued has been written.
    pub const fn is_empty(&self) -> bool {
        self.sent == self.len
    }

    /// Bytes queued and not yet written.
    pub const fn pending(&self) -> usize {
        self.len - self.sent
    }

    /// Free space for more frames (headers included).
    pub const fn room(&self) -> usize {
        N - self.len + self.sent
    }

    /// Forgets everything queued (for reuse on a new connection).
    pub fn clear(&mut self) {
        self.len = 0;
        self.sent = 0;
    }

    /// Queues one frame with `payload`.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] if the frame can never fit (`payload.len() + 4 > N`);
    /// [`Error::WouldBlock`] if it does not fit until queued frames are written. Nothing is
    /// queued then.
    pub fn push(&mut self, payload: &[u8]) -> Result<()> {
        let need = HEADER_LEN + payload.len();
        if need > N || payload.len() > u32::MAX as usize {
            return Err(Error::MessageTooLarge);
        }
        if need > N - self.len {
            if need > self.room() {
                return Err(Error::WouldBlock);
            }
            self.buf.copy_within(self.sent..self.len, 0);
            self.len -= self.sent;
            self.sent = 0;
        }
        let at = self.len;
        self.buf[at..at + HEADER_LEN].copy_from_slice(&(payload.len() as u32).to_be_bytes());
        self.buf[at + HEADER_LEN..at + need].copy_from_slice(payload);
        self.len += need;
        Ok(())
    }

    /// Writes what is queued: `Ready(Ok(()))` once all of it is written.
    ///
    /// # Errors
    ///
    /// Any error of the write; [`Error::Closed`] if the socket takes 0 bytes.
    #[cfg(feature = "std")]
    #[inline]
    pub fn poll_flush(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>) -> Poll<Result<()>> {
        while self.sent < self.len {
            match cx.write(stream, &self.buf[self.sent..self.len]) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                Poll::Ready(Ok(n)) => self.sent += n,
            }
        }
        self.len = 0;
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<const N: usize> core::fmt::Debug for FrameWriter<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("pending", &self.pending())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill<const N: usize>(r: &mut FrameReader<N>, bytes: &[u8]) {
        r.buf[r.len..r.len + bytes.len()].copy_from_slice(bytes);
        r.len += bytes.len();
    }

    #[test]
    fn reader_returns_pipelined_frames_in_order_and_keeps_partial_ones() {
        let mut r = FrameReader::<32>::new();
        fill(
            &mut r,
            &[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 0, 0, 0, 0, 3, b'a'],
        );
        assert_eq!(r.complete(), Ok(Some(2)));
        assert_eq!(r.frame(), b"hi");
        r.consume();
        assert_eq!(r.complete(), Ok(Some(0)));
        assert_eq!(r.frame(), b"");
        r.consume();
        assert_eq!(r.complete(), Ok(None));
        assert_eq!(r.buffered(), 5);
        fill(&mut r, b"bc");
        assert_eq!(r.frame(), b"abc");
    }

    #[test]
    fn reader_rejects_a_header_over_the_maximum() {
        let mut r = FrameReader::<64>::with_max_frame(8).unwrap();
        fill(&mut r, &[0, 0, 0, 9]);
        assert_eq!(r.complete(), Err(Error::MessageTooLarge));
        assert!(FrameReader::<64>::with_max_frame(61).is_err());
        assert_eq!(FrameReader::<64>::new().max_frame(), 60);
    }

    #[test]
    fn writer_queues_frames_and_compacts_when_needed() {
        let mut w = FrameWriter::<16>::new();
        w.push(b"abcd").unwrap();
        assert_eq!(w.pending(), 8);
        assert_eq!(w.push(b"12345"), Err(Error::WouldBlock));
        assert_eq!(w.push(&[0; 13]), Err(Error::MessageTooLarge));
        w.sent = 8; // as if written
        w.push(b"12345").unwrap();
        assert_eq!(&w.buf[..9], &[0, 0, 0, 5, b'1', b'2', b'3', b'4', b'5']);
        assert_eq!(w.pending(), 9);
    }
}
