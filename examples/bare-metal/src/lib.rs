//! A Modbus/TCP exchange on a target without `std`, an allocator or the event loop: a
//! protothread builds a request with the `ptk-modbus` codec, sends it into a fixed buffer,
//! waits until the answer is there, and parses it. It builds for `thumbv7em-none-eabihf`
//! (`cargo build -p ptk-bare-metal-example --target thumbv7em-none-eabihf`).
//!
//! On such a target the "network" is whatever the firmware has (a UART, an Ethernet MAC's
//! DMA ring); here it is a [`Wire`]: two fixed buffers, one per direction. A firmware main
//! loop resumes the protothread with a detached [`Cx`] whenever something may have
//! changed; [`run`] is that loop, with a simulated [`Device`] at the other end of the wire.
//!
//! # Examples
//!
//! ```
//! use ptk_bare_metal_example::{run, Device, ReadRegisters};
//!
//! let device = Device::new([10, 20, 30, 40]);
//! let mut exchange = ReadRegisters::new(1, 3);
//! assert_eq!(run(&mut exchange, &device), Ok(3));
//! assert_eq!(exchange.values(), &[20, 30, 40]);
//! ```
#![no_std]
#![deny(missing_docs)]

mod device;
mod exchange;
mod wire;

pub use device::Device;
pub use exchange::{read_registers, ExchangeError, ReadRegisters};
pub use wire::Wire;

use ptk::{Cx, Protothread, Step};

/// The firmware's main loop, reduced to what the example needs: resumes the exchange and
/// lets the device answer what was sent, until the exchange ends, and returns its outcome.
///
/// # Errors
///
/// As [`read_registers`], and [`ExchangeError::Stalled`] if the exchange waits for an answer
/// the device cannot give (it sent nothing the device can parse).
pub fn run(exchange: &mut ReadRegisters, device: &Device) -> Result<usize, ExchangeError> {
    let mut cx = Cx::detached();
    loop {
        match exchange.resume(&mut cx) {
            Step::Done(outcome) => return outcome,
            Step::Exited => return Err(ExchangeError::Stalled),
            Step::Pending | Step::Yielded => {
                if !device.serve(exchange.wire_mut()) {
                    return Err(ExchangeError::Stalled);
                }
            }
        }
    }
}
