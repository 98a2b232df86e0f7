//! An EtherNet/IP command-line client for Logix controllers: read and write tags, list them,
//! discover devices.
//!
//! ```text
//! cargo run --example enip_client -- 127.0.0.1:44818 read 'Program:Main.Counts[3]'
//! cargo run --example enip_client -- 127.0.0.1:44818 read 'Counts{10}'
//! cargo run --example enip_client -- 127.0.0.1:44818 --path 1,0 write Counts[3] 42
//! cargo run --example enip_client -- 127.0.0.1:44818 write Flags.5 1
//! cargo run --example enip_client -- 127.0.0.1:44818 write Name '"hello"'
//! cargo run --example enip_client -- 127.0.0.1:44818 list
//! cargo run --example enip_client -- 255.255.255.255:44818 discover
//! cargo run --example enip_client -- 127.0.0.1:44818 read-many A B C[2] Flags.3
//! ```
//!
//! `TAG{N}` reads or writes N elements from `TAG` (an array); a write takes as many values,
//! comma-separated (`write 'Counts{3}' 1,2,3`). Reads print `NAME = VALUE`, arrays as
//! `[a, b, ...]`, strings quoted. A write first reads the tag to learn its type. `list`
//! prints `NAME TYPE[dims]` for the controller's tags and every program's. `discover` sends
//! ListIdentity to ADDR:PORT (a device, or a broadcast address) and prints one line per
//! device that answers within the timeout.
//!
//! A CIP error status, a timeout or a connection failure is printed on stderr and the exit
//! code is 1 (2 for bad arguments). Logging goes to stderr through `env_logger` (`RUST_LOG`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::task::Poll;

use ptk::{protothread, BackendKind, Capacities, Config, Cx, Error, EventLoop, OwnedStorage, Pt};
use ptk_enip::client::{Client, ClientConfig, ClientError, Discovery, Route, TagRead};
use ptk_enip::limits::LOGIX_STRING_LEN;
use ptk_enip::{DataType, LogixString, TagType, Value};

/// The largest array the example reads or writes: 64 KiB of data.
const MAX_DATA: usize = 65_536;

#[derive(Clone, Debug)]
enum Command {
    Read {
        name: String,
        count: u16,
    },
    Write {
        name: String,
        count: u16,
        values: Vec<String>,
    },
    List,
    Discover,
    ReadMany(Vec<String>),
}

/// What a command printed, or why it failed.
type Outcome = Result<Vec<String>, ClientError>;

/// The protothread's context: the client, the command, its buffers, the outcome.
struct Cli {
    pt: Pt,
    client: Box<Client<4>>,
    discovery: Discovery,
    command: Command,
    data: Vec<u8>,
    read: Option<TagRead>,
    values: Vec<Result<Value, ClientError>>,
    lines: Vec<String>,
    programs: Vec<String>,
    program: usize,
    /// The tags `read-many` could not read, and why.
    failures: Vec<String>,
    outcome: Option<Outcome>,
}

#[protothread]
fn run_command(ctx: &mut Cli, cx: &mut Cx<'_>) {
    let command = ctx.command.clone();
    let outcome = match command {
        Command::Read { .. } => pt_await!(ctx.poll_read(cx)),
        Command::Write { .. } => match pt_await!(ctx.poll_read(cx)) {
            Ok(_) => pt_await!(ctx.poll_write(cx)),
            Err(e) => Err(e),
        },
        Command::List => pt_await!(ctx.poll_list(cx)),
        Command::Discover => pt_await!(ctx.poll_discover(cx)),
        Command::ReadMany(_) => pt_await!(ctx.poll_read_many(cx)),
    };
    ctx.outcome = Some(outcome);
    ctx.client.close(cx);
    ctx.discovery.close(cx);
    cx.stop();
}

impl Cli {
    /// Reads the tag of a read or write command into `data` and the printed line.
    fn poll_read(&mut self, cx: &mut Cx<'_>) -> Poll<Outcome> {
        let (Command::Read { name, count } | Command::Write { name, count, .. }) = &self.command
        else {
            return Poll::Ready(Ok(Vec::new()));
        };
        let read = match self.client.poll_read_tag(cx, name, *count, &mut self.data) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(read)) => read,
        };
        self.read = Some(read);
        let shown = format!(
            "{name}{}",
            if *count > 1 {
                format!("{{{count}}}")
            } else {
                String::new()
            }
        );
        Poll::Ready(Ok(vec![format!(
            "{shown} = {}",
            format_data(read, &self.data, *count > 1)
        )]))
    }

    /// Writes the values of a write command, of the type the read found.
    fn poll_write(&mut self, cx: &mut Cx<'_>) -> Poll<Outcome> {
        let (
            Command::Write {
                name,
                count,
                values,
            },
            Some(read),
        ) = (&self.command, self.read)
        else {
            return Poll::Ready(Ok(Vec::new()));
        };
        let r = if name
            .rsplit_once('.')
            .is_some_and(|(_, b)| b.parse::<u8>().is_ok())
        {
            match parse_bool(&values[0]) {
                Some(on) => self.client.poll_write_value(cx, name, Value::Bool(on)),
                None => return Poll::Ready(Err(bad_value())),
            }
        } else {
            let data = match encode(read.tag_type, values) {
                Some(data) => data,
                None => return Poll::Ready(Err(bad_value())),
            };
            self.client
                .poll_write_tag(cx, name, read.tag_type, *count, &data)
        };
        r.map(|r| r.map(|()| vec![format!("wrote {name} = {}", values.join(", "))]))
    }

    /// Lists the controller's tags, then each program's.
    fn poll_list(&mut self, cx: &mut Cx<'_>) -> Poll<Outcome> {
        loop {
            let scope = match self.program {
                0 => None,
                i => Some(self.programs[i - 1].clone()),
            };
            let (lines, programs) = (&mut self.lines, &mut self.programs);
            let listed = self
                .client
                .poll_list_tags(cx, scope.as_deref(), |entry| match &scope {
                    None if entry.is_program() => {
                        programs.push(String::from_utf8_lossy(entry.name).into_owned());
                    }
                    None => lines.push(entry.to_string()),
                    Some(program) => lines.push(format!("{program}.{entry}")),
                });
            match listed {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(_)) if self.program < self.programs.len() => self.program += 1,
                Poll::Ready(Ok(_)) => return Poll::Ready(Ok(std::mem::take(&mut self.lines))),
            }
        }
    }

    /// Collects the devices that answer within the discovery's window.
    fn poll_discover(&mut self, cx: &mut Cx<'_>) -> Poll<Outcome> {
        loop {
            match self.discovery.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(Some(device))) => self.lines.push(device.to_string()),
                Poll::Ready(Ok(None)) => return Poll::Ready(Ok(std::mem::take(&mut self.lines))),
            }
        }
    }

    /// Reads one value of each tag, packed in Multiple_Service_Packets.
    fn poll_read_many(&mut self, cx: &mut Cx<'_>) -> Poll<Outcome> {
        let Command::ReadMany(names) = &self.command else {
            return Poll::Ready(Ok(Vec::new()));
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match self.client.poll_read_many(cx, &refs, 8, &mut self.values) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        let mut lines = Vec::new();
        for (name, value) in names.iter().zip(&self.values) {
            match value {
                Ok(v) => lines.push(format!("{name} = {}", format_value(*v))),
                Err(e) => self.failures.push(format!("{name}: {e}")),
            }
        }
        Poll::Ready(Ok(lines))
    }
}

fn bad_value() -> ClientError {
    ClientError::InvalidRequest(ptk_enip::Error::Invalid(ptk_enip::Violation::DataType))
}

fn format_value(v: Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Sint(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        Value::Dint(v) => v.to_string(),
        Value::Lint(v) => v.to_string(),
        Value::Usint(v) => v.to_string(),
        Value::Uint(v) => v.to_string(),
        Value::Udint(v) => v.to_string(),
        Value::Ulint(v) => v.to_string(),
        Value::Real(v) => v.to_string(),
        Value::Lreal(v) => v.to_string(),
        Value::Dword(v) => v.to_string(),
    }
}

/// The data of a read as printed: a value, `[a, b, ...]` for arrays, strings quoted.
fn format_data(read: TagRead, data: &[u8], array: bool) -> String {
    let items: Vec<String> = if let Some(values) = read.elements(data) {
        values.iter().map(format_value).collect()
    } else if let Some(strings) = read.strings(data) {
        strings
            .map(|s| match s {
                Ok(s) => format!("{:?}", String::from_utf8_lossy(s.as_bytes())),
                Err(e) => format!("<{e}>"),
            })
            .collect()
    } else {
        let hex: Vec<String> = data[..read.len]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        vec![format!("<{:?} {}>", read.tag_type, hex.join(""))]
    };
    if array || items.len() != 1 {
        format!("[{}]", items.join(", "))
    } else {
        items.into_iter().next().unwrap_or_default()
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "true" | "True" | "on" => Some(true),
        "0" | "false" | "False" | "off" => Some(false),
        _ => None,
    }
}

/// The values as the data of `tag_type`, or `None` if one does not parse as it.
fn encode(tag_type: TagType, values: &[String]) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    for text in values {
        match tag_type {
            TagType::Atomic(t) => {
                let value = parse_value(t, text)?;
                let mut buf = [0u8; 8];
                let n = value.encode(&mut buf).ok()?;
                data.extend_from_slice(&buf[..n]);
            }
            TagType::LOGIX_STRING => {
                let text = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .unwrap_or(text);
                let mut buf = [0u8; LOGIX_STRING_LEN];
                LogixString::encode(text.as_bytes(), &mut buf).ok()?;
                data.extend_from_slice(&buf);
            }
            _ => return None,
        }
    }
    Some(data)
}

fn parse_value(t: DataType, s: &str) -> Option<Value> {
    Some(match t {
        DataType::Bool => Value::Bool(parse_bool(s)?),
        DataType::Sint => Value::Sint(s.parse().ok()?),
        DataType::Int => Value::Int(s.parse().ok()?),
        DataType::Dint => Value::Dint(s.parse().ok()?),
        DataType::Lint => Value::Lint(s.parse().ok()?),
        DataType::Usint => Value::Usint(s.parse().ok()?),
        DataType::Uint => Value::Uint(s.parse().ok()?),
        DataType::Udint => Value::Udint(s.parse().ok()?),
        DataType::Ulint => Value::Ulint(s.parse().ok()?),
        DataType::Real => Value::Real(s.parse().ok()?),
        DataType::Lreal => Value::Lreal(s.parse().ok()?),
        DataType::Dword => Value::Dword(s.parse().ok()?),
    })
}

fn usage() -> &'static str {
    "usage: enip_client ADDR:PORT [--backend mio|io_uring] [--path 1,0] [--timeout-ms MS] COMMAND\n\
     commands:\n  \
       read TAG                 (TAG{N}: N elements, printed as [a, b, ...])\n  \
       write TAG VALUE          (TAG{N} with N comma-separated values; bits TAG.5 take 0 or 1)\n  \
       list                     (NAME TYPE[dims], program tags as Program:X.NAME)\n  \
       discover                 (ListIdentity to ADDR:PORT, unicast or broadcast)\n  \
       read-many TAG...         (one value each, in Multiple_Service_Packets)\n\
     defaults: --backend mio (or $PTK_BACKEND) --path 1,0 (\"\" for a target reached directly) --timeout-ms 2000"
}

/// `NAME{N}` as the name and the count (1 without braces).
fn split_count(text: &str) -> Result<(String, u16), String> {
    match text.strip_suffix('}').and_then(|t| t.split_once('{')) {
        Some((name, n)) => match n.parse::<u16>() {
            Ok(n) if n > 0 => Ok((name.to_string(), n)),
            _ => Err(format!("{text}: the count in braces must be 1..=65535")),
        },
        None => Ok((text.to_string(), 1)),
    }
}

struct Options {
    backend: BackendKind,
    target: SocketAddr,
    route: Route,
    timeout_ms: u64,
    command: Command,
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut positional = Vec::new();
    let mut route = Route::BACKPLANE_SLOT_0;
    let mut timeout_ms = 2000u64;
    let mut backend = Config::default().backend;
    let mut args = args;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--path" => {
                let v = args.next().ok_or("--path needs a route such as 1,0")?;
                route = Route::parse(&v).map_err(|e| format!("--path {v:?}: {e}"))?;
            }
            "--timeout-ms" => {
                let v = args.next().ok_or("--timeout-ms needs a value")?;
                timeout_ms = v.parse().ok().filter(|&ms| ms > 0).ok_or(format!(
                    "--timeout-ms {v:?}: a number of milliseconds, at least 1"
                ))?;
            }
            "--backend" => {
                let v = args.next().ok_or("--backend needs mio or io_uring")?;
                backend = BackendKind::from_arg(&v)?;
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            _ => positional.push(arg),
        }
    }
    let [target, command, rest @ ..] = &positional[..] else {
        return Err(format!("an address and a command are needed\n{}", usage()));
    };
    let target = target
        .to_socket_addrs()
        .map_err(|e| format!("{target}: {e}"))?
        .next()
        .ok_or(format!("{target}: no address"))?;
    let command = match (command.as_str(), rest) {
        ("read", [tag]) => {
            let (name, count) = split_count(tag)?;
            Command::Read { name, count }
        }
        ("write", [tag, value]) => {
            let (name, count) = split_count(tag)?;
            let inner = value.trim().trim_start_matches('[').trim_end_matches(']');
            let values: Vec<String> = if inner.starts_with('"') {
                vec![inner.to_string()]
            } else {
                inner.split(',').map(|v| v.trim().to_string()).collect()
            };
            if values.len() != usize::from(count) {
                return Err(format!(
                    "write {tag}: {count} value(s) needed, {} given",
                    values.len()
                ));
            }
            Command::Write {
                name,
                count,
                values,
            }
        }
        ("list", []) => Command::List,
        ("discover", []) => Command::Discover,
        ("read-many", tags) if !tags.is_empty() => Command::ReadMany(tags.to_vec()),
        (other, _) => return Err(format!("bad command or arguments: {other:?}\n{}", usage())),
    };
    Ok(Parsed::Run(Options {
        backend,
        target,
        route,
        timeout_ms,
        command,
    }))
}

/// Diagnostics go to stderr through `env_logger`: warnings, errors and notices (info) unless
/// `RUST_LOG` says otherwise.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
}

fn main() -> ExitCode {
    init_logging();
    let o = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("enip_client: {msg}");
            return ExitCode::from(2);
        }
    };
    let config = ClientConfig {
        route: o.route,
        connect_timeout_ms: o.timeout_ms,
        request_timeout_ms: o.timeout_ms,
        ..ClientConfig::default()
    };
    let values = match &o.command {
        Command::ReadMany(names) => vec![Err(ClientError::Busy); names.len()],
        _ => Vec::new(),
    };
    let mut cli = Cli {
        pt: Pt::new(),
        client: Box::new(Client::new(o.target, config)),
        discovery: Discovery::new(o.target, o.timeout_ms),
        command: o.command.clone(),
        data: vec![0; MAX_DATA],
        read: None,
        values,
        lines: Vec::new(),
        programs: Vec::new(),
        program: 0,
        failures: Vec::new(),
        outcome: None,
    };
    if let Err(e) = run(&mut cli, o.backend) {
        eprintln!("enip_client: {e}");
        return ExitCode::FAILURE;
    }
    match cli.outcome {
        Some(Ok(lines)) if lines.is_empty() && matches!(o.command, Command::Discover) => {
            eprintln!(
                "enip_client: no device at {} answered within {} ms",
                o.target, o.timeout_ms
            );
            ExitCode::FAILURE
        }
        Some(Ok(lines)) => {
            for line in lines {
                println!("{line}");
            }
            for failure in &cli.failures {
                eprintln!("enip_client: {failure}");
            }
            if cli.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Some(Err(e)) => {
            eprintln!("enip_client: {}: {e}", o.target);
            ExitCode::FAILURE
        }
        None => {
            eprintln!("enip_client: the command did not finish");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &mut Cli, backend: BackendKind) -> Result<(), Error> {
    let capacities = Capacities {
        tcp_listeners: 0,
        tcp_streams: 1,
        timers: 4,
        udp_sockets: 1,
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
