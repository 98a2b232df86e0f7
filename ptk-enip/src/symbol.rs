//! Get_Instance_Attribute_List (0x55) on the Logix Symbol class (0x6B): the attribute list
//! a client asks for, and the instances (tags) of the reply.

use core::iter::FusedIterator;

use crate::error::{Error, Result, Violation};
use crate::wire::{len_u16, Reader, Writer};
use crate::DataType;

/// The attribute ids of the Symbol class whose layout the codec knows.
pub mod attribute {
    /// The tag's name (a 16-bit length and the characters).
    pub const NAME: u16 = 1;
    /// The symbol type word ([`SymbolType`](crate::SymbolType)).
    pub const TYPE: u16 = 2;
    /// The symbol address (UDINT).
    pub const ADDRESS: u16 = 3;
    /// The symbol object address (UDINT).
    pub const OBJECT_ADDRESS: u16 = 5;
    /// The software control word (UDINT).
    pub const SOFTWARE_CONTROL: u16 = 6;
    /// The element size in bytes (UINT).
    pub const ELEMENT_SIZE: u16 = 7;
    /// The array dimensions (three UDINT, 0 for unused dimensions).
    pub const DIMENSIONS: u16 = 8;
    /// The external access (USINT: 0 read/write, 2 read only, 3 none).
    pub const EXTERNAL_ACCESS: u16 = 10;

    /// Whether the codec knows the attribute's layout.
    pub const fn is_known(id: u16) -> bool {
        matches!(id, 1 | 2 | 3 | 5 | 6 | 7 | 8 | 10)
    }
}

/// The symbol type word of a tag: whether it is a structure, its array dimensions, and its
/// atomic type (with the bit position of a BOOL) or structure template instance.
///
/// # Examples
///
/// ```
/// use ptk_enip::{DataType, SymbolType};
///
/// let dint_array = SymbolType(0x20C4); // DINT[n]
/// assert_eq!(dint_array.dimensions(), 1);
/// assert_eq!(dint_array.atomic(), Some(DataType::Dint));
///
/// let udt = SymbolType(0x8F9A); // a structure, template instance 0x0F9A
/// assert!(udt.is_structure());
/// assert_eq!(udt.template_instance(), Some(0x0F9A));
///
/// let bit = SymbolType(0x03C1); // a BOOL at bit 3 of its host byte
/// assert_eq!(bit.bit_position(), Some(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymbolType(pub u16);

impl SymbolType {
    /// A scalar or array of an atomic type.
    pub const fn atomic_type(data_type: DataType, dimensions: u8) -> SymbolType {
        SymbolType(((dimensions as u16 & 0x3) << 13) | data_type.code() as u16)
    }

    /// A scalar or array of a structure, by its template instance id (up to 0x0FFF).
    pub const fn structure(template_instance: u16, dimensions: u8) -> SymbolType {
        SymbolType(0x8000 | ((dimensions as u16 & 0x3) << 13) | (template_instance & 0x0FFF))
    }

    /// Whether the tag is a structure (bit 15).
    pub const fn is_structure(self) -> bool {
        self.0 & 0x8000 != 0
    }

    /// The number of array dimensions, 0 to 3 (bits 13 and 14).
    pub const fn dimensions(self) -> u8 {
        ((self.0 >> 13) & 0x3) as u8
    }

    /// Whether the tag is a system tag (bit 12), which clients usually hide.
    pub const fn is_system(self) -> bool {
        self.0 & 0x1000 != 0
    }

    /// The atomic type, for a tag that is not a structure and of a type this codec knows.
    pub const fn atomic(self) -> Option<DataType> {
        if self.is_structure() {
            None
        } else {
            DataType::from_code((self.0 & 0xFF) as u8)
        }
    }

    /// The bit position of a BOOL (bits 8 to 10).
    pub const fn bit_position(self) -> Option<u8> {
        match self.atomic() {
            Some(DataType::Bool) => Some(((self.0 >> 8) & 0x7) as u8),
            _ => None,
        }
    }

    /// The template instance id of a structure (bits 0 to 11).
    pub const fn template_instance(self) -> Option<u16> {
        if self.is_structure() {
            Some(self.0 & 0x0FFF)
        } else {
            None
        }
    }
}

/// The request data of Get_Instance_Attribute_List: the attribute ids to report for every
/// instance, in order.
///
/// # Examples
///
/// ```
/// use ptk_enip::AttributeList;
///
/// // Name, type and dimensions, as pylogix asks for them.
/// let data = [0x03, 0x00, 0x01, 0x00, 0x02, 0x00, 0x08, 0x00];
/// let list = AttributeList::parse(&data).unwrap();
/// assert!(list.iter().eq([1, 2, 8]));
///
/// let mut storage = [0u8; 8];
/// let encoded = AttributeList::encode(&[1, 2, 8], &mut storage).unwrap();
/// assert_eq!(encoded.as_bytes(), &data);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttributeList<'a> {
    bytes: &'a [u8],
}

impl<'a> AttributeList<'a> {
    /// Parses the request data: a count and that many attribute ids.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] or [`Violation::TrailingBytes`] if the ids do not fill the
    /// data as the count says; [`Violation::UnknownAttribute`] for an id whose layout the
    /// codec does not know (a server answers 0x14, attribute not supported), an id listed
    /// twice, or a count of 0.
    pub fn parse(data: &'a [u8]) -> Result<AttributeList<'a>> {
        let mut r = Reader::new(data);
        let count = r.u16()?;
        r.bytes(2 * usize::from(count))?;
        r.finish()?;
        let list = AttributeList { bytes: data };
        if count == 0 || !valid_ids(list.iter()) {
            return Err(Error::Malformed(Violation::UnknownAttribute));
        }
        Ok(list)
    }

    /// Encodes the count and `ids` into the start of `storage` and returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::UnknownAttribute`] for no ids, an id whose
    /// layout the codec does not know or an id listed twice; [`Error::BufferTooSmall`].
    pub fn encode(ids: &[u16], storage: &'a mut [u8]) -> Result<AttributeList<'a>> {
        let count = len_u16(ids.len(), Violation::UnknownAttribute)?;
        if ids.is_empty() || !valid_ids(ids.iter().copied()) {
            return Err(Error::Invalid(Violation::UnknownAttribute));
        }
        let needed = 2 + 2 * ids.len();
        let mut w = Writer::new(storage, needed)?;
        w.u16(count);
        for &id in ids {
            w.u16(id);
        }
        w.finish();
        Ok(AttributeList {
            bytes: storage.get(..needed).unwrap_or_default(),
        })
    }

    /// The attribute ids, in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + Clone + 'a {
        self.bytes
            .get(2..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
    }

    /// The number of ids.
    pub fn len(&self) -> usize {
        self.bytes.len().saturating_sub(2) / 2
    }

    /// Whether there are no ids (never the case once parsed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The request data, count included.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Whether every id is known and listed once.
fn valid_ids(ids: impl Iterator<Item = u16>) -> bool {
    // The known ids are all below 16: one bit each.
    let mut seen = 0u16;
    for id in ids {
        if !attribute::is_known(id) || seen & (1 << id) != 0 {
            return false;
        }
        seen |= 1 << id;
    }
    true
}

/// One instance of the Symbol class (one tag) in a Get_Instance_Attribute_List reply.
///
/// The reply holds, per instance, its id and then the attributes the request listed, in
/// the request's order; the fields of attributes not asked for are left at their defaults
/// and not written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SymbolInstance<'a> {
    /// The instance id, which also addresses the tag (class 0x6B, this instance).
    pub instance_id: u32,
    /// Attribute 1: the tag's name.
    pub name: &'a [u8],
    /// Attribute 2: the symbol type word.
    pub symbol_type: u16,
    /// Attribute 3: the symbol address.
    pub address: u32,
    /// Attribute 5: the symbol object address.
    pub object_address: u32,
    /// Attribute 6: the software control word.
    pub software_control: u32,
    /// Attribute 7: the element size in bytes.
    pub element_size: u16,
    /// Attribute 8: the array dimensions.
    pub dimensions: [u32; 3],
    /// Attribute 10: the external access.
    pub external_access: u8,
}

impl<'a> SymbolInstance<'a> {
    /// Reads one instance with `attributes` from the start of `bytes`, and returns it with
    /// its length.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the instance is cut short.
    pub fn parse(
        bytes: &'a [u8],
        attributes: &AttributeList<'_>,
    ) -> Result<(SymbolInstance<'a>, usize)> {
        let mut r = Reader::new(bytes);
        let mut instance = SymbolInstance {
            instance_id: r.u32()?,
            ..SymbolInstance::default()
        };
        for id in attributes.iter() {
            match id {
                attribute::NAME => {
                    let len = r.u16()?;
                    instance.name = r.bytes(usize::from(len))?;
                }
                attribute::TYPE => instance.symbol_type = r.u16()?,
                attribute::ADDRESS => instance.address = r.u32()?,
                attribute::OBJECT_ADDRESS => instance.object_address = r.u32()?,
                attribute::SOFTWARE_CONTROL => instance.software_control = r.u32()?,
                attribute::ELEMENT_SIZE => instance.element_size = r.u16()?,
                attribute::DIMENSIONS => {
                    instance.dimensions = [r.u32()?, r.u32()?, r.u32()?];
                }
                attribute::EXTERNAL_ACCESS => instance.external_access = r.u8()?,
                _ => return Err(Error::Malformed(Violation::UnknownAttribute)),
            }
        }
        Ok((instance, bytes.len() - r.rest().len()))
    }

    /// The length of the instance with `attributes`.
    pub fn buffer_len(&self, attributes: &AttributeList<'_>) -> usize {
        4 + attributes
            .iter()
            .map(|id| match id {
                attribute::NAME => 2 + self.name.len(),
                attribute::TYPE | attribute::ELEMENT_SIZE => 2,
                attribute::DIMENSIONS => 12,
                attribute::EXTERNAL_ACCESS => 1,
                _ => 4,
            })
            .sum::<usize>()
    }

    /// Writes the instance id and `attributes` into the start of `buf` and returns the
    /// length.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with [`Violation::StringLength`] for a name over 65,535 bytes or
    /// [`Violation::UnknownAttribute`] for an unknown id; [`Error::BufferTooSmall`].
    pub fn emit(&self, attributes: &AttributeList<'_>, buf: &mut [u8]) -> Result<usize> {
        let name_len = len_u16(self.name.len(), Violation::StringLength)?;
        let mut w = Writer::new(buf, self.buffer_len(attributes))?;
        w.u32(self.instance_id);
        for id in attributes.iter() {
            match id {
                attribute::NAME => w.u16(name_len).bytes(self.name),
                attribute::TYPE => w.u16(self.symbol_type),
                attribute::ADDRESS => w.u32(self.address),
                attribute::OBJECT_ADDRESS => w.u32(self.object_address),
                attribute::SOFTWARE_CONTROL => w.u32(self.software_control),
                attribute::ELEMENT_SIZE => w.u16(self.element_size),
                attribute::DIMENSIONS => {
                    let [a, b, c] = self.dimensions;
                    w.u32(a).u32(b).u32(c)
                }
                attribute::EXTERNAL_ACCESS => w.u8(self.external_access),
                _ => return Err(Error::Invalid(Violation::UnknownAttribute)),
            };
        }
        Ok(w.finish())
    }
}

/// The data of a Get_Instance_Attribute_List reply: instances with the attributes the
/// request listed. The reply's general status is 0x06 (partial transfer) when more
/// instances follow: the client asks again from the last instance id plus one.
///
/// # Examples
///
/// ```
/// use ptk_enip::{AttributeList, SymbolInstance, SymbolInstances};
///
/// let mut storage = [0u8; 8];
/// let attributes = AttributeList::encode(&[1, 2], &mut storage).unwrap();
/// let tag = SymbolInstance { instance_id: 0x10, name: b"Counts", symbol_type: 0x20C4, ..Default::default() };
/// let mut buf = [0u8; 32];
/// let n = tag.emit(&attributes, &mut buf).unwrap();
/// assert_eq!(&buf[..n], b"\x10\x00\x00\x00\x06\x00Counts\xC4\x20");
///
/// let reply = SymbolInstances::new_checked(&buf[..n], attributes).unwrap();
/// assert_eq!(reply.iter().collect::<Vec<_>>(), [tag]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SymbolInstances<'a> {
    bytes: &'a [u8],
    attributes: AttributeList<'a>,
}

impl<'a> SymbolInstances<'a> {
    /// Checks that `data` is whole instances with `attributes`.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the last instance is cut short.
    pub fn new_checked(
        data: &'a [u8],
        attributes: AttributeList<'a>,
    ) -> Result<SymbolInstances<'a>> {
        let mut rest = data;
        while !rest.is_empty() {
            let (_, len) = SymbolInstance::parse(rest, &attributes)?;
            rest = rest.get(len..).unwrap_or_default();
        }
        Ok(SymbolInstances {
            bytes: data,
            attributes,
        })
    }

    /// The instances, in order.
    pub fn iter(&self) -> SymbolInstancesIter<'a> {
        SymbolInstancesIter {
            rest: self.bytes,
            attributes: self.attributes,
        }
    }
}

/// The iterator of [`SymbolInstances::iter`].
#[derive(Clone, Debug)]
pub struct SymbolInstancesIter<'a> {
    rest: &'a [u8],
    attributes: AttributeList<'a>,
}

impl<'a> Iterator for SymbolInstancesIter<'a> {
    type Item = SymbolInstance<'a>;

    fn next(&mut self) -> Option<SymbolInstance<'a>> {
        let (instance, len) = SymbolInstance::parse(self.rest, &self.attributes).ok()?;
        self.rest = self.rest.get(len..).unwrap_or_default();
        Some(instance)
    }
}

impl FusedIterator for SymbolInstancesIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_attribute_round_trips() {
        let mut storage = [0u8; 32];
        let attributes = AttributeList::encode(&[1, 2, 3, 5, 6, 7, 8, 10], &mut storage).unwrap();
        let tag = SymbolInstance {
            instance_id: 0x1234,
            name: b"Program:Main",
            symbol_type: SymbolType::atomic_type(DataType::Real, 2).0,
            address: 1,
            object_address: 2,
            software_control: 3,
            element_size: 4,
            dimensions: [5, 6, 0],
            external_access: 2,
        };
        let mut buf = [0u8; 64];
        let n = tag.emit(&attributes, &mut buf).unwrap();
        assert_eq!(n, 4 + 14 + 2 + 4 + 4 + 4 + 2 + 12 + 1);
        assert_eq!(SymbolInstance::parse(&buf[..n], &attributes), Ok((tag, n)));
        assert_eq!(
            SymbolInstances::new_checked(&buf[..n - 1], attributes),
            Err(Error::Malformed(Violation::Truncated))
        );
    }

    #[test]
    fn unknown_attributes_are_refused() {
        assert_eq!(
            AttributeList::parse(&[1, 0, 9, 0]),
            Err(Error::Malformed(Violation::UnknownAttribute))
        );
        assert_eq!(
            AttributeList::parse(&[2, 0, 8, 0, 8, 0]),
            Err(Error::Malformed(Violation::UnknownAttribute))
        );
        assert_eq!(
            AttributeList::parse(&[0, 0]),
            Err(Error::Malformed(Violation::UnknownAttribute))
        );
        assert_eq!(
            AttributeList::parse(&[2, 0, 1, 0]),
            Err(Error::Malformed(Violation::Truncated))
        );
        assert_eq!(
            AttributeList::encode(&[4], &mut [0u8; 4]),
            Err(Error::Invalid(Violation::UnknownAttribute))
        );
    }

    #[test]
    fn symbol_types_split_into_their_fields() {
        let t = SymbolType::structure(0x0FCE, 1);
        assert_eq!(t.0, 0xAFCE);
        assert_eq!(t.dimensions(), 1);
        assert_eq!(t.atomic(), None);
        assert!(!SymbolType(0x00C4).is_system());
        assert!(SymbolType(0x10C4).is_system());
        assert_eq!(SymbolType(0x00C4).bit_position(), None);
    }
}
