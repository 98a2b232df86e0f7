//! The runtime's handlers: what a worker does with a readiness event of one of its
//! objects' sockets or timers, and with a raise of its command queue.

use std::net::SocketAddr;
use std::task::Poll;

use ptk_runtime::{Cx, Event as RtEvent, Handle, TcpListener, TcpStream, Trigger, UdpSocket};

use super::{Emit, Worker};
use crate::error::Error;
use crate::event::EventKind;
use crate::shared::Command;
use crate::sock::{SockOpt, SockType};

pub(super) fn on_commands(w: &mut Worker, cx: &mut Cx<'_>, _ev: RtEvent) {
    w.drain(cx);
}

pub(super) fn on_accept(w: &mut Worker, cx: &mut Cx<'_>, ev: RtEvent) {
    let Some(server) = w.slot_of(ev.handle) else {
        return;
    };
    let Ok(l) = ev.handle.typed::<TcpListener>() else {
        return;
    };
    if w.hand_off {
        hand_off(w, cx, server, l);
        return;
    }
    // Bounded: the listener stays ready and is dispatched again.
    for _ in 0..64 {
        let (stream, peer) = match cx.accept(l) {
            Poll::Pending => break,
            Poll::Ready(Ok(pair)) => pair,
            Poll::Ready(Err(e)) => {
                w.emit(server, EventKind::Error, Emit::error(e.into()));
                break;
            }
        };
        let group = w.handle.shared.id;
        let sock = match w.ws().alloc(group, SockType::TcpClient) {
            Ok(s) => s,
            Err(e) => {
                let _ = cx.close(stream);
                w.emit(server, EventKind::Error, Emit::error(e));
                continue;
            }
        };
        let config = w.objects[server].config;
        let slot = w.open(sock, SockType::TcpClient, config);
        if cx
            .set_handler(stream, Trigger::Readable, on_readable)
            .is_err()
        {
            let _ = cx.close(stream);
            w.ws().free(sock);
            w.objects[slot].sock = None;
            continue;
        }
        w.bind_rt(slot, stream.raw());
        connected(w, cx, slot, stream, Some(peer));
        w.emit(
            server,
            EventKind::Accept,
            Emit {
                sock: Some(sock),
                remote: Some(peer),
                ..Emit::default()
            },
        );
        w.drain(cx);
    }
}

/// Accepts for every worker in turn: a connection for another worker is taken off the
/// listener without registering it here and handed over in a command.
fn hand_off(w: &mut Worker, cx: &mut Cx<'_>, server: usize, l: Handle<TcpListener>) {
    let group = w.handle.shared.id;
    let workers = w.handle.shared.workers.len();
    for _ in 0..64 {
        let (stream, peer) = match cx.accept_std(l) {
            Poll::Pending => break,
            Poll::Ready(Ok(pair)) => pair,
            Poll::Ready(Err(e)) => {
                w.emit(server, EventKind::Error, Emit::error(e.into()));
                break;
            }
        };
        let target = w.next_target % workers;
        w.next_target = w.next_target.wrapping_add(1);
        let ws = &w.handle.shared.workers[target];
        let sock = match ws.alloc(group, SockType::TcpClient) {
            Ok(s) => s,
            Err(e) => {
                drop(stream);
                w.emit(server, EventKind::Error, Emit::error(e));
                continue;
            }
        };
        let config = w.objects[server].config;
        let adopt = Command::Adopt {
            sock,
            stream,
            peer,
            config,
        };
        if target == w.index {
            w.execute(cx, adopt);
        } else if let Err(e) = ws.push(adopt) {
            ws.free(sock);
            w.emit(server, EventKind::Error, Emit::error(e));
        }
        w.drain(cx);
    }
}

/// Records a new connection's options and addresses.
pub(super) fn connected(
    w: &mut Worker,
    cx: &mut Cx<'_>,
    slot: usize,
    s: Handle<TcpStream>,
    peer: Option<SocketAddr>,
) {
    let _ = cx.set_nodelay(s, true);
    let keep_alive = w.objects[slot].config.keep_alive;
    if keep_alive {
        let _ = cx.set_keepalive(s, Some(60));
    }
    let so = &w.ws().objects[slot];
    so.set_option(SockOpt::NoDelay, 1);
    so.set_option(SockOpt::KeepAlive, usize::from(keep_alive));
    if let Ok(v) = cx.recv_buffer_size(s) {
        so.set_option(SockOpt::RecvBuffer, v);
    }
    if let Ok(v) = cx.send_buffer_size(s) {
        so.set_option(SockOpt::SendBuffer, v);
    }
    so.set_addrs(cx.local_addr(s).ok(), peer.or_else(|| cx.peer_addr(s).ok()));
}

pub(super) fn on_readable(w: &mut Worker, cx: &mut Cx<'_>, ev: RtEvent) {
    let Some(slot) = w.slot_of(ev.handle) else {
        return;
    };
    let Ok(s) = ev.handle.typed::<TcpStream>() else {
        return;
    };
    // No free buffer: the socket stays ready and is dispatched again next iteration.
    let Ok(mut buf) = w.handle.shared.pool.alloc() else {
        return;
    };
    let size = w.objects[slot].config.read_size.min(buf.capacity());
    match cx.read(s, &mut buf.spare_mut()[..size]) {
        Poll::Pending => {}
        Poll::Ready(Ok(0)) => {
            drop(buf);
            w.finish(cx, slot, None, false);
        }
        Poll::Ready(Ok(n)) => {
            let _ = buf.set_len(n);
            let ownership = w.objects[slot].config.ownership;
            w.emit(slot, EventKind::Read, Emit::buf(buf, ownership, None));
        }
        Poll::Ready(Err(e)) => {
            drop(buf);
            w.finish(cx, slot, Some(e.into()), false);
        }
    }
    w.drain(cx);
}

pub(super) fn on_writable(w: &mut Worker, cx: &mut Cx<'_>, ev: RtEvent) {
    let Some(slot) = w.slot_of(ev.handle) else {
        return;
    };
    if w.objects[slot].connecting {
        let Ok(s) = ev.handle.typed::<TcpStream>() else {
            return;
        };
        match cx.connected(s) {
            Poll::Pending => return,
            Poll::Ready(Err(e)) => {
                w.finish(cx, slot, Some(e.into()), false);
                w.drain(cx);
                return;
            }
            Poll::Ready(Ok(())) => {
                w.objects[slot].connecting = false;
                if cx.set_handler(s, Trigger::Readable, on_readable).is_err() {
                    w.finish(cx, slot, Some(Error::OutOfMemory), false);
                    return;
                }
                connected(w, cx, slot, s, None);
                let remote = w.ws().objects[slot]
                    .addrs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .1;
                w.emit(
                    slot,
                    EventKind::Connect,
                    Emit {
                        remote,
                        ..Emit::default()
                    },
                );
            }
        }
    }
    if w.objects[slot].sock.is_some() {
        w.flush(cx, slot);
    }
    w.drain(cx);
}

pub(super) fn on_udp(w: &mut Worker, cx: &mut Cx<'_>, ev: RtEvent) {
    let Some(slot) = w.slot_of(ev.handle) else {
        return;
    };
    let Ok(u) = ev.handle.typed::<UdpSocket>() else {
        return;
    };
    let Ok(mut buf) = w.handle.shared.pool.alloc() else {
        return;
    };
    let size = w.objects[slot].config.read_size.min(buf.capacity());
    match cx.recv_from(u, &mut buf.spare_mut()[..size]) {
        Poll::Pending => {}
        Poll::Ready(Ok((n, from))) => {
            let _ = buf.set_len(n);
            let ownership = w.objects[slot].config.ownership;
            w.emit(
                slot,
                EventKind::UdpRead,
                Emit::buf(buf, ownership, Some(from)),
            );
        }
        Poll::Ready(Err(e)) => {
            drop(buf);
            w.emit(slot, EventKind::Error, Emit::error(e.into()));
        }
    }
    w.drain(cx);
}

pub(super) fn on_tick(w: &mut Worker, cx: &mut Cx<'_>, ev: RtEvent) {
    let Some(slot) = w.slot_of(ev.handle) else {
        return;
    };
    w.emit(slot, EventKind::Tick, Emit::default());
    if !w.objects[slot].repeat && w.objects[slot].sock.is_some() {
        w.finish(cx, slot, None, false);
    }
    w.drain(cx);
}
