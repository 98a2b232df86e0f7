//! [`Core`], the loop state behind a [`Cx`](crate::Cx): the sources composed, the backend,
//! the clock, and the state of the protothread being resumed.
//!
//! Each source owns its state and invariants in its own module (`timers.rs`,
//! `tcp_listener.rs`, `tcp_stream.rs`, `udp.rs`, `user_events.rs`, `semaphores.rs`,
//! `signals.rs`, `watchers.rs`, `periodic.rs`, `files.rs`, `buffers.rs`, `protothreads.rs`);
//! the core holds one of each and implements what spans several of them: registering waiters
//! on any resource (here), protothread waits (`waits.rs`), and closing.
//! The core is not generic over the application state: handlers are stored with their state
//! type erased (`handler.rs`), so a [`Cx`](crate::Cx) reaches the core by static dispatch.
//!
//! A core made by [`Core::detached`] has no backend, no shared half and empty pools: the
//! state behind [`Cx::detached`](crate::Cx::detached). Every operation on it answers
//! [`Error::NotSupported`].

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::{RawHandle, ResourceType};

use super::backend::Backend;
use super::buffers::Buffers;
use super::clock::Clock;
use super::files::Files;
use super::handler::AppType;
use super::loop_id::Generations;
use super::periodic::Periodics;
use super::protothreads::Protothreads;
use super::ready::ReadyQueue;
use super::remote::Shared;
use super::running::Running;
use super::semaphores::Semaphores;
use super::side::{Dir, Side};
use super::signals::Signals;
use super::storage::Storage;
use super::tcp_listener::Listeners;
use super::tcp_stream::Streams;
use super::timers::Timers;
use super::udp::UdpSockets;
use super::user_events::UserEventSources;
use super::waiter::Waiter;
use super::watchers::{Defers, Idles};

/// The loop state behind a [`Cx`](crate::Cx).
pub(crate) struct Core<'s> {
    pub(crate) id: u8,
    /// `None` for a detached core.
    pub(crate) backend: Option<Backend>,
    /// The application state type of the loop that owns this core.
    pub(crate) app: AppType,
    pub(crate) timers: Timers<'s>,
    pub(crate) listeners: Listeners<'s>,
    pub(crate) streams: Streams<'s>,
    pub(crate) udp: UdpSockets<'s>,
    pub(crate) user: UserEventSources<'s>,
    pub(crate) sems: Semaphores<'s>,
    pub(crate) signals: Signals<'s>,
    pub(crate) defers: Defers<'s>,
    pub(crate) idles: Idles<'s>,
    pub(crate) periodics: Periodics<'s>,
    pub(crate) files: Files<'s>,
    pub(crate) buffers: Buffers<'s>,
    pub(crate) pts: Protothreads<'s>,
    pub(crate) ready: ReadyQueue<'s>,
    /// What remotes share with the loop; `None` for a detached core.
    pub(crate) shared: Option<Arc<Shared>>,
    pub(crate) clock: Clock,
    pub(crate) last_error: Option<Error>,
    pub(crate) run: Running,
    /// What is pending for the rest of the iteration, as the bits [`Core::STOP`],
    /// [`Core::SIGNALS_DUE`], [`Core::REMOTE_DUE`], [`Core::DEFER_DUE`], and the state of
    /// idle watchers ([`Core::IDLE_ARMED`], [`Core::IDLE_DUE`]): one byte, so the loop tests
    /// it once before it polls and once after each step that may set it.
    pub(crate) due: u8,
    /// Pooled stream reads and sends go through the backend's ring (see `ring.rs`).
    pub(crate) ring: bool,
    /// No send is queued on the ring (while every request is taken back).
    pub(crate) ring_held: bool,
}

impl<'s> Core<'s> {
    /// [`Cx::stop`](crate::Cx::stop) was called, or a remote's stop was seen: `run` returns
    /// after this iteration. (It is not work: a loop driven by `run_once` alone, which never
    /// consumes it, must still block in its polls.)
    pub(crate) const STOP: u8 = 1;
    /// A signal watcher holds an arrival someone now waits for: deliver it at the end of the
    /// I/O step.
    pub(crate) const SIGNALS_DUE: u8 = 2;
    /// Remote work is waiting: the loop's own thread left some (see
    /// [`doorbell`](Core::doorbell)), or the doorbell of the remotes woke the poller.
    pub(crate) const REMOTE_DUE: u8 = 4;
    /// A defer watcher is queued: run the queue at the start of the next iteration.
    pub(crate) const DEFER_DUE: u8 = 8;
    /// An idle watcher is active: the loop notes whether each poll stirred it.
    pub(crate) const IDLE_ARMED: u8 = 16;
    /// An idle watcher is active and something happened since idle watchers last ran: they
    /// run when the loop is next about to block (see `watchers::Idles`).
    pub(crate) const IDLE_DUE: u8 = 32;

    /// The core of a loop with id `id` over `storage`; without a backend (and shared half),
    /// a detached core.
    pub(crate) fn new(
        id: u8,
        storage: Storage<'s>,
        backend: Option<Backend>,
        shared: Option<Arc<Shared>>,
        protothreads: usize,
        buffers_per_stream: usize,
        app: AppType,
    ) -> Core<'s> {
        let attached = backend.is_some();
        let accepts_in_ring = backend.as_ref().is_some_and(Backend::accepts_in_ring);
        Core {
            id,
            backend,
            app,
            timers: Timers::new(storage.timers, storage.timer_queue, id),
            listeners: Listeners::new(storage.tcp_listeners, id, attached, accepts_in_ring),
            streams: Streams::new(storage.tcp_streams, id),
            udp: UdpSockets::new(storage.udp_sockets, id),
            user: UserEventSources::new(storage.user_events, id),
            sems: Semaphores::new(storage.semaphores, id),
            signals: Signals::new(storage.signals, id),
            defers: Defers::new(storage.defers, id),
            idles: Idles::new(storage.idles, id),
            periodics: Periodics::new(storage.periodics, id),
            files: Files::new(storage.file_ops, id),
            buffers: Buffers::new(
                storage.buffers,
                storage.buffer_free,
                storage.buffer_memory,
                storage.buffer_classes,
                id,
                buffers_per_stream,
            ),
            pts: Protothreads::new(id, protothreads),
            ready: ReadyQueue::new(storage.ready),
            shared,
            clock: Clock::new(),
            last_error: None,
            run: Running::default(),
            due: 0,
            ring: false,
            ring_held: false,
        }
    }

    /// Starts the generations of every pool at `first`, so that no handle of an earlier loop
    /// with this loop's id names one of this loop's resources (see `loop_id`).
    pub(crate) fn start_generations(&mut self, first: Generations) {
        let g = first.pools;
        self.timers.start_generations_at(g);
        self.listeners.start_generations_at(g);
        self.streams.start_generations_at(g);
        self.udp.start_generations_at(g);
        self.user.start_generations_at(g);
        self.sems.start_generations_at(g);
        self.signals.start_generations_at(g);
        self.defers.start_generations_at(g);
        self.idles.start_generations_at(g);
        self.periodics.start_generations_at(g);
        self.files.start_generations_at(g);
        self.pts.start_generations_at(g);
        self.buffers.start_uses_at(first.buffers);
    }

    /// Where the next loop with this loop's id starts its generations: past every generation
    /// this loop handed out since [`start_generations`](Core::start_generations)`(first)`,
    /// and at least one further on, so that loops' own handles differ too.
    pub(crate) fn next_generations(&self, first: Generations) -> Generations {
        let g = first.pools;
        let moved = [
            self.timers.generations_since(g),
            self.listeners.generations_since(g),
            self.streams.generations_since(g),
            self.udp.generations_since(g),
            self.user.generations_since(g),
            self.sems.generations_since(g),
            self.signals.generations_since(g),
            self.defers.generations_since(g),
            self.idles.generations_since(g),
            self.periodics.generations_since(g),
            self.files.generations_since(g),
            self.pts.generations_since(g),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        Generations {
            pools: g.wrapping_add(moved).wrapping_add(1),
            buffers: first
                .buffers
                .wrapping_add(self.buffers.uses_since(first.buffers))
                .wrapping_add(1),
        }
    }

    /// A core with no loop behind it: no backend, empty pools. Allocates nothing.
    pub(crate) fn detached() -> Core<'s> {
        Core::empty(AppType::of::<()>())
    }

    /// A detached core for application type `app` (tests of handler calls).
    pub(crate) fn empty(app: AppType) -> Core<'s> {
        let storage = Storage {
            timers: &mut [],
            timer_queue: &mut [],
            tcp_listeners: &mut [],
            tcp_streams: &mut [],
            udp_sockets: &mut [],
            user_events: &mut [],
            ready: &mut [],
            semaphores: &mut [],
            signals: &mut [],
            defers: &mut [],
            idles: &mut [],
            periodics: &mut [],
            file_ops: &mut [],
            file_op_size: 0,
            buffer_classes: [Default::default(); 2],
            buffers: &mut [],
            buffer_free: &mut [],
            buffer_memory: &mut [],
        };
        Core::new(0, storage, None, None, 0, 0, app)
    }

    /// Opens the self-pipe of signal watchers if the loop has watcher slots and none is open,
    /// registered under the loop's own handle.
    pub(crate) fn open_signals(&mut self, slots: usize) -> Result<()> {
        let Some(backend) = &self.backend else {
            return Ok(());
        };
        let token = RawHandle::new(ResourceType::Loop, self.id, 0, 0);
        self.signals.open(backend, token, slots)
    }

    /// Whether no loop stands behind this core.
    #[inline]
    pub(crate) fn is_detached(&self) -> bool {
        self.backend.is_none()
    }

    /// Records `e` as the loop's last error and returns it.
    #[inline]
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        self.last_error = Some(e);
        e
    }

    /// Records the error of `r`, if any.
    #[inline]
    pub(crate) fn note<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = r {
            self.last_error = Some(e);
        }
        r
    }

    /// The error for a handle that names nothing here: `InvalidHandle`, or `NotSupported`
    /// when there is no loop at all. Recorded as the last error.
    #[cold]
    #[inline(never)]
    pub(crate) fn invalid(&mut self) -> Error {
        let e = if self.is_detached() {
            Error::NotSupported
        } else {
            Error::InvalidHandle
        };
        self.fail(e)
    }

    /// `Err(NotSupported)` for a detached core (recorded), else `Ok`.
    #[inline]
    pub(crate) fn attached(&mut self) -> Result<()> {
        if self.is_detached() {
            return Err(self.fail(Error::NotSupported));
        }
        Ok(())
    }

    /// The shared half, or `NotSupported` for a detached core.
    pub(crate) fn shared(&self) -> Result<&Arc<Shared>> {
        self.shared.as_ref().ok_or(Error::NotSupported)
    }

    /// Whether work is waiting that a blocking poll would delay. (Work other threads hand
    /// over needs no check here: their doorbell also wakes the poller.)
    #[inline]
    pub(crate) fn has_immediate_work(&self) -> bool {
        // One test of the bits of all four (no branch each): the ready queue, signals, remote
        // work and defer watchers due, protothreads runnable for something else than a repoll.
        let due = self.due & (Self::SIGNALS_DUE | Self::REMOTE_DUE | Self::DEFER_DUE);
        (self.ready.len() | usize::from(due) | (self.pts.run_len() - self.pts.repolls())) != 0
    }

    /// Remote work (a raise, latched raises) was left on the loop's own thread: the next
    /// poll must not block, and the remote-work step must run.
    pub(crate) fn doorbell(&mut self) {
        self.due |= Self::REMOTE_DUE;
    }

    /// The side `(h, dir)` of a live socket.
    #[inline]
    pub(crate) fn side(&self, h: RawHandle, dir: Dir) -> Option<&Side> {
        match (h.resource_type(), dir) {
            (ResourceType::TcpStream, Dir::Read) => self.streams.get(h).ok().map(|s| &s.read),
            (ResourceType::TcpStream, Dir::Write) => self.streams.get(h).ok().map(|s| &s.write),
            (ResourceType::TcpListener, Dir::Read) => self.listeners.get(h).ok().map(|l| &l.read),
            (ResourceType::UdpSocket, Dir::Read) => self.udp.get(h).ok().map(|u| &u.read),
            (ResourceType::UdpSocket, Dir::Write) => self.udp.get(h).ok().map(|u| &u.write),
            _ => None,
        }
    }

    /// The side `(h, dir)` of a live socket, mutably.
    #[inline]
    pub(crate) fn side_mut(&mut self, h: RawHandle, dir: Dir) -> Option<&mut Side> {
        match (h.resource_type(), dir) {
            (ResourceType::TcpStream, Dir::Read) => {
                self.streams.get_mut(h).ok().map(|s| &mut s.read)
            }
            (ResourceType::TcpStream, Dir::Write) => {
                self.streams.get_mut(h).ok().map(|s| &mut s.write)
            }
            (ResourceType::TcpListener, Dir::Read) => {
                self.listeners.get_mut(h).ok().map(|l| &mut l.read)
            }
            (ResourceType::UdpSocket, Dir::Read) => self.udp.get_mut(h).ok().map(|u| &mut u.read),
            (ResourceType::UdpSocket, Dir::Write) => self.udp.get_mut(h).ok().map(|u| &mut u.write),
            _ => None,
        }
    }

    /// Queues `(h, dir)` for dispatch on the next iteration if it is ready, has a handler and
    /// is not queued already.
    pub(crate) fn requeue_if_ready(&mut self, h: RawHandle, dir: Dir) {
        let Some(side) = self.side_mut(h, dir) else {
            return;
        };
        if !side.needs_dispatch() || side.queued {
            return;
        }
        side.queued = true;
        if !self.ready.push(h, dir) {
            // Entries of sockets closed since they were queued still take room (their slot
            // may have been reused and queued again). Drop them and try once more: the ring
            // has a place for every live socket direction.
            let (streams, udp, listeners) = (&self.streams, &self.udp, &self.listeners);
            self.ready.retain(|h| match h.resource_type() {
                ResourceType::TcpStream => streams.contains(h),
                ResourceType::UdpSocket => udp.contains(h),
                ResourceType::TcpListener => listeners.contains(h),
                _ => false,
            });
            self.ready.push(h, dir);
        }
    }

    /// Arms write interest of socket `h` if it waits to write and is not known writable.
    pub(crate) fn arm_write(&mut self, h: RawHandle) -> Result<()> {
        let Some(backend) = &self.backend else {
            return Err(Error::NotSupported);
        };
        match h.resource_type() {
            ResourceType::TcpStream => self.streams.get_mut(h)?.arm_write(h, backend),
            ResourceType::UdpSocket => self.udp.get_mut(h)?.arm_write(h, backend),
            _ => Ok(()),
        }
    }

    /// Disarms write interest of socket `h` if nobody waits to write.
    pub(crate) fn disarm_write(&mut self, h: RawHandle) {
        let Some(backend) = &self.backend else {
            return;
        };
        match h.resource_type() {
            ResourceType::TcpStream => {
                if let Ok(s) = self.streams.get_mut(h) {
                    s.disarm_write(h, backend);
                }
            }
            ResourceType::UdpSocket => {
                if let Ok(u) = self.udp.get_mut(h) {
                    u.disarm_write(h, backend);
                }
            }
            _ => {}
        }
    }

    /// Whether `h` names a live resource of this loop.
    pub(crate) fn exists(&self, h: RawHandle) -> bool {
        match h.resource_type() {
            ResourceType::Timer => self.timers.is_user(h),
            ResourceType::TcpListener => self.listeners.contains(h),
            ResourceType::TcpStream => self.streams.contains(h),
            ResourceType::UdpSocket => self.udp.contains(h),
            ResourceType::UserEvents => self.user.contains(h),
            ResourceType::Semaphore => self.sems.contains(h),
            ResourceType::Signal => self.signals.contains(h),
            ResourceType::Defer => self.defers.contains(h),
            ResourceType::Idle => self.idles.contains(h),
            ResourceType::Periodic => self.periodics.contains(h),
            ResourceType::FileOp => self.files.contains(h),
            _ => false,
        }
    }

    /// The current waiter of `(h, trigger)`, if the resource exists.
    pub(crate) fn waiter_of(&self, h: RawHandle, trigger: Trigger) -> Option<Waiter> {
        match trigger {
            Trigger::Readable => self.side(h, Dir::Read).map(|s| s.waiter),
            Trigger::Writable => self.side(h, Dir::Write).map(|s| s.waiter),
            Trigger::Expired if h.resource_type() == ResourceType::Timer => {
                self.timers.waiter(h).ok()
            }
            Trigger::User(id) if h.resource_type() == ResourceType::UserEvents => {
                let k = self.shared.as_ref()?.sources.slot_of(h, id, false).ok()??;
                self.user.get(h).ok().map(|u| u.waiters[k])
            }
            Trigger::Signal if h.resource_type() == ResourceType::Signal => {
                self.signals.get(h).ok().map(|w| w.waiter)
            }
            Trigger::Deferred if h.resource_type() == ResourceType::Defer => {
                self.defers.get(h).ok().map(|w| w.waiter)
            }
            Trigger::Idle if h.resource_type() == ResourceType::Idle => {
                self.idles.get(h).ok().map(|w| w.waiter)
            }
            Trigger::Tick if h.resource_type() == ResourceType::Periodic => {
                self.periodics.get(h).ok().map(|w| w.waiter)
            }
            Trigger::FileDone if h.resource_type() == ResourceType::FileOp => {
                self.files.get(h).ok().map(|w| w.waiter)
            }
            _ => None,
        }
    }

    /// Sets or clears the waiter of `(h, trigger)`, arming what it needs.
    pub(crate) fn set_waiter(&mut self, h: RawHandle, trigger: Trigger, w: Waiter) -> Result<()> {
        let set = w.is_some();
        match trigger {
            Trigger::Readable | Trigger::Writable => {
                let dir = match trigger {
                    Trigger::Readable => Dir::Read,
                    _ => Dir::Write,
                };
                let Some(side) = self.side_mut(h, dir) else {
                    return Err(self.missing(h));
                };
                side.waiter = w;
                if dir == Dir::Write && set {
                    self.arm_write(h)?;
                }
                self.requeue_if_ready(h, dir);
            }
            Trigger::Expired if h.resource_type() == ResourceType::Timer => {
                self.timers.set_waiter(h, w)?;
            }
            Trigger::User(id) if h.resource_type() == ResourceType::UserEvents => {
                self.user.get(h)?;
                let shared = Arc::clone(self.shared()?);
                if let Some(k) = shared.sources.slot_of(h, id, set)? {
                    self.user.get_mut(h)?.waiters[k] = w;
                    if set && shared.sources.peek(h, k) > 0 {
                        // Latched raises: deliver on the next iteration.
                        shared.sources.mark(h.slot() as usize, k);
                        self.doorbell();
                    }
                }
            }
            Trigger::Signal if h.resource_type() == ResourceType::Signal => {
                let w_entry = self.signals.get_mut(h)?;
                w_entry.waiter = w;
                if set && w_entry.arrived {
                    // A latched arrival: deliver on the next iteration.
                    self.due |= Self::SIGNALS_DUE;
                }
            }
            Trigger::Deferred | Trigger::Idle | Trigger::Tick | Trigger::FileDone => {
                self.set_watcher_waiter(h, trigger, w)?;
            }
            _ => return Err(self.missing(h)),
        }
        Ok(())
    }

    /// Why `h` has no waiter for a trigger: the resource exists but lacks that trigger
    /// (`InvalidArgument`), or it does not exist.
    fn missing(&self, h: RawHandle) -> Error {
        if self.is_detached() {
            Error::NotSupported
        } else if self.exists(h) {
            Error::InvalidArgument
        } else {
            Error::InvalidHandle
        }
    }
}
