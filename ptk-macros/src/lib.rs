//! The `#[protothread]` attribute of [ptk](https://docs.rs/ptk) and its suspension macros.
//!
//! Use it through the `ptk` facade, whose documentation (and that of [`macro@protothread`])
//! describes the forms, the suspension points, the rules for locals and the exact shape of
//! the generated code. The expansion runs in phases, one module each: `parse` (options and
//! signature), `analyze` (locals across suspension points, misplaced suspension macros),
//! `lower` (the state machine), `expand` (the function, the `Protothread` impl, the sites) and
//! `fallback` (the stub emitted next to errors, and the suspension macros' own errors outside a
//! protothread).
#![deny(missing_docs)]

mod analyze;
mod expand;
mod fallback;
mod lower;
mod parse;
#[cfg(test)]
mod snapshots;
mod suspend;

use proc_macro::TokenStream;

use suspend::Kind;

#[doc = include_str!("../doc/protothread.md")]
#[proc_macro_attribute]
pub fn protothread(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::protothread(args.into(), item.into()).into()
}

/// Waits until a `Poll` expression is ready; evaluates to its value. Only inside
/// [`macro@protothread`]; anywhere else it is a compile error.
#[proc_macro]
pub fn pt_await(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::Await).into()
}

/// Waits until a condition holds. Only inside [`macro@protothread`].
#[proc_macro]
pub fn pt_wait_until(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::WaitUntil).into()
}

/// Waits while a condition holds. Only inside [`macro@protothread`].
#[proc_macro]
pub fn pt_wait_while(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::WaitWhile).into()
}

/// Gives way once. Only inside [`macro@protothread`].
#[proc_macro]
pub fn pt_yield(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::Yield).into()
}

/// Gives way once, then waits until a condition holds. Only inside [`macro@protothread`].
#[proc_macro]
pub fn pt_yield_until(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::YieldUntil).into()
}

/// Runs a child protothread to completion; evaluates to its output. Only inside
/// [`macro@protothread`].
#[proc_macro]
pub fn pt_spawn(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::Spawn).into()
}

/// Ends the protothread without output. Only inside [`macro@protothread`].
#[proc_macro]
pub fn pt_exit(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::Exit).into()
}

/// Starts the protothread over from the top, giving way. Only inside [`macro@protothread`].
#[proc_macro]
pub fn pt_restart(_: TokenStream) -> TokenStream {
    fallback::outside(Kind::Restart).into()
}
