//! What the protothread servers share: the acceptor protothread, which starts one connection
//! protothread per accepted stream, and the loop set-up around it. Each server brings its
//! connection context ([`Echo`]) and its capacities.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;

use ptk::{
    protothread, BackendKind, Capacities, Config, Cx, Error, EventLoop, Handle, ListenOptions,
    OwnedStorage, Protothread, Pt, PtPool, TcpListener, TcpStream,
};
use ptk_bench::{Meter, ServerOptions};

/// The meter every connection counts its echoed frames on (set once the server listens).
pub type SharedMeter = Rc<RefCell<Option<Meter>>>;

/// A connection protothread's context.
pub trait Echo: Protothread<Output = Result<(), Error>> + Default + 'static {
    /// Makes the context serve `stream` from its start, counting on `meter`.
    fn begin(&mut self, stream: Handle<TcpStream>, meter: &SharedMeter);
}

/// Counts an echoed frame on `meter`; stops the loop when the run is complete.
pub fn count(meter: &SharedMeter, cx: &mut Cx<'_>) {
    if meter.borrow_mut().as_mut().is_some_and(|m| m.count(1)) {
        cx.stop();
    }
}

struct Acceptor<C: 'static> {
    pt: Pt,
    listener: Option<Handle<TcpListener>>,
    conns: Option<PtPool<C>>,
    meter: SharedMeter,
}

impl<C> Default for Acceptor<C> {
    fn default() -> Self {
        Acceptor {
            pt: Pt::default(),
            listener: None,
            conns: None,
            meter: SharedMeter::default(),
        }
    }
}

impl<C: Echo> Acceptor<C> {
    fn poll_accept(
        &mut self,
        cx: &mut Cx<'_>,
    ) -> Poll<Result<(Handle<TcpStream>, std::net::SocketAddr), Error>> {
        match self.listener {
            Some(l) => cx.accept(l),
            None => Poll::Ready(Err(Error::InvalidHandle)),
        }
    }

    fn start(&mut self, cx: &mut Cx<'_>, stream: Handle<TcpStream>) {
        let _ = cx.set_nodelay(stream, true);
        let meter = &self.meter;
        let spawned = match self.conns {
            Some(pool) => cx.spawn_with(pool, |c: &mut C| c.begin(stream, meter)),
            None => Err(Error::InvalidArgument),
        };
        if spawned.is_err() {
            let _ = cx.close(stream.raw());
        }
    }
}

#[protothread]
fn accept<C: Echo>(ctx: &mut Acceptor<C>, cx: &mut Cx<'_>) -> Result<(), Error> {
    loop {
        let accepted = pt_await!(ctx.poll_accept(cx));
        // A full pool or fd table refused that one connection; keep serving.
        if let Ok((stream, _)) = accepted {
            ctx.start(cx, stream);
        }
    }
}

/// Serves with connection contexts `C` on a loop of `capacities` until `o.messages` frames
/// were echoed.
pub fn serve<C: Echo>(
    o: &ServerOptions,
    backend: BackendKind,
    capacities: Capacities,
) -> Result<Meter, Error> {
    let meter: SharedMeter = Rc::new(RefCell::new(None));
    let mut memory = OwnedStorage::new(capacities);
    let mut conns: Vec<C> = (0..o.max_connections).map(|_| C::default()).collect();
    let mut acceptor = [Acceptor::<C>::default()];
    let config = Config {
        protothreads: o.max_connections + 1,
        backend,
        backend_strict: true,
        ..Config::default()
    };
    let mut ev = EventLoop::new(memory.storage(), config, ())?;
    let conn_pool = ev.add_protothreads(&mut conns)?;
    let acceptor_pool = ev.add_protothreads(&mut acceptor)?;
    let listener = ev.tcp_listen(o.bind, &ListenOptions::default())?;
    ev.cx().spawn_with(acceptor_pool, |a: &mut Acceptor<C>| {
        a.listener = Some(listener);
        a.conns = Some(conn_pool);
        a.meter = Rc::clone(&meter);
    })?;
    println!("{}", ev.local_addr(listener.raw())?);
    *meter.borrow_mut() = Some(Meter::start(o.messages));
    ev.run()?;
    drop(ev);
    let taken = meter.borrow_mut().take();
    taken.ok_or(Error::InvalidArgument)
}
