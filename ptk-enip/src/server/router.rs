//! The message router: one CIP request in, its reply out, by the object the path addresses
//! (Connection Manager, Message Router, Identity, controller, Symbol and Template classes,
//! tags).
//!
//! Every reply is written into the caller's slice, whose length is the most the reply may
//! take (the connection's size, or an unconnected message's); nothing is allocated. A
//! request the router refuses gets its CIP status in a normal reply, and the connection goes
//! on.

use core::cell::Cell;

use super::session::{CipConnection, Session};
use super::tags::{program_in, CipError, TagTable};
use super::{ServerConfig, MAX_CIP_CONNECTIONS};
use crate::limits::{MAX_LARGE_CONNECTION_SIZE, MAX_UNCONNECTED_MESSAGE};
use crate::service::{self, REPLY};
use crate::{
    class, ConnectionFailure, ForwardClose, ForwardCloseReply, ForwardOpen, ForwardOpenReply,
    GeneralStatus, LogicalType, MessageRequest, MultipleServices, Segment, Segments,
    UnconnectedSend,
};

/// The most bytes of reply data (after the 4-byte status) an unconnected reply carries.
pub(crate) const UNCONNECTED_REPLY_DATA: usize = MAX_UNCONNECTED_MESSAGE;

/// How many bytes of a connected reply's data the connection size leaves room for: the
/// size less the reply's status and sequence count, rounded as Logix does.
pub(crate) const fn connected_reply_data(size: u16) -> usize {
    size as usize - 8
}

/// The smallest connection size a Forward_Open may ask for: room for a reply's header and
/// the longest error.
pub(crate) const MIN_CONNECTION_SIZE: u16 = 32;

/// The class id of the Logix controller object, whose instance 1 names the controller.
const CONTROLLER_CLASS: u16 = 0x64;

/// Where a request came from: the top of a SendRRData or SendUnitData, inside a Multiple
/// Service Packet, or routed by an Unconnected_Send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nesting {
    Top,
    InMultiple,
    Routed,
}

/// What answering counted besides the encapsulation packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Requests carried in Multiple Service Packets.
    pub(crate) embedded: u64,
}

/// Answers CIP requests for one session, from tag table `T`.
pub(crate) struct Router<'a, T: ?Sized> {
    pub(crate) tags: &'a mut T,
    pub(crate) config: &'a ServerConfig,
    pub(crate) session: &'a mut Session,
    /// The next O->T connection id to give out, server-wide.
    pub(crate) next_connection: &'a Cell<u32>,
    pub(crate) counts: Counts,
}

/// A service's outcome before its header is written: the status (success, partial
/// transfer, embedded service error) and the length of the data it wrote.
pub(crate) type Answer = Result<(GeneralStatus, usize), CipError>;

/// The refusal a codec error stands for.
pub(crate) fn refusal(e: crate::Error) -> CipError {
    match e {
        crate::Error::Malformed(v) | crate::Error::Invalid(v) => v.into(),
        crate::Error::BufferTooSmall { .. } => CipError::new(GeneralStatus::REPLY_DATA_TOO_LARGE),
        crate::Error::Incomplete { .. } => CipError::NOT_ENOUGH_DATA,
    }
}

/// Writes the reply header of `service` with `answer` into `out` (data written by the
/// service stays after it) and returns the reply's length; 0 if `out` cannot hold the
/// header.
pub(crate) fn finish(out: &mut [u8], service: u8, answer: Answer) -> usize {
    let (status, extended, len) = match answer {
        Ok((status, len)) => (status, None, len),
        Err(e) => (e.status, e.extended, 0),
    };
    let header = if extended.is_some() { 6 } else { 4 };
    let Some(head) = out.get_mut(..header) else {
        return 0;
    };
    head[0] = service | REPLY;
    head[1] = 0;
    head[2] = status.0;
    head[3] = u8::from(extended.is_some());
    if let Some(ext) = extended {
        head[4..6].copy_from_slice(&ext.to_le_bytes());
    }
    header + len
}

/// The class, instance and attribute of a path made only of logical segments, in that
/// order.
pub(crate) fn object_address(
    mut segments: Segments<'_>,
) -> Option<(u16, Option<u32>, Option<u16>)> {
    let class = match segments.next()? {
        Segment::Logical(l) if l.kind == LogicalType::Class => l.value as u16,
        _ => return None,
    };
    let mut instance = None;
    let mut attribute = None;
    for segment in segments {
        match segment {
            Segment::Logical(l) if l.kind == LogicalType::Instance && instance.is_none() => {
                instance = Some(l.value);
            }
            Segment::Logical(l)
                if l.kind == LogicalType::Attribute
                    && instance.is_some()
                    && attribute.is_none() =>
            {
                attribute = Some(l.value as u16);
            }
            _ => return None,
        }
    }
    Some((class, instance, attribute))
}

impl<T: TagTable + ?Sized> Router<'_, T> {
    /// Answers the request `message` into `out` and returns the reply's length (0 only
    /// when `out` cannot hold a reply header).
    pub(crate) fn execute(&mut self, message: &[u8], nesting: Nesting, out: &mut [u8]) -> usize {
        let Some(&code) = message.first() else {
            return finish(out, 0, Err(CipError::NOT_ENOUGH_DATA));
        };
        let request = match MessageRequest::parse(message) {
            Ok(r) => r,
            Err(e) => return finish(out, code & !REPLY, Err(refusal(e))),
        };
        let service = request.service;
        let first = request.path.segments().next();
        let symbolic = matches!(first, Some(Segment::Symbolic(_)));
        let program = matches!(first, Some(Segment::Symbolic(name)) if program_in(name).is_some());
        let symbol_class = request.path.class_id() == Some(class::SYMBOL);
        if program && service == service::GET_INSTANCE_ATTRIBUTE_LIST {
            let data = split(out);
            let answer = self.program_symbol_list(&request, data);
            return finish(out, service, answer);
        }
        if symbolic || (symbol_class && service != service::GET_INSTANCE_ATTRIBUTE_LIST) {
            let data = split(out);
            let answer = self.tag_service(&request, data);
            return finish(out, service, answer);
        }
        let address = object_address(request.path.segments());
        let Some((class_id, instance, attribute)) = address else {
            return finish(out, service, Err(CipError::PATH_SEGMENT_ERROR));
        };
        match (class_id, instance) {
            (class::CONNECTION_MANAGER, Some(1)) => match service {
                service::UNCONNECTED_SEND => self.unconnected_send(&request, nesting, out),
                service::FORWARD_OPEN | service::LARGE_FORWARD_OPEN => {
                    self.forward_open(&request, out)
                }
                service::FORWARD_CLOSE => self.forward_close(&request, out),
                _ => finish(out, service, Err(CipError::SERVICE_NOT_SUPPORTED)),
            },
            (class::MESSAGE_ROUTER, Some(1))
                if service == service::MULTIPLE_SERVICE_PACKET
                    && nesting != Nesting::InMultiple =>
            {
                let data = split(out);
                let answer = self.multiple(request.data, data);
                finish(out, service, answer)
            }
            (class::IDENTITY, Some(1)) => {
                let data = split(out);
                let answer = self.identity(service, attribute, request.data, data);
                finish(out, service, answer)
            }
            (CONTROLLER_CLASS, Some(1)) => {
                let data = split(out);
                let answer = self.controller(service, attribute, request.data, data);
                finish(out, service, answer)
            }
            (class::SYMBOL, _) => {
                let data = split(out);
                let answer = self.symbol_list(&request, instance, data);
                finish(out, service, answer)
            }
            (class::TEMPLATE, Some(instance)) if attribute.is_none() => {
                let data = split(out);
                let answer = self.template(service, instance, request.data, data);
                finish(out, service, answer)
            }
            (class::MESSAGE_ROUTER, Some(1)) => {
                finish(out, service, Err(CipError::SERVICE_NOT_SUPPORTED))
            }
            _ => finish(out, service, Err(CipError::PATH_DESTINATION_UNKNOWN)),
        }
    }

    /// Multiple Service Packet: each request answered in turn into the reply's table, all
    /// within `out`.
    fn multiple(&mut self, data: &[u8], out: &mut [u8]) -> Answer {
        let packet = MultipleServices::new_checked(data).map_err(refusal)?;
        let count = packet.len();
        let table = 2 + 2 * count;
        let too_large = CipError::new(GeneralStatus::REPLY_DATA_TOO_LARGE);
        if out.len() < table {
            return Err(too_large);
        }
        out[..2].copy_from_slice(&(count as u16).to_le_bytes());
        let mut at = table;
        let mut failed = false;
        for (k, request) in packet.iter().enumerate() {
            let offset = u16::try_from(at).map_err(|_| too_large)?;
            out[2 + 2 * k..4 + 2 * k].copy_from_slice(&offset.to_le_bytes());
            self.counts.embedded += 1;
            let n = self.execute(request, Nesting::InMultiple, &mut out[at..]);
            if n == 0 {
                return Err(too_large);
            }
            failed |= !matches!(out[at + 2], 0x00 | 0x06);
            at += n;
        }
        let status = if failed {
            GeneralStatus::EMBEDDED_SERVICE_ERROR
        } else {
            GeneralStatus::SUCCESS
        };
        Ok((status, at))
    }

    /// Unconnected_Send: the embedded request answered as if it came alone, its reply sent
    /// as the Unconnected_Send's own. Only routes that end here are taken: `1,0` (backplane
    /// slot 0) and the empty route.
    fn unconnected_send(
        &mut self,
        request: &MessageRequest<'_>,
        nesting: Nesting,
        out: &mut [u8],
    ) -> usize {
        let service = request.service;
        if nesting != Nesting::Top {
            return finish(out, service, Err(CipError::SERVICE_NOT_SUPPORTED));
        }
        let send = match UnconnectedSend::parse(request.data) {
            Ok(s) => s,
            Err(e) => return finish(out, service, Err(refusal(e))),
        };
        if !matches!(send.route_path.as_bytes(), [] | [0x01, 0x00]) {
            // Connection failure, invalid port; the data is the remaining path size.
            let n = finish(out, service, Err(CipError::logix_connection(0x0311)));
            return append(out, n, &[send.route_path.len_words(), 0]);
        }
        let room = out.len().min(4 + UNCONNECTED_REPLY_DATA);
        self.execute(send.message, Nesting::Routed, &mut out[..room])
    }

    /// Forward_Open and Large_Forward_Open: a class 3 connection to the Message Router,
    /// of up to 4,002 bytes.
    fn forward_open(&mut self, request: &MessageRequest<'_>, out: &mut [u8]) -> usize {
        let service = request.service;
        let open = match ForwardOpen::parse(request.data, service == service::LARGE_FORWARD_OPEN) {
            Ok(o) => o,
            Err(e) => return finish(out, service, Err(refusal(e))),
        };
        let failure = |out: &mut [u8], extended: u16, remaining: u8| {
            let n = finish(out, service, Err(CipError::logix_connection(extended)));
            let data = ConnectionFailure {
                triad: open.triad,
                remaining_path_size: Some(remaining),
            };
            let mut bytes = [0u8; 10];
            let len = data.emit(&mut bytes).unwrap_or(0);
            append(out, n, &bytes[..len])
        };
        if !matches!(
            open.connection_path.as_bytes(),
            [0x01, 0x00, 0x20, 0x02, 0x24, 0x01] | [0x20, 0x02, 0x24, 0x01]
        ) {
            // Invalid segment in the connection path.
            return failure(out, 0x0315, open.connection_path.len_words());
        }
        if open.transport & 0x0F != 3 {
            // Transport class not supported.
            return failure(out, 0x0103, 0);
        }
        let sizes = [
            open.o_t_parameters.connection_size,
            open.t_o_parameters.connection_size,
        ];
        if sizes
            .iter()
            .any(|&s| !(MIN_CONNECTION_SIZE..=MAX_LARGE_CONNECTION_SIZE).contains(&s))
        {
            // Invalid connection size.
            return failure(out, 0x0109, 0);
        }
        let slots = self
            .config
            .cip_connections_per_session
            .clamp(1, MAX_CIP_CONNECTIONS);
        let connections = &mut self.session.connections[..slots];
        if connections.iter().flatten().any(|c| c.triad == open.triad) {
            // Connection in use, or duplicate Forward_Open.
            return failure(out, 0x0100, 0);
        }
        let Some(slot) = connections.iter_mut().find(|c| c.is_none()) else {
            // No more connections.
            return failure(out, 0x0113, 0);
        };
        let id = self.next_connection.get();
        self.next_connection.set(match id.wrapping_add(1) {
            0 => 1,
            next => next,
        });
        *slot = Some(CipConnection {
            o_t_id: id,
            t_o_id: open.t_o_connection_id,
            triad: open.triad,
            size: open.t_o_parameters.connection_size,
        });
        let reply = ForwardOpenReply {
            o_t_connection_id: id,
            t_o_connection_id: open.t_o_connection_id,
            triad: open.triad,
            o_t_api: open.o_t_rpi,
            t_o_api: open.t_o_rpi,
            application_reply: &[],
        };
        let data = split(out);
        let answer = reply
            .emit(data)
            .map(|n| (GeneralStatus::SUCCESS, n))
            .map_err(refusal);
        finish(out, service, answer)
    }

    /// Forward_Close of a connection of this session, by its triad.
    fn forward_close(&mut self, request: &MessageRequest<'_>, out: &mut [u8]) -> usize {
        let service = request.service;
        let close = match ForwardClose::parse(request.data) {
            Ok(c) => c,
            Err(e) => return finish(out, service, Err(refusal(e))),
        };
        let found = self
            .session
            .connections
            .iter_mut()
            .find(|c| c.is_some_and(|c| c.triad == close.triad));
        match found {
            Some(slot) => {
                *slot = None;
                let reply = ForwardCloseReply {
                    triad: close.triad,
                    application_reply: &[],
                };
                let data = split(out);
                let answer = reply
                    .emit(data)
                    .map(|n| (GeneralStatus::SUCCESS, n))
                    .map_err(refusal);
                finish(out, service, answer)
            }
            None => {
                // Connection not found at target application.
                let n = finish(out, service, Err(CipError::logix_connection(0x0107)));
                let failure = ConnectionFailure {
                    triad: close.triad,
                    remaining_path_size: Some(0),
                };
                let mut bytes = [0u8; 10];
                let len = failure.emit(&mut bytes).unwrap_or(0);
                append(out, n, &bytes[..len])
            }
        }
    }
}

impl CipError {
    /// A connection failure (0x01) with the Connection Manager's `extended` status.
    pub(crate) const fn logix_connection(extended: u16) -> CipError {
        CipError {
            status: GeneralStatus::CONNECTION_FAILURE,
            extended: Some(extended),
        }
    }
}

/// The data room of a reply buffer, after the 4-byte header: a service that succeeds
/// writes there; a refusal has no data, so a 6-byte header may cover its start.
fn split(out: &mut [u8]) -> &mut [u8] {
    let at = out.len().min(4);
    &mut out[at..]
}

/// Appends `bytes` to the reply of length `n` in `out`, if they fit.
fn append(out: &mut [u8], n: usize, bytes: &[u8]) -> usize {
    match out.get_mut(n..n + bytes.len()) {
        Some(dst) if n > 0 => {
            dst.copy_from_slice(bytes);
            n + bytes.len()
        }
        _ => n,
    }
}
