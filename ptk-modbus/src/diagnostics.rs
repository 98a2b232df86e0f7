//! Diagnostics (function codes 8, 11 and 12): the sub-functions of function code 8 and the
//! communication event counter and log.

/// A sub-function of Diagnostics (function code 8).
///
/// A request carries the sub-function as a raw `u16` (a server refuses one it does not
/// serve); this names the ones the specification defines.
///
/// # Examples
///
/// ```
/// use ptk_modbus::Diagnostic;
///
/// assert_eq!(Diagnostic::from_u16(0x000B), Some(Diagnostic::BusMessageCount));
/// assert_eq!(Diagnostic::ClearCounters.as_u16(), 0x000A);
/// assert!(Diagnostic::ServerBusyCount.is_counter());
/// assert_eq!(Diagnostic::from_u16(0x0005), None); // reserved
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u16)]
pub enum Diagnostic {
    /// 0x00: the data of the request comes back in the response.
    ReturnQueryData = 0x00,
    /// 0x01: restart the communications port; data 0xFF00 also clears the event log.
    RestartCommunications = 0x01,
    /// 0x02: the 16-bit diagnostic register.
    DiagnosticRegister = 0x02,
    /// 0x03: change the ASCII input delimiter (serial ASCII mode only).
    ChangeAsciiDelimiter = 0x03,
    /// 0x04: force listen only mode (no answer is sent).
    ForceListenOnly = 0x04,
    /// 0x0A: clear the counters and the diagnostic register.
    ClearCounters = 0x0A,
    /// 0x0B: messages seen on the bus.
    BusMessageCount = 0x0B,
    /// 0x0C: communication errors (CRC errors on a serial line, broken frames on TCP).
    BusCommunicationErrorCount = 0x0C,
    /// 0x0D: exception responses sent.
    BusExceptionErrorCount = 0x0D,
    /// 0x0E: messages addressed to this server.
    ServerMessageCount = 0x0E,
    /// 0x0F: messages addressed to this server it did not answer.
    ServerNoResponseCount = 0x0F,
    /// 0x10: negative acknowledge exception responses sent.
    ServerNakCount = 0x10,
    /// 0x11: server device busy exception responses sent.
    ServerBusyCount = 0x11,
    /// 0x12: messages lost to a character overrun.
    BusCharacterOverrunCount = 0x12,
    /// 0x14: clear the character overrun counter and flag.
    ClearOverrunCounter = 0x14,
}

impl Diagnostic {
    /// The sub-function of a code, or `None` for a reserved one.
    pub const fn from_u16(code: u16) -> Option<Diagnostic> {
        use Diagnostic as D;
        Some(match code {
            0x00 => D::ReturnQueryData,
            0x01 => D::RestartCommunications,
            0x02 => D::DiagnosticRegister,
            0x03 => D::ChangeAsciiDelimiter,
            0x04 => D::ForceListenOnly,
            0x0A => D::ClearCounters,
            0x0B => D::BusMessageCount,
            0x0C => D::BusCommunicationErrorCount,
            0x0D => D::BusExceptionErrorCount,
            0x0E => D::ServerMessageCount,
            0x0F => D::ServerNoResponseCount,
            0x10 => D::ServerNakCount,
            0x11 => D::ServerBusyCount,
            0x12 => D::BusCharacterOverrunCount,
            0x14 => D::ClearOverrunCounter,
            _ => return None,
        })
    }

    /// The code on the wire.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }

    /// Whether the sub-function returns one of the eight counters (0x0B..=0x12).
    pub const fn is_counter(self) -> bool {
        matches!(self.as_u16(), 0x0B..=0x12)
    }
}

/// The answer to Get Comm Event Counter (function code 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommEventCounter {
    /// The status word: whether a previous command is still being processed (0xFFFF on the
    /// wire; 0x0000 when not).
    pub busy: bool,
    /// Messages completed normally since the last restart or clear counters (exception
    /// responses and function code 11 itself not counted).
    pub event_count: u16,
}

/// The answer to Get Comm Event Log (function code 12), borrowing its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommEventLog<'a> {
    /// As in [`CommEventCounter::busy`].
    pub busy: bool,
    /// As in [`CommEventCounter::event_count`].
    pub event_count: u16,
    /// Messages processed, as Diagnostics' bus message count (0x0B).
    pub message_count: u16,
    /// Up to 64 event bytes, the most recent first.
    pub events: &'a [u8],
}

/// The status word of a server that is not busy.
pub(crate) const STATUS_READY: u16 = 0x0000;
/// The status word of a server that is busy with a previous command.
pub(crate) const STATUS_BUSY: u16 = 0xFFFF;

/// The status word on the wire.
pub(crate) const fn status_word(busy: bool) -> u16 {
    if busy {
        STATUS_BUSY
    } else {
        STATUS_READY
    }
}
