//! [`DiagnosticCounters`], the counters and event log a server keeps for diagnostics
//! (function code 8), get comm event counter (11) and get comm event log (12).

use crate::limits::MAX_COMM_EVENTS;
use crate::{Diagnostic, ExceptionCode};

/// A receive event in the comm event log: bit 7 set.
const RECEIVE_EVENT: u8 = 0x80;
/// A send event in the comm event log: bit 6 set, the low bits say which exception was sent.
const SEND_EVENT: u8 = 0x40;
/// The event a restart of communications logs.
const RESTART_EVENT: u8 = 0x00;
/// Data of restart communications that also clears the event log.
const CLEAR_LOG: u16 = 0xFF00;

/// The diagnostics a [`Server`](super::Server) keeps, as the Modbus Application Protocol
/// defines them: eight 16-bit counters that wrap, the comm event counter and the comm event
/// log, shared by every connection of the server and read with
/// [`Server::counters`](super::Server::counters).
///
/// On TCP there is no bus of other devices and no character overrun: every frame received is
/// a bus message, a frame whose header cannot be trusted is a communication error, and the no
/// response and character overrun counters stay 0. Clear counters (diagnostics 0x0A) and
/// restart communications (0x01) set every counter and the event counter to 0; restart with
/// data 0xFF00 also empties the event log.
///
/// # Examples
///
/// ```
/// use ptk_modbus::server::DiagnosticCounters;
///
/// let counters = DiagnosticCounters::default();
/// assert_eq!(counters.bus_messages, 0);
/// assert!(counters.events().is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagnosticCounters {
    /// Frames received (diagnostics 0x0B, and the message count of the event log).
    pub bus_messages: u16,
    /// Frames whose header could not be trusted (0x0C).
    pub bus_communication_errors: u16,
    /// Exception responses sent (0x0D).
    pub bus_exception_errors: u16,
    /// Requests for a unit id this server serves (0x0E).
    pub server_messages: u16,
    /// Requests for this server left unanswered (0x0F): none on TCP.
    pub server_no_responses: u16,
    /// Negative acknowledge (exception 7) responses sent (0x10).
    pub server_naks: u16,
    /// Server device busy (exception 6) responses sent (0x11).
    pub server_busy: u16,
    /// Messages lost to a character overrun (0x12): none on TCP.
    pub character_overruns: u16,
    /// Requests completed without an exception, get comm event counter (11) not counted
    /// (function codes 11 and 12).
    pub event_count: u16,
    events: [u8; MAX_COMM_EVENTS],
    events_len: u8,
}

impl Default for DiagnosticCounters {
    fn default() -> Self {
        DiagnosticCounters::new()
    }
}

impl DiagnosticCounters {
    /// Every counter 0, the event log empty.
    pub const fn new() -> DiagnosticCounters {
        DiagnosticCounters {
            bus_messages: 0,
            bus_communication_errors: 0,
            bus_exception_errors: 0,
            server_messages: 0,
            server_no_responses: 0,
            server_naks: 0,
            server_busy: 0,
            character_overruns: 0,
            event_count: 0,
            events: [0; MAX_COMM_EVENTS],
            events_len: 0,
        }
    }

    /// The comm event log, the most recent event first (at most 64).
    ///
    /// A request received logs 0x80; its answer logs 0x40, plus 0x01 for an exception 1 to 3,
    /// 0x02 for exception 4, 0x04 for exceptions 5 and 6, 0x08 for exception 7; a restart of
    /// communications logs 0x00.
    pub fn events(&self) -> &[u8] {
        &self.events[..usize::from(self.events_len)]
    }

    /// The counter a diagnostics sub-function returns, if it returns one.
    pub const fn counter(&self, sub_function: Diagnostic) -> Option<u16> {
        Some(match sub_function {
            Diagnostic::BusMessageCount => self.bus_messages,
            Diagnostic::BusCommunicationErrorCount => self.bus_communication_errors,
            Diagnostic::BusExceptionErrorCount => self.bus_exception_errors,
            Diagnostic::ServerMessageCount => self.server_messages,
            Diagnostic::ServerNoResponseCount => self.server_no_responses,
            Diagnostic::ServerNakCount => self.server_naks,
            Diagnostic::ServerBusyCount => self.server_busy,
            Diagnostic::BusCharacterOverrunCount => self.character_overruns,
            _ => return None,
        })
    }

    fn log(&mut self, event: u8) {
        self.events.copy_within(..MAX_COMM_EVENTS - 1, 1);
        self.events[0] = event;
        self.events_len = (self.events_len + 1).min(MAX_COMM_EVENTS as u8);
    }

    fn clear(&mut self) {
        *self = DiagnosticCounters {
            events: self.events,
            events_len: self.events_len,
            ..DiagnosticCounters::new()
        };
    }

    /// A frame was received, for this server (`ours`) or another unit.
    pub(crate) fn received(&mut self, ours: bool) {
        self.bus_messages = self.bus_messages.wrapping_add(1);
        if ours {
            self.server_messages = self.server_messages.wrapping_add(1);
            self.log(RECEIVE_EVENT);
        }
    }

    /// A frame's header could not be trusted.
    pub(crate) fn broken_frame(&mut self) {
        self.bus_communication_errors = self.bus_communication_errors.wrapping_add(1);
    }

    /// An answer to `function` was sent: an exception `Some(code)`, else normal.
    pub(crate) fn answered(&mut self, function: u8, exception: Option<ExceptionCode>) {
        let Some(code) = exception else {
            if function != crate::FunctionCode::GetCommEventCounter.as_u8() {
                self.event_count = self.event_count.wrapping_add(1);
            }
            self.log(SEND_EVENT);
            return;
        };
        self.bus_exception_errors = self.bus_exception_errors.wrapping_add(1);
        let kind = match code.as_u8() {
            1..=3 => 0x01,
            4 => 0x02,
            5 | 6 => 0x04,
            7 => 0x08,
            _ => 0x00,
        };
        match code.as_u8() {
            6 => self.server_busy = self.server_busy.wrapping_add(1),
            7 => self.server_naks = self.server_naks.wrapping_add(1),
            _ => {}
        }
        self.log(SEND_EVENT | kind);
    }

    /// Carries out diagnostics `sub_function` with `data`; the response data goes into `out`
    /// (room for 125 registers) and its length is returned.
    ///
    /// Return query data (0x00) echoes `data`; restart communications (0x01, data 0x0000 or
    /// 0xFF00), clear counters (0x0A) and clear overrun counter (0x14) echo their data 0x0000;
    /// the counters 0x0B..=0x12 (data 0x0000) return one register. Anything else is an
    /// illegal data value, as the specification's state diagram has it for a sub-function
    /// not supported or data not allowed.
    pub(crate) fn diagnose(
        &mut self,
        sub_function: u16,
        data: crate::Registers<'_>,
        out: &mut [u16],
    ) -> Result<usize, ExceptionCode> {
        const REFUSED: ExceptionCode = ExceptionCode::IllegalDataValue;
        let Some(diagnostic) = Diagnostic::from_u16(sub_function) else {
            return Err(REFUSED);
        };
        if diagnostic == Diagnostic::ReturnQueryData {
            let n = data.len().min(out.len());
            for (slot, value) in out[..n].iter_mut().zip(data.iter()) {
                *slot = value;
            }
            return Ok(n);
        }
        let (Some(word), 1) = (data.get(0), data.len()) else {
            return Err(REFUSED);
        };
        let Some(first) = out.first_mut() else {
            return Err(ExceptionCode::ServerDeviceFailure);
        };
        match diagnostic {
            Diagnostic::RestartCommunications if word == 0 || word == CLEAR_LOG => {
                self.clear();
                if word == CLEAR_LOG {
                    self.events_len = 0;
                }
                self.log(RESTART_EVENT);
                *first = word;
            }
            Diagnostic::ClearCounters if word == 0 => {
                self.clear();
                *first = 0;
            }
            Diagnostic::ClearOverrunCounter if word == 0 => {
                self.character_overruns = 0;
                *first = 0;
            }
            counter if word == 0 => *first = self.counter(counter).ok_or(REFUSED)?,
            _ => return Err(REFUSED),
        }
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registers;

    #[test]
    fn the_log_keeps_the_64_most_recent_events_newest_first() {
        let mut c = DiagnosticCounters::new();
        for _ in 0..70 {
            c.received(true);
            c.answered(3, None);
        }
        c.answered(3, Some(ExceptionCode::IllegalDataAddress));
        assert_eq!(c.events().len(), 64);
        assert_eq!(&c.events()[..3], &[0x41, 0x40, 0x80]);
        assert_eq!(
            (c.bus_messages, c.server_messages, c.event_count),
            (70, 70, 70)
        );
        assert_eq!(c.bus_exception_errors, 1);
    }

    #[test]
    fn counters_need_data_zero_and_unknown_sub_functions_are_refused() {
        let mut c = DiagnosticCounters::new();
        c.received(true);
        c.received(false);
        let mut out = [0u16; 125];
        let zero = Registers::new(&[0, 0]).unwrap();
        assert_eq!(c.diagnose(0x0B, zero, &mut out), Ok(1));
        assert_eq!(out[0], 2);
        assert_eq!(c.diagnose(0x0E, zero, &mut out), Ok(1));
        assert_eq!(out[0], 1);
        let one = Registers::new(&[0, 1]).unwrap();
        assert_eq!(
            c.diagnose(0x0B, one, &mut out),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            c.diagnose(0x04, zero, &mut out),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            c.diagnose(0x99, zero, &mut out),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(c.diagnose(0x0A, zero, &mut out), Ok(1));
        assert_eq!((c.bus_messages, c.server_messages), (0, 0));
        assert_eq!(c.events(), &[0x80]);
        let clear_log = Registers::new(&[0xFF, 0x00]).unwrap();
        assert_eq!(c.diagnose(0x01, clear_log, &mut out), Ok(1));
        assert_eq!((out[0], c.events()), (0xFF00, &[0x00][..]));
    }
}
