//! Writes `$OUT_DIR/cases.rs`: `PTK_DIFF_COUNT` random protothread bodies (default 500) from
//! the seed `PTK_DIFF_SEED` (default 0x5eed_2024), each as a `#[protothread]` function and as
//! a plain function that models every suspension point with the events it causes.

use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PTK_DIFF_SEED");
    println!("cargo:rerun-if-env-changed=PTK_DIFF_COUNT");
    let seed = env_number("PTK_DIFF_SEED", 0x5eed_2024);
    let count = env_number("PTK_DIFF_COUNT", 500);
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut out = String::new();
    let mut table = String::new();
    for n in 0..count {
        let body = Generator::new(&mut rng).body();
        let case_seed = rng.next();
        out.push_str(&case(n, &body, case_seed));
        writeln!(
            table,
            "    Case {{ name: \"case_{n}\", source: case_{n}::SOURCE, run: case_{n}::run }},"
        )
        .unwrap_or_default();
    }
    writeln!(out, "pub static CASES: &[Case] = &[\n{table}];").unwrap_or_default();
    let path = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default()).join("cases.rs");
    if let Err(e) = fs::write(&path, out) {
        panic!("cannot write {}: {e}", path.display());
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        }
        Err(_) => default,
    }
}

fn case(n: u64, body: &[Node], seed: u64) -> String {
    let pt = print_block(body, Mode::Pt, 2);
    let plain = print_block(body, Mode::Plain, 4);
    format!(
        r####"
pub mod case_{n} {{
    use super::*;
    crate::case_context!();

    pub const SOURCE: &str = r###"{pt}"###;

    #[protothread]
    pub fn pt(ctx: &mut Ctx, cx: &mut Cx<'_>) -> Result<u32, u32> {{
{pt}    }}

    #[allow(clippy::never_loop)]
    pub fn plain(ctx: &mut Ctx) -> Result<u32, u32> {{
        'top: loop {{
            let r: Result<u32, u32> = {{
{plain}            }};
            break r;
        }}
    }}

    pub fn run() -> Comparison {{
        let mut a = Ctx {{ pt: Pt::new(), s: State::new({seed}), child: Child::default() }};
        let out_a = drive(&mut a, |c| &mut c.s.trace);
        let mut b = Ctx {{ pt: Pt::new(), s: State::new({seed}), child: Child::default() }};
        let out_b = plain(&mut b);
        let out_b = if b.s.exited {{ None }} else {{ Some(out_b) }};
        (a.s.trace, out_a, b.s.trace, out_b)
    }}
}}
"####
    )
}

/// xorshift64: small, fixed, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Pt,
    Plain,
}

enum Node {
    Mark(u32),
    Yield,
    Await(u32, u8),
    AwaitRes(u32),
    WaitUntil(u32),
    WaitWhile(u32),
    YieldUntil(u32),
    Spawn,
    ValueIf(u32),
    Check(u32),
    Return(u32),
    Exit(u32),
    Restart(u32),
    Break {
        id: u32,
        label: Option<String>,
        value: Option<u32>,
    },
    Continue {
        id: u32,
        label: Option<String>,
    },
    If {
        id: u32,
        then: Vec<Node>,
        els: Option<Vec<Node>>,
    },
    IfLet {
        id: u32,
        then: Vec<Node>,
        els: Vec<Node>,
    },
    Match {
        id: u32,
        on_await: bool,
        arms: [Vec<Node>; 3],
    },
    Block(Vec<Node>),
    Loop {
        depth: usize,
        label: Option<String>,
        limit: u32,
        value: bool,
        body: Vec<Node>,
    },
    While {
        depth: usize,
        label: Option<String>,
        limit: u32,
        body: Vec<Node>,
    },
    WhileLet {
        depth: usize,
        label: Option<String>,
        limit: u32,
        body: Vec<Node>,
    },
    TailOk,
    TailIf {
        id: u32,
        then: Vec<Node>,
        els: Vec<Node>,
    },
}

struct LoopInfo {
    label: Option<String>,
    value: bool,
}

struct Generator<'a> {
    rng: &'a mut Rng,
    ids: u32,
    budget: u32,
    loops: Vec<LoopInfo>,
    labels: u32,
}

impl<'a> Generator<'a> {
    fn new(rng: &'a mut Rng) -> Generator<'a> {
        Generator {
            rng,
            ids: 0,
            budget: 28,
            loops: Vec::new(),
            labels: 0,
        }
    }

    fn id(&mut self) -> u32 {
        self.ids += 1;
        self.ids
    }

    fn body(&mut self) -> Vec<Node> {
        let mut stmts = self.block(0);
        if self.rng.below(3) == 0 {
            let id = self.id();
            let then = self.block(1);
            let els = self.block(1);
            stmts.push(Node::TailIf { id, then, els });
        } else {
            stmts.push(Node::TailOk);
        }
        stmts
    }

    fn block(&mut self, depth: usize) -> Vec<Node> {
        let n = 1 + self.rng.below(if depth == 0 { 6 } else { 4 });
        (0..n).map(|_| self.stmt(depth)).collect()
    }

    fn label(&mut self) -> Option<String> {
        (self.rng.below(2) == 0).then(|| {
            self.labels += 1;
            format!("'l{}", self.labels)
        })
    }

    fn stmt(&mut self, depth: usize) -> Node {
        let nested = depth < 4 && self.budget > 0;
        let choice = self.rng.below(if nested { 26 } else { 17 });
        if self.budget > 0 {
            self.budget -= 1;
        }
        let id = self.id();
        match choice {
            0 | 1 => Node::Mark(id),
            2 | 3 => Node::Yield,
            4 => Node::Await(id, self.rng.below(3) as u8),
            5 => Node::AwaitRes(id),
            6 => Node::WaitUntil(id),
            7 => Node::WaitWhile(id),
            8 => Node::YieldUntil(id),
            9 => Node::Spawn,
            10 => Node::ValueIf(id),
            11 => Node::Check(id),
            12 => Node::Return(id),
            13 => Node::Exit(id),
            14 => Node::Restart(id),
            15 | 16 => self.jump(id),
            17 | 18 => {
                let then = self.block(depth + 1);
                let els = (self.rng.below(2) == 0).then(|| self.block(depth + 1));
                Node::If { id, then, els }
            }
            19 => {
                let then = self.block(depth + 1);
                let els = self.block(depth + 1);
                Node::IfLet { id, then, els }
            }
            20 => {
                let on_await = self.rng.below(2) == 0;
                let arms = [
                    self.block(depth + 1),
                    self.block(depth + 1),
                    self.block(depth + 1),
                ];
                Node::Match { id, on_await, arms }
            }
            21 => Node::Block(self.block(depth + 1)),
            22 | 23 => {
                let label = self.label();
                let value = self.rng.below(3) == 0;
                let limit = 1 + self.rng.below(3) as u32;
                self.loops.push(LoopInfo {
                    label: label.clone(),
                    value,
                });
                let body = self.block(depth + 1);
                self.loops.pop();
                Node::Loop {
                    depth,
                    label,
                    limit,
                    value,
                    body,
                }
            }
            24 => {
                let label = self.label();
                let limit = 1 + self.rng.below(3) as u32;
                self.loops.push(LoopInfo {
                    label: label.clone(),
                    value: false,
                });
                let body = self.block(depth + 1);
                self.loops.pop();
                Node::While {
                    depth,
                    label,
                    limit,
                    body,
                }
            }
            _ => {
                let label = self.label();
                let limit = 1 + self.rng.below(3) as u32;
                self.loops.push(LoopInfo {
                    label: label.clone(),
                    value: false,
                });
                let body = self.block(depth + 1);
                self.loops.pop();
                Node::WhileLet {
                    depth,
                    label,
                    limit,
                    body,
                }
            }
        }
    }

    /// A guarded `break` or `continue` to an enclosing loop, or a mark outside loops.
    fn jump(&mut self, id: u32) -> Node {
        if self.loops.is_empty() {
            return Node::Mark(id);
        }
        let target = self.rng.below(self.loops.len() as u64) as usize;
        let innermost = target == self.loops.len() - 1;
        let info = &self.loops[target];
        let label = if innermost && self.rng.below(2) == 0 {
            None
        } else {
            info.label.clone()
        };
        if label.is_none() && !innermost {
            return Node::Mark(id);
        }
        if self.rng.below(2) == 0 {
            return Node::Continue { id, label };
        }
        if info.value {
            Node::Break {
                id,
                label,
                value: Some(id % 9),
            }
        } else {
            Node::Break {
                id,
                label,
                value: None,
            }
        }
    }
}

fn print_block(nodes: &[Node], mode: Mode, indent: usize) -> String {
    let mut out = String::new();
    for node in nodes {
        print_node(node, mode, indent, &mut out);
    }
    out
}

fn print_node(node: &Node, mode: Mode, indent: usize, out: &mut String) {
    let pad = "    ".repeat(indent);
    let pt = mode == Mode::Pt;
    let inner = |nodes: &[Node]| print_block(nodes, mode, indent + 1);
    let exit = "{ ctx.s.exited = true; return Err(0xdead); }";
    let line = match node {
        Node::Mark(id) => format!("ctx.s.mark({id});"),
        Node::Yield if pt => "pt_yield!();".into(),
        Node::Yield => "ctx.s.yield_plain();".into(),
        Node::Await(id, form) => {
            let value =
                if pt { format!("pt_await!(ctx.s.poll({id}))") } else { format!("ctx.s.await_plain({id})") };
            match form {
                0 => format!("{value};"),
                1 => format!("let v = {value};\n{pad}ctx.s.acc += v;"),
                _ => format!("ctx.s.acc += {value};"),
            }
        }
        Node::AwaitRes(id) if pt => format!("let w = pt_await!(ctx.s.poll_res({id}))?;\n{pad}ctx.s.acc += w;"),
        Node::AwaitRes(id) => format!("let w = ctx.s.await_res_plain({id})?;\n{pad}ctx.s.acc += w;"),
        Node::WaitUntil(id) if pt => format!("pt_wait_until!(ctx.s.cond({id}));"),
        Node::WaitUntil(id) => format!("ctx.s.wait_until_plain({id});"),
        Node::WaitWhile(id) if pt => format!("pt_wait_while!(ctx.s.cond({id}));"),
        Node::WaitWhile(id) => format!("ctx.s.wait_while_plain({id});"),
        Node::YieldUntil(id) if pt => format!("pt_yield_until!(ctx.s.cond({id}));"),
        Node::YieldUntil(id) => format!("ctx.s.yield_until_plain({id});"),
        Node::Spawn if pt => "ctx.s.acc += pt_spawn!(ctx.child);".into(),
        Node::Spawn => format!("ctx.s.acc += match ctx.s.spawn_plain() {{ Some(v) => v, None => {exit} }};"),
        Node::ValueIf(id) => {
            let value =
                if pt { format!("pt_await!(ctx.s.poll({id}))") } else { format!("ctx.s.await_plain({id})") };
            format!("let v = if ctx.s.flip({id}) {{ {value} }} else {{ {} }};\n{pad}ctx.s.acc += v;", id % 4)
        }
        Node::Check(id) => format!("ctx.s.check({id})?;"),
        Node::Return(id) => format!("if ctx.s.rare({id}) {{ return Ok({id}); }}"),
        Node::Exit(id) if pt => format!("if ctx.s.rare({id}) {{ pt_exit!(); }}"),
        Node::Exit(id) => format!("if ctx.s.rare({id}) {exit}"),
        Node::Restart(id) => {
            let restart = if pt { "pt_restart!();" } else { "ctx.s.yield_plain(); continue 'top;" };
            format!("if ctx.s.restarts < 2 && ctx.s.flip({id}) {{ ctx.s.restarts += 1; {restart} }}")
        }
        Node::Break { id, label, value } => {
            let label = label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            let value = value.map(|v| format!(" {v}")).unwrap_or_default();
            format!("if ctx.s.flip({id}) {{ break{label}{value}; }}")
        }
        Node::Continue { id, label } => {
            let label = label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            format!("if ctx.s.flip({id}) {{ continue{label}; }}")
        }
        Node::If { id, then, els } => {
            let mut s = format!("if ctx.s.flip({id}) {{\n{}{pad}}}", inner(then));
            if let Some(els) = els {
                write!(s, " else {{\n{}{pad}}}", inner(els)).unwrap_or_default();
            }
            s
        }
        Node::IfLet { id, then, els } => format!(
            "if let Some(x) = ctx.s.maybe({id}) {{\n{pad}    ctx.s.mark(x);\n{}{pad}}} else {{\n{}{pad}}}",
            inner(then),
            inner(els)
        ),
        Node::Match { id, on_await, arms } => format!(
            "match {} {{\n{pad}    0 => {{\n{}{pad}    }}\n{pad}    1 if ctx.s.flip({}) => {{\n{}{pad}    }}\n{pad}    _ => {{\n{}{pad}    }}\n{pad}}}",
            match (on_await, pt) {
                (false, _) => format!("ctx.s.pick({id})"),
                (true, true) => format!("pt_await!(ctx.s.poll({id}))"),
                (true, false) => format!("ctx.s.await_plain({id})"),
            },
            print_block(&arms[0], mode, indent + 2),
            id + 10_000,
            print_block(&arms[1], mode, indent + 2),
            print_block(&arms[2], mode, indent + 2),
        ),
        Node::Block(body) => format!("{{\n{}{pad}}}", inner(body)),
        Node::Loop { depth, label, limit, value, body } => {
            let label = label.as_deref().map(|l| format!("{l}: ")).unwrap_or_default();
            let (assign, stop, semi) =
                if *value { ("ctx.s.acc += ", "break 0;", ";") } else { ("", "break;", "") };
            format!(
                "ctx.s.c[{depth}] = 0;\n{pad}{assign}{label}loop {{\n{pad}    ctx.s.c[{depth}] += 1;\n{pad}    if ctx.s.c[{depth}] > {limit} {{ {stop} }}\n{}{pad}}}{semi}",
                inner(body)
            )
        }
        Node::While { depth, label, limit, body } => {
            let label = label.as_deref().map(|l| format!("{l}: ")).unwrap_or_default();
            format!(
                "ctx.s.c[{depth}] = 0;\n{pad}{label}while ctx.s.c[{depth}] < {limit} {{\n{pad}    ctx.s.c[{depth}] += 1;\n{}{pad}}}",
                inner(body)
            )
        }
        Node::WhileLet { depth, label, limit, body } => {
            let label = label.as_deref().map(|l| format!("{l}: ")).unwrap_or_default();
            format!(
                "ctx.s.c[{depth}] = 0;\n{pad}{label}while let Some(x) = ctx.s.next({depth}, {limit}) {{\n{pad}    ctx.s.mark(x);\n{}{pad}}}",
                inner(body)
            )
        }
        Node::TailOk => "Ok(ctx.s.acc)".into(),
        Node::TailIf { id, then, els } => format!(
            "if ctx.s.flip({id}) {{\n{}{pad}    Ok({id})\n{pad}}} else {{\n{}{pad}    Ok(ctx.s.acc)\n{pad}}}",
            inner(then),
            inner(els)
        ),
    };
    writeln!(out, "{pad}{line}").unwrap_or_default();
}
