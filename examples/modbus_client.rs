//! A Modbus/TCP command-line client: one request, its answer printed.
//!
//! ```text
//! cargo run --example modbus_client -- 127.0.0.1:5020 read-holding 0 10
//! cargo run --example modbus_client -- 127.0.0.1:5020 write-registers 100 1,2,3 --unit 1
//! cargo run --example modbus_client -- 127.0.0.1:5020 write-coils 7 1,0,1 --timeout-ms 500
//! cargo run --example modbus_client -- 127.0.0.1:5020 diagnostics 0x0B
//! cargo run --example modbus_client -- 127.0.0.1:5020 device-id basic
//! ```
//!
//! `--help` lists the commands. Reads print one `address value` line per value. An exception
//! response, a timeout or a connection failure is printed on stderr and the exit code is 1 (2
//! for bad arguments, which are named in the message).
//!
//! The request runs in a protothread that embeds a `ptk_modbus` client: it awaits the call,
//! keeps the outcome in its context and stops the loop.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::task::Poll;

use ptk::{protothread, BackendKind, Capacities, Config, Cx, Error, EventLoop, OwnedStorage, Pt};
use ptk_modbus::client::{Client, ClientConfig, ClientError, CommEventLogCounts};
use ptk_modbus::limits::{
    MAX_COMM_EVENTS, MAX_DIAGNOSTIC_DATA, MAX_FIFO_COUNT, MAX_READ_BITS, MAX_READ_REGISTERS,
    MAX_SERVER_ID_LEN, MAX_WRITE_BITS, MAX_WRITE_REGISTERS,
};
use ptk_modbus::{CommEventCounter, ReadDeviceIdCode, Request, Response};

#[derive(Clone, Copy, Debug)]
enum Command {
    ReadCoils,
    ReadDiscrete,
    ReadHolding,
    ReadInput,
    WriteCoil(bool),
    WriteCoils,
    WriteRegister(u16),
    WriteRegisters,
    ReadExceptionStatus,
    Diagnostics(u16),
    CommEventCounter,
    CommEventLog,
    ReportServerId,
    ReadFile { file: u16 },
    WriteFile { file: u16 },
    MaskWrite { and_mask: u16, or_mask: u16 },
    ReadFifo,
    DeviceId(ReadDeviceIdCode),
}

/// The protothread's context: the client, the command and its buffers, the outcome.
struct Cli {
    pt: Pt,
    client: Client<1>,
    command: Command,
    /// The address, record number or object id the command starts at.
    address: u16,
    count: usize,
    bits: [bool; MAX_READ_BITS as usize],
    registers: [u16; MAX_READ_REGISTERS as usize],
    bytes: [u8; MAX_SERVER_ID_LEN],
    /// Values an answer carries (registers or bytes of `bytes`).
    answered: usize,
    status: u8,
    counter: Option<CommEventCounter>,
    log: Option<CommEventLogCounts>,
    objects: Vec<(u8, Vec<u8>)>,
    more_follows: Option<u8>,
    outcome: Option<Result<(), ClientError>>,
}

impl Cli {
    fn poll_command(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), ClientError>> {
        let (a, n) = (self.address, self.count);
        let c = &mut self.client;
        let done = |r: Result<usize, ClientError>, answered: &mut usize| r.map(|v| *answered = v);
        match self.command {
            Command::ReadCoils => c.poll_read_coils(cx, a, &mut self.bits[..n]),
            Command::ReadDiscrete => c.poll_read_discrete_inputs(cx, a, &mut self.bits[..n]),
            Command::ReadHolding => c.poll_read_holding_registers(cx, a, &mut self.registers[..n]),
            Command::ReadInput => c.poll_read_input_registers(cx, a, &mut self.registers[..n]),
            Command::WriteCoil(on) => c.poll_write_coil(cx, a, on),
            Command::WriteCoils => c.poll_write_coils(cx, a, &self.bits[..n]),
            Command::WriteRegister(v) => c.poll_write_register(cx, a, v),
            Command::WriteRegisters => c.poll_write_registers(cx, a, &self.registers[..n]),
            Command::ReadExceptionStatus => c
                .poll_read_exception_status(cx)
                .map(|r| r.map(|status| self.status = status)),
            Command::Diagnostics(sub_function) => {
                let mut data = [0u16; MAX_DIAGNOSTIC_DATA];
                data[..n].copy_from_slice(&self.registers[..n]);
                c.poll_diagnostics(cx, sub_function, &data[..n], &mut self.registers)
                    .map(|r| done(r, &mut self.answered))
            }
            Command::CommEventCounter => c
                .poll_get_comm_event_counter(cx)
                .map(|r| r.map(|counter| self.counter = Some(counter))),
            Command::CommEventLog => c
                .poll_get_comm_event_log(cx, &mut self.bytes[..MAX_COMM_EVENTS])
                .map(|r| r.map(|log| self.log = Some(log))),
            Command::ReportServerId => c
                .poll_report_server_id(cx, &mut self.bytes)
                .map(|r| done(r, &mut self.answered)),
            Command::ReadFile { file } => {
                c.poll_read_file_record(cx, file, a, &mut self.registers[..n])
            }
            Command::WriteFile { file } => {
                c.poll_write_file_record(cx, file, a, &self.registers[..n])
            }
            Command::MaskWrite { and_mask, or_mask } => {
                c.poll_mask_write_register(cx, a, and_mask, or_mask)
            }
            Command::ReadFifo => c
                .poll_read_fifo_queue(cx, a, &mut self.registers[..usize::from(MAX_FIFO_COUNT)])
                .map(|r| done(r, &mut self.answered)),
            Command::DeviceId(code) => self.poll_device_id(cx, code),
        }
    }

    /// Device identification has no call of its own: the generic call, then the answer.
    fn poll_device_id(
        &mut self,
        cx: &mut Cx<'_>,
        code: ReadDeviceIdCode,
    ) -> Poll<Result<(), ClientError>> {
        let request = Request::ReadDeviceIdentification {
            code,
            object_id: self.address as u8,
        };
        let unit = self.client.config().unit_id;
        let ticket = match self.client.poll_call(cx, unit, &request) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(ticket)) => ticket,
        };
        if let Some(Response::ReadDeviceIdentification(id)) = self.client.response(ticket) {
            self.status = id.conformity_level;
            self.more_follows = id.more_follows.then_some(id.next_object_id);
            self.objects = id
                .objects
                .iter()
                .map(|o| (o.id, o.value.to_vec()))
                .collect();
        }
        Poll::Ready(Ok(()))
    }
}

#[protothread]
fn run_command(ctx: &mut Cli, cx: &mut Cx<'_>) {
    let outcome = pt_await!(ctx.poll_command(cx));
    ctx.outcome = Some(outcome);
    ctx.client.close(cx);
    cx.stop();
}

fn usage() -> &'static str {
    "usage: modbus_client HOST:PORT COMMAND ARGS.. [--unit N] [--timeout-ms MS] [--backend mio|io_uring]\n\
     commands:\n  \
       read-coils|read-discrete|read-holding|read-input ADDR COUNT\n  \
       write-coil ADDR 0|1\n  \
       write-coils ADDR B1,B2,..          (each 0 or 1)\n  \
       write-register ADDR VALUE\n  \
       write-registers ADDR V1,V2,..\n  \
       mask-write ADDR AND_MASK OR_MASK\n  \
       read-fifo ADDR\n  \
       read-file FILE RECORD COUNT\n  \
       write-file FILE RECORD V1,V2,..\n  \
       read-exception-status\n  \
       diagnostics SUB_FUNCTION [V1,V2,..] (data defaults to 0)\n  \
       comm-event-counter\n  \
       comm-event-log\n  \
       report-server-id\n  \
       device-id basic|regular|extended [OBJECT] | device-id individual OBJECT\n\
     numbers are decimal or 0x-prefixed hexadecimal\n\
     defaults: --backend mio (or $PTK_BACKEND) --unit 1 --timeout-ms 1000 (at least 1)"
}

/// A number in decimal or with a `0x` prefix.
fn number<T: TryFrom<u64>>(what: &str, s: &str) -> Result<T, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    };
    parsed
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| format!("{what}: {s:?} is not a number in range"))
}

/// A comma-separated list of numbers, 1..=`max` of them.
fn list<T: TryFrom<u64>>(what: &str, s: &str, max: usize) -> Result<Vec<T>, String> {
    let values: Vec<T> = s
        .split(',')
        .map(|v| number(what, v.trim()))
        .collect::<Result<_, _>>()?;
    if values.len() > max {
        return Err(format!(
            "{what}: at most {max} values, not {}",
            values.len()
        ));
    }
    Ok(values)
}

struct Options {
    backend: BackendKind,
    server: SocketAddr,
    unit: u8,
    timeout_ms: u64,
    cli: Box<Cli>,
}

/// What the command line asks for: options, or the usage (for `--help`).
enum Parsed {
    Run(Options),
    Help,
}

fn parse_args() -> Result<Parsed, String> {
    let mut positional = Vec::new();
    let mut unit = 1u8;
    let mut timeout_ms = 1000u64;
    let mut backend = Config::default().backend;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--unit" => unit = number("--unit", &args.next().ok_or("--unit needs a value")?)?,
            "--timeout-ms" => {
                let v = args.next().ok_or("--timeout-ms needs a value")?;
                timeout_ms = number("--timeout-ms", &v)?;
                if timeout_ms == 0 {
                    return Err(
                        "--timeout-ms must be at least 1: it bounds the connect and \
                                each request, and 0 would give neither any time"
                            .into(),
                    );
                }
            }
            "--backend" => {
                let v = args.next().ok_or("--backend needs mio or io_uring")?;
                backend = BackendKind::from_arg(&v)?;
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            _ => positional.push(arg),
        }
    }
    let [server, command, args @ ..] = &positional[..] else {
        return Err(format!("a server and a command are needed\n{}", usage()));
    };
    let server = server
        .to_socket_addrs()
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or(format!("{server}: no address"))?;
    let mut cli = Box::new(Cli {
        pt: Pt::new(),
        client: Client::new(server, ClientConfig::default()),
        command: Command::ReadCoils,
        address: 0,
        count: 0,
        bits: [false; MAX_READ_BITS as usize],
        registers: [0; MAX_READ_REGISTERS as usize],
        bytes: [0; MAX_SERVER_ID_LEN],
        answered: 0,
        status: 0,
        counter: None,
        log: None,
        objects: Vec::new(),
        more_follows: None,
        outcome: None,
    });
    let arity = |n: usize, names: &str| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("{command} takes {names}\n{}", usage()))
        }
    };
    let read_max = |value: &str, max: u16| -> Result<usize, String> {
        let n: usize = number("COUNT", value)?;
        if n == 0 || n > usize::from(max) {
            return Err(format!("COUNT must be 1..={max} for {command}"));
        }
        Ok(n)
    };
    (cli.command, cli.count) = match command.as_str() {
        "read-coils" | "read-discrete" | "read-holding" | "read-input" => {
            arity(2, "ADDR COUNT")?;
            cli.address = number("ADDR", &args[0])?;
            match command.as_str() {
                "read-coils" => (Command::ReadCoils, read_max(&args[1], MAX_READ_BITS)?),
                "read-discrete" => (Command::ReadDiscrete, read_max(&args[1], MAX_READ_BITS)?),
                "read-holding" => (
                    Command::ReadHolding,
                    read_max(&args[1], MAX_READ_REGISTERS)?,
                ),
                _ => (Command::ReadInput, read_max(&args[1], MAX_READ_REGISTERS)?),
            }
        }
        "write-coil" => {
            arity(2, "ADDR and 0 or 1")?;
            cli.address = number("ADDR", &args[0])?;
            match args[1].as_str() {
                "0" | "off" | "false" => (Command::WriteCoil(false), 1),
                "1" | "on" | "true" => (Command::WriteCoil(true), 1),
                other => return Err(format!("write-coil VALUE must be 0 or 1, not {other:?}")),
            }
        }
        "write-coils" => {
            arity(2, "ADDR and B1,B2,.. (each 0 or 1)")?;
            cli.address = number("ADDR", &args[0])?;
            let bits: Vec<u8> = list("COIL", &args[1], usize::from(MAX_WRITE_BITS))?;
            for (slot, bit) in cli.bits.iter_mut().zip(&bits) {
                *slot = match bit {
                    0 => false,
                    1 => true,
                    other => return Err(format!("write-coils: each coil is 0 or 1, not {other}")),
                };
            }
            (Command::WriteCoils, bits.len())
        }
        "write-register" => {
            arity(2, "ADDR VALUE")?;
            cli.address = number("ADDR", &args[0])?;
            (Command::WriteRegister(number("VALUE", &args[1])?), 1)
        }
        "write-registers" => {
            arity(2, "ADDR V1,V2,..")?;
            cli.address = number("ADDR", &args[0])?;
            let values: Vec<u16> = list("VALUE", &args[1], usize::from(MAX_WRITE_REGISTERS))?;
            cli.registers[..values.len()].copy_from_slice(&values);
            (Command::WriteRegisters, values.len())
        }
        "mask-write" => {
            arity(3, "ADDR AND_MASK OR_MASK")?;
            cli.address = number("ADDR", &args[0])?;
            let and_mask = number("AND_MASK", &args[1])?;
            let or_mask = number("OR_MASK", &args[2])?;
            (Command::MaskWrite { and_mask, or_mask }, 1)
        }
        "read-fifo" => {
            arity(1, "ADDR")?;
            cli.address = number("ADDR", &args[0])?;
            (Command::ReadFifo, 0)
        }
        "read-file" => {
            arity(3, "FILE RECORD COUNT")?;
            cli.address = number("RECORD", &args[1])?;
            let file = number("FILE", &args[0])?;
            (Command::ReadFile { file }, read_max(&args[2], 124)?)
        }
        "write-file" => {
            arity(3, "FILE RECORD V1,V2,..")?;
            cli.address = number("RECORD", &args[1])?;
            let file = number("FILE", &args[0])?;
            let values: Vec<u16> = list("VALUE", &args[2], 122)?;
            cli.registers[..values.len()].copy_from_slice(&values);
            (Command::WriteFile { file }, values.len())
        }
        "read-exception-status" | "comm-event-counter" | "comm-event-log" | "report-server-id" => {
            arity(0, "no arguments")?;
            let c = match command.as_str() {
                "read-exception-status" => Command::ReadExceptionStatus,
                "comm-event-counter" => Command::CommEventCounter,
                "comm-event-log" => Command::CommEventLog,
                _ => Command::ReportServerId,
            };
            (c, 0)
        }
        "diagnostics" => {
            let (sub, data) = match args {
                [sub] => (sub, vec![0u16]),
                [sub, data] => (sub, list("DATA", data, MAX_DIAGNOSTIC_DATA)?),
                _ => {
                    return Err(format!(
                        "diagnostics takes SUB_FUNCTION [V1,V2,..]\n{}",
                        usage()
                    ))
                }
            };
            cli.registers[..data.len()].copy_from_slice(&data);
            (
                Command::Diagnostics(number("SUB_FUNCTION", sub)?),
                data.len(),
            )
        }
        "device-id" => {
            let (code, object) = match args {
                [code] => (code, None),
                [code, object] => (code, Some(object)),
                _ => return Err(format!("device-id takes a code and an object\n{}", usage())),
            };
            let code = match code.as_str() {
                "basic" => ReadDeviceIdCode::Basic,
                "regular" => ReadDeviceIdCode::Regular,
                "extended" => ReadDeviceIdCode::Extended,
                "individual" => ReadDeviceIdCode::Individual,
                other => {
                    return Err(format!(
                        "device-id code is basic, regular, extended or individual, not {other:?}"
                    ))
                }
            };
            cli.address = match object {
                Some(object) => u16::from(number::<u8>("OBJECT", object)?),
                None if code == ReadDeviceIdCode::Individual => {
                    return Err("device-id individual needs an OBJECT id".into())
                }
                None => 0,
            };
            (Command::DeviceId(code), 0)
        }
        other => return Err(format!("unknown command {other:?}\n{}", usage())),
    };
    Ok(Parsed::Run(Options {
        backend,
        server,
        unit,
        timeout_ms,
        cli,
    }))
}

/// Diagnostics go to stderr through `env_logger`: warnings, errors and notices (info) unless
/// `RUST_LOG` says otherwise (`RUST_LOG=debug`, `RUST_LOG=ptk_modbus=debug,info`, ...).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

fn main() -> ExitCode {
    init_logging();
    let mut o = match parse_args() {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("modbus_client: {msg}");
            return ExitCode::from(2);
        }
    };
    let config = ClientConfig {
        unit_id: o.unit,
        connect_timeout_ms: o.timeout_ms,
        request_timeout_ms: o.timeout_ms,
        ..ClientConfig::default()
    };
    o.cli.client = Client::new(o.server, config);
    match run(&mut o.cli, o.backend) {
        Ok(()) => {}
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    }
    match o.cli.outcome {
        Some(Ok(())) => {
            print_result(&o.cli);
            ExitCode::SUCCESS
        }
        Some(Err(e)) => {
            log::error!("{}: {e}", o.server);
            ExitCode::FAILURE
        }
        None => {
            log::error!("the request did not finish");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &mut Cli, backend: BackendKind) -> Result<(), Error> {
    let capacities = Capacities {
        tcp_listeners: 0,
        tcp_streams: 1,
        timers: 2,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: 0,
        buffer_size: 0,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(
        memory.storage(),
        Config {
            backend,
            ..Config::default()
        },
        (),
    )?;
    let pool = ev.add_protothreads(std::slice::from_mut(cli))?;
    ev.cx().spawn_with(pool, |_| {})?;
    ev.run()
}

fn print_result(cli: &Cli) {
    let first = usize::from(cli.address);
    let n = cli.count;
    let values = |registers: &[u16]| {
        for (i, value) in registers.iter().enumerate() {
            println!("{} {value}", first + i);
        }
    };
    match cli.command {
        Command::ReadCoils | Command::ReadDiscrete => {
            for (i, on) in cli.bits[..n].iter().enumerate() {
                println!("{} {}", first + i, u8::from(*on));
            }
        }
        Command::ReadHolding | Command::ReadInput => values(&cli.registers[..n]),
        Command::WriteCoil(on) => println!("wrote coil {first} = {}", u8::from(on)),
        Command::WriteCoils => {
            let bits: Vec<u8> = cli.bits[..n].iter().map(|b| u8::from(*b)).collect();
            println!("wrote {n} coils from {first}: {bits:?}");
        }
        Command::WriteRegister(v) => println!("wrote register {first} = {v}"),
        Command::WriteRegisters => {
            println!(
                "wrote {n} registers from {first}: {:?}",
                &cli.registers[..n]
            )
        }
        Command::MaskWrite { and_mask, or_mask } => {
            println!("masked register {first}: AND {and_mask:#06x} OR {or_mask:#06x}")
        }
        Command::ReadFifo => {
            let shown = cli.answered.min(usize::from(MAX_FIFO_COUNT));
            println!("{} queued", cli.answered);
            for (i, value) in cli.registers[..shown].iter().enumerate() {
                println!("{i} {value}");
            }
        }
        Command::ReadFile { file } => {
            println!("file {file}");
            values(&cli.registers[..n]);
        }
        Command::WriteFile { file } => {
            println!(
                "wrote {n} records of file {file} from {first}: {:?}",
                &cli.registers[..n]
            )
        }
        Command::ReadExceptionStatus => println!("exception status {:#010b}", cli.status),
        Command::Diagnostics(sub_function) => {
            let shown = cli.answered.min(cli.registers.len());
            println!(
                "diagnostics {sub_function:#06x}: {:?}",
                &cli.registers[..shown]
            );
        }
        Command::CommEventCounter => {
            if let Some(c) = cli.counter {
                println!("busy {} events {}", c.busy, c.event_count);
            }
        }
        Command::CommEventLog => {
            if let Some(log) = cli.log {
                let shown = log.events.min(MAX_COMM_EVENTS);
                println!(
                    "busy {} events {} messages {} log (newest first) {:02x?}",
                    log.busy,
                    log.event_count,
                    log.message_count,
                    &cli.bytes[..shown]
                );
            }
        }
        Command::ReportServerId => {
            let data = &cli.bytes[..cli.answered.min(cli.bytes.len())];
            println!(
                "server id {:02x?} ({})",
                data,
                String::from_utf8_lossy(data).escape_debug()
            );
        }
        Command::DeviceId(_) => {
            println!("conformity level {:#04x}", cli.status);
            for (id, value) in &cli.objects {
                println!("{id:#04x} {}", String::from_utf8_lossy(value));
            }
            if let Some(next) = cli.more_follows {
                println!("more follows from object {next:#04x}");
            }
        }
    }
}
