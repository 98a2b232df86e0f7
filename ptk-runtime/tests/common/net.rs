//! A loopback TCP server as handlers over one application state, for the TCP tests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use ptk_runtime::{
    Cx, Error, Event, EventLoop, Handle, RawHandle, TcpListener, TcpStream, Trigger,
};

/// What the server saw, and how it behaves.
#[derive(Default)]
pub struct Net {
    /// Accepted streams get `on_echo` (else `on_collect`).
    pub echo: bool,
    /// `on_collect` reads one byte per call.
    pub one_byte: bool,
    /// Every accept that did not return `Pending`.
    pub accepts: Vec<Result<(Handle<TcpStream>, SocketAddr), Error>>,
    /// Bytes collected per stream.
    pub received: HashMap<RawHandle, Vec<u8>>,
    /// How a stream's reading ended: `Ok(0)` for end-of-stream, or the error.
    pub ends: HashMap<RawHandle, Result<usize, Error>>,
    /// Read handler calls that returned data.
    pub data_calls: usize,
    /// Bytes echoed back.
    pub echoed: usize,
    /// The bytes `on_write_more` sends, how far it got, and what it met on the way.
    pub out: Vec<u8>,
    pub written: usize,
    pub pendings: usize,
    pub partial_writes: usize,
    pub write_done: bool,
}

impl Net {
    pub fn accepted(&self) -> Vec<Handle<TcpStream>> {
        self.accepts
            .iter()
            .filter_map(|a| a.ok().map(|a| a.0))
            .collect()
    }

    pub fn accept_errors(&self) -> Vec<Error> {
        self.accepts.iter().filter_map(|a| a.err()).collect()
    }
}

pub fn on_accept(net: &mut Net, cx: &mut Cx<'_>, ev: Event) {
    let listener: Handle<TcpListener> = ev.handle.typed().unwrap();
    for _ in 0..64 {
        match cx.accept(listener) {
            Poll::Pending => return,
            Poll::Ready(Ok((s, peer))) => {
                let handler = if net.echo { on_echo } else { on_collect };
                cx.set_handler(s, Trigger::Readable, handler).unwrap();
                net.accepts.push(Ok((s, peer)));
            }
            Poll::Ready(Err(e)) => net.accepts.push(Err(e)),
        }
    }
}

pub fn on_echo(net: &mut Net, cx: &mut Cx<'_>, ev: Event) {
    let s: Handle<TcpStream> = ev.handle.typed().unwrap();
    let mut buf = [0u8; 4096];
    match cx.read(s, &mut buf) {
        Poll::Pending => {}
        Poll::Ready(end @ (Ok(0) | Err(_))) => {
            net.ends.insert(ev.handle, end);
            cx.close(ev.handle).unwrap();
        }
        Poll::Ready(Ok(n)) => {
            assert_eq!(
                cx.write(s, &buf[..n]),
                Poll::Ready(Ok(n)),
                "small echo fits"
            );
            net.echoed += n;
        }
    }
}

pub fn on_collect(net: &mut Net, cx: &mut Cx<'_>, ev: Event) {
    let s: Handle<TcpStream> = ev.handle.typed().unwrap();
    let mut buf = [0u8; 65536];
    let len = if net.one_byte { 1 } else { buf.len() };
    match cx.read(s, &mut buf[..len]) {
        Poll::Pending => {}
        Poll::Ready(Ok(0)) => {
            net.ends.insert(ev.handle, Ok(0));
            cx.remove_handler(s.raw(), Trigger::Readable);
        }
        Poll::Ready(Err(e)) => {
            net.ends.insert(ev.handle, Err(e));
            cx.remove_handler(s.raw(), Trigger::Readable);
        }
        Poll::Ready(Ok(n)) => {
            net.data_calls += 1;
            net.received
                .entry(ev.handle)
                .or_default()
                .extend_from_slice(&buf[..n]);
        }
    }
}

/// Writes `net.out` from `net.written` until done or `Pending`; when done, half-closes.
pub fn on_write_more(net: &mut Net, cx: &mut Cx<'_>, ev: Event) {
    let s: Handle<TcpStream> = ev.handle.typed().unwrap();
    while net.written < net.out.len() {
        let rest = &net.out[net.written..];
        match cx.write(s, rest) {
            Poll::Pending => {
                net.pendings += 1;
                return;
            }
            Poll::Ready(Ok(n)) => {
                if n < rest.len() {
                    net.partial_writes += 1;
                }
                net.written += n;
            }
            Poll::Ready(Err(e)) => panic!("write failed after {} bytes: {e}", net.written),
        }
    }
    cx.shutdown(s, ptk_runtime::Shutdown::Write).unwrap();
    cx.remove_handler(s.raw(), Trigger::Writable);
    net.write_done = true;
}

/// A blocking std client with a read timeout, so a missing reply fails instead of hanging.
pub fn client(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// Sends `msg` through an echo connection and reads it back, running `ev` meanwhile.
pub fn echo_round_trip(
    ev: &mut EventLoop<'_, Net>,
    c: &mut std::net::TcpStream,
    msg: &[u8],
) -> Vec<u8> {
    let target = ev.app().echoed + msg.len();
    c.write_all(msg).unwrap();
    super::run_until(ev, "the echo", Duration::from_secs(5), 10_000, |ev| {
        ev.app().echoed >= target
    });
    let mut back = vec![0u8; msg.len()];
    c.read_exact(&mut back).unwrap();
    back
}
