//! Servers, connections, UDP sockets and timers: their C options structs, the calls that make
//! them and the calls on a `ptk_sock *`.
#![allow(unsafe_code)] // Exports C functions and reads the C strings and structs they are given.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use ptk_loop::{
    LoopHandle, Ownership, Sock, SockOpt, SockType, TcpClientOpts, TcpServerOpts, TimerOpts,
    UdpOpts,
};

use crate::buf::{self as bufs, buf};
use crate::deliver::{deliver, sock_ptr};
use crate::error::{code_of, from_loop, ptk_err, PTK_ERR_CLOSED, PTK_ERR_INVALID_PARAM, PTK_OK};
use crate::event::{ptk_callback, ptk_sock};
use crate::group::{group_of, LoopRef};
use crate::guard::guard;
use crate::registry::{self, binding_into_raw, free_binding, Binding, Group};

/// `ptk_tcp_server_opts`, laid out as in `ptk_loop.h`.
#[repr(C)]
#[allow(non_camel_case_types, missing_docs)]
pub struct ptk_tcp_server_opts {
    pub bind_host: *const c_char,
    pub port: c_int,
    pub backlog: c_int,
    pub callback: ptk_callback,
    pub user_data: *mut c_void,
    pub reuse_addr: u8,
    pub keep_alive: u8,
    pub read_buffer_size: usize,
    pub read_ownership: u32,
}

/// `ptk_tcp_client_opts`, laid out as in `ptk_loop.h`.
#[repr(C)]
#[allow(non_camel_case_types, missing_docs)]
pub struct ptk_tcp_client_opts {
    pub host: *const c_char,
    pub port: c_int,
    pub callback: ptk_callback,
    pub user_data: *mut c_void,
    pub connect_timeout_ms: u32,
    pub keep_alive: u8,
    pub read_buffer_size: usize,
    pub read_ownership: u32,
}

/// `ptk_udp_opts`, laid out as in `ptk_loop.h`.
#[repr(C)]
#[allow(non_camel_case_types, missing_docs)]
pub struct ptk_udp_opts {
    pub bind_host: *const c_char,
    pub bind_port: c_int,
    pub callback: ptk_callback,
    pub user_data: *mut c_void,
    pub broadcast: u8,
    pub reuse_addr: u8,
    pub read_buffer_size: usize,
    pub read_ownership: u32,
}

/// `ptk_timer_opts`, laid out as in `ptk_loop.h`.
#[repr(C)]
#[allow(non_camel_case_types, missing_docs)]
pub struct ptk_timer_opts {
    pub timeout_ms: u64,
    pub repeat: u8,
    pub callback: ptk_callback,
    pub user_data: *mut c_void,
}

/// `ptk_tcp_server_opts ptk_tcp_server_opts_default(void)`: the defaults (reuse_addr on).
#[no_mangle]
pub extern "C" fn ptk_tcp_server_opts_default() -> ptk_tcp_server_opts {
    let d = TcpServerOpts::default();
    ptk_tcp_server_opts {
        bind_host: std::ptr::null(),
        port: 0,
        backlog: 0,
        callback: None,
        user_data: std::ptr::null_mut(),
        reuse_addr: u8::from(d.reuse_addr),
        keep_alive: u8::from(d.keep_alive),
        read_buffer_size: 0,
        read_ownership: 0,
    }
}

/// `ptk_tcp_client_opts ptk_tcp_client_opts_default(void)`.
#[no_mangle]
pub extern "C" fn ptk_tcp_client_opts_default() -> ptk_tcp_client_opts {
    let d = TcpClientOpts::default();
    ptk_tcp_client_opts {
        host: std::ptr::null(),
        port: 0,
        callback: None,
        user_data: std::ptr::null_mut(),
        connect_timeout_ms: d.connect_timeout_ms,
        keep_alive: u8::from(d.keep_alive),
        read_buffer_size: 0,
        read_ownership: 0,
    }
}

/// `ptk_udp_opts ptk_udp_opts_default(void)`: the defaults (reuse_addr on).
#[no_mangle]
pub extern "C" fn ptk_udp_opts_default() -> ptk_udp_opts {
    let d = UdpOpts::default();
    ptk_udp_opts {
        bind_host: std::ptr::null(),
        bind_port: 0,
        callback: None,
        user_data: std::ptr::null_mut(),
        broadcast: u8::from(d.broadcast),
        reuse_addr: u8::from(d.reuse_addr),
        read_buffer_size: 0,
        read_ownership: 0,
    }
}

/// A C string as `&str`: `default` for NULL, `None` for text that is not UTF-8.
///
/// # Safety
///
/// `s` is NULL or a NUL-terminated string that outlives the use.
unsafe fn text(s: *const c_char, default: &str) -> Option<&str> {
    if s.is_null() {
        return Some(default);
    }
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

fn port(p: c_int) -> Option<u16> {
    u16::try_from(p).ok()
}

fn ownership(raw: u32) -> Option<Ownership> {
    match raw {
        0 => Some(Ownership::Borrowed),
        1 => Some(Ownership::Transfer),
        _ => None,
    }
}

/// The common end of every creating call: a binding for the object's events, the call, the
/// handle written out and the object bound (unless its first events did that already).
///
/// # Safety
///
/// `out` is writable (checked not NULL by the caller).
unsafe fn create(
    group: &Arc<Group>,
    out: *mut *mut ptk_sock,
    callback: ptk_callback,
    user_data: *mut c_void,
    make: impl FnOnce(&LoopHandle, usize) -> ::ptk_loop::Result<Sock>,
) -> ptk_err {
    if callback.is_none() {
        return PTK_ERR_INVALID_PARAM;
    }
    let binding = binding_into_raw(Box::new(Binding {
        group: Arc::clone(group),
        callback,
        user_data,
    }));
    match make(&group.handle, binding) {
        Ok(sock) => {
            registry::learn(group, sock);
            group.bind(sock, callback, user_data, binding);
            // SAFETY: the caller checked `out` and the C caller promises it is writable.
            unsafe { out.write(sock_ptr(sock)) };
            PTK_OK
        }
        Err(e) => {
            free_binding(binding);
            from_loop(e)
        }
    }
}

/// `ptk_err ptk_tcp_server_start(ptk_loop *, ptk_sock **server, const ptk_tcp_server_opts *)`.
///
/// # Safety
///
/// `server` NULL or writable; `opts` NULL or readable, its strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ptk_tcp_server_start(
    lp: *mut LoopRef,
    server: *mut *mut ptk_sock,
    opts: *const ptk_tcp_server_opts,
) -> ptk_err {
    guard(|| {
        // SAFETY: the caller promises `opts` is NULL or readable.
        let (Some(group), Some(o), false) =
            (group_of(lp), unsafe { opts.as_ref() }, server.is_null())
        else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: the caller promises a NUL-terminated string or NULL.
        let (Some(host), Some(port), Ok(backlog), Some(own)) = (
            unsafe { text(o.bind_host, "0.0.0.0") },
            port(o.port),
            u32::try_from(o.backlog),
            ownership(o.read_ownership),
        ) else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: `server` is not NULL.
        unsafe {
            create(&group, server, o.callback, o.user_data, |h, ud| {
                h.tcp_server_start(&TcpServerOpts {
                    bind_host: host,
                    port,
                    backlog,
                    callback: Some(deliver),
                    user_data: ud,
                    // The C side's binding travels as `user_data`; see `registry`.
                    callback_data: 0,
                    reuse_addr: o.reuse_addr != 0,
                    keep_alive: o.keep_alive != 0,
                    read_buffer_size: o.read_buffer_size,
                    read_ownership: own,
                })
            })
        }
    })
}

/// `ptk_err ptk_tcp_connect(ptk_loop *, ptk_sock **client, const ptk_tcp_client_opts *)`.
/// Hosts are numeric addresses (or `localhost`); a name is `PTK_ERR_INVALID_PARAM`.
///
/// # Safety
///
/// As [`ptk_tcp_server_start`].
#[no_mangle]
pub unsafe extern "C" fn ptk_tcp_connect(
    lp: *mut LoopRef,
    client: *mut *mut ptk_sock,
    opts: *const ptk_tcp_client_opts,
) -> ptk_err {
    guard(|| {
        // SAFETY: the caller promises `opts` is NULL or readable.
        let (Some(group), Some(o), false) =
            (group_of(lp), unsafe { opts.as_ref() }, client.is_null())
        else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: the caller promises a NUL-terminated string (NULL is refused below).
        let (false, Some(host), Some(port), Some(own)) = (
            o.host.is_null(),
            unsafe { text(o.host, "") },
            port(o.port),
            ownership(o.read_ownership),
        ) else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: `client` is not NULL.
        unsafe {
            create(&group, client, o.callback, o.user_data, |h, ud| {
                h.tcp_connect(&TcpClientOpts {
                    host,
                    port,
                    callback: Some(deliver),
                    user_data: ud,
                    // The C side's binding travels as `user_data`; see `registry`.
                    callback_data: 0,
                    connect_timeout_ms: o.connect_timeout_ms,
                    keep_alive: o.keep_alive != 0,
                    read_buffer_size: o.read_buffer_size,
                    read_ownership: own,
                })
            })
        }
    })
}

/// `ptk_err ptk_udp_create(ptk_loop *, ptk_sock **udp_sock, const ptk_udp_opts *)`.
///
/// # Safety
///
/// As [`ptk_tcp_server_start`].
#[no_mangle]
pub unsafe extern "C" fn ptk_udp_create(
    lp: *mut LoopRef,
    udp_sock: *mut *mut ptk_sock,
    opts: *const ptk_udp_opts,
) -> ptk_err {
    guard(|| {
        // SAFETY: the caller promises `opts` is NULL or readable.
        let (Some(group), Some(o), false) =
            (group_of(lp), unsafe { opts.as_ref() }, udp_sock.is_null())
        else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: the caller promises a NUL-terminated string or NULL.
        let (Some(host), Some(port), Some(own)) = (
            unsafe { text(o.bind_host, "") },
            port(o.bind_port),
            ownership(o.read_ownership),
        ) else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: `udp_sock` is not NULL.
        unsafe {
            create(&group, udp_sock, o.callback, o.user_data, |h, ud| {
                h.udp_create(&UdpOpts {
                    bind_host: host,
                    bind_port: port,
                    callback: Some(deliver),
                    user_data: ud,
                    // The C side's binding travels as `user_data`; see `registry`.
                    callback_data: 0,
                    broadcast: o.broadcast != 0,
                    reuse_addr: o.reuse_addr != 0,
                    read_buffer_size: o.read_buffer_size,
                    read_ownership: own,
                })
            })
        }
    })
}

/// `ptk_err ptk_timer_start(ptk_loop *, ptk_sock **timer, const ptk_timer_opts *)`.
///
/// # Safety
///
/// `timer` NULL or writable; `opts` NULL or readable.
#[no_mangle]
pub unsafe extern "C" fn ptk_timer_start(
    lp: *mut LoopRef,
    timer: *mut *mut ptk_sock,
    opts: *const ptk_timer_opts,
) -> ptk_err {
    guard(|| {
        // SAFETY: the caller promises `opts` is NULL or readable.
        let (Some(group), Some(o), false) =
            (group_of(lp), unsafe { opts.as_ref() }, timer.is_null())
        else {
            return PTK_ERR_INVALID_PARAM;
        };
        // SAFETY: `timer` is not NULL.
        unsafe {
            create(&group, timer, o.callback, o.user_data, |h, ud| {
                h.timer_start(&TimerOpts {
                    timeout_ms: o.timeout_ms,
                    repeat: o.repeat != 0,
                    callback: Some(deliver),
                    user_data: ud,
                    // The C side's binding travels as `user_data`; see `registry`.
                    callback_data: 0,
                })
            })
        }
    })
}

/// The handle and group a `ptk_sock *` names: `PTK_ERR_INVALID_PARAM` for NULL or a value that
/// is no handle, `PTK_ERR_CLOSED` when its group is gone.
fn resolve(sock: *mut ptk_sock) -> Result<(Sock, Arc<Group>), ptk_err> {
    let s = Sock::from_u64(sock as usize as u64).ok_or(PTK_ERR_INVALID_PARAM)?;
    let group = registry::by_sock(s).ok_or(PTK_ERR_CLOSED)?;
    Ok((s, group))
}

/// Runs `f` with the handle and its group, under [`guard`].
fn on_sock(sock: *mut ptk_sock, f: impl FnOnce(Sock, &Group) -> ptk_err) -> ptk_err {
    guard(|| with_sock(sock, f))
}

/// Runs `f` with the handle and its group (from a callback of the socket's worker, without
/// a lock or a reference count). Not guarded: for bodies already under [`guard`].
fn with_sock(sock: *mut ptk_sock, f: impl FnOnce(Sock, &Group) -> ptk_err) -> ptk_err {
    let mut f = Some(f);
    if let Some(s) = Sock::from_u64(sock as usize as u64) {
        let fast = registry::with_current(s, |g| match f.take() {
            Some(f) => f(s, g),
            None => PTK_ERR_INVALID_PARAM,
        });
        if let Some(code) = fast {
            return code;
        }
    }
    match (resolve(sock), f) {
        (Ok((s, g)), Some(f)) => f(s, &g),
        (Err(e), _) => e,
        (Ok(_), None) => PTK_ERR_INVALID_PARAM,
    }
}

/// `ptk_err ptk_timer_stop(ptk_sock *timer)`.
#[no_mangle]
pub extern "C" fn ptk_timer_stop(timer: *mut ptk_sock) -> ptk_err {
    on_sock(timer, |s, g| code_of(g.handle.timer_stop(s)))
}

/// `ptk_err ptk_write(ptk_sock *sock, buf *data)`: takes `data` whatever it returns (a
/// borrowed buffer is refused and left alone).
///
/// # Safety
///
/// `data` is NULL, a buffer the caller owns, or a borrowed one of a running callback.
#[no_mangle]
pub unsafe extern "C" fn ptk_write(sock: *mut ptk_sock, data: *mut buf) -> ptk_err {
    guard(|| {
        // SAFETY: the caller gives up `data` (a borrowed view is refused and left alone).
        match unsafe { bufs::take(data) } {
            Ok(Some(b)) => with_sock(sock, move |s, g| code_of(g.handle.write(s, b))),
            Ok(None) | Err(_) => PTK_ERR_INVALID_PARAM,
        }
    })
}

/// `ptk_err ptk_udp_send(ptk_sock *sock, buf *data, const char *host, int port)`: takes
/// `data` whatever it returns.
///
/// # Safety
///
/// As [`ptk_write`]; `host` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ptk_udp_send(
    sock: *mut ptk_sock,
    data: *mut buf,
    host: *const c_char,
    port_no: c_int,
) -> ptk_err {
    guard(|| {
        // SAFETY: the caller gives up `data` (a borrowed view is refused and left alone).
        let b = match unsafe { bufs::take(data) } {
            Ok(Some(b)) => b,
            Ok(None) | Err(_) => return PTK_ERR_INVALID_PARAM,
        };
        with_sock(sock, move |s, g| {
            // SAFETY: the caller promises a NUL-terminated string (NULL is refused).
            let (false, Some(host), Some(p)) =
                (host.is_null(), unsafe { text(host, "") }, port(port_no))
            else {
                return PTK_ERR_INVALID_PARAM;
            };
            code_of(g.handle.udp_send(s, b, host, p))
        })
    })
}

/// `ptk_err ptk_close(ptk_sock *sock)`: PTK_EVENT_CLOSE follows on the loop thread.
#[no_mangle]
pub extern "C" fn ptk_close(sock: *mut ptk_sock) -> ptk_err {
    on_sock(sock, |s, g| code_of(g.handle.close(s)))
}

/// `ptk_err ptk_sock_wake(ptk_sock *sock, void *user_data)`.
#[no_mangle]
pub extern "C" fn ptk_sock_wake(sock: *mut ptk_sock, user_data: *mut c_void) -> ptk_err {
    on_sock(sock, |s, g| {
        code_of(g.handle.sock_wake(s, user_data as usize))
    })
}

/// `ptk_err ptk_sock_get_type(ptk_sock *sock, ptk_sock_type *type)`.
///
/// # Safety
///
/// `kind` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ptk_sock_get_type(sock: *mut ptk_sock, kind: *mut c_int) -> ptk_err {
    on_sock(sock, |s, g| {
        if kind.is_null() {
            return PTK_ERR_INVALID_PARAM;
        }
        match g.handle.sock_type(s) {
            Ok(t) => {
                let v = match t {
                    SockType::TcpServer => 0,
                    SockType::TcpClient => 1,
                    SockType::Udp => 2,
                    SockType::Timer => 3,
                };
                // SAFETY: not NULL, and the caller promises it is writable.
                unsafe { kind.write(v) };
                PTK_OK
            }
            Err(e) => from_loop(e),
        }
    })
}

/// `ptk_err ptk_sock_set_user_data(ptk_sock *sock, void *user_data)`.
#[no_mangle]
pub extern "C" fn ptk_sock_set_user_data(sock: *mut ptk_sock, user_data: *mut c_void) -> ptk_err {
    on_sock(sock, |s, g| {
        if g.set_user_data(s, user_data) {
            PTK_OK
        } else {
            PTK_ERR_CLOSED
        }
    })
}

/// `ptk_err ptk_sock_get_user_data(ptk_sock *sock, void **user_data)`.
///
/// # Safety
///
/// `user_data` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ptk_sock_get_user_data(
    sock: *mut ptk_sock,
    user_data: *mut *mut c_void,
) -> ptk_err {
    on_sock(sock, |s, g| {
        if user_data.is_null() {
            return PTK_ERR_INVALID_PARAM;
        }
        match g.target(s) {
            Some(t) => {
                // SAFETY: not NULL, and the caller promises it is writable.
                unsafe { user_data.write(t.user_data) };
                PTK_OK
            }
            None => PTK_ERR_CLOSED,
        }
    })
}

/// Writes an address as text and port.
///
/// # Safety
///
/// `host` NULL or `host_len` writable bytes; `port_out` NULL or writable.
unsafe fn write_addr(
    addr: ::ptk_loop::Result<std::net::SocketAddr>,
    host: *mut c_char,
    host_len: usize,
    port_out: *mut c_int,
) -> ptk_err {
    if host.is_null() || host_len == 0 || port_out.is_null() {
        return PTK_ERR_INVALID_PARAM;
    }
    let addr = match addr {
        Ok(a) => a,
        Err(e) => return from_loop(e),
    };
    let text = addr.ip().to_string();
    if text.len() + 1 > host_len {
        return PTK_ERR_INVALID_PARAM;
    }
    // SAFETY: `host` has `host_len` writable bytes, more than the text and its NUL.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), host.cast::<u8>(), text.len());
        host.add(text.len()).write(0);
        port_out.write(c_int::from(addr.port()));
    }
    PTK_OK
}

/// `ptk_err ptk_sock_get_local_addr(ptk_sock *, char *host, size_t host_len, int *port)`.
///
/// # Safety
///
/// As `write_addr`.
#[no_mangle]
pub unsafe extern "C" fn ptk_sock_get_local_addr(
    sock: *mut ptk_sock,
    host: *mut c_char,
    host_len: usize,
    port_out: *mut c_int,
) -> ptk_err {
    // SAFETY: the caller's promises are `write_addr`'s.
    on_sock(sock, |s, g| unsafe {
        write_addr(g.handle.local_addr(s), host, host_len, port_out)
    })
}

/// `ptk_err ptk_sock_get_remote_addr(ptk_sock *, char *host, size_t host_len, int *port)`.
///
/// # Safety
///
/// As `write_addr`.
#[no_mangle]
pub unsafe extern "C" fn ptk_sock_get_remote_addr(
    sock: *mut ptk_sock,
    host: *mut c_char,
    host_len: usize,
    port_out: *mut c_int,
) -> ptk_err {
    // SAFETY: the caller's promises are `write_addr`'s.
    on_sock(sock, |s, g| unsafe {
        write_addr(g.handle.remote_addr(s), host, host_len, port_out)
    })
}

/// `ptk_err ptk_sock_set_option(ptk_sock *, ptk_sockopt, const void *value, size_t len)`:
/// `value` points at a `bool` (len 1) or an `int` (len `sizeof(int)`).
///
/// # Safety
///
/// `value` NULL or `value_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ptk_sock_set_option(
    sock: *mut ptk_sock,
    opt: c_int,
    value: *const c_void,
    value_len: usize,
) -> ptk_err {
    on_sock(sock, |s, g| {
        let Some(opt) = SockOpt::from_i32(opt) else {
            return PTK_ERR_INVALID_PARAM;
        };
        if value.is_null() {
            return PTK_ERR_INVALID_PARAM;
        }
        // SAFETY (all three): not NULL; the caller promises `value_len` readable bytes.
        let v: i64 = match value_len {
            // SAFETY: one readable byte.
            1 => i64::from(unsafe { value.cast::<u8>().read_unaligned() }),
            // SAFETY: four readable bytes.
            4 => i64::from(unsafe { value.cast::<i32>().read_unaligned() }),
            // SAFETY: eight readable bytes.
            8 => unsafe { value.cast::<i64>().read_unaligned() },
            _ => return PTK_ERR_INVALID_PARAM,
        };
        let Ok(v) = usize::try_from(v) else {
            return PTK_ERR_INVALID_PARAM;
        };
        code_of(g.handle.set_option(s, opt, v))
    })
}

/// `ptk_err ptk_sock_get_option(ptk_sock *, ptk_sockopt, void *value, size_t *value_len)`:
/// writes a `bool` when `*value_len` is 1, an `int` when it is `sizeof(int)`, and sets
/// `*value_len` to what it wrote.
///
/// # Safety
///
/// `value_len` NULL or writable; `value` NULL or `*value_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ptk_sock_get_option(
    sock: *mut ptk_sock,
    opt: c_int,
    value: *mut c_void,
    value_len: *mut usize,
) -> ptk_err {
    on_sock(sock, |s, g| {
        let Some(opt) = SockOpt::from_i32(opt) else {
            return PTK_ERR_INVALID_PARAM;
        };
        if value.is_null() || value_len.is_null() {
            return PTK_ERR_INVALID_PARAM;
        }
        let v = match g.handle.get_option(s, opt) {
            Ok(v) => v,
            Err(e) => return from_loop(e),
        };
        // SAFETY: not NULL; the caller promises it is readable and writable.
        let len = unsafe { value_len.read() };
        // SAFETY: `value` has `len` writable bytes.
        unsafe {
            match len {
                1 => value.cast::<u8>().write_unaligned(u8::from(v != 0)),
                4 => value
                    .cast::<i32>()
                    .write_unaligned(i32::try_from(v).unwrap_or(i32::MAX)),
                8 => value
                    .cast::<i64>()
                    .write_unaligned(i64::try_from(v).unwrap_or(i64::MAX)),
                _ => return PTK_ERR_INVALID_PARAM,
            }
        }
        PTK_OK
    })
}
