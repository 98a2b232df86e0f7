//! The accessors every source passes on to its pool unchanged, written once as a macro.

/// Accessors of a source over its private `pool` field that only pass the call on (sizes,
/// lookups by handle or slot, growing into larger storage), written once for every source:
/// `pool_accessors!(Entry: len, capacity, get, ...)` in the source's `impl` block.
macro_rules! pool_accessors {
    ($entry:ty: $($name:ident),* $(,)?) => {
        $(pool_accessors!(@ $entry, $name);)*
    };
    (@ $entry:ty, len) => {
        pub(crate) fn len(&self) -> usize {
            self.pool.len()
        }
    };
    (@ $entry:ty, capacity) => {
        pub(crate) fn capacity(&self) -> usize {
            self.pool.capacity()
        }
    };
    (@ $entry:ty, get) => {
        #[inline]
        pub(crate) fn get(&self, h: crate::handle::RawHandle) -> crate::error::Result<&$entry> {
            self.pool.get(h)
        }
    };
    (@ $entry:ty, get_mut) => {
        #[inline]
        pub(crate) fn get_mut(
            &mut self,
            h: crate::handle::RawHandle,
        ) -> crate::error::Result<&mut $entry> {
            self.pool.get_mut(h)
        }
    };
    (@ $entry:ty, contains) => {
        pub(crate) fn contains(&self, h: crate::handle::RawHandle) -> bool {
            self.pool.contains(h)
        }
    };
    (@ $entry:ty, handle_at) => {
        /// The handle of the value in slot `i`, if any.
        pub(crate) fn handle_at(&self, i: usize) -> Option<crate::handle::RawHandle> {
            self.pool.get_by_index(i).map(|(h, _)| h)
        }
    };
    (@ $entry:ty, at) => {
        /// The value in slot `i` and its handle, if any.
        pub(crate) fn at(&self, i: usize) -> Option<(crate::handle::RawHandle, &$entry)> {
            self.pool.get_by_index(i)
        }
    };
    (@ $entry:ty, generations) => {
        /// Starts the pool's generations at `first` (see [`crate::pool::Pool`]'s
        /// `start_generations_at`).
        pub(crate) fn start_generations_at(&mut self, first: u16) {
            self.pool.start_generations_at(first)
        }

        /// How far the pool's generations moved past `first`.
        pub(crate) fn generations_since(&self, first: u16) -> u16 {
            self.pool.generations_since(first)
        }
    };
    (@ $entry:ty, grow) => {
        /// Moves the values into larger storage; the old storage comes back, empty.
        pub(crate) fn grow(
            &mut self,
            slots: &'s mut [crate::pool::Slot<$entry>],
        ) -> crate::error::Result<&'s mut [crate::pool::Slot<$entry>]> {
            self.pool.grow(slots)
        }
    };
}
