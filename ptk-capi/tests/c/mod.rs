//! Building and running C programs against the library: where the library and the header
//! are, compiling with `cc` (under AddressSanitizer where it works), running with a bound.
#![allow(dead_code)] // Each test binary uses part of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `ptk-capi/include`.
pub fn header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

/// `ptk-capi/examples`.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// `ptk-capi/tests/c`.
pub fn c_tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("c")
}

/// The target directory's profile directory (`target/debug`), found from this test binary
/// (`target/debug/deps/NAME-HASH`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// `libptk_capi.a`, built once per test binary with `cargo build -p ptk-capi --lib` into a
/// target directory of its own (`cargo test` builds the crate only as an rlib, and the test
/// run's own target directory is locked while it runs).
pub fn staticlib() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        // When the suite runs on io_uring (`PTK_BACKEND=io_uring`, as `.ci/uring.sh` does), the
        // C programs must run on it too: the library gets the backend compiled in, and the
        // programs inherit the variable.
        let uring = std::env::var("PTK_BACKEND")
            .is_ok_and(|v| matches!(v.as_str(), "io_uring" | "io-uring" | "uring"));
        let target_dir = profile_dir().parent().unwrap().join(if uring {
            "ptk-capi-c-uring"
        } else {
            "ptk-capi-c"
        });
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "ptk-capi",
            "--lib",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if uring {
            cmd.args(["--features", "io-uring"]);
        }
        let out = cmd.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build -p ptk-capi --lib: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        target_dir.join("debug").join("libptk_capi.a")
    })
    .clone()
}

/// A fresh directory for one test's files, under the target directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = profile_dir().join("ptk-capi-c").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether `cc -fsanitize=address` builds and runs a program here (checked once).
pub fn asan_works() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        let dir = scratch_dir("asan-probe");
        let src = dir.join("probe.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let exe = dir.join("probe");
        let built = Command::new("cc")
            .args(["-fsanitize=address", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        built && Command::new(&exe).status().is_ok_and(|s| s.success())
    })
}

/// How a C program is built.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Build {
    /// `-O2`, for examples that only have to work.
    Plain,
    /// `-O1 -fsanitize=address,undefined` with leak checking: the test fails on any report.
    Sanitized,
}

/// Compiles `sources` into `dir/name` against the header and the static library.
pub fn compile(sources: &[PathBuf], dir: &Path, name: &str, build: Build) -> PathBuf {
    let exe = dir.join(name);
    let mut cmd = Command::new("cc");
    cmd.args([
        "-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-pthread", "-I",
    ])
    .arg(header_dir());
    match build {
        Build::Plain => {
            cmd.arg("-O2");
        }
        Build::Sanitized => {
            assert!(
                asan_works(),
                "cc -fsanitize=address does not work here: install the compiler's sanitizer \
                 runtime (libasan)"
            );
            cmd.args([
                "-O1",
                "-fno-omit-frame-pointer",
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=all",
            ]);
        }
    }
    cmd.args(sources)
        .arg(staticlib())
        .args(["-ldl", "-lm", "-lrt", "-o"])
        .arg(&exe);
    let out = cmd.output().expect("cc runs");
    assert!(
        out.status.success(),
        "cc {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// The environment a sanitized program runs with: leak checking on, every report fatal,
/// reports tagged so the test can find them.
pub fn sanitizer_env(cmd: &mut Command) {
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=86:halt_on_error=1",
    )
    .env(
        "UBSAN_OPTIONS",
        "print_stacktrace=1:halt_on_error=1:exitcode=87",
    )
    .env("LSAN_OPTIONS", "exitcode=88");
}

/// Runs a program to its end (killed after 60 s by `timeout`), sanitizer settings on.
pub fn run(exe: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("60").arg(exe).args(args);
    sanitizer_env(&mut cmd);
    cmd.output().expect("the program runs")
}

/// Panics unless a sanitized program exited with status 0 and said nothing of the
/// sanitizers on stderr.
pub fn assert_clean(what: &str, out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reported = ["AddressSanitizer", "LeakSanitizer", "runtime error:"]
        .iter()
        .any(|tag| stderr.contains(tag));
    assert!(
        out.status.success() && !reported,
        "{what}: {}\nstdout:\n{}\nstderr:\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}
