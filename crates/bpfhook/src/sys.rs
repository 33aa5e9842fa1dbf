//! The one place bpfhook calls the `bpf(2)` syscall itself, for what aya does not expose:
//! byte-level map access (any key/value size), feature-probe program loads, opening pins and
//! test runs.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use aya_obj::generated::{bpf_attr, bpf_cmd};

/// A failed bpf(2) call: which command, and the kernel's errno.
#[derive(Debug, thiserror::Error)]
#[error("bpf({call}): {error}")]
pub struct SyscallError {
    pub call: &'static str,
    #[source]
    pub error: io::Error,
}

fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr, call: &'static str) -> Result<i64, SyscallError> {
    // SAFETY: `attr` is a valid, fully initialised bpf_attr and its size is passed along.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if ret < 0 {
        Err(SyscallError {
            call,
            error: io::Error::last_os_error(),
        })
    } else {
        Ok(ret)
    }
}

fn zeroed_attr() -> bpf_attr {
    // SAFETY: bpf_attr is a plain C union; all-zero is its documented "unset" value.
    unsafe { std::mem::zeroed() }
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key when `key` is None), or None at the end.
pub fn map_next_key(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> Result<bool, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the map_elem member of the union.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.map_or(0, |k| k.as_ptr() as u64);
        elem.__bindgen_anon_1.next_key = next.as_mut_ptr() as u64;
    }
    match bpf(
        bpf_cmd::BPF_MAP_GET_NEXT_KEY,
        &mut attr,
        "BPF_MAP_GET_NEXT_KEY",
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_LOOKUP_ELEM` into `value` (sized for per-CPU maps by the caller); false if absent.
pub fn map_lookup(map: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> Result<bool, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: as above.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
        elem.__bindgen_anon_1.value = value.as_mut_ptr() as u64;
    }
    match bpf(
        bpf_cmd::BPF_MAP_LOOKUP_ELEM,
        &mut attr,
        "BPF_MAP_LOOKUP_ELEM",
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A minimal program for a feature probe.
pub struct ProbeProgram<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub attach_btf_id: u32,
    pub insns: &'a [u64],
}

/// `BPF_PROG_LOAD` of a probe program; the fd is closed when dropped.
pub fn prog_load(probe: &ProbeProgram<'_>) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the prog_load member; the pointers outlive the call.
    unsafe {
        let load = &mut attr.__bindgen_anon_3;
        load.prog_type = probe.prog_type;
        load.expected_attach_type = probe.expected_attach_type;
        load.attach_btf_id = probe.attach_btf_id;
        load.insns = probe.insns.as_ptr() as u64;
        load.insn_cnt = probe.insns.len() as u32;
        load.license = c"GPL".as_ptr() as u64;
    }
    let fd = bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr, "BPF_PROG_LOAD")?;
    // SAFETY: on success BPF_PROG_LOAD returns a new file descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `BPF_OBJ_GET`: opens a pinned program, map or link.
pub fn obj_get(path: &Path) -> Result<OwnedFd, SyscallError> {
    let path =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SyscallError {
            call: "BPF_OBJ_GET",
            error: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
        })?;
    let mut attr = zeroed_attr();
    // `path` outlives the call.
    attr.__bindgen_anon_4.pathname = path.as_ptr() as u64;
    let fd = bpf(bpf_cmd::BPF_OBJ_GET, &mut attr, "BPF_OBJ_GET")?;
    // SAFETY: on success BPF_OBJ_GET returns a new file descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `BPF_PROG_TEST_RUN` once on `data`; returns the program's return value.
pub fn prog_test_run(program: BorrowedFd<'_>, data: &[u8]) -> Result<u32, SyscallError> {
    let mut attr = zeroed_attr();
    // `data` outlives the call.
    attr.test.prog_fd = program.as_raw_fd() as u32;
    attr.test.data_in = data.as_ptr() as u64;
    attr.test.data_size_in = data.len() as u32;
    attr.test.repeat = 1;
    bpf(bpf_cmd::BPF_PROG_TEST_RUN, &mut attr, "BPF_PROG_TEST_RUN")?;
    // SAFETY: the kernel filled in retval.
    Ok(unsafe { attr.test.retval })
}

/// `BPF_MAP_UPDATE_ELEM` of `key` → `value` with `flags` (`BPF_ANY` is 0).
pub fn map_update(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> Result<(), SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the map_elem member; the buffers outlive the call.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
        elem.__bindgen_anon_1.value = value.as_ptr() as u64;
        elem.flags = flags;
    }
    bpf(
        bpf_cmd::BPF_MAP_UPDATE_ELEM,
        &mut attr,
        "BPF_MAP_UPDATE_ELEM",
    )?;
    Ok(())
}
