//! A request in flight and the reply that came back for it.

use crate::limits::MAX_LARGE_CONNECTION_SIZE;
use crate::MessageResponse;

use super::ClientError;

/// The longest reply message a slot holds: the largest Logix connection size.
pub(crate) const REPLY_LEN: usize = MAX_LARGE_CONNECTION_SIZE as usize;

/// Where a request slot is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Never used, or its outcome was delivered as an error.
    Free,
    /// Queued or sent; waiting for the reply.
    Sent,
    /// Answered with a reply to its service, not yet delivered.
    Answered,
    /// Failed, not yet delivered.
    Failed(ClientError),
    /// Its reply was delivered; kept readable until the slot is reused.
    Delivered,
}

/// One request slot: what the reply must match, and the reply.
#[derive(Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) state: SlotState,
    /// The request's id: its sender context and, connected, its sequence count.
    pub(crate) id: u16,
    /// The request's service code, which the reply must echo.
    pub(crate) service: u8,
    pub(crate) deadline: u64,
    /// The first and past-the-last item of a batch this request carries.
    pub(crate) items: (usize, usize),
    reply: [u8; REPLY_LEN],
    reply_len: usize,
}

impl Slot {
    pub(crate) const EMPTY: Slot = Slot {
        state: SlotState::Free,
        id: 0,
        service: 0,
        deadline: 0,
        items: (0, 0),
        reply: [0; REPLY_LEN],
        reply_len: 0,
    };

    /// Whether a new request may take the slot.
    pub(crate) fn is_reusable(&self) -> bool {
        matches!(self.state, SlotState::Free | SlotState::Delivered)
    }

    /// Checks a reply message against the request and records the outcome.
    pub(crate) fn answer(&mut self, message: &[u8]) {
        self.state = if message.len() > REPLY_LEN {
            SlotState::Failed(ClientError::ReplyTooLarge { len: message.len() })
        } else {
            match MessageResponse::parse(message) {
                // A routing failure of an Unconnected_Send comes back as its own reply.
                Ok(reply)
                    if reply.service == self.service
                        || (reply.service == crate::service::UNCONNECTED_SEND
                            && !reply.status.is_success()) =>
                {
                    self.reply[..message.len()].copy_from_slice(message);
                    self.reply_len = message.len();
                    SlotState::Answered
                }
                Ok(_) => SlotState::Failed(ClientError::Protocol(crate::Error::Malformed(
                    crate::Violation::UnknownService,
                ))),
                Err(e) => SlotState::Failed(ClientError::Protocol(e)),
            }
        };
    }

    /// The reply, once answered or delivered.
    pub(crate) fn reply(&self) -> Option<MessageResponse<'_>> {
        MessageResponse::parse(&self.reply[..self.reply_len]).ok()
    }
}
