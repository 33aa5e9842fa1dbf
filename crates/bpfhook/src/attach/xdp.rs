//! XDP: attach to an interface in native, generic or kernel-chosen mode. aya uses a bpf_link
//! where the kernel has one (dropped with the program) and netlink otherwise.

use aya::programs::{Program, Xdp};

use super::{
    ifindex, kernel_error, load_error, typed, AttachError, AttachOptions, Target, XdpMode,
};

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

pub(super) fn attach(program: &mut Program, iface: &str, mode: XdpMode) -> Result<(), AttachError> {
    let p: &mut Xdp = typed(program, "xdp")?;
    p.load().map_err(load_error)?;
    let aya_mode = match mode {
        XdpMode::Auto => aya::programs::xdp::XdpMode::Default,
        XdpMode::Native => aya::programs::xdp::XdpMode::Driver,
        XdpMode::Generic => aya::programs::xdp::XdpMode::Skb,
    };
    let hint = match mode {
        XdpMode::Native => " (if the driver lacks native XDP, try --xdp-mode generic)",
        _ => "",
    };
    p.attach(iface, aya_mode)
        .map_err(|e| kernel_error(format!("attaching XDP to {iface}{hint}"), e))?;
    Ok(())
}
