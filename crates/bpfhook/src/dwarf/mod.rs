//! The types of an object's DWARF (`.debug_info`, written by `clang -g`), read into the BTF type
//! model, so the record decoder prints them exactly as it prints BTF types.
//!
//! clang's `.BTF` holds only the types that globals and function signatures reach: a record type
//! used through a local pointer alone (`e = bpf_ringbuf_reserve(…)`, libbpf-bootstrap's idiom) is
//! left out, but DWARF describes every type the program uses. Only what decoding needs is kept:
//! base types, pointers, structs and unions (members with offsets and bit fields), enums, arrays,
//! typedefs and qualifiers; anything else (function types…) stands in as `void`.
//!
//! Relocations are not applied: in a relocatable BPF object they add section symbols, whose value
//! is 0, to the offsets already written in place.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gimli::{AttributeValue, EndianSlice, LittleEndian, Unit};
use object::{Object, ObjectSection};

mod binary;

pub use binary::{type_name, DebugInfo, Parameter};

use crate::btf::{
    ArrayType, Btf, BtfError, BtfType, Composite, EnumType, EnumValue, IntType, Member, TypeId,
    TypeKind,
};

/// BTF's encoding bits for integers (`char` has one too, which clang leaves unset).
const INT_SIGNED: u8 = 1;
const INT_BOOL: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum DwarfError {
    #[error("cannot parse the ELF file: {0}")]
    Elf(#[from] object::Error),
    #[error("malformed DWARF: {0}")]
    Dwarf(#[from] gimli::Error),
    #[error("the DWARF types do not form a valid type graph: {0}")]
    Types(#[from] BtfError),
    #[error("cannot read {0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
    #[error("{0} has no DWARF debug info (neither its own nor a separate debug file)")]
    NoDebugInfo(std::path::PathBuf),
    #[error("no function {0} in the DWARF debug info")]
    NoFunction(String),
}

type Slice<'a> = EndianSlice<'a, LittleEndian>;

/// The DWARF types of `object` as BTF (ids in the order the DIEs come), or `None` when the
/// object has no `.debug_info`.
pub fn types_from_elf(object: &[u8]) -> Result<Option<Btf>, DwarfError> {
    let file = object::File::parse(object)?;
    Ok(read(&file, None)?.map(|info| info.types))
}

/// The types and function parameters of an ELF file's DWARF; `None` without `.debug_info`.
/// Split DWARF is followed when the file is known as `path`: each skeleton unit's `.dwo` file
/// (from its compilation directory, else beside the binary), or the package `PATH.dwp`.
pub(crate) fn read(
    file: &object::File<'_>,
    path: Option<&Path>,
) -> Result<Option<DebugInfo>, DwarfError> {
    if file.section_by_name(".debug_info").is_none() {
        return Ok(None);
    }
    let sections = load_sections(file, false)?;
    let dwarf = sections.borrow(|section| EndianSlice::new(section, LittleEndian));
    let package_data = path.and_then(|p| {
        let mut name = p.as_os_str().to_owned();
        name.push(".dwp");
        std::fs::read(name).ok()
    });
    let package_file = package_data
        .as_deref()
        .map(object::File::parse)
        .transpose()?;
    let package_sections = package_file
        .as_ref()
        .map(|f| {
            gimli::DwarfPackageSections::load(|id| -> Result<Cow<[u8]>, DwarfError> {
                section_data(f, id.dwo_name())
            })
        })
        .transpose()?;
    let package = package_sections
        .as_ref()
        .map(|s| {
            s.borrow(
                |section| EndianSlice::new(section, LittleEndian),
                EndianSlice::new(&[], LittleEndian),
            )
        })
        .transpose()?;
    let mut graph = Graph::default();
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        graph
            .pointer_size
            .get_or_insert(u32::from(unit.header.address_size()));
        graph.read_unit(&dwarf, &unit)?;
        let Some(dwo_id) = unit.dwo_id else {
            continue;
        };
        // Each split unit's offsets count from its own sections: a file number apart.
        graph.file += 1;
        if let Some(Some(split)) = package
            .as_ref()
            .map(|p| p.find_cu(dwo_id, &dwarf))
            .transpose()?
        {
            graph.read_all(&split)?;
            continue;
        }
        let Some(dwo_path) = dwo_path(&dwarf, &unit, path)? else {
            continue;
        };
        let Ok(data) = std::fs::read(&dwo_path) else {
            continue;
        };
        let dwo_file = object::File::parse(&*data)?;
        let dwo_sections = load_sections(&dwo_file, true)?;
        let mut split = dwo_sections.borrow(|section| EndianSlice::new(section, LittleEndian));
        split.make_dwo(&dwarf);
        graph.read_all(&split)?;
    }
    Ok(Some(graph.into_debug_info()?))
}

/// The DWARF sections of `file` (their `.dwo` names in a split DWARF file).
fn load_sections<'d>(
    file: &object::File<'d>,
    dwo: bool,
) -> Result<gimli::DwarfSections<Cow<'d, [u8]>>, DwarfError> {
    gimli::DwarfSections::load(|id| {
        section_data(file, if dwo { id.dwo_name() } else { Some(id.name()) })
    })
}

fn section_data<'d>(
    file: &object::File<'d>,
    name: Option<&str>,
) -> Result<Cow<'d, [u8]>, DwarfError> {
    match name.and_then(|name| file.section_by_name(name)) {
        Some(section) => Ok(section.uncompressed_data()?),
        None => Ok(Cow::Borrowed(&[])),
    }
}

/// Where a skeleton unit's `.dwo` file is: its name under the unit's compilation directory,
/// else (moved with the binary) beside `binary`.
fn dwo_path(
    dwarf: &gimli::Dwarf<Slice>,
    unit: &Unit<Slice>,
    binary: Option<&Path>,
) -> Result<Option<PathBuf>, DwarfError> {
    let Some(name) = unit.dwo_name()? else {
        return Ok(None);
    };
    let name = dwarf
        .attr_string(unit, name)?
        .to_string_lossy()
        .into_owned();
    let mut candidates = Vec::new();
    let comp_dir = unit
        .comp_dir
        .map(|d| PathBuf::from(d.to_string_lossy().into_owned()));
    candidates.push(match comp_dir {
        Some(dir) => dir.join(&name),
        None => PathBuf::from(&name),
    });
    if let (Some(binary), Some(file_name)) = (binary, Path::new(&name).file_name()) {
        candidates.push(binary.parent().unwrap_or(Path::new("")).join(file_name));
    }
    Ok(candidates.into_iter().find(|c| c.is_file()))
}

/// A reference to a DIE: the file it is in (0 the main one, then each split unit) and its
/// offset in that file's `.debug_info`.
type Ref = Option<(u32, usize)>;

/// A type as read from its DIE, references not yet turned into ids.
enum Draft {
    Int {
        name: String,
        size: u32,
        encoding: u8,
    },
    Float {
        name: String,
        size: u32,
    },
    Ptr(Ref),
    Typedef {
        name: String,
        target: Ref,
    },
    Const(Ref),
    Volatile(Ref),
    Restrict(Ref),
    Composite {
        union: bool,
        name: String,
        size: u32,
        members: Vec<DraftMember>,
    },
    Fwd {
        union: bool,
        name: String,
    },
    Enum {
        name: String,
        size: u32,
        underlying: Ref,
        values: Vec<(String, u64)>,
    },
    /// `dims` outermost first: `int a[2][3]` is one DIE with two subranges.
    Array {
        elem: Ref,
        dims: Vec<u32>,
    },
}

/// A function's DWARF: its formal parameters, and whether it is the definition (else a
/// declaration, which a definition replaces).
struct DraftFunction {
    definition: bool,
    params: Vec<(String, Ref)>,
}

struct DraftMember {
    name: String,
    target: Ref,
    bit_offset: u32,
    bitfield_size: u8,
}

#[derive(Default)]
struct Graph {
    drafts: Vec<Draft>,
    /// DIE reference → index in `drafts`.
    by_offset: HashMap<(u32, usize), usize>,
    /// The number of the file whose units are being read.
    file: u32,
    pointer_size: Option<u32>,
    functions: HashMap<String, DraftFunction>,
}

impl Graph {
    /// Reads every unit of a split DWARF file.
    fn read_all(&mut self, dwarf: &gimli::Dwarf<Slice>) -> gimli::Result<()> {
        let mut units = dwarf.units();
        while let Some(header) = units.next()? {
            let unit = dwarf.unit(header)?;
            self.read_unit(dwarf, &unit)?;
        }
        Ok(())
    }

    /// Reads every type DIE of the unit, at any depth (types declared inside functions too).
    fn read_unit(&mut self, dwarf: &gimli::Dwarf<Slice>, unit: &Unit<Slice>) -> gimli::Result<()> {
        let mut cursor = unit.entries();
        let mut depth: isize = 0;
        // The open type DIEs whose children (members, enumerators, subranges) may follow.
        let mut parents: Vec<(isize, usize)> = Vec::new();
        // The function whose parameters may follow, at its depth.
        let mut function: Option<(isize, String)> = None;
        while let Some((delta, entry)) = cursor.next_dfs()? {
            depth += delta;
            while parents.last().is_some_and(|&(d, _)| d >= depth) {
                parents.pop();
            }
            if function.as_ref().is_some_and(|(d, _)| *d >= depth) {
                function = None;
            }
            let parent = parents
                .last()
                .filter(|&&(d, _)| d + 1 == depth)
                .map(|&(_, index)| index);
            let die = Die {
                dwarf,
                unit,
                entry,
                file: self.file,
            };
            match (entry.tag(), &function) {
                (gimli::DW_TAG_subprogram, _) => {
                    function = self.read_function(&die)?.map(|name| (depth, name));
                    continue;
                }
                (gimli::DW_TAG_formal_parameter, Some((d, name))) if d + 1 == depth => {
                    let param = (die.name()?, die.target()?);
                    if let Some(f) = self.functions.get_mut(name) {
                        f.params.push(param);
                    }
                    continue;
                }
                _ => {}
            }
            if let Some(index) = parent {
                if self.read_child(index, &die)? {
                    continue;
                }
            }
            if let Some(draft) = die.draft()? {
                let index = self.drafts.len();
                self.drafts.push(draft);
                if let Some(offset) = die.offset() {
                    self.by_offset.insert(offset, index);
                }
                parents.push((depth, index));
            }
        }
        Ok(())
    }

    /// Starts the entry of a named function (a definition replaces a declaration), returning
    /// its name while its parameters are to be read.
    fn read_function(&mut self, die: &Die) -> gimli::Result<Option<String>> {
        let name = die.name()?;
        if name.is_empty() {
            return Ok(None);
        }
        let definition = !die.flag(gimli::DW_AT_declaration)?;
        if self
            .functions
            .get(&name)
            .is_some_and(|f| f.definition || !definition)
        {
            return Ok(None);
        }
        self.functions.insert(
            name.clone(),
            DraftFunction {
                definition,
                params: Vec::new(),
            },
        );
        Ok(Some(name))
    }

    /// Adds a member, enumerator or subrange to its type; false when the DIE is none of those.
    fn read_child(&mut self, parent: usize, die: &Die) -> gimli::Result<bool> {
        match (&mut self.drafts[parent], die.entry.tag()) {
            (Draft::Composite { members, .. }, gimli::DW_TAG_member) => members.push(die.member()?),
            (Draft::Enum { values, size, .. }, gimli::DW_TAG_enumerator) => {
                let value = die.enumerator_value()? & low_bits(*size);
                values.push((die.name()?, value));
            }
            (Draft::Array { dims, .. }, gimli::DW_TAG_subrange_type) => {
                let len = match die.udata(gimli::DW_AT_count)? {
                    Some(count) => count,
                    None => die.udata(gimli::DW_AT_upper_bound)?.map_or(0, |u| u + 1),
                };
                dims.push(u32::try_from(len).unwrap_or(u32::MAX));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn into_debug_info(self) -> Result<DebugInfo, BtfError> {
        // Ids: one per draft, and one more per extra dimension of an array.
        let mut first_ids = Vec::with_capacity(self.drafts.len());
        let mut next: TypeId = 1;
        for draft in &self.drafts {
            first_ids.push(next);
            let count = match draft {
                Draft::Array { dims, .. } => dims.len().max(1),
                _ => 1,
            };
            next = next.saturating_add(count as TypeId);
        }
        let id_of = |target: Ref| -> TypeId {
            target
                .and_then(|offset| self.by_offset.get(&offset))
                .map_or(0, |&index| first_ids[index])
        };
        let mut strings = Strings::default();
        let mut types = Vec::with_capacity(next as usize);
        for (draft, &first_id) in self.drafts.iter().zip(&first_ids) {
            let plain = |kind| BtfType { name_off: 0, kind };
            match draft {
                Draft::Int {
                    name,
                    size,
                    encoding,
                } => types.push(BtfType {
                    name_off: strings.add(name),
                    kind: TypeKind::Int(IntType {
                        size: *size,
                        encoding: *encoding,
                        bit_offset: 0,
                        bits: u8::try_from(size * 8).unwrap_or(128),
                    }),
                }),
                Draft::Float { name, size } => types.push(BtfType {
                    name_off: strings.add(name),
                    kind: TypeKind::Float { size: *size },
                }),
                Draft::Ptr(target) => types.push(plain(TypeKind::Ptr(id_of(*target)))),
                Draft::Const(target) => types.push(plain(TypeKind::Const(id_of(*target)))),
                Draft::Volatile(target) => types.push(plain(TypeKind::Volatile(id_of(*target)))),
                Draft::Restrict(target) => types.push(plain(TypeKind::Restrict(id_of(*target)))),
                Draft::Typedef { name, target } => types.push(BtfType {
                    name_off: strings.add(name),
                    kind: TypeKind::Typedef(id_of(*target)),
                }),
                Draft::Composite {
                    union,
                    name,
                    size,
                    members,
                } => {
                    let composite = Composite {
                        size: *size,
                        members: members
                            .iter()
                            .map(|m| Member {
                                name_off: strings.add(&m.name),
                                type_id: id_of(m.target),
                                bit_offset: m.bit_offset,
                                bitfield_size: m.bitfield_size,
                            })
                            .collect(),
                    };
                    types.push(BtfType {
                        name_off: strings.add(name),
                        kind: if *union {
                            TypeKind::Union(composite)
                        } else {
                            TypeKind::Struct(composite)
                        },
                    });
                }
                Draft::Fwd { union, name } => types.push(BtfType {
                    name_off: strings.add(name),
                    kind: TypeKind::Fwd { is_union: *union },
                }),
                Draft::Enum {
                    name,
                    size,
                    underlying,
                    values,
                } => {
                    let signed = self.is_signed(*underlying);
                    let e = EnumType {
                        size: *size,
                        signed,
                        values: values
                            .iter()
                            .map(|(name, value)| EnumValue {
                                name_off: strings.add(name),
                                value: *value,
                            })
                            .collect(),
                    };
                    types.push(BtfType {
                        name_off: strings.add(name),
                        kind: if *size > 4 {
                            TypeKind::Enum64(e)
                        } else {
                            TypeKind::Enum(e)
                        },
                    });
                }
                Draft::Array { elem, dims } => {
                    // Each dimension is an array of the next; the innermost holds the elements.
                    let dims: &[u32] = if dims.is_empty() { &[0] } else { dims };
                    for (i, &len) in dims.iter().enumerate() {
                        let elem = if i + 1 == dims.len() {
                            id_of(*elem)
                        } else {
                            first_id + i as TypeId + 1
                        };
                        types.push(plain(TypeKind::Array(ArrayType {
                            elem,
                            index: 0,
                            len,
                        })));
                    }
                }
            }
        }
        let functions = self
            .functions
            .iter()
            .map(|(name, f)| {
                let params = f
                    .params
                    .iter()
                    .map(|(name, target)| Parameter {
                        name: name.clone(),
                        type_id: id_of(*target),
                    })
                    .collect();
                (name.clone(), params)
            })
            .collect();
        Ok(DebugInfo {
            types: Btf::from_types(types, strings.text, self.pointer_size.unwrap_or(8))?,
            functions,
        })
    }

    /// Whether an enum's underlying type (a base type, maybe behind typedefs) is signed.
    fn is_signed(&self, mut target: Ref) -> bool {
        // A bound, as the graph is not yet checked for typedef loops.
        for _ in 0..16 {
            match target
                .and_then(|o| self.by_offset.get(&o))
                .map(|&i| &self.drafts[i])
            {
                Some(Draft::Int { encoding, .. }) => return encoding & INT_SIGNED != 0,
                Some(Draft::Typedef { target: next, .. }) => target = *next,
                _ => return false,
            }
        }
        false
    }
}

/// The mask of a value `size` bytes wide (BTF keeps enumerators zero-extended from their width).
fn low_bits(size: u32) -> u64 {
    match size {
        0 | 8.. => u64::MAX,
        n => (1u64 << (n * 8)) - 1,
    }
}

/// The string section being built: the empty name first, each name once.
struct Strings {
    text: String,
    offsets: HashMap<String, u32>,
}

impl Default for Strings {
    fn default() -> Self {
        Self {
            text: "\0".to_owned(),
            offsets: HashMap::new(),
        }
    }
}

impl Strings {
    fn add(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        if let Some(&offset) = self.offsets.get(name) {
            return offset;
        }
        let offset = self.text.len() as u32;
        self.text.push_str(name);
        self.text.push('\0');
        self.offsets.insert(name.to_owned(), offset);
        offset
    }
}

/// One DIE and what is needed to read its attributes.
struct Die<'a, 'u> {
    dwarf: &'a gimli::Dwarf<Slice<'a>>,
    unit: &'a Unit<Slice<'a>>,
    entry: &'a gimli::DebuggingInformationEntry<'u, 'u, Slice<'a>>,
    file: u32,
}

impl Die<'_, '_> {
    fn offset(&self) -> Ref {
        self.entry
            .offset()
            .to_debug_info_offset(&self.unit.header)
            .map(|o| (self.file, o.0))
    }

    /// The type this DIE describes, `None` for DIEs that are not types decoding needs.
    fn draft(&self) -> gimli::Result<Option<Draft>> {
        let size = || -> gimli::Result<u32> {
            Ok(self
                .udata(gimli::DW_AT_byte_size)?
                .and_then(|s| u32::try_from(s).ok())
                .unwrap_or(0))
        };
        let draft = match self.entry.tag() {
            gimli::DW_TAG_base_type => {
                let encoding = match self.entry.attr_value(gimli::DW_AT_encoding)? {
                    Some(AttributeValue::Encoding(e)) => e,
                    _ => gimli::DW_ATE_unsigned,
                };
                let (name, size) = (self.name()?, size()?);
                match encoding {
                    gimli::DW_ATE_float => Draft::Float { name, size },
                    // The encodings clang's BTF gives the same types (chars are told by name).
                    gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => Draft::Int {
                        name,
                        size,
                        encoding: INT_SIGNED,
                    },
                    gimli::DW_ATE_boolean => Draft::Int {
                        name,
                        size,
                        encoding: INT_BOOL,
                    },
                    _ => Draft::Int {
                        name,
                        size,
                        encoding: 0,
                    },
                }
            }
            gimli::DW_TAG_pointer_type => Draft::Ptr(self.target()?),
            gimli::DW_TAG_typedef => Draft::Typedef {
                name: self.name()?,
                target: self.target()?,
            },
            gimli::DW_TAG_const_type => Draft::Const(self.target()?),
            // An atomic object has the layout of its plain type.
            gimli::DW_TAG_volatile_type | gimli::DW_TAG_atomic_type => {
                Draft::Volatile(self.target()?)
            }
            gimli::DW_TAG_restrict_type => Draft::Restrict(self.target()?),
            tag @ (gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type) => {
                let union = tag == gimli::DW_TAG_union_type;
                let name = self.name()?;
                if self.flag(gimli::DW_AT_declaration)? {
                    Draft::Fwd { union, name }
                } else {
                    Draft::Composite {
                        union,
                        name,
                        size: size()?,
                        members: Vec::new(),
                    }
                }
            }
            gimli::DW_TAG_enumeration_type => Draft::Enum {
                name: self.name()?,
                size: size()?,
                underlying: self.target()?,
                values: Vec::new(),
            },
            gimli::DW_TAG_array_type => Draft::Array {
                elem: self.target()?,
                dims: Vec::new(),
            },
            _ => return Ok(None),
        };
        Ok(Some(draft))
    }

    /// A struct or union member: its offset in bits, and its width when a bit field.
    fn member(&self) -> gimli::Result<DraftMember> {
        let bit_size = self.udata(gimli::DW_AT_bit_size)?;
        let bit_offset = match self.udata(gimli::DW_AT_data_bit_offset)? {
            Some(bits) => bits,
            None => {
                let bytes = self.udata(gimli::DW_AT_data_member_location)?.unwrap_or(0);
                // DWARF 2's bit fields count from the storage unit's most significant bit;
                // on little-endian targets the low bits come first.
                let within = match (self.udata(gimli::DW_AT_bit_offset)?, bit_size) {
                    (Some(from_msb), Some(width)) => {
                        let storage = self.udata(gimli::DW_AT_byte_size)?.unwrap_or(0);
                        storage
                            .saturating_mul(8)
                            .saturating_sub(from_msb)
                            .saturating_sub(width)
                    }
                    _ => 0,
                };
                bytes.saturating_mul(8).saturating_add(within)
            }
        };
        Ok(DraftMember {
            name: self.name()?,
            target: self.target()?,
            bit_offset: u32::try_from(bit_offset).unwrap_or(u32::MAX),
            bitfield_size: bit_size.map_or(0, |w| u8::try_from(w).unwrap_or(u8::MAX)),
        })
    }

    fn enumerator_value(&self) -> gimli::Result<u64> {
        Ok(match self.entry.attr_value(gimli::DW_AT_const_value)? {
            Some(AttributeValue::Sdata(v)) => v as u64,
            Some(value) => value.udata_value().unwrap_or(0),
            None => 0,
        })
    }

    fn name(&self) -> gimli::Result<String> {
        match self.entry.attr_value(gimli::DW_AT_name)? {
            Some(value) => Ok(self
                .dwarf
                .attr_string(self.unit, value)?
                .to_string_lossy()
                .into_owned()),
            None => Ok(String::new()),
        }
    }

    /// The DIE `DW_AT_type` refers to (`None`: void).
    fn target(&self) -> gimli::Result<Ref> {
        Ok(match self.entry.attr_value(gimli::DW_AT_type)? {
            Some(AttributeValue::UnitRef(offset)) => offset
                .to_debug_info_offset(&self.unit.header)
                .map(|o| (self.file, o.0)),
            Some(AttributeValue::DebugInfoRef(offset)) => Some((self.file, offset.0)),
            _ => None,
        })
    }

    fn udata(&self, name: gimli::DwAt) -> gimli::Result<Option<u64>> {
        Ok(self
            .entry
            .attr_value(name)?
            .and_then(|value| value.udata_value()))
    }

    fn flag(&self, name: gimli::DwAt) -> gimli::Result<bool> {
        Ok(matches!(
            self.entry.attr_value(name)?,
            Some(AttributeValue::Flag(true))
        ))
    }
}
