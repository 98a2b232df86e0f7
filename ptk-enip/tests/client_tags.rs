//! Our client against a scripted fake controller over loopback: the exact requests it sends,
//! the exact values it decodes, CIP errors, fragmented transfers, Multiple_Service_Packet
//! packing, the Forward_Open fallbacks and reconnecting.

mod client_fake;

use client_fake::{run_script, Done, Fake, Options, Step, Tag};
use ptk_enip::client::{ClientConfig, ClientError, Route, TagRead};
use ptk_enip::{DataType, ForwardOpen, GeneralStatus, MessageRequest, TagType, Value};

const DINT: TagType = TagType::Atomic(DataType::Dint);

fn dints(values: impl IntoIterator<Item = i32>) -> Vec<u8> {
    values.into_iter().flat_map(i32::to_le_bytes).collect()
}

fn controller() -> Vec<Tag> {
    let mut counts = Tag::atomic("Counts", 0xC4, 4, 10);
    counts.data = dints(0..10);
    counts.data[12..16].copy_from_slice(&42i32.to_le_bytes());
    let mut speed = Tag::atomic("Program:Main.Speed", 0xCA, 4, 0);
    speed.data = 1.5f32.to_le_bytes().to_vec();
    let mut flags = Tag::atomic("Flags", 0xC4, 4, 0);
    flags.data = dints([0b10_0000]);
    vec![
        counts,
        speed,
        flags,
        Tag::string("Name", b"hello"),
        Tag::atomic("Small", 0xC3, 2, 0),
    ]
}

#[test]
fn reads_send_exact_requests_and_decode_exact_values() {
    let fake = Fake::start(controller(), Options::default());
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![
            Step::Read("Counts[3]", 1),
            Step::Read("Counts", 10),
            Step::ReadValue("Program:Main.Speed"),
            Step::ReadValue("Flags.5"),
            Step::ReadValue("Flags.4"),
            Step::Read("Name", 1),
        ],
    );
    let mut name = vec![5, 0, 0, 0];
    name.extend_from_slice(b"hello");
    name.resize(88, 0);
    let mut counts = dints(0..10);
    counts[12..16].copy_from_slice(&42i32.to_le_bytes());
    assert_eq!(
        script.done,
        [
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
                    len: 40
                },
                counts
            ),
            Done::Value(Value::Real(1.5)),
            Done::Value(Value::Bool(true)),
            Done::Value(Value::Bool(false)),
            Done::Read(
                TagRead {
                    tag_type: TagType::LOGIX_STRING,
                    len: 88
                },
                name
            ),
        ]
    );
    let log = fake.log();
    // RegisterSession, then a Large_Forward_Open of 4000 bytes to slot 0.
    assert_eq!(log.requests[0], (0x65, vec![1, 0, 0, 0]));
    let open = &log.requests[1];
    assert_eq!(open.0, 0x6F);
    assert_eq!(&open.1[..6], &[0x5B, 0x02, 0x20, 0x06, 0x24, 0x01]);
    assert_eq!(
        &open.1[open.1.len() - 7..],
        &[0x03, 0x01, 0x00, 0x20, 0x02, 0x24, 0x01]
    );
    assert_eq!(
        log.cip(),
        [
            b"\x4C\x05\x91\x06Counts\x28\x03\x01\x00".to_vec(),
            b"\x4C\x04\x91\x06Counts\x0A\x00".to_vec(),
            b"\x4C\x0B\x91\x0CProgram:Main\x91\x05Speed\x00\x01\x00".to_vec(),
            b"\x4C\x04\x91\x05Flags\x00\x01\x00".to_vec(),
            b"\x4C\x04\x91\x05Flags\x00\x01\x00".to_vec(),
            b"\x4C\x03\x91\x04Name\x01\x00".to_vec(),
        ]
    );
    // Connected: every request in SendUnitData, sequence counts counting up from 1.
    assert!(log.requests[2..].iter().all(|(c, _)| *c == 0x70));
    assert_eq!(log.sequences, [1, 2, 3, 4, 5, 6]);
    assert_eq!(script.connection_size, Some(4000));
    assert_eq!(script.requests_sent, 2 + 6);
}

#[test]
fn writes_send_exact_requests_and_bits_go_by_read_modify_write() {
    let fake = Fake::start(controller(), Options::default());
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![
            Step::WriteValue("Counts[3]", Value::Dint(-2)),
            Step::WriteValue("Flags.1", Value::Bool(true)),
            Step::WriteValue("Flags.5", Value::Bool(false)),
            Step::WriteString("Name", b"ptk"),
            Step::WriteValue("Small", Value::Int(7)),
        ],
    );
    assert_eq!(script.done, vec![Done::Written; 5]);
    assert_eq!(&fake.tag_data("Counts")[12..16], &(-2i32).to_le_bytes());
    assert_eq!(fake.tag_data("Flags"), dints([0b10]));
    assert_eq!(&fake.tag_data("Name")[..7], b"\x03\x00\x00\x00ptk");
    assert_eq!(fake.tag_data("Small"), [7, 0]);
    let cip = fake.log().cip();
    assert_eq!(
        cip[0],
        b"\x4D\x05\x91\x06Counts\x28\x03\xC4\x00\x01\x00\xFE\xFF\xFF\xFF"
    );
    // A bit: a read learns the tag is a DINT, then a Read-Modify-Write of 4-byte masks.
    assert_eq!(cip[1], b"\x4C\x04\x91\x05Flags\x00\x01\x00");
    assert_eq!(
        cip[2],
        b"\x4E\x04\x91\x05Flags\x00\x04\x00\x02\x00\x00\x00\xFF\xFF\xFF\xFF"
    );
    assert_eq!(
        cip[4],
        b"\x4E\x04\x91\x05Flags\x00\x04\x00\x00\x00\x00\x00\xDF\xFF\xFF\xFF"
    );
    assert_eq!(
        &cip[5][..14],
        b"\x4D\x03\x91\x04Name\xA0\x02\xCE\x0F\x01\x00"
    );
    assert_eq!(cip[5].len(), 14 + 88);
}

#[test]
fn cip_errors_carry_the_general_and_extended_status() {
    let fake = Fake::start(controller(), Options::default());
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![
            Step::ReadValue("Nope"),
            Step::ReadValue("Counts[10]"),
            Step::Read("Counts[8]", 5),
            Step::WriteValue("Counts[1]", Value::Real(1.0)),
            Step::ReadValue("Name"),
            Step::ReadValue("Program:Main.Speed.3"),
            Step::ReadValue("1bad"),
            Step::ReadValue("Counts[2]"),
        ],
    );
    let cip = |general, extended| {
        Done::Failed(ClientError::Cip {
            general: GeneralStatus(general),
            extended,
        })
    };
    assert_eq!(
        script.done,
        [
            cip(0x04, None),
            cip(0x05, None),
            cip(0xFF, Some(0x2105)),
            cip(0xFF, Some(0x2107)),
            Done::Failed(ClientError::UnexpectedType(TagType::LOGIX_STRING)),
            Done::Failed(ClientError::UnexpectedType(TagType::Atomic(DataType::Real))),
            Done::Failed(ClientError::InvalidRequest(ptk_enip::Error::Malformed(
                ptk_enip::Violation::TagName
            ))),
            Done::Value(Value::Dint(2)),
        ]
    );
    let Done::Failed(e) = &script.done[1] else {
        unreachable!()
    };
    assert_eq!(e.to_string(), "CIP status 0x05 (path destination unknown)");
    let Done::Failed(e) = &script.done[3] else {
        unreachable!()
    };
    assert_eq!(
        e.to_string(),
        "CIP status 0xFF (general error), extended status 0x2107 (data type mismatch)"
    );
    // The bad name was never sent; every error left the connection up.
    assert_eq!(fake.log().cip().len(), 7);
    assert_eq!(fake.log().connections, 1);
}

#[test]
fn a_2000_dint_array_is_read_and_written_in_fragments() {
    let mut big = Tag::atomic("BIG", 0xC4, 4, 2000);
    big.data = dints(0..2000);
    let fake = Fake::start(vec![big], Options::default());
    let written = dints((0..2000).map(|i| -i));
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![
            Step::Read("BIG", 2000),
            Step::WriteTag("BIG", DINT, 2000, written.clone()),
            Step::Read("BIG[1990]", 10),
        ],
    );
    assert_eq!(
        script.done,
        [
            Done::Read(
                TagRead {
                    tag_type: DINT,
                    len: 8000
                },
                dints(0..2000)
            ),
            Done::Written,
            Done::Read(
                TagRead {
                    tag_type: DINT,
                    len: 40
                },
                dints((1990..2000).map(|i| -i))
            ),
        ]
    );
    assert_eq!(fake.tag_data("BIG"), written);
    let cip = fake.log().cip();
    // The controller answers 3,992 bytes of data at most: 997 DINTs a reply.
    assert_eq!(cip[0], b"\x4C\x03\x91\x03BIG\x00\xD0\x07");
    assert_eq!(cip[1], b"\x52\x03\x91\x03BIG\x00\xD0\x07\x94\x0F\x00\x00");
    assert_eq!(cip[2], b"\x52\x03\x91\x03BIG\x00\xD0\x07\x28\x1F\x00\x00");
    // Writes: 3,998 bytes of message less 16 of header, on DINT boundaries: 995 DINTs.
    let fragments: Vec<(u8, u32, usize)> = cip[3..6]
        .iter()
        .map(|m| {
            assert_eq!(&m[1..12], b"\x03\x91\x03BIG\x00\xC4\x00\xD0\x07");
            (
                m[0],
                u32::from_le_bytes([m[12], m[13], m[14], m[15]]),
                m.len() - 16,
            )
        })
        .collect();
    assert_eq!(
        fragments,
        [(0x53, 0, 3980), (0x53, 3980, 3980), (0x53, 7960, 40)]
    );
    assert_eq!(cip.len(), 7);
}

#[test]
fn one_thousand_dints_are_read_in_four_packets_filled_to_4000_bytes() {
    let tags: Vec<Tag> = (0..1000)
        .map(|i| {
            let mut t = Tag::atomic(&format!("T{i}"), 0xC4, 4, 0);
            t.data = dints([i * 3]);
            t
        })
        .collect();
    let fake = Fake::start(tags, Options::default());
    let names: Vec<String> = (0..1000).map(|i| format!("T{i}")).collect();
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![Step::ReadMany(names.clone(), 4)],
    );
    let expected: Vec<Result<Value, ClientError>> =
        (0..1000).map(|i| Ok(Value::Dint(i * 3))).collect();
    assert_eq!(script.done, [Done::Many(expected)]);
    let cip = fake.log().cip();
    // Replies of 6 + 332 × 12 = 3,990 bytes: the packing is exact, not an estimate.
    let counts: Vec<u16> = cip
        .iter()
        .map(|m| {
            assert_eq!(&m[..6], &[0x0A, 0x02, 0x20, 0x02, 0x24, 0x01]);
            u16::from_le_bytes([m[6], m[7]])
        })
        .collect();
    assert_eq!(counts, [332, 332, 332, 4]);
    assert_eq!(cip[0].len(), 8 + 10 * (2 + 8) + 322 * (2 + 10));
    assert_eq!(script.requests_sent, 2 + 4);
}

#[test]
fn many_writes_go_in_one_packet_and_fail_one_by_one() {
    let fake = Fake::start(controller(), Options::default());
    let items = vec![
        ("Counts[0]".to_string(), Value::Dint(100)),
        ("Nope".to_string(), Value::Dint(1)),
        ("Flags.2".to_string(), Value::Bool(true)),
        ("Small".to_string(), Value::Int(-5)),
    ];
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![
            Step::WriteMany(items),
            Step::ReadMany(
                vec![
                    "Counts[0]".into(),
                    "Small".into(),
                    "Flags.5".into(),
                    "Name".into(),
                ],
                8,
            ),
        ],
    );
    let bit = ClientError::InvalidRequest(ptk_enip::Error::Invalid(ptk_enip::Violation::TagName));
    assert_eq!(
        script.done,
        [
            Done::WroteMany(vec![
                Ok(()),
                Err(ClientError::Cip {
                    general: GeneralStatus(0x04),
                    extended: None
                }),
                Err(bit),
                Ok(()),
            ]),
            Done::Many(vec![
                Ok(Value::Dint(100)),
                Ok(Value::Int(-5)),
                Ok(Value::Bool(true)),
                Err(ClientError::UnexpectedType(TagType::LOGIX_STRING)),
            ]),
        ]
    );
    let cip = fake.log().cip();
    assert_eq!(cip.len(), 2);
    assert_eq!(u16::from_le_bytes([cip[0][6], cip[0][7]]), 3);
}

#[test]
fn a_refused_large_forward_open_falls_back_to_forward_open() {
    let fake = Fake::start(
        controller(),
        Options {
            refuse_large: true,
            ..Options::default()
        },
    );
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![Step::ReadValue("Counts[3]")],
    );
    assert_eq!(script.done, [Done::Value(Value::Dint(42))]);
    assert_eq!(script.connection_size, Some(504));
    let log = fake.log();
    let commands: Vec<(u16, u8)> = log
        .requests
        .iter()
        .map(|(c, m)| (*c, m.first().copied().unwrap_or(0)))
        .collect();
    assert_eq!(
        commands,
        [(0x65, 1), (0x6F, 0x5B), (0x6F, 0x54), (0x70, 0x4C)]
    );
    // The Forward_Open asks for 504 bytes: parameters 0x43F8.
    let open = &log.requests[2].1;
    assert_eq!(&open[6 + 26..6 + 28], &0x43F8u16.to_le_bytes());
}

#[test]
fn two_clients_of_one_process_open_connections_with_different_triads() {
    // A controller refuses a Forward_Open whose triad one of its connections has, and both
    // clients have the same vendor id and originator serial: the connection serials differ.
    let fake = Fake::start(controller(), Options::default());
    for _ in 0..2 {
        let script = run_script(
            fake.addr,
            ClientConfig::default(),
            vec![Step::ReadValue("Counts[3]")],
        );
        assert_eq!(script.done, [Done::Value(Value::Dint(42))]);
    }
    let log = fake.log();
    let opens: Vec<(u16, u16, u32, u32)> = log
        .requests
        .iter()
        .filter(|(c, m)| *c == 0x6F && m.first() == Some(&0x5B))
        .map(|(_, m)| {
            let request = MessageRequest::parse(m).unwrap();
            let open = ForwardOpen::parse(request.data, true).unwrap();
            (
                open.triad.connection_serial,
                open.triad.vendor_id,
                open.triad.originator_serial,
                open.t_o_connection_id,
            )
        })
        .collect();
    assert_eq!(opens.len(), 2);
    let ((serial_a, vendor_a, origin_a, id_a), (serial_b, vendor_b, origin_b, id_b)) =
        (opens[0], opens[1]);
    assert_eq!((vendor_a, origin_a), (vendor_b, origin_b));
    assert_ne!(serial_a, serial_b);
    assert_ne!(id_a, id_b);
}

#[test]
fn both_opens_refused_fall_back_to_unconnected_messaging() {
    let options = Options {
        refuse_large: true,
        refuse_small: true,
        ..Options::default()
    };
    let fake = Fake::start(controller(), options.clone());
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![Step::ReadValue("Counts[3]")],
    );
    assert_eq!(script.done, [Done::Value(Value::Dint(42))]);
    assert_eq!(script.connection_size, None);
    let log = fake.log();
    // Through Unconnected_Send to the route 1,0.
    assert_eq!(
        log.requests[3],
        (
            0x6F,
            b"\x52\x02\x20\x06\x24\x01\x0A\x05\x0E\x00\x4C\x05\x91\x06Counts\x28\x03\x01\x00\x01\x00\x01\x00"
                .to_vec()
        )
    );
    // With no route, straight to the target.
    let fake = Fake::start(controller(), options);
    let config = ClientConfig {
        route: Route::DIRECT,
        ..ClientConfig::default()
    };
    let script = run_script(fake.addr, config, vec![Step::ReadValue("Counts[3]")]);
    assert_eq!(script.done, [Done::Value(Value::Dint(42))]);
    assert_eq!(
        fake.log().requests[3],
        (0x6F, b"\x4C\x05\x91\x06Counts\x28\x03\x01\x00".to_vec())
    );
}

#[test]
fn the_client_reconnects_after_the_server_drops_the_connection() {
    // The Forward_Open and one read, then the server closes the connection.
    let fake = Fake::start(
        controller(),
        Options {
            drop_after: Some(2),
            ..Options::default()
        },
    );
    let config = ClientConfig {
        min_backoff_ms: 20,
        ..ClientConfig::default()
    };
    let script = run_script(
        fake.addr,
        config,
        vec![
            Step::ReadValue("Counts[3]"),
            Step::ReadValue("Counts[4]"),
            Step::ReadValue("Counts[5]"),
        ],
    );
    assert_eq!(
        script.done,
        [
            Done::Value(Value::Dint(42)),
            Done::Failed(ClientError::Io(ptk_runtime::Error::Closed)),
            Done::Value(Value::Dint(5)),
        ]
    );
    let log = fake.log();
    assert_eq!(log.connections, 2);
    // The second connection registered a session and opened a connection again.
    let commands: Vec<u16> = log.requests.iter().map(|(c, _)| *c).collect();
    assert_eq!(commands, [0x65, 0x6F, 0x70, 0x65, 0x6F, 0x70]);
}

#[test]
fn the_tag_list_pages_and_lists_program_tags() {
    let tags = vec![
        Tag::atomic("A", 0xC4, 4, 0),
        Tag::atomic("B", 0xCA, 4, 4),
        Tag::string("S", b""),
        Tag::atomic("Program:Main.C", 0xC3, 2, 0),
        Tag::atomic("BIG", 0xC4, 4, 2000),
    ];
    let fake = Fake::start(
        tags,
        Options {
            page: 2,
            ..Options::default()
        },
    );
    let script = run_script(
        fake.addr,
        ClientConfig::default(),
        vec![Step::List(None), Step::List(Some("Program:Main"))],
    );
    assert_eq!(
        script.done,
        [
            Done::List(vec![
                "A DINT".into(),
                "B REAL[4]".into(),
                "S STRING".into(),
                "BIG DINT[2000]".into(),
                "Program:Main PROGRAM".into(),
            ]),
            Done::List(vec!["C INT".into()]),
        ]
    );
    let cip = fake.log().cip();
    assert_eq!(
        cip[0],
        b"\x55\x02\x20\x6B\x24\x00\x03\x00\x01\x00\x02\x00\x08\x00"
    );
    assert_eq!(
        cip[1],
        b"\x55\x02\x20\x6B\x24\x03\x03\x00\x01\x00\x02\x00\x08\x00"
    );
    assert_eq!(
        cip.last().unwrap(),
        b"\x55\x09\x91\x0CProgram:Main\x20\x6B\x24\x00\x03\x00\x01\x00\x02\x00\x08\x00"
    );
}

/// Three requests in flight at once, their replies taken in reverse order.
struct Pipelined {
    pt: ptk_runtime::Pt,
    client: Box<ptk_enip::client::Client<3>>,
    tickets: Vec<ptk_enip::client::Ticket>,
    replies: Vec<Vec<u8>>,
    in_flight: usize,
    outcome: Option<Result<(), ClientError>>,
}

#[ptk_macros::protothread(crate = ::ptk_runtime)]
fn pipelined(ctx: &mut Pipelined, cx: &mut ptk_runtime::Cx<'_>) {
    let r = pt_await!(ctx.client.poll_connect(cx));
    if let Err(e) = r {
        ctx.outcome = Some(Err(e));
        return;
    }
    for name in ["Counts[1]", "Counts[2]", "Counts[3]"] {
        let mut buf = [0u8; 32];
        let n = ptk_enip::TagName::parse(name)
            .unwrap()
            .emit(&mut buf)
            .unwrap();
        let path = ptk_enip::Epath::new_checked(&buf[..n]).unwrap();
        let ticket = ctx.client.send(cx, 0x4C, &path, 2, |o| {
            o[..2].copy_from_slice(&[1, 0]);
            Ok(2)
        });
        ctx.tickets.push(ticket.unwrap());
    }
    ctx.in_flight = ctx.client.in_flight();
    while !ctx.tickets.is_empty() {
        let r = pt_await!(ctx.client.poll_response(cx, *ctx.tickets.last().unwrap()));
        if let Err(e) = r {
            ctx.outcome = Some(Err(e));
            return;
        }
        let reply = ctx.client.response(*ctx.tickets.last().unwrap()).unwrap();
        ctx.replies.push(reply.data.to_vec());
        ctx.tickets.pop();
    }
    ctx.outcome = Some(Ok(()));
    ctx.client.close(cx);
}

#[test]
fn requests_in_flight_are_matched_to_their_replies_in_any_order() {
    let fake = Fake::start(controller(), Options::default());
    let mut jobs = [Pipelined {
        pt: ptk_runtime::Pt::new(),
        client: Box::new(ptk_enip::client::Client::new(
            fake.addr,
            ClientConfig::default(),
        )),
        tickets: Vec::new(),
        replies: Vec::new(),
        in_flight: 0,
        outcome: None,
    }];
    client_fake::run(&mut jobs);
    assert_eq!(jobs[0].outcome, Some(Ok(())));
    assert_eq!(jobs[0].in_flight, 3);
    let mut expected: Vec<Vec<u8>> = [1, 2, 42]
        .iter()
        .map(|v: &i32| [&[0xC4, 0][..], &v.to_le_bytes()].concat())
        .collect();
    expected.reverse();
    assert_eq!(jobs[0].replies, expected);
    // All three were written before the first reply was read: one sequence count each.
    assert_eq!(fake.log().sequences, [1, 2, 3]);
}
