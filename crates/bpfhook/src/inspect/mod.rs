//! Inspecting what the kernel holds, whoever loaded it: programs, maps, links, pins, and the
//! run-time statistics behind `bpfhook top`. Everything here goes by kernel id, so it sees
//! objects of other processes as bpftool does.
//!
//! - [`progs`]: program info (bpftool's `prog show` fields) and translated instructions;
//! - [`maps`]: map info, entries, lookup/update/delete by id, keys and values read and written
//!   through the map's BTF;
//! - [`links`]: links and their targets (tracepoint, interface, cgroup…);
//! - [`holders`]: which processes hold an fd to an object;
//! - [`pins`]: pinning objects on bpffs and removing pins;
//! - [`stats`]: turning run-time statistics on, and per-program samples;
//! - and [`crate::names`] gives the kernel's enum values bpftool's names.

pub mod holders;
pub mod links;
pub mod maps;
pub mod pins;
pub mod progs;
pub mod stats;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use crate::sys::{self, ObjectKind, SyscallError};

pub use links::{list_links, LinkInfo};
pub use maps::{MapDump, MapEntryView, MapInfo};
pub use progs::{list_programs, program, ProgramInfo};

/// Everything that can go wrong while inspecting.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("no {} with id {id} is loaded", kind_name(*.kind))]
    NotFound { kind: ObjectKind, id: u32 },
    #[error("{what}")]
    Syscall {
        what: String,
        #[source]
        source: SyscallError,
    },
    #[error("malformed {what} `{text}`: {reason} (give hex bytes like `01 00 00 00` or `0x01000000`{})", if *.decimal_allowed { ", or a decimal number" } else { "" })]
    BadBytes {
        what: &'static str,
        text: String,
        reason: String,
        decimal_allowed: bool,
    },
    #[error("{what} has {got} bytes, but map {id} takes {expected}")]
    WrongSize {
        what: &'static str,
        id: u32,
        got: usize,
        expected: usize,
    },
    #[error("map {id} is a {map_type} map, whose entries cannot be read or written by key from user space")]
    NotKeyed { id: u32, map_type: String },
    #[error("key {key} is not in map {id}")]
    NoSuchKey { id: u32, key: String },
    #[error("{} is not on a bpf filesystem (mount one with `mount -t bpf bpf /sys/fs/bpf`)", .0.display())]
    NotBpffs(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot count CPUs: {0}")]
    Cpus(String),
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Program => "program",
        ObjectKind::Map => "map",
        ObjectKind::Link => "link",
        ObjectKind::Btf => "BTF object",
    }
}

/// An fd for the object with this id; a missing id is [`InspectError::NotFound`].
pub fn open(kind: ObjectKind, id: u32) -> Result<OwnedFd, InspectError> {
    sys::fd_by_id(kind, id).map_err(|source| {
        if source.error.raw_os_error() == Some(libc::ENOENT) {
            InspectError::NotFound { kind, id }
        } else {
            InspectError::Syscall {
                what: format!("opening {} {id}", kind_name(kind)),
                source,
            }
        }
    })
}

/// Every id of one kind, in ascending order.
pub fn ids(kind: ObjectKind) -> Result<Vec<u32>, InspectError> {
    let mut ids = Vec::new();
    let mut start = 0;
    while let Some(id) = sys::next_id(kind, start).map_err(|source| InspectError::Syscall {
        what: format!("listing {} ids", kind_name(kind)),
        source,
    })? {
        ids.push(id);
        start = id;
    }
    Ok(ids)
}

/// Wraps a failed info call on an object.
fn info_error(kind: ObjectKind, id: u32) -> impl FnOnce(SyscallError) -> InspectError {
    move |source| InspectError::Syscall {
        what: format!("reading the info of {} {id}", kind_name(kind)),
        source,
    }
}

/// A NUL-padded C name from an info struct.
fn c_name(raw: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `memlock:` line of an fd's fdinfo, as bpftool reports it (0 if absent). fdinfo is a
/// few hundred bytes, so one read into a stack buffer does, where `read_to_string` would stat
/// and read repeatedly: this runs once per object in a listing.
fn memlock(fd: &OwnedFd) -> u64 {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let Ok(mut file) = std::fs::File::open(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())) else {
        return 0;
    };
    let mut buffer = [0u8; 1024];
    let Ok(len) = file.read(&mut buffer) else {
        return 0;
    };
    std::str::from_utf8(&buffer[..len])
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("memlock:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}
