//! Library-managed loops: [`LoopThreads`] spawns one loop per worker thread and hands back
//! what a caller needs to control them (a threaded API: start, stop, wait, is running).

use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::remote::LoopRemote;
use super::storage::{Capacities, OwnedStorage};
use super::{Config, EventLoop};

/// How many loops [`LoopThreads::spawn`] starts and what each one holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadsConfig {
    /// Number of worker threads, one loop each (at least 1).
    pub workers: usize,
    /// Pool sizes of each loop (each worker makes its own [`OwnedStorage`] at start-up).
    pub capacities: Capacities,
    /// Settings of each loop.
    pub config: Config,
}

impl Default for ThreadsConfig {
    fn default() -> Self {
        ThreadsConfig {
            workers: 1,
            capacities: Capacities::default(),
            config: Config::default(),
        }
    }
}

/// Event loops running on threads the library owns.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ptk_runtime::{LoopThreads, ThreadsConfig};
///
/// let threads = LoopThreads::spawn(
///     ThreadsConfig { workers: 2, ..ThreadsConfig::default() },
///     |_worker| (),
///     |_worker, _ev| Ok(()),
/// )
/// .unwrap();
/// assert!(threads.is_running());
/// threads.stop();
/// assert!(threads.wait_timeout(Duration::from_secs(5)));
/// assert!(!threads.is_running());
/// ```
pub struct LoopThreads<A: 'static = ()> {
    remotes: Vec<LoopRemote<A>>,
    threads: Vec<JoinHandle<Result<()>>>,
    running: Arc<(Mutex<usize>, Condvar)>,
}

impl<A: 'static> LoopThreads<A> {
    /// Starts `config.workers` threads. Worker `i` makes its storage, its loop with state
    /// `make_app(i)`, runs `setup(i, &mut loop)` (open listeners, set handlers, ...) and then
    /// runs the loop until stopped. `spawn` returns once every worker has finished `setup`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for 0 workers; the first error of a worker's loop creation
    /// or `setup` (the other workers are then stopped and joined).
    pub fn spawn<M, S>(config: ThreadsConfig, make_app: M, setup: S) -> Result<LoopThreads<A>>
    where
        M: Fn(usize) -> A + Send + Sync + 'static,
        S: Fn(usize, &mut EventLoop<'_, A>) -> Result<()> + Send + Sync + 'static,
    {
        if config.workers == 0 {
            return Err(Error::InvalidArgument);
        }
        let make_app = Arc::new(make_app);
        let setup = Arc::new(setup);
        let running = Arc::new((Mutex::new(0usize), Condvar::new()));
        let (tx, rx) = mpsc::channel::<Result<LoopRemote<A>>>();
        let mut threads = Vec::with_capacity(config.workers);
        for worker in 0..config.workers {
            let (make_app, setup, count, tx) = (
                Arc::clone(&make_app),
                Arc::clone(&setup),
                Arc::clone(&running),
                tx.clone(),
            );
            *running.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            let spawned = std::thread::Builder::new()
                .name(format!("ptk-loop-{worker}"))
                .spawn(move || {
                    let _done = Done(count);
                    let mut memory = OwnedStorage::new(config.capacities);
                    let built = EventLoop::new(memory.storage(), config.config, make_app(worker))
                        .and_then(|mut ev| setup(worker, &mut ev).map(|()| ev));
                    let mut ev = match built {
                        Ok(ev) => ev,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return Err(e);
                        }
                    };
                    let _ = tx.send(Ok(ev.remote()));
                    drop(tx);
                    ev.run()
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    *running.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                    let threads = LoopThreads {
                        remotes: collect(&rx, threads.len()),
                        threads,
                        running,
                    };
                    threads.stop();
                    let _ = threads.wait();
                    return Err(e.into());
                }
            }
        }
        drop(tx);
        let mut remotes = Vec::with_capacity(config.workers);
        let mut first_error = None;
        for _ in 0..config.workers {
            match rx.recv() {
                Ok(Ok(r)) => remotes.push(r),
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(_) => first_error = first_error.or(Some(Error::Closed)),
            }
        }
        let threads = LoopThreads {
            remotes,
            threads,
            running,
        };
        match first_error {
            None => Ok(threads),
            Some(e) => {
                threads.stop();
                let _ = threads.wait();
                Err(e)
            }
        }
    }

    /// The remotes of the loops, one per worker, in worker order.
    pub fn remotes(&self) -> &[LoopRemote<A>] {
        &self.remotes
    }

    /// Asks every loop to stop; returns at once.
    pub fn stop(&self) {
        for r in &self.remotes {
            r.stop();
        }
    }

    /// Whether any worker is still running.
    pub fn is_running(&self) -> bool {
        *self.running.0.lock().unwrap_or_else(|e| e.into_inner()) > 0
    }

    /// Waits until every worker has stopped or `timeout` passed; `true` if all stopped.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.running;
        let mut n = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            n = cvar
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Waits for every worker to stop and joins it.
    ///
    /// # Errors
    ///
    /// The first error a worker's loop returned; [`Error::Closed`] for a worker that panicked
    /// (a handler panic ends its loop's thread).
    pub fn wait(mut self) -> Result<()> {
        let mut result = Ok(());
        for t in self.threads.drain(..) {
            let r = t.join().unwrap_or(Err(Error::Closed));
            if result.is_ok() {
                result = r;
            }
        }
        result
    }
}

impl<A: 'static> Drop for LoopThreads<A> {
    fn drop(&mut self) {
        self.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl<A: 'static> std::fmt::Debug for LoopThreads<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopThreads")
            .field("workers", &self.threads.len())
            .field("running", &self.is_running())
            .finish()
    }
}

fn collect<A>(rx: &mpsc::Receiver<Result<LoopRemote<A>>>, n: usize) -> Vec<LoopRemote<A>> {
    (0..n)
        .filter_map(|_| rx.recv().ok().and_then(|r| r.ok()))
        .collect()
}

/// Counts a worker out when its thread ends, however it ends.
struct Done(Arc<(Mutex<usize>, Condvar)>);

impl Drop for Done {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.0;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        cvar.notify_all();
    }
}
