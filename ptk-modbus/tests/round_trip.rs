//! Our client against our server, on one loop: every function code, exceptions, pipelining,
//! request timeouts, the idle timeout and the connection limit.

mod common;

use std::time::{Duration, Instant};

use common::{model, run_with};
use ptk_macros::protothread;
use ptk_modbus::client::{Client, ClientConfig, ClientError};
use ptk_modbus::server::{Server, ServerConfig};
use ptk_modbus::{ExceptionCode, ReadDeviceIdCode, Request, Response};
use ptk_runtime::{Cx, Error, Pt};

/// What the tour saw, checked after the loop stops.
#[derive(Default)]
struct Tour {
    pt: Pt,
    client: Option<Client<4>>,
    coils: [bool; 12],
    inputs: [bool; 4],
    holding: [u16; 6],
    input_registers: [u16; 3],
    read_write: [u16; 3],
    exceptions: Vec<Result<(), ClientError>>,
    pipelined: Vec<u16>,
    tickets: Vec<ptk_modbus::client::Ticket>,
}

impl Tour {
    fn c(&mut self) -> &mut Client<4> {
        self.client.as_mut().unwrap()
    }

    fn send_pipelined(&mut self, cx: &mut Cx<'_>) -> Result<(), ClientError> {
        for address in [10u16, 20, 30, 40] {
            let request = Request::ReadInputRegisters {
                address,
                quantity: 1,
            };
            let ticket = self.c().send(cx, 1, &request)?;
            self.tickets.push(ticket);
        }
        assert_eq!(self.c().in_flight(), 4);
        let busy = self.c().send(
            cx,
            1,
            &Request::ReadCoils {
                address: 0,
                quantity: 1,
            },
        );
        assert_eq!(busy, Err(ClientError::Busy));
        Ok(())
    }

    /// Waits for the last ticket still queued (answers are taken last sent first).
    fn poll_last(&mut self, cx: &mut Cx<'_>) -> std::task::Poll<Result<(), ClientError>> {
        let ticket = *self.tickets.last().unwrap();
        let client = self.client.as_mut().unwrap();
        let r = std::task::ready!(client.poll_response(cx, ticket));
        if r.is_ok() {
            match client.response(ticket) {
                Some(Response::ReadInputRegisters(values)) => {
                    self.pipelined.push(values.get(0).unwrap())
                }
                other => panic!("unexpected {other:?}"),
            }
            self.tickets.pop();
        }
        std::task::Poll::Ready(r)
    }
}

const BITS: [bool; 9] = [true, false, true, true, false, false, true, false, true];
/// An identification object the model does not have.
const IDENTIFY: Request<'static> = Request::ReadDeviceIdentification {
    code: ReadDeviceIdCode::Individual,
    object_id: 0x42,
};

#[protothread(crate = ::ptk_runtime)]
fn tour(ctx: &mut Tour, cx: &mut Cx<'_>) -> Result<(), ClientError> {
    pt_await!(ctx.c().poll_write_coil(cx, 3, true))?;
    pt_await!(ctx.c().poll_write_coils(cx, 2, &BITS[1..]))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_coils(cx, 0, &mut ctx.coils))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_discrete_inputs(cx, 4, &mut ctx.inputs))?;
    pt_await!(ctx.c().poll_write_register(cx, 1, 0xBEEF))?;
    pt_await!(ctx.c().poll_write_registers(cx, 2, &[1, 2, 3]))?;
    pt_await!(ctx
        .client
        .as_mut()
        .unwrap()
        .poll_read_holding_registers(cx, 0, &mut ctx.holding))?;
    pt_await!(ctx.client.as_mut().unwrap().poll_read_input_registers(
        cx,
        997,
        &mut ctx.input_registers
    ))?;
    pt_await!(ctx.client.as_mut().unwrap().poll_read_write_registers(
        cx,
        3,
        &mut ctx.read_write,
        4,
        &[40, 50]
    ))?;
    // Exceptions: outside the model, and an identification object it does not have.
    let r = pt_await!(ctx.client.as_mut().unwrap().poll_read_holding_registers(
        cx,
        999,
        &mut ctx.holding[..2]
    ));
    ctx.exceptions.push(r);
    let r = pt_await!(ctx.c().poll_write_coil(cx, 1000, true));
    ctx.exceptions.push(r);
    let r = pt_await!(ctx.c().poll_call(cx, 1, &IDENTIFY));
    ctx.exceptions.push(r.map(|_| ()));
    // A request that breaks a limit is not sent.
    let r =
        pt_await!(ctx
            .client
            .as_mut()
            .unwrap()
            .poll_read_holding_registers(cx, 0, &mut [0; 126]));
    ctx.exceptions.push(r);
    // Four requests in flight, answered in any order of asking.
    pt_await!(ctx.c().poll_connect(cx))?;
    ctx.send_pipelined(cx)?;
    while !ctx.tickets.is_empty() {
        pt_await!(ctx.poll_last(cx))?;
    }
    ctx.c().close(cx);
    cx.stop();
    Ok(())
}

#[test]
fn every_function_code_round_trips_from_our_client_to_our_server() {
    let mut tours = [Tour::default()];
    let server = run_with(
        model(),
        ServerConfig::default(),
        &mut tours,
        |addr, t: &mut Tour| {
            t.client = Some(Client::new(addr, ClientConfig::default()));
        },
    );
    let t = &tours[0];
    // Coil 3 on, then BITS[1..] written over 2..=9.
    let expected_coils = [
        false, false, false, true, true, false, false, true, false, true, false, false,
    ];
    assert_eq!(t.coils, expected_coils);
    assert_eq!(t.inputs, [false, true, false, true]);
    assert_eq!(t.holding, [0, 0xBEEF, 1, 2, 3, 0]);
    assert_eq!(t.input_registers, [997, 998, 999]);
    // Written before read: registers 3..6 after 4 and 5 took 40 and 50.
    assert_eq!(t.read_write, [2, 40, 50]);
    assert_eq!(
        t.exceptions[..3],
        [
            Err(ClientError::Exception(ExceptionCode::IllegalDataAddress)),
            Err(ClientError::Exception(ExceptionCode::IllegalDataAddress)),
            Err(ClientError::Exception(ExceptionCode::IllegalDataAddress)),
        ]
    );
    assert!(matches!(
        t.exceptions[3],
        Err(ClientError::InvalidRequest(_))
    ));
    assert_eq!(t.pipelined, [40, 30, 20, 10]);
    let m = server.model();
    assert_eq!(m.holding_registers()[..6], [0, 0xBEEF, 1, 2, 40, 50]);
    assert_eq!(server.stats().requests, 9 + 3 + 4);
}

/// A client whose requests go to a server that never answers.
#[derive(Default)]
struct Patient {
    pt: Pt,
    client: Option<Client<1>>,
    outcome: Option<Result<(), ClientError>>,
    waited_ms: u64,
}

#[protothread(crate = ::ptk_runtime)]
fn patient(ctx: &mut Patient, cx: &mut Cx<'_>) {
    ctx.waited_ms = cx.now_ms();
    let r = pt_await!(ctx.client.as_mut().unwrap().poll_write_register(cx, 0, 1));
    ctx.waited_ms = cx.now_ms() - ctx.waited_ms;
    ctx.outcome = Some(r);
    ctx.client.as_mut().unwrap().close(cx);
}

#[test]
fn a_request_without_an_answer_times_out() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let mut p = [Patient::default()];
    let config = ClientConfig {
        request_timeout_ms: 100,
        ..ClientConfig::default()
    };
    run_with(
        model(),
        ServerConfig::default(),
        &mut p,
        |_, p: &mut Patient| {
            p.client = Some(Client::new(addr, config));
        },
    );
    assert_eq!(p[0].outcome, Some(Err(ClientError::Timeout)));
    assert!(
        (100..1000).contains(&p[0].waited_ms),
        "{} ms",
        p[0].waited_ms
    );
}

#[test]
fn a_refused_connect_is_an_io_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut p = [Patient::default()];
    run_with(
        model(),
        ServerConfig::default(),
        &mut p,
        |_, p: &mut Patient| {
            p.client = Some(Client::new(addr, ClientConfig::default()));
        },
    );
    assert_eq!(
        p[0].outcome,
        Some(Err(ClientError::Io(Error::ConnectionRefused)))
    );
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let config = ServerConfig {
        idle_timeout_ms: Some(100),
        ..ServerConfig::default()
    };
    let server = Server::new(model(), config);
    let results = common::serve_while(&server, |addr| {
        vec![std::thread::spawn(move || {
            let mut s = common::connect(addr);
            let answer = common::ask(&mut s, &common::read_holding(1, 0, 1));
            let started = Instant::now();
            assert_eq!(answer, [0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0]);
            assert!(common::is_closed(&mut s));
            started.elapsed()
        })]
    });
    assert!(
        (Duration::from_millis(90)..Duration::from_secs(5)).contains(&results[0]),
        "{:?}",
        results[0]
    );
    assert_eq!(server.stats().dropped, 1);
}

#[test]
fn connections_past_the_maximum_are_refused_and_closed() {
    let config = ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    };
    let server = Server::new(model(), config);
    common::serve_while(&server, |addr| {
        vec![std::thread::spawn(move || {
            let mut a = common::connect(addr);
            let mut b = common::connect(addr);
            assert_eq!(
                common::ask(&mut a, &common::read_holding(1, 0, 1)).len(),
                11
            );
            assert_eq!(
                common::ask(&mut b, &common::read_holding(2, 0, 1)).len(),
                11
            );
            let mut c = common::connect(addr);
            assert!(common::is_closed(&mut c));
            drop(a);
            // A freed place is given to the next client.
            let mut d = common::connect(addr);
            let answer = loop {
                // `a`'s close may not have been seen yet: retry on a fresh connection.
                use std::io::Write;
                d.write_all(&common::read_holding(4, 0, 1)).unwrap();
                let mut buf = [0u8; 11];
                match std::io::Read::read(&mut d, &mut buf) {
                    Ok(11) => break buf,
                    _ => d = common::connect(addr),
                }
            };
            assert_eq!(answer, [0, 4, 0, 0, 0, 5, 1, 3, 2, 0, 0]);
        })]
    });
    let stats = server.stats();
    // `c`, and `d` as often as it came before `a`'s close was seen.
    assert!(stats.refused >= 1);
    assert_eq!(stats.accepted, 3);
}
