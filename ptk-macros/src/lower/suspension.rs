//! Lowering one suspension macro: the code that enters it in the current state, and the
//! state that runs when the protothread resumes there.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Stmt;

use super::{Cont, Lowerer, Sink};
use crate::suspend::{Kind, Suspension};

impl Lowerer<'_> {
    /// Lowers one suspension macro: returns the code of the current state, and fills the
    /// state that runs when the protothread resumes there.
    pub(super) fn suspension(
        &mut self,
        s: &Suspension,
        wraps: Vec<Span>,
        sink: Sink<'_>,
        rest: &[Stmt],
        cont: Cont,
    ) -> TokenStream {
        let name = s.kind.name();
        if !s.kind.has_value()
            && (!wraps.is_empty()
                || matches!(sink, Sink::Let(_) | Sink::Assign(..) | Sink::Scrutinee(_)))
        {
            self.errors.push(syn::Error::new_spanned(
                &s.mac,
                format!("`{name}!` has no value: use it as a statement"),
            ));
            return TokenStream::new();
        }
        let point = self.new_site(&s.mac);
        let span = s.span();
        let point_lit = proc_macro2::Literal::u16_unsuffixed(point);
        let arg = s.arg.as_ref().map(|a| self.plain_expr(a));
        let krate = &self.names.krate;
        let pending = self.names.end_with(span, quote!(Pending(#point_lit)));
        let (enter, check, value) = match s.kind {
            Kind::Await => {
                let (v, ready) = (
                    syn::Ident::new("__pt_ready", Span::mixed_site()),
                    quote!(::core::task::Poll),
                );
                let value = quote_spanned! {span=>
                    match #arg { #ready::Ready(#v) => #v, #ready::Pending => #pending }
                };
                (self.names.goto(point), None, Some(value))
            }
            Kind::Spawn => {
                let (v, t) = (
                    syn::Ident::new("__pt_out", Span::mixed_site()),
                    syn::Ident::new("__pt_t", Span::mixed_site()),
                );
                let (cx, end) = (&self.names.cx, &self.names.end);
                let reset = quote_spanned!(span=> #krate::Pt::reset(#krate::Protothread::pt_mut(&mut #arg)););
                let jump = self.names.goto(point);
                let value = quote_spanned! {span=>
                    match #krate::spawned(#krate::Protothread::resume(&mut #arg, &mut *#cx), #point_lit) {
                        ::core::result::Result::Ok(#v) => #v,
                        ::core::result::Result::Err(#t) => break #end #t,
                    }
                };
                (quote!(#reset #jump), None, Some(value))
            }
            Kind::WaitUntil => (
                self.names.goto(point),
                Some(quote_spanned!(span=> if #arg {} else { #pending; })),
                None,
            ),
            Kind::WaitWhile => (
                self.names.goto(point),
                Some(quote_spanned!(span=> if #arg { #pending; })),
                None,
            ),
            Kind::Yield => {
                let yielded = self.names.end_with(span, quote!(Yielded(#point_lit)));
                (quote!(#yielded;), None, None)
            }
            Kind::YieldUntil => {
                let yielded = self.names.end_with(span, quote!(Yielded(#point_lit)));
                (
                    quote!(#yielded;),
                    Some(quote_spanned!(span=> if #arg {} else { #pending; })),
                    None,
                )
            }
            Kind::Exit | Kind::Restart => return TokenStream::new(),
        };
        let value = value.map(|v| self.wrap(v, &wraps));
        let mut resumed = check.unwrap_or_default();
        match sink {
            Sink::Tail => resumed.extend(self.names.cont(&cont, value)),
            Sink::Discard => {
                if let Some(value) = value {
                    resumed.extend(quote!(#value;));
                }
                resumed.extend(self.block(rest, cont));
            }
            Sink::Scrutinee(m) => {
                let value = value.unwrap_or_default();
                let arms = self.arms(m, cont);
                resumed.extend(quote!(match #value { #arms }));
            }
            sink => {
                let value = value.unwrap_or_default();
                resumed.extend(self.apply(&sink, value));
                resumed.extend(self.block(rest, cont));
            }
        }
        self.states.insert(point, resumed);
        enter
    }
}
