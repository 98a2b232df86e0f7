//! Our client against our server on one event loop over loopback: the server's protothreads
//! and one protothread per client, each running a script of steps, on a single thread.
//!
//! Sharing the loop lets a script read the server's counters between its steps (the
//! [`Server`] is a reference count on the loop's thread), so every step records the server's
//! [`ServerStats`] before and after it: the exact round trips a call took, counted by the
//! side that answered them.

#![allow(dead_code)] // each test uses its own part

use std::net::SocketAddr;
use std::task::Poll;
use std::time::{Duration, Instant};

use ptk_enip::client::{Client, ClientConfig, ClientError, Device, Discovery, TagRead};
use ptk_enip::server::{MemoryTags, Server, ServerConfig, ServerStats, ServerStorage, TagTable};
use ptk_enip::{TagType, Value};
use ptk_macros::protothread;
use ptk_runtime::{Capacities, Config, Cx, EventLoop, ListenOptions, OwnedStorage, Pt};

/// No run takes longer than this.
pub const BOUND: Duration = Duration::from_secs(60);

/// One call a script makes.
#[derive(Clone, Debug)]
pub enum Step {
    /// `poll_connect`.
    Connect,
    /// `poll_read_tag(name, elements)`.
    Read(String, u16),
    /// `poll_read_value(name)`.
    ReadValue(String),
    /// `poll_write_value(name, value)`.
    WriteValue(String, Value),
    /// `poll_write_tag(name, type, elements, data)`.
    WriteTag(String, TagType, u16, Vec<u8>),
    /// `poll_write_string(name, text)`.
    WriteString(String, Vec<u8>),
    /// `poll_read_many(names, value_size)`.
    ReadMany(Vec<String>, usize),
    /// `poll_write_many(items)`.
    WriteMany(Vec<(String, Value)>),
    /// `poll_list_tags(program)`.
    List(Option<String>),
    /// A ListIdentity discovery to the server's address, replies collected for the
    /// milliseconds.
    Discover(u64),
    /// Waits until the server has no connection open (it closed this client's), looking
    /// every few milliseconds, and then for one more poll of the loop, so that the client's
    /// stream has had the close reported as a real client's has by the time it is used again.
    UntilServerClosed,
}

impl Step {
    pub fn read(name: &str, elements: u16) -> Step {
        Step::Read(name.into(), elements)
    }

    pub fn read_value(name: &str) -> Step {
        Step::ReadValue(name.into())
    }

    pub fn write_value(name: &str, value: Value) -> Step {
        Step::WriteValue(name.into(), value)
    }

    pub fn write_tag(name: &str, tag_type: TagType, elements: u16, data: Vec<u8>) -> Step {
        Step::WriteTag(name.into(), tag_type, elements, data)
    }

    pub fn read_many(names: &[String], value_size: usize) -> Step {
        Step::ReadMany(names.to_vec(), value_size)
    }
}

/// What a step gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    Connected,
    Read(TagRead, Vec<u8>),
    Value(Value),
    Written,
    Many(Vec<Result<Value, ClientError>>),
    WroteMany(Vec<Result<(), ClientError>>),
    /// The entries listed: instance id, and `NAME TYPE[dims]`.
    List(Vec<(u32, String)>),
    Devices(Vec<Device>),
    ServerClosed,
    Failed(ClientError),
}

/// A step's outcome and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub done: Done,
    /// The server's counters when the step started and when it ended.
    pub before: ServerStats,
    pub after: ServerStats,
    /// Encapsulation packets the client wrote for the step.
    pub sent: u64,
    /// The connection size after the step.
    pub connection_size: Option<u16>,
}

impl Record {
    /// Encapsulation round trips the server answered during the step.
    pub fn round_trips(&self) -> u64 {
        self.after.requests - self.before.requests
    }

    /// Requests inside Multiple Service Packets the server answered during the step.
    pub fn embedded(&self) -> u64 {
        self.after.embedded_requests - self.before.embedded_requests
    }

    /// CIP requests the server answered during the step.
    pub fn cip(&self) -> u64 {
        self.after.cip_requests - self.before.cip_requests
    }
}

/// A client running its steps one after the other.
pub struct Script {
    pt: Pt,
    config: ClientConfig,
    client: Box<Client<4>>,
    server: Option<Server<MemoryTags>>,
    target: Option<SocketAddr>,
    steps: Vec<Step>,
    at: usize,
    pub records: Vec<Record>,
    before: ServerStats,
    sent_before: u64,
    data: Vec<u8>,
    values: Vec<Result<Value, ClientError>>,
    writes: Vec<Result<(), ClientError>>,
    listed: Vec<(u32, String)>,
    discovery: Option<Discovery>,
    devices: Vec<Device>,
    /// When a wait looks next (loop milliseconds).
    wake: Option<u64>,
    /// When (loop milliseconds) `UntilServerClosed` saw the server's count at 0: it waits
    /// for a later iteration, which polls first.
    closed_seen: Option<u64>,
}

impl Script {
    fn new(config: ClientConfig, steps: Vec<Step>) -> Script {
        let nowhere = SocketAddr::from(([127, 0, 0, 1], 0));
        Script {
            pt: Pt::new(),
            config,
            client: Box::new(Client::new(nowhere, config)),
            server: None,
            target: None,
            steps,
            at: 0,
            records: Vec::new(),
            before: ServerStats::default(),
            sent_before: 0,
            data: vec![0; 16_384],
            values: Vec::new(),
            writes: Vec::new(),
            listed: Vec::new(),
            discovery: None,
            devices: Vec::new(),
            wake: None,
            closed_seen: None,
        }
    }

    /// Points the script at the server, as it is spawned.
    fn begin(&mut self, server: Server<MemoryTags>, addr: SocketAddr) {
        *self.client = Client::new(addr, self.config);
        self.before = server.stats();
        self.server = Some(server);
        self.target = Some(addr);
    }

    /// What each step gave, in order.
    pub fn done(&self) -> Vec<Done> {
        self.records.iter().map(|r| r.done.clone()).collect()
    }

    fn stats(&self) -> ServerStats {
        self.server.as_ref().map(Server::stats).unwrap_or_default()
    }

    fn record(&mut self, done: Done) {
        let after = self.stats();
        let sent = self.client.requests_sent();
        self.records.push(Record {
            done,
            before: self.before,
            after,
            sent: sent - self.sent_before,
            connection_size: self.client.connection_size(),
        });
        self.before = after;
        self.sent_before = sent;
        self.at += 1;
    }

    fn poll_step(&mut self, cx: &mut Cx<'_>) -> Poll<Done> {
        let c = &mut self.client;
        let r = match &self.steps[self.at] {
            Step::Connect => c.poll_connect(cx).map(|r| r.map(|()| Done::Connected)),
            Step::Read(name, n) => c
                .poll_read_tag(cx, name, *n, &mut self.data)
                .map(|r| r.map(|read| Done::Read(read, self.data[..read.len].to_vec()))),
            Step::ReadValue(name) => c.poll_read_value(cx, name).map(|r| r.map(Done::Value)),
            Step::WriteValue(name, v) => c
                .poll_write_value(cx, name, *v)
                .map(|r| r.map(|()| Done::Written)),
            Step::WriteTag(name, t, n, data) => c
                .poll_write_tag(cx, name, *t, *n, data)
                .map(|r| r.map(|()| Done::Written)),
            Step::WriteString(name, text) => c
                .poll_write_string(cx, name, text)
                .map(|r| r.map(|()| Done::Written)),
            Step::ReadMany(names, size) => {
                if self.values.len() != names.len() {
                    self.values = vec![Err(ClientError::Busy); names.len()];
                }
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                c.poll_read_many(cx, &names, *size, &mut self.values)
                    .map(|r| r.map(|()| Done::Many(std::mem::take(&mut self.values))))
            }
            Step::WriteMany(items) => {
                if self.writes.len() != items.len() {
                    self.writes = vec![Err(ClientError::Busy); items.len()];
                }
                let items: Vec<(&str, Value)> =
                    items.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                c.poll_write_many(cx, &items, &mut self.writes)
                    .map(|r| r.map(|()| Done::WroteMany(std::mem::take(&mut self.writes))))
            }
            Step::List(program) => {
                let listed = &mut self.listed;
                c.poll_list_tags(cx, program.as_deref(), |e| {
                    listed.push((e.instance_id, e.to_string()))
                })
                .map(|r| {
                    r.map(|n| {
                        assert_eq!(n, listed.len(), "the count poll_list_tags returned");
                        Done::List(std::mem::take(listed))
                    })
                })
            }
            Step::Discover(window_ms) => {
                let target = self.target.expect("begun");
                let discovery = self
                    .discovery
                    .get_or_insert_with(|| Discovery::new(target, *window_ms));
                loop {
                    match discovery.poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(Some(device))) => self.devices.push(device),
                        Poll::Ready(Ok(None)) => {
                            self.discovery = None;
                            let devices = std::mem::take(&mut self.devices);
                            break Poll::Ready(Ok(Done::Devices(devices)));
                        }
                        Poll::Ready(Err(e)) => {
                            self.discovery = None;
                            break Poll::Ready(Err(e));
                        }
                    }
                }
            }
            Step::UntilServerClosed => loop {
                if let Some(seen) = self.closed_seen {
                    // The loop's clock moved past the iteration that saw the close: the
                    // loop has polled since.
                    if cx.now_ms() > seen {
                        self.closed_seen = None;
                        self.wake = None;
                        break Poll::Ready(Ok(Done::ServerClosed));
                    }
                } else if self.server.as_ref().expect("begun").stats().open == 0 {
                    let seen = cx.now_ms();
                    self.closed_seen = Some(seen);
                    self.wake = Some(seen + 1);
                }
                let at = *self.wake.get_or_insert_with(|| cx.after_ms(5));
                match cx.sleep_until(at) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => {
                        self.wake = None;
                        r.expect("a timer slot");
                    }
                }
            },
        };
        r.map(|r| r.unwrap_or_else(Done::Failed))
    }
}

#[protothread(crate = ::ptk_runtime)]
fn script(ctx: &mut Script, cx: &mut Cx<'_>) {
    while ctx.at < ctx.steps.len() {
        let done = pt_await!(ctx.poll_step(cx));
        ctx.record(done);
    }
    ctx.client.close(cx);
}

/// A finished run: the scripts with their records, and the server (its tags and counters).
pub struct Run {
    pub scripts: Vec<Script>,
    pub server: Server<MemoryTags>,
    pub addr: SocketAddr,
}

impl Run {
    /// The one script's records.
    pub fn records(&self) -> &[Record] {
        assert_eq!(self.scripts.len(), 1);
        &self.scripts[0].records
    }

    /// The bytes of the server's tag `name`.
    pub fn tag_bytes(&self, name: &str) -> Vec<u8> {
        let tags = self.server.tags();
        let instance = tags.find(name.as_bytes()).expect("the server has the tag");
        tags.bytes(instance).expect("the tag has bytes").to_vec()
    }
}

/// Serves `tags` with `config` on an ephemeral loopback port (TCP, and UDP on the same
/// port), runs one client per entry of `clients` on the same loop until every script has
/// ended, then until the server has seen every connection close, all within [`BOUND`].
pub fn run(tags: MemoryTags, config: ServerConfig, clients: Vec<(ClientConfig, Vec<Step>)>) -> Run {
    let server = Server::new(tags, config);
    let mut scripts: Vec<Script> = clients
        .into_iter()
        .map(|(c, steps)| Script::new(c, steps))
        .collect();
    let n = scripts.len();
    let mut storage = ServerStorage::new(&config);
    let mut memory = OwnedStorage::new(Capacities {
        buffers: 2 * config.max_connections + 8,
        ..Capacities::default()
    });
    let mut ev = EventLoop::new(memory.storage(), Config::default(), ()).unwrap();
    let (listener, udp, addr) = (0..20)
        .find_map(|_| {
            let listener = ev
                .tcp_listen("127.0.0.1:0".parse().unwrap(), &ListenOptions::default())
                .unwrap();
            let addr = ev.local_addr(listener.raw()).unwrap();
            match ev.udp_bind(addr) {
                Ok(udp) => Some((listener, udp, addr)),
                Err(_) => {
                    ev.close(listener.raw()).unwrap();
                    None
                }
            }
        })
        .expect("no ephemeral port free for both TCP and UDP");
    server
        .start(&mut ev, listener, Some(udp), &mut storage)
        .unwrap();
    let pool = ev.add_protothreads(&mut scripts[..]).unwrap();
    for _ in 0..n {
        ev.cx()
            .spawn_with(pool, |s: &mut Script| s.begin(server.clone(), addr))
            .unwrap();
    }
    let start = Instant::now();
    while ev.pool_usage(pool).0 > 0 {
        assert!(
            start.elapsed() < BOUND,
            "the clients did not finish in {BOUND:?}"
        );
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    while server.stats().open > 0 {
        assert!(
            start.elapsed() < BOUND,
            "the server did not see the clients close in {BOUND:?}"
        );
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    drop(ev);
    Run {
        scripts,
        server,
        addr,
    }
}

/// A table of `specs`.
pub fn tags(specs: &[&str]) -> MemoryTags {
    MemoryTags::from_specs(specs).expect("the tag specs parse")
}

/// The distinct value of DINT tag `Ti`.
pub fn dint_value(i: usize) -> i32 {
    (i as i32 * 7919 - 3_000_000) ^ 0x5A00_0000
}

/// Names `T0` .. `T{n-1}`.
pub fn dint_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("T{i}")).collect()
}

/// A table of `extra` specs then the DINT tags `T0` .. `T{n-1}`, each holding
/// [`dint_value`]`(i)`.
pub fn dint_tags(extra: &[&str], n: usize) -> MemoryTags {
    let mut table = tags(extra);
    for (i, name) in dint_names(n).iter().enumerate() {
        let id = table
            .add(&format!("{name}=DINT").parse().unwrap())
            .expect("a new name");
        table.write(id, 0, &dint_value(i).to_le_bytes()).unwrap();
    }
    table
}
