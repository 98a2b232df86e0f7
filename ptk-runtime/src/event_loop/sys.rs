//! The only `unsafe` of the runtime: lending an initialized byte buffer to socket2 as
//! `MaybeUninit<u8>` so `recvmsg` can report `MSG_TRUNC`.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;

use socket2::{MaybeUninitSlice, SockRef};

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
