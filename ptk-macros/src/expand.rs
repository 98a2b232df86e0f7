//! Putting the expansion together: the resume function (or method), the `Protothread` impl
//! and the table of sites.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;

use crate::analyze::analyze;
use crate::fallback;
use crate::lower::{self, Lowered, Names};
use crate::parse::{Errors, Form, Options, Protothread};
use crate::suspend;

/// Expands `#[protothread(args)] item`. Errors come out as `compile_error!`s next to a stub
/// with the same signature, so the rest of the crate still type-checks.
pub(crate) fn protothread(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = Options::parse(args).unwrap_or_else(|e| {
        errors.push(e);
        Options::parse(TokenStream::new()).unwrap_or_else(|_| unreachable!("default options"))
    });
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!(#e #item);
        }
    };
    let pt = match Protothread::parse(options, item.clone()) {
        Ok(pt) => pt,
        Err(e) => {
            errors.push(e);
            return fallback::signature_stub(&item, errors);
        }
    };
    errors.extend(analyze(&pt));
    let mut names = Names::new(syn::parse_quote!(__ptk), pt.ctx.clone(), pt.cx.clone());
    let (lowered, lower_errors) = lower::lower(&pt.block, &mut names);
    errors.extend(lower_errors);
    match errors.finish() {
        Ok(()) => generate(&pt, &lowered),
        Err(e) => {
            let e = e.to_compile_error();
            let stub = fallback::stub(&pt);
            quote!(#e #stub)
        }
    }
}

/// The lint generated code trips over although the user's code does not: the jump after a
/// statement that always returns is unreachable. (Clippy's lints skip the expansion; the
/// snapshot, behaviour and differential tests run clippy over generated code.)
pub(crate) fn allows() -> TokenStream {
    quote!(#[allow(unreachable_code)])
}

/// The expansion of a protothread that lowered without errors.
fn generate(pt: &Protothread, lowered: &Lowered) -> TokenStream {
    let Lowered { body, sites, items } = lowered;
    let krate = &pt.options.krate;
    let (ctx, output) = (&pt.ctx, &pt.output);
    let end = syn::Ident::new("__pt_end", proc_macro2::Span::mixed_site());
    // One short alias for the runtime path inside the body keeps the states readable.
    let resume_body = quote! {
        use #krate as __ptk;
        #(#items)*
        let #end: __ptk::Transition<#output> = #body;
        __ptk::settle(__ptk::Protothread::pt_mut(&mut *#ctx), #end)
    };
    let sites = sites.iter().map(|mac| {
        let span = suspend::span_of(mac);
        let text = suspend::site_text(mac);
        quote_spanned! {span=>
            #krate::Site {
                file: ::core::file!(),
                line: ::core::line!(),
                column: ::core::column!(),
                text: #text,
            }
        }
    });
    let sites = quote!(#(#sites),*);
    shape(pt, resume_body, sites)
}

/// The items of the expansion around a resume body and a list of sites (shared with the
/// stub emitted on errors).
pub(crate) fn shape(pt: &Protothread, resume_body: TokenStream, sites: TokenStream) -> TokenStream {
    let krate = &pt.options.krate;
    let output = &pt.output;
    let field = &pt.options.pt;
    let (attrs, vis) = (&pt.attrs, &pt.vis);
    let allows = allows();
    let mut sig = pt.sig.clone();
    sig.output = syn::parse_quote!(-> #krate::Step<#output>);
    let trait_items = quote! {
        fn pt(&self) -> &#krate::Pt {
            &self.#field
        }
        fn pt_mut(&mut self) -> &mut #krate::Pt {
            &mut self.#field
        }
        fn sites(&self) -> &'static [#krate::Site] {
            const SITES: &[#krate::Site] = &[#sites];
            SITES
        }
    };
    match &pt.form {
        Form::Function { ctx_ty } => {
            let name = &sig.ident;
            let (impl_generics, _, where_clause) = pt.generics().split_for_impl();
            let cfgs = attrs.iter().filter(|a| a.path().is_ident("cfg"));
            quote! {
                #(#attrs)*
                #allows
                #vis #sig {
                    #resume_body
                }
                #(#cfgs)*
                impl #impl_generics #krate::Protothread for #ctx_ty #where_clause {
                    type Output = #output;
                    fn resume(&mut self, cx: &mut #krate::Cx<'_>) -> #krate::Step<#output> {
                        #name(self, cx)
                    }
                    #trait_items
                }
            }
        }
        Form::Method => quote! {
            type Output = #output;
            #(#attrs)*
            #allows
            #vis #sig {
                #resume_body
            }
            #trait_items
        },
    }
}
