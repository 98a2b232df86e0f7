//! Interoperability with the Python EtherNet/IP libraries: pylogix 1.1.6 and pycomm3 1.2.16
//! against our server (our client against cpppo's simulator is in `interop_client.rs`).
//!
//! Ignored by a plain `cargo test`: they need a Python with cpppo, pylogix and pycomm3.
//! `bash .ci/enip-interop.sh` installs them into a venv under `target/` and runs these tests
//! with `--ignored` and `PTK_ENIP_PYTHON` set to that venv's interpreter. Each test starts
//! its peer on an ephemeral loopback port, runs the script from `tests/interop/` with a
//! deadline, and asserts its `ALL OK` and exit status 0; a missing Python or library is a
//! failure, never a pass.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::TestServer;
use ptk_enip::server::ServerConfig;

/// Every type the server serves, scalars and arrays, and a DINT array that needs
/// fragmented services; program-scoped tags in two programs, some named as controller tags.
const SPECS: &[&str] = &[
    "B=BOOL",
    "SI=SINT",
    "I=INT",
    "D=DINT",
    "L=LINT",
    "USI=USINT",
    "UI=UINT",
    "UD=UDINT",
    "UL=ULINT",
    "R=REAL",
    "LR=LREAL",
    "S=STRING",
    "BA=BOOL[64]",
    "DA=DINT[10]",
    "RA=REAL[4]",
    "SA=STRING[3]",
    "BIG=DINT[2000]",
    "Program:Main.D=DINT",
    "Program:Main.DA=DINT[10]",
    "Program:Main.S=STRING",
    "Program:Main.BIG=DINT[1500]",
    "Program:Aux_2.BA=BOOL[64]",
    "Program:Aux_2.R=REAL",
];

/// How long one script may run (it also stops itself a little earlier).
const SCRIPT_TIMEOUT_S: u64 = 150;

// ---- the Python side -----------------------------------------------------------------------

/// The interpreter of `$PTK_ENIP_PYTHON`, checked to import `module`.
fn python(module: &str) -> String {
    let python = std::env::var("PTK_ENIP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "PTK_ENIP_PYTHON is not set: run `bash .ci/enip-interop.sh`, which installs cpppo, \
             pylogix and pycomm3 into target/enip-venv and sets it"
        )
    });
    let check = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run PTK_ENIP_PYTHON={python}: {e}"));
    assert!(
        check.status.success(),
        "PTK_ENIP_PYTHON={python} cannot import {module}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/interop")
        .join(name)
}

/// Runs `python script args...`, printing its output; fails the test unless it ends with
/// `ALL OK` and exit status 0.
fn run_script(python: &str, name: &str, args: &[String]) -> Output {
    let output = Command::new(python)
        .arg(script(name))
        .args(args)
        .args(["--timeout", &SCRIPT_TIMEOUT_S.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        stdout.lines().last(),
        Some("ALL OK"),
        "{name} did not pass (exit {:?})",
        output.status
    );
    assert!(
        output.status.success(),
        "{name} exited with {:?}",
        output.status
    );
    output
}

fn spec_args(addr: SocketAddr) -> Vec<String> {
    let mut args = vec![addr.to_string()];
    args.extend(SPECS.iter().map(|s| s.to_string()));
    args
}

// ---- our server ----------------------------------------------------------------------------

/// Our server with the interop tags, on its own thread and loop (TCP and UDP).
fn our_server() -> TestServer {
    let config = ServerConfig {
        max_connections: 8,
        ..ServerConfig::default()
    };
    TestServer::start(SPECS, config)
}

#[test]
#[ignore = "needs cpppo/pylogix/pycomm3: run .ci/enip-interop.sh"]
fn pylogix_against_our_server() {
    let python = python("pylogix");
    let server = our_server();
    run_script(&python, "enip_pylogix_client.py", &spec_args(server.addr));
    let stats = server.stop();
    println!("server: {stats:?}");
    assert!(stats.datagrams > 0, "discovery reached the UDP socket");
    assert_eq!(stats.dropped, 0, "no connection was closed by the server");
    assert_eq!(stats.open, 0, "pylogix closed every connection");
}

#[test]
#[ignore = "needs cpppo/pylogix/pycomm3: run .ci/enip-interop.sh"]
fn pycomm3_against_our_server() {
    let python = python("pycomm3");
    for route in ["1,0", "none"] {
        let server = our_server();
        let mut args = spec_args(server.addr);
        args.extend(["--route".to_string(), route.to_string()]);
        run_script(&python, "enip_pycomm3_client.py", &args);
        let stats = server.stop();
        println!("server ({route}): {stats:?}");
        assert!(stats.datagrams > 0, "discovery reached the UDP socket");
        assert_eq!(stats.dropped, 0, "no connection was closed by the server");
        assert_eq!(stats.open, 0, "pycomm3 closed every connection");
    }
}
