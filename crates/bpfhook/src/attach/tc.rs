//! TC classifiers on ingress or egress, through tcx links (Linux 6.6): several programs share
//! an interface without a qdisc, and closing the link leaves the interface as it was.

use std::os::fd::{BorrowedFd, OwnedFd};

use aya_obj::generated::bpf_attach_type;

use super::{ifindex, kernel_error, AttachError, AttachOptions, Target};
use crate::hook::Direction;
use crate::sys::{self, LinkTarget};

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
    })
}

/// A tcx link on the interface (Linux 6.6): no qdisc to add, and nothing left when it closes.
pub(super) fn attach(
    program: BorrowedFd<'_>,
    iface: &str,
    direction: Direction,
) -> Result<Vec<OwnedFd>, AttachError> {
    let attach_type = match direction {
        Direction::Ingress => bpf_attach_type::BPF_TCX_INGRESS,
        Direction::Egress => bpf_attach_type::BPF_TCX_EGRESS,
    };
    sys::link_create(
        program,
        LinkTarget::Ifindex(ifindex(iface)?),
        attach_type as u32,
        0,
    )
    .map(|link| vec![link])
    .map_err(|e| {
        let action = format!("attaching TC {} to {iface}", direction.as_str());
        match e.error.raw_os_error() {
            Some(libc::EINVAL) => AttachError::Kernel {
                action,
                source: e.error,
                hint:
                    " (TC programs attach through tcx links: does this kernel predate Linux 6.6?)",
            },
            _ => kernel_error(action, e.error),
        }
    })
}
