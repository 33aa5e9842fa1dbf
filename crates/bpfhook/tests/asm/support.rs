//! Shared helpers for the asm integration tests: guards that clean up after
//! themselves (temporary directories, bpffs pins) and thin bpf(2) wrappers
//! for what aya does not expose (test runs, opening pins made by bpftool).

#![allow(dead_code)] // each test binary uses a different subset

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// A name no other test (or parallel run) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A directory removed with everything in it when dropped; works for
/// scratch space and for bpffs pin directories alike.
pub struct DirGuard(pub PathBuf);

impl DirGuard {
    pub fn temp(prefix: &str) -> DirGuard {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&path).expect("create temp dir");
        DirGuard(path)
    }

    /// A path under /sys/fs/bpf that does not exist yet (bpftool creates it).
    pub fn bpffs(prefix: &str) -> DirGuard {
        DirGuard(Path::new("/sys/fs/bpf").join(unique_name(prefix)))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bpf(cmd: libc::c_long, attr: &mut [u64]) -> io::Result<libc::c_long> {
    // SAFETY: attr is a zero-initialised buffer at least as large as the
    // union bpf_attr fields this command reads, and lives across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr) as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Runs a loaded program once on `packet` with BPF_PROG_TEST_RUN and returns
/// the program's return value.
pub fn test_run(program: BorrowedFd<'_>, packet: &[u8]) -> io::Result<u32> {
    // struct { u32 prog_fd, retval, data_size_in, data_size_out; u64 data_in,
    // data_out; u32 repeat, duration; ... } within union bpf_attr.
    let mut attr = [0u64; 16];
    attr[0] = program.as_raw_fd() as u32 as u64;
    attr[1] = packet.len() as u64; // data_size_in (data_size_out stays 0)
    attr[2] = packet.as_ptr() as u64;
    attr[4] = 1; // repeat
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok((attr[0] >> 32) as u32) // retval, the high half of the first word
}

/// Opens a pinned program or map.
pub fn open_pin(path: &Path) -> io::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).expect("pin path");
    let mut attr = [0u64; 2];
    attr[0] = path.as_ptr() as u64;
    let fd = bpf(BPF_OBJ_GET, &mut attr)?;
    // SAFETY: BPF_OBJ_GET returned a new file descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Looks up `key` in a map and returns the value bytes.
pub fn map_lookup(map: BorrowedFd<'_>, key: &[u8], value_size: usize) -> io::Result<Vec<u8>> {
    let mut value = vec![0u8; value_size];
    let mut attr = [0u64; 4];
    attr[0] = map.as_raw_fd() as u32 as u64;
    attr[1] = key.as_ptr() as u64;
    attr[2] = value.as_mut_ptr() as u64;
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr)?;
    Ok(value)
}

/// A minimal Ethernet frame for XDP and socket-filter test runs.
pub fn packet() -> Vec<u8> {
    let mut frame = vec![0u8; 64];
    frame[12] = 0x08; // EtherType IPv4
    frame[14] = 0x45; // IPv4, 20-byte header
    frame
}

/// Whether a command can be run at all (clang, bpftool, llvm-objdump).
pub fn have(command: &str) -> bool {
    std::process::Command::new(command)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}
