//! Command-line flags: every flag takes one value (`--name value`).

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;

/// The `--name value` pairs of a command line, taken one by one; whatever is left over when
/// [`finish`](Args::finish) is called is an error.
///
/// # Examples
///
/// ```
/// use ptk_bench::Args;
///
/// let mut args = Args::from_iter(["--messages", "100"].map(String::from), "usage").unwrap();
/// assert_eq!(args.take("--messages", 1u64), Ok(100));
/// assert_eq!(args.take("--connections", 1usize), Ok(1));
/// assert!(args.finish().is_ok());
/// ```
#[derive(Debug)]
pub struct Args {
    pairs: Vec<(String, String)>,
    usage: &'static str,
}

impl Args {
    /// The flags of this process.
    ///
    /// # Errors
    ///
    /// The usage text for `-h`/`--help`, a flag without a value or an argument that is not a
    /// flag.
    pub fn parse(usage: &'static str) -> Result<Args, String> {
        Args::from_iter(std::env::args().skip(1), usage)
    }

    /// The flags in `args` (without the program name).
    ///
    /// # Errors
    ///
    /// As [`parse`](Args::parse).
    pub fn from_iter(
        args: impl IntoIterator<Item = String>,
        usage: &'static str,
    ) -> Result<Args, String> {
        let mut pairs = Vec::new();
        let mut args = args.into_iter();
        while let Some(name) = args.next() {
            if name == "-h" || name == "--help" {
                return Err(usage.to_string());
            }
            if !name.starts_with("--") {
                return Err(format!("unexpected argument {name}\n{usage}"));
            }
            let Some(value) = args.next() else {
                return Err(format!("{name} needs a value\n{usage}"));
            };
            pairs.push((name, value));
        }
        Ok(Args { pairs, usage })
    }

    /// The value of flag `name` (the last one if given twice), or `default`.
    ///
    /// # Errors
    ///
    /// A value that does not parse as a `T`.
    pub fn take<T>(&mut self, name: &str, default: T) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        let mut found = None;
        self.pairs.retain(|(n, v)| {
            if n == name {
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        match found {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("{name} {v}: {e}")),
        }
    }

    /// Checks that every flag was taken.
    ///
    /// # Errors
    ///
    /// The first unknown flag, with the usage text.
    pub fn finish(self) -> Result<(), String> {
        match self.pairs.first() {
            None => Ok(()),
            Some((name, _)) => Err(format!("unknown flag {name}\n{}", self.usage)),
        }
    }
}

/// The flags every echo server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// `--bind`: where to listen (default `127.0.0.1:0`, an ephemeral port). The bound address
    /// is the first line the server prints on stdout.
    pub bind: SocketAddr,
    /// `--max-connections`: connection slots made at start-up (default 1024). Connections
    /// beyond are accepted and closed.
    pub max_connections: usize,
    /// `--messages`: exit after echoing this many frames in all (default: never).
    pub messages: u64,
    /// `--max-frame`: the longest payload accepted (default 1024); a connection needs at most
    /// a buffer of this plus the header.
    pub max_frame: usize,
}

impl ServerOptions {
    /// The usage text of the server flags.
    pub const USAGE: &'static str =
        "flags: --bind ADDR:PORT (127.0.0.1:0) --max-connections N (1024) \
         --messages M (unbounded) --max-frame BYTES (1024)";

    /// Takes the server flags out of `args`.
    ///
    /// # Errors
    ///
    /// A value that does not parse; a count of 0.
    pub fn take(args: &mut Args) -> Result<ServerOptions, String> {
        let o = ServerOptions {
            bind: args.take("--bind", SocketAddr::from(([127, 0, 0, 1], 0)))?,
            max_connections: args.take("--max-connections", 1024)?,
            messages: args.take("--messages", u64::MAX)?,
            max_frame: args.take("--max-frame", 1024)?,
        };
        if o.max_connections == 0 || o.messages == 0 || o.max_frame == 0 {
            return Err("--max-connections, --messages and --max-frame must be at least 1".into());
        }
        Ok(o)
    }

    /// The size of one connection's buffer: a whole frame of the largest size.
    pub fn buffer_len(&self) -> usize {
        crate::frame::HEADER + self.max_frame
    }
}
