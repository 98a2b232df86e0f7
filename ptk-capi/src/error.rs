//! `ptk_err`: the error codes every function returns, and their descriptions.
#![allow(unsafe_code)] // Exports C symbols (`#[no_mangle]`); no pointer is dereferenced here.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::OnceLock;

use ptk_loop::Error;

use crate::guard::guard_or;

/// An error code of `ptk_loop.h` (`ptk_err`); `Ok` is success.
///
/// Returned to C as the enum; an error code coming *from* C arrives as a `c_int` and goes
/// through [`ptk_err::from_raw`], so an out-of-range value is never an invalid Rust enum.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types, clippy::enum_variant_names)]
pub enum ptk_err {
    /// Success.
    PTK_OK = 0,
    /// Memory allocation failed, or a fixed capacity is full.
    PTK_ERR_OUT_OF_MEMORY,
    /// An invalid parameter: a NULL pointer, a bad port, a stale or destroyed handle.
    PTK_ERR_INVALID_PARAM,
    /// A network operation failed.
    PTK_ERR_NETWORK_ERROR,
    /// The socket is closed.
    PTK_ERR_CLOSED,
    /// The operation timed out.
    PTK_ERR_TIMEOUT,
    /// The operation would block.
    PTK_ERR_WOULD_BLOCK,
    /// The address is already in use.
    PTK_ERR_ADDRESS_IN_USE,
    /// The remote refused the connection.
    PTK_ERR_CONNECTION_REFUSED,
    /// The host is unreachable (or its name does not resolve).
    PTK_ERR_HOST_UNREACHABLE,
}

pub use ptk_err::*;

/// The NUL-terminated descriptions, index = code: `ptk_loop::Error::as_str`, made once.
fn descriptions() -> &'static [CString; 10] {
    static TABLE: OnceLock<[CString; 10]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|code| {
            let text = i32::try_from(code)
                .ok()
                .and_then(Error::from_code)
                .map_or("success", Error::as_str);
            CString::new(text).unwrap_or_default()
        })
    })
}

/// What an unknown code is called.
const UNKNOWN: &CStr = c"unknown ptk_err code";

/// The code of a `ptk_loop` error (the same numbers).
pub fn from_loop(e: Error) -> ptk_err {
    ptk_err::from_raw(e.code()).unwrap_or(PTK_ERR_NETWORK_ERROR)
}

/// `PTK_OK` for `Ok`, the error's code otherwise.
pub fn code_of<T>(r: Result<T, Error>) -> ptk_err {
    match r {
        Ok(_) => PTK_OK,
        Err(e) => from_loop(e),
    }
}

impl ptk_err {
    /// The code whose value is `raw`, if there is one.
    pub fn from_raw(raw: c_int) -> Option<ptk_err> {
        const ALL: [ptk_err; 10] = [
            PTK_OK,
            PTK_ERR_OUT_OF_MEMORY,
            PTK_ERR_INVALID_PARAM,
            PTK_ERR_NETWORK_ERROR,
            PTK_ERR_CLOSED,
            PTK_ERR_TIMEOUT,
            PTK_ERR_WOULD_BLOCK,
            PTK_ERR_ADDRESS_IN_USE,
            PTK_ERR_CONNECTION_REFUSED,
            PTK_ERR_HOST_UNREACHABLE,
        ];
        usize::try_from(raw).ok().and_then(|i| ALL.get(i).copied())
    }

    /// The human-readable description.
    pub fn description(self) -> &'static CStr {
        &descriptions()[self as usize]
    }
}

/// `const char *ptk_err_string(ptk_err err)`: a static description of `err` (also for values
/// that are not codes).
#[no_mangle]
pub extern "C" fn ptk_err_string(err: c_int) -> *const c_char {
    guard_or(UNKNOWN, || {
        ptk_err::from_raw(err).map_or(UNKNOWN, ptk_err::description)
    })
    .as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_description_and_unknown_codes_have_one_too() {
        let mut seen = std::collections::HashSet::new();
        for raw in 0..10 {
            let err = ptk_err::from_raw(raw).unwrap();
            assert_eq!(err as c_int, raw);
            assert!(seen.insert(err.description()));
        }
        assert_eq!(ptk_err::from_raw(10), None);
        assert_eq!(ptk_err::from_raw(-1), None);
        assert_eq!(ptk_err_string(-1), UNKNOWN.as_ptr());
        assert_eq!(ptk_err_string(8), descriptions()[8].as_ptr());
        assert_eq!(descriptions()[8].as_c_str(), c"connection refused");
        assert_eq!(descriptions()[0].as_c_str(), c"success");
    }

    #[test]
    fn loop_errors_keep_their_numbers() {
        for e in Error::ALL {
            assert_eq!(from_loop(e) as i32, e.code());
        }
        assert_eq!(
            code_of(Err::<(), _>(Error::ConnectionRefused)),
            PTK_ERR_CONNECTION_REFUSED
        );
        assert_eq!(code_of(Ok(())), PTK_OK);
    }
}
