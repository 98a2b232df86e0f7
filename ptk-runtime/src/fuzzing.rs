//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): internal, with no
//! stability promise.
//!
//! They reach parsers and pools that the public API only drives through a running loop and
//! its sockets, without either: the frame reader over a read function of the caller, and the
//! loop's buffer pool with the accounting the loop's operations keep around it (which stream
//! a buffer counts towards, send queues, receive buffers). Each entry point calls the code
//! the loop runs; only the sockets are left out.

use core::task::Poll;

use crate::error::{Error, Result};
use crate::event_loop::{BufMut, BufferClass, BufferEntry, BufferStats, Buffers, StreamBufs};
use crate::framing::FrameReader;
use crate::handle::{RawHandle, ResourceType};

/// [`FrameReader::poll_frame`] with `read` in place of the stream: `read` fills the room it is
/// given and returns how many bytes it put there (`Ready(Ok(0))` at end-of-stream), as
/// [`Cx::read`](crate::Cx::read) does.
pub fn poll_frame_from<const N: usize>(
    reader: &mut FrameReader<N>,
    read: impl FnMut(&mut [u8]) -> Poll<Result<usize>>,
) -> Poll<Result<Option<usize>>> {
    reader.poll_frame_from(read)
}

/// How many streams a [`BufferPool`] plays.
pub const STREAMS: usize = 4;

/// The loop's buffer pool with `STREAMS` streams around it, each with its account of
/// buffers, its send queue and its receive buffer, kept as the loop's operations keep them.
///
/// The per-stream cap and the queue of paused reads are the loop's, not the pool's, and are
/// left out: a stream here may hold any number of buffers.
pub struct BufferPool<'s> {
    pool: Buffers<'s>,
    streams: [StreamBufs; STREAMS],
}

impl core::fmt::Debug for BufferPool<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BufferPool")
            .field("stats", &self.pool.stats())
            .finish_non_exhaustive()
    }
}

impl<'s> BufferPool<'s> {
    /// A pool of `classes` over storage of the caller (one entry and two `free` words per
    /// buffer, and the buffers' bytes).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the storage does not fit `classes` (as
    /// [`EventLoop::new`](crate::EventLoop::new) checks).
    pub fn new(
        entries: &'s mut [BufferEntry],
        free: &'s mut [u32],
        memory: &'s mut [u8],
        classes: [BufferClass; 2],
    ) -> Result<BufferPool<'s>> {
        if !Buffers::fits(classes, entries.len(), free.len(), memory.len()) {
            return Err(Error::InvalidArgument);
        }
        Ok(BufferPool {
            pool: Buffers::new(entries, free, memory, classes, 0, usize::MAX),
            streams: [StreamBufs::NEW; STREAMS],
        })
    }

    /// The handle of stream `s` (`s < STREAMS`).
    pub fn stream(s: usize) -> RawHandle {
        RawHandle::new(ResourceType::TcpStream, 0, 1, s as u32)
    }

    fn account(&mut self, owner: RawHandle) -> Option<&mut StreamBufs> {
        self.streams.get_mut(owner.slot() as usize)
    }

    /// The pool's counters.
    pub fn stats(&self) -> BufferStats {
        self.pool.stats()
    }

    /// Buffers stream `s` counts: lent, split off, queued and its receive buffer.
    pub fn held(&self, s: usize) -> u32 {
        self.streams.get(s).map_or(0, |sb| sb.held)
    }

    /// [`Cx::buf_alloc`](crate::Cx::buf_alloc).
    ///
    /// # Errors
    ///
    /// As `Cx::buf_alloc`.
    pub fn alloc(&mut self, capacity: usize) -> Result<RawHandle> {
        self.pool.alloc(capacity)
    }

    /// A read of stream `s` into a lent buffer ([`Cx::read_buf`](crate::Cx::read_buf)) that
    /// brought `bytes` (as many as the buffer holds): the buffer, `None` when the read brought
    /// nothing or no buffer was free.
    pub fn lend(&mut self, s: usize, bytes: &[u8]) -> Option<RawHandle> {
        let owner = Self::stream(s);
        let (chunk, room) = self.pool.lend_room()?;
        let n = bytes.len().min(room.bytes.len());
        room.bytes[..n].copy_from_slice(&bytes[..n]);
        if n == 0 {
            self.pool.unlend(chunk);
            return None;
        }
        let b = self.pool.lend(chunk, n, owner);
        self.streams[s].held += 1;
        Some(b)
    }

    /// [`Cx::buf_release`](crate::Cx::buf_release).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a queued buffer.
    pub fn release(&mut self, h: RawHandle) -> Result<()> {
        let i = self.pool.index(h)?;
        let owner = self.pool.owner_at(i);
        self.pool.free_at(i);
        if let Some(sb) = owner.and_then(|o| self.account(o)) {
            sb.held = sb.held.saturating_sub(1);
        }
        Ok(())
    }

    /// [`Cx::buf`](crate::Cx::buf).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a queued buffer.
    pub fn bytes(&self, h: RawHandle) -> Result<&[u8]> {
        self.pool.bytes(h)
    }

    /// [`Cx::buf_mut`](crate::Cx::buf_mut).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a queued buffer.
    pub fn view(&mut self, h: RawHandle) -> Result<BufMut<'_>> {
        self.pool.view(h)
    }

    /// The stream buffer `h` counts towards.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a queued buffer.
    pub fn owner(&self, h: RawHandle) -> Result<Option<RawHandle>> {
        self.pool.owner(h)
    }

    /// A read into buffer `h` after its contents ([`Cx::read_more`](crate::Cx::read_more))
    /// with room made for `need` bytes, which brought `bytes` (as many as the room holds):
    /// how many were added.
    ///
    /// # Errors
    ///
    /// As `Cx::read_more`: `InvalidHandle`, `MessageTooLarge` (also for a full buffer),
    /// `OutOfResources`.
    pub fn read_more(&mut self, h: RawHandle, need: usize, bytes: &[u8]) -> Result<usize> {
        let room = self.pool.room(h, need)?;
        if room.bytes.is_empty() {
            return Err(Error::MessageTooLarge);
        }
        let n = bytes.len().min(room.bytes.len());
        room.bytes[..n].copy_from_slice(&bytes[..n]);
        self.pool.filled(h, n);
        Ok(n)
    }

    /// [`Cx::buf_split_off`](crate::Cx::buf_split_off) (without the per-stream cap).
    ///
    /// # Errors
    ///
    /// As `Cx::buf_split_off`.
    pub fn split(&mut self, h: RawHandle, at: usize) -> Result<RawHandle> {
        let t = self.pool.split(h, at)?;
        if let Some(sb) = self.pool.owner(t)?.and_then(|o| self.account(o)) {
            sb.held += 1;
        }
        Ok(t)
    }

    /// [`Cx::buf_clone`](crate::Cx::buf_clone).
    ///
    /// # Errors
    ///
    /// As `Cx::buf_clone`.
    pub fn duplicate(&mut self, h: RawHandle) -> Result<RawHandle> {
        self.pool.duplicate(h)
    }

    /// [`Cx::buf_detach`](crate::Cx::buf_detach).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a queued buffer.
    pub fn detach(&mut self, h: RawHandle) -> Result<()> {
        let i = self.pool.index(h)?;
        if let Some(o) = self.pool.owner_at(i) {
            self.pool.detach_at(i);
            if let Some(sb) = self.account(o) {
                sb.held = sb.held.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// [`Cx::send_buf`](crate::Cx::send_buf) of buffer `h` on stream `s` whose socket takes
    /// nothing now: the buffer joins the stream's send queue (an empty one is freed).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale handle or a queued buffer.
    pub fn send(&mut self, s: usize, h: RawHandle) -> Result<()> {
        let i = self.pool.index(h)?;
        let owner = self.pool.owner_at(i);
        if let Some(sb) = owner.and_then(|o| self.account(o)) {
            sb.held = sb.held.saturating_sub(1);
        }
        if self.pool.bytes_at(i).is_empty() {
            self.pool.free_at(i);
            return Ok(());
        }
        let sb = self.streams.get_mut(s).ok_or(Error::InvalidHandle)?;
        self.pool.enqueue_at(i, Self::stream(s), sb);
        Ok(())
    }

    /// The unsent bytes of the front of stream `s`'s send queue (`None` when it is empty).
    pub fn unsent(&self, s: usize) -> Option<&[u8]> {
        let sb = self.streams.get(s)?;
        sb.sending().then(|| self.pool.unsent(sb.send_front()))
    }

    /// The socket of stream `s` took `n` bytes of the front of its send queue: whether that
    /// buffer was all sent and freed.
    pub fn sent(&mut self, s: usize, n: usize) -> bool {
        let Some(sb) = self.streams.get_mut(s) else {
            return false;
        };
        sb.sending() && self.pool.sent(sb, n)
    }

    /// Stream `s` closes: everything it counts goes back to the pool.
    pub fn close(&mut self, s: usize) {
        if let Some(sb) = self.streams.get_mut(s) {
            self.pool.drop_stream(Self::stream(s), sb);
        }
    }

    /// A read of stream `s` into its receive buffer ([`Cx::rx_read`](crate::Cx::rx_read))
    /// with room for `need` bytes in all, which brought `bytes` (as many as the room holds):
    /// how many were added.
    ///
    /// # Errors
    ///
    /// As `Cx::rx_read`: `MessageTooLarge` for a `need` no buffer holds or a full buffer,
    /// `OutOfResources` when no buffer is free (the read would pause).
    pub fn rx_read(&mut self, s: usize, need: usize, bytes: &[u8]) -> Result<usize> {
        let sb = self.streams.get_mut(s).ok_or(Error::InvalidHandle)?;
        if need > self.pool.max_size() {
            return Err(Error::MessageTooLarge);
        }
        if !sb.rx.is_some() {
            self.pool.rx_attach(&mut sb.rx, need)?;
            sb.held += 1;
        }
        let room = self.pool.rx_room(&mut sb.rx, need)?;
        if room.is_empty() {
            return Err(Error::MessageTooLarge);
        }
        let n = bytes.len().min(room.len());
        room[..n].copy_from_slice(&bytes[..n]);
        sb.rx.grow(n);
        if n == 0 && self.pool.rx_consume(&mut sb.rx, 0) {
            sb.held -= 1;
        }
        Ok(n)
    }

    /// [`Cx::rx`](crate::Cx::rx): the bytes in stream `s`'s receive buffer.
    pub fn rx(&self, s: usize) -> &[u8] {
        self.streams
            .get(s)
            .map_or(&[], |sb| self.pool.rx_bytes(&sb.rx))
    }

    /// [`Cx::rx_consume`](crate::Cx::rx_consume).
    pub fn rx_consume(&mut self, s: usize, n: usize) {
        if let Some(sb) = self.streams.get_mut(s) {
            if self.pool.rx_consume(&mut sb.rx, n) {
                sb.held -= 1;
            }
        }
    }

    /// [`Cx::rx_take`](crate::Cx::rx_take) (without the per-stream cap).
    ///
    /// # Errors
    ///
    /// As `Cx::rx_take`.
    pub fn rx_take(&mut self, s: usize, n: usize) -> Result<RawHandle> {
        let h = Self::stream(s);
        let sb = self.streams.get_mut(s).ok_or(Error::InvalidHandle)?;
        let len = sb.rx.len();
        if n == 0 || n > len {
            return Err(Error::InvalidArgument);
        }
        let tail = self.pool.rx_split(&mut sb.rx, n)?;
        let b = self.pool.rx_into_buffer(&mut sb.rx, h);
        if tail.is_some() {
            sb.rx = tail;
            sb.held += 1;
        }
        Ok(b)
    }
}
