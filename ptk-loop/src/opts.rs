//! Options of the loop group and of each kind of object, with their defaults. A numeric
//! field left at 0 takes its default, as a zeroed C struct does.

use crate::event::{Callback, Ownership};

/// How a [`Loop`](crate::Loop) is made (`ptk_loop_opts`, plus the sizes of the pools it
/// makes at start-up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopOpts {
    /// Worker threads, one event loop each; 0 means the available parallelism.
    pub worker_threads: usize,
    /// Readiness events one poll returns at most (0: 1024).
    pub max_events: usize,
    /// Start the workers in [`Loop::new`](crate::Loop::new) (default `true`); otherwise
    /// [`Loop::start`](crate::Loop::start) does.
    pub auto_start: bool,
    /// Objects (servers' listeners, connections, UDP sockets, timers) each worker can hold
    /// at once (0: 1024).
    pub sockets_per_worker: usize,
    /// Buffers of the group's pool, shared by all workers (0: 1024).
    pub buffers: usize,
    /// Bytes per buffer (0: 8192): the largest read, write or datagram.
    pub buffer_size: usize,
    /// Calls from any thread (writes, closes, wakes, posts, new objects) that can wait for
    /// one worker at once (0: 4096).
    pub commands_per_worker: usize,
    /// Writes one socket can have queued (0: 64); a write beyond fails with
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) in an error event.
    pub writes_per_sock: usize,
    /// How a server's connections are spread over the workers (default
    /// [`Spread::ReusePort`]).
    pub spread: Spread,
}

/// How a server's connections are spread over the workers of a group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Spread {
    /// One listener per worker on the same port (`SO_REUSEPORT`): the kernel picks a worker
    /// per connection (by a hash of the addresses), and the worker that accepts it owns it.
    #[default]
    ReusePort,
    /// One listener, on the server's first worker, which accepts every connection and hands
    /// them to the workers in turn (itself included): an even spread, at the cost of a
    /// command per connection and one worker doing every accept.
    HandOff,
}

impl Default for LoopOpts {
    fn default() -> Self {
        LoopOpts {
            worker_threads: 0,
            max_events: 1024,
            auto_start: true,
            sockets_per_worker: 1024,
            buffers: 1024,
            buffer_size: 8192,
            commands_per_worker: 4096,
            writes_per_sock: 64,
            spread: Spread::ReusePort,
        }
    }
}

/// A TCP server (`ptk_tcp_server_opts`).
#[derive(Clone, Copy, Debug)]
pub struct TcpServerOpts<'a> {
    /// Numeric address to bind (default `"0.0.0.0"`; `""` is the same).
    pub bind_host: &'a str,
    /// Port (0: one the system chooses; read it with `local_addr`).
    pub port: u16,
    /// Listen backlog (0: 128).
    pub backlog: u32,
    /// Receives the server's events and those of its connections (required).
    pub callback: Option<Callback>,
    /// Given back in every event of the server and its connections.
    pub user_data: usize,
    /// A second word for the callback's own use, given back in every event as
    /// [`Event::callback_data`](crate::Event::callback_data) (the C layer keeps the C
    /// function pointer there); accepted connections inherit their server's.
    pub callback_data: usize,
    /// `SO_REUSEADDR` (default `true`).
    pub reuse_addr: bool,
    /// TCP keep-alive on accepted connections (default `false`).
    pub keep_alive: bool,
    /// Largest read of a connection (0: 8192); larger values are cut to `LoopOpts::buffer_size`.
    pub read_buffer_size: usize,
    /// Whether read events lend or hand over their buffer (default borrowed).
    pub read_ownership: Ownership,
}

impl Default for TcpServerOpts<'_> {
    fn default() -> Self {
        TcpServerOpts {
            bind_host: "0.0.0.0",
            port: 0,
            backlog: 128,
            callback: None,
            user_data: 0,
            callback_data: 0,
            reuse_addr: true,
            keep_alive: false,
            read_buffer_size: 8192,
            read_ownership: Ownership::Borrowed,
        }
    }
}

/// A TCP connection to make (`ptk_tcp_client_opts`).
#[derive(Clone, Copy, Debug)]
pub struct TcpClientOpts<'a> {
    /// Numeric address of the peer (`"localhost"` is taken as `127.0.0.1`; names are not
    /// resolved: [`Error::InvalidParam`](crate::Error::InvalidParam)).
    pub host: &'a str,
    /// Port of the peer (not 0).
    pub port: u16,
    /// Receives the connection's events (required).
    pub callback: Option<Callback>,
    /// Given back in every event.
    pub user_data: usize,
    /// A second word for the callback's own use, given back in every event as
    /// [`Event::callback_data`](crate::Event::callback_data) (the C layer keeps the C
    /// function pointer there); accepted connections inherit their server's.
    pub callback_data: usize,
    /// How long the connect may take (0: 30,000 ms); then an error event with
    /// [`Error::Timeout`](crate::Error::Timeout) and a close.
    pub connect_timeout_ms: u32,
    /// TCP keep-alive (default `false`).
    pub keep_alive: bool,
    /// Largest read (0: 8192); larger values are cut to `LoopOpts::buffer_size`.
    pub read_buffer_size: usize,
    /// Whether read events lend or hand over their buffer (default borrowed).
    pub read_ownership: Ownership,
}

impl Default for TcpClientOpts<'_> {
    fn default() -> Self {
        TcpClientOpts {
            host: "127.0.0.1",
            port: 0,
            callback: None,
            user_data: 0,
            callback_data: 0,
            connect_timeout_ms: 30_000,
            keep_alive: false,
            read_buffer_size: 8192,
            read_ownership: Ownership::Borrowed,
        }
    }
}

/// A UDP socket (`ptk_udp_opts`).
#[derive(Clone, Copy, Debug)]
pub struct UdpOpts<'a> {
    /// Numeric address to bind; `""` (the C API's NULL) binds `0.0.0.0` (default).
    pub bind_host: &'a str,
    /// Port to bind (0: any, for a socket that only sends and reads the answers).
    pub bind_port: u16,
    /// Receives the socket's events (required).
    pub callback: Option<Callback>,
    /// Given back in every event.
    pub user_data: usize,
    /// A second word for the callback's own use, given back in every event as
    /// [`Event::callback_data`](crate::Event::callback_data) (the C layer keeps the C
    /// function pointer there); accepted connections inherit their server's.
    pub callback_data: usize,
    /// `SO_BROADCAST` (default `false`).
    pub broadcast: bool,
    /// `SO_REUSEADDR` (default `true`).
    pub reuse_addr: bool,
    /// Largest datagram read (0: 8192); larger values are cut to `LoopOpts::buffer_size`.
    pub read_buffer_size: usize,
    /// Whether read events lend or hand over their buffer (default borrowed).
    pub read_ownership: Ownership,
}

impl Default for UdpOpts<'_> {
    fn default() -> Self {
        UdpOpts {
            bind_host: "",
            bind_port: 0,
            callback: None,
            user_data: 0,
            callback_data: 0,
            broadcast: false,
            reuse_addr: true,
            read_buffer_size: 8192,
            read_ownership: Ownership::Borrowed,
        }
    }
}

/// A timer (`ptk_timer_opts`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TimerOpts {
    /// Milliseconds until the first tick, and between ticks (not 0).
    pub timeout_ms: u64,
    /// Tick every `timeout_ms` until stopped; otherwise tick once, then close.
    pub repeat: bool,
    /// Receives the timer's events (required).
    pub callback: Option<Callback>,
    /// Given back in every event.
    pub user_data: usize,
    /// A second word for the callback's own use, given back in every event as
    /// [`Event::callback_data`](crate::Event::callback_data) (the C layer keeps the C
    /// function pointer there); accepted connections inherit their server's.
    pub callback_data: usize,
}
