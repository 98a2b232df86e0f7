//! [`LoopRemote`]: the one door into a loop from other threads.
//!
//! A remote can raise user events, post a deferred call and stop the loop. All three leave
//! their work in memory the loop made at start-up (atomics for raises and stop, a bounded ring
//! for posts) and then ring a doorbell (the backend's waker), woken only when the doorbell was not
//! already ringing. Wakes therefore coalesce, and the loop finds the work itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::cx::Cx;
use crate::error::{Capacity, Error, Result};
use crate::handle::{Handle, Semaphore, UserEvents};

use super::backend::Waker;
use super::semaphores::SharedSems;
use super::user_events::SharedSources;

/// A deferred call: run on the loop thread with the application state, the loop's operations
/// and the argument given to [`LoopRemote::post`].
pub type PostFn<A> = fn(&mut A, &mut Cx<'_>, u64);

/// A posted call and its argument.
type Post<A> = (PostFn<A>, u64);

/// What the loop and its remotes share, whatever the application type.
pub(crate) struct Shared {
    pub(crate) waker: Waker,
    pub(crate) doorbell: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) sources: SharedSources,
    pub(crate) sems: SharedSems,
}

impl Shared {
    pub(crate) fn new(waker: Waker, sources: SharedSources, sems: SharedSems) -> Self {
        Shared {
            waker,
            doorbell: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sources,
            sems,
        }
    }

    /// Wakes the loop unless the doorbell is already ringing.
    pub(crate) fn ring(&self) {
        if !self.doorbell.swap(true, Ordering::AcqRel) && self.waker.wake().is_err() {
            // The loop may sleep in its poll without knowing of the work (it still finds it
            // when anything else wakes it): let the next ring try the wake again rather than
            // take the doorbell for ringing.
            self.doorbell.store(false, Ordering::Release);
        }
    }
}

struct PostRing<A> {
    buf: Box<[Option<Post<A>>]>,
    head: usize,
    len: usize,
}

/// The bounded queue of posted calls (typed by the application state they take).
pub(crate) struct PostQueue<A> {
    ring: Mutex<PostRing<A>>,
    posted: AtomicBool,
}

impl<A> PostQueue<A> {
    pub(crate) fn new(capacity: usize) -> Self {
        PostQueue {
            ring: Mutex::new(PostRing {
                buf: (0..capacity).map(|_| None).collect(),
                head: 0,
                len: 0,
            }),
            posted: AtomicBool::new(false),
        }
    }

    /// Takes the oldest posted call.
    pub(crate) fn pop(&self) -> Option<Post<A>> {
        if !self.posted.load(Ordering::Acquire) {
            return None;
        }
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len == 0 {
            self.posted.store(false, Ordering::Release);
            return None;
        }
        let head = ring.head;
        let item = ring.buf[head].take();
        ring.head = (head + 1) % ring.buf.len();
        ring.len -= 1;
        if ring.len == 0 {
            self.posted.store(false, Ordering::Release);
        }
        item
    }

    /// How many calls wait.
    pub(crate) fn len(&self) -> usize {
        if !self.posted.load(Ordering::Acquire) {
            return 0;
        }
        self.ring.lock().unwrap_or_else(|e| e.into_inner()).len
    }

    fn push(&self, f: PostFn<A>, arg: u64) -> Result<()> {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len == ring.buf.len() {
            return Err(Error::OutOfResources(Capacity::PostQueue));
        }
        let i = (ring.head + ring.len) % ring.buf.len();
        ring.buf[i] = Some((f, arg));
        ring.len += 1;
        self.posted.store(true, Ordering::Release);
        Ok(())
    }
}

/// A `Send + Sync` handle to a loop for other threads. Cheap to clone; stays safe to use after
/// the loop is gone (operations then fail with [`Error::Closed`] or do nothing).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ptk_runtime::{Config, Cx, Event, EventKind, EventLoop, OwnedStorage, Capacities, Trigger};
///
/// fn on_event(total: &mut u32, _cx: &mut Cx<'_>, ev: Event) {
///     if let EventKind::User { count, .. } = ev.kind {
///         *total += count;
///     }
/// }
///
/// let mut memory = OwnedStorage::new(Capacities::default());
/// let mut ev = EventLoop::new(memory.storage(), Config::default(), 0u32).unwrap();
/// let source = ev.user_events_create().unwrap();
/// ev.set_handler(source, Trigger::User(2049), on_event).unwrap();
///
/// let remote = ev.remote();
/// std::thread::spawn(move || {
///     for _ in 0..100 {
///         remote.raise(source, 2049).unwrap();
///     }
/// })
/// .join()
/// .unwrap();
///
/// while *ev.app() < 100 {
///     ev.run_once(Some(Duration::from_millis(100))).unwrap();
/// }
/// assert_eq!(*ev.app(), 100);
/// ```
pub struct LoopRemote<A = ()> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) posts: Arc<PostQueue<A>>,
    pub(crate) loop_id: u8,
}

impl<A> Clone for LoopRemote<A> {
    fn clone(&self) -> Self {
        LoopRemote {
            shared: Arc::clone(&self.shared),
            posts: Arc::clone(&self.posts),
            loop_id: self.loop_id,
        }
    }
}

impl<A> LoopRemote<A> {
    /// Raises event `id` of `source`. Never blocks, never allocates. See the
    /// delivery contract of user events (coalescing, latching) on
    /// [`EventKind::User`](crate::EventKind::User).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a closed source or one of another loop;
    /// [`Error::OutOfResources`] when the source holds as many distinct ids as it can.
    pub fn raise(&self, source: Handle<UserEvents>, id: u32) -> Result<()> {
        self.shared.sources.raise(source.raw(), id)?;
        self.shared.ring();
        Ok(())
    }

    /// Queues `f(app, cx, arg)` to run on the loop thread, after the I/O of the iteration that
    /// sees it, in posting order. Takes the queue's lock briefly; never allocates.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]`(`[`Capacity::PostQueue`]`)` when the queue is full.
    pub fn post(&self, f: PostFn<A>, arg: u64) -> Result<()> {
        self.posts.push(f, arg)?;
        self.shared.ring();
        Ok(())
    }

    /// Signals a counting semaphore of the loop from any thread. Never blocks, never
    /// allocates; the unit reaches the semaphore in the loop's remote-work step.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] for a closed semaphore or one of another loop.
    pub fn signal(&self, semaphore: Handle<Semaphore>) -> Result<()> {
        self.shared.sems.signal(semaphore.raw())?;
        self.shared.ring();
        Ok(())
    }

    /// Asks the loop to stop: [`run`](super::EventLoop::run) returns after the current
    /// iteration.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.ring();
    }

    /// The id of the loop this remote opens.
    pub fn loop_id(&self) -> u8 {
        self.loop_id
    }
}

impl<A> std::fmt::Debug for LoopRemote<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopRemote")
            .field("loop_id", &self.loop_id)
            .finish()
    }
}
