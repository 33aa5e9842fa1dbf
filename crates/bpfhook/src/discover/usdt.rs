//! USDT probes: the `.note.stapsdt` ELF notes that `<sys/sdt.h>`'s `DTRACE_PROBE*` macros leave
//! in a binary, one per probe site.
//!
//! Each note (owner `stapsdt`, type 3) holds three addresses (the probe's pc, the link-time
//! address of `.stapsdt.base`, the semaphore or 0) and three strings: provider, name and the
//! argument locations in assembler syntax (`-4@%edi 8@%rsi`).

use object::{Object, ObjectSection};

use super::uprobes::ElfBinary;
use super::DiscoverError;
use crate::symbolize::elf::LoadSegments;

const NOTE_SECTION: &str = ".note.stapsdt";
const NOTE_OWNER: &[u8] = b"stapsdt";
const NOTE_TYPE: u32 = 3;
/// The section whose address the notes recorded at link time (prelinking moves it).
const BASE_SECTION: &str = ".stapsdt.base";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    pub pc: u64,
    /// The link-time address of `.stapsdt.base`; comparing it with the section's actual address
    /// tells how far prelinking moved the pc.
    pub base: u64,
    /// Address of the semaphore a tracer increments to enable the probe; 0 when there is none.
    pub semaphore: u64,
    pub arguments: String,
}

/// Every USDT probe site of the binary, in note order (a probe used at several sites appears
/// once per site).
pub fn probes(binary: &ElfBinary) -> Result<Vec<UsdtProbe>, DiscoverError> {
    let elf = binary.parse()?;
    let Some(section) = elf.section_by_name(NOTE_SECTION) else {
        return Ok(Vec::new());
    };
    let data = section.data().map_err(|e| DiscoverError::NotElf {
        path: binary.path.clone(),
        reason: format!("unreadable {NOTE_SECTION}: {e}"),
    })?;
    Ok(parse_notes(data, elf.is_little_endian(), elf.is_64()))
}

/// A probe site placed for attaching: where its uprobe goes and the semaphore the kernel
/// counts while one is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtSite {
    pub probe: UsdtProbe,
    /// The pc moved as far as prelinking moved `.stapsdt.base` (the note keeps the
    /// link-time address).
    pub address: u64,
    /// The semaphore's file offset (a uprobe's `ref_ctr_offset`); None when it has none.
    pub semaphore_offset: Option<u64>,
}

/// Every probe site of the binary, placed (note order, as [`probes`]).
pub fn sites(binary: &ElfBinary) -> Result<Vec<UsdtSite>, DiscoverError> {
    let elf = binary.parse()?;
    let actual_base = elf.section_by_name(BASE_SECTION).map(|s| s.address());
    let segments = LoadSegments::of(&elf);
    probes(binary)?
        .into_iter()
        .map(|probe| {
            let address = match actual_base {
                Some(actual) if probe.base != 0 => {
                    probe.pc.wrapping_add(actual).wrapping_sub(probe.base)
                }
                _ => probe.pc,
            };
            let semaphore_offset = match probe.semaphore {
                0 => None,
                semaphore => Some(segments.file_offset(semaphore).ok_or_else(|| {
                    DiscoverError::NotElf {
                        path: binary.path.clone(),
                        reason: format!(
                            "the semaphore of USDT probe {}:{} ({semaphore:#x}) is in no loadable segment",
                            probe.provider, probe.name
                        ),
                    }
                })?),
            };
            Ok(UsdtSite {
                probe,
                address,
                semaphore_offset,
            })
        })
        .collect()
}

/// Parses a note section; a truncated or foreign note ends the walk rather than failing it.
pub fn parse_notes(mut data: &[u8], little_endian: bool, is_64: bool) -> Vec<UsdtProbe> {
    let word = |bytes: &[u8], at: usize| -> Option<u64> {
        let width = if is_64 { 8 } else { 4 };
        let raw = bytes.get(at..at + width)?;
        let mut buf = [0u8; 8];
        if little_endian {
            buf[..width].copy_from_slice(raw);
            Some(u64::from_le_bytes(buf))
        } else {
            buf[8 - width..].copy_from_slice(raw);
            Some(u64::from_be_bytes(buf))
        }
    };
    let u32_at = |bytes: &[u8], at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if little_endian {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        } as usize)
    };
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    let mut probes = Vec::new();
    while data.len() >= 12 {
        let (Some(name_size), Some(desc_size), Some(kind)) =
            (u32_at(data, 0), u32_at(data, 4), u32_at(data, 8))
        else {
            break;
        };
        let Some(desc_start) = align4(name_size).and_then(|n| n.checked_add(12)) else {
            break;
        };
        let Some(next) = align4(desc_size).and_then(|d| d.checked_add(desc_start)) else {
            break;
        };
        let (Some(owner), Some(desc)) = (
            data.get(12..).and_then(|d| d.get(..name_size)),
            data.get(desc_start..).and_then(|d| d.get(..desc_size)),
        ) else {
            break;
        };
        let owner = owner.strip_suffix(b"\0").unwrap_or(owner);
        if owner == NOTE_OWNER && kind == NOTE_TYPE as usize {
            if let Some(probe) = parse_desc(desc, is_64, word) {
                probes.push(probe);
            }
        }
        data = data.get(next..).unwrap_or(&[]);
    }
    probes
}

fn parse_desc(
    desc: &[u8],
    is_64: bool,
    word: impl Fn(&[u8], usize) -> Option<u64>,
) -> Option<UsdtProbe> {
    let width = if is_64 { 8 } else { 4 };
    let pc = word(desc, 0)?;
    let base = word(desc, width)?;
    let semaphore = word(desc, 2 * width)?;
    let mut strings = desc.get(3 * width..)?.split(|&b| b == 0);
    let mut text = || String::from_utf8(strings.next()?.to_vec()).ok();
    let provider = text()?;
    let name = text()?;
    let arguments = text().unwrap_or_default();
    Some(UsdtProbe {
        provider,
        name,
        pc,
        base,
        semaphore,
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(owner: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(owner.len() as u32).to_le_bytes());
        out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(owner);
        out.resize(out.len().next_multiple_of(4), 0);
        out.extend_from_slice(desc);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    fn desc(pc: u64, provider: &str, name: &str, args: &str) -> Vec<u8> {
        let mut d = Vec::new();
        for word in [pc, 0x2000, 0] {
            d.extend_from_slice(&word.to_le_bytes());
        }
        for s in [provider, name, args] {
            d.extend_from_slice(s.as_bytes());
            d.push(0);
        }
        d
    }

    #[test]
    fn parses_probe_notes_and_skips_others() {
        let mut section = note(b"stapsdt\0", 3, &desc(0x1139, "myapp", "start", "-4@%edi"));
        section.extend(note(b"GNU\0", 3, b"abcd"));
        section.extend(note(b"stapsdt\0", 3, &desc(0x1200, "myapp", "stop", "")));
        let probes = parse_notes(&section, true, true);
        let names: Vec<_> = probes
            .iter()
            .map(|p| {
                (
                    p.provider.as_str(),
                    p.name.as_str(),
                    p.pc,
                    p.arguments.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("myapp", "start", 0x1139, "-4@%edi"),
                ("myapp", "stop", 0x1200, "")
            ]
        );
    }

    #[test]
    fn truncated_notes_end_the_walk_without_panicking() {
        let section = note(b"stapsdt\0", 3, &desc(0x1139, "p", "n", ""));
        for len in 0..section.len() {
            let _ = parse_notes(&section[..len], true, true);
        }
        let mut huge = section.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_notes(&huge, true, true).is_empty());
    }
}
