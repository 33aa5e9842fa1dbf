//! Attaching loaded programs: bpf links, raw tracepoints, and the perf events that tracepoints,
//! kprobes, uprobes and perf_event programs hang on. Every attachment is an fd: closing it
//! detaches.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use aya_obj::generated::{
    bpf_attach_type, bpf_cmd, perf_event_attr, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF,
    PERF_FLAG_FD_CLOEXEC,
};

use super::{bpf, owned_fd, zeroed_attr, SyscallError};

/// What a bpf link attaches to.
#[derive(Debug, Clone, Copy)]
pub enum LinkTarget<'a> {
    /// A cgroup, a network namespace, a perf event, or nothing (`-1`-less tracing links).
    Fd(BorrowedFd<'a>),
    /// A network interface (XDP, tcx).
    Ifindex(u32),
    /// Tracing programs whose target was fixed at load time (fentry, fexit, LSM, tp_btf).
    None,
}

/// `BPF_LINK_CREATE`.
pub fn link_create(
    program: BorrowedFd<'_>,
    target: LinkTarget<'_>,
    attach_type: u32,
    flags: u32,
) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: plain integer fields of the link_create member.
    unsafe {
        let link = &mut attr.link_create;
        link.__bindgen_anon_1.prog_fd = program.as_raw_fd() as u32;
        match target {
            LinkTarget::Fd(fd) => link.__bindgen_anon_2.target_fd = fd.as_raw_fd() as u32,
            LinkTarget::Ifindex(index) => link.__bindgen_anon_2.target_ifindex = index,
            LinkTarget::None => {}
        }
        link.attach_type = attach_type;
        link.flags = flags;
    }
    let fd = bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr, "BPF_LINK_CREATE")?;
    // SAFETY: on success BPF_LINK_CREATE returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_LINK_CREATE` of a uprobe.multi link: `offsets` in `path` (file offsets), cookie `i` for
/// offset `i`, one process (`pid`, 0 for all), at returns when `ret`.
pub fn uprobe_multi_link(
    program: BorrowedFd<'_>,
    path: &CStr,
    offsets: &[u64],
    cookies: &[u64],
    pid: u32,
    ret: bool,
) -> Result<OwnedFd, SyscallError> {
    const BPF_F_UPROBE_MULTI_RETURN: u32 = 1;
    assert_eq!(offsets.len(), cookies.len(), "one cookie per offset");
    let mut attr = zeroed_attr();
    // SAFETY: plain integer fields; the pointers stay valid for the call.
    unsafe {
        let link = &mut attr.link_create;
        link.__bindgen_anon_1.prog_fd = program.as_raw_fd() as u32;
        link.attach_type = bpf_attach_type::BPF_TRACE_UPROBE_MULTI as u32;
        let multi = &mut link.__bindgen_anon_3.uprobe_multi;
        multi.path = path.as_ptr() as u64;
        multi.offsets = offsets.as_ptr() as u64;
        multi.cookies = cookies.as_ptr() as u64;
        multi.cnt = offsets.len() as u32;
        multi.flags = if ret { BPF_F_UPROBE_MULTI_RETURN } else { 0 };
        multi.pid = pid;
    }
    let fd = bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr, "BPF_LINK_CREATE")?;
    // SAFETY: on success BPF_LINK_CREATE returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_ITER_CREATE`: a new file of an iterator link; each read of it runs the program over
/// the next kernel objects, and what the program writes (bpf_seq_printf) is what read returns.
pub fn iter_create(link: BorrowedFd<'_>) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    attr.iter_create.link_fd = link.as_raw_fd() as u32;
    let fd = bpf(bpf_cmd::BPF_ITER_CREATE, &mut attr, "BPF_ITER_CREATE")?;
    // SAFETY: on success BPF_ITER_CREATE returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_RAW_TRACEPOINT_OPEN`: a raw tracepoint by name, or (with None) the target a tracing
/// program was loaded for.
pub fn raw_tracepoint_open(
    program: BorrowedFd<'_>,
    name: Option<&CStr>,
) -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    attr.raw_tracepoint.name = name.map_or(0, |n| n.as_ptr() as u64);
    attr.raw_tracepoint.prog_fd = program.as_raw_fd() as u32;
    let fd = bpf(
        bpf_cmd::BPF_RAW_TRACEPOINT_OPEN,
        &mut attr,
        "BPF_RAW_TRACEPOINT_OPEN",
    )?;
    // SAFETY: on success BPF_RAW_TRACEPOINT_OPEN returns a new file descriptor.
    Ok(unsafe { owned_fd(fd) })
}

/// `perf_event_open(2)` with close-on-exec. `pid` -1 with a `cpu` is every task on that CPU;
/// a `pid` with `cpu` -1 is that process on any CPU.
pub fn perf_event_open(attr: &perf_event_attr, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: `attr` is a valid perf_event_attr whose `size` field the caller set.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const perf_event_attr,
            pid,
            cpu,
            -1,
            PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: perf_event_open returned a new fd that nothing else owns.
    Ok(unsafe { owned_fd(fd) })
}

/// Kernels before 5.15 have no perf links: the program is set on the event with an ioctl and
/// stays attached while the event's fd is open.
pub fn perf_event_set_bpf(event: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    for (request, arg) in [
        (PERF_EVENT_IOC_SET_BPF, program.as_raw_fd()),
        (PERF_EVENT_IOC_ENABLE, 0),
    ] {
        // SAFETY: both requests take an int argument on a perf event fd.
        if unsafe { libc::ioctl(event.as_raw_fd(), request as _, arg) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `BPF_PROG_ATTACH` (`attach` true) or `BPF_PROG_DETACH`: the attachment without a link, which
/// sockmaps take; it lasts until detached or until the target goes.
pub fn prog_attach(
    program: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    attach_type: u32,
    attach: bool,
) -> Result<(), SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: plain integer fields of the prog_attach member.
    unsafe {
        let prog = &mut attr.__bindgen_anon_5;
        prog.attach_bpf_fd = program.as_raw_fd() as u32;
        prog.__bindgen_anon_1.target_fd = target.as_raw_fd() as u32;
        prog.attach_type = attach_type;
    }
    if attach {
        bpf(bpf_cmd::BPF_PROG_ATTACH, &mut attr, "BPF_PROG_ATTACH")?;
    } else {
        bpf(bpf_cmd::BPF_PROG_DETACH, &mut attr, "BPF_PROG_DETACH")?;
    }
    Ok(())
}
