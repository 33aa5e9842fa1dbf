//! Pinning programs, maps and links on bpffs by id, and removing pins.
//!
//! Both directions check the filesystem first: a pin outside bpffs would fail in the kernel
//! with a bare EPERM, and unpinning is an unlink, which must never touch an ordinary file.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::{open, InspectError};
use crate::sys::{self, ObjectKind};

/// `BPF_FS_MAGIC` from linux/magic.h.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Pins the object of this kind and id at `path`, whose directory must be on a bpffs.
pub fn pin(kind: ObjectKind, id: u32, path: &Path) -> Result<(), InspectError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !on_bpffs(&parent)? {
        return Err(InspectError::NotBpffs(path.to_path_buf()));
    }
    let fd = open(kind, id)?;
    sys::obj_pin(fd.as_fd(), path).map_err(|source| InspectError::Syscall {
        what: format!("pinning at {}", path.display()),
        source,
    })
}

/// Removes a pin (the file only; the object lives on while anything else holds it).
pub fn unpin(path: &Path) -> Result<(), InspectError> {
    if !on_bpffs(path)? {
        return Err(InspectError::NotBpffs(path.to_path_buf()));
    }
    std::fs::remove_file(path).map_err(|source| InspectError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn on_bpffs(path: &Path) -> Result<bool, InspectError> {
    let io = |source| InspectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "path contains a NUL byte",
        ))
    })?;
    // SAFETY: statfs is plain data; all-zero is a valid value for the kernel to overwrite.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and `fs` is a valid statfs to fill.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut fs) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    Ok(fs.f_type as i64 == BPF_FS_MAGIC)
}
