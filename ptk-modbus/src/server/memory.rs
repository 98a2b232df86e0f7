//! [`MemoryModel`], a ready data model of four fixed-size tables in memory.

use std::boxed::Box;
use std::string::{String, ToString};
use std::vec;

use super::DataModel;
use crate::ExceptionCode;

/// A [`DataModel`] of four tables in memory, each starting at address 0, made once at
/// construction and never resized: a request that reaches past the end of a table is answered
/// with [`ExceptionCode::IllegalDataAddress`].
///
/// Coils and holding registers are written by Modbus requests; discrete inputs and input
/// registers are read-only on the wire, and the application sets them through
/// [`discrete_inputs_mut`](MemoryModel::discrete_inputs_mut) and
/// [`input_registers_mut`](MemoryModel::input_registers_mut).
///
/// Beyond the tables:
///
/// * mask write register (22) changes a holding register;
/// * read FIFO queue (24) at address `a` reads the holding registers as a queue: register `a`
///   holds the count (at most 31) and the registers after it the values, oldest first;
/// * read and write file record (20, 21) serve the files of
///   [`with_files`](MemoryModel::with_files) (none unless asked for);
/// * read exception status (7) returns what
///   [`set_exception_status`](MemoryModel::set_exception_status) set (0 at first);
/// * read device identification (43 / 14) and report server id (17) give vendor "ptk",
///   product code "ptk-modbus" and this crate's version, until
///   [`set_identification`](MemoryModel::set_identification) changes them.
///
/// # Examples
///
/// ```
/// use ptk_modbus::server::{DataModel, MemoryModel};
/// use ptk_modbus::ExceptionCode;
///
/// let mut model = MemoryModel::new(100);
/// model.input_registers_mut()[5] = 1234;
/// assert_eq!(model.write_registers(98, &[1, 2]), Ok(()));
/// assert_eq!(model.holding_registers()[98..], [1, 2]);
///
/// let mut out = [0u16; 2];
/// assert_eq!(model.read_input_registers(4, &mut out), Ok(()));
/// assert_eq!(out, [0, 1234]);
/// assert_eq!(
///     model.read_holding_registers(99, &mut out),
///     Err(ExceptionCode::IllegalDataAddress)
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryModel {
    coils: Box<[bool]>,
    discrete_inputs: Box<[bool]>,
    holding_registers: Box<[u16]>,
    input_registers: Box<[u16]>,
    files: Box<[Box<[u16]>]>,
    exception_status: u8,
    vendor_name: String,
    product_code: String,
    revision: String,
}

/// Records of a file: numbers 0..=9999.
const MAX_RECORDS: usize = crate::limits::MAX_FILE_RECORD_NUMBER as usize + 1;

/// Tables can have at most this many entries: the 16-bit address space.
const MAX_TABLE: usize = 0x1_0000;

impl MemoryModel {
    /// Four tables of `len` entries each (at most 65536), all zero / off.
    pub fn new(len: usize) -> MemoryModel {
        MemoryModel::with_sizes(len, len, len, len)
    }

    /// Tables of the given sizes (each at most 65536; larger sizes are cut to 65536), all
    /// zero / off.
    pub fn with_sizes(
        coils: usize,
        discrete_inputs: usize,
        holding_registers: usize,
        input_registers: usize,
    ) -> MemoryModel {
        MemoryModel {
            coils: vec![false; coils.min(MAX_TABLE)].into_boxed_slice(),
            discrete_inputs: vec![false; discrete_inputs.min(MAX_TABLE)].into_boxed_slice(),
            holding_registers: vec![0; holding_registers.min(MAX_TABLE)].into_boxed_slice(),
            input_registers: vec![0; input_registers.min(MAX_TABLE)].into_boxed_slice(),
            files: Box::new([]),
            exception_status: 0,
            vendor_name: "ptk".to_string(),
            product_code: "ptk-modbus".to_string(),
            revision: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The model with `files` files (numbered 1..=`files`, at most 65535) of `records`
    /// records each (at most 10000), all 0, for read and write file record.
    pub fn with_files(mut self, files: usize, records: usize) -> MemoryModel {
        let file = vec![0u16; records.min(MAX_RECORDS)].into_boxed_slice();
        self.files = vec![file; files.min(usize::from(u16::MAX))].into_boxed_slice();
        self
    }

    /// The records of file `number` (1 and up), if the model has it.
    pub fn file(&self, number: u16) -> Option<&[u16]> {
        let index = usize::from(number).checked_sub(1)?;
        self.files.get(index).map(|f| &f[..])
    }

    /// The records of file `number`, mutably.
    pub fn file_mut(&mut self, number: u16) -> Option<&mut [u16]> {
        let index = usize::from(number).checked_sub(1)?;
        self.files.get_mut(index).map(|f| &mut f[..])
    }

    /// Sets the eight exception status outputs read exception status returns.
    pub fn set_exception_status(&mut self, status: u8) {
        self.exception_status = status;
    }

    /// Sets the three basic device identification objects (vendor name, product code, major
    /// and minor revision).
    pub fn set_identification(&mut self, vendor_name: &str, product_code: &str, revision: &str) {
        self.vendor_name = vendor_name.to_string();
        self.product_code = product_code.to_string();
        self.revision = revision.to_string();
    }

    /// The coils, address 0 first.
    pub fn coils(&self) -> &[bool] {
        &self.coils
    }

    /// The coils, mutably.
    pub fn coils_mut(&mut self) -> &mut [bool] {
        &mut self.coils
    }

    /// The discrete inputs, address 0 first.
    pub fn discrete_inputs(&self) -> &[bool] {
        &self.discrete_inputs
    }

    /// The discrete inputs, mutably (Modbus cannot write them; the application does).
    pub fn discrete_inputs_mut(&mut self) -> &mut [bool] {
        &mut self.discrete_inputs
    }

    /// The holding registers, address 0 first.
    pub fn holding_registers(&self) -> &[u16] {
        &self.holding_registers
    }

    /// The holding registers, mutably.
    pub fn holding_registers_mut(&mut self) -> &mut [u16] {
        &mut self.holding_registers
    }

    /// The input registers, address 0 first.
    pub fn input_registers(&self) -> &[u16] {
        &self.input_registers
    }

    /// The input registers, mutably (Modbus cannot write them; the application does).
    pub fn input_registers_mut(&mut self) -> &mut [u16] {
        &mut self.input_registers
    }
}

/// The entries `address..address + len` of `table`, or `IllegalDataAddress`.
fn span<T>(table: &mut [T], address: u16, len: usize) -> Result<&mut [T], ExceptionCode> {
    let start = usize::from(address);
    table
        .get_mut(start..start + len)
        .ok_or(ExceptionCode::IllegalDataAddress)
}

impl DataModel for MemoryModel {
    fn read_coils(&mut self, address: u16, values: &mut [bool]) -> Result<(), ExceptionCode> {
        values.copy_from_slice(span(&mut self.coils, address, values.len())?);
        Ok(())
    }

    fn read_discrete_inputs(
        &mut self,
        address: u16,
        values: &mut [bool],
    ) -> Result<(), ExceptionCode> {
        values.copy_from_slice(span(&mut self.discrete_inputs, address, values.len())?);
        Ok(())
    }

    fn read_holding_registers(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        values.copy_from_slice(span(&mut self.holding_registers, address, values.len())?);
        Ok(())
    }

    fn read_input_registers(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        values.copy_from_slice(span(&mut self.input_registers, address, values.len())?);
        Ok(())
    }

    fn write_coils(&mut self, address: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        span(&mut self.coils, address, values.len())?.copy_from_slice(values);
        Ok(())
    }

    fn write_registers(&mut self, address: u16, values: &[u16]) -> Result<(), ExceptionCode> {
        span(&mut self.holding_registers, address, values.len())?.copy_from_slice(values);
        Ok(())
    }

    fn read_exception_status(&mut self) -> Result<u8, ExceptionCode> {
        Ok(self.exception_status)
    }

    fn read_fifo_queue(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<usize, ExceptionCode> {
        let [count] = *span(&mut self.holding_registers, address, 1)? else {
            return Err(ExceptionCode::IllegalDataAddress);
        };
        let n = usize::from(count);
        if n > values.len() {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let start = usize::from(address) + 1;
        let queued = self
            .holding_registers
            .get(start..start + n)
            .ok_or(ExceptionCode::IllegalDataAddress)?;
        values[..n].copy_from_slice(queued);
        Ok(n)
    }

    fn read_file_record(
        &mut self,
        file_number: u16,
        record_number: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        let file = self
            .file_mut(file_number)
            .ok_or(ExceptionCode::IllegalDataAddress)?;
        values.copy_from_slice(span(file, record_number, values.len())?);
        Ok(())
    }

    fn write_file_record(
        &mut self,
        file_number: u16,
        record_number: u16,
        values: &[u16],
    ) -> Result<(), ExceptionCode> {
        let file = self
            .file_mut(file_number)
            .ok_or(ExceptionCode::IllegalDataAddress)?;
        span(file, record_number, values.len())?.copy_from_slice(values);
        Ok(())
    }

    fn vendor_name(&self) -> Option<&str> {
        Some(&self.vendor_name)
    }

    fn product_code(&self) -> Option<&str> {
        Some(&self.product_code)
    }

    fn revision(&self) -> Option<&str> {
        Some(&self.revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_address_of_a_table_is_served_and_the_next_is_not() {
        let mut m = MemoryModel::with_sizes(10, 0, 3, 1);
        assert_eq!(m.read_coils(9, &mut [false]), Ok(()));
        assert_eq!(
            m.read_coils(9, &mut [false; 2]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            m.read_discrete_inputs(0, &mut [false]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(m.write_registers(0, &[1, 2, 3]), Ok(()));
        assert_eq!(
            m.write_registers(1, &[1, 2, 3]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(m.holding_registers(), &[1, 2, 3]);
        assert_eq!(
            m.read_input_registers(0xFFFF, &mut [0]),
            Err(ExceptionCode::IllegalDataAddress)
        );
    }

    #[test]
    fn a_fifo_is_a_count_register_and_the_values_after_it() {
        let mut m = MemoryModel::new(40);
        m.holding_registers_mut()[..4].copy_from_slice(&[2, 0x01B8, 0x1284, 9]);
        let mut out = [0u16; 31];
        assert_eq!(m.read_fifo_queue(0, &mut out), Ok(2));
        assert_eq!(out[..2], [0x01B8, 0x1284]);
        m.holding_registers_mut()[0] = 32;
        assert_eq!(
            m.read_fifo_queue(0, &mut out),
            Err(ExceptionCode::IllegalDataValue)
        );
        m.holding_registers_mut()[39] = 1;
        assert_eq!(
            m.read_fifo_queue(39, &mut out),
            Err(ExceptionCode::IllegalDataAddress)
        );
    }

    #[test]
    fn files_are_numbered_from_one() {
        let mut m = MemoryModel::new(0).with_files(2, 10);
        assert_eq!(m.write_file_record(2, 8, &[7, 8]), Ok(()));
        assert_eq!(m.file(2).unwrap()[8..], [7, 8]);
        let mut out = [0u16; 2];
        assert_eq!(m.read_file_record(2, 8, &mut out), Ok(()));
        assert_eq!(out, [7, 8]);
        assert_eq!(
            m.read_file_record(3, 0, &mut out),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            m.read_file_record(1, 9, &mut out),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(m.file(0), None);
    }

    #[test]
    fn sizes_are_cut_to_the_address_space() {
        let m = MemoryModel::new(100_000);
        assert_eq!(m.coils().len(), 0x1_0000);
    }
}
