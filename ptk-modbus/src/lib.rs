//! Modbus/TCP for ptk: a zero-copy codec for the MBAP header and the Modbus PDU, with no
//! `std` and no allocation.
//!
//! # Design
//!
//! The codec follows smoltcp's split between views and representations:
//!
//! * [`Frame`] is a **view** over bytes: [`Frame::new_checked`] validates the MBAP header
//!   (protocol id 0, length field 2..=254) and that the whole frame is in the buffer, after
//!   which no accessor panics. [`Frame::check_len`] tells a stream reader how long the frame at
//!   the start of its buffer is before all of it has arrived.
//! * [`Header`], [`Request`] and [`Response`] are **representations**: each has `parse`,
//!   `emit(&self, buf) -> Result<usize>` and `buffer_len`. They borrow their data from the
//!   buffer they were parsed from — register values as a [`Registers`] view with an iterator
//!   of `u16`, coils as a bit-packed [`Bits`] view — so parsing copies nothing. Storage is
//!   always the caller's; a buffer of [`limits::MAX_FRAME_LEN`] (260) bytes holds any frame.
//!
//! `parse` accepts exactly what the Modbus Application Protocol v1.1b3 and the Messaging on
//! TCP/IP guide allow, and `emit` writes nothing `parse` would refuse: every quantity, byte
//! count and address limit of [`limits`] is enforced in both directions, so emitting a parsed
//! message gives back its bytes. A client parses a response **against the request it sent**
//! ([`Response::parse`]), which is how a byte count is checked against the quantity asked for
//! and a write echo against what was written.
//!
//! Function codes: 1 read coils, 2 read discrete inputs, 3 read holding registers, 4 read input
//! registers, 5 write single coil, 6 write single register, 7 read exception status, 8
//! diagnostics, 11 get comm event counter, 12 get comm event log, 15 write multiple coils, 16
//! write multiple registers, 17 report server id, 20 read file record, 21 write file record, 22
//! mask write register, 23 read/write multiple registers, 24 read FIFO queue, and 43 / MEI type
//! 14 read device identification; exception responses to any function code, with unknown
//! exception codes kept.
//!
//! # Errors and what to do with them
//!
//! [`Error`] separates the decisions a driver makes. [`Error::Incomplete`] means "read more"
//! and says how many bytes the frame needs. [`Error::Malformed`] means the framing is broken
//! (protocol id not 0, length field out of range) or a response does not answer its request;
//! a server closes the connection. [`Error::Exception`] means a well-framed request the server
//! must refuse, and carries the exception code the specification prescribes:
//! `IllegalFunction` for an unknown function code, `IllegalDataValue` for a quantity, byte
//! count, PDU length or coil value out of range, `IllegalDataAddress` for an address range past
//! 0x10000. [`Error::exception_response`] builds the answer. All errors convert into
//! [`ptk_runtime::Error`].
//!
//! # Where address checks live
//!
//! The codec checks what holds for every server: quantity limits and that `address +
//! quantity` stays within the 16-bit address space (at most 0x10000). A request that passes is
//! still only *addressable*; whether the server maps those addresses is the server's decision,
//! and it answers `IllegalDataAddress` itself when they are not. The codec reports the
//! address-space overflow as `IllegalDataAddress` too, after the quantity check, in the order of
//! the specification's state diagrams.
//!
//! # Example
//!
//! A client request, a server answering it, and the client checking the answer:
//!
//! ```
//! use ptk_modbus::{limits::MAX_FRAME_LEN, Error, Frame, Header, Registers, Request, Response};
//!
//! // Client: read 3 holding registers from address 0x006B on unit 0x11.
//! let request = Request::ReadHoldingRegisters { address: 0x006B, quantity: 3 };
//! let mut wire = [0u8; MAX_FRAME_LEN];
//! let n = request.emit_frame(Header { transaction_id: 1, unit_id: 0x11 }, &mut wire)?;
//! assert_eq!(&wire[..n], &[0, 1, 0, 0, 0, 6, 0x11, 0x03, 0x00, 0x6B, 0x00, 0x03]);
//!
//! // Server: frame the stream, parse the request, answer it.
//! let frame = Frame::new_checked(&wire[..n])?;
//! let header = Header::parse(&frame);
//! let mut reply = [0u8; MAX_FRAME_LEN];
//! let reply_len = match Request::parse(frame.pdu()) {
//!     Ok(Request::ReadHoldingRegisters { address, quantity }) => {
//!         let mut storage = [0u8; 250];
//!         let table = [555u16, 0, 100];
//!         let start = usize::from(address - 0x006B);
//!         let values = &table[start..start + usize::from(quantity)];
//!         let registers = Registers::encode(values, &mut storage)?;
//!         Response::ReadHoldingRegisters(registers).emit_frame(header, &mut reply)?
//!     }
//!     Ok(_) => unreachable!("this example only reads registers"),
//!     Err(e) => match e.exception_response() {
//!         Some(exception) => exception.emit_frame(header, &mut reply)?,
//!         None => return Err(e), // a real server closes the connection here
//!     },
//! };
//! assert_eq!(
//!     &reply[..reply_len],
//!     &[0, 1, 0, 0, 0, 9, 0x11, 0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64]
//! );
//!
//! // Client: check the answer against the request it sent.
//! let frame = Frame::new_checked(&reply[..reply_len])?;
//! assert_eq!(frame.transaction_id(), 1);
//! let Response::ReadHoldingRegisters(values) = Response::parse(frame.pdu(), &request)? else {
//!     panic!("expected registers");
//! };
//! assert!(values.iter().eq([555, 0, 100]));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Features
//!
//! * `std` (default): the `server` and `client` drivers, on the ptk event loop. Without
//!   it the crate is the `no_std`, allocation-free codec alone.
//! * `log`: the drivers log through the [`log`](https://docs.rs/log) facade what an
//!   operator needs to see: a connection closed on a malformed frame (with the peer and the
//!   violation), idle and request timeouts, refusals (once when they start and once when
//!   they end). Off by default, and then compiled out.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod bits;
#[cfg(feature = "std")]
pub mod client;
mod device_id;
mod diagnostics;
mod error;
mod exception;
mod file_record;
mod function;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
mod mbap;
mod registers;
mod request;
mod response;
#[cfg(feature = "std")]
pub mod server;
mod wire;

pub use bits::{Bits, BitsIter};
pub use device_id::{
    DeviceIdentification, DeviceObject, DeviceObjects, DeviceObjectsIter, ReadDeviceIdCode,
};
pub use diagnostics::{CommEventCounter, CommEventLog, Diagnostic};
pub use error::{Error, Result, Violation};
pub use exception::ExceptionCode;
pub use file_record::{
    FileRecord, FileRecordData, FileRecordDataIter, FileRecordRef, FileRecordRefs,
    FileRecordRefsIter, FileRecords, FileRecordsIter,
};
pub use function::FunctionCode;
pub use mbap::{Frame, Header};
pub use registers::{Registers, RegistersIter};
pub use request::Request;
pub use response::Response;

/// The README's examples, run as documentation tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
