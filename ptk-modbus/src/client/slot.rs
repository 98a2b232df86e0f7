//! A request in flight and what came back for it.

use crate::limits::MAX_PDU_LEN;
use crate::{Request, Response};

use super::ClientError;

/// Where a request slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Never used, or its outcome was delivered as an error.
    Free,
    /// Sent (or queued to be sent); waiting for the answer.
    Sent,
    /// Answered with a valid response, not yet delivered.
    Answered,
    /// Failed, not yet delivered.
    Failed(ClientError),
    /// Its response was delivered; kept readable until the slot is reused.
    Delivered,
}

/// One request slot: the request's PDU, kept to check the answer against, and the answer's.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) state: SlotState,
    pub(crate) transaction_id: u16,
    pub(crate) unit_id: u8,
    pub(crate) deadline: u64,
    request: [u8; MAX_PDU_LEN],
    request_len: u8,
    response: [u8; MAX_PDU_LEN],
    response_len: u8,
}

impl Slot {
    pub(crate) const EMPTY: Slot = Slot {
        state: SlotState::Free,
        transaction_id: 0,
        unit_id: 0,
        deadline: 0,
        request: [0; MAX_PDU_LEN],
        request_len: 0,
        response: [0; MAX_PDU_LEN],
        response_len: 0,
    };

    /// Whether a new request may take the slot.
    pub(crate) fn is_reusable(&self) -> bool {
        matches!(self.state, SlotState::Free | SlotState::Delivered)
    }

    /// Records a request PDU (at most 253 bytes: the codec emitted it).
    pub(crate) fn store_request(&mut self, pdu: &[u8]) {
        self.request[..pdu.len()].copy_from_slice(pdu);
        self.request_len = pdu.len() as u8;
    }

    /// The request this slot holds (it parses: the codec emitted it).
    pub(crate) fn request(&self) -> Option<Request<'_>> {
        Request::parse(&self.request[..usize::from(self.request_len)]).ok()
    }

    /// Checks `pdu` against the request and records the outcome.
    pub(crate) fn answer(&mut self, pdu: &[u8]) {
        let outcome = match self.request() {
            None => SlotState::Failed(ClientError::InvalidRequest(crate::Error::Invalid(
                crate::Violation::PduLength,
            ))),
            Some(request) => match Response::parse(pdu, &request) {
                Ok(Response::Exception { code, .. }) => {
                    SlotState::Failed(ClientError::Exception(code))
                }
                Ok(_) => SlotState::Answered,
                Err(e) => SlotState::Failed(ClientError::Protocol(e)),
            },
        };
        if outcome == SlotState::Answered {
            self.response[..pdu.len()].copy_from_slice(pdu);
            self.response_len = pdu.len() as u8;
        }
        self.state = outcome;
    }

    /// The response, once answered or delivered.
    pub(crate) fn response(&self) -> Option<Response<'_>> {
        let request = self.request()?;
        Response::parse(&self.response[..usize::from(self.response_len)], &request).ok()
    }
}
