//! Handles stay stale across loops: a handle kept from a dropped loop never names a resource
//! of a later loop, not even one that got the same loop id (ids are 8 bits and reused).
//!
//! One test in this binary, so no other test holds loop ids while it runs: after 256 loops
//! every id has been used and the later loops reuse them.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};

use ptk_runtime::{
    kind, Buffer, Capacities, Config, Cx, Defer, Error, EventLoop, FileOp, Handle, ListenOptions,
    OwnedStorage, Periodic, Protothread, Pt, RawHandle, Semaphore, Site, Step, TcpListener, Timer,
    UdpSocket, UserEvents,
};

/// More loops than there are ids.
const LOOPS: usize = 320;

/// A protothread that never finishes (nothing wakes it), so its handle stays live.
#[derive(Default)]
struct Idle {
    pt: Pt,
}

impl Protothread for Idle {
    type Output = ();
    fn resume(&mut self, _cx: &mut Cx<'_>) -> Step<()> {
        Step::Pending
    }
    fn pt(&self) -> &Pt {
        &self.pt
    }
    fn pt_mut(&mut self) -> &mut Pt {
        &mut self.pt
    }
    fn sites(&self) -> &'static [Site] {
        &[]
    }
}

/// The handles one loop handed out, of every kind with a pool of its own.
struct Kept {
    round: usize,
    loop_id: u8,
    timer: Handle<Timer>,
    listener: Handle<TcpListener>,
    udp: Handle<UdpSocket>,
    events: Handle<UserEvents>,
    sem: Handle<Semaphore>,
    buf: Handle<Buffer>,
    pt: Handle<kind::Protothread>,
    defer: Handle<Defer>,
    idle: Handle<kind::Idle>,
    periodic: Handle<Periodic>,
    file: Handle<FileOp>,
    loop_handle: RawHandle,
}

/// A path no file operation finds.
const MISSING: &str = "/nonexistent-ptk-dir/file";

fn lo() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

fn capacities() -> Capacities {
    Capacities {
        timers: 4,
        tcp_listeners: 2,
        tcp_streams: 2,
        udp_sockets: 2,
        user_event_sources: 2,
        semaphores: 2,
        signals: 0,
        defers: 2,
        idles: 2,
        periodics: 2,
        file_ops: 1,
        file_op_size: 16,
        buffers: 4,
        buffer_size: 64,
        large_buffers: 0,
        large_buffer_size: 0,
    }
}

/// Makes one resource of each kind in `ev`, after `churn` create-and-close rounds of each, so
/// that loops move their generations by different amounts.
fn fill(
    ev: &mut EventLoop<'_>,
    round: usize,
    churn: usize,
    pts: ptk_runtime::PtPool<Idle>,
) -> Kept {
    for _ in 0..churn {
        let t = ev.timer_create().unwrap();
        ev.close(t).unwrap();
        let s = ev.sem_create(0).unwrap();
        ev.close(s).unwrap();
        let b = ev.buf_alloc(8).unwrap();
        ev.buf_release(b).unwrap();
        let p = ev.spawn(pts, Idle::default()).unwrap();
        ev.kill(p).unwrap();
        let d = ev.defer_create().unwrap();
        ev.close(d).unwrap();
        let i = ev.idle_create().unwrap();
        ev.close(i).unwrap();
        let p = ev.periodic_create().unwrap();
        ev.close(p).unwrap();
    }
    Kept {
        round,
        loop_id: ev.id(),
        timer: ev.timer_create().unwrap(),
        listener: ev.tcp_listen(lo(), &ListenOptions::default()).unwrap(),
        udp: ev.udp_bind(lo()).unwrap(),
        events: ev.user_events_create().unwrap(),
        sem: ev.sem_create(1).unwrap(),
        buf: ev.buf_alloc(8).unwrap(),
        pt: ev.spawn(pts, Idle::default()).unwrap(),
        defer: ev.defer_create().unwrap(),
        idle: ev.idle_create().unwrap(),
        periodic: ev.periodic_create().unwrap(),
        file: ev.file_read(MISSING, 0, 1).unwrap(),
        loop_handle: ev.handle().raw(),
    }
}

/// Every handle of `k` (made by an earlier loop) is stale in `ev`: each operation that takes
/// it answers `InvalidHandle`.
fn assert_stale(ev: &mut EventLoop<'_>, k: &Kept, now: usize) {
    let ctx = |what: &str| {
        format!(
            "{what} of loop {} (id {}) in loop {now}",
            k.round, k.loop_id
        )
    };
    assert_eq!(
        ev.timer_deadline(k.timer),
        Err(Error::InvalidHandle),
        "{}",
        ctx("timer")
    );
    assert_eq!(
        ev.local_addr(k.listener),
        Err(Error::InvalidHandle),
        "{}",
        ctx("listener")
    );
    assert_eq!(
        ev.local_addr(k.udp),
        Err(Error::InvalidHandle),
        "{}",
        ctx("udp socket")
    );
    assert_eq!(
        ev.sem_count(k.sem),
        Err(Error::InvalidHandle),
        "{}",
        ctx("semaphore")
    );
    assert_eq!(
        ev.buf(k.buf).map(<[u8]>::len),
        Err(Error::InvalidHandle),
        "{}",
        ctx("buffer")
    );
    assert_eq!(
        ev.pt_status(k.pt).map(|_| ()),
        Err(Error::InvalidHandle),
        "{}",
        ctx("protothread")
    );
    assert_eq!(
        ev.raise(k.events, 1),
        Err(Error::InvalidHandle),
        "{}",
        ctx("user events")
    );
    assert_eq!(
        ev.defer_is_active(k.defer),
        Err(Error::InvalidHandle),
        "{}",
        ctx("defer watcher")
    );
    assert_eq!(
        ev.idle_is_active(k.idle),
        Err(Error::InvalidHandle),
        "{}",
        ctx("idle watcher")
    );
    assert_eq!(
        ev.periodic_is_active(k.periodic),
        Err(Error::InvalidHandle),
        "{}",
        ctx("periodic watcher")
    );
    assert_eq!(
        ev.file_is_active(k.file),
        Err(Error::InvalidHandle),
        "{}",
        ctx("file operation")
    );
    assert_ne!(ev.handle().raw(), k.loop_handle, "{}", ctx("loop handle"));
}

#[test]
fn handles_of_dropped_loops_stay_stale_in_later_loops_with_the_same_id() {
    let mut kept: Vec<Kept> = Vec::with_capacity(LOOPS);
    let mut ids = HashSet::new();
    let mut reused = 0;
    // Half the loops run over memory of their own, half over one reused block (whose slots
    // keep the generations the previous loop left in them).
    let mut shared = OwnedStorage::new(capacities());
    for round in 0..LOOPS {
        let mut own;
        let memory = if round % 2 == 0 {
            own = OwnedStorage::new(capacities());
            own.storage()
        } else {
            shared.storage()
        };
        let mut contexts = [Idle::default(), Idle::default()];
        let mut ev = EventLoop::new(memory, Config::default(), ()).unwrap();
        let pts = ev.add_protothreads(&mut contexts).unwrap();
        if !ids.insert(ev.id()) {
            reused += 1;
        }
        // The previous loops' handles first, while this loop is still empty, then again once
        // it holds resources in the slots they name.
        for k in &kept {
            assert_stale(&mut ev, k, round);
        }
        let mine = fill(&mut ev, round, round % 5, pts);
        for k in &kept {
            assert_stale(&mut ev, k, round);
        }
        // This loop's own handles resolve.
        assert_eq!(ev.timer_deadline(mine.timer), Ok(None));
        assert!(ev.local_addr(mine.listener).is_ok());
        assert!(ev.local_addr(mine.udp).is_ok());
        assert_eq!(ev.sem_count(mine.sem), Ok(1));
        assert_eq!(ev.buf(mine.buf), Ok(&[][..]));
        assert!(ev.pt_status(mine.pt).is_ok());
        assert_eq!(ev.raise(mine.events, 1), Ok(()));
        assert_eq!(ev.defer_is_active(mine.defer), Ok(false));
        assert_eq!(ev.idle_is_active(mine.idle), Ok(false));
        assert_eq!(ev.periodic_is_active(mine.periodic), Ok(false));
        assert!(ev.file_is_active(mine.file).is_ok());
        kept.push(mine);
    }
    assert_eq!(
        reused,
        LOOPS - 256,
        "every id is taken once before any is reused"
    );
}
