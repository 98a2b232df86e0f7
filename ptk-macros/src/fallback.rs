//! What is emitted when the real expansion cannot be: a stub with the protothread's signature
//! next to the errors (so the rest of the crate still type-checks and reports only real
//! mistakes), and the error of a suspension macro used outside any protothread.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ItemFn;

use crate::expand;
use crate::parse::{Errors, Protothread};
use crate::suspend::Kind;

/// The stub of a protothread whose body did not lower: same function and impl, a body that
/// never runs and no sites.
pub(crate) fn stub(pt: &Protothread) -> TokenStream {
    let (ctx, cx) = (&pt.ctx, &pt.cx);
    let body = quote! {
        let _ = (&#ctx, &#cx);
        ::core::unreachable!("#[protothread] did not expand; see its errors")
    };
    expand::shape(pt, body, TokenStream::new())
}

/// The stub of a function whose signature is not a protothread's: the function as declared,
/// without its body (whose suspension macros would only add errors).
pub(crate) fn signature_stub(item: &ItemFn, errors: Errors) -> TokenStream {
    let errors = errors.finish().err().map(|e| e.to_compile_error());
    let ItemFn {
        attrs, vis, sig, ..
    } = item;
    quote! {
        #errors
        #(#attrs)*
        #[allow(unused_variables)]
        #vis #sig {
            ::core::unreachable!("#[protothread] did not expand; see its errors")
        }
    }
}

/// `pt_xxx!` outside a `#[protothread]` function (the attribute consumes every suspension
/// macro it can lower, so one that is expanded as a macro is misplaced).
pub(crate) fn outside(kind: Kind) -> TokenStream {
    let message = format!(
        "`{}!` can only be used inside a `#[protothread]` function or method, as a statement, \
         a `let` initializer, the right side of an assignment or a block's tail",
        kind.name()
    );
    quote_spanned!(Span::call_site()=> ::core::compile_error!(#message))
}
