//! Protothreads written with `#[protothread]` on the mio loop, sharing counting semaphores:
//! between protothreads, and signalled from another thread.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use common::{new_memory, run_until};
use ptk::{
    protothread, Config, Cx, Error, EventLoop, Handle, Outcome, Pt, PtStatus, Semaphore, Trigger,
};

const WAIT: Duration = Duration::from_secs(10);

// ----- semaphores -----

const ITEMS: u32 = 20;
const SLOTS: u32 = 3;

/// A bounded buffer between a producer and a consumer, guarded by two semaphores.
struct Buffer {
    items: VecDeque<u32>,
    most: usize,
    consumed: Vec<u32>,
}

struct Party {
    pt: Pt,
    producer: bool,
    next: u32,
    /// Units to take before touching the buffer, and units to give after.
    take: Option<Handle<Semaphore>>,
    give: Option<Handle<Semaphore>>,
    buffer: Rc<RefCell<Buffer>>,
}

impl Party {
    fn poll_take(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.take {
            Some(s) => cx.sem_wait(s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    /// The producer puts its next item in, the consumer takes the oldest out.
    fn exchange(&mut self) -> Result<(), Error> {
        let mut b = self.buffer.borrow_mut();
        if self.producer {
            b.items.push_back(self.next);
            b.most = b.most.max(b.items.len());
        } else {
            let item = b.items.pop_front().ok_or(Error::ProtocolError)?;
            b.consumed.push(item);
        }
        Ok(())
    }

    fn give(&self, cx: &mut Cx<'_>) -> Result<(), Error> {
        cx.sem_signal(self.give.ok_or(Error::InvalidHandle)?)
    }
}

#[protothread]
fn trade(ctx: &mut Party, cx: &mut Cx<'_>) -> Result<(), Error> {
    while ctx.next < ITEMS {
        pt_await!(ctx.poll_take(cx))?;
        ctx.exchange()?;
        ctx.next += 1;
        ctx.give(cx)?;
    }
    Ok(())
}

#[test]
fn a_producer_and_a_consumer_share_a_bounded_buffer_through_two_semaphores() {
    let mut memory = new_memory();
    let buffer = Rc::new(RefCell::new(Buffer {
        items: VecDeque::new(),
        most: 0,
        consumed: Vec::new(),
    }));
    let party = || Party {
        pt: Pt::new(),
        producer: false,
        next: 0,
        take: None,
        give: None,
        buffer: Rc::clone(&buffer),
    };
    let mut producers = [party()];
    let mut consumers = [party()];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let producer_pool = ev.add_protothreads(&mut producers).unwrap();
    let consumer_pool = ev.add_protothreads(&mut consumers).unwrap();
    let free = ev.sem_create(SLOTS).unwrap();
    let full = ev.sem_create(0).unwrap();
    // The consumer starts first and must wait for the first item.
    let consumer = ev
        .cx()
        .spawn_with(consumer_pool, |p: &mut Party| {
            p.take = Some(full);
            p.give = Some(free);
        })
        .unwrap();
    let producer = ev
        .cx()
        .spawn_with(producer_pool, |p: &mut Party| {
            p.producer = true;
            p.take = Some(free);
            p.give = Some(full);
        })
        .unwrap();
    run_until(&mut ev, "every item", WAIT, 100_000, |ev| {
        ev.protothreads_running() == 0
    });
    assert_eq!(
        ev.pt_status(producer),
        Ok(PtStatus::Ended(Outcome::Finished))
    );
    assert_eq!(
        ev.pt_status(consumer),
        Ok(PtStatus::Ended(Outcome::Finished))
    );
    let b = buffer.borrow();
    assert_eq!(b.consumed, (0..ITEMS).collect::<Vec<_>>());
    assert_eq!(
        b.most, SLOTS as usize,
        "the producer filled the buffer, never beyond"
    );
    assert_eq!(ev.sem_count(free), Ok(SLOTS));
    assert_eq!(ev.sem_count(full), Ok(0));
}

struct Taker {
    pt: Pt,
    sem: Option<Handle<Semaphore>>,
    taken: Rc<Cell<u32>>,
}

impl Taker {
    fn poll_take(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), Error>> {
        match self.sem {
            Some(s) => cx.sem_wait(s),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }
}

#[protothread]
fn take_three(ctx: &mut Taker, cx: &mut Cx<'_>) -> Result<(), Error> {
    while ctx.taken.get() < 3 {
        pt_await!(ctx.poll_take(cx))?;
        ctx.taken.set(ctx.taken.get() + 1);
    }
    Ok(())
}

#[test]
fn units_signalled_from_another_thread_wake_a_waiting_protothread() {
    let mut memory = new_memory();
    let taken = Rc::new(Cell::new(0));
    let mut takers = [Taker {
        pt: Pt::new(),
        sem: None,
        taken: Rc::clone(&taken),
    }];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut takers).unwrap();
    let sem = ev.sem_create(0).unwrap();
    let h = ev
        .cx()
        .spawn_with(pool, |t: &mut Taker| t.sem = Some(sem))
        .unwrap();
    ev.run_once(Some(Duration::ZERO)).unwrap();
    match ev.pt_status(h).unwrap() {
        PtStatus::Waiting {
            on: Some((on, Trigger::Available)),
            site: Some(site),
            ..
        } if on == sem.raw() => assert_eq!(site.text, "pt_await!(ctx.poll_take(..))"),
        other => panic!("unexpected status {other}"),
    }

    let remote = ev.remote();
    let signaller = std::thread::spawn(move || {
        for _ in 0..3 {
            remote.signal(sem).unwrap();
        }
    });
    run_until(&mut ev, "three units", WAIT, 10_000, |ev| {
        ev.protothreads_running() == 0
    });
    signaller.join().unwrap();
    assert_eq!(taken.get(), 3);
    assert_eq!(ev.pt_status(h), Ok(PtStatus::Ended(Outcome::Finished)));
    assert_eq!(ev.sem_count(sem), Ok(0));
}
