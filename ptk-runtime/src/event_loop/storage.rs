//! The memory an [`EventLoop`](super::EventLoop) runs in, decided and placed by the caller.
//!
//! [`Storage`] is a set of borrowed slices, one per pool. Put them wherever you like: arrays on
//! the stack, a leaked `Box`, or let [`OwnedStorage`] make one boxed slice per pool at start-up
//! from a [`Capacities`]. The loop never allocates pool memory itself, and a full pool is an
//! `Error::OutOfResources` naming the field to enlarge.

use crate::error::{Error, Result};
use crate::pool::Slot;

use super::buffers::{BufferClass, BufferEntry, Buffers};
use super::files::FileOpEntry;
use super::periodic::PeriodicEntry;
use super::ready::Ready;
use super::semaphores::SemEntry;
use super::signals::SignalEntry;
use super::tcp_listener::ListenerEntry;
use super::tcp_stream::StreamEntry;
use super::timers::TimerEntry;
use super::udp::UdpEntry;
use super::user_events::UserEventsEntry;
use super::watchers::WatcherEntry;

/// Borrowed pool memory for one event loop.
///
/// `timer_queue` must have at least `timers.len()` entries and `ready` at least
/// [`Capacities::ready_len`] of the pool lengths; [`EventLoop::new`](super::EventLoop::new)
/// checks both.
pub struct Storage<'s> {
    /// Timer slots (connects with a timeout borrow one while connecting).
    pub timers: &'s mut [Slot<TimerEntry>],
    /// The deadline queue of armed timers, one entry per timer slot.
    pub timer_queue: &'s mut [u32],
    /// TCP listener slots.
    pub tcp_listeners: &'s mut [Slot<ListenerEntry>],
    /// TCP stream slots.
    pub tcp_streams: &'s mut [Slot<StreamEntry>],
    /// UDP socket slots.
    pub udp_sockets: &'s mut [Slot<UdpEntry>],
    /// User event source slots (the cross-thread half is sized from this at start-up).
    pub user_events: &'s mut [Slot<UserEventsEntry>],
    /// The queue of sockets that are still ready after their handler ran.
    pub ready: &'s mut [Ready],
    /// Counting semaphore slots (the cross-thread half is sized from this at start-up).
    pub semaphores: &'s mut [Slot<SemEntry>],
    /// Signal watcher slots (with none, the loop opens no signal pipe).
    pub signals: &'s mut [Slot<SignalEntry>],
    /// Defer watcher slots.
    pub defers: &'s mut [Slot<WatcherEntry>],
    /// Idle watcher slots.
    pub idles: &'s mut [Slot<WatcherEntry>],
    /// Periodic watcher slots (an active one also holds a timer slot).
    pub periodics: &'s mut [Slot<PeriodicEntry>],
    /// File operation slots: how many reads and writes of files can be in flight at once.
    /// With none, the loop starts no file worker thread (on io_uring it starts none anyway).
    pub file_ops: &'s mut [Slot<FileOpEntry>],
    /// The most bytes one file operation moves; the staging memory, made by
    /// [`EventLoop::new`](super::EventLoop::new), is `file_ops.len()` times this.
    pub file_op_size: usize,
    /// The two classes of buffers in the buffer pool (small, then large); see
    /// [`Capacities::buffers`].
    pub buffer_classes: [BufferClass; 2],
    /// Buffer slots, one per chunk of either class (made of [`BufferEntry::EMPTY`]).
    pub buffers: &'s mut [BufferEntry],
    /// The pool's free lists: two words per chunk of either class.
    pub buffer_free: &'s mut [u32],
    /// The chunks: `buffer_classes[0].count * buffer_classes[0].size` bytes of small ones,
    /// then the large ones. The loop only touches the chunks it lends, most recently used
    /// first, so memory from `calloc` (as [`OwnedStorage`] makes it) costs resident memory
    /// only for the chunks that were in use at once.
    pub buffer_memory: &'s mut [u8],
}

/// How many of each resource a loop can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    /// Timers.
    pub timers: usize,
    /// TCP listeners.
    pub tcp_listeners: usize,
    /// TCP streams (accepted and connected).
    pub tcp_streams: usize,
    /// UDP sockets.
    pub udp_sockets: usize,
    /// User event sources.
    pub user_event_sources: usize,
    /// Counting semaphores.
    pub semaphores: usize,
    /// Signal watchers.
    pub signals: usize,
    /// Defer watchers.
    pub defers: usize,
    /// Idle watchers.
    pub idles: usize,
    /// Periodic watchers.
    pub periodics: usize,
    /// File operations in flight at once (0: no file worker thread; see `Cx::file_read`).
    /// On `mio` the worker is a second thread in the process, which makes the C library's
    /// system call wrappers take their multi-threaded path on the loop's thread too: leave
    /// this at 0 unless the loop reads or writes files. On io_uring the ring does them and
    /// no thread starts.
    pub file_ops: usize,
    /// The most bytes one file operation reads or writes.
    pub file_op_size: usize,
    /// Small buffers of the buffer pool: what reads lend and most writes hand over. An idle
    /// connection holds none, so this is sized for the data in flight, not for the
    /// connections.
    pub buffers: usize,
    /// Bytes per small buffer.
    pub buffer_size: usize,
    /// Large buffers of the buffer pool: for a frame or message that does not fit a small
    /// one.
    pub large_buffers: usize,
    /// Bytes per large buffer: the largest frame a pool buffer holds.
    pub large_buffer_size: usize,
}

impl Default for Capacities {
    /// A small loop: 64 timers, 4 listeners, 256 streams, 8 UDP sockets, 8 user event sources,
    /// 8 semaphores, 4 signal watchers, 8 defer, 4 idle and 4 periodic watchers, no file
    /// operations (operations of 64 KiB once enabled), 64 buffers of 4 KiB and 4 of 64 KiB.
    fn default() -> Self {
        Capacities {
            timers: 64,
            tcp_listeners: 4,
            tcp_streams: 256,
            udp_sockets: 8,
            user_event_sources: 8,
            semaphores: 8,
            signals: 4,
            defers: 8,
            idles: 4,
            periodics: 4,
            file_ops: 0,
            file_op_size: 65536,
            buffers: 64,
            buffer_size: 4096,
            large_buffers: 4,
            large_buffer_size: 65536,
        }
    }
}

impl Capacities {
    /// The length the `ready` queue needs for these pools: one entry per socket direction.
    pub const fn ready_len(&self) -> usize {
        self.tcp_listeners + 2 * (self.tcp_streams + self.udp_sockets)
    }

    /// The buffer classes: small, then large.
    pub const fn buffer_classes(&self) -> [BufferClass; 2] {
        [
            BufferClass {
                count: self.buffers,
                size: self.buffer_size,
            },
            BufferClass {
                count: self.large_buffers,
                size: self.large_buffer_size,
            },
        ]
    }

    /// Bytes of buffer memory the pool takes (both classes).
    pub const fn buffer_bytes(&self) -> usize {
        (self.buffers.saturating_mul(self.buffer_size))
            .saturating_add(self.large_buffers.saturating_mul(self.large_buffer_size))
    }
}

/// Pool memory made once, at start-up, as one boxed slice per pool.
///
/// # Examples
///
/// ```
/// use ptk_runtime::{Capacities, Config, EventLoop, OwnedStorage};
///
/// let mut memory = OwnedStorage::new(Capacities { tcp_streams: 1000, ..Capacities::default() });
/// let ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
/// assert_eq!(ev.capacities().tcp_streams, 1000);
/// ```
pub struct OwnedStorage {
    timers: Box<[Slot<TimerEntry>]>,
    timer_queue: Box<[u32]>,
    tcp_listeners: Box<[Slot<ListenerEntry>]>,
    tcp_streams: Box<[Slot<StreamEntry>]>,
    udp_sockets: Box<[Slot<UdpEntry>]>,
    user_events: Box<[Slot<UserEventsEntry>]>,
    ready: Box<[Ready]>,
    semaphores: Box<[Slot<SemEntry>]>,
    signals: Box<[Slot<SignalEntry>]>,
    defers: Box<[Slot<WatcherEntry>]>,
    idles: Box<[Slot<WatcherEntry>]>,
    periodics: Box<[Slot<PeriodicEntry>]>,
    file_ops: Box<[Slot<FileOpEntry>]>,
    file_op_size: usize,
    buffer_classes: [BufferClass; 2],
    buffers: Box<[BufferEntry]>,
    buffer_free: Box<[u32]>,
    buffer_memory: Box<[u8]>,
}

fn slots<T>(n: usize) -> Box<[Slot<T>]> {
    std::iter::repeat_with(|| Slot::EMPTY).take(n).collect()
}

impl OwnedStorage {
    /// Allocates every pool for `capacities` (the only allocation; the loop adds none).
    pub fn new(capacities: Capacities) -> OwnedStorage {
        OwnedStorage {
            timers: slots(capacities.timers),
            timer_queue: vec![0; capacities.timers].into_boxed_slice(),
            tcp_listeners: slots(capacities.tcp_listeners),
            tcp_streams: slots(capacities.tcp_streams),
            udp_sockets: slots(capacities.udp_sockets),
            user_events: slots(capacities.user_event_sources),
            semaphores: slots(capacities.semaphores),
            signals: slots(capacities.signals),
            defers: slots(capacities.defers),
            idles: slots(capacities.idles),
            periodics: slots(capacities.periodics),
            file_ops: slots(capacities.file_ops),
            file_op_size: capacities.file_op_size,
            ready: vec![Ready::EMPTY; capacities.ready_len()].into_boxed_slice(),
            buffer_classes: capacities.buffer_classes(),
            buffers: vec![BufferEntry::EMPTY; capacities.buffers + capacities.large_buffers]
                .into_boxed_slice(),
            buffer_free: vec![0; 2 * (capacities.buffers + capacities.large_buffers)]
                .into_boxed_slice(),
            // Zeroed memory: the allocator maps it without touching it, so a chunk costs
            // resident memory only once the loop first uses it.
            buffer_memory: vec![0; capacities.buffer_bytes()].into_boxed_slice(),
        }
    }

    /// Lends the memory to a loop.
    pub fn storage(&mut self) -> Storage<'_> {
        Storage {
            timers: &mut self.timers,
            timer_queue: &mut self.timer_queue,
            tcp_listeners: &mut self.tcp_listeners,
            tcp_streams: &mut self.tcp_streams,
            udp_sockets: &mut self.udp_sockets,
            user_events: &mut self.user_events,
            semaphores: &mut self.semaphores,
            signals: &mut self.signals,
            defers: &mut self.defers,
            idles: &mut self.idles,
            periodics: &mut self.periodics,
            file_ops: &mut self.file_ops,
            file_op_size: self.file_op_size,
            ready: &mut self.ready,
            buffer_classes: self.buffer_classes,
            buffers: &mut self.buffers,
            buffer_free: &mut self.buffer_free,
            buffer_memory: &mut self.buffer_memory,
        }
    }
}

impl Storage<'_> {
    /// The capacities this storage provides.
    pub fn capacities(&self) -> Capacities {
        Capacities {
            timers: self.timers.len(),
            tcp_listeners: self.tcp_listeners.len(),
            tcp_streams: self.tcp_streams.len(),
            udp_sockets: self.udp_sockets.len(),
            user_event_sources: self.user_events.len(),
            semaphores: self.semaphores.len(),
            signals: self.signals.len(),
            defers: self.defers.len(),
            idles: self.idles.len(),
            periodics: self.periodics.len(),
            file_ops: self.file_ops.len(),
            file_op_size: self.file_op_size,
            buffers: self.buffer_classes[0].count,
            buffer_size: self.buffer_classes[0].size,
            large_buffers: self.buffer_classes[1].count,
            large_buffer_size: self.buffer_classes[1].size,
        }
    }

    /// Whether the buffer slots, free stacks and memory are large enough for the buffer
    /// classes.
    pub fn buffers_fit(&self) -> bool {
        Buffers::fits(
            self.buffer_classes,
            self.buffers.len(),
            self.buffer_free.len(),
            self.buffer_memory.len(),
        )
    }
}

impl<'s, A: 'static> super::EventLoop<'s, A> {
    /// Moves the loop into larger storage. Every live handle stays valid; the old storage
    /// comes back, empty, for the caller to reuse or free.
    ///
    /// The user event and semaphore pools cannot change size (other threads hold their
    /// cross-thread halves), so `larger.user_events` and `larger.semaphores` must have exactly
    /// as many slots as now; nor can the file operations (the worker's staging memory is made
    /// once), so `larger.file_ops` must equal them (and `larger.file_op_size` too, when there are
    /// any). The buffer pool keeps its classes (`larger.buffer_classes` must
    /// equal them); its contents move to `larger`'s buffer memory, handles included.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if any pool of `larger` is smaller than now, its
    /// `timer_queue` or `ready` is too short, or `user_events` or `semaphores` differs in
    /// length, or its file operations differ; an OS error opening the signal pipe when the loop had no signal watcher slots
    /// before. Nothing moves then.
    pub fn grow(&mut self, larger: Storage<'s>) -> Result<Storage<'s>> {
        let now = self.capacities();
        let new = larger.capacities();
        let core = &mut self.cx.core;
        if new.timers < now.timers
            || new.tcp_listeners < now.tcp_listeners
            || new.tcp_streams < now.tcp_streams
            || new.udp_sockets < now.udp_sockets
            || new.user_event_sources != now.user_event_sources
            || new.semaphores != now.semaphores
            || new.signals < now.signals
            || new.defers < now.defers
            || new.idles < now.idles
            || new.periodics < now.periodics
            || new.file_ops != now.file_ops
            || (now.file_ops > 0 && new.file_op_size != now.file_op_size)
            || larger.timer_queue.len() < larger.timers.len()
            || larger.ready.len() < new.ready_len()
            || larger.buffer_classes != core.buffers.classes()
            || !larger.buffers_fit()
        {
            return Err(core.fail(Error::InvalidArgument));
        }
        // The one step that can fail for a reason of the system: take it before anything moves.
        let opened = core.open_signals(new.signals);
        core.note(opened)?;
        // The kernel must not write into (or read from) memory that moves: take every
        // receive and send in flight back first.
        core.ring_quiesce(&mut self.events);
        let Storage {
            timers,
            timer_queue,
            tcp_listeners,
            tcp_streams,
            udp_sockets,
            user_events,
            ready,
            semaphores,
            signals,
            defers,
            idles,
            periodics,
            file_ops,
            file_op_size,
            buffer_classes,
            buffers,
            buffer_free,
            buffer_memory,
        } = larger;
        let (timers, timer_queue) = core.timers.grow(timers, timer_queue)?;
        let old_signals = core.signals.grow(signals)?;
        let (old_buffers, old_free, old_memory) =
            core.buffers.grow(buffers, buffer_free, buffer_memory)?;
        // Receive buffers belong to their streams, not to an entry of the pool.
        for rx in core.streams.receive_buffers() {
            core.buffers.rx_copy_from(rx, old_memory);
        }
        // So do the chunks of receives that completed and were not read yet.
        for (_, r, _) in core.streams.ring_ops() {
            if r.recv != super::buffers::Chunk::NONE {
                core.buffers.chunk_copy_from(&r.recv, old_memory);
            }
            // And the chunks multishot receives queued.
            core.buffers.queue_copy_from(&r.queue, old_memory);
        }
        // The sends that were taken back go on from the new memory.
        core.ring_resume_sends();
        Ok(Storage {
            timers,
            timer_queue,
            tcp_listeners: core.listeners.grow(tcp_listeners)?,
            tcp_streams: {
                let old = core.streams.grow(tcp_streams)?;
                core.ring =
                    core.ring && core.streams.capacity() <= super::backend::op::SLOTS as usize;
                old
            },
            udp_sockets: core.udp.grow(udp_sockets)?,
            user_events: core.user.grow(user_events)?,
            ready: core.ready.grow(ready),
            semaphores: core.sems.grow(semaphores)?,
            signals: old_signals,
            defers: core.defers.grow(defers)?,
            idles: core.idles.grow(idles)?,
            periodics: core.periodics.grow(periodics)?,
            file_ops: core.files.grow(file_ops)?,
            file_op_size,
            buffer_classes,
            buffers: old_buffers,
            buffer_free: old_free,
            buffer_memory: old_memory,
        })
    }
}
