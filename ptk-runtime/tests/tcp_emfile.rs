//! Accept when the process is out of file descriptors (`EMFILE`). Its own test binary: it
//! lowers `RLIMIT_NOFILE` for the whole process, which would break tests running beside it.

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::net::{client, echo_round_trip, on_accept, Net};
use common::run_until;
use ptk_runtime::{
    Capacities, Capacity, Config, Error, EventLoop, ListenOptions, OwnedStorage, Trigger,
};

const WAIT: Duration = Duration::from_secs(5);

fn nofile() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we pass.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    r
}

fn set_nofile(r: &libc::rlimit) {
    // SAFETY: setrlimit reads one rlimit from the struct we pass.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, r) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// Restores the descriptor limit however the test ends.
struct Restore(libc::rlimit);

impl Drop for Restore {
    fn drop(&mut self) {
        set_nofile(&self.0);
    }
}

#[test]
fn accept_without_free_descriptors_is_out_of_resources_and_the_loop_keeps_serving() {
    // The limit is lowered before the listener exists: on io_uring its multishot accept
    // obeys the limit in force when it was armed (the kernel reads it then), as a process
    // that runs out of descriptors at its limit sees it.
    let saved = nofile();
    let _restore = Restore(saved);
    let low = libc::rlimit {
        rlim_cur: 256.min(saved.rlim_cur),
        rlim_max: saved.rlim_max,
    };
    set_nofile(&low);
    let mut memory = OwnedStorage::new(Capacities::default());
    let net = Net {
        echo: true,
        ..Net::default()
    };
    let mut ev = EventLoop::new(memory.storage(), Config::default(), net).unwrap();
    let l = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    let local: SocketAddr = ev.local_addr(l.raw()).unwrap();
    let mut served = client(local);
    run_until(&mut ev, "the first accept", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == 1
    });
    assert_eq!(echo_round_trip(&mut ev, &mut served, b"before"), b"before");

    // The socket of the client to be refused exists before the descriptors run out; only its
    // connect happens after, and connecting needs no new descriptor.
    let refused = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();

    let mut hogs = Vec::new();
    for _ in 0..low.rlim_cur {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hogs.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                break;
            }
        }
    }
    assert!(
        std::fs::File::open("/dev/null").is_err(),
        "every descriptor is in use"
    );

    refused.connect(&local.into()).unwrap();
    run_until(&mut ev, "the failed accept", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == 2
    });
    assert_eq!(
        ev.app().accept_errors(),
        [Error::OutOfResources(Capacity::FileDescriptors)]
    );
    // The runtime's spare descriptor let it take the connection off the queue and close it:
    // the refused client reads end-of-stream, and the listener is not stuck readable.
    let mut refused: std::net::TcpStream = refused.into();
    refused.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(refused.read(&mut buf).unwrap(), 0);
    let calls = ev.run_once(Some(Duration::from_millis(50))).unwrap();
    assert_eq!(
        calls, 0,
        "no handler runs for a listener with nothing to accept"
    );
    // The existing connection is still served while descriptors are exhausted.
    assert_eq!(echo_round_trip(&mut ev, &mut served, b"during"), b"during");

    drop(hogs);
    drop(_restore);
    let mut late = client(local);
    run_until(&mut ev, "an accept after recovery", WAIT, 10_000, |ev| {
        ev.app().accepts.len() == 3
    });
    assert_eq!(echo_round_trip(&mut ev, &mut late, b"after"), b"after");
}
