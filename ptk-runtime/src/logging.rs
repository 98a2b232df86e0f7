//! Diagnostics through the `log` facade, compiled out without the `log` feature.
//!
//! The runtime and the drivers built on it log what an operator needs to see: a connection
//! refused for lack of room, a connection closed on a protocol error, a timeout, a pool that
//! ran dry (once per episode, not once per message), a fallback that degrades service. These
//! macros are the only way they log. With the `log` feature they are `log`'s macros; without
//! it they expand to a branch that never runs but still type-checks the arguments, so a build
//! without the feature carries no logging code and no format strings, and the arguments
//! cannot rot.
//!
//! They are exported, hidden, for the crates of the workspace (which turn the feature on
//! through a `log` feature of their own) and need no `log` dependency there: they reach it
//! through this crate. They are not an API for users, who call `log` itself.

/// `log::error!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(feature = "log")]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_error {
    ($($arg:tt)+) => {
        $crate::__log::error!($($arg)+)
    };
}

/// `log::error!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(not(feature = "log"))]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_error {
    ($($arg:tt)+) => {
        if false {
            let _ = ::core::format_args!($($arg)+);
        }
    };
}

/// `log::warn!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(feature = "log")]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_warn {
    ($($arg:tt)+) => {
        $crate::__log::warn!($($arg)+)
    };
}

/// `log::warn!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(not(feature = "log"))]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_warn {
    ($($arg:tt)+) => {
        if false {
            let _ = ::core::format_args!($($arg)+);
        }
    };
}

/// `log::info!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(feature = "log")]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_info {
    ($($arg:tt)+) => {
        $crate::__log::info!($($arg)+)
    };
}

/// `log::info!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(not(feature = "log"))]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_info {
    ($($arg:tt)+) => {
        if false {
            let _ = ::core::format_args!($($arg)+);
        }
    };
}

/// `log::debug!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(feature = "log")]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_debug {
    ($($arg:tt)+) => {
        $crate::__log::debug!($($arg)+)
    };
}

/// `log::debug!` with the `log` feature, nothing without it (the arguments are still
/// checked).
#[cfg(not(feature = "log"))]
#[doc(hidden)]
#[macro_export]
macro_rules! ptk_debug {
    ($($arg:tt)+) => {
        if false {
            let _ = ::core::format_args!($($arg)+);
        }
    };
}
