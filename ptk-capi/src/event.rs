//! `ptk_event`: what the callback receives, and the names of the event kinds.
#![allow(unsafe_code)] // Exports C symbols (`#[no_mangle]`); no pointer is dereferenced here.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

use ptk_loop::EventKind;

use crate::buf::buf;
use crate::error::ptk_err;
use crate::guard::guard_or;

/// `ptk_event_type`: the kinds of event, with the values of `ptk_loop.h`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum ptk_event_type {
    /// A new client connected (its socket is the event's `sock`).
    PTK_EVENT_ACCEPT,
    /// A client connection was established.
    PTK_EVENT_CONNECT,
    /// Data arrived.
    PTK_EVENT_READ,
    /// A write completed.
    PTK_EVENT_WRITE_DONE,
    /// The socket closed: its last event.
    PTK_EVENT_CLOSE,
    /// An error occurred.
    PTK_EVENT_ERROR,
    /// A timer expired.
    PTK_EVENT_TICK,
    /// A datagram arrived.
    PTK_EVENT_UDP_READ,
    /// A datagram was sent.
    PTK_EVENT_UDP_WRITE_DONE,
    /// `ptk_sock_wake` was called for the socket.
    PTK_EVENT_WAKE,
}

pub use ptk_event_type::*;

/// `ptk_buf_ownership`: whether the callback may keep an event's buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum ptk_buf_ownership {
    /// The library keeps the buffer; it is valid until the callback returns.
    PTK_BUF_BORROWED,
    /// The callback owns the buffer and frees it (or writes it).
    PTK_BUF_TRANSFER,
}

impl ptk_buf_ownership {
    /// The ownership whose value is `raw`, if there is one.
    pub fn from_raw(raw: u32) -> Option<ptk_buf_ownership> {
        match raw {
            0 => Some(ptk_buf_ownership::PTK_BUF_BORROWED),
            1 => Some(ptk_buf_ownership::PTK_BUF_TRANSFER),
            _ => None,
        }
    }
}

/// `ptk_sock` as C sees it: an opaque handle, never dereferenced (see `registry`).
#[allow(non_camel_case_types)]
pub enum ptk_sock {}

/// The value of each kind is the C enum's.
const _: () = assert!(EventKind::Wake as i32 == ptk_event_type::PTK_EVENT_WAKE as i32);

/// `ptk_event`, laid out as in `ptk_loop.h`.
#[repr(C)]
#[derive(Debug)]
pub struct ptk_event {
    /// The kind of event.
    pub r#type: ptk_event_type,
    /// The socket the event is about.
    pub sock: *mut ptk_sock,
    /// The buffer of read and write events, NULL otherwise.
    pub data: *mut buf,
    /// Who owns `data`.
    pub ownership: ptk_buf_ownership,
    /// The remote host of accept, connect and UDP read events (valid during the callback).
    pub remote_host: *const c_char,
    /// The remote port of accept, connect and UDP read events.
    pub remote_port: c_int,
    /// The error of error events.
    pub error: ptk_err,
    /// The socket's user data (WAKE: the pointer given to `ptk_sock_wake`).
    pub user_data: *mut c_void,
}

/// `ptk_callback`.
#[allow(non_camel_case_types)]
pub type ptk_callback = Option<unsafe extern "C" fn(event: *const ptk_event)>;

/// `"PTK_EVENT_" + EventKind::as_str`, NUL-terminated, index = value; made once.
fn names() -> &'static [CString; 10] {
    static TABLE: OnceLock<[CString; 10]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let kind = KINDS[i].as_str();
            CString::new(format!("PTK_EVENT_{kind}")).unwrap_or_default()
        })
    })
}

/// The kinds, index = value.
pub const KINDS: [EventKind; 10] = [
    EventKind::Accept,
    EventKind::Connect,
    EventKind::Read,
    EventKind::WriteDone,
    EventKind::Close,
    EventKind::Error,
    EventKind::Tick,
    EventKind::UdpRead,
    EventKind::UdpWriteDone,
    EventKind::Wake,
];

/// `const char *ptk_event_string(ptk_event_type type)`: the event kind's name, static.
#[no_mangle]
pub extern "C" fn ptk_event_string(kind: c_int) -> *const c_char {
    guard_or(c"PTK_EVENT_UNKNOWN".as_ptr(), || {
        usize::try_from(kind)
            .ok()
            .and_then(|i| names().get(i))
            .map_or(c"PTK_EVENT_UNKNOWN".as_ptr(), |name| name.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_event_kind_is_named_by_its_value() {
        let name = |k: c_int| {
            // SAFETY: ptk_event_string returns a static NUL-terminated string.
            unsafe { CStr::from_ptr(ptk_event_string(k)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(name(PTK_EVENT_ACCEPT as c_int), "PTK_EVENT_ACCEPT");
        assert_eq!(
            name(PTK_EVENT_UDP_WRITE_DONE as c_int),
            "PTK_EVENT_UDP_WRITE_DONE"
        );
        assert_eq!(name(PTK_EVENT_WAKE as c_int), "PTK_EVENT_WAKE");
        assert_eq!(name(10), "PTK_EVENT_UNKNOWN");
        assert_eq!(name(-3), "PTK_EVENT_UNKNOWN");
    }
}
