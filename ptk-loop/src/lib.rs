//! Completion events over ptk's event loop: one callback per object, buffers with a clear
//! owner, and a group of worker loops on threads the library starts.
//!
//! ptk's [`EventLoop`](ptk_runtime::EventLoop) reports *readiness* (a socket can be read);
//! this crate reports *completions* (this data was read, this write was sent, this connect
//! succeeded), the model of libuv and of the C API `ptk_loop.h`, which is a thin layer over
//! this crate (`ptk-capi`).
//!
//! * A [`Loop`] is a group of worker threads, one [`EventLoop`](ptk_runtime::EventLoop)
//!   each, with every pool made when the group is made ([`LoopOpts`]). After that, nothing
//!   is allocated per message, connection or call.
//! * Objects (TCP servers and connections, UDP sockets, timers) are named by [`Sock`]
//!   handles: 64-bit values, `Copy` and `Send`, checked at every call (a closed object's
//!   handle answers [`Error::Closed`]).
//! * Each object has one [`Callback`], a plain `fn(&mut Event)`, and a `usize` of user data;
//!   every [`Event`] of the object goes there, on the thread of the worker that owns it.
//! * Every call works from any thread: [`LoopHandle`] checks the handle, then queues the
//!   work for the owning worker in a bounded queue made at start-up and wakes it.
//! * Buffers ([`Buf`]) come from a pool shared by the group. Reads lend them
//!   ([`Ownership::Borrowed`]) or hand them over ([`Ownership::Transfer`], per socket);
//!   writes take them and report [`EventKind::WriteDone`] once sent.
//!
//! # Examples
//!
//! An echo server on two workers, and a client of it:
//!
//! ```
//! use std::io::{Read, Write};
//! use ptk_loop::{Event, EventKind, Loop, LoopOpts, Ownership, TcpServerOpts};
//!
//! fn echo(ev: &mut Event<'_>) {
//!     if ev.kind == EventKind::Read {
//!         // A transferred buffer is ours: hand it straight to the write.
//!         let buf = ev.take_buf().unwrap();
//!         ev.owner().write(ev.sock, buf).unwrap();
//!     }
//! }
//!
//! let lp = Loop::new(&LoopOpts { worker_threads: 2, ..LoopOpts::default() }).unwrap();
//! let server = lp
//!     .tcp_server_start(&TcpServerOpts {
//!         bind_host: "127.0.0.1",
//!         callback: Some(echo),
//!         read_ownership: Ownership::Transfer,
//!         ..TcpServerOpts::default()
//!     })
//!     .unwrap();
//! let addr = lp.local_addr(server).unwrap();
//!
//! let mut c = std::net::TcpStream::connect(addr).unwrap();
//! c.write_all(b"hello").unwrap();
//! let mut back = [0u8; 5];
//! c.read_exact(&mut back).unwrap();
//! assert_eq!(&back, b"hello");
//! // Dropping the group stops and joins its workers.
//! ```
//!
//! # Event sequences
//!
//! Every object ends with exactly one [`EventKind::Close`], after which its handle is stale.
//!
//! * **Server**: `Accept` per connection (the event's `sock` is the connection, which uses
//!   the server's callback and user data from then on); `Close` when closed.
//! * **Connection**: for a connect, `Connect`, or `Error` (`ConnectionRefused`, `Timeout`,
//!   `HostUnreachable`, `NetworkError`) then `Close`. Then `Read` per read, `WriteDone` per
//!   write sent, `Wake` per wake; the end is `Close` alone when the peer closed or the user
//!   did, `Error(Closed)` then `Close` when the peer reset the connection.
//! * **UDP**: `UdpRead` per datagram, `UdpWriteDone` per send (or `Error`), `Close`.
//! * **Timer**: `Tick` per expiry; a one-shot timer then gets `Close`, a repeating one when
//!   stopped.
//!
//! # Host names
//!
//! Addresses are numeric (`"127.0.0.1"`, `"::1"`), and `"localhost"` means `127.0.0.1`.
//! Names are not resolved (a resolver would block a loop or need a thread per lookup): they
//! are [`Error::InvalidParam`]. Resolve them before the call.
//!
//! # Worker groups
//!
//! By default ([`Spread::ReusePort`]) a server binds one listener per worker on the same
//! port with `SO_REUSEPORT`; the kernel spreads connections over them, and each connection
//! lives on the worker that accepted it. With [`Spread::HandOff`] one listener on the first
//! worker accepts every connection and hands them to the workers in turn. Connections, UDP
//! sockets and timers made by calls go to the workers in turn.
//!
//! # Mapping of the C API
//!
//! | C (`ptk_loop.h`) | Rust |
//! |---|---|
//! | `ptk_loop_create(&loop, opts)` / `ptk_loop_destroy` | [`Loop::new`] / `drop` |
//! | `ptk_loop_wait`, `ptk_loop_wait_timeout` | [`Loop::wait`], [`Loop::wait_timeout`] |
//! | `ptk_loop_stop`, `ptk_loop_is_running` | [`LoopHandle::stop`], [`LoopHandle::is_running`] |
//! | `ptk_loop_post(loop, cb, ud)` | [`LoopHandle::post_with`] (two words: the C function and its data); Rust code uses [`LoopHandle::post`] |
//! | `ptk_tcp_server_start`, `ptk_tcp_connect` | [`LoopHandle::tcp_server_start`], [`LoopHandle::tcp_connect`] |
//! | `ptk_udp_create`, `ptk_udp_send` | [`LoopHandle::udp_create`], [`LoopHandle::udp_send`] |
//! | `ptk_timer_start`, `ptk_timer_stop` | [`LoopHandle::timer_start`], [`LoopHandle::timer_stop`] |
//! | `ptk_write`, `ptk_close`, `ptk_sock_wake` | [`LoopHandle::write`], [`LoopHandle::close`], [`LoopHandle::sock_wake`] |
//! | `ptk_sock_get_type`, `..._local_addr`, `..._remote_addr` | [`LoopHandle::sock_type`], [`LoopHandle::local_addr`], [`LoopHandle::remote_addr`] |
//! | `ptk_sock_set_option`, `ptk_sock_get_option` | [`LoopHandle::set_option`], [`LoopHandle::get_option`] |
//! | `ptk_err`, `ptk_err_string` | [`Error::code`], [`Error::as_str`] |
//! | `ptk_event_type`, `ptk_event_string` | [`EventKind`], [`EventKind::as_str`] |
//! | `ptk_buf_ownership` | [`Ownership`] |
//! | `ptk_now_ms` | [`now_ms`] |
//! | `ptk_sock *` | [`Sock::to_u64`] as a pointer-sized value; a call that gets only the socket finds its group with [`LoopHandle::of`] |
//! | `buf *` of a `TRANSFER` event, `buf_free` | [`Event::take_buf`] then [`Buf::into_raw`]; [`Buf::from_raw`] and drop |
//!
//! A C callback is an `extern "C" fn(const ptk_event *)`: the C layer registers one Rust
//! [`Callback`] that builds a `ptk_event` from the [`Event`] and calls the C function it
//! stored in the object's `callback_data` ([`Event::callback_data`]); the C `user_data`
//! pointer travels as the `usize` user data. Accepted connections inherit both from their
//! server, so nothing is allocated per connection on either side.

mod addr;
mod buf;
mod error;
mod event;
mod group;
mod opts;
mod shared;
mod sock;
mod worker;

pub use buf::Buf;
pub use error::{Error, Result};
pub use event::{Callback, Event, EventKind, Ownership};
pub use group::{Loop, LoopHandle, PostCallback};
pub use opts::{LoopOpts, Spread, TcpClientOpts, TcpServerOpts, TimerOpts, UdpOpts};
pub use sock::{Sock, SockOpt, SockType};

/// Milliseconds on a monotonic clock (`ptk_now_ms`): for measuring intervals, not dates.
/// Thread-safe.
pub fn now_ms() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}
