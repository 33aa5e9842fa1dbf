//! Writes a relocatable ELF64 little-endian EM_BPF object, the kind clang
//! produces, so the usual loaders accept what we assemble: aya, libbpf
//! (bpftool) and llvm-objdump.
//!
//! Layout: one code section per SEC name (programs sharing a name share the
//! section), `.text` for bpf-to-bpf functions, `license`, the maps (legacy
//! `maps` of `struct bpf_map_def`, or BTF-defined `.maps` plus `.BTF`),
//! `.rodata` for constant data, `.rel<section>` relocations, `.symtab` and
//! one `.strtab` for both section and symbol names; `.BTF.ext` func_info when a program takes
//! a function's address (a callback). Written by hand because
//! the format subset is small and every byte here is one a loader reads.

use std::collections::{HashMap, HashSet};

use super::btf_writer::BtfWriter;
use super::builder::{Program, RelocationTarget};
use super::func_info::{self, CodeFunctions};
use super::insn::{Call, Insn};
use super::{btf_maps, AsmError};

/// How maps are declared in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapStyle {
    /// A `maps` section of `struct bpf_map_def`; read by aya and old libbpf.
    #[default]
    Legacy,
    /// A `.maps` section described by `.BTF`; required by libbpf 1.0+ (bpftool).
    Btf,
}

/// A map definition (`struct bpf_map_def` without the legacy pinning fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    pub name: String,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

/// A program: its SEC name (which tells loaders the program type and hook)
/// and its symbol name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSpec {
    pub section: String,
    pub name: String,
    pub program: Program,
}

/// A bpf-to-bpf function placed in `.text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub name: String,
    pub program: Program,
}

/// Named constant bytes placed in `.rodata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSpec {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Everything an object file holds; [`ObjectSpec::to_elf`] writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectSpec {
    /// Written to the `license` section; GPL-only helpers need "GPL".
    pub license: String,
    pub programs: Vec<ProgramSpec>,
    pub functions: Vec<FunctionSpec>,
    pub maps: Vec<MapSpec>,
    pub data: Vec<DataSpec>,
    pub map_style: MapStyle,
}

pub use crate::names::{map_type_from_name, map_type_name};

// ELF constants (see `elf.h`).
const EM_BPF: u16 = 247;
const ET_REL: u16 = 1;
const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_REL: u32 = 9;
const SHF_WRITE: u64 = 0x1;
const SHF_ALLOC: u64 = 0x2;
const SHF_EXECINSTR: u64 = 0x4;
const SHF_INFO_LINK: u64 = 0x40;
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const R_BPF_64_64: u64 = 1;
const R_BPF_64_32: u64 = 10;

const ELF_HEADER_SIZE: usize = 64;
const SECTION_HEADER_SIZE: usize = 64;
const SYMBOL_SIZE: usize = 24;
const REL_SIZE: usize = 16;
/// `struct bpf_map_def`: type, key_size, value_size, max_entries, map_flags.
const LEGACY_MAP_DEF_SIZE: usize = 20;

struct Section {
    name: String,
    kind: u32,
    flags: u64,
    data: Vec<u8>,
    align: u64,
    entry_size: u64,
    link: u32,
    info: u32,
}

impl Section {
    fn progbits(name: &str, flags: u64, data: Vec<u8>, align: u64) -> Section {
        Section {
            name: name.to_owned(),
            kind: SHT_PROGBITS,
            flags,
            data,
            align,
            entry_size: 0,
            link: 0,
            info: 0,
        }
    }
}

struct Symbol {
    name: String,
    binding: u8,
    kind: u8,
    section: usize,
    value: u64,
    size: u64,
}

/// One relocation: in code section `section`, at `offset`, against `symbol`.
struct PendingRel {
    section: usize,
    offset: u64,
    symbol: String,
    kind: u64,
}

/// Code laid out in one section: the programs (or functions) it holds.
struct CodeSection<'a> {
    name: &'a str,
    members: Vec<(&'a str, &'a Program)>,
}

impl ObjectSpec {
    /// An empty object with this license.
    pub fn new(license: &str) -> ObjectSpec {
        ObjectSpec {
            license: license.to_owned(),
            ..ObjectSpec::default()
        }
    }

    /// Serialises the object. Fails if a name is defined twice or a program
    /// refers to a map, datum or function the object does not define.
    pub fn to_elf(&self) -> Result<Vec<u8>, AsmError> {
        self.check_names()?;
        let mut sections = vec![Section {
            name: ".strtab".to_owned(),
            kind: SHT_STRTAB,
            flags: 0,
            data: Vec::new(),
            align: 1,
            entry_size: 0,
            link: 0,
            info: 0,
        }];
        let mut locals = Vec::new();
        let mut globals = Vec::new();
        let mut rels = Vec::new();

        // Code: `.text` first, so its index is known to anyone who looks.
        let mut code_sections = Vec::new();
        if !self.functions.is_empty() {
            code_sections.push(CodeSection {
                name: ".text",
                members: self
                    .functions
                    .iter()
                    .map(|f| (f.name.as_str(), &f.program))
                    .collect(),
            });
        }
        for program in &self.programs {
            let member = (program.name.as_str(), &program.program);
            match code_sections.iter_mut().find(|s| s.name == program.section) {
                Some(section) => section.members.push(member),
                None => code_sections.push(CodeSection {
                    name: &program.section,
                    members: vec![member],
                }),
            }
        }
        let mut code_functions = Vec::new();
        for code in &code_sections {
            let index = sections.len();
            let is_text = code.name == ".text";
            let mut bytes = Vec::new();
            let mut functions = Vec::new();
            for (name, program) in &code.members {
                reject_calls_to_labels(name, program)?;
                let start = bytes.len() as u64;
                let offsets = program.byte_offsets();
                for relocation in &program.relocations {
                    let (symbol, kind) = self.resolve(name, &relocation.target)?;
                    rels.push(PendingRel {
                        section: index,
                        offset: start
                            + offsets
                                .get(relocation.insn_index)
                                .copied()
                                .unwrap_or_else(|| program.byte_len())
                                as u64,
                        symbol,
                        kind,
                    });
                }
                functions.push((*name, start, !is_text));
                bytes.extend_from_slice(&program.encode());
                let symbol = Symbol {
                    name: (*name).to_owned(),
                    binding: if is_text { STB_LOCAL } else { STB_GLOBAL },
                    kind: STT_FUNC,
                    section: index,
                    value: start,
                    size: bytes.len() as u64 - start,
                };
                // Functions in `.text` are `static` helpers of the programs,
                // as clang emits them; programs are the object's entry points.
                if is_text {
                    locals.push(symbol);
                } else {
                    globals.push(symbol);
                }
            }
            sections.push(Section::progbits(
                code.name,
                SHF_ALLOC | SHF_EXECINSTR,
                bytes,
                8,
            ));
            code_functions.push(CodeFunctions {
                section: code.name,
                functions,
            });
        }

        if !self.license.is_empty() {
            let mut license = self.license.as_bytes().to_vec();
            license.push(0);
            globals.push(Symbol {
                name: "_license".to_owned(),
                binding: STB_GLOBAL,
                kind: STT_OBJECT,
                section: sections.len(),
                value: 0,
                size: license.len() as u64,
            });
            sections.push(Section::progbits(
                "license",
                SHF_ALLOC | SHF_WRITE,
                license,
                1,
            ));
        }

        // One `.BTF` for BTF-defined maps and for func_info, whichever the object needs.
        let btf_maps = self.map_style == MapStyle::Btf && !self.maps.is_empty();
        let needs_func_info = self.takes_function_addresses();
        let mut btf = (btf_maps || needs_func_info).then(BtfWriter::default);
        if !self.maps.is_empty() {
            let layout = btf
                .as_mut()
                .filter(|_| btf_maps)
                .map(|writer| btf_maps::add(writer, &self.maps));
            self.add_maps(&mut sections, &mut globals, layout);
        }
        if let Some(mut writer) = btf {
            let ext = needs_func_info.then(|| func_info::add(&mut writer, &code_functions));
            sections.push(Section::progbits(".BTF", 0, writer.finish(), 4));
            if let Some(ext) = ext {
                sections.push(Section::progbits(".BTF.ext", 0, ext, 4));
            }
        }

        if !self.data.is_empty() {
            let index = sections.len();
            let mut bytes = Vec::new();
            for data in &self.data {
                // Eight-byte alignment lets programs load any datum as u64.
                bytes.resize(bytes.len().next_multiple_of(8), 0);
                locals.push(Symbol {
                    name: data.name.clone(),
                    binding: STB_LOCAL,
                    kind: STT_OBJECT,
                    section: index,
                    value: bytes.len() as u64,
                    size: data.bytes.len() as u64,
                });
                bytes.extend_from_slice(&data.bytes);
            }
            sections.push(Section::progbits(".rodata", SHF_ALLOC, bytes, 8));
        }

        // Symbol table: null symbol, locals, then globals (an ELF rule).
        let mut strtab = vec![0u8];
        let mut string_offsets: HashMap<String, u32> = HashMap::new();
        let mut intern = |text: &str| -> u32 {
            if let Some(offset) = string_offsets.get(text) {
                return *offset;
            }
            let offset = strtab.len() as u32;
            strtab.extend_from_slice(text.as_bytes());
            strtab.push(0);
            string_offsets.insert(text.to_owned(), offset);
            offset
        };
        let first_global = 1 + locals.len();
        let mut symbol_index = HashMap::new();
        let mut symtab = vec![0u8; SYMBOL_SIZE];
        for (position, symbol) in locals.iter().chain(globals.iter()).enumerate() {
            symbol_index.insert(symbol.name.as_str(), position + 1);
            symtab.extend_from_slice(&(intern(&symbol.name)).to_le_bytes());
            symtab.push((symbol.binding << 4) | symbol.kind);
            symtab.push(0); // st_other: default visibility
            symtab.extend_from_slice(&(elf_index(symbol.section) as u16).to_le_bytes());
            symtab.extend_from_slice(&symbol.value.to_le_bytes());
            symtab.extend_from_slice(&symbol.size.to_le_bytes());
        }

        // `.rel<section>` for each code section with relocations.
        let symtab_index = sections.len() + count_rel_sections(&rels);
        let mut by_section: Vec<(usize, Vec<u8>)> = Vec::new();
        for rel in &rels {
            let symbol = symbol_index
                .get(rel.symbol.as_str())
                .copied()
                .ok_or_else(|| AsmError::UndefinedSymbol(rel.symbol.clone()))?;
            let entry = match by_section.iter_mut().find(|(s, _)| *s == rel.section) {
                Some(entry) => entry,
                None => {
                    by_section.push((rel.section, Vec::new()));
                    let last = by_section.len() - 1;
                    &mut by_section[last]
                }
            };
            entry.1.extend_from_slice(&rel.offset.to_le_bytes());
            entry
                .1
                .extend_from_slice(&(((symbol as u64) << 32) | rel.kind).to_le_bytes());
        }
        for (target, data) in by_section {
            let name = format!(".rel{}", sections[target].name);
            sections.push(Section {
                name,
                kind: SHT_REL,
                flags: SHF_INFO_LINK,
                data,
                align: 8,
                entry_size: REL_SIZE as u64,
                link: elf_index(symtab_index) as u32,
                info: elf_index(target) as u32,
            });
        }
        sections.push(Section {
            name: ".symtab".to_owned(),
            kind: SHT_SYMTAB,
            flags: 0,
            data: symtab,
            align: 8,
            entry_size: SYMBOL_SIZE as u64,
            link: elf_index(0) as u32,
            info: first_global as u32,
        });

        let name_offsets: Vec<u32> = sections.iter().map(|s| intern(&s.name)).collect();
        sections[0].data = strtab;
        Ok(serialise(&sections, &name_offsets))
    }

    /// Whether some code loads a function's address (to hand it to a helper).
    fn takes_function_addresses(&self) -> bool {
        let code = self.programs.iter().map(|p| &p.program);
        code.chain(self.functions.iter().map(|f| &f.program))
            .flat_map(|program| &program.relocations)
            .any(|r| matches!(r.target, RelocationTarget::FunctionAddress(_)))
    }

    /// The maps section, legacy or BTF-defined (`layout`: where the BTF placed each map),
    /// with one symbol per map.
    fn add_maps(
        &self,
        sections: &mut Vec<Section>,
        globals: &mut Vec<Symbol>,
        layout: Option<btf_maps::MapsLayout>,
    ) {
        let index = sections.len();
        match layout {
            None => {
                let mut bytes = Vec::with_capacity(self.maps.len() * LEGACY_MAP_DEF_SIZE);
                for map in &self.maps {
                    globals.push(Symbol {
                        name: map.name.clone(),
                        binding: STB_GLOBAL,
                        kind: STT_OBJECT,
                        section: index,
                        value: bytes.len() as u64,
                        size: LEGACY_MAP_DEF_SIZE as u64,
                    });
                    for field in [
                        map.map_type,
                        map.key_size,
                        map.value_size,
                        map.max_entries,
                        map.flags,
                    ] {
                        bytes.extend_from_slice(&field.to_le_bytes());
                    }
                }
                sections.push(Section::progbits("maps", SHF_ALLOC | SHF_WRITE, bytes, 4));
            }
            Some(layout) => {
                for (map, (offset, size)) in self.maps.iter().zip(&layout.maps) {
                    globals.push(Symbol {
                        name: map.name.clone(),
                        binding: STB_GLOBAL,
                        kind: STT_OBJECT,
                        section: index,
                        value: *offset,
                        size: *size,
                    });
                }
                let zeros = vec![0; layout.section_size as usize];
                sections.push(Section::progbits(".maps", SHF_ALLOC | SHF_WRITE, zeros, 8));
            }
        }
    }

    /// The symbol and relocation type for a program's reference.
    fn resolve(&self, program: &str, target: &RelocationTarget) -> Result<(String, u64), AsmError> {
        let name = target.name();
        match target {
            RelocationTarget::Map(_) if self.maps.iter().any(|m| m.name == name) => {
                Ok((name.to_owned(), R_BPF_64_64))
            }
            RelocationTarget::Map(_) => Err(AsmError::UndefinedMap {
                program: program.to_owned(),
                map: name.to_owned(),
            }),
            RelocationTarget::Data(_) if self.data.iter().any(|d| d.name == name) => {
                Ok((name.to_owned(), R_BPF_64_64))
            }
            RelocationTarget::Data(_) => Err(AsmError::UndefinedData {
                program: program.to_owned(),
                data: name.to_owned(),
            }),
            RelocationTarget::Function(_) if self.functions.iter().any(|f| f.name == name) => {
                Ok((name.to_owned(), R_BPF_64_32))
            }
            RelocationTarget::FunctionAddress(_)
                if self.functions.iter().any(|f| f.name == name) =>
            {
                Ok((name.to_owned(), R_BPF_64_64))
            }
            RelocationTarget::Function(_) | RelocationTarget::FunctionAddress(_) => {
                Err(AsmError::UndefinedFunction {
                    program: program.to_owned(),
                    function: name.to_owned(),
                })
            }
        }
    }

    /// Symbols share one namespace; loaders find programs and maps by name.
    fn check_names(&self) -> Result<(), AsmError> {
        let mut seen = HashSet::new();
        let names = self
            .programs
            .iter()
            .map(|p| &p.name)
            .chain(self.functions.iter().map(|f| &f.name))
            .chain(self.maps.iter().map(|m| &m.name))
            .chain(self.data.iter().map(|d| &d.name));
        for name in names {
            if !seen.insert(name.as_str()) || name == "_license" {
                return Err(AsmError::DuplicateSymbol(name.clone()));
            }
        }
        Ok(())
    }
}

/// Loaders split code into functions at symbols, so a bpf-to-bpf call must
/// land on one; a call resolved to a label inside the program has none.
fn reject_calls_to_labels(name: &str, program: &Program) -> Result<(), AsmError> {
    let unlinkable = program.insns.iter().enumerate().find(|(index, insn)| {
        matches!(insn, Insn::Call(Call::Local(_))) && program.relocation_at(*index).is_none()
    });
    match unlinkable {
        Some((insn_index, _)) => Err(AsmError::CallIntoProgram {
            program: name.to_owned(),
            insn_index,
        }),
        None => Ok(()),
    }
}

/// Sections are kept without the null section, which ELF numbers 0.
fn elf_index(position: usize) -> usize {
    position + 1
}

fn count_rel_sections(rels: &[PendingRel]) -> usize {
    rels.iter()
        .map(|rel| rel.section)
        .collect::<HashSet<_>>()
        .len()
}

/// ELF header, section contents, then the section header table.
fn serialise(sections: &[Section], name_offsets: &[u32]) -> Vec<u8> {
    let mut out = vec![0u8; ELF_HEADER_SIZE];
    let mut placements = Vec::with_capacity(sections.len());
    for section in sections {
        let align = section.align.max(1) as usize;
        out.resize(out.len().next_multiple_of(align), 0);
        placements.push(out.len() as u64);
        out.extend_from_slice(&section.data);
    }
    out.resize(out.len().next_multiple_of(8), 0);
    let header_table = out.len() as u64;

    // Index 0: the null section header.
    out.extend_from_slice(&[0u8; SECTION_HEADER_SIZE]);
    for ((section, offset), name) in sections.iter().zip(&placements).zip(name_offsets) {
        out.extend_from_slice(&name.to_le_bytes());
        out.extend_from_slice(&section.kind.to_le_bytes());
        out.extend_from_slice(&section.flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(section.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&section.link.to_le_bytes());
        out.extend_from_slice(&section.info.to_le_bytes());
        out.extend_from_slice(&section.align.to_le_bytes());
        out.extend_from_slice(&section.entry_size.to_le_bytes());
    }

    let mut header = Vec::with_capacity(ELF_HEADER_SIZE);
    header.extend_from_slice(&[0x7f, b'E', b'L', b'F']);
    header.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little endian, version 1, System V ABI
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&ET_REL.to_le_bytes());
    header.extend_from_slice(&EM_BPF.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes()); // e_version
    header.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    header.extend_from_slice(&0u64.to_le_bytes()); // e_phoff
    header.extend_from_slice(&header_table.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    header.extend_from_slice(&(ELF_HEADER_SIZE as u16).to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes()); // e_phentsize
    header.extend_from_slice(&0u16.to_le_bytes()); // e_phnum
    header.extend_from_slice(&(SECTION_HEADER_SIZE as u16).to_le_bytes());
    header.extend_from_slice(&(sections.len() as u16 + 1).to_le_bytes());
    header.extend_from_slice(&(elf_index(0) as u16).to_le_bytes()); // e_shstrndx: `.strtab`
    out[..ELF_HEADER_SIZE].copy_from_slice(&header);
    out
}
