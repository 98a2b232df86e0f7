//! Our client's calls for function codes 7, 8, 11, 12, 17, 20, 21, 22, 24 and 43 against our
//! server, with the exact counters and event log the server keeps, and a reply from the wrong
//! unit id.

mod common;

use std::io::{Read, Write};

use common::{model, run_with};
use ptk_macros::protothread;
use ptk_modbus::client::{Client, ClientConfig, ClientError, CommEventLogCounts};
use ptk_modbus::server::{MemoryModel, ServerConfig};
use ptk_modbus::{
    CommEventCounter, DeviceObject, ExceptionCode, ReadDeviceIdCode, Request, Response,
};
use ptk_runtime::{Cx, Pt};

/// What the tour saw, checked after the loop stops.
struct Tour {
    pt: Pt,
    client: Option<Client<1>>,
    exception_status: u8,
    echo: [u16; 3],
    echoed: usize,
    one: [u16; 1],
    counts: Vec<u16>,
    counter: Option<CommEventCounter>,
    log: Option<CommEventLogCounts>,
    events: [u8; 64],
    server_id: [u8; 251],
    server_id_len: usize,
    file: [u16; 3],
    masked: [u16; 1],
    fifo: [u16; 31],
    fifo_len: usize,
    identification: Vec<(u8, Vec<u8>)>,
    refused: Vec<ClientError>,
}

impl Default for Tour {
    fn default() -> Self {
        Tour {
            pt: Pt::new(),
            client: None,
            exception_status: 0,
            echo: [0; 3],
            echoed: 0,
            one: [0],
            counts: Vec::new(),
            counter: None,
            log: None,
            events: [0; 64],
            server_id: [0; 251],
            server_id_len: 0,
            file: [0; 3],
            masked: [0],
            fifo: [0; 31],
            fifo_len: 0,
            identification: Vec::new(),
            refused: Vec::new(),
        }
    }
}

impl Tour {
    fn c(&mut self) -> &mut Client<1> {
        self.client.as_mut().unwrap()
    }

    /// Copies the objects of the last (device identification) answer.
    fn keep_identification(&mut self, ticket: ptk_modbus::client::Ticket) {
        let Some(Response::ReadDeviceIdentification(id)) = self.c().response(ticket) else {
            panic!("not a device identification");
        };
        let objects: Vec<(u8, Vec<u8>)> = id
            .objects
            .iter()
            .map(|DeviceObject { id, value }| (id, value.to_vec()))
            .collect();
        assert_eq!((id.conformity_level, id.more_follows), (0x81, false));
        self.identification = objects;
    }
}

const BASIC: Request<'static> = Request::ReadDeviceIdentification {
    code: ReadDeviceIdCode::Basic,
    object_id: 0,
};

#[protothread(crate = ::ptk_runtime)]
fn tour(ctx: &mut Tour, cx: &mut Cx<'_>) -> Result<(), ClientError> {
    ctx.exception_status = pt_await!(ctx.c().poll_read_exception_status(cx))?;
    ctx.echoed = pt_await!(ctx.client.as_mut().unwrap().poll_diagnostics(
        cx,
        0x00,
        &[0xA537, 1, 2],
        &mut ctx.echo
    ))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_diagnostics(cx, 0x0B, &[0], &mut ctx.one))?;
    ctx.counts.push(ctx.one[0]);
    let counter = pt_await!(ctx.c().poll_get_comm_event_counter(cx))?;
    ctx.counter = Some(counter);
    let log = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_get_comm_event_log(cx, &mut ctx.events))?;
    ctx.log = Some(log);
    // Clear the counters: the next bus message count counts only itself.
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_diagnostics(cx, 0x0A, &[0], &mut ctx.one))?;
    ctx.counts.push(ctx.one[0]);
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_diagnostics(cx, 0x0B, &[0], &mut ctx.one))?;
    ctx.counts.push(ctx.one[0]);
    ctx.server_id_len = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_report_server_id(cx, &mut ctx.server_id))?;
    pt_await!(ctx.c().poll_write_file_record(cx, 1, 5, &[10, 20, 30]))?;
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
    ctx.fifo_len =
        pt_await!(ctx
            .client
            .as_mut()
            .unwrap()
            .poll_read_fifo_queue(cx, 100, &mut ctx.fifo))?;
    let ticket = pt_await!(ctx.c().poll_call(cx, 1, &BASIC))?;
    ctx.keep_identification(ticket);
    // Refused: a sub-function the server does not serve, a file it does not have, a
    // request the codec will not send.
    let r = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_diagnostics(cx, 0x04, &[0], &mut ctx.one));
    ctx.refused.extend(r.err());
    let r = pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_file_record(cx, 9, 0, &mut ctx.file));
    ctx.refused.extend(r.err());
    let r = pt_await!(ctx.c().poll_write_file_record(cx, 0, 0, &[1]));
    ctx.refused.extend(r.err());
    ctx.c().close(cx);
    Ok(())
}

fn served_model() -> MemoryModel {
    let mut m = model().with_files(2, 100);
    m.set_exception_status(0x6D);
    let holding = m.holding_registers_mut();
    holding[4] = 0x12;
    holding[100..103].copy_from_slice(&[2, 0x01B8, 0x1284]);
    m
}

#[test]
fn every_new_function_round_trips_from_our_client_to_our_server() {
    let mut tours = [Tour::default()];
    let server = run_with(
        served_model(),
        ServerConfig::default(),
        &mut tours,
        |addr, t: &mut Tour| t.client = Some(Client::new(addr, ClientConfig::default())),
    );
    let t = &tours[0];
    assert_eq!(t.exception_status, 0x6D);
    assert_eq!((t.echoed, t.echo), (3, [0xA537, 1, 2]));
    // Bus message count 3 (itself included), clear counters echoes 0, then 1 (itself).
    assert_eq!(t.counts, [3, 0, 1]);
    // Three requests completed before get comm event counter, which does not count itself.
    assert_eq!(
        t.counter,
        Some(CommEventCounter {
            busy: false,
            event_count: 3
        })
    );
    assert_eq!(
        t.log,
        Some(CommEventLogCounts {
            busy: false,
            event_count: 3,
            message_count: 5,
            events: 9,
        })
    );
    // The newest first: this request received, then four requests sent and received.
    assert_eq!(
        t.events[..9],
        [0x80, 0x40, 0x80, 0x40, 0x80, 0x40, 0x80, 0x40, 0x80]
    );
    assert_eq!(&t.server_id[..t.server_id_len], b"ptk-modbus\xFF");
    assert_eq!(t.file, [0, 10, 20]);
    assert_eq!(t.masked, [0x17]);
    assert_eq!((t.fifo_len, &t.fifo[..2]), (2, &[0x01B8, 0x1284][..]));
    assert_eq!(
        t.identification,
        [
            (0, b"ptk".to_vec()),
            (1, b"ptk-modbus".to_vec()),
            (2, env!("CARGO_PKG_VERSION").as_bytes().to_vec()),
        ]
    );
    assert_eq!(
        t.refused[..2],
        [
            ClientError::Exception(ExceptionCode::IllegalDataValue),
            ClientError::Exception(ExceptionCode::IllegalDataAddress),
        ]
    );
    assert!(
        matches!(t.refused[2], ClientError::InvalidRequest(_)),
        "{:?}",
        t.refused
    );
    assert_eq!(t.refused.len(), 3);
    let m = server.model();
    assert_eq!(m.file(1).unwrap()[4..8], [0, 10, 20, 30]);
    assert_eq!(m.holding_registers()[4], 0x17);
    drop(m);
    // After the clear (which counted itself before it cleared): 10 requests, two of them
    // exceptions (the one the codec would not send never reached the server).
    let counters = server.counters();
    assert_eq!(
        (
            counters.bus_messages,
            counters.server_messages,
            counters.bus_exception_errors
        ),
        (10, 10, 2)
    );
}

/// A client whose one request is answered by a server that says it is another unit.
#[derive(Default)]
struct Misdirected {
    pt: Pt,
    client: Option<Client<1>>,
    out: [u16; 1],
    outcome: Option<Result<(), ClientError>>,
}

#[protothread(crate = ::ptk_runtime)]
fn misdirected(ctx: &mut Misdirected, cx: &mut Cx<'_>) {
    let r =
        pt_await!(ctx
            .client
            .as_mut()
            .unwrap()
            .poll_read_holding_registers(cx, 0, &mut ctx.out));
    ctx.outcome = Some(r);
    ctx.client.as_mut().unwrap().close(cx);
}

#[test]
fn a_reply_from_another_unit_id_says_which_ids_differ() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let liar = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut request = [0u8; 12];
        s.read_exact(&mut request).unwrap();
        // The right transaction id, unit id 7 instead of 1.
        let [t0, t1] = [request[0], request[1]];
        s.write_all(&[t0, t1, 0, 0, 0, 5, 7, 3, 2, 0, 9]).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        request
    });
    let mut p = [Misdirected::default()];
    run_with(
        model(),
        ServerConfig::default(),
        &mut p,
        |_, p: &mut Misdirected| {
            p.client = Some(Client::new(addr, ClientConfig::default()));
        },
    );
    let request = liar.join().unwrap();
    assert_eq!(request[6], 1);
    let outcome = p[0].outcome.unwrap();
    assert_eq!(
        outcome,
        Err(ClientError::UnitIdMismatch {
            request: 1,
            reply: 7
        })
    );
    assert_eq!(
        outcome.unwrap_err().to_string(),
        "reply unit id 7 does not match request unit id 1"
    );
}
