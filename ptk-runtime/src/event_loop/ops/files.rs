//! File operations: reads and writes of files done by the loop's io_uring ring, or on `mio`
//! by its file worker thread.

use std::path::Path;
use std::task::Poll;

use crate::cx::Cx;
use crate::error::{Error, Result};
use crate::event::Trigger;
use crate::event_loop::files::{FileKind, FileWrite};
use crate::handle::{FileOp, Handle};

impl Cx<'_> {
    /// Starts reading up to `len` bytes of the file at `path` from byte `offset`, without
    /// blocking the loop: on io_uring the ring opens, reads and closes the file (requests
    /// submitted with the loop's own polls, see [`file_ops_native`](Cx::file_ops_native)), on
    /// `mio` the loop's file worker thread does; either way the result comes back on the
    /// loop's thread, to the handler set for [`Trigger::FileDone`]
    /// ([`EventKind::FileDone`](crate::EventKind::FileDone) with the bytes read or the
    /// error) or to a protothread waiting in [`file_wait`](Cx::file_wait). A read that meets
    /// the end of the file reads less than `len`. Then copy the bytes out with
    /// [`file_data`](Cx::file_data), and [`close`](Cx::close) the operation to free its slot.
    ///
    /// Set the handler right after this call (before the loop runs again): a result is
    /// delivered once, to whoever waits then; [`file_wait`](Cx::file_wait) answers it at any
    /// time until the operation is closed.
    ///
    /// # Errors
    ///
    /// [`Error::OutOfResources`]`(`[`Capacity::FileOps`](crate::Capacity::FileOps)`)` when
    /// every operation slot is busy (an operation closed in flight keeps its slot until the
    /// worker, or the kernel, is done with it: on io_uring its request is cancelled), the loop has none (`Capacities::file_ops` is 0), or `len` is
    /// over `Capacities::file_op_size`; [`Error::InvalidArgument`] for an empty path or one
    /// longer than [`FILE_PATH_MAX`](crate::FILE_PATH_MAX) bytes;
    /// [`Error::NotSupported`] on a detached `Cx`. Errors of the file itself (not found,
    /// permissions, ...) come with the result.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::Poll;
    /// use ptk_runtime::{Capacities, Config, EventLoop, FileWrite, OwnedStorage};
    ///
    /// let path = std::env::temp_dir().join(format!("ptk-doc-{}.txt", std::process::id()));
    /// let caps = Capacities { file_ops: 2, file_op_size: 4096, ..Capacities::default() };
    /// let mut memory = OwnedStorage::new(caps);
    /// let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    ///
    /// let write = ev.file_write(&path, b"hello", FileWrite::Replace).unwrap();
    /// ev.run_until_idle().unwrap(); // returns once the write is done
    /// assert_eq!(ev.file_wait(write), Poll::Ready(Ok(5)));
    /// ev.close(write).unwrap();
    ///
    /// let read = ev.file_read(&path, 1, 100).unwrap();
    /// ev.run_until_idle().unwrap();
    /// assert_eq!(ev.file_wait(read), Poll::Ready(Ok(4)));
    /// let mut buf = [0; 16];
    /// assert_eq!(ev.file_data(read, &mut buf), Ok(4));
    /// assert_eq!(&buf[..4], b"ello");
    /// ev.close(read).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn file_read(
        &mut self,
        path: impl AsRef<Path>,
        offset: u64,
        len: usize,
    ) -> Result<Handle<FileOp>> {
        self.file_submit(path.as_ref(), FileKind::Read { offset, len })
    }

    /// Starts writing all of `data` to the file at `path`, placed as `mode` says, without
    /// blocking the loop (the bytes are copied: `data` can be reused at once). Completes
    /// like [`file_read`](Cx::file_read), with the number of bytes written; a write the file
    /// system cannot complete (full, over quota, ...) is an error, never a short count.
    ///
    /// # Errors
    ///
    /// As [`file_read`](Cx::file_read), with `data.len()` in place of `len`.
    pub fn file_write(
        &mut self,
        path: impl AsRef<Path>,
        data: &[u8],
        mode: FileWrite,
    ) -> Result<Handle<FileOp>> {
        self.file_submit(path.as_ref(), FileKind::Write { data, mode })
    }

    fn file_submit(&mut self, path: &Path, kind: FileKind<'_>) -> Result<Handle<FileOp>> {
        let core = &mut self.core;
        core.attached()?;
        let r = core.files.submit(path, kind);
        let op = core.note(r)?;
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if core.files.native() {
            core.ring_file_start(op);
        }
        Ok(Handle::from_raw_unchecked(op))
    }

    /// The result of a file operation: `Ready(Ok(bytes))` or `Ready(Err(why))` once it is
    /// done (as often as asked, until it is closed), else `Pending`.
    pub fn file_wait(&mut self, op: Handle<FileOp>) -> Poll<Result<usize>> {
        let core = &mut self.core;
        let h = op.raw();
        let r = match core.files.get(h) {
            Ok(e) => match e.result {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            },
            Err(e) => Poll::Ready(Err(e)),
        };
        match r {
            // The file's own error is the operation's result, not a failure of this call.
            Poll::Ready(Err(e)) if e != Error::InvalidHandle => Poll::Ready(Err(e)),
            r => core.settle(h, Trigger::FileDone, r),
        }
    }

    /// Whether a file operation is still in flight (not done yet).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`].
    pub fn file_is_active(&self, op: Handle<FileOp>) -> Result<bool> {
        let core = &self.core;
        core.files
            .get(op.raw())
            .map(|e| e.result.is_none())
            .map_err(|_| core.no_such(op.raw()))
    }

    /// Whether file operations go into the loop's io_uring ring (`OPENAT`, `READ` or
    /// `WRITE`, `CLOSE`, submitted with the loop's own polls) rather than to a worker
    /// thread: true when the loop runs on io_uring and has file operation slots. Either way
    /// the operations and their results are the same.
    pub fn file_ops_native(&self) -> bool {
        self.core.files.native()
    }

    /// Copies the bytes a finished read brought into `dst` (as many as fit); returns how
    /// many.
    ///
    /// # Errors
    ///
    /// [`Error::WouldBlock`] while the read is in flight; the read's own error if it failed;
    /// [`Error::InvalidArgument`] for a write; [`Error::InvalidHandle`].
    pub fn file_data(&mut self, op: Handle<FileOp>, dst: &mut [u8]) -> Result<usize> {
        let core = &mut self.core;
        match core.files.data(op.raw(), dst) {
            Err(Error::InvalidHandle) => Err(core.invalid()),
            r => r,
        }
    }
}

impl crate::event_loop::core::Core<'_> {
    /// Closes file operation `h` (see `Files::remove`); on io_uring, its request in the
    /// ring is cancelled.
    pub(crate) fn close_file(&mut self, h: crate::handle::RawHandle) -> bool {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        let job = self.files.get(h).ok().map(|e| e.job as usize);
        let closed = self.files.remove(h);
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        if let (true, Some(job)) = (closed, job) {
            self.ring_file_cancel(job);
        }
        closed
    }
}
