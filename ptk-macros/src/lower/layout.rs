//! Putting the states together so that jumps are direct branches where they can be.
//!
//! Each state's code is a block placed right after a labelled block that holds the states
//! before it, so a jump to a state placed later is `break` out of that state's label. Only a
//! jump back to a state placed earlier (or to itself) goes through the dispatch loop, which
//! costs a load of the state, a range check and a jump table: LLVM does not thread such jumps
//! across the loop header. The order is a reverse postorder of the jump graph, which makes
//! every jump forward except those that close a cycle (the back edges of loops that suspend).
//! A state whose whole code is one jump is left out and the jumps to it go to its target.
//! Past [`NEST`] states, the nesting is split into runs that the states outside skip, and a
//! jump between runs goes through the dispatch loop as well.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Group, Literal, TokenStream, TokenTree};
use quote::quote;
use syn::Lifetime;

use super::Names;

/// The entry's key among the states: the code from the top, run for resume point 0.
const ENTRY: u16 = 0;

/// The most states nested in one run of labelled blocks. rustc recurses over the nesting and
/// overflows its stack somewhere past a thousand levels; a jump between runs is a dispatch.
const NEST: usize = 128;

/// The run: `entry` and the `states` (code by number; the first `resume_points` are resume
/// points), dispatched on `resume_point`.
pub(super) fn assemble(
    names: &Names,
    resume_point: TokenStream,
    resume_points: u16,
    entry: TokenStream,
    mut states: BTreeMap<u16, TokenStream>,
) -> TokenStream {
    if states.is_empty() {
        return entry;
    }
    states.insert(ENTRY, entry);
    let jumps: BTreeMap<u16, Vec<u16>> = states
        .iter()
        .map(|(&n, code)| {
            let mut to = Vec::new();
            targets(names, code.clone(), &mut to);
            (n, to)
        })
        .collect();
    if jumps.values().all(Vec::is_empty) {
        // No state jumps to another: a plain `match` is already one dispatch per resume.
        let arms = states
            .iter()
            .filter(|(&n, _)| n != ENTRY)
            .map(|(&n, code)| {
                let n = Literal::u16_unsuffixed(n);
                quote!(#n => { #code })
            });
        let entry = &states[&ENTRY];
        return quote! {
            match #resume_point {
                #(#arms)*
                _ => { #entry }
            }
        };
    }

    let alias: BTreeMap<u16, u16> = states
        .keys()
        .filter_map(|&n| Some((n, final_target(&states, names, n)?)))
        .collect();
    let to = |n: u16| alias.get(&n).copied().unwrap_or(n);
    let order = order(&states, &jumps, &alias);
    let place: BTreeMap<u16, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();

    // States in one run of nested labelled blocks; a jump between runs is a dispatch.
    let run_of = |n: u16| place.get(&n).map(|&at| at / NEST);
    let mut back = false;
    let mut blocks = Vec::with_capacity(order.len());
    for &n in &order {
        let code = resolve(names, states[&n].clone(), &mut |target| {
            let target = to(target);
            match (place.get(&n), place.get(&target)) {
                (Some(from), Some(at)) if at > from && run_of(n) == run_of(target) => {
                    names.forward(target)
                }
                _ => {
                    back = true;
                    names.back(target)
                }
            }
        });
        blocks.push((n, code));
    }

    // Every resume point and every placed state has an arm, so every label is used.
    let arms: Vec<(u16, u16)> = states
        .keys()
        .filter(|&&n| n != ENTRY && (n <= resume_points || place.contains_key(&n)))
        .map(|&n| (n, to(n)))
        .collect();
    let entry = names.label(to(ENTRY));
    let runs = order.len().div_ceil(NEST);
    let state = &names.state;
    let scrutinee = if back || runs > 1 {
        quote!(#state)
    } else {
        resume_point.clone()
    };
    let mut run = TokenStream::new();
    let mut last = TokenStream::new();
    for (i, blocks) in blocks.chunks(NEST).enumerate() {
        let arms = arms.iter().filter(|(_, to)| run_of(*to) == Some(i));
        if run_of(to(ENTRY)) == Some(i) {
            // Last, so that the `_` arm of every other run gets here.
            last = nest(names, &scrutinee, arms, &entry, blocks);
        } else {
            let skip = names.skip(i);
            let nested = nest(names, &scrutinee, arms, &skip, blocks);
            run.extend(quote!(#skip: { #nested }));
        }
    }
    run.extend(last);
    let next = &names.next;
    match (back, runs > 1) {
        (true, _) => quote! {
            let mut #state: u16 = #resume_point;
            #next: loop { #run }
        },
        (false, true) => quote! {
            let #state: u16 = #resume_point;
            #run
        },
        (false, false) => run,
    }
}

/// One run of states: the `match` that enters it, nested in the labelled blocks the states'
/// code follows. A state that is not in the run goes to `default`.
fn nest<'a>(
    names: &Names,
    scrutinee: &TokenStream,
    arms: impl Iterator<Item = &'a (u16, u16)>,
    default: &Lifetime,
    blocks: &[(u16, TokenStream)],
) -> TokenStream {
    let arms = arms.map(|&(n, to)| {
        let (n, label) = (Literal::u16_unsuffixed(n), names.label(to));
        quote!(#n => break #label,)
    });
    let mut run = quote! {
        match #scrutinee {
            #(#arms)*
            _ => break #default,
        }
    };
    for (n, code) in blocks {
        let label = names.label(*n);
        run = quote!(#label: { #run } { #code });
    }
    run
}

/// Where a jump to `n` ends up when `n`'s code is only a jump (and so on), or `None` if it
/// stays at `n`. Jumps that only go round in a cycle of such states stay.
fn final_target(states: &BTreeMap<u16, TokenStream>, names: &Names, n: u16) -> Option<u16> {
    let mut seen = BTreeSet::from([n]);
    let mut at = n;
    while let Some(next) = states.get(&at).and_then(|code| only_jump(names, code)) {
        if !seen.insert(next) || !states.contains_key(&next) {
            return None;
        }
        at = next;
    }
    (at != n).then_some(at)
}

/// The target of `code` if it is nothing but a jump.
fn only_jump(names: &Names, code: &TokenStream) -> Option<u16> {
    let tokens: Vec<TokenTree> = code.clone().into_iter().collect();
    match tokens.as_slice() {
        [TokenTree::Ident(i), TokenTree::Literal(l), TokenTree::Punct(p)]
            if *i == names.marker && p.as_char() == ';' =>
        {
            l.to_string().parse().ok()
        }
        _ => None,
    }
}

/// The placed states (those not aliased to another) in reverse postorder of a depth-first
/// search from the entry, then from each state not reached yet, resume points first. A jump
/// between two trees of the search goes from a later tree to an earlier one, and later trees
/// come first, so only jumps to a state still being searched go back.
fn order(
    states: &BTreeMap<u16, TokenStream>,
    jumps: &BTreeMap<u16, Vec<u16>>,
    alias: &BTreeMap<u16, u16>,
) -> Vec<u16> {
    let to = |n: u16| alias.get(&n).copied().unwrap_or(n);
    let mut seen = BTreeSet::new();
    let mut post = Vec::with_capacity(states.len());
    // The keys ascend from the entry, resume points first.
    for root in states.keys().map(|&n| to(n)) {
        if !seen.insert(root) {
            continue;
        }
        // (state, how many of its jumps are searched)
        let mut stack = vec![(root, 0)];
        while let Some(top) = stack.last_mut() {
            let (n, i) = *top;
            top.1 += 1;
            match jumps.get(&n).and_then(|j| j.get(i)).map(|&t| to(t)) {
                Some(t) => {
                    if states.contains_key(&t) && seen.insert(t) {
                        stack.push((t, 0));
                    }
                }
                None => {
                    post.push(n);
                    stack.pop();
                }
            }
        }
    }
    post.reverse();
    post
}

/// Adds the targets of the jumps in `code`, in order, to `out`.
fn targets(names: &Names, code: TokenStream, out: &mut Vec<u16>) {
    resolve(names, code, &mut |n| {
        out.push(n);
        TokenStream::new()
    });
}

/// `code` with each jump placeholder replaced by `jump(target)`, also inside groups.
fn resolve(
    names: &Names,
    code: TokenStream,
    jump: &mut impl FnMut(u16) -> TokenStream,
) -> TokenStream {
    let mut out = TokenStream::new();
    let mut tokens = code.into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match tt {
            TokenTree::Ident(i) if i == names.marker => {
                let target = match tokens.peek() {
                    Some(TokenTree::Literal(l)) => l.to_string().parse::<u16>().ok(),
                    _ => None,
                };
                match target {
                    Some(target) => {
                        tokens.next();
                        out.extend(jump(target));
                    }
                    None => out.extend([TokenTree::Ident(i)]),
                }
            }
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), resolve(names, g.stream(), jump));
                group.set_span(g.span());
                out.extend([TokenTree::Group(group)]);
            }
            tt => out.extend([tt]),
        }
    }
    out
}
