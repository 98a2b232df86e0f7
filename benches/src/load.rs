//! What the two load generators (`loadgen` for the echo, `modbus_load` for Modbus/TCP) share:
//! the poll loop with its time limit, the result line, and `main`'s error handling. Each
//! keeps its own connections and protocol behind [`Generator`].

use std::io::ErrorKind;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::{Events, Poll};

/// How far a load generator got: what the shared loop reads and the generator updates.
#[derive(Debug)]
pub struct Progress {
    /// When every connection was warm and the clock started, if it did.
    pub started: Option<Instant>,
    /// How many connections did their warm-up round trip.
    pub warmed: usize,
    /// How many timed round trips are done.
    pub done: u64,
    /// The round-trip times so far, in nanoseconds (room for `messages` made up front).
    pub samples: Vec<u64>,
}

impl Progress {
    /// Nothing done yet, room for `messages` samples.
    pub fn new(messages: u64) -> Progress {
        Progress {
            started: None,
            warmed: 0,
            done: 0,
            samples: Vec::with_capacity(messages as usize),
        }
    }
}

/// A load generator's state, as the shared loop drives it.
pub trait Generator {
    /// The poll its connections are registered with (token = connection index).
    fn poll(&mut self) -> &mut Poll;
    /// Opens the first batch of connections.
    fn start(&mut self) -> std::io::Result<()>;
    /// Connection `i` is ready (`writable` if the event says so).
    fn on_event(&mut self, i: usize, writable: bool) -> std::io::Result<()>;
    /// How far it got.
    fn progress(&mut self) -> &mut Progress;
}

/// Runs `g` until `messages` timed round trips are done on `connections` connections, or
/// fails after `timeout`; returns the `result` line. `unit` names a round trip in the error.
pub fn run<G: Generator>(
    g: &mut G,
    connections: usize,
    messages: u64,
    timeout: Duration,
    unit: &str,
) -> std::io::Result<String> {
    let begin = Instant::now();
    let mut events = Events::with_capacity(1024);
    g.start()?;
    while g.progress().started.is_none() || g.progress().done < messages {
        if begin.elapsed() > timeout {
            let p = g.progress();
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "gave up after {timeout:?}: {} of {connections} connections warm, {} of \
                     {messages} {unit}",
                    p.warmed, p.done
                ),
            ));
        }
        match g.poll().poll(&mut events, Some(Duration::from_secs(1))) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            let i = event.token().0;
            g.on_event(i, event.is_writable())
                .map_err(|e| std::io::Error::new(e.kind(), format!("connection {i}: {e}")))?;
        }
    }
    let end = Instant::now();
    let started = g.progress().started.unwrap_or(end);
    let seconds = end.duration_since(started).as_secs_f64();
    let samples = &mut g.progress().samples;
    samples.sort_unstable();
    let pct = |p: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let k = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[k] as f64 / 1000.0
    };
    Ok(format!(
        "result connections={} messages={} seconds={:.3} rtps={:.0} p50_us={:.1} p99_us={:.1} \
         max_us={:.1} connect_s={:.3}",
        connections,
        messages,
        seconds,
        messages as f64 / seconds.max(1e-9),
        pct(0.50),
        pct(0.99),
        pct(1.0),
        started.duration_since(begin).as_secs_f64(),
    ))
}

/// A load generator's `main`: parses its options (exit 2 on a usage error), raises the
/// descriptor limit, runs, prints the result line (exit 0) or the error (exit 1).
pub fn main<O>(
    name: &str,
    options: impl FnOnce() -> Result<O, String>,
    run: impl FnOnce(&O) -> std::io::Result<String>,
) -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::raise_fd_limit() {
        eprintln!("{name}: cannot raise the descriptor limit: {e}");
    }
    match run(&o) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
