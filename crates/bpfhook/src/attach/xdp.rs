//! XDP: attach to an interface in native, generic or kernel-chosen mode, through a bpf link
//! (Linux 5.9), so the program leaves the interface when the link closes, even if we crash.

use std::os::fd::{BorrowedFd, OwnedFd};

use aya_obj::generated::bpf_attach_type;

use super::{ifindex, kernel_error, AttachError, AttachOptions, Target, XdpMode};
use crate::sys::{self, LinkTarget};

const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

pub(super) fn resolve(opts: &AttachOptions) -> Result<Target, AttachError> {
    let iface = opts.iface.clone().ok_or(AttachError::NeedsOption {
        hook: "xdp".to_owned(),
        option: "an interface: --iface NAME",
    })?;
    ifindex(&iface)?;
    Ok(Target::Xdp {
        iface,
        mode: opts.xdp_mode,
    })
}

/// An XDP link on the interface (Linux 5.9).
pub(super) fn attach(
    program: BorrowedFd<'_>,
    iface: &str,
    mode: XdpMode,
) -> Result<Vec<OwnedFd>, AttachError> {
    let (flags, hint) = match mode {
        XdpMode::Auto => (0, ""),
        XdpMode::Native => (
            XDP_FLAGS_DRV_MODE,
            " (if the driver lacks native XDP, try --xdp-mode generic)",
        ),
        XdpMode::Generic => (XDP_FLAGS_SKB_MODE, ""),
    };
    sys::link_create(
        program,
        LinkTarget::Ifindex(ifindex(iface)?),
        bpf_attach_type::BPF_XDP as u32,
        flags,
    )
    .map(|link| vec![link])
    .map_err(|e| kernel_error(format!("attaching XDP to {iface}{hint}"), e.error))
}
