//! Links and what they attach to: `bpfhook link list`, and the attach points of `prog show`.
//!
//! The kernel's link info is a union chosen by the link type, so a link is read twice when it
//! carries a name (tracepoint, kprobe function, uprobe file): once for its type, once with a
//! buffer in the member that type uses.

use crate::names;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::holders::{Holder, Holders};
use super::{ids, info_error, open, InspectError};
use crate::sys::{self, bpf_link_info, LinkName, ObjectKind};

const LINK_RAW_TRACEPOINT: u32 = 1;
const LINK_TRACING: u32 = 2;
const LINK_CGROUP: u32 = 3;
const LINK_ITER: u32 = 4;
const LINK_NETNS: u32 = 5;
const LINK_XDP: u32 = 6;
const LINK_PERF_EVENT: u32 = 7;
const LINK_STRUCT_OPS: u32 = 9;
const LINK_NETFILTER: u32 = 10;
const LINK_TCX: u32 = 11;
const LINK_NETKIT: u32 = 13;

/// Perf event types whose link info carries a name (`enum bpf_perf_event_type`).
const PERF_NAMED: std::ops::RangeInclusive<u32> = 1..=5;

/// One link. Target fields are present only for the link types that have them; `target` sums
/// them up in one line of text.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkInfo {
    pub id: u32,
    #[serde(rename = "type")]
    pub link_type: String,
    pub prog_id: u32,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tp_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub func: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifindex: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns_ino: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_obj_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_btf_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prio: Option<i32>,
    pub pids: Vec<Holder>,
}

/// Every link the kernel holds, in id order. Links that go away during the listing are skipped.
pub fn list_links() -> Result<Vec<LinkInfo>, InspectError> {
    list_links_with(&Holders::scan())
}

/// Every link, with holders from a scan the caller already made.
pub(crate) fn list_links_with(holders: &Holders) -> Result<Vec<LinkInfo>, InspectError> {
    let mut links = Vec::new();
    for id in ids(ObjectKind::Link)? {
        match link_with(id, holders) {
            Ok(link) => links.push(link),
            Err(InspectError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(links)
}

/// One link by id.
pub fn link(id: u32) -> Result<LinkInfo, InspectError> {
    link_with(id, &Holders::scan())
}

fn link_with(id: u32, holders: &Holders) -> Result<LinkInfo, InspectError> {
    let fd = open(ObjectKind::Link, id)?;
    let fd = fd.as_fd();
    let bare =
        sys::link_info(fd, LinkName::None, &mut []).map_err(info_error(ObjectKind::Link, id))?;
    let name_kind = match bare.type_ {
        LINK_RAW_TRACEPOINT => LinkName::RawTracepoint,
        // SAFETY: perf_event is the union member the kernel filled for perf_event links.
        LINK_PERF_EVENT
            if PERF_NAMED.contains(&unsafe { bare.__bindgen_anon_1.perf_event.type_ }) =>
        {
            LinkName::PerfEvent
        }
        _ => LinkName::None,
    };
    let mut buffer = vec![0u8; 4096];
    let info = if name_kind == LinkName::None {
        bare
    } else {
        sys::link_info(fd, name_kind, &mut buffer).map_err(info_error(ObjectKind::Link, id))?
    };
    let name = nul_terminated(&buffer);
    let mut link = LinkInfo {
        id: info.id,
        link_type: names::link_type(info.type_),
        prog_id: info.prog_id,
        pids: holders.of(ObjectKind::Link, id),
        ..LinkInfo::default()
    };
    describe_target(&mut link, &info, name);
    Ok(link)
}

fn nul_terminated(buffer: &[u8]) -> String {
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// Fills the type-specific fields and the one-line `target`.
fn describe_target(link: &mut LinkInfo, info: &bpf_link_info, name: String) {
    let u = &info.__bindgen_anon_1;
    // Every union read below takes the member the kernel fills for `info.type_`, which each
    // arm matches on; all members are plain integers.
    match info.type_ {
        LINK_RAW_TRACEPOINT => {
            link.target = format!("raw_tracepoint {name}");
            link.tp_name = Some(name);
        }
        LINK_TRACING => {
            // SAFETY: the union member the kernel fills for this link type.
            let t = unsafe { u.tracing };
            let attach = names::attach_type(t.attach_type);
            link.target = format!(
                "{attach} btf_id {} (BTF object {})",
                t.target_btf_id, t.target_obj_id
            );
            link.attach_type = Some(attach);
            link.target_obj_id = Some(t.target_obj_id);
            link.target_btf_id = Some(t.target_btf_id);
        }
        LINK_CGROUP => {
            // SAFETY: the union member the kernel fills for this link type.
            let c = unsafe { u.cgroup };
            let attach = names::attach_type(c.attach_type);
            let path = cgroup_path(c.cgroup_id);
            link.target = match &path {
                Some(p) => format!("{attach} cgroup {} ({p})", c.cgroup_id),
                None => format!("{attach} cgroup {}", c.cgroup_id),
            };
            link.attach_type = Some(attach);
            link.cgroup_id = Some(c.cgroup_id);
            link.cgroup_path = path;
        }
        LINK_ITER => link.target = "iterator".to_owned(),
        LINK_NETNS => {
            // SAFETY: the union member the kernel fills for this link type.
            let n = unsafe { u.netns };
            let attach = names::attach_type(n.attach_type);
            link.target = format!("{attach} netns inode {}", n.netns_ino);
            link.attach_type = Some(attach);
            link.netns_ino = Some(n.netns_ino);
        }
        LINK_XDP => {
            // SAFETY: the union member the kernel fills for this link type.
            let ifindex = unsafe { u.xdp.ifindex };
            set_interface(link, ifindex, "xdp".to_owned());
        }
        LINK_TCX | LINK_NETKIT => {
            // SAFETY: the union member the kernel fills for this link type.
            let t = unsafe { u.tcx };
            set_interface(link, t.ifindex, names::attach_type(t.attach_type));
        }
        LINK_PERF_EVENT => {
            // SAFETY: the union member the kernel fills for this link type.
            let p = unsafe { u.perf_event };
            let event = names::perf_event_type(p.type_);
            link.event_type = Some(event);
            match p.type_ {
                1 | 2 => {
                    // SAFETY: the union member the kernel fills for this link type.
                    let offset = unsafe { p.__bindgen_anon_1.uprobe.offset };
                    link.target = format!("{event} {name}+{offset:#x}");
                    link.file = Some(name);
                    link.offset = Some(offset);
                }
                3 | 4 => {
                    // SAFETY: the union member the kernel fills for this link type.
                    let offset = unsafe { p.__bindgen_anon_1.kprobe.offset };
                    link.target = if offset == 0 {
                        format!("{event} {name}")
                    } else {
                        format!("{event} {name}+{offset:#x}")
                    };
                    link.func = Some(name);
                    link.offset = Some(offset);
                }
                5 => {
                    link.target = format!("tracepoint {name}");
                    link.tp_name = Some(name);
                }
                _ => {
                    // SAFETY: the union member the kernel fills for this link type.
                    let e = unsafe { p.__bindgen_anon_1.event };
                    link.target = format!("perf event type {} config {:#x}", e.type_, e.config);
                }
            }
        }
        LINK_STRUCT_OPS => {
            // SAFETY: the union member the kernel fills for this link type.
            let map_id = unsafe { u.struct_ops.map_id };
            link.target = format!("struct_ops map {map_id}");
            link.map_id = Some(map_id);
        }
        LINK_NETFILTER => {
            // SAFETY: the union member the kernel fills for this link type.
            let n = unsafe { u.netfilter };
            let (pf, hook) = (names::nf_family(n.pf), names::nf_hook(n.hooknum));
            link.target = format!("netfilter {pf} {hook} prio {}", n.priority);
            link.pf = Some(pf);
            link.hook = Some(hook);
            link.prio = Some(n.priority);
        }
        _ => link.target = link.link_type.clone(),
    }
}

fn set_interface(link: &mut LinkInfo, ifindex: u32, attach: String) {
    let devname = interface_name(ifindex);
    link.target = match &devname {
        Some(dev) => format!("{attach} {dev} (ifindex {ifindex})"),
        None => format!("{attach} ifindex {ifindex}"),
    };
    link.attach_type = Some(attach);
    link.ifindex = Some(ifindex);
    link.devname = devname;
}

/// The interface name for an index in this network namespace.
fn interface_name(ifindex: u32) -> Option<String> {
    let mut buffer = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer is IF_NAMESIZE bytes, as if_indextoname requires.
    let ret = unsafe { libc::if_indextoname(ifindex, buffer.as_mut_ptr()) };
    (!ret.is_null()).then(|| super::c_name(&buffer))
}

/// A cgroup v2 id is the inode number of its directory, so the path is found by walking the
/// hierarchy (breadth first: links mostly sit near the root).
fn cgroup_path(cgroup_id: u64) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let root = crate::kernel::cgroup::cgroup2_root().ok()?;
    let mut queue: std::collections::VecDeque<PathBuf> = [root.clone()].into();
    let mut visited = 0usize;
    while let Some(dir) = queue.pop_front() {
        visited += 1;
        if visited > 100_000 {
            break;
        }
        if std::fs::metadata(&dir).is_ok_and(|m| m.ino() == cgroup_id) {
            return Some(display_cgroup(&root, &dir));
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        queue.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path()),
        );
    }
    None
}

fn display_cgroup(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root)
        .map(|rel| format!("/{}", rel.display()))
        .unwrap_or_else(|_| dir.display().to_string())
}
