//! The echo server as callback handlers on [`EventLoop`], the logic of
//! `examples/echo_server.rs` with the benchmark's meter: one buffer per connection slot,
//! indexed by the slot of the connection's handle, made at start-up.

use std::task::Poll;

use ptk::{
    BackendKind, Capacities, Config, Cx, Error, Event, EventKind, EventLoop, Handle, ListenOptions,
    OwnedStorage, TcpStream, Trigger,
};
use ptk_bench::frame::complete_frames;
use ptk_bench::{Meter, ServerOptions};

/// How many reads one handler call may do before giving the other connections a turn.
const READS_PER_CALL: usize = 8;

/// One connection slot: the bytes received and not yet echoed, and how many of the complete
/// frames at their front have been written back.
struct Conn {
    stream: Option<Handle<TcpStream>>,
    buf: Box<[u8]>,
    len: usize,
    sent: usize,
    frames: u64,
}

struct Server {
    conns: Vec<Conn>,
    max_frame: usize,
    /// Set once the listener is ready, so start-up is not metered.
    meter: Option<Meter>,
}

impl Server {
    fn conn(&mut self, h: Handle<TcpStream>) -> Option<&mut Conn> {
        self.conns
            .get_mut(h.raw().slot() as usize)
            .filter(|c| c.stream == Some(h))
    }
}

fn on_accept(server: &mut Server, cx: &mut Cx<'_>, ev: Event) {
    let Ok(listener) = ev.handle.typed() else {
        return;
    };
    loop {
        match cx.accept(listener) {
            Poll::Pending => return,
            Poll::Ready(Ok((stream, _peer))) => {
                let slot = stream.raw().slot() as usize;
                let Some(conn) = server.conns.get_mut(slot) else {
                    let _ = cx.close(stream.raw());
                    continue;
                };
                conn.stream = Some(stream);
                conn.len = 0;
                conn.sent = 0;
                conn.frames = 0;
                let _ = cx.set_nodelay(stream, true);
                if cx
                    .set_handler(stream, Trigger::Readable, on_stream as ptk::Handler<Server>)
                    .is_err()
                {
                    let _ = cx.close(stream.raw());
                }
            }
            // A full pool or fd table refused that one connection; keep serving.
            Poll::Ready(Err(_)) => return,
        }
    }
}

fn on_stream(server: &mut Server, cx: &mut Cx<'_>, ev: Event) {
    let Ok(stream) = ev.handle.typed::<TcpStream>() else {
        return;
    };
    let max_frame = server.max_frame;
    let Some(conn) = server.conn(stream) else {
        return;
    };
    let outcome = pump(conn, cx, stream, max_frame);
    let frames = std::mem::take(&mut conn.frames);
    if server.meter.as_mut().is_some_and(|m| m.count(frames)) {
        cx.stop();
    }
    match outcome {
        Ok(Pump::Idle) => {
            if ev.kind == EventKind::Writable {
                cx.remove_handler(stream.raw(), Trigger::Writable);
            }
        }
        Ok(Pump::Blocked) => {
            let _ = cx.set_handler(stream, Trigger::Writable, on_stream as ptk::Handler<Server>);
        }
        Ok(Pump::Busy) => {}
        Err(_) => {
            if let Some(conn) = server.conn(stream) {
                conn.stream = None;
            }
            let _ = cx.close(stream.raw());
        }
    }
}

enum Pump {
    /// Everything complete was echoed and the socket has no more data now.
    Idle,
    /// Waiting for the socket to take more output.
    Blocked,
    /// Did its share of work; the loop calls again while the socket stays readable.
    Busy,
}

/// Echo complete frames, then read more, until the socket would block either way.
fn pump(
    conn: &mut Conn,
    cx: &mut Cx<'_>,
    stream: Handle<TcpStream>,
    max_frame: usize,
) -> Result<Pump, Error> {
    for _ in 0..READS_PER_CALL {
        let (end, frames) = complete_frames(&conn.buf[..conn.len], max_frame)
            .map_err(|_| Error::MessageTooLarge)?;
        while conn.sent < end {
            match cx.write(stream, &conn.buf[conn.sent..end]) {
                Poll::Ready(Ok(n)) => conn.sent += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(Pump::Blocked),
            }
        }
        if end > 0 {
            conn.frames += frames;
            conn.buf.copy_within(end..conn.len, 0);
            conn.len -= end;
            conn.sent = 0;
        }
        match cx.read(stream, &mut conn.buf[conn.len..]) {
            Poll::Ready(Ok(0)) => return Err(Error::Closed),
            Poll::Ready(Ok(n)) => conn.len += n,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => return Ok(Pump::Idle),
        }
    }
    Ok(Pump::Busy)
}

/// Serves until `o.messages` frames were echoed.
pub fn serve(o: &ServerOptions, backend: BackendKind) -> Result<Meter, Error> {
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections,
        timers: 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: 0,
        buffer_size: 0,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let conns = (0..o.max_connections)
        .map(|_| Conn {
            stream: None,
            buf: vec![0; o.buffer_len()].into_boxed_slice(),
            len: 0,
            sent: 0,
            frames: 0,
        })
        .collect();
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(
        memory.storage(),
        Config {
            backend,
            backend_strict: true,
            ..Config::default()
        },
        Server {
            conns,
            max_frame: o.max_frame,
            meter: None,
        },
    )?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.set_handler(listener, Trigger::Readable, on_accept)?;
    println!("{}", ev.local_addr(listener.raw())?);
    ev.app_mut().meter = Some(Meter::start(o.messages));
    ev.run()?;
    ev.app_mut().meter.take().ok_or(Error::InvalidArgument)
}
