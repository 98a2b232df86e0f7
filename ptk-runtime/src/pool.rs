//! A fixed-capacity generational pool over storage the caller owns.
//!
//! The caller decides how many slots there are and where they live (an array on the stack, a
//! `static`, or one `Box` made at start-up); the pool borrows them and never allocates. A full
//! pool hands the value back with [`Error::OutOfResources`] naming the capacity to raise.
//!
//! # Generations and their wrap
//!
//! Every slot keeps a 16-bit generation that survives free and reuse; a handle resolves only
//! while its generation matches. When a slot's generation would pass `u16::MAX` it wraps to 0.
//! Freed slots are reused **first in, first out**, so a given slot comes back only after every
//! other free slot has been used: a stale handle can alias a new resource only if it is kept
//! across `65_536 x (free slots)` allocations of its pool and then used, which for any real
//! driver means never. Retiring wrapped slots instead would make a long-running server with
//! connection churn run out of slots after hours, which is the worse failure.

use core::mem;

use crate::error::{Capacity, Error, Result};
use crate::handle::{RawHandle, ResourceType};

/// Sentinel for "no slot" in the free list.
const NIL: u32 = u32::MAX;

/// One slot of a [`Pool`]: the value (when used) and the slot's generation.
///
/// Build storage with [`Slot::EMPTY`]: `[const { Slot::EMPTY }; 64]` on the stack or in a
/// `static`, or `core::iter::repeat_with(|| Slot::EMPTY)` into one `Box<[Slot<T>]>`.
pub struct Slot<T> {
    /// While used: the low 32 bits of the value's handle (type, loop id, generation), so a
    /// handle resolves with one compare. 0 while free (no handle has type 0).
    key: u32,
    generation: u16,
    state: State<T>,
}

enum State<T> {
    Free { next: u32 },
    Used(T),
}

impl<T> Slot<T> {
    /// An unused slot with generation 0.
    pub const EMPTY: Slot<T> = Slot {
        key: 0,
        generation: 0,
        state: State::Free { next: NIL },
    };

    /// Whether the slot holds a value.
    pub fn is_used(&self) -> bool {
        matches!(self.state, State::Used(_))
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot::EMPTY
    }
}

impl<T> core::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slot")
            .field("generation", &self.generation)
            .field("used", &self.is_used())
            .finish()
    }
}

/// A generational pool of `T` over a borrowed slice of [`Slot`]s.
///
/// # Examples
///
/// ```
/// use ptk_runtime::{Capacity, Error, Pool, ResourceType, Slot};
///
/// let mut slots = [const { Slot::<&str>::EMPTY }; 2];
/// let mut pool = Pool::new(&mut slots, ResourceType::Timer, 0, Capacity::Timers);
///
/// let a = pool.insert("a").unwrap();
/// let b = pool.insert("b").unwrap();
/// assert_eq!(pool.insert("c"), Err(("c", Error::OutOfResources(Capacity::Timers))));
///
/// assert_eq!(pool.remove(a), Ok("a"));
/// assert_eq!(pool.get(a), Err(Error::InvalidHandle)); // stale now
/// assert_eq!(pool.get(b), Ok(&"b"));
/// ```
pub struct Pool<'s, T> {
    slots: &'s mut [Slot<T>],
    ty: ResourceType,
    loop_id: u8,
    capacity: Capacity,
    len: u32,
    free_head: u32,
    free_tail: u32,
    /// The generation every slot started at, once [`Pool::start_generations_at`] set it:
    /// slots that [`Pool::grow`] adds start there too.
    first: Option<u16>,
}

impl<'s, T> Pool<'s, T> {
    /// Takes over `slots` (at most `u32::MAX - 1` of them are used). Values still in the slots
    /// are dropped; generations are kept, so handles from an earlier pool over the same memory
    /// stay stale.
    pub fn new(
        slots: &'s mut [Slot<T>],
        ty: ResourceType,
        loop_id: u8,
        capacity: Capacity,
    ) -> Pool<'s, T> {
        let max = (NIL - 1) as usize;
        let slots = if slots.len() > max {
            &mut slots[..max]
        } else {
            slots
        };
        let mut pool = Pool {
            slots,
            ty,
            loop_id,
            capacity,
            len: 0,
            free_head: NIL,
            free_tail: NIL,
            first: None,
        };
        for i in 0..pool.slots.len() {
            pool.slots[i].state = State::Free { next: NIL };
            pool.push_free(i as u32);
        }
        pool
    }

    /// How many slots the pool has.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// How many slots are in use.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether no slot is in use.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The resource type of this pool's handles.
    pub fn resource_type(&self) -> ResourceType {
        self.ty
    }

    /// The capacity this pool reports when it is full.
    pub fn capacity_name(&self) -> Capacity {
        self.capacity
    }

    fn push_free(&mut self, i: u32) {
        self.slots[i as usize].key = 0;
        self.slots[i as usize].state = State::Free { next: NIL };
        if self.free_tail == NIL {
            self.free_head = i;
        } else if let State::Free { next } = &mut self.slots[self.free_tail as usize].state {
            *next = i;
        }
        self.free_tail = i;
    }

    fn handle_of(&self, i: u32) -> RawHandle {
        RawHandle::new(self.ty, self.loop_id, self.slots[i as usize].generation, i)
    }

    /// Stores `value` in a free slot and returns its handle.
    ///
    /// # Errors
    ///
    /// When every slot is in use, the value comes back with
    /// [`Error::OutOfResources`] naming this pool's capacity.
    pub fn insert(&mut self, value: T) -> core::result::Result<RawHandle, (T, Error)> {
        match self.alloc() {
            Some(i) => Ok(self.fill(i, value)),
            None => Err((value, Error::OutOfResources(self.capacity))),
        }
    }

    /// Stores the value `make` builds from the new handle (so a value can know its own handle).
    ///
    /// # Errors
    ///
    /// When every slot is in use, `make` comes back uncalled with
    /// [`Error::OutOfResources`].
    pub fn insert_with<F: FnOnce(RawHandle) -> T>(
        &mut self,
        make: F,
    ) -> core::result::Result<RawHandle, (F, Error)> {
        match self.alloc() {
            Some(i) => {
                let value = make(self.handle_of(i));
                Ok(self.fill(i, value))
            }
            None => Err((make, Error::OutOfResources(self.capacity))),
        }
    }

    /// Unlinks the head of the free list and bumps its generation.
    fn alloc(&mut self) -> Option<u32> {
        let i = self.free_head;
        if i == NIL {
            return None;
        }
        let slot = &mut self.slots[i as usize];
        self.free_head = match slot.state {
            State::Free { next } => next,
            // The free list only links free slots.
            State::Used(_) => NIL,
        };
        if self.free_head == NIL {
            self.free_tail = NIL;
        }
        slot.generation = slot.generation.wrapping_add(1);
        Some(i)
    }

    fn fill(&mut self, i: u32, value: T) -> RawHandle {
        let h = self.handle_of(i);
        let slot = &mut self.slots[i as usize];
        slot.state = State::Used(value);
        slot.key = h.to_u64() as u32;
        self.len += 1;
        h
    }

    /// The slot index of `h` if it names a live value of this pool.
    #[inline]
    pub fn index_of(&self, h: RawHandle) -> Result<usize> {
        let i = h.slot() as usize;
        // Type, loop id and generation in one compare with the key of a used slot.
        match self.slots.get(i) {
            Some(slot) if slot.key == h.to_u64() as u32 => Ok(i),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// Whether `h` names a live value of this pool.
    #[inline]
    pub fn contains(&self, h: RawHandle) -> bool {
        self.index_of(h).is_ok()
    }

    /// The value `h` names.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if `h` is stale, of another loop or of another type.
    #[inline]
    pub fn get(&self, h: RawHandle) -> Result<&T> {
        let i = self.index_of(h)?;
        match &self.slots[i].state {
            State::Used(v) => Ok(v),
            State::Free { .. } => Err(Error::InvalidHandle),
        }
    }

    /// The value `h` names, mutably.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if `h` is stale, of another loop or of another type.
    #[inline]
    pub fn get_mut(&mut self, h: RawHandle) -> Result<&mut T> {
        let i = self.index_of(h)?;
        match &mut self.slots[i].state {
            State::Used(v) => Ok(v),
            State::Free { .. } => Err(Error::InvalidHandle),
        }
    }

    /// The live value in slot `i`, if any.
    #[inline]
    pub fn at(&self, i: usize) -> Option<&T> {
        match &self.slots.get(i)?.state {
            State::Used(v) => Some(v),
            State::Free { .. } => None,
        }
    }

    /// The live value in slot `i`, mutably, if any.
    #[inline]
    pub fn at_mut(&mut self, i: usize) -> Option<&mut T> {
        match &mut self.slots.get_mut(i)?.state {
            State::Used(v) => Some(v),
            State::Free { .. } => None,
        }
    }

    /// The live value in slot `i` and its handle (for event dispatch by slot index).
    #[inline]
    pub fn get_by_index_mut(&mut self, i: usize) -> Option<(RawHandle, &mut T)> {
        let h = RawHandle::new(
            self.ty,
            self.loop_id,
            self.slots.get(i)?.generation,
            i as u32,
        );
        match &mut self.slots[i].state {
            State::Used(v) => Some((h, v)),
            State::Free { .. } => None,
        }
    }

    /// The live value in slot `i` and its handle.
    #[inline]
    pub fn get_by_index(&self, i: usize) -> Option<(RawHandle, &T)> {
        let slot = self.slots.get(i)?;
        match &slot.state {
            State::Used(v) => Some((self.handle_of(i as u32), v)),
            State::Free { .. } => None,
        }
    }

    /// Frees the slot `h` names and returns its value. The slot's generation is kept, so `h`
    /// and every copy of it are stale from now on.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`] if `h` is stale, of another loop or of another type.
    pub fn remove(&mut self, h: RawHandle) -> Result<T> {
        let i = self.index_of(h)?;
        let old = mem::replace(&mut self.slots[i].state, State::Free { next: NIL });
        self.push_free(i as u32); // clears the key: `h` is stale from here
        self.len -= 1;
        match old {
            State::Used(v) => Ok(v),
            State::Free { .. } => Err(Error::InvalidHandle),
        }
    }

    /// Moves every value into `larger` (same slot indices, same generations, so every live
    /// handle stays valid) and returns the old storage, now empty, to the caller.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `larger` has fewer slots than the pool; nothing moves.
    pub fn grow(&mut self, larger: &'s mut [Slot<T>]) -> Result<&'s mut [Slot<T>]> {
        let old_len = self.slots.len();
        if larger.len() < old_len {
            return Err(Error::InvalidArgument);
        }
        let max = (NIL - 1) as usize;
        let larger = if larger.len() > max {
            &mut larger[..max]
        } else {
            larger
        };
        for (new, old) in larger.iter_mut().zip(self.slots.iter_mut()) {
            mem::swap(new, old);
        }
        let old = mem::replace(&mut self.slots, larger);
        for i in old_len..self.slots.len() {
            if let Some(first) = self.first {
                self.slots[i].generation = first;
            }
            self.push_free(i as u32);
        }
        Ok(old)
    }

    /// Restarts the generation of every free slot at `first`, and of every slot a later
    /// [`grow`](Pool::grow) adds, so the first handle of a slot has generation `first + 1`.
    ///
    /// An event loop calls this on its empty pools with a value above every generation an
    /// earlier loop with the same loop id handed out, so that loop's handles stay stale in
    /// this one (handles carry the loop id, not which loop of that id made them).
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn start_generations_at(&mut self, first: u16) {
        self.first = Some(first);
        for slot in self.slots.iter_mut() {
            if let State::Free { .. } = slot.state {
                slot.generation = first;
            }
        }
    }

    /// How far the generations moved past `first`: the largest `generation - first` (modulo
    /// 2^16) of any slot. A slot whose generation went once around the whole 16-bit range is
    /// undercounted; the module docs bound when that can matter.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) fn generations_since(&self, first: u16) -> u16 {
        self.slots
            .iter()
            .map(|slot| slot.generation.wrapping_sub(first))
            .max()
            .unwrap_or(0)
    }

    /// Iterates over the live values with their handles.
    pub fn iter(&self) -> impl Iterator<Item = (RawHandle, &T)> + '_ {
        (0..self.slots.len()).filter_map(move |i| self.get_by_index(i))
    }

    /// Handles of every live value, in slot order, written into `out`; returns how many were
    /// written (at most `out.len()`).
    pub fn handles_into(&self, out: &mut [RawHandle]) -> usize {
        let mut n = 0;
        for (h, _) in self.iter() {
            if n == out.len() {
                break;
            }
            out[n] = h;
            n += 1;
        }
        n
    }
}

impl<T> core::fmt::Debug for Pool<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pool")
            .field("type", &self.ty)
            .field("loop_id", &self.loop_id)
            .field("len", &self.len)
            .field("capacity", &self.slots.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool<'s>(slots: &'s mut [Slot<u32>]) -> Pool<'s, u32> {
        Pool::new(slots, ResourceType::Timer, 3, Capacity::Timers)
    }

    #[test]
    fn full_pool_returns_the_value_and_names_the_capacity() {
        let mut slots = [const { Slot::EMPTY }; 1];
        let mut p = pool(&mut slots);
        p.insert(1).unwrap();
        assert_eq!(
            p.insert(2),
            Err((2, Error::OutOfResources(Capacity::Timers)))
        );
    }

    #[test]
    fn stale_handle_is_rejected_after_reuse() {
        let mut slots = [const { Slot::EMPTY }; 1];
        let mut p = pool(&mut slots);
        let a = p.insert(1).unwrap();
        assert_eq!(p.remove(a), Ok(1));
        let b = p.insert(2).unwrap();
        assert_eq!(a.slot(), b.slot());
        assert_ne!(a, b);
        assert_eq!(p.get(a), Err(Error::InvalidHandle));
        assert_eq!(p.remove(a), Err(Error::InvalidHandle));
        assert_eq!(p.get(b), Ok(&2));
    }

    #[test]
    fn foreign_loop_and_wrong_type_handles_are_rejected() {
        let mut slots = [const { Slot::EMPTY }; 2];
        let mut p = pool(&mut slots);
        let h = p.insert(7).unwrap();
        let other_loop = RawHandle::new(h.resource_type(), 4, h.generation(), h.slot());
        let other_type = RawHandle::new(ResourceType::TcpStream, 3, h.generation(), h.slot());
        let out_of_range = RawHandle::new(ResourceType::Timer, 3, 1, 99);
        assert_eq!(p.get(other_loop), Err(Error::InvalidHandle));
        assert_eq!(p.get(other_type), Err(Error::InvalidHandle));
        assert_eq!(p.get(out_of_range), Err(Error::InvalidHandle));
        assert_eq!(p.get(h), Ok(&7));
    }

    #[test]
    fn freed_slots_are_reused_first_in_first_out() {
        let mut slots = [const { Slot::EMPTY }; 3];
        let mut p = pool(&mut slots);
        let hs = [
            p.insert(0).unwrap(),
            p.insert(1).unwrap(),
            p.insert(2).unwrap(),
        ];
        p.remove(hs[1]).unwrap();
        p.remove(hs[0]).unwrap();
        assert_eq!(p.insert(9).unwrap().slot(), 1);
        assert_eq!(p.insert(9).unwrap().slot(), 0);
    }

    #[test]
    fn generations_restart_where_they_are_told_and_say_how_far_they_moved() {
        let mut slots = [const { Slot::<u8>::EMPTY }; 2];
        let mut p = Pool::new(&mut slots, ResourceType::Timer, 3, Capacity::Timers);
        p.start_generations_at(u16::MAX - 1);
        assert_eq!(p.generations_since(u16::MAX - 1), 0);
        let a = p.insert(1).unwrap();
        assert_eq!(a.generation(), u16::MAX);
        p.remove(a).unwrap();
        let b = p.insert(2).unwrap();
        assert_eq!((b.slot(), b.generation()), (1, u16::MAX));
        p.remove(b).unwrap();
        // Slot 0 again: its generation wraps past u16::MAX.
        assert_eq!(p.insert(3).unwrap().generation(), 0);
        assert_eq!(p.generations_since(u16::MAX - 1), 2);
        // Slots added by `grow` start where the others did.
        let mut larger = [const { Slot::<u8>::EMPTY }; 3];
        p.grow(&mut larger).unwrap();
        p.insert(4).unwrap();
        let c = p.insert(5).unwrap();
        assert_eq!((c.slot(), c.generation()), (2, u16::MAX));
    }

    #[test]
    fn generation_wraps_to_zero_after_u16_max() {
        let mut slots = [const { Slot::EMPTY }; 1];
        let mut p = pool(&mut slots);
        let first = p.insert(0).unwrap();
        assert_eq!(first.generation(), 1);
        p.remove(first).unwrap();
        for _ in 0..u16::MAX as u32 - 1 {
            let h = p.insert(0).unwrap();
            p.remove(h).unwrap();
        }
        let wrapped = p.insert(0).unwrap();
        assert_eq!(wrapped.generation(), 0);
        let again = {
            p.remove(wrapped).unwrap();
            p.insert(0).unwrap()
        };
        assert_eq!(again.generation(), 1);
    }

    #[test]
    fn grow_keeps_handles_and_adds_free_slots() {
        let mut small = [const { Slot::EMPTY }; 2];
        let mut large = [const { Slot::EMPTY }; 4];
        let mut p = pool(&mut small);
        let a = p.insert(1).unwrap();
        let b = p.insert(2).unwrap();
        p.remove(a).unwrap();
        let a2 = p.insert(3).unwrap();
        let old = p.grow(&mut large).unwrap();
        assert_eq!(old.len(), 2);
        assert!(old.iter().all(|s| !s.is_used()));
        assert_eq!(p.get(b), Ok(&2));
        assert_eq!(p.get(a2), Ok(&3));
        assert_eq!(p.get(a), Err(Error::InvalidHandle));
        assert_eq!(p.capacity(), 4);
        p.insert(4).unwrap();
        p.insert(5).unwrap();
        assert_eq!(p.len(), 4);
        assert!(p.insert(6).is_err());
    }

    #[test]
    fn grow_to_smaller_storage_is_rejected() {
        let mut small = [const { Slot::EMPTY }; 1];
        let mut large = [const { Slot::EMPTY }; 2];
        let mut p = pool(&mut large);
        assert!(matches!(p.grow(&mut small), Err(Error::InvalidArgument)));
        assert_eq!(p.capacity(), 2);
    }
}
