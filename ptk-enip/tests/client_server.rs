//! Our client against our server over loopback, both on one event loop: every type written
//! and read back exactly, bits, element ranges, fragmented transfers, batches of 1,000 tags
//! with the round trips counted by the server, the tag list, CIP errors, discovery, the
//! connection paths and several clients at once.

mod loopback;

use loopback::{dint_names, dint_tags, dint_value, run, tags, Done, Record, Step};
use ptk_enip::client::{ClientConfig, ClientError, Route, TagRead};
use ptk_enip::server::{DeviceIdentity, ServerConfig, TagTable};
use ptk_enip::{DataType, GeneralStatus, LogixString, Revision, TagType, Value};

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
    "SIA=SINT[10]",
    "IA=INT[10]",
    "DA=DINT[10]",
    "LA=LINT[10]",
    "USIA=USINT[10]",
    "UIA=UINT[10]",
    "UDA=UDINT[10]",
    "ULA=ULINT[10]",
    "RA=REAL[10]",
    "LRA=LREAL[10]",
    "SA=STRING[3]",
];

/// The array tags of [`SPECS`] with their element type and count (BOOL[64] is 2 DWORDs).
const ARRAYS: &[(&str, DataType, u16)] = &[
    ("BA", DataType::Dword, 2),
    ("SIA", DataType::Sint, 10),
    ("IA", DataType::Int, 10),
    ("DA", DataType::Dint, 10),
    ("LA", DataType::Lint, 10),
    ("USIA", DataType::Usint, 10),
    ("UIA", DataType::Uint, 10),
    ("UDA", DataType::Udint, 10),
    ("ULA", DataType::Ulint, 10),
    ("RA", DataType::Real, 10),
    ("LRA", DataType::Lreal, 10),
];

fn server_config() -> ServerConfig {
    ServerConfig {
        max_connections: 16,
        ..ServerConfig::default()
    }
}

fn cip(general: u8, extended: Option<u16>) -> ClientError {
    ClientError::Cip {
        general: GeneralStatus(general),
        extended,
    }
}

/// What a step cost the server, for assertion messages.
fn stats_line(r: &Record) -> String {
    format!(
        "{} round trips, {} CIP, {} embedded",
        r.round_trips(),
        r.cip(),
        r.embedded()
    )
}

fn atomic(t: DataType) -> TagType {
    TagType::Atomic(t)
}

/// A byte pattern of `len` bytes, different for every `salt`, with no zero bytes.
fn pattern(salt: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(salt) | 1)
        .collect()
}

/// The 88 bytes of a Logix STRING holding `text`.
fn logix_string(text: &[u8]) -> Vec<u8> {
    let mut data = vec![0u8; 88];
    LogixString::encode(text, &mut data).unwrap();
    data
}

/// Steps and what each must give, built side by side.
#[derive(Default)]
struct Plan {
    steps: Vec<Step>,
    expected: Vec<Done>,
}

impl Plan {
    fn then(&mut self, step: Step, done: Done) {
        self.steps.push(step);
        self.expected.push(done);
    }

    /// Runs the plan as one client against a fresh server of `SPECS`, asserts every
    /// outcome, and gives the records.
    fn check(self, config: ClientConfig) -> (Vec<Record>, loopback::Run) {
        let run = run(tags(SPECS), server_config(), vec![(config, self.steps)]);
        let records = run.records().to_vec();
        let done: Vec<Done> = records.iter().map(|r| r.done.clone()).collect();
        for (i, (got, want)) in done.iter().zip(&self.expected).enumerate() {
            assert_eq!(got, want, "step {i}");
        }
        assert_eq!(done.len(), self.expected.len());
        (records, run)
    }
}

#[test]
fn every_scalar_type_reads_back_what_was_written() {
    let values = [
        ("B", Value::Bool(true)),
        ("SI", Value::Sint(-100)),
        ("I", Value::Int(-12_345)),
        ("D", Value::Dint(-1_234_567_890)),
        ("L", Value::Lint(-9_000_000_000_123_456_789)),
        ("USI", Value::Usint(0xA5)),
        ("UI", Value::Uint(0xBEEF)),
        ("UD", Value::Udint(0xDEAD_BEEF)),
        ("UL", Value::Ulint(0xFEDC_BA98_7654_3210)),
        ("R", Value::Real(-1.5e-3)),
        ("LR", Value::Lreal(6.022_140_76e23)),
    ];
    let mut plan = Plan::default();
    for (name, value) in values {
        plan.then(Step::write_value(name, value), Done::Written);
        plan.then(Step::read_value(name), Done::Value(value));
    }
    // BOOL back to false, and read as a whole tag: one byte of type BOOL.
    plan.then(Step::write_value("B", Value::Bool(false)), Done::Written);
    plan.then(
        Step::read("B", 1),
        Done::Read(
            TagRead {
                tag_type: atomic(DataType::Bool),
                len: 1,
            },
            vec![0],
        ),
    );
    let (records, run) = plan.check(ClientConfig::default());
    for (name, value) in values.iter().skip(1) {
        let mut bytes = [0u8; 8];
        let n = value.encode(&mut bytes).unwrap();
        assert_eq!(run.tag_bytes(name), &bytes[..n], "{name} on the server");
    }
    assert_eq!(run.tag_bytes("B"), [0]);
    // One round trip per call after the session set-up (RegisterSession, Large_Forward_Open),
    // and the client wrote exactly what the server answered.
    assert_eq!(records[0].round_trips(), 2 + 1);
    assert!(records[1..].iter().all(|r| r.round_trips() == 1));
    let sent: u64 = records.iter().map(|r| r.sent).sum();
    assert_eq!(sent, run.server.stats().requests);
    assert_eq!(records[0].connection_size, Some(4000));
}

#[test]
fn strings_read_back_exactly_alone_and_in_arrays() {
    let mut plan = Plan::default();
    let string = TagType::LOGIX_STRING;
    let longest = [b'x'; 82];
    plan.then(
        Step::WriteString("S".into(), b"hello, ptk".to_vec()),
        Done::Written,
    );
    plan.then(
        Step::read("S", 1),
        Done::Read(
            TagRead {
                tag_type: string,
                len: 88,
            },
            logix_string(b"hello, ptk"),
        ),
    );
    plan.then(
        Step::WriteString("S".into(), longest.to_vec()),
        Done::Written,
    );
    plan.then(
        Step::read("S", 1),
        Done::Read(
            TagRead {
                tag_type: string,
                len: 88,
            },
            logix_string(&longest),
        ),
    );
    // One byte too many is refused by the client, before it sends anything.
    plan.then(
        Step::WriteString("S".into(), [b'y'; 83].to_vec()),
        Done::Failed(ClientError::InvalidRequest(ptk_enip::Error::Invalid(
            ptk_enip::Violation::StringLength,
        ))),
    );
    let three: Vec<u8> = [&b"one"[..], b"two", b"three"]
        .iter()
        .flat_map(|t| logix_string(t))
        .collect();
    plan.then(
        Step::write_tag("SA", string, 3, three.clone()),
        Done::Written,
    );
    plan.then(
        Step::read("SA", 3),
        Done::Read(
            TagRead {
                tag_type: string,
                len: 264,
            },
            three.clone(),
        ),
    );
    plan.then(
        Step::read("SA[1]", 2),
        Done::Read(
            TagRead {
                tag_type: string,
                len: 176,
            },
            three[88..].to_vec(),
        ),
    );
    plan.then(
        Step::WriteString("SA[2]".into(), b"drei".to_vec()),
        Done::Written,
    );
    plan.then(
        Step::read("SA[2]", 1),
        Done::Read(
            TagRead {
                tag_type: string,
                len: 88,
            },
            logix_string(b"drei"),
        ),
    );
    // A STRING is not a value.
    plan.then(
        Step::read_value("S"),
        Done::Failed(ClientError::UnexpectedType(string)),
    );
    let (_, run) = plan.check(ClientConfig::default());
    assert_eq!(run.tag_bytes("S"), logix_string(&longest));
    let mut sa = three;
    sa[176..].copy_from_slice(&logix_string(b"drei"));
    assert_eq!(run.tag_bytes("SA"), sa);
}

#[test]
fn every_array_type_reads_back_whole_and_by_element_range() {
    let mut plan = Plan::default();
    let mut expected_tags = Vec::new();
    for (k, &(name, t, n)) in ARRAYS.iter().enumerate() {
        let size = t.size();
        let whole = pattern(k as u8 * 11, size * usize::from(n));
        plan.then(
            Step::write_tag(name, atomic(t), n, whole.clone()),
            Done::Written,
        );
        plan.then(
            Step::read(name, n),
            Done::Read(
                TagRead {
                    tag_type: atomic(t),
                    len: whole.len(),
                },
                whole.clone(),
            ),
        );
        // Elements [1] (and [1]..[3] where there are 4), by a range read.
        let (first, count) = if n > 4 { (3u16, 4u16) } else { (1, 1) };
        let range = usize::from(first) * size..usize::from(first + count) * size;
        plan.then(
            Step::read(&format!("{name}[{first}]"), count),
            Done::Read(
                TagRead {
                    tag_type: atomic(t),
                    len: range.len(),
                },
                whole[range.clone()].to_vec(),
            ),
        );
        // A write of a range changes those elements only.
        let mut after = whole.clone();
        let part = pattern(0x80 | k as u8, range.len());
        after[range.clone()].copy_from_slice(&part);
        plan.then(
            Step::write_tag(&format!("{name}[{first}]"), atomic(t), count, part),
            Done::Written,
        );
        plan.then(
            Step::read(name, n),
            Done::Read(
                TagRead {
                    tag_type: atomic(t),
                    len: after.len(),
                },
                after.clone(),
            ),
        );
        // One element as a value.
        let last = usize::from(n - 1);
        let value = Value::decode(t, &after[last * size..(last + 1) * size]).unwrap();
        plan.then(
            Step::read_value(&format!("{name}[{last}]")),
            Done::Value(value),
        );
        expected_tags.push((name, after));
    }
    let (records, run) = plan.check(ClientConfig::default());
    for (name, bytes) in expected_tags {
        assert_eq!(run.tag_bytes(name), bytes, "{name} on the server");
    }
    // Nothing here needs more than one request per call.
    assert!(records[1..].iter().all(|r| r.round_trips() == 1));
}

#[test]
fn bits_go_by_read_modify_write_and_leave_the_other_bits_alone() {
    // (tag, its type, its starting value, the bit)
    let cases: [(&str, DataType, u64, u8); 9] = [
        ("SI", DataType::Sint, 0x5A, 3),
        ("I", DataType::Int, 0xA55A, 9),
        ("D", DataType::Dint, 0x5A5A_A5A5, 5),
        ("L", DataType::Lint, 0x0123_4567_89AB_CDEF, 40),
        ("USI", DataType::Usint, 0x81, 7),
        ("UI", DataType::Uint, 0x7FFE, 0),
        ("UD", DataType::Udint, 0xF0F0_0F0F, 31),
        ("UL", DataType::Ulint, 0x8000_0000_0000_0001, 63),
        ("BA[1]", DataType::Dword, 0xCAFE_F00D, 21),
    ];
    let mut plan = Plan::default();
    let mut finals = Vec::new();
    for &(name, t, start, bit) in &cases {
        let size = t.size();
        let start_bytes = start.to_le_bytes()[..size].to_vec();
        plan.then(
            Step::write_tag(name, atomic(t), 1, start_bytes),
            Done::Written,
        );
        let was = start >> bit & 1 == 1;
        let bit_name = format!("{name}.{bit}");
        plan.then(Step::read_value(&bit_name), Done::Value(Value::Bool(was)));
        // Flip it, read it, flip it back.
        plan.then(
            Step::write_value(&bit_name, Value::Bool(!was)),
            Done::Written,
        );
        plan.then(Step::read_value(&bit_name), Done::Value(Value::Bool(!was)));
        let flipped = start ^ 1 << bit;
        let flipped_bytes = flipped.to_le_bytes()[..size].to_vec();
        plan.then(
            Step::read(name, 1),
            Done::Read(
                TagRead {
                    tag_type: atomic(t),
                    len: size,
                },
                flipped_bytes.clone(),
            ),
        );
        // Setting it to what it is changes nothing.
        plan.then(
            Step::write_value(&bit_name, Value::Bool(!was)),
            Done::Written,
        );
        plan.then(
            Step::read(name, 1),
            Done::Read(
                TagRead {
                    tag_type: atomic(t),
                    len: size,
                },
                flipped_bytes.clone(),
            ),
        );
        // A bit as a one-byte BOOL read.
        plan.then(
            Step::read(&bit_name, 1),
            Done::Read(
                TagRead {
                    tag_type: atomic(DataType::Bool),
                    len: 1,
                },
                vec![u8::from(!was)],
            ),
        );
        finals.push((name, flipped_bytes));
    }
    // Bits of things that are not integers.
    plan.then(
        Step::read_value("R.1"),
        Done::Failed(ClientError::UnexpectedType(atomic(DataType::Real))),
    );
    plan.then(
        Step::write_value("R.1", Value::Bool(true)),
        Done::Failed(ClientError::UnexpectedType(atomic(DataType::Real))),
    );
    plan.then(
        Step::read_value("SI.8"),
        Done::Failed(ClientError::UnexpectedType(atomic(DataType::Sint))),
    );
    let (records, run) = plan.check(ClientConfig::default());
    // A bit write: a read learns the integer's size, then one Read-Modify-Write.
    assert_eq!(records[2].round_trips(), 2);
    assert_eq!(records[2].cip(), 2);
    assert_eq!(records[3].round_trips(), 1);
    let ba = run.tag_bytes("BA");
    let (_, flipped) = &finals[finals.len() - 1];
    assert_eq!(&ba[4..], &flipped[..]);
    assert_eq!(&ba[..4], &[0; 4], "BA[0] untouched");
    for (name, bytes) in &finals[..finals.len() - 1] {
        assert_eq!(&run.tag_bytes(name), bytes, "{name} on the server");
    }
}

#[test]
fn a_2000_element_dint_array_is_read_and_written_in_fragments() {
    let values: Vec<u8> = (0..2000i32)
        .flat_map(|i| (i * 1_000_003 - 7).to_le_bytes())
        .collect();
    let dint = atomic(DataType::Dint);
    let steps = vec![
        Step::Connect,
        Step::write_tag("BIG", dint, 2000, values.clone()),
        Step::read("BIG", 2000),
        Step::read("BIG[1000]", 1000),
    ];
    let run = run(
        tags(&["BIG=DINT[2000]"]),
        server_config(),
        vec![(ClientConfig::default(), steps)],
    );
    let r = run.records();
    assert_eq!(r[0].done, Done::Connected);
    assert_eq!(r[1].done, Done::Written);
    assert_eq!(
        r[2].done,
        Done::Read(
            TagRead {
                tag_type: dint,
                len: 8000
            },
            values.clone()
        )
    );
    assert_eq!(
        r[3].done,
        Done::Read(
            TagRead {
                tag_type: dint,
                len: 4000
            },
            values[4000..].to_vec()
        )
    );
    assert_eq!(run.tag_bytes("BIG"), values);
    // Writes: a 3,998-byte request holds the header (10 bytes), the type, count and offset
    // (6) and 3,980 bytes of whole DINTs: 3,980 + 3,980 + 40 bytes.
    assert_eq!(r[1].round_trips(), 3);
    // Reads: a reply holds 3,992 bytes after its status, 3,988 of them DINTs after the
    // type: 3,988 + 3,988 + 24 bytes, and 3,988 + 12 for the second half.
    assert_eq!(r[2].round_trips(), 3);
    assert_eq!(r[3].round_trips(), 2);
    assert!(r.iter().all(|r| r.sent == r.round_trips()));
}

#[test]
fn read_many_of_1000_tags_takes_4_round_trips_and_write_many_takes_5() {
    let names = dint_names(1000);
    let written: Vec<(String, Value)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), Value::Dint(!dint_value(i))))
        .collect();
    let steps = vec![
        Step::Connect,
        Step::read_many(&names, 4),
        Step::WriteMany(written.clone()),
        Step::read_many(&names, 4),
    ];
    let run = run(
        dint_tags(&[], 1000),
        server_config(),
        vec![(ClientConfig::default(), steps)],
    );
    let r = run.records();
    let first: Vec<_> = (0..1000).map(|i| Ok(Value::Dint(dint_value(i)))).collect();
    assert_eq!(r[1].done, Done::Many(first));
    assert_eq!(r[2].done, Done::WroteMany(vec![Ok(()); 1000]));
    let second: Vec<_> = written.iter().map(|(_, v)| Ok(*v)).collect();
    assert_eq!(r[3].done, Done::Many(second));
    for (i, name) in names.iter().enumerate() {
        assert_eq!(run.tag_bytes(name), (!dint_value(i)).to_le_bytes());
    }
    // The benchmark's count: 1,000 reads in 4 Multiple_Service_Packets of a 4000-byte
    // connection, each one round trip.
    for read in [&r[1], &r[3]] {
        assert_eq!(read.round_trips(), 4);
        assert_eq!(read.cip(), 4);
        assert_eq!(read.embedded(), 1000);
        assert_eq!(read.sent, 4);
    }
    // Writes are 16 or 18 bytes each with their offset: 221 or more fit a 3,998-byte
    // request, so 1,000 take 5 packets.
    assert_eq!(r[2].round_trips(), 5);
    assert_eq!(r[2].embedded(), 1000);
    assert_eq!(r[0].round_trips(), 2);
}

#[test]
fn the_tag_list_is_exactly_the_servers_tags() {
    let steps = vec![Step::List(None)];
    let run = run(
        tags(SPECS),
        server_config(),
        vec![(ClientConfig::default(), steps)],
    );
    let expected: Vec<(u32, String)> = [
        "B BOOL",
        "SI SINT",
        "I INT",
        "D DINT",
        "L LINT",
        "USI USINT",
        "UI UINT",
        "UD UDINT",
        "UL ULINT",
        "R REAL",
        "LR LREAL",
        "S STRING",
        "BA DWORD[2]",
        "SIA SINT[10]",
        "IA INT[10]",
        "DA DINT[10]",
        "LA LINT[10]",
        "USIA USINT[10]",
        "UIA UINT[10]",
        "UDA UDINT[10]",
        "ULA ULINT[10]",
        "RA REAL[10]",
        "LRA LREAL[10]",
        "SA STRING[3]",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| (i as u32 + 1, s.to_string()))
    .collect();
    assert_eq!(run.records()[0].done, Done::List(expected));
}

#[test]
fn a_tag_list_of_1000_tags_comes_in_pages_and_misses_none() {
    let run = run(
        dint_tags(&["DA=DINT[7]"], 1000),
        server_config(),
        vec![(
            ClientConfig::default(),
            vec![Step::Connect, Step::List(None)],
        )],
    );
    let r = &run.records()[1];
    let Done::List(listed) = &r.done else {
        panic!("{:?}", r.done)
    };
    let tags = run.server.tags();
    let expected: Vec<(u32, String)> = (1..=tags.len())
        .map(|i| {
            let info = tags.tag(i).unwrap();
            let dims = match info.dimensions[0] {
                0 => String::new(),
                n => format!("[{n}]"),
            };
            (i, format!("{} DINT{dims}", info.name))
        })
        .collect();
    assert_eq!(listed, &expected);
    // An entry is its instance id, name length, name, type and three dimensions: 20 bytes
    // and the name, 23,912 bytes for these 1,001 tags, in pages of at most 3,992 bytes.
    assert_eq!(r.round_trips(), 6, "{}", stats_line(r));
}

#[test]
fn cip_errors_are_exact_and_leave_the_connection_usable() {
    let mut plan = Plan::default();
    // An unknown tag name: path segment error, as Logix answers.
    plan.then(Step::read_value("Nope"), Done::Failed(cip(0x04, None)));
    plan.then(Step::read_value("D"), Done::Value(Value::Dint(0)));
    plan.then(
        Step::write_value("Nope", Value::Dint(1)),
        Done::Failed(cip(0x04, None)),
    );
    // A type other than the tag's.
    plan.then(
        Step::write_value("D", Value::Real(1.0)),
        Done::Failed(cip(0xFF, Some(0x2107))),
    );
    plan.then(
        Step::write_tag("DA", atomic(DataType::Int), 2, vec![1, 0, 2, 0]),
        Done::Failed(cip(0xFF, Some(0x2107))),
    );
    plan.then(Step::write_value("D", Value::Dint(77)), Done::Written);
    // An index out of range: path destination unknown; a count past the end: 0xFF / 0x2105.
    plan.then(Step::read_value("DA[10]"), Done::Failed(cip(0x05, None)));
    plan.then(
        Step::write_value("DA[10]", Value::Dint(1)),
        Done::Failed(cip(0x05, None)),
    );
    plan.then(
        Step::read("DA[8]", 5),
        Done::Failed(cip(0xFF, Some(0x2105))),
    );
    plan.then(
        Step::write_tag("DA[8]", atomic(DataType::Dint), 3, vec![0; 12]),
        Done::Failed(cip(0xFF, Some(0x2105))),
    );
    // Two dimensions on a one-dimensional tag, a member of an atomic tag.
    plan.then(Step::read_value("DA[1,2]"), Done::Failed(cip(0x04, None)));
    plan.then(Step::read_value("D.Member"), Done::Failed(cip(0x04, None)));
    // A name the client cannot parse is not sent.
    plan.then(
        Step::read_value("1bad"),
        Done::Failed(ClientError::InvalidRequest(ptk_enip::Error::Malformed(
            ptk_enip::Violation::TagName,
        ))),
    );
    // And the connection still answers.
    plan.then(Step::read_value("D"), Done::Value(Value::Dint(77)));
    let (records, run) = plan.check(ClientConfig::default());
    // One TCP connection throughout, closed by the client at the end.
    let stats = run.server.stats();
    assert_eq!((stats.accepted, stats.dropped, stats.open), (1, 0, 0));
    let unsent = records.iter().filter(|r| r.sent == 0).count();
    assert_eq!(unsent, 1, "only the unparsable name was not sent");
}

#[test]
fn read_many_gives_each_item_its_own_error_and_reads_the_rest() {
    let names: Vec<String> = [
        "T0", "Nope", "T1", "DA[9]", "DA[10]", "T2.31", "S", "R", "Gone", "T999",
    ]
    .map(String::from)
    .to_vec();
    let steps = vec![
        Step::write_value("R", Value::Real(2.5)),
        Step::write_value("DA[9]", Value::Dint(-9)),
        Step::ReadMany(names, 8),
        Step::WriteMany(vec![
            ("T0".into(), Value::Dint(5)),
            ("Nope".into(), Value::Dint(5)),
            ("T1".into(), Value::Real(5.0)),
            ("DA[10]".into(), Value::Dint(5)),
            ("T2".into(), Value::Dint(6)),
        ]),
        Step::read_many(&dint_names(3), 4),
    ];
    let run = run(
        dint_tags(&["DA=DINT[10]", "S=STRING", "R=REAL"], 1000),
        server_config(),
        vec![(ClientConfig::default(), steps)],
    );
    let r = run.records();
    let t2 = dint_value(2);
    assert_eq!(
        r[2].done,
        Done::Many(vec![
            Ok(Value::Dint(dint_value(0))),
            Err(cip(0x04, None)),
            Ok(Value::Dint(dint_value(1))),
            Ok(Value::Dint(-9)),
            Err(cip(0x05, None)),
            Ok(Value::Bool(t2 >> 31 & 1 == 1)),
            Err(ClientError::UnexpectedType(TagType::LOGIX_STRING)),
            Ok(Value::Real(2.5)),
            Err(cip(0x04, None)),
            Ok(Value::Dint(dint_value(999))),
        ])
    );
    // One packet for all ten; the STRING's 88 bytes came back whole in it.
    assert_eq!(r[2].round_trips(), 1);
    assert_eq!(r[2].embedded(), 10);
    assert_eq!(
        r[3].done,
        Done::WroteMany(vec![
            Ok(()),
            Err(cip(0x04, None)),
            Err(cip(0xFF, Some(0x2107))),
            Err(cip(0x05, None)),
            Ok(()),
        ])
    );
    assert_eq!(
        r[4].done,
        Done::Many(vec![
            Ok(Value::Dint(5)),
            Ok(Value::Dint(dint_value(1))),
            Ok(Value::Dint(6)),
        ])
    );
}

#[test]
fn discovery_finds_exactly_the_server() {
    let identity = DeviceIdentity {
        vendor_id: 0x1234,
        device_type: 0x0C,
        product_code: 0x4321,
        revision: Revision {
            major: 33,
            minor: 2,
        },
        status: 0x0030,
        serial_number: 0x0BAD_CAFE,
        product_name: "ptk end-to-end",
        state: 3,
        controller_name: "E2E",
    };
    let config = ServerConfig {
        identity,
        ..server_config()
    };
    let run = run(
        tags(&["D=DINT"]),
        config,
        vec![(ClientConfig::default(), vec![Step::Discover(300)])],
    );
    let Done::Devices(devices) = &run.records()[0].done else {
        panic!("{:?}", run.records()[0].done)
    };
    assert_eq!(devices.len(), 1, "{devices:?}");
    let device = &devices[0];
    assert_eq!(device.from, run.addr);
    assert_eq!(std::net::SocketAddr::V4(device.advertised), run.addr);
    assert_eq!(device.vendor_id, 0x1234);
    assert_eq!(device.device_type, 0x0C);
    assert_eq!(device.product_code, 0x4321);
    assert_eq!(device.revision, identity.revision);
    assert_eq!(device.status, 0x0030);
    assert_eq!(device.serial_number, 0x0BAD_CAFE);
    assert_eq!(device.state, Some(3));
    assert_eq!(device.product_name(), b"ptk end-to-end");
    let stats = run.server.stats();
    assert_eq!((stats.datagrams, stats.requests, stats.accepted), (1, 0, 0));
}

/// Writes, reads and read-many of 1,000 tags with `config`; the records.
fn exercise(config: ClientConfig) -> Vec<Record> {
    let names = dint_names(1000);
    let big: Vec<u8> = (0..600i32).flat_map(|i| (i - 300).to_le_bytes()).collect();
    let dint = atomic(DataType::Dint);
    let steps = vec![
        Step::Connect,
        Step::write_value("D", Value::Dint(-42)),
        Step::read_value("D"),
        Step::write_tag("BIG", dint, 600, big.clone()),
        Step::read("BIG", 600),
        Step::read_many(&names, 4),
        Step::read_value("Nope"),
        Step::read_value("D.1"),
    ];
    let run = run(
        dint_tags(&["D=DINT", "BIG=DINT[600]"], 1000),
        server_config(),
        vec![(config, steps)],
    );
    let r = run.records().to_vec();
    let many: Vec<_> = (0..1000).map(|i| Ok(Value::Dint(dint_value(i)))).collect();
    assert_eq!(
        run.scripts[0].done(),
        [
            Done::Connected,
            Done::Written,
            Done::Value(Value::Dint(-42)),
            Done::Written,
            Done::Read(
                TagRead {
                    tag_type: dint,
                    len: 2400
                },
                big
            ),
            Done::Many(many),
            Done::Failed(cip(0x04, None)),
            Done::Value(Value::Bool(true)),
        ]
    );
    let stats = run.server.stats();
    assert_eq!((stats.accepted, stats.dropped), (1, 0));
    assert_eq!(r.iter().map(|r| r.sent).sum::<u64>(), stats.requests);
    r
}

#[test]
fn the_backplane_route_and_the_empty_route_both_work() {
    for route in [Route::BACKPLANE_SLOT_0, Route::DIRECT] {
        let r = exercise(ClientConfig {
            route,
            ..ClientConfig::default()
        });
        assert_eq!(r[0].connection_size, Some(4000));
        assert_eq!(r[0].round_trips(), 2, "{route:?}");
        // 2,400 bytes fit one message of the large connection.
        assert_eq!(r[3].round_trips(), 1, "{route:?}");
        assert_eq!(r[4].round_trips(), 1, "{route:?}");
        assert_eq!(r[5].round_trips(), 4, "{route:?}");
    }
}

/// The round trips of [`exercise`]'s steps on a 504-byte connection.
fn assert_504_byte_counts(r: &[Record]) {
    assert_eq!(r[0].connection_size, Some(504));
    // 2,400 bytes in fragments of up to 484 bytes for a write, 492 for a read.
    assert_eq!(r[3].round_trips(), 5, "{}", stats_line(&r[3]));
    assert_eq!(r[4].round_trips(), 5, "{}", stats_line(&r[4]));
    // 41 reads a packet both ways: 25 packets for 1,000.
    assert_eq!(r[5].round_trips(), 25, "{}", stats_line(&r[5]));
    assert_eq!(r[5].embedded(), 1000);
}

#[test]
fn a_refused_large_forward_open_falls_back_to_a_504_byte_connection() {
    // The server refuses connection sizes under 32 bytes: the Large_Forward_Open of 16 is
    // refused, the Forward_Open of 504 taken.
    let r = exercise(ClientConfig {
        connection_size: 16,
        ..ClientConfig::default()
    });
    assert_eq!(r[0].round_trips(), 3);
    assert_504_byte_counts(&r);
}

#[test]
fn a_large_forward_open_of_504_bytes_packs_as_the_small_one() {
    let r = exercise(ClientConfig {
        connection_size: 504,
        ..ClientConfig::default()
    });
    assert_eq!(r[0].round_trips(), 2);
    assert_504_byte_counts(&r);
}

#[test]
fn unconnected_messaging_works_routed_and_direct() {
    for route in [Route::BACKPLANE_SLOT_0, Route::DIRECT] {
        // Both opens refused (sizes the server does not take), and asked not to connect.
        for config in [
            ClientConfig {
                route,
                connection_size: 16,
                small_connection_size: 16,
                ..ClientConfig::default()
            },
            ClientConfig {
                route,
                connected: false,
                ..ClientConfig::default()
            },
        ] {
            let r = exercise(config);
            let opens = if config.connected { 2 } else { 0 };
            assert_eq!(r[0].round_trips(), 1 + opens, "{config:?}");
            assert_eq!(r[0].connection_size, None);
            assert_eq!(r[5].round_trips(), 25, "{}", stats_line(&r[5]));
            assert_eq!(r[5].embedded(), 1000);
        }
    }
}

#[test]
fn eight_clients_at_once_read_1000_tags_each_20_times() {
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 20;
    let names = dint_names(1000);
    let clients = (0..CLIENTS)
        .map(|c| {
            // Each client reads the tags in its own order, starting at 125 * c.
            let mut order = names.clone();
            order.rotate_left(125 * c);
            let mut steps = vec![Step::Connect];
            steps.extend((0..ROUNDS).map(|_| Step::read_many(&order, 4)));
            (ClientConfig::default(), steps)
        })
        .collect();
    let run = run(dint_tags(&[], 1000), server_config(), clients);
    for (c, script) in run.scripts.iter().enumerate() {
        assert_eq!(script.records.len(), 1 + ROUNDS);
        assert_eq!(script.records[0].done, Done::Connected);
        for record in &script.records[1..] {
            let Done::Many(values) = &record.done else {
                panic!("client {c}: {:?}", record.done)
            };
            let expected: Vec<_> = (0..1000)
                .map(|i| Ok(Value::Dint(dint_value((i + 125 * c) % 1000))))
                .collect();
            assert_eq!(values, &expected, "client {c}");
            assert_eq!(record.sent, 4);
        }
    }
    let stats = run.server.stats();
    let clients = CLIENTS as u64;
    let rounds = ROUNDS as u64;
    assert_eq!(stats.accepted, clients);
    assert_eq!((stats.refused, stats.dropped, stats.open), (0, 0, 0));
    assert_eq!(stats.requests, clients * (2 + 4 * rounds));
    assert_eq!(stats.cip_requests, clients * (1 + 4 * rounds));
    assert_eq!(stats.embedded_requests, clients * 1000 * rounds);
}

#[test]
fn a_string_array_longer_than_a_reply_goes_in_fragments() {
    let string = TagType::LOGIX_STRING;
    let texts: Vec<Vec<u8>> = (0..100)
        .map(|i| format!("string number {i} of a hundred").into_bytes())
        .collect();
    let data: Vec<u8> = texts.iter().flat_map(|t| logix_string(t)).collect();
    let steps = vec![
        Step::Connect,
        Step::write_tag("SA", string, 100, data.clone()),
        Step::read("SA", 100),
        Step::read("SA[50]", 50),
    ];
    let run = run(
        tags(&["SA=STRING[100]"]),
        server_config(),
        vec![(ClientConfig::default(), steps)],
    );
    let r = run.records();
    assert_eq!(r[1].done, Done::Written);
    let read = |len| TagRead {
        tag_type: string,
        len,
    };
    assert_eq!(r[2].done, Done::Read(read(8800), data.clone()));
    assert_eq!(r[3].done, Done::Read(read(4400), data[4400..].to_vec()));
    assert_eq!(run.tag_bytes("SA"), data);
    // 8,800 bytes: write fragments of up to 3,982 bytes (structures are split anywhere, not on
    // element boundaries), reads of 45 whole strings (3,960 bytes) a reply.
    assert_eq!(r[1].round_trips(), 3, "{}", stats_line(&r[1]));
    assert_eq!(r[2].round_trips(), 3, "{}", stats_line(&r[2]));
    assert_eq!(r[3].round_trips(), 2, "{}", stats_line(&r[3]));
}

#[test]
fn bit_writes_of_eight_clients_to_one_tag_lose_none() {
    // Each client sets and clears its own bit of `Flags` 10 times, then sets it: the
    // Read-Modify-Writes are atomic on the server, so every bit ends set and no write of
    // one client undoes another's.
    const CLIENTS: u8 = 8;
    let clients = (0..CLIENTS)
        .map(|c| {
            let bit = format!("Flags.{}", 3 * c + 1);
            let mut steps = Vec::new();
            for _ in 0..10 {
                steps.push(Step::write_value(&bit, Value::Bool(true)));
                steps.push(Step::write_value(&bit, Value::Bool(false)));
            }
            steps.push(Step::write_value(&bit, Value::Bool(true)));
            steps.push(Step::read_value(&bit));
            (ClientConfig::default(), steps)
        })
        .collect();
    let run = run(tags(&["Flags=DINT"]), server_config(), clients);
    let mut expected = vec![Done::Written; 21];
    expected.push(Done::Value(Value::Bool(true)));
    for script in &run.scripts {
        assert_eq!(script.done(), expected);
    }
    let all = (0..CLIENTS).fold(0u32, |acc, c| acc | 1 << (3 * c + 1));
    assert_eq!(run.tag_bytes("Flags"), all.to_le_bytes());
    let stats = run.server.stats();
    // Per client: the session set-up, two requests a bit write, one for the read.
    assert_eq!(stats.requests, u64::from(CLIENTS) * (2 + 21 * 2 + 1));
    assert_eq!((stats.accepted, stats.dropped), (u64::from(CLIENTS), 0));
}

#[test]
fn a_client_reconnects_after_the_server_closes_an_idle_connection() {
    let config = ServerConfig {
        idle_timeout_ms: Some(250),
        ..server_config()
    };
    let steps = vec![
        Step::write_value("D", Value::Dint(9)),
        Step::UntilServerClosed,
        // The client sees the close before its next request and connects again first.
        Step::read_value("D"),
        Step::read_many(&dint_names(3), 4),
    ];
    let run = run(
        dint_tags(&["D=DINT"], 3),
        config,
        vec![(ClientConfig::default(), steps)],
    );
    let done = run.scripts[0].done();
    assert_eq!(done[..2], [Done::Written, Done::ServerClosed]);
    // No request fails: the read connects again (set-up and the read), the batch follows.
    assert_eq!(done[2], Done::Value(Value::Dint(9)));
    assert_eq!(
        done[3],
        Done::Many((0..3).map(|i| Ok(Value::Dint(dint_value(i)))).collect())
    );
    assert_eq!(run.records()[2].round_trips(), 3);
    assert_eq!(run.records()[3].round_trips(), 1);
    let stats = run.server.stats();
    assert_eq!((stats.accepted, stats.dropped, stats.open), (2, 1, 0));
}
