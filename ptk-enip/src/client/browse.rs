//! Browsing the tag list: Get_Instance_Attribute_List on the Symbol class, page by page, for
//! the controller's tags or one program's.

use core::fmt;
use core::task::Poll;

use ptk_runtime::Cx;

use super::tags::{ready, Progress, MISSING};
use super::{cip_error, Client, ClientError};
use crate::limits::MAX_EPATH_LEN;
use crate::{
    class, service, symbol_attribute, AttributeList, GeneralStatus, LogicalSegment, PathBuilder,
    Segment, SymbolInstances, SymbolType, LOGIX_STRING_HANDLE,
};

/// The attributes the client asks for: name, type and dimensions (as pylogix does).
const ATTRIBUTES: [u8; 8] = [
    3,
    0,
    symbol_attribute::NAME as u8,
    0,
    symbol_attribute::TYPE as u8,
    0,
    symbol_attribute::DIMENSIONS as u8,
    0,
];

/// The low byte of the symbol type of a program entry (`Program:Main`, 0x1068).
const PROGRAM: u16 = 0x68;

/// One tag of the tag list: its Symbol instance, name, type and dimensions.
///
/// # Examples
///
/// ```
/// use ptk_enip::client::TagEntry;
/// use ptk_enip::SymbolType;
///
/// let entry = TagEntry { instance_id: 3, name: b"Counts", symbol_type: SymbolType(0x20C4), dimensions: [2000, 0, 0] };
/// assert_eq!(entry.to_string(), "Counts DINT[2000]");
/// assert!(!entry.is_program());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagEntry<'a> {
    /// The Symbol instance id (which also addresses the tag: class 0x6B, this instance).
    pub instance_id: u32,
    /// The tag's name (`Program:Main` for a program).
    pub name: &'a [u8],
    /// The symbol type word: the atomic type or structure, the dimension count, whether it
    /// is a system tag.
    pub symbol_type: SymbolType,
    /// The array dimensions (0 past the last one).
    pub dimensions: [u32; 3],
}

impl TagEntry<'_> {
    /// Whether the entry is a program (`Program:Main`), whose tags
    /// [`poll_list_tags`](Client::poll_list_tags) lists with the program's name.
    pub fn is_program(&self) -> bool {
        self.name.starts_with(b"Program:")
    }

    /// The type's name: the atomic type's (`DINT`; BOOL arrays are `DWORD` arrays), `STRING`,
    /// `STRUCT:0x0abc` (the template instance) for other structures, `PROGRAM` for a program.
    pub fn type_name(&self) -> TypeName {
        TypeName(self.symbol_type)
    }
}

/// `NAME TYPE[dims]`: the name, the type and, for an array, its dimensions.
impl fmt::Display for TagEntry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.name.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        write!(f, " {}", self.type_name())?;
        let dims = usize::from(self.symbol_type.dimensions()).min(3);
        if dims > 0 {
            f.write_str("[")?;
            for (i, d) in self.dimensions[..dims].iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{d}")?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// The name of a symbol type, as [`TagEntry::type_name`] gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TypeName(SymbolType);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.atomic(), self.0.template_instance()) {
            (Some(t), _) => f.write_str(t.name()),
            (None, Some(LOGIX_STRING_HANDLE)) => f.write_str("STRING"),
            (None, Some(template)) => write!(f, "STRUCT:{template:#06x}"),
            (None, None) => match self.0 .0 & 0xFF {
                PROGRAM => f.write_str("PROGRAM"),
                _ => write!(f, "TYPE:{:#06x}", self.0 .0),
            },
        }
    }
}

impl<const N: usize> Client<N> {
    /// Lists the tags of the controller (`program` `None`) or of one program (`Some("Program:Main")`),
    /// calling `visit` with each, page after page (Get_Instance_Attribute_List on the Symbol
    /// class, from the instance after the last one of the page before while the target
    /// answers "partial transfer"). Returns how many tags it visited.
    ///
    /// The controller's list has an entry per program ([`TagEntry::is_program`]): list each
    /// with its name for the program-scoped tags (`Program:Main.Counts`).
    ///
    /// Pass the same arguments on every call until it is `Ready`; `visit` sees each tag once.
    ///
    /// # Errors
    ///
    /// [`ClientError::Cip`] for an error status (0x08 from a target without a tag list);
    /// [`ClientError::InvalidRequest`] for a program name over 255 bytes;
    /// [`ClientError::Protocol`] for a reply whose entries do not parse; as
    /// [`poll_call`](Client::poll_call).
    pub fn poll_list_tags(
        &mut self,
        cx: &mut Cx<'_>,
        program: Option<&str>,
        mut visit: impl FnMut(TagEntry<'_>),
    ) -> Poll<Result<usize, ClientError>> {
        let r = self.poll_list_pages(cx, program, &mut visit);
        if r.is_ready() {
            self.progress = Progress::NONE;
        }
        r
    }

    fn poll_list_pages(
        &mut self,
        cx: &mut Cx<'_>,
        program: Option<&str>,
        visit: &mut impl FnMut(TagEntry<'_>),
    ) -> Poll<Result<usize, ClientError>> {
        loop {
            let start = self.progress.offset as u32;
            let mut buf = [0u8; MAX_EPATH_LEN];
            let mut path = PathBuilder::new(&mut buf);
            let mut push = |segment: Segment<'_>| path.push(&segment).map(|_| ());
            let built = program
                .map_or(Ok(()), |p| push(Segment::Symbolic(p.as_bytes())))
                .and_then(|()| push(Segment::Logical(LogicalSegment::class(class::SYMBOL))))
                .and_then(|()| push(Segment::Logical(LogicalSegment::instance(start))));
            if let Err(e) = built {
                return Poll::Ready(Err(ClientError::InvalidRequest(e)));
            }
            let path = path.finish();
            let service = service::GET_INSTANCE_ATTRIBUTE_LIST;
            let ticket = ready!(self.poll_call(cx, service, &path, &ATTRIBUTES));
            let Some(reply) = self.response(ticket) else {
                return Poll::Ready(Err(MISSING));
            };
            let partial = reply.status == GeneralStatus::PARTIAL_TRANSFER;
            if !partial && !reply.status.is_success() {
                return Poll::Ready(Err(cip_error(&reply)));
            }
            let attributes = match AttributeList::parse(&ATTRIBUTES) {
                Ok(attributes) => attributes,
                Err(e) => return Poll::Ready(Err(ClientError::InvalidRequest(e))),
            };
            let instances = match SymbolInstances::new_checked(reply.data, attributes) {
                Ok(instances) => instances,
                Err(e) => return Poll::Ready(Err(ClientError::Protocol(e))),
            };
            let mut last = None;
            let mut count = 0;
            for instance in instances.iter() {
                last = Some(instance.instance_id);
                count += 1;
                visit(TagEntry {
                    instance_id: instance.instance_id,
                    name: instance.name,
                    symbol_type: SymbolType(instance.symbol_type),
                    dimensions: instance.dimensions,
                });
            }
            self.progress.count += count;
            match (partial, last) {
                (false, _) => return Poll::Ready(Ok(self.progress.count)),
                (true, Some(last)) if last >= start => {
                    self.progress.offset = last as usize + 1;
                }
                // A partial page without progress would loop forever.
                (true, _) => {
                    return Poll::Ready(Err(ClientError::Protocol(crate::Error::Malformed(
                        crate::Violation::Truncated,
                    ))))
                }
            }
        }
    }
}
