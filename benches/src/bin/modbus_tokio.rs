//! A tokio-modbus server for the Modbus benchmark, written the way its own `tcp-server` example
//! is.
//!
//! ```text
//! modbus_tokio --bind 127.0.0.1:0 --max-connections 100 --messages 200000
//! ```
//!
//! `tokio_modbus::server::tcp::Server` on the current-thread runtime (single-threaded like
//! ptk), one [`Service`] per connection sharing in-memory tables of 10,000 coils, discrete
//! inputs, holding registers and input registers behind an `Arc<Mutex<_>>` (a `Service`'s
//! future must be `Send`), answering with `std::future::Ready`. `TCP_NODELAY` is set on each
//! accepted socket, as ptk-modbus does. The [`Meter`] counts each request the service answers;
//! the one that completes `--messages` wakes the accepting task, which stops the server after
//! that request's answer is written (the connection task writes it before it yields).
//! `--max-frame` is accepted and ignored.

use std::future::{ready, Ready};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ptk_bench::{Args, Meter, ServerOptions};
use tokio::net::TcpSocket;
use tokio::sync::Notify;
use tokio_modbus::server::tcp::Server;
use tokio_modbus::server::Service;
use tokio_modbus::{ExceptionCode, Request, Response};

#[global_allocator]
static ALLOC: ptk_bench::CountingAlloc = ptk_bench::CountingAlloc;

/// Entries of each table.
const TABLE: usize = 10_000;

/// Woken by the service when it answers the last request.
static DONE: Notify = Notify::const_new();
/// Connections being served.
static OPEN: AtomicUsize = AtomicUsize::new(0);

struct Tables {
    coils: Vec<bool>,
    discrete_inputs: Vec<bool>,
    holding_registers: Vec<u16>,
    input_registers: Vec<u16>,
    /// Set once the listener is ready, so start-up is not metered.
    meter: Option<Meter>,
}

/// `table[address..address + quantity]`, or `IllegalDataAddress`.
fn range<T>(table: &[T], address: u16, quantity: usize) -> Result<&[T], ExceptionCode> {
    let start = usize::from(address);
    table
        .get(start..start + quantity)
        .ok_or(ExceptionCode::IllegalDataAddress)
}

fn range_mut<T>(table: &mut [T], address: u16, quantity: usize) -> Result<&mut [T], ExceptionCode> {
    let start = usize::from(address);
    table
        .get_mut(start..start + quantity)
        .ok_or(ExceptionCode::IllegalDataAddress)
}

impl Tables {
    fn answer(&mut self, req: Request<'static>) -> Result<Response, ExceptionCode> {
        match req {
            Request::ReadCoils(a, n) => Ok(Response::ReadCoils(
                range(&self.coils, a, n.into())?.to_vec(),
            )),
            Request::ReadDiscreteInputs(a, n) => Ok(Response::ReadDiscreteInputs(
                range(&self.discrete_inputs, a, n.into())?.to_vec(),
            )),
            Request::ReadHoldingRegisters(a, n) => Ok(Response::ReadHoldingRegisters(
                range(&self.holding_registers, a, n.into())?.to_vec(),
            )),
            Request::ReadInputRegisters(a, n) => Ok(Response::ReadInputRegisters(
                range(&self.input_registers, a, n.into())?.to_vec(),
            )),
            Request::WriteSingleCoil(a, v) => {
                range_mut(&mut self.coils, a, 1)?[0] = v;
                Ok(Response::WriteSingleCoil(a, v))
            }
            Request::WriteMultipleCoils(a, v) => {
                range_mut(&mut self.coils, a, v.len())?.copy_from_slice(&v);
                Ok(Response::WriteMultipleCoils(a, v.len() as u16))
            }
            Request::WriteSingleRegister(a, v) => {
                range_mut(&mut self.holding_registers, a, 1)?[0] = v;
                Ok(Response::WriteSingleRegister(a, v))
            }
            Request::WriteMultipleRegisters(a, v) => {
                range_mut(&mut self.holding_registers, a, v.len())?.copy_from_slice(&v);
                Ok(Response::WriteMultipleRegisters(a, v.len() as u16))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

/// The service of one connection.
struct Conn {
    tables: Arc<Mutex<Tables>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Service for Conn {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let mut tables = match self.tables.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let answer = tables.answer(req);
        if tables.meter.as_mut().is_some_and(|m| m.count(1)) {
            DONE.notify_one();
        }
        ready(answer)
    }
}

async fn serve(o: ServerOptions) -> std::io::Result<Meter> {
    // `TcpListener::bind` would leave the accept queue at mio's 128; 1024 as ptk.
    let sock = if o.bind.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(o.bind)?;
    let listener = sock.listen(1024)?;
    println!("{}", listener.local_addr()?);
    let tables = Arc::new(Mutex::new(Tables {
        coils: vec![false; TABLE],
        discrete_inputs: vec![false; TABLE],
        holding_registers: vec![0; TABLE],
        input_registers: vec![0; TABLE],
        meter: None,
    }));
    let max = o.max_connections;
    let on_connected = |stream: tokio::net::TcpStream, _peer| {
        let service = if OPEN.load(Ordering::Relaxed) < max {
            OPEN.fetch_add(1, Ordering::Relaxed);
            Some(Conn {
                tables: Arc::clone(&tables),
            })
        } else {
            None // full: dropping the socket closes it
        };
        async move {
            let Some(service) = service else {
                return Ok(None);
            };
            stream.set_nodelay(true)?;
            Ok(Some((service, stream)))
        }
    };
    let on_process_error = |e: std::io::Error| eprintln!("modbus_tokio: connection: {e}");
    let server = Server::new(listener);
    lock(&tables).meter = Some(Meter::start(o.messages));
    tokio::select! {
        served = server.serve(&on_connected, on_process_error) => served?,
        () = DONE.notified() => {}
    }
    let meter = lock(&tables).meter.take();
    meter.ok_or_else(|| std::io::Error::other("the meter is gone"))
}

fn lock(tables: &Mutex<Tables>) -> std::sync::MutexGuard<'_, Tables> {
    match tables.lock() {
        Ok(t) => t,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: modbus_tokio [flags]";
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
        eprintln!("modbus_tokio: cannot raise the descriptor limit: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modbus_tokio: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(meter) => {
            eprintln!("{}", meter.report("tokio-modbus"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("modbus_tokio: {e}");
            ExitCode::FAILURE
        }
    }
}
