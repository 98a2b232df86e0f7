//! CIP class ids of the objects this codec speaks to.

/// 0x01: the Identity object.
pub const IDENTITY: u16 = 0x01;
/// 0x02: the Message Router, which Multiple Service Packet addresses.
pub const MESSAGE_ROUTER: u16 = 0x02;
/// 0x06: the Connection Manager: Forward_Open, Forward_Close, Unconnected_Send.
pub const CONNECTION_MANAGER: u16 = 0x06;
/// 0x6B: the Logix Symbol class: one instance per tag.
pub const SYMBOL: u16 = 0x6B;
/// 0x6C: the Logix Template class: one instance per structure type.
pub const TEMPLATE: u16 = 0x6C;
