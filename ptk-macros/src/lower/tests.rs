//! Unit tests of the lowering on its own: states, jumps, rewriting and errors, checked on the
//! token output of [`lower`] for small bodies.

use proc_macro2::TokenStream;
use quote::quote;

use super::{lower, Names};

struct Out {
    code: String,
    sites: Vec<String>,
    items: usize,
    errors: Option<String>,
}

fn lowered(body: TokenStream) -> Out {
    let block: syn::Block = syn::parse2(quote!({ #body })).unwrap_or_else(|e| panic!("{e}"));
    let mut names = Names::new(syn::parse_quote!(rt), quote!(ctx), syn::parse_quote!(cx));
    let (l, errors) = lower(&block, &mut names);
    Out {
        code: l.body.to_string(),
        sites: l.sites.iter().map(crate::suspend::site_text).collect(),
        items: l.items.len(),
        errors: errors.finish().err().map(|e| e.to_string()),
    }
}

impl Out {
    /// Asserts that the lowered code contains `needle`, showing the code if not.
    #[track_caller]
    fn has(&self, needle: &str) {
        assert!(
            self.code.contains(needle),
            "no `{needle}` in:\n{}",
            self.code
        );
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn a_body_without_suspension_points_is_one_state() {
    let out = lowered(quote!(ctx.n += 1; ctx.n));
    assert_eq!(out.errors, None);
    assert!(!out.code.contains("match"), "{}", out.code);
    out.has("break '__pt rt :: Transition :: Done (ctx . n)");
}

#[test]
fn yields_in_a_straight_line_need_no_dispatch_loop() {
    let out = lowered(quote!(a(); pt_yield!(); b(); pt_yield!(); c();));
    assert_eq!(out.sites, ["pt_yield!()", "pt_yield!()"]);
    assert!(!out.code.contains("loop"), "{}", out.code);
    assert_eq!(count(&out.code, "Transition :: Yielded"), 2);
    out.has("1 => { b () ; break '__pt rt :: Transition :: Yielded (2)");
}

#[test]
fn sites_are_numbered_in_source_order_across_nesting() {
    let out = lowered(quote! {
        while ctx.a { if ctx.b { pt_yield!(); } else { pt_wait_until!(ctx.c); } }
        let v = pt_await!(ctx.poll());
        ctx.v = v;
    });
    assert_eq!(out.errors, None);
    assert_eq!(
        out.sites,
        [
            "pt_yield!()",
            "pt_wait_until!(ctx.c)",
            "pt_await!(ctx.poll())"
        ]
    );
    // Internal states (the join after the loop, its head) are numbered after the resume
    // points. The join is only a jump to 3, so it is left out and jumps to it go to 3.
    out.has("5 => break '__pt_s5 , _ => break '__pt_s5 , } } { if ctx . a");
    assert!(!out.code.contains("'__pt_s4"), "{}", out.code);
    out.has("else { break '__pt_s3 ; }");
}

#[test]
fn await_evaluates_its_expression_in_the_resume_state() {
    let out = lowered(quote!(let n = pt_await!(ctx.src.poll())?; ctx.n = n;));
    // The entry is only the jump into state 1, so starting goes there directly.
    out.has("_ => break '__pt_s1 ,");
    out.has("} } { let n = match rt :: TryBranch :: branch (match ctx . src . poll ()");
}

#[test]
fn breaks_to_lowered_loops_jump_and_breaks_to_plain_loops_stay() {
    let out = lowered(quote! {
        'outer: loop {
            pt_yield!();
            loop { if ctx.x { break 'outer; } if ctx.y { break; } }
            if ctx.z { continue; }
        }
    });
    assert_eq!(out.errors, None);
    // `break 'outer` leaves the lowered loop: a jump (here to the end of the body).
    out.has("if ctx . x { { break '__pt rt :: Transition :: Done (()) ; } ; }");
    // The inner loop is plain: its `break` is untouched.
    out.has("if ctx . y { break ; }");
    // `continue` goes to the head of the lowered loop, placed after this state.
    out.has("if ctx . z { { break '__pt_s2 ; } ; }");
}

#[test]
fn only_the_back_edge_of_a_loop_goes_through_the_dispatch() {
    let out = lowered(quote! {
        ctx.n = 0;
        loop {
            let a = pt_await!(ctx.a());
            ctx.x = a;
            let b = pt_await!(ctx.b());
            ctx.y = b;
        }
    });
    assert_eq!(out.errors, None);
    assert_eq!(count(&out.code, "continue '__pt_next"), 1, "{}", out.code);
    // Into the loop and on to the second await: forward, direct.
    out.has("{ ctx . n = 0 ; break '__pt_s1 ; }");
    out.has("ctx . x = a ; break '__pt_s2 ; }");
    // Round the loop: back, through the dispatch.
    out.has("ctx . y = b ; __pt_state = 1 ; continue '__pt_next ; }");
}

#[test]
fn jumps_without_a_back_edge_need_no_dispatch_loop() {
    let out = lowered(quote! {
        if ctx.a { pt_wait_until!(ctx.b); } else { ctx.c = 1; }
        ctx.d = 2;
    });
    assert_eq!(out.errors, None);
    assert!(!out.code.contains("loop"), "{}", out.code);
    assert!(!out.code.contains("__pt_state"), "{}", out.code);
    out.has("match rt :: Pt :: resume_point (rt :: Protothread :: pt (& * ctx))");
}

#[test]
fn many_states_are_nested_in_runs_and_only_jumps_between_runs_dispatch() {
    let body: TokenStream = (0..200)
        .map(|_| quote!(pt_wait_until!(ctx.a); ctx.n += 1;))
        .collect();
    let out = lowered(body);
    assert_eq!(out.errors, None);
    // 200 states: the first 128 in one run, the others in a second run that comes first and
    // that the first run's states skip.
    assert_eq!(count(&out.code, "match __pt_state"), 2, "{}", out.code);
    out.has("'__pt_next : loop { '__pt_run1 : { '__pt_s200 : {");
    out.has("_ => break '__pt_run1 , } }");
    out.has("ctx . n += 1 ; __pt_state = 129 ; continue '__pt_next ;");
    assert_eq!(count(&out.code, "continue '__pt_next"), 1, "{}", out.code);
}

#[test]
fn user_tokens_that_spell_the_jump_placeholder_are_left_alone() {
    let out = lowered(quote! {
        m!(__pt_goto 2);
        loop { pt_wait_until!(ctx.a); }
    });
    assert_eq!(out.errors, None);
    out.has("m ! (__pt_goto 2)");
    assert!(!out.code.contains("__pt_goto1"), "{}", out.code);
}

#[test]
fn return_and_question_mark_are_rewritten_except_inside_closures() {
    let out = lowered(quote! {
        pt_yield!();
        let f = |x: Option<u32>| -> Option<u32> { let y = x?; return Some(y); };
        let v = f(ctx.o)?;
        return v;
    });
    assert_eq!(out.errors, None);
    out.has("let y = x ? ; return Some (y) ;");
    assert_eq!(count(&out.code, "TryBranch :: branch"), 1);
    out.has("break '__pt rt :: Transition :: Done (v)");
}

#[test]
fn a_value_that_crosses_states_goes_through_a_slot() {
    let out = lowered(quote! {
        let v = if ctx.a { pt_await!(ctx.p()) } else { 1 };
        ctx.v = v;
    });
    assert_eq!(out.errors, None);
    out.has("let mut __pt_slot0 = :: core :: option :: Option :: None");
    out.has("let v = rt :: take_slot (& mut __pt_slot0) ; ctx . v = v ;");
}

#[test]
fn items_of_a_lowered_block_are_hoisted() {
    let out = lowered(quote! {
        const N: u32 = 3;
        pt_yield!();
        ctx.n = N;
    });
    assert_eq!(out.items, 1);
    assert!(!out.code.contains("const N"), "{}", out.code);
}

#[test]
fn exit_and_restart_end_the_run_wherever_they_are() {
    let out = lowered(quote! {
        loop { if ctx.a { pt_exit!(); } if ctx.b { pt_restart!() } }
    });
    assert_eq!(out.errors, None);
    assert!(out.sites.is_empty());
    out.has("break '__pt rt :: Transition :: Exited ;");
    out.has("break '__pt rt :: Transition :: Restarted");
}

#[test]
fn spawn_resets_the_child_then_resumes_it_with_cx() {
    let out = lowered(quote!(let v = pt_spawn!(ctx.child)?; ctx.v = v;));
    out.has("rt :: Pt :: reset (rt :: Protothread :: pt_mut (& mut ctx . child))");
    assert!(out.code.contains(
        "rt :: spawned (rt :: Protothread :: resume (& mut ctx . child , & mut * cx) , 1)"
    ));
}

#[test]
fn unsupported_positions_are_errors() {
    for body in [
        quote!(foo(pt_await!(x));),
        quote!(if pt_await!(x) {
            a();
        }),
        quote!(while pt_wait_until!(x) {}),
        quote!(let v = 1 + pt_await!(x);),
        quote!(match y {
            _ if pt_await!(x) => {}
            _ => {}
        }),
    ] {
        let out = lowered(body.clone());
        let errors = out.errors.unwrap_or_else(|| panic!("accepted: {body}"));
        assert!(
            errors.contains("cannot be lowered in this position"),
            "{errors}"
        );
    }
}

#[test]
fn yield_has_no_value() {
    let out = lowered(quote!(let x = pt_yield!();));
    assert_eq!(
        out.errors.as_deref(),
        Some("`pt_yield!` has no value: use it as a statement")
    );
}
