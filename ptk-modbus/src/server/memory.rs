//! [`MemoryModel`], a ready data model of four fixed-size tables in memory.

use std::boxed::Box;
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
}

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
        }
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
    fn sizes_are_cut_to_the_address_space() {
        let m = MemoryModel::new(100_000);
        assert_eq!(m.coils().len(), 0x1_0000);
    }
}
