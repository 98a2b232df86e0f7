//! 64-bit generational handles: [`RawHandle`] and typed [`Handle<T>`].

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::num::NonZeroU64;

/// The kind of resource a handle names. Stored in the low 8 bits of every handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum ResourceType {
    /// A one-shot or repeating timer.
    Timer = 1,
    /// A listening TCP socket.
    TcpListener = 2,
    /// A connected (or connecting) TCP socket.
    TcpStream = 3,
    /// A UDP socket.
    UdpSocket = 4,
    /// A user event source.
    UserEvents = 5,
    /// A protothread.
    Protothread = 6,
    /// An event loop.
    Loop = 7,
    /// A counting semaphore.
    Semaphore = 8,
    /// A watcher of an operating-system signal.
    Signal = 9,
    /// A buffer of the loop's buffer pool.
    Buffer = 10,
    /// A defer watcher: runs once at the start of the next iteration.
    Defer = 11,
    /// An idle watcher: runs when the loop runs out of work.
    Idle = 12,
    /// A periodic watcher: fires on wall-clock boundaries.
    Periodic = 13,
    /// A file read or write in flight.
    FileOp = 14,
}

impl ResourceType {
    /// The type for a raw type field, if it names one.
    #[inline]
    pub const fn from_u8(v: u8) -> Option<ResourceType> {
        Some(match v {
            1 => ResourceType::Timer,
            2 => ResourceType::TcpListener,
            3 => ResourceType::TcpStream,
            4 => ResourceType::UdpSocket,
            5 => ResourceType::UserEvents,
            6 => ResourceType::Protothread,
            7 => ResourceType::Loop,
            8 => ResourceType::Semaphore,
            9 => ResourceType::Signal,
            10 => ResourceType::Buffer,
            11 => ResourceType::Defer,
            12 => ResourceType::Idle,
            13 => ResourceType::Periodic,
            14 => ResourceType::FileOp,
            _ => return None,
        })
    }

    /// The short name used by `Display` for handles (`tcp#12.3@0`).
    pub const fn short_name(self) -> &'static str {
        match self {
            ResourceType::Timer => "timer",
            ResourceType::TcpListener => "listener",
            ResourceType::TcpStream => "tcp",
            ResourceType::UdpSocket => "udp",
            ResourceType::UserEvents => "events",
            ResourceType::Protothread => "pt",
            ResourceType::Loop => "loop",
            ResourceType::Semaphore => "sem",
            ResourceType::Signal => "signal",
            ResourceType::Buffer => "buf",
            ResourceType::Defer => "defer",
            ResourceType::Idle => "idle",
            ResourceType::Periodic => "periodic",
            ResourceType::FileOp => "file",
        }
    }
}

/// An untyped 64-bit generational handle.
///
/// A [`RawHandle`] packs four fields into a `NonZeroU64`:
///
/// | bits  | field      | meaning                                               |
/// |-------|------------|-------------------------------------------------------|
/// | 0-7   | type       | the [`ResourceType`] (never 0, so no handle is 0)     |
/// | 8-15  | loop id    | the event loop that owns the resource                 |
/// | 16-31 | generation | bumped each time the slot is reused                   |
/// | 32-63 | slot       | index into the loop's pool for that type              |
///
/// A pool resolves a handle only if all four fields match a live slot, so a stale handle, a
/// handle of another loop and a handle of another type all fail with
/// [`Error::InvalidHandle`](crate::Error::InvalidHandle) instead of reaching a live resource.
/// Loop ids are reused once a loop is dropped, but a later loop with the same id starts the
/// generations of its pools past every generation the dropped loop handed out, so the dropped
/// loop's handles stay stale in it too.
///
/// [`Handle<T>`] wraps a raw handle with a marker type so that passing a timer where a TCP
/// stream is expected is a compile error; the type field still catches confusion at run time
/// for raw handles that come from FFI, logs or fuzzers.
///
/// `Option<RawHandle>` is 8 bytes: zero is never a valid handle.
///
/// # Examples
///
/// ```
/// use ptk_runtime::{RawHandle, ResourceType};
///
/// let h = RawHandle::new(ResourceType::TcpStream, 0, 3, 12);
/// assert_eq!(h.to_string(), "tcp#12.3@0");
/// assert_eq!(RawHandle::from_u64(h.to_u64()), Some(h));
/// assert_eq!(RawHandle::from_u64(0), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct RawHandle(NonZeroU64);

impl RawHandle {
    /// Packs the four fields into a handle.
    #[inline]
    pub const fn new(ty: ResourceType, loop_id: u8, generation: u16, slot: u32) -> RawHandle {
        let v = (ty as u64)
            | ((loop_id as u64) << 8)
            | ((generation as u64) << 16)
            | ((slot as u64) << 32);
        match NonZeroU64::new(v) {
            Some(nz) => RawHandle(nz),
            // `ty as u64` is at least 1, so `v` is never zero.
            None => unreachable!(),
        }
    }

    /// Rebuilds a handle from its integer form (for FFI, logs or fuzzing). Returns `None` for
    /// zero or an unknown type field. A handle rebuilt this way is only a claim: pools still
    /// check every field before resolving it.
    #[inline]
    pub const fn from_u64(v: u64) -> Option<RawHandle> {
        if ResourceType::from_u8(v as u8).is_none() {
            return None;
        }
        match NonZeroU64::new(v) {
            Some(nz) => Some(RawHandle(nz)),
            None => None,
        }
    }

    /// The integer form of the handle.
    #[inline]
    pub const fn to_u64(self) -> u64 {
        self.0.get()
    }

    /// The resource type field.
    #[inline]
    pub const fn resource_type(self) -> ResourceType {
        match ResourceType::from_u8(self.0.get() as u8) {
            Some(t) => t,
            // Constructors only admit known types.
            None => unreachable!(),
        }
    }

    /// The id of the loop that owns the resource.
    #[inline]
    pub const fn loop_id(self) -> u8 {
        (self.0.get() >> 8) as u8
    }

    /// The generation of the slot when the handle was made.
    #[inline]
    pub const fn generation(self) -> u16 {
        (self.0.get() >> 16) as u16
    }

    /// The slot index in the owning pool.
    #[inline]
    pub const fn slot(self) -> u32 {
        (self.0.get() >> 32) as u32
    }

    /// Types this handle, checking the type field.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidHandle`](crate::Error::InvalidHandle) if the handle names another type.
    #[inline]
    pub fn typed<T: Resource>(self) -> crate::Result<Handle<T>> {
        if self.resource_type() == T::TYPE {
            Ok(Handle {
                raw: self,
                _marker: PhantomData,
            })
        } else {
            Err(crate::Error::InvalidHandle)
        }
    }
}

impl fmt::Display for RawHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{}.{}@{}",
            self.resource_type().short_name(),
            self.slot(),
            self.generation(),
            self.loop_id()
        )
    }
}

impl fmt::Debug for RawHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A marker type that names a kind of resource, for [`Handle<T>`].
pub trait Resource: sealed::Sealed + 'static {
    /// The type field that handles of this resource carry.
    const TYPE: ResourceType;
}

macro_rules! markers {
    ($($(#[$doc:meta])* $name:ident => $ty:ident,)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $name {}
        impl sealed::Sealed for $name {}
        impl Resource for $name {
            const TYPE: ResourceType = ResourceType::$ty;
        }
    )*};
}

markers! {
    /// Marker for timer handles.
    Timer => Timer,
    /// Marker for TCP listener handles.
    TcpListener => TcpListener,
    /// Marker for TCP stream handles.
    TcpStream => TcpStream,
    /// Marker for UDP socket handles.
    UdpSocket => UdpSocket,
    /// Marker for user event source handles.
    UserEvents => UserEvents,
    /// Marker for protothread handles.
    Protothread => Protothread,
    /// Marker for event loop handles.
    Loop => Loop,
    /// Marker for counting semaphore handles.
    Semaphore => Semaphore,
    /// Marker for signal watcher handles.
    Signal => Signal,
    /// Marker for handles of buffers from the loop's buffer pool.
    Buffer => Buffer,
    /// Marker for defer watcher handles.
    Defer => Defer,
    /// Marker for idle watcher handles.
    Idle => Idle,
    /// Marker for periodic watcher handles.
    Periodic => Periodic,
    /// Marker for handles of file operations.
    FileOp => FileOp,
}

/// A handle to a resource of kind `T`.
///
/// Eight bytes, `Copy`, with a niche (`Option<Handle<T>>` is eight bytes too).
///
/// # Examples
///
/// ```
/// use ptk_runtime::{Handle, RawHandle, ResourceType, TcpStream, Timer};
///
/// let raw = RawHandle::new(ResourceType::Timer, 1, 7, 40);
/// let timer: Handle<Timer> = raw.typed().unwrap();
/// assert_eq!(timer.to_string(), "timer#40.7@1");
/// // The type field still rejects a wrong type at run time.
/// assert!(raw.typed::<TcpStream>().is_err());
/// ```
#[repr(transparent)]
pub struct Handle<T: Resource> {
    raw: RawHandle,
    _marker: PhantomData<fn() -> T>,
}

impl<T: Resource> Handle<T> {
    /// The untyped handle.
    #[inline]
    pub const fn raw(self) -> RawHandle {
        self.raw
    }

    /// The integer form of the handle.
    pub const fn to_u64(self) -> u64 {
        self.raw.to_u64()
    }

    /// Wraps a raw handle the runtime knows to be of type `T`.
    #[inline]
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub(crate) const fn from_raw_unchecked(raw: RawHandle) -> Handle<T> {
        Handle {
            raw,
            _marker: PhantomData,
        }
    }
}

impl<T: Resource> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Resource> Copy for Handle<T> {}
impl<T: Resource> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T: Resource> Eq for Handle<T> {}
impl<T: Resource> Hash for Handle<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state)
    }
}
impl<T: Resource> PartialOrd for Handle<T> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Resource> Ord for Handle<T> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}
impl<T: Resource> fmt::Display for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.raw, f)
    }
}
impl<T: Resource> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.raw, f)
    }
}
impl<T: Resource> From<Handle<T>> for RawHandle {
    fn from(h: Handle<T>) -> RawHandle {
        h.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_at_their_extremes() {
        let h = RawHandle::new(ResourceType::Semaphore, 255, u16::MAX, u32::MAX);
        assert_eq!(h.resource_type(), ResourceType::Semaphore);
        assert_eq!(h.loop_id(), 255);
        assert_eq!(h.generation(), u16::MAX);
        assert_eq!(h.slot(), u32::MAX);
        let h = RawHandle::new(ResourceType::Timer, 0, 0, 0);
        assert_eq!(h.to_u64(), 1);
    }

    #[test]
    fn option_of_handle_is_eight_bytes() {
        assert_eq!(core::mem::size_of::<Option<RawHandle>>(), 8);
        assert_eq!(core::mem::size_of::<Option<Handle<TcpStream>>>(), 8);
    }

    #[test]
    fn unknown_type_fields_do_not_parse() {
        assert_eq!(RawHandle::from_u64(0), None);
        assert_eq!(RawHandle::from_u64(0xff), None);
        assert_eq!(RawHandle::from_u64(15 | (3 << 32)), None);
        assert!(RawHandle::from_u64(10 | (3 << 32)).is_some()); // a buffer
        assert!(RawHandle::from_u64(14 | (3 << 32)).is_some()); // a file operation
        assert!(RawHandle::from_u64(3 | (3 << 32)).is_some());
    }

    #[test]
    fn typed_rejects_other_types() {
        let raw = RawHandle::new(ResourceType::UdpSocket, 2, 1, 5);
        assert!(raw.typed::<UdpSocket>().is_ok());
        assert_eq!(raw.typed::<TcpStream>(), Err(crate::Error::InvalidHandle));
    }
}
