//! Which processes hold an fd to a program, map or link: bpftool's `pids` field.
//!
//! bpftool asks a BPF iterator; we read /proc instead, which needs no program load. The fd's
//! link target (`anon_inode:bpf-prog`, `anon_inode:bpf-map`, `anon_inode:bpf_link`/`bpf-link`) says the
//! kind cheaply, and only those fds' fdinfo is read for the id. A link's fdinfo also names its
//! program (`prog_id:`), so the kind comes from the target, never from the fdinfo keys alone.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::sys::ObjectKind;

/// One process holding an fd to an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub pid: u32,
    pub comm: String,
}

/// Holders of every program, map and link, keyed by (kind, id); each process once per object.
#[derive(Debug, Default, Clone)]
pub struct Holders(HashMap<(Kind, u32), Vec<Holder>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Program,
    Map,
    Link,
}

impl Kind {
    fn from_object(kind: ObjectKind) -> Option<Kind> {
        match kind {
            ObjectKind::Program => Some(Kind::Program),
            ObjectKind::Map => Some(Kind::Map),
            ObjectKind::Link => Some(Kind::Link),
            ObjectKind::Btf => None,
        }
    }

    fn to_object(self) -> ObjectKind {
        match self {
            Kind::Program => ObjectKind::Program,
            Kind::Map => ObjectKind::Map,
            Kind::Link => ObjectKind::Link,
        }
    }

    fn from_fd_target(target: &[u8]) -> Option<(Kind, &'static str)> {
        match target {
            b"anon_inode:bpf-prog" => Some((Kind::Program, "prog_id:")),
            b"anon_inode:bpf-map" => Some((Kind::Map, "map_id:")),
            // A link made in the process is `bpf_link`; one opened by id or from a pin, `bpf-link`.
            b"anon_inode:bpf_link" | b"anon_inode:bpf-link" => Some((Kind::Link, "link_id:")),
            _ => None,
        }
    }
}

impl Holders {
    /// Scans every process, this one included (callers scan before opening fds of their own
    /// to look, so only fds this process really holds count). Processes that exit or hide
    /// their fds during the scan are skipped.
    pub fn scan() -> Holders {
        let mut holders = Holders::default();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return holders;
        };
        for entry in procs.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            holders.scan_process(pid, &entry.path());
        }
        holders
    }

    fn scan_process(&mut self, pid: u32, dir: &Path) {
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            return;
        };
        let mut comm: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let fdinfo = dir.join("fdinfo").join(fd.file_name());
            let Some((kind, id)) = kind_and_id(&target, &fdinfo) else {
                continue;
            };
            let comm = comm.get_or_insert_with(|| {
                std::fs::read_to_string(dir.join("comm"))
                    .map(|c| c.trim_end().to_owned())
                    .unwrap_or_default()
            });
            let list = self.0.entry((kind, id)).or_default();
            if !list.iter().any(|h| h.pid == pid) {
                list.push(Holder {
                    pid,
                    comm: comm.clone(),
                });
            }
        }
    }

    /// The processes holding this object, in pid order.
    pub fn of(&self, kind: ObjectKind, id: u32) -> Vec<Holder> {
        let mut list = Kind::from_object(kind)
            .and_then(|k| self.0.get(&(k, id)))
            .cloned()
            .unwrap_or_default();
        list.sort_by_key(|h| h.pid);
        list
    }
}

/// What a file descriptor of this process is: a program, map or link and its id, or None for
/// anything else (a perf event, a socket, a file).
pub fn describe_fd(fd: std::os::fd::BorrowedFd<'_>) -> Option<(ObjectKind, u32)> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    let target = std::fs::read_link(format!("/proc/self/fd/{raw}")).ok()?;
    let (kind, id) = kind_and_id(&target, Path::new(&format!("/proc/self/fdinfo/{raw}")))?;
    Some((kind.to_object(), id))
}

/// The kind from an fd's link target, the id from its fdinfo.
fn kind_and_id(target: &Path, fdinfo: &Path) -> Option<(Kind, u32)> {
    let (kind, key) = Kind::from_fd_target(target.as_os_str().as_encoded_bytes())?;
    let text = std::fs::read_to_string(fdinfo).ok()?;
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse::<u32>().ok())?;
    Some((kind, id))
}
