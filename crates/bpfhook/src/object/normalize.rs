//! Renames ELF sections in an eBPF object so aya-obj's parser accepts names it does not know
//! (`tc`, `tcx/ingress`, `xdp/ingress`, `ksyscall/…`).
//!
//! Two tables refer to a section by name and both must agree after a rename:
//! - the ELF section-name string table: new names are appended to a copy of it, placed at the
//!   end of the file, and the renamed section headers point into the copy;
//! - `.BTF.ext`, whose func_info/line_info/CO-RE records are grouped by a section name stored in
//!   `.BTF`'s string table: new names are appended to a copy of `.BTF` (also placed at the end),
//!   and the groups' name offsets are rewritten in place.
//!
//! Appending instead of editing in place keeps every other offset in the file valid.

use std::collections::{HashMap, HashSet};

use super::read::{self, cstr_at};

/// One section to rename.
#[derive(Debug, Clone)]
pub(super) struct Rename {
    pub section_index: usize,
    pub from: String,
    pub to: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("malformed ELF object: {0}")]
    Malformed(&'static str),
    #[error("malformed BTF in the object: {0}")]
    MalformedBtf(&'static str),
    #[error(
        "sections {0} all load as `{1}`, and the loader cannot tell them apart; \
         give each XDP program its own name, e.g. SEC(\"xdp\") and SEC(\"xdp.frags\"), or put them in separate objects"
    )]
    Clash(String, String),
}

const SHDR_SIZE: usize = 64;

/// Returns `bytes` with the sections renamed (an unchanged copy when there is nothing to do).
/// `kept` are the program sections that keep their names; no new name may equal one of them.
pub(super) fn rename_sections(
    bytes: &[u8],
    renames: &[Rename],
    kept: &[String],
) -> Result<Vec<u8>, NormalizeError> {
    let mut out = bytes.to_vec();
    if renames.is_empty() {
        return Ok(out);
    }
    check_unique(renames, kept)?;
    let elf = ElfLayout::read(&out)?;

    // 1. Section names: append the new names to a copy of the string table.
    let (strtab_off, strtab_size) = elf.section_range(&out, elf.shstrndx)?;
    let mut strtab = slice(&out, strtab_off, strtab_size)?.to_vec();
    let mut name_offsets = Vec::with_capacity(renames.len());
    for rename in renames {
        name_offsets.push(
            u32::try_from(strtab.len())
                .map_err(|_| NormalizeError::Malformed("string table too large"))?,
        );
        strtab.extend_from_slice(rename.to.as_bytes());
        strtab.push(0);
    }
    let new_strtab_off = append_aligned(&mut out, &strtab);
    elf.set_section_range(&mut out, elf.shstrndx, new_strtab_off, strtab.len())?;
    for (rename, name_off) in renames.iter().zip(name_offsets) {
        let header = elf.header_offset(rename.section_index)?;
        put_u32(&mut out, header, name_off)?;
    }

    // 2. BTF.ext groups: point the renamed sections' groups at the new names.
    let (Some(btf_index), Some(ext_index)) = (elf.find(&out, ".BTF")?, elf.find(&out, ".BTF.ext")?)
    else {
        return Ok(out);
    };
    let (btf_off, btf_size) = elf.section_range(&out, btf_index)?;
    let mut btf = slice(&out, btf_off, btf_size)?.to_vec();
    let strings = BtfStrings::read(&btf)?;
    let renamed: HashMap<&str, &str> = renames
        .iter()
        .map(|r| (r.from.as_str(), r.to.as_str()))
        .collect();
    let mut added: HashMap<&str, u32> = HashMap::new();
    let (ext_off, ext_size) = elf.section_range(&out, ext_index)?;
    let mut patches = Vec::new();
    for group_name_pos in btf_ext_groups(slice(&out, ext_off, ext_size)?)? {
        let name_off = get_u32(&out, ext_off + group_name_pos)?;
        let Some(&to) = strings
            .get(&btf, name_off)
            .and_then(|name| renamed.get(name))
        else {
            continue;
        };
        let new_off = match added.get(to) {
            Some(&off) => off,
            None => {
                let off = strings.append(&mut btf, to)?;
                added.insert(to, off);
                off
            }
        };
        patches.push((ext_off + group_name_pos, new_off));
    }
    for (pos, value) in patches {
        put_u32(&mut out, pos, value)?;
    }
    if !added.is_empty() {
        let new_btf_off = append_aligned(&mut out, &btf);
        elf.set_section_range(&mut out, btf_index, new_btf_off, btf.len())?;
    }
    Ok(out)
}

fn check_unique(renames: &[Rename], kept: &[String]) -> Result<(), NormalizeError> {
    let mut seen: HashSet<&str> = kept.iter().map(String::as_str).collect();
    for rename in renames {
        if !seen.insert(rename.to.as_str()) {
            let clashing: Vec<String> = kept
                .iter()
                .filter(|k| **k == rename.to)
                .chain(
                    renames
                        .iter()
                        .filter(|r| r.to == rename.to)
                        .map(|r| &r.from),
                )
                .map(|name| format!("`{name}`"))
                .collect();
            return Err(NormalizeError::Clash(
                clashing.join(", "),
                rename.to.clone(),
            ));
        }
    }
    Ok(())
}

/// The little-endian ELF64 header fields the rewrite needs.
struct ElfLayout {
    shoff: usize,
    shnum: usize,
    shstrndx: usize,
}

impl ElfLayout {
    fn read(b: &[u8]) -> Result<Self, NormalizeError> {
        if b.get(..4) != Some(b"\x7fELF") || b.get(4) != Some(&2) || b.get(5) != Some(&1) {
            return Err(NormalizeError::Malformed("not a little-endian ELF64 file"));
        }
        let shoff = to_usize(get_u64(b, 0x28)?)?;
        let shentsize = usize::from(get_u16(b, 0x3a)?);
        if shentsize != SHDR_SIZE {
            return Err(NormalizeError::Malformed("unexpected section header size"));
        }
        let layout = Self {
            shoff,
            shnum: usize::from(get_u16(b, 0x3c)?),
            shstrndx: usize::from(get_u16(b, 0x3e)?),
        };
        layout.header_offset(layout.shnum.saturating_sub(1))?;
        slice(b, shoff, layout.shnum * SHDR_SIZE)?;
        Ok(layout)
    }

    fn header_offset(&self, index: usize) -> Result<usize, NormalizeError> {
        if index >= self.shnum {
            return Err(NormalizeError::Malformed("section index out of range"));
        }
        Ok(self.shoff + index * SHDR_SIZE)
    }

    fn section_range(&self, b: &[u8], index: usize) -> Result<(usize, usize), NormalizeError> {
        let h = self.header_offset(index)?;
        Ok((
            to_usize(get_u64(b, h + 24)?)?,
            to_usize(get_u64(b, h + 32)?)?,
        ))
    }

    fn set_section_range(
        &self,
        b: &mut [u8],
        index: usize,
        off: usize,
        size: usize,
    ) -> Result<(), NormalizeError> {
        let h = self.header_offset(index)?;
        put_u64(b, h + 24, off as u64)?;
        put_u64(b, h + 32, size as u64)
    }

    fn find(&self, b: &[u8], name: &str) -> Result<Option<usize>, NormalizeError> {
        let (strtab_off, strtab_size) = self.section_range(b, self.shstrndx)?;
        let strtab = slice(b, strtab_off, strtab_size)?;
        for index in 0..self.shnum {
            let name_off = to_usize(u64::from(get_u32(b, self.header_offset(index)?)?))?;
            if cstr_at(strtab, name_off) == Some(name) {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }
}

/// The string section of a `.BTF` blob, which must be the blob's last part so it can grow.
struct BtfStrings {
    start: usize,
}

impl BtfStrings {
    fn read(btf: &[u8]) -> Result<Self, NormalizeError> {
        let bad = NormalizeError::MalformedBtf;
        if get_u16(btf, 0).map_err(|_| bad("truncated header"))? != 0xeb9f {
            return Err(bad("bad magic"));
        }
        let hdr_len = to_usize(u64::from(get_u32(btf, 4)?))?;
        let str_off = to_usize(u64::from(get_u32(btf, 16)?))?;
        let str_len = to_usize(u64::from(get_u32(btf, 20)?))?;
        let start = hdr_len + str_off;
        if start + str_len != btf.len() {
            return Err(bad("string section is not at the end of the blob"));
        }
        Ok(Self { start })
    }

    fn get<'a>(&self, btf: &'a [u8], offset: u32) -> Option<&'a str> {
        cstr_at(btf.get(self.start..)?, usize::try_from(offset).ok()?)
    }

    /// Appends a string and fixes the header's str_len; returns the string's offset.
    fn append(&self, btf: &mut Vec<u8>, s: &str) -> Result<u32, NormalizeError> {
        let offset = u32::try_from(btf.len() - self.start)
            .map_err(|_| NormalizeError::MalformedBtf("too large"))?;
        btf.extend_from_slice(s.as_bytes());
        btf.push(0);
        let str_len = u32::try_from(btf.len() - self.start)
            .map_err(|_| NormalizeError::MalformedBtf("too large"))?;
        put_u32(btf, 20, str_len)?;
        Ok(offset)
    }
}

/// Positions (within `.BTF.ext`) of every group's section-name offset, across the func_info,
/// line_info and CO-RE relocation subsections. Each subsection is a record size followed by
/// groups of `{ sec_name_off: u32, num_info: u32, records[num_info] }`.
fn btf_ext_groups(ext: &[u8]) -> Result<Vec<usize>, NormalizeError> {
    let bad = NormalizeError::MalformedBtf;
    if get_u16(ext, 0).map_err(|_| bad("truncated .BTF.ext"))? != 0xeb9f {
        return Err(bad("bad .BTF.ext magic"));
    }
    let hdr_len = to_usize(u64::from(get_u32(ext, 4)?))?;
    // func_info and line_info always; CO-RE relocations when the header is long enough.
    let mut subsections = vec![8, 16];
    if hdr_len >= 32 {
        subsections.push(24);
    }
    let mut positions = Vec::new();
    for field in subsections {
        let off = to_usize(u64::from(get_u32(ext, field)?))?;
        let len = to_usize(u64::from(get_u32(ext, field + 4)?))?;
        if len == 0 {
            continue;
        }
        let start = hdr_len + off;
        let end = start.checked_add(len).ok_or(bad("subsection overflows"))?;
        let record_size = to_usize(u64::from(get_u32(ext, start)?))?;
        let mut pos = start + 4;
        while pos < end {
            positions.push(pos);
            let count = to_usize(u64::from(get_u32(ext, pos + 4)?))?;
            let records = count
                .checked_mul(record_size)
                .ok_or(bad("record count overflows"))?;
            pos = pos
                .checked_add(8 + records)
                .ok_or(bad("record count overflows"))?;
        }
        if pos != end {
            return Err(bad(".BTF.ext subsection length does not match its records"));
        }
    }
    Ok(positions)
}

fn append_aligned(out: &mut Vec<u8>, data: &[u8]) -> usize {
    out.resize(out.len().next_multiple_of(8), 0);
    let off = out.len();
    out.extend_from_slice(data);
    off
}

fn slice(b: &[u8], off: usize, len: usize) -> Result<&[u8], NormalizeError> {
    read::range(b, off, len).ok_or(NormalizeError::Malformed("section data outside the file"))
}

fn to_usize(v: u64) -> Result<usize, NormalizeError> {
    usize::try_from(v).map_err(|_| NormalizeError::Malformed("offset too large"))
}

const TRUNCATED: NormalizeError = NormalizeError::Malformed("truncated");

fn get_u16(b: &[u8], off: usize) -> Result<u16, NormalizeError> {
    read::u16_at(b, off).ok_or(TRUNCATED)
}

fn get_u32(b: &[u8], off: usize) -> Result<u32, NormalizeError> {
    read::u32_at(b, off).ok_or(TRUNCATED)
}

fn get_u64(b: &[u8], off: usize) -> Result<u64, NormalizeError> {
    read::u64_at(b, off).ok_or(TRUNCATED)
}

fn put_u32(b: &mut [u8], off: usize, v: u32) -> Result<(), NormalizeError> {
    put(b, off, &v.to_le_bytes())
}

fn put_u64(b: &mut [u8], off: usize, v: u64) -> Result<(), NormalizeError> {
    put(b, off, &v.to_le_bytes())
}

fn put(b: &mut [u8], off: usize, bytes: &[u8]) -> Result<(), NormalizeError> {
    off.checked_add(bytes.len())
        .and_then(|end| b.get_mut(off..end))
        .ok_or(NormalizeError::Malformed("write outside the file"))?
        .copy_from_slice(bytes);
    Ok(())
}
