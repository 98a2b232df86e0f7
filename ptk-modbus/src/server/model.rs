//! [`DataModel`], what a server serves: the four tables of Modbus.

use crate::ExceptionCode;

/// The four Modbus tables a [`Server`](super::Server) serves: coils, discrete inputs, holding
/// registers and input registers.
///
/// Each method gets a request that already passed every check of the specification (quantity
/// limits, byte counts, address plus quantity within 0x10000); it decides whether it maps the
/// addresses and answers `Err(`[`ExceptionCode::IllegalDataAddress`]`)` when it does not. Any
/// other exception code is sent back as it is. A method the model does not implement answers
/// [`ExceptionCode::IllegalFunction`] (the default bodies), so a model that has no coils leaves
/// the coil methods out.
///
/// Reads fill the whole of `values` (its length is the quantity asked for); writes take
/// `values` in address order. Write single coil and write single register arrive as writes of
/// one value; read/write multiple registers (function code 23) arrives as a write followed by a
/// read, as the specification orders them, after a read of the read range that checks its
/// addresses first, so a refused read leaves the registers unchanged.
///
/// The server calls the model on the loop's thread, one request at a time, and allocates
/// nothing around it.
///
/// # Examples
///
/// A model of one read-only temperature register at address 7:
///
/// ```
/// use ptk_modbus::server::DataModel;
/// use ptk_modbus::ExceptionCode;
///
/// struct Thermometer {
///     tenths_of_degree: u16,
/// }
///
/// impl DataModel for Thermometer {
///     fn read_input_registers(
///         &mut self,
///         address: u16,
///         values: &mut [u16],
///     ) -> Result<(), ExceptionCode> {
///         match (address, values) {
///             (7, [value]) => {
///                 *value = self.tenths_of_degree;
///                 Ok(())
///             }
///             _ => Err(ExceptionCode::IllegalDataAddress),
///         }
///     }
/// }
///
/// let mut t = Thermometer { tenths_of_degree: 215 };
/// let mut out = [0u16; 1];
/// assert_eq!(t.read_input_registers(7, &mut out), Ok(()));
/// assert_eq!(out, [215]);
/// assert_eq!(t.read_coils(0, &mut [false]), Err(ExceptionCode::IllegalFunction));
/// ```
pub trait DataModel {
    /// Reads `values.len()` coils from `address` (function code 1).
    ///
    /// # Errors
    ///
    /// The exception to answer, [`ExceptionCode::IllegalDataAddress`] for unmapped addresses.
    fn read_coils(&mut self, address: u16, values: &mut [bool]) -> Result<(), ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Reads `values.len()` discrete inputs from `address` (function code 2).
    ///
    /// # Errors
    ///
    /// As [`read_coils`](DataModel::read_coils).
    fn read_discrete_inputs(
        &mut self,
        address: u16,
        values: &mut [bool],
    ) -> Result<(), ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Reads `values.len()` holding registers from `address` (function codes 3 and 23).
    ///
    /// # Errors
    ///
    /// As [`read_coils`](DataModel::read_coils).
    fn read_holding_registers(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Reads `values.len()` input registers from `address` (function code 4).
    ///
    /// # Errors
    ///
    /// As [`read_coils`](DataModel::read_coils).
    fn read_input_registers(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Writes `values` to the coils from `address` (function codes 5 and 15).
    ///
    /// # Errors
    ///
    /// As [`read_coils`](DataModel::read_coils); a refused write should change nothing.
    fn write_coils(&mut self, address: u16, values: &[bool]) -> Result<(), ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Writes `values` to the holding registers from `address` (function codes 6, 16 and 23).
    ///
    /// # Errors
    ///
    /// As [`write_coils`](DataModel::write_coils).
    fn write_registers(&mut self, address: u16, values: &[u16]) -> Result<(), ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }
}
