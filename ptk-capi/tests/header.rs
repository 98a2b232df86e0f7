//! `include/ptk_loop.h` says what the library exports, exactly: every function it declares
//! is a defined symbol of `libptk_capi.a`, and every `ptk_*` function the library defines is
//! declared. The header also compiles cleanly as C99 and as C++.
#![cfg(target_pointer_width = "64")] // The C library is for 64-bit targets.

mod c;

use std::collections::BTreeSet;
use std::process::Command;

/// The names of the functions `ptk_loop.h` declares (prototypes, not typedefs or comments).
fn declared() -> BTreeSet<String> {
    let header = std::fs::read_to_string(c::header_dir().join("ptk_loop.h")).unwrap();
    let mut code = String::new();
    // Drop /* */ comments, then look at what is left statement by statement.
    let mut rest = header.as_str();
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        let end = rest[start..].find("*/").expect("an unterminated comment") + start + 2;
        rest = &rest[end..];
    }
    code.push_str(rest);
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    for statement in code.split([';', '{', '}']) {
        let s = statement.trim();
        if s.starts_with("typedef") || !s.contains('(') {
            continue;
        }
        let before_paren = &s[..s.find('(').unwrap()];
        let name = before_paren
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap();
        if name.starts_with("ptk_") {
            names.insert(name.to_string());
        }
    }
    names
}

/// The `ptk_*` functions the static library defines.
fn exported() -> BTreeSet<String> {
    let lib = c::staticlib();
    let out = Command::new("nm")
        .args(["--defined-only", "-g"])
        .arg(&lib)
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm {}: {:?}", lib.display(), out);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            match (f.next(), f.next(), f.next()) {
                (Some(_), Some("T"), Some(name)) if name.starts_with("ptk_") => {
                    Some(name.to_string())
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn the_header_declares_exactly_the_functions_the_library_exports() {
    let declared = declared();
    let exported = exported();
    assert!(
        declared.len() >= 35,
        "only {} declarations found",
        declared.len()
    );
    let missing: Vec<_> = declared.difference(&exported).collect();
    let undeclared: Vec<_> = exported.difference(&declared).collect();
    assert!(
        missing.is_empty() && undeclared.is_empty(),
        "declared but not exported: {missing:?}; exported but not declared: {undeclared:?}"
    );
}

#[test]
fn the_header_compiles_cleanly_as_c99_and_as_cplusplus() {
    let dir = c::scratch_dir("header");
    let src = dir.join("include_only.c");
    std::fs::write(
        &src,
        "#include \"ptk_loop.h\"\nint main(void) { return 0; }\n",
    )
    .unwrap();
    for (compiler, std) in [("cc", "-std=c99"), ("c++", "-std=c++11")] {
        let mut cmd = Command::new(compiler);
        if compiler == "c++" {
            cmd.args(["-x", "c++"]);
        }
        let out = cmd
            .args([
                std,
                "-Wall",
                "-Wextra",
                "-pedantic",
                "-Werror",
                "-fsyntax-only",
                "-I",
            ])
            .arg(c::header_dir())
            .arg(&src)
            .output()
            .expect("a C and a C++ compiler run");
        assert!(
            out.status.success(),
            "{compiler} {std}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
