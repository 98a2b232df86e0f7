//! The objects a Logix client reads besides tags: the Identity object (0x01), the
//! controller's name (class 0x64), the tag list (Get_Instance_Attribute_List on the Symbol
//! class 0x6B, of the controller or of one program) and the STRING template (class 0x6C).

use super::router::{object_address, refusal, Answer, Router};
use super::tags::{program_in, CipError, TagTable, PROGRAM_PREFIX};
use crate::{class, service};
use crate::{
    AttributeList, Error, GeneralStatus, GetAttributeList, MessageRequest, ReadTemplate, Segment,
    SymbolInstance, Template, Violation, LOGIX_STRING_HANDLE,
};

/// Attribute 6 of a symbol, software control: bit 26 set for a base tag (not an alias).
const BASE_TAG: u32 = 1 << 26;

/// The symbol type of a program's entry in the controller's tag list, as Logix reports it
/// (`Program:Main`): 0x68 with the system bit (12) set.
const PROGRAM_SYMBOL_TYPE: u16 = 0x1068;

/// The longest name a tag list entry may have: what a path's symbolic segment can carry.
const MAX_LISTED_NAME: usize = 255;

fn no_data(data: &[u8]) -> Result<(), CipError> {
    if data.is_empty() {
        Ok(())
    } else {
        Err(CipError::TOO_MUCH_DATA)
    }
}

fn attribute_not_supported(e: Error) -> CipError {
    match e {
        Error::Invalid(Violation::UnknownAttribute) => {
            CipError::new(GeneralStatus::ATTRIBUTE_NOT_SUPPORTED)
        }
        e => refusal(e),
    }
}

impl<T: TagTable + ?Sized> Router<'_, T> {
    /// Get_Attribute_All and Get_Attribute_Single of the Identity object, instance 1.
    pub(crate) fn identity(
        &self,
        code: u8,
        attribute: Option<u16>,
        data: &[u8],
        out: &mut [u8],
    ) -> Answer {
        let identity = self.config.identity.identity();
        let n = match (code, attribute) {
            (service::GET_ATTRIBUTE_ALL, None) => {
                no_data(data)?;
                identity.emit_attributes_all(out).map_err(refusal)?
            }
            (service::GET_ATTRIBUTE_SINGLE, Some(id)) => {
                no_data(data)?;
                identity
                    .emit_attribute(id, out)
                    .map_err(attribute_not_supported)?
            }
            (service::GET_ATTRIBUTE_SINGLE, None) => return Err(CipError::PATH_SEGMENT_ERROR),
            _ => return Err(CipError::SERVICE_NOT_SUPPORTED),
        };
        Ok((GeneralStatus::SUCCESS, n))
    }

    /// Get_Attribute_All of the controller object (class 0x64, instance 1): the
    /// controller's name, a 16-bit length and the characters, as pycomm3 reads it.
    pub(crate) fn controller(
        &self,
        code: u8,
        attribute: Option<u16>,
        data: &[u8],
        out: &mut [u8],
    ) -> Answer {
        if code != service::GET_ATTRIBUTE_ALL || attribute.is_some() {
            return Err(CipError::SERVICE_NOT_SUPPORTED);
        }
        no_data(data)?;
        let name = self.config.identity.controller_name.as_bytes();
        let len = u16::try_from(name.len()).map_err(|_| CipError::TOO_MUCH_DATA)?;
        let dst = out
            .get_mut(..2 + name.len())
            .ok_or(CipError::new(GeneralStatus::REPLY_DATA_TOO_LARGE))?;
        dst[..2].copy_from_slice(&len.to_le_bytes());
        dst[2..].copy_from_slice(name);
        Ok((GeneralStatus::SUCCESS, dst.len()))
    }

    /// Get_Instance_Attribute_List on the Symbol class from instance `start`: every
    /// controller tag from there, then an entry `Program:NAME` per program (instances after
    /// the tags'), in instance order, with the attributes asked for, as many whole entries
    /// as `out` holds (partial transfer, 0x06, when more follow).
    pub(crate) fn symbol_list(
        &self,
        request: &MessageRequest<'_>,
        start: Option<u32>,
        out: &mut [u8],
    ) -> Answer {
        if request.service != service::GET_INSTANCE_ATTRIBUTE_LIST {
            return Err(CipError::SERVICE_NOT_SUPPORTED);
        }
        let start = start.ok_or(CipError::PATH_SEGMENT_ERROR)?;
        let attributes = AttributeList::parse(request.data).map_err(refusal)?;
        list_symbols(&*self.tags, true, start, &attributes, out)
    }

    /// Get_Instance_Attribute_List on the Symbol class of one program (`91 "Program:Main"
    /// 20 6B 24 <start>`): the program's tags, paged as the controller's.
    pub(crate) fn program_symbol_list(
        &self,
        request: &MessageRequest<'_>,
        out: &mut [u8],
    ) -> Answer {
        let mut segments = request.path.segments();
        let program = match segments.next() {
            Some(Segment::Symbolic(name)) => program_in(name)
                .and_then(|name| self.tags.find_program(name))
                .ok_or(CipError::PATH_SEGMENT_ERROR)?,
            _ => return Err(CipError::PATH_SEGMENT_ERROR),
        };
        let start = match object_address(segments) {
            Some((class::SYMBOL, Some(start), None)) => start,
            Some((class::SYMBOL, ..)) | None => return Err(CipError::PATH_SEGMENT_ERROR),
            Some(_) => return Err(CipError::PATH_DESTINATION_UNKNOWN),
        };
        let attributes = AttributeList::parse(request.data).map_err(refusal)?;
        let tags = self
            .tags
            .program(program)
            .ok_or(CipError::PATH_DESTINATION_UNKNOWN)?;
        list_symbols(tags, false, start, &attributes, out)
    }

    /// The STRING template (instance 0x0FCE): Get_Attribute_List of its attributes and
    /// Read of its definition.
    pub(crate) fn template(&self, code: u8, instance: u32, data: &[u8], out: &mut [u8]) -> Answer {
        if instance != u32::from(LOGIX_STRING_HANDLE) {
            return Err(CipError::PATH_DESTINATION_UNKNOWN);
        }
        let template = Template::LOGIX_STRING;
        match code {
            service::GET_ATTRIBUTE_LIST => {
                let list = GetAttributeList::parse(data).map_err(refusal)?;
                let mut at = list.emit_reply_count(out).map_err(refusal)?;
                let mut status = GeneralStatus::SUCCESS;
                for id in list.iter() {
                    let mut value = [0u8; 4];
                    let (entry_status, len) = match template.emit_attribute(id, &mut value) {
                        Ok(len) => (GeneralStatus::SUCCESS, len),
                        Err(_) => {
                            status = GeneralStatus::ATTRIBUTE_LIST_ERROR;
                            (GeneralStatus::ATTRIBUTE_NOT_SUPPORTED, 0)
                        }
                    };
                    let dst = out.get_mut(at..).unwrap_or_default();
                    at += GetAttributeList::emit_entry(id, entry_status, &value[..len], dst)
                        .map_err(refusal)?;
                }
                Ok((status, at))
            }
            service::READ_TAG => {
                let read = ReadTemplate::parse(data).map_err(refusal)?;
                let fits = usize::from(read.bytes).min(out.len()) as u16;
                let n = template
                    .read_definition(read.offset, fits, out)
                    .map_err(refusal)?;
                let status = if fits < read.bytes {
                    GeneralStatus::PARTIAL_TRANSFER
                } else {
                    GeneralStatus::SUCCESS
                };
                Ok((status, n))
            }
            _ => Err(CipError::SERVICE_NOT_SUPPORTED),
        }
    }
}

/// The entries of `tags` from symbol instance `start` into `out`: its tags, then with
/// `programs` one entry per program (instance `len + program`), as many whole entries as
/// fit (partial transfer, 0x06, when more follow).
fn list_symbols<U: TagTable + ?Sized>(
    tags: &U,
    programs: bool,
    start: u32,
    attributes: &AttributeList<'_>,
    out: &mut [u8],
) -> Answer {
    let len = tags.len();
    let last = if programs {
        len.saturating_add(tags.programs())
    } else {
        len
    };
    let mut name = [0u8; MAX_LISTED_NAME];
    let mut at = 0;
    for id in start.max(1)..=last {
        let entry = if id <= len {
            let Some(info) = tags.tag(id) else {
                continue;
            };
            SymbolInstance {
                instance_id: id,
                name: info.name.as_bytes(),
                symbol_type: info.element.symbol_type(info.dimension_count()).0,
                address: id.wrapping_mul(0x1000),
                object_address: id.wrapping_mul(0x1000),
                software_control: BASE_TAG,
                element_size: info.element.size() as u16,
                dimensions: info.dimensions,
                external_access: 0,
            }
        } else {
            let Some(program) = tags.program_name(id - len) else {
                continue;
            };
            let prefix = PROGRAM_PREFIX.len();
            // A name no path could carry is left out.
            let Some(full) = name.get_mut(..prefix + program.len()) else {
                continue;
            };
            full[..prefix].copy_from_slice(PROGRAM_PREFIX.as_bytes());
            full[prefix..].copy_from_slice(program.as_bytes());
            SymbolInstance {
                instance_id: id,
                name: full,
                symbol_type: PROGRAM_SYMBOL_TYPE,
                address: id.wrapping_mul(0x1000),
                object_address: id.wrapping_mul(0x1000),
                software_control: 0,
                element_size: 0,
                dimensions: [0; 3],
                external_access: 0,
            }
        };
        if at + entry.buffer_len(attributes) > out.len() {
            if at == 0 {
                return Err(CipError::new(GeneralStatus::REPLY_DATA_TOO_LARGE));
            }
            return Ok((GeneralStatus::PARTIAL_TRANSFER, at));
        }
        at += entry.emit(attributes, &mut out[at..]).map_err(refusal)?;
    }
    Ok((GeneralStatus::SUCCESS, at))
}
