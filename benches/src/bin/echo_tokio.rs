//! The framed echo server as a tokio user would write it.
//!
//! ```text
//! echo_tokio --bind 127.0.0.1:0 --max-connections 10000 --messages 1000000
//! ```
//!
//! The current-thread runtime (single-threaded, like ptk and the raw mio server), one task per
//! connection, `read_exact` of the header and then of the payload into the task's buffer,
//! `write_all` of the frame.

use std::cell::{Cell, RefCell};
use std::io::ErrorKind;
use std::process::ExitCode;

use ptk_bench::frame::HEADER;
use ptk_bench::{Args, Meter, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Notify;

#[global_allocator]
static ALLOC: ptk_bench::CountingAlloc = ptk_bench::CountingAlloc;

/// Woken by the task that echoes the last frame.
static DONE: Notify = Notify::const_new();

thread_local! {
    // Every task runs on this thread (current-thread runtime), so plain cells will do.
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
    static OPEN: Cell<usize> = const { Cell::new(0) };
}

async fn connection(mut sock: TcpStream, max_frame: usize) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut buf = vec![0u8; HEADER + max_frame];
    loop {
        match sock.read_exact(&mut buf[..HEADER]).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if n > max_frame {
            return Err(ErrorKind::InvalidData.into());
        }
        sock.read_exact(&mut buf[HEADER..HEADER + n]).await?;
        sock.write_all(&buf[..HEADER + n]).await?;
        let done = METER.with_borrow_mut(|m| m.as_mut().is_some_and(|m| m.count(1)));
        if done {
            DONE.notify_one();
        }
    }
}

async fn serve(o: ServerOptions) -> std::io::Result<Meter> {
    // `TcpListener::bind` would leave the accept queue at mio's 128; 1024 as ptk and raw mio.
    let sock = if o.bind.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(o.bind)?;
    let listener = sock.listen(1024)?;
    println!("{}", listener.local_addr()?);
    METER.set(Some(Meter::start(o.messages)));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let sock = match accepted {
                    Ok((sock, _)) => sock,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                if OPEN.get() >= o.max_connections {
                    continue; // full: dropping the socket closes it
                }
                OPEN.set(OPEN.get() + 1);
                tokio::spawn(async move {
                    let _ = connection(sock, o.max_frame).await;
                    OPEN.set(OPEN.get() - 1);
                });
            }
            () = DONE.notified() => break,
        }
    }
    METER
        .take()
        .ok_or_else(|| std::io::Error::other("the meter is gone"))
}

fn main() -> ExitCode {
    const USAGE: &str = "usage: echo_tokio [flags]";
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
        eprintln!("echo_tokio: cannot raise the descriptor limit: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo_tokio: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(meter) => {
            eprintln!("{}", meter.report("tokio"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_tokio: {e}");
            ExitCode::FAILURE
        }
    }
}
