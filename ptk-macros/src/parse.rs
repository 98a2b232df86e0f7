//! Parsing the attribute's options and the annotated function into a [`Protothread`], with
//! every check of the signature.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Block, FnArg, Generics, Ident, ItemFn, Member, Pat, Path, ReturnType, Signature,
    Token, Type, Visibility,
};

/// The options of `#[protothread(..)]`.
pub(crate) struct Options {
    /// Where generated code finds the runtime (`crate = path`, default `::ptk::__private`).
    pub(crate) krate: Path,
    /// The field of the context that holds the `Pt` (`pt = field` or `pt = a.b`, default `pt`).
    pub(crate) pt: Punctuated<Member, Token![.]>,
}

impl Options {
    /// Parses the attribute's arguments.
    pub(crate) fn parse(args: TokenStream) -> syn::Result<Options> {
        let mut krate: Option<Path> = None;
        let mut pt: Option<Punctuated<Member, Token![.]>> = None;
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("crate") {
                if krate.is_some() {
                    return Err(meta.error("`crate` is given twice"));
                }
                krate = Some(meta.value()?.call(Path::parse_mod_style)?);
                Ok(())
            } else if meta.path.is_ident("pt") {
                if pt.is_some() {
                    return Err(meta.error("`pt` is given twice"));
                }
                pt = Some(meta.value()?.call(Punctuated::parse_separated_nonempty)?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown option: `#[protothread]` takes `crate = path` (where the runtime \
                     is, default `::ptk::__private`) and `pt = field` (the context's `Pt`, \
                     default `pt`)",
                ))
            }
        });
        syn::parse::Parser::parse2(parser, args)?;
        Ok(Options {
            krate: krate.unwrap_or_else(|| syn::parse_quote!(::ptk::__private)),
            pt: pt.unwrap_or_else(|| {
                let mut p = Punctuated::new();
                p.push(Member::Named(Ident::new("pt", Span::call_site())));
                p
            }),
        })
    }
}

/// Which form the protothread is written in.
pub(crate) enum Form {
    /// `fn name(ctx: &mut Ctx, cx: &mut Cx<'_>) -> Output`: generates the function (returning a
    /// `Step`) and `impl Protothread for Ctx`.
    Function {
        /// `Ctx`.
        ctx_ty: Box<Type>,
    },
    /// `fn resume(&mut self, cx: &mut Cx<'_>) -> Output` inside `impl Protothread for Ctx`:
    /// generates the trait's items.
    Method,
}

/// A protothread function, checked and taken apart.
pub(crate) struct Protothread {
    pub(crate) options: Options,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    /// The signature as written, with the parameters' patterns normalised to identifiers.
    pub(crate) sig: Signature,
    pub(crate) block: Block,
    pub(crate) form: Form,
    /// The declared output type (`()` if there is none).
    pub(crate) output: Type,
    /// The context: `self` or the first parameter's name.
    pub(crate) ctx: TokenStream,
    /// The runtime context parameter's name.
    pub(crate) cx: Ident,
}

impl Protothread {
    /// Takes the annotated function apart; errors say what signature is expected.
    pub(crate) fn parse(options: Options, item: ItemFn) -> syn::Result<Protothread> {
        let ItemFn {
            attrs,
            vis,
            mut sig,
            block,
        } = item;
        let mut errors = Errors::default();
        check_qualifiers(&sig, &mut errors);
        let output = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => {
                if contains_impl_trait(ty) {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "a protothread's output becomes `Protothread::Output`, which cannot be \
                         `impl Trait`: name the type",
                    ));
                }
                (**ty).clone()
            }
        };
        let method = matches!(sig.inputs.first(), Some(FnArg::Receiver(_)));
        let expected = if method {
            "a #[protothread] method is `fn resume(&mut self, cx: &mut Cx<'_>) -> Output` inside \
             `impl Protothread for YourContext`"
        } else {
            "a #[protothread] function takes the context and the runtime context: \
             `fn name(ctx: &mut YourContext, cx: &mut Cx<'_>) -> Output`"
        };
        if sig.inputs.len() != 2 {
            errors.push(syn::Error::new(sig.paren_token.span.join(), expected));
        }
        let mut ctx = quote!(self);
        let mut form = Form::Method;
        let mut cx = Ident::new("__pt_cx", Span::mixed_site());
        for (index, arg) in sig.inputs.iter_mut().enumerate().take(2) {
            match (index, arg) {
                (0, FnArg::Receiver(r)) => {
                    if r.reference.is_none() || r.mutability.is_none() || r.colon_token.is_some() {
                        errors.push(syn::Error::new_spanned(&*r, expected));
                    }
                }
                (0, FnArg::Typed(t)) => {
                    match &*t.ty {
                        Type::Reference(r) if r.mutability.is_some() => {
                            form = Form::Function {
                                ctx_ty: r.elem.clone(),
                            };
                        }
                        other => errors.push(syn::Error::new_spanned(
                            other,
                            format!("the context must be a `&mut` reference; {expected}"),
                        )),
                    }
                    ctx = name_param(&mut t.pat, "__pt_ctx", &mut errors).to_token_stream();
                }
                (1, FnArg::Typed(t)) => cx = name_param(&mut t.pat, "__pt_cx", &mut errors),
                (_, arg) => errors.push(syn::Error::new_spanned(arg, expected)),
            }
        }
        if method {
            if sig.ident != "resume" {
                errors.push(syn::Error::new_spanned(
                    &sig.ident,
                    "a #[protothread] method implements `Protothread::resume`: name it `resume` \
                     and put it inside `impl Protothread for YourContext`, or write a free \
                     function `fn name(ctx: &mut YourContext, cx: &mut Cx<'_>)`",
                ));
            }
            if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
                errors.push(syn::Error::new_spanned(
                    &sig.generics,
                    "`Protothread::resume` has no generic parameters; put them on the impl",
                ));
            }
        }
        errors.finish()?;
        Ok(Protothread {
            options,
            attrs,
            vis,
            sig,
            block: *block,
            form,
            output,
            ctx,
            cx,
        })
    }

    /// The generics of the function, which the generated impl takes over (free functions).
    pub(crate) fn generics(&self) -> &Generics {
        &self.sig.generics
    }
}

/// Rejects qualifiers a resume function cannot have.
fn check_qualifiers(sig: &Signature, errors: &mut Errors) {
    if let Some(t) = &sig.asyncness {
        errors.push(syn::Error::new_spanned(
            t,
            "a protothread is not an `async fn`: it is resumed by the event loop and suspends \
             with `pt_await!` and friends",
        ));
    }
    if let Some(t) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            t,
            "a protothread cannot be a `const fn`",
        ));
    }
    if let Some(t) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            t,
            "a protothread cannot be an `unsafe fn`: `Protothread::resume` is safe; use \
             `unsafe` blocks inside",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "a protothread cannot have an `extern` ABI",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            v,
            "a protothread cannot be variadic",
        ));
    }
}

/// The identifier a parameter binds; `_` becomes a hygienic name the generated code can use.
fn name_param(pat: &mut Pat, fallback: &str, errors: &mut Errors) -> Ident {
    match pat {
        Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => p.ident.clone(),
        Pat::Wild(w) => {
            let ident = Ident::new(fallback, w.span().resolved_at(Span::mixed_site()));
            *pat = syn::parse_quote!(#ident);
            ident
        }
        other => {
            errors.push(syn::Error::new_spanned(
                &*other,
                "bind this parameter to a name: the generated code passes it on",
            ));
            Ident::new(fallback, Span::mixed_site())
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}

/// Errors collected so that one expansion reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn extend(&mut self, other: Errors) {
        if let Some(e) = other.0 {
            self.push(e);
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
