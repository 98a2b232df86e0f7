//! The fallback from io_uring to mio when the kernel refuses a ring (as Docker's default
//! seccomp policy does): forced with a test hook, so it is covered on any kernel. A file of
//! its own, since the hook is process-wide.

use ptk_runtime::{
    BackendKind, Capacities, Config, Error, EventLoop, FallbackReason, OwnedStorage,
};

#[test]
fn a_refused_ring_falls_back_to_mio_or_fails_when_strict() {
    ptk_runtime::__refuse_io_uring(true);
    let mut memory = OwnedStorage::new(Capacities::default());
    let config = Config {
        backend: BackendKind::IoUring,
        backend_strict: false,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let status = ev.backend();
    assert_eq!(status.requested, BackendKind::IoUring);
    assert_eq!(status.running, BackendKind::Mio);
    let want = if BackendKind::IoUring.compiled_in() {
        FallbackReason::Refused(libc::EPERM)
    } else {
        FallbackReason::NotCompiled
    };
    assert_eq!(status.fallback, Some(want));
    assert!(status
        .fallback
        .unwrap()
        .to_string()
        .contains(if BackendKind::IoUring.compiled_in() {
            "refused"
        } else {
            "io-uring"
        }));
    // The loop that fell back works.
    let t = ev.timer_create().unwrap();
    ev.timer_start(t, 1, false).unwrap();
    ev.run_once(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    drop(ev);

    let strict = Config {
        backend_strict: true,
        ..config
    };
    let mut memory = OwnedStorage::new(Capacities::default());
    match EventLoop::new(memory.storage(), strict, ()) {
        Err(e) => assert_ne!(e, Error::InvalidArgument),
        Ok(_) => panic!("a strict io_uring loop started on mio"),
    }
    ptk_runtime::__refuse_io_uring(false);
    // Without the hook, a strict request runs io_uring where it is compiled in.
    let mut memory = OwnedStorage::new(Capacities::default());
    let r = EventLoop::new(memory.storage(), strict, ());
    if BackendKind::IoUring.compiled_in() {
        assert_eq!(r.unwrap().backend().running, BackendKind::IoUring);
    } else {
        assert!(r.is_err());
    }
}
