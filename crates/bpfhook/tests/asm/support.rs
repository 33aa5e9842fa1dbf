//! Shared helpers for the asm integration tests: bpffs pin paths that clean up
//! after themselves, and io::Result adapters over
//! `bpfhook::sys` (test runs, opening pins made by bpftool, map lookups).

#![allow(dead_code)] // each test binary uses a different subset

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

pub use bpfhook_testkit::unique_name;

/// Scratch directories and bpffs pin paths, removed when dropped.
pub use bpfhook_testkit::TempPath;

/// A path under /sys/fs/bpf that does not exist yet (bpftool creates it).
pub fn bpffs_path(prefix: &str) -> TempPath {
    TempPath::claim(Path::new("/sys/fs/bpf").join(unique_name(prefix)))
}

/// Runs the program once on `packet` (BPF_PROG_TEST_RUN) and returns its return value.
pub fn test_run(program: BorrowedFd<'_>, packet: &[u8]) -> io::Result<u32> {
    bpfhook::sys::prog_test_run(program, packet).map_err(|e| e.error)
}

/// Opens a pinned program or map.
pub fn open_pin(path: &Path) -> io::Result<OwnedFd> {
    bpfhook::sys::obj_get(path).map_err(|e| e.error)
}

/// Looks up `key` in a map and returns the value bytes.
pub fn map_lookup(map: BorrowedFd<'_>, key: &[u8], value_size: usize) -> io::Result<Vec<u8>> {
    let mut value = vec![0u8; value_size];
    match bpfhook::sys::map_lookup(map, key, &mut value) {
        Ok(true) => Ok(value),
        Ok(false) => Err(io::Error::from(io::ErrorKind::NotFound)),
        Err(e) => Err(e.error),
    }
}

/// A minimal Ethernet frame for XDP and socket-filter test runs.
pub fn packet() -> Vec<u8> {
    let mut frame = vec![0u8; 64];
    frame[12] = 0x08; // EtherType IPv4
    frame[14] = 0x45; // IPv4, 20-byte header
    frame
}
