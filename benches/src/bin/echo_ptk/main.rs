//! The framed echo server on ptk's event loop.
//!
//! ```text
//! echo_ptk --impl callbacks --backend io_uring --bind 127.0.0.1:0 --max-connections 10000 --messages 1000000
//! ```
//!
//! `--impl` picks how the server is written on the loop; each way lives in its own module
//! with the same entry point, `serve(&ServerOptions) -> Result<Meter, ptk::Error>`:
//!
//! * `protothreads` (default) — an acceptor and one protothread per connection, as
//!   `examples/echo_server.rs`;
//! * `callbacks` — handlers on `EventLoop`, the same logic written as callbacks;
//! * `pooled` — protothreads with frames in the loop's buffer pool (`PooledFrameReader`,
//!   `send_frame`), as `examples/echo_server.rs` (on io_uring: receives and sends through the
//!   ring).
//!
//! `--backend mio|io_uring` picks the loop's backend (default mio; io_uring needs the
//! bench crate's `io-uring` feature, and the server exits with an error if the loop falls
//! back to mio, so that a result is never mislabelled).

use std::process::ExitCode;

use ptk::BackendKind;
use ptk_bench::{Args, ServerOptions};

mod acceptor;
mod callbacks;
mod pooled;
mod protothreads;

/// The ways of writing the server that `--impl` can pick.
const IMPLS: &str = "protothreads, callbacks, pooled";

fn main() -> ExitCode {
    const USAGE: &str =
        "usage: echo_ptk [--impl protothreads|callbacks|pooled] [--backend mio|io_uring] [flags]";
    let options = Args::parse(USAGE).and_then(|mut args| {
        let o = ServerOptions::take(&mut args)?;
        let imp: String = args.take("--impl", "protothreads".to_string())?;
        let backend: String = args.take("--backend", "mio".to_string())?;
        let backend = BackendKind::from_arg(&backend)?;
        args.finish().map(|()| (o, imp, backend))
    });
    let (options, imp, backend) = match options {
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
        "protothreads" => protothreads::serve(&options, backend),
        "callbacks" => callbacks::serve(&options, backend),
        "pooled" => pooled::serve(&options, backend),
        other => {
            eprintln!("echo_ptk: unknown --impl {other}; one of: {IMPLS}");
            return ExitCode::from(2);
        }
    };
    match served {
        Ok(meter) => {
            let name = match backend {
                BackendKind::Mio => format!("ptk-{imp}"),
                BackendKind::IoUring => format!("ptk-{imp}-uring"),
            };
            eprintln!("{}", meter.report(&name));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_ptk: {e}");
            ExitCode::FAILURE
        }
    }
}
