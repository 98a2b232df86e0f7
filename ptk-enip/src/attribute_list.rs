//! Get_Attribute_List (0x03): the attribute ids a client asks an instance for, and the reply
//! that lists each with its status and value.

use crate::error::{Error, Result, Violation};
use crate::wire::{len_u16, Reader, Writer};
use crate::GeneralStatus;

/// The request data of Get_Attribute_List: a count and that many attribute ids, of any
/// object (pycomm3 and pylogix read the Template object's attributes this way).
///
/// Unlike the Symbol class's [`AttributeList`](crate::AttributeList), any id is accepted:
/// the reply says per attribute whether the object has it.
///
/// # Examples
///
/// ```
/// use ptk_enip::GetAttributeList;
///
/// // What pycomm3 asks a template for: definition size, structure size, members, handle.
/// let data = [0x04, 0x00, 0x04, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00];
/// let request = GetAttributeList::parse(&data).unwrap();
/// assert_eq!(request.len(), 4);
/// assert!(request.iter().eq([4, 5, 2, 1]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GetAttributeList<'a> {
    bytes: &'a [u8],
}

impl<'a> GetAttributeList<'a> {
    /// Parses the request data.
    ///
    /// # Errors
    ///
    /// [`Violation::Truncated`] if the ids are fewer than the count says;
    /// [`Violation::TrailingBytes`] if bytes follow them; [`Violation::ElementCount`] for a
    /// count of 0.
    pub fn parse(data: &'a [u8]) -> Result<GetAttributeList<'a>> {
        let mut r = Reader::new(data);
        let count = r.u16()?;
        r.bytes(2 * usize::from(count))?;
        r.finish()?;
        if count == 0 {
            return Err(Error::Malformed(Violation::ElementCount));
        }
        Ok(GetAttributeList { bytes: data })
    }

    /// The attribute ids, in the request's order.
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

    /// Writes the reply's count (as many as the request's) into the start of `buf` and
    /// returns its length (2); the entries follow, written by
    /// [`emit_entry`](GetAttributeList::emit_entry).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit_reply_count(&self, buf: &mut [u8]) -> Result<usize> {
        let count = len_u16(self.len(), Violation::ElementCount)?;
        let mut w = Writer::new(buf, 2)?;
        w.u16(count);
        Ok(w.finish())
    }

    /// Writes one entry of the reply into the start of `buf`: the attribute id, its status
    /// (u16) and, on success, `value`. Returns the length.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`].
    pub fn emit_entry(
        id: u16,
        status: GeneralStatus,
        value: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let value = if status.is_success() { value } else { &[] };
        let mut w = Writer::new(buf, 4 + value.len())?;
        w.u16(id).u16(u16::from(status.0)).bytes(value);
        Ok(w.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_must_hold_what_their_count_says() {
        assert_eq!(
            GetAttributeList::parse(&[0x02, 0x00, 0x01, 0x00]),
            Err(Error::Malformed(Violation::Truncated))
        );
        assert_eq!(
            GetAttributeList::parse(&[0x01, 0x00, 0x01, 0x00, 0x02]),
            Err(Error::Malformed(Violation::TrailingBytes))
        );
        assert_eq!(
            GetAttributeList::parse(&[0x00, 0x00]),
            Err(Error::Malformed(Violation::ElementCount))
        );
    }

    #[test]
    fn reply_entries_carry_a_value_only_on_success() {
        let mut buf = [0u8; 8];
        let n = GetAttributeList::emit_entry(1, GeneralStatus::SUCCESS, &[0xCE, 0x0F], &mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &[0x01, 0x00, 0x00, 0x00, 0xCE, 0x0F]);
        let n = GetAttributeList::emit_entry(
            9,
            GeneralStatus::ATTRIBUTE_NOT_SUPPORTED,
            &[0xCE, 0x0F],
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..n], &[0x09, 0x00, 0x14, 0x00]);
    }
}
