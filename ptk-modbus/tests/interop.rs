//! Interoperability with pymodbus 3.x, both ways: the pymodbus client against our server, and
//! our client against a pymodbus server, for every function code both implement (1, 2, 3, 4,
//! 5, 6, 15, 16, 23) and an exception response.
//!
//! Runs when `$PTK_INTEROP_PYTHON` (default `python3`) can `import pymodbus`; otherwise it
//! says it skipped and passes. `.ci/interop.sh` installs pymodbus into a venv and runs it.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{model, serve_while, BOUND};
use ptk_macros::protothread;
use ptk_modbus::client::{Client, ClientConfig, ClientError};
use ptk_modbus::server::{Server, ServerConfig};
use ptk_modbus::ExceptionCode;
use ptk_runtime::{Capacities, Config, Cx, EventLoop, OwnedStorage, Pt};

fn python() -> String {
    std::env::var("PTK_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/interop")
        .join(name)
}

fn pymodbus_available() -> bool {
    Command::new(python())
        .args(["-c", "import pymodbus"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn pymodbus_client_against_our_server() {
    if !pymodbus_available() {
        println!(
            "SKIPPED: {} cannot import pymodbus (run .ci/interop.sh)",
            python()
        );
        return;
    }
    let server = Server::new(model(), ServerConfig::default());
    let outputs = serve_while(&server, |addr| {
        vec![thread::spawn(move || {
            Command::new(python())
                .arg(script("pymodbus_client.py"))
                .arg(addr.to_string())
                .output()
                .unwrap()
        })]
    });
    let out = &outputs[0];
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pymodbus client failed");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 10);
}

/// Kills the pymodbus server however the test ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Our client's tour of a pymodbus server.
#[derive(Default)]
struct Tour {
    pt: Pt,
    client: Option<Client<1>>,
    coils: [bool; 5],
    inputs: [bool; 4],
    holding: [u16; 4],
    input_registers: [u16; 3],
    read_write: [u16; 3],
    exception: Option<Result<(), ClientError>>,
}

impl Tour {
    fn c(&mut self) -> &mut Client<1> {
        self.client.as_mut().unwrap()
    }
}

#[protothread(crate = ::ptk_runtime)]
fn tour(ctx: &mut Tour, cx: &mut Cx<'_>) -> Result<(), ClientError> {
    pt_await!(ctx.c().poll_write_coil(cx, 500, true))?;
    pt_await!(ctx.c().poll_write_coils(cx, 501, &[false, true, true]))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_coils(cx, 500, &mut ctx.coils))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_discrete_inputs(cx, 10, &mut ctx.inputs))?;
    pt_await!(ctx.c().poll_write_register(cx, 600, 0xBEEF))?;
    pt_await!(ctx.c().poll_write_registers(cx, 601, &[1, 2, 3]))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_holding_registers(cx, 600, &mut ctx.holding))?;
    pt_await!(ctx.client.as_mut().unwrap().poll_read_input_registers(
        cx,
        997,
        &mut ctx.input_registers
    ))?;
    pt_await!(ctx.client.as_mut().unwrap().poll_read_write_registers(
        cx,
        602,
        &mut ctx.read_write,
        603,
        &[7, 8]
    ))?;
    let r = pt_await!(ctx.client.as_mut().unwrap().poll_read_holding_registers(
        cx,
        999,
        &mut ctx.holding[..2]
    ));
    ctx.exception = Some(r);
    ctx.c().close(cx);
    Ok(())
}

#[test]
fn our_client_against_a_pymodbus_server() {
    if !pymodbus_available() {
        println!(
            "SKIPPED: {} cannot import pymodbus (run .ci/interop.sh)",
            python()
        );
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Kill(
        Command::new(python())
            .arg(script("pymodbus_server.py"))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "listening");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut memory = OwnedStorage::new(Capacities::default());
    let mut tours = [Tour::default()];
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let pool = ev.add_protothreads(&mut tours).unwrap();
    let config = ClientConfig {
        request_timeout_ms: 5_000,
        ..ClientConfig::default()
    };
    let job = ev
        .cx()
        .spawn_with(pool, |t: &mut Tour| {
            t.client = Some(Client::new(addr, config))
        })
        .unwrap();
    let start = Instant::now();
    while ev.pool_usage(pool).0 > 0 {
        assert!(
            start.elapsed() < BOUND,
            "the tour did not finish in {BOUND:?}"
        );
        ev.run_once(Some(Duration::from_millis(5))).unwrap();
    }
    assert_eq!(
        ev.pt_status(job).unwrap(),
        ptk_runtime::PtStatus::Ended(ptk_runtime::Outcome::Finished)
    );
    drop(ev);
    let t = &tours[0];
    assert_eq!(t.coils, [true, false, true, true, false]);
    assert_eq!(t.inputs, [false, true, false, true]);
    assert_eq!(t.holding, [0xBEEF, 1, 2, 3]);
    assert_eq!(t.input_registers, [997, 998, 999]);
    assert_eq!(t.read_write, [2, 7, 8]);
    assert_eq!(
        t.exception,
        Some(Err(ClientError::Exception(
            ExceptionCode::IllegalDataAddress
        )))
    );
}
