//! Event recording for the tests: callbacks are plain functions, so each test registers a
//! recorder and passes its index as the user data.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ptk_loop::{Error, Event, EventKind, Ownership, Sock};

/// One event as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub kind: EventKind,
    pub sock: Sock,
    pub ownership: Ownership,
    pub data: Option<Vec<u8>>,
    pub remote: Option<SocketAddr>,
    pub error: Option<Error>,
    pub user_data: usize,
}

impl Rec {
    pub fn of(kind: EventKind, sock: Sock) -> Rec {
        Rec {
            kind,
            sock,
            ownership: Ownership::Borrowed,
            data: None,
            remote: None,
            error: None,
            user_data: 0,
        }
    }
    pub fn ud(mut self, u: usize) -> Rec {
        self.user_data = u;
        self
    }
    pub fn data(mut self, d: &[u8], o: Ownership) -> Rec {
        self.data = Some(d.to_vec());
        self.ownership = o;
        self
    }
    pub fn remote(mut self, a: SocketAddr) -> Rec {
        self.remote = Some(a);
        self
    }
    pub fn error(mut self, e: Error) -> Rec {
        self.error = Some(e);
        self
    }
}

#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Rec>>,
    cv: Condvar,
}

static RECORDERS: Mutex<Vec<Arc<Recorder>>> = Mutex::new(Vec::new());

/// A new recorder and the user data that names it.
pub fn recorder() -> (Arc<Recorder>, usize) {
    let r = Arc::new(Recorder::default());
    let mut all = RECORDERS.lock().unwrap();
    all.push(Arc::clone(&r));
    (r, all.len() - 1)
}

pub fn get(ud: usize) -> Arc<Recorder> {
    Arc::clone(&RECORDERS.lock().unwrap()[ud])
}

/// Records `ev` in the recorder its user data names (for `Wake`, the recorder is found
/// through `wake_ud_base`: tests wake with `recorder index * 1000 + n`).
pub fn record(ev: &mut Event<'_>) {
    let ud = if ev.kind == EventKind::Wake {
        ev.user_data / 1000
    } else {
        ev.user_data
    };
    let r = get(ud);
    r.events.lock().unwrap().push(Rec {
        kind: ev.kind,
        sock: ev.sock,
        ownership: ev.ownership,
        data: ev.buf().map(|b| b.as_slice().to_vec()),
        remote: ev.remote,
        error: ev.error,
        user_data: ev.user_data,
    });
    r.cv.notify_all();
}

impl Recorder {
    /// Waits (5 s at most) until `n` events are recorded; returns them.
    pub fn wait(&self, n: usize) -> Vec<Rec> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut ev = self.events.lock().unwrap();
        while ev.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {n} events, got {:#?}",
                *ev
            );
            ev = self.cv.wait_timeout(ev, left).unwrap().0;
        }
        ev.clone()
    }

    pub fn events(&self) -> Vec<Rec> {
        self.events.lock().unwrap().clone()
    }
}
