//! Read Device Identification (function code 43, MEI type 14): the access codes, the
//! response header and a checked view of the object list.

use core::fmt;
use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::wire::Writer;

/// The MEI type of Read Device Identification in an encapsulated interface transport PDU.
pub(crate) const MEI_READ_DEVICE_ID: u8 = 0x0E;

/// The Read Device ID code of a request: which objects to read and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ReadDeviceIdCode {
    /// 0x01: stream the basic objects (vendor name, product code, revision).
    Basic = 0x01,
    /// 0x02: stream the basic and regular objects.
    Regular = 0x02,
    /// 0x03: stream the basic, regular and extended objects.
    Extended = 0x03,
    /// 0x04: read the one object named by the request's object id.
    Individual = 0x04,
}

impl ReadDeviceIdCode {
    /// The code of a byte, or `None` for anything but 1..=4.
    pub const fn from_u8(byte: u8) -> Option<ReadDeviceIdCode> {
        match byte {
            0x01 => Some(ReadDeviceIdCode::Basic),
            0x02 => Some(ReadDeviceIdCode::Regular),
            0x03 => Some(ReadDeviceIdCode::Extended),
            0x04 => Some(ReadDeviceIdCode::Individual),
            _ => None,
        }
    }

    /// The byte of the code on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// One identification object: an id (0x00 vendor name, 0x01 product code, 0x02 revision, ...)
/// and its value, usually ASCII text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeviceObject<'a> {
    /// The object id.
    pub id: u8,
    /// The object's value, at most 255 bytes.
    pub value: &'a [u8],
}

/// The object list of a Read Device Identification response, borrowed from a buffer: `count`
/// entries of object id, length and value.
///
/// [`new`](DeviceObjects::new) checks that the entries fill the bytes exactly, so the iterator
/// never panics and never stops early.
///
/// # Examples
///
/// ```
/// use ptk_modbus::{DeviceObject, DeviceObjects};
///
/// let mut storage = [0u8; 64];
/// let objects = DeviceObjects::encode(
///     &[
///         DeviceObject { id: 0x00, value: b"ACME" },
///         DeviceObject { id: 0x02, value: b"V2.11" },
///     ],
///     &mut storage,
/// )
/// .unwrap();
/// assert_eq!(objects.len(), 2);
/// assert_eq!(objects.as_bytes(), b"\x00\x04ACME\x02\x05V2.11");
/// assert_eq!(objects.iter().nth(1), Some(DeviceObject { id: 0x02, value: b"V2.11" }));
///
/// assert_eq!(DeviceObjects::new(b"\x00\x05ACME", 1), None); // length past the end
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceObjects<'a> {
    bytes: &'a [u8],
    count: u8,
}

impl<'a> DeviceObjects<'a> {
    /// A view of `count` objects in `bytes`, or `None` unless they fill `bytes` exactly.
    pub fn new(bytes: &'a [u8], count: u8) -> Option<DeviceObjects<'a>> {
        let mut rest = bytes;
        for _ in 0..count {
            let [_, len, ref tail @ ..] = *rest else {
                return None;
            };
            rest = tail.get(usize::from(len)..)?;
        }
        rest.is_empty().then_some(DeviceObjects { bytes, count })
    }

    /// Writes `objects` into the start of `storage` and returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::DeviceIdentification`] for more than 255 objects
    /// or a value longer than 255 bytes; [`Error::BufferTooSmall`] if `storage` is too short.
    pub fn encode(
        objects: &[DeviceObject<'_>],
        storage: &'a mut [u8],
    ) -> Result<DeviceObjects<'a>> {
        let invalid = Error::Invalid(Violation::DeviceIdentification);
        let count = u8::try_from(objects.len()).map_err(|_| invalid)?;
        let mut needed = 0;
        for object in objects {
            if object.value.len() > usize::from(u8::MAX) {
                return Err(invalid);
            }
            needed += 2 + object.value.len();
        }
        let mut w = Writer::new(storage, needed)?;
        for object in objects {
            w.u8(object.id)
                .u8(object.value.len() as u8)
                .bytes(object.value);
        }
        let written = w.finish();
        let storage: &'a [u8] = storage;
        Ok(DeviceObjects {
            bytes: &storage[..written],
            count,
        })
    }

    /// The number of objects.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no objects.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The objects in order.
    pub fn iter(&self) -> DeviceObjectsIter<'a> {
        DeviceObjectsIter {
            rest: self.bytes,
            left: self.count,
        }
    }

    /// The encoded list, as it is on the wire (without the count).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for DeviceObjects<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The iterator of [`DeviceObjects::iter`].
#[derive(Clone, Debug)]
pub struct DeviceObjectsIter<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for DeviceObjectsIter<'a> {
    type Item = DeviceObject<'a>;

    fn next(&mut self) -> Option<DeviceObject<'a>> {
        self.left = self.left.checked_sub(1)?;
        let [id, len, ref tail @ ..] = *self.rest else {
            return None;
        };
        let (value, rest) = tail.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(DeviceObject { id, value })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for DeviceObjectsIter<'_> {}

impl FusedIterator for DeviceObjectsIter<'_> {}

/// The answer to a Read Device Identification request.
///
/// A stream access (codes 1 to 3) that does not fit one response sets `more_follows` and names
/// the `next_object_id` to ask for; an individual access (code 4) returns exactly one object
/// and never more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceIdentification<'a> {
    /// The Read Device ID code of the request, echoed.
    pub code: ReadDeviceIdCode,
    /// The identification conformity level of the device: 0x01..=0x03, plus 0x80 if it also
    /// supports individual access.
    pub conformity_level: u8,
    /// Whether more objects follow in a further transaction.
    pub more_follows: bool,
    /// The object id to ask for next when `more_follows`, else 0.
    pub next_object_id: u8,
    /// The objects of this response.
    pub objects: DeviceObjects<'a>,
}

impl<'a> DeviceIdentification<'a> {
    /// The body after the function code and MEI type: code, conformity, more follows, next
    /// object id, count, objects. Checked for internal consistency only.
    pub(crate) fn parse(body: &'a [u8]) -> Result<DeviceIdentification<'a>> {
        let malformed = Error::Malformed(Violation::DeviceIdentification);
        let [code, conformity_level, more, next_object_id, count, ref objects @ ..] = *body else {
            return Err(Error::Malformed(Violation::PduLength));
        };
        let code =
            ReadDeviceIdCode::from_u8(code).ok_or(Error::Malformed(Violation::ReadDeviceIdCode))?;
        let more_follows = match more {
            0x00 => false,
            0xFF => true,
            _ => return Err(malformed),
        };
        let objects = DeviceObjects::new(objects, count).ok_or(malformed)?;
        let identification = DeviceIdentification {
            code,
            conformity_level,
            more_follows,
            next_object_id,
            objects,
        };
        identification.check().map_err(Error::Malformed)?;
        Ok(identification)
    }

    pub(crate) fn check(&self) -> Result<(), Violation> {
        let level_ok = matches!(self.conformity_level, 0x01..=0x03 | 0x81..=0x83);
        let individual_ok = self.code != ReadDeviceIdCode::Individual
            || (self.objects.len() == 1 && !self.more_follows);
        if level_ok && individual_ok {
            Ok(())
        } else {
            Err(Violation::DeviceIdentification)
        }
    }

    /// Bytes after the function code: MEI type, five header bytes, the objects.
    pub(crate) fn body_len(&self) -> usize {
        6 + self.objects.as_bytes().len()
    }

    pub(crate) fn emit_body(&self, w: &mut Writer<'_>) {
        w.u8(MEI_READ_DEVICE_ID)
            .u8(self.code.as_u8())
            .u8(self.conformity_level)
            .u8(if self.more_follows { 0xFF } else { 0x00 })
            .u8(self.next_object_id)
            .u8(self.objects.count)
            .bytes(self.objects.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_must_fill_their_bytes_exactly() {
        assert!(DeviceObjects::new(b"", 0).is_some());
        assert!(DeviceObjects::new(b"\x00", 0).is_none());
        assert!(DeviceObjects::new(b"\x00\x00", 1).is_some());
        assert!(DeviceObjects::new(b"\x00\x01", 1).is_none());
        assert!(DeviceObjects::new(b"\x00\x01A\x01", 2).is_none());
        assert!(DeviceObjects::new(b"\x00\x01A\x01\x00", 2).is_some());
        assert!(DeviceObjects::new(b"\x00\x01A\x01\x00", 3).is_none());
    }

    #[test]
    fn iteration_yields_every_object_in_order() {
        let objects = DeviceObjects::new(b"\x00\x01A\x05\x02BC", 2).unwrap();
        let mut it = objects.iter();
        assert_eq!(it.len(), 2);
        assert_eq!(it.next(), Some(DeviceObject { id: 0, value: b"A" }));
        assert_eq!(
            it.next(),
            Some(DeviceObject {
                id: 5,
                value: b"BC"
            })
        );
        assert_eq!(it.next(), None);
    }

    #[test]
    fn encode_refuses_long_values_and_short_storage() {
        let long = [0u8; 256];
        let mut storage = [0u8; 300];
        assert_eq!(
            DeviceObjects::encode(
                &[DeviceObject {
                    id: 0,
                    value: &long
                }],
                &mut storage
            ),
            Err(Error::Invalid(Violation::DeviceIdentification))
        );
        let mut short = [0u8; 3];
        assert_eq!(
            DeviceObjects::encode(
                &[DeviceObject {
                    id: 0,
                    value: b"AB"
                }],
                &mut short
            ),
            Err(Error::BufferTooSmall { needed: 4 })
        );
    }
}
