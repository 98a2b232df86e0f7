//! The client allocates nothing per request: a counting global allocator, switched on for
//! the loop's thread once the session is up, while a protothread runs 50 rounds of a
//! fragmented read of 2,000 DINTs, a value write, a bit write by Read-Modify-Write, 60 reads
//! and 60 writes in Multiple_Service_Packets, and a paged tag list.

#[path = "../../ptk-runtime/tests/alloc_counter/mod.rs"]
mod alloc_counter;
mod client_fake;

use client_fake::{run, Fake, Options, Tag};
use ptk_enip::client::{Client, ClientConfig, ClientError};
use ptk_enip::Value;
use ptk_macros::protothread;
use ptk_runtime::{Cx, Pt};

const TAGS: usize = 60;
const ROUNDS: usize = 50;

struct Load {
    pt: Pt,
    client: Box<Client<4>>,
    data: Box<[u8; 8192]>,
    names: Vec<&'static str>,
    values: Vec<Result<Value, ClientError>>,
    writes: Vec<(&'static str, Value)>,
    written: Vec<Result<(), ClientError>>,
    listed: usize,
    round: usize,
    outcome: Option<Result<(), ClientError>>,
}

impl Load {
    /// Keeps the error of a failed step, if it failed.
    fn failed(&mut self, r: Result<(), ClientError>) -> bool {
        match r {
            Ok(()) => false,
            Err(e) => {
                alloc_counter::count_this_thread(false);
                self.outcome = Some(Err(e));
                true
            }
        }
    }
}

#[protothread(crate = ::ptk_runtime)]
fn load(ctx: &mut Load, cx: &mut Cx<'_>) {
    let r = pt_await!(ctx.client.poll_read_value(cx, "T0"));
    if let Err(e) = r {
        ctx.outcome = Some(Err(e));
        return;
    }
    alloc_counter::count_this_thread(true);
    while ctx.round < ROUNDS {
        let r = pt_await!(ctx.client.poll_read_tag(cx, "BIG", 2000, &mut ctx.data[..]));
        if ctx.failed(r.map(|_| ())) {
            return;
        }
        let r = pt_await!(ctx
            .client
            .poll_write_value(cx, "T1", Value::Dint(ctx.round as i32)));
        if ctx.failed(r) {
            return;
        }
        let r = pt_await!(ctx
            .client
            .poll_write_value(cx, "T2.3", Value::Bool(ctx.round % 2 == 0)));
        if ctx.failed(r) {
            return;
        }
        let r = pt_await!(ctx
            .client
            .poll_read_many(cx, &ctx.names, 4, &mut ctx.values));
        if ctx.failed(r) {
            return;
        }
        let r = pt_await!(ctx
            .client
            .poll_write_many(cx, &ctx.writes, &mut ctx.written));
        if ctx.failed(r) {
            return;
        }
        let r = pt_await!(ctx.client.poll_list_tags(cx, None, |_| {}));
        match r {
            Ok(n) => ctx.listed = n,
            Err(e) => {
                ctx.failed(Err(e));
                return;
            }
        }
        ctx.round += 1;
    }
    alloc_counter::count_this_thread(false);
    ctx.outcome = Some(Ok(()));
    ctx.client.close(cx);
}

#[test]
fn reading_and_writing_allocates_nothing_after_start_up() {
    let mut tags: Vec<Tag> = (0..TAGS)
        .map(|i| {
            let mut t = Tag::atomic(&format!("T{i}"), 0xC4, 4, 0);
            t.data = (i as i32 * 3).to_le_bytes().to_vec();
            t
        })
        .collect();
    tags.push(Tag::atomic("BIG", 0xC4, 4, 2000));
    let fake = Fake::start(
        tags,
        Options {
            page: 25,
            ..Options::default()
        },
    );
    let names: Vec<&'static str> = (0..TAGS)
        .map(|i| &*Box::leak(format!("T{i}").into_boxed_str()))
        .collect();
    let writes = (TAGS / 2..TAGS)
        .map(|i| (names[i], Value::Dint(-(i as i32))))
        .collect();
    let mut jobs = [Load {
        pt: Pt::new(),
        client: Box::new(Client::new(fake.addr, ClientConfig::default())),
        data: Box::new([0; 8192]),
        names,
        values: vec![Err(ClientError::Busy); TAGS],
        writes,
        written: vec![Err(ClientError::Busy); TAGS / 2],
        listed: 0,
        round: 0,
        outcome: None,
    }];
    let before = alloc_counter::allocations();
    run(&mut jobs);
    let allocations = alloc_counter::allocations() - before;
    let job = &jobs[0];
    assert_eq!(job.outcome, Some(Ok(())));
    assert_eq!(job.round, ROUNDS);
    assert_eq!(
        allocations, 0,
        "allocations on the loop thread after start-up"
    );
    // The last round read what its own writes and those of the round before left: T1 its
    // round number, T2 with bit 3 cleared (an odd round), the second half negated.
    for (i, v) in job.values.iter().enumerate() {
        let expected = match i {
            1 => ROUNDS as i32 - 1,
            2 => 3 * 2,
            i if i >= TAGS / 2 => -(i as i32),
            i => 3 * i as i32,
        };
        assert_eq!(*v, Ok(Value::Dint(expected)), "T{i}");
    }
    assert!(job.written.iter().all(Result::is_ok));
    assert_eq!(job.listed, TAGS + 1);
    // 50 rounds of: 3 fragments, 1 write, 2 for the bit, 1 + 1 packets, 3 pages.
    let cip = fake.log().cip().len();
    assert_eq!(cip, 1 + ROUNDS * (3 + 1 + 2 + 1 + 1 + 3));
}
