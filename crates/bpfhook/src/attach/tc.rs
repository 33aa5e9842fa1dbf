//! TC classifiers on ingress or egress. Kernels with TCX (6.6+) take a bpf_link, which goes away
//! with the program; older kernels need the clsact qdisc, which is added when missing.

use aya::programs::tc::{self, SchedClassifier, TcAttachType};
use aya::programs::Program;
use aya::util::KernelVersion;

use super::{ifindex, kernel_error, load_error, typed, AttachError, AttachOptions, Target};
use crate::hook::Direction;

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

pub(super) fn attach(
    program: &mut Program,
    iface: &str,
    direction: Direction,
) -> Result<(), AttachError> {
    let p: &mut SchedClassifier = typed(program, "tc classifier")?;
    p.load().map_err(load_error)?;
    // aya picks TCX by the same version test; without TCX the netlink path needs clsact.
    let has_tcx = KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(6, 6, 0));
    if !has_tcx {
        if let Err(e) = tc::qdisc_add_clsact(iface) {
            let exists = matches!(&e, tc::TcError::NetlinkError(n) if n.raw_os_error() == Some(libc::EEXIST));
            if !exists {
                return Err(kernel_error(
                    format!("adding the clsact qdisc to {iface}"),
                    e.into(),
                ));
            }
        }
    }
    let attach_type = match direction {
        Direction::Ingress => TcAttachType::Ingress,
        Direction::Egress => TcAttachType::Egress,
    };
    p.attach(iface, attach_type)
        .map_err(|e| kernel_error(format!("attaching TC {} to {iface}", direction.as_str()), e))?;
    Ok(())
}
