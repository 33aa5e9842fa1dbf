//! cgroup hooks (sockops, cgroup_skb, `cgroup/*`) on a cgroup v2 directory, and the network
//! namespace hooks (sk_lookup, flow_dissector) on this process's namespace. All use bpf_links,
//! which coexist with programs others attached (a link takes no ALLOW_MULTI flag: passing one
//! is EINVAL).

use std::fs::File;
use std::path::{Path, PathBuf};

use aya::programs::cgroup_skb::CgroupSkbAttachType;
use aya::programs::{
    CgroupAttachMode, CgroupDevice, CgroupSkb, CgroupSock, CgroupSockAddr, CgroupSockopt,
    CgroupSysctl, FlowDissector, Program, SkLookup, SockOps,
};

use super::{kernel_error, load_error, typed, AttachError, AttachOptions, Target};
use crate::hook::{Direction, Hook};
use crate::kernel::cgroup::cgroup2_root;

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

pub(super) fn attach(program: &mut Program, hook: &Hook, path: &Path) -> Result<(), AttachError> {
    let cgroup = open(path)?;
    let mode = CgroupAttachMode::default();
    let attaching = |e| kernel_error(format!("attaching {hook} to cgroup {}", path.display()), e);
    match hook {
        Hook::SockOps => {
            let p: &mut SockOps = typed(program, "sockops")?;
            p.load().map_err(load_error)?;
            p.attach(&cgroup, mode).map_err(attaching)?;
        }
        Hook::CgroupSkb { direction } => {
            let p: &mut CgroupSkb = typed(program, "cgroup_skb")?;
            p.load().map_err(load_error)?;
            let attach_type = match direction {
                Some(Direction::Egress) => CgroupSkbAttachType::Egress,
                _ => CgroupSkbAttachType::Ingress,
            };
            p.attach(&cgroup, attach_type, mode).map_err(attaching)?;
        }
        Hook::Cgroup { attach_point } => match *attach_point {
            "sysctl" => {
                let p: &mut CgroupSysctl = typed(program, "cgroup/sysctl")?;
                p.load().map_err(load_error)?;
                p.attach(&cgroup, mode).map_err(attaching)?;
            }
            "getsockopt" | "setsockopt" => {
                let p: &mut CgroupSockopt = typed(program, "cgroup sockopt")?;
                p.load().map_err(load_error)?;
                p.attach(&cgroup, mode).map_err(attaching)?;
            }
            "dev" => {
                let p: &mut CgroupDevice = typed(program, "cgroup/dev")?;
                p.load().map_err(load_error)?;
                p.attach(&cgroup, mode).map_err(attaching)?;
            }
            "sock" | "sock_create" | "sock_release" | "post_bind4" | "post_bind6" => {
                let p: &mut CgroupSock = typed(program, "cgroup sock")?;
                p.load().map_err(load_error)?;
                p.attach(&cgroup, mode).map_err(attaching)?;
            }
            _ => {
                let p: &mut CgroupSockAddr = typed(program, "cgroup sock_addr")?;
                p.load().map_err(load_error)?;
                p.attach(&cgroup, mode).map_err(attaching)?;
            }
        },
        other => unreachable!("cgroup::attach called for {other}"),
    }
    Ok(())
}

fn open(path: &Path) -> Result<File, AttachError> {
    File::open(path).map_err(|error| AttachError::Io {
        action: format!("opening cgroup {}", path.display()),
        error,
    })
}

/// sk_lookup and flow_dissector attach to the network namespace this process runs in.
pub(super) fn attach_netns(program: &mut Program) -> Result<(), AttachError> {
    let netns_path = PathBuf::from("/proc/self/ns/net");
    let netns = File::open(&netns_path).map_err(|error| AttachError::Io {
        action: "opening /proc/self/ns/net".to_owned(),
        error,
    })?;
    let attaching = |e| kernel_error("attaching to this network namespace", e);
    match program {
        Program::SkLookup(_) => {
            let p: &mut SkLookup = typed(program, "sk_lookup")?;
            p.load().map_err(load_error)?;
            p.attach(&netns).map_err(attaching)?;
        }
        _ => {
            let p: &mut FlowDissector = typed(program, "flow_dissector")?;
            p.load().map_err(load_error)?;
            p.attach(&netns).map_err(attaching)?;
        }
    }
    Ok(())
}
