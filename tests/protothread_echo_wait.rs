//! An echo protothread serving a thousand frames on one connection: its wait on the stream
//! stays registered when it fires (see the module docs of the runtime's
//! `event_loop/waits.rs`), so after every frame it is back waiting on the same stream and
//! trigger at the same site, and each frame costs it exactly one resume.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use common::{connected_pair, new_memory, payload, run_until};
use ptk::{
    protothread, Config, Cx, Error, EventLoop, Handle, Outcome, Pt, PtStatus, TcpStream, Trigger,
};

const WAIT: Duration = Duration::from_secs(10);

const FRAMES: usize = 1_000;
const ECHO_BUF: usize = 64;

/// Echoes whatever it reads until end-of-stream.
struct Echo {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    buf: [u8; ECHO_BUF],
    len: usize,
    written: usize,
    /// Polls of the read: one per resume that stops there, plus one per message read.
    reads: Rc<Cell<usize>>,
    /// Messages (reads that returned data) written back whole.
    echoed: Rc<Cell<usize>>,
}

impl Echo {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<usize, Error>> {
        self.reads.set(self.reads.get() + 1);
        match self.stream {
            Some(s) => cx.read(s, &mut self.buf),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn poll_write_back(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.stream {
            Some(s) => cx.write_all(s, &self.buf[..self.len], &mut self.written),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn echo(ctx: &mut Echo, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        ctx.len = pt_await!(ctx.poll_read(cx))?;
        if ctx.len == 0 {
            return Ok(());
        }
        ctx.written = 0;
        pt_await!(ctx.poll_write_back(cx))?;
        ctx.echoed.set(ctx.echoed.get() + 1);
    }
}

#[test]
fn an_echo_protothread_waits_on_its_stream_between_every_one_of_a_thousand_frames() {
    let mut memory = new_memory();
    let (reads, echoed) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let mut echoes = [Echo {
        pt: Pt::new(),
        stream: None,
        buf: [0; ECHO_BUF],
        len: 0,
        written: 0,
        reads: Rc::clone(&reads),
        echoed: Rc::clone(&echoed),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut echoes).unwrap();
    let (stream, mut client) = connected_pair(&mut ev);
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.set_nodelay(true).unwrap();
    let h = ev
        .cx()
        .spawn_with(pool, |e: &mut Echo| e.stream = Some(stream))
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    let waiting = ev.pt_status(h).unwrap();
    let PtStatus::Waiting {
        on: Some((on, Trigger::Readable)),
        until_ms: None,
        site: Some(site),
    } = waiting
    else {
        panic!("unexpected status {waiting}");
    };
    assert_eq!(on, stream.raw());
    assert_eq!(site.text, "pt_await!(ctx.poll_read(..))");
    assert_eq!(reads.get(), 1);

    let mut back = [0u8; ECHO_BUF];
    for i in 0..FRAMES {
        // Lengths 1 to 64, contents different for every frame: one message per frame.
        let frame = payload(0, i, ECHO_BUF);
        client.write_all(&frame).unwrap();
        run_until(&mut ev, "the echo", WAIT, 10_000, |_| echoed.get() == i + 1);
        client.read_exact(&mut back[..frame.len()]).unwrap();
        assert_eq!(&back[..frame.len()], &frame[..], "frame {i}");
        // Back at its read, on the same stream and trigger, at the same site.
        assert_eq!(ev.pt_status(h), Ok(waiting), "after frame {i}");
    }
    // One resume per frame, at its event: the read that takes the frame, and the read that
    // finds nothing more and waits.
    assert_eq!(reads.get(), 1 + 2 * FRAMES);

    drop(client);
    run_until(&mut ev, "the end-of-stream", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(echoed.get(), FRAMES);
}
