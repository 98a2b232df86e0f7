//! The C API from C, under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer:
//! `tests/c/api.c` walks through invalid parameters, buffers in both ownership modes, an
//! echo, a refused connect, a peer reset, timers, wakes, posts, UDP, socket options and a
//! loop destroyed while connections are open, printing a trace that must equal
//! `tests/c/api.expected` line for line. A sanitizer report on any of those paths fails the
//! test as well.
#![cfg(target_pointer_width = "64")] // The C library is for 64-bit targets.

mod c;

use c::{assert_clean, compile, run, Build};

#[test]
fn the_c_api_trace_is_exact_and_the_sanitizers_find_nothing() {
    let dir = c::scratch_dir("api");
    let exe = compile(
        &[c::c_tests_dir().join("api.c")],
        &dir,
        "api",
        Build::Sanitized,
    );
    let out = run(&exe, &[]);
    assert_clean("api", &out);
    let expected = std::fs::read_to_string(c::c_tests_dir().join("api.expected")).unwrap();
    let got = String::from_utf8(out.stdout).unwrap();
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "line {} of the trace", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count(), "{got}");
}

#[test]
fn a_transferred_buffer_the_program_never_frees_is_reported_as_a_leak() {
    // The harness itself: a C program that keeps a PTK_BUF_TRANSFER read buffer must fail.
    let dir = c::scratch_dir("leak");
    let src = dir.join("leak.c");
    std::fs::write(
        &src,
        r#"
#include <stdio.h>
#include "ptk_loop.h"
int main(void) {
    ptk_loop *loop;
    buf *b;
    ptk_loop_opts one = {.worker_threads = 1, .auto_start = true};
    if (ptk_loop_create(&loop, &one) != PTK_OK || ptk_buf_alloc(&b, 16) != PTK_OK) return 1;
    ptk_loop_destroy(loop);
    printf("kept %zu bytes\n", ptk_buf_capacity(b));
    b = NULL; /* lost: never given to ptk_buf_free */
    return 0;
}
"#,
    )
    .unwrap();
    let exe = compile(&[src], &dir, "leak", Build::Sanitized);
    let out = run(&exe, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("LeakSanitizer"),
        "the leak went unnoticed: {}\n{stderr}",
        out.status
    );
}
