//! Checks that run before lowering: no local binding is used after a suspension point it lives
//! across, and no suspension macro sits where the lowering cannot reach it (closures, async
//! blocks, nested items, `for` loops, other macros' arguments, another suspension's argument).
//!
//! The walk follows the body in evaluation order with a stack of scopes, so every name resolves
//! to the binding Rust would pick — a shadowing `let ctx = ..` included. A binding is *crossed*
//! by a suspension point that runs while it is in scope; branches are walked from the same
//! starting state and merged, loops that suspend cross every binding declared outside them.
//! Naming a crossed binding is an error: after lowering, the name would either not resolve or,
//! worse, resolve to an outer binding of the same name.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Expr, Macro, Pat, Token};

use crate::parse::{Errors, Protothread};
use crate::suspend::{self, Kind, Suspension};

/// Runs every check over the body; returns all errors found.
pub(crate) fn analyze(pt: &Protothread) -> Errors {
    let mut a = Analyzer {
        cx: pt.cx.to_string(),
        ctx: pt.ctx.to_string(),
        bindings: Vec::new(),
        scopes: vec![Vec::new()],
        crossed: BTreeMap::new(),
        sites: Vec::new(),
        reported: Vec::new(),
        boundary: None,
        errors: Errors::default(),
    };
    a.visit_block(&pt.block);
    a.errors
}

/// Where a suspension macro cannot be lowered, and what to write instead.
#[derive(Clone, Copy)]
enum Boundary {
    Closure,
    Async,
    For,
    Item,
    Argument,
}

impl Boundary {
    fn message(self, name: &str) -> String {
        let (place, advice) = match self {
            Boundary::Closure => (
                "a closure",
                "a closure cannot suspend the protothread that calls it; write the suspension \
                 point in the protothread body itself",
            ),
            Boundary::Async => (
                "an async block",
                "a protothread does not run futures; poll the operation with \
                 `pt_await!(poll_expr)` in the body",
            ),
            Boundary::For => (
                "a `for` loop",
                "the iterator of a `for` loop cannot live across a suspension point; keep the \
                 iterator or an index in the context and loop with \
                 `while let Some(x) = ctx.iter.next() { .. }` or `while ctx.i < n { .. }`",
            ),
            Boundary::Item => (
                "a nested item",
                "a nested function or impl is not part of the protothread; make it a \
                 protothread of its own and run it with `pt_spawn!`",
            ),
            Boundary::Argument => (
                "the argument of another suspension macro",
                "suspension points cannot nest; bind the inner value first: \
                 `let v = pt_await!(..);`",
            ),
        };
        format!("`{name}!` cannot be used inside {place}: {advice}")
    }
}

struct Analyzer {
    cx: String,
    ctx: String,
    /// Every binding seen: its name and where it is declared.
    bindings: Vec<(String, Span)>,
    /// The bindings in scope, innermost scope last.
    scopes: Vec<Vec<usize>>,
    /// Binding -> the suspension point (index into `sites`) it lives across.
    crossed: BTreeMap<usize, usize>,
    sites: Vec<Macro>,
    /// Bindings already reported, so each is reported once.
    reported: Vec<usize>,
    boundary: Option<Boundary>,
    errors: Errors,
}

impl Analyzer {
    fn resolve(&self, name: &str) -> Option<usize> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .copied()
            .find(|&b| self.bindings[b].0 == name)
    }

    fn reference(&mut self, name: &str, span: Span) {
        let Some(b) = self.resolve(name) else { return };
        let Some(&site) = self.crossed.get(&b) else {
            return;
        };
        if self.reported.contains(&b) {
            return;
        }
        self.reported.push(b);
        let text = suspend::site_text(&self.sites[site]);
        let advice = if name == self.ctx {
            format!("this `{name}` shadows the context; give the local another name or keep what it refers to in a field of the context")
        } else {
            format!(
                "keep `{name}` in a field of the context instead (e.g. `{}.{name}`)",
                self.ctx
            )
        };
        self.errors.push(syn::Error::new(
            span,
            format!(
                "local `{name}` is used after the suspension point `{text}`, which it lives \
                 across: locals do not survive a suspension; {advice}"
            ),
        ));
        self.errors.push(syn::Error::new_spanned(
            &self.sites[site],
            format!("`{name}` lives across this suspension point"),
        ));
    }

    /// Adds the bindings of `pat`; `irrefutable` for `let` and closure parameters, where a
    /// lone identifier always binds.
    fn bind(&mut self, pat: &Pat, irrefutable: bool) {
        let mut names = Vec::new();
        collect_bindings(pat, irrefutable, &mut names);
        for (name, span) in names {
            self.bindings.push((name, span));
            let id = self.bindings.len() - 1;
            if let Some(scope) = self.scopes.last_mut() {
                scope.push(id);
            }
        }
    }

    fn in_scope<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        self.scopes.push(Vec::new());
        let r = f(self);
        self.scopes.pop();
        r
    }

    /// Marks every binding in scope as living across `mac`.
    fn cross(&mut self, mac: &Macro) {
        self.sites.push(mac.clone());
        let site = self.sites.len() - 1;
        let live: Vec<usize> = self.scopes.iter().flatten().copied().collect();
        for b in live {
            if self.crossed.contains_key(&b) {
                continue;
            }
            self.crossed.insert(b, site);
            let name = &self.bindings[b].0;
            if name.len() > 1 && name.starts_with('_') && !self.reported.contains(&b) {
                // `_guard`: kept alive on purpose, but it would be dropped at the suspension.
                self.reported.push(b);
                self.errors.push(syn::Error::new(
                    self.bindings[b].1,
                    format!(
                        "`{name}` is alive at the suspension point `{}`, but locals do not \
                         survive a suspension: it would be dropped there, not at the end of its \
                         scope; keep it in a field of the context instead",
                        suspend::site_text(mac)
                    ),
                ));
            }
        }
    }

    /// Ends one alternative of a branch (an `if` branch, a `match` arm): merges what it
    /// crossed into `merged` and restores the state at the start of the branch.
    fn alternative_done(
        &mut self,
        start: &BTreeMap<usize, usize>,
        merged: &mut BTreeMap<usize, usize>,
    ) {
        for (b, s) in std::mem::replace(&mut self.crossed, start.clone()) {
            merged.entry(b).or_insert(s);
        }
    }

    fn with_boundary(&mut self, boundary: Boundary, f: impl FnOnce(&mut Self)) {
        let saved = self.boundary.replace(boundary);
        f(self);
        self.boundary = saved;
    }

    fn suspension(&mut self, mac: &Macro, kind: Kind) {
        if let Some(boundary) = self.boundary {
            self.errors
                .push(syn::Error::new_spanned(mac, boundary.message(kind.name())));
            return;
        }
        let parsed = match Suspension::parse(mac) {
            Some(Ok(s)) => s,
            Some(Err(e)) => return self.errors.push(e),
            None => return,
        };
        if kind.splits() {
            self.cross(mac);
            if kind == Kind::Spawn && self.resolve(&self.cx).is_some() {
                self.errors.push(syn::Error::new_spanned(
                    mac,
                    format!(
                        "`pt_spawn!` passes the runtime context `{0}` to the child, but a local \
                         `{0}` shadows it here; rename the local",
                        self.cx
                    ),
                ));
            }
        }
        if let Some(arg) = &parsed.arg {
            // The argument is evaluated again on every resume, so it runs after the
            // suspension point: it may not name a crossed local.
            self.with_boundary(Boundary::Argument, |a| a.visit_expr(arg));
        }
    }

    fn other_macro(&mut self, mac: &Macro) {
        if let Some((kind, span)) = suspend::mentioned_in(&mac.tokens) {
            if self.boundary.is_none() {
                self.errors.push(syn::Error::new(
                    span,
                    format!(
                        "`{}!` cannot be used inside the arguments of another macro: the \
                         lowering cannot see into them; bind the value first: \
                         `let v = {}!(..);`",
                        kind.name(),
                        kind.name()
                    ),
                ));
            } else if let Some(boundary) = self.boundary {
                self.errors
                    .push(syn::Error::new(span, boundary.message(kind.name())));
            }
        }
        match mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            Ok(args) => args.iter().for_each(|e| self.visit_expr(e)),
            Err(_) => self.scan_tokens(mac.tokens.clone()),
        }
    }

    /// Conservatively treats every identifier in unparsable macro input as a reference.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) => self.reference(&i.to_string(), i.span()),
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Literal(l) => self.format_captures(&l),
                TokenTree::Punct(_) => {}
            }
        }
    }

    /// `"{name}"` in a format string captures `name`.
    fn format_captures(&mut self, lit: &proc_macro2::Literal) {
        let text = lit.to_string();
        if !text.starts_with('"') && !text.starts_with('r') {
            return;
        }
        let mut rest = text.as_str();
        while let Some(open) = rest.find('{') {
            rest = &rest[open + 1..];
            if rest.starts_with('{') {
                rest = &rest[1..];
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                self.reference(name, lit.span());
            }
        }
    }
}

impl<'ast> Visit<'ast> for Analyzer {
    fn visit_block(&mut self, b: &'ast syn::Block) {
        self.in_scope(|a| b.stmts.iter().for_each(|s| a.visit_stmt(s)));
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        self.bind(&local.pat, true);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        let mut all = AllSuspensions::default();
        all.visit_item(item);
        for (kind, mac) in all.found {
            self.errors.push(syn::Error::new_spanned(
                mac,
                Boundary::Item.message(kind.name()),
            ));
        }
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        match Kind::of(mac) {
            Some(kind) => self.suspension(mac, kind),
            None => self.other_macro(mac),
        }
    }

    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if p.qself.is_none() {
            if let Some(ident) = p.path.get_ident() {
                self.reference(&ident.to_string(), ident.span());
            }
        }
    }

    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        self.in_scope(|a| {
            match &*e.cond {
                Expr::Let(l) => {
                    a.visit_expr(&l.expr);
                    a.bind(&l.pat, false);
                }
                cond => a.visit_expr(cond),
            }
            let start = a.crossed.clone();
            let mut merged = start.clone();
            a.visit_block(&e.then_branch);
            a.alternative_done(&start, &mut merged);
            if let Some((_, els)) = &e.else_branch {
                // The else branch does not see the `if let` bindings.
                let hidden = a.scopes.len() - 1;
                let saved = std::mem::take(&mut a.scopes[hidden]);
                a.visit_expr(els);
                a.scopes[hidden] = saved;
                a.alternative_done(&start, &mut merged);
            }
            a.crossed = merged;
        });
    }

    fn visit_expr_match(&mut self, e: &'ast syn::ExprMatch) {
        self.visit_expr(&e.expr);
        let start = self.crossed.clone();
        let mut merged = start.clone();
        for arm in &e.arms {
            self.in_scope(|a| {
                a.bind(&arm.pat, false);
                if let Some((_, guard)) = &arm.guard {
                    a.visit_expr(guard);
                }
                a.visit_expr(&arm.body);
            });
            self.alternative_done(&start, &mut merged);
        }
        self.crossed = merged;
    }

    fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
        if let Some(first) = suspend::first_split(&Expr::Loop(e.clone())) {
            self.cross(&first);
        }
        self.visit_block(&e.body);
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        if let Some(first) = suspend::first_split(&Expr::While(e.clone())) {
            self.cross(&first);
        }
        self.in_scope(|a| {
            match &*e.cond {
                Expr::Let(l) => {
                    a.visit_expr(&l.expr);
                    a.bind(&l.pat, false);
                }
                cond => a.visit_expr(cond),
            }
            a.visit_block(&e.body);
        });
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.visit_expr(&e.expr);
        self.in_scope(|a| {
            a.bind(&e.pat, true);
            a.with_boundary(Boundary::For, |a| a.visit_block(&e.body));
        });
    }

    fn visit_expr_closure(&mut self, e: &'ast syn::ExprClosure) {
        self.in_scope(|a| {
            e.inputs.iter().for_each(|p| a.bind(p, true));
            a.with_boundary(Boundary::Closure, |a| a.visit_expr(&e.body));
        });
    }

    fn visit_expr_async(&mut self, e: &'ast syn::ExprAsync) {
        self.with_boundary(Boundary::Async, |a| a.visit_block(&e.block));
    }
}

/// Every suspension macro inside an item, for the nested-item error.
#[derive(Default)]
struct AllSuspensions {
    found: Vec<(Kind, Macro)>,
}

impl<'ast> Visit<'ast> for AllSuspensions {
    fn visit_macro(&mut self, mac: &'ast Macro) {
        if let Some(kind) = Kind::of(mac) {
            self.found.push((kind, mac.clone()));
        }
    }
}

/// The names a pattern binds. In a refutable pattern a lone capitalised identifier is taken to
/// be a constant or a unit variant (`None`, `MAX`), as Rust's naming conventions make it; if it
/// is a binding after all, a use after lowering fails to resolve rather than resolving to
/// something else (a constant of that name would have made it a constant pattern).
fn collect_bindings(pat: &Pat, irrefutable: bool, out: &mut Vec<(String, Span)>) {
    struct Collector<'a>(&'a mut Vec<(String, Span)>, bool);
    impl<'ast> Visit<'ast> for Collector<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            let name = p.ident.to_string();
            let constant = !self.1
                && p.subpat.is_none()
                && p.by_ref.is_none()
                && p.mutability.is_none()
                && name.starts_with(|c: char| c.is_uppercase());
            if !constant {
                self.0.push((name, p.ident.span()));
            }
            visit::visit_pat_ident(self, p);
        }
        fn visit_expr(&mut self, _: &'ast Expr) {}
    }
    Collector(out, irrefutable).visit_pat(pat);
}
