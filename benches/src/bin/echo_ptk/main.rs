//! The framed echo server on ptk's event loop.
//!
//! ```text
//! echo_ptk --impl callbacks --bind 127.0.0.1:0 --max-connections 10000 --messages 1000000
//! ```
//!
//! `--impl` picks how the server is written on the loop; each way lives in its own module
//! with the same entry point, `serve(&ServerOptions) -> Result<Meter, ptk::Error>`:
//!
//! * `protothreads` (default) — an acceptor and one protothread per connection, as
//!   `examples/echo_server.rs`;
//! * `callbacks` — handlers on `EventLoop`, the same logic written as callbacks.

use std::process::ExitCode;

use ptk_bench::{Args, ServerOptions};

mod callbacks;
mod protothreads;

/// The ways of writing the server that `--impl` can pick.
const IMPLS: &str = "protothreads, callbacks";

fn main() -> ExitCode {
    const USAGE: &str = "usage: echo_ptk [--impl protothreads|callbacks] [flags]";
    let options = Args::parse(USAGE).and_then(|mut args| {
        let o = ServerOptions::take(&mut args)?;
        let imp: String = args.take("--impl", "protothreads".to_string())?;
        args.finish().map(|()| (o, imp))
    });
    let (options, imp) = match options {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}\n{}", ServerOptions::USAGE);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = ptk_bench::raise_fd_limit() {
        eprintln!("echo_ptk: cannot raise the descriptor limit: {e}");
    }
    let served = match imp.as_str() {
        "protothreads" => protothreads::serve(&options),
        "callbacks" => callbacks::serve(&options),
        other => {
            eprintln!("echo_ptk: unknown --impl {other}; one of: {IMPLS}");
            return ExitCode::from(2);
        }
    };
    match served {
        Ok(meter) => {
            eprintln!("{}", meter.report(&format!("ptk-{imp}")));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_ptk: {e}");
            ExitCode::FAILURE
        }
    }
}
