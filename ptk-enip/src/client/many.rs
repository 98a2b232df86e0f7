//! Many reads or writes in Multiple_Service_Packets filled to the connection size both ways,
//! with up to `N` packets in flight.

use core::task::Poll;

use ptk_runtime::Cx;

use super::slot::SlotState;
use super::tags::{bit_of, ready, tag_path, MISSING};
use super::{check, cip_error, Client, ClientError, Ticket, MESSAGE_ROUTER};
use crate::limits::MAX_EPATH_LEN;
use crate::{
    service, Epath, GeneralStatus, MessageRequest, MessageResponse, MultipleServices,
    MultipleServicesBuilder, ReadTag, Request, TagData, TagType, Value, WriteTag,
};

/// A Multiple_Service_Packet request before its embedded requests: service, path size, the
/// Message Router's path, and the count.
const REQUEST_HEAD: usize = 2 + MESSAGE_ROUTER.len() + 2;
/// A Multiple_Service_Packet reply before its embedded replies: service, reserved, status,
/// extended size, and the count.
const REPLY_HEAD: usize = 4 + 2;
/// The offsets table's entry per embedded message.
const OFFSET: usize = 2;
/// A Read Tag reply before its value: service, reserved, status, extended size, and type.
const READ_REPLY_HEAD: usize = 4 + 2;
/// A Write Tag reply: service, reserved, status, extended size.
const WRITE_REPLY: usize = 4;

/// The packet `i` of a batch of `n` items would be too long alone.
const TOO_LONG: ClientError =
    ClientError::InvalidRequest(crate::Error::Invalid(crate::Violation::MessageTooLong));

/// Where a batch is, across resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Batch {
    /// The first item not yet packed.
    next: usize,
    active: bool,
}

impl Batch {
    pub(crate) const NONE: Batch = Batch {
        next: 0,
        active: false,
    };
}

/// The items of a batch: how long each one's request and reply are, how to write its
/// request, and where its outcome goes.
trait Items {
    fn len(&self) -> usize;
    /// The embedded request's and expected reply's lengths, or why the item cannot go.
    fn sizes(&self, i: usize) -> Result<(usize, usize), ClientError>;
    fn emit(&self, i: usize, out: &mut [u8]) -> crate::Result<usize>;
    fn fail(&mut self, i: usize, e: ClientError);
    fn reply(&mut self, i: usize, reply: &MessageResponse<'_>);
}

/// Reads of one value each.
struct Reads<'a, 'n> {
    names: &'a [&'n str],
    value_size: usize,
    out: &'a mut [Result<Value, ClientError>],
}

impl Items for Reads<'_, '_> {
    fn len(&self) -> usize {
        self.names.len()
    }

    fn sizes(&self, i: usize) -> Result<(usize, usize), ClientError> {
        let mut buf = [0u8; MAX_EPATH_LEN];
        let (path, _) = tag_path(self.names[i], &mut buf)?;
        let request = MessageRequest::header_len(&path) + ReadTag::LEN;
        Ok((request, READ_REPLY_HEAD + self.value_size))
    }

    fn emit(&self, i: usize, out: &mut [u8]) -> crate::Result<usize> {
        let mut buf = [0u8; MAX_EPATH_LEN];
        let (path, _) = tag_path(self.names[i], &mut buf).map_err(invalid)?;
        Request::ReadTag(ReadTag { elements: 1 }).emit(&path, out)
    }

    fn fail(&mut self, i: usize, e: ClientError) {
        self.out[i] = Err(e);
    }

    fn reply(&mut self, i: usize, reply: &MessageResponse<'_>) {
        let mut buf = [0u8; MAX_EPATH_LEN];
        let bit = tag_path(self.names[i], &mut buf)
            .ok()
            .and_then(|(_, bit)| bit);
        self.out[i] = read_value(reply, bit);
    }
}

/// The value of a Read Tag reply (or its bit).
fn read_value(reply: &MessageResponse<'_>, bit: Option<u8>) -> Result<Value, ClientError> {
    if reply.service != service::READ_TAG {
        return Err(ClientError::Protocol(crate::Error::Malformed(
            crate::Violation::UnknownService,
        )));
    }
    check(reply)?;
    let data = TagData::parse(reply.data).map_err(ClientError::Protocol)?;
    if let Some(bit) = bit {
        return bit_of(data.tag_type, data.data, bit).map(Value::Bool);
    }
    match data.tag_type {
        TagType::Atomic(t) => {
            let bytes = data.data.get(..t.size()).unwrap_or(data.data);
            Value::decode(t, bytes).map_err(ClientError::Protocol)
        }
        other => Err(ClientError::UnexpectedType(other)),
    }
}

/// Writes of one value each.
struct Writes<'a, 'n> {
    items: &'a [(&'n str, Value)],
    out: &'a mut [Result<(), ClientError>],
}

impl Items for Writes<'_, '_> {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn sizes(&self, i: usize) -> Result<(usize, usize), ClientError> {
        let (name, value) = self.items[i];
        let mut buf = [0u8; MAX_EPATH_LEN];
        let (path, bit) = tag_path(name, &mut buf)?;
        if bit.is_some() {
            return Err(ClientError::InvalidRequest(crate::Error::Invalid(
                crate::Violation::TagName,
            )));
        }
        let t = TagType::Atomic(value.data_type());
        let data = t.buffer_len() + 2 + value.data_type().size();
        Ok((MessageRequest::header_len(&path) + data, WRITE_REPLY))
    }

    fn emit(&self, i: usize, out: &mut [u8]) -> crate::Result<usize> {
        let (name, value) = self.items[i];
        let mut path_buf = [0u8; MAX_EPATH_LEN];
        let (path, _) = tag_path(name, &mut path_buf).map_err(invalid)?;
        let mut data = [0u8; 8];
        let n = value.encode(&mut data)?;
        let write = WriteTag {
            tag_type: TagType::Atomic(value.data_type()),
            elements: 1,
            data: &data[..n],
        };
        Request::WriteTag(write).emit(&path, out)
    }

    fn fail(&mut self, i: usize, e: ClientError) {
        self.out[i] = Err(e);
    }

    fn reply(&mut self, i: usize, reply: &MessageResponse<'_>) {
        self.out[i] = if reply.service == service::WRITE_TAG {
            check(reply)
        } else {
            Err(ClientError::Protocol(crate::Error::Malformed(
                crate::Violation::UnknownService,
            )))
        };
    }
}

fn invalid(e: ClientError) -> crate::Error {
    match e {
        ClientError::InvalidRequest(e) | ClientError::Protocol(e) => e,
        _ => crate::Error::Invalid(crate::Violation::TagName),
    }
}

impl<const N: usize> Client<N> {
    /// Reads one value of each tag of `names` (atomic types, or bits `Tag.5` as
    /// [`Value::Bool`]) into `out[i]`, in Multiple_Service_Packets of as many Read Tag
    /// requests as fit the connection both ways, with up to `N` packets in flight.
    ///
    /// `value_size` is the size the packing plans for each value: 4 for DINT, REAL and DWORD
    /// tags (and bits of them), 8 for any atomic type. A request is 2 bytes of offset and
    /// its own length (service, path, element count); a reply is 2 bytes of offset, 4 of
    /// status, 2 of type and the value. Against a 4000-byte connection, 1,000 DINT tags
    /// named `T0`..`T999` go in 4 packets of up to 332 reads.
    ///
    /// Pass the same arguments on every call until it is `Ready`; each `out[i]` then holds
    /// the value or why it could not be read.
    ///
    /// # Errors
    ///
    /// As [`poll_connect`](Client::poll_connect); [`ClientError::InvalidRequest`] if `out`
    /// is shorter than `names`.
    pub fn poll_read_many(
        &mut self,
        cx: &mut Cx<'_>,
        names: &[&str],
        value_size: usize,
        out: &mut [Result<Value, ClientError>],
    ) -> Poll<Result<(), ClientError>> {
        if out.len() < names.len() {
            return Poll::Ready(Err(ClientError::BufferTooSmall {
                needed: names.len(),
            }));
        }
        let mut items = Reads {
            names,
            value_size,
            out,
        };
        self.poll_batch(cx, &mut items)
    }

    /// Writes one value to each tag of `items` (atomic types; bits need
    /// [`poll_write_value`](Client::poll_write_value)), in Multiple_Service_Packets of as
    /// many Write Tag requests as fit the connection, with up to `N` packets in flight;
    /// `out[i]` gets each outcome.
    ///
    /// Pass the same arguments on every call until it is `Ready`.
    ///
    /// # Errors
    ///
    /// As [`poll_read_many`](Client::poll_read_many).
    pub fn poll_write_many(
        &mut self,
        cx: &mut Cx<'_>,
        items: &[(&str, Value)],
        out: &mut [Result<(), ClientError>],
    ) -> Poll<Result<(), ClientError>> {
        if out.len() < items.len() {
            return Poll::Ready(Err(ClientError::BufferTooSmall {
                needed: items.len(),
            }));
        }
        let mut items = Writes { items, out };
        self.poll_batch(cx, &mut items)
    }

    fn poll_batch(
        &mut self,
        cx: &mut Cx<'_>,
        items: &mut impl Items,
    ) -> Poll<Result<(), ClientError>> {
        if !self.batch.active {
            ready!(self.poll_connect(cx));
            self.batch = Batch {
                next: 0,
                active: true,
            };
        }
        loop {
            while self.batch.next < items.len() && self.slots.iter().any(|s| s.is_reusable()) {
                if !self.queue_packet(cx, items) {
                    break;
                }
            }
            let oldest = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.items.1 > s.items.0
                        && matches!(
                            s.state,
                            SlotState::Sent | SlotState::Answered | SlotState::Failed(_)
                        )
                })
                .min_by_key(|(_, s)| s.items.0)
                .map(|(i, s)| {
                    (
                        Ticket {
                            slot: i as u8,
                            id: s.id,
                        },
                        s.items,
                    )
                });
            let Some((ticket, (start, end))) = oldest else {
                if self.batch.next >= items.len() {
                    self.batch = Batch::NONE;
                    return Poll::Ready(Ok(()));
                }
                // Nothing in flight and nothing could be queued: the send buffer cannot hold
                // one packet, which `request_capacity` rules out.
                self.batch = Batch::NONE;
                return Poll::Ready(Err(ClientError::Busy));
            };
            let outcome = match self.poll_response(cx, ticket) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            self.slots[usize::from(ticket.slot)].items = (0, 0);
            match outcome {
                Ok(()) => match self.response(ticket) {
                    Some(reply) => unpack(&reply, items, start, end),
                    None => fail_range(items, start, end, MISSING),
                },
                Err(e) => fail_range(items, start, end, e),
            }
        }
    }

    /// Packs the items from `batch.next` into one packet and queues it. False when no slot
    /// or no room in the send buffer is left (nothing packed).
    fn queue_packet(&mut self, cx: &mut Cx<'_>, items: &mut impl Items) -> bool {
        let (request_room, reply_room) = (self.request_capacity(), self.reply_capacity());
        let start = self.batch.next;
        let (mut request, mut reply, mut count, mut end) = (REQUEST_HEAD, REPLY_HEAD, 0, start);
        while end < items.len() {
            match items.sizes(end) {
                Err(e) => items.fail(end, e),
                Ok((q, r)) => {
                    let fits =
                        request + OFFSET + q <= request_room && reply + OFFSET + r <= reply_room;
                    match (fits, count) {
                        (true, _) => {
                            request += OFFSET + q;
                            reply += OFFSET + r;
                            count += 1;
                        }
                        (false, 0) => items.fail(end, TOO_LONG),
                        (false, _) => break,
                    }
                }
            }
            end += 1;
        }
        if count == 0 {
            self.batch.next = end;
            return true;
        }
        let path = Epath::new_checked(&MESSAGE_ROUTER).unwrap_or_default();
        let data_len = request - REQUEST_HEAD + 2;
        let emitted = self.send(
            cx,
            service::MULTIPLE_SERVICE_PACKET,
            &path,
            data_len,
            |buf| {
                let mut packet = MultipleServicesBuilder::new(buf, count)?;
                for i in start..end {
                    if let Ok((q, _)) = items.sizes(i) {
                        packet.push_with(q, |o| items.emit(i, o))?;
                    }
                }
                packet.finish()
            },
        );
        match emitted {
            Ok(ticket) => {
                self.slots[usize::from(ticket.slot)].items = (start, end);
                self.batch.next = end;
                true
            }
            Err(ClientError::Busy) => false,
            Err(e) => {
                fail_range(items, start, end, e);
                self.batch.next = end;
                true
            }
        }
    }
}

/// Fails the items of `start..end` that went out.
fn fail_range(items: &mut impl Items, start: usize, end: usize, e: ClientError) {
    for i in start..end {
        if items.sizes(i).is_ok() {
            items.fail(i, e);
        }
    }
}

/// Gives each item of `start..end` that went out its embedded reply.
fn unpack(reply: &MessageResponse<'_>, items: &mut impl Items, start: usize, end: usize) {
    let ok = reply.status.is_success() || reply.status == GeneralStatus::EMBEDDED_SERVICE_ERROR;
    if !ok {
        return fail_range(items, start, end, cip_error(reply));
    }
    let packet = match MultipleServices::new_checked(reply.data) {
        Ok(packet) => packet,
        Err(e) => return fail_range(items, start, end, ClientError::Protocol(e)),
    };
    let mut replies = packet.iter();
    for i in start..end {
        if items.sizes(i).is_err() {
            continue;
        }
        match replies.next().map(MessageResponse::parse) {
            Some(Ok(embedded)) => items.reply(i, &embedded),
            Some(Err(e)) => items.fail(i, ClientError::Protocol(e)),
            None => items.fail(
                i,
                ClientError::Protocol(crate::Error::Malformed(crate::Violation::ServiceOffset)),
            ),
        }
    }
}
