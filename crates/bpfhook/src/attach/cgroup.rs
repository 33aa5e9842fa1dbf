//! cgroup hooks (sockops, cgroup_skb, `cgroup/*`) on a cgroup v2 directory, and the network
//! namespace hooks (sk_lookup, flow_dissector) on this process's namespace. All use bpf_links,
//! which coexist with programs others attached (a link takes no ALLOW_MULTI flag: passing one
//! is EINVAL).

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use aya_obj::generated::bpf_attach_type;
use aya_obj::ProgramSection;

use super::{kernel_error, AttachError, AttachOptions, Target};
use crate::hook::{Direction, Hook};
use crate::kernel::cgroup::cgroup2_root;
use crate::loader::kind_of;
use crate::sys::{self, LinkTarget};

pub(super) fn resolve(hook: &Hook, opts: &AttachOptions) -> Result<Target, AttachError> {
    let path = match &opts.cgroup {
        Some(path) => path.clone(),
        None => cgroup2_root().map_err(|e| AttachError::Missing {
            what: "cgroup v2 hierarchy",
            name: "/proc/mounts".to_owned(),
            hint: format!(": {e}"),
        })?,
    };
    if !path.join("cgroup.procs").is_file() {
        return Err(AttachError::Missing {
            what: "cgroup v2 directory",
            name: path.display().to_string(),
            hint: " (pass a directory under the cgroup2 mount with --cgroup)".to_owned(),
        });
    }
    // `cgroup/skb` leaves the direction to options.
    let hook = match hook {
        Hook::CgroupSkb { direction: None } => Hook::CgroupSkb {
            direction: Some(opts.direction.unwrap_or(Direction::Ingress)),
        },
        other => other.clone(),
    };
    Ok(Target::Cgroup { hook, path })
}

/// A cgroup link. The attach type is the one the program was loaded for (`cgroup/connect4`…),
/// or the direction for cgroup_skb, or the hook's only one.
pub(super) fn attach(
    program: BorrowedFd<'_>,
    section: &ProgramSection,
    hook: &Hook,
    path: &Path,
) -> Result<Vec<OwnedFd>, AttachError> {
    let attach_type = match hook {
        Hook::SockOps => bpf_attach_type::BPF_CGROUP_SOCK_OPS,
        Hook::CgroupSkb {
            direction: Some(Direction::Egress),
        } => bpf_attach_type::BPF_CGROUP_INET_EGRESS,
        Hook::CgroupSkb { .. } => bpf_attach_type::BPF_CGROUP_INET_INGRESS,
        Hook::Cgroup { attach_point } => match (*attach_point, kind_of(section)) {
            ("sysctl", _) => bpf_attach_type::BPF_CGROUP_SYSCTL,
            ("dev", _) => bpf_attach_type::BPF_CGROUP_DEVICE,
            (_, kind) => kind
                .expected_attach_type
                .ok_or_else(|| AttachError::NeedsOption {
                    hook: hook.to_string(),
                    option: "an attach point the section names, e.g. cgroup/connect4",
                })?,
        },
        other => unreachable!("cgroup::attach called for {other}"),
    };
    let cgroup = File::open(path).map_err(|error| AttachError::Io {
        action: format!("opening cgroup {}", path.display()),
        error,
    })?;
    link(
        program,
        cgroup.as_fd(),
        attach_type,
        &format!("attaching {hook} to cgroup {}", path.display()),
    )
}

/// sk_lookup and flow_dissector: a link on this process's network namespace.
pub(super) fn attach_netns(
    program: BorrowedFd<'_>,
    kind: &str,
) -> Result<Vec<OwnedFd>, AttachError> {
    let netns = File::open("/proc/self/ns/net").map_err(|error| AttachError::Io {
        action: "opening /proc/self/ns/net".to_owned(),
        error,
    })?;
    let attach_type = if kind == "sk_lookup" {
        bpf_attach_type::BPF_SK_LOOKUP
    } else {
        bpf_attach_type::BPF_FLOW_DISSECTOR
    };
    link(
        program,
        netns.as_fd(),
        attach_type,
        "attaching to this network namespace",
    )
}

fn link(
    program: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: bpf_attach_type,
    action: &str,
) -> Result<Vec<OwnedFd>, AttachError> {
    sys::link_create(program, LinkTarget::Fd(target), attach_type as u32, 0)
        .map(|link| vec![link])
        .map_err(|e| kernel_error(action, e.error))
}
