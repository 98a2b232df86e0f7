//! A Modbus/TCP server: 10,000 coils, discrete inputs, holding registers and input registers
//! from address 0, in memory.
//!
//! ```text
//! cargo run --release --example modbus_server -- --bind 127.0.0.1:5020
//! ```
//!
//! One protothread accepts; one protothread per connection answers requests in order from the
//! shared in-memory model. Coils and holding registers are written by clients (function codes
//! 5, 6, 15, 16, 22, 23); discrete inputs and input registers are read-only on the wire and start
//! with a pattern (input `i` is on when `i` is odd, input register `i` holds `i`) so reads show
//! something. Files 1 to 4 of 10,000 records each serve read and write file record (20, 21);
//! read FIFO queue (24) at address `a` reads holding register `a` as the count and the ones
//! after it as the queue; read exception status (7), diagnostics (8), the comm event counter
//! and log (11, 12), report server id (17) and device identification (43 / 14) answer too. Ctrl-C (or `kill`) stops the loop through signal watchers, on the loop's own
//! thread, and the server closes every connection before it exits.
//!
//! Requests and answers live in the loop's buffer pool (`--buffers` buffers of 1 KiB, by
//! default two per connection and 8 more): a connection holds one only while it has requests
//! to answer or answers to send, none while idle. At exit the server says how many were in use
//! at most.

use std::net::SocketAddr;
use std::process::ExitCode;

use ptk::signals::{SIGINT, SIGTERM};
use ptk::{BackendKind, Capacities, Config, Error, EventLoop, ListenOptions, OwnedStorage};
use ptk_modbus::server::{ConnectionEvent, MemoryModel, Server, ServerConfig, ServerStorage};

/// Entries of each table.
const TABLE: usize = 10_000;
/// Files of 10,000 records (numbered 1..=FILES).
const FILES: usize = 4;

struct Options {
    backend: BackendKind,
    bind: SocketAddr,
    max_connections: usize,
    idle_timeout_ms: u64,
    /// Pool buffers; `None`: two per connection and 8 more.
    buffers: Option<usize>,
    quiet: bool,
}

/// Bytes per pool buffer: a few Modbus frames (at most 260 bytes each).
const BUFFER_SIZE: usize = 1024;

fn usage() -> &'static str {
    "usage: modbus_server [--backend mio|io_uring] [--bind ADDR:PORT] [--max-connections N] [--idle-timeout-ms MS] \
     [--buffers N] [--quiet]\n\
     defaults: --backend mio (or $PTK_BACKEND) --bind 127.0.0.1:5020 --max-connections 256 --idle-timeout-ms 60000 \
     (0: never) --buffers 2 * max-connections + 8 (at least 2)"
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        backend: Config::default().backend,
        bind: SocketAddr::from(([127, 0, 0, 1], 5020)),
        max_connections: 256,
        idle_timeout_ms: 60_000,
        buffers: None,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bind" => {
                let v = value("--bind")?;
                o.bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?;
            }
            "--max-connections" => {
                let v = value("--max-connections")?;
                o.max_connections = v
                    .parse()
                    .map_err(|e| format!("--max-connections {v}: {e}"))?;
            }
            "--idle-timeout-ms" => {
                let v = value("--idle-timeout-ms")?;
                o.idle_timeout_ms = v
                    .parse()
                    .map_err(|e| format!("--idle-timeout-ms {v}: {e}"))?;
            }
            "--buffers" => {
                let v = value("--buffers")?;
                o.buffers = Some(v.parse().map_err(|e| format!("--buffers {v}: {e}"))?);
            }
            "--quiet" => o.quiet = true,
            "--backend" => o.backend = BackendKind::from_arg(&value("--backend")?)?,
            "-h" | "--help" => return Err(usage().to_string()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    if o.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    if o.buffers.is_some_and(|n| n < 2) {
        return Err("--buffers must be at least 2".into());
    }
    Ok(o)
}

/// One line per connection event.
fn report(event: &ConnectionEvent) {
    match event {
        ConnectionEvent::Accepted { stream, peer } => println!("{stream}: accepted from {peer}"),
        ConnectionEvent::Refused { peer, reason } => println!("refused {peer}: {reason}"),
        ConnectionEvent::Closed {
            stream,
            peer,
            requests,
            reason: Ok(()),
        } => println!("{stream}: {peer} closed after {requests} requests"),
        ConnectionEvent::Closed {
            stream,
            peer,
            requests,
            reason: Err(e),
        } => println!("{stream}: closed {peer} after {requests} requests: {e}"),
    }
}

/// Diagnostics go to stderr through `env_logger`: warnings, errors and notices (info) unless
/// `RUST_LOG` says otherwise (`RUST_LOG=debug`, `RUST_LOG=ptk_modbus=debug,info`, ...).
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

fn main() -> ExitCode {
    init_logging();
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(o: &Options) -> Result<(), Error> {
    let config = ServerConfig {
        max_connections: o.max_connections,
        idle_timeout_ms: (o.idle_timeout_ms > 0).then_some(o.idle_timeout_ms),
        on_connection: (!o.quiet).then_some(report as fn(&ConnectionEvent)),
        ..ServerConfig::default()
    };
    let mut model = MemoryModel::new(TABLE).with_files(FILES, 10_000);
    for (i, input) in model.discrete_inputs_mut().iter_mut().enumerate() {
        *input = i % 2 == 1;
    }
    for (i, register) in model.input_registers_mut().iter_mut().enumerate() {
        *register = i as u16;
    }
    let server = Server::new(model, config);

    let buffers = o.buffers.unwrap_or(2 * o.max_connections + 8);
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections + 1,
        timers: o.max_connections + 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 2,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers,
        buffer_size: BUFFER_SIZE,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: o.max_connections + 1,
        backend: o.backend,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ())?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    server.start(&mut ev, listener, &mut storage)?;

    // Ctrl-C or `kill` stops the loop, on the loop's thread (no signal thread).
    ev.stop_on_signals(&[SIGINT, SIGTERM])?;
    println!(
        "modbus_server: listening on {} for any unit id ({} connections max, {buffers} buffers \
         of {BUFFER_SIZE} bytes)",
        ev.local_addr(listener.raw())?,
        o.max_connections
    );
    println!(
        "  coils 0..{TABLE} and holding registers 0..{TABLE}: read/write, all 0 at start\n  \
         discrete inputs 0..{TABLE}: read-only, odd addresses on\n  \
         input registers 0..{TABLE}: read-only, register i holds i\n  \
         files 1..={FILES}: records 0..10000, all 0 at start\n\
         Ctrl-C stops"
    );
    ev.run()?;

    let open = server.stats().open;
    let pool = ev.buffer_stats();
    ev.close_all();
    drop(ev);
    let stats = server.stats();
    println!(
        "modbus_server: stopped; {} connections served, {} requests answered, {open} still \
         open were closed",
        stats.accepted, stats.requests
    );
    println!(
        "modbus_server: buffers: at most {} of {buffers} in use at once, reads paused {} times \
         for the pool",
        pool.peak_in_use, pool.pool_pauses
    );
    Ok(())
}
