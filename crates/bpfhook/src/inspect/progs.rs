//! Programs: bpftool's `prog show` fields, and the translated instructions for `prog dump`.

use crate::names;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::holders::{Holder, Holders};
use super::links::{list_links_with, LinkInfo};
use super::{ids, info_error, memlock, open, InspectError};
use crate::asm::{self, Call, Helper, Insn};
use crate::kernel::kallsyms::Kallsyms;
use crate::sys::{self, bpf_prog_info, ObjectKind};

/// One loaded program, with bpftool's JSON field names.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramInfo {
    pub id: u32,
    #[serde(rename = "type")]
    pub prog_type: String,
    pub name: String,
    /// The kernel's hash of the instructions, as 16 hex digits.
    pub tag: String,
    pub gpl_compatible: bool,
    /// Present only while run-time statistics are (or were) on and the program has run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_time_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_cnt: Option<u64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub recursion_misses: u64,
    /// Wall-clock load time, seconds since the Unix epoch.
    pub loaded_at: u64,
    pub uid: u32,
    pub bytes_xlated: u32,
    pub jited: bool,
    pub bytes_jited: u32,
    pub bytes_memlock: u64,
    pub map_ids: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btf_id: Option<u32>,
    pub verified_insns: u32,
    pub pids: Vec<Holder>,
    /// The links attaching this program, where the kernel knows them.
    pub links: Vec<LinkInfo>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Every loaded program, in id order. Programs unloaded during the listing are skipped.
pub fn list_programs() -> Result<Vec<ProgramInfo>, InspectError> {
    // Holders first: this process opens fds while listing, and those must not count.
    let holders = Holders::scan();
    let links = list_links_with(&holders)?;
    let mut programs = Vec::new();
    for id in ids(ObjectKind::Program)? {
        match program_with(id, &holders, &links) {
            Ok(p) => programs.push(p),
            Err(InspectError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(programs)
}

/// One program by id.
pub fn program(id: u32) -> Result<ProgramInfo, InspectError> {
    let holders = Holders::scan();
    let links = list_links_with(&holders)?;
    program_with(id, &holders, &links)
}

fn program_with(
    id: u32,
    holders: &Holders,
    links: &[LinkInfo],
) -> Result<ProgramInfo, InspectError> {
    let fd = open(ObjectKind::Program, id)?;
    let (info, map_ids) = info_with_map_ids(&fd, id)?;
    let ran = info.run_time_ns != 0 || info.run_cnt != 0;
    Ok(ProgramInfo {
        id: info.id,
        prog_type: names::prog_type(info.type_),
        name: super::c_name(&info.name),
        tag: info.tag.iter().map(|b| format!("{b:02x}")).collect(),
        gpl_compatible: info.gpl_compatible() != 0,
        run_time_ns: ran.then_some(info.run_time_ns),
        run_cnt: ran.then_some(info.run_cnt),
        recursion_misses: info.recursion_misses,
        loaded_at: boot_ns_to_unix_secs(info.load_time),
        uid: info.created_by_uid,
        bytes_xlated: info.xlated_prog_len,
        jited: info.jited_prog_len > 0,
        bytes_jited: info.jited_prog_len,
        bytes_memlock: memlock(&fd),
        map_ids,
        btf_id: (info.btf_id != 0).then_some(info.btf_id),
        verified_insns: info.verified_insns,
        pids: holders.of(ObjectKind::Program, id),
        links: links.iter().filter(|l| l.prog_id == id).cloned().collect(),
    })
}

/// The info plus every map id: most programs use a few maps, so one call with room for 64
/// usually suffices, and a second call is made with the exact count otherwise.
fn info_with_map_ids(
    fd: &std::os::fd::OwnedFd,
    id: u32,
) -> Result<(bpf_prog_info, Vec<u32>), InspectError> {
    let mut map_ids = vec![0u32; 64];
    let mut info = sys::prog_info(fd.as_fd(), &mut map_ids, &mut [])
        .map_err(info_error(ObjectKind::Program, id))?;
    if info.nr_map_ids as usize > map_ids.len() {
        map_ids = vec![0u32; info.nr_map_ids as usize];
        info = sys::prog_info(fd.as_fd(), &mut map_ids, &mut [])
            .map_err(info_error(ObjectKind::Program, id))?;
    }
    map_ids.truncate((info.nr_map_ids as usize).min(map_ids.len()));
    Ok((info, map_ids))
}

/// Run-time statistics of one program, read cheaply (no map ids, no fd scan): for `top`.
pub fn run_stats(id: u32) -> Result<(bpf_prog_info, String), InspectError> {
    let fd = open(ObjectKind::Program, id)?;
    let info = sys::prog_info(fd.as_fd(), &mut [], &mut [])
        .map_err(info_error(ObjectKind::Program, id))?;
    Ok((info, names::prog_type(info.type_)))
}

/// One translated instruction and its slot index (a 16-byte load takes two slots).
#[derive(Debug, Clone, Serialize)]
pub struct XlatedInsn {
    pub index: usize,
    pub text: String,
}

/// The program's instructions as the verifier left them (`xlated`), disassembled.
pub fn dump_program(id: u32) -> Result<Vec<XlatedInsn>, InspectError> {
    let fd = open(ObjectKind::Program, id)?;
    let info = sys::prog_info(fd.as_fd(), &mut [], &mut [])
        .map_err(info_error(ObjectKind::Program, id))?;
    let mut bytes = vec![0u8; info.xlated_prog_len as usize];
    if !bytes.is_empty() {
        let again = sys::prog_info(fd.as_fd(), &mut [], &mut bytes)
            .map_err(info_error(ObjectKind::Program, id))?;
        // All-zero instructions mean the kernel withheld them (kptr_restrict / no CAP_SYS_ADMIN).
        bytes.truncate(again.xlated_prog_len.min(info.xlated_prog_len) as usize);
    }
    Ok(disassemble(&bytes, &helper_names(&bytes)))
}

/// Each instruction with its slot index; bytes our decoder rejects (the kernel's own rewrites
/// can use encodings programs may not) print as raw hex rather than failing the dump.
fn disassemble(bytes: &[u8], helpers: &HashMap<i32, String>) -> Vec<XlatedInsn> {
    let mut out = Vec::with_capacity(bytes.len() / asm::INSN_SIZE);
    let mut offset = 0;
    while offset + asm::INSN_SIZE <= bytes.len() {
        let index = offset / asm::INSN_SIZE;
        match Insn::decode(&bytes[offset..]) {
            Ok((insn, used)) => {
                let text = match insn {
                    Insn::Call(Call::Helper(imm)) if helpers.contains_key(&imm) => {
                        format!("call {}#{imm}", helpers[&imm])
                    }
                    _ => insn.to_string(),
                };
                out.push(XlatedInsn { index, text });
                offset += used.max(asm::INSN_SIZE);
            }
            Err(_) => {
                let raw = &bytes[offset..offset + asm::INSN_SIZE];
                out.push(XlatedInsn {
                    index,
                    text: format!(".insn {}", crate::maps::hex(raw)),
                });
                offset += asm::INSN_SIZE;
            }
        }
    }
    out
}

/// In translated code a helper call's immediate is the helper's address relative to
/// `__bpf_call_base`; kallsyms names it, as bpftool shows it (`call bpf_trace_printk#-63248`).
/// Empty when the dump has no such call or kernel addresses are hidden.
fn helper_names(bytes: &[u8]) -> HashMap<i32, String> {
    let relative: Vec<i32> = bytes
        .chunks_exact(asm::INSN_SIZE)
        .filter_map(|raw| match Insn::decode(raw) {
            Ok((Insn::Call(Call::Helper(imm)), _)) if Helper::from_id(imm).is_none() => Some(imm),
            _ => None,
        })
        .collect();
    if relative.is_empty() {
        return HashMap::new();
    }
    let Ok(kallsyms) = Kallsyms::read() else {
        return HashMap::new();
    };
    let Some(base) = kallsyms
        .symbols()
        .find(|s| s.name == "__bpf_call_base" && s.address != 0)
        .map(|s| s.address)
    else {
        return HashMap::new();
    };
    let wanted: HashMap<u64, i32> = relative
        .iter()
        .map(|&imm| (base.wrapping_add_signed(i64::from(imm)), imm))
        .collect();
    kallsyms
        .symbols()
        .filter(|s| s.is_text())
        .filter_map(|s| Some((*wanted.get(&s.address)?, s.name.to_owned())))
        .collect()
}

/// The kernel stamps load time in CLOCK_BOOTTIME nanoseconds; wall time is now minus the age.
fn boot_ns_to_unix_secs(load_time_ns: u64) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0;
    let now_boot = if ok {
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    } else {
        Duration::ZERO
    };
    let age = now_boot.saturating_sub(Duration::from_nanos(load_time_ns));
    SystemTime::now()
        .checked_sub(age)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// `2024-05-01T12:34:56Z` for seconds since the epoch (UTC).
pub fn format_utc(unix_secs: u64) -> String {
    let t = crate::clock::utc(unix_secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn undecodable_bytes_print_raw() {
        let exit = [0x95, 0, 0, 0, 0, 0, 0, 0];
        let junk = [0xff; 8];
        let text: Vec<String> = disassemble(&[exit, junk].concat(), &HashMap::new())
            .into_iter()
            .map(|i| format!("{}: {}", i.index, i.text))
            .collect();
        assert_eq!(text[0], "0: exit");
        assert!(text[1].starts_with("1: .insn ff ff"), "{}", text[1]);
    }
}
