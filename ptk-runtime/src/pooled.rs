//! Length-prefixed framing over buffers of the loop's pool: a connection holds a buffer only
//! while a frame is partial or unsent, so an idle connection holds none.
//!
//! The frames are those of [`FrameReader`](crate::FrameReader): a 4-byte big-endian payload
//! length, then the payload. [`PooledFrameReader`] reads into the stream's receive buffer
//! ([`Cx::rx_read`](crate::Cx::rx_read)), [`PooledFrameWriter`] builds frames in a pool
//! buffer it hands over; each is a handle and a few integers (24 bytes or less), where the
//! inline `FrameReader<N>` and `FrameWriter<N>` carry `N` bytes each in every connection's
//! context.
//!
//! # Which to choose
//!
//! * **Pooled** for servers and gateways with many connections, most of them idle at any
//!   moment: memory follows the data in flight (the pool's size, set in
//!   [`Capacities`](crate::Capacities)), not the number of connections. Echoing a frame
//!   ([`PooledFrameReader::send_frame`]) or relaying it
//!   ([`PooledFrameReader::take_frame`]) hands the very buffer it arrived in to the send,
//!   without a copy.
//! * **Inline** for small targets without a pool, for a few connections, or where a
//!   connection must never wait for a buffer: its memory is reserved up front.
//!
//! When the pool runs dry, reads pause instead of failing (see
//! [`Cx::rx_read`](crate::Cx::rx_read)): the connection's data waits in the kernel until a
//! buffer is free.
//!
//! A peer that stops in the middle of a frame keeps a buffer taken for as long as the
//! connection lives, and enough such peers would take the whole pool: give waits for the
//! rest of a frame a deadline ([`Cx::set_deadline`](crate::Cx::set_deadline) once
//! [`PooledFrameReader::holds_buffer`] says a frame has begun), as `examples/echo_server`
//! does.
//!
//! # Examples
//!
//! An echo step, written by hand (with `#[protothread]` it is a `pt_await!` per wait):
//!
//! ```no_run
//! use std::task::Poll;
//! use ptk_runtime::{Cx, Error, Handle, PooledFrameReader, TcpStream};
//!
//! fn echo_step(
//!     cx: &mut Cx<'_>,
//!     stream: Handle<TcpStream>,
//!     reader: &mut PooledFrameReader,
//! ) -> Poll<Result<(), Error>> {
//!     loop {
//!         match cx.poll_sent(stream)? {
//!             Poll::Pending => return Poll::Pending,
//!             Poll::Ready(()) => {}
//!         }
//!         match reader.poll_frame(cx, stream)? {
//!             Poll::Pending => return Poll::Pending,
//!             Poll::Ready(None) => return Poll::Ready(Ok(())), // peer closed
//!             Poll::Ready(Some(_)) => match reader.send_frame(cx) {
//!                 // The frame, header included, sent from the buffer it arrived in.
//!                 Ok(()) => {}
//!                 // Frames came behind it and no buffer is free to move them to: try
//!                 // again after the next event (the loop polls this again).
//!                 Err(Error::OutOfResources(_)) => return Poll::Pending,
//!                 Err(e) => return Poll::Ready(Err(e)),
//!             },
//!         }
//!     }
//! }
//! ```

use core::task::Poll;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::framing::{header, HEADER_LEN};
use crate::handle::{Buffer, Handle, TcpStream};

/// Reads length-prefixed frames into the stream's receive buffer, a buffer of the loop's pool
/// (see [`Cx::rx_read`]).
///
/// The stream holds a buffer only from the first byte of a frame until the frame is
/// consumed, sent or taken (and while more frames that arrived with it are waiting); it goes
/// back to the pool when the stream closes. The reader itself is a few integers.
#[derive(Clone, Copy, Debug)]
pub struct PooledFrameReader {
    /// The stream of the last [`poll_frame`](Self::poll_frame).
    stream: Option<Handle<TcpStream>>,
    max: u32,
    /// The payload length of the complete frame at the front, once known.
    front: Option<u32>,
    /// Bytes in the receive buffer as of the last look.
    have: u32,
}

impl PooledFrameReader {
    /// A reader accepting payloads of up to `max_frame` bytes (frames larger than the pool's
    /// largest buffer, less the 4-byte header, are refused whatever this says).
    pub const fn new(max_frame: usize) -> Self {
        PooledFrameReader {
            stream: None,
            // At most what a 32-bit length can say, less the header, so that header plus
            // payload never overflows.
            max: if max_frame > (u32::MAX as usize) - HEADER_LEN {
                u32::MAX - HEADER_LEN as u32
            } else {
                max_frame as u32
            },
            front: None,
            have: 0,
        }
    }

    /// The largest payload accepted.
    pub const fn max_frame(&self) -> usize {
        self.max as usize
    }

    /// Whether the stream held a buffer with bytes of a frame as of the reader's last call.
    pub const fn holds_buffer(&self) -> bool {
        self.have != 0
    }

    /// Bytes buffered and not consumed.
    pub fn buffered(&self, cx: &Cx<'_>) -> usize {
        self.stream
            .and_then(|s| cx.rx(s).ok())
            .map_or(0, <[u8]>::len)
    }

    /// Reads until a whole frame is at the front: `Ready(Ok(Some(len)))` with the payload
    /// length (read it with [`frame`](Self::frame), then [`consume`](Self::consume),
    /// [`send_frame`](Self::send_frame) or [`take_frame`](Self::take_frame) it);
    /// `Ready(Ok(None))` when the peer closed between frames. Frames already buffered are
    /// returned without reading.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] for a header over the maximum (or over what the pool's
    /// largest buffer holds); [`Error::Closed`] when the peer closed in the middle of a frame;
    /// [`Error::InvalidHandle`] if the stream closed; any error of the read.
    #[inline]
    pub fn poll_frame(
        &mut self,
        cx: &mut Cx<'_>,
        stream: Handle<TcpStream>,
    ) -> Poll<Result<Option<usize>>> {
        if self.stream != Some(stream) {
            // Another stream than last time: nothing of the old one applies.
            self.front = None;
            self.have = 0;
            self.stream = Some(stream);
        }
        if let Some(n) = self.front {
            // A frame already found: still there, unless the stream closed meanwhile.
            return match cx.rx(stream) {
                Ok(bytes) if bytes.len() >= HEADER_LEN + n as usize => {
                    Poll::Ready(Ok(Some(n as usize)))
                }
                Ok(_) => {
                    self.front = None;
                    self.have = 0;
                    Poll::Ready(Err(Error::InvalidArgument))
                }
                Err(e) => Poll::Ready(Err(self.forget(e))),
            };
        }
        let max = self.max as usize;
        let mut need = HEADER_LEN;
        if self.have != 0 {
            // Bytes from before: a partial frame, or frames behind one taken.
            let bytes = match cx.rx(stream) {
                Ok(bytes) => bytes,
                Err(e) => return Poll::Ready(Err(self.forget(e))),
            };
            match self.parse(bytes, max) {
                Parsed::Frame(n) => return Poll::Ready(Ok(Some(n as usize))),
                Parsed::TooLarge => return Poll::Ready(Err(Error::MessageTooLarge)),
                Parsed::Need(k) => need = k,
            }
        }
        loop {
            let parsed = match cx.rx_read_with(stream, need, |bytes| (bytes.len(), header(bytes))) {
                Poll::Ready(Ok((0, (len, _)))) => {
                    self.have = len as u32;
                    return Poll::Ready(if len == 0 {
                        Ok(None)
                    } else {
                        Err(Error::Closed)
                    });
                }
                Poll::Ready(Ok((_, (len, head)))) => {
                    self.have = len as u32;
                    match head {
                        None => Parsed::Need(HEADER_LEN),
                        Some(n) if n > max => Parsed::TooLarge,
                        Some(n) if len >= HEADER_LEN + n => {
                            self.front = Some(n as u32);
                            Parsed::Frame(n as u32)
                        }
                        Some(n) => Parsed::Need(HEADER_LEN + n),
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.forget(e))),
                Poll::Pending => return Poll::Pending,
            };
            match parsed {
                Parsed::Frame(n) => return Poll::Ready(Ok(Some(n as usize))),
                Parsed::TooLarge => return Poll::Ready(Err(Error::MessageTooLarge)),
                Parsed::Need(k) => need = k,
            }
        }
    }

    /// What `bytes` (the receive buffer's contents) hold at the front; records a complete
    /// frame.
    #[inline]
    fn parse(&mut self, bytes: &[u8], max: usize) -> Parsed {
        self.have = bytes.len() as u32;
        match header(bytes) {
            None => Parsed::Need(HEADER_LEN),
            Some(n) if n > max => Parsed::TooLarge,
            Some(n) if bytes.len() >= HEADER_LEN + n => {
                self.front = Some(n as u32);
                Parsed::Frame(n as u32)
            }
            Some(n) => Parsed::Need(HEADER_LEN + n),
        }
    }

    /// The complete frame at the front with its header, as it came off the wire (empty if
    /// there is none).
    #[inline]
    pub fn frame_with_header<'c>(&self, cx: &'c Cx<'_>) -> &'c [u8] {
        match (self.front, self.stream) {
            (Some(n), Some(s)) => cx
                .rx(s)
                .ok()
                .and_then(|bytes| bytes.get(..HEADER_LEN + n as usize))
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The payload of the complete frame at the front (empty if there is none).
    #[inline]
    pub fn frame<'c>(&self, cx: &'c Cx<'_>) -> &'c [u8] {
        self.frame_with_header(cx).get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Drops the complete frame at the front (nothing if there is none); the stream gives
    /// its receive buffer back to the pool when nothing else is in it.
    #[inline]
    pub fn consume(&mut self, cx: &mut Cx<'_>) {
        let (Some(n), Some(s)) = (self.front.take(), self.stream) else {
            return;
        };
        let end = HEADER_LEN as u32 + n;
        self.have = self.have.saturating_sub(end);
        let _ = cx.rx_consume(s, end as usize);
    }

    /// Sends the complete frame at the front, header included, back on its stream (an
    /// echo, or an answer built in place over the request), without a copy; the loop keeps
    /// what the socket does not take at once and sends it (wait with [`Cx::poll_sent`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if there is no complete frame at the front;
    /// [`Error::OutOfResources`] if frames follow it and no buffer is free to move them to
    /// (nothing changes then: try again later); the errors of [`Cx::rx_send`].
    #[inline]
    pub fn send_frame(&mut self, cx: &mut Cx<'_>) -> Result<()> {
        let (Some(n), Some(s)) = (self.front, self.stream) else {
            return Err(Error::InvalidArgument);
        };
        let end = HEADER_LEN as u32 + n;
        match cx.rx_send(s, end as usize) {
            Ok(()) => {
                self.front = None;
                self.have = self.have.saturating_sub(end);
                Ok(())
            }
            Err(e @ Error::OutOfResources(_)) => Err(e),
            Err(e) => Err(self.forget(e)),
        }
    }

    /// Takes the complete frame at the front, header included, as a buffer of its own (for
    /// handing it to another stream's [`Cx::send_buf`], or keeping it): the very buffer it was
    /// read into when nothing follows it, which is the usual case; else what follows moves to
    /// a new buffer. The buffer counts towards the stream until it is handed over or
    /// released.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if there is no complete frame at the front;
    /// [`Error::OutOfResources`] if a new buffer is needed and none is free (nothing changes
    /// then: consume the frame instead, or try again later); [`Error::InvalidHandle`] if the
    /// stream closed.
    #[inline]
    pub fn take_frame(&mut self, cx: &mut Cx<'_>) -> Result<Handle<Buffer>> {
        let (Some(n), Some(s)) = (self.front, self.stream) else {
            return Err(Error::InvalidArgument);
        };
        let end = HEADER_LEN as u32 + n;
        match cx.rx_take(s, end as usize) {
            Ok(b) => {
                self.front = None;
                self.have = self.have.saturating_sub(end);
                Ok(b)
            }
            Err(e @ Error::OutOfResources(_)) => Err(e),
            Err(e) => Err(self.forget(e)),
        }
    }

    /// Forgets the state of a stream that went away: `e`, to return.
    #[cold]
    fn forget(&mut self, e: Error) -> Error {
        if e == Error::InvalidHandle {
            self.front = None;
            self.have = 0;
        }
        e
    }

    /// Drops whatever the stream's receive buffer holds, giving it back to the pool (for a
    /// connection that ends, or reuse of the reader).
    #[inline]
    pub fn release(&mut self, cx: &mut Cx<'_>) {
        if let Some(s) = self.stream {
            let _ = cx.rx_consume(s, usize::MAX);
        }
        self.front = None;
        self.have = 0;
    }
}

/// What the front of a reader's buffer holds.
enum Parsed {
    /// A complete frame with this payload length.
    Frame(u32),
    /// A header over the maximum.
    TooLarge,
    /// A partial frame that needs this many bytes in all.
    Need(usize),
}

/// Builds length-prefixed frames in a pool buffer and hands it over to be sent.
///
/// Holds a buffer only between the first [`push`](Self::push) and the
/// [`poll_flush`](Self::poll_flush) that hands it over; from then on the loop holds it until
/// it is sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct PooledFrameWriter {
    buf: Option<Handle<Buffer>>,
}

impl PooledFrameWriter {
    /// A writer holding nothing.
    pub const fn new() -> Self {
        PooledFrameWriter { buf: None }
    }

    /// Whether it holds no frame that is not handed over yet.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_none()
    }

    /// Appends one frame with `payload` to the buffer being built for `stream` (taking a
    /// buffer from the pool for the first: a small one when the frame fits, else a large
    /// one; it counts towards `stream`, and goes back to the pool if `stream` closes before
    /// it is handed over).
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] if no pool buffer holds the frame;
    /// [`Error::WouldBlock`] if it does not fit the buffer being built (flush first);
    /// [`Error::OutOfResources`] if the pool has no buffer free, or `stream` holds as many as
    /// it may. Nothing is appended then.
    #[inline]
    pub fn push(
        &mut self,
        cx: &mut Cx<'_>,
        stream: Handle<TcpStream>,
        payload: &[u8],
    ) -> Result<()> {
        let need = HEADER_LEN + payload.len();
        if payload.len() > u32::MAX as usize {
            return Err(Error::MessageTooLarge);
        }
        let b = match self.buf {
            Some(b) => b,
            None => {
                let b = cx.buf_alloc_for(stream, need)?;
                self.buf = Some(b);
                b
            }
        };
        let mut v = cx.buf_mut(b)?;
        if need > v.capacity() - v.len() {
            return Err(if v.is_empty() {
                Error::MessageTooLarge
            } else {
                Error::WouldBlock
            });
        }
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes())?;
        v.extend_from_slice(payload)
    }

    /// Hands the frames built so far over to be sent on `stream`, then waits until everything
    /// handed over on `stream` is sent. While `stream` is still connecting, it waits for the
    /// connect.
    ///
    /// # Errors
    ///
    /// Those of [`Cx::send_buf`] (the buffer is kept then, for another try or
    /// [`release`](Self::release)), [`Cx::connected`] and [`Cx::poll_sent`].
    #[inline]
    pub fn poll_flush(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>) -> Poll<Result<()>> {
        if let Some(b) = self.buf {
            match cx.send_buf(stream, b) {
                Ok(()) => self.buf = None,
                Err(Error::WouldBlock) => {
                    // Still connecting: wait for it, then hand over on the next poll.
                    return match cx.connected(stream) {
                        Poll::Ready(Ok(())) => self.poll_flush(cx, stream),
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        Poll::Pending => Poll::Pending,
                    };
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        cx.poll_sent(stream)
    }

    /// Gives the buffer being built back to the pool, dropping its frames.
    pub fn release(&mut self, cx: &mut Cx<'_>) {
        if let Some(b) = self.buf.take() {
            let _ = cx.buf_release(b);
        }
    }
}
