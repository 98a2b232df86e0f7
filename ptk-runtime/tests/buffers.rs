//! The loop's buffer pool: allocation by class, exhaustion, stale handles, `BufMut`,
//! splitting, the counters, a model-based property test, and the socket operations that lend
//! and hand over pool buffers (`read_buf`, `read_more`, `send_buf`, `poll_sent`), with the
//! pauses of reads when the pool or a stream's cap is reached, and the pooled frame reader
//! and writer. Loopback only, every wait bounded.

mod common;
mod framed_clients;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use common::{run_until, wait_for};
use framed_clients::{frame, read_frame};
use proptest::prelude::*;
use ptk_runtime::{
    BackendKind, Buffer, BufferStats, Capacities, Capacity, Config, Cx, Error, Event, EventLoop,
    Handle, ListenOptions, OwnedStorage, PooledFrameReader, PooledFrameWriter, Protothread, Pt,
    RawHandle, ResourceType, Shutdown, Site, Step, TcpStream, Trigger, HEADER_LEN,
};

const WAIT: Duration = Duration::from_secs(10);
const SMALL: usize = 64;
const LARGE: usize = 256;
const SMALLS: usize = 4;
const LARGES: usize = 2;

/// The default capacities but for the pool: `buffers` buffers of `size` bytes and `large`
/// of `large_size`.
fn capacities(buffers: usize, size: usize, large: usize, large_size: usize) -> Capacities {
    Capacities {
        buffers,
        buffer_size: size,
        large_buffers: large,
        large_buffer_size: large_size,
        ..Capacities::default()
    }
}

/// Memory for a loop of [`capacities`].
fn pool(buffers: usize, size: usize, large: usize, large_size: usize) -> OwnedStorage {
    OwnedStorage::new(capacities(buffers, size, large, large_size))
}

/// A loop with a small pool: 4 buffers of 64 bytes and 2 of 256.
fn small_pool() -> OwnedStorage {
    pool(SMALLS, SMALL, LARGES, LARGE)
}

/// The default config but for how many buffers a stream may hold.
fn cap(buffers_per_stream: usize) -> Config {
    Config {
        buffers_per_stream,
        ..Config::default()
    }
}

/// A loop over `memory`. These tests count buffers exactly as reads use them one receive at
/// a time; multishot receives on io_uring (which lend free buffers to the kernel and bring
/// data in buffer-sized pieces) have tests of their own (`ring_multishot.rs`).
fn new_loop<A: 'static>(memory: &mut OwnedStorage, config: Config, app: A) -> EventLoop<'_, A> {
    let config = Config {
        multishot_receive: false,
        ..config
    };
    EventLoop::new(memory.storage(), config, app).unwrap()
}

/// (reads paused for the pool so far, streams paused now, small buffers in use, large
/// buffers in use).
fn pauses_and_use(s: &BufferStats) -> (u64, usize, usize, usize) {
    (
        s.pool_pauses,
        s.paused_streams,
        s.small_in_use,
        s.large_in_use,
    )
}

/// What `buffer_stats` says of an idle pool of `small_pool`'s shape, but for `peak`.
fn idle(peak: usize) -> BufferStats {
    BufferStats {
        small_capacity: SMALLS,
        small_in_use: 0,
        large_capacity: LARGES,
        large_in_use: 0,
        peak_in_use: peak,
        queued: 0,
        pool_pauses: 0,
        cap_pauses: 0,
        paused_streams: 0,
        small_size: SMALL,
        large_size: LARGE,
        max_size: LARGE,
    }
}

/// Every way to use a buffer handle answers `InvalidHandle` (and nothing changes).
fn assert_stale<A: 'static>(ev: &mut EventLoop<'_, A>, b: Handle<Buffer>) {
    let before = ev.buffer_stats();
    assert_eq!(ev.buf(b), Err(Error::InvalidHandle), "{b}");
    assert_eq!(ev.buf_mut(b).err(), Some(Error::InvalidHandle), "{b}");
    assert_eq!(ev.buf_split_off(b, 0), Err(Error::InvalidHandle), "{b}");
    assert_eq!(ev.buf_clone(b), Err(Error::InvalidHandle), "{b}");
    assert_eq!(ev.buf_detach(b), Err(Error::InvalidHandle), "{b}");
    assert_eq!(ev.buf_release(b), Err(Error::InvalidHandle), "{b}");
    assert_eq!(ev.buffer_stats(), before, "a stale handle changed the pool");
}

fn filled<A: 'static>(ev: &mut EventLoop<'_, A>, capacity: usize, bytes: &[u8]) -> Handle<Buffer> {
    let b = ev.buf_alloc(capacity).unwrap();
    ev.buf_mut(b).unwrap().extend_from_slice(bytes).unwrap();
    b
}

/// Gives every buffer of `buffers` back to the pool.
fn release_all<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    buffers: impl IntoIterator<Item = Handle<Buffer>>,
) {
    for b in buffers {
        ev.buf_release(b).unwrap();
    }
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn patterned(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(pattern).collect()
}

// ---------------------------------------------------------------------------------------
// The pool on its own.
// ---------------------------------------------------------------------------------------

#[test]
fn alloc_takes_the_smallest_class_that_holds_the_capacity() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    assert_eq!(ev.buffer_stats(), idle(0));
    let classes = [
        (0, SMALL),
        (1, SMALL),
        (SMALL, SMALL),
        (SMALL + 1, LARGE),
        (LARGE, LARGE),
    ];
    let mut held = Vec::new();
    for (n, (capacity, size)) in classes.into_iter().enumerate() {
        if n == SMALLS {
            break;
        }
        let b = ev.buf_alloc(capacity).unwrap();
        assert_eq!(b.raw().resource_type(), ResourceType::Buffer);
        let v = ev.buf_mut(b).unwrap();
        assert_eq!(v.capacity(), size, "alloc({capacity})");
        assert!(v.is_empty());
        assert_eq!(v.len(), 0);
        assert_eq!(ev.buf(b), Ok(&[][..]));
        held.push(b);
    }
    let s = ev.buffer_stats();
    assert_eq!((s.small_in_use, s.large_in_use, s.peak_in_use), (3, 1, 4));
    assert_eq!(ev.in_use().buffers, 3);
    assert_eq!(ev.in_use().large_buffers, 1);
    let last = ev.buf_alloc(LARGE).unwrap();
    assert_eq!(ev.buf_mut(last).unwrap().capacity(), LARGE);
    held.push(last);
    // More than the largest class holds, whatever is free.
    assert_eq!(ev.buf_alloc(LARGE + 1), Err(Error::MessageTooLarge));
    assert_eq!(ev.last_error(), Some(Error::MessageTooLarge));
    assert_eq!(ev.buf_alloc(usize::MAX), Err(Error::MessageTooLarge));
    release_all(&mut ev, held);
    assert_eq!(ev.buffer_stats(), idle(5));
    assert_eq!(ev.in_use().buffers + ev.in_use().large_buffers, 0);
}

#[test]
fn a_pool_without_a_large_class_holds_at_most_a_small_buffer() {
    let mut memory = pool(2, 100, 0, 0);
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let s = ev.buffer_stats();
    assert_eq!((s.max_size, s.small_size, s.large_capacity), (100, 100, 0));
    assert_eq!(ev.buf_alloc(101), Err(Error::MessageTooLarge));
    let b = ev.buf_alloc(100).unwrap();
    assert_eq!(ev.buf_mut(b).unwrap().capacity(), 100);
}

#[test]
fn each_exhausted_class_is_out_of_resources_naming_it_until_a_buffer_comes_back() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let small: Vec<_> = (0..SMALLS).map(|_| ev.buf_alloc(1).unwrap()).collect();
    // The small class is empty; a small request does not spill into the large class.
    assert_eq!(
        ev.buf_alloc(1),
        Err(Error::OutOfResources(Capacity::Buffers))
    );
    assert_eq!(
        ev.last_error(),
        Some(Error::OutOfResources(Capacity::Buffers))
    );
    let large: Vec<_> = (0..LARGES)
        .map(|_| ev.buf_alloc(SMALL + 1).unwrap())
        .collect();
    assert_eq!(
        ev.buf_alloc(LARGE),
        Err(Error::OutOfResources(Capacity::LargeBuffers))
    );
    let s = ev.buffer_stats();
    assert_eq!(
        (s.small_in_use, s.large_in_use, s.peak_in_use),
        (SMALLS, LARGES, SMALLS + LARGES)
    );
    // A small buffer back: a small request succeeds, a large one still fails.
    ev.buf_release(small[2]).unwrap();
    assert_eq!(
        ev.buf_alloc(SMALL + 1),
        Err(Error::OutOfResources(Capacity::LargeBuffers))
    );
    let again = ev.buf_alloc(SMALL).unwrap();
    assert_eq!(
        ev.buf_alloc(0),
        Err(Error::OutOfResources(Capacity::Buffers))
    );
    ev.buf_release(large[0]).unwrap();
    let large_again = ev.buf_alloc(LARGE).unwrap();
    release_all(
        &mut ev,
        [small[0], small[1], small[3], again, large[1], large_again],
    );
    assert_eq!(ev.buffer_stats(), idle(SMALLS + LARGES));
}

#[test]
fn released_buffers_go_stale_and_reused_slots_do_not_revive_old_handles() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let first = filled(&mut ev, 10, b"first");
    ev.buf_release(first).unwrap();
    assert_stale(&mut ev, first);

    // Slots are reused oldest-free first: cycle until `first`'s slot is taken again.
    let mut reused = None;
    for round in 0..4 * (SMALLS + LARGES) {
        let b = filled(&mut ev, 10, format!("round {round}").as_bytes());
        assert_ne!(b, first);
        if b.raw().slot() == first.raw().slot() {
            reused = Some((b, round));
            break;
        }
        ev.buf_release(b).unwrap();
        assert_stale(&mut ev, b);
    }
    let (b, round) = reused.expect("the slot of the first buffer was never reused");
    assert_ne!(b.raw().generation(), first.raw().generation());
    assert_stale(&mut ev, first);
    assert_eq!(ev.buf(b), Ok(format!("round {round}").as_bytes()));
    ev.buf_release(b).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn a_handle_of_another_loop_or_a_forged_one_is_invalid() {
    let mut memory_a = small_pool();
    let mut memory_b = small_pool();
    let mut a = new_loop(&mut memory_a, Config::default(), ());
    let mut b = new_loop(&mut memory_b, Config::default(), ());
    let in_a = filled(&mut a, 10, b"in a");
    let in_b = filled(&mut b, 10, b"in b");
    // Same slot and generation in both pools; only the loop id tells them apart.
    assert_eq!(in_a.raw().slot(), in_b.raw().slot());
    assert_eq!(in_a.raw().generation(), in_b.raw().generation());
    assert_ne!(in_a.raw().loop_id(), in_b.raw().loop_id());
    assert_stale(&mut b, in_a);
    assert_stale(&mut a, in_b);
    assert_eq!(a.buf(in_a), Ok(&b"in a"[..]));
    assert_eq!(b.buf(in_b), Ok(&b"in b"[..]));
    // Another generation, and a slot past the pool.
    let raw = in_a.raw();
    for forged in [
        RawHandle::new(
            ResourceType::Buffer,
            raw.loop_id(),
            raw.generation() + 1,
            raw.slot(),
        ),
        RawHandle::new(ResourceType::Buffer, raw.loop_id(), 1, 1000),
    ] {
        assert_stale(&mut a, forged.typed().unwrap());
    }
    // A handle of another kind does not convert.
    let timer = RawHandle::new(ResourceType::Timer, raw.loop_id(), 1, 0);
    assert_eq!(timer.typed::<Buffer>(), Err(Error::InvalidHandle));
    assert_eq!(a.buf(in_a), Ok(&b"in a"[..]));
}

#[test]
fn bufmut_fills_trims_and_refuses_what_does_not_fit() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let b = ev.buf_alloc(SMALL).unwrap();
    let mut v = ev.buf_mut(b).unwrap();
    v.extend_from_slice(&patterned(0, 60)).unwrap();
    // Past the capacity: refused, nothing appended.
    assert_eq!(v.extend_from_slice(&[1; 5]), Err(Error::MessageTooLarge));
    assert_eq!(v.as_slice(), &patterned(0, 60)[..]);
    v.extend_from_slice(&[7; 4]).unwrap();
    assert_eq!(v.len(), SMALL);
    assert_eq!(v.extend_from_slice(&[1]), Err(Error::MessageTooLarge));
    assert_eq!(v.extend_from_slice(&[]), Ok(()));
    assert!(v.spare_mut().is_empty());
    assert_eq!(v.advance(1), Err(Error::InvalidArgument));
    assert_eq!(v.len(), SMALL);

    // Consume from the front; the room after the contents comes back by compaction.
    v.consume(10);
    assert_eq!(v.len(), 54);
    assert_eq!(&v.as_slice()[..50], &patterned(10, 50)[..]);
    assert_eq!(
        v.spare_mut().len(),
        10,
        "compacted: the room is all after the contents"
    );
    assert_eq!(&v.as_slice()[..50], &patterned(10, 50)[..]);
    v.consume(4);
    // The contents no longer end at the chunk's end: appending compacts too.
    v.extend_from_slice(&[9; 14]).unwrap();
    assert_eq!(v.len(), SMALL);
    assert_eq!(&v.as_slice()[..46], &patterned(14, 46)[..]);
    assert_eq!(&v.as_slice()[46..50], &[7; 4]);
    assert_eq!(&v.as_slice()[50..], &[9; 14]);

    // Truncate keeps a prefix; a longer length changes nothing.
    v.truncate(100);
    assert_eq!(v.len(), SMALL);
    v.truncate(20);
    assert_eq!(v.as_slice(), &patterned(14, 20)[..]);
    v.as_mut_slice()[0] = 0xAA;

    // spare_mut + advance, and an advance past the room.
    let room = v.spare_mut();
    assert_eq!(room.len(), SMALL - 20);
    room[..3].copy_from_slice(b"xyz");
    v.advance(3).unwrap();
    assert_eq!(v.advance(SMALL - 22), Err(Error::InvalidArgument));
    assert_eq!(v.len(), 23, "a refused advance adds nothing");
    v.advance(SMALL - 23).unwrap();
    assert_eq!(v.len(), SMALL);
    v.truncate(23);

    // Consuming more than there is empties it; clear too.
    let mut expected = patterned(14, 20);
    expected[0] = 0xAA;
    expected.extend_from_slice(b"xyz");
    assert_eq!(ev.buf(b), Ok(&expected[..]));
    let mut v = ev.buf_mut(b).unwrap();
    v.consume(1000);
    assert!(v.is_empty());
    assert_eq!(v.spare_mut().len(), SMALL);
    v.extend_from_slice(b"again").unwrap();
    v.clear();
    assert!(v.is_empty());
    assert_eq!(v.capacity(), SMALL);
    assert_eq!(ev.buf(b), Ok(&[][..]));
    ev.buf_release(b).unwrap();
}

#[test]
fn split_off_moves_the_tail_into_the_smallest_buffer_that_holds_it() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let big = filled(&mut ev, LARGE, &patterned(0, 200));
    // A tail of 150 bytes needs a large buffer.
    let t1 = ev.buf_split_off(big, 50).unwrap();
    assert_eq!(ev.buf(big), Ok(&patterned(0, 50)[..]));
    assert_eq!(ev.buf(t1), Ok(&patterned(50, 150)[..]));
    assert_eq!(ev.buf_mut(t1).unwrap().capacity(), LARGE);
    // A tail of 30 bytes fits a small one.
    let t2 = ev.buf_split_off(big, 20).unwrap();
    assert_eq!(ev.buf(big), Ok(&patterned(0, 20)[..]));
    assert_eq!(ev.buf(t2), Ok(&patterned(20, 30)[..]));
    assert_eq!(ev.buf_mut(t2).unwrap().capacity(), SMALL);
    // At the end: an empty tail (a small buffer); past the end: refused.
    let t3 = ev.buf_split_off(big, 20).unwrap();
    assert_eq!(ev.buf(t3), Ok(&[][..]));
    assert_eq!(ev.buf_mut(t3).unwrap().capacity(), SMALL);
    assert_eq!(ev.buf_split_off(big, 21), Err(Error::InvalidArgument));
    // At 0: everything moves.
    let t4 = ev.buf_split_off(t2, 0).unwrap();
    assert_eq!(ev.buf(t2), Ok(&[][..]));
    assert_eq!(ev.buf(t4), Ok(&patterned(20, 30)[..]));
    let s = ev.buffer_stats();
    assert_eq!((s.small_in_use, s.large_in_use), (3, 2));
    // The small class is full now (t2, t3, t4 and... one left), then exhausted.
    let last = ev.buf_alloc(1).unwrap();
    let before = ev.buffer_stats();
    assert_eq!(
        ev.buf_split_off(t4, 10),
        Err(Error::OutOfResources(Capacity::Buffers))
    );
    assert_eq!(ev.buf(t4), Ok(&patterned(20, 30)[..]), "nothing changes");
    assert_eq!(ev.buffer_stats(), before);
    // A consumed front is not part of the contents: `at` counts from the first byte left.
    ev.buf_mut(t1).unwrap().consume(100);
    ev.buf_release(t3).unwrap();
    let t5 = ev.buf_split_off(t1, 10).unwrap();
    assert_eq!(ev.buf(t1), Ok(&patterned(150, 10)[..]));
    assert_eq!(ev.buf(t5), Ok(&patterned(160, 40)[..]));
    release_all(&mut ev, [big, t1, t2, t4, t5, last]);
    assert_eq!(ev.buffer_stats(), idle(SMALLS + LARGES));
}

#[test]
fn buf_clone_copies_into_the_smallest_buffer_that_holds_the_contents() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let big = filled(&mut ev, LARGE, &patterned(0, 40));
    let copy = ev.buf_clone(big).unwrap();
    assert_eq!(ev.buf(copy), Ok(&patterned(0, 40)[..]));
    assert_eq!(
        ev.buf_mut(copy).unwrap().capacity(),
        SMALL,
        "40 bytes fit a small one"
    );
    // The copies are independent.
    ev.buf_mut(copy).unwrap().as_mut_slice()[0] = 0xFF;
    assert_eq!(ev.buf(big), Ok(&patterned(0, 40)[..]));
    ev.buf_mut(big)
        .unwrap()
        .extend_from_slice(&patterned(40, 60))
        .unwrap();
    let large_copy = ev.buf_clone(big).unwrap();
    assert_eq!(ev.buf(large_copy), Ok(&patterned(0, 100)[..]));
    assert_eq!(ev.buf_mut(large_copy).unwrap().capacity(), LARGE);
    assert_eq!(
        ev.buf_clone(big),
        Err(Error::OutOfResources(Capacity::LargeBuffers))
    );
    let empty = ev.buf_alloc(0).unwrap();
    let empty_copy = ev.buf_clone(empty).unwrap();
    assert_eq!(ev.buf(empty_copy), Ok(&[][..]));
    let s = ev.buffer_stats();
    assert_eq!((s.small_in_use, s.large_in_use), (3, 2));
    release_all(&mut ev, [big, copy, large_copy, empty, empty_copy]);
    assert_eq!(ev.buffer_stats(), idle(5));
}

#[test]
fn a_pool_without_buffers_refuses_every_allocation_as_too_large() {
    let mut memory = pool(0, 0, 0, 0);
    let mut ev = new_loop(&mut memory, Config::default(), ());
    assert_eq!(ev.buffer_stats().max_size, 0);
    assert_eq!(ev.buf_alloc(0), Err(Error::MessageTooLarge));
    assert_eq!(ev.buf_alloc(1), Err(Error::MessageTooLarge));
}

#[test]
fn a_loop_refuses_a_pool_that_does_not_fit_or_a_cap_under_two() {
    let mut memory = small_pool();
    assert_eq!(
        EventLoop::new(memory.storage(), cap(1), ()).err(),
        Some(Error::InvalidArgument)
    );
    // Classes the memory cannot hold.
    let mut memory = small_pool();
    let mut storage = memory.storage();
    storage.buffer_classes[1].count += 1;
    assert!(!storage.buffers_fit());
    assert_eq!(
        EventLoop::new(storage, Config::default(), ()).err(),
        Some(Error::InvalidArgument)
    );
    let mut memory = small_pool();
    let mut storage = memory.storage();
    storage.buffer_classes[0].size = 0;
    assert!(!storage.buffers_fit());
    assert_eq!(
        EventLoop::new(storage, Config::default(), ()).err(),
        Some(Error::InvalidArgument)
    );
}

// ---------------------------------------------------------------------------------------
// A model of the pool.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Alloc(usize),
    Extend(usize, Vec<u8>),
    Fill(usize, usize, u8),
    Consume(usize, usize),
    Truncate(usize, usize),
    Poke(usize, usize, u8),
    Split(usize, usize),
    Clone(usize),
    Release(usize),
    UseStale(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..=LARGE + 20).prop_map(Op::Alloc),
        4 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 0..=80))
            .prop_map(|(i, b)| Op::Extend(i, b)),
        2 => (any::<usize>(), 0usize..=80, any::<u8>()).prop_map(|(i, n, x)| Op::Fill(i, n, x)),
        2 => (any::<usize>(), 0usize..=100).prop_map(|(i, n)| Op::Consume(i, n)),
        1 => (any::<usize>(), 0usize..=100).prop_map(|(i, n)| Op::Truncate(i, n)),
        1 => (any::<usize>(), any::<usize>(), any::<u8>()).prop_map(|(i, k, x)| Op::Poke(i, k, x)),
        2 => (any::<usize>(), 0usize..=LARGE + 4).prop_map(|(i, at)| Op::Split(i, at)),
        1 => any::<usize>().prop_map(Op::Clone),
        3 => any::<usize>().prop_map(Op::Release),
        1 => any::<usize>().prop_map(Op::UseStale),
    ]
}

/// A live buffer of the model: its handle, contents and capacity.
struct Live {
    h: Handle<Buffer>,
    bytes: Vec<u8>,
    cap: usize,
}

/// The class a buffer for contents of `need` bytes takes, or the error.
fn model_class(need: usize, live: &[Live]) -> Result<usize, Error> {
    let (cap, count, name) = if need <= SMALL {
        (SMALL, SMALLS, Capacity::Buffers)
    } else if need <= LARGE {
        (LARGE, LARGES, Capacity::LargeBuffers)
    } else {
        return Err(Error::MessageTooLarge);
    };
    if live.iter().filter(|l| l.cap == cap).count() == count {
        Err(Error::OutOfResources(name))
    } else {
        Ok(cap)
    }
}

fn run_model(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let mut live: Vec<Live> = Vec::new();
    let mut dead: Vec<Handle<Buffer>> = Vec::new();
    let mut peak = 0;
    for op in ops {
        let pick = |i: usize, live: &Vec<Live>| (!live.is_empty()).then(|| i % live.len());
        match *op {
            Op::Alloc(size) => {
                let got = ev.buf_alloc(size);
                match model_class(size, &live) {
                    Ok(cap) => {
                        let h = got.map_err(|e| TestCaseError::fail(format!("alloc: {e}")))?;
                        prop_assert!(!live.iter().any(|l| l.h == h) && !dead.contains(&h));
                        live.push(Live {
                            h,
                            bytes: Vec::new(),
                            cap,
                        });
                    }
                    Err(e) => prop_assert_eq!(got, Err(e)),
                }
            }
            Op::Extend(i, ref bytes) => {
                let Some(k) = pick(i, &live) else { continue };
                let l = &mut live[k];
                let r = ev.buf_mut(l.h).unwrap().extend_from_slice(bytes);
                if l.bytes.len() + bytes.len() <= l.cap {
                    prop_assert_eq!(r, Ok(()));
                    l.bytes.extend_from_slice(bytes);
                } else {
                    prop_assert_eq!(r, Err(Error::MessageTooLarge));
                }
            }
            Op::Fill(i, n, x) => {
                let Some(k) = pick(i, &live) else { continue };
                let l = &mut live[k];
                let mut v = ev.buf_mut(l.h).unwrap();
                let room = v.spare_mut();
                prop_assert_eq!(room.len(), l.cap - l.bytes.len());
                let n_ok = n.min(room.len());
                room[..n_ok].fill(x);
                if n <= l.cap - l.bytes.len() {
                    prop_assert_eq!(v.advance(n), Ok(()));
                    l.bytes.extend(std::iter::repeat_n(x, n));
                } else {
                    prop_assert_eq!(v.advance(n), Err(Error::InvalidArgument));
                }
            }
            Op::Consume(i, n) => {
                let Some(k) = pick(i, &live) else { continue };
                let l = &mut live[k];
                ev.buf_mut(l.h).unwrap().consume(n);
                l.bytes.drain(..n.min(l.bytes.len()));
            }
            Op::Truncate(i, n) => {
                let Some(k) = pick(i, &live) else { continue };
                let l = &mut live[k];
                ev.buf_mut(l.h).unwrap().truncate(n);
                l.bytes.truncate(n);
            }
            Op::Poke(i, at, x) => {
                let Some(k) = pick(i, &live) else { continue };
                let l = &mut live[k];
                if l.bytes.is_empty() {
                    continue;
                }
                let at = at % l.bytes.len();
                ev.buf_mut(l.h).unwrap().as_mut_slice()[at] = x;
                l.bytes[at] = x;
            }
            Op::Split(i, at) => {
                let Some(k) = pick(i, &live) else { continue };
                let got = ev.buf_split_off(live[k].h, at);
                let len = live[k].bytes.len();
                if at > len {
                    prop_assert_eq!(got, Err(Error::InvalidArgument));
                    continue;
                }
                match model_class((len - at).max(1), &live) {
                    Ok(cap) => {
                        let h = got.map_err(|e| TestCaseError::fail(format!("split: {e}")))?;
                        let tail = live[k].bytes.split_off(at);
                        live.push(Live {
                            h,
                            bytes: tail,
                            cap,
                        });
                    }
                    Err(e) => prop_assert_eq!(got, Err(e)),
                }
            }
            Op::Clone(i) => {
                let Some(k) = pick(i, &live) else { continue };
                let got = ev.buf_clone(live[k].h);
                match model_class(live[k].bytes.len().max(1), &live) {
                    Ok(cap) => {
                        let h = got.map_err(|e| TestCaseError::fail(format!("clone: {e}")))?;
                        let bytes = live[k].bytes.clone();
                        live.push(Live { h, bytes, cap });
                    }
                    Err(e) => prop_assert_eq!(got, Err(e)),
                }
            }
            Op::Release(i) => {
                let Some(k) = pick(i, &live) else { continue };
                let l = live.swap_remove(k);
                prop_assert_eq!(ev.buf_release(l.h), Ok(()));
                dead.push(l.h);
            }
            Op::UseStale(i) => {
                if dead.is_empty() {
                    continue;
                }
                let h = dead[i % dead.len()];
                prop_assert_eq!(ev.buf(h), Err(Error::InvalidHandle));
                prop_assert_eq!(ev.buf_mut(h).err(), Some(Error::InvalidHandle));
                prop_assert_eq!(ev.buf_split_off(h, 0), Err(Error::InvalidHandle));
                prop_assert_eq!(ev.buf_clone(h), Err(Error::InvalidHandle));
                prop_assert_eq!(ev.buf_detach(h), Err(Error::InvalidHandle));
                prop_assert_eq!(ev.buf_release(h), Err(Error::InvalidHandle));
            }
        }
        peak = peak.max(live.len());
        // Every live buffer holds exactly what the model says; every dead handle is stale.
        for l in &live {
            prop_assert_eq!(ev.buf(l.h), Ok(&l.bytes[..]), "{} after {:?}", l.h, op);
            prop_assert_eq!(ev.buf_mut(l.h).unwrap().capacity(), l.cap);
        }
        for &h in &dead {
            prop_assert_eq!(ev.buf(h), Err(Error::InvalidHandle));
        }
        let s = ev.buffer_stats();
        let small = live.iter().filter(|l| l.cap == SMALL).count();
        prop_assert_eq!(
            s,
            BufferStats {
                small_in_use: small,
                large_in_use: live.len() - small,
                ..idle(peak)
            }
        );
        prop_assert_eq!(ev.in_use().buffers, small);
    }
    for l in live {
        prop_assert_eq!(ev.buf_release(l.h), Ok(()));
    }
    prop_assert_eq!(ev.buffer_stats(), idle(peak));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn the_pool_behaves_like_its_model(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(&ops)?;
    }
}

// ---------------------------------------------------------------------------------------
// Streams: helpers.
// ---------------------------------------------------------------------------------------

/// A loop stream connected over loopback to a blocking std peer (whose receive buffer is set
/// to `peer_rcvbuf` before it connects, when given): (loop side, peer side).
fn pair<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    peer_rcvbuf: Option<usize>,
) -> (Handle<TcpStream>, std::net::TcpStream) {
    let l = ev
        .tcp_listen((Ipv4Addr::LOCALHOST, 0).into(), &ListenOptions::default())
        .unwrap();
    let addr: SocketAddr = ev.local_addr(l.raw()).unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    if let Some(n) = peer_rcvbuf {
        sock.set_recv_buffer_size(n).unwrap();
    }
    sock.connect(&addr.into()).unwrap();
    let peer: std::net::TcpStream = sock.into();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.set_nodelay(true).unwrap();
    let accepted = run_until_ready(ev, "the accept", 10_000, |ev| ev.accept(l));
    ev.close(l.raw()).unwrap();
    (accepted.unwrap().0, peer)
}

/// `pair` with 4 KiB socket buffers (the peer's receive buffer, the loop side's send
/// buffer): while the peer does not read, the loop side's socket fills up soon.
fn tight_pair<A: 'static>(ev: &mut EventLoop<'_, A>) -> (Handle<TcpStream>, std::net::TcpStream) {
    let (s, peer) = pair(ev, Some(4096));
    ev.set_send_buffer_size(s.raw(), 4096).unwrap();
    (s, peer)
}

/// Runs the loop (bounded by [`WAIT`] and `max_iterations`) until `poll`, called before each
/// iteration, answers; returns the answer.
fn run_until_ready<A: 'static, T>(
    ev: &mut EventLoop<'_, A>,
    what: &str,
    max_iterations: usize,
    mut poll: impl FnMut(&mut EventLoop<'_, A>) -> Poll<T>,
) -> T {
    let mut got = None;
    run_until(ev, what, WAIT, max_iterations, |ev| {
        if let Poll::Ready(r) = poll(ev) {
            got = Some(r);
        }
        got.is_some()
    });
    got.unwrap()
}

/// Runs the loop until a `read_buf` of `s` made from outside answers.
fn read_one<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    s: Handle<TcpStream>,
) -> Result<Option<Handle<Buffer>>, Error> {
    run_until_ready(ev, "a read_buf", 10_000, |ev| ev.read_buf(s))
}

/// `read_one` that must lend a buffer.
fn read_lent<A: 'static>(ev: &mut EventLoop<'_, A>, s: Handle<TcpStream>) -> Handle<Buffer> {
    read_one(ev, s).unwrap().unwrap()
}

/// Sends `patterned(0, len)` (`len` over two small buffers) from `peer` and reads it on `s`,
/// a stream of a loop whose streams may hold two buffers, until `s` is at that cap and its
/// next read waits: the two buffers lent.
fn read_to_a_cap_of_two<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    s: Handle<TcpStream>,
    peer: &mut std::net::TcpStream,
    len: usize,
) -> [Handle<Buffer>; 2] {
    peer.write_all(&patterned(0, len)).unwrap();
    let lent = [read_lent(ev, s), read_lent(ev, s)];
    assert_eq!(ev.read_buf(s), Poll::Pending, "at its cap");
    lent
}

/// Runs the loop until `poll_sent` of `s` answers.
fn sent<A: 'static>(ev: &mut EventLoop<'_, A>, s: Handle<TcpStream>) -> Result<(), Error> {
    run_until_ready(ev, "the sends", 100_000, |ev| ev.poll_sent(s))
}

/// Runs the loop until the frame reader answers.
fn next_frame<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    s: Handle<TcpStream>,
    reader: &mut PooledFrameReader,
) -> Result<Option<usize>, Error> {
    run_until_ready(ev, "a frame", 10_000, |ev| reader.poll_frame(ev.cx(), s))
}

/// A stream of `ev` connected to a blocking peer, as `pair` makes it, and a reader for its
/// frames of up to `max_frame` bytes.
fn framed_pair<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    max_frame: usize,
) -> (Handle<TcpStream>, std::net::TcpStream, PooledFrameReader) {
    let (s, peer) = pair(ev, None);
    (s, peer, PooledFrameReader::new(max_frame))
}

/// Runs `n` iterations that find nothing to do (each waits up to `wait`).
/// Whether the loop runs on io_uring, whose message path sends and receives through the ring:
/// a handed-over buffer leaves with the next poll, not at once.
fn on_ring<A: 'static>(ev: &EventLoop<'_, A>) -> bool {
    ev.backend().running == BackendKind::IoUring
}

/// On io_uring, runs iterations (at most 100, none waiting long) until nothing is queued to
/// send: what was handed over is in the socket, as it is at once on mio.
fn sends_settled<A: 'static>(ev: &mut EventLoop<'_, A>) {
    if on_ring(ev) {
        run_until(ev, "the sends", WAIT, 100, |ev| {
            ev.buffer_stats().queued == 0
        });
    }
}

fn idle_iterations<A: 'static>(ev: &mut EventLoop<'_, A>, n: usize, wait: Duration) {
    for _ in 0..n {
        ev.run_once(Some(wait)).unwrap();
    }
}

/// Runs four iterations that may wait up to 25 ms each: (the calls they made, the time they
/// took). A loop that sleeps while nothing can go on takes at least 80 ms and calls nothing.
fn four_waiting_iterations<A: 'static>(ev: &mut EventLoop<'_, A>) -> (usize, Duration) {
    let started = Instant::now();
    let mut calls = 0;
    for _ in 0..4 {
        calls += ev.run_once(Some(Duration::from_millis(25))).unwrap();
    }
    (calls, started.elapsed())
}

/// Plain writes of 4 KiB to `s` until its socket takes no more; returns the bytes written.
fn fill_socket<A: 'static>(ev: &mut EventLoop<'_, A>, s: Handle<TcpStream>) -> usize {
    let mut written = 0;
    for _ in 0..10_000 {
        match ev.write(s, &[0; 4096]) {
            Poll::Ready(Ok(n)) => written += n,
            Poll::Ready(Err(e)) => panic!("write: {e}"),
            Poll::Pending => return written,
        }
    }
    panic!("the socket never filled up");
}

/// What the readers of the pause tests saw, shared with the test.
#[derive(Default)]
struct Log {
    /// Readers keep the buffers their reads lend (else they release them at once).
    keep: bool,
    /// Bytes read per stream, in order.
    bytes: HashMap<RawHandle, Vec<u8>>,
    /// The stream of every read that lent a buffer, in order.
    reads: Vec<RawHandle>,
    /// The buffers kept.
    kept: Vec<Handle<Buffer>>,
    /// How each stream's reading ended.
    ends: HashMap<RawHandle, Result<(), Error>>,
}

type SharedLog = Rc<RefCell<Log>>;

impl Log {
    fn received(&self, s: Handle<TcpStream>) -> &[u8] {
        self.bytes.get(&s.raw()).map_or(&[], Vec::as_slice)
    }
}

/// Reads what `stream` has into lent buffers, logging it: `Ready` once the stream ended.
fn sink(log: &RefCell<Log>, cx: &mut Cx<'_>, stream: Handle<TcpStream>) -> Poll<()> {
    for _ in 0..10_000 {
        match cx.read_buf(stream) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(Some(b))) => {
                let mut log = log.borrow_mut();
                log.reads.push(stream.raw());
                let bytes = cx.buf(b).unwrap();
                assert!(!bytes.is_empty() && bytes.len() <= SMALL);
                log.bytes
                    .entry(stream.raw())
                    .or_default()
                    .extend_from_slice(bytes);
                if log.keep {
                    log.kept.push(b);
                } else {
                    cx.buf_release(b).unwrap();
                }
            }
            Poll::Ready(end) => {
                log.borrow_mut().ends.insert(stream.raw(), end.map(|_| ()));
                return Poll::Ready(());
            }
        }
    }
    panic!("a reader that never waits");
}

/// The `Pt` accessors of a protothread written by hand: its `Pt` in field `pt`, no sites.
macro_rules! pt_accessors {
    () => {
        fn pt(&self) -> &Pt {
            &self.pt
        }
        fn pt_mut(&mut self) -> &mut Pt {
            &mut self.pt
        }
        fn sites(&self) -> &'static [Site] {
            &[]
        }
    };
}

/// `sink` as a protothread.
#[derive(Default)]
struct SinkPt {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    log: Option<SharedLog>,
}

impl Protothread for SinkPt {
    type Output = ();
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<()> {
        let (Some(stream), Some(log)) = (self.stream, &self.log) else {
            return Step::Done(());
        };
        match sink(log, cx, stream) {
            Poll::Pending => Step::Pending,
            Poll::Ready(()) => Step::Done(()),
        }
    }
    pt_accessors!();
}

/// `sink` as a readable handler (the loop's state is the log).
fn on_readable(log: &mut SharedLog, cx: &mut Cx<'_>, ev: Event) {
    let s: Handle<TcpStream> = ev.handle.typed().unwrap();
    if sink(log, cx, s).is_ready() {
        cx.remove_handler(s.raw(), Trigger::Readable);
    }
}

#[derive(Clone, Copy, Debug)]
enum Reader {
    Protothread,
    Handler,
}

/// What a loop on `small_pool` whose state is a log needs, with room for a few sink
/// protothreads.
struct Sinks {
    log: SharedLog,
    contexts: Vec<SinkPt>,
    memory: OwnedStorage,
}

impl Sinks {
    fn new(keep: bool) -> Sinks {
        Sinks {
            log: Rc::new(RefCell::new(Log {
                keep,
                ..Log::default()
            })),
            contexts: (0..8).map(|_| SinkPt::default()).collect(),
            memory: small_pool(),
        }
    }

    /// The loop, with `config`, and its pool of sink protothreads.
    fn start(&mut self, config: Config) -> (EventLoop<'_, SharedLog>, ptk_runtime::PtPool<SinkPt>) {
        let mut ev = new_loop(&mut self.memory, config, Rc::clone(&self.log));
        let pool = ev.add_protothreads(&mut self.contexts).unwrap();
        (ev, pool)
    }
}

/// Connects a peer to `ev` and starts a sink on the loop side.
fn sink_pair(
    ev: &mut EventLoop<'_, SharedLog>,
    pool: ptk_runtime::PtPool<SinkPt>,
    reader: Reader,
) -> (Handle<TcpStream>, std::net::TcpStream) {
    let (s, peer) = pair(ev, None);
    match reader {
        Reader::Protothread => {
            let log = Rc::clone(ev.app());
            ev.spawn(
                pool,
                SinkPt {
                    pt: Pt::new(),
                    stream: Some(s),
                    log: Some(log),
                },
            )
            .unwrap();
        }
        Reader::Handler => ev.set_handler(s, Trigger::Readable, on_readable).unwrap(),
    }
    // The reader runs once and waits for data.
    ev.run_once(Some(Duration::ZERO)).unwrap();
    (s, peer)
}

// ---------------------------------------------------------------------------------------
// Streams: reads that lend, sends that hand over.
// ---------------------------------------------------------------------------------------

#[test]
fn read_buf_lends_a_buffer_holding_exactly_what_the_peer_sent_and_none_at_eof() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    // Nothing sent yet: the read waits and lends nothing.
    assert_eq!(ev.read_buf(s), Poll::Pending);
    assert_eq!(ev.buffer_stats().small_in_use, 0);

    peer.write_all(b"hello").unwrap();
    let b = read_lent(&mut ev, s);
    assert_eq!(ev.buf(b), Ok(&b"hello"[..]));
    assert_eq!(
        ev.buf_mut(b).unwrap().capacity(),
        SMALL,
        "reads lend small buffers"
    );
    assert_eq!(ev.buffer_stats().small_in_use, 1);
    ev.buf_release(b).unwrap();
    assert_stale(&mut ev, b);

    // More than a small buffer holds: one read fills one buffer, the rest comes next.
    let sent = patterned(0, 150);
    peer.write_all(&sent).unwrap();
    let mut got = Vec::new();
    let mut lent = Vec::new();
    while got.len() < sent.len() {
        let b = read_lent(&mut ev, s);
        got.extend_from_slice(ev.buf(b).unwrap());
        lent.push(b);
        assert!(lent.len() <= 3);
    }
    assert_eq!(got, sent);
    assert_eq!(ev.buf(lent[0]).unwrap().len(), SMALL);
    assert_eq!(ev.buffer_stats().small_in_use, lent.len());
    release_all(&mut ev, lent);

    peer.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_one(&mut ev, s), Ok(None));
    assert_eq!(ev.read_buf(s), Poll::Ready(Ok(None)), "end-of-stream again");
    assert_eq!(ev.buffer_stats(), idle(3));
    ev.close(s.raw()).unwrap();
    assert_eq!(
        ev.read_buf(s),
        Poll::Ready(Err(Error::InvalidHandle)),
        "a closed stream"
    );
}

#[test]
fn a_buffer_handed_to_send_buf_is_sent_freed_and_no_longer_the_users() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    let b = filled(&mut ev, 10, b"to the peer");
    ev.send_buf(s, b).unwrap();
    // The socket took it all at once: freed already.
    assert_stale(&mut ev, b);
    assert_eq!(ev.send_buf(s, b), Err(Error::InvalidHandle));
    assert_eq!(sent(&mut ev, s), Ok(()));
    let mut got = [0u8; 11];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"to the peer");

    // An empty buffer is simply freed.
    let empty = ev.buf_alloc(1).unwrap();
    ev.send_buf(s, empty).unwrap();
    assert_stale(&mut ev, empty);

    // On an error the buffer stays the caller's: a closed stream.
    let (other, _other_peer) = pair(&mut ev, None);
    ev.close(other.raw()).unwrap();
    let kept = filled(&mut ev, 10, b"kept");
    assert_eq!(ev.send_buf(other, kept), Err(Error::InvalidHandle));
    assert_eq!(ev.poll_sent(other), Poll::Ready(Err(Error::InvalidHandle)));
    assert_eq!(ev.buf(kept), Ok(&b"kept"[..]));
    ev.send_buf(s, kept).unwrap();
    assert_eq!(sent(&mut ev, s), Ok(()));
    let mut got = [0u8; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"kept");
    assert_eq!(ev.buffer_stats(), idle(1), "one buffer at a time");
}

/// A pool of 4 KiB buffers for the bulk sends.
fn bulk_pool() -> OwnedStorage {
    pool(8, 4096, 0, 0)
}

/// A peer on a thread of its own that reads nothing until it is let go, then everything
/// until end-of-stream.
struct LazyReader {
    go: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u8>>,
}

impl LazyReader {
    /// Reads `peer` once let go; more than `max` bytes fail it.
    fn new(mut peer: std::net::TcpStream, max: usize) -> LazyReader {
        let go = Arc::new(AtomicBool::new(false));
        let gone = Arc::clone(&go);
        let thread = std::thread::spawn(move || {
            wait_for("the go signal", Duration::from_secs(30), || {
                gone.load(Ordering::Acquire)
            });
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = peer.read(&mut buf).unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&buf[..n]);
                assert!(got.len() <= max, "more bytes than were sent");
            }
        });
        LazyReader { go, thread }
    }

    fn go(&self) {
        self.go.store(true, Ordering::Release);
    }

    /// Lets it go, awaits the sends of `s` (its stream's other end) and half-closes `s`:
    /// what it read.
    fn finish<A: 'static>(self, ev: &mut EventLoop<'_, A>, s: Handle<TcpStream>) -> Vec<u8> {
        self.go();
        assert_eq!(sent(ev, s), Ok(()));
        ev.shutdown(s, Shutdown::Write).unwrap();
        self.thread.join().unwrap()
    }
}

/// `got` is `expected`, to the byte (compared without printing megabytes).
fn assert_same_bytes(got: &[u8], expected: &[u8]) {
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the bytes arrived changed or out of order");
}

/// [`tight_pair`] whose peer is a [`LazyReader`] of at most `max` bytes.
fn lazy_pair<A: 'static>(ev: &mut EventLoop<'_, A>, max: usize) -> (Handle<TcpStream>, LazyReader) {
    let (s, peer) = tight_pair(ev);
    (s, LazyReader::new(peer, max))
}

/// Hands 4 KiB buffers of `patterned` bytes to `s` until `queued` of them wait in its queue
/// (its socket is full): (their handles, the bytes handed over).
fn hand_over_until_queued<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    s: Handle<TcpStream>,
    queued: usize,
) -> (Vec<Handle<Buffer>>, Vec<u8>) {
    let mut handed = Vec::new();
    let mut bytes = Vec::new();
    loop {
        if on_ring(ev) {
            // The ring sends at the next poll: the queue stays only once the socket is full.
            idle_iterations(ev, 2, Duration::from_millis(5));
        }
        if ev.buffer_stats().queued >= queued {
            break;
        }
        assert!(handed.len() < 1000, "the socket never filled up");
        let chunk = patterned(handed.len() * 4096, 4096);
        let b = filled(ev, 4096, &chunk);
        ev.send_buf(s, b).unwrap();
        bytes.extend_from_slice(&chunk);
        handed.push(b);
    }
    (handed, bytes)
}

/// Hands `bytes` over in pool buffers, one 4 KiB buffer at a time, awaiting `poll_sent`
/// whenever the stream holds as many buffers as it may. The first time the cap is met, with
/// the peer still not reading, checks that the sends are really stuck, and lets the peer go.
/// Returns how many times the cap was met.
fn hand_over<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    s: Handle<TcpStream>,
    bytes: &[u8],
    go: &AtomicBool,
) -> usize {
    let per_stream = Config::default().buffers_per_stream;
    let mut cap_hits = 0;
    let mut seen_queued = false;
    for chunk in bytes.chunks(4096) {
        let b = ev.buf_alloc(chunk.len()).unwrap();
        let mut v = ev.buf_mut(b).unwrap();
        v.spare_mut()[..chunk.len()].copy_from_slice(chunk);
        v.advance(chunk.len()).unwrap();
        loop {
            match ev.send_buf(s, b) {
                Ok(()) => break,
                Err(Error::OutOfResources(Capacity::BuffersPerStream)) => {
                    cap_hits += 1;
                    assert_eq!(ev.buf(b), Ok(chunk), "a refused buffer stays the caller's");
                    if !go.load(Ordering::Acquire) {
                        // The peer reads nothing: the queue cannot move (on io_uring, once
                        // the ring's send of its front has filled the socket).
                        assert_eq!(ev.buffer_stats().queued, per_stream);
                        idle_iterations(ev, 3, Duration::from_millis(10));
                        let stuck = ev.buffer_stats().queued;
                        if !on_ring(ev) {
                            assert_eq!(stuck, per_stream);
                        }
                        assert!(stuck >= 1);
                        idle_iterations(ev, 3, Duration::from_millis(10));
                        assert_eq!(ev.poll_sent(s), Poll::Pending);
                        assert_eq!(ev.buffer_stats().queued, stuck);
                        go.store(true, Ordering::Release);
                    }
                    assert_eq!(sent(ev, s), Ok(()));
                }
                Err(e) => panic!("send_buf: {e}"),
            }
        }
        // Handed over: sent and freed, or queued; the user cannot reach it either way.
        assert_eq!(ev.buf(b), Err(Error::InvalidHandle));
        let stats = ev.buffer_stats();
        assert!(stats.queued <= per_stream);
        seen_queued |= stats.queued > 0;
    }
    assert!(seen_queued, "no buffer was ever queued");
    cap_hits
}

#[test]
fn send_buf_sends_two_mib_in_order_through_a_peer_that_does_not_read_for_a_while() {
    const LEN: usize = 2 << 20;
    let mut memory = bulk_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, reader) = lazy_pair(&mut ev, LEN);

    let bytes = patterned(0, LEN);
    let cap_hits = hand_over(&mut ev, s, &bytes, &reader.go);
    assert!(
        reader.go.load(Ordering::Acquire),
        "the stream never met its cap"
    );
    assert!(cap_hits >= 1);
    let got = reader.finish(&mut ev, s);
    assert_eq!(got.len(), LEN);
    assert_same_bytes(&got, &bytes);
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.queued), (0, 0));
    assert!(stats.peak_in_use <= Config::default().buffers_per_stream + 1);
}

#[test]
fn a_write_after_send_buf_waits_for_the_queue_and_keeps_the_order() {
    let mut memory = bulk_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, reader) = lazy_pair(&mut ev, usize::MAX);

    // Hand buffers over until one is queued: the socket is full.
    let (_, mut handed) = hand_over_until_queued(&mut ev, s, 1);
    assert_eq!(ev.write(s, b"written"), Poll::Pending);
    let mut at = 0;
    assert_eq!(ev.write_all(s, b"written", &mut at), Poll::Pending);
    assert_eq!(at, 0, "nothing written past the queue");
    idle_iterations(&mut ev, 2, Duration::from_millis(10));
    assert_eq!(ev.write(s, b"written"), Poll::Pending);

    reader.go();
    let n = run_until_ready(&mut ev, "the write", 100_000, |ev| ev.write(s, b"written"));
    let n = n.unwrap();
    assert_eq!(ev.buffer_stats().queued, 0, "the queue went first");
    handed.extend_from_slice(&b"written"[..n]);
    // Then a buffer, then a write_all: still in order.
    let b = filled(&mut ev, 10, b"+buffer");
    ev.send_buf(s, b).unwrap();
    handed.extend_from_slice(b"+buffer");
    let mut at = 0;
    run_until(&mut ev, "the write_all", WAIT, 100_000, |ev| {
        ev.write_all(s, b"+write_all", &mut at).is_ready()
    });
    assert_eq!(at, 10);
    handed.extend_from_slice(b"+write_all");
    let got = reader.finish(&mut ev, s);
    assert_same_bytes(&got, &handed);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn closing_a_stream_returns_its_lent_and_queued_buffers_to_the_pool() {
    let mut memory = pool(8, SMALL, LARGES, LARGE);
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = tight_pair(&mut ev);
    // Two buffers lent by reads.
    peer.write_all(&patterned(0, SMALL + 10)).unwrap();
    let mut lent = Vec::new();
    let mut got = 0;
    while got < SMALL + 10 {
        let b = read_lent(&mut ev, s);
        got += ev.buf(b).unwrap().len();
        lent.push(b);
    }
    assert_eq!(lent.len(), 2);
    // A full socket (plain writes), then two buffers queued behind it.
    fill_socket(&mut ev, s);
    let queued: Vec<_> = (0..2).map(|_| filled(&mut ev, 10, b"queued")).collect();
    for &b in &queued {
        ev.send_buf(s, b).unwrap();
    }
    // And one buffer of the user's own, attributed to no stream.
    let own = filled(&mut ev, 10, b"mine");
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.queued), (5, 2));
    assert_eq!(ev.poll_sent(s), Poll::Pending);

    ev.close(s.raw()).unwrap();
    if on_ring(&ev) {
        // The buffer whose send the kernel had is freed by that send's completion (it was
        // cancelled with the close), not before.
        let stats = ev.buffer_stats();
        assert_eq!((stats.small_in_use, stats.queued), (2, 0));
        run_until(&mut ev, "the cancelled send", WAIT, 100, |ev| {
            ev.buffer_stats().small_in_use == 1
        });
    }
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.queued), (1, 0));
    for b in lent.into_iter().chain(queued) {
        assert_stale(&mut ev, b);
    }
    assert_eq!(ev.buf(own), Ok(&b"mine"[..]));
    ev.buf_release(own).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(ev.in_use().tcp_streams, 0);
}

#[test]
fn a_buffer_of_another_stream_moves_to_the_send_and_a_stream_at_its_cap_refuses_more() {
    let mut memory = pool(8, SMALL, LARGES, LARGE);
    let mut ev = new_loop(&mut memory, cap(2), ());
    let (a, mut peer_a) = pair(&mut ev, None);
    let (b, mut peer_b) = tight_pair(&mut ev);
    // Stream `a` at its cap of two lent buffers; its next read pauses.
    let [a1, a2] = read_to_a_cap_of_two(&mut ev, a, &mut peer_a, 2 * SMALL + 1);
    assert_eq!(ev.buf(a1), Ok(&patterned(0, SMALL)[..]));
    assert_eq!(ev.buf(a2), Ok(&patterned(SMALL, SMALL)[..]));
    assert_eq!(ev.buffer_stats().cap_pauses, 1);
    // Relayed to `b`: off `a`'s account, so `a` reads again.
    ev.send_buf(b, a1).unwrap();
    sends_settled(&mut ev);
    let a3 = read_lent(&mut ev, a);
    assert_eq!(ev.buf(a3), Ok(&patterned(2 * SMALL, 1)[..]));
    let mut got = vec![0u8; SMALL];
    peer_b.read_exact(&mut got).unwrap();
    assert_eq!(got, patterned(0, SMALL));

    // `b` full and holding two queued buffers: at its cap, it refuses a third that is not
    // its own, which stays the caller's.
    fill_socket(&mut ev, b);
    ev.send_buf(b, a2).unwrap();
    let own = filled(&mut ev, 10, b"own");
    ev.send_buf(b, own).unwrap();
    assert_eq!(ev.buffer_stats().queued, 2);
    let third = filled(&mut ev, 10, b"third");
    assert_eq!(
        ev.send_buf(b, third),
        Err(Error::OutOfResources(Capacity::BuffersPerStream))
    );
    assert_eq!(
        ev.last_error(),
        Some(Error::OutOfResources(Capacity::BuffersPerStream))
    );
    assert_eq!(
        ev.send_buf(b, a3),
        Err(Error::OutOfResources(Capacity::BuffersPerStream)),
        "a buffer of another stream counts as new for this one"
    );
    assert_eq!(ev.buf(third), Ok(&b"third"[..]));
    assert_eq!(ev.buf(a3), Ok(&patterned(2 * SMALL, 1)[..]));
    ev.close(b.raw()).unwrap();
    for h in [a1, a2, own] {
        assert_stale(&mut ev, h);
    }
    release_all(&mut ev, [third, a3]);
    if on_ring(&ev) {
        // The front of `b`'s queue, whose send the kernel had, goes with its completion.
        assert_eq!(ev.buffer_stats().small_in_use, 1);
        run_until(&mut ev, "the cancelled send", WAIT, 100, |ev| {
            ev.buffer_stats().small_in_use == 0
        });
    }
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn a_detached_buffer_leaves_its_streams_account_and_outlives_the_stream() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, cap(2), ());
    let (s, mut peer) = pair(&mut ev, None);
    let [b1, b2] = read_to_a_cap_of_two(&mut ev, s, &mut peer, 2 * SMALL + 5);
    ev.buf_detach(b1).unwrap();
    let b3 = read_lent(&mut ev, s);
    assert_eq!(ev.buf(b3), Ok(&patterned(2 * SMALL, 5)[..]));
    // Detaching one attributed to no stream changes nothing.
    let own = ev.buf_alloc(1).unwrap();
    ev.buf_detach(own).unwrap();
    ev.buf_detach(b1).unwrap();
    ev.close(s.raw()).unwrap();
    assert_stale(&mut ev, b2);
    assert_stale(&mut ev, b3);
    assert_eq!(ev.buf(b1), Ok(&patterned(0, SMALL)[..]));
    assert_eq!(ev.buffer_stats().small_in_use, 2);
    release_all(&mut ev, [b1, own]);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

// ---------------------------------------------------------------------------------------
// Streams: pauses.
// ---------------------------------------------------------------------------------------

#[test]
fn a_stream_at_its_cap_gets_pending_until_it_releases_a_buffer() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, cap(2), ());
    let (s, mut peer) = pair(&mut ev, None);
    let [b1, b2] = read_to_a_cap_of_two(&mut ev, s, &mut peer, 3 * SMALL);
    let stats = ev.buffer_stats();
    assert_eq!(
        (
            stats.cap_pauses,
            stats.pool_pauses,
            stats.paused_streams,
            stats.small_in_use
        ),
        (1, 0, 0, 2)
    );
    // Asking again, or running the loop, changes nothing: one pause.
    assert_eq!(ev.read_buf(s), Poll::Pending);
    idle_iterations(&mut ev, 2, Duration::from_millis(5));
    assert_eq!(ev.read_buf(s), Poll::Pending);
    assert_eq!(ev.buffer_stats(), stats);
    ev.buf_release(b1).unwrap();
    let b3 = read_lent(&mut ev, s);
    let mut got = ev.buf(b2).unwrap().to_vec();
    got.extend_from_slice(ev.buf(b3).unwrap());
    assert_eq!(got, patterned(SMALL, 2 * SMALL));
    release_all(&mut ev, [b2, b3]);
    assert_eq!(ev.buffer_stats().cap_pauses, 1);
}

/// A reader keeping every buffer it is lent pauses at its stream's cap and goes on when the
/// test releases one of them.
fn a_reader_at_its_streams_cap_goes_on_when_one_of_its_buffers_is_released(reader: Reader) {
    let mut sinks = Sinks::new(true);
    let log = Rc::clone(&sinks.log);
    let (mut ev, pool) = sinks.start(cap(2));
    let (s, mut peer) = sink_pair(&mut ev, pool, reader);
    let sent = patterned(0, 3 * SMALL + 10);
    peer.write_all(&sent).unwrap();
    run_until(&mut ev, "the cap", WAIT, 10_000, |ev| {
        ev.buffer_stats().cap_pauses == 1
    });
    assert_eq!(log.borrow().kept.len(), 2);
    assert_eq!(log.borrow().received(s), &sent[..2 * SMALL]);
    idle_iterations(&mut ev, 2, Duration::from_millis(5));
    assert_eq!(log.borrow().kept.len(), 2);
    assert_eq!(ev.buffer_stats().cap_pauses, 1);

    let first = log.borrow_mut().kept.remove(0);
    ev.buf_release(first).unwrap();
    run_until(&mut ev, "the next read", WAIT, 10_000, |_| {
        log.borrow().received(s).len() == 3 * SMALL
    });
    run_until(&mut ev, "the cap again", WAIT, 10_000, |ev| {
        ev.buffer_stats().cap_pauses == 2
    });
    // Both back: it reads the rest, then waits for data (not for a buffer).
    let kept: Vec<_> = log.borrow_mut().kept.drain(..).collect();
    release_all(&mut ev, kept);
    run_until(&mut ev, "the rest", WAIT, 10_000, |_| {
        log.borrow().received(s).len() == sent.len()
    });
    assert_eq!(log.borrow().received(s), &sent[..]);
    let stats = ev.buffer_stats();
    assert_eq!(
        (stats.cap_pauses, stats.pool_pauses, stats.small_in_use),
        (2, 0, 1)
    );
    // End-of-stream ends it; closing the stream frees the buffer it still holds.
    drop(peer);
    run_until(&mut ev, "the end", WAIT, 10_000, |_| {
        log.borrow().ends.contains_key(&s.raw())
    });
    assert_eq!(log.borrow().ends[&s.raw()], Ok(()));
    ev.close(s.raw()).unwrap();
    let last = log.borrow().kept[0];
    assert_stale(&mut ev, last);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn a_protothread_at_its_streams_cap_is_woken_when_one_of_its_buffers_is_released() {
    a_reader_at_its_streams_cap_goes_on_when_one_of_its_buffers_is_released(Reader::Protothread);
}

#[test]
fn a_handler_at_its_streams_cap_is_called_again_when_one_of_its_buffers_is_released() {
    a_reader_at_its_streams_cap_goes_on_when_one_of_its_buffers_is_released(Reader::Handler);
}

/// Three streams' reads pause in turn on an empty pool; one buffer back lets them all go,
/// first paused first.
fn pool_exhaustion_pauses_reads_until_buffers_come_back(reader: Reader) {
    let mut sinks = Sinks::new(false);
    let log = Rc::clone(&sinks.log);
    let (mut ev, pool) = sinks.start(Config::default());
    let mut streams = Vec::new();
    let mut peers = Vec::new();
    for _ in 0..3 {
        let (s, peer) = sink_pair(&mut ev, pool, reader);
        streams.push(s);
        peers.push(peer);
    }
    // The test takes every small buffer.
    let taken: Vec<_> = (0..SMALLS).map(|_| ev.buf_alloc(1).unwrap()).collect();
    for (k, peer) in peers.iter_mut().enumerate() {
        peer.write_all(&[b'a' + k as u8; 10]).unwrap();
        run_until(&mut ev, "the read to pause", WAIT, 10_000, |ev| {
            ev.buffer_stats().paused_streams == k + 1
        });
    }
    let paused = ev.buffer_stats();
    assert_eq!(
        (paused.pool_pauses, paused.cap_pauses, paused.paused_streams),
        (3, 0, 3),
        "{reader:?}"
    );
    assert!(log.borrow().reads.is_empty());
    // While no buffer comes back nothing happens (large buffers are free, but reads lend
    // small ones).
    idle_iterations(&mut ev, 3, Duration::from_millis(10));
    assert_eq!(ev.buffer_stats(), paused, "{reader:?}");
    assert!(log.borrow().reads.is_empty());

    // One buffer back: each reader in turn reads and gives it back.
    ev.buf_release(taken[0]).unwrap();
    run_until(&mut ev, "every stream's data", WAIT, 10_000, |_| {
        let log = log.borrow();
        (0..3).all(|k| log.received(streams[k]).len() == 10)
    });
    {
        let log = log.borrow();
        assert_eq!(
            log.reads,
            streams.iter().map(|s| s.raw()).collect::<Vec<_>>()
        );
        for (k, &s) in streams.iter().enumerate() {
            assert_eq!(log.received(s), &[b'a' + k as u8; 10]);
        }
    }
    assert_eq!(
        pauses_and_use(&ev.buffer_stats()),
        (3, 0, SMALLS - 1, 0),
        "{reader:?}"
    );
    // With buffers free, reads go on without pausing.
    for b in &taken[1..] {
        ev.buf_release(*b).unwrap();
    }
    for (k, peer) in peers.iter_mut().enumerate() {
        peer.write_all(&[b'A' + k as u8; 5]).unwrap();
    }
    run_until(&mut ev, "more data", WAIT, 10_000, |_| {
        let log = log.borrow();
        (0..3).all(|k| log.received(streams[k]).len() == 15)
    });
    drop(peers);
    run_until(&mut ev, "the ends", WAIT, 10_000, |_| {
        log.borrow().ends.len() == 3
    });
    assert!(log.borrow().ends.values().all(|e| *e == Ok(())));
    let stats = ev.buffer_stats();
    assert_eq!((stats.pool_pauses, stats.small_in_use), (3, 0));
}

#[test]
fn pool_exhaustion_pauses_protothread_reads_until_buffers_come_back() {
    pool_exhaustion_pauses_reads_until_buffers_come_back(Reader::Protothread);
}

#[test]
fn pool_exhaustion_pauses_handler_reads_until_buffers_come_back() {
    pool_exhaustion_pauses_reads_until_buffers_come_back(Reader::Handler);
}

#[test]
fn a_read_paused_for_the_pool_lets_the_loop_sleep() {
    let mut sinks = Sinks::new(false);
    let (mut ev, pool) = sinks.start(Config::default());
    let (_s, mut peer) = sink_pair(&mut ev, pool, Reader::Protothread);
    let taken: Vec<_> = (0..SMALLS).map(|_| ev.buf_alloc(1).unwrap()).collect();
    peer.write_all(b"data").unwrap();
    run_until(&mut ev, "the pause", WAIT, 10_000, |ev| {
        ev.buffer_stats().paused_streams == 1
    });
    let (calls, took) = four_waiting_iterations(&mut ev);
    let stats = ev.buffer_stats();
    assert_eq!(
        (stats.pool_pauses, calls),
        (1, 0),
        "the paused read was retried while no small buffer was free"
    );
    assert!(
        took >= Duration::from_millis(80),
        "the loop spun ({took:?})"
    );
    drop(taken);
}

// ---------------------------------------------------------------------------------------
// Pooled framing.
// ---------------------------------------------------------------------------------------

#[test]
fn a_frame_split_across_reads_completes_in_one_buffer() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, 1000);
    assert_eq!(reader.max_frame(), 1000);
    assert!(!reader.holds_buffer());
    let f = frame(&patterned(0, 40));
    for (from, to) in [(0, 2), (2, 7), (7, 30)] {
        peer.write_all(&f[from..to]).unwrap();
        run_until(&mut ev, "the partial frame", WAIT, 10_000, |ev| {
            assert_eq!(reader.poll_frame(ev.cx(), s), Poll::Pending);
            reader.buffered(ev) == to
        });
        assert!(reader.holds_buffer());
        assert!(reader.frame(&ev).is_empty());
    }
    peer.write_all(&f[30..]).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(40)));
    assert_eq!(reader.frame(&ev), &patterned(0, 40)[..]);
    assert_eq!(reader.frame_with_header(&ev), &f[..]);
    assert_eq!(ev.buffer_stats().small_in_use, 1);
    reader.consume(&mut ev);
    assert!(!reader.holds_buffer());
    assert_eq!(reader.buffered(&ev), 0);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    // Consuming again, or with no frame, does nothing.
    reader.consume(&mut ev);
    drop(peer);
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(None));
    assert!(!reader.holds_buffer());
}

#[test]
fn pipelined_frames_come_out_one_by_one_without_more_reads() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, 100);
    let payloads = [
        patterned(0, 5),
        patterned(5, 10),
        Vec::new(),
        patterned(15, 20),
    ];
    let wire: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    assert!(wire.len() <= SMALL);
    peer.write_all(&wire).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(5)));
    assert_eq!(reader.buffered(&ev), wire.len(), "one read took them all");
    for (k, p) in payloads.iter().enumerate() {
        // Already buffered: answered at once, without the loop running.
        assert_eq!(
            reader.poll_frame(ev.cx(), s),
            Poll::Ready(Ok(Some(p.len()))),
            "frame {k}"
        );
        assert_eq!(reader.frame(&ev), &p[..]);
        // Asking again gives the same frame.
        assert_eq!(
            reader.poll_frame(ev.cx(), s),
            Poll::Ready(Ok(Some(p.len())))
        );
        reader.consume(&mut ev);
    }
    assert!(!reader.holds_buffer());
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(ev.buffer_stats().peak_in_use, 1);
}

#[test]
fn a_frame_larger_than_a_small_buffer_moves_to_a_large_one() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, LARGE - HEADER_LEN);
    let payload = patterned(3, LARGE - HEADER_LEN);
    peer.write_all(&frame(&payload)).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(payload.len())));
    assert_eq!(reader.frame(&ev), &payload[..]);
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.large_in_use), (0, 1));
    // Nothing follows it: taking it hands out the very buffer.
    let b = reader.take_frame(&mut ev).unwrap();
    assert_eq!(ev.buf(b), Ok(&frame(&payload)[..]));
    assert_eq!(ev.buf_mut(b).unwrap().capacity(), LARGE);
    assert_eq!(ev.buffer_stats(), stats);
    assert!(!reader.holds_buffer());
    ev.send_buf(s, b).unwrap();
    assert_eq!(sent(&mut ev, s), Ok(()));
    assert_eq!(read_frame(&mut peer), payload);
    assert_eq!(ev.buffer_stats().large_in_use, 0);
}

#[test]
fn a_frame_over_the_maximum_or_over_the_largest_buffer_is_too_large() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, 100);
    peer.write_all(&101u32.to_be_bytes()).unwrap();
    assert_eq!(
        next_frame(&mut ev, s, &mut reader),
        Err(Error::MessageTooLarge)
    );
    reader.release(&mut ev);
    assert!(!reader.holds_buffer());
    assert_eq!(ev.buffer_stats().small_in_use, 0);

    // The reader would take it, but no pool buffer holds it.
    let (s, mut peer, mut reader) = framed_pair(&mut ev, usize::MAX);
    assert_eq!(reader.max_frame(), u32::MAX as usize - HEADER_LEN);
    peer.write_all(&((LARGE - HEADER_LEN + 1) as u32).to_be_bytes())
        .unwrap();
    peer.write_all(&[1; 10]).unwrap();
    assert_eq!(
        next_frame(&mut ev, s, &mut reader),
        Err(Error::MessageTooLarge)
    );
    reader.release(&mut ev);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(ev.buffer_stats().large_in_use, 0);
}

#[test]
fn a_peer_closing_mid_frame_is_closed() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, 100);
    peer.write_all(&frame(&[5; 20])[..10]).unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Err(Error::Closed));
    assert!(reader.holds_buffer());
    // The stream's close frees what the reader still holds.
    ev.close(s.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_eq!(reader.buffered(&ev), 0);
    reader.release(&mut ev);
    assert!(!reader.holds_buffer());
}

#[test]
fn take_frame_hands_out_the_read_buffer_and_moves_pipelined_frames_to_a_new_one() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, 100);
    assert_eq!(reader.take_frame(&mut ev), Err(Error::InvalidArgument));

    // One frame alone: the buffer the read lent is handed out, nothing is allocated.
    peer.write_all(&frame(b"alone")).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(5)));
    let before = ev.buffer_stats();
    assert_eq!((before.small_in_use, before.peak_in_use), (1, 1));
    let alone = reader.take_frame(&mut ev).unwrap();
    assert_eq!(
        ev.buffer_stats(),
        before,
        "no buffer was made: the same one"
    );
    assert_eq!(ev.buf(alone), Ok(&frame(b"alone")[..]));
    assert!(!reader.holds_buffer());
    assert_eq!(reader.take_frame(&mut ev), Err(Error::InvalidArgument));

    // Two frames in one read: the first keeps the read's buffer, the second moves.
    let (first, second) = (patterned(0, 10), patterned(50, 20));
    let mut wire = frame(&first);
    wire.extend_from_slice(&frame(&second));
    peer.write_all(&wire).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(10)));
    assert_eq!(reader.buffered(&ev), wire.len());
    let a = reader.take_frame(&mut ev).unwrap();
    assert_eq!(ev.buf(a), Ok(&frame(&first)[..]));
    assert!(reader.holds_buffer());
    assert_eq!(reader.buffered(&ev), HEADER_LEN + second.len());
    assert_eq!(ev.buffer_stats().small_in_use, 3);
    assert_eq!(reader.poll_frame(ev.cx(), s), Poll::Ready(Ok(Some(20))));
    let before = ev.buffer_stats();
    let b = reader.take_frame(&mut ev).unwrap();
    assert_eq!(ev.buffer_stats(), before);
    assert_eq!(ev.buf(b), Ok(&frame(&second)[..]));

    // Echo all three back in order.
    for h in [alone, a, b] {
        ev.send_buf(s, h).unwrap();
    }
    assert_eq!(sent(&mut ev, s), Ok(()));
    assert_eq!(read_frame(&mut peer), b"alone");
    assert_eq!(read_frame(&mut peer), first);
    assert_eq!(read_frame(&mut peer), second);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn take_frame_without_a_buffer_for_the_rest_changes_nothing() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, 100);
    let mut wire = frame(b"one");
    wire.extend_from_slice(&frame(b"two"));
    peer.write_all(&wire).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(3)));
    let taken: Vec<_> = (0..SMALLS - 1).map(|_| ev.buf_alloc(1).unwrap()).collect();
    assert_eq!(
        reader.take_frame(&mut ev),
        Err(Error::OutOfResources(Capacity::Buffers))
    );
    assert_eq!(reader.frame(&ev), b"one");
    assert_eq!(reader.buffered(&ev), wire.len());
    reader.consume(&mut ev);
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(3)));
    assert_eq!(reader.frame(&ev), b"two");
    let two = reader.take_frame(&mut ev).unwrap();
    assert_eq!(ev.buf(two), Ok(&frame(b"two")[..]));
    release_all(&mut ev, taken.into_iter().chain([two]));
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn pooled_frame_writer_packs_frames_into_one_buffer_and_flushes_them() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    let mut writer = PooledFrameWriter::new();
    assert!(writer.is_empty());
    assert_eq!(ev.cx().buffer_stats().small_in_use, 0);
    let payloads = [patterned(0, 10), patterned(1, 20), patterned(2, 20)];
    for p in &payloads {
        writer.push(&mut ev, s, p).unwrap();
    }
    assert!(!writer.is_empty());
    assert_eq!(ev.buffer_stats().small_in_use, 1, "all three in one buffer");
    // 62 bytes in a 64-byte buffer: no room for another frame, even an empty one.
    assert_eq!(writer.push(&mut ev, s, &[]), Err(Error::WouldBlock));
    let flushed = run_until_ready(&mut ev, "the flush", 10_000, |ev| {
        writer.poll_flush(ev.cx(), s)
    });
    assert_eq!(flushed, Ok(()));
    assert!(writer.is_empty());
    for p in &payloads {
        assert_eq!(&read_frame(&mut peer), p);
    }
    // A frame that needs a large buffer; one that no buffer holds.
    writer.push(&mut ev, s, &patterned(9, 100)).unwrap();
    assert_eq!(ev.buffer_stats().large_in_use, 1);
    writer.release(&mut ev);
    assert!(writer.is_empty());
    assert_eq!(
        writer.push(&mut ev, s, &vec![0; LARGE - HEADER_LEN + 1]),
        Err(Error::MessageTooLarge)
    );
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.large_in_use), (0, 0));
    // A buffer being built counts towards its stream: closing the stream gives it back.
    writer.push(&mut ev, s, &patterned(3, 8)).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 1);
    ev.close(s.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

/// What the echo protothreads did, shared with the test.
#[derive(Default)]
struct Echoes {
    frames: usize,
    ends: Vec<Result<(), Error>>,
}

/// The pooled echo of `examples/echo_server.rs`, written by hand: read a frame, hand the
/// buffer it came in to the send, wait until it is sent.
struct EchoPt {
    pt: Pt,
    stream: Option<Handle<TcpStream>>,
    reader: PooledFrameReader,
    sending: bool,
    seen: Option<Rc<RefCell<Echoes>>>,
}

impl EchoPt {
    fn new() -> EchoPt {
        EchoPt {
            pt: Pt::new(),
            stream: None,
            reader: PooledFrameReader::new(LARGE - HEADER_LEN),
            sending: false,
            seen: None,
        }
    }

    fn step(&mut self, cx: &mut Cx<'_>, s: Handle<TcpStream>) -> Poll<Result<(), Error>> {
        loop {
            if self.sending {
                match cx.poll_sent(s) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => r?,
                }
                self.sending = false;
                if let Some(seen) = &self.seen {
                    seen.borrow_mut().frames += 1;
                }
            }
            match self.reader.poll_frame(cx, s) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(None)) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(Some(_))) => {
                    let f = self.reader.take_frame(cx)?;
                    cx.send_buf(s, f)?;
                    self.sending = true;
                }
            }
        }
    }
}

impl Protothread for EchoPt {
    type Output = Result<(), Error>;
    fn resume(&mut self, cx: &mut Cx<'_>) -> Step<Result<(), Error>> {
        let Some(s) = self.stream else {
            return Step::Done(Err(Error::InvalidHandle));
        };
        match self.step(cx, s) {
            Poll::Pending => Step::Pending,
            Poll::Ready(end) => {
                self.reader.release(cx);
                let _ = cx.close(s.raw());
                if let Some(seen) = &self.seen {
                    seen.borrow_mut().ends.push(end);
                }
                Step::Done(end)
            }
        }
    }
    pt_accessors!();
}

#[test]
fn a_partial_frame_waiting_for_a_large_buffer_goes_on_when_one_comes_back() {
    let seen = Rc::new(RefCell::new(Echoes::default()));
    let mut contexts: Vec<EchoPt> = (0..2).map(|_| EchoPt::new()).collect();
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let pool = ev.add_protothreads(&mut contexts).unwrap();
    let (s, mut peer) = pair(&mut ev, None);
    ev.cx()
        .spawn_with(pool, |c: &mut EchoPt| {
            c.stream = Some(s);
            c.seen = Some(Rc::clone(&seen));
        })
        .unwrap();
    let large: Vec<_> = (0..LARGES).map(|_| ev.buf_alloc(LARGE).unwrap()).collect();
    let payload = patterned(7, 200);
    peer.write_all(&frame(&payload)).unwrap();
    run_until(&mut ev, "the pause", WAIT, 10_000, |ev| {
        ev.buffer_stats().paused_streams == 1
    });
    let paused = ev.buffer_stats();
    assert_eq!(
        (paused.pool_pauses, paused.small_in_use, paused.large_in_use),
        (1, 1, LARGES)
    );
    // Small buffers are free, but the frame needs a large one: nothing happens meanwhile.
    let (calls, took) = four_waiting_iterations(&mut ev);
    assert_eq!(ev.buffer_stats(), paused);
    assert_eq!(
        calls, 0,
        "the paused read was retried while no large buffer was free"
    );
    assert!(took >= Duration::from_millis(80), "the loop spun");

    ev.buf_release(large[0]).unwrap();
    run_until(&mut ev, "the echo", WAIT, 10_000, |_| {
        seen.borrow().frames == 1
    });
    assert_eq!(read_frame(&mut peer), payload);
    assert_eq!(pauses_and_use(&ev.buffer_stats()), (1, 0, 0, 1));
    drop(peer);
    run_until(&mut ev, "the end", WAIT, 10_000, |_| {
        seen.borrow().ends.len() == 1
    });
    assert_eq!(seen.borrow().ends[0], Ok(()));
    ev.buf_release(large[1]).unwrap();
    assert_eq!(ev.buffer_stats().large_in_use, 0);
}

#[test]
fn an_emptied_buffer_handed_back_is_freed_and_lets_a_reader_paused_at_its_cap_go_on() {
    let mut sinks = Sinks::new(true);
    let log = Rc::clone(&sinks.log);
    let (mut ev, pool) = sinks.start(cap(2));
    let (s, peer) = sink_pair(&mut ev, pool, Reader::Protothread);
    ev.set_send_buffer_size(s.raw(), 4096).unwrap();
    let mut writer = peer.try_clone().unwrap();
    let reader = LazyReader::new(peer, usize::MAX);
    writer.write_all(&patterned(0, 3 * SMALL)).unwrap();
    run_until(&mut ev, "the cap", WAIT, 10_000, |ev| {
        ev.buffer_stats().cap_pauses == 1
    });
    // A full socket: what is handed over now cannot be sent at once.
    let junk_sent = fill_socket(&mut ev, s);
    let first = log.borrow_mut().kept.remove(0);
    ev.buf_mut(first).unwrap().clear();
    ev.send_buf(s, first).unwrap();
    assert_stale(&mut ev, first);
    let stats = ev.buffer_stats();
    assert_eq!(
        (stats.small_in_use, stats.queued),
        (1, 0),
        "an empty buffer is freed, not queued"
    );
    // The stream holds one buffer now: its reader reads the rest.
    run_until(&mut ev, "the next read", WAIT, 10_000, |_| {
        log.borrow().received(s).len() == 3 * SMALL
    });
    // Sends behind it go through (once the stream is under its cap).
    let kept: Vec<_> = log.borrow_mut().kept.drain(..).collect();
    release_all(&mut ev, kept);
    let after = filled(&mut ev, 10, b"after");
    ev.send_buf(s, after).unwrap();
    let got = reader.finish(&mut ev, s);
    assert_eq!(got.len(), junk_sent + 5);
    assert_eq!(&got[junk_sent..], b"after");
}

#[test]
fn an_empty_buffer_queued_behind_others_does_not_break_the_sends() {
    let mut memory = bulk_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, reader) = lazy_pair(&mut ev, usize::MAX);
    let (_, mut handed) = hand_over_until_queued(&mut ev, s, 1);
    let empty = ev.buf_alloc(1).unwrap();
    ev.send_buf(s, empty).unwrap();
    assert_stale(&mut ev, empty);
    let last = filled(&mut ev, 10, b"last");
    ev.send_buf(s, last).unwrap();
    handed.extend_from_slice(b"last");
    let got = reader.finish(&mut ev, s);
    assert_same_bytes(&got, &handed);
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn closing_a_paused_stream_takes_it_out_of_the_pool_queue() {
    let mut sinks = Sinks::new(false);
    let log = Rc::clone(&sinks.log);
    let (mut ev, pool) = sinks.start(Config::default());
    let (a, mut peer_a) = sink_pair(&mut ev, pool, Reader::Protothread);
    let (b, mut peer_b) = sink_pair(&mut ev, pool, Reader::Protothread);
    let taken: Vec<_> = (0..SMALLS).map(|_| ev.buf_alloc(1).unwrap()).collect();
    for (k, peer) in [&mut peer_a, &mut peer_b].into_iter().enumerate() {
        peer.write_all(b"data").unwrap();
        run_until(&mut ev, "the pause", WAIT, 10_000, |ev| {
            ev.buffer_stats().paused_streams == k + 1
        });
    }
    ev.close(a.raw()).unwrap();
    assert_eq!(ev.buffer_stats().paused_streams, 1);
    // Its reader is told the stream is gone.
    run_until(
        &mut ev,
        "the reader of the closed stream",
        WAIT,
        10_000,
        |_| log.borrow().ends.contains_key(&a.raw()),
    );
    assert_eq!(log.borrow().ends[&a.raw()], Err(Error::InvalidHandle));
    ev.buf_release(taken[0]).unwrap();
    run_until(&mut ev, "the other stream's data", WAIT, 10_000, |_| {
        log.borrow().received(b) == b"data"
    });
    let stats = ev.buffer_stats();
    assert_eq!((stats.paused_streams, stats.pool_pauses), (0, 2));
    assert!(log.borrow().received(a).is_empty());
}

#[test]
fn a_failed_queued_send_frees_the_queue_and_is_reported_once() {
    let mut memory = bulk_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, peer) = tight_pair(&mut ev);
    let (handed, _) = hand_over_until_queued(&mut ev, s, 2);
    // The peer resets the connection with data unread.
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
    let failed = run_until_ready(&mut ev, "the failed send", 10_000, |ev| ev.poll_sent(s));
    assert_eq!(failed, Err(Error::ConnectionReset));
    let stats = ev.buffer_stats();
    assert_eq!((stats.queued, stats.small_in_use), (0, 0));
    for b in handed {
        assert_stale(&mut ev, b);
    }
    assert_eq!(ev.poll_sent(s), Poll::Ready(Ok(())), "reported once");
    ev.close(s.raw()).unwrap();
}

#[test]
fn growing_the_storage_keeps_every_buffer_and_its_handle() {
    let mut larger = OwnedStorage::new(Capacities {
        tcp_streams: 512,
        ..capacities(SMALLS, SMALL, LARGES, LARGE)
    });
    let mut other_classes = OwnedStorage::new(Capacities {
        tcp_streams: 512,
        ..capacities(SMALLS + 1, SMALL, LARGES, LARGE)
    });
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let small = filled(&mut ev, 10, &patterned(0, 50));
    ev.buf_mut(small).unwrap().consume(5);
    let large = filled(&mut ev, LARGE, &patterned(1, 200));
    let gone = filled(&mut ev, 1, b"gone");
    ev.buf_release(gone).unwrap();
    assert_eq!(
        ev.grow(other_classes.storage()).err(),
        Some(Error::InvalidArgument),
        "the classes cannot change"
    );
    let _old = ev.grow(larger.storage()).unwrap();
    assert_eq!(ev.capacities().tcp_streams, 512);
    assert_eq!(ev.buf(small), Ok(&patterned(5, 45)[..]));
    assert_eq!(ev.buf(large), Ok(&patterned(1, 200)[..]));
    assert_stale(&mut ev, gone);
    let s = ev.buffer_stats();
    assert_eq!((s.small_in_use, s.large_in_use, s.peak_in_use), (1, 1, 3));
    let more: Vec<_> = (0..SMALLS - 1).map(|_| ev.buf_alloc(1).unwrap()).collect();
    assert_eq!(
        ev.buf_alloc(1),
        Err(Error::OutOfResources(Capacity::Buffers))
    );
    release_all(&mut ev, more.into_iter().chain([small, large]));
    assert_eq!(ev.buffer_stats(), idle(SMALLS + 1));
}

#[test]
fn a_pool_without_small_buffers_lends_large_ones_and_a_pool_without_buffers_refuses_reads() {
    let mut memory = pool(0, 0, 2, LARGE);
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    peer.write_all(b"large").unwrap();
    let b = read_lent(&mut ev, s);
    assert_eq!(ev.buf(b), Ok(&b"large"[..]));
    assert_eq!(ev.buffer_stats().large_in_use, 1);
    ev.buf_release(b).unwrap();
    drop(ev);

    let mut none = pool(0, 0, 0, 0);
    let mut ev = new_loop(&mut none, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    peer.write_all(b"x").unwrap();
    let refused = run_until_ready(&mut ev, "the refusal", 10_000, |ev| ev.read_buf(s));
    assert_eq!(
        refused,
        Err(Error::OutOfResources(ptk_runtime::Capacity::Buffers))
    );
    assert_eq!(ev.buffer_stats().pool_pauses, 0);
}

#[test]
fn a_frame_reader_whose_stream_closed_reports_its_buffer_gone_and_forgets_it() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer, mut reader) = framed_pair(&mut ev, LARGE);
    peer.write_all(&frame(b"hello")).unwrap();
    assert_eq!(next_frame(&mut ev, s, &mut reader), Ok(Some(5)));
    ev.close(s.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    // The frame went with its stream: the reader says so, and keeps nothing of it.
    assert_eq!(reader.frame(ev.cx()), b"");
    assert_eq!(
        reader.poll_frame(ev.cx(), s),
        Poll::Ready(Err(Error::InvalidHandle))
    );
    assert!(!reader.holds_buffer());
    assert_eq!(reader.take_frame(ev.cx()), Err(Error::InvalidArgument));
    // Used on another stream, it starts afresh.
    let (other, mut peer2) = pair(&mut ev, None);
    peer2.write_all(&frame(b"again")).unwrap();
    assert_eq!(next_frame(&mut ev, other, &mut reader), Ok(Some(5)));
    assert_eq!(reader.frame(ev.cx()), b"again");
}

// ---------------------------------------------------------------------------------------
// The stream's receive buffer.
// ---------------------------------------------------------------------------------------

/// Runs the loop until `rx_read(s, need)` answers.
fn rx_one<A: 'static>(
    ev: &mut EventLoop<'_, A>,
    s: Handle<TcpStream>,
    need: usize,
) -> Result<usize, Error> {
    run_until_ready(ev, "an rx_read", 10_000, |ev| ev.rx_read(s, need))
}

#[test]
fn rx_read_fills_the_streams_receive_buffer_which_goes_back_once_consumed() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    assert_eq!(ev.rx(s), Ok(&b""[..]));
    assert_eq!(ev.rx_read(s, 1), Poll::Pending, "nothing sent yet");
    // A new stream may be readable, so on io_uring a receive goes into the kernel, into a
    // buffer it holds until something comes; otherwise no buffer is kept over a wait.
    assert_eq!(
        ev.buffer_stats().small_in_use,
        usize::from(on_ring(&ev)),
        "no buffer kept over a wait"
    );

    peer.write_all(b"abc").unwrap();
    assert_eq!(rx_one(&mut ev, s, 1), Ok(3));
    assert_eq!(ev.rx(s), Ok(&b"abc"[..]));
    assert_eq!(ev.buffer_stats().small_in_use, 1);
    peer.write_all(b"de").unwrap();
    assert_eq!(rx_one(&mut ev, s, 1), Ok(2));
    assert_eq!(ev.rx(s), Ok(&b"abcde"[..]), "appended behind the contents");
    ev.rx_consume(s, 2).unwrap();
    assert_eq!(ev.rx(s), Ok(&b"cde"[..]));
    assert_eq!(ev.buffer_stats().small_in_use, 1);
    ev.rx_consume(s, 3).unwrap();
    assert_eq!(ev.rx(s), Ok(&b""[..]));
    assert_eq!(ev.buffer_stats().small_in_use, 0, "given back once empty");

    // More than a small buffer holds: the contents move to a large one.
    let big = patterned(0, SMALL + 40);
    peer.write_all(&big).unwrap();
    let mut got = 0;
    while got < big.len() {
        got += rx_one(&mut ev, s, big.len()).unwrap();
    }
    assert_eq!(ev.rx(s), Ok(&big[..]));
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.large_in_use), (0, 1));
    assert_eq!(
        ev.rx_read(s, LARGE + 1),
        Poll::Ready(Err(Error::MessageTooLarge))
    );

    // Closing the stream gives the receive buffer back.
    ev.close(s.raw()).unwrap();
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.large_in_use), (0, 0));
    assert_eq!(ev.rx(s), Err(Error::InvalidHandle));
    assert_eq!(ev.rx_consume(s, 1), Err(Error::InvalidHandle));

    // End-of-stream.
    let (s, peer) = pair(&mut ev, None);
    drop(peer);
    assert_eq!(rx_one(&mut ev, s, 1), Ok(0));
    assert_eq!(ev.buffer_stats().small_in_use, 0);
}

#[test]
fn rx_send_echoes_in_place_and_keeps_what_follows() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    peer.write_all(b"hello world").unwrap();
    let mut got = 0;
    while got < 11 {
        got += rx_one(&mut ev, s, 11).unwrap();
    }
    assert_eq!(
        ev.rx_send(s, 12),
        Err(Error::InvalidArgument),
        "more than it holds"
    );
    assert_eq!(ev.rx_send(s, 0), Ok(()));
    assert_eq!(ev.rx(s), Ok(&b"hello world"[..]));
    ev.rx_send(s, 6).unwrap();
    assert_eq!(ev.rx(s), Ok(&b"world"[..]), "what follows stays");
    ev.rx_send(s, 5).unwrap();
    assert_eq!(sent(&mut ev, s), Ok(()));
    assert_eq!(ev.rx(s), Ok(&b""[..]));
    let mut echo = [0u8; 11];
    peer.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"hello world");
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.queued), (0, 0));
}

#[test]
fn rx_send_through_a_full_socket_is_queued_in_order_with_other_sends() {
    let mut memory = bulk_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, peer) = tight_pair(&mut ev);
    let mut writer = peer.try_clone().unwrap();
    let reader = LazyReader::new(peer, usize::MAX);
    let (_, mut expected) = hand_over_until_queued(&mut ev, s, 1);
    // Bytes the peer sends, echoed in place behind what is queued.
    let echo = patterned(7, 1000);
    writer.write_all(&echo).unwrap();
    let mut got = 0;
    while got < echo.len() {
        got += rx_one(&mut ev, s, echo.len()).unwrap();
    }
    let queued = ev.buffer_stats().queued;
    ev.rx_send(s, echo.len()).unwrap();
    assert_eq!(
        ev.buffer_stats().queued,
        queued + 1,
        "queued behind, in its own buffer"
    );
    assert_eq!(ev.rx(s), Ok(&b""[..]));
    expected.extend_from_slice(&echo);
    // Then a buffer handed over: behind both.
    let last = patterned(99, 100);
    let b = filled(&mut ev, 100, &last);
    ev.send_buf(s, b).unwrap();
    expected.extend_from_slice(&last);
    assert_same_bytes(&reader.finish(&mut ev, s), &expected);
    let stats = ev.buffer_stats();
    assert_eq!((stats.small_in_use, stats.queued), (0, 0));
}

#[test]
fn rx_take_hands_out_the_receive_buffer_itself_and_moves_what_follows() {
    let mut memory = small_pool();
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    peer.write_all(b"frame+rest").unwrap();
    let mut got = 0;
    while got < 10 {
        got += rx_one(&mut ev, s, 10).unwrap();
    }
    assert_eq!(ev.rx_take(s, 0), Err(Error::InvalidArgument));
    let frame = ev.rx_take(s, 5).unwrap();
    assert_eq!(ev.buf(frame), Ok(&b"frame"[..]));
    assert_eq!(ev.rx(s), Ok(&b"+rest"[..]));
    assert_eq!(ev.buffer_stats().small_in_use, 2);
    let rest = ev.rx_take(s, 5).unwrap();
    assert_eq!(ev.buf(rest), Ok(&b"+rest"[..]));
    assert_eq!(
        ev.buffer_stats().small_in_use,
        2,
        "the receive buffer itself"
    );
    // Both count towards the stream: its close gives them back.
    ev.close(s.raw()).unwrap();
    assert_eq!(ev.buffer_stats().small_in_use, 0);
    assert_stale(&mut ev, frame);
    assert_stale(&mut ev, rest);
}

#[test]
fn rx_read_pauses_while_the_pool_is_empty_and_goes_on_once_a_buffer_is_free() {
    let mut memory = pool(1, SMALL, 0, 0);
    let mut ev = new_loop(&mut memory, Config::default(), ());
    let (s, mut peer) = pair(&mut ev, None);
    let held = ev.buf_alloc(1).unwrap();
    peer.write_all(b"waiting").unwrap();
    idle_iterations(&mut ev, 2, Duration::from_millis(5));
    assert_eq!(ev.rx_read(s, 1), Poll::Pending);
    let stats = ev.buffer_stats();
    assert_eq!((stats.pool_pauses, stats.paused_streams), (1, 1));
    ev.buf_release(held).unwrap();
    assert_eq!(rx_one(&mut ev, s, 1), Ok(7));
    assert_eq!(ev.rx(s), Ok(&b"waiting"[..]));
    assert_eq!(ev.buffer_stats().paused_streams, 0);
}
