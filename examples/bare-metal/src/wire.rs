//! [`Wire`]: the two fixed buffers standing for the link to the device.

use ptk_modbus::limits::MAX_FRAME_LEN;

/// The link to the device, as fixed buffers: the frame sent and not yet taken by the device,
/// and the bytes received so far. Any frame fits ([`MAX_FRAME_LEN`] bytes each way).
#[derive(Clone, Debug)]
pub struct Wire {
    tx: [u8; MAX_FRAME_LEN],
    tx_len: usize,
    rx: [u8; MAX_FRAME_LEN],
    rx_len: usize,
}

impl Wire {
    /// An idle link: nothing sent, nothing received.
    pub const fn new() -> Wire {
        Wire {
            tx: [0; MAX_FRAME_LEN],
            tx_len: 0,
            rx: [0; MAX_FRAME_LEN],
            rx_len: 0,
        }
    }

    /// Room for a frame to send; [`sent`](Wire::sent) says how much of it was written.
    pub(crate) fn send_buffer(&mut self) -> &mut [u8] {
        self.rx_len = 0;
        &mut self.tx
    }

    /// The frame to send is the first `n` bytes of the send buffer.
    pub(crate) fn sent(&mut self, n: usize) {
        self.tx_len = n.min(MAX_FRAME_LEN);
    }

    /// What was sent and not taken yet (what the device sees).
    pub fn outgoing(&self) -> &[u8] {
        &self.tx[..self.tx_len]
    }

    /// Takes the frame sent, as the device does when it reads it.
    pub fn take_outgoing(&mut self) {
        self.tx_len = 0;
    }

    /// Bytes arriving from the device (a reply may arrive in pieces); returns how many fit.
    pub fn deliver(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(MAX_FRAME_LEN - self.rx_len);
        self.rx[self.rx_len..self.rx_len + n].copy_from_slice(&bytes[..n]);
        self.rx_len += n;
        n
    }

    /// The bytes received so far.
    pub fn incoming(&self) -> &[u8] {
        &self.rx[..self.rx_len]
    }
}

impl Default for Wire {
    fn default() -> Wire {
        Wire::new()
    }
}
