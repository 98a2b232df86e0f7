//! `PtFuture` inside a tokio current-thread runtime: a `#[protothread]` awaits a tokio sleep
//! through the task context its `Cx` carries, yields, and returns a value.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ptk::{protothread, Cx, Error, Pt, PtFuture, Status};

const NAP: Duration = Duration::from_millis(100);

struct Napper {
    pt: Pt,
    nap: Option<Pin<Box<tokio::time::Sleep>>>,
    steps: Vec<&'static str>,
}

impl Napper {
    fn new() -> Napper {
        Napper {
            pt: Pt::new(),
            nap: None,
            steps: Vec::new(),
        }
    }
}

#[protothread]
fn nap(ctx: &mut Napper, cx: &mut Cx<'_>) -> Result<u32, Error> {
    ctx.steps.push("start");
    ctx.nap = Some(Box::pin(tokio::time::sleep(NAP)));
    pt_await!(ctx
        .nap
        .as_mut()
        .unwrap()
        .as_mut()
        .poll(&mut cx.task_context().unwrap()));
    ctx.steps.push("woke");
    pt_yield!();
    ctx.steps.push("yielded");
    Ok(42)
}

#[tokio::test(flavor = "current_thread")]
async fn a_protothread_awaits_a_tokio_sleep_yields_and_returns_its_value() {
    let started = Instant::now();
    let mut fut = std::pin::pin!(PtFuture::new(Napper::new()));
    let out = fut.as_mut().await;
    let took = started.elapsed();
    assert_eq!(out, Some(Ok(42)));
    assert!(took >= NAP, "done after {took:?}");
    let napper = fut.get_ref();
    assert_eq!(napper.steps, ["start", "woke", "yielded"]);
    assert_eq!(napper.pt.status(), Status::Done);
}

#[tokio::test(flavor = "current_thread")]
async fn two_protothreads_nap_side_by_side_on_one_thread() {
    let started = Instant::now();
    let (a, b) = tokio::join!(PtFuture::new(Napper::new()), PtFuture::new(Napper::new()));
    let took = started.elapsed();
    assert_eq!((a, b), (Some(Ok(42)), Some(Ok(42))));
    // The naps overlap: less than two naps back to back.
    assert!(took >= NAP && took < 2 * NAP, "done after {took:?}");
}
