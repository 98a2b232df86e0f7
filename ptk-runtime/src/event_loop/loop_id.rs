//! Process-wide allocation of the 8-bit loop ids that handles carry, and of the generations
//! each loop's pools start at.
//!
//! A handle names its loop by an 8-bit id, and ids are reused once their loop is dropped. So
//! that a handle kept from a dropped loop stays stale in a later loop with the same id (and
//! never names one of its resources), each id remembers how far its last loop moved the
//! generations of its pools, and the next loop with that id starts every pool there: its
//! handles have generations no earlier loop of that id handed out. Ids are also handed out
//! round-robin, the least recently released first, so an id comes back only after every
//! other free id has been used.
//!
//! What is left is the wrap of the 16-bit generation itself, the same bound a single loop
//! has (see [`crate::pool`]): a handle could name a resource of a later loop with its id only
//! after that id's loops together moved one slot's generation through all 65,536 values.
//! Buffers count 64-bit uses and carry more of them in their handles (see `buffers`).
//!
//! Everything here is a fixed array of atomics: no allocation, no lock.

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};

use crate::error::{Capacity, Error, Result};

/// Where the generations of a loop's pools start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Generations {
    /// Every 16-bit generational pool (timers, sockets, user events, semaphores, signals,
    /// protothreads): the first handle of a slot has generation `pools + 1`.
    pub(crate) pools: u16,
    /// The buffer pool's 64-bit use counts.
    pub(crate) buffers: u64,
}

/// Ids in use, one bit each.
static IDS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// Where the next search for a free id starts.
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// Per id: where its next loop's generations start.
static POOLS: [AtomicU16; 256] = [const { AtomicU16::new(0) }; 256];
static BUFFERS: [AtomicU64; 256] = [const { AtomicU64::new(0) }; 256];

/// Takes a free loop id, the first free one at or after the one after the id last taken,
/// and the generations its loop starts at.
pub(crate) fn acquire() -> Result<(u8, Generations)> {
    let start = NEXT.load(Ordering::Relaxed) % 256;
    for k in 0..256 {
        let id = (start + k) % 256;
        let (word, bit) = (&IDS[id / 64], 1u64 << (id % 64));
        if word.fetch_or(bit, Ordering::AcqRel) & bit == 0 {
            NEXT.store(id + 1, Ordering::Relaxed);
            // The release of this id stored these before it cleared the bit we just set.
            let first = Generations {
                pools: POOLS[id].load(Ordering::Acquire),
                buffers: BUFFERS[id].load(Ordering::Acquire),
            };
            return Ok((id as u8, first));
        }
    }
    Err(Error::OutOfResources(Capacity::Loops))
}

/// Gives an id back; the next loop with it starts its generations at `next`.
pub(crate) fn release(id: u8, next: Generations) {
    let i = usize::from(id);
    POOLS[i].store(next.pools, Ordering::Release);
    BUFFERS[i].store(next.buffers, Ordering::Release);
    IDS[i / 64].fetch_and(!(1 << (i % 64)), Ordering::AcqRel);
}
