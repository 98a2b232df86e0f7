//! The echo server as protothreads on the loop's buffer pool, the shape of
//! `examples/echo_server.rs`: an acceptor and one protothread per connection that reads a frame
//! into the stream's receive buffer (`PooledFrameReader`) and hands that very buffer to the
//! send (`send_frame`, then `poll_sent`). On io_uring this is the path whose receives and sends
//! go through the ring.

use std::rc::Rc;
use std::task::Poll;

use ptk::{
    protothread, BackendKind, Capacities, Cx, Error, Handle, PooledFrameReader, Pt, TcpStream,
};
use ptk_bench::{Meter, ServerOptions};

use crate::acceptor::{self, Echo, SharedMeter};

/// Frame buffer: the largest frame `--max-frame` allows here, plus its header.
const BUF: usize = 1024 + ptk::HEADER_LEN;

struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: PooledFrameReader,
    handed: bool,
    meter: SharedMeter,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            pt: Pt::default(),
            stream: None,
            reader: PooledFrameReader::new(BUF - ptk::HEADER_LEN),
            handed: false,
            meter: SharedMeter::default(),
        }
    }
}

impl Conn {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(s) => self.reader.poll_frame(cx, s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Hands the frame to the send in the buffer it arrived in, then waits until it is sent.
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        let Some(stream) = self.stream else {
            return Poll::Ready(Err(Error::InvalidHandle));
        };
        if !self.handed {
            match self.reader.send_frame(cx) {
                Ok(()) => self.handed = true,
                Err(Error::OutOfResources(_)) => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let sent = cx.poll_sent(stream);
        if sent.is_ready() {
            self.handed = false;
        }
        sent
    }
}

impl Echo for Conn {
    fn begin(&mut self, stream: Handle<TcpStream>, meter: &SharedMeter) {
        self.stream = Some(stream);
        self.reader = PooledFrameReader::new(BUF - ptk::HEADER_LEN);
        self.handed = false;
        self.meter = Rc::clone(meter);
    }
}

#[protothread]
fn echo(ctx: &mut Conn, cx: &mut Cx<'_>) -> Result<(), Error> {
    let ended: Result<(), Error> = loop {
        let frame = pt_await!(ctx.poll_frame(cx));
        match frame {
            Ok(Some(_)) => {}
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        let echoed = pt_await!(ctx.poll_echo(cx));
        if let Err(e) = echoed {
            break Err(e);
        }
        acceptor::count(&ctx.meter, cx);
    };
    if let Some(stream) = ctx.stream.take() {
        let _ = cx.close(stream.raw());
    }
    ended
}

/// Serves until `o.messages` frames were echoed.
pub fn serve(o: &ServerOptions, backend: BackendKind) -> Result<Meter, Error> {
    if o.max_frame + ptk::HEADER_LEN > BUF {
        return Err(Error::InvalidArgument);
    }
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections,
        timers: 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        // A buffer holds any frame; one per connection is in use at a time (its receive buffer,
        // then the same chunk on its way out), twice that leaves room for frames behind it.
        // On io_uring's multishot receives the loop also lends free chunks to the kernel
        // ahead of the data (at most half the free ones): twice as many again keeps one lent
        // per connection, so a burst from every connection at once never finds the kernel's
        // ring dry (`ENOBUFS` ends a receive, which the next read must arm again).
        buffers: 4 * o.max_connections,
        buffer_size: BUF,
        large_buffers: 0,
        large_buffer_size: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
    };
    acceptor::serve::<Conn>(o, backend, capacities)
}
