//! The client's reply routing without a socket, for the fuzz targets (feature `fuzzing`).

use super::{Client, ClientError, Ticket};
use crate::{Request, Response};

/// A connected [`Client`] whose requests count as written once queued and whose answers are
/// the bytes the caller gives: what a [`Client::poll_response`] does between its reads.
pub struct Routing<const N: usize> {
    client: Client<N>,
}

impl<const N: usize> Default for Routing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for Routing<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Routing")
            .field("in_flight", &self.client.in_flight())
            .field("buffered", &self.client.rx_len)
            .finish()
    }
}

impl<const N: usize> Routing<N> {
    /// A client with nothing in flight.
    pub fn new() -> Self {
        Routing {
            client: Client::new(([127, 0, 0, 1], 502).into(), super::ClientConfig::default()),
        }
    }

    /// [`Client::send`] on a connected client, with no timeout.
    ///
    /// # Errors
    ///
    /// As `Client::send`.
    pub fn send(&mut self, unit_id: u8, request: &Request<'_>) -> Result<Ticket, ClientError> {
        let ticket = self.client.queue(unit_id, request, u64::MAX)?;
        // Written at once: the socket is left out.
        self.client.tx_len = 0;
        Ok(ticket)
    }

    /// Room for the next read: the client reads into what is left of its receive buffer.
    pub fn room(&self) -> usize {
        self.client.rx.len() - self.client.rx_len
    }

    /// Bytes received and not routed yet (the start of an answer).
    pub fn buffered(&self) -> usize {
        self.client.rx_len
    }

    /// A read that brought the first [`room`](Self::room) bytes of `bytes` at most, then the
    /// routing of every complete answer: how many bytes were taken.
    ///
    /// # Errors
    ///
    /// The error of a frame whose header cannot be trusted: the connection fails, and every
    /// request in flight with it.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<usize, ClientError> {
        let at = self.client.rx_len;
        let n = bytes.len().min(self.client.rx.len() - at);
        self.client.rx[at..at + n].copy_from_slice(&bytes[..n]);
        self.client.rx_len += n;
        if n == 0 {
            return Ok(0);
        }
        match self.client.route_buffered() {
            Ok(()) => Ok(n),
            Err(e) => {
                self.client.fail_all(e);
                Err(e)
            }
        }
    }

    /// How many requests wait for their answer.
    pub fn in_flight(&self) -> usize {
        self.client.in_flight()
    }

    /// The outcome of `ticket` as [`Client::poll_response`] delivers it, once: `None` while
    /// it waits for its answer.
    pub fn take_outcome(&mut self, ticket: Ticket) -> Option<Result<(), ClientError>> {
        self.client.take_outcome(ticket)
    }

    /// [`Client::response`].
    pub fn response(&self, ticket: Ticket) -> Option<Response<'_>> {
        self.client.response(ticket)
    }
}
