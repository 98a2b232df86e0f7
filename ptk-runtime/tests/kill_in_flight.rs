//! A protothread killed while its receive is pending, its stream closed and the stream's
//! slot (and, as it happens, its file descriptor) reused at once by the next connection: what
//! was pending for the old owner never reaches the new one, 10,000 times over. Runs on the
//! backend `Config::default()` picks (`PTK_BACKEND=io_uring` in CI's io_uring pass), and on
//! io_uring explicitly where it is compiled in.
//!
//! On io_uring the victim's read is a receive request into a chunk of the buffer pool, queued
//! when it is killed; the close submits it to the kernel (with its cancel), which fills the
//! orphaned chunk with the old peer's bytes. The test checks that the chunk stays off the
//! free list until that completion has been handled, and that the completion, which names the
//! old stream, never reaches the slot's next owner.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::task::Poll;
use std::time::{Duration, Instant};

use ptk_runtime::{
    BackendKind, Capacities, Capacity, Config, Cx, Error, EventLoop, Handle, ListenOptions,
    Outcome, OwnedStorage, Protothread, Pt, PtStatus, Site, Status, Step, TcpListener, TcpStream,
};

const ROUNDS: usize = 10_000;

static SITES: [Site; 1] = [Site {
    file: file!(),
    line: 1,
    column: 1,
    text: "pt_await!(cx.rx_read(self.stream, 1))",
}];

/// Reads from its stream into the stream's receive buffer until it has as many bytes as it
/// expects, checks they are exactly those, and ends.
#[derive(Default)]
struct Reader {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    expect: &'static [u8],
    resumes: u32,
}

impl Reader {
    fn new(stream: Handle<TcpStream>, expect: &'static [u8]) -> Reader {
        Reader {
            pt: Pt::new(),
            stream: Some(stream),
            expect,
            resumes: 0,
        }
    }
}

impl Protothread for Reader {
    type Output = ();
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<()> {
        self.resumes += 1;
        let Some(stream) = self.stream else {
            self.pt.finish(Status::Done);
            return Step::Done(());
        };
        loop {
            match cx.rx_read(stream, self.expect.len()) {
                Poll::Pending => {
                    self.pt.suspend_at(1);
                    return Step::Pending;
                }
                Poll::Ready(Ok(n)) if n > 0 => {
                    let rx = cx.rx(stream).unwrap();
                    assert_eq!(rx, &self.expect[..rx.len()], "bytes not sent to this owner");
                    if rx.len() == self.expect.len() {
                        cx.rx_consume(stream, rx.len()).unwrap();
                        self.pt.finish(Status::Done);
                        return Step::Done(());
                    }
                }
                Poll::Ready(r) => panic!("the reader's stream ended: {r:?}"),
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

/// Accepts on `l` (the peer has connected, so the connection is in the backlog).
fn accept(ev: &mut EventLoop<'_, ()>, l: Handle<TcpListener>) -> Handle<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Poll::Ready(r) = ev.accept(l) {
            return r.unwrap().0;
        }
        assert!(Instant::now() < deadline, "no connection to accept in 5 s");
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
    }
}

fn kill_with_a_receive_pending_and_reuse_the_slot(config: Config) {
    let caps = Capacities {
        tcp_streams: 1,
        buffers: 4,
        large_buffers: 0,
        ..Capacities::default()
    };
    let mut memory = OwnedStorage::new(caps);
    let mut readers: Vec<Reader> = (0..2).map(|_| Reader::default()).collect();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    if config.backend_strict {
        assert_eq!(ev.backend().running, config.backend);
    }
    let pool = ev.add_protothreads(&mut readers).unwrap();
    let l = ev
        .tcp_listen(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            &ListenOptions::default(),
        )
        .unwrap();
    let addr = ev.local_addr(l).unwrap();
    // On io_uring with multishot receives the victim's receive is armed in the kernel and
    // its chunks come from those lent to the kernel; else a single receive per read.
    let multi = ev.multishot_receive();
    let ring = ev.backend().running == BackendKind::IoUring && !multi;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut old_peer = std::net::TcpStream::connect(addr).unwrap();
    let mut old = accept(&mut ev, l);
    for round in 0..ROUNDS {
        assert!(Instant::now() < deadline, "round {round}: over 120 s");
        // The old owner waits for 4 bytes; 1 arrives first, so its receive is pending with
        // data on its way, then 3 more that nobody reads.
        let victim = ev.spawn(pool, Reader::new(old, b"old!")).unwrap();
        if multi {
            // The victim arms its multishot receive and reads the first byte it brings;
            // then it waits in the kernel for the rest.
            old_peer.write_all(b"o").unwrap();
            common::run_until(
                &mut ev,
                "the victim's first byte",
                Duration::from_secs(5),
                1000,
                |ev| ev.rx(old) == Ok(&b"o"[..]),
            );
        } else if ring {
            // The first byte comes first: the victim queues a receive for it (into a pool
            // chunk; the stream's receive buffer is still empty), which the loop has not
            // submitted yet when the rest comes and the victim is killed.
            old_peer.write_all(b"o").unwrap();
            common::run_until(
                &mut ev,
                "the victim's receive",
                Duration::from_secs(5),
                1000,
                |ev| ev.buffer_stats().small_in_use == 1 && ev.rx(old) == Ok(&b""[..]),
            );
        } else {
            ev.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(
            matches!(ev.pt_status(victim), Ok(PtStatus::Waiting { .. })),
            "round {round}: {:?}",
            ev.pt_status(victim)
        );
        if !ring && !multi {
            old_peer.write_all(b"o").unwrap();
        }
        old_peer.write_all(b"ld!").unwrap();
        // Killed and closed before the loop polls: the report (or completion) for the old
        // stream is still queued.
        ev.kill(victim).unwrap();
        ev.close(old).unwrap();
        if ring {
            // The chunk the kernel may still write is nobody's and not free: of the pool's
            // four chunks, exactly three can be taken now.
            assert_eq!(ev.buffer_stats().small_in_use, 1, "round {round}");
            let taken: Vec<_> = (0..3).map(|_| ev.buf_alloc(1).unwrap()).collect();
            assert_eq!(
                ev.buf_alloc(1),
                Err(Error::OutOfResources(Capacity::Buffers)),
                "round {round}: the kernel's chunk was free for reuse"
            );
            for b in taken {
                ev.buf_release(b).unwrap();
            }
        } else if multi {
            // Its receive buffer is freed at once; the chunk the kernel may fill with "ld!"
            // is one lent to it (counted free), which the stale completion gives back.
            assert_eq!(ev.buffer_stats().small_in_use, 0, "round {round}");
            assert!(ev.buffers_lent() <= 2, "round {round}");
        } else {
            assert_eq!(
                ev.buffer_stats().small_in_use,
                0,
                "round {round}: a buffer leaked"
            );
        }
        // The next connection takes the slot at once (the pool has one), and very likely the
        // descriptor too (the lowest free one).
        let mut new_peer = std::net::TcpStream::connect(addr).unwrap();
        let new = accept(&mut ev, l);
        assert_eq!(new.raw().slot(), old.raw().slot());
        assert_ne!(new, old);
        let heir = ev.spawn(pool, Reader::new(new, b"new!")).unwrap();
        // Nothing reaches the heir until its own peer writes: the old stream's pending data
        // and reports are not its.
        for _ in 0..2 {
            ev.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(
            matches!(ev.pt_status(heir), Ok(PtStatus::Waiting { .. })),
            "round {round}: the new owner was given something: {:?}",
            ev.pt_status(heir)
        );
        assert_eq!(ev.in_use().tcp_streams, 1);
        if ring {
            // The old receive's completion gave the orphaned chunk back, and the heir's
            // first receive found nothing: no buffer is in use while it waits.
            common::run_until(
                &mut ev,
                "the old receive's completion",
                Duration::from_secs(5),
                1000,
                |ev| ev.buffer_stats().small_in_use == 0,
            );
            assert!(matches!(ev.pt_status(heir), Ok(PtStatus::Waiting { .. })));
        }
        new_peer.write_all(b"new!").unwrap();
        common::run_until(
            &mut ev,
            "the heir's bytes",
            Duration::from_secs(5),
            1000,
            |ev| {
                !matches!(
                    ev.pt_status(heir),
                    Ok(PtStatus::Waiting { .. } | PtStatus::Runnable)
                )
            },
        );
        // It read exactly "new!" (it checks) and ended; the killed one never ran again.
        assert_eq!(ev.pt_status(heir), Ok(PtStatus::Ended(Outcome::Finished)));
        assert!(!matches!(
            ev.pt_status(victim),
            Ok(PtStatus::Waiting { .. } | PtStatus::Runnable)
        ));
        old_peer = new_peer;
        old = new;
    }
    ev.close(old).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    drop(ev);
    // The last round's victim was resumed once (to wait) and never after its kill.
    let victims = readers.iter().filter(|r| r.expect == b"old!").count();
    assert!(victims <= 1);
    // (With multishot receives the first byte may come before its first resume, or wake
    // it once more.)
    for r in readers.iter().filter(|r| r.expect == b"old!") {
        if multi {
            assert!((1..=2).contains(&r.resumes), "{}", r.resumes);
        } else {
            assert_eq!(r.resumes, 1);
        }
    }
}

#[test]
fn a_killed_receive_never_reaches_the_slot_s_next_owner() {
    kill_with_a_receive_pending_and_reuse_the_slot(Config::default());
}

#[test]
fn the_same_on_io_uring() {
    if !BackendKind::IoUring.compiled_in() {
        return;
    }
    kill_with_a_receive_pending_and_reuse_the_slot(Config {
        backend: BackendKind::IoUring,
        backend_strict: true,
        ..Config::default()
    });
}
