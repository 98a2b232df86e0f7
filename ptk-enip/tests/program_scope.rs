//! Our client against our server, on program-scoped tags: `Program:Main.Counts[3]` read and
//! written (whole arrays, elements, bits, STRING), the controller's tag list with its
//! `Program:NAME` entries, each program's list (paged when long), and reads and writes of
//! many tags mixing both scopes.

mod client_fake;
mod common;

use client_fake::{run_script, Done, Step};
use common::TestServer;
use ptk_enip::client::{ClientConfig, ClientError, TagRead};
use ptk_enip::server::ServerConfig;
use ptk_enip::{DataType, GeneralStatus, TagType, Value};

const DINT: TagType = TagType::Atomic(DataType::Dint);

/// Two controller tags, and two programs, one with a tag named as a controller tag.
const SPECS: &[&str] = &[
    "Counts=DINT[4]",
    "D=DINT",
    "Program:Main.Counts=DINT[5]",
    "Program:Main.Speed=REAL",
    "Program:Main.Bits=DINT",
    "Program:Other.Flags=BOOL[64]",
    "Program:Main.Name=STRING",
];

fn dints(values: impl IntoIterator<Item = i32>) -> Vec<u8> {
    values.into_iter().flat_map(i32::to_le_bytes).collect()
}

fn run(server: &TestServer, steps: Vec<Step>) -> Vec<Done> {
    run_script(server.addr, ClientConfig::default(), steps).done
}

#[test]
fn program_tags_are_read_and_written_by_name() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let done = run(
        &server,
        vec![
            Step::WriteTag("Program:Main.Counts", DINT, 5, dints([10, 11, 12, 13, 14])),
            Step::WriteValue("Program:Main.Counts[3]", Value::Dint(42)),
            Step::Read("Program:Main.Counts[3]", 1),
            Step::Read("Program:Main.Counts", 5),
            Step::Read("Counts", 4),
            Step::WriteValue("Program:Main.Speed", Value::Real(2.5)),
            Step::ReadValue("Program:Main.Speed"),
            Step::WriteValue("Program:Main.Bits.3", Value::Bool(true)),
            Step::ReadValue("Program:Main.Bits"),
            Step::ReadValue("Program:Main.Bits.3"),
            Step::WriteValue("Program:Other.Flags[1]", Value::Dword(0x8000_0001)),
            Step::WriteString("Program:Main.Name", b"scoped"),
            Step::Read("Program:Main.Name", 1),
        ],
    );
    let mut name = vec![6, 0, 0, 0];
    name.extend_from_slice(b"scoped");
    name.resize(88, 0);
    assert_eq!(
        done,
        [
            Done::Written,
            Done::Written,
            Done::Read(
                TagRead {
                    tag_type: DINT,
                    len: 4
                },
                dints([42])
            ),
            Done::Read(
                TagRead {
                    tag_type: DINT,
                    len: 20
                },
                dints([10, 11, 12, 42, 14])
            ),
            // The controller's Counts is another tag.
            Done::Read(
                TagRead {
                    tag_type: DINT,
                    len: 16
                },
                dints([0; 4])
            ),
            Done::Written,
            Done::Value(Value::Real(2.5)),
            Done::Written,
            Done::Value(Value::Dint(8)),
            Done::Value(Value::Bool(true)),
            Done::Written,
            Done::Written,
            Done::Read(
                TagRead {
                    tag_type: TagType::LOGIX_STRING,
                    len: 88
                },
                name
            ),
        ]
    );
}

#[test]
fn names_that_are_not_in_a_program_are_refused_and_the_client_goes_on() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let done = run(
        &server,
        vec![
            Step::ReadValue("Program:Nope.Counts"),
            Step::ReadValue("Program:Main.D"),
            Step::Read("Program:Main.Counts[5]", 1),
            Step::List(Some("Program:Nope")),
            Step::ReadValue("D"),
        ],
    );
    let cip = |status: u8| {
        Done::Failed(ClientError::Cip {
            general: GeneralStatus(status),
            extended: None,
        })
    };
    assert_eq!(
        done,
        [
            cip(0x04),
            cip(0x04),
            cip(0x05),
            cip(0x04),
            Done::Value(Value::Dint(0))
        ]
    );
}

#[test]
fn the_controller_list_names_the_programs_and_each_program_lists_its_tags() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let done = run(
        &server,
        vec![
            Step::List(None),
            Step::List(Some("Program:Main")),
            Step::List(Some("Program:Other")),
        ],
    );
    let list = |names: &[&str]| Done::List(names.iter().map(|n| n.to_string()).collect());
    assert_eq!(
        done,
        [
            list(&[
                "Counts DINT[4]",
                "D DINT",
                "Program:Main PROGRAM",
                "Program:Other PROGRAM"
            ]),
            list(&["Counts DINT[5]", "Speed REAL", "Bits DINT", "Name STRING"]),
            list(&["Flags DWORD[2]"]),
        ]
    );
}

#[test]
fn a_long_program_list_comes_in_pages() {
    let specs: Vec<String> = (0..400)
        .map(|i| format!("Program:Big.Tag_{i:03}=DINT[{}]", i + 1))
        .collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let server = TestServer::start(&specs, ServerConfig::default());
    let script = run_script(
        server.addr,
        ClientConfig::default(),
        vec![Step::List(None), Step::List(Some("Program:Big"))],
    );
    let want: Vec<String> = (0..400)
        .map(|i| format!("Tag_{i:03} DINT[{}]", i + 1))
        .collect();
    assert_eq!(
        script.done,
        [
            Done::List(vec!["Program:Big PROGRAM".to_string()]),
            Done::List(want)
        ]
    );
    // Open, then one request for the controller's list and, at 27 bytes an entry (id 4,
    // name 2 + 7, type 2, dimensions 12) and under 4,000 bytes a reply, 3 pages (10,800
    // bytes) for the program's.
    assert_eq!(script.requests_sent, 2 + 1 + 3);
}

#[test]
fn many_reads_and_writes_mix_controller_and_program_tags() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let names = [
        "D",
        "Program:Main.Counts[3]",
        "Counts[3]",
        "Program:Main.Speed",
        "Program:Main.Bits.0",
    ];
    let done = run(
        &server,
        vec![
            Step::WriteMany(vec![
                ("D".into(), Value::Dint(-1)),
                ("Program:Main.Counts[3]".into(), Value::Dint(33)),
                ("Counts[3]".into(), Value::Dint(3)),
                ("Program:Main.Speed".into(), Value::Real(-0.5)),
                ("Program:Main.Bits".into(), Value::Dint(5)),
            ]),
            Step::ReadMany(names.iter().map(|n| n.to_string()).collect(), 4),
        ],
    );
    assert_eq!(
        done,
        [
            Done::WroteMany(vec![Ok(()); 5]),
            Done::Many(vec![
                Ok(Value::Dint(-1)),
                Ok(Value::Dint(33)),
                Ok(Value::Dint(3)),
                Ok(Value::Real(-0.5)),
                Ok(Value::Bool(true)),
            ]),
        ]
    );
    // RegisterSession, Forward_Open, then one Multiple Service Packet each way.
    let stats = server.stop();
    assert_eq!((stats.requests, stats.embedded_requests), (4, 10));
}
