//! File operations: reads and writes done by the loop's file worker, results delivered on
//! the loop's thread to handlers and waiting protothreads, errors included, and operations
//! closed in flight never completing into a reused slot.

mod alloc_counter;
mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk_runtime::{
    BackendKind, Capacities, Capacity, Config, Cx, Error, Event, EventKind, EventLoop, FileOp,
    FileWrite, Handle, OwnedStorage, Protothread, Pt, RawHandle, Site, Status, Step, Trigger,
    FILE_PATH_MAX,
};

/// A directory of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ptk-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the handlers saw: (operation, result).
type Trace = Vec<(RawHandle, Result<usize, Error>)>;

fn record(trace: &mut Trace, _cx: &mut Cx<'_>, ev: Event) {
    let EventKind::FileDone { result } = ev.kind else {
        panic!("a file handler got {:?}", ev.kind);
    };
    trace.push((ev.handle, result));
}

fn capacities(file_ops: usize, file_op_size: usize) -> Capacities {
    Capacities {
        file_ops,
        file_op_size,
        ..Capacities::default()
    }
}

fn within() -> Duration {
    Duration::from_secs(10)
}

fn done(ev: &mut EventLoop<'_, Trace>, n: usize) {
    run_until(ev, "the results", within(), 10_000, |ev| {
        ev.app().len() == n
    });
}

#[test]
fn a_read_is_delivered_to_its_handler_with_the_bytes_and_reads_short_at_the_end() {
    let dir = TempDir::new("read");
    let path = dir.path("data.bin");
    let content: Vec<u8> = (0..200u8).collect();
    std::fs::write(&path, &content).unwrap();
    let mut memory = OwnedStorage::new(capacities(2, 128));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    let whole = ev.file_read(&path, 10, 128).unwrap();
    ev.set_handler(whole, Trigger::FileDone, record).unwrap();
    assert_eq!(ev.file_is_active(whole), Ok(true));
    let mut buf = [0u8; 256];
    assert_eq!(ev.file_data(whole, &mut buf), Err(Error::WouldBlock));
    done(&mut ev, 1);
    assert_eq!(ev.app()[..], [(whole.raw(), Ok(128))]);
    assert_eq!(ev.file_is_active(whole), Ok(false));
    assert_eq!(ev.file_data(whole, &mut buf), Ok(128));
    assert_eq!(buf[..128], content[10..138]);
    // A smaller destination takes what fits; the result stays until the operation closes.
    assert_eq!(ev.file_data(whole, &mut buf[..4]), Ok(4));
    assert_eq!(ev.file_wait(whole), Poll::Ready(Ok(128)));
    ev.close(whole).unwrap();
    assert_eq!(ev.file_wait(whole), Poll::Ready(Err(Error::InvalidHandle)));

    // Past the end: what there is.
    let tail = ev.file_read(&path, 190, 100).unwrap();
    ev.set_handler(tail, Trigger::FileDone, record).unwrap();
    done(&mut ev, 2);
    assert_eq!(ev.app()[1], (tail.raw(), Ok(10)));
    assert_eq!(ev.file_data(tail, &mut buf), Ok(10));
    assert_eq!(buf[..10], content[190..]);
    ev.close(tail).unwrap();
    assert!(!ev.is_alive());
}

#[test]
fn writes_replace_place_and_append_and_read_back() {
    let dir = TempDir::new("write");
    let path = dir.path("out.txt");
    let mut memory = OwnedStorage::new(capacities(1, 64));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    let steps: [(&[u8], FileWrite, &[u8]); 4] = [
        (b"hello world", FileWrite::Replace, b"hello world"),
        (b"HELLO", FileWrite::At(0), b"HELLO world"),
        (b"!", FileWrite::Append, b"HELLO world!"),
        (b"bye", FileWrite::Replace, b"bye"),
    ];
    for (k, (data, mode, after)) in steps.into_iter().enumerate() {
        let op = ev.file_write(&path, data, mode).unwrap();
        ev.set_handler(op, Trigger::FileDone, record).unwrap();
        done(&mut ev, k + 1);
        assert_eq!(ev.app()[k], (op.raw(), Ok(data.len())), "{mode:?}");
        let mut buf = [0u8; 4];
        assert_eq!(
            ev.file_data(op, &mut buf),
            Err(Error::InvalidArgument),
            "a write"
        );
        ev.close(op).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), after, "{mode:?}");
    }
}

#[test]
fn errors_are_delivered_as_results() {
    let dir = TempDir::new("errors");
    let mut memory = OwnedStorage::new(capacities(4, 64));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    let missing = ev.file_read(dir.path("missing"), 0, 8).unwrap();
    let no_dir = ev
        .file_write(dir.path("no/such/dir"), b"x", FileWrite::Replace)
        .unwrap();
    let is_dir = ev.file_read(&dir.0, 0, 8).unwrap();
    let mut expected = vec![
        (missing.raw(), Err(Error::NotFound)),
        (no_dir.raw(), Err(Error::NotFound)),
        // Reading a directory: EISDIR, no more specific variant.
        (is_dir.raw(), Err(Error::Network)),
    ];
    #[cfg(target_os = "linux")]
    {
        // A short write: a device that is always full.
        let full = ev
            .file_write("/dev/full", b"abc", FileWrite::At(0))
            .unwrap();
        expected.push((
            full.raw(),
            Err(Error::OutOfResources(Capacity::StorageSpace)),
        ));
    }
    for (op, _) in &expected {
        ev.set_handler(*op, Trigger::FileDone, record).unwrap();
    }
    done(&mut ev, expected.len());
    expected.sort_by_key(|(op, _)| op.slot());
    let mut got = ev.app().clone();
    got.sort_by_key(|(op, _)| op.slot());
    assert_eq!(got, expected);
    let mut buf = [0u8; 8];
    assert_eq!(ev.file_data(missing, &mut buf), Err(Error::NotFound));

    // Refused before anything starts.
    let long = "x".repeat(FILE_PATH_MAX + 1);
    assert_eq!(ev.file_read(&long, 0, 1), Err(Error::InvalidArgument));
    assert_eq!(ev.file_read("", 0, 1), Err(Error::InvalidArgument));
    assert_eq!(
        ev.file_read(dir.path("a"), 0, 65),
        Err(Error::OutOfResources(Capacity::FileOps))
    );
    assert_eq!(
        ev.file_write(dir.path("a"), &[0; 65], FileWrite::Replace),
        Err(Error::OutOfResources(Capacity::FileOps))
    );
    assert_eq!(
        ev.file_read(dir.path("a"), 0, 1),
        Err(Error::OutOfResources(Capacity::FileOps)),
        "every slot holds a finished operation"
    );
    ev.close(missing).unwrap();
    assert!(ev.file_read(dir.path("a"), 0, 1).is_ok());

    // A loop without file operation slots starts no worker and refuses them.
    let mut none = OwnedStorage::new(Capacities::default());
    let mut plain = EventLoop::new(none.storage(), Config::default(), ()).unwrap();
    assert_eq!(
        plain.file_read(dir.path("a"), 0, 1),
        Err(Error::OutOfResources(Capacity::FileOps))
    );
    assert_eq!(
        Cx::detached().file_read("a", 0, 1),
        Err(Error::NotSupported)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn permission_errors_are_delivered_as_results() {
    // Read-only for everyone, root included.
    let path = Path::new("/sys/kernel/notes");
    match std::fs::OpenOptions::new().write(true).open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
        other => {
            eprintln!("skipped: opening {path:?} for writing gave {other:?}");
            return;
        }
    }
    let mut memory = OwnedStorage::new(capacities(1, 64));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    let op = ev.file_write(path, b"x", FileWrite::At(0)).unwrap();
    ev.set_handler(op, Trigger::FileDone, record).unwrap();
    done(&mut ev, 1);
    assert_eq!(ev.app()[..], [(op.raw(), Err(Error::PermissionDenied))]);
}

#[cfg(unix)]
#[test]
fn an_operation_closed_in_flight_never_completes_into_its_reused_slot() {
    let dir = TempDir::new("close");
    let fifo = dir.path("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let regular = dir.path("regular");
    std::fs::write(&regular, b"fresh").unwrap();
    let mut memory = OwnedStorage::new(capacities(1, 16));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    // Opening a FIFO for reading blocks the worker until a writer comes.
    let stuck = ev.file_read(&fifo, 0, 16).unwrap();
    ev.set_handler(stuck, Trigger::FileDone, record).unwrap();
    // On io_uring the open goes to the kernel with the loop's next poll.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    // A writer that does not block finds the FIFO open for reading once the worker (or the
    // kernel) is in the middle of the operation.
    let mut writer = None;
    common::wait_for("the worker to open the FIFO", within(), || {
        use std::os::unix::fs::OpenOptionsExt;
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ok();
        writer.is_some()
    });
    ev.close(stuck).unwrap();
    assert_eq!(ev.file_is_active(stuck), Err(Error::InvalidHandle));
    assert_eq!(ev.in_use().file_ops, 0);
    // Its job is still the worker's until the loop takes its result: the slot cannot be
    // reused yet, and the loop is alive.
    assert_eq!(
        ev.file_read(&regular, 0, 16),
        Err(Error::OutOfResources(Capacity::FileOps))
    );
    assert!(ev.is_alive());
    drop(writer);
    run_until(&mut ev, "the abandoned job", within(), 10_000, |ev| {
        !ev.is_alive()
    });
    assert_eq!(ev.app()[..], [], "a closed operation is never delivered");

    let fresh = ev.file_read(&regular, 0, 16).unwrap();
    assert_eq!(fresh.raw().slot(), stuck.raw().slot());
    assert_ne!(fresh.raw(), stuck.raw());
    ev.set_handler(fresh, Trigger::FileDone, record).unwrap();
    done(&mut ev, 1);
    assert_eq!(ev.app()[..], [(fresh.raw(), Ok(5))]);
    let mut buf = [0u8; 16];
    assert_eq!(ev.file_data(fresh, &mut buf), Ok(5));
    assert_eq!(&buf[..5], b"fresh");
    ev.run_once(Some(Duration::from_millis(10))).unwrap();
    assert_eq!(ev.app().len(), 1);
}

#[test]
fn on_io_uring_file_operations_go_into_the_ring_and_elsewhere_to_the_worker() {
    let dir = TempDir::new("native");
    let path = dir.path("f");
    let mut memory = OwnedStorage::new(capacities(2, 64));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    let on_ring = ev.backend().running == BackendKind::IoUring;
    assert_eq!(ev.file_ops_native(), on_ring);
    // The same results either way, a long write and a short read included.
    let data = [7u8; 64];
    let w = ev.file_write(&path, &data, FileWrite::Replace).unwrap();
    ev.set_handler(w, Trigger::FileDone, record).unwrap();
    done(&mut ev, 1);
    let r = ev.file_read(&path, 60, 64).unwrap();
    ev.set_handler(r, Trigger::FileDone, record).unwrap();
    done(&mut ev, 2);
    assert_eq!(ev.app()[..], [(w.raw(), Ok(64)), (r.raw(), Ok(4))]);
    let mut buf = [0u8; 8];
    assert_eq!(ev.file_data(r, &mut buf), Ok(4));
    assert_eq!(buf[..4], [7; 4]);
    // On io_uring no loop of this process starts a worker thread (every loop of this test
    // binary runs on the backend the environment asks for).
    #[cfg(target_os = "linux")]
    if on_ring {
        let workers = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end() == "ptk-files")
            .count();
        assert_eq!(workers, 0);
    }

    // Without file operation slots there is nothing to do natively.
    let mut none = OwnedStorage::new(capacities(0, 0));
    let ev = EventLoop::new(none.storage(), Config::default(), ()).unwrap();
    assert!(!ev.file_ops_native());
}

/// On io_uring only: an operation closed while its open waits in the kernel (a FIFO with no
/// writer, ever) is cancelled, keeps its slot until the kernel gives the job back, and never
/// completes into the slot's next operation; a loop dropped with one in flight takes it back
/// first.
#[cfg(unix)]
#[test]
fn on_io_uring_an_operation_closed_in_flight_is_cancelled_in_the_kernel() {
    let dir = TempDir::new("cancel");
    let fifo = dir.path("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let regular = dir.path("regular");
    std::fs::write(&regular, b"fresh").unwrap();
    let mut memory = OwnedStorage::new(capacities(1, 16));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    if ev.backend().running != BackendKind::IoUring {
        return; // the worker cannot be interrupted: see the test above
    }
    assert!(ev.file_ops_native());
    let stuck = ev.file_read(&fifo, 0, 16).unwrap();
    ev.set_handler(stuck, Trigger::FileDone, record).unwrap();
    // The open goes to the kernel, where it waits for a writer.
    for _ in 0..3 {
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
    }
    assert_eq!(ev.file_is_active(stuck), Ok(true));
    ev.close(stuck).unwrap();
    assert_eq!(ev.in_use().file_ops, 0);
    assert_eq!(
        ev.file_read(&regular, 0, 16),
        Err(Error::OutOfResources(Capacity::FileOps))
    );
    assert!(ev.is_alive());
    run_until(&mut ev, "the cancelled job", within(), 10_000, |ev| {
        !ev.is_alive()
    });
    assert_eq!(ev.app()[..], [], "a closed operation is never delivered");

    let fresh = ev.file_read(&regular, 0, 16).unwrap();
    assert_eq!(fresh.raw().slot(), stuck.raw().slot());
    ev.set_handler(fresh, Trigger::FileDone, record).unwrap();
    done(&mut ev, 1);
    assert_eq!(ev.app()[..], [(fresh.raw(), Ok(5))]);
    ev.close(fresh).unwrap();

    // Dropped with an open in the kernel: the drop cancels it and returns.
    let _stuck = ev.file_read(&fifo, 0, 16).unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    drop(ev);
}

/// Writes `data` to `path`, reads it back into `got`, and ends: a protothread waiting on
/// each operation in turn.
struct RoundTrip {
    pt: Pt,
    path: PathBuf,
    data: &'static [u8],
    op: Option<Handle<FileOp>>,
    got: Rc<RefCell<Vec<u8>>>,
}

static SITES: [Site; 2] = [
    Site {
        file: file!(),
        line: 1,
        column: 1,
        text: "write",
    },
    Site {
        file: file!(),
        line: 2,
        column: 1,
        text: "read",
    },
];

impl RoundTrip {
    /// Runs from the resume point to the next wait (`Ok(false)`) or the end (`Ok(true)`).
    fn run(&mut self, cx: &mut Cx<'_>) -> Result<bool, Error> {
        loop {
            match self.pt.resume_point() {
                0 => {
                    self.op = Some(cx.file_write(&self.path, self.data, FileWrite::Replace)?);
                    self.pt.suspend_at(1);
                }
                point => {
                    let op = self.op.ok_or(Error::InvalidArgument)?;
                    let Poll::Ready(r) = cx.file_wait(op) else {
                        return Ok(false);
                    };
                    let n = r?;
                    if point == 1 {
                        assert_eq!(n, self.data.len());
                        cx.close(op)?;
                        self.op = Some(cx.file_read(&self.path, 0, 64)?);
                        self.pt.suspend_at(2);
                    } else {
                        let mut buf = [0u8; 64];
                        let copied = cx.file_data(op, &mut buf)?;
                        self.got.borrow_mut().extend_from_slice(&buf[..copied]);
                        cx.close(op)?;
                        return Ok(true);
                    }
                }
            }
        }
    }
}

impl Protothread for RoundTrip {
    type Output = Result<(), Error>;
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<Self::Output> {
        match self.run(cx) {
            Ok(false) => Step::Pending,
            Ok(true) => {
                self.pt.finish(Status::Done);
                Step::Done(Ok(()))
            }
            Err(e) => {
                self.pt.finish(Status::Done);
                Step::Done(Err(e))
            }
        }
    }
    fn pt(&self) -> &Pt {
        &self.pt
    }
    fn pt_mut(&mut self) -> &mut Pt {
        &mut self.pt
    }
    fn sites(&self) -> &'static [Site] {
        &SITES
    }
}

#[test]
fn a_protothread_writes_a_file_and_reads_it_back_and_the_loop_thread_allocates_nothing() {
    let dir = TempDir::new("pt");
    // Room for what comes back, made before counting.
    let got = Rc::new(RefCell::new(Vec::with_capacity(64)));
    let mut contexts = [RoundTrip {
        pt: Pt::new(),
        path: PathBuf::new(),
        data: b"",
        op: None,
        got: Rc::clone(&got),
    }];
    let mut memory = OwnedStorage::new(capacities(1, 64));
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Trace::new()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let path = dir.path("round-trip");
    let pt = ev
        .spawn(
            pool,
            RoundTrip {
                pt: Pt::new(),
                path: path.clone(),
                data: b"through the worker and back",
                op: None,
                got: Rc::clone(&got),
            },
        )
        .unwrap();
    alloc_counter::count_this_thread(true);
    let before = alloc_counter::allocations();
    ev.run_until_idle().unwrap();
    let after = alloc_counter::allocations();
    alloc_counter::count_this_thread(false);
    assert_eq!(
        ev.pt_status(pt),
        Ok(ptk_runtime::PtStatus::Ended(ptk_runtime::Outcome::Finished))
    );
    assert_eq!(got.borrow()[..], b"through the worker and back"[..]);
    assert_eq!(after - before, 0, "the loop's thread allocated");
    assert!(ev.app().is_empty(), "no handler was set");
}
