//! File operations: reading and writing files without blocking the loop.
//!
//! Regular files are always "ready" to a readiness poller (epoll refuses them), so a read or
//! write of one would block the loop's thread for as long as the disk takes. On io_uring the
//! ring does them (`ring_files`: the jobs below, with no thread). Otherwise the loop hands
//! them to one worker thread, started by [`EventLoop::new`](super::EventLoop::new)
//! only when the loop has file operation slots (`Capacities::file_ops > 0`), and takes the
//! results back on its own thread, like work from a [`LoopRemote`](super::LoopRemote): the
//! worker rings the same doorbell.
//!
//! Everything is made at start-up: one job per slot, each with its staging memory
//! (`file_op_size` bytes) and room for a path of up to [`FILE_PATH_MAX`] bytes, and the
//! worker's queue (one entry per job). An operation copies the caller's bytes into its job's
//! staging memory (a write) or leaves what it read there until the caller copies it out
//! ([`Cx::file_data`](crate::Cx::file_data)). The data goes through staging memory rather than
//! the loop's buffer pool because the pool lives in the caller's storage, which only the
//! loop's thread may touch; the io_uring path fills the same job fields, so the operations
//! and their delivery are the same on both.
//!
//! A job belongs to its operation until the operation is closed and the worker is done with
//! it: closing an operation in flight abandons the job, whose result is then dropped when the
//! worker finishes, and only then is the job free for another operation. So no completion can
//! reach an operation that reuses the slot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};
use crate::pool::{Pool, Slot};

use super::remote::Shared;
use super::waiter::Waiter;

/// The longest path (in bytes) a file operation takes. Paths that fit the standard library's
/// stack buffer are opened without allocating.
pub const FILE_PATH_MAX: usize = 383;

/// How a write places its bytes in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileWrite {
    /// Create the file, or truncate it, then write from its start.
    Replace,
    /// Create the file if needed, then write at this byte offset (keeping what is around it).
    At(u64),
    /// Create the file if needed, then write at its end.
    Append,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Read { offset: u64 },
    Write(FileWrite),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JobState {
    Free,
    /// Queued for or held by the worker.
    InFlight,
    /// Finished; the result waits for its operation to be closed.
    Done,
}

pub(super) struct Job {
    pub(super) state: JobState,
    /// The operation it serves; `None` once the operation was closed.
    pub(super) op: Option<RawHandle>,
    pub(super) kind: Kind,
    /// The path, and room for the NUL an `openat` in the ring needs after it.
    pub(super) path: [u8; FILE_PATH_MAX + 1],
    pub(super) path_len: usize,
    /// The staging memory (taken by the worker while it works; on the ring it stays here,
    /// and the kernel reads or writes it in place).
    pub(super) data: Box<[u8]>,
    /// Bytes to write, or the most bytes to read.
    pub(super) len: usize,
    pub(super) result: Result<usize>,
}

/// What the loop and its file worker share.
pub(crate) struct FileJobs {
    pub(super) jobs: Box<[Mutex<Job>]>,
    done: Box<[AtomicBool]>,
    any_done: AtomicBool,
    queue: Mutex<JobQueue>,
    wake: Condvar,
    size: usize,
}

struct JobQueue {
    ring: Box<[u32]>,
    head: usize,
    len: usize,
    shutdown: bool,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FileJobs {
    fn new(n: usize, size: usize) -> FileJobs {
        FileJobs {
            jobs: (0..n)
                .map(|_| {
                    Mutex::new(Job {
                        state: JobState::Free,
                        op: None,
                        kind: Kind::Read { offset: 0 },
                        path: [0; FILE_PATH_MAX + 1],
                        path_len: 0,
                        data: vec![0; size].into_boxed_slice(),
                        len: 0,
                        result: Ok(0),
                    })
                })
                .collect(),
            done: (0..n).map(|_| AtomicBool::new(false)).collect(),
            any_done: AtomicBool::new(false),
            queue: Mutex::new(JobQueue {
                ring: vec![0; n].into_boxed_slice(),
                head: 0,
                len: 0,
                shutdown: false,
            }),
            wake: Condvar::new(),
            size,
        }
    }

    /// The worker: runs queued jobs one at a time until shut down.
    fn work(&self, shared: &Shared) {
        loop {
            let i = {
                let mut q = lock(&self.queue);
                while q.len == 0 && !q.shutdown {
                    q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                if q.shutdown {
                    return;
                }
                let i = q.ring[q.head] as usize;
                q.head = (q.head + 1) % q.ring.len();
                q.len -= 1;
                i
            };
            let Some(job) = self.jobs.get(i) else {
                continue;
            };
            // Take what the job needs out of its lock: the loop must be able to abandon it
            // while the I/O blocks.
            let (kind, path, path_len, mut data, len, abandoned) = {
                let mut j = lock(job);
                (
                    j.kind,
                    j.path,
                    j.path_len,
                    std::mem::take(&mut j.data),
                    j.len,
                    j.op.is_none(),
                )
            };
            let result = if abandoned {
                Err(Error::Closed)
            } else {
                run(kind, &path[..path_len], &mut data[..len])
            };
            {
                let mut j = lock(job);
                j.data = data;
                j.result = result;
            }
            self.finish(i);
            shared.ring();
        }
    }

    /// Marks job `i` finished (its result set), for the loop's next look.
    pub(super) fn finish(&self, i: usize) {
        if let Some(done) = self.done.get(i) {
            done.store(true, Ordering::Release);
            self.any_done.store(true, Ordering::Release);
        }
    }

    fn shut_down(&self) {
        lock(&self.queue).shutdown = true;
        self.wake.notify_all();
    }
}

/// Runs one operation on the worker's thread.
fn run(kind: Kind, path: &[u8], data: &mut [u8]) -> Result<usize> {
    use std::fs::OpenOptions;
    #[cfg(unix)]
    let path = {
        use std::os::unix::ffi::OsStrExt;
        std::path::Path::new(std::ffi::OsStr::from_bytes(path))
    };
    #[cfg(not(unix))]
    let path = std::path::Path::new(std::str::from_utf8(path).map_err(|_| Error::InvalidArgument)?);
    match kind {
        Kind::Read { offset } => {
            let file = OpenOptions::new().read(true).open(path)?;
            read_at(&file, data, offset)
        }
        Kind::Write(mode) => {
            let mut open = OpenOptions::new();
            open.write(true).create(true);
            match mode {
                FileWrite::Replace => open.truncate(true),
                FileWrite::At(_) => &mut open,
                FileWrite::Append => open.append(true),
            };
            let file = open.open(path)?;
            write_at(&file, data, mode)?;
            Ok(data.len())
        }
    }
}

/// Reads until `data` is full or the file ends.
#[cfg(unix)]
fn read_at(file: &std::fs::File, data: &mut [u8], offset: u64) -> Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < data.len() {
        match file.read_at(&mut data[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

#[cfg(not(unix))]
fn read_at(file: &std::fs::File, data: &mut [u8], offset: u64) -> Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    let mut n = 0;
    while n < data.len() {
        match file.read(&mut data[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Writes all of `data` (a write the file system cannot complete is an error).
fn write_at(file: &std::fs::File, data: &[u8], mode: FileWrite) -> Result<()> {
    use std::io::Write;
    match mode {
        #[cfg(unix)]
        FileWrite::At(offset) => {
            use std::os::unix::fs::FileExt;
            file.write_all_at(data, offset)?;
        }
        #[cfg(not(unix))]
        FileWrite::At(offset) => {
            use std::io::{Seek, SeekFrom};
            let mut file = file;
            file.seek(SeekFrom::Start(offset))?;
            file.write_all(data)?;
        }
        FileWrite::Replace | FileWrite::Append => {
            let mut file = file;
            file.write_all(data)?;
        }
    }
    Ok(())
}

/// The state of one file operation (opaque; see [`Storage::file_ops`](super::Storage::file_ops)).
pub struct FileOpEntry {
    pub(crate) job: u32,
    /// The result, once the worker finished.
    pub(crate) result: Option<Result<usize>>,
    pub(crate) waiter: Waiter,
}

/// The file operations of one loop, and the half it shares with its worker.
pub(crate) struct Files<'s> {
    pool: Pool<'s, FileOpEntry>,
    pub(super) jobs: Option<Arc<FileJobs>>,
    /// Jobs queued or running (closed ones included, until the worker is done with them).
    in_flight: usize,
    /// On io_uring: the state of each job's requests in the ring, which does the jobs
    /// instead of a worker (see `ring_files`).
    #[cfg(all(feature = "io-uring", target_os = "linux"))]
    pub(super) ring: Option<super::ring_files::RingJobs>,
}

impl<'s> Files<'s> {
    pool_accessors!(FileOpEntry: len, capacity, get, get_mut, contains, handle_at, generations, grow);

    pub(crate) fn new(slots: &'s mut [Slot<FileOpEntry>], loop_id: u8) -> Self {
        Files {
            pool: Pool::new(slots, ResourceType::FileOp, loop_id, Capacity::FileOps),
            jobs: None,
            in_flight: 0,
            #[cfg(all(feature = "io-uring", target_os = "linux"))]
            ring: None,
        }
    }

    /// Makes the jobs and starts the worker, when the loop has file operation slots; with
    /// `native` (the loop runs on io_uring), the jobs go into the ring and no worker starts.
    pub(crate) fn start(&mut self, size: usize, shared: &Arc<Shared>, native: bool) -> Result<()> {
        let n = self.pool.capacity();
        if n == 0 {
            return Ok(());
        }
        if size == 0 || u32::try_from(n).is_err() {
            return Err(Error::InvalidArgument);
        }
        let jobs = Arc::new(FileJobs::new(n, size));
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if native {
            self.ring = Some(super::ring_files::RingJobs::new(n));
            self.jobs = Some(jobs);
            return Ok(());
        }
        let _ = native;
        let (worker_jobs, shared) = (Arc::clone(&jobs), Arc::clone(shared));
        std::thread::Builder::new()
            .name("ptk-files".into())
            .spawn(move || worker_jobs.work(&shared))?;
        self.jobs = Some(jobs);
        Ok(())
    }

    /// Whether the operations go into the io_uring ring rather than to a worker thread.
    pub(crate) fn native(&self) -> bool {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        return self.ring.is_some();
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        false
    }

    /// Requests of file operations in the io_uring ring (their completions not handled yet).
    pub(crate) fn ring_requests(&self) -> u32 {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        return self
            .ring
            .as_ref()
            .map_or(0, super::ring_files::RingJobs::requests);
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        0
    }

    /// The most bytes one operation moves (0 without file operation slots).
    pub(crate) fn op_size(&self) -> usize {
        self.jobs.as_ref().map_or(0, |j| j.size)
    }

    /// How many jobs are queued or running.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Starts an operation: `Read` of up to `len` bytes at `offset`, or a write of `data`.
    pub(crate) fn submit(
        &mut self,
        path: &std::path::Path,
        kind: FileKind<'_>,
    ) -> Result<RawHandle> {
        let Some(jobs) = self.jobs.as_ref() else {
            return Err(Error::OutOfResources(Capacity::FileOps));
        };
        let path = path_bytes(path)?;
        if path.len() > FILE_PATH_MAX || path.is_empty() {
            return Err(Error::InvalidArgument);
        }
        let len = match kind {
            FileKind::Read { len, .. } => len,
            FileKind::Write { data, .. } => data.len(),
        };
        if len > jobs.size {
            return Err(Error::OutOfResources(Capacity::FileOps));
        }
        let free = jobs
            .jobs
            .iter()
            .position(|j| lock(j).state == JobState::Free)
            .ok_or(Error::OutOfResources(Capacity::FileOps))?;
        let op = self
            .pool
            .insert(FileOpEntry {
                job: free as u32,
                result: None,
                waiter: Waiter::None,
            })
            .map_err(|(_, e)| e)?;
        {
            let mut j = lock(&jobs.jobs[free]);
            j.state = JobState::InFlight;
            j.op = Some(op);
            j.path[..path.len()].copy_from_slice(path);
            j.path_len = path.len();
            j.len = len;
            j.result = Ok(0);
            j.kind = match kind {
                FileKind::Read { offset, .. } => Kind::Read { offset },
                FileKind::Write { data, mode } => {
                    j.data[..len].copy_from_slice(data);
                    Kind::Write(mode)
                }
            };
        }
        self.in_flight += 1;
        if self.native() {
            // The loop's ring takes it from here (`ring_files`).
            return Ok(op);
        }
        {
            let mut q = lock(&jobs.queue);
            let at = (q.head + q.len) % q.ring.len();
            q.ring[at] = free as u32;
            q.len += 1;
        }
        jobs.wake.notify_one();
        Ok(op)
    }

    /// Whether the worker finished jobs since the last call (then look at each with
    /// [`finished`](Self::finished)).
    pub(crate) fn any_finished(&self) -> bool {
        self.jobs
            .as_ref()
            .is_some_and(|j| j.any_done.swap(false, Ordering::AcqRel))
    }

    /// Takes the result of job `i` if the worker finished it: `Some((op, result))` when its
    /// operation is still open (and records the result there); a job of a closed operation
    /// is freed.
    pub(crate) fn finished(&mut self, i: usize) -> Option<(RawHandle, Result<usize>)> {
        let jobs = self.jobs.as_ref()?;
        if !jobs.done.get(i)?.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.in_flight -= 1;
        let mut j = lock(&jobs.jobs[i]);
        let Some(op) = j.op else {
            j.state = JobState::Free;
            return None;
        };
        j.state = JobState::Done;
        let result = j.result;
        drop(j);
        self.pool.get_mut(op).ok()?.result = Some(result);
        Some((op, result))
    }

    /// Copies what finished read `h` brought into `dst`; how many bytes.
    pub(crate) fn data(&self, h: RawHandle, dst: &mut [u8]) -> Result<usize> {
        let e = self.pool.get(h)?;
        let n = match e.result {
            Some(Ok(n)) => n,
            Some(Err(e)) => return Err(e),
            None => return Err(Error::WouldBlock),
        };
        let jobs = self.jobs.as_ref().ok_or(Error::InvalidHandle)?;
        let j = lock(&jobs.jobs[e.job as usize]);
        if !matches!(j.kind, Kind::Read { .. }) {
            return Err(Error::InvalidArgument);
        }
        let n = n.min(dst.len());
        dst[..n].copy_from_slice(&j.data[..n]);
        Ok(n)
    }

    /// Closes operation `h`: its job is freed, or abandoned while the worker has it.
    pub(crate) fn remove(&mut self, h: RawHandle) -> bool {
        let Ok(e) = self.pool.remove(h) else {
            return false;
        };
        if let Some(jobs) = &self.jobs {
            let mut j = lock(&jobs.jobs[e.job as usize]);
            j.op = None;
            if j.state == JobState::Done {
                j.state = JobState::Free;
            }
        }
        true
    }
}

impl Drop for Files<'_> {
    fn drop(&mut self) {
        // The worker ends once it finishes what it is doing (it is not joined: it may be
        // blocked in a read, on a pipe for example).
        if let Some(jobs) = &self.jobs {
            jobs.shut_down();
        }
    }
}

/// What an operation does, as the operations pass it on.
pub(crate) enum FileKind<'a> {
    Read { offset: u64, len: usize },
    Write { data: &'a [u8], mode: FileWrite },
}

fn path_bytes(path: &std::path::Path) -> Result<&[u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        path.to_str()
            .map(str::as_bytes)
            .ok_or(Error::InvalidArgument)
    }
}
