//! `buf`: the byte buffers that move between C and the loop, and their small API.
//!
//! A buffer has a fixed capacity (zeroed when made, so every byte the C side may touch is
//! initialised) and a length. It belongs to one side at a time: `ptk_write` and
//! `ptk_udp_send` take it, a read event lends it (`PTK_BUF_BORROWED`) or gives it
//! (`PTK_BUF_TRANSFER`).
#![allow(unsafe_code)] // The C side holds buffers by raw pointer; every dereference is here.

use std::ffi::c_void;
use std::ptr;

use crate::error::{ptk_err, PTK_ERR_INVALID_PARAM, PTK_ERR_OUT_OF_MEMORY, PTK_OK};
use crate::guard::{guard, guard_or};

/// `buf`: bytes with a length and a fixed capacity. Opaque to C.
#[allow(non_camel_case_types)]
pub struct buf {
    bytes: Box<[u8]>,
    len: usize,
}

impl buf {
    /// An empty buffer of `capacity` bytes, or `None` if the memory cannot be had.
    pub fn with_capacity(capacity: usize) -> Option<Box<buf>> {
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(capacity).ok()?;
        bytes.resize(capacity, 0);
        Some(Box::new(buf {
            bytes: bytes.into_boxed_slice(),
            len: 0,
        }))
    }

    /// A buffer holding a copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Option<Box<buf>> {
        let mut b = buf::with_capacity(bytes.len().max(1))?;
        b.bytes[..bytes.len()].copy_from_slice(bytes);
        b.len = bytes.len();
        Some(b)
    }

    /// The bytes in use.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Every byte of the capacity, to read into.
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Sets the length; false if it passes the capacity.
    pub fn set_len(&mut self, len: usize) -> bool {
        if len > self.bytes.len() {
            return false;
        }
        self.len = len;
        true
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }

    /// Takes a buffer C handed over; `None` for NULL.
    ///
    /// # Safety
    ///
    /// `b` is NULL or came from [`into_raw`](buf::into_raw) and the caller owned it.
    pub unsafe fn from_raw(b: *mut buf) -> Option<Box<buf>> {
        if b.is_null() {
            None
        } else {
            // SAFETY: the caller promises `b` is a live buffer it owned, made by `into_raw`.
            Some(unsafe { Box::from_raw(b) })
        }
    }

    /// Hands a buffer to C.
    pub fn into_raw(b: Box<buf>) -> *mut buf {
        Box::into_raw(b)
    }
}

/// Borrows a buffer C points at; `None` for NULL.
///
/// # Safety
///
/// `b` is NULL or a live buffer that nothing else uses during the borrow.
unsafe fn borrow<'a>(b: *const buf) -> Option<&'a buf> {
    // SAFETY: the caller promises `b` is NULL or live.
    unsafe { b.as_ref() }
}

/// As [`borrow`], mutably.
///
/// # Safety
///
/// As [`borrow`].
unsafe fn borrow_mut<'a>(b: *mut buf) -> Option<&'a mut buf> {
    // SAFETY: the caller promises `b` is NULL or live and unshared.
    unsafe { b.as_mut() }
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
        let Some(b) = buf::with_capacity(capacity) else {
            return PTK_ERR_OUT_OF_MEMORY;
        };
        // SAFETY: `out` is not NULL and the caller promises it is writable.
        unsafe { out.write(buf::into_raw(b)) };
        PTK_OK
    })
}

/// `void ptk_buf_free(buf *b)`.
///
/// # Safety
///
/// `b` is NULL or a buffer the caller owns (from `ptk_buf_alloc` or a transferred read).
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_free(b: *mut buf) {
    guard_or((), || {
        // SAFETY: the caller promises it owns `b`.
        drop(unsafe { buf::from_raw(b) });
    })
}

/// `uint8_t *ptk_buf_data(buf *b)`.
///
/// # Safety
///
/// `b` is NULL or a live buffer.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_data(b: *mut buf) -> *mut u8 {
    guard_or(ptr::null_mut(), || {
        // SAFETY: the caller promises `b` is NULL or live.
        unsafe { borrow_mut(b) }.map_or(ptr::null_mut(), |b| b.bytes.as_mut_ptr())
    })
}

/// `size_t ptk_buf_len(const buf *b)`.
///
/// # Safety
///
/// `b` is NULL or a live buffer.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_len(b: *const buf) -> usize {
    // SAFETY: the caller promises `b` is NULL or live.
    guard_or(0, || unsafe { borrow(b) }.map_or(0, |b| b.len))
}

/// `size_t ptk_buf_capacity(const buf *b)`.
///
/// # Safety
///
/// `b` is NULL or a live buffer.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_capacity(b: *const buf) -> usize {
    // SAFETY: the caller promises `b` is NULL or live.
    guard_or(0, || unsafe { borrow(b) }.map_or(0, buf::capacity))
}

/// `ptk_err ptk_buf_set_len(buf *b, size_t len)`.
///
/// # Safety
///
/// `b` is NULL or a live buffer.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_set_len(b: *mut buf, len: usize) -> ptk_err {
    guard(|| {
        // SAFETY: the caller promises `b` is NULL or live.
        match unsafe { borrow_mut(b) } {
            Some(b) => {
                if b.set_len(len) {
                    PTK_OK
                } else {
                    PTK_ERR_INVALID_PARAM
                }
            }
            None => PTK_ERR_INVALID_PARAM,
        }
    })
}

/// `ptk_err ptk_buf_append(buf *b, const void *bytes, size_t len)`.
///
/// # Safety
///
/// `b` is NULL or a live buffer; `bytes` is NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ptk_buf_append(b: *mut buf, bytes: *const c_void, len: usize) -> ptk_err {
    guard(|| {
        // SAFETY: the caller promises `b` is NULL or live.
        let Some(b) = (unsafe { borrow_mut(b) }) else {
            return PTK_ERR_INVALID_PARAM;
        };
        if len == 0 {
            return PTK_OK;
        }
        if bytes.is_null() || len > b.capacity() - b.len {
            return PTK_ERR_INVALID_PARAM;
        }
        // SAFETY: `bytes` is not NULL and the caller promises `len` readable bytes there.
        let src = unsafe { std::slice::from_raw_parts(bytes.cast::<u8>(), len) };
        b.bytes[b.len..b.len + len].copy_from_slice(src);
        b.len += len;
        PTK_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_takes_what_fits_and_refuses_what_does_not() {
        let mut b = ptr::null_mut();
        // SAFETY: `b` is writable; every call below gets the live buffer or NULL.
        unsafe {
            assert_eq!(ptk_buf_alloc(&mut b, 4), PTK_OK);
            assert_eq!((ptk_buf_len(b), ptk_buf_capacity(b)), (0, 4));
            assert_eq!(ptk_buf_append(b, b"abc".as_ptr().cast(), 3), PTK_OK);
            assert_eq!(
                ptk_buf_append(b, b"de".as_ptr().cast(), 2),
                PTK_ERR_INVALID_PARAM
            );
            assert_eq!(ptk_buf_len(b), 3);
            assert_eq!(std::slice::from_raw_parts(ptk_buf_data(b), 3), b"abc");
            assert_eq!(ptk_buf_set_len(b, 5), PTK_ERR_INVALID_PARAM);
            assert_eq!(ptk_buf_set_len(b, 4), PTK_OK);
            assert_eq!(std::slice::from_raw_parts(ptk_buf_data(b), 4), b"abc\0");
            ptk_buf_free(b);
        }
    }

    #[test]
    fn null_buffers_and_null_outputs_are_refused_not_dereferenced() {
        // SAFETY: only NULL pointers are passed.
        unsafe {
            assert_eq!(ptk_buf_alloc(ptr::null_mut(), 8), PTK_ERR_INVALID_PARAM);
            let mut b = ptr::null_mut();
            assert_eq!(ptk_buf_alloc(&mut b, 0), PTK_ERR_INVALID_PARAM);
            assert!(b.is_null());
            assert_eq!(ptk_buf_len(ptr::null()), 0);
            assert_eq!(ptk_buf_capacity(ptr::null()), 0);
            assert!(ptk_buf_data(ptr::null_mut()).is_null());
            assert_eq!(ptk_buf_set_len(ptr::null_mut(), 0), PTK_ERR_INVALID_PARAM);
            assert_eq!(
                ptk_buf_append(ptr::null_mut(), b"x".as_ptr().cast(), 1),
                PTK_ERR_INVALID_PARAM
            );
            ptk_buf_free(ptr::null_mut());
        }
    }
}
