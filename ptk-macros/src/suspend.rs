//! The vocabulary of suspension macros: recognising `pt_await!` and friends, parsing their
//! arguments, finding them inside statements, and the abbreviated text of a [`Site`].
//!
//! [`Site`]: https://docs.rs/ptk-runtime

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use syn::visit::{self, Visit};
use syn::{Expr, Macro, Stmt};

/// One of the suspension macros a protothread body may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Await,
    WaitUntil,
    WaitWhile,
    Yield,
    YieldUntil,
    Spawn,
    Exit,
    Restart,
}

impl Kind {
    /// All kinds, in the order the docs list them.
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Await,
        Kind::WaitUntil,
        Kind::WaitWhile,
        Kind::Yield,
        Kind::YieldUntil,
        Kind::Spawn,
        Kind::Exit,
        Kind::Restart,
    ];

    /// The macro name, without `!`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Await => "pt_await",
            Kind::WaitUntil => "pt_wait_until",
            Kind::WaitWhile => "pt_wait_while",
            Kind::Yield => "pt_yield",
            Kind::YieldUntil => "pt_yield_until",
            Kind::Spawn => "pt_spawn",
            Kind::Exit => "pt_exit",
            Kind::Restart => "pt_restart",
        }
    }

    /// The kind named `name`, if any.
    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind a macro invocation is, judged by the last segment of its path (so both
    /// `pt_await!` and `ptk::pt_await!` count).
    pub(crate) fn of(mac: &Macro) -> Option<Kind> {
        let last = mac.path.segments.last()?;
        Kind::from_name(&last.ident.to_string())
    }

    /// Whether the macro splits the body into a new resume point. `pt_exit!()` and
    /// `pt_restart!()` only end the run, like `return`.
    pub(crate) fn splits(self) -> bool {
        !matches!(self, Kind::Exit | Kind::Restart)
    }

    /// Whether the macro evaluates to a value (`pt_await!` and `pt_spawn!`).
    pub(crate) fn has_value(self) -> bool {
        matches!(self, Kind::Await | Kind::Spawn)
    }

    /// Whether the macro takes an expression argument (as opposed to empty parentheses).
    fn takes_expr(self) -> bool {
        !matches!(self, Kind::Yield | Kind::Exit | Kind::Restart)
    }
}

/// A parsed suspension macro invocation.
pub(crate) struct Suspension {
    pub(crate) kind: Kind,
    /// The argument: the poll expression, the condition or the child place.
    pub(crate) arg: Option<Expr>,
    /// The whole invocation, for spans.
    pub(crate) mac: Macro,
}

impl Suspension {
    /// Parses `mac` if it is a suspension macro; `None` if it is some other macro.
    pub(crate) fn parse(mac: &Macro) -> Option<syn::Result<Suspension>> {
        let kind = Kind::of(mac)?;
        let parsed = if kind.takes_expr() {
            mac.parse_body::<Expr>().map(Some).map_err(|e| {
                let what = match kind {
                    Kind::Await => "an expression returning `core::task::Poll<T>`",
                    Kind::Spawn => "a place holding a child protothread, such as `ctx.child`",
                    _ => "a `bool` condition",
                };
                syn::Error::new(e.span(), format!("`{}!` takes {what}", kind.name()))
            })
        } else if mac.tokens.is_empty() {
            Ok(None)
        } else {
            Err(syn::Error::new_spanned(
                &mac.tokens,
                format!("`{}!()` takes no arguments", kind.name()),
            ))
        };
        Some(parsed.map(|arg| Suspension {
            kind,
            arg,
            mac: mac.clone(),
        }))
    }

    /// The span of the invocation, from the macro name to the closing delimiter.
    pub(crate) fn span(&self) -> Span {
        span_of(&self.mac)
    }
}

/// The span of a macro invocation, from its path to its closing delimiter.
pub(crate) fn span_of(mac: &Macro) -> Span {
    let start = mac
        .path
        .segments
        .first()
        .map_or_else(Span::call_site, |s| s.ident.span());
    start.join(mac.delimiter.span().close()).unwrap_or(start)
}

/// Whether `stmt` holds a suspension point that splits it (see [`Kind::splits`]) where the
/// lowering can see it: not inside closures, async blocks, nested items, `for` loops or the
/// arguments of other macros (the analysis rejects those).
pub(crate) fn splits_stmt(stmt: &Stmt) -> bool {
    let mut finder = Finder::default();
    finder.visit_stmt(stmt);
    finder.found.is_some()
}

/// Like [`splits_stmt`], for an expression.
pub(crate) fn splits_expr(expr: &Expr) -> bool {
    first_split(expr).is_some()
}

/// The first splitting suspension macro inside `expr`, if any.
pub(crate) fn first_split(expr: &Expr) -> Option<Macro> {
    let mut finder = Finder::default();
    finder.visit_expr(expr);
    finder.found
}

/// How many splitting suspension points a block holds (the number of resume points).
pub(crate) fn count_splits(block: &syn::Block) -> usize {
    let mut finder = Finder {
        count_all: true,
        ..Finder::default()
    };
    finder.visit_block(block);
    finder.count
}

#[derive(Default)]
struct Finder {
    found: Option<Macro>,
    count: usize,
    count_all: bool,
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_macro(&mut self, mac: &'ast Macro) {
        if Kind::of(mac).is_some_and(Kind::splits) {
            self.count += 1;
            if self.found.is_none() {
                self.found = Some(mac.clone());
            }
        }
        // The arguments of a suspension macro are plain expressions (nested suspension points
        // in them are rejected by the analysis), and other macros' tokens are opaque here.
    }
    fn visit_expr(&mut self, e: &'ast Expr) {
        if self.found.is_some() && !self.count_all {
            return;
        }
        match e {
            Expr::Closure(_) | Expr::Async(_) | Expr::ForLoop(_) => {}
            _ => visit::visit_expr(self, e),
        }
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// Whether `tokens` (another macro's arguments) mention a suspension macro, as `pt_xxx!`.
pub(crate) fn mentioned_in(tokens: &TokenStream) -> Option<(Kind, Span)> {
    let mut prev: Option<(Kind, Span)> = None;
    for tt in tokens.clone() {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == '!' && prev.is_some() => return prev,
            TokenTree::Group(g) => {
                if let Some(found) = mentioned_in(&g.stream()) {
                    return Some(found);
                }
            }
            _ => {}
        }
        prev = match &tt {
            TokenTree::Ident(i) => Kind::from_name(&i.to_string()).map(|k| (k, i.span())),
            _ => None,
        };
    }
    None
}

/// The text of a site: the macro as written, with the contents of nested groups abbreviated
/// to `..` (`pt_await!(cx.read(ctx.stream, &mut ctx.buf))` becomes `pt_await!(cx.read(..))`).
pub(crate) fn site_text(mac: &Macro) -> String {
    let name = mac
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let mut out = format!("{name}!(");
    print_tokens(&mac.tokens, &mut out);
    out.push(')');
    out
}

/// Prints tokens the way rustfmt would lay out a short expression, collapsing groups.
fn print_tokens(tokens: &TokenStream, out: &mut String) {
    #[derive(PartialEq)]
    enum Prev {
        Start,
        Word,
        Close,
        Prefix,
        Tight,
        Binary,
        Comma,
    }
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut prev = Prev::Start;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(id) => {
                if matches!(prev, Prev::Word | Prev::Close | Prev::Binary | Prev::Comma) {
                    out.push(' ');
                }
                out.push_str(&id.to_string());
                prev = Prev::Word;
            }
            TokenTree::Literal(lit) => {
                if matches!(prev, Prev::Word | Prev::Close | Prev::Binary | Prev::Comma) {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                prev = Prev::Word;
            }
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                let call = matches!(prev, Prev::Word | Prev::Close | Prev::Tight);
                if !call && matches!(prev, Prev::Binary | Prev::Comma)
                    || g.delimiter() == Delimiter::Brace && prev != Prev::Start
                {
                    out.push(' ');
                }
                out.push_str(open);
                if !g.stream().is_empty() {
                    out.push_str("..");
                }
                out.push_str(close);
                prev = Prev::Close;
            }
            TokenTree::Punct(_) => {
                // Gather a joint operator such as `==`, `&&`, `..=` or `::`.
                let mut op = String::new();
                while let Some(TokenTree::Punct(p)) = tokens.get(i) {
                    op.push(p.as_char());
                    if p.spacing() == proc_macro2::Spacing::Alone {
                        break;
                    }
                    i += 1;
                }
                let unary = matches!(
                    prev,
                    Prev::Start | Prev::Prefix | Prev::Binary | Prev::Comma
                );
                match op.as_str() {
                    "." | "::" => {
                        out.push_str(&op);
                        prev = Prev::Tight;
                    }
                    "?" => {
                        out.push_str(&op);
                        prev = Prev::Close;
                    }
                    "," | ";" => {
                        out.push_str(&op);
                        prev = Prev::Comma;
                    }
                    "!" if prev == Prev::Word => {
                        out.push('!');
                        prev = Prev::Tight;
                    }
                    "&" | "*" | "-" | "!" | "&&" if unary => {
                        if matches!(prev, Prev::Binary | Prev::Comma) {
                            out.push(' ');
                        }
                        out.push_str(&op);
                        prev = Prev::Prefix;
                    }
                    _ => {
                        if prev != Prev::Start {
                            out.push(' ');
                        }
                        out.push_str(&op);
                        prev = Prev::Binary;
                    }
                }
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(src: &str) -> String {
        site_text(&syn::parse_str::<Macro>(src).unwrap())
    }

    #[test]
    fn site_text_abbreviates_nested_groups() {
        assert_eq!(
            text("pt_await!(cx.read(ctx.stream, &mut ctx.buf))"),
            "pt_await!(cx.read(..))"
        );
        assert_eq!(text("pt_yield!()"), "pt_yield!()");
        assert_eq!(
            text("pt_wait_until!(ctx.n >= 3 && !ctx.stop)"),
            "pt_wait_until!(ctx.n >= 3 && !ctx.stop)"
        );
        assert_eq!(text("pt_spawn!(ctx.child)"), "pt_spawn!(ctx.child)");
        assert_eq!(
            text("pt_await!(source::poll(&mut ctx.src, -1))"),
            "pt_await!(source::poll(..))"
        );
        assert_eq!(
            text("pt_await!(ctx.items[0].poll())"),
            "pt_await!(ctx.items[..].poll())"
        );
    }

    #[test]
    fn suspension_macros_are_found_by_their_last_path_segment() {
        let mac: Macro = syn::parse_str("ptk::pt_await!(x)").unwrap();
        assert_eq!(Kind::of(&mac), Some(Kind::Await));
        let mac: Macro = syn::parse_str("println!(x)").unwrap();
        assert_eq!(Kind::of(&mac), None);
    }

    #[test]
    fn suspension_macros_in_other_macros_are_noticed() {
        let tokens: TokenStream = syn::parse_str("\"{}\", foo(pt_await!(x))").unwrap();
        assert_eq!(mentioned_in(&tokens).map(|(k, _)| k), Some(Kind::Await));
        let tokens: TokenStream = syn::parse_str("\"{}\", pt_await").unwrap();
        assert!(mentioned_in(&tokens).is_none());
    }
}
