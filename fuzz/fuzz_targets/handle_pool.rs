//! The generational `Pool` against a model: an arbitrary sequence of inserts, removes, look-ups
//! (with live, stale and forged handles), slot walks and one growth, replayed on the pool and
//! on a map of the live handles. Every answer must be the model's: a handle resolves exactly
//! while it is live, a full pool hands the value back naming its capacity, freed slots come
//! back first in, first out, and each reuse of a slot bumps its generation by one.
#![no_main]

use std::collections::{BTreeMap, VecDeque};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ptk_runtime::{Capacity, Error, Pool, RawHandle, ResourceType, Slot};

const LOOP_ID: u8 = 3;
const TYPE: ResourceType = ResourceType::Timer;

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u32),
    /// `insert_with`, whose value is its own handle's integer form.
    InsertWith,
    /// Remove the `n`th handle ever issued (live or stale).
    Remove(u16),
    Get(u16),
    /// Change the value of the `n`th handle ever issued.
    Set(u16, u32),
    /// A handle made up from its fields.
    Forged {
        ty: u8,
        loop_id: u8,
        generation: u16,
        slot: u32,
    },
    /// A handle of an earlier one with one field changed.
    Altered {
        of: u16,
        field: u8,
        by: u16,
    },
    /// Look at slot `i` by index.
    At(u8),
    /// Insert and remove `n` times (to walk generations up).
    Churn(u16),
    /// Move to storage of `extra` more slots (once).
    Grow(u8),
    /// Walk the live values.
    Iter,
}

#[derive(Arbitrary, Debug)]
struct Input {
    slots: u8,
    ops: Vec<Op>,
}

/// What the pool must hold.
struct Model {
    capacity: usize,
    /// slot -> (live handle, value)
    live: BTreeMap<u32, (RawHandle, u64)>,
    /// Free slots, oldest freed first.
    free: VecDeque<u32>,
    /// The last generation each slot handed out.
    generation: Vec<u16>,
    /// Every handle issued, in order.
    issued: Vec<RawHandle>,
}

impl Model {
    fn resolves(&self, h: RawHandle) -> Option<u64> {
        match self.live.get(&h.slot()) {
            Some(&(live, value)) if live == h => Some(value),
            _ => None,
        }
    }

    fn inserted(&mut self, h: RawHandle, value: u64) {
        let slot = self.free.pop_front().expect("the pool had room");
        assert_eq!(h.slot(), slot, "free slots are reused first in, first out");
        let generation = self.generation[slot as usize].wrapping_add(1);
        assert_eq!(
            h.generation(),
            generation,
            "a reuse bumps the generation by one"
        );
        assert_eq!((h.resource_type(), h.loop_id()), (TYPE, LOOP_ID));
        self.generation[slot as usize] = generation;
        self.live.insert(slot, (h, value));
        self.issued.push(h);
    }

    fn removed(&mut self, h: RawHandle) {
        self.live.remove(&h.slot());
        self.free.push_back(h.slot());
    }

    fn pick(&self, n: u16) -> Option<RawHandle> {
        match self.issued.len() {
            0 => None,
            len => Some(self.issued[usize::from(n) % len]),
        }
    }
}

fn check_lookup(pool: &Pool<'_, u64>, model: &Model, h: RawHandle) {
    let expected = model.resolves(h);
    assert_eq!(pool.get(h).ok().copied(), expected, "get({h})");
    assert_eq!(pool.contains(h), expected.is_some());
    assert_eq!(
        pool.index_of(h).ok(),
        expected.map(|_| h.slot() as usize),
        "index_of({h})"
    );
    if expected.is_none() {
        assert_eq!(pool.get(h), Err(Error::InvalidHandle));
    }
}

fuzz_target!(|input: Input| {
    let n = usize::from(input.slots % 16) + 1;
    let mut small: Vec<Slot<u64>> = (0..n).map(|_| Slot::EMPTY).collect();
    let mut large: Vec<Slot<u64>> = (0..n + 64).map(|_| Slot::EMPTY).collect();
    let mut large = Some(&mut large[..]);
    let mut pool = Pool::new(&mut small, TYPE, LOOP_ID, Capacity::Timers);
    let mut model = Model {
        capacity: n,
        live: BTreeMap::new(),
        free: (0..n as u32).collect(),
        generation: vec![0; n],
        issued: Vec::new(),
    };
    // Churn per input, bounded to keep runs fast (the wrap itself has a unit test).
    let mut budget = 4_000u32;
    for op in input.ops.iter().take(512) {
        match *op {
            Op::Insert(v) => match pool.insert(u64::from(v)) {
                Ok(h) => model.inserted(h, u64::from(v)),
                Err((back, e)) => {
                    assert_eq!(
                        (back, e),
                        (u64::from(v), Error::OutOfResources(Capacity::Timers))
                    );
                    assert_eq!(model.live.len(), model.capacity, "refused with room left");
                }
            },
            Op::InsertWith => match pool.insert_with(|h| h.to_u64()) {
                Ok(h) => {
                    model.inserted(h, h.to_u64());
                    assert_eq!(pool.get(h), Ok(&h.to_u64()));
                }
                Err((_, e)) => {
                    assert_eq!(e, Error::OutOfResources(Capacity::Timers));
                    assert_eq!(model.live.len(), model.capacity);
                }
            },
            Op::Remove(i) => {
                let Some(h) = model.pick(i) else { continue };
                let expected = model.resolves(h);
                assert_eq!(pool.remove(h).ok(), expected, "remove({h})");
                if expected.is_some() {
                    model.removed(h);
                }
            }
            Op::Get(i) => {
                let Some(h) = model.pick(i) else { continue };
                check_lookup(&pool, &model, h);
            }
            Op::Set(i, v) => {
                let Some(h) = model.pick(i) else { continue };
                let live = model.resolves(h).is_some();
                match pool.get_mut(h) {
                    Ok(slot) => {
                        assert!(live, "get_mut resolved {h}");
                        *slot = u64::from(v);
                        model.live.insert(h.slot(), (h, u64::from(v)));
                    }
                    Err(e) => assert!(!live && e == Error::InvalidHandle),
                }
            }
            Op::Forged {
                ty,
                loop_id,
                generation,
                slot,
            } => {
                let Some(ty) = ResourceType::from_u8(ty % 11) else {
                    continue;
                };
                let h = RawHandle::new(ty, loop_id, generation, slot % 64);
                check_lookup(&pool, &model, h);
            }
            Op::Altered { of, field, by } => {
                let Some(h) = model.pick(of) else { continue };
                let by = by.max(1);
                let h = match field % 4 {
                    0 => RawHandle::new(
                        ResourceType::TcpStream,
                        h.loop_id(),
                        h.generation(),
                        h.slot(),
                    ),
                    1 => RawHandle::new(
                        TYPE,
                        h.loop_id().wrapping_add((by % 255 + 1) as u8),
                        h.generation(),
                        h.slot(),
                    ),
                    2 => {
                        RawHandle::new(TYPE, h.loop_id(), h.generation().wrapping_add(by), h.slot())
                    }
                    _ => RawHandle::new(
                        TYPE,
                        h.loop_id(),
                        h.generation(),
                        h.slot().wrapping_add(u32::from(by)),
                    ),
                };
                check_lookup(&pool, &model, h);
            }
            Op::At(i) => {
                let i = usize::from(i) % (model.capacity + 2);
                let expected = model.live.get(&(i as u32)).copied();
                assert_eq!(pool.at(i).copied(), expected.map(|(_, v)| v));
                assert_eq!(pool.get_by_index(i).map(|(h, v)| (h, *v)), expected);
                assert_eq!(pool.get_by_index_mut(i).map(|(h, v)| (h, *v)), expected);
                assert_eq!(pool.at_mut(i).map(|v| *v), expected.map(|(_, v)| v));
            }
            Op::Churn(times) => {
                let times = u32::from(times).min(budget);
                budget -= times;
                for k in 0..times {
                    let Ok(h) = pool.insert(u64::from(k)) else {
                        assert_eq!(model.live.len(), model.capacity);
                        break;
                    };
                    model.inserted(h, u64::from(k));
                    assert_eq!(pool.remove(h), Ok(u64::from(k)));
                    model.removed(h);
                    model.issued.pop();
                }
            }
            Op::Grow(extra) => {
                let Some(larger) = large.take() else { continue };
                let new_len = (model.capacity + usize::from(extra % 65)).min(larger.len());
                let old = pool.grow(&mut larger[..new_len]).expect("larger storage");
                assert_eq!(old.len(), model.capacity);
                assert!(old.iter().all(|s| !s.is_used()));
                model.free.extend(model.capacity as u32..new_len as u32);
                model.generation.resize(new_len, 0);
                model.capacity = new_len;
            }
            Op::Iter => {
                let walked: Vec<(RawHandle, u64)> = pool.iter().map(|(h, v)| (h, *v)).collect();
                let expected: Vec<(RawHandle, u64)> = model.live.values().copied().collect();
                assert_eq!(walked, expected);
                let mut out = [RawHandle::new(TYPE, 0, 0, 0); 8];
                let k = pool.handles_into(&mut out);
                assert_eq!(k, expected.len().min(8));
                assert!(out[..k].iter().zip(&expected).all(|(a, b)| *a == b.0));
            }
        }
        assert_eq!(pool.len(), model.live.len());
        assert_eq!(pool.is_empty(), model.live.is_empty());
        assert_eq!(pool.capacity(), model.capacity);
        assert!(pool.len() <= pool.capacity());
    }
    // Every handle ever issued answers as the model says.
    for &h in &model.issued {
        check_lookup(&pool, &model, h);
    }
});
