//! The loop's state behind [`Cx`](crate::Cx): pools, poller, clock and shared half.
//!
//! `Core` implements [`Io`](crate::Io) (in `io_impl.rs`); each source adds its own methods in
//! its own file (`tcp.rs`, `udp.rs`, ...). Dispatch to handlers lives in `mod.rs`, which owns
//! the application state next to the core.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use mio::Token;

use crate::error::{Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::Pool;

use super::protothreads::Protothreads;
use super::ready::{Dir, ReadyQueue};
use super::remote::Shared;
use super::semaphores::SemEntry;
use super::tcp::{ListenerEntry, StreamEntry};
use super::timers::{TimerEntry, TimerQueue};
use super::udp::UdpEntry;
use super::user_events::UserEventsEntry;
use super::waiter::Waiter;

/// The token of the doorbell. Resource tokens are handles, which are never 0.
pub(crate) const WAKER: Token = Token(0);

const _: () = assert!(usize::BITS >= 64, "mio tokens carry whole 64-bit handles");

pub(crate) fn token(h: RawHandle) -> Token {
    Token(h.to_u64() as usize)
}

pub(crate) struct Core<'s, A> {
    pub(crate) id: u8,
    pub(crate) poll: mio::Poll,
    pub(crate) timers: Pool<'s, TimerEntry<A>>,
    pub(crate) timer_queue: TimerQueue<'s>,
    pub(crate) listeners: Pool<'s, ListenerEntry<A>>,
    pub(crate) streams: Pool<'s, StreamEntry<A>>,
    pub(crate) udp: Pool<'s, UdpEntry<A>>,
    pub(crate) user: Pool<'s, UserEventsEntry<A>>,
    pub(crate) sems: Pool<'s, SemEntry>,
    pub(crate) shared: Arc<Shared<A>>,
    pub(crate) ready: ReadyQueue<'s>,
    pub(crate) epoch: Instant,
    /// The loop clock of this iteration, read at its first use (`u64::MAX`: not read yet).
    /// Iterations that nobody asks the time in (no timer armed, no sleep, no deadline) never
    /// read the clock.
    pub(crate) now: Cell<u64>,
    pub(crate) last_error: Option<Error>,
    /// A descriptor kept in reserve so an `accept` that hits `EMFILE` can still take the
    /// pending connection off the queue (and close it) instead of spinning on it.
    pub(crate) spare_fd: Option<std::fs::File>,
    pub(crate) pts: Protothreads<'s>,
    /// The protothread being resumed, if any (handlers run with `None`).
    pub(crate) current: Option<RawHandle>,
    /// Operations the running protothread may still complete in this resume.
    pub(crate) budget: u32,
    /// The running protothread ran out of budget and must be queued again.
    pub(crate) yield_requested: bool,
    /// The running protothread killed itself; it ends when its resume returns.
    pub(crate) kill_current: bool,
    /// The running protothread registered a wake-up (resource, timer or join) in this resume.
    pub(crate) registered: bool,
}

impl<A> Core<'_, A> {
    /// Milliseconds since the loop started, read from the clock.
    #[inline]
    pub(crate) fn clock(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The loop clock of this iteration: milliseconds since the loop started, read once per
    /// iteration at the first call.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self.now.get() {
            u64::MAX => {
                let t = self.clock();
                self.now.set(t);
                t
            }
            t => t,
        }
    }

    /// Forgets this iteration's clock reading: the next [`now`](Self::now) reads the clock.
    #[inline]
    pub(crate) fn clock_moved(&self) {
        self.now.set(u64::MAX);
    }

    /// Records `e` as the loop's last error and returns it.
    #[inline]
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        self.last_error = Some(e);
        e
    }

    #[inline]
    pub(crate) fn note<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = r {
            self.last_error = Some(e);
        }
        r
    }

    /// Whether work is waiting that a blocking poll would delay.
    #[inline]
    pub(crate) fn has_immediate_work(&self) -> bool {
        self.ready.len() > 0
            || self.pts.run_len() > self.pts.repolls()
            || self
                .shared
                .doorbell
                .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The waiter of `(h, dir)` and whether that direction is still ready.
    #[inline]
    pub(crate) fn io_waiter(&self, h: RawHandle, dir: Dir) -> Option<(Waiter<A>, bool)> {
        match h.resource_type() {
            ResourceType::TcpListener => {
                let l = self.listeners.get(h).ok()?;
                (dir == Dir::Read).then_some((l.read, l.readable))
            }
            ResourceType::TcpStream => {
                let s = self.streams.get(h).ok()?;
                Some(match dir {
                    Dir::Read => (s.read, s.readable),
                    Dir::Write => (s.write, s.writable),
                })
            }
            ResourceType::UdpSocket => {
                let u = self.udp.get(h).ok()?;
                Some(match dir {
                    Dir::Read => (u.read, u.readable),
                    Dir::Write => (u.write, u.writable),
                })
            }
            _ => None,
        }
    }

    #[inline]
    fn queued_flag(&mut self, h: RawHandle, dir: Dir) -> Option<&mut bool> {
        let i = match dir {
            Dir::Read => 0,
            Dir::Write => 1,
        };
        match h.resource_type() {
            ResourceType::TcpListener => self.listeners.get_mut(h).ok().map(|l| &mut l.queued),
            ResourceType::TcpStream => self.streams.get_mut(h).ok().map(|s| &mut s.queued[i]),
            ResourceType::UdpSocket => self.udp.get_mut(h).ok().map(|u| &mut u.queued[i]),
            _ => None,
        }
    }

    /// The waiter field of `(h, dir)` of a live socket, to set or clear it in place.
    #[inline]
    pub(crate) fn io_waiter_slot(&mut self, h: RawHandle, dir: Dir) -> Option<&mut Waiter<A>> {
        match (h.resource_type(), dir) {
            (ResourceType::TcpListener, Dir::Read) => {
                self.listeners.get_mut(h).ok().map(|l| &mut l.read)
            }
            (ResourceType::TcpStream, Dir::Read) => {
                self.streams.get_mut(h).ok().map(|s| &mut s.read)
            }
            (ResourceType::TcpStream, Dir::Write) => {
                self.streams.get_mut(h).ok().map(|s| &mut s.write)
            }
            (ResourceType::UdpSocket, Dir::Read) => self.udp.get_mut(h).ok().map(|u| &mut u.read),
            (ResourceType::UdpSocket, Dir::Write) => self.udp.get_mut(h).ok().map(|u| &mut u.write),
            _ => None,
        }
    }

    /// Queues `(h, dir)` for dispatch on the next iteration if it is ready, has a handler and
    /// is not queued already.
    #[inline]
    pub(crate) fn requeue_if_ready(&mut self, h: RawHandle, dir: Dir) {
        let Some((waiter, ready)) = self.io_waiter(h, dir) else {
            return;
        };
        if !ready || !waiter.is_some() {
            return;
        }
        let Some(q) = self.queued_flag(h, dir) else {
            return;
        };
        if *q {
            return;
        }
        *q = true;
        if !self.ready.push(h, dir) {
            // Entries of sockets closed since they were queued still take room (their slot
            // may have been reused and queued again). Drop them and try once more: the ring
            // has a place for every live socket direction.
            let streams = &self.streams;
            let udp = &self.udp;
            let listeners = &self.listeners;
            self.ready.retain(|h| match h.resource_type() {
                ResourceType::TcpStream => streams.contains(h),
                ResourceType::UdpSocket => udp.contains(h),
                ResourceType::TcpListener => listeners.contains(h),
                _ => false,
            });
            self.ready.push(h, dir);
        }
    }

    /// Clears the queued mark of an entry taken off the ready queue.
    #[inline]
    pub(crate) fn unqueue(&mut self, h: RawHandle, dir: Dir) {
        if let Some(q) = self.queued_flag(h, dir) {
            *q = false;
        }
    }
}
