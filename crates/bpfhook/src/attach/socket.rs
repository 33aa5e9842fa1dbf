//! Socket filters: attach to a raw packet socket bound to an interface (every frame on it passes
//! through the filter). The socket lives as long as the attachment.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use aya::programs::{Program, SocketFilter};

use super::{ifindex, kernel_error, load_error, typed, AttachError, AttachOptions, Keep, Target};

pub(super) fn resolve(opts: &AttachOptions) -> Result<Target, AttachError> {
    let iface = opts.iface.clone().unwrap_or_else(|| "lo".to_owned());
    ifindex(&iface)?;
    Ok(Target::SocketFilter { iface })
}

pub(super) fn attach(program: &mut Program, iface: &str) -> Result<Keep, AttachError> {
    let socket = packet_socket(iface)?;
    let p: &mut SocketFilter = typed(program, "socket filter")?;
    p.load().map_err(load_error)?;
    p.attach(&socket)
        .map_err(|e| kernel_error(format!("attaching the socket filter on {iface}"), e))?;
    Ok(Keep::Socket(socket))
}

/// An `AF_PACKET` raw socket receiving every protocol on `iface`.
fn packet_socket(iface: &str) -> Result<OwnedFd, AttachError> {
    let io = |action: &str| AttachError::Io {
        action: format!("{action} a packet socket on {iface}"),
        error: std::io::Error::last_os_error(),
    };
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call; the result is checked and owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(protocol),
        )
    };
    if fd < 0 {
        return Err(io("opening"));
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; zero is a valid starting value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = ifindex(iface)? as i32;
    // SAFETY: addr is a valid sockaddr_ll and its size is passed.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc != 0 {
        return Err(io("binding"));
    }
    Ok(socket)
}
