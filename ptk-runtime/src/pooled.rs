//! Length-prefixed framing over buffers of the loop's pool: a connection holds a buffer only
//! while a frame is partial or unsent, so an idle connection holds none.
//!
//! The frames are those of [`FrameReader`](crate::FrameReader): a 4-byte big-endian payload
//! length, then the payload. [`PooledFrameReader`] and [`PooledFrameWriter`] are a handle and a
//! few integers each (24 bytes or less), where the inline `FrameReader<N>` and
//! `FrameWriter<N>` carry `N` bytes each in every connection's context.
//!
//! # Which to choose
//!
//! * **Pooled** for servers and gateways with many connections, most of them idle at any
//!   moment: memory follows the data in flight (the pool's size, set in
//!   [`Capacities`](crate::Capacities)), not the number of connections. Echoing or relaying a
//!   frame hands the very buffer it arrived in to the send, without a copy.
//! * **Inline** for small targets without a pool, for a few connections, or where a
//!   connection must never wait for a buffer: its memory is reserved up front.
//!
//! When the pool runs dry, reads pause instead of failing (see
//! [`Cx::read_buf`](crate::Cx::read_buf)): the connection's data waits in the kernel until
//! a buffer is free.
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
//!             Poll::Ready(Some(_)) => {
//!                 // The frame, header included, in its own buffer: handed to the send.
//!                 let frame = match reader.take_frame(cx) {
//!                     Ok(frame) => frame,
//!                     // Frames came behind it and no buffer is free to move them to:
//!                     // try again after the next event (the loop polls this again).
//!                     Err(Error::OutOfResources(_)) => return Poll::Pending,
//!                     Err(e) => return Poll::Ready(Err(e)),
//!                 };
//!                 if let Err(e) = cx.send_buf(stream, frame) {
//!                     let _ = cx.buf_release(frame);
//!                     return Poll::Ready(Err(e));
//!                 }
//!             }
//!         }
//!     }
//! }
//! ```

use core::task::Poll;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::framing::{header, HEADER_LEN};
use crate::handle::{Buffer, Handle, TcpStream};

/// Reads length-prefixed frames into buffers lent by the loop's pool.
///
/// Holds a buffer only from the first byte of a frame until the frame is consumed or taken
/// (and while more frames that arrived with it are waiting). Call
/// [`release`](Self::release) when the connection ends early; a buffer still held when its
/// stream closes goes back to the pool anyway (its handle then goes stale).
#[derive(Clone, Copy, Debug)]
pub struct PooledFrameReader {
    buf: Option<Handle<Buffer>>,
    max: u32,
    /// The payload length of the complete frame at the front, once known.
    front: Option<u32>,
    /// Bytes in the buffer as of the last parse.
    have: u32,
}

impl PooledFrameReader {
    /// A reader accepting payloads of up to `max_frame` bytes (frames larger than the pool's
    /// largest buffer, less the 4-byte header, are refused whatever this says).
    pub const fn new(max_frame: usize) -> Self {
        PooledFrameReader {
            buf: None,
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

    /// Whether it holds a pool buffer now.
    pub const fn holds_buffer(&self) -> bool {
        self.buf.is_some()
    }

    /// Bytes buffered and not consumed.
    pub fn buffered(&self, cx: &Cx<'_>) -> usize {
        self.buf.and_then(|b| cx.buf(b).ok()).map_or(0, <[u8]>::len)
    }

    /// Reads until a whole frame is at the front: `Ready(Ok(Some(len)))` with the payload
    /// length (read it with [`frame`](Self::frame), then [`consume`](Self::consume) or
    /// [`take_frame`](Self::take_frame) it); `Ready(Ok(None))` when the peer closed between
    /// frames. Frames already buffered are returned without reading.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] for a header over the maximum (or over what the pool's
    /// largest buffer holds); [`Error::Closed`] when the peer closed in the middle of a frame;
    /// [`Error::InvalidHandle`] if the buffer went stale (its stream closed); any error of
    /// the read.
    #[inline]
    pub fn poll_frame(
        &mut self,
        cx: &mut Cx<'_>,
        stream: Handle<TcpStream>,
    ) -> Poll<Result<Option<usize>>> {
        if let Some(n) = self.front {
            // A frame already found: still there, unless its stream closed meanwhile.
            match self.buf.map(|b| cx.buf(b)) {
                Some(Ok(_)) => return Poll::Ready(Ok(Some(n as usize))),
                _ => return Poll::Ready(Err(self.forget())),
            }
        }
        let b = match self.buf {
            Some(b) => b,
            None => {
                let max = self.max as usize;
                match cx.read_buf_with(stream, |bytes| Self::parse(bytes, max)) {
                    Poll::Ready(Ok(Some((b, parsed)))) => {
                        self.buf = Some(b);
                        match parsed {
                            Parsed::Frame(n, have) => {
                                self.have = have;
                                self.front = Some(n);
                                return Poll::Ready(Ok(Some(n as usize)));
                            }
                            Parsed::TooLarge => return Poll::Ready(Err(Error::MessageTooLarge)),
                            Parsed::Need(_) => {}
                        }
                        b
                    }
                    Poll::Ready(Ok(None)) => return Poll::Ready(Ok(None)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        loop {
            let bytes = match cx.buf(b) {
                Ok(bytes) => bytes,
                Err(_) => return Poll::Ready(Err(self.forget())),
            };
            let need = match Self::parse(bytes, self.max as usize) {
                Parsed::Frame(n, have) => {
                    self.have = have;
                    self.front = Some(n);
                    return Poll::Ready(Ok(Some(n as usize)));
                }
                Parsed::TooLarge => return Poll::Ready(Err(Error::MessageTooLarge)),
                Parsed::Need(need) => need,
            };
            match cx.read_more(stream, b, need) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// What `bytes` (a buffer's contents) hold at the front.
    #[inline]
    fn parse(bytes: &[u8], max: usize) -> Parsed {
        match header(bytes) {
            None => Parsed::Need(HEADER_LEN),
            Some(n) if n > max => Parsed::TooLarge,
            Some(n) if bytes.len() >= HEADER_LEN + n => Parsed::Frame(n as u32, bytes.len() as u32),
            Some(n) => Parsed::Need(HEADER_LEN + n),
        }
    }

    /// The complete frame at the front with its header, as it came off the wire (empty if
    /// there is none).
    #[inline]
    pub fn frame_with_header<'c>(&self, cx: &'c Cx<'_>) -> &'c [u8] {
        match (self.front, self.buf) {
            (Some(n), Some(b)) => cx
                .buf(b)
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

    /// Drops the complete frame at the front (nothing if there is none); gives the buffer
    /// back to the pool when nothing else is in it.
    #[inline]
    pub fn consume(&mut self, cx: &mut Cx<'_>) {
        let (Some(n), Some(b)) = (self.front.take(), self.buf) else {
            return;
        };
        let end = HEADER_LEN + n as usize;
        if self.have as usize <= end {
            self.release(cx);
            return;
        }
        match cx.buf_mut(b) {
            Ok(mut v) => {
                v.consume(end);
                self.have = v.len() as u32;
            }
            Err(_) => self.release(cx),
        }
    }

    /// Takes the complete frame at the front, header included, as a buffer of its own (for
    /// handing it to [`Cx::send_buf`] or keeping it): the very buffer it was read into when
    /// nothing follows it, which is the usual case; else what follows moves to a new buffer.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if there is no complete frame at the front;
    /// [`Error::OutOfResources`] if a new buffer is needed and none is free (nothing changes
    /// then: consume the frame instead, or try again later); [`Error::InvalidHandle`] if the
    /// buffer went stale.
    #[inline]
    pub fn take_frame(&mut self, cx: &mut Cx<'_>) -> Result<Handle<Buffer>> {
        let (Some(n), Some(b)) = (self.front, self.buf) else {
            return Err(Error::InvalidArgument);
        };
        if cx.buf(b).is_err() {
            return Err(self.forget());
        }
        let end = HEADER_LEN + n as usize;
        if self.have as usize > end {
            let rest = cx.buf_split_off(b, end)?;
            self.buf = Some(rest);
            self.have -= end as u32;
        } else {
            self.buf = None;
        }
        self.front = None;
        Ok(b)
    }

    /// Drops a buffer that went stale (its stream closed): `InvalidHandle`, to return.
    #[cold]
    fn forget(&mut self) -> Error {
        self.buf = None;
        self.front = None;
        self.have = 0;
        Error::InvalidHandle
    }

    /// Gives the buffer back to the pool, dropping whatever it holds (for a connection that
    /// ends, or reuse of the reader).
    #[inline]
    pub fn release(&mut self, cx: &mut Cx<'_>) {
        if let Some(b) = self.buf.take() {
            let _ = cx.buf_release(b);
        }
        self.front = None;
        self.have = 0;
    }
}

/// What the front of a reader's buffer holds.
enum Parsed {
    /// A complete frame with this payload length, in this many bytes buffered.
    Frame(u32, u32),
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
