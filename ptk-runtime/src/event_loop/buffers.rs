//! The buffer pool: fixed-size chunks of one block of memory the caller provides, lent to
//! reads and handed over by writes, each addressed by a generational [`Handle<Buffer>`].
//!
//! # Two classes of chunks
//!
//! The memory holds `small.count` chunks of `small.size` bytes followed by `large.count`
//! chunks of `large.size` bytes. A buffer takes the smallest class its contents need; a read
//! that lends a buffer takes a small one, and a frame reader moves a partial frame into a large
//! one only when its header announces more than a small one holds. The largest frame a pool
//! buffer can hold is therefore `large.size` (or `small.size` without a large class).
//!
//! # Handles and chunks are reused differently
//!
//! Buffer *slots* (what a handle names) are reused first in, first out (a ring of free slot
//! numbers), like every pool of the loop. Buffers are taken and freed at the rate of
//! messages, so a 16-bit generation alone would let a stale handle name a new buffer after
//! seconds under load: each slot keeps a 64-bit count of its uses instead, whose low 16 bits
//! are the handle's generation field and whose next bits fill the bits of the handle's slot
//! field the slot index does not need (21 of them for a pool of 1,088 buffers). A stale
//! handle could alias only after 2^(16 + spare bits) uses of its slot (2^37 for 1,088
//! buffers). *Chunks* (the memory) are reused
//! last in, first out from one stack per class, so the chunks in use are the few most
//! recently used ones: memory the program never needed at once is never touched, and a pool
//! made with `calloc`-like zeroed pages costs resident memory only for the chunks that were
//! in use at the same time.
//!
//! # Who holds a buffer
//!
//! A buffer is either the user's (allocated, or lent by a read) or queued on a stream to be
//! sent (handed over), in which case its handle no longer resolves for the user. A buffer a
//! stream's read lent, or one queued on a stream, is *attributed* to that stream: it counts
//! towards the stream's cap (`Config::buffers_per_stream`) and goes back to the pool when the
//! stream closes, so a connection that ends while holding buffers leaks none. Queued buffers
//! are linked in their stream's send queue; lent ones are only counted: a stream that closes
//! while its count is not zero has the pool's entries searched for them (a walk over the
//! pool's entries, for each close of a stream that holds a buffer, such as a partial frame),
//! which keeps the path of every message free of list updates.

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};

/// "No entry" in the links.
pub(crate) const NIL: u32 = u32::MAX;

/// One class of chunks: how many and how large.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferClass {
    /// How many chunks.
    pub count: usize,
    /// Bytes per chunk (at most `u32::MAX`).
    pub size: usize,
}

impl BufferClass {
    /// Bytes of memory the class takes.
    pub const fn bytes(&self) -> usize {
        self.count.saturating_mul(self.size)
    }
}

/// The state of one pool buffer (opaque; see [`Storage::buffers`](super::Storage::buffers)).
///
/// Build storage with [`BufferEntry::EMPTY`].
#[derive(Clone, Copy, Debug)]
pub struct BufferEntry {
    /// While the user holds the buffer: its handle, so that a handle resolves with one
    /// compare. 0 while free or queued for sending (no handle is 0), so that neither resolves.
    key: u64,
    /// Bumped each time the slot is taken; survives free and reuse. Its low 16 bits are the
    /// handle's generation field, the next ones go into the high bits of the handle's slot
    /// field that the slot index does not need.
    generation: u64,
    /// Taken (held by the user or queued for sending).
    used: bool,
    /// The chunk's index (small chunks first), given back when the buffer is freed.
    chunk: u32,
    /// The chunk's size.
    cap: u32,
    /// The first byte of the contents (advanced by consuming from the front and by sends).
    start: u32,
    /// One past the last byte of the contents.
    end: u32,
    /// The next buffer in the send queue.
    next: u32,
    /// Where its chunk starts in the pool's memory.
    base: usize,
    /// The stream the buffer is attributed to.
    owner: Option<RawHandle>,
}

impl BufferEntry {
    /// An unused entry with generation 0.
    pub const EMPTY: BufferEntry = BufferEntry {
        key: 0,
        generation: 0,
        used: false,
        chunk: 0,
        cap: 0,
        start: 0,
        end: 0,
        next: NIL,
        base: 0,
        owner: None,
    };
}

impl Default for BufferEntry {
    fn default() -> Self {
        BufferEntry::EMPTY
    }
}

/// What a stream needs to know of the buffers attributed to it (kept in its entry).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamBufs {
    /// The send queue, oldest first.
    send_head: u32,
    send_tail: u32,
    /// Buffers attributed to the stream (lent and queued).
    pub(crate) held: u32,
    /// Why its reads are paused, if they are.
    pub(crate) park: Park,
    /// Paused for the pool (`Park::Pool`) waiting for a large chunk (a partial frame that
    /// needs one), not a small one: only a free chunk of that class lets it go.
    pub(crate) want_large: bool,
    /// Let go from the pool's queue before the last poll and not read since: it may take a
    /// chunk although other streams still wait.
    pub(crate) let_go: bool,
    /// Links in the queue of streams paused for want of a free buffer.
    pub(crate) park_prev: u32,
    pub(crate) park_next: u32,
    /// A send of a queued buffer failed: every queued buffer was freed, and the next
    /// operation that waits for the sends reports this.
    pub(crate) send_error: Option<Error>,
    /// The stream's receive buffer (see `Cx::rx_read`).
    pub(crate) rx: Rx,
}

/// A stream's receive buffer: a chunk the stream holds while it has bytes received and not
/// consumed, addressed through the stream's handle (no handle of its own).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rx {
    /// The chunk, or `NIL` for none.
    chunk: u32,
    cap: u32,
    start: u32,
    end: u32,
    base: usize,
}

impl Rx {
    pub(crate) const NONE: Rx = Rx {
        chunk: NIL,
        cap: 0,
        start: 0,
        end: 0,
        base: 0,
    };

    /// Whether the stream holds a receive buffer.
    #[inline]
    pub(crate) fn is_some(&self) -> bool {
        self.chunk != NIL
    }

    /// Bytes received and not consumed.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Records `n` bytes read into the room after the contents.
    #[inline]
    pub(crate) fn grow(&mut self, n: usize) {
        self.end = (self.end as usize + n).min(self.cap as usize) as u32;
    }
}

impl StreamBufs {
    pub(crate) const NEW: StreamBufs = StreamBufs {
        send_head: NIL,
        send_tail: NIL,
        held: 0,
        park: Park::No,
        want_large: false,
        let_go: false,
        park_prev: NIL,
        park_next: NIL,
        send_error: None,
        rx: Rx::NONE,
    };

    /// Whether handed-over buffers wait to be sent.
    #[inline]
    pub(crate) fn sending(&self) -> bool {
        self.send_head != NIL
    }

    /// The buffer at the front of the send queue (slot index).
    #[inline]
    pub(crate) fn send_front(&self) -> u32 {
        self.send_head
    }
}

/// Why a stream's reads are paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Park {
    /// They are not.
    No,
    /// The pool had no free chunk: the stream is in the pool's queue of paused streams and is
    /// let go, first paused first, once chunks are free again.
    Pool,
    /// The stream held as many buffers as one stream may: let go when one of them is freed.
    Cap,
}

/// Counters of a loop's buffer pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Small buffers in the pool.
    pub small_capacity: usize,
    /// Small buffers in use (held by the user or queued for sending).
    pub small_in_use: usize,
    /// Large buffers in the pool.
    pub large_capacity: usize,
    /// Large buffers in use.
    pub large_in_use: usize,
    /// The most buffers (both classes) ever in use at once.
    pub peak_in_use: usize,
    /// Buffers queued for sending, in all streams.
    pub queued: usize,
    /// Times a read paused because the pool had no free buffer.
    pub pool_pauses: u64,
    /// Times a read paused because its stream held as many buffers as one stream may.
    pub cap_pauses: u64,
    /// Streams whose reads are paused now in the pool's queue, waiting for a free buffer
    /// (streams paused at their own cap are not counted).
    pub paused_streams: usize,
    /// Bytes per small buffer.
    pub small_size: usize,
    /// Bytes per large buffer.
    pub large_size: usize,
    /// The most contents one buffer can hold (the size of the largest class that has
    /// buffers).
    pub max_size: usize,
}

/// A chunk class with its stack of free chunks (`free[first..first + top]`).
#[derive(Clone, Copy, Debug)]
struct ClassState {
    count: u32,
    size: u32,
    /// Byte offset of the class's first chunk in the memory.
    base: usize,
    /// Index of the class's first chunk (and of its stack in `free`).
    first: u32,
    /// Free chunks on the stack.
    top: u32,
}

/// A free chunk taken off its class's stack (`chunk`, its byte offset, its size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    chunk: u32,
    base: usize,
    cap: u32,
}

/// The buffer pool of one loop.
///
/// `entries[i]` is the state of buffer slot `i`. `free` holds, for `n` slots, the stacks of
/// free chunks (`free[..n]`, one stack per class) and then the ring of free slots
/// (`free[n..2n]`, oldest freed first).
pub(crate) struct Buffers<'s> {
    entries: &'s mut [BufferEntry],
    memory: &'s mut [u8],
    free: &'s mut [u32],
    classes: [ClassState; 2],
    loop_id: u8,
    /// Slots (and chunks) in all.
    n: u32,
    /// Bits of a handle's slot field the slot index takes; the others carry generation bits.
    index_bits: u32,
    /// The class reads borrow from: the small one, or the large one in a pool without small
    /// buffers.
    lend_class: usize,
    /// The most a small buffer holds (0 without small buffers), a large one, any.
    small_max: usize,
    large_max: usize,
    max: usize,
    /// The free slot ring: its first entry and its length.
    ring_head: u32,
    ring_len: u32,
    per_stream: u32,
    peak: u32,
    queued: u32,
    pool_pauses: u64,
    cap_pauses: u64,
    /// Reads have paused for the pool since it was last at least half free: an episode of
    /// exhaustion, logged once when it starts and once when it ends.
    #[cfg(feature = "log")]
    dry: bool,
    /// The queue of streams paused for want of a free chunk (their slot indices), oldest
    /// first; the links are in the streams' [`StreamBufs`].
    pub(crate) parked_head: u32,
    pub(crate) parked_tail: u32,
    pub(crate) parked: u32,
    /// How many of the `parked` streams wait for a large buffer.
    pub(crate) parked_large: u32,
    /// Chunks lent to the kernel's provided-buffer ring (off the free stack, counted free).
    pub(crate) lent: u32,
    /// The queues of chunks multishot receives filled (io_uring, see `ring.rs`).
    pub(crate) mq: Option<RecvQueues>,
}

/// Per chunk of the pool, made at start-up for the multishot receives of a completion-based
/// backend: the link of the chunk in its stream's queue of filled chunks (first in, first
/// out) and the bytes it holds, or [`LENT`] for a chunk lent to the kernel.
pub(crate) struct RecvQueues {
    next: Box<[u32]>,
    len: Box<[u32]>,
    /// Descriptors the kernel's ring holds: at most this many chunks are lent at once.
    pub(crate) ring: u32,
}

/// The `next` of a chunk lent to the kernel.
const LENT: u32 = NIL - 1;

/// A stream's queue of chunks filled by its multishot receive (indices, `NIL` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkQueue {
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

impl ChunkQueue {
    pub(crate) const EMPTY: ChunkQueue = ChunkQueue {
        head: NIL,
        tail: NIL,
    };

    /// Whether no filled chunk waits.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }
}

/// The free room of a buffer, for a read into it.
pub(crate) struct Room<'a> {
    pub(crate) bytes: &'a mut [u8],
}

impl Chunk {
    /// No chunk.
    pub(crate) const NONE: Chunk = Chunk {
        chunk: NIL,
        base: 0,
        cap: 0,
    };

    /// The chunk's index (small chunks first).
    #[inline]
    pub(crate) fn index(&self) -> u32 {
        self.chunk
    }

    /// The chunk's size.
    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap as usize
    }
}

impl<'s> Buffers<'s> {
    /// Whether `entries`, `free` and `memory` are large enough for `classes` (checked by
    /// `EventLoop::new` before anything is built): one entry and two `free` words per chunk.
    pub(crate) fn fits(
        classes: [BufferClass; 2],
        entries: usize,
        free: usize,
        memory: usize,
    ) -> bool {
        let count = classes[0].count.checked_add(classes[1].count);
        let bytes = classes[0].bytes().checked_add(classes[1].bytes());
        match (count, bytes) {
            (Some(c), Some(b)) => {
                c <= entries
                    && c.checked_mul(2).is_some_and(|f| f <= free)
                    && b <= memory
                    && b != usize::MAX
                    && c < NIL as usize
                    && classes.iter().all(|k| k.size <= u32::MAX as usize)
                    && classes.iter().all(|k| k.count == 0 || k.size > 0)
                    && (classes[0].count == 0
                        || classes[1].count == 0
                        || classes[1].size >= classes[0].size)
            }
            _ => false,
        }
    }

    /// A pool over `memory` with chunks as `classes` says (already checked with
    /// [`fits`](Self::fits); a pool that does not fit is made empty).
    pub(crate) fn new(
        entries: &'s mut [BufferEntry],
        free: &'s mut [u32],
        memory: &'s mut [u8],
        classes: [BufferClass; 2],
        loop_id: u8,
        per_stream: usize,
    ) -> Buffers<'s> {
        let ok = Self::fits(classes, entries.len(), free.len(), memory.len());
        let small = if ok {
            classes[0]
        } else {
            BufferClass::default()
        };
        let large = if ok {
            classes[1]
        } else {
            BufferClass::default()
        };
        let n = small.count + large.count;
        let b = Buffers {
            entries,
            memory,
            free,
            classes: [
                ClassState {
                    count: small.count as u32,
                    size: small.size as u32,
                    base: 0,
                    first: 0,
                    top: small.count as u32,
                },
                ClassState {
                    count: large.count as u32,
                    size: large.size as u32,
                    base: small.bytes(),
                    first: small.count as u32,
                    top: large.count as u32,
                },
            ],
            loop_id,
            n: n as u32,
            index_bits: (u32::BITS - (n as u32).leading_zeros()).max(1),
            lend_class: usize::from(small.count == 0),
            small_max: if small.count > 0 { small.size } else { 0 },
            large_max: if large.count > 0 { large.size } else { 0 },
            max: if large.count > 0 {
                large.size.max(if small.count > 0 { small.size } else { 0 })
            } else if small.count > 0 {
                small.size
            } else {
                0
            },
            ring_head: 0,
            ring_len: n as u32,
            per_stream: per_stream.min(u32::MAX as usize) as u32,
            peak: 0,
            queued: 0,
            pool_pauses: 0,
            cap_pauses: 0,
            #[cfg(feature = "log")]
            dry: false,
            parked_head: NIL,
            parked_tail: NIL,
            parked: 0,
            parked_large: 0,
            lent: 0,
            mq: None,
        };
        for c in b.classes {
            // Lowest chunk on top: the first chunks used are at the start of the memory.
            for j in 0..c.count {
                b.free[(c.first + j) as usize] = c.first + c.count - 1 - j;
            }
        }
        for i in 0..n {
            b.free[n + i] = i as u32;
            let e = &mut b.entries[i];
            e.key = 0;
            e.used = false;
            e.owner = None;
        }
        b
    }

    /// Starts the use count of every entry at `first` (before any buffer is handed out; see
    /// `Core::start_generations`).
    pub(crate) fn start_uses_at(&mut self, first: u64) {
        for e in self.entries.iter_mut() {
            e.generation = first;
        }
    }

    /// How far the entries' use counts moved past `first`.
    pub(crate) fn uses_since(&self, first: u64) -> u64 {
        self.entries
            .iter()
            .map(|e| e.generation.wrapping_sub(first))
            .max()
            .unwrap_or(0)
    }

    /// The classes as configured.
    pub(crate) fn classes(&self) -> [BufferClass; 2] {
        self.classes.map(|c| BufferClass {
            count: c.count as usize,
            size: c.size as usize,
        })
    }

    /// Buffers one stream may hold at once.
    #[inline]
    pub(crate) fn per_stream(&self) -> u32 {
        self.per_stream
    }

    /// The largest contents a buffer can have.
    #[inline]
    pub(crate) fn max_size(&self) -> usize {
        self.max
    }

    pub(crate) fn stats(&self) -> BufferStats {
        let [s, l] = self.classes;
        // Chunks lent to the kernel are free ones staged for receives.
        let [lent_small, lent_large] = if self.lend_class == 0 {
            [self.lent, 0]
        } else {
            [0, self.lent]
        };
        BufferStats {
            small_capacity: s.count as usize,
            small_in_use: (s.count - s.top - lent_small) as usize,
            large_capacity: l.count as usize,
            large_in_use: (l.count - l.top - lent_large) as usize,

            peak_in_use: self.peak as usize,
            queued: self.queued as usize,
            pool_pauses: self.pool_pauses,
            cap_pauses: self.cap_pauses,
            paused_streams: self.parked as usize,
            small_size: s.size as usize,
            large_size: l.size as usize,
            max_size: self.max_size(),
        }
    }

    /// Free chunks of each class (small, large).
    #[inline]
    pub(crate) fn free_chunks(&self) -> [u32; 2] {
        [self.classes[0].top, self.classes[1].top]
    }

    pub(crate) fn count_pause(&mut self, park: Park) {
        match park {
            Park::Pool => {
                self.pool_pauses += 1;
                #[cfg(feature = "log")]
                if !self.dry {
                    self.dry = true;
                    self.log_dry();
                }
            }
            Park::Cap => self.cap_pauses += 1,
            Park::No => {}
        }
    }

    /// The class for contents of `need` bytes: the smallest that holds them, or the error
    /// for a size no chunk holds.
    #[inline]
    fn class_for(&self, need: usize) -> Result<usize> {
        if need <= self.small_max && self.small_max != 0 {
            Ok(0)
        } else if need <= self.large_max && self.large_max != 0 {
            Ok(1)
        } else {
            Err(Error::MessageTooLarge)
        }
    }

    fn exhausted(k: usize) -> Error {
        Error::OutOfResources(if k == 0 {
            Capacity::Buffers
        } else {
            Capacity::LargeBuffers
        })
    }

    /// Takes the free chunk on top of class `k`'s stack.
    #[inline]
    fn take_chunk(&mut self, k: usize) -> Option<Chunk> {
        let c = &mut self.classes[k];
        if c.top == 0 {
            return None;
        }
        c.top -= 1;
        let (first, top, size, class_base) = (c.first, c.top, c.size, c.base);
        let used = self.n - self.classes[0].top - self.classes[1].top - self.lent;
        if used > self.peak {
            self.peak = used;
        }
        let chunk = *self.free.get((first + top) as usize)?;
        let base = class_base + (chunk - first) as usize * size as usize;
        Some(Chunk {
            chunk,
            base,
            cap: size,
        })
    }

    /// Gives chunk `chunk` back to its class.
    #[inline]
    fn give_back(&mut self, chunk: u32) {
        let k = usize::from(chunk >= self.classes[1].first);
        let c = &mut self.classes[k];
        if let Some(slot) = self.free.get_mut((c.first + c.top) as usize) {
            *slot = chunk;
            c.top += 1;
        }
    }

    /// Once an iteration: ends an episode of exhaustion once half the pool is free again
    /// (checked here rather than per buffer given back, to keep that path as it was).
    #[cfg(feature = "log")]
    #[inline]
    pub(crate) fn note_refilled(&mut self) {
        if self.dry && 2 * (self.classes[0].top + self.classes[1].top) >= self.n {
            self.dry = false;
            self.log_refilled();
        }
    }

    /// The start of an episode of exhaustion: reads pause until buffers are freed.
    #[cfg(feature = "log")]
    #[cold]
    #[inline(never)]
    fn log_dry(&self) {
        let [s, l] = self.classes;
        ptk_warn!(
            "buffer pool exhausted: reads pause until buffers are freed ({} of {} small and {} \
             of {} large buffers in use; give `Capacities::buffers` more if this recurs)",
            s.count - s.top,
            s.count,
            l.count - l.top,
            l.count
        );
    }

    /// The end of an episode of exhaustion: half the pool is free again.
    #[cfg(feature = "log")]
    #[cold]
    #[inline(never)]
    fn log_refilled(&self) {
        ptk_info!(
            "buffer pool half free again ({} reads paused for it so far, peak {} of {} buffers \
             in use)",
            self.pool_pauses,
            self.peak,
            self.n
        );
    }

    /// Makes a buffer of chunk `c` holding `len` bytes (there is a free slot for every free
    /// chunk).
    #[inline]
    fn make(&mut self, c: Chunk, len: u32, owner: Option<RawHandle>) -> RawHandle {
        let n = self.n;
        let at = n + self.ring_head;
        self.ring_head = if self.ring_head + 1 == n {
            0
        } else {
            self.ring_head + 1
        };
        self.ring_len -= 1;
        let i = self.free[at as usize];
        let e = &mut self.entries[i as usize];
        e.generation = e.generation.wrapping_add(1);
        let high = (e.generation >> 16) << self.index_bits;
        let slot = (high as u32) | i;
        let h = RawHandle::new(
            ResourceType::Buffer,
            self.loop_id,
            e.generation as u16,
            slot,
        );
        e.key = h.to_u64();
        e.used = true;
        e.chunk = c.chunk;
        e.cap = c.cap;
        e.start = 0;
        e.end = len;
        e.base = c.base;
        e.owner = owner;
        h
    }

    /// Frees the buffer in slot `i` (its handle goes stale); the caller settles the count of
    /// the stream it was attributed to.
    #[inline]
    pub(crate) fn free_at(&mut self, i: usize) {
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        e.key = 0;
        e.used = false;
        let chunk = e.chunk;
        let n = self.n;
        let mut at = self.ring_head + self.ring_len;
        if at >= n {
            at -= n;
        }
        if let Some(slot) = self.free.get_mut((n + at) as usize) {
            *slot = i as u32;
            self.ring_len += 1;
        }
        self.give_back(chunk);
    }

    /// A new, empty buffer that can hold `capacity` bytes.
    ///
    /// # Errors
    ///
    /// `MessageTooLarge` if no class holds `capacity` bytes; `OutOfResources(Buffers)` or
    /// `OutOfResources(LargeBuffers)` if that class has no free chunk.
    pub(crate) fn alloc(&mut self, capacity: usize) -> Result<RawHandle> {
        let k = self.class_for(capacity)?;
        let Some(c) = self.take_chunk(k) else {
            return Err(Self::exhausted(k));
        };
        Ok(self.make(c, 0, None))
    }

    /// Whether a read can be lent a small chunk now.
    #[inline]
    pub(crate) fn can_lend(&self) -> bool {
        self.classes[self.lend_class].top != 0
    }

    /// Whether the pool has any buffer a read could borrow (else reads cannot use it).
    #[inline]
    pub(crate) fn lends(&self) -> bool {
        self.classes[self.lend_class].count != 0
    }

    /// Whether reads borrow large buffers (a pool without small ones).
    #[inline]
    pub(crate) fn lends_large(&self) -> bool {
        self.lend_class == 1
    }

    /// Takes a free small chunk for a read and its bytes; `None` when there is none. Give it
    /// to [`lend`](Self::lend) if the read brought bytes, else back with
    /// [`unlend`](Self::unlend).
    #[inline]
    pub(crate) fn lend_room(&mut self) -> Option<(Chunk, Room<'_>)> {
        let c = self.take_chunk(self.lend_class)?;
        let bytes = self.memory.get_mut(c.base..c.base + c.cap as usize)?;
        Some((c, Room { bytes }))
    }

    /// Makes chunk `c` (from [`lend_room`](Self::lend_room)) a buffer holding the `len` bytes
    /// a read put there, lent to the user and attributed to stream `owner` (whose count the
    /// caller raises).
    #[inline]
    pub(crate) fn lend(&mut self, c: Chunk, len: usize, owner: RawHandle) -> RawHandle {
        self.make(c, len as u32, Some(owner))
    }

    /// Gives back chunk `c` from [`lend_room`](Self::lend_room), which a read did not fill.
    #[inline]
    pub(crate) fn unlend(&mut self, c: Chunk) {
        self.give_back(c.chunk);
    }

    /// The bits of a handle's slot field that are the slot index.
    #[inline]
    fn index_mask(&self) -> u32 {
        u32::MAX >> (u32::BITS - self.index_bits)
    }

    /// The slot of buffer `h` if the user holds it.
    #[inline]
    pub(crate) fn index(&self, h: RawHandle) -> Result<usize> {
        let i = (h.slot() & self.index_mask()) as usize;
        match self.entries.get(i) {
            Some(e) if e.key == h.to_u64() => Ok(i),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// The stream the buffer in slot `i` is attributed to.
    #[inline]
    pub(crate) fn owner_at(&self, i: usize) -> Option<RawHandle> {
        self.entries.get(i).and_then(|e| e.owner)
    }

    /// The stream buffer `h` is attributed to.
    #[inline]
    pub(crate) fn owner(&self, h: RawHandle) -> Result<Option<RawHandle>> {
        self.index(h).map(|i| self.entries[i].owner)
    }

    /// The contents of the buffer in slot `i`.
    #[inline]
    pub(crate) fn bytes_at(&self, i: usize) -> &[u8] {
        match self.entries.get(i) {
            Some(e) => self
                .memory
                .get(e.base + e.start as usize..e.base + e.end as usize)
                .unwrap_or(&[]),
            None => &[],
        }
    }

    /// The contents of buffer `h`.
    #[inline]
    pub(crate) fn bytes(&self, h: RawHandle) -> Result<&[u8]> {
        let i = self.index(h)?;
        Ok(self.bytes_at(i))
    }

    /// Drops the first `n` bytes of the contents of the buffer in slot `i`.
    #[inline]
    pub(crate) fn consume_at(&mut self, i: usize, n: usize) {
        if let Some(e) = self.entries.get_mut(i) {
            e.start = (e.start as usize + n).min(e.end as usize) as u32;
        }
    }

    /// A view of buffer `h` for filling and trimming it.
    #[inline]
    pub(crate) fn view(&mut self, h: RawHandle) -> Result<BufMut<'_>> {
        let i = self.index(h)?;
        let e = &mut self.entries[i];
        let chunk = self
            .memory
            .get_mut(e.base..e.base + e.cap as usize)
            .ok_or(Error::InvalidHandle)?;
        Ok(BufMut {
            chunk,
            start: &mut e.start,
            end: &mut e.end,
        })
    }

    /// Makes room in buffer `h` for contents of `need` bytes from its start: moves the
    /// contents to the front of the chunk if they would not fit after it, or into a chunk of a
    /// larger class if they would not fit the chunk at all (the handle stays the same). Then
    /// returns the free room after the contents.
    ///
    /// # Errors
    ///
    /// `InvalidHandle`; `MessageTooLarge` for more than the largest class holds;
    /// `OutOfResources` naming the class when it has no free chunk.
    pub(crate) fn room(&mut self, h: RawHandle, need: usize) -> Result<Room<'_>> {
        let i = self.index(h)?;
        let e = self.entries[i];
        let (start, end, cap) = (e.start as usize, e.end as usize, e.cap as usize);
        let need = need.max(end - start);
        if need > cap {
            let k = self.class_for(need)?;
            let Some(c) = self.take_chunk(k) else {
                return Err(Self::exhausted(k));
            };
            self.memory
                .copy_within(e.base + start..e.base + end, c.base);
            self.give_back(e.chunk);
            let e = &mut self.entries[i];
            e.base = c.base;
            e.cap = c.cap;
            e.chunk = c.chunk;
            e.start = 0;
            e.end = (end - start) as u32;
        } else if start + need > cap || (end == cap && start != 0) {
            // As in `rx_room`: contents at the chunk's end leave no room after them.
            self.memory
                .copy_within(e.base + start..e.base + end, e.base);
            let e = &mut self.entries[i];
            e.start = 0;
            e.end = (end - start) as u32;
        }
        let e = &self.entries[i];
        let (from, to) = (e.base + e.end as usize, e.base + e.cap as usize);
        let bytes = self.memory.get_mut(from..to).ok_or(Error::InvalidHandle)?;
        Ok(Room { bytes })
    }

    /// Moves the contents of buffer `h` from byte `at` on into a new buffer (of the smallest
    /// class that holds them), attributed to the same stream (whose count the caller raises).
    /// Returns the new buffer.
    ///
    /// # Errors
    ///
    /// `InvalidHandle`; `InvalidArgument` if `at` is past the contents; `OutOfResources` when
    /// the class has no free chunk. Nothing changes then.
    pub(crate) fn split(&mut self, h: RawHandle, at: usize) -> Result<RawHandle> {
        let i = self.index(h)?;
        let e = self.entries[i];
        let (start, end) = (e.start as usize, e.end as usize);
        if at > end - start {
            return Err(Error::InvalidArgument);
        }
        let len = end - start - at;
        let k = self.class_for(len.max(1))?;
        let Some(c) = self.take_chunk(k) else {
            return Err(Self::exhausted(k));
        };
        self.memory
            .copy_within(e.base + start + at..e.base + end, c.base);
        let t = self.make(c, len as u32, e.owner);
        self.entries[i].end = (start + at) as u32;
        Ok(t)
    }

    /// A new buffer (of the smallest class that holds them) with a copy of the contents of
    /// buffer `h`, attributed to no stream.
    ///
    /// # Errors
    ///
    /// `InvalidHandle`; `OutOfResources` when the class has no free chunk.
    pub(crate) fn duplicate(&mut self, h: RawHandle) -> Result<RawHandle> {
        let i = self.index(h)?;
        let e = self.entries[i];
        let (start, end) = (e.base + e.start as usize, e.base + e.end as usize);
        let k = self.class_for((end - start).max(1))?;
        let Some(c) = self.take_chunk(k) else {
            return Err(Self::exhausted(k));
        };
        self.memory.copy_within(start..end, c.base);
        Ok(self.make(c, (end - start) as u32, None))
    }

    /// Records `n` more bytes at the end of buffer `h` (after a read into its room).
    #[inline]
    pub(crate) fn filled(&mut self, h: RawHandle, n: usize) {
        if let Ok(i) = self.index(h) {
            let e = &mut self.entries[i];
            e.end = (e.end as usize + n).min(e.cap as usize) as u32;
        }
    }

    /// Attributes the user's buffer `h` (just allocated) to stream `owner`, whose count the
    /// caller raises.
    #[inline]
    pub(crate) fn attribute(&mut self, h: RawHandle, owner: RawHandle) {
        if let Ok(i) = self.index(h) {
            self.entries[i].owner = Some(owner);
        }
    }

    /// Takes the buffer in slot `i` off the account of the stream it is attributed to: it is
    /// the user's alone from now on (the caller settles the stream's count).
    pub(crate) fn detach_at(&mut self, i: usize) {
        if let Some(e) = self.entries.get_mut(i) {
            e.owner = None;
        }
    }

    /// Appends the user's buffer in slot `i` to the send queue of stream `owner` (whose
    /// account is `sb`, raised by one): its handle stops resolving. The caller has taken it
    /// off the account of the stream it was attributed to before, if any.
    pub(crate) fn enqueue_at(&mut self, i: usize, owner: RawHandle, sb: &mut StreamBufs) {
        let tail = sb.send_tail;
        let Some(e) = self.entries.get_mut(i) else {
            return;
        };
        e.key = 0;
        e.owner = Some(owner);
        e.next = NIL;
        if tail == NIL {
            sb.send_head = i as u32;
        } else if let Some(t) = self.entries.get_mut(tail as usize) {
            t.next = i as u32;
        }
        sb.send_tail = i as u32;
        sb.held += 1;
        self.queued += 1;
    }

    /// The unsent bytes of queued buffer `i` (a slot index from a send queue).
    #[inline]
    pub(crate) fn unsent(&self, i: u32) -> &[u8] {
        self.bytes_at(i as usize)
    }

    /// Records that `n` bytes of the front of `sb`'s send queue were sent; frees it when all
    /// were. Returns whether it was freed.
    #[inline]
    pub(crate) fn sent(&mut self, sb: &mut StreamBufs, n: usize) -> bool {
        let i = sb.send_head;
        let Some(e) = self.entries.get_mut(i as usize) else {
            return false;
        };
        e.start = (e.start as usize + n).min(e.end as usize) as u32;
        if e.start < e.end {
            return false;
        }
        let next = e.next;
        sb.send_head = next;
        if next == NIL {
            sb.send_tail = NIL;
        }
        sb.held -= 1;
        self.queued -= 1;
        self.free_at(i as usize);
        true
    }

    /// Frees every buffer queued on a stream (its sends failed or it closed).
    pub(crate) fn drop_sends(&mut self, sb: &mut StreamBufs) {
        while sb.send_head != NIL {
            let i = sb.send_head;
            let Some(e) = self.entries.get_mut(i as usize) else {
                break;
            };
            e.start = e.end;
            self.sent(sb, 0);
        }
    }

    /// Frees everything attributed to stream `h`, which is closing: its send queue and the
    /// buffers its reads lent (whose handles go stale).
    pub(crate) fn drop_stream(&mut self, h: RawHandle, sb: &mut StreamBufs) {
        self.drop_sends(sb);
        if self.rx_drop(&mut sb.rx) {
            sb.held = sb.held.saturating_sub(1);
        }
        if sb.held == 0 {
            return;
        }
        for i in 0..self.n as usize {
            let e = &self.entries[i];
            if e.key != 0 && e.owner == Some(h) {
                self.free_at(i);
            }
        }
        sb.held = 0;
    }

    // --- Receive buffers (`Rx`), addressed through their stream ---

    /// Whether a chunk of the class `need` bytes take is free; `Err` for a size no class
    /// holds.
    #[inline]
    pub(crate) fn rx_can_take(&self, need: usize) -> Result<bool> {
        let k = self.class_for(need)?;
        Ok(self.classes[k].top != 0)
    }

    /// Whether `need` bytes take a large chunk.
    #[inline]
    pub(crate) fn rx_wants_large(&self, need: usize) -> bool {
        self.class_for(need) == Ok(1)
    }

    /// Gives `rx` a chunk for `need` bytes. The caller counts it towards the stream.
    #[inline]
    pub(crate) fn rx_attach(&mut self, rx: &mut Rx, need: usize) -> Result<()> {
        let k = self.class_for(need)?;
        let Some(c) = self.take_chunk(k) else {
            return Err(Self::exhausted(k));
        };
        *rx = Rx {
            chunk: c.chunk,
            cap: c.cap,
            start: 0,
            end: 0,
            base: c.base,
        };
        Ok(())
    }

    /// The free room after `rx`'s contents, having made room for contents of `need` bytes:
    /// moved to the front of the chunk, or into a chunk of a larger class.
    #[inline]
    pub(crate) fn rx_room(&mut self, rx: &mut Rx, need: usize) -> Result<&mut [u8]> {
        let need = need.max(rx.len());
        // Contents that end at the chunk's end leave no room after them: move them to the
        // front even when they are all `need` asks for, or the read would get no room.
        if rx.start as usize + need > rx.cap as usize || (rx.end == rx.cap && rx.start != 0) {
            self.rx_make_room(rx, need)?;
        }
        self.memory
            .get_mut(rx.base + rx.end as usize..rx.base + rx.cap as usize)
            .ok_or(Error::InvalidArgument)
    }

    #[cold]
    #[inline(never)]
    fn rx_make_room(&mut self, rx: &mut Rx, need: usize) -> Result<()> {
        let (from, to) = (rx.base + rx.start as usize, rx.base + rx.end as usize);
        if need > rx.cap as usize {
            let k = self.class_for(need)?;
            let Some(c) = self.take_chunk(k) else {
                return Err(Self::exhausted(k));
            };
            self.memory.copy_within(from..to, c.base);
            self.give_back(rx.chunk);
            *rx = Rx {
                chunk: c.chunk,
                cap: c.cap,
                start: 0,
                end: (to - from) as u32,
                base: c.base,
            };
        } else {
            self.memory.copy_within(from..to, rx.base);
            rx.end -= rx.start;
            rx.start = 0;
        }
        Ok(())
    }

    /// `rx`'s contents.
    #[inline]
    pub(crate) fn rx_bytes(&self, rx: &Rx) -> &[u8] {
        if !rx.is_some() {
            return &[];
        }
        self.memory
            .get(rx.base + rx.start as usize..rx.base + rx.end as usize)
            .unwrap_or(&[])
    }

    /// Drops the first `n` bytes of `rx`'s contents; gives the chunk back when nothing is
    /// left (then `true`: the caller uncounts it).
    #[inline]
    pub(crate) fn rx_consume(&mut self, rx: &mut Rx, n: usize) -> bool {
        if !rx.is_some() {
            return false;
        }
        rx.start = (rx.start as usize + n).min(rx.end as usize) as u32;
        if rx.start < rx.end {
            return false;
        }
        self.give_back(rx.chunk);
        *rx = Rx::NONE;
        true
    }

    /// Gives `rx`'s chunk back, contents and all (the caller uncounts it).
    pub(crate) fn rx_drop(&mut self, rx: &mut Rx) -> bool {
        if !rx.is_some() {
            return false;
        }
        self.give_back(rx.chunk);
        *rx = Rx::NONE;
        true
    }

    /// Moves `rx`'s contents from byte `at` on into a chunk of their own, returned as a
    /// receive buffer (`NONE` when nothing follows `at`); `rx` keeps the first `at` bytes.
    ///
    /// # Errors
    ///
    /// `OutOfResources` when no chunk is free for the tail; nothing changes then.
    pub(crate) fn rx_split(&mut self, rx: &mut Rx, at: usize) -> Result<Rx> {
        let len = rx.len();
        if at >= len {
            return Ok(Rx::NONE);
        }
        let tail = len - at;
        let k = self.class_for(tail)?;
        let Some(c) = self.take_chunk(k) else {
            return Err(Self::exhausted(k));
        };
        let from = rx.base + rx.start as usize + at;
        self.memory.copy_within(from..from + tail, c.base);
        rx.end = rx.start + at as u32;
        Ok(Rx {
            chunk: c.chunk,
            cap: c.cap,
            start: 0,
            end: tail as u32,
            base: c.base,
        })
    }

    /// Makes `rx`'s chunk a buffer with a handle, holding `rx`'s contents, attributed to
    /// `owner` (the count does not change: the chunk was counted as the receive buffer).
    /// `rx` is left without a chunk.
    pub(crate) fn rx_into_buffer(&mut self, rx: &mut Rx, owner: RawHandle) -> RawHandle {
        let c = Chunk {
            chunk: rx.chunk,
            base: rx.base,
            cap: rx.cap,
        };
        let h = self.make(c, rx.end, Some(owner));
        if let Ok(i) = self.index(h) {
            self.entries[i].start = rx.start;
        }
        *rx = Rx::NONE;
        h
    }

    // --- Chunks and buffers the kernel uses (the io_uring message path) ---

    /// Takes a free chunk of the class reads borrow from, for a receive the kernel fills.
    #[inline]
    pub(crate) fn take_recv_chunk(&mut self) -> Option<Chunk> {
        self.take_chunk(self.lend_class)
    }

    /// Gives chunk `c` (from [`take_recv_chunk`](Self::take_recv_chunk)) back.
    #[inline]
    pub(crate) fn give_back_chunk(&mut self, c: u32) {
        self.give_back(c);
    }

    /// Where chunk `c`'s memory starts, and its size.
    #[inline]
    pub(crate) fn chunk_ptr(&mut self, c: &Chunk) -> Option<(*mut u8, u32)> {
        let bytes = self.memory.get_mut(c.base..c.base + c.cap as usize)?;
        Some((bytes.as_mut_ptr(), c.cap))
    }

    /// Where the unsent bytes of queued buffer `i` start, and how many there are.
    #[inline]
    pub(crate) fn unsent_ptr(&self, i: u32) -> Option<(*const u8, u32)> {
        let b = self.bytes_at(i as usize);
        if b.is_empty() {
            return None;
        }
        Some((b.as_ptr(), b.len() as u32))
    }

    /// The chunk `rx` holds.
    #[inline]
    pub(crate) fn rx_chunk(rx: &Rx) -> Chunk {
        Chunk {
            chunk: rx.chunk,
            base: rx.base,
            cap: rx.cap,
        }
    }

    /// Makes `rx` (which holds nothing) the receive buffer in chunk `c`, whose first `n`
    /// bytes a receive filled.
    #[inline]
    pub(crate) fn rx_from_chunk(rx: &mut Rx, c: Chunk, n: usize) {
        *rx = Rx {
            chunk: c.chunk,
            cap: c.cap,
            start: 0,
            end: n.min(c.cap as usize) as u32,
            base: c.base,
        };
    }

    /// Appends the first `n` bytes of chunk `c` to `rx`'s contents (making room as
    /// [`rx_room`](Self::rx_room) does) and gives `c` back.
    ///
    /// # Errors
    ///
    /// As `rx_room`; nothing changes then and `c` is still the caller's.
    pub(crate) fn rx_append_chunk(&mut self, rx: &mut Rx, c: Chunk, n: usize) -> Result<()> {
        let n = n.min(c.cap as usize);
        let room = self.rx_room(rx, rx.len() + n)?.len();
        if room < n {
            return Err(Error::MessageTooLarge);
        }
        let at = rx.base + rx.end as usize;
        self.memory.copy_within(c.base..c.base + n, at);
        rx.grow(n);
        self.give_back(c.chunk);
        Ok(())
    }

    /// Takes the front of `sb`'s send queue off the queue without freeing it: the kernel
    /// still reads it (a send in flight on a stream that closes). It counts neither towards
    /// the stream nor as queued, and no handle names it; [`free_at`](Self::free_at) frees it
    /// once the send's completion comes. Returns its slot.
    pub(crate) fn orphan_front(&mut self, sb: &mut StreamBufs) -> Option<u32> {
        let i = sb.send_head;
        let e = self.entries.get_mut(i as usize)?;
        let next = e.next;
        e.next = NIL;
        e.owner = None;
        e.key = 0;
        sb.send_head = next;
        if next == NIL {
            sb.send_tail = NIL;
        }
        sb.held = sb.held.saturating_sub(1);
        self.queued = self.queued.saturating_sub(1);
        Some(i)
    }

    // --- Chunks lent to the kernel, and the queues multishot receives fill ---

    /// Makes the per-chunk queue links for multishot receives with a kernel ring of `ring`
    /// descriptors (start-up only).
    pub(crate) fn open_recv_queues(&mut self, ring: u32) {
        let n = self.n as usize;
        self.mq = Some(RecvQueues {
            next: vec![NIL; n].into_boxed_slice(),
            len: vec![0; n].into_boxed_slice(),
            ring,
        });
    }

    /// Takes a free chunk to lend to the kernel's ring, if the rule allows: at most as many
    /// as the ring holds, and never more than stay on the free stack (so at most half of
    /// the free chunks are lent, and sends and other reads always find the rest).
    #[inline]
    pub(crate) fn take_lend_chunk(&mut self) -> Option<Chunk> {
        let ring = self.mq.as_ref()?.ring;
        let free = self.classes[self.lend_class].top;
        if self.lent >= ring || self.lent + 2 > free {
            return None;
        }
        // A lent chunk is free, not in use: it does not raise the peak.
        let peak = self.peak;
        let c = self.take_chunk(self.lend_class)?;
        self.peak = peak;
        self.lent += 1;
        if let Some(m) = self.mq.as_mut() {
            m.next[c.chunk as usize] = LENT;
        }
        Some(c)
    }

    /// Chunk `c` (from [`take_lend_chunk`](Self::take_lend_chunk)) could not be lent.
    pub(crate) fn unlend_chunk(&mut self, c: u32) {
        self.returned(c);
        self.give_back(c);
    }

    /// A completion named chunk `c` (the kernel filled it, or recycled it): no longer lent,
    /// and the caller's. `false` for an index that is not a lent chunk (bad input).
    #[inline]
    pub(crate) fn returned(&mut self, c: u32) -> bool {
        let Some(m) = self.mq.as_mut() else {
            return false;
        };
        match m.next.get_mut(c as usize) {
            Some(next) if *next == LENT => {
                *next = NIL;
                self.lent -= 1;
                // In use from now on (it was free while lent).
                let used = self.n - self.classes[0].top - self.classes[1].top - self.lent;
                self.peak = self.peak.max(used);
                true
            }
            _ => false,
        }
    }

    /// Every chunk still lent goes back to the free stack (the ring was reset, with no
    /// receive in flight).
    pub(crate) fn reclaim_lent(&mut self) {
        if self.lent == 0 {
            return;
        }
        for c in 0..self.n {
            if self.returned(c) {
                self.give_back(c);
            }
        }
    }

    /// The chunk with index `c` (below [`chunks`](Self::chunks)).
    #[inline]
    pub(crate) fn chunk_at(&self, c: u32) -> Chunk {
        let k = usize::from(c >= self.classes[1].first);
        let class = &self.classes[k];
        Chunk {
            chunk: c,
            base: class.base + (c - class.first) as usize * class.size as usize,
            cap: class.size,
        }
    }

    /// Queues chunk `c`, filled with `n` bytes, at the end of `q`.
    #[inline]
    pub(crate) fn queue_push(&mut self, q: &mut ChunkQueue, c: u32, n: u32) {
        let Some(m) = self.mq.as_mut() else {
            return;
        };
        m.next[c as usize] = NIL;
        m.len[c as usize] = n;
        if q.tail == NIL {
            q.head = c;
        } else {
            m.next[q.tail as usize] = c;
        }
        q.tail = c;
    }

    /// The first chunk of `q` and its length (the queue is not empty).
    #[inline]
    pub(crate) fn queue_front(&self, q: &ChunkQueue) -> (Chunk, usize) {
        let n = self.mq.as_ref().map_or(0, |m| m.len[q.head as usize]);
        (self.chunk_at(q.head), n as usize)
    }

    /// Takes the first chunk off `q` (the caller owns it now).
    #[inline]
    pub(crate) fn queue_pop(&mut self, q: &mut ChunkQueue) {
        let Some(m) = self.mq.as_mut() else {
            return;
        };
        let c = q.head as usize;
        q.head = m.next[c];
        m.next[c] = NIL;
        if q.head == NIL {
            q.tail = NIL;
        }
    }

    /// Frees every chunk of `q`; returns how many.
    pub(crate) fn queue_drop(&mut self, q: &mut ChunkQueue) -> u32 {
        let mut n = 0;
        while !q.is_empty() {
            let c = q.head;
            self.queue_pop(q);
            self.give_back(c);
            n += 1;
        }
        n
    }

    /// After [`grow`](Self::grow): copies the chunks of `q` from the old memory.
    pub(crate) fn queue_copy_from(&mut self, q: &ChunkQueue, old: &[u8]) {
        let mut c = q.head;
        while c != NIL {
            self.chunk_copy_from(&self.chunk_at(c), old);
            c = self.mq.as_ref().map_or(NIL, |m| m.next[c as usize]);
        }
    }

    /// After [`grow`](Self::grow): copies chunk `c` from the old memory.
    pub(crate) fn chunk_copy_from(&mut self, c: &Chunk, old: &[u8]) {
        let (from, to) = (c.base, c.base + c.cap as usize);
        if let (Some(dst), Some(src)) = (self.memory.get_mut(from..to), old.get(from..to)) {
            dst.copy_from_slice(src);
        }
    }

    /// Chunks in all (the bound of chunk indices).
    #[inline]
    pub(crate) fn chunks(&self) -> u32 {
        self.n
    }

    /// After [`grow`](Self::grow): copies a receive buffer's chunk from the old memory.
    pub(crate) fn rx_copy_from(&mut self, rx: &Rx, old: &[u8]) {
        if rx.is_some() {
            let (from, to) = (rx.base, rx.base + rx.cap as usize);
            if let (Some(dst), Some(src)) = (self.memory.get_mut(from..to), old.get(from..to)) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Moves the pool to other storage of exactly the same shape, contents and handles
    /// included; the old storage comes back.
    #[allow(clippy::type_complexity)]
    pub(crate) fn grow(
        &mut self,
        entries: &'s mut [BufferEntry],
        free: &'s mut [u32],
        memory: &'s mut [u8],
    ) -> Result<(&'s mut [BufferEntry], &'s mut [u32], &'s mut [u8])> {
        if !self.fits_memory(entries.len(), free.len(), memory.len()) {
            return Err(Error::InvalidArgument);
        }
        let n = self.n as usize;
        free[..2 * n].copy_from_slice(&self.free[..2 * n]);
        entries[..n].copy_from_slice(&self.entries[..n]);
        // Only the chunks in use: copying the rest would make the whole pool resident.
        for e in self.entries[..n].iter_mut() {
            if e.used {
                let (from, to) = (e.base, e.base + e.cap as usize);
                memory[from..to].copy_from_slice(&self.memory[from..to]);
            }
            e.key = 0;
            e.used = false;
        }
        let old_entries = core::mem::replace(&mut self.entries, entries);
        let old_free = core::mem::replace(&mut self.free, free);
        let old_memory = core::mem::replace(&mut self.memory, memory);
        Ok((old_entries, old_free, old_memory))
    }

    /// Whether storage of these lengths can take this pool over (see [`grow`](Self::grow)).
    pub(crate) fn fits_memory(&self, entries: usize, free: usize, memory: usize) -> bool {
        let n = self.n as usize;
        let [s, l] = self.classes;
        let bytes = s.count as usize * s.size as usize + l.count as usize * l.size as usize;
        entries >= n && free >= 2 * n && memory >= bytes
    }
}

/// A view of one pool buffer, to fill it and trim it (from
/// [`Cx::buf_mut`](crate::Cx::buf_mut)).
///
/// The contents are the bytes between a start and an end inside the buffer's chunk; bytes are
/// added at the end ([`extend_from_slice`](Self::extend_from_slice), or writing into
/// [`spare_mut`](Self::spare_mut) then [`advance`](Self::advance)) and dropped from the front
/// ([`consume`](Self::consume)).
#[derive(Debug)]
pub struct BufMut<'a> {
    chunk: &'a mut [u8],
    start: &'a mut u32,
    end: &'a mut u32,
}

impl BufMut<'_> {
    /// Bytes of contents.
    #[inline]
    pub fn len(&self) -> usize {
        (*self.end - *self.start) as usize
    }

    /// Whether there are no contents.
    #[inline]
    pub fn is_empty(&self) -> bool {
        *self.end == *self.start
    }

    /// The size of the buffer's chunk: the most contents it can hold.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.chunk.len()
    }

    /// The contents.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.chunk[*self.start as usize..*self.end as usize]
    }

    /// The contents, mutably.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.chunk[*self.start as usize..*self.end as usize]
    }

    /// The free room after the contents (moves the contents to the front of the chunk first
    /// if they do not start there).
    #[inline]
    pub fn spare_mut(&mut self) -> &mut [u8] {
        self.compact();
        &mut self.chunk[*self.end as usize..]
    }

    /// Adds the first `n` bytes of [`spare_mut`](Self::spare_mut) to the contents.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `n` is more than the free room; nothing changes then.
    #[inline]
    pub fn advance(&mut self, n: usize) -> Result<()> {
        if n > self.chunk.len() - *self.end as usize {
            return Err(Error::InvalidArgument);
        }
        *self.end += n as u32;
        Ok(())
    }

    /// Appends `bytes`.
    ///
    /// # Errors
    ///
    /// [`Error::MessageTooLarge`] if they do not fit the chunk with the contents; nothing is
    /// appended then.
    #[inline]
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.len() > self.chunk.len() - self.len() {
            return Err(Error::MessageTooLarge);
        }
        if bytes.len() > self.chunk.len() - *self.end as usize {
            self.compact();
        }
        let at = *self.end as usize;
        self.chunk[at..at + bytes.len()].copy_from_slice(bytes);
        *self.end += bytes.len() as u32;
        Ok(())
    }

    /// Drops the first `n` bytes of the contents (all of them if `n` is more).
    #[inline]
    pub fn consume(&mut self, n: usize) {
        *self.start = (*self.start as usize + n).min(*self.end as usize) as u32;
        if *self.start == *self.end {
            *self.start = 0;
            *self.end = 0;
        }
    }

    /// Keeps only the first `n` bytes of the contents.
    #[inline]
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            *self.end = *self.start + n as u32;
        }
    }

    /// Drops all contents.
    #[inline]
    pub fn clear(&mut self) {
        *self.start = 0;
        *self.end = 0;
    }

    fn compact(&mut self) {
        if *self.start != 0 {
            let (s, e) = (*self.start as usize, *self.end as usize);
            self.chunk.copy_within(s..e, 0);
            *self.end -= *self.start;
            *self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [BufferClass; 2] = [
        BufferClass { count: 2, size: 8 },
        BufferClass { count: 1, size: 32 },
    ];

    #[test]
    fn a_receive_buffer_whose_contents_end_at_its_end_moves_them_to_make_room() {
        let (mut entries, mut free, mut memory) = ([BufferEntry::EMPTY; 3], [0; 6], [0; 48]);
        let mut pool = Buffers::new(&mut entries, &mut free, &mut memory, CLASSES, 0, 4);
        let mut rx = Rx::NONE;
        pool.rx_attach(&mut rx, 8).unwrap();
        pool.rx_room(&mut rx, 8)
            .unwrap()
            .copy_from_slice(b"abcdefgh");
        rx.grow(8);
        assert!(!pool.rx_consume(&mut rx, 3));
        // Five bytes are in, at the end of the chunk: three are free at its front.
        let room = pool.rx_room(&mut rx, 1).unwrap();
        assert_eq!(room.len(), 3);
        assert_eq!(pool.rx_bytes(&rx), b"defgh");
    }

    #[test]
    fn a_buffer_whose_contents_end_at_its_end_moves_them_to_make_room() {
        let (mut entries, mut free, mut memory) = ([BufferEntry::EMPTY; 3], [0; 6], [0; 48]);
        let mut pool = Buffers::new(&mut entries, &mut free, &mut memory, CLASSES, 0, 4);
        let h = pool.alloc(8).unwrap();
        pool.view(h)
            .unwrap()
            .extend_from_slice(b"abcdefgh")
            .unwrap();
        pool.view(h).unwrap().consume(3);
        let room = pool.room(h, 1).unwrap();
        assert_eq!(room.bytes.len(), 3);
        assert_eq!(pool.bytes(h), Ok(&b"defgh"[..]));
    }
}
