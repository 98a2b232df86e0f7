//! Read and write file record (function codes 20 and 21): checked views of the groups a
//! request and a response carry.
//!
//! Every group starts with the reference type 6; the views check it, and that the groups fill
//! their bytes exactly, so their iterators never panic and never stop early.

use core::fmt;
use core::iter::FusedIterator;

use crate::error::{Error, Result};
use crate::wire::{be16, Writer};
use crate::Registers;

/// The reference type every file record group starts with.
pub(crate) const REFERENCE_TYPE: u8 = 6;
/// Bytes of a read group, and of the header of a write group: reference type, file number,
/// record number, record length.
pub(crate) const GROUP_HEADER_LEN: usize = 7;

/// One group of a read file record request (function code 20): `record_length` registers of
/// file `file_number` from record `record_number`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRecordRef {
    /// The file, 1..=0xFFFF.
    pub file_number: u16,
    /// The first record, 0..=0x270F (9999).
    pub record_number: u16,
    /// How many records (registers) to read.
    pub record_length: u16,
}

/// The groups of a read file record request, borrowed from a buffer: seven bytes each
/// (reference type 6, file number, record number, record length).
///
/// # Examples
///
/// ```
/// use ptk_modbus::{FileRecordRef, FileRecordRefs};
///
/// let mut storage = [0u8; 14];
/// let refs = FileRecordRefs::encode(
///     &[FileRecordRef { file_number: 4, record_number: 1, record_length: 2 }],
///     &mut storage,
/// )
/// .unwrap();
/// assert_eq!(refs.as_bytes(), &[6, 0, 4, 0, 1, 0, 2]);
/// assert_eq!(refs.len(), 1);
/// assert_eq!(FileRecordRefs::new(&[5, 0, 4, 0, 1, 0, 2]), None); // reference type 5
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRecordRefs<'a> {
    bytes: &'a [u8],
}

impl<'a> FileRecordRefs<'a> {
    /// A view of the groups in `bytes`, or `None` unless `bytes` is whole groups of seven
    /// bytes, each of reference type 6.
    pub fn new(bytes: &'a [u8]) -> Option<FileRecordRefs<'a>> {
        let whole = bytes.len() % GROUP_HEADER_LEN == 0;
        let typed = bytes
            .chunks_exact(GROUP_HEADER_LEN)
            .all(|g| g[0] == REFERENCE_TYPE);
        (whole && typed).then_some(FileRecordRefs { bytes })
    }

    /// Writes `refs` into the start of `storage` and returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `storage` is shorter than seven bytes per group.
    pub fn encode(refs: &[FileRecordRef], storage: &'a mut [u8]) -> Result<FileRecordRefs<'a>> {
        let mut w = Writer::new(storage, refs.len() * GROUP_HEADER_LEN)?;
        for r in refs {
            w.u8(REFERENCE_TYPE)
                .u16(r.file_number)
                .u16(r.record_number)
                .u16(r.record_length);
        }
        let n = w.finish();
        let storage: &'a [u8] = storage;
        Ok(FileRecordRefs {
            bytes: &storage[..n],
        })
    }

    /// The number of groups.
    pub const fn len(&self) -> usize {
        self.bytes.len() / GROUP_HEADER_LEN
    }

    /// Whether there are no groups (never the case in a parsed request).
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The groups in order.
    pub fn iter(&self) -> FileRecordRefsIter<'a> {
        FileRecordRefsIter { rest: self.bytes }
    }

    /// The encoded groups, as they are on the wire (without the byte count).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for FileRecordRefs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The iterator of [`FileRecordRefs::iter`].
#[derive(Clone, Debug)]
pub struct FileRecordRefsIter<'a> {
    rest: &'a [u8],
}

impl Iterator for FileRecordRefsIter<'_> {
    type Item = FileRecordRef;

    fn next(&mut self) -> Option<FileRecordRef> {
        let [_, f0, f1, r0, r1, l0, l1, ref rest @ ..] = *self.rest else {
            return None;
        };
        self.rest = rest;
        Some(FileRecordRef {
            file_number: be16(f0, f1),
            record_number: be16(r0, r1),
            record_length: be16(l0, l1),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / GROUP_HEADER_LEN;
        (n, Some(n))
    }
}

impl ExactSizeIterator for FileRecordRefsIter<'_> {}

impl FusedIterator for FileRecordRefsIter<'_> {}

/// One group of a write file record request or response (function code 21): `values` for
/// file `file_number` from record `record_number`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRecord<'a> {
    /// The file, 1..=0xFFFF.
    pub file_number: u16,
    /// The first record, 0..=0x270F (9999).
    pub record_number: u16,
    /// The values of the records from `record_number` on.
    pub values: Registers<'a>,
}

/// The groups of a write file record request (and of its response, an echo), borrowed from a
/// buffer: reference type 6, file number, record number, record length and the record data
/// each.
///
/// # Examples
///
/// ```
/// use ptk_modbus::{FileRecord, FileRecords, Registers};
///
/// let values = Registers::new(&[0x06, 0xAF, 0x04, 0xBE]).unwrap();
/// let mut storage = [0u8; 16];
/// let records = FileRecords::encode(
///     &[FileRecord { file_number: 4, record_number: 7, values }],
///     &mut storage,
/// )
/// .unwrap();
/// assert_eq!(records.as_bytes(), &[6, 0, 4, 0, 7, 0, 2, 0x06, 0xAF, 0x04, 0xBE]);
/// assert_eq!(records.iter().next().unwrap().values, values);
/// assert_eq!(FileRecords::new(&[6, 0, 4, 0, 7, 0, 2, 0x06]), None); // data cut short
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRecords<'a> {
    bytes: &'a [u8],
    count: u8,
}

impl<'a> FileRecords<'a> {
    /// A view of the groups in `bytes`, or `None` unless they fill `bytes` exactly, each of
    /// reference type 6 (and at most 255 of them).
    pub fn new(bytes: &'a [u8]) -> Option<FileRecords<'a>> {
        let mut rest = bytes;
        let mut count = 0u8;
        while !rest.is_empty() {
            let [REFERENCE_TYPE, _, _, _, _, l0, l1, ref tail @ ..] = *rest else {
                return None;
            };
            rest = tail.get(2 * usize::from(be16(l0, l1))..)?;
            count = count.checked_add(1)?;
        }
        Some(FileRecords { bytes, count })
    }

    /// Writes `records` into the start of `storage` and returns the view of them.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `storage` is too short; [`Error::Invalid`] with
    /// [`Violation::Quantity`](crate::Violation::Quantity) for more than 255 groups or more
    /// than 0xFFFF values in one.
    pub fn encode(records: &[FileRecord<'_>], storage: &'a mut [u8]) -> Result<FileRecords<'a>> {
        let invalid = Error::Invalid(crate::Violation::Quantity);
        let count = u8::try_from(records.len()).map_err(|_| invalid)?;
        let mut needed = 0;
        for r in records {
            u16::try_from(r.values.len()).map_err(|_| invalid)?;
            needed += GROUP_HEADER_LEN + r.values.as_bytes().len();
        }
        let mut w = Writer::new(storage, needed)?;
        for r in records {
            w.u8(REFERENCE_TYPE)
                .u16(r.file_number)
                .u16(r.record_number)
                .u16(r.values.len() as u16)
                .bytes(r.values.as_bytes());
        }
        let n = w.finish();
        let storage: &'a [u8] = storage;
        Ok(FileRecords {
            bytes: &storage[..n],
            count,
        })
    }

    /// The number of groups.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no groups (never the case in a parsed message).
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The groups in order.
    pub fn iter(&self) -> FileRecordsIter<'a> {
        FileRecordsIter {
            rest: self.bytes,
            left: self.count,
        }
    }

    /// The encoded groups, as they are on the wire (without the byte count).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for FileRecords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The iterator of [`FileRecords::iter`].
#[derive(Clone, Debug)]
pub struct FileRecordsIter<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for FileRecordsIter<'a> {
    type Item = FileRecord<'a>;

    fn next(&mut self) -> Option<FileRecord<'a>> {
        self.left = self.left.checked_sub(1)?;
        let [_, f0, f1, r0, r1, l0, l1, ref tail @ ..] = *self.rest else {
            return None;
        };
        let (data, rest) = tail.split_at_checked(2 * usize::from(be16(l0, l1)))?;
        self.rest = rest;
        Some(FileRecord {
            file_number: be16(f0, f1),
            record_number: be16(r0, r1),
            values: Registers::new(data)?,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for FileRecordsIter<'_> {}

impl FusedIterator for FileRecordsIter<'_> {}

/// The groups of a read file record response (function code 20), borrowed from a buffer:
/// a length (1 + 2 × registers), reference type 6 and the registers read, each.
///
/// # Examples
///
/// ```
/// use ptk_modbus::FileRecordData;
///
/// // The two groups of the specification's example.
/// let bytes = [0x05, 0x06, 0x0D, 0xFE, 0x00, 0x20, 0x05, 0x06, 0x33, 0xCD, 0x00, 0x40];
/// let data = FileRecordData::new(&bytes).unwrap();
/// assert_eq!(data.len(), 2);
/// let second = data.iter().nth(1).unwrap();
/// assert!(second.iter().eq([0x33CD, 0x0040]));
/// assert_eq!(FileRecordData::new(&[0x04, 0x06, 0x0D, 0xFE]), None); // even length
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileRecordData<'a> {
    bytes: &'a [u8],
    count: u8,
}

impl<'a> FileRecordData<'a> {
    /// A view of the groups in `bytes`, or `None` unless they fill `bytes` exactly, each of
    /// reference type 6 with an odd length of at least 3 (at least one register).
    pub fn new(bytes: &'a [u8]) -> Option<FileRecordData<'a>> {
        let mut rest = bytes;
        let mut count = 0u8;
        while !rest.is_empty() {
            let [len, REFERENCE_TYPE, ref tail @ ..] = *rest else {
                return None;
            };
            if len < 3 || len % 2 == 0 {
                return None;
            }
            rest = tail.get(usize::from(len) - 1..)?;
            count = count.checked_add(1)?;
        }
        Some(FileRecordData { bytes, count })
    }

    /// Writes one group per slice of `groups` into the start of `storage` and returns the
    /// view of them.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `storage` is too short; [`Error::Invalid`] with
    /// [`Violation::Quantity`](crate::Violation::Quantity) for an empty group, one of more
    /// than 127 registers, or more than 255 groups.
    pub fn encode(groups: &[&[u16]], storage: &'a mut [u8]) -> Result<FileRecordData<'a>> {
        let invalid = Error::Invalid(crate::Violation::Quantity);
        let count = u8::try_from(groups.len()).map_err(|_| invalid)?;
        let mut needed = 0;
        for g in groups {
            if g.is_empty() || g.len() > 127 {
                return Err(invalid);
            }
            needed += 2 + 2 * g.len();
        }
        let mut w = Writer::new(storage, needed)?;
        for g in groups {
            w.u8(1 + 2 * g.len() as u8).u8(REFERENCE_TYPE);
            for v in *g {
                w.u16(*v);
            }
        }
        let n = w.finish();
        let storage: &'a [u8] = storage;
        Ok(FileRecordData {
            bytes: &storage[..n],
            count,
        })
    }

    /// The number of groups.
    pub const fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no groups (never the case in a parsed response).
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The registers of each group, in order.
    pub fn iter(&self) -> FileRecordDataIter<'a> {
        FileRecordDataIter {
            rest: self.bytes,
            left: self.count,
        }
    }

    /// The encoded groups, as they are on the wire (without the byte count).
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for FileRecordData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The iterator of [`FileRecordData::iter`].
#[derive(Clone, Debug)]
pub struct FileRecordDataIter<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for FileRecordDataIter<'a> {
    type Item = Registers<'a>;

    fn next(&mut self) -> Option<Registers<'a>> {
        self.left = self.left.checked_sub(1)?;
        let [len, _, ref tail @ ..] = *self.rest else {
            return None;
        };
        let (data, rest) = tail.split_at_checked(usize::from(len).checked_sub(1)?)?;
        self.rest = rest;
        Registers::new(data)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for FileRecordDataIter<'_> {}

impl FusedIterator for FileRecordDataIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_groups_must_fill_their_bytes_exactly() {
        assert!(FileRecords::new(&[]).is_some_and(|r| r.is_empty()));
        assert!(FileRecords::new(&[6, 0, 1, 0, 0, 0, 1, 0xAB, 0xCD]).is_some());
        assert!(FileRecords::new(&[6, 0, 1, 0, 0, 0, 1, 0xAB]).is_none());
        assert!(FileRecords::new(&[6, 0, 1, 0, 0, 0, 1, 0xAB, 0xCD, 6]).is_none());
        assert!(FileRecords::new(&[7, 0, 1, 0, 0, 0, 1, 0xAB, 0xCD]).is_none());
    }

    #[test]
    fn read_groups_need_odd_lengths_of_at_least_three() {
        assert!(FileRecordData::new(&[3, 6, 0, 1]).is_some());
        assert!(FileRecordData::new(&[1, 6]).is_none());
        assert!(FileRecordData::new(&[5, 6, 0, 1]).is_none());
        assert!(FileRecordData::new(&[3, 7, 0, 1]).is_none());
        assert!(FileRecordData::new(&[0]).is_none());
    }

    #[test]
    fn read_data_encodes_and_iterates() {
        let mut storage = [0u8; 16];
        let data = FileRecordData::encode(&[&[1, 2], &[3]], &mut storage).unwrap();
        assert_eq!(data.as_bytes(), &[5, 6, 0, 1, 0, 2, 3, 6, 0, 3]);
        let groups: Vec<Vec<u16>> = data.iter().map(|r| r.iter().collect()).collect();
        assert_eq!(groups, vec![vec![1, 2], vec![3]]);
        assert_eq!(
            FileRecordData::encode(&[&[]], &mut storage),
            Err(Error::Invalid(crate::Violation::Quantity))
        );
    }
}
