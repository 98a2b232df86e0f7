//! [`Event`]: what a callback receives.

use std::net::SocketAddr;

use crate::buf::Buf;
use crate::error::Error;
use crate::group::LoopHandle;
use crate::sock::Sock;

/// What happened (`ptk_event_type`; the values are the C API's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum EventKind {
    /// A server accepted a connection: [`Event::sock`] is the new connection,
    /// [`Event::remote`] its peer. Delivered to the server's callback, which the connection
    /// keeps.
    Accept = 0,
    /// A connect finished: [`Event::remote`] is the peer.
    Connect = 1,
    /// Data arrived on a connection, in [`Event::buf`].
    Read = 2,
    /// A buffer given to a write was sent in full; [`Event::buf`] lends it.
    WriteDone = 3,
    /// The object is closed: the last event it gets. Its handle is stale from now on.
    Close = 4,
    /// Something failed; [`Event::error`] says what. A [`Close`](EventKind::Close) follows
    /// when the failure ends the object.
    Error = 5,
    /// A timer expired.
    Tick = 6,
    /// A datagram arrived, in [`Event::buf`], from [`Event::remote`].
    UdpRead = 7,
    /// A datagram given to [`LoopHandle::udp_send`] was sent; [`Event::buf`] lends it.
    UdpWriteDone = 8,
    /// [`LoopHandle::sock_wake`] was called: [`Event::user_data`] is the value it was given.
    Wake = 9,
}

impl EventKind {
    /// The name of the C API (`ptk_event_string`): `"ACCEPT"`, `"READ"`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Accept => "ACCEPT",
            EventKind::Connect => "CONNECT",
            EventKind::Read => "READ",
            EventKind::WriteDone => "WRITE_DONE",
            EventKind::Close => "CLOSE",
            EventKind::Error => "ERROR",
            EventKind::Tick => "TICK",
            EventKind::UdpRead => "UDP_READ",
            EventKind::UdpWriteDone => "UDP_WRITE_DONE",
            EventKind::Wake => "WAKE",
        }
    }
}

/// Who owns the buffer of an event (`ptk_buf_ownership`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Ownership {
    /// The loop lends the buffer for the duration of the callback, and frees it afterwards
    /// (`PTK_BUF_BORROWED`).
    #[default]
    Borrowed = 0,
    /// The callback may take the buffer ([`Event::take_buf`]) and then owns it: it frees it
    /// (drops it), on any thread, or hands it to a write (`PTK_BUF_TRANSFER`). A buffer left
    /// in the event is freed after the callback.
    Transfer = 1,
}

/// The one callback type: every event of an object goes to the callback it was made with.
/// It runs on the thread of the worker loop that owns the object, and must not block. A
/// callback that panics stops the group (the panic is caught on the worker, not unwound
/// through the loop).
pub type Callback = fn(&mut Event<'_>);

/// An event, as the callback receives it (`ptk_event`).
#[derive(Debug)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// The object it happened to (for [`EventKind::Accept`], the new connection).
    pub sock: Sock,
    /// Who owns [`buf`](Event::buf): always [`Ownership::Borrowed`] for write completions;
    /// for reads, the mode of the socket (its options' `read_ownership`).
    pub ownership: Ownership,
    /// The peer, for `Accept`, `Connect` and `UdpRead`.
    pub remote: Option<SocketAddr>,
    /// What failed, for `Error`.
    pub error: Option<Error>,
    /// The user data the object was made with; for `Wake`, the value given to
    /// [`LoopHandle::sock_wake`].
    pub user_data: usize,
    /// The `callback_data` the object was made with.
    pub callback_data: usize,
    pub(crate) buf: Option<Buf>,
    pub(crate) owner: &'a LoopHandle,
}

impl<'a> Event<'a> {
    /// The data: what was read (`Read`, `UdpRead`) or what was sent (`WriteDone`,
    /// `UdpWriteDone`); `None` for other events, or once taken.
    pub fn buf(&self) -> Option<&Buf> {
        self.buf.as_ref()
    }

    /// Takes the buffer of a [`Transfer`](Ownership::Transfer) event: the caller owns it from
    /// now on. `None` for a borrowed buffer (copy from [`buf`](Event::buf) instead) or an
    /// event without one.
    pub fn take_buf(&mut self) -> Option<Buf> {
        match self.ownership {
            Ownership::Transfer => self.buf.take(),
            Ownership::Borrowed => None,
        }
    }

    /// The loop group that owns the object: call it back from the callback (write, close,
    /// allocate a buffer, ...).
    pub fn owner(&self) -> &'a LoopHandle {
        self.owner
    }
}
