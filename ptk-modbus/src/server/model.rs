//! [`DataModel`], what a server serves: the four tables of Modbus, and the functions beyond
//! them (exception status, mask write, FIFO queues, file records, identification).

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
/// Beyond the tables: mask write register (22) defaults to a read, then a write, of the
/// holding register; read device identification (43 / 14) and report server id (17) are built
/// from [`vendor_name`](DataModel::vendor_name), [`product_code`](DataModel::product_code) and
/// [`revision`](DataModel::revision) (or [`device_object`](DataModel::device_object) for more
/// objects) and are an illegal function while those are `None`; exception status (7), FIFO
/// queues (24) and file records (20, 21) are an illegal function unless the model serves them.
/// Diagnostics (8) and the comm event counter and log (11, 12) are the server's own, from its
/// [`DiagnosticCounters`](super::DiagnosticCounters).
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

    /// Reads the eight exception status outputs (function code 7), output 0 in the lowest
    /// bit.
    ///
    /// # Errors
    ///
    /// The exception to answer; the default is [`ExceptionCode::IllegalFunction`].
    fn read_exception_status(&mut self) -> Result<u8, ExceptionCode> {
        Err(ExceptionCode::IllegalFunction)
    }

    /// Sets the holding register at `address` to `(current AND and_mask) OR (or_mask AND NOT
    /// and_mask)` (function code 22). The default reads the register with
    /// [`read_holding_registers`](DataModel::read_holding_registers) and writes the result
    /// with [`write_registers`](DataModel::write_registers).
    ///
    /// # Errors
    ///
    /// As [`write_coils`](DataModel::write_coils).
    fn mask_write_register(
        &mut self,
        address: u16,
        and_mask: u16,
        or_mask: u16,
    ) -> Result<(), ExceptionCode> {
        let mut current = [0u16];
        self.read_holding_registers(address, &mut current)?;
        let value = (current[0] & and_mask) | (or_mask & !and_mask);
        self.write_registers(address, &[value])
    }

    /// Reads the FIFO queue whose count register is at `address` (function code 24): fills
    /// the front of `values` (room for 31) with the queued registers, oldest first, and
    /// returns how many there are. The queue is read, not emptied.
    ///
    /// # Errors
    ///
    /// [`ExceptionCode::IllegalDataValue`] for a queue of more than 31 registers (so is a
    /// count past `values.len()`), [`ExceptionCode::IllegalDataAddress`] for an address that is
    /// no queue; the default is [`ExceptionCode::IllegalFunction`].
    fn read_fifo_queue(
        &mut self,
        address: u16,
        values: &mut [u16],
    ) -> Result<usize, ExceptionCode> {
        let _ = (address, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Reads `values.len()` records of file `file_number` from `record_number` (function code
    /// 20, once per group of the request; the codec checked that the file number is not 0 and
    /// the records lie within 0..=9999).
    ///
    /// # Errors
    ///
    /// [`ExceptionCode::IllegalDataAddress`] for a file or records the model does not have;
    /// the default is [`ExceptionCode::IllegalFunction`].
    fn read_file_record(
        &mut self,
        file_number: u16,
        record_number: u16,
        values: &mut [u16],
    ) -> Result<(), ExceptionCode> {
        let _ = (file_number, record_number, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// Writes `values` to the records of file `file_number` from `record_number` (function
    /// code 21, once per group of the request, as
    /// [`read_file_record`](DataModel::read_file_record)).
    ///
    /// # Errors
    ///
    /// As [`read_file_record`](DataModel::read_file_record); the groups before a refused one
    /// stay written.
    fn write_file_record(
        &mut self,
        file_number: u16,
        record_number: u16,
        values: &[u16],
    ) -> Result<(), ExceptionCode> {
        let _ = (file_number, record_number, values);
        Err(ExceptionCode::IllegalFunction)
    }

    /// The vendor name, device identification object 0x00; `None` (the default) for a model
    /// that does not identify itself.
    fn vendor_name(&self) -> Option<&str> {
        None
    }

    /// The product code, device identification object 0x01 (and the server id of report
    /// server id); default `None`.
    fn product_code(&self) -> Option<&str> {
        None
    }

    /// The major and minor revision, device identification object 0x02; default `None`.
    fn revision(&self) -> Option<&str> {
        None
    }

    /// The value of device identification object `id` (function code 43 / 14), `None` for an
    /// object the model does not have. The default serves the three basic objects from
    /// [`vendor_name`](DataModel::vendor_name), [`product_code`](DataModel::product_code) and
    /// [`revision`](DataModel::revision); override it to add the regular objects (0x03 vendor
    /// URL, 0x04 product name, 0x05 model name, 0x06 user application name) or extended
    /// ones (0x80..=0xFF). Values longer than 244 bytes are cut to fit a response.
    ///
    /// The server answers [`ExceptionCode::IllegalFunction`] while any of the three basic
    /// objects is `None`.
    fn device_object(&self, id: u8) -> Option<&[u8]> {
        match id {
            0x00 => self.vendor_name().map(str::as_bytes),
            0x01 => self.product_code().map(str::as_bytes),
            0x02 => self.revision().map(str::as_bytes),
            _ => None,
        }
    }

    /// Writes the data of report server id (function code 17) into the start of `out` (room
    /// for 251 bytes) and returns its length: the server id, the run indicator status (0x00
    /// off, 0xFF on) and any additional data. The default is the
    /// [`product_code`](DataModel::product_code) followed by 0xFF (on).
    ///
    /// # Errors
    ///
    /// The exception to answer; the default answers [`ExceptionCode::IllegalFunction`] while
    /// the product code is `None`.
    fn report_server_id(&mut self, out: &mut [u8]) -> Result<usize, ExceptionCode> {
        let id = self
            .product_code()
            .ok_or(ExceptionCode::IllegalFunction)?
            .as_bytes();
        let n = id.len().min(out.len().saturating_sub(1));
        out[..n].copy_from_slice(&id[..n]);
        *out.get_mut(n).ok_or(ExceptionCode::ServerDeviceFailure)? = 0xFF;
        Ok(n + 1)
    }
}
