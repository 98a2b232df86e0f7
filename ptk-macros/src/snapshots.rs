//! Snapshots of the expansion of a catalogue of protothreads, formatted by prettyplease.
//! `cargo test -p ptk-macros` checks them; `INSTA_UPDATE=always` rewrites them after a
//! deliberate change (review the `.snap` diffs before committing).

use proc_macro2::TokenStream;

/// The expansion of `#[protothread(args)] item`, formatted.
pub(crate) fn expand(args: &str, item: &str) -> String {
    let args: TokenStream = args.parse().unwrap_or_else(|e| panic!("bad args: {e}"));
    let item: TokenStream = item.parse().unwrap_or_else(|e| panic!("bad item: {e}"));
    let out = crate::expand::protothread(args, item);
    match syn::parse2::<syn::File>(out.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => {
            // A method form expands to impl items: format them inside an impl.
            let wrapped = quote::quote!(impl __Snapshot for Ctx { #out });
            match syn::parse2::<syn::File>(wrapped) {
                Ok(file) => prettyplease::unparse(&file),
                Err(e) => panic!("expansion does not parse ({e}):\n{out}"),
            }
        }
    }
}

macro_rules! snapshot {
    ($name:ident, $args:literal, $item:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(expand($args, $item));
        }
    };
}

snapshot!(
    no_suspension_point,
    "",
    r#"
fn answer(ctx: &mut Ctx, _cx: &mut Cx<'_>) -> u32 {
    ctx.calls += 1;
    42
}
"#
);

snapshot!(
    straight_line,
    "",
    r#"
fn blink(ctx: &mut Led, cx: &mut Cx<'_>) {
    ctx.on = true;
    pt_yield!();
    ctx.on = false;
    pt_wait_until!(ctx.ticks >= 10);
    ctx.count += 1;
}
"#
);

snapshot!(
    await_with_question_mark,
    "",
    r#"
fn read_one(ctx: &mut Reader, cx: &mut Cx<'_>) -> Result<usize, Error> {
    let n = pt_await!(cx.read(ctx.stream, &mut ctx.buf))?;
    ctx.total += n;
    Ok(n)
}
"#
);

snapshot!(
    nested_loops_with_labels,
    "",
    r#"
fn scan(ctx: &mut Grid, cx: &mut Cx<'_>) -> u32 {
    ctx.row = 0;
    'rows: while ctx.row < ctx.rows {
        ctx.col = 0;
        loop {
            if ctx.col == ctx.cols {
                break;
            }
            pt_yield!();
            if ctx.cell() == 0 {
                ctx.col += 1;
                continue;
            }
            if ctx.cell() == 9 {
                break 'rows;
            }
            ctx.col += 1;
        }
        ctx.row += 1;
    }
    ctx.row
}
"#
);

snapshot!(
    match_with_waits_in_arms_and_guards,
    "",
    r#"
fn dispatch(ctx: &mut Server, cx: &mut Cx<'_>) -> Result<(), Error> {
    match ctx.request {
        Request::Read { len } if len > 0 => {
            ctx.len = len;
            pt_await!(cx.read(ctx.stream, &mut ctx.buf[..ctx.len]))?;
        }
        Request::Read { .. } => return Err(Error::InvalidArgument),
        Request::Write => pt_await!(cx.write(ctx.stream, &ctx.buf))?,
        Request::Idle => {}
    }
    ctx.served += 1;
    Ok(())
}
"#
);

snapshot!(
    question_mark_inside_a_loop,
    "",
    r#"
fn drain(ctx: &mut Queue, cx: &mut Cx<'_>) -> Result<u32, Error> {
    while let Some(item) = ctx.items.pop() {
        let checked = validate(item)?;
        ctx.sum += checked;
        pt_yield!();
    }
    Ok(ctx.sum)
}
"#
);

snapshot!(
    break_with_value,
    "",
    r#"
fn find(ctx: &mut Search, cx: &mut Cx<'_>) -> Option<u32> {
    let found = loop {
        if ctx.i == ctx.len {
            break None;
        }
        pt_yield!();
        if ctx.hit(ctx.i) {
            break Some(ctx.i);
        }
        ctx.i += 1;
    };
    ctx.done = true;
    found
}
"#
);

snapshot!(
    spawn_a_child,
    "",
    r#"
fn parent(ctx: &mut Session, cx: &mut Cx<'_>) -> Result<(), Error> {
    ctx.log.push("login");
    ctx.reply = pt_spawn!(ctx.login)?;
    let n = pt_spawn!(ctx.exchange)?;
    ctx.total += n;
    Ok(())
}
"#
);

snapshot!(
    restart,
    "",
    r#"
fn poller(ctx: &mut Poller, cx: &mut Cx<'_>) {
    ctx.rounds += 1;
    pt_wait_while!(ctx.busy);
    if ctx.again {
        pt_restart!();
    }
    ctx.finished = true;
}
"#
);

snapshot!(
    exit,
    "",
    r#"
fn guard(ctx: &mut Guard, cx: &mut Cx<'_>) -> u32 {
    pt_yield_until!(ctx.ready);
    if ctx.cancelled {
        pt_exit!();
    }
    ctx.value
}
"#
);

snapshot!(
    method_form,
    "",
    r#"
fn resume(&mut self, cx: &mut Cx<'_>) -> u32 {
    self.n = 0;
    while self.n < 3 {
        pt_yield!();
        self.n += 1;
    }
    self.n
}
"#
);

snapshot!(
    crate_and_pt_options,
    "crate = ::ptk_runtime, pt = state.pt",
    r#"
pub fn tick(ctx: &mut Clock, cx: &mut Cx<'_>) {
    pt_yield!();
    ctx.ticks += 1;
}
"#
);

snapshot!(
    value_of_an_if_in_a_let,
    "",
    r#"
fn choose(ctx: &mut Chooser, cx: &mut Cx<'_>) -> u32 {
    let v = if ctx.fast {
        1
    } else {
        pt_await!(ctx.slow.poll())
    };
    v + 1
}
"#
);

snapshot!(
    early_return_and_tail_if,
    "",
    r#"
fn check(ctx: &mut Check, cx: &mut Cx<'_>) -> Result<u8, Error> {
    if ctx.skip {
        return Ok(0);
    }
    pt_yield!();
    if ctx.a {
        pt_yield!();
        Ok(1)
    } else {
        Err(Error::Closed)
    }
}
"#
);

snapshot!(
    generic_context_and_let_else,
    "",
    r#"
fn frame<T: Transport>(ctx: &mut Framer<T>, cx: &mut Cx<'_>) -> Result<Frame, Error> {
    let Some(header) = pt_await!(ctx.transport.poll_header(cx))? else {
        return Err(Error::Closed);
    };
    ctx.header = header;
    Ok(ctx.frame())
}
"#
);

snapshot!(
    echo_driver,
    "",
    r#"
/// Reads length-prefixed frames and echoes each back, until the peer closes.
pub fn echo(ctx: &mut Echo, cx: &mut Cx<'_>) -> Result<u64, Error> {
    ctx.frames = 0;
    'session: loop {
        ctx.filled = 0;
        while ctx.filled < 2 {
            let n = pt_await!(cx.read(ctx.stream, &mut ctx.buf[ctx.filled..2]))?;
            if n == 0 {
                break 'session;
            }
            ctx.filled += n;
        }
        ctx.len = usize::from(u16::from_be_bytes([ctx.buf[0], ctx.buf[1]]));
        if ctx.len > ctx.buf.len() - 2 {
            return Err(Error::MessageTooLarge);
        }
        while ctx.filled < ctx.len + 2 {
            let n = pt_await!(cx.read(ctx.stream, &mut ctx.buf[ctx.filled..ctx.len + 2]))?;
            match n {
                0 => return Err(Error::ConnectionReset),
                n => ctx.filled += n,
            }
        }
        ctx.sent = 0;
        while ctx.sent < ctx.filled {
            ctx.sent += pt_await!(cx.write(ctx.stream, &ctx.buf[ctx.sent..ctx.filled]))?;
        }
        ctx.frames += 1;
        pt_yield!();
    }
    pt_await!(cx.shutdown(ctx.stream))?;
    Ok(ctx.frames)
}
"#
);

snapshot!(
    match_on_an_awaited_value,
    "",
    r#"
fn classify(ctx: &mut Link, cx: &mut Cx<'_>) -> Result<(), Error> {
    match pt_await!(cx.read(ctx.stream, &mut ctx.buf))? {
        0 => return Err(Error::Closed),
        n if n < 4 => {
            ctx.short += 1;
            pt_yield!();
        }
        n => ctx.total += n,
    }
    Ok(())
}
"#
);
