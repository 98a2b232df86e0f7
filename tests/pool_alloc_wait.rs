//! `Cx::poll_buf_alloc`: a buffer for a stream, waiting when the pool has none free (the
//! protothread is resumed once one is) or when the stream holds as many as it may; the buffer
//! counts towards the stream and goes back to the pool when the stream closes.

mod common;

use std::task::Poll;
use std::time::Duration;

use common::connected_pair;
use ptk::{
    protothread, Buffer, Capacities, Config, Cx, Error, EventLoop, Handle, Outcome, OwnedStorage,
    Pt, PtStatus, TcpStream,
};

const WAIT: Duration = Duration::from_millis(20);

fn pool(buffers: usize) -> OwnedStorage {
    OwnedStorage::new(Capacities {
        buffers,
        buffer_size: 64,
        large_buffers: 0,
        large_buffer_size: 0,
        ..Capacities::default()
    })
}

#[derive(Default)]
struct Builder {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    got: Option<Handle<Buffer>>,
}

impl Builder {
    fn poll_alloc(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Handle<Buffer>, Error>> {
        match self.stream {
            Some(s) => cx.poll_buf_alloc(s, 32),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

/// Waits for a buffer for its stream, keeps it, ends.
#[protothread]
fn build(ctx: &mut Builder, cx: &mut Cx<'_>) -> Result<(), Error> {
    let b = pt_await!(ctx.poll_alloc(cx))?;
    ctx.got = Some(b);
    Ok(())
}

#[test]
fn a_protothread_waiting_for_a_buffer_is_resumed_when_one_is_freed() {
    let mut memory = pool(2);
    let mut contexts = [Builder::default()];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let builders = ev.add_protothreads(&mut contexts).unwrap();
    let (stream, _peer) = connected_pair(&mut ev);
    // The test holds both buffers.
    let held = [ev.buf_alloc(16).unwrap(), ev.buf_alloc(16).unwrap()];
    let pt = ev
        .spawn_with(builders, |b: &mut Builder| b.stream = Some(stream))
        .unwrap();
    for _ in 0..3 {
        ev.run_once(Some(WAIT)).unwrap();
    }
    assert!(matches!(ev.pt_status(pt), Ok(PtStatus::Waiting { .. })));
    let stats = ev.buffer_stats();
    assert_eq!((stats.pool_pauses, stats.paused_streams), (1, 1));
    assert_eq!(stats.small_in_use, 2);

    ev.buf_release(held[0]).unwrap();
    for _ in 0..100 {
        if ev.protothreads_running() == 0 {
            break;
        }
        ev.run_once(Some(WAIT)).unwrap();
    }
    assert_eq!(ev.pt_status(pt), Ok(PtStatus::Ended(Outcome::Finished)));
    let stats = ev.buffer_stats();
    assert_eq!((stats.pool_pauses, stats.paused_streams), (1, 0));
    assert_eq!(stats.small_in_use, 2);

    // The protothread's buffer is the stream's: closing the stream gives it back.
    ev.close(stream.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 1);
    ev.buf_release(held[1]).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    drop(ev);
    let got = contexts[0].got.expect("the protothread got a buffer");
    assert_eq!(got.raw().resource_type(), ptk::ResourceType::Buffer);
}

/// An 8-byte buffer for `stream` that `poll_buf_alloc` must give at once (`Pending` fails,
/// saying `waits`).
fn alloc_now<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    stream: Handle<TcpStream>,
    waits: &str,
) -> Handle<Buffer> {
    match ev.poll_buf_alloc(stream, 8) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("{waits}"),
    }
}

#[test]
fn a_stream_at_its_cap_waits_until_one_of_its_buffers_is_freed() {
    let mut memory = pool(8);
    let config = Config {
        buffers_per_stream: 2,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let (stream, _peer) = connected_pair(&mut ev);
    let a = alloc_now(&mut ev, stream, "the first buffer waits");
    let b = alloc_now(&mut ev, stream, "the second buffer waits");
    assert!(ev.poll_buf_alloc(stream, 8).is_pending());
    assert_eq!(ev.buffer_stats().cap_pauses, 1);
    assert_eq!(ev.buf_alloc(200), Err(Error::MessageTooLarge));
    // A size no buffer holds is refused at once, even at the cap.
    assert!(matches!(
        ev.poll_buf_alloc(stream, 200),
        Poll::Ready(Err(Error::MessageTooLarge))
    ));
    ev.buf_release(a).unwrap();
    let c = alloc_now(
        &mut ev,
        stream,
        "still waiting after one of the stream's buffers was freed",
    );
    assert_eq!(ev.buffer_stats().small_in_use, 2);
    // Handing a buffer of the stream to its own send does not count twice.
    ev.buf_mut(c).unwrap().extend_from_slice(b"ok").unwrap();
    ev.send_buf(stream, c).unwrap();
    ev.close(stream.raw()).unwrap();
    if ev.backend().running == ptk::BackendKind::IoUring {
        // On io_uring the send was handed to the kernel: its buffer is freed by the send's
        // completion (the close cancelled it), with the next poll.
        assert_eq!(ev.buffer_stats().small_in_use, 1);
        for _ in 0..100 {
            if ev.buffer_stats().small_in_use == 0 {
                break;
            }
            ev.run_once(Some(Duration::from_millis(10))).unwrap();
        }
    }
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(ev.buf(b), Err(Error::InvalidHandle));
}

#[derive(Default)]
struct Reader {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
}

impl Reader {
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Result<Option<Handle<Buffer>>, Error>> {
        match self.stream {
            Some(s) => cx.read_buf(s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

/// Waits to read its stream, forever (nothing is sent).
#[protothread]
fn read_forever(ctx: &mut Reader, cx: &mut Cx<'_>) -> Result<(), Error> {
    let _ = pt_await!(ctx.poll_read(cx))?;
    Ok(())
}

#[test]
fn only_the_protothread_that_reads_a_stream_may_wait_for_a_buffer_for_it() {
    let mut memory = pool(1);
    let mut readers = [Reader::default()];
    let mut builders = [Builder::default()];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let reader_pool = ev.add_protothreads(&mut readers).unwrap();
    let builder_pool = ev.add_protothreads(&mut builders).unwrap();
    let (stream, _peer) = connected_pair(&mut ev);
    let held = ev.buf_alloc(16).unwrap();
    let reader = ev
        .spawn_with(reader_pool, |r: &mut Reader| r.stream = Some(stream))
        .unwrap();
    ev.run_once(Some(WAIT)).unwrap();
    let other = ev
        .spawn_with(builder_pool, |b: &mut Builder| b.stream = Some(stream))
        .unwrap();
    for _ in 0..5 {
        ev.run_once(Some(WAIT)).unwrap();
    }
    assert_eq!(
        ev.pt_status(other),
        Ok(PtStatus::Ended(Outcome::Failed(Error::InvalidArgument)))
    );
    assert!(matches!(ev.pt_status(reader), Ok(PtStatus::Waiting { .. })));
    ev.buf_release(held).unwrap();
}
