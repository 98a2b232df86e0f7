//! CIP service codes.
//!
//! A reply carries its request's service code with [`REPLY`] set. The same code means
//! different services on different objects: 0x4E is Read-Modify-Write on a tag and
//! Forward_Close on the Connection Manager, 0x52 Read Tag Fragmented on a tag and
//! Unconnected_Send on the Connection Manager.

/// The bit a reply sets in its request's service code.
pub const REPLY: u8 = 0x80;

/// 0x01: read all attributes of an instance (or of a class, at instance 0).
pub const GET_ATTRIBUTE_ALL: u8 = 0x01;
/// 0x03: read a list of attributes of an instance.
pub const GET_ATTRIBUTE_LIST: u8 = 0x03;
/// 0x0A: several requests in one message, to the Message Router.
pub const MULTIPLE_SERVICE_PACKET: u8 = 0x0A;
/// 0x0E: read one attribute.
pub const GET_ATTRIBUTE_SINGLE: u8 = 0x0E;
/// 0x10: write one attribute.
pub const SET_ATTRIBUTE_SINGLE: u8 = 0x10;
/// 0x4C: Logix Read Tag.
pub const READ_TAG: u8 = 0x4C;
/// 0x4D: Logix Write Tag.
pub const WRITE_TAG: u8 = 0x4D;
/// 0x4E: Logix Read-Modify-Write Tag (on a tag).
pub const READ_MODIFY_WRITE: u8 = 0x4E;
/// 0x4E: Forward_Close (on the Connection Manager).
pub const FORWARD_CLOSE: u8 = 0x4E;
/// 0x52: Logix Read Tag Fragmented (on a tag).
pub const READ_TAG_FRAGMENTED: u8 = 0x52;
/// 0x52: Unconnected_Send (on the Connection Manager).
pub const UNCONNECTED_SEND: u8 = 0x52;
/// 0x53: Logix Write Tag Fragmented.
pub const WRITE_TAG_FRAGMENTED: u8 = 0x53;
/// 0x54: Forward_Open (on the Connection Manager).
pub const FORWARD_OPEN: u8 = 0x54;
/// 0x55: Logix Get_Instance_Attribute_List (on the Symbol and Template classes).
pub const GET_INSTANCE_ATTRIBUTE_LIST: u8 = 0x55;
/// 0x5B: Large_Forward_Open (on the Connection Manager).
pub const LARGE_FORWARD_OPEN: u8 = 0x5B;
