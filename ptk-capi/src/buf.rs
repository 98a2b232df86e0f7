//! `buf`: the byte buffers that move between C and the loop, and their small API.
//!
//! A `buf *` is one of two things, told apart by its lowest bit:
//!
//! * an **owned** buffer (bit clear): a [`ptk_loop::Buf`] of the loop group's pool turned into
//!   a pointer with [`Buf::into_raw`]. `ptk_buf_alloc` makes one, a `PTK_BUF_TRANSFER` read
//!   hands one over, `ptk_write`/`ptk_udp_send`/`ptk_buf_free` take one back. Nothing is
//!   allocated to make the pointer.
//! * a **borrowed view** (bit set): the address of a [`View`] on the delivering thread's
//!   stack, for a `PTK_BUF_BORROWED` read and for write completions. It can be read for the
//!   callback's duration; writing, freeing or sending it is refused (`PTK_ERR_INVALID_PARAM`,
//!   or ignored by `ptk_buf_free`), so a C program that mistakes a borrowed buffer for its own
//!   gets an error instead of a double free.
//!
//! `ptk_buf_alloc` has no loop argument: it takes from the pool of the loop whose callback is
//! running on this thread, otherwise from the most recently created loop (see
//! `ptk_buf_alloc` in `ptk_loop.h`).
#![allow(unsafe_code)] // The C side holds buffers by raw pointer; every dereference is here.

use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::ptr;

use ptk_loop::Buf;

use crate::error::{ptk_err, PTK_ERR_INVALID_PARAM, PTK_ERR_OUT_OF_MEMORY, PTK_OK};
use crate::guard::{guard, guard_or};
use crate::registry;

/// `buf` as C sees it: opaque.
#[allow(non_camel_case_types)]
pub enum buf {}

/// A read-only window on bytes the library keeps, valid while the callback runs.
pub struct View {
    ptr: *const u8,
    len: usize,
}

impl View {
    /// A view of `bytes`; keep it alive (on the stack) while C holds [`View::as_raw`].
    pub fn new(bytes: &[u8]) -> View {
        View {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// The tagged pointer C receives.
    pub fn as_raw(&self) -> *mut buf {
        (ptr::from_ref(self) as usize | 1) as *mut buf
    }
}

/// What a `buf *` points at.
enum Target<'a> {
    Owned(ManuallyDrop<Buf>),
    Borrowed(&'a View),
}

/// Reads a `buf *` without taking it; `None` for NULL.
///
/// # Safety
///
/// `b` is NULL, a live owned buffer that nothing else uses during the call, or a view whose
/// callback is still running.
unsafe fn peek<'a>(b: *const buf) -> Option<Target<'a>> {
    let raw = b as usize;
    if raw == 0 {
        None
    } else if raw & 1 == 1 {
        // SAFETY: the caller promises the view is alive; its address is `raw` untagged.
        Some(Target::Borrowed(unsafe { &*((raw & !1) as *const View) }))
    } else {
        // SAFETY: an untagged pointer is one of `Buf::into_raw`; ManuallyDrop keeps the
        // ownership where it was (with C) when the peek ends.
        Some(Target::Owned(ManuallyDrop::new(unsafe {
            Buf::from_raw(b as *mut c_void)
        })))
    }
}

/// Takes an owned `buf *` back from C; `Err` for a view (refused, left alone), `Ok(None)` for
/// NULL.
///
/// # Safety
///
/// As `peek`, and the caller owned the buffer and gives it up.
pub unsafe fn take(b: *mut buf) -> Result<Option<Buf>, ptk_err> {
    let raw = b as usize;
    if raw == 0 {
        Ok(None)
    } else if raw & 1 == 1 {
        Err(PTK_ERR_INVALID_PARAM)
    } else {
        // SAFETY: the caller gives up an owned buffer made by `Buf::into_raw`.
        Ok(Some(unsafe { Buf::from_raw(b.cast()) }))
    }
}

/// Hands an owned buffer to C.
pub fn give(b: Buf) -> *mut buf {
    b.into_raw().cast()
}

/// `ptk_err ptk_buf_alloc(buf **out, size_t capacity)`.
///
/// # Safety
///
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_alloc(out: *mut *mut buf, capacity: usize) -> ptk_err {
    guard(|| {
        if out.is_null() || capacity == 0 {
            return PTK_ERR_INVALID_PARAM;
        }
        let Some(group) = registry::current_or_latest() else {
            return PTK_ERR_OUT_OF_MEMORY;
        };
        let b = match group.handle.buf_alloc() {
            Ok(b) => b,
            Err(e) => return crate::error::from_loop(e),
        };
        if b.capacity() < capacity {
            return PTK_ERR_INVALID_PARAM;
        }
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(give(b)) };
        PTK_OK
    })
}

/// `void ptk_buf_free(buf *b)`.
///
/// # Safety
///
/// `b` is NULL, a buffer the caller owns, or a view (ignored).
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_free(b: *mut buf) {
    guard_or((), || {
        // SAFETY: the caller promises it owns `b` (views are refused by `take`).
        drop(unsafe { take(b) });
    })
}

/// `uint8_t *ptk_buf_data(buf *b)`: writable for an owned buffer, read-only for a view.
///
/// # Safety
///
/// As `peek`.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_data(b: *mut buf) -> *mut u8 {
    guard_or(ptr::null_mut(), || {
        // SAFETY: the caller promises `b` is NULL, owned and live, or a live view.
        match unsafe { peek(b) } {
            None => ptr::null_mut(),
            Some(Target::Borrowed(v)) => v.ptr.cast_mut(),
            Some(Target::Owned(mut o)) => {
                // The start of the memory, for all of it: the data, then the room behind it
                // (to write into before set_len). The pointer comes from a slice of the whole
                // capacity, so C may use every byte of it.
                let len = o.len();
                if len == 0 {
                    return o.spare_mut().as_mut_ptr();
                }
                let capacity = o.capacity();
                if o.set_len(capacity).is_err() {
                    return ptr::null_mut();
                }
                let p = o.as_mut_slice().as_mut_ptr();
                let _ = o.set_len(len);
                p
            }
        }
    })
}

/// `size_t ptk_buf_len(const buf *b)`.
///
/// # Safety
///
/// As `peek`.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_len(b: *const buf) -> usize {
    guard_or(0, || {
        // SAFETY: as for ptk_buf_data.
        match unsafe { peek(b) } {
            None => 0,
            Some(Target::Borrowed(v)) => v.len,
            Some(Target::Owned(o)) => o.len(),
        }
    })
}

/// `size_t ptk_buf_capacity(const buf *b)`: a view's capacity is its length.
///
/// # Safety
///
/// As `peek`.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_capacity(b: *const buf) -> usize {
    guard_or(0, || {
        // SAFETY: as for ptk_buf_data.
        match unsafe { peek(b) } {
            None => 0,
            Some(Target::Borrowed(v)) => v.len,
            Some(Target::Owned(o)) => o.capacity(),
        }
    })
}

/// `ptk_err ptk_buf_set_len(buf *b, size_t len)`.
///
/// # Safety
///
/// As `peek`.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_set_len(b: *mut buf, len: usize) -> ptk_err {
    guard(|| {
        // SAFETY: as for ptk_buf_data.
        match unsafe { peek(b) } {
            Some(Target::Owned(mut o)) if len <= o.capacity() => {
                let _ = o.set_len(len);
                PTK_OK
            }
            _ => PTK_ERR_INVALID_PARAM,
        }
    })
}

/// `ptk_err ptk_buf_append(buf *b, const void *bytes, size_t len)`.
///
/// # Safety
///
/// As `peek`; `bytes` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_append(b: *mut buf, bytes: *const c_void, len: usize) -> ptk_err {
    guard(|| {
        // SAFETY: as for ptk_buf_data.
        let Some(Target::Owned(mut o)) = (unsafe { peek(b) }) else {
            return PTK_ERR_INVALID_PARAM;
        };
        if len == 0 {
            return PTK_OK;
        }
        if bytes.is_null() {
            return PTK_ERR_INVALID_PARAM;
        }
        // SAFETY: `bytes` is not NULL and the caller promises `len` readable bytes there.
        let src = unsafe { std::slice::from_raw_parts(bytes.cast::<u8>(), len) };
        match o.extend_from_slice(src) {
            Ok(()) => PTK_OK,
            Err(_) => PTK_ERR_INVALID_PARAM,
        }
    })
}
