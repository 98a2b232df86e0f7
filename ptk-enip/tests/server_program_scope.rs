//! Program-scoped tags over raw sockets, with exact replies: `Program:Main.Counts[3]`
//! addressed by two symbolic segments (or the program's segment and a symbol instance) in
//! Read/Write Tag, their fragmented forms, Read-Modify-Write and Multiple Service Packet; the
//! controller's tag list with one `Program:NAME` entry per program; a program's tag list
//! (`91 "Program:Main" 20 6B 24 <start>`), paged.

mod common;

use common::{connect, register, unconnected, TestServer};
use ptk_enip::server::ServerConfig;

/// Two controller tags, and two programs, one with a tag named as a controller tag.
const SPECS: &[&str] = &[
    "Counts=DINT[4]",
    "D=DINT",
    "Program:Main.Counts=DINT[5]",
    "Program:Main.Speed=REAL",
    "Program:Other.Flags=BOOL[32]",
    "Program:Main.Name=STRING",
];

/// The attributes pylogix asks for: name, type, dimensions.
const PYLOGIX_ATTRIBUTES: &[u8] = &[3, 0, 1, 0, 2, 0, 8, 0];

/// An ANSI extended symbolic segment, padded.
fn sym(name: &str) -> Vec<u8> {
    let mut s = vec![0x91, name.len() as u8];
    s.extend_from_slice(name.as_bytes());
    if name.len() % 2 == 1 {
        s.push(0);
    }
    s
}

/// A message router request: service, path size in words, path, data.
fn msg(service: u8, path: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = vec![service, (path.len() / 2) as u8];
    m.extend_from_slice(path);
    m.extend_from_slice(data);
    m
}

/// The path of `Program:PROGRAM.TAG`, with element `index` if given.
fn program_tag(program: &str, tag: &str, index: Option<u8>) -> Vec<u8> {
    let mut p = sym(&format!("Program:{program}"));
    p.extend(sym(tag));
    if let Some(i) = index {
        p.extend_from_slice(&[0x28, i]);
    }
    p
}

/// One entry of a tag list reply with pylogix's attributes.
fn entry(id: u32, name: &str, symbol_type: u16, dims: [u32; 3]) -> Vec<u8> {
    let mut e = id.to_le_bytes().to_vec();
    e.extend_from_slice(&(name.len() as u16).to_le_bytes());
    e.extend_from_slice(name.as_bytes());
    e.extend_from_slice(&symbol_type.to_le_bytes());
    for d in dims {
        e.extend_from_slice(&d.to_le_bytes());
    }
    e
}

fn session(server: &TestServer) -> (std::net::TcpStream, u32) {
    let mut s = connect(server.addr);
    let handle = register(&mut s);
    (s, handle)
}

#[test]
fn a_program_tag_is_written_and_read_apart_from_the_controller_tag_of_the_same_name() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let (mut s, h) = session(&server);
    let path = program_tag("Main", "Counts", Some(3));
    let write = msg(0x4D, &path, b"\xC4\x00\x01\x00\x2A\x00\x00\x00");
    assert_eq!(
        &write[..28],
        b"\x4D\x0C\x91\x0CProgram:Main\x91\x06Counts\x28\x03\xC4\x00"
    );
    assert_eq!(unconnected(&mut s, h, &write), [0xCD, 0, 0, 0]);
    let read = msg(0x4C, &path, &[1, 0]);
    assert_eq!(
        unconnected(&mut s, h, &read),
        [0xCC, 0, 0, 0, 0xC4, 0, 42, 0, 0, 0]
    );
    // The whole program array, and the controller's Counts, untouched.
    let whole = msg(0x4C, &program_tag("Main", "Counts", None), &[5, 0]);
    let mut want = vec![0xCC, 0, 0, 0, 0xC4, 0];
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(unconnected(&mut s, h, &whole), want);
    let controller = msg(0x4C, &[&sym("Counts")[..], &[0x28, 3]].concat(), &[1, 0]);
    assert_eq!(
        unconnected(&mut s, h, &controller),
        [0xCC, 0, 0, 0, 0xC4, 0, 0, 0, 0, 0]
    );
    // Names ignore ASCII case, the prefix's too.
    let shouted = msg(0x4C, &program_tag("MAIN", "counts", Some(3)), &[1, 0]);
    let mut shouted_path = sym("PROGRAM:MAIN");
    shouted_path.extend(sym("COUNTS"));
    shouted_path.extend_from_slice(&[0x28, 3]);
    for request in [shouted, msg(0x4C, &shouted_path, &[1, 0])] {
        assert_eq!(
            unconnected(&mut s, h, &request),
            [0xCC, 0, 0, 0, 0xC4, 0, 42, 0, 0, 0]
        );
    }
}

#[test]
fn fragmented_services_and_read_modify_write_reach_program_tags() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let (mut s, h) = session(&server);
    let counts = program_tag("Main", "Counts", None);
    // Write Tag Fragmented: 5 DINTs, the last 3 from byte offset 8.
    let data = [
        &[0xC4, 0, 5, 0, 8, 0, 0, 0][..],
        &[7, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0],
    ]
    .concat();
    assert_eq!(
        unconnected(&mut s, h, &msg(0x53, &counts, &data)),
        [0xD3, 0, 0, 0]
    );
    // Read Tag Fragmented from byte offset 12: elements 3 and 4.
    assert_eq!(
        unconnected(&mut s, h, &msg(0x52, &counts, &[5, 0, 12, 0, 0, 0])),
        [0xD2, 0, 0, 0, 0xC4, 0, 8, 0, 0, 0, 9, 0, 0, 0]
    );
    // Read-Modify-Write of Program:Other.Flags[0]: set bit 4, clear bit 0.
    let flags = program_tag("Other", "Flags", Some(0));
    let set = msg(0x4E, &flags, &[4, 0, 0x11, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF]);
    assert_eq!(unconnected(&mut s, h, &set), [0xCE, 0, 0, 0]);
    assert_eq!(
        unconnected(&mut s, h, &msg(0x4C, &flags, &[1, 0])),
        [0xCC, 0, 0, 0, 0xD3, 0, 0x10, 0, 0, 0]
    );
    // The program's symbol instance 2 (Speed), after the program's segment.
    let speed = msg(
        0x4D,
        &program_tag("Main", "Speed", None),
        b"\xCA\x00\x01\x00\x00\x00\xC0\x3F",
    );
    assert_eq!(unconnected(&mut s, h, &speed), [0xCD, 0, 0, 0]);
    let by_instance = [&sym("Program:Main")[..], &[0x20, 0x6B, 0x24, 0x02]].concat();
    assert_eq!(
        unconnected(&mut s, h, &msg(0x4C, &by_instance, &[1, 0])),
        [0xCC, 0, 0, 0, 0xCA, 0, 0, 0, 0xC0, 0x3F]
    );
}

#[test]
fn a_multiple_service_packet_mixes_controller_and_program_tags() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let (mut s, h) = session(&server);
    let write_d = msg(0x4D, &sym("D"), &[0xC4, 0, 1, 0, 5, 0, 0, 0]);
    let write_p = msg(
        0x4D,
        &program_tag("Main", "Counts", Some(4)),
        &[0xC4, 0, 1, 0, 6, 0, 0, 0],
    );
    let read_d = msg(0x4C, &sym("D"), &[1, 0]);
    let read_p = msg(0x4C, &program_tag("Main", "Counts", Some(4)), &[1, 0]);
    let requests = [write_d, write_p, read_d, read_p];
    let mut data = (requests.len() as u16).to_le_bytes().to_vec();
    let mut at = 2 + 2 * requests.len();
    for r in &requests {
        data.extend_from_slice(&(at as u16).to_le_bytes());
        at += r.len();
    }
    for r in &requests {
        data.extend_from_slice(r);
    }
    let reply = unconnected(&mut s, h, &msg(0x0A, &[0x20, 0x02, 0x24, 0x01], &data));
    assert_eq!(
        reply,
        [
            0x8A, 0, 0, 0, 4, 0, 10, 0, 14, 0, 18, 0, 28, 0, // status, count, offsets
            0xCD, 0, 0, 0, // D
            0xCD, 0, 0, 0, // Program:Main.Counts[4]
            0xCC, 0, 0, 0, 0xC4, 0, 5, 0, 0, 0, // D
            0xCC, 0, 0, 0, 0xC4, 0, 6, 0, 0, 0, // Program:Main.Counts[4]
        ]
    );
}

#[test]
fn program_paths_that_name_nothing_are_refused() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let (mut s, h) = session(&server);
    let cases: Vec<(Vec<u8>, &[u8])> = vec![
        // An unknown program; a tag the program does not have (D is the controller's).
        (
            msg(0x4C, &program_tag("Nope", "Counts", None), &[1, 0]),
            &[0xCC, 0, 0x04, 0],
        ),
        (
            msg(0x4C, &program_tag("Main", "D", None), &[1, 0]),
            &[0xCC, 0, 0x04, 0],
        ),
        // The program alone; a program inside a program.
        (
            msg(0x4C, &sym("Program:Main"), &[1, 0]),
            &[0xCC, 0, 0x04, 0],
        ),
        (
            msg(0x4C, &program_tag("Main", "Program:Main", None), &[1, 0]),
            &[0xCC, 0, 0x04, 0],
        ),
        // An index past the program's array; three elements from its [3].
        (
            msg(0x4C, &program_tag("Main", "Counts", Some(5)), &[1, 0]),
            &[0xCC, 0, 0x05, 0],
        ),
        (
            msg(0x4C, &program_tag("Main", "Counts", Some(3)), &[3, 0]),
            &[0xCC, 0, 0xFF, 1, 0x05, 0x21],
        ),
        // A program symbol instance it does not have.
        (
            msg(
                0x4C,
                &[&sym("Program:Main")[..], &[0x20, 0x6B, 0x24, 0x04]].concat(),
                &[1, 0],
            ),
            &[0xCC, 0, 0x05, 0],
        ),
        // The controller's symbol instance of a program entry is not a tag.
        (
            msg(0x4C, &[0x20, 0x6B, 0x24, 0x03], &[1, 0]),
            &[0xCC, 0, 0x05, 0],
        ),
        // The tag list of an unknown program; of another class than the Symbol class.
        (
            msg(
                0x55,
                &[&sym("Program:Nope")[..], &[0x20, 0x6B, 0x24, 0x00]].concat(),
                PYLOGIX_ATTRIBUTES,
            ),
            &[0xD5, 0, 0x04, 0],
        ),
        (
            msg(
                0x55,
                &[&sym("Program:Main")[..], &[0x20, 0x6C, 0x24, 0x00]].concat(),
                PYLOGIX_ATTRIBUTES,
            ),
            &[0xD5, 0, 0x05, 0],
        ),
        (
            msg(
                0x55,
                &[&sym("Program:Main")[..], &[0x20, 0x6B]].concat(),
                PYLOGIX_ATTRIBUTES,
            ),
            &[0xD5, 0, 0x04, 0],
        ),
    ];
    for (request, expected) in &cases {
        let reply = unconnected(&mut s, h, request);
        assert_eq!(&reply, expected, "request {request:02x?}");
    }
    // The connection goes on.
    assert_eq!(
        unconnected(&mut s, h, &msg(0x4C, &sym("D"), &[1, 0])),
        [0xCC, 0, 0, 0, 0xC4, 0, 0, 0, 0, 0]
    );
}

#[test]
fn the_controller_list_names_each_program_and_each_program_lists_its_tags() {
    let server = TestServer::start(SPECS, ServerConfig::default());
    let (mut s, h) = session(&server);
    let controller = msg(0x55, &[0x20, 0x6B, 0x24, 0x00], PYLOGIX_ATTRIBUTES);
    let want = [
        vec![0xD5, 0, 0, 0],
        entry(1, "Counts", 0x20C4, [4, 0, 0]),
        entry(2, "D", 0x00C4, [0; 3]),
        entry(3, "Program:Main", 0x1068, [0; 3]),
        entry(4, "Program:Other", 0x1068, [0; 3]),
    ]
    .concat();
    assert_eq!(unconnected(&mut s, h, &controller), want);
    // From instance 4: the last program alone.
    let rest = msg(0x55, &[0x20, 0x6B, 0x24, 0x04], PYLOGIX_ATTRIBUTES);
    let want = [
        vec![0xD5, 0, 0, 0],
        entry(4, "Program:Other", 0x1068, [0; 3]),
    ]
    .concat();
    assert_eq!(unconnected(&mut s, h, &rest), want);

    // Program:Main from instance 1, as pylogix asks (pycomm3 asks from 0: the same).
    for start in [0, 1] {
        let path = [&sym("Program:Main")[..], &[0x20, 0x6B, 0x24, start]].concat();
        let request = msg(0x55, &path, PYLOGIX_ATTRIBUTES);
        assert_eq!(&request[..18], b"\x55\x09\x91\x0CProgram:Main\x20\x6B");
        let want = [
            vec![0xD5, 0, 0, 0],
            entry(1, "Counts", 0x20C4, [5, 0, 0]),
            entry(2, "Speed", 0x00CA, [0; 3]),
            entry(3, "Name", 0x8FCE, [0; 3]),
        ]
        .concat();
        assert_eq!(unconnected(&mut s, h, &request), want);
    }
    let path = [&sym("Program:Other")[..], &[0x20, 0x6B, 0x24, 0x00]].concat();
    let want = [vec![0xD5, 0, 0, 0], entry(1, "Flags", 0x20D3, [1, 0, 0])].concat();
    assert_eq!(
        unconnected(&mut s, h, &msg(0x55, &path, PYLOGIX_ATTRIBUTES)),
        want
    );
}

#[test]
fn a_long_program_list_is_paged_like_the_controllers() {
    let specs: Vec<String> = (0..60)
        .map(|i| format!("Program:Big.Tag_{i:02}=DINT"))
        .chain(["Top=INT".to_string()])
        .collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let server = TestServer::start(&specs, ServerConfig::default());
    let (mut s, h) = session(&server);
    let mut names = Vec::new();
    let mut pages = 0;
    let mut start = 0u32;
    loop {
        pages += 1;
        assert!(pages <= 10, "the list does not end");
        let path = [&sym("Program:Big")[..], &[0x20, 0x6B, 0x24, start as u8]].concat();
        let reply = unconnected(&mut s, h, &msg(0x55, &path, PYLOGIX_ATTRIBUTES));
        assert_eq!(&reply[..2], &[0xD5, 0]);
        assert!(
            reply.len() <= 4 + 504,
            "an unconnected reply holds 504 bytes"
        );
        let mut at = 4;
        let mut last = 0;
        while at < reply.len() {
            last = u32::from_le_bytes(reply[at..at + 4].try_into().unwrap());
            let len = u16::from_le_bytes([reply[at + 4], reply[at + 5]]) as usize;
            let name = String::from_utf8(reply[at + 6..at + 6 + len].to_vec()).unwrap();
            assert_eq!(
                last as usize,
                names.len() + 1,
                "instances in order, none skipped"
            );
            names.push(name);
            at += 6 + len + 2 + 12;
        }
        match reply[2] {
            0x06 => start = last + 1,
            0x00 => break,
            other => panic!("status {other:#04x}"),
        }
    }
    let want: Vec<String> = (0..60).map(|i| format!("Tag_{i:02}")).collect();
    assert_eq!(names, want);
    // Each entry is 4 + 2 + 6 + 2 + 12 = 26 bytes: 19 to a 504-byte page.
    assert_eq!(pages, 4);
}
