//! Structural checks on an eBPF object before aya-obj parses it. aya-obj trusts the offsets and
//! lengths it reads (section data, symbol ranges, BTF string offsets, `.BTF.ext` record counts)
//! and slices with them, so a damaged object would panic inside it. Everything it slices with is
//! checked here first, and an error names the place and what is wrong.

use ::object::elf;

use super::read::{cstr_at, range, u16_at, u32_at, u64_at};
use crate::btf::Btf;

#[derive(Debug, thiserror::Error)]
#[error("malformed object: {place}: {problem}")]
pub struct ValidateError {
    /// Where: "ELF header", "section 3 (`.text`)", "symbol 7 (`counter`)", ….
    pub place: String,
    pub problem: String,
}

fn bad(place: impl Into<String>, problem: impl Into<String>) -> ValidateError {
    ValidateError {
        place: place.into(),
        problem: problem.into(),
    }
}

const ELF_HEADER: &str = "ELF header";
const SHDR_SIZE: usize = 64;
const SYM_SIZE: usize = 24;
const REL_SIZE: usize = 16;
const INSN_SIZE: u64 = 8;
/// aya-obj allocates a zeroed buffer of a `.bss` section's size; far beyond this no kernel map
/// value fits (an array's value is at most KMALLOC_MAX_SIZE, 4 MiB on x86-64).
const MAX_NOBITS: u64 = 64 << 20;

/// One section header, as the checks need it.
struct Section<'a> {
    index: usize,
    name: &'a str,
    kind: u32,
    flags: u64,
    /// The section's bytes (empty for SHT_NOBITS).
    data: &'a [u8],
    /// sh_size: for SHT_NOBITS the only measure.
    size: u64,
    link: u32,
    info: u32,
    entsize: u64,
}

impl Section<'_> {
    fn place(&self) -> String {
        section_place(self.index, self.name)
    }
}

fn section_place(index: usize, name: &str) -> String {
    format!("section {index} (`{name}`)")
}

/// Checks the ELF structure, the symbol and relocation tables, `.BTF` and `.BTF.ext`.
pub(super) fn validate(b: &[u8]) -> Result<(), ValidateError> {
    let sections = section_table(b)?;
    let symbols = symbol_table(&sections)?;
    for section in &sections {
        if section.kind == elf::SHT_REL {
            check_relocations(section, &sections, symbols.as_ref())?;
        }
    }
    if let Some(btf_section) = sections.iter().find(|s| s.name == ".BTF") {
        let btf = check_btf(btf_section)?;
        if let Some(ext) = sections.iter().find(|s| s.name == ".BTF.ext") {
            check_btf_ext(ext, btf_section.data, &btf)?;
        }
    }
    Ok(())
}

fn section_table(b: &[u8]) -> Result<Vec<Section<'_>>, ValidateError> {
    let field = |off: usize, what: &str| {
        u16_at(b, off).ok_or_else(|| bad(ELF_HEADER, format!("truncated before {what}")))
    };
    if b.get(4) != Some(&elf::ELFCLASS64) {
        return Err(bad(ELF_HEADER, "not ELF64 (eBPF objects are 64-bit ELF)"));
    }
    if field(0x10, "e_type")? != elf::ET_REL {
        return Err(bad(ELF_HEADER, "not a relocatable object (ET_REL)"));
    }
    let shoff = u64_at(b, 0x28).ok_or_else(|| bad(ELF_HEADER, "truncated before e_shoff"))?;
    let shentsize = usize::from(field(0x3a, "e_shentsize")?);
    let shnum = usize::from(field(0x3c, "e_shnum")?);
    let shstrndx = usize::from(field(0x3e, "e_shstrndx")?);
    if shentsize != SHDR_SIZE {
        return Err(bad(
            ELF_HEADER,
            format!("section header size {shentsize}, expected {SHDR_SIZE}"),
        ));
    }
    if shnum == 0 {
        return Err(bad(ELF_HEADER, "no section headers"));
    }
    let table = usize::try_from(shoff)
        .ok()
        .and_then(|off| range(b, off, shnum * SHDR_SIZE))
        .ok_or_else(|| {
            bad(
                ELF_HEADER,
                format!("the {shnum} section headers at offset {shoff} extend past the end of the file ({} bytes)", b.len()),
            )
        })?;
    if shstrndx >= shnum {
        return Err(bad(
            ELF_HEADER,
            format!("section name table index {shstrndx} is not below the section count {shnum}"),
        ));
    }
    let header = |index: usize| &table[index * SHDR_SIZE..(index + 1) * SHDR_SIZE];
    let names = section_data(b, header(shstrndx), || {
        format!("section {shstrndx} (the section name table)")
    })?;

    let mut sections = Vec::with_capacity(shnum);
    for index in 0..shnum {
        let h = header(index);
        let word = |off| u32_at(h, off).unwrap_or_default();
        let dword = |off| u64_at(h, off).unwrap_or_default();
        let name_off = word(0) as usize;
        let name = cstr_at(names, name_off).ok_or_else(|| {
            bad(
                format!("section {index}"),
                format!("name offset {name_off} is not a string in the section name table"),
            )
        })?;
        let section = Section {
            index,
            name,
            kind: word(4),
            flags: dword(8),
            data: section_data(b, h, || section_place(index, name))?,
            size: dword(32),
            link: word(40),
            info: word(44),
            entsize: dword(56),
        };
        check_section(&section, dword(16))?;
        sections.push(section);
    }
    Ok(sections)
}

/// A section's bytes, which must lie inside the file (none for SHT_NOBITS).
fn section_data<'a>(
    b: &'a [u8],
    header: &[u8],
    place: impl FnOnce() -> String,
) -> Result<&'a [u8], ValidateError> {
    let kind = u32_at(header, 4).unwrap_or_default();
    if kind == elf::SHT_NOBITS || kind == elf::SHT_NULL {
        return Ok(&[]);
    }
    let offset = u64_at(header, 24).unwrap_or_default();
    let size = u64_at(header, 32).unwrap_or_default();
    usize::try_from(offset)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(offset, size)| range(b, offset, size))
        .ok_or_else(|| {
            bad(
                place(),
                format!(
                    "data at offset {offset}, {size} bytes, extends past the end of the file ({} bytes)",
                    b.len()
                ),
            )
        })
}

fn check_section(section: &Section<'_>, address: u64) -> Result<(), ValidateError> {
    // Symbol values are offsets into their section only when sections sit at address 0.
    if address != 0 {
        return Err(bad(
            section.place(),
            format!("address {address:#x} in a relocatable object (expected 0)"),
        ));
    }
    if section.kind == elf::SHT_NOBITS && section.size > MAX_NOBITS {
        return Err(bad(
            section.place(),
            format!(
                "size {} is larger than any map value the kernel accepts",
                section.size
            ),
        ));
    }
    let executable = section.flags & u64::from(elf::SHF_EXECINSTR) != 0;
    if executable && !section.size.is_multiple_of(INSN_SIZE) {
        return Err(bad(
            section.place(),
            format!(
                "code of {} bytes is not a whole number of 8-byte instructions",
                section.size
            ),
        ));
    }
    let entry = match section.kind {
        elf::SHT_SYMTAB => SYM_SIZE,
        elf::SHT_REL => REL_SIZE,
        _ => return Ok(()),
    };
    if section.entsize != entry as u64 || !section.data.len().is_multiple_of(entry) {
        return Err(bad(
            section.place(),
            format!(
                "entries of {} bytes in {} bytes, expected whole entries of {entry}",
                section.entsize,
                section.data.len()
            ),
        ));
    }
    Ok(())
}

/// The checked symbol table.
struct Symbols<'a> {
    index: usize,
    table: &'a [u8],
    strings: &'a [u8],
}

impl Symbols<'_> {
    fn count(&self) -> usize {
        self.table.len() / SYM_SIZE
    }

    /// (name, st_info, st_shndx) of a symbol below `count()`.
    fn get(&self, index: usize) -> (&str, u8, u16) {
        let sym = range(self.table, index * SYM_SIZE, SYM_SIZE).unwrap_or_default();
        let name = cstr_at(self.strings, u32_at(sym, 0).unwrap_or_default() as usize);
        let info = sym.get(4).copied().unwrap_or_default();
        (
            name.unwrap_or_default(),
            info,
            u16_at(sym, 6).unwrap_or_default(),
        )
    }
}

/// The symbol table. Every symbol's name is a string of its string table, and a symbol defined
/// in a section lies inside that section.
fn symbol_table<'a>(sections: &[Section<'a>]) -> Result<Option<Symbols<'a>>, ValidateError> {
    let mut tables = sections.iter().filter(|s| s.kind == elf::SHT_SYMTAB);
    let Some(symtab) = tables.next() else {
        return Ok(None);
    };
    if let Some(second) = tables.next() {
        return Err(bad(second.place(), "a second symbol table"));
    }
    let strings = sections
        .get(symtab.link as usize)
        .filter(|s| s.kind == elf::SHT_STRTAB)
        .ok_or_else(|| {
            bad(
                symtab.place(),
                format!("linked section {} is not a string table", symtab.link),
            )
        })?;
    let count = symtab.data.len() / SYM_SIZE;
    for index in 1..count {
        let sym = &symtab.data[index * SYM_SIZE..(index + 1) * SYM_SIZE];
        let name_off = u32_at(sym, 0).unwrap_or_default() as usize;
        let name = cstr_at(strings.data, name_off).ok_or_else(|| {
            bad(
                format!("symbol {index}"),
                format!(
                    "name offset {name_off} is not a string in `{}`",
                    strings.name
                ),
            )
        })?;
        let shndx = u16_at(sym, 6).unwrap_or_default();
        if shndx == elf::SHN_UNDEF || shndx >= elf::SHN_LORESERVE {
            continue;
        }
        let place = || format!("symbol {index} (`{name}`)");
        let section = sections.get(usize::from(shndx)).ok_or_else(|| {
            bad(
                place(),
                format!(
                    "section index {shndx} is not below the section count {}",
                    sections.len()
                ),
            )
        })?;
        let value = u64_at(sym, 8).unwrap_or_default();
        let size = u64_at(sym, 16).unwrap_or_default();
        if value.checked_add(size).is_none_or(|end| end > section.size) {
            return Err(bad(
                place(),
                format!(
                    "bytes {value}..+{size} lie outside `{}` ({} bytes)",
                    section.name, section.size
                ),
            ));
        }
        let function = sym.get(4).is_some_and(|info| info & 0xf == elf::STT_FUNC);
        if function && (!value.is_multiple_of(INSN_SIZE) || !size.is_multiple_of(INSN_SIZE)) {
            return Err(bad(
                place(),
                "a function that does not start and end on an instruction",
            ));
        }
    }
    Ok(Some(Symbols {
        index: symtab.index,
        table: symtab.data,
        strings: strings.data,
    }))
}

/// Each relocation names a symbol of the symbol table and a place inside its target section.
fn check_relocations(
    rel: &Section<'_>,
    sections: &[Section<'_>],
    symbols: Option<&Symbols<'_>>,
) -> Result<(), ValidateError> {
    let Some(symbols) = symbols.filter(|symbols| symbols.index == rel.link as usize) else {
        return Err(bad(
            rel.place(),
            format!("linked section {} is not the symbol table", rel.link),
        ));
    };
    let target = sections
        .get(rel.info as usize)
        .filter(|s| s.index != 0 && s.index != symbols.index)
        .ok_or_else(|| {
            bad(
                rel.place(),
                format!("applies to section {}, which does not exist", rel.info),
            )
        })?;
    let executable = target.flags & u64::from(elf::SHF_EXECINSTR) != 0;
    let count = symbols.count();
    for (n, entry) in rel.data.chunks_exact(REL_SIZE).enumerate() {
        let offset = u64_at(entry, 0).unwrap_or_default();
        let symbol = u64_at(entry, 8).unwrap_or_default() >> 32;
        let place = || format!("{}, relocation {n}", rel.place());
        if symbol >= count as u64 {
            return Err(bad(
                place(),
                format!("symbol {symbol} is not below the symbol count {count}"),
            ));
        }
        // An instruction (8 bytes, aligned) in code; at least a 32-bit word elsewhere.
        let (width, align) = if executable {
            (INSN_SIZE, INSN_SIZE)
        } else {
            (4, 1)
        };
        if !offset.is_multiple_of(align)
            || offset
                .checked_add(width)
                .is_none_or(|end| end > target.size)
        {
            return Err(bad(
                place(),
                format!(
                    "offset {offset} is not a place inside `{}` ({} bytes)",
                    target.name, target.size
                ),
            ));
        }
        if executable {
            let kind = (u64_at(entry, 8).unwrap_or_default() & 0xffff_ffff) as u32;
            check_code_reference(symbols, symbol as usize, kind, sections)
                .map_err(|problem| bad(place(), problem))?;
        }
    }
    Ok(())
}

/// A relocation in code that refers to code must be one aya-obj can resolve: a defined function,
/// or a section symbol with a call (R_BPF_64_32) or a 64-bit load (R_BPF_64_64).
fn check_code_reference(
    symbols: &Symbols<'_>,
    symbol: usize,
    kind: u32,
    sections: &[Section<'_>],
) -> Result<(), String> {
    let (name, info, shndx) = symbols.get(symbol);
    let in_code = sections
        .get(usize::from(shndx))
        .filter(|_| shndx != elf::SHN_UNDEF && shndx < elf::SHN_LORESERVE)
        .is_some_and(|s| s.flags & u64::from(elf::SHF_EXECINSTR) != 0);
    match info & 0xf {
        elf::STT_FUNC if !in_code => Err(format!(
            "refers to function `{name}`, which is not defined in the object's code \
             (extern functions and kfuncs are not supported)"
        )),
        elf::STT_FUNC => Ok(()),
        elf::STT_SECTION if in_code && ![elf::R_BPF_64_32, elf::R_BPF_64_64].contains(&kind) => {
            Err(format!(
                "relocation type {kind} on code, expected a call or a 64-bit load"
            ))
        }
        _ if in_code && info & 0xf != elf::STT_SECTION => Err(format!(
            "refers to `{name}` in code, which is neither a function nor a section"
        )),
        _ => Ok(()),
    }
}

/// `.BTF` parses with our own parser, which checks every type record, reference and name.
fn check_btf(section: &Section<'_>) -> Result<Btf, ValidateError> {
    let btf = Btf::parse(section.data).map_err(|e| bad(section.place(), e.to_string()))?;
    if btf.is_big_endian() {
        return Err(bad(
            section.place(),
            "big-endian BTF in a little-endian object",
        ));
    }
    Ok(btf)
}

/// The `.BTF.ext` subsections: func_info, line_info and CO-RE relocations, each a record size
/// and groups of records per section.
struct Subsection {
    what: &'static str,
    /// Offset of the (offset, length) pair in the header.
    header_field: usize,
    min_record: usize,
    /// Record fields (byte offsets) that are offsets into BTF's string table.
    string_fields: &'static [usize],
    /// Record fields that are BTF type ids.
    type_fields: &'static [usize],
}

const SUBSECTIONS: [Subsection; 3] = [
    Subsection {
        what: "func_info",
        header_field: 8,
        min_record: 8,
        string_fields: &[],
        type_fields: &[4],
    },
    Subsection {
        what: "line_info",
        header_field: 16,
        min_record: 16,
        string_fields: &[4, 8],
        type_fields: &[],
    },
    Subsection {
        what: "CO-RE relocations",
        header_field: 24,
        min_record: 16,
        string_fields: &[8],
        type_fields: &[4],
    },
];

fn check_btf_ext(section: &Section<'_>, btf_bytes: &[u8], btf: &Btf) -> Result<(), ValidateError> {
    let ext = section.data;
    let place = section.place();
    if u16_at(ext, 0) != Some(0xeb9f) {
        return Err(bad(place, "bad magic (expected 0xeb9f)"));
    }
    if ext.get(2) != Some(&1) {
        return Err(bad(place, "unsupported version (only version 1 exists)"));
    }
    let hdr_len = u32_at(ext, 4).unwrap_or_default() as usize;
    if hdr_len < 24 || hdr_len > ext.len() {
        return Err(bad(
            place,
            format!("header length {hdr_len} outside 24..={}", ext.len()),
        ));
    }
    // check_btf parsed the header: the string section's offset and length are in bounds.
    let btf_header = |off| u32_at(btf_bytes, off).unwrap_or_default() as usize;
    let strings = range(btf_bytes, btf_header(4) + btf_header(16), btf_header(20)).unwrap_or(&[]);
    let body = &ext[hdr_len..];
    for sub in &SUBSECTIONS {
        // CO-RE relocations exist only in headers long enough to describe them.
        if sub.header_field + 8 > hdr_len {
            continue;
        }
        let off = u32_at(ext, sub.header_field).unwrap_or_default() as usize;
        let len = u32_at(ext, sub.header_field + 4).unwrap_or_default() as usize;
        if len == 0 {
            continue;
        }
        let data = range(body, off, len).ok_or_else(|| {
            bad(
                &place,
                format!(
                    "{}: bytes {off}..+{len} lie outside the section's {} bytes after its header",
                    sub.what,
                    body.len()
                ),
            )
        })?;
        check_subsection(sub, data, strings, btf)
            .map_err(|problem| bad(&place, format!("{}: {problem}", sub.what)))?;
    }
    Ok(())
}

fn check_subsection(
    sub: &Subsection,
    data: &[u8],
    strings: &[u8],
    btf: &Btf,
) -> Result<(), String> {
    let record = u32_at(data, 0).ok_or("shorter than its record size")? as usize;
    if record < sub.min_record || !record.is_multiple_of(4) {
        return Err(format!(
            "record size {record} (expected a multiple of 4, at least {})",
            sub.min_record
        ));
    }
    let string = |off: u32, what: &str| {
        cstr_at(strings, off as usize)
            .map(drop)
            .ok_or_else(|| format!("{what} offset {off} is not a string in `.BTF`"))
    };
    let mut pos = 4;
    while pos < data.len() {
        let (Some(name_off), Some(count)) = (u32_at(data, pos), u32_at(data, pos + 4)) else {
            return Err(format!("group at byte {pos} is cut off"));
        };
        string(name_off, "section name")?;
        let records =
            range(data, pos + 8, (count as usize).saturating_mul(record)).ok_or_else(|| {
                format!("{count} records of {record} bytes at byte {pos} overrun the subsection")
            })?;
        for rec in records.chunks_exact(record) {
            for &field in sub.string_fields {
                string(u32_at(rec, field).unwrap_or_default(), "string")?;
            }
            for &field in sub.type_fields {
                let id = u32_at(rec, field).unwrap_or_default();
                if id >= btf.type_count() {
                    return Err(format!(
                        "type id {id} is not below the type count {}",
                        btf.type_count()
                    ));
                }
            }
        }
        pos += 8 + records.len();
    }
    Ok(())
}
