//! The C examples, built under the sanitizers and run as users run them: the framed echo
//! server echoes every frame of concurrent clients and stops cleanly on Ctrl-C; the chat
//! server passes the very scenario the protothread chat server passes
//! (`tests/common/chat_scenario.rs` of the workspace root); the design document's server
//! answers as it says.
#![cfg(target_pointer_width = "64")] // The C library is for 64-bit targets.

mod c;

// The workspace root's scenario and clients (`super::clients` there is this crate's root).
#[path = "../../tests/common/chat_scenario.rs"]
mod chat_scenario;
#[path = "../../tests/common/clients.rs"]
mod clients;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use c::{assert_clean, compile, Build};
use chat_scenario::{ChatCounts, ChatServerUnderTest};
use clients::{connect, frame, payload, read_frame, send_frame};

const WAIT: Duration = Duration::from_secs(10);

/// A C example running in its own process, its stdout read line by line on a thread.
struct Example {
    child: Child,
    lines: Receiver<String>,
    addr: SocketAddr,
}

impl Example {
    /// Builds `examples/NAME.c` (sanitized), starts it with `args` and reads the address from
    /// its first line ("... listening on HOST:PORT ...").
    fn start(name: &str, args: &[&str]) -> Example {
        // A directory per start: tests run in parallel and each builds its own copy.
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::Relaxed);
        let dir = c::scratch_dir(&format!("{name}-{n}"));
        let exe = compile(
            &[c::examples_dir().join(format!("{name}.c"))],
            &dir,
            name,
            Build::Sanitized,
        );
        Example::spawn(&exe, args)
    }

    fn spawn(exe: &Path, args: &[&str]) -> Example {
        let mut cmd = Command::new(exe);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        c::sanitizer_env(&mut cmd);
        let mut child = cmd.spawn().expect("the example starts");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(WAIT)
            .expect("the example prints its address");
        let addr = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        Example { child, lines, addr }
    }

    /// Ctrl-C, then the exit status and stderr, checked clean.
    fn interrupt(mut self, what: &str) -> String {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "{what} did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = self.child.wait_with_output().unwrap();
        assert_clean(what, &out);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn the_c_echo_server_echoes_every_frame_of_concurrent_clients_and_stops_on_ctrl_c() {
    const CLIENTS: usize = 8;
    const MESSAGES: usize = 25;
    let server = Example::start(
        "echo_server",
        &["--bind", "127.0.0.1:0", "--threads", "2", "--quiet"],
    );
    let addr = server.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = connect(addr);
                for m in 0..MESSAGES {
                    let msg = payload(i, m, 16 * 1024);
                    send_frame(&mut c, &msg);
                    assert_eq!(read_frame(&mut c), msg, "client {i}, message {m}");
                }
                // Two frames in one write, and an empty one, come back as sent.
                let mut two = frame(b"first");
                two.extend_from_slice(&frame(b""));
                two.extend_from_slice(&frame(b"second"));
                c.write_all(&two).unwrap();
                assert_eq!(read_frame(&mut c), b"first");
                assert_eq!(read_frame(&mut c), b"");
                assert_eq!(read_frame(&mut c), b"second");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // A frame over --max-frame closes that connection, and only that one.
    let mut bad = connect(addr);
    bad.write_all(&(16 * 1024 + 1u32).to_be_bytes()).unwrap();
    let mut rest = Vec::new();
    assert_eq!(bad.read_to_end(&mut rest).unwrap(), 0, "end-of-stream");
    let mut good = connect(addr);
    send_frame(&mut good, b"still here");
    assert_eq!(read_frame(&mut good), b"still here");
    drop(good);

    let stderr = server.interrupt("echo_server");
    let frames = CLIENTS * (MESSAGES + 3) + 1;
    assert!(
        stderr.contains(&format!("report server=c-ptk frames={frames}\n")),
        "{stderr}"
    );
}

#[test]
fn the_c_echo_server_on_four_loops_echoes_every_message_of_400_connections_once() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 50;
    const MESSAGES: usize = 5;
    let server = Example::start(
        "echo_server",
        &["--bind", "127.0.0.1:0", "--threads", "4", "--quiet"],
    );
    let addr = server.addr;
    let clients: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let ids: Vec<usize> = (t * PER_THREAD..(t + 1) * PER_THREAD).collect();
                let mut socks: Vec<_> = ids.iter().map(|_| connect(addr)).collect();
                for m in 0..MESSAGES {
                    for (s, &id) in socks.iter_mut().zip(&ids) {
                        send_frame(s, &payload(id, m, 2000));
                    }
                    for (s, &id) in socks.iter_mut().zip(&ids) {
                        assert_eq!(
                            read_frame(s),
                            payload(id, m, 2000),
                            "client {id}, message {m}"
                        );
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // Every frame counted once, by whichever of the four loops owned its connection.
    let stderr = server.interrupt("echo_server --threads 4");
    let frames = THREADS * PER_THREAD * MESSAGES;
    assert!(
        stderr.contains(&format!("report server=c-ptk frames={frames}\n")),
        "{stderr}"
    );
}

#[test]
fn the_c_echo_server_stops_by_itself_after_its_message_count() {
    let mut server = Example::start(
        "echo_server",
        &["--bind", "127.0.0.1:0", "--messages", "5", "--quiet"],
    );
    let mut c = connect(server.addr);
    for m in 0..5 {
        send_frame(&mut c, &payload(1, m, 100));
        assert_eq!(read_frame(&mut c), payload(1, m, 100));
    }
    let deadline = Instant::now() + WAIT;
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server is still running");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(c);
    let out = server.child.wait_with_output().unwrap();
    assert_clean("echo_server --messages 5", &out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("report server=c-ptk frames=5\n"));
}

/// The C chat server, its counts read from the lines it prints.
struct CChat {
    example: Example,
    counts: ChatCounts,
}

impl CChat {
    fn take_lines(&mut self) {
        while let Ok(line) = self.example.lines.try_recv() {
            let mut words = line.split_whitespace();
            let (what, seat) = (words.next(), words.next().and_then(|s| s.parse().ok()));
            let c = &mut self.counts;
            match (what, seat) {
                (Some("join"), Some(_)) => {
                    c.joined += 1;
                    c.connected += 1;
                }
                (Some("frame"), Some(_)) => c.received += 1,
                (Some("drop"), Some(seat)) => {
                    c.dropped.push(seat);
                    c.connected -= 1;
                }
                (Some("leave"), Some(_)) => {
                    c.left += 1;
                    c.connected -= 1;
                }
                _ => panic!("unexpected line from chat_server: {line:?}"),
            }
        }
    }
}

impl ChatServerUnderTest for CChat {
    fn addr(&self) -> SocketAddr {
        self.example.addr
    }

    fn run_until(
        &mut self,
        what: &str,
        within: Duration,
        done: &mut dyn FnMut(&ChatCounts) -> bool,
    ) {
        let deadline = Instant::now() + within;
        loop {
            self.take_lines();
            if done(&self.counts) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what} ({:?})",
                self.counts
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn counts(&mut self) -> ChatCounts {
        self.take_lines();
        self.counts.clone()
    }
}

#[test]
fn the_c_chat_server_drops_a_client_that_never_reads_and_does_not_hold_back_the_others() {
    let example = Example::start(
        "chat_server",
        &[
            "--bind",
            "127.0.0.1:0",
            "--max-peers",
            "4",
            "--send-buffer",
            "4096",
            "--outbox",
            "8192",
        ],
    );
    let mut chat = CChat {
        example,
        counts: ChatCounts::default(),
    };
    let slow =
        chat_scenario::a_client_that_never_reads_is_dropped_and_does_not_hold_back_the_others(
            &mut chat,
        );
    assert_eq!(slow, 0);
    chat.example.interrupt("chat_server");
}

#[test]
fn the_design_documents_server_greets_and_answers_each_read() {
    let server = Example::start("server", &["0"]);
    let mut c = connect(server.addr);
    let mut hello = [0u8; 6];
    c.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello\n");
    c.write_all(b"abc\n").unwrap();
    let mut reply = [0u8; 12];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"got 4 bytes\n");
    drop(c);
    server.interrupt("server");
}
