//! What the Connection Manager services share: the connection triad that names a
//! connection, the network connection parameters, and the failure reply.

use crate::error::{Error, Result, Violation};
use crate::limits::MAX_CONNECTION_SIZE;
use crate::wire::{Reader, Writer};

/// The three values that name a connection: Forward_Close and the replies repeat the
/// Forward_Open's, and a target refuses a second open with the same triad (0x01 / 0x0100,
/// connection in use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnectionTriad {
    /// The connection serial number the originator picked.
    pub connection_serial: u16,
    /// The originator's vendor id.
    pub vendor_id: u16,
    /// The originator's serial number.
    pub originator_serial: u32,
}

impl ConnectionTriad {
    /// The encoded length.
    pub const LEN: usize = 8;

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<ConnectionTriad> {
        Ok(ConnectionTriad {
            connection_serial: r.u16()?,
            vendor_id: r.u16()?,
            originator_serial: r.u32()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u16(self.connection_serial)
            .u16(self.vendor_id)
            .u32(self.originator_serial);
    }
}

/// The type of a connection, in its network connection parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionType {
    /// 0: no connection in this direction.
    Null,
    /// 1: multicast.
    Multicast,
    /// 2: point to point, as every explicit messaging connection.
    PointToPoint,
}

/// The network connection parameters of one direction of a Forward_Open (16 bits) or
/// Large_Forward_Open (32 bits).
///
/// # Examples
///
/// ```
/// use ptk_enip::{ConnectionType, NetworkParameters};
///
/// // What pycomm3 asks for: point to point, variable size, low priority, 500 bytes.
/// let params = NetworkParameters::explicit(500);
/// assert_eq!(params.to_u16(), Ok(0x43F4));
/// assert_eq!(NetworkParameters::from_u16(0x43F4), Ok(params));
/// let large = NetworkParameters::explicit(4000);
/// assert_eq!(large.to_u32(), 0x4200_0FA0);
/// assert_eq!(NetworkParameters::from_u32(0x4200_0FA0), Ok(large));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetworkParameters {
    /// Whether the connection may have redundant owners.
    pub redundant_owner: bool,
    /// The connection type.
    pub connection_type: ConnectionType,
    /// The priority: 0 low, 1 high, 2 scheduled, 3 urgent.
    pub priority: u8,
    /// Whether messages may be shorter than `connection_size` (variable) or not (fixed).
    pub variable: bool,
    /// The largest message on the connection, in bytes (at most 511 in a Forward_Open).
    pub connection_size: u16,
}

const PARAMETERS: Error = Error::Malformed(Violation::ConnectionParameters);

impl NetworkParameters {
    /// The parameters of an explicit messaging (class 3) connection of `connection_size`
    /// bytes: point to point, variable, low priority.
    pub const fn explicit(connection_size: u16) -> NetworkParameters {
        NetworkParameters {
            redundant_owner: false,
            connection_type: ConnectionType::PointToPoint,
            priority: 0,
            variable: true,
            connection_size,
        }
    }

    /// The high word shared by both encodings: owner, type, priority and variable bits, as
    /// bits 9 to 15 of the 16-bit form.
    fn high_bits(&self) -> u16 {
        let kind = match self.connection_type {
            ConnectionType::Null => 0,
            ConnectionType::Multicast => 1,
            ConnectionType::PointToPoint => 2,
        };
        u16::from(self.redundant_owner) << 15
            | kind << 13
            | u16::from(self.priority & 0x3) << 10
            | u16::from(self.variable) << 9
    }

    fn from_high_bits(high: u16, connection_size: u16) -> Result<NetworkParameters> {
        if high & 0x1000 != 0 {
            return Err(PARAMETERS);
        }
        let connection_type = match (high >> 13) & 0x3 {
            0 => ConnectionType::Null,
            1 => ConnectionType::Multicast,
            2 => ConnectionType::PointToPoint,
            _ => return Err(PARAMETERS),
        };
        Ok(NetworkParameters {
            redundant_owner: high & 0x8000 != 0,
            connection_type,
            priority: ((high >> 10) & 0x3) as u8,
            variable: high & 0x0200 != 0,
            connection_size,
        })
    }

    /// Decodes the 16-bit parameters of a Forward_Open.
    ///
    /// # Errors
    ///
    /// [`Violation::ConnectionParameters`] if the reserved bit 12 is set or the connection
    /// type is the reserved 3.
    pub fn from_u16(word: u16) -> Result<NetworkParameters> {
        NetworkParameters::from_high_bits(word & 0xFE00, word & 0x01FF)
    }

    /// Decodes the 32-bit parameters of a Large_Forward_Open.
    ///
    /// # Errors
    ///
    /// [`Violation::ConnectionParameters`] if a reserved bit (16 to 24, 28) is set or the
    /// connection type is the reserved 3.
    pub fn from_u32(word: u32) -> Result<NetworkParameters> {
        let high = (word >> 16) as u16;
        if high & 0x01FF != 0 {
            return Err(PARAMETERS);
        }
        NetworkParameters::from_high_bits(high, word as u16)
    }

    /// The 16-bit encoding of a Forward_Open.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::ConnectionParameters`] if the connection size is
    /// above 511 or the priority above 3.
    pub fn to_u16(&self) -> Result<u16> {
        if self.connection_size > MAX_CONNECTION_SIZE || self.priority > 3 {
            return Err(Error::Invalid(Violation::ConnectionParameters));
        }
        Ok(self.high_bits() | self.connection_size)
    }

    /// The 32-bit encoding of a Large_Forward_Open (priorities above 3 are masked).
    pub fn to_u32(&self) -> u32 {
        u32::from(self.high_bits()) << 16 | u32::from(self.connection_size)
    }
}

/// The data of a Forward_Open, Large_Forward_Open or Forward_Close failure reply (general
/// status 0x01 and an extended status such as 0x0100, connection in use, or 0x0109, invalid
/// connection size).
///
/// # Examples
///
/// ```
/// use ptk_enip::{ConnectionFailure, ConnectionTriad};
///
/// let failure = ConnectionFailure {
///     triad: ConnectionTriad { connection_serial: 7, vendor_id: 0x1337, originator_serial: 42 },
///     remaining_path_size: Some(0),
/// };
/// let mut buf = [0u8; 10];
/// assert_eq!(failure.emit(&mut buf), Ok(10));
/// assert_eq!(buf, [7, 0, 0x37, 0x13, 42, 0, 0, 0, 0, 0]);
/// assert_eq!(ConnectionFailure::parse(&buf), Ok(failure));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionFailure {
    /// The triad of the request that failed.
    pub triad: ConnectionTriad,
    /// How many words of the connection path were left when routing failed, if the reply
    /// says.
    pub remaining_path_size: Option<u8>,
}

impl ConnectionFailure {
    /// Parses the failure reply data: the triad, then the remaining path size and a reserved
    /// byte if present.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the triad is cut short; [`Violation::Padding`] if the
    /// reserved byte is not 0; [`Violation::TrailingBytes`] for anything after it.
    pub fn parse(data: &[u8]) -> Result<ConnectionFailure> {
        let mut r = Reader::new(data);
        let triad = ConnectionTriad::read(&mut r)?;
        let remaining_path_size = if r.rest().is_empty() {
            None
        } else {
            let size = r.u8()?;
            if !r.rest().is_empty() {
                r.pad()?;
            }
            Some(size)
        };
        r.finish()?;
        Ok(ConnectionFailure {
            triad,
            remaining_path_size,
        })
    }

    /// The length of the reply data.
    pub const fn buffer_len(&self) -> usize {
        ConnectionTriad::LEN
            + if self.remaining_path_size.is_some() {
                2
            } else {
                0
            }
    }

    /// Writes the reply data into the start of `buf` and returns its length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf, self.buffer_len())?;
        self.triad.write(&mut w);
        if let Some(size) = self.remaining_path_size {
            w.u8(size).u8(0);
        }
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_parameter_bits_are_refused() {
        assert_eq!(NetworkParameters::from_u16(0x1000), Err(PARAMETERS));
        assert_eq!(NetworkParameters::from_u16(0x6000), Err(PARAMETERS));
        assert_eq!(NetworkParameters::from_u32(0x0001_0000), Err(PARAMETERS));
        assert_eq!(NetworkParameters::from_u32(0x1000_0000), Err(PARAMETERS));
        assert_eq!(
            NetworkParameters::explicit(512).to_u16(),
            Err(Error::Invalid(Violation::ConnectionParameters))
        );
        let all = NetworkParameters {
            redundant_owner: true,
            connection_type: ConnectionType::Multicast,
            priority: 3,
            variable: false,
            connection_size: 511,
        };
        assert_eq!(all.to_u16(), Ok(0xADFF));
        assert_eq!(NetworkParameters::from_u16(0xADFF), Ok(all));
        assert_eq!(all.to_u32(), 0xAC00_01FF);
        assert_eq!(NetworkParameters::from_u32(0xAC00_01FF), Ok(all));
    }

    #[test]
    fn a_failure_without_remaining_path_is_only_the_triad() {
        let data = [1, 0, 2, 0, 3, 0, 0, 0];
        let failure = ConnectionFailure::parse(&data).unwrap();
        assert_eq!(failure.remaining_path_size, None);
        assert_eq!(failure.buffer_len(), 8);
        assert_eq!(
            ConnectionFailure::parse(&[1, 0, 2, 0, 3, 0, 0, 0, 0, 1]),
            Err(Error::Malformed(Violation::Padding))
        );
        assert_eq!(
            ConnectionFailure::parse(&[1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
    }
}
