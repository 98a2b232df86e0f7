//! The loop's buffer pool against a model: an arbitrary sequence of allocations, reads that
//! lend a buffer, reads into a receive buffer, writes and trims through a view, splits,
//! copies, sends queued on streams and partly sent, streams that close, with live and stale
//! handles. Every buffer must keep exactly the bytes the model says (no two share memory),
//! take the class the model says, fail with `OutOfResources` exactly when its class is used
//! up; each stream's count must be what it holds; a stale handle never resolves; a closing
//! stream gives back everything it held.
#![no_main]

use std::collections::{BTreeMap, VecDeque};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ptk_runtime::fuzzing::{BufferPool, STREAMS};
use ptk_runtime::{BufferClass, BufferEntry, Capacity, Error, RawHandle};

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc(u16),
    Lend { stream: u8, len: u8 },
    Release(u16),
    Extend { buf: u16, len: u8 },
    Spare { buf: u16, len: u8, over: bool },
    Consume { buf: u16, n: u16 },
    Truncate { buf: u16, n: u16 },
    Clear(u16),
    ReadMore { buf: u16, need: u16, len: u16 },
    Split { buf: u16, at: u16 },
    Duplicate(u16),
    Detach(u16),
    Send { stream: u8, buf: u16 },
    Sent { stream: u8, n: u16 },
    Close(u8),
    RxRead { stream: u8, need: u16, len: u16 },
    RxConsume { stream: u8, n: u16 },
    RxTake { stream: u8, n: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    small: (u8, u8),
    large: (u8, u16),
    ops: Vec<Op>,
}

#[derive(Clone, Debug)]
struct Buf {
    bytes: Vec<u8>,
    class: usize,
    owner: Option<usize>,
}

struct Model {
    classes: [BufferClass; 2],
    live: BTreeMap<RawHandle, Buf>,
    queues: [VecDeque<Buf>; STREAMS],
    rx: [Option<Buf>; STREAMS],
    issued: Vec<RawHandle>,
    /// A counter whose bytes fill every write, so that each write is told apart.
    stamp: u8,
}

impl Model {
    fn class_for(&self, need: usize) -> Option<usize> {
        let [s, l] = self.classes;
        if s.count > 0 && need <= s.size {
            Some(0)
        } else if l.count > 0 && need <= l.size {
            Some(1)
        } else {
            None
        }
    }

    fn in_use(&self, class: usize) -> usize {
        let bufs = self.live.values().filter(|b| b.class == class).count();
        let queued = self
            .queues
            .iter()
            .flatten()
            .filter(|b| b.class == class)
            .count();
        let rx = self
            .rx
            .iter()
            .flatten()
            .filter(|b| b.class == class)
            .count();
        bufs + queued + rx
    }

    fn free(&self, class: usize) -> bool {
        self.in_use(class) < self.classes[class].count
    }

    /// The error for `need` bytes when the pool cannot give a buffer, if it cannot.
    fn refusal(&self, need: usize) -> Option<Error> {
        match self.class_for(need) {
            None => Some(Error::MessageTooLarge),
            Some(k) if !self.free(k) => Some(Error::OutOfResources(if k == 0 {
                Capacity::Buffers
            } else {
                Capacity::LargeBuffers
            })),
            Some(_) => None,
        }
    }

    fn held(&self, s: usize) -> usize {
        self.live.values().filter(|b| b.owner == Some(s)).count()
            + self.queues[s].len()
            + usize::from(self.rx[s].is_some())
    }

    fn pick(&self, n: u16) -> Option<RawHandle> {
        match self.issued.len() {
            0 => None,
            len => Some(self.issued[usize::from(n) % len]),
        }
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        self.stamp = self.stamp.wrapping_add(1);
        (0..len).map(|i| self.stamp.wrapping_add(i as u8)).collect()
    }

    fn add(&mut self, h: RawHandle, buf: Buf) {
        assert!(!self.issued.contains(&h), "handle {h} issued twice");
        self.issued.push(h);
        self.live.insert(h, buf);
    }
}

fn check(pool: &BufferPool<'_>, model: &Model) {
    for (&h, b) in &model.live {
        assert_eq!(pool.bytes(h), Ok(&b.bytes[..]), "contents of {h}");
        assert_eq!(pool.owner(h), Ok(b.owner.map(BufferPool::stream)));
    }
    for &h in &model.issued {
        if !model.live.contains_key(&h) {
            assert_eq!(
                pool.bytes(h),
                Err(Error::InvalidHandle),
                "stale {h} resolved"
            );
        }
    }
    for s in 0..STREAMS {
        assert_eq!(pool.held(s) as usize, model.held(s), "count of stream {s}");
        let rx = model.rx[s].as_ref().map_or(&[][..], |b| &b.bytes[..]);
        assert_eq!(pool.rx(s), rx, "receive buffer of stream {s}");
        assert_eq!(
            pool.unsent(s),
            model.queues[s].front().map(|b| &b.bytes[..])
        );
    }
    let stats = pool.stats();
    assert_eq!(stats.small_in_use, model.in_use(0), "{stats:?}");
    assert_eq!(stats.large_in_use, model.in_use(1), "{stats:?}");
    assert!(stats.small_in_use <= stats.small_capacity);
    assert!(stats.large_in_use <= stats.large_capacity);
}

fuzz_target!(|input: Input| {
    let small = BufferClass {
        count: usize::from(input.small.0 % 7),
        size: usize::from(input.small.1 % 64) + 1,
    };
    let large = BufferClass {
        count: usize::from(input.large.0 % 5),
        size: small.size + usize::from(input.large.1 % 256),
    };
    let classes = [small, large];
    let n = small.count + large.count;
    let mut entries = vec![BufferEntry::EMPTY; n];
    let mut free = vec![0u32; 2 * n];
    let mut memory = vec![0u8; small.bytes() + large.bytes()];
    let Ok(mut pool) = BufferPool::new(&mut entries, &mut free, &mut memory, classes) else {
        return;
    };
    let max = if large.count > 0 {
        large.size
    } else if small.count > 0 {
        small.size
    } else {
        0
    };
    let mut model = Model {
        classes,
        live: BTreeMap::new(),
        queues: Default::default(),
        rx: Default::default(),
        issued: Vec::new(),
        stamp: 0,
    };
    for op in input.ops.iter().take(256) {
        match *op {
            Op::Alloc(capacity) => {
                let capacity = usize::from(capacity);
                let r = pool.alloc(capacity);
                match model.refusal(capacity) {
                    Some(e) => assert_eq!(r, Err(e)),
                    None => {
                        let h = r.expect("a free buffer");
                        let class = model.class_for(capacity).unwrap();
                        model.add(
                            h,
                            Buf {
                                bytes: Vec::new(),
                                class,
                                owner: None,
                            },
                        );
                    }
                }
            }
            Op::Lend { stream, len } => {
                let s = usize::from(stream) % STREAMS;
                let class = usize::from(small.count == 0);
                let data = model.bytes(usize::from(len));
                let r = pool.lend(s, &data);
                if len == 0 || !model.free(class) {
                    assert_eq!(r, None);
                } else {
                    let h = r.expect("a lent buffer");
                    let cap = classes[class].size;
                    let bytes = data[..data.len().min(cap)].to_vec();
                    model.add(
                        h,
                        Buf {
                            bytes,
                            class,
                            owner: Some(s),
                        },
                    );
                }
            }
            Op::Release(i) => {
                let Some(h) = model.pick(i) else { continue };
                let live = model.live.remove(&h).is_some();
                assert_eq!(pool.release(h).is_ok(), live);
            }
            Op::Extend { buf, len } => {
                let Some(h) = model.pick(buf) else { continue };
                let data = model.bytes(usize::from(len));
                let Some(b) = model.live.get_mut(&h) else {
                    assert!(pool.view(h).is_err());
                    continue;
                };
                let mut v = pool.view(h).expect("live");
                let cap = classes[b.class].size;
                assert_eq!(v.capacity(), cap);
                if b.bytes.len() + data.len() <= cap {
                    assert_eq!(v.extend_from_slice(&data), Ok(()));
                    b.bytes.extend_from_slice(&data);
                } else {
                    assert_eq!(v.extend_from_slice(&data), Err(Error::MessageTooLarge));
                }
            }
            Op::Spare { buf, len, over } => {
                let Some(h) = model.pick(buf) else { continue };
                let data = model.bytes(usize::from(len));
                let Some(b) = model.live.get_mut(&h) else {
                    continue;
                };
                let mut v = pool.view(h).expect("live");
                let spare = v.spare_mut();
                assert_eq!(spare.len(), classes[b.class].size - b.bytes.len());
                let past = spare.len() + 1;
                let k = data.len().min(spare.len());
                spare[..k].copy_from_slice(&data[..k]);
                if over {
                    assert_eq!(v.advance(past), Err(Error::InvalidArgument));
                }
                assert_eq!(v.advance(k), Ok(()));
                b.bytes.extend_from_slice(&data[..k]);
            }
            Op::Consume { buf, n } => {
                let Some(h) = model.pick(buf) else { continue };
                let Some(b) = model.live.get_mut(&h) else {
                    continue;
                };
                pool.view(h).expect("live").consume(usize::from(n));
                b.bytes.drain(..usize::from(n).min(b.bytes.len()));
            }
            Op::Truncate { buf, n } => {
                let Some(h) = model.pick(buf) else { continue };
                let Some(b) = model.live.get_mut(&h) else {
                    continue;
                };
                pool.view(h).expect("live").truncate(usize::from(n));
                b.bytes.truncate(usize::from(n));
            }
            Op::Clear(i) => {
                let Some(h) = model.pick(i) else { continue };
                let Some(b) = model.live.get_mut(&h) else {
                    continue;
                };
                pool.view(h).expect("live").clear();
                b.bytes.clear();
            }
            Op::ReadMore { buf, need, len } => {
                let Some(h) = model.pick(buf) else { continue };
                let data = model.bytes(usize::from(len));
                let need = usize::from(need);
                let r = pool.read_more(h, need, &data);
                let refusal = match model.live.get(&h) {
                    None => {
                        assert_eq!(r, Err(Error::InvalidHandle));
                        continue;
                    }
                    Some(b) => {
                        let need = need.max(b.bytes.len());
                        if need > classes[b.class].size {
                            model.refusal(need)
                        } else {
                            None
                        }
                    }
                };
                if let Some(e) = refusal {
                    assert_eq!(r, Err(e));
                    continue;
                }
                let b = model.live.get(&h).unwrap().clone();
                let need = need.max(b.bytes.len());
                let class = if need > classes[b.class].size {
                    model.class_for(need).unwrap()
                } else {
                    b.class
                };
                if b.bytes.len() == classes[class].size {
                    assert_eq!(r, Err(Error::MessageTooLarge), "a full buffer");
                    continue;
                }
                let n = r.expect("room made");
                assert!(n <= data.len());
                assert!(
                    n >= data.len().min(need - b.bytes.len()),
                    "room for {need} bytes"
                );
                let b = model.live.get_mut(&h).unwrap();
                b.class = class;
                b.bytes.extend_from_slice(&data[..n]);
            }
            Op::Split { buf, at } => {
                let Some(h) = model.pick(buf) else { continue };
                let at = usize::from(at);
                let r = pool.split(h, at);
                let Some(b) = model.live.get(&h).cloned() else {
                    assert_eq!(r, Err(Error::InvalidHandle));
                    continue;
                };
                if at > b.bytes.len() {
                    assert_eq!(r, Err(Error::InvalidArgument));
                    continue;
                }
                let tail = b.bytes.len() - at;
                if let Some(e) = model.refusal(tail.max(1)) {
                    assert_eq!(r, Err(e));
                    continue;
                }
                let t = r.expect("split");
                let class = model.class_for(tail.max(1)).unwrap();
                let bytes = b.bytes[at..].to_vec();
                model.live.get_mut(&h).unwrap().bytes.truncate(at);
                model.add(
                    t,
                    Buf {
                        bytes,
                        class,
                        owner: b.owner,
                    },
                );
            }
            Op::Duplicate(i) => {
                let Some(h) = model.pick(i) else { continue };
                let r = pool.duplicate(h);
                let Some(b) = model.live.get(&h).cloned() else {
                    assert_eq!(r, Err(Error::InvalidHandle));
                    continue;
                };
                if let Some(e) = model.refusal(b.bytes.len().max(1)) {
                    assert_eq!(r, Err(e));
                    continue;
                }
                let class = model.class_for(b.bytes.len().max(1)).unwrap();
                model.add(
                    r.expect("copy"),
                    Buf {
                        bytes: b.bytes,
                        class,
                        owner: None,
                    },
                );
            }
            Op::Detach(i) => {
                let Some(h) = model.pick(i) else { continue };
                let r = pool.detach(h);
                match model.live.get_mut(&h) {
                    Some(b) => {
                        assert_eq!(r, Ok(()));
                        b.owner = None;
                    }
                    None => assert_eq!(r, Err(Error::InvalidHandle)),
                }
            }
            Op::Send { stream, buf } => {
                let s = usize::from(stream) % STREAMS;
                let Some(h) = model.pick(buf) else { continue };
                let r = pool.send(s, h);
                match model.live.remove(&h) {
                    Some(mut b) => {
                        assert_eq!(r, Ok(()));
                        if !b.bytes.is_empty() {
                            b.owner = Some(s);
                            model.queues[s].push_back(b);
                        }
                    }
                    None => assert_eq!(r, Err(Error::InvalidHandle)),
                }
            }
            Op::Sent { stream, n } => {
                let s = usize::from(stream) % STREAMS;
                let n = usize::from(n);
                let freed = pool.sent(s, n);
                match model.queues[s].front_mut() {
                    Some(b) if n >= b.bytes.len() => {
                        assert!(freed);
                        model.queues[s].pop_front();
                    }
                    Some(b) => {
                        assert!(!freed);
                        b.bytes.drain(..n);
                    }
                    None => assert!(!freed),
                }
            }
            Op::Close(stream) => {
                let s = usize::from(stream) % STREAMS;
                pool.close(s);
                model.live.retain(|_, b| b.owner != Some(s));
                model.queues[s].clear();
                model.rx[s] = None;
            }
            Op::RxRead { stream, need, len } => {
                let s = usize::from(stream) % STREAMS;
                let need = usize::from(need);
                let data = model.bytes(usize::from(len));
                let r = pool.rx_read(s, need, &data);
                if need > max {
                    assert_eq!(r, Err(Error::MessageTooLarge));
                    continue;
                }
                let (had, class) = match &model.rx[s] {
                    Some(b) => (b.bytes.clone(), b.class),
                    None => match model.refusal(need) {
                        Some(e) => {
                            assert_eq!(r, Err(e));
                            continue;
                        }
                        None => (Vec::new(), model.class_for(need).unwrap()),
                    },
                };
                let need = need.max(had.len());
                let class = if need > classes[class].size {
                    // The receive buffer moves to a larger class, if one is free.
                    if let Some(e) = model.refusal(need) {
                        assert_eq!(r, Err(e));
                        continue;
                    }
                    model.class_for(need).unwrap()
                } else {
                    class
                };
                if had.len() == classes[class].size {
                    assert_eq!(r, Err(Error::MessageTooLarge), "a full receive buffer");
                    continue;
                }
                let n = r.expect("read");
                assert!(n <= data.len());
                assert!(
                    n >= data.len().min(need - had.len()),
                    "room for {need} bytes"
                );
                let mut bytes = had;
                bytes.extend_from_slice(&data[..n]);
                model.rx[s] = (!bytes.is_empty()).then_some(Buf {
                    bytes,
                    class,
                    owner: Some(s),
                });
            }
            Op::RxConsume { stream, n } => {
                let s = usize::from(stream) % STREAMS;
                pool.rx_consume(s, usize::from(n));
                if let Some(b) = &mut model.rx[s] {
                    b.bytes.drain(..usize::from(n).min(b.bytes.len()));
                    if b.bytes.is_empty() {
                        model.rx[s] = None;
                    }
                }
            }
            Op::RxTake { stream, n } => {
                let s = usize::from(stream) % STREAMS;
                let n = usize::from(n);
                let r = pool.rx_take(s, n);
                let Some(rx) = model.rx[s].clone() else {
                    assert_eq!(r, Err(Error::InvalidArgument));
                    continue;
                };
                if n == 0 || n > rx.bytes.len() {
                    assert_eq!(r, Err(Error::InvalidArgument));
                    continue;
                }
                let tail = rx.bytes.len() - n;
                if tail > 0 {
                    if let Some(e) = model.refusal(tail) {
                        assert_eq!(r, Err(e));
                        continue;
                    }
                }
                let h = r.expect("taken");
                model.rx[s] = (tail > 0).then(|| Buf {
                    bytes: rx.bytes[n..].to_vec(),
                    class: model.class_for(tail).unwrap(),
                    owner: Some(s),
                });
                model.add(
                    h,
                    Buf {
                        bytes: rx.bytes[..n].to_vec(),
                        class: rx.class,
                        owner: Some(s),
                    },
                );
            }
        }
        check(&pool, &model);
    }
    for s in 0..STREAMS {
        pool.close(s);
    }
    model.live.retain(|_, b| b.owner.is_none());
    model.queues = Default::default();
    model.rx = Default::default();
    check(&pool, &model);
});
