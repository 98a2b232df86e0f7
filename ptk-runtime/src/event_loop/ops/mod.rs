//! The operations of the loop, as methods of [`Cx`]: one file per kind of resource.
//!
//! Each method resolves its handle once, asks the source that owns the resource, and on
//! `Pending` registers the running protothread (see `waits.rs`). Failures are recorded as the
//! loop's [`last_error`](Cx::last_error). The ones a protothread calls per message (`read`,
//! `write`, `write_all`) are `#[inline]`, so they compile into the protothread's resume.

mod buffers;
mod files;
mod protothreads;
mod semaphores;
mod signals;
mod socket_options;
mod tcp;
mod timers;
mod udp;
mod user_events;
mod watchers;

use std::task::Poll;

use crate::cx::{Cx, Handler};
use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::handle::{RawHandle, ResourceType};

use super::core::Core;
use super::handler::ErasedHandler;
use super::waiter::Waiter;

impl Cx<'_> {
    /// Milliseconds since the loop started, as of this iteration: the loop reads the clock at
    /// most once per iteration, the first time anyone needs it (an armed timer, a deadline, a
    /// sleep, or this call), and every later call in the same iteration answers the same
    /// value. Iterations that never need the time never read the clock. A detached context
    /// answers 0.
    #[inline]
    pub fn now_ms(&self) -> u64 {
        if self.core.is_detached() {
            return 0;
        }
        self.core.clock.now()
    }

    /// `now_ms() + ms`, saturating: a deadline or sleep time `ms` milliseconds from now.
    #[inline]
    pub fn after_ms(&self, ms: u64) -> u64 {
        self.now_ms().saturating_add(ms)
    }

    /// Asks the loop to return from [`run`](crate::EventLoop::run) after this iteration.
    pub fn stop(&mut self) {
        self.core.due |= Core::STOP;
    }

    /// The last error an operation of this loop returned, if any.
    pub fn last_error(&self) -> Option<Error> {
        self.core.last_error
    }

    /// Closes any resource (timer, socket, user event source, semaphore, signal, defer, idle
    /// or periodic watcher, file operation) and removes its handlers. Protothreads waiting on
    /// it are woken and see the handle gone. Closing a handle that is already closed is
    /// `Err(InvalidHandle)`. Closing a file operation in flight abandons it: its result is
    /// dropped when the worker is done. Closing a TCP stream
    /// also gives back to the pool every buffer its reads lent and its sends queued (their
    /// handles go stale); a pool buffer itself is given back with
    /// [`buf_release`](Cx::buf_release), not closed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a stale, foreign or unknown handle.
    pub fn close(&mut self, handle: impl Into<RawHandle>) -> Result<()> {
        let core = &mut self.core;
        if core.close(handle.into()) {
            Ok(())
        } else {
            Err(core.invalid())
        }
    }

    /// Sets (or replaces) the handler of `handle` for `trigger`. `A` must be the application
    /// state type of the loop.
    ///
    /// A readable handler is called again on every iteration while its socket stays readable,
    /// and a writable one while its socket stays writable: read until `Pending`, or remove the
    /// handler when it has nothing more to do. Setting a handler on a socket that is already
    /// ready, or on a user event id with latched raises, delivers on the next iteration.
    ///
    /// A protothread waiting there is woken: its wait fails with [`Error::InvalidArgument`]
    /// (a trigger has one waiter, a handler or a protothread).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`]; [`Error::InvalidArgument`] for a trigger the resource does not
    /// have (`Expired` on a socket, `Writable` on a listener, ...) or when `A` is not the
    /// loop's state type; [`Error::OutOfResources`] for a new id on a full user event source.
    pub fn set_handler<A: 'static>(
        &mut self,
        handle: impl Into<RawHandle>,
        trigger: Trigger,
        handler: Handler<A>,
    ) -> Result<()> {
        let core = &mut self.core;
        core.attached()?;
        let Some(f) = ErasedHandler::new(handler, core.app) else {
            return Err(core.fail(Error::InvalidArgument));
        };
        let h = handle.into();
        if let Some(Waiter::Pt(pt)) = core.waiter_of(h, trigger) {
            // It would never be woken: wake it now, its wait then reports the handler.
            core.wake_pt(pt);
        }
        let r = core.set_waiter(h, trigger, Waiter::Handler(f));
        core.note(r)
    }

    /// Removes the handler of `handle` for `trigger`. Removing a handler that is not set (or
    /// of a closed resource) is not an error; a protothread waiting there stays registered.
    pub fn remove_handler(&mut self, handle: impl Into<RawHandle>, trigger: Trigger) {
        let h = handle.into();
        if let Some(Waiter::Handler(_)) = self.core.waiter_of(h, trigger) {
            let _ = self.core.set_waiter(h, trigger, Waiter::None);
        }
    }
}

impl Core<'_> {
    /// Closes resource `h`, waking the protothreads that wait on it; `false` if it names
    /// nothing closable (protothreads are killed, not closed).
    pub(crate) fn close(&mut self, h: RawHandle) -> bool {
        if !self.exists(h) {
            return false;
        }
        self.wake_waiters_of(h);
        let Some(backend) = &self.backend else {
            return false;
        };
        match h.resource_type() {
            ResourceType::Timer => self.timers.remove(h),
            ResourceType::TcpListener => self.listeners.close(h, backend),
            ResourceType::TcpStream => match self.streams.close(h, backend, &mut self.buffers) {
                Some(timer) => {
                    if let Some(t) = timer {
                        self.timers.remove(t);
                    }
                    true
                }
                None => false,
            },
            ResourceType::UdpSocket => self.udp.close(h, backend),
            ResourceType::Signal => self.signals.remove(h),
            ResourceType::Defer => self.defers.remove(h),
            ResourceType::Idle => {
                let closed = self.idles.remove(h);
                self.sync_idle_bits();
                closed
            }
            ResourceType::Periodic => match self.periodics.remove(h) {
                Some(timer) => {
                    if let Some(t) = timer {
                        self.timers.remove(t);
                    }
                    true
                }
                None => false,
            },
            ResourceType::FileOp => self.close_file(h),
            ResourceType::Semaphore => self.close_sem(h),
            ResourceType::UserEvents => {
                let closed = self.user.remove(h);
                if let (true, Some(shared)) = (closed, &self.shared) {
                    shared.sources.close(h);
                }
                closed
            }
            _ => false,
        }
    }

    /// The answer of an operation that may wait on `(h, trigger)`, after `op` tried: errors
    /// are recorded, `Pending` registers the running protothread.
    #[inline]
    pub(crate) fn settle<T>(
        &mut self,
        h: RawHandle,
        trigger: Trigger,
        r: Poll<Result<T>>,
    ) -> Poll<Result<T>> {
        match r {
            Poll::Pending => self.pend(Some((h, trigger))),
            Poll::Ready(Err(Error::InvalidHandle)) => Poll::Ready(Err(self.invalid())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.fail(e))),
            ready => ready,
        }
    }
}
