//! Interoperability with pymodbus 3.x, both ways: the pymodbus client against our server, and
//! our client against a pymodbus server, for every function code both implement (1 to 8, 11,
//! 12, 15, 16, 17, 20 to 24, 43 / 14) and exception responses.
//!
//! The tests need `$PTK_INTEROP_PYTHON` (default `python3`) to `import pymodbus`, so they are
//! ignored by a plain `cargo test`; `.ci/interop.sh` installs pymodbus into a venv and runs
//! them with `--ignored`. Run without pymodbus, they fail saying so.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{model, serve_while, BOUND};
use ptk_macros::protothread;
use ptk_modbus::client::{Client, ClientConfig, ClientError, CommEventLogCounts, Ticket};
use ptk_modbus::server::{MemoryModel, Server, ServerConfig};
use ptk_modbus::{
    CommEventCounter, DeviceObject, ExceptionCode, ReadDeviceIdCode, Request, Response,
};
use ptk_runtime::{Capacities, Config, Cx, EventLoop, OwnedStorage, Pt};

fn python() -> String {
    std::env::var("PTK_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/interop")
        .join(name)
}

/// Fails the test unless the interpreter can import pymodbus: an interop test that did not
/// talk to pymodbus has not passed.
fn require_pymodbus() {
    let out = Command::new(python())
        .args(["-c", "import pymodbus; print(pymodbus.__version__)"])
        .output();
    match out {
        Ok(out) if out.status.success() => {
            println!("pymodbus {}", String::from_utf8_lossy(&out.stdout).trim());
        }
        Ok(out) => panic!(
            "{} cannot import pymodbus: {}\nrun .ci/interop.sh, or set PTK_INTEROP_PYTHON to a \
             python that has pymodbus 3.x",
            python(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no error output")
        ),
        Err(e) => panic!(
            "cannot run {}: {e}\nrun .ci/interop.sh, or set PTK_INTEROP_PYTHON to a python \
             that has pymodbus 3.x",
            python()
        ),
    }
}

/// The model the pymodbus client expects (see `tests/interop/pymodbus_client.py`).
fn interop_model() -> MemoryModel {
    let mut m = model().with_files(2, 100);
    m.set_exception_status(0x6D);
    let holding = m.holding_registers_mut();
    holding[4] = 0x12;
    holding[900..903].copy_from_slice(&[2, 0x01B8, 0x1284]);
    m
}

#[test]
#[ignore = "needs pymodbus: run .ci/interop.sh"]
fn pymodbus_client_against_our_server() {
    require_pymodbus();
    let server = Server::new(interop_model(), ServerConfig::default());
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
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 35);
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
    exception_status: u8,
    echo: [u16; 3],
    one: [u16; 1],
    bus_messages: u16,
    counter: Option<CommEventCounter>,
    log: Option<CommEventLogCounts>,
    events: [u8; 32],
    server_id: [u8; 32],
    server_id_len: usize,
    file: [u16; 10],
    masked: [u16; 1],
    fifo: [u16; 31],
    fifo_len: usize,
    identification: Vec<(u8, Vec<u8>)>,
}

impl Tour {
    fn c(&mut self) -> &mut Client<1> {
        self.client.as_mut().unwrap()
    }

    /// Keeps the objects of a device identification answer.
    fn keep_identification(&mut self, ticket: Ticket) {
        let Some(Response::ReadDeviceIdentification(id)) = self.c().response(ticket) else {
            panic!("not a device identification");
        };
        assert_eq!((id.conformity_level, id.more_follows), (0x83, false));
        self.identification = id
            .objects
            .iter()
            .map(|DeviceObject { id, value }| (id, value.to_vec()))
            .collect();
    }
}

const BASIC: Request<'static> = Request::ReadDeviceIdentification {
    code: ReadDeviceIdCode::Basic,
    object_id: 0,
};

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
    ctx.exception_status = pt_await!(ctx.c().poll_read_exception_status(cx))?;
    pt_await!(ctx.client.as_mut().unwrap().poll_diagnostics(
        cx,
        0x00,
        &[0xA537, 1, 2],
        &mut ctx.echo
    ))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_diagnostics(cx, 0x0A, &[0], &mut ctx.one))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_diagnostics(cx, 0x0B, &[0], &mut ctx.one))?;
    ctx.bus_messages = ctx.one[0];
    let counter = pt_await!(ctx.c().poll_get_comm_event_counter(cx))?;
    ctx.counter = Some(counter);
    let log = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_get_comm_event_log(cx, &mut ctx.events))?;
    ctx.log = Some(log);
    let n = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_report_server_id(cx, &mut ctx.server_id))?;
    ctx.server_id_len = n;
    pt_await!(ctx.c().poll_write_file_record(cx, 1, 5, &[10, 20]))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_file_record(cx, 1, 4, &mut ctx.file))?;
    pt_await!(ctx.c().poll_mask_write_register(cx, 4, 0x00F2, 0x0025))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_holding_registers(cx, 4, &mut ctx.masked))?;
    let n = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_fifo_queue(cx, 900, &mut ctx.fifo))?;
    ctx.fifo_len = n;
    let ticket = pt_await!(ctx.c().poll_call(cx, 1, &BASIC))?;
    ctx.keep_identification(ticket);
    ctx.c().close(cx);
    Ok(())
}

#[test]
#[ignore = "needs pymodbus: run .ci/interop.sh"]
fn our_client_against_a_pymodbus_server() {
    require_pymodbus();
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
    // pymodbus's own answers: no exception status, counters it does not keep (all 0), its
    // identity joined by '-' as the server id, a dummy text for any file record, a FIFO of
    // 0..=3.
    assert_eq!(t.exception_status, 0);
    assert_eq!(t.echo, [0xA537, 1, 2]);
    assert_eq!(t.bus_messages, 0);
    assert_eq!(
        t.counter,
        Some(CommEventCounter {
            busy: false,
            event_count: 0
        })
    );
    assert_eq!(
        t.log,
        Some(CommEventLogCounts {
            busy: false,
            event_count: 0,
            message_count: 0,
            events: 0
        })
    );
    assert_eq!(
        &t.server_id[..t.server_id_len],
        b"pymodbus-interop-PI-1-3.16\xFF"
    );
    let dummy: Vec<u16> = b"SERVER DUMMY RECORD."
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    assert_eq!(t.file[..], dummy[..]);
    assert_eq!(t.masked, [0x17]);
    assert_eq!((t.fifo_len, &t.fifo[..4]), (4, &[0, 1, 2, 3][..]));
    assert_eq!(
        t.identification,
        [
            (0, b"pymodbus-interop".to_vec()),
            (1, b"PI-1".to_vec()),
            (2, b"3.16".to_vec()),
        ]
    );
}
