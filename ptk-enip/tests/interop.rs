//! Interoperability with the Python EtherNet/IP libraries: pylogix 1.1.6 and pycomm3 1.2.16
//! against our server (and, added with the client, our client against cpppo's simulator).
//!
//! Ignored by a plain `cargo test`: they need a Python with cpppo, pylogix and pycomm3.
//! `bash .ci/enip-interop.sh` installs them into a venv under `target/` and runs these tests
//! with `--ignored` and `PTK_ENIP_PYTHON` set to that venv's interpreter. Each test starts
//! its peer on an ephemeral loopback port, runs the script from `tests/interop/` with a
//! deadline, and asserts its `ALL OK` and exit status 0; a missing Python or library is a
//! failure, never a pass.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use ptk_enip::server::{MemoryTags, Server, ServerConfig, ServerStats, ServerStorage};
use ptk_runtime::{Capacities, Config, EventLoop, ListenOptions, OwnedStorage};

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

/// Our server on its own thread and loop, on an ephemeral loopback port (TCP and UDP).
struct RunningServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<ServerStats>>,
}

impl RunningServer {
    fn start(specs: &[&str]) -> RunningServer {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || serve(&specs, &flag, tx));
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server did not start");
        RunningServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the server and returns its counters.
    fn stop(mut self) -> ServerStats {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().expect("stopped once");
        thread.join().expect("the server thread panicked")
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(specs: &[String], stop: &AtomicBool, started: mpsc::Sender<SocketAddr>) -> ServerStats {
    let tags = MemoryTags::from_specs(specs).expect("the tag specs parse");
    let config = ServerConfig {
        max_connections: 8,
        ..ServerConfig::default()
    };
    let server = Server::new(tags, config);
    let mut memory = OwnedStorage::new(Capacities {
        buffers: 24,
        buffer_size: 4096,
        large_buffers: 4,
        large_buffer_size: config.max_packet_len,
        ..Capacities::default()
    });
    let mut storage = ServerStorage::new(&config);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    // An ephemeral TCP port whose UDP twin is free too (a few tries).
    let (listener, udp, addr) = (0..20)
        .find_map(|_| {
            let listener = ev
                .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
                .unwrap();
            let addr = ev.local_addr(listener.raw()).unwrap();
            match ev.udp_bind(addr) {
                Ok(udp) => Some((listener, udp, addr)),
                Err(_) => {
                    ev.close(listener.raw()).unwrap();
                    None
                }
            }
        })
        .expect("no ephemeral port free for both TCP and UDP");
    server
        .start(&mut ev, listener, Some(udp), &mut storage)
        .unwrap();
    started.send(addr).unwrap();
    while !stop.load(Ordering::SeqCst) {
        ev.run_once(Some(Duration::from_millis(20))).unwrap();
    }
    // The client has exited: let its connections' ends reach the server (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.stats().open > 0 && std::time::Instant::now() < deadline {
        ev.run_once(Some(Duration::from_millis(20))).unwrap();
    }
    server.stats()
}

#[test]
#[ignore = "needs cpppo/pylogix/pycomm3: run .ci/enip-interop.sh"]
fn pylogix_against_our_server() {
    let python = python("pylogix");
    let server = RunningServer::start(SPECS);
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
        let server = RunningServer::start(SPECS);
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
