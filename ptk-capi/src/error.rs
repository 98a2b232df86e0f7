//! `ptk_err`: the error codes every function returns, and their descriptions.
#![allow(unsafe_code)] // Exports C symbols (`#[no_mangle]`); no pointer is dereferenced here.

use std::ffi::{c_char, c_int, CStr};
use std::io;

/// An error code of `ptk_loop.h` (`ptk_err`); `Ok` is success.
///
/// Returned to C as the enum; an error code coming *from* C arrives as a `c_int` and goes
/// through [`Err::from_raw`], so an out-of-range value is never an invalid Rust enum.
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

/// The descriptions, in the order of the codes.
const DESCRIPTIONS: [&CStr; 10] = [
    c"success",
    c"out of memory (or a fixed capacity is full)",
    c"invalid parameter (a NULL pointer, a bad value, or a closed or destroyed handle)",
    c"network operation failed",
    c"socket is closed",
    c"operation timed out",
    c"operation would block",
    c"address already in use",
    c"connection refused by the remote host",
    c"host unreachable (or its name does not resolve)",
];

/// What an unknown code is called.
const UNKNOWN: &CStr = c"unknown ptk_err code";

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
        DESCRIPTIONS[self as usize]
    }

    /// The code for an I/O error from the operating system.
    pub fn from_io(e: &io::Error) -> ptk_err {
        match e.kind() {
            io::ErrorKind::OutOfMemory => PTK_ERR_OUT_OF_MEMORY,
            io::ErrorKind::InvalidInput => PTK_ERR_INVALID_PARAM,
            io::ErrorKind::TimedOut => PTK_ERR_TIMEOUT,
            io::ErrorKind::WouldBlock => PTK_ERR_WOULD_BLOCK,
            io::ErrorKind::AddrInUse => PTK_ERR_ADDRESS_IN_USE,
            io::ErrorKind::ConnectionRefused => PTK_ERR_CONNECTION_REFUSED,
            io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                PTK_ERR_HOST_UNREACHABLE
            }
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof => PTK_ERR_CLOSED,
            _ => PTK_ERR_NETWORK_ERROR,
        }
    }
}

/// `const char *ptk_err_string(ptk_err err)`: a static description of `err` (also for values
/// that are not codes).
#[no_mangle]
pub extern "C" fn ptk_err_string(err: c_int) -> *const c_char {
    ptk_err::from_raw(err)
        .map_or(UNKNOWN, ptk_err::description)
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
        assert_eq!(
            ptk_err_string(8),
            c"connection refused by the remote host".as_ptr()
        );
    }

    #[test]
    fn io_errors_map_to_the_codes_a_c_program_tests_for() {
        let code = |k| ptk_err::from_io(&io::Error::from(k));
        assert_eq!(
            code(io::ErrorKind::ConnectionRefused),
            PTK_ERR_CONNECTION_REFUSED
        );
        assert_eq!(code(io::ErrorKind::AddrInUse), PTK_ERR_ADDRESS_IN_USE);
        assert_eq!(code(io::ErrorKind::ConnectionReset), PTK_ERR_CLOSED);
        assert_eq!(code(io::ErrorKind::TimedOut), PTK_ERR_TIMEOUT);
        assert_eq!(code(io::ErrorKind::PermissionDenied), PTK_ERR_NETWORK_ERROR);
    }
}
