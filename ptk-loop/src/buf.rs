//! [`Buf`]: a buffer of the loop group's pool, owned by whoever holds it.
//!
//! The pool is made when the [`Loop`](crate::Loop) is created: `LoopOpts::buffers` chunks of
//! `LoopOpts::buffer_size` bytes. Taking a buffer moves a chunk out of the pool's free list
//! and dropping it (on any thread) moves it back: nothing is allocated per message, and a
//! buffer handed to another thread is freed there as safely as on the loop's thread.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// One chunk of pool memory and its fill level.
pub(crate) struct Chunk {
    data: Box<[u8]>,
    len: usize,
    /// The pool the chunk goes back to; `None` while it sits in the free list (so the pool
    /// holds no reference to itself).
    pool: Option<Arc<BufPool>>,
}

/// The group's buffers: a free list of chunks made at start-up.
pub(crate) struct BufPool {
    // Boxed so that a chunk keeps its address while a foreign owner holds it as a pointer
    // (`Buf::into_raw`).
    #[allow(clippy::vec_box)]
    free: Mutex<Vec<Box<Chunk>>>,
    size: usize,
    count: usize,
}

impl BufPool {
    /// Makes `count` chunks of `size` bytes.
    pub(crate) fn new(count: usize, size: usize) -> Arc<BufPool> {
        let mut free = Vec::with_capacity(count);
        for _ in 0..count {
            free.push(Box::new(Chunk {
                data: vec![0u8; size].into_boxed_slice(),
                len: 0,
                pool: None,
            }));
        }
        Arc::new(BufPool {
            free: Mutex::new(free),
            size,
            count,
        })
    }

    /// Takes a free buffer.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`] when every buffer is in use.
    pub(crate) fn alloc(self: &Arc<Self>) -> Result<Buf> {
        let chunk = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match chunk {
            Some(mut c) => {
                c.len = 0;
                c.pool = Some(Arc::clone(self));
                Ok(Buf(Some(c)))
            }
            None => Err(Error::OutOfMemory),
        }
    }

    /// Bytes per buffer.
    pub(crate) fn buffer_size(&self) -> usize {
        self.size
    }

    /// Buffers not in use.
    pub(crate) fn available(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Buffers in all.
    pub(crate) fn count(&self) -> usize {
        self.count
    }
}

/// A buffer of the group's pool: up to [`capacity`](Buf::capacity) bytes, of which the
/// first [`len`](Buf::len) hold data.
///
/// A `Buf` is owned: dropping it, on any thread, gives its memory back to the pool. Writes
/// ([`LoopHandle::write`](crate::LoopHandle::write), [`udp_send`](crate::LoopHandle::udp_send))
/// take it by value: from then on the loop owns it. A read event lends one
/// ([`Ownership::Borrowed`](crate::Ownership::Borrowed)) or hands it over
/// ([`Ownership::Transfer`](crate::Ownership::Transfer), taken with
/// [`Event::take_buf`](crate::Event::take_buf)).
///
/// # Examples
///
/// ```
/// use ptk_loop::{Loop, LoopOpts};
///
/// let lp = Loop::new(&LoopOpts { worker_threads: 1, buffers: 4, ..LoopOpts::default() }).unwrap();
/// let mut buf = lp.buf_alloc().unwrap();
/// buf.extend_from_slice(b"hello").unwrap();
/// assert_eq!(buf.as_slice(), b"hello");
/// assert_eq!(lp.buffers_available(), 3);
/// drop(buf);
/// assert_eq!(lp.buffers_available(), 4);
/// ```
pub struct Buf(Option<Box<Chunk>>);

impl Buf {
    fn chunk(&self) -> &Chunk {
        match &self.0 {
            Some(c) => c,
            // Only `drop` empties the option.
            None => unreachable!(),
        }
    }

    fn chunk_mut(&mut self) -> &mut Chunk {
        match &mut self.0 {
            Some(c) => c,
            None => unreachable!(),
        }
    }

    /// Bytes of data.
    pub fn len(&self) -> usize {
        self.chunk().len
    }

    /// Whether it holds no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes it can hold (`LoopOpts::buffer_size`).
    pub fn capacity(&self) -> usize {
        self.chunk().data.len()
    }

    /// The data.
    pub fn as_slice(&self) -> &[u8] {
        let c = self.chunk();
        &c.data[..c.len]
    }

    /// The data, to change in place.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let c = self.chunk_mut();
        &mut c.data[..c.len]
    }

    /// The room behind the data: write into it, then [`set_len`](Buf::set_len).
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let c = self.chunk_mut();
        &mut c.data[c.len..]
    }

    /// Sets how many bytes hold data (the bytes between the old and the new length are
    /// whatever the memory held).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`] if `len` exceeds the capacity.
    pub fn set_len(&mut self, len: usize) -> Result<()> {
        let c = self.chunk_mut();
        if len > c.data.len() {
            return Err(Error::InvalidParam);
        }
        c.len = len;
        Ok(())
    }

    /// Appends `bytes`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParam`] if they do not fit (nothing is appended).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<()> {
        let c = self.chunk_mut();
        let end = c.len + bytes.len();
        if end > c.data.len() {
            return Err(Error::InvalidParam);
        }
        c.data[c.len..end].copy_from_slice(bytes);
        c.len = end;
        Ok(())
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.chunk_mut().len = 0;
    }

    /// Removes the first `n` bytes (all of them if `n >= len`), moving the rest to the front.
    pub fn consume(&mut self, n: usize) {
        let c = self.chunk_mut();
        let n = n.min(c.len);
        c.data.copy_within(n..c.len, 0);
        c.len -= n;
    }

    /// Turns the buffer into a pointer for a foreign owner (the C API's `buf *`). Nothing is
    /// allocated: the pointer names the chunk the buffer already owns. Give it back with
    /// [`Buf::from_raw`], exactly once, or its memory never returns to the pool.
    pub fn into_raw(mut self) -> *mut core::ffi::c_void {
        match self.0.take() {
            Some(c) => Box::into_raw(c).cast(),
            None => core::ptr::null_mut(),
        }
    }

    /// Takes back a buffer made into a pointer by [`Buf::into_raw`].
    ///
    /// # Safety
    ///
    /// `raw` must come from [`Buf::into_raw`] and not have been given to `from_raw` before.
    #[allow(unsafe_code)]
    pub unsafe fn from_raw(raw: *mut core::ffi::c_void) -> Buf {
        // SAFETY: the caller promises `raw` is the pointer `into_raw` made from a `Box<Chunk>`
        // and that nobody else took it back, so the box is rebuilt exactly once.
        Buf(Some(unsafe { Box::from_raw(raw.cast::<Chunk>()) }))
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            if let Some(pool) = c.pool.take() {
                let mut free = pool.free.lock().unwrap_or_else(|e| e.into_inner());
                // The list was made with room for every chunk, so this never allocates.
                free.push(c);
            }
        }
    }
}

impl fmt::Debug for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_round_trips_through_a_raw_pointer_and_returns_to_its_pool() {
        let pool = BufPool::new(2, 16);
        let mut b = pool.alloc().unwrap();
        b.extend_from_slice(b"abc").unwrap();
        let raw = b.into_raw();
        assert_eq!(pool.available(), 1);
        #[allow(unsafe_code)]
        // SAFETY: `raw` came from `into_raw` just above and is taken back once.
        let b = unsafe { Buf::from_raw(raw) };
        assert_eq!(b.as_slice(), b"abc");
        drop(b);
        assert_eq!(pool.available(), 2);
    }

    #[test]
    fn a_full_buffer_refuses_more_and_consume_moves_the_rest_forward() {
        let pool = BufPool::new(1, 4);
        let mut b = pool.alloc().unwrap();
        assert_eq!(pool.alloc().unwrap_err(), Error::OutOfMemory);
        b.extend_from_slice(b"abcd").unwrap();
        assert_eq!(b.extend_from_slice(b"e"), Err(Error::InvalidParam));
        b.consume(1);
        assert_eq!(b.as_slice(), b"bcd");
        assert_eq!(b.set_len(5), Err(Error::InvalidParam));
        b.clear();
        assert!(b.is_empty());
    }
}
