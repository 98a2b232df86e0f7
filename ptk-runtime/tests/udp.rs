//! Loopback UDP: datagrams with their peer address, "unbound" sockets, truncation, broadcast
//! and multicast on the loopback interface.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::Poll;
use std::time::Duration;

use common::run_until;
use ptk_runtime::{
    Capacities, Config, Cx, Error, Event, EventLoop, Handle, MulticastInterface, OwnedStorage,
    RawHandle, Trigger, UdpSocket,
};

const WAIT: Duration = Duration::from_secs(5);
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 0, 1);

/// Every datagram a readable handler took: (socket, bytes, sender).
#[derive(Default)]
struct Inbox(Vec<(RawHandle, Vec<u8>, SocketAddr)>);

fn on_datagram(inbox: &mut Inbox, cx: &mut Cx<'_>, ev: Event) {
    let u: Handle<UdpSocket> = ev.handle.typed().unwrap();
    let mut buf = [0u8; 2048];
    for _ in 0..64 {
        match cx.recv_from(u, &mut buf) {
            Poll::Pending => return,
            Poll::Ready(Ok((n, from))) => inbox.0.push((ev.handle, buf[..n].to_vec(), from)),
            Poll::Ready(Err(e)) => panic!("recv_from failed: {e}"),
        }
    }
}

fn bind(ev: &mut EventLoop<'_, Inbox>, addr: SocketAddr) -> (Handle<UdpSocket>, SocketAddr) {
    let u = ev.udp_bind(addr).unwrap();
    ev.set_handler(u, Trigger::Readable, on_datagram).unwrap();
    let local = ev.local_addr(u.raw()).unwrap();
    assert_ne!(local.port(), 0);
    (u, local)
}

fn lo(port: u16) -> SocketAddr {
    (Ipv4Addr::LOCALHOST, port).into()
}

fn received(ev: &mut EventLoop<'_, Inbox>, n: usize) -> Vec<(RawHandle, Vec<u8>, SocketAddr)> {
    run_until(ev, "datagrams", WAIT, 10_000, |ev| ev.app().0.len() >= n);
    ev.app().0.clone()
}

#[test]
fn datagrams_arrive_with_the_exact_sender_address() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Inbox::default()).unwrap();
    let (a, a_addr) = bind(&mut ev, lo(0));
    let (b, b_addr) = bind(&mut ev, lo(0));
    assert_eq!(ev.send_to(a, b"ping", b_addr), Poll::Ready(Ok(4)));
    assert_eq!(received(&mut ev, 1), [(b.raw(), b"ping".to_vec(), a_addr)]);
    assert_eq!(ev.send_to(b, b"pong", a_addr), Poll::Ready(Ok(4)));
    assert_eq!(received(&mut ev, 2)[1], (a.raw(), b"pong".to_vec(), b_addr));
}

#[test]
fn unbound_socket_sends_and_receives_the_reply() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Inbox::default()).unwrap();
    let (server, server_addr) = bind(&mut ev, lo(0));
    let (unbound, local) = bind(&mut ev, (Ipv4Addr::UNSPECIFIED, 0).into());
    assert_eq!(local.ip(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(
        ev.send_to(unbound, b"query", server_addr),
        Poll::Ready(Ok(5))
    );
    let got = received(&mut ev, 1);
    // The kernel picked 127.0.0.1 as the source for a loopback destination.
    assert_eq!(got, [(server.raw(), b"query".to_vec(), lo(local.port()))]);
    assert_eq!(ev.send_to(server, b"answer", got[0].2), Poll::Ready(Ok(6)));
    assert_eq!(
        received(&mut ev, 2)[1],
        (unbound.raw(), b"answer".to_vec(), server_addr)
    );
}

#[test]
fn datagram_longer_than_the_buffer_is_message_too_large_and_discarded() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Inbox::default()).unwrap();
    let a = ev.udp_bind(lo(0)).unwrap();
    let b = ev.udp_bind(lo(0)).unwrap();
    let b_addr = ev.local_addr(b.raw()).unwrap();
    let a_addr = ev.local_addr(a.raw()).unwrap();
    // Loopback delivers during send_to: both datagrams are queued when it returns.
    assert_eq!(ev.send_to(a, &[7u8; 100], b_addr), Poll::Ready(Ok(100)));
    assert_eq!(ev.send_to(a, b"fits", b_addr), Poll::Ready(Ok(4)));
    let mut small = [0u8; 10];
    assert_eq!(
        ev.recv_from(b, &mut small),
        Poll::Ready(Err(Error::MessageTooLarge))
    );
    assert_eq!(ev.last_error(), Some(Error::MessageTooLarge));
    assert_eq!(ev.recv_from(b, &mut small), Poll::Ready(Ok((4, a_addr))));
    assert_eq!(&small[..4], b"fits");
    assert_eq!(ev.recv_from(b, &mut small), Poll::Pending);
}

#[test]
fn broadcast_flag_can_be_set_and_cleared() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Inbox::default()).unwrap();
    let u = ev.udp_bind(lo(0)).unwrap();
    assert_eq!(ev.set_broadcast(u, true), Ok(()));
    assert_eq!(ev.set_broadcast(u, false), Ok(()));
    ev.close(u.raw()).unwrap();
    assert_eq!(ev.set_broadcast(u, true), Err(Error::InvalidHandle));
}

#[test]
fn multicast_group_joined_on_loopback_receives_until_left() {
    let mut memory = OwnedStorage::new(Capacities::default());
    let mut ev = EventLoop::new(memory.storage(), Config::default(), Inbox::default()).unwrap();
    let (member, local) = bind(&mut ev, (Ipv4Addr::UNSPECIFIED, 0).into());
    let on_lo = MulticastInterface::V4(Ipv4Addr::LOCALHOST);
    ev.join_multicast(member, GROUP.into(), on_lo).unwrap();
    ev.set_multicast_ttl(member, 1).unwrap();
    ev.set_multicast_loop(member, true).unwrap();
    assert_eq!(
        ev.join_multicast(member, Ipv4Addr::new(10, 0, 0, 1).into(), on_lo),
        Err(Error::InvalidArgument),
        "not a multicast group"
    );
    assert_eq!(
        ev.join_multicast(
            member,
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).into(),
            on_lo
        ),
        Err(Error::InvalidArgument),
        "family mismatch"
    );

    // The sender picks the loopback interface for multicast, so nothing leaves the host.
    let sender = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    sender.bind(&lo(0).into()).unwrap();
    sender.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    sender.set_multicast_loop_v4(true).unwrap();
    sender.set_multicast_ttl_v4(0).unwrap();
    let sender_addr = sender.local_addr().unwrap().as_socket().unwrap();
    let group_addr: SocketAddr = (GROUP, local.port()).into();
    sender.send_to(b"to the group", &group_addr.into()).unwrap();
    assert_eq!(
        received(&mut ev, 1),
        [(member.raw(), b"to the group".to_vec(), sender_addr)]
    );

    ev.leave_multicast(member, GROUP.into(), on_lo).unwrap();
    sender
        .send_to(b"after leaving", &group_addr.into())
        .unwrap();
    // A unicast marker sent after it: once the marker is in, the group datagram would be too.
    sender.send_to(b"marker", &lo(local.port()).into()).unwrap();
    let got = received(&mut ev, 2);
    assert_eq!(got[1], (member.raw(), b"marker".to_vec(), sender_addr));
    assert_eq!(got.len(), 2);
    assert!(
        ev.leave_multicast(member, GROUP.into(), on_lo).is_err(),
        "not joined any more"
    );
}
