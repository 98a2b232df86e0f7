//! Process-wide allocation of the 8-bit loop ids that handles carry.
//!
//! A bitmap of 256 atomics bits: no allocation, no lock. An id is free again when its loop is
//! dropped, so handles of a dropped loop could name a later loop with the same id; their
//! generations and slots still have to match for that later loop to accept them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Capacity, Error, Result};

static IDS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Takes the lowest free loop id.
pub(crate) fn acquire() -> Result<u8> {
    for (w, word) in IDS.iter().enumerate() {
        let mut cur = word.load(Ordering::Relaxed);
        while cur != u64::MAX {
            let bit = (!cur).trailing_zeros();
            match word.compare_exchange_weak(
                cur,
                cur | (1 << bit),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok((w * 64 + bit as usize) as u8),
                Err(now) => cur = now,
            }
        }
    }
    Err(Error::OutOfResources(Capacity::Loops))
}

/// Gives an id back.
pub(crate) fn release(id: u8) {
    IDS[usize::from(id) / 64].fetch_and(!(1 << (id % 64)), Ordering::AcqRel);
}
