//! The few shapes of code every part of the lowering emits: jumps between states, ends of the
//! run, and `?`. All names the generated code introduces are hygienic (`Span::mixed_site`), so
//! they neither see nor shadow the user's.
//!
//! A jump is emitted as a placeholder, `<marker> n;`, because its form depends on where the
//! target state ends up: the layout (see [`super::layout`]) turns it into `break '__pt_sn;` when
//! state `n` is placed after the jump, and into `__pt_state = n; continue '__pt_next;` when it
//! is placed before.

use std::collections::BTreeSet;

use proc_macro2::TokenTree;
use proc_macro2::{Literal, Span, TokenStream};
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
    /// The dispatch loop that a jump back to an earlier state `continue`s.
    pub(crate) next: Lifetime,
    /// The state the dispatch loop runs next.
    pub(crate) state: Ident,
    /// The placeholder ident of a jump, one that occurs nowhere in the user's tokens.
    pub(crate) marker: Ident,
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
            marker: Ident::new("__pt_goto", span),
        }
    }

    /// Picks a jump placeholder that no ident of `user` (nor of the paths and parameters the
    /// names hold) spells, so every placeholder in the lowered code is a jump.
    pub(crate) fn avoid(&mut self, user: TokenStream) {
        let mut taken = BTreeSet::new();
        let own = [
            self.krate.to_token_stream(),
            self.ctx.clone(),
            self.cx.to_token_stream(),
        ];
        for tokens in own.into_iter().chain([user]) {
            idents(tokens, &mut taken);
        }
        let mut n = 0u32;
        while taken.contains(&self.marker.to_string()) {
            n += 1;
            self.marker = format_ident!("__pt_goto{}", n, span = Span::mixed_site());
        }
    }

    /// The slot that carries a lowered construct's value to the state after it.
    pub(crate) fn slot(&self, index: usize) -> Ident {
        format_ident!("__pt_slot{}", index, span = Span::mixed_site())
    }

    /// Jumps to `state` within this resume call: a placeholder the layout resolves.
    pub(crate) fn goto(&self, state: u16) -> TokenStream {
        let (marker, state) = (&self.marker, Literal::u16_unsuffixed(state));
        quote!(#marker #state;)
    }

    /// The label of the block that `state`'s code follows.
    pub(crate) fn label(&self, state: u16) -> Lifetime {
        Lifetime::new(&format!("'__pt_s{state}"), Span::mixed_site())
    }

    /// The label of the run of states `run` (see [`super::layout`]), left by the states
    /// outside it.
    pub(crate) fn skip(&self, run: usize) -> Lifetime {
        Lifetime::new(&format!("'__pt_run{run}"), Span::mixed_site())
    }

    /// A jump to `state`, placed after the jump: out of the labelled block it follows.
    pub(crate) fn forward(&self, state: u16) -> TokenStream {
        let label = self.label(state);
        quote!(break #label)
    }

    /// A jump to `state`, placed before the jump: through the dispatch loop.
    pub(crate) fn back(&self, state: u16) -> TokenStream {
        let (var, next, state) = (&self.state, &self.next, Literal::u16_unsuffixed(state));
        quote!(#var = #state; continue #next)
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

/// Adds the idents in `tokens`, also inside groups, to `out`.
fn idents(tokens: TokenStream, out: &mut BTreeSet<String>) {
    for tt in tokens {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(g.stream(), out),
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
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
