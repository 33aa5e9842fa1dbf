//! Creating kernel objects from an eBPF object: BTF, maps, programs.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use aya_obj::generated::{bpf_cmd, bpf_func_info, bpf_insn, bpf_line_info};

use super::{bpf, owned_fd, zeroed_attr, SyscallError};

/// The kernel's log level for a load that fails: 1 is the verifier's normal log.
const LOG_LEVEL: u32 = 1;

/// Everything of `BPF_PROG_LOAD` that bpfhook sets.
#[derive(Default)]
pub struct ProgramLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    /// Up to 15 bytes are kept (the kernel's limit); empty leaves the program unnamed.
    pub name: &'a str,
    pub license: &'a CStr,
    pub kern_version: u32,
    pub insns: &'a [bpf_insn],
    pub btf_fd: Option<BorrowedFd<'a>>,
    pub func_info: &'a [bpf_func_info],
    pub func_info_rec_size: usize,
    pub line_info: &'a [bpf_line_info],
    pub line_info_rec_size: usize,
    pub attach_btf_id: u32,
    pub flags: u32,
}

/// `BPF_PROG_LOAD`. With `log`, the verifier writes its log there (level 1).
pub fn prog_load(
    program: &ProgramLoad<'_>,
    log: Option<&mut [u8]>,
) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the prog_load member; every pointer stored here
    // points into `program` or `log`, which outlive the call.
    unsafe {
        let load = &mut attr.__bindgen_anon_3;
        load.prog_type = program.prog_type;
        load.expected_attach_type = program.expected_attach_type;
        let name = program.name.as_bytes();
        let len = name.len().min(load.prog_name.len() - 1);
        for (dst, src) in load.prog_name.iter_mut().zip(&name[..len]) {
            *dst = *src as libc::c_char;
        }
        load.license = if program.license.is_empty() {
            c"GPL".as_ptr() as u64
        } else {
            program.license.as_ptr() as u64
        };
        load.kern_version = program.kern_version;
        load.insns = program.insns.as_ptr() as u64;
        load.insn_cnt = program.insns.len() as u32;
        if let Some(btf) = program.btf_fd {
            load.prog_btf_fd = btf.as_raw_fd() as u32;
            if !program.func_info.is_empty() {
                load.func_info = program.func_info.as_ptr() as u64;
                load.func_info_cnt = program.func_info.len() as u32;
                load.func_info_rec_size = program.func_info_rec_size as u32;
            }
            if !program.line_info.is_empty() {
                load.line_info = program.line_info.as_ptr() as u64;
                load.line_info_cnt = program.line_info.len() as u32;
                load.line_info_rec_size = program.line_info_rec_size as u32;
            }
        }
        load.attach_btf_id = program.attach_btf_id;
        load.prog_flags = program.flags;
        if let Some(log) = log {
            load.log_level = LOG_LEVEL;
            load.log_buf = log.as_mut_ptr() as u64;
            load.log_size = log.len() as u32;
        }
    }
    let fd = bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr, "BPF_PROG_LOAD")?;
    // SAFETY: on success BPF_PROG_LOAD returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_BTF_LOAD`. With `log`, the kernel explains a rejection there.
pub fn btf_load(btf: &[u8], log: Option<&mut [u8]>) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: plain fields of the btf_load member; `btf` and `log` outlive the call.
    unsafe {
        let load = &mut attr.__bindgen_anon_7;
        load.btf = btf.as_ptr() as u64;
        load.btf_size = btf.len() as u32;
        if let Some(log) = log {
            load.btf_log_level = LOG_LEVEL;
            load.btf_log_buf = log.as_mut_ptr() as u64;
            load.btf_log_size = log.len() as u32;
        }
    }
    let fd = bpf(bpf_cmd::BPF_BTF_LOAD, &mut attr, "BPF_BTF_LOAD")?;
    // SAFETY: on success BPF_BTF_LOAD returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// Everything of `BPF_MAP_CREATE` that bpfhook sets.
#[derive(Default)]
pub struct MapCreate<'a> {
    pub map_type: u32,
    pub name: &'a str,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub map_extra: u64,
    /// The object's BTF with the key and value type ids, for maps whose type accepts them.
    pub btf: Option<(BorrowedFd<'a>, u32, u32)>,
    pub inner_map_fd: Option<BorrowedFd<'a>>,
}

/// `BPF_MAP_CREATE`.
pub fn map_create(map: &MapCreate<'_>) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: plain integer fields of the map_create member.
    unsafe {
        let create = &mut attr.__bindgen_anon_1;
        create.map_type = map.map_type;
        create.key_size = map.key_size;
        create.value_size = map.value_size;
        create.max_entries = map.max_entries;
        create.map_flags = map.map_flags;
        create.map_extra = map.map_extra;
        let name = map.name.as_bytes();
        let len = name.len().min(create.map_name.len() - 1);
        for (dst, src) in create.map_name.iter_mut().zip(&name[..len]) {
            *dst = *src as libc::c_char;
        }
        if let Some((btf, key, value)) = map.btf {
            create.btf_fd = btf.as_raw_fd() as u32;
            create.btf_key_type_id = key;
            create.btf_value_type_id = value;
        }
        if let Some(inner) = map.inner_map_fd {
            create.inner_map_fd = inner.as_raw_fd() as u32;
        }
    }
    let fd = bpf(bpf_cmd::BPF_MAP_CREATE, &mut attr, "BPF_MAP_CREATE")?;
    // SAFETY: on success BPF_MAP_CREATE returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_MAP_FREEZE`: no more writes from user space (`.rodata`, so the verifier may trust it).
pub fn map_freeze(map: BorrowedFd<'_>) -> Result<(), SyscallError> {
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_2.map_fd = map.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_MAP_FREEZE, &mut attr, "BPF_MAP_FREEZE")?;
    Ok(())
}
