//! Model test of [`Pool`]: random insert/remove/get/grow sequences against a `HashMap`.
//!
//! After every operation: each live handle resolves to its value, each handle ever issued and
//! since removed never resolves, a live handle re-made with another loop id or another
//! resource type never resolves, and `len`/`capacity` match the model.

use std::collections::HashMap;

use proptest::prelude::*;
use ptk_runtime::{Capacity, Error, Pool, RawHandle, ResourceType, Slot};

const LOOP_ID: u8 = 7;
const FIRST_CAPACITY: usize = 8;
const MAX_GROWS: usize = 4;
const MAX_GROW_BY: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Insert(u32),
    /// Removes the `n % issued`-th handle ever issued (live or stale).
    Remove(usize),
    /// Looks up the `n % issued`-th handle ever issued.
    Get(usize),
    /// Moves into storage `n` slots larger.
    Grow(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u32>().prop_map(Op::Insert),
        3 => any::<usize>().prop_map(Op::Remove),
        2 => any::<usize>().prop_map(Op::Get),
        1 => (1..=MAX_GROW_BY).prop_map(Op::Grow),
    ]
}

/// Every way `h` can be forged into a handle of another loop or another type, same slot and
/// generation.
fn forgeries(h: RawHandle) -> [RawHandle; 3] {
    [
        RawHandle::new(ResourceType::Timer, LOOP_ID + 1, h.generation(), h.slot()),
        RawHandle::new(ResourceType::TcpStream, LOOP_ID, h.generation(), h.slot()),
        RawHandle::new(ResourceType::UserEvents, LOOP_ID, h.generation(), h.slot()),
    ]
}

struct Model {
    live: HashMap<RawHandle, u32>,
    issued: Vec<RawHandle>,
    capacity: usize,
}

fn check(pool: &Pool<'_, u32>, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(pool.len(), model.live.len());
    prop_assert_eq!(pool.capacity(), model.capacity);
    prop_assert_eq!(pool.is_empty(), model.live.is_empty());
    for &h in &model.issued {
        match model.live.get(&h) {
            Some(v) => {
                prop_assert_eq!(pool.get(h), Ok(v), "live handle {} must resolve", h);
                prop_assert!(pool.contains(h));
            }
            None => {
                prop_assert_eq!(pool.get(h), Err(Error::InvalidHandle), "stale {}", h);
                prop_assert!(!pool.contains(h));
            }
        }
        for forged in forgeries(h) {
            prop_assert_eq!(
                pool.get(forged),
                Err(Error::InvalidHandle),
                "forged {}",
                forged
            );
        }
    }
    Ok(())
}

fn run(first_capacity: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    // One allocation cut into the first storage and every storage a grow can move into, so
    // all of them share the pool's lifetime.
    let total = first_capacity + MAX_GROWS * (first_capacity + MAX_GROWS * MAX_GROW_BY);
    let mut memory: Vec<Slot<u32>> = std::iter::repeat_with(|| Slot::EMPTY).take(total).collect();
    let (first, mut rest) = memory.split_at_mut(first_capacity);
    let mut pool = Pool::new(first, ResourceType::Timer, LOOP_ID, Capacity::Timers);
    let mut model = Model {
        live: HashMap::new(),
        issued: Vec::new(),
        capacity: first_capacity,
    };
    let mut grows = 0;
    for op in ops {
        match *op {
            Op::Insert(v) => match pool.insert(v) {
                Ok(h) => {
                    prop_assert!(model.live.len() < model.capacity, "insert into a full pool");
                    prop_assert!(!model.issued.contains(&h), "handle {} issued twice", h);
                    prop_assert_eq!(h.resource_type(), ResourceType::Timer);
                    prop_assert_eq!(h.loop_id(), LOOP_ID);
                    model.live.insert(h, v);
                    model.issued.push(h);
                }
                Err(e) => {
                    prop_assert_eq!(model.live.len(), model.capacity);
                    prop_assert_eq!(e, (v, Error::OutOfResources(Capacity::Timers)));
                }
            },
            Op::Remove(n) if !model.issued.is_empty() => {
                let h = model.issued[n % model.issued.len()];
                let expected = model.live.remove(&h).ok_or(Error::InvalidHandle);
                prop_assert_eq!(pool.remove(h), expected);
            }
            Op::Get(n) if !model.issued.is_empty() => {
                let h = model.issued[n % model.issued.len()];
                prop_assert_eq!(
                    pool.get(h).copied(),
                    model.live.get(&h).copied().ok_or(Error::InvalidHandle)
                );
            }
            Op::Grow(by) if grows < MAX_GROWS => {
                let (larger, tail) = std::mem::take(&mut rest).split_at_mut(model.capacity + by);
                rest = tail;
                let old = pool
                    .grow(larger)
                    .map_err(|e| TestCaseError::fail(format!("grow failed: {e}")))?;
                prop_assert_eq!(old.len(), model.capacity);
                prop_assert!(
                    old.iter().all(|s| !s.is_used()),
                    "old storage must come back empty"
                );
                model.capacity += by;
                grows += 1;
            }
            Op::Remove(_) | Op::Get(_) | Op::Grow(_) => {}
        }
        check(&pool, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn pool_agrees_with_a_hashmap_model(
        first_capacity in 1..=FIRST_CAPACITY,
        ops in proptest::collection::vec(op(), 0..=64),
    ) {
        run(first_capacity, &ops)?;
    }
}

#[test]
fn grow_into_smaller_storage_is_rejected_and_keeps_the_pool() {
    let mut small = [const { Slot::EMPTY }; 2];
    let mut large = [const { Slot::EMPTY }; 3];
    let mut pool = Pool::new(&mut large, ResourceType::Timer, LOOP_ID, Capacity::Timers);
    let h = pool.insert(5u32).map_err(|e| e.1).unwrap();
    assert_eq!(pool.grow(&mut small).err(), Some(Error::InvalidArgument));
    assert_eq!(pool.capacity(), 3);
    assert_eq!(pool.get(h), Ok(&5));
}
