//! TC classifiers on ingress or egress. Where the kernel has tcx (Linux 6.6), a tcx link: no
//! qdisc, and closing the link leaves the interface as it was. Older kernels (or
//! `--tc-mode netlink`) get a direct-action cls_bpf filter on a clsact qdisc over rtnetlink,
//! removed on drop with the qdisc if we added it and nothing else hangs on it.

use std::collections::BTreeSet;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::{Mutex, PoisonError};

use aya_obj::generated::bpf_attach_type;

use super::{ifindex, kernel_error, AttachError, AttachOptions, Attachment, Target};
use crate::hook::Direction;
use crate::sys::netlink::{self, TcFilter, TC_EGRESS, TC_INGRESS};
use crate::sys::{self, LinkTarget};

/// How TC programs attach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TcMode {
    /// A tcx link where the kernel has them, else a netlink filter.
    #[default]
    Auto,
    /// A tcx link only.
    Tcx,
    /// A cls_bpf filter on the clsact qdisc, as `tc filter add … bpf da` makes.
    Netlink,
}

impl TcMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "tcx" => Some(Self::Tcx),
            "netlink" | "legacy" | "clsact" => Some(Self::Netlink),
            _ => None,
        }
    }
}

pub(super) fn resolve(
    section_direction: Option<Direction>,
    opts: &AttachOptions,
) -> Result<Target, AttachError> {
    let iface = opts.iface.clone().ok_or(AttachError::NeedsOption {
        hook: "tc".to_owned(),
        option: "an interface: --iface NAME",
    })?;
    ifindex(&iface)?;
    Ok(Target::Tc {
        iface,
        direction: section_direction
            .or(opts.direction)
            .unwrap_or(Direction::Ingress),
        mode: opts.tc_mode,
    })
}

pub(super) fn attach(
    program: BorrowedFd<'_>,
    name: &str,
    iface: &str,
    direction: Direction,
    mode: TcMode,
) -> Result<Attachment, AttachError> {
    let index = ifindex(iface)?;
    let action = || format!("attaching TC {} to {iface}", direction.as_str());
    if mode != TcMode::Netlink {
        match tcx_link(program, index, direction) {
            Ok(link) => return Ok(Attachment::Fd(link)),
            // EINVAL for an attach type the kernel does not know: no tcx before 6.6.
            Err(e) if mode == TcMode::Auto && e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(kernel_error(action(), e)),
        }
    }
    LegacyTcFilter::add(program, name, index, direction)
        .map(Attachment::TcFilter)
        .map_err(|e| kernel_error(format!("{} (clsact qdisc, netlink)", action()), e))
}

fn tcx_link(
    program: BorrowedFd<'_>,
    ifindex: u32,
    direction: Direction,
) -> std::io::Result<OwnedFd> {
    let attach_type = match direction {
        Direction::Ingress => bpf_attach_type::BPF_TCX_INGRESS,
        Direction::Egress => bpf_attach_type::BPF_TCX_EGRESS,
    };
    sys::link_create(program, LinkTarget::Ifindex(ifindex), attach_type as u32, 0)
        .map_err(|e| e.error)
}

/// A cls_bpf filter we added; dropping it deletes the filter, and the clsact qdisc when this
/// process created it and no filter (ours or anyone's) remains on it.
#[derive(Debug)]
pub struct LegacyTcFilter {
    filter: TcFilter,
}

/// Interfaces whose clsact qdisc this process added (another program of ours may add its
/// filter to the qdisc the first one created; the last one out removes it).
static CREATED_QDISCS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

impl LegacyTcFilter {
    fn add(
        program: BorrowedFd<'_>,
        name: &str,
        ifindex: u32,
        direction: Direction,
    ) -> std::io::Result<Self> {
        if netlink::clsact_add(ifindex)? {
            created_qdiscs().insert(ifindex);
        }
        let parent = match direction {
            Direction::Ingress => TC_INGRESS,
            Direction::Egress => TC_EGRESS,
        };
        let added = netlink::bpf_filter_add(ifindex, parent, program, name);
        if added.is_err() {
            remove_qdisc_if_unused(ifindex);
        }
        added.map(|filter| Self { filter })
    }
}

impl Drop for LegacyTcFilter {
    fn drop(&mut self) {
        // Nothing to report to: the interface may be gone already, taking the filter with it.
        let _ = netlink::filter_del(&self.filter);
        remove_qdisc_if_unused(self.filter.ifindex);
    }
}

fn created_qdiscs() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    CREATED_QDISCS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Removes the clsact qdisc if this process created it and it holds no filter.
fn remove_qdisc_if_unused(ifindex: u32) {
    let mut created = created_qdiscs();
    if !created.contains(&ifindex) {
        return;
    }
    let in_use = [TC_INGRESS, TC_EGRESS]
        .iter()
        .any(|&parent| netlink::filter_count(ifindex, parent).map_or(true, |n| n > 0));
    if !in_use {
        let _ = netlink::clsact_del(ifindex);
        created.remove(&ifindex);
    }
}
