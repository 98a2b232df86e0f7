//! System calls the standard library does not offer as the loop needs them: stream reads
//! and writes made straight to the C library (each of `std`'s and `mio`'s wrapper layers
//! costs about a dozen instructions per call, on the path every message takes), and a
//! datagram receive that reports `MSG_TRUNC`.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
#[cfg(unix)]
use std::os::fd::{AsRawFd, RawFd};

use socket2::{MaybeUninitSlice, SockRef};

use super::side::Attempt;

/// One datagram: `(bytes received, whether the datagram was longer than buf, sender)`.
pub(crate) fn recv_from_checked(
    sock: &mio::net::UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, bool, Option<SocketAddr>)> {
    let sock = SockRef::from(sock);
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout. The slice is initialized
    // and stays so: `recvmsg` (socket2's `recv_from_vectored`) only writes bytes the kernel
    // received, never uninitialized memory, and nothing else writes through this reference
    // before it is dropped at the end of this function.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let mut bufs = [MaybeUninitSlice::new(uninit)];
    let (n, flags, addr) = sock.recv_from_vectored(&mut bufs)?;
    Ok((n, flags.is_truncated(), addr.as_socket()))
}

/// `send` flags: never raise `SIGPIPE` on a connection the peer closed (the error comes back
/// as `EPIPE` instead), as `std`'s `TcpStream::write` does where the flag exists.
#[cfg(all(
    unix,
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )
))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
/// Elsewhere (macOS, ...) there is no such flag; Rust programs ignore `SIGPIPE` from the
/// start unless they ask otherwise, as `std` arranges before `main`.
#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))
))]
const SEND_FLAGS: libc::c_int = 0;

/// One `recv` on stream socket `sock` into `buf` (retried when interrupted).
#[cfg(unix)]
#[inline]
pub(crate) fn recv(sock: &mio::net::TcpStream, buf: &mut [u8]) -> Attempt<usize> {
    let fd: RawFd = sock.as_raw_fd();
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call, and
        // `recv` writes at most that many. `fd` is the descriptor of `sock`, borrowed for the
        // call, so it stays open (and names that socket) throughout.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Attempt::Done(n as usize);
        }
        if let Some(failed) = failure() {
            return failed;
        }
    }
}

/// One `send` on stream socket `sock` from `buf` (retried when interrupted).
#[cfg(unix)]
#[inline]
pub(crate) fn send(sock: &mio::net::TcpStream, buf: &[u8]) -> Attempt<usize> {
    let fd: RawFd = sock.as_raw_fd();
    loop {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call. `fd` is
        // the descriptor of `sock`, borrowed for the call, so it stays open throughout.
        let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), SEND_FLAGS) };
        if n >= 0 {
            return Attempt::Done(n as usize);
        }
        if let Some(failed) = failure() {
            return failed;
        }
    }
}

/// What the `errno` of a failed call means: `None` to retry it (interrupted), else
/// `WouldBlock` or the error. Kept out of line: the calls above almost never fail.
#[cfg(unix)]
#[cold]
#[inline(never)]
fn failure<T>() -> Option<Attempt<T>> {
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINTR) => None,
        Some(code) if code == libc::EAGAIN || code == libc::EWOULDBLOCK => {
            Some(Attempt::WouldBlock)
        }
        _ => Some(Attempt::Failed(e.into())),
    }
}

/// One read of stream socket `sock` into `buf` (platforms without the C library's `recv`).
#[cfg(not(unix))]
#[inline]
pub(crate) fn recv(mut sock: &mio::net::TcpStream, buf: &mut [u8]) -> Attempt<usize> {
    loop {
        match io::Read::read(&mut sock, buf) {
            Ok(n) => return Attempt::Done(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Attempt::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Attempt::Failed(e.into()),
        }
    }
}

/// One write of stream socket `sock` from `buf` (platforms without the C library's `send`).
#[cfg(not(unix))]
#[inline]
pub(crate) fn send(mut sock: &mio::net::TcpStream, buf: &[u8]) -> Attempt<usize> {
    loop {
        match io::Write::write(&mut sock, buf) {
            Ok(n) => return Attempt::Done(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Attempt::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Attempt::Failed(e.into()),
        }
    }
}
