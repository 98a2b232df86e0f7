//! EtherNet/IP and CIP for ptk: a zero-copy codec for the encapsulation layer, the common
//! packet format, message router requests and replies, EPATHs, the Logix tag services and
//! the Connection Manager, with no `std` and no allocation.
//!
//! # Design
//!
//! The codec follows smoltcp's split between views and representations:
//!
//! * **Views** check bytes once and then never fail: [`Packet::new_checked`] frames an
//!   encapsulation packet on a stream (and [`Packet::check_len`] says how long it is as soon
//!   as its header is in), [`CommonPacket::new_checked`] checks a list of items,
//!   [`Epath::new_checked`] a path's segments, [`MultipleServices::new_checked`] an offsets
//!   table. After the check no accessor or iterator panics or fails.
//! * **Representations** have `parse`, `emit(&self, buf) -> Result<usize>` and
//!   `buffer_len`: [`Header`], [`MessageRequest`], [`MessageResponse`], [`ForwardOpen`],
//!   [`ReadTag`], [`WriteTag`], [`IdentityItem`], ... They borrow their variable parts (a
//!   path, values, a product name) from the buffer they were parsed from, so parsing copies
//!   nothing, and write into the caller's buffer, so emitting allocates nothing.
//! * Layers nest without copies: each layer has an `emit_header` (or an `emit_*` taking a
//!   closure) that writes its own fields and leaves the rest of the buffer to the layer
//!   inside, so a client writes header, common packet format, message router request and
//!   service data into one buffer in one pass.
//!
//! `parse` accepts what the specifications allow and `emit` writes nothing `parse` would
//! refuse, so emitting a parsed message gives back its bytes (where the specification leaves
//! a choice, such as a longer logical format than needed, the parsed form keeps it).
//!
//! # Layers
//!
//! | layer | types |
//! |---|---|
//! | encapsulation (TCP port 44818) | [`Packet`], [`Header`], [`Command`], [`EncapStatus`], [`RegisterSession`], [`SendData`] |
//! | common packet format | [`CommonPacket`], [`Item`], [`SocketAddress`], [`IdentityItem`], [`ServiceEntry`] |
//! | message router | [`MessageRequest`], [`MessageResponse`], [`GeneralStatus`], [`ExtendedStatus`], [`Request`] |
//! | paths | [`Epath`], [`Segment`], [`PathBuilder`], [`RoutePath`] (`"1,0"`), [`TagName`] (`"Program:Main.Counts[3]"`) |
//! | Logix tags | [`ReadTag`], [`WriteTag`], [`ReadTagFragmented`], [`WriteTagFragmented`], [`ReadModifyWrite`], [`TagData`], [`MultipleServices`], [`AttributeList`], [`SymbolInstances`] |
//! | values | [`DataType`], [`TagType`], [`Value`], [`Elements`], [`LogixString`] |
//! | Connection Manager | [`UnconnectedSend`], [`ForwardOpen`], [`ForwardOpenReply`], [`ForwardClose`], [`ForwardCloseReply`], [`ConnectionFailure`] |
//! | Identity object | [`Identity`], [`IdentityItem`] |
//! | Template object | [`Template`], [`TemplateMember`], [`ReadTemplate`], [`GetAttributeList`] |
//!
//! # Errors and what to do with them
//!
//! [`Error::Incomplete`] means "read more". [`Error::Malformed`] carries the [`Violation`]
//! and says how to answer it: [`Violation::general_status`] for a CIP request (the service
//! is answered with that status and the connection goes on), [`Violation::encap_status`] for
//! an encapsulation packet. [`Error::Invalid`] and [`Error::BufferTooSmall`] come from
//! `emit`. All errors convert into [`ptk_runtime::Error`].
//!
//! # Example
//!
//! A client reads the DINT tag `Counts` over an unconnected message, and a server answers:
//!
//! ```
//! use ptk_enip::{
//!     Command, Header, MessageRequest, MessageResponse, Packet, ReadTag, Request, SendData,
//!     TagData, TagName, TagType, DataType, Value, limits::MAX_UNCONNECTED_PACKET_LEN,
//! };
//!
//! // Client: the request path, the Read Tag request, SendRRData, the header.
//! let mut path_buf = [0u8; 32];
//! let n = TagName::parse("Counts")?.emit(&mut path_buf)?;
//! let path = ptk_enip::Epath::new_checked(&path_buf[..n])?;
//! let request = Request::ReadTag(ReadTag { elements: 1 });
//! let message_len = request.buffer_len(&path);
//! let mut wire = [0u8; MAX_UNCONNECTED_PACKET_LEN];
//! let n = Header::request(Command::SEND_RR_DATA, 0x1234).emit_packet(
//!     &mut wire,
//!     SendData::unconnected_len(message_len),
//!     |data| SendData::emit_unconnected(0, message_len, data, |m| request.emit(&path, m)),
//! )?;
//!
//! // Server: frame, unwrap, parse, answer.
//! let packet = Packet::new_checked(&wire[..n])?;
//! assert_eq!(packet.command(), Command::SEND_RR_DATA);
//! let message = SendData::parse(packet.data())?.unconnected()?;
//! let request = MessageRequest::parse(message)?;
//! assert_eq!(request.path.as_bytes(), b"\x91\x06Counts");
//! assert_eq!(Request::parse(&request)?, Request::ReadTag(ReadTag { elements: 1 }));
//! let mut value = [0u8; 4];
//! Value::Dint(42).encode(&mut value)?;
//! let reply_data = TagData { tag_type: TagType::Atomic(DataType::Dint), data: &value };
//! let mut reply_buf = [0u8; 16];
//! let n = reply_data.emit(&mut reply_buf)?;
//! let reply = MessageResponse::success(request.service, &reply_buf[..n]);
//! let mut out = [0u8; 32];
//! let n = reply.emit(&mut out)?;
//! assert_eq!(&out[..n], &[0xCC, 0, 0, 0, 0xC4, 0, 42, 0, 0, 0]);
//!
//! // Client: check the reply.
//! let reply = MessageResponse::parse(&out[..n])?;
//! assert!(reply.status.is_success());
//! let values = TagData::parse(reply.data)?.values().unwrap();
//! assert_eq!(values.get(0), Some(Value::Dint(42)));
//! # Ok::<(), ptk_enip::Error>(())
//! ```
//!
//! # Features
//!
//! * `std` (default): the drivers on the ptk event loop: [`server`], a Logix-like tag
//!   server. Without it the crate is the `no_std`, allocation-free codec alone.
//! * `log`: the drivers log through the [`log`](https://docs.rs/log) facade. Off by default,
//!   and then compiled out.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod attribute_list;
pub mod class;
#[cfg(feature = "std")]
pub mod client;
mod connection;
mod cpf;
mod data_type;
mod encap;
mod epath;
mod error;
mod forward_close;
mod forward_open;
mod identity;
pub mod limits;
mod list_services;
mod logical;
mod message;
mod multiple;
mod request;
mod route;
mod segment;
mod send_data;
pub mod service;
mod session;
mod status;
mod symbol;
mod tag;
mod tag_name;
mod template;
mod unconnected_send;
mod value;
mod wire;

#[cfg(feature = "std")]
pub mod server;

pub use attribute_list::GetAttributeList;
pub use connection::{ConnectionFailure, ConnectionTriad, ConnectionType, NetworkParameters};
pub use cpf::{CommonPacket, Item, ItemType, Items, RawItem, SocketAddress};
pub use data_type::{DataType, TagType, LOGIX_STRING_HANDLE, STRUCTURE_MARKER};
pub use encap::{Command, EncapStatus, Header, Packet};
pub use epath::{Epath, PathBuilder, Segments};
pub use error::{Error, Result, Violation};
pub use forward_close::{ForwardClose, ForwardCloseReply};
pub use forward_open::{ForwardOpen, ForwardOpenReply};
pub use identity::{attribute as identity_attribute, Identity, IdentityItem, Revision};
pub use list_services::ServiceEntry;
pub use logical::{LogicalFormat, LogicalSegment, LogicalType};
pub use message::{ExtendedStatus, ExtendedStatusIter, MessageRequest, MessageResponse};
pub use multiple::{MultipleServices, MultipleServicesBuilder, MultipleServicesIter};
pub use request::Request;
pub use route::{RoutePath, RouteSegments};
pub use segment::{ElectronicKey, Link, PortSegment, Segment};
pub use send_data::{ConnectedMessage, SendData};
pub use session::RegisterSession;
pub use status::GeneralStatus;
pub use symbol::{
    attribute as symbol_attribute, AttributeList, SymbolInstance, SymbolInstances,
    SymbolInstancesIter, SymbolType,
};
pub use tag::{ReadModifyWrite, ReadTag, ReadTagFragmented, TagData, WriteTag, WriteTagFragmented};
pub use tag_name::{TagName, TagSegment, TagSegments};
pub use template::{attribute as template_attribute, ReadTemplate, Template, TemplateMember};
pub use unconnected_send::UnconnectedSend;
pub use value::{Elements, ElementsIter, LogixString, Value};

/// The README's examples, run as documentation tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
