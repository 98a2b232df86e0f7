//! A context with no loop behind it (`Cx::detached`, `Cx::from_waker`): every loop operation
//! answers `Error::NotSupported`; the clock reads 0, there is no last error until an operation
//! fails, no current protothread, and `stop` does nothing.
//!
//! The operations, by the file that defines them (every `pub fn` of `impl Cx`, as of this
//! test; a new one belongs in `every_loop_operation_answers_not_supported` below):
//!
//! * `cx.rs`: `detached`, `from_waker`, `task_context`, `is_detached`, `current`.
//! * `event_loop/ops/mod.rs`: `now_ms`, `after_ms`, `stop`, `last_error`, `close`,
//!   `set_handler`, `remove_handler`.
//! * `event_loop/ops/tcp.rs`: `tcp_listen`, `accept`, `tcp_connect`, `connected`, `read`,
//!   `write`, `write_all`.
//! * `event_loop/ops/socket_options.rs`: `shutdown`, `set_nodelay`, `nodelay`, `keepalive`,
//!   `set_keepalive`, `set_recv_buffer_size`, `set_send_buffer_size`, `recv_buffer_size`,
//!   `send_buffer_size`, `local_addr`, `peer_addr`.
//! * `event_loop/ops/udp.rs`: `udp_bind`, `send_to`, `recv_from`, `set_broadcast`,
//!   `join_multicast`, `leave_multicast`, `set_multicast_ttl`, `set_multicast_loop`.
//! * `event_loop/ops/timers.rs`: `timer_create`, `timer_start`, `timer_stop`,
//!   `timer_is_armed`, `timer_deadline`.
//! * `event_loop/ops/user_events.rs`: `user_events_create`, `raise`, `take_event`.
//! * `event_loop/ops/semaphores.rs`: `sem_create`, `sem_signal`, `sem_wait`, `sem_count`.
//! * `event_loop/ops/signals.rs`: `signal_watch`, `signal_stop`, `signal_start`,
//!   `signal_is_active`, `signal_wait`.
//! * `event_loop/ops/protothreads.rs`: `spawn`, `spawn_with`, `kill`, `restart`, `pt_status`,
//!   `join`, `sleep_until`, `set_deadline`.
//! * `event_loop/ops/buffers.rs`: `buf_alloc`, `buf_release`, `buf`, `buf_mut`,
//!   `buf_detach`, `buf_split_off`, `buf_clone`, `buffer_stats` (all zeros), `read_buf`,
//!   `read_buf_with`, `read_more`, `send_buf`, `poll_sent`, `buf_alloc_for`,
//!   `poll_buf_alloc`, `rx_read`, `rx_read_with`, `rx`, `rx_consume`, `rx_send`, `rx_take`.

use std::fmt::Debug;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use ptk_runtime::{
    Capacities, Config, Cx, Error, Event, EventLoop, ListenOptions, MulticastInterface,
    OwnedStorage, Protothread, Pt, PtPool, RawHandle, ResourceType, Shutdown, Site, Status, Step,
    Trigger,
};

/// A protothread that finishes at once: only its pool token is needed here.
#[derive(Default)]
struct Nothing {
    pt: Pt,
}

impl Protothread for Nothing {
    type Output = ();
    fn resume(&mut self, _cx: &mut Cx<'_>) -> Step<()> {
        self.pt.finish(Status::Done);
        Step::Done(())
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

fn ignore(_: &mut (), _: &mut Cx<'_>, _: Event) {}

/// A handle of type `ty` with the fields a first resource of loop 0 would have.
fn raw(ty: ResourceType) -> RawHandle {
    RawHandle::new(ty, 0, 1, 0)
}

/// The operations whose answer was not `NotSupported`, with what they answered.
#[derive(Default)]
struct Wrong(Vec<String>);

impl Wrong {
    fn result<T: Debug>(&mut self, what: &str, r: Result<T, Error>) {
        if r.as_ref().err() != Some(&Error::NotSupported) {
            self.0.push(format!("{what} answered {r:?}"));
        }
    }

    fn poll<T: Debug>(&mut self, what: &str, p: Poll<Result<T, Error>>) {
        if !matches!(p, Poll::Ready(Err(Error::NotSupported))) {
            self.0.push(format!("{what} answered {p:?}"));
        }
    }

    /// After an operation: the only error a detached context may record is `NotSupported`.
    fn last_error(&mut self, what: &str, cx: &Cx<'_>) {
        let e = cx.last_error();
        if !matches!(e, None | Some(Error::NotSupported)) {
            self.0.push(format!("after {what} the last error is {e:?}"));
        }
    }
}

/// Calls every loop operation of `cx` (a detached one) with handles of the right type, and
/// `pool`, a pool token of a real loop; returns the operations that did not answer
/// `NotSupported`.
fn sweep(cx: &mut Cx<'_>, pool: PtPool<Nothing>) -> Vec<String> {
    let mut w = Wrong::default();
    let stream = raw(ResourceType::TcpStream).typed().unwrap();
    let listener = raw(ResourceType::TcpListener).typed().unwrap();
    let udp = raw(ResourceType::UdpSocket).typed().unwrap();
    let timer = raw(ResourceType::Timer).typed().unwrap();
    let source = raw(ResourceType::UserEvents).typed().unwrap();
    let sem = raw(ResourceType::Semaphore).typed().unwrap();
    let watcher = raw(ResourceType::Signal).typed().unwrap();
    let pt = raw(ResourceType::Protothread).typed().unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let group = IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3));
    let mut buf = [0u8; 8];
    let mut written = 0;

    macro_rules! result {
        ($what:literal, $e:expr) => {{
            let r = $e;
            w.result($what, r);
            w.last_error($what, cx);
        }};
    }
    macro_rules! poll {
        ($what:literal, $e:expr) => {{
            let p = $e;
            w.poll($what, p);
            w.last_error($what, cx);
        }};
    }

    // ops/mod.rs
    result!("close", cx.close(stream));
    result!(
        "set_handler",
        cx.set_handler(stream, Trigger::Readable, ignore)
    );
    // ops/tcp.rs
    result!("tcp_listen", cx.tcp_listen(addr, &ListenOptions::default()));
    poll!("accept", cx.accept(listener));
    result!("tcp_connect", cx.tcp_connect(addr, None));
    result!(
        "tcp_connect with a timeout",
        cx.tcp_connect(addr, Some(100))
    );
    poll!("connected", cx.connected(stream));
    poll!("read", cx.read(stream, &mut buf));
    poll!("read into an empty buffer", cx.read(stream, &mut []));
    poll!("write", cx.write(stream, b"x"));
    poll!("write_all", cx.write_all(stream, b"x", &mut written));
    // ops/socket_options.rs
    result!("shutdown", cx.shutdown(stream, Shutdown::Both));
    result!("set_nodelay", cx.set_nodelay(stream, true));
    result!("nodelay", cx.nodelay(stream));
    result!("keepalive", cx.keepalive(stream));
    result!("set_keepalive", cx.set_keepalive(stream, Some(30)));
    result!("set_recv_buffer_size", cx.set_recv_buffer_size(udp, 4096));
    result!("set_send_buffer_size", cx.set_send_buffer_size(udp, 4096));
    result!("recv_buffer_size", cx.recv_buffer_size(stream));
    result!("send_buffer_size", cx.send_buffer_size(listener));
    // local_addr: see `local_addr_sweep`.
    result!("peer_addr", cx.peer_addr(stream));
    // ops/udp.rs
    result!("udp_bind", cx.udp_bind(addr));
    poll!("send_to", cx.send_to(udp, b"x", addr));
    poll!("recv_from", cx.recv_from(udp, &mut buf));
    result!("set_broadcast", cx.set_broadcast(udp, true));
    result!(
        "join_multicast",
        cx.join_multicast(udp, group, MulticastInterface::Default)
    );
    result!(
        "leave_multicast",
        cx.leave_multicast(udp, group, MulticastInterface::Default)
    );
    result!("set_multicast_ttl", cx.set_multicast_ttl(udp, 2));
    result!("set_multicast_loop", cx.set_multicast_loop(udp, false));
    // ops/timers.rs
    result!("timer_create", cx.timer_create());
    result!("timer_start", cx.timer_start(timer, 10, true));
    result!(
        "timer_start with interval 0",
        cx.timer_start(timer, 0, false)
    );
    result!("timer_stop", cx.timer_stop(timer));
    result!("timer_is_armed", cx.timer_is_armed(timer));
    result!("timer_deadline", cx.timer_deadline(timer));
    // ops/user_events.rs
    result!("user_events_create", cx.user_events_create());
    result!("raise", cx.raise(source, 1));
    poll!("take_event", cx.take_event(source, 1));
    // ops/semaphores.rs
    result!("sem_create", cx.sem_create(1));
    result!("sem_signal", cx.sem_signal(sem));
    poll!("sem_wait", cx.sem_wait(sem));
    result!("sem_count", cx.sem_count(sem));
    // ops/signals.rs
    result!("signal_watch", cx.signal_watch(libc::SIGUSR2));
    result!("signal_stop", cx.signal_stop(watcher));
    result!("signal_start", cx.signal_start(watcher));
    result!("signal_is_active", cx.signal_is_active(watcher));
    poll!("signal_wait", cx.signal_wait(watcher));
    // ops/watchers.rs
    let defer = raw(ResourceType::Defer).typed().unwrap();
    let idle = raw(ResourceType::Idle).typed().unwrap();
    let periodic = raw(ResourceType::Periodic).typed().unwrap();
    result!("defer_create", cx.defer_create());
    result!("defer_start", cx.defer_start(defer));
    result!("defer_stop", cx.defer_stop(defer));
    result!("defer_is_active", cx.defer_is_active(defer));
    poll!("defer_wait", cx.defer_wait(defer));
    result!("idle_create", cx.idle_create());
    result!("idle_start", cx.idle_start(idle));
    result!("idle_stop", cx.idle_stop(idle));
    result!("idle_is_active", cx.idle_is_active(idle));
    poll!("idle_wait", cx.idle_wait(idle));
    result!("periodic_create", cx.periodic_create());
    result!("periodic_start", cx.periodic_start(periodic, 1000, 0));
    result!("periodic_stop", cx.periodic_stop(periodic));
    result!("periodic_is_active", cx.periodic_is_active(periodic));
    poll!("periodic_wait", cx.periodic_wait(periodic));
    // ops/files.rs
    let file = raw(ResourceType::FileOp).typed().unwrap();
    result!("file_read", cx.file_read("/dev/null", 0, 1));
    result!(
        "file_write",
        cx.file_write("/dev/null", b"x", ptk_runtime::FileWrite::Append)
    );
    poll!("file_wait", cx.file_wait(file));
    result!("file_is_active", cx.file_is_active(file));
    result!("file_data", cx.file_data(file, &mut buf));
    // ops/protothreads.rs
    result!("spawn", cx.spawn(pool, Nothing::default()));
    result!("spawn_with", cx.spawn_with(pool, |_: &mut Nothing| {}));
    result!("kill", cx.kill(pt));
    result!("restart", cx.restart(pt));
    result!("pt_status", cx.pt_status(pt));
    poll!("join", cx.join(pt));
    poll!("sleep_until", cx.sleep_until(1));
    result!("set_deadline", cx.set_deadline(Some(1)));
    result!("set_deadline(None)", cx.set_deadline(None));
    // ops/buffers.rs
    let buffer = raw(ResourceType::Buffer).typed().unwrap();
    result!("buf_alloc", cx.buf_alloc(16));
    result!("buf_release", cx.buf_release(buffer));
    result!("buf", cx.buf(buffer).map(<[u8]>::len));
    result!("buf_mut", cx.buf_mut(buffer).map(|b| b.len()));
    result!("buf_detach", cx.buf_detach(buffer));
    result!("buf_split_off", cx.buf_split_off(buffer, 0));
    result!("buf_clone", cx.buf_clone(buffer));
    if cx.buffer_stats() != ptk_runtime::BufferStats::default() {
        w.0.push("buffer_stats is not all zeros".into());
    }
    poll!("read_buf", cx.read_buf(stream));
    poll!("read_buf_with", cx.read_buf_with(stream, <[u8]>::len));
    poll!("read_more", cx.read_more(stream, buffer, 8));
    result!("send_buf", cx.send_buf(stream, buffer));
    poll!("poll_sent", cx.poll_sent(stream));
    result!("buf_alloc_for", cx.buf_alloc_for(stream, 8));
    poll!("poll_buf_alloc", cx.poll_buf_alloc(stream, 8));
    poll!("rx_read", cx.rx_read(stream, 4));
    poll!("rx_read_with", cx.rx_read_with(stream, 4, <[u8]>::len));
    result!("rx", cx.rx(stream).map(<[u8]>::len));
    result!("rx_consume", cx.rx_consume(stream, 1));
    result!("rx_send", cx.rx_send(stream, 1));
    result!("rx_take", cx.rx_take(stream, 1));
    w.0
}

/// `local_addr` (ops/socket_options.rs), apart from [`sweep`] while it answers
/// `InvalidHandle` on a detached context.
fn local_addr_sweep(cx: &mut Cx<'_>) -> Vec<String> {
    let mut w = Wrong::default();
    for ty in [
        ResourceType::TcpListener,
        ResourceType::TcpStream,
        ResourceType::UdpSocket,
    ] {
        w.result(&format!("local_addr of a {ty:?}"), cx.local_addr(raw(ty)));
    }
    w.0
}

/// The answers that are not `NotSupported`, on a context that has not been used yet.
fn assert_the_documented_exceptions(cx: &mut Cx<'_>) {
    assert!(cx.is_detached());
    // A loop's clock would read at least 2 by now: 0 is the detached answer, not an early read.
    let made = Instant::now();
    while made.elapsed() < Duration::from_millis(2) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(cx.now_ms(), 0);
    assert_eq!(cx.after_ms(250), 250);
    assert_eq!(cx.after_ms(u64::MAX), u64::MAX, "saturating");
    assert_eq!(cx.last_error(), None);
    assert_eq!(cx.current(), None);
    cx.stop();
    // Removing a handler that is not set is not an error: it answers nothing.
    cx.remove_handler(raw(ResourceType::TcpStream), Trigger::Readable);
    assert_eq!(
        cx.last_error(),
        None,
        "stop and remove_handler record nothing"
    );
    assert_eq!(
        format!("{cx:?}"),
        "Cx { detached: true, current: None }",
        "Debug"
    );
}

/// A pool token of a real loop: `PtPool` has no public constructor, so the only way to hold
/// one is to add a pool to a loop. A detached context must refuse it all the same.
fn with_a_pool(f: impl FnOnce(PtPool<Nothing>)) {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut contexts = [Nothing::default()];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    f(pool);
    assert_eq!(ev.pool_usage(pool), (0, 1), "nothing was spawned into it");
}

#[test]
fn every_loop_operation_of_a_detached_context_answers_not_supported() {
    let mut cx = Cx::detached();
    assert_the_documented_exceptions(&mut cx);
    assert!(cx.task_context().is_none(), "no waker to wake");
    with_a_pool(|pool| {
        assert_eq!(sweep(&mut cx, pool), Vec::<String>::new());
    });
    // What the failed operations recorded: NotSupported, and nothing else.
    assert_eq!(cx.last_error(), Some(Error::NotSupported));
    assert_eq!(cx.now_ms(), 0);
    assert_eq!(cx.current(), None);
}

/// Counts its wakes.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn every_loop_operation_of_a_context_made_from_a_waker_answers_not_supported() {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Cx::from_waker(&waker);
    assert_the_documented_exceptions(&mut cx);
    with_a_pool(|pool| {
        assert_eq!(sweep(&mut cx, pool), Vec::<String>::new());
    });
    assert_eq!(cx.last_error(), Some(Error::NotSupported));
    // Its task context wakes the waker it was made from, and only that.
    assert_eq!(counter.0.load(Ordering::Relaxed), 0, "no operation woke it");
    cx.task_context().unwrap().waker().wake_by_ref();
    assert_eq!(counter.0.load(Ordering::Relaxed), 1);
}

#[test]
fn local_addr_of_a_context_without_a_loop_answers_not_supported() {
    let waker = Waker::noop();
    for mut cx in [Cx::detached(), Cx::from_waker(waker)] {
        assert_eq!(local_addr_sweep(&mut cx), Vec::<String>::new());
    }
}
