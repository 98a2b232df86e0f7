//! A scripted Logix-like EtherNet/IP server in a std thread for the client's tests, and a
//! loop that runs one protothread with a client until it ends.
//!
//! The server records every encapsulation request (command and CIP message) so tests assert
//! exact requests and exact round-trip counts; its options refuse the opens, drop the
//! connection after some requests, and cap reply sizes as a controller does.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::task::Poll;

use ptk_enip::client::{Client, ClientConfig, ClientError, Device, Discovery, TagRead};
use ptk_enip::{
    Epath, LogicalType, MessageRequest, MultipleServices, Packet, ReadModifyWrite, Request,
    Segment, SendData, UnconnectedSend,
};
use ptk_enip::{TagType, Value};
use ptk_macros::protothread;
use ptk_runtime::{Capacities, Config, EventLoop, Outcome, OwnedStorage, Protothread, PtPool};
use ptk_runtime::{Cx, Pt};

/// No test waits longer than this for anything.
pub const BOUND: Duration = Duration::from_secs(30);

/// One tag of the fake controller.
#[derive(Clone, Debug)]
pub struct Tag {
    pub name: String,
    /// The type field of replies: `C4 00`, or `A0 02 CE 0F` for a STRING.
    pub type_field: Vec<u8>,
    pub elem_size: usize,
    /// 0 for a scalar.
    pub dims: u32,
    pub data: Vec<u8>,
}

impl Tag {
    /// An atomic tag of `code` (`0xC4` DINT, ...) and `elements` (0: a scalar).
    pub fn atomic(name: &str, code: u8, size: usize, elements: u32) -> Tag {
        Tag {
            name: name.into(),
            type_field: vec![code, 0],
            elem_size: size,
            dims: elements,
            data: vec![0; size * elements.max(1) as usize],
        }
    }

    /// A Logix STRING tag holding `text`.
    pub fn string(name: &str, text: &[u8]) -> Tag {
        let mut data = vec![0u8; 88];
        data[..4].copy_from_slice(&(text.len() as u32).to_le_bytes());
        data[4..4 + text.len()].copy_from_slice(text);
        Tag {
            name: name.into(),
            type_field: vec![0xA0, 0x02, 0xCE, 0x0F],
            elem_size: 88,
            dims: 0,
            data,
        }
    }

    fn symbol_type(&self) -> u16 {
        let base = if self.type_field[0] == 0xA0 {
            0x8FCE
        } else {
            u16::from(self.type_field[0])
        };
        base | if self.dims > 0 { 1 << 13 } else { 0 }
    }
}

/// How the fake server behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// Refuse Large_Forward_Open with 0x08 (service not supported).
    pub refuse_large: bool,
    /// Refuse Forward_Open with 0x01 / 0x0109 (invalid connection size).
    pub refuse_small: bool,
    /// Close the first TCP connection after this many SendUnitData/SendRRData requests.
    pub drop_after: Option<usize>,
    /// Tag list entries per reply page.
    pub page: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            refuse_large: false,
            refuse_small: false,
            drop_after: None,
            page: 1000,
        }
    }
}

/// What the server saw.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// Every encapsulation request: its command and, for SendRRData/SendUnitData, the CIP
    /// message (for SendUnitData after the sequence count).
    pub requests: Vec<(u16, Vec<u8>)>,
    /// TCP connections accepted.
    pub connections: usize,
    /// Sequence counts of the SendUnitData requests.
    pub sequences: Vec<u16>,
}

impl Log {
    /// The CIP messages of SendUnitData (0x70) and SendRRData (0x6F) requests after the
    /// session set-up.
    pub fn cip(&self) -> Vec<Vec<u8>> {
        self.requests
            .iter()
            .filter(|(c, m)| (*c == 0x70 || *c == 0x6F) && !is_open(m))
            .map(|(_, m)| m.clone())
            .collect()
    }
}

fn is_open(message: &[u8]) -> bool {
    matches!(message.first(), Some(0x54 | 0x5B))
        && message.get(2..6) == Some(&[0x20, 0x06, 0x24, 0x01])
}

/// A running fake server.
pub struct Fake {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Log>>,
    pub tags: Arc<Mutex<Vec<Tag>>>,
    _thread: JoinHandle<()>,
}

impl Fake {
    pub fn start(tags: Vec<Tag>, options: Options) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let tags = Arc::new(Mutex::new(tags));
        let (l, t) = (log.clone(), tags.clone());
        let thread = std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                l.lock().unwrap().connections += 1;
                let (l, t, o) = (l.clone(), t.clone(), options.clone());
                std::thread::spawn(move || serve(stream, n, &l, &t, &o));
            }
        });
        Fake {
            addr,
            log,
            tags,
            _thread: thread,
        }
    }

    pub fn log(&self) -> Log {
        self.log.lock().unwrap().clone()
    }

    pub fn tag_data(&self, name: &str) -> Vec<u8> {
        let tags = self.tags.lock().unwrap();
        tags.iter().find(|t| t.name == name).unwrap().data.clone()
    }
}

fn read_packet(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 24];
    s.read_exact(&mut head).ok()?;
    let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
    let mut packet = head.to_vec();
    packet.resize(24 + len, 0);
    s.read_exact(&mut packet[24..]).ok()?;
    Some(packet)
}

struct Conn {
    /// O->T id and size of the open connection.
    open: Option<(u32, usize)>,
    t_o_id: u32,
}

fn serve(mut s: TcpStream, index: usize, log: &Mutex<Log>, tags: &Mutex<Vec<Tag>>, o: &Options) {
    let mut conn = Conn {
        open: None,
        t_o_id: 0,
    };
    let mut served = 0;
    while let Some(packet) = read_packet(&mut s) {
        let p = Packet::new_checked(&packet[..]).unwrap();
        let command = p.command().as_u16();
        let mut reply_data = Vec::new();
        match command {
            0x65 => {
                log.lock()
                    .unwrap()
                    .requests
                    .push((command, p.data().to_vec()));
                reply_data = p.data().to_vec();
            }
            0x66 => return,
            0x6F | 0x70 => {
                if index == 0 && o.drop_after == Some(served) {
                    return;
                }
                served += 1;
                let data = SendData::parse(p.data()).unwrap();
                if command == 0x6F {
                    let message = data.unconnected().unwrap();
                    log.lock()
                        .unwrap()
                        .requests
                        .push((command, message.to_vec()));
                    let reply = cip(message, None, &mut conn, tags, o);
                    reply_data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xB2, 0]);
                    reply_data.extend_from_slice(&(reply.len() as u16).to_le_bytes());
                    reply_data.extend_from_slice(&reply);
                } else {
                    let message = data.connected().unwrap();
                    {
                        let mut l = log.lock().unwrap();
                        l.requests.push((command, message.message.to_vec()));
                        l.sequences.push(message.sequence);
                    }
                    let size = conn.open.map(|(_, size)| size);
                    let reply = cip(message.message, size, &mut conn, tags, o);
                    reply_data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 0, 0xA1, 0, 4, 0]);
                    reply_data.extend_from_slice(&conn.t_o_id.to_le_bytes());
                    reply_data.extend_from_slice(&[0xB1, 0]);
                    reply_data.extend_from_slice(&(reply.len() as u16 + 2).to_le_bytes());
                    reply_data.extend_from_slice(&message.sequence.to_le_bytes());
                    reply_data.extend_from_slice(&reply);
                }
            }
            _ => {}
        }
        let mut out = packet[..24].to_vec();
        out[2..4].copy_from_slice(&(reply_data.len() as u16).to_le_bytes());
        if command == 0x65 {
            out[4..8].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        }
        out.extend_from_slice(&reply_data);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

fn status(service: u8, general: u8, extended: Option<u16>) -> Vec<u8> {
    let mut r = vec![service | 0x80, 0, general, 0];
    if let Some(e) = extended {
        r[3] = 1;
        r.extend_from_slice(&e.to_le_bytes());
    }
    r
}

/// The tag and first element a request path names: symbolic segments joined with `.`,
/// member segments as the element.
fn find(path: &Epath<'_>, tags: &[Tag]) -> Result<(usize, usize), u8> {
    let mut name = String::new();
    let mut index = 0usize;
    for segment in path.segments() {
        match segment {
            Segment::Symbolic(s) => {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(std::str::from_utf8(s).unwrap());
            }
            Segment::Logical(l) if l.kind == LogicalType::Member => index = l.value as usize,
            _ => return Err(0x04),
        }
    }
    let t = tags
        .iter()
        .position(|t| t.name.eq_ignore_ascii_case(&name))
        .ok_or(0x04u8)?;
    if index >= tags[t].dims.max(1) as usize {
        return Err(0x05);
    }
    Ok((t, index))
}

/// Executes one CIP request; `size` is the connection size (None: unconnected).
fn cip(
    msg: &[u8],
    size: Option<usize>,
    conn: &mut Conn,
    tags: &Mutex<Vec<Tag>>,
    o: &Options,
) -> Vec<u8> {
    let request = MessageRequest::parse(msg).unwrap();
    let service = request.service;
    let limit = size.map_or(504, |s| s - 8);
    if request.path.is_object(0x06) {
        return match service {
            0x5B | 0x54 => {
                let large = service == 0x5B;
                if (large && o.refuse_large) || (!large && o.refuse_small) {
                    return if large {
                        status(service, 0x08, None)
                    } else {
                        status(service, 0x01, Some(0x0109))
                    };
                }
                let open = ptk_enip::ForwardOpen::parse(request.data, large).unwrap();
                conn.open = Some((
                    0xC0DE_0001,
                    usize::from(open.t_o_parameters.connection_size),
                ));
                conn.t_o_id = open.t_o_connection_id;
                let mut r = status(service, 0, None);
                r.extend_from_slice(&0xC0DE_0001u32.to_le_bytes());
                r.extend_from_slice(&open.t_o_connection_id.to_le_bytes());
                r.extend_from_slice(&open.triad.connection_serial.to_le_bytes());
                r.extend_from_slice(&open.triad.vendor_id.to_le_bytes());
                r.extend_from_slice(&open.triad.originator_serial.to_le_bytes());
                r.extend_from_slice(&open.o_t_rpi.to_le_bytes());
                r.extend_from_slice(&open.t_o_rpi.to_le_bytes());
                r.extend_from_slice(&[0, 0]);
                r
            }
            0x52 => {
                let send = UnconnectedSend::parse(request.data).unwrap();
                cip(send.message, None, conn, tags, o)
            }
            _ => status(service, 0x08, None),
        };
    }
    if service == 0x0A && request.path.is_object(0x02) {
        let packet = MultipleServices::new_checked(request.data).unwrap();
        let replies: Vec<Vec<u8>> = packet.iter().map(|m| cip(m, size, conn, tags, o)).collect();
        let mut body = (replies.len() as u16).to_le_bytes().to_vec();
        let mut at = 2 + 2 * replies.len();
        for r in &replies {
            body.extend_from_slice(&(at as u16).to_le_bytes());
            at += r.len();
        }
        for r in &replies {
            body.extend_from_slice(r);
        }
        if body.len() > limit {
            return status(service, 0x11, None);
        }
        let failed = replies.iter().any(|r| r[2] != 0 && r[2] != 6);
        let mut r = status(service, if failed { 0x1E } else { 0 }, None);
        r.extend_from_slice(&body);
        return r;
    }
    if service == 0x55 {
        return list(&request, tags, o, limit);
    }
    let mut tags = tags.lock().unwrap();
    let (t, first) = match find(&request.path, &tags) {
        Ok(found) => found,
        Err(general) => return status(service, general, None),
    };
    let tag = &mut tags[t];
    let start = first * tag.elem_size;
    match Request::parse(&request) {
        Ok(Request::ReadTag(_) | Request::ReadTagFragmented(_)) => {
            let (elements, offset) = match Request::parse(&request) {
                Ok(Request::ReadTag(r)) => (r.elements, 0),
                Ok(Request::ReadTagFragmented(r)) => (r.elements, r.offset as usize),
                _ => unreachable!(),
            };
            let end = start + usize::from(elements) * tag.elem_size;
            if end > tag.data.len() || start + offset > end {
                return status(service, 0xFF, Some(0x2105));
            }
            let room = (limit - tag.type_field.len()) / tag.elem_size * tag.elem_size;
            let chunk_end = end.min(start + offset + room);
            let partial = chunk_end < end;
            let mut r = status(service, if partial { 6 } else { 0 }, None);
            r.extend_from_slice(&tag.type_field);
            r.extend_from_slice(&tag.data[start + offset..chunk_end]);
            r
        }
        Ok(Request::WriteTag(w)) => {
            let mut field = vec![0u8; 4];
            let n = w.tag_type.emit(&mut field).unwrap();
            if field[..n] != tag.type_field[..] {
                return status(service, 0xFF, Some(0x2107));
            }
            let end = start + w.data.len();
            if end > tag.data.len() {
                return status(service, 0xFF, Some(0x2105));
            }
            tag.data[start..end].copy_from_slice(w.data);
            status(service, 0, None)
        }
        Ok(Request::WriteTagFragmented(w)) => {
            let at = start + w.offset as usize;
            let end = at + w.data.len();
            if end > tag.data.len() {
                return status(service, 0xFF, Some(0x2105));
            }
            tag.data[at..end].copy_from_slice(w.data);
            status(service, 0, None)
        }
        Ok(Request::ReadModifyWrite(ReadModifyWrite { or_mask, and_mask })) => {
            let n = or_mask.len();
            if n > tag.elem_size {
                return status(service, 0xFF, Some(0x2107));
            }
            for i in 0..n {
                let b = &mut tag.data[start + i];
                *b = (*b | or_mask[i]) & and_mask[i];
            }
            status(service, 0, None)
        }
        _ => status(service, 0x08, None),
    }
}

/// Get_Instance_Attribute_List (attributes 1, 2, 8) of the controller's tags (names without
/// `.`, and `Program:` entries for programs) or one program's (`Program:X` prefix).
fn list(
    request: &MessageRequest<'_>,
    tags: &Mutex<Vec<Tag>>,
    o: &Options,
    limit: usize,
) -> Vec<u8> {
    let mut program = None;
    let mut start = 0;
    for segment in request.path.segments() {
        match segment {
            Segment::Symbolic(s) => program = Some(String::from_utf8(s.to_vec()).unwrap()),
            Segment::Logical(l) if l.kind == LogicalType::Instance => start = l.value,
            _ => {}
        }
    }
    if request.data != [3, 0, 1, 0, 2, 0, 8, 0] {
        return status(0x55, 0x0A, None);
    }
    let tags = tags.lock().unwrap();
    let mut entries: Vec<(u32, String, u16, u32)> = Vec::new();
    let mut programs: Vec<String> = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        let id = i as u32 + 1;
        match (&program, t.name.split_once('.')) {
            (None, None) => entries.push((id, t.name.clone(), t.symbol_type(), t.dims)),
            (None, Some((p, _))) if !programs.contains(&p.to_string()) => {
                programs.push(p.to_string());
                entries.push((1000 + programs.len() as u32, p.to_string(), 0x1068, 0));
            }
            (Some(p), Some((q, name))) if p == q => {
                entries.push((id, name.to_string(), t.symbol_type(), t.dims))
            }
            _ => {}
        }
    }
    entries.sort_by_key(|e| e.0);
    let mut out = Vec::new();
    let mut partial = false;
    for (n, (id, name, symbol_type, dims)) in
        entries.into_iter().filter(|e| e.0 >= start).enumerate()
    {
        let mut entry = id.to_le_bytes().to_vec();
        entry.extend_from_slice(&(name.len() as u16).to_le_bytes());
        entry.extend_from_slice(name.as_bytes());
        entry.extend_from_slice(&symbol_type.to_le_bytes());
        entry.extend_from_slice(&dims.to_le_bytes());
        entry.extend_from_slice(&[0; 8]);
        if n == o.page || out.len() + entry.len() > limit {
            partial = true;
            break;
        }
        out.extend_from_slice(&entry);
    }
    let mut r = status(0x55, if partial { 6 } else { 0 }, None);
    r.extend_from_slice(&out);
    r
}

/// Loop capacities for one client protothread.
pub fn capacities() -> Capacities {
    Capacities {
        tcp_streams: 4,
        timers: 8,
        udp_sockets: 2,
        ..Capacities::default()
    }
}

/// Runs a protothread on each of `contexts` (set up by the test) until all have ended.
pub fn run<C>(contexts: &mut [C])
where
    C: Protothread + 'static,
    C::Output: Into<Outcome>,
{
    let mut memory = OwnedStorage::new(capacities());
    let config = Config {
        protothreads: contexts.len(),
        ..Config::default()
    };
    let n = contexts.len();
    let mut ev = EventLoop::new(memory.storage(), config, ()).unwrap();
    let pool: PtPool<C> = ev.add_protothreads(contexts).unwrap();
    for _ in 0..n {
        ev.cx().spawn_with(pool, |_| {}).unwrap();
    }
    let start = Instant::now();
    while ev.protothreads_running() > 0 {
        assert!(
            start.elapsed() < BOUND,
            "the client did not finish in {BOUND:?}"
        );
        ev.run_once(Some(Duration::from_millis(10))).unwrap();
    }
}

/// One step of a [`Script`].
#[derive(Clone, Debug)]
pub enum Step {
    Read(&'static str, u16),
    ReadValue(&'static str),
    WriteValue(&'static str, Value),
    WriteTag(&'static str, TagType, u16, Vec<u8>),
    WriteString(&'static str, &'static [u8]),
    ReadMany(Vec<String>, usize),
    WriteMany(Vec<(String, Value)>),
    List(Option<&'static str>),
    /// ListIdentity to the address, replies collected for the milliseconds.
    Discover(SocketAddr, u64),
}

/// What a step gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    Read(TagRead, Vec<u8>),
    Value(Value),
    Written,
    Many(Vec<Result<Value, ClientError>>),
    WroteMany(Vec<Result<(), ClientError>>),
    List(Vec<String>),
    Devices(Vec<Device>),
    Failed(ClientError),
}

/// A client running steps one after the other, keeping what each gave.
pub struct Script {
    pub pt: Pt,
    pub client: Box<Client<4>>,
    pub steps: Vec<Step>,
    pub at: usize,
    pub done: Vec<Done>,
    data: Vec<u8>,
    values: Vec<Result<Value, ClientError>>,
    writes: Vec<Result<(), ClientError>>,
    listed: Vec<String>,
    discovery: Option<Discovery>,
    devices: Vec<Device>,
    pub requests_sent: u64,
    pub connection_size: Option<u16>,
}

impl Script {
    pub fn new(addr: SocketAddr, config: ClientConfig, steps: Vec<Step>) -> Script {
        Script {
            pt: Pt::new(),
            client: Box::new(Client::new(addr, config)),
            steps,
            at: 0,
            done: Vec::new(),
            data: vec![0; 16_384],
            values: Vec::new(),
            writes: Vec::new(),
            listed: Vec::new(),
            discovery: None,
            devices: Vec::new(),
            requests_sent: 0,
            connection_size: None,
        }
    }

    fn poll_step(&mut self, cx: &mut Cx<'_>) -> Poll<Done> {
        let c = &mut self.client;
        let r = match &self.steps[self.at] {
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
                c.poll_list_tags(cx, *program, |e| listed.push(e.to_string()))
                    .map(|r| r.map(|_| Done::List(std::mem::take(listed))))
            }
            Step::Discover(target, window_ms) => {
                let discovery = self
                    .discovery
                    .get_or_insert_with(|| Discovery::new(*target, *window_ms));
                loop {
                    match discovery.poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(Some(device))) => self.devices.push(device),
                        Poll::Ready(Ok(None)) => {
                            self.discovery = None;
                            break Poll::Ready(Ok(Done::Devices(std::mem::take(
                                &mut self.devices,
                            ))));
                        }
                        Poll::Ready(Err(e)) => {
                            self.discovery = None;
                            break Poll::Ready(Err(e));
                        }
                    }
                }
            }
        };
        r.map(|r| r.unwrap_or_else(Done::Failed))
    }
}

#[protothread(crate = ::ptk_runtime)]
pub fn script(ctx: &mut Script, cx: &mut Cx<'_>) {
    while ctx.at < ctx.steps.len() {
        let done = pt_await!(ctx.poll_step(cx));
        ctx.done.push(done);
        ctx.at += 1;
    }
    ctx.requests_sent = ctx.client.requests_sent();
    ctx.connection_size = ctx.client.connection_size();
    ctx.client.close(cx);
}

/// Runs `steps` with a client of `addr` and returns what each gave and the script.
pub fn run_script(addr: SocketAddr, config: ClientConfig, steps: Vec<Step>) -> Script {
    let mut scripts = [Script::new(addr, config, steps)];
    run(&mut scripts);
    let [script] = scripts;
    script
}
