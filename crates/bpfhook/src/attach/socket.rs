//! Socket filters: attach to a raw packet socket bound to an interface (every frame on it passes
//! through the filter). The socket lives as long as the attachment.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{ifindex, kernel_error, AttachError, AttachOptions, Target};

pub(super) fn resolve(opts: &AttachOptions) -> Result<Target, AttachError> {
    let iface = opts.iface.clone().unwrap_or_else(|| "lo".to_owned());
    ifindex(&iface)?;
    Ok(Target::SocketFilter { iface })
}

/// `SO_ATTACH_BPF` on a new packet socket bound to the interface; the socket is the attachment.
pub(super) fn attach(program: BorrowedFd<'_>, iface: &str) -> Result<Vec<OwnedFd>, AttachError> {
    let socket = packet_socket(iface)?;
    let fd = program.as_raw_fd();
    // SAFETY: SO_ATTACH_BPF reads an int (the program fd) of the given size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_BPF,
            (&fd as *const i32).cast(),
            std::mem::size_of::<i32>() as u32,
        )
    };
    if rc != 0 {
        return Err(kernel_error(
            format!("attaching the socket filter on {iface}"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(vec![socket])
}

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
