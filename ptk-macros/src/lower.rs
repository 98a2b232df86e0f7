//! Lowering a protothread body into a state machine.
//!
//! Every splitting suspension point gets a resume point `n` (1-based, in source order) and a
//! state of the same number that runs when the protothread resumes there. Control-flow joins
//! after a construct that suspends, and the heads of loops that suspend, get internal states
//! numbered after the resume points; they are only ever reached within one resume call. State
//! 0 (the `_` arm) is the entry. Each state's code is a block after a labelled block, nested so
//! that a jump to a state placed later is a `break` out of its label, and only a jump back goes
//! through a dispatch loop (see [`layout`]). Everything that does not suspend is emitted as
//! written, so a construct without suspension points inside stays the construct it was.
//!
//! Locals stay locals: a state only sees the bindings of its own arm, and the analysis has
//! already rejected every use of a binding in a state other than its own.

mod construct;
mod emit;
mod layout;
mod rewrite;
mod suspension;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, Macro, Stmt};

pub(crate) use emit::{Cont, Names};
use rewrite::{Frame, Rewriter};

use crate::parse::Errors;
use crate::suspend::{self, Kind, Suspension};

/// A lowered body.
pub(crate) struct Lowered {
    /// The labelled block that runs the body from the saved resume point and evaluates to a
    /// `Transition`.
    pub(crate) body: TokenStream,
    /// The suspension points; resume point `n` is `sites[n - 1]`.
    pub(crate) sites: Vec<Macro>,
    /// Items declared in lowered blocks, moved to the top of the function so that every state
    /// sees them.
    pub(crate) items: Vec<Stmt>,
}

/// Lowers `block`; all errors are collected.
pub(crate) fn lower(block: &Block, names: &mut Names) -> (Lowered, Errors) {
    names.avoid(block.to_token_stream());
    let names = &*names;
    let resume_points = suspend::count_splits(block);
    let mut l = Lowerer {
        names,
        next_state: u16::try_from(resume_points + 1).unwrap_or(u16::MAX),
        states: BTreeMap::new(),
        sites: Vec::new(),
        frames: Vec::new(),
        slots: 0,
        items: Vec::new(),
        errors: Errors::default(),
    };
    if resume_points >= usize::from(u16::MAX / 2) {
        l.errors.push(syn::Error::new(
            Span::call_site(),
            "too many suspension points",
        ));
    }
    let entry = l.block(&block.stmts, Cont::Finish);
    let body = l.assemble(entry);
    (
        Lowered {
            body,
            sites: l.sites,
            items: l.items,
        },
        l.errors,
    )
}

/// Where the value of a statement that suspends goes.
enum Sink<'a> {
    /// A statement: the value is dropped.
    Discard,
    /// The block's tail: the value completes the block.
    Tail,
    /// `let pat = ..;`
    Let(&'a syn::Local),
    /// `place = ..;` or `place op= ..;`
    Assign(&'a Expr, TokenStream),
    /// `match .. { arms }`: the arms run on the value, then the continuation.
    Scrutinee(&'a syn::ExprMatch),
}

struct Lowerer<'a> {
    names: &'a Names,
    next_state: u16,
    states: BTreeMap<u16, TokenStream>,
    sites: Vec<Macro>,
    frames: Vec<Frame>,
    slots: usize,
    items: Vec<Stmt>,
    errors: Errors,
}

impl Lowerer<'_> {
    fn new_state(&mut self) -> u16 {
        let s = self.next_state;
        self.next_state = self.next_state.saturating_add(1);
        s
    }

    fn new_site(&mut self, mac: &Macro) -> u16 {
        self.sites.push(mac.clone());
        u16::try_from(self.sites.len()).unwrap_or(u16::MAX)
    }

    /// Rewrites plain code (see [`rewrite`]).
    fn plain<T: ToTokens + Clone>(
        &mut self,
        node: &T,
        f: impl FnOnce(&mut Rewriter<'_>, &mut T),
    ) -> TokenStream {
        let mut node = node.clone();
        let mut r = Rewriter::new(self.names, &self.frames);
        f(&mut r, &mut node);
        let errors = r.errors;
        self.errors.extend(errors);
        node.into_token_stream()
    }

    fn plain_stmt(&mut self, s: &Stmt) -> TokenStream {
        self.plain(s, |r, s| r.visit_stmt_mut(s))
    }

    fn plain_expr(&mut self, e: &Expr) -> TokenStream {
        self.plain(e, |r, e| r.visit_expr_mut(e))
    }

    fn unsupported(&mut self, expr: &Expr) {
        let Some(mac) = suspend::first_split(expr) else {
            return;
        };
        let name = Kind::of(&mac).map_or("pt_await", Kind::name);
        self.errors.push(syn::Error::new_spanned(
            mac,
            format!(
                "`{name}!` cannot be lowered in this position: a suspension point must be a \
                 statement, a `let` initializer, the right side of an assignment or a block's \
                 tail (also inside blocks, `if`, `match`, `loop` and `while`); bind the value \
                 first: `let v = {name}!(..);`"
            ),
        ));
    }

    /// Lowers a statement list into the current state; `cont` says where it completes.
    fn block(&mut self, stmts: &[Stmt], cont: Cont) -> TokenStream {
        if !stmts.iter().any(suspend::splits_stmt) {
            return self.plain_block(stmts, cont);
        }
        // Items are visible in the whole block, which spreads over several states.
        let (items, stmts): (Vec<Stmt>, Vec<Stmt>) = stmts
            .iter()
            .cloned()
            .partition(|s| matches!(s, Stmt::Item(_)));
        self.items.extend(items);
        let split = stmts
            .iter()
            .position(suspend::splits_stmt)
            .unwrap_or(stmts.len());
        let mut out = TokenStream::new();
        for s in &stmts[..split] {
            out.extend(self.plain_stmt(s));
        }
        if let Some(s) = stmts.get(split) {
            out.extend(self.stmt(s, &stmts[split + 1..], cont));
        }
        out
    }

    /// A statement list without suspension points, then `cont`.
    fn plain_block(&mut self, stmts: &[Stmt], cont: Cont) -> TokenStream {
        let (body, tail) = match stmts.split_last() {
            Some((Stmt::Expr(e, None), body)) => (body, Some(e.clone())),
            Some((Stmt::Macro(m), body)) if m.semi_token.is_none() => {
                let mac = Expr::Macro(syn::ExprMacro {
                    attrs: m.attrs.clone(),
                    mac: m.mac.clone(),
                });
                (body, Some(mac))
            }
            _ => (stmts, None),
        };
        let mut out = TokenStream::new();
        for s in body {
            out.extend(self.plain_stmt(s));
        }
        match tail {
            Some(tail) if diverges(&Stmt::Expr(tail.clone(), None)) => {
                let value = self.plain_expr(&tail);
                out.extend(quote!(#value;));
            }
            Some(tail) => {
                let value = self.plain_expr(&tail);
                out.extend(self.names.cont(&cont, Some(value)));
            }
            None if body.last().is_some_and(diverges) => {}
            None => out.extend(self.names.cont(&cont, None)),
        }
        out
    }

    /// Lowers the statement `s`, which suspends, followed by `rest`.
    fn stmt(&mut self, s: &Stmt, rest: &[Stmt], cont: Cont) -> TokenStream {
        match s {
            Stmt::Macro(m) => {
                let sink = if m.semi_token.is_none() && rest.is_empty() {
                    Sink::Tail
                } else {
                    Sink::Discard
                };
                let mac = Expr::Macro(syn::ExprMacro {
                    attrs: Vec::new(),
                    mac: m.mac.clone(),
                });
                self.valued(&mac, Vec::new(), sink, rest, cont)
            }
            Stmt::Local(local) => {
                let Some(init) = &local.init else {
                    return TokenStream::new();
                };
                if let Some((_, diverge)) = &init.diverge {
                    if suspend::splits_expr(diverge) {
                        self.unsupported(diverge);
                        return TokenStream::new();
                    }
                }
                let (core, wraps) = peel(&init.expr);
                self.valued(core, wraps, Sink::Let(local), rest, cont)
            }
            Stmt::Expr(e, semi) => match unparen(e) {
                Expr::Assign(a) if !suspend::splits_expr(&a.left) => {
                    let (core, wraps) = peel(&a.right);
                    let op = a.eq_token.to_token_stream();
                    self.valued(core, wraps, Sink::Assign(&a.left, op), rest, cont)
                }
                Expr::Binary(b) if is_assign_op(&b.op) && !suspend::splits_expr(&b.left) => {
                    let (core, wraps) = peel(&b.right);
                    let op = b.op.to_token_stream();
                    self.valued(core, wraps, Sink::Assign(&b.left, op), rest, cont)
                }
                e => {
                    let sink = if semi.is_none() && rest.is_empty() {
                        Sink::Tail
                    } else {
                        Sink::Discard
                    };
                    let (core, wraps) = peel(e);
                    self.valued(core, wraps, sink, rest, cont)
                }
            },
            Stmt::Item(_) => self.plain_stmt(s),
        }
    }

    /// Lowers `core` (a suspension macro or a construct holding one) whose value, after the
    /// `?`s at `wraps`, goes to `sink`; then `rest`, then `cont`.
    fn valued(
        &mut self,
        core: &Expr,
        wraps: Vec<Span>,
        sink: Sink<'_>,
        rest: &[Stmt],
        cont: Cont,
    ) -> TokenStream {
        match core {
            Expr::Macro(m) if Kind::of(&m.mac).is_some_and(Kind::splits) => {
                match Suspension::parse(&m.mac) {
                    Some(Ok(s)) => self.suspension(&s, wraps, sink, rest, cont),
                    // The analysis reports malformed arguments.
                    _ => TokenStream::new(),
                }
            }
            Expr::If(_) | Expr::Match(_) | Expr::Loop(_) | Expr::While(_) => {
                self.construct_valued(core, wraps, sink, rest, cont)
            }
            Expr::Block(b) if b.block.stmts.iter().any(suspend::splits_stmt) => {
                self.construct_valued(core, wraps, sink, rest, cont)
            }
            other => {
                self.unsupported(other);
                TokenStream::new()
            }
        }
    }

    /// `let`, assignment or discard of `value` with the `?`s applied.
    fn apply(&mut self, sink: &Sink<'_>, value: TokenStream) -> TokenStream {
        match sink {
            Sink::Discard | Sink::Tail | Sink::Scrutinee(_) => quote!(#value;),
            Sink::Let(local) => {
                let attrs = &local.attrs;
                let pat = &local.pat;
                let diverge = match local.init.as_ref().and_then(|i| i.diverge.as_ref()) {
                    Some((else_token, block)) => {
                        let block = self.plain_expr(block);
                        quote!(#else_token #block)
                    }
                    None => TokenStream::new(),
                };
                if diverge.is_empty() {
                    quote!(#(#attrs)* let #pat = #value;)
                } else {
                    // `let .. = match .. { .. } else { .. }` is not Rust: a `}` may not precede
                    // `else`.
                    quote!(#(#attrs)* let #pat = (#value) #diverge;)
                }
            }
            Sink::Assign(place, op) => {
                let place = self.plain_expr(place);
                quote!(#place #op #value;)
            }
        }
    }

    fn wrap(&self, mut value: TokenStream, wraps: &[Span]) -> TokenStream {
        for span in wraps {
            value = self.names.try_(value, *span);
        }
        value
    }

    /// Puts the states together (see [`layout`]) in the block that ends the run.
    fn assemble(&mut self, entry: TokenStream) -> TokenStream {
        let names = self.names;
        let (end, krate, ctx) = (&names.end, &names.krate, &names.ctx);
        let slots = (0..self.slots).map(|i| names.slot(i));
        let resume_point = quote!(#krate::Pt::resume_point(#krate::Protothread::pt(&*#ctx)));
        let resume_points = u16::try_from(self.sites.len()).unwrap_or(u16::MAX);
        let states = std::mem::take(&mut self.states);
        let run = layout::assemble(names, resume_point, resume_points, entry, states);
        quote! {
            #end: {
                #(let mut #slots = ::core::option::Option::None;)*
                #run
            }
        }
    }
}

/// Strips parentheses and `?`s from a value expression: `(pt_await!(e))?` is `pt_await!(e)`
/// with one `?` applied.
fn peel(mut e: &Expr) -> (&Expr, Vec<Span>) {
    let mut wraps = Vec::new();
    loop {
        match e {
            Expr::Paren(p) => e = &p.expr,
            Expr::Group(g) => e = &g.expr,
            Expr::Try(t) => {
                wraps.push(t.question_token.span);
                e = &t.expr;
            }
            _ => break,
        }
    }
    wraps.reverse();
    (e, wraps)
}

fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

fn is_assign_op(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

/// Whether a statement obviously never completes (so nothing must follow it).
fn diverges(s: &Stmt) -> bool {
    let e = match s {
        Stmt::Expr(e, _) => unparen(e),
        Stmt::Macro(m) => return is_diverging_macro(&m.mac),
        _ => return false,
    };
    match e {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(m) => is_diverging_macro(&m.mac),
        _ => false,
    }
}

fn is_diverging_macro(mac: &Macro) -> bool {
    let Some(last) = mac.path.segments.last() else {
        return false;
    };
    matches!(Kind::of(mac), Some(Kind::Exit | Kind::Restart))
        || ["panic", "unreachable", "todo", "unimplemented"]
            .iter()
            .any(|n| last.ident == n)
}
