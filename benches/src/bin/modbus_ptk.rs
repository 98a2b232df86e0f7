//! The Modbus/TCP server of `ptk-modbus` for the Modbus benchmark.
//!
//! ```text
//! modbus_ptk --bind 127.0.0.1:0 --max-connections 100 --messages 200000
//! ```
//!
//! `ptk_modbus::server::Server` over a `MemoryModel` of 10,000 coils, discrete inputs, holding
//! registers and input registers, as `examples/modbus_server.rs` starts it, without the idle
//! timeout (tokio-modbus has none) and without connection reports. The driver has no hook per
//! request, so the data model is wrapped: every call of the model is one request answered
//! (the benchmark sends only requests that make one call: read holding registers and write
//! single register), counted by the [`Meter`], and the request that completes `--messages`
//! stops the loop through a `LoopRemote`, after the loop iteration that writes its answer.
//! The wrapper allocates nothing. `--max-frame` is accepted and ignored (Modbus frames are at
//! most 260 bytes). Requests and answers live in the loop's buffer pool, as in
//! `examples/modbus_server.rs`: two buffers of 1 KiB per connection and 8 more.

use std::process::ExitCode;

use ptk::{Capacities, Config, Error, EventLoop, ListenOptions, LoopRemote, OwnedStorage};
use ptk_bench::{Args, Meter, ServerOptions};
use ptk_modbus::server::{DataModel, MemoryModel, Server, ServerConfig, ServerStorage};
use ptk_modbus::ExceptionCode;

#[global_allocator]
static ALLOC: ptk_bench::CountingAlloc = ptk_bench::CountingAlloc;

/// Entries of each table.
const TABLE: usize = 10_000;

/// A [`MemoryModel`] that counts the requests it answers and stops the loop after the last.
struct Counted {
    tables: MemoryModel,
    /// Set once the listener is ready, so start-up is not metered.
    meter: Option<Meter>,
    remote: Option<LoopRemote>,
}

impl Counted {
    #[inline]
    fn count<T>(&mut self, answered: T) -> T {
        if self.meter.as_mut().is_some_and(|m| m.count(1)) {
            if let Some(remote) = &self.remote {
                remote.stop();
            }
        }
        answered
    }
}

impl DataModel for Counted {
    fn read_coils(&mut self, address: u16, values: &mut [bool]) -> Result<(), ExceptionCode> {
        let r = self.tables.read_coils(address, values);
        self.count(r)
    }

    fn read_discrete_inputs(
        &mut self,
        address: u16,
        values: &mut [bool],
    ) -> Result<(), ExceptionCode> {
        let r = self.tables.read_discrete_inputs(address, values);
        self.count(r)
    }

    fn read_holding_registers(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        let r = self.tables.read_holding_registers(address, values);
        self.count(r)
    }

    fn read_input_registers(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        let r = self.tables.read_input_registers(address, values);
        self.count(r)
    }

    fn write_coils(&mut self, address: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        let r = self.tables.write_coils(address, values);
        self.count(r)
    }

    fn write_registers(&mut self, address: u16, values: &[u16]) -> Result<(), ExceptionCode> {
        let r = self.tables.write_registers(address, values);
        self.count(r)
    }
}

/// Serves until `o.messages` requests were answered.
fn serve(o: &ServerOptions) -> Result<Meter, Error> {
    let config = ServerConfig {
        max_connections: o.max_connections,
        idle_timeout_ms: None,
        on_connection: None,
        ..ServerConfig::default()
    };
    let model = Counted {
        tables: MemoryModel::new(TABLE),
        meter: None,
        remote: None,
    };
    let server = Server::new(model, config);
    let capacities = Capacities {
        tcp_listeners: 1,
        tcp_streams: o.max_connections + 1,
        timers: 1,
        udp_sockets: 0,
        user_event_sources: 0,
        semaphores: 0,
        signals: 0,
        defers: 0,
        idles: 0,
        periodics: 0,
        file_ops: 0,
        file_op_size: 0,
        buffers: 2 * o.max_connections + 8,
        buffer_size: 1024,
        large_buffers: 0,
        large_buffer_size: 0,
    };
    let mut memory = OwnedStorage::new(capacities);
    let mut storage = ServerStorage::new(&config);
    let loop_config = Config {
        protothreads: o.max_connections + 1,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), loop_config, ())?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    server.start(&mut ev, listener, &mut storage)?;
    server.model().remote = Some(ev.remote());
    println!("{}", ev.local_addr(listener.raw())?);
    server.model().meter = Some(Meter::start(o.messages));
    ev.run()?;
    let meter = server.model().meter.take();
    meter.ok_or(Error::InvalidArgument)
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: modbus_ptk [flags]";
    let options = Args::parse(USAGE).and_then(|mut args| {
        let o = ServerOptions::take(&mut args)?;
        args.finish().map(|()| o)
    });
    let options = match options {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}\n{}", ServerOptions::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ptk_bench::raise_fd_limit() {
        eprintln!("modbus_ptk: cannot raise the descriptor limit: {e}");
    }
    match serve(&options) {
        Ok(meter) => {
            eprintln!("{}", meter.report("ptk-modbus"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modbus_ptk: {e}");
            ExitCode::FAILURE
        }
    }
}
