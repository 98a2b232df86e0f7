//! Lowering the constructs that hold suspension points: blocks, labelled blocks, `if`,
//! `match`, `loop` and `while`. A construct's code starts in the current state; its loop head
//! and the join after it become states of their own, and `break`/`continue` aimed at it become
//! jumps (through the [`Frame`] pushed while its body is lowered).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, Stmt};

use super::rewrite::Frame;
use super::{peel, Cont, Lowerer, Sink};
use crate::suspend::{self, Suspension};

impl Lowerer<'_> {
    /// Lowers a construct that suspends inside; its value goes to `sink`.
    pub(super) fn construct_valued(
        &mut self,
        core: &Expr,
        wraps: Vec<Span>,
        sink: Sink<'_>,
        rest: &[Stmt],
        cont: Cont,
    ) -> TokenStream {
        let direct = wraps.is_empty() && matches!(sink, Sink::Tail | Sink::Discard);
        if direct {
            if matches!(sink, Sink::Tail) {
                return self.construct(core, cont);
            }
            if rest.is_empty() {
                let after = self.discarding(cont);
                return self.construct(core, after);
            }
            let join = self.new_state();
            let code = self.construct(core, Cont::Goto(join));
            let after = self.block(rest, cont);
            self.states.insert(join, after);
            return code;
        }
        let slot = self.slots;
        self.slots += 1;
        let join = self.new_state();
        let code = self.construct(core, Cont::Store { slot, then: join });
        let slot = self.names.slot(slot);
        let krate = &self.names.krate;
        let value = self.wrap(quote!(#krate::take_slot(&mut #slot)), &wraps);
        let after = match sink {
            Sink::Tail => self.names.cont(&cont, Some(value)),
            sink => {
                let mut after = self.apply(&sink, value);
                after.extend(self.block(rest, cont));
                after
            }
        };
        self.states.insert(join, after);
        code
    }

    /// `cont` for a statement whose value is dropped.
    fn discarding(&mut self, cont: Cont) -> Cont {
        match cont {
            Cont::Goto(s) => Cont::Goto(s),
            Cont::Finish | Cont::FinishUnit => Cont::FinishUnit,
            store @ Cont::Store { .. } => {
                let state = self.new_state();
                let code = self.names.cont(&store, None);
                self.states.insert(state, code);
                Cont::Goto(state)
            }
        }
    }

    /// Lowers a block, `if`, `match`, `loop` or `while` that suspends inside; its value goes
    /// to `cont`. Returns the code of the current state.
    fn construct(&mut self, e: &Expr, cont: Cont) -> TokenStream {
        match e {
            Expr::Block(b) => {
                if b.block.stmts.iter().any(suspend::splits_stmt) {
                    if let Some(label) = &b.label {
                        let label = Some(label.name.ident.to_string());
                        self.frames.push(Frame {
                            label,
                            is_loop: false,
                            exit: cont.clone(),
                            head: None,
                        });
                    }
                    let code = self.block(&b.block.stmts, cont);
                    if b.label.is_some() {
                        self.frames.pop();
                    }
                    quote!({ #code })
                } else {
                    let code = self.block(&b.block.stmts, cont);
                    quote!({ #code })
                }
            }
            Expr::If(i) => self.if_(i, cont),
            Expr::Match(m) => {
                if suspend::splits_expr(&m.expr) {
                    // `match pt_await!(..)? { .. }`: the arms run in the resume state.
                    let (core, wraps) = peel(&m.expr);
                    if let Expr::Macro(mac) = core {
                        if let Some(Ok(s)) = Suspension::parse(&mac.mac) {
                            return self.suspension(&s, wraps, Sink::Scrutinee(m), &[], cont);
                        }
                    }
                    self.unsupported(&m.expr);
                }
                let scrutinee = self.plain_expr(&m.expr);
                let arms = self.arms(m, cont);
                quote!(match #scrutinee { #arms })
            }
            Expr::Loop(l) => {
                let head = self.new_state();
                let label = l.label.as_ref().map(|l| l.name.ident.to_string());
                self.frames.push(Frame {
                    label,
                    is_loop: true,
                    exit: cont,
                    head: Some(head),
                });
                let body = self.block(&l.body.stmts, Cont::Goto(head));
                self.frames.pop();
                self.states.insert(head, body);
                self.names.goto(head)
            }
            Expr::While(w) => {
                if suspend::splits_expr(&w.cond) {
                    self.unsupported(&w.cond);
                }
                let head = self.new_state();
                let cond = self.plain_expr(&w.cond);
                let done = self.names.cont(&cont, None);
                let label = w.label.as_ref().map(|l| l.name.ident.to_string());
                self.frames.push(Frame {
                    label,
                    is_loop: true,
                    exit: cont,
                    head: Some(head),
                });
                let body = self.block(&w.body.stmts, Cont::Goto(head));
                self.frames.pop();
                self.states
                    .insert(head, quote!(if #cond { #body } else { #done }));
                self.names.goto(head)
            }
            other => {
                self.unsupported(other);
                TokenStream::new()
            }
        }
    }

    fn if_(&mut self, i: &syn::ExprIf, cont: Cont) -> TokenStream {
        if suspend::splits_expr(&i.cond) {
            self.unsupported(&i.cond);
        }
        let cond = self.plain_expr(&i.cond);
        let then = self.block(&i.then_branch.stmts, cont.clone());
        let otherwise = match i.else_branch.as_ref().map(|(_, e)| &**e) {
            None => {
                let done = self.names.cont(&cont, None);
                quote!(else { #done })
            }
            Some(Expr::If(inner)) => {
                let inner = self.if_(inner, cont);
                quote!(else #inner)
            }
            Some(Expr::Block(b)) => {
                let code = self.block(&b.block.stmts, cont);
                quote!(else { #code })
            }
            Some(other) => {
                self.unsupported(other);
                TokenStream::new()
            }
        };
        quote!(if #cond { #then } #otherwise)
    }

    /// The arms of a `match` whose bodies suspend, each completing with `cont`.
    pub(super) fn arms(&mut self, m: &syn::ExprMatch, cont: Cont) -> TokenStream {
        let mut arms = TokenStream::new();
        for arm in &m.arms {
            if let Some((_, guard)) = &arm.guard {
                if suspend::splits_expr(guard) {
                    self.unsupported(guard);
                }
            }
            let guard = arm.guard.as_ref().map(|(if_token, g)| {
                let g = self.plain_expr(g);
                quote!(#if_token #g)
            });
            let body = self.arm_body(&arm.body, cont.clone());
            let (attrs, pat) = (&arm.attrs, &arm.pat);
            arms.extend(quote!(#(#attrs)* #pat #guard => { #body }));
        }
        arms
    }

    fn arm_body(&mut self, body: &Expr, cont: Cont) -> TokenStream {
        match body {
            Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => {
                self.block(&b.block.stmts, cont)
            }
            other => self.block(&[Stmt::Expr(other.clone(), None)], cont),
        }
    }
}
