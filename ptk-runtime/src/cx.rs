//! [`Cx`], the runtime context a protothread (or a handler) receives on every resume.
//!
//! `Cx` is how running code reaches the event loop: the poll-style operations
//! (`cx.read(..)`, `cx.accept(..)`, `cx.sleep_until(..)`, ...) are methods on it, and a
//! `Pending` answer registers a one-shot wake-up of whoever is running. Without the `std`
//! feature, or when a test drives a protothread by hand, a [`Cx::detached`] context has no loop
//! behind it.

use crate::handle::{Handle, Protothread as ProtothreadKind, RawHandle};

/// The loop side of a [`Cx`]: implemented by event loop backends.
pub(crate) trait Driver {}

/// The runtime context handed to a resume.
///
/// # Examples
///
/// ```
/// use ptk_runtime::Cx;
///
/// let cx = Cx::detached();
/// assert!(cx.is_detached());
/// assert_eq!(cx.current(), None);
/// ```
pub struct Cx<'a> {
    #[allow(dead_code)]
    pub(crate) driver: Option<&'a mut (dyn Driver + 'a)>,
    pub(crate) current: Option<RawHandle>,
}

impl Cx<'static> {
    /// A context with no event loop behind it, for driving protothreads by hand (tests,
    /// `no_std` targets with their own scheduler). Loop operations on it fail with
    /// [`Error::NotSupported`](crate::Error::NotSupported).
    pub const fn detached() -> Cx<'static> {
        Cx {
            driver: None,
            current: None,
        }
    }
}

impl<'a> Cx<'a> {
    /// Whether there is no event loop behind this context.
    pub fn is_detached(&self) -> bool {
        self.driver.is_none()
    }

    /// The protothread being resumed, if a loop is resuming one.
    pub fn current(&self) -> Option<Handle<ProtothreadKind>> {
        self.current.map(Handle::from_raw_unchecked)
    }
}

impl core::fmt::Debug for Cx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cx")
            .field("detached", &self.is_detached())
            .field("current", &self.current)
            .finish()
    }
}
