//! Our client against third-party and reference servers over loopback: cpppo 5.2.5's
//! simulator (`python -m cpppo.server.enip`) and the Python stand-in Logix server
//! (`tests/interop/enip_mock_server.py`).
//!
//! Ignored by `cargo test`: `.ci/enip-interop.sh` creates the venv and runs them with
//! `PTK_ENIP_PYTHON` set (`cargo test -p ptk-enip --test interop_client -- --ignored`). A
//! missing interpreter or cpppo is a failure, never a pass.

mod client_fake;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use client_fake::{run_script, Done, Step, BOUND};
use ptk_enip::client::{ClientConfig, ClientError, Route, TagRead};
use ptk_enip::{DataType, TagType, Value};

/// The venv's Python, with cpppo importable.
fn python() -> String {
    let python = std::env::var("PTK_ENIP_PYTHON").unwrap_or_else(|_| {
        panic!(
            "PTK_ENIP_PYTHON is not set: run .ci/enip-interop.sh, which creates the venv with \
             cpppo 5.2.5, pylogix 1.1.6 and pycomm3 1.2.16 and sets it"
        )
    });
    let ok = Command::new(&python)
        .args(["-c", "import cpppo.server.enip"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{python} cannot import cpppo.server.enip: run .ci/enip-interop.sh"
    );
    python
}

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `addr` accepts TCP connections.
fn wait_accepting(addr: SocketAddr, server: &mut Server) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("the server at {addr} exited before accepting: {status}");
        }
        assert!(
            start.elapsed() < BOUND,
            "{addr} did not accept in {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dints(values: impl IntoIterator<Item = i32>) -> Vec<u8> {
    values.into_iter().flat_map(i32::to_le_bytes).collect()
}

const DINT: TagType = TagType::Atomic(DataType::Dint);

#[test]
#[ignore = "needs cpppo: run .ci/enip-interop.sh"]
fn our_client_against_cpppo() {
    let python = python();
    // cpppo takes no port 0: a port that was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = Server(
        Command::new(&python)
            .args([
                "-m",
                "cpppo.server.enip",
                "--address",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "DINTS=DINT[2000]",
                "D=DINT",
                "I=INT",
                "SI=SINT",
                "L=LINT",
                "R=REAL",
            ])
            .args(["LR=LREAL", "UD=UDINT", "DA=DINT[10]"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cpppo"),
    );
    wait_accepting(addr, &mut server);
    let big = dints((0..2000).map(|i| i * 7 - 1000));
    let script = run_script(
        addr,
        ClientConfig::default(),
        vec![
            Step::WriteValue("D", Value::Dint(-123_456)),
            Step::WriteValue("I", Value::Int(-300)),
            Step::WriteValue("SI", Value::Sint(-5)),
            Step::WriteValue("L", Value::Lint(1 << 40)),
            Step::WriteValue("R", Value::Real(2.5)),
            Step::WriteValue("LR", Value::Lreal(-0.125)),
            Step::WriteValue("UD", Value::Udint(4_000_000_000)),
            Step::ReadValue("D"),
            Step::ReadValue("I"),
            Step::ReadValue("SI"),
            Step::ReadValue("L"),
            Step::ReadValue("R"),
            Step::ReadValue("LR"),
            Step::ReadValue("UD"),
            Step::WriteTag("DA", DINT, 10, dints(10..20)),
            Step::Read("DA", 10),
            Step::Read("DA[4]", 3),
            Step::WriteTag("DINTS", DINT, 2000, big.clone()),
            Step::Read("DINTS", 2000),
            Step::ReadMany(
                vec![
                    "D".into(),
                    "R".into(),
                    "DA[9]".into(),
                    "D.0".into(),
                    "nope".into(),
                ],
                8,
            ),
            Step::Discover(addr, 1000),
        ],
    );
    let done = &script.done;
    assert_eq!(&done[..7], vec![Done::Written; 7]);
    assert_eq!(
        &done[7..14],
        [
            Done::Value(Value::Dint(-123_456)),
            Done::Value(Value::Int(-300)),
            Done::Value(Value::Sint(-5)),
            Done::Value(Value::Lint(1 << 40)),
            Done::Value(Value::Real(2.5)),
            Done::Value(Value::Lreal(-0.125)),
            Done::Value(Value::Udint(4_000_000_000)),
        ]
    );
    assert_eq!(done[14], Done::Written);
    assert_eq!(
        done[15],
        Done::Read(
            TagRead {
                tag_type: DINT,
                len: 40
            },
            dints(10..20)
        )
    );
    assert_eq!(
        done[16],
        Done::Read(
            TagRead {
                tag_type: DINT,
                len: 12
            },
            dints(14..17)
        )
    );
    assert_eq!(done[17], Done::Written);
    // cpppo answers about 490 bytes at a time: the read comes in fragments.
    assert_eq!(
        done[18],
        Done::Read(
            TagRead {
                tag_type: DINT,
                len: 8000
            },
            big
        )
    );
    let Done::Many(values) = &done[19] else {
        panic!("{:?}", done[19])
    };
    assert_eq!(
        &values[..4],
        [
            Ok(Value::Dint(-123_456)),
            Ok(Value::Real(2.5)),
            Ok(Value::Dint(19)),
            Ok(Value::Bool(false))
        ]
    );
    assert!(
        matches!(values[4], Err(ClientError::Cip { .. })),
        "{:?}",
        values[4]
    );
    let Done::Devices(devices) = &done[20] else {
        panic!("{:?}", done[20])
    };
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0].product_name(), b"1756-L61/B LOGIX5561");
    assert_eq!(
        (devices[0].revision.major, devices[0].revision.minor),
        (20, 11)
    );
    // cpppo grants the Large_Forward_Open.
    assert_eq!(script.connection_size, Some(4000));
}

#[test]
#[ignore = "needs cpppo: run .ci/enip-interop.sh"]
fn our_client_against_the_mock() {
    let python = python();
    let script_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/interop/enip_mock_server.py"
    );
    let mut child = Command::new(&python)
        .arg(script_path)
        .args(["--bind", "127.0.0.1:0"])
        .args([
            "D=DINT",
            "I=INT",
            "R=REAL",
            "S=STRING",
            "SA=STRING[3]",
            "BA=BOOL[64]",
        ])
        .args(["DA=DINT[10]", "BIG=DINT[2000]"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the mock server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut server = Server(child);
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("the mock server said {line:?}"))
        .parse()
        .unwrap();
    wait_accepting(addr, &mut server);
    let big = dints((0..2000).map(|i| 2000 - i));
    let steps = vec![
        Step::List(None),
        Step::WriteValue("D", Value::Dint(0b1000)),
        Step::WriteValue("D.0", Value::Bool(true)),
        Step::WriteValue("D.3", Value::Bool(false)),
        Step::ReadValue("D"),
        Step::ReadValue("D.0"),
        Step::WriteString("S", b"hello ptk"),
        Step::Read("S", 1),
        Step::WriteValue("BA[1].5", Value::Bool(true)),
        Step::ReadValue("BA[1].5"),
        Step::Read("BA", 2),
        Step::WriteTag("BIG", DINT, 2000, big.clone()),
        Step::Read("BIG", 2000),
        Step::WriteMany(vec![
            ("I".into(), Value::Int(-7)),
            ("R".into(), Value::Real(0.5)),
        ]),
        Step::ReadMany(vec!["I".into(), "R".into(), "D".into(), "DA[3]".into()], 8),
        Step::Discover(addr, 1000),
    ];
    let script = run_script(addr, ClientConfig::default(), steps.clone());
    let done = &script.done;
    assert_eq!(
        done[0],
        Done::List(vec![
            "D DINT".into(),
            "I INT".into(),
            "R REAL".into(),
            "S STRING".into(),
            "SA STRING[3]".into(),
            "BA DWORD[2]".into(),
            "DA DINT[10]".into(),
            "BIG DINT[2000]".into(),
        ])
    );
    assert_eq!(&done[1..4], vec![Done::Written; 3]);
    assert_eq!(done[4], Done::Value(Value::Dint(1)));
    assert_eq!(done[5], Done::Value(Value::Bool(true)));
    assert_eq!(done[6], Done::Written);
    let mut text = vec![9, 0, 0, 0];
    text.extend_from_slice(b"hello ptk");
    text.resize(88, 0);
    assert_eq!(
        done[7],
        Done::Read(
            TagRead {
                tag_type: TagType::LOGIX_STRING,
                len: 88
            },
            text
        )
    );
    assert_eq!(done[8], Done::Written);
    assert_eq!(done[9], Done::Value(Value::Bool(true)));
    let dword = TagType::Atomic(DataType::Dword);
    assert_eq!(
        done[10],
        Done::Read(
            TagRead {
                tag_type: dword,
                len: 8
            },
            dints([0, 1 << 5])
        )
    );
    assert_eq!(done[11], Done::Written);
    assert_eq!(
        done[12],
        Done::Read(
            TagRead {
                tag_type: DINT,
                len: 8000
            },
            big
        )
    );
    assert_eq!(done[13], Done::WroteMany(vec![Ok(()), Ok(())]));
    assert_eq!(
        done[14],
        Done::Many(vec![
            Ok(Value::Int(-7)),
            Ok(Value::Real(0.5)),
            Ok(Value::Dint(1)),
            Ok(Value::Dint(0))
        ])
    );
    let Done::Devices(devices) = &done[15] else {
        panic!("{:?}", done[15])
    };
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(script.connection_size, Some(4000));

    // The same against the mock without a connection (unconnected messaging, route 1,0),
    // and with no route at all.
    for route in [Route::BACKPLANE_SLOT_0, Route::DIRECT] {
        let config = ClientConfig {
            connected: false,
            route,
            ..ClientConfig::default()
        };
        let again = run_script(
            addr,
            config,
            vec![Step::ReadValue("D"), Step::Read("BIG", 2000)],
        );
        assert_eq!(again.done[0], Done::Value(Value::Dint(1)));
        let Done::Read(read, _) = &again.done[1] else {
            panic!("{:?}", again.done[1])
        };
        assert_eq!(read.len, 8000);
        assert_eq!(again.connection_size, None);
    }
}
