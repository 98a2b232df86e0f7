//! An EtherNet/IP server: a Logix-like controller holding the tags named on the command line.
//!
//! ```text
//! cargo run --release --example enip_server -- --bind 127.0.0.1:44818 Counts=DINT[10] Name=STRING Flag=BOOL
//! ```
//!
//! Tags are `NAME=TYPE` or `NAME=TYPE[N]`, TYPE one of BOOL SINT INT DINT LINT USINT UINT
//! UDINT ULINT REAL LREAL STRING (a Logix STRING, 82 characters); a BOOL array holds a
//! multiple of 32 bits and is served as DWORDs, as a controller does. All start at zero.
//! `Program:PROGRAM.NAME=TYPE[N]` makes a tag of program PROGRAM (program-scoped, read as
//! `Program:Main.Counts[3]`); the tag list names each program as a controller does.
//! pylogix, pycomm3 and the ptk client read, write and list them: sessions, Forward Open and
//! Large Forward Open (4,002 bytes), connected and unconnected messaging, fragmented reads and
//! writes, bit writes, multiple service packets, the tag list and the STRING template.
//! ListIdentity is answered over UDP on the same port as TCP, for discovery.
//!
//! The first line on stdout is `listening on ADDR:PORT`. Ctrl-C (or `kill`) stops the loop
//! through signal watchers, on the loop's own thread; the server then prints what it did on
//! stderr (`--stats` prints it on stdout instead, as `key value` lines a benchmark can read:
//! `requests` is the number of round trips clients made).

use std::net::SocketAddr;
use std::process::ExitCode;

use ptk::signals::{SIGINT, SIGTERM};
use ptk::{BackendKind, Capacities, Config, Error, EventLoop, ListenOptions, OwnedStorage};
use ptk_enip::server::{
    ConnectionEvent, MemoryTags, Server, ServerConfig, ServerStats, ServerStorage, TagTable,
    REPLY_BUFFER_LEN,
};

struct Options {
    backend: BackendKind,
    bind: SocketAddr,
    max_connections: usize,
    stats: bool,
    quiet: bool,
    tags: MemoryTags,
}

fn usage() -> &'static str {
    "usage: enip_server [--backend mio|io_uring] [--bind ADDR:PORT] [--max-connections N] [--stats] [--quiet] \
     NAME=TYPE[N] ...\n\
     TYPE: BOOL SINT INT DINT LINT USINT UINT UDINT ULINT REAL LREAL STRING, [N] for an \
     array (BOOL: a multiple of 32)\n\
     Program:PROGRAM.NAME=TYPE[N]: a tag of program PROGRAM (program-scoped)\n\
     defaults: --backend mio (or $PTK_BACKEND) --bind 127.0.0.1:44818 --max-connections 64\n\
     --stats: print the server's counters on stdout at exit (else on stderr)"
}

enum Parsed {
    Run(Options),
    Help,
}

fn parse_args() -> Result<Parsed, String> {
    let mut bind = SocketAddr::from(([127, 0, 0, 1], 44818));
    let mut max_connections = 64;
    let mut stats = false;
    let mut quiet = false;
    let mut backend = Config::default().backend;
    let mut specs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bind" => {
                let v = value("--bind")?;
                bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?;
            }
            "--max-connections" => {
                let v = value("--max-connections")?;
                max_connections = v
                    .parse()
                    .map_err(|e| format!("--max-connections {v}: {e}"))?;
            }
            "--stats" => stats = true,
            "--quiet" => quiet = true,
            "--backend" => backend = BackendKind::from_arg(&value("--backend")?)?,
            "-h" | "--help" => return Ok(Parsed::Help),
            other if other.starts_with("--") => {
                return Err(format!("unknown argument {other}\n{}", usage()))
            }
            spec => specs.push(spec.to_string()),
        }
    }
    if max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    if specs.is_empty() {
        return Err(format!("no tags given\n{}", usage()));
    }
    let tags = MemoryTags::from_specs(&specs).map_err(|e| e.to_string())?;
    Ok(Parsed::Run(Options {
        backend,
        bind,
        max_connections,
        stats,
        quiet,
        tags,
    }))
}

/// One line per connection event, on stderr (stdout is for the address and the stats).
fn report(event: &ConnectionEvent) {
    match event {
        ConnectionEvent::Accepted { stream, peer } => eprintln!("{stream}: accepted from {peer}"),
        ConnectionEvent::Refused { peer, reason } => eprintln!("refused {peer}: {reason}"),
        ConnectionEvent::Closed {
            stream,
            peer,
            requests,
            reason: Ok(()),
        } => eprintln!("{stream}: {peer} closed after {requests} packets"),
        ConnectionEvent::Closed {
            stream,
            peer,
            requests,
            reason: Err(e),
        } => eprintln!("{stream}: closed {peer} after {requests} packets: {e}"),
    }
}

/// Diagnostics go to stderr through `env_logger`: warnings, errors and notices (info) unless
/// `RUST_LOG` says otherwise (`RUST_LOG=debug`, `RUST_LOG=ptk_enip=debug,info`, ...).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

fn main() -> ExitCode {
    init_logging();
    let options = match parse_args() {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match serve(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn print_stats(stats: &ServerStats, to_stdout: bool) {
    let lines = [
        ("accepted", stats.accepted),
        ("refused", stats.refused),
        ("requests", stats.requests),
        ("cip_requests", stats.cip_requests),
        ("embedded_requests", stats.embedded_requests),
        ("datagrams", stats.datagrams),
        ("dropped", stats.dropped),
    ];
    for (key, value) in lines {
        if to_stdout {
            println!("{key} {value}");
        } else {
            eprintln!("enip_server: {key} {value}");
        }
    }
}

fn serve(o: Options) -> Result<(), Error> {
    let config = ServerConfig {
        max_connections: o.max_connections,
        on_connection: (!o.quiet).then_some(report as fn(&ConnectionEvent)),
        ..ServerConfig::default()
    };
    let tag_count = o.tags.len();
    let programs = o.tags.programs();
    let program_tags: u32 = (1..=programs)
        .filter_map(|p| o.tags.program(p))
        .map(|tags| tags.len())
        .sum();
    let server = Server::new(o.tags, config);

    // Two buffers per connection (a packet and its reply), a few large ones for requests
    // longer than a small buffer.
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections + 1,
        timers: o.max_connections + 1,
        udp_sockets: 1,
        user_event_sources: 0,
        semaphores: 0,
        signals: 2,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: 2 * o.max_connections + 4,
        buffer_size: REPLY_BUFFER_LEN.next_power_of_two(),
        large_buffers: 4,
        large_buffer_size: config.max_packet_len,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: o.max_connections + 2,
        backend: o.backend,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ())?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    let addr = ev.local_addr(listener.raw())?;
    // ListIdentity datagrams on the same address and port.
    let udp = ev.udp_bind(addr)?;
    ev.set_broadcast(udp, true)?;
    server.start(&mut ev, listener, Some(udp), &mut storage)?;

    // Ctrl-C or `kill` stops the loop, on the loop's thread (no signal thread).
    ev.stop_on_signals(&[SIGINT, SIGTERM])?;
    println!("listening on {addr}");
    eprintln!(
        "enip_server: {tag_count} controller tags, {program_tags} tags in {programs} programs, \
         {} connections max, ListIdentity over UDP on the same port; Ctrl-C stops",
        o.max_connections
    );
    ev.run()?;

    ev.close_all();
    drop(ev);
    print_stats(&server.stats(), o.stats);
    Ok(())
}
