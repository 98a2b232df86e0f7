//! A Modbus/TCP command-line client: one request, its answer printed.
//!
//! ```text
//! cargo run --example modbus_client -- 127.0.0.1:5020 read-holding 0 10
//! cargo run --example modbus_client -- 127.0.0.1:5020 write-registers 100 1,2,3 --unit 1
//! cargo run --example modbus_client -- 127.0.0.1:5020 write-coil 7 1 --timeout-ms 500
//! ```
//!
//! Commands: `read-coils|read-discrete|read-holding|read-input ADDR COUNT`,
//! `write-coil ADDR 0|1`, `write-register ADDR VALUE`, `write-registers ADDR V1,V2,..`.
//! Reads print one `address value` line per value. An exception response, a timeout or a
//! connection failure is printed on stderr and the exit code is 1 (2 for bad arguments).
//!
//! The request runs in a protothread that embeds a `ptk_modbus` client: it awaits the call,
//! keeps the outcome in its context and stops the loop.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::task::Poll;

use ptk::{protothread, Capacities, Config, Cx, Error, EventLoop, OwnedStorage, Pt};
use ptk_modbus::client::{Client, ClientConfig, ClientError};
use ptk_modbus::limits::{MAX_READ_BITS, MAX_READ_REGISTERS, MAX_WRITE_REGISTERS};

#[derive(Clone, Copy, Debug)]
enum Command {
    ReadCoils,
    ReadDiscrete,
    ReadHolding,
    ReadInput,
    WriteCoil(bool),
    WriteRegister(u16),
    WriteRegisters,
}

/// The protothread's context: the client, the command and its buffers, the outcome.
struct Cli {
    pt: Pt,
    client: Client<1>,
    command: Command,
    address: u16,
    count: usize,
    bits: [bool; MAX_READ_BITS as usize],
    registers: [u16; MAX_READ_REGISTERS as usize],
    outcome: Option<Result<(), ClientError>>,
}

impl Cli {
    fn poll_command(&mut self, cx: &mut Cx<'_>) -> Poll<Result<(), ClientError>> {
        let (a, n) = (self.address, self.count);
        let c = &mut self.client;
        match self.command {
            Command::ReadCoils => c.poll_read_coils(cx, a, &mut self.bits[..n]),
            Command::ReadDiscrete => c.poll_read_discrete_inputs(cx, a, &mut self.bits[..n]),
            Command::ReadHolding => c.poll_read_holding_registers(cx, a, &mut self.registers[..n]),
            Command::ReadInput => c.poll_read_input_registers(cx, a, &mut self.registers[..n]),
            Command::WriteCoil(on) => c.poll_write_coil(cx, a, on),
            Command::WriteRegister(v) => c.poll_write_register(cx, a, v),
            Command::WriteRegisters => c.poll_write_registers(cx, a, &self.registers[..n]),
        }
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
    "usage: modbus_client HOST:PORT COMMAND ARGS.. [--unit N] [--timeout-ms MS]\n\
     commands:\n  \
       read-coils|read-discrete|read-holding|read-input ADDR COUNT\n  \
       write-coil ADDR 0|1\n  \
       write-register ADDR VALUE\n  \
       write-registers ADDR V1,V2,..\n\
     defaults: --unit 1 --timeout-ms 1000"
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

struct Options {
    server: SocketAddr,
    unit: u8,
    timeout_ms: u64,
    cli: Box<Cli>,
}

fn parse_args() -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut unit = 1u8;
    let mut timeout_ms = 1000u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--unit" => unit = number("--unit", &args.next().ok_or("--unit needs a value")?)?,
            "--timeout-ms" => {
                let v = args.next().ok_or("--timeout-ms needs a value")?;
                timeout_ms = number("--timeout-ms", &v)?;
            }
            "-h" | "--help" => return Err(usage().to_string()),
            _ => positional.push(arg),
        }
    }
    let [server, command, address, rest @ ..] = &positional[..] else {
        return Err(usage().to_string());
    };
    let server = server
        .to_socket_addrs()
        .map_err(|e| format!("{server}: {e}"))?
        .next()
        .ok_or(format!("{server}: no address"))?;
    let address: u16 = number("ADDR", address)?;
    let mut cli = Box::new(Cli {
        pt: Pt::new(),
        client: Client::new(server, ClientConfig::default()),
        command: Command::ReadCoils,
        address,
        count: 0,
        bits: [false; MAX_READ_BITS as usize],
        registers: [0; MAX_READ_REGISTERS as usize],
        outcome: None,
    });
    let [value] = rest else {
        return Err(format!(
            "{command} takes ADDR and one more argument\n{}",
            usage()
        ));
    };
    let read_max = |max: u16| -> Result<usize, String> {
        let n: usize = number("COUNT", value)?;
        if n == 0 || n > usize::from(max) {
            return Err(format!("COUNT must be 1..={max} for {command}"));
        }
        Ok(n)
    };
    (cli.command, cli.count) = match command.as_str() {
        "read-coils" => (Command::ReadCoils, read_max(MAX_READ_BITS)?),
        "read-discrete" => (Command::ReadDiscrete, read_max(MAX_READ_BITS)?),
        "read-holding" => (Command::ReadHolding, read_max(MAX_READ_REGISTERS)?),
        "read-input" => (Command::ReadInput, read_max(MAX_READ_REGISTERS)?),
        "write-coil" => match value.as_str() {
            "0" | "off" | "false" => (Command::WriteCoil(false), 1),
            "1" | "on" | "true" => (Command::WriteCoil(true), 1),
            other => return Err(format!("write-coil VALUE must be 0 or 1, not {other:?}")),
        },
        "write-register" => (Command::WriteRegister(number("VALUE", value)?), 1),
        "write-registers" => {
            let values: Vec<u16> = value
                .split(',')
                .map(|v| number("VALUE", v.trim()))
                .collect::<Result<_, _>>()?;
            if values.len() > usize::from(MAX_WRITE_REGISTERS) {
                return Err(format!("at most {MAX_WRITE_REGISTERS} values"));
            }
            cli.registers[..values.len()].copy_from_slice(&values);
            (Command::WriteRegisters, values.len())
        }
        other => return Err(format!("unknown command {other:?}\n{}", usage())),
    };
    Ok(Options {
        server,
        unit,
        timeout_ms,
        cli,
    })
}

/// Diagnostics go to stderr through `env_logger`: warnings, errors and notices (info) unless
/// `RUST_LOG` says otherwise (`RUST_LOG=debug`, `RUST_LOG=ptk_modbus=debug,info`, ...).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

fn main() -> ExitCode {
    init_logging();
    let mut o = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
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
    match run(&mut o.cli) {
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

fn run(cli: &mut Cli) -> Result<(), Error> {
    let capacities = Capacities {
        tcp_listeners: 0,
        tcp_streams: 1,
        timers: 2,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        buffers: 0,
        buffer_size: 0,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ())?;
    let pool = ev.add_protothreads(std::slice::from_mut(cli))?;
    ev.cx().spawn_with(pool, |_| {})?;
    ev.run()
}

fn print_result(cli: &Cli) {
    let first = usize::from(cli.address);
    let n = cli.count;
    match cli.command {
        Command::ReadCoils | Command::ReadDiscrete => {
            for (i, on) in cli.bits[..n].iter().enumerate() {
                println!("{} {}", first + i, u8::from(*on));
            }
        }
        Command::ReadHolding | Command::ReadInput => {
            for (i, value) in cli.registers[..n].iter().enumerate() {
                println!("{} {value}", first + i);
            }
        }
        Command::WriteCoil(on) => println!("wrote coil {first} = {}", u8::from(on)),
        Command::WriteRegister(v) => println!("wrote register {first} = {v}"),
        Command::WriteRegisters => {
            println!(
                "wrote {n} registers from {first}: {:?}",
                &cli.registers[..n]
            )
        }
    }
}
