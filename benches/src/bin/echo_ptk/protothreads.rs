//! The echo server as protothreads, the shape of `examples/echo_server.rs`: an acceptor and one
//! protothread per connection that reads a frame and writes it back from the read buffer.

use std::rc::Rc;
use std::task::Poll;

use ptk::{protothread, BackendKind, Capacities, Cx, Error, FrameReader, Handle, Pt, TcpStream};
use ptk_bench::{Meter, ServerOptions};

use crate::acceptor::{self, Echo, SharedMeter};

/// Frame buffer: the largest frame `--max-frame` allows here, plus its header.
const BUF: usize = 1024 + ptk::HEADER_LEN;

#[derive(Default)]
struct Conn {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: FrameReader<BUF>,
    written: usize,
    meter: SharedMeter,
}

impl Conn {
    fn poll_frame(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<usize>, Error>> {
        match self.stream {
            Some(s) => self.reader.poll_frame(cx, s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// Writes the frame at the front of the read buffer back, header included.
    fn poll_echo(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(s) => cx.write_all(s, self.reader.frame_with_header(), &mut self.written),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

impl Echo for Conn {
    fn begin(&mut self, stream: Handle<TcpStream>, meter: &SharedMeter) {
        self.stream = Some(stream);
        self.reader.clear();
        self.written = 0;
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
        ctx.written = 0;
        let echoed = pt_await!(ctx.poll_echo(cx));
        if let Err(e) = echoed {
            break Err(e);
        }
        ctx.reader.consume();
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
    acceptor::serve::<Conn>(o, backend, capacities)
}
