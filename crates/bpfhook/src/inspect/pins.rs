//! Pinning programs, maps and links on bpffs by id, removing pins, and listing them.
//!
//! Both directions check the filesystem first: a pin outside bpffs would fail in the kernel
//! with a bare EPERM, and unpinning is an unlink, which must never touch an ordinary file.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::holders::describe_fd;
use super::{c_name, open, InspectError};
use crate::sys::{self, LinkName, ObjectKind};

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

pub(crate) fn on_bpffs(path: &Path) -> Result<bool, InspectError> {
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

/// One pin found on bpffs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinInfo {
    pub path: PathBuf,
    /// `prog`, `map` or `link`, as bpftool names them.
    pub kind: &'static str,
    pub id: u32,
    /// The program's or map's name, or the link's type.
    pub name: String,
}

/// Every pin under `root` (a directory on bpffs), depth first in name order. Pins that vanish
/// while the walk runs are skipped.
pub fn list(root: &Path) -> Result<Vec<PinInfo>, InspectError> {
    if !on_bpffs(root)? {
        return Err(InspectError::NotBpffs(root.to_path_buf()));
    }
    let mut pins = Vec::new();
    walk(root, &mut pins)?;
    Ok(pins)
}

fn walk(dir: &Path, pins: &mut Vec<PinInfo>) -> Result<(), InspectError> {
    let io = |source| InspectError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, pins)?;
        } else if let Some(pin) = describe_pin(&path) {
            pins.push(pin);
        }
    }
    Ok(())
}

fn describe_pin(path: &Path) -> Option<PinInfo> {
    let fd = sys::obj_get(path).ok()?;
    let (kind, id) = describe_fd(fd.as_fd())?;
    let (kind, name) = match kind {
        ObjectKind::Program => (
            "prog",
            c_name(&sys::prog_info(fd.as_fd(), &mut [], &mut []).ok()?.name),
        ),
        ObjectKind::Map => ("map", c_name(&sys::map_info(fd.as_fd()).ok()?.name)),
        ObjectKind::Link => (
            "link",
            crate::names::link_type(
                sys::link_info(fd.as_fd(), LinkName::None, &mut [])
                    .ok()?
                    .type_,
            ),
        ),
        ObjectKind::Btf => return None,
    };
    Some(PinInfo {
        path: path.to_path_buf(),
        kind,
        id,
        name,
    })
}
