//! [`PtFuture`]: run a protothread as a `Future`, for example inside a tokio runtime.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::cx::Cx;
use crate::pt::{Protothread, Step};

pin_project! {
    /// A protothread driven by an async executor instead of a ptk loop.
    ///
    /// Each `poll` resumes the protothread with a context made from the task's waker
    /// ([`Cx::from_waker`]): what it awaits with `pt_await!` must be poll functions that
    /// register that waker, such as `Future::poll` through
    /// [`Cx::task_context`]. A yield wakes the task at once. The future resolves to
    /// `Some(output)`, or `None` when the protothread ended with `pt_exit!()`.
    ///
    /// Loop operations (`cx.read(..)`, ...) are not available here: they answer
    /// [`Error::NotSupported`](crate::Error::NotSupported).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::Future;
    /// use std::task::{Context, Poll, Wake, Waker};
    /// use std::sync::Arc;
    /// use ptk_runtime::{Cx, Protothread, Pt, PtFuture, Site, Status, Step};
    ///
    /// struct Countdown { pt: Pt, n: u32 }
    /// impl Protothread for Countdown {
    ///     type Output = &'static str;
    ///     fn resume(&mut self, _cx: &mut Cx<'_>) -> Step<&'static str> {
    ///         if self.n == 0 {
    ///             self.pt.finish(Status::Done);
    ///             return Step::Done("liftoff");
    ///         }
    ///         self.n -= 1;
    ///         Step::Yielded
    ///     }
    ///     fn pt(&self) -> &Pt { &self.pt }
    ///     fn pt_mut(&mut self) -> &mut Pt { &mut self.pt }
    ///     fn sites(&self) -> &'static [Site] { &[] }
    /// }
    ///
    /// struct Noop;
    /// impl Wake for Noop { fn wake(self: Arc<Self>) {} }
    /// let waker = Waker::from(Arc::new(Noop));
    /// let mut fut = std::pin::pin!(PtFuture::new(Countdown { pt: Pt::new(), n: 2 }));
    /// let mut task = Context::from_waker(&waker);
    /// assert_eq!(fut.as_mut().poll(&mut task), Poll::Pending);
    /// assert_eq!(fut.as_mut().poll(&mut task), Poll::Pending);
    /// assert_eq!(fut.as_mut().poll(&mut task), Poll::Ready(Some("liftoff")));
    /// ```
    #[derive(Debug)]
    pub struct PtFuture<P> {
        pt: P,
        done: bool,
    }
}

impl<P> PtFuture<P> {
    /// Wraps a protothread context.
    pub fn new(pt: P) -> Self {
        PtFuture { pt, done: false }
    }

    /// The protothread's context.
    pub fn get_ref(&self) -> &P {
        &self.pt
    }

    /// Unwraps the context (after the future resolved, it holds the final state).
    pub fn into_inner(self) -> P {
        self.pt
    }
}

impl<P: Protothread> Future for PtFuture<P> {
    type Output = Option<P::Output>;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            // Polled after completion: a further resume would start the protothread over.
            return Poll::Pending;
        }
        let mut cx = Cx::from_waker(task.waker());
        match this.pt.resume(&mut cx) {
            Step::Pending => Poll::Pending,
            Step::Yielded => {
                task.waker().wake_by_ref();
                Poll::Pending
            }
            Step::Done(out) => {
                *this.done = true;
                Poll::Ready(Some(out))
            }
            Step::Exited => {
                *this.done = true;
                Poll::Ready(None)
            }
        }
    }
}
