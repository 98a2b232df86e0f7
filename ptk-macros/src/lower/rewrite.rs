//! Rewriting the code between suspension points: `return`, `?`, `pt_exit!()` and
//! `pt_restart!()` end the run through the generated block, and `break`/`continue` aimed at a
//! lowered loop or block become jumps between states. Closures, async blocks and nested items
//! keep their own `return` and `?` and are left alone.

use quote::{quote, quote_spanned, ToTokens};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Lifetime, Macro, Stmt, Token};

use super::emit::{Cont, Names};
use crate::parse::Errors;
use crate::suspend::Kind;

/// A loop or labelled block the lowering split into states.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub(crate) label: Option<String>,
    /// `loop`/`while` (a target of unlabelled `break`/`continue`) or a labelled block.
    pub(crate) is_loop: bool,
    /// Where `break` goes, with its value.
    pub(crate) exit: Cont,
    /// Where `continue` goes.
    pub(crate) head: Option<u16>,
}

/// Rewrites plain code inside the lowered states.
pub(crate) struct Rewriter<'a> {
    names: &'a Names,
    frames: &'a [Frame],
    /// Loops and labelled blocks inside the code being rewritten (not split): their label and
    /// whether they are loops.
    inner: Vec<(Option<String>, bool)>,
    pub(crate) errors: Errors,
}

impl<'a> Rewriter<'a> {
    pub(crate) fn new(names: &'a Names, frames: &'a [Frame]) -> Rewriter<'a> {
        Rewriter {
            names,
            frames,
            inner: Vec::new(),
            errors: Errors::default(),
        }
    }

    /// The lowered frame a `break`/`continue` with `label` leaves, if it leaves one.
    fn target(&self, label: Option<&Lifetime>) -> Option<&'a Frame> {
        match label {
            Some(label) => {
                let name = label.ident.to_string();
                if self
                    .inner
                    .iter()
                    .any(|(l, _)| l.as_deref() == Some(name.as_str()))
                {
                    return None;
                }
                self.frames
                    .iter()
                    .rev()
                    .find(|f| f.label.as_deref() == Some(name.as_str()))
            }
            None => {
                if self.inner.iter().any(|(_, is_loop)| *is_loop) {
                    return None;
                }
                self.frames.iter().rev().find(|f| f.is_loop)
            }
        }
    }

    fn nested(&mut self, label: Option<&syn::Label>, is_loop: bool, f: impl FnOnce(&mut Self)) {
        self.inner
            .push((label.map(|l| l.name.ident.to_string()), is_loop));
        f(self);
        self.inner.pop();
    }

    /// The replacement of `pt_exit!()`/`pt_restart!()`, or `None` for other macros.
    fn ending(&mut self, mac: &Macro) -> Option<Expr> {
        let kind = Kind::of(mac)?;
        let transition = match kind {
            Kind::Exit => quote!(Exited),
            Kind::Restart => quote!(Restarted),
            // Splitting suspension points here are misplaced; the analysis reports them.
            _ => return None,
        };
        Some(Expr::Verbatim(self.names.end_with(mac.span(), transition)))
    }

    /// Rewrites the arguments of another macro when they are plain expressions (`println!`,
    /// `write!`, `assert_eq!`, ...); rejects `?` and friends it cannot see into otherwise.
    fn other_macro(&mut self, mac: &mut Macro) {
        if !mentions_control(mac.tokens.clone()) {
            return;
        }
        match mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            Ok(mut args) => {
                args.iter_mut().for_each(|e| self.visit_expr_mut(e));
                mac.tokens = args.into_token_stream();
            }
            Err(_) => self.errors.push(syn::Error::new_spanned(
                &*mac,
                "`?`, `return`, `break` and `continue` inside this macro's arguments cannot be \
                 lowered: compute the value with `let` before the macro",
            )),
        }
    }
}

/// Whether tokens hold `?`, `return`, `break`, `continue`, `pt_exit` or `pt_restart`.
fn mentions_control(tokens: proc_macro2::TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        proc_macro2::TokenTree::Punct(p) => p.as_char() == '?',
        proc_macro2::TokenTree::Ident(i) => {
            matches!(
                i.to_string().as_str(),
                "return" | "break" | "continue" | "pt_exit" | "pt_restart"
            )
        }
        proc_macro2::TokenTree::Group(g) => mentions_control(g.stream()),
        proc_macro2::TokenTree::Literal(_) => false,
    })
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Return(r) => {
                if let Some(v) = &mut r.expr {
                    self.visit_expr_mut(v);
                }
                let value = r
                    .expr
                    .as_ref()
                    .map_or_else(|| quote!(()), |v| v.to_token_stream());
                let span = r.return_token.span;
                *e = Expr::Verbatim(
                    self.names
                        .end_with(span, quote_spanned!(span=> Done(#value))),
                );
            }
            Expr::Try(t) => {
                self.visit_expr_mut(&mut t.expr);
                let inner = t.expr.to_token_stream();
                *e = Expr::Verbatim(self.names.try_(inner, t.question_token.span));
            }
            Expr::Break(b) => {
                if let Some(v) = &mut b.expr {
                    self.visit_expr_mut(v);
                }
                if let Some(frame) = self.target(b.label.as_ref()) {
                    let value = b.expr.as_ref().map(|v| v.to_token_stream());
                    let jump = self.names.cont(&frame.exit, value);
                    *e = Expr::Verbatim(quote!({ #jump }));
                }
            }
            Expr::Continue(c) => {
                if let Some(frame) = self.target(c.label.as_ref()) {
                    match frame.head {
                        Some(head) => {
                            let jump = self.names.goto(head);
                            *e = Expr::Verbatim(quote!({ #jump }));
                        }
                        None => self.errors.push(syn::Error::new_spanned(
                            &*c,
                            "`continue` must name a loop, not a labelled block",
                        )),
                    }
                }
            }
            Expr::Loop(l) => {
                let label = l.label.clone();
                self.nested(label.as_ref(), true, |r| r.visit_block_mut(&mut l.body));
            }
            Expr::While(w) => {
                let label = w.label.clone();
                self.nested(label.as_ref(), true, |r| {
                    r.visit_expr_mut(&mut w.cond);
                    r.visit_block_mut(&mut w.body);
                });
            }
            Expr::ForLoop(f) => {
                self.visit_expr_mut(&mut f.expr);
                let label = f.label.clone();
                self.nested(label.as_ref(), true, |r| r.visit_block_mut(&mut f.body));
            }
            Expr::Block(b) if b.label.is_some() => {
                let label = b.label.clone();
                self.nested(label.as_ref(), false, |r| r.visit_block_mut(&mut b.block));
            }
            Expr::Macro(m) => match self.ending(&m.mac) {
                Some(replacement) => *e = replacement,
                None if Kind::of(&m.mac).is_none() => self.other_macro(&mut m.mac),
                None => {}
            },
            _ => visit_mut::visit_expr_mut(self, e),
        }
    }

    fn visit_stmt_mut(&mut self, s: &mut Stmt) {
        match s {
            Stmt::Item(_) => {}
            Stmt::Macro(m) => match self.ending(&m.mac) {
                Some(replacement) => {
                    let semi = m.semi_token.unwrap_or_default();
                    *s = Stmt::Expr(replacement, Some(semi));
                }
                None if Kind::of(&m.mac).is_none() => self.other_macro(&mut m.mac),
                None => {}
            },
            _ => visit_mut::visit_stmt_mut(self, s),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
