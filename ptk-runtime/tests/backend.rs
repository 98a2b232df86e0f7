//! The backend a loop runs on: chosen by `Config::backend` (or `PTK_BACKEND`), reported by
//! `EventLoop::backend`, and the same echo served on every backend compiled in.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk_runtime::{
    BackendKind, Capacities, Config, Cx, Event, EventLoop, Handle, ListenOptions, OwnedStorage,
    TcpListener, TcpStream, Trigger,
};

/// Prints which backend `Config::default()` selects and runs (CI's log shows it), and checks
/// that a strict request is what runs.
#[test]
fn the_default_config_runs_the_backend_the_environment_names() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let config = Config::default();
    let ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let status = ev.backend();
    println!(
        "ptk backend: requested {}, running {}{}",
        status.requested,
        status.running,
        status
            .fallback
            .map(|w| format!(" (fallback: {w})"))
            .unwrap_or_default()
    );
    assert_eq!(status.requested, config.backend);
    if config.backend_strict || config.backend == BackendKind::Mio {
        assert_eq!(status.running, config.backend);
        assert_eq!(status.fallback, None);
    }
    if std::env::var("PTK_BACKEND").is_err() {
        assert_eq!(config.backend, BackendKind::Mio);
    }
}

#[test]
fn backend_names_parse_and_print() {
    for k in [BackendKind::Mio, BackendKind::IoUring] {
        assert_eq!(BackendKind::parse(k.as_str()), Some(k));
        assert_eq!(k.to_string(), k.as_str());
    }
    assert_eq!(BackendKind::parse("io-uring"), Some(BackendKind::IoUring));
    assert_eq!(BackendKind::parse("kqueue2"), None);
    assert!(BackendKind::Mio.compiled_in());
    assert_eq!(
        BackendKind::IoUring.compiled_in(),
        cfg!(all(feature = "io-uring", target_os = "linux"))
    );
}

#[derive(Default)]
struct Echo {
    accepted: usize,
    echoed: usize,
}

fn on_accept(s: &mut Echo, cx: &mut Cx<'_>, ev: Event) {
    let l: Handle<TcpListener> = ev.handle.typed().unwrap();
    while let Poll::Ready(r) = cx.accept(l) {
        let (stream, _) = r.unwrap();
        cx.set_handler(stream, Trigger::Readable, on_read).unwrap();
        s.accepted += 1;
    }
}

fn on_read(s: &mut Echo, cx: &mut Cx<'_>, ev: Event) {
    let stream: Handle<TcpStream> = ev.handle.typed().unwrap();
    let mut buf = [0u8; 256];
    loop {
        match cx.read(stream, &mut buf) {
            Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                cx.close(stream).unwrap();
                return;
            }
            Poll::Ready(Ok(n)) => {
                assert_eq!(cx.write(stream, &buf[..n]), Poll::Ready(Ok(n)));
                s.echoed += n;
            }
            Poll::Pending => return,
        }
    }
}

/// One echo over `backend` (strict: it must run where it is compiled in and allowed).
fn echo_on(backend: BackendKind) {
    let mut memory = OwnedStorage::new(Capacities::default());
    let config = Config {
        backend,
        backend_strict: false,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, Echo::default()).unwrap();
    let status = ev.backend();
    assert_eq!(status.requested, backend);
    if status.running != backend {
        // Only io_uring falls back, and only when it cannot run here: say why.
        assert_eq!(backend, BackendKind::IoUring);
        println!("io_uring not available: {}", status.fallback.unwrap());
        assert!(status.fallback.is_some());
    }
    let l = ev
        .tcp_listen(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            &ListenOptions::default(),
        )
        .unwrap();
    ev.set_handler(l, Trigger::Readable, on_accept).unwrap();
    let addr = ev.local_addr(l).unwrap();
    let mut peers: Vec<std::net::TcpStream> = (0..3)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    run_until(&mut ev, "3 accepts", Duration::from_secs(5), 1000, |ev| {
        ev.app().accepted == 3
    });
    for round in 0..20u8 {
        for p in &mut peers {
            p.write_all(&[round; 100]).unwrap();
        }
        let want = (usize::from(round) + 1) * 300;
        run_until(&mut ev, "the echoes", Duration::from_secs(5), 1000, |ev| {
            ev.app().echoed == want
        });
        for p in &mut peers {
            let mut back = [0u8; 100];
            p.read_exact(&mut back).unwrap();
            assert_eq!(back, [round; 100]);
        }
    }
    // A peer that leaves is seen (its stream closed by the handler), on every backend.
    drop(peers.pop());
    run_until(&mut ev, "the close", Duration::from_secs(5), 1000, |ev| {
        ev.in_use().tcp_streams == 2
    });
}

#[test]
fn echo_on_mio() {
    echo_on(BackendKind::Mio);
}

#[test]
fn echo_on_io_uring_or_its_fallback() {
    echo_on(BackendKind::IoUring);
}

/// Closing a stream closes its socket at once, before the loop polls again: on io_uring a
/// poll in flight holds the file open, so the backend must remove it when the stream is
/// deregistered, not at the next `io_uring_enter`.
fn close_is_seen_by_the_peer_without_another_poll(backend: BackendKind) {
    let mut memory = OwnedStorage::new(Capacities::default());
    let config = Config {
        backend,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, Echo::default()).unwrap();
    let l = ev
        .tcp_listen(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            &ListenOptions::default(),
        )
        .unwrap();
    let addr = ev.local_addr(l).unwrap();
    let mut peer = std::net::TcpStream::connect(addr).unwrap();
    let stream = loop {
        if let Poll::Ready(r) = ev.accept(l) {
            break r.unwrap().0;
        }
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    };
    // Registered with its polls submitted, then closed with no poll in between.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    ev.close(stream).unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the peer saw no FIN");
}

#[test]
fn close_is_immediate_on_mio() {
    close_is_seen_by_the_peer_without_another_poll(BackendKind::Mio);
}

#[test]
fn close_is_immediate_on_io_uring_or_its_fallback() {
    close_is_seen_by_the_peer_without_another_poll(BackendKind::IoUring);
}
