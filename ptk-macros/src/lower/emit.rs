//! The few shapes of code every part of the lowering emits: jumps between states, ends of the
//! run, and `?`. All names the generated code introduces are hygienic (`Span::mixed_site`), so
//! they neither see nor shadow the user's.

use std::cell::Cell;

use proc_macro2::TokenTree;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{Ident, Lifetime, Path};

/// Where control goes when a lowered block (or a `break` out of a lowered construct) completes.
#[derive(Clone, Debug)]
pub(crate) enum Cont {
    /// On to another state of the same resume call; a value is discarded.
    Goto(u16),
    /// The end of the body: the value is the protothread's output.
    Finish,
    /// The end of the body after a statement: the output is `()`.
    FinishUnit,
    /// Store the value in a slot for the state that takes it, then go there.
    Store { slot: usize, then: u16 },
}

/// The names of the generated code and the emitters that use them.
pub(crate) struct Names {
    /// Where the runtime is: `::ptk::__private` unless `crate = ..` says otherwise.
    pub(crate) krate: Path,
    /// The user's context: `self` or the first parameter.
    pub(crate) ctx: TokenStream,
    /// The runtime context parameter.
    pub(crate) cx: Ident,
    /// The labelled block the whole run breaks out of with its `Transition`.
    pub(crate) end: Lifetime,
    /// The dispatch loop that `continue`s to the next state.
    pub(crate) next: Lifetime,
    /// The state to run next.
    pub(crate) state: Ident,
    /// Whether any jump was emitted, which makes the dispatch loop necessary.
    dispatch: Cell<bool>,
}

impl Names {
    pub(crate) fn new(krate: Path, ctx: TokenStream, cx: Ident) -> Names {
        let span = Span::mixed_site();
        Names {
            krate,
            ctx,
            cx,
            end: Lifetime::new("'__pt", span),
            next: Lifetime::new("'__pt_next", span),
            state: Ident::new("__pt_state", span),
            dispatch: Cell::new(false),
        }
    }

    /// Whether the states need the dispatch loop (some state jumps to another).
    pub(crate) fn needs_dispatch(&self) -> bool {
        self.dispatch.get()
    }

    /// The slot that carries a lowered construct's value to the state after it.
    pub(crate) fn slot(&self, index: usize) -> Ident {
        format_ident!("__pt_slot{}", index, span = Span::mixed_site())
    }

    /// Jumps to `state` within this resume call.
    pub(crate) fn goto(&self, state: u16) -> TokenStream {
        self.dispatch.set(true);
        let (var, next) = (&self.state, &self.next);
        let state = proc_macro2::Literal::u16_unsuffixed(state);
        quote!(#var = #state; continue #next;)
    }

    /// Ends the run with `Transition::<variant>(args)`.
    pub(crate) fn end_with(&self, span: Span, transition: TokenStream) -> TokenStream {
        let (krate, end) = (&self.krate, &self.end);
        quote_spanned!(span=> break #end #krate::Transition::#transition)
    }

    /// Completes a block with `value` (or `()` if `None`) as `cont` says.
    pub(crate) fn cont(&self, cont: &Cont, value: Option<TokenStream>) -> TokenStream {
        let span = Span::call_site();
        match cont {
            Cont::Goto(state) => {
                let value = value.map(|v| quote!(#v;));
                let jump = self.goto(*state);
                quote!(#value #jump)
            }
            Cont::Finish => {
                let value = value.unwrap_or_else(|| quote!(()));
                let end = self.end_with(span, quote!(Done(#value)));
                quote!(#end;)
            }
            Cont::FinishUnit => {
                let value = value.map(|v| quote!(#v;));
                let end = self.end_with(span, quote!(Done(())));
                quote!(#value #end;)
            }
            Cont::Store { slot, then } => {
                let slot = self.slot(*slot);
                let value = value.unwrap_or_else(|| quote!(()));
                let jump = self.goto(*then);
                quote!(#slot = ::core::option::Option::Some(#value); #jump)
            }
        }
    }

    /// `expr?`, ending the run with the residual converted into the output.
    pub(crate) fn try_(&self, expr: TokenStream, span: Span) -> TokenStream {
        // The runtime path takes the span of the `?`, so a missing `From` points there.
        let krate = respan(self.krate.to_token_stream(), span);
        let (v, r) = (
            Ident::new("__pt_v", span.resolved_at(Span::mixed_site())),
            Ident::new("__pt_r", span.resolved_at(Span::mixed_site())),
        );
        let end = self.end_with(
            span,
            quote_spanned!(span=> Done(#krate::FromTryResidual::from_residual(#r))),
        );
        quote_spanned! {span=>
            match #krate::TryBranch::branch(#expr) {
                ::core::ops::ControlFlow::Continue(#v) => #v,
                ::core::ops::ControlFlow::Break(#r) => #end,
            }
        }
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}
