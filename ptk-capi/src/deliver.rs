//! The one Rust callback every object of the C API is made with: it turns a
//! [`ptk_loop::Event`] into a `ptk_event` and calls the object's C callback.
#![allow(unsafe_code)] // Calls C function pointers and hands C raw pointers.

use std::ffi::{c_char, c_int, c_void};
use std::io::Write;
use std::net::SocketAddr;
use std::ptr;
use std::sync::Arc;

use ptk_loop::{Event, EventKind, Ownership, Sock};

use crate::buf::{self, View};
use crate::error::{from_loop, PTK_OK};
use crate::event::{ptk_buf_ownership, ptk_event, ptk_sock, KINDS};
use crate::registry::{self, binding_at, Group, Target};

/// The `ptk_sock *` of a `Sock`.
pub fn sock_ptr(sock: Sock) -> *mut ptk_sock {
    sock.to_u64() as usize as *mut ptk_sock
}

/// An address as NUL-terminated text in `out`; its port.
fn host_text(addr: SocketAddr, out: &mut [u8; 64]) -> c_int {
    let mut cursor = &mut out[..63];
    let _ = write!(cursor, "{}", addr.ip());
    let written = 63 - cursor.len();
    out[written] = 0;
    c_int::from(addr.port())
}

/// Finds the C target of an event's object in `group`, binding a new object on its first
/// event (its creating call may not have returned yet) and an accepted connection at ACCEPT.
fn target_of(group: &Group, ev: &Event<'_>) -> Option<Target> {
    if let Some(t) = group.target(ev.sock) {
        return Some(t);
    }
    if ev.kind == EventKind::Wake {
        // Only an object C holds a handle of can be woken, and that one is bound.
        return None;
    }
    // The object's first event: its user data is its own binding or (ACCEPT) its server's.
    // SAFETY: an object's own binding lives until its CLOSE is delivered (this is an earlier
    // event); a server's lives until the server's CLOSE, and ACCEPT comes while it is open.
    let b = unsafe { binding_at(ev.user_data) }?;
    // An accepted connection does not own its server's binding.
    let owned = if ev.kind == EventKind::Accept {
        0
    } else {
        ev.user_data
    };
    group.bind(ev.sock, b.callback, b.user_data, owned);
    group.target(ev.sock)
}

/// The `ptk_loop` callback of every C object.
pub fn deliver(ev: &mut Event<'_>) {
    // The fast path: the worker's group is live and current on this thread already.
    if registry::with_live(ev.sock, |g| deliver_in(g, ev)).is_some() {
        return;
    }
    // The thread's first event of its group: find it (through the object's binding if the
    // creating call has not recorded the group yet), make it current, deliver.
    let group = match registry::by_sock(ev.sock) {
        Some(g) => g,
        None if ev.kind == EventKind::Wake => return,
        None => {
            // SAFETY: as in `target_of`.
            let Some(b) = (unsafe { binding_at(ev.user_data) }) else {
                return;
            };
            registry::learn(&b.group, ev.sock);
            Arc::clone(&b.group)
        }
    };
    registry::set_current_worker(&group, ev.sock);
    deliver_in(&group, ev);
}

/// Delivers `ev` to its object's C callback.
fn deliver_in(group: &Group, ev: &mut Event<'_>) {
    let Some(target) = target_of(group, ev) else {
        return;
    };
    let Some(callback) = target.callback else {
        return;
    };
    let kind = ev.kind;
    let mut event = ptk_event {
        r#type: KINDS_C[kind as usize],
        sock: sock_ptr(ev.sock),
        data: ptr::null_mut(),
        ownership: ptk_buf_ownership::PTK_BUF_BORROWED,
        remote_host: ptr::null(),
        remote_port: 0,
        error: PTK_OK,
        user_data: if kind == EventKind::Wake {
            ev.user_data as *mut c_void
        } else {
            target.user_data
        },
    };
    // The remote address as text, for the events that have one (made only for those).
    let host: [u8; 64];
    if let Some(addr) = ev.remote {
        let mut text = [0u8; 64];
        event.remote_port = host_text(addr, &mut text);
        host = text;
        event.remote_host = host.as_ptr().cast::<c_char>();
    }
    if let Some(e) = ev.error {
        event.error = from_loop(e);
    }
    // A transferred read buffer goes to C; any other buffer is lent as a view.
    let view: View;
    if ev.ownership == Ownership::Transfer {
        if let Some(b) = ev.take_buf() {
            event.data = buf::give(b);
            event.ownership = ptk_buf_ownership::PTK_BUF_TRANSFER;
        }
    } else if let Some(b) = ev.buf() {
        view = View::new(b.as_slice());
        event.data = view.as_raw();
    }
    // SAFETY: `callback` is the C function the object was made with; `event` and what it
    // points at (the host text, the view) live until it returns.
    unsafe { callback(&event) };
    if kind == EventKind::Close {
        group.unbind(ev.sock);
    }
}

/// The C event type of each `EventKind`, by value.
const KINDS_C: [crate::event::ptk_event_type; 10] = {
    use crate::event::ptk_event_type::*;
    let _ = KINDS;
    [
        PTK_EVENT_ACCEPT,
        PTK_EVENT_CONNECT,
        PTK_EVENT_READ,
        PTK_EVENT_WRITE_DONE,
        PTK_EVENT_CLOSE,
        PTK_EVENT_ERROR,
        PTK_EVENT_TICK,
        PTK_EVENT_UDP_READ,
        PTK_EVENT_UDP_WRITE_DONE,
        PTK_EVENT_WAKE,
    ]
};

/// Delivers CLOSE to every object still bound in `group` (after its workers stopped), on
/// this thread, which stands in for the workers meanwhile (so the callbacks can still read
/// their sockets' user data).
pub fn close_all(group: &Arc<Group>) {
    let before = registry::swap_current(Some(Arc::clone(group)));
    group.drain(|sock, target| {
        let Some(callback) = target.callback else {
            return;
        };
        let event = ptk_event {
            r#type: crate::event::ptk_event_type::PTK_EVENT_CLOSE,
            sock: sock_ptr(sock),
            data: ptr::null_mut(),
            ownership: ptk_buf_ownership::PTK_BUF_BORROWED,
            remote_host: ptr::null(),
            remote_port: 0,
            error: PTK_OK,
            user_data: target.user_data,
        };
        // SAFETY: as in `deliver`; no worker runs any more, so no other event of the object
        // is delivered at the same time.
        unsafe { callback(&event) };
    });
    registry::swap_current(before);
}
