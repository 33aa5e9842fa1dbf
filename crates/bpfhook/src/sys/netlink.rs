//! rtnetlink, for the one attachment that has no bpf(2) form on older kernels: TC classifiers
//! before tcx links (Linux 6.6) hang on a clsact qdisc as `cls_bpf` filters.
//!
//! Messages are built as bytes: `nlmsghdr`, `tcmsg`, then attributes, each padded to 4 bytes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HDR: usize = 16;
const TCMSG: usize = 20;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
const NLA_F_NESTED: u16 = 1 << 15;

/// The clsact qdisc's handle (`ffff:`) and parent (`TC_H_CLSACT`).
const CLSACT_HANDLE: u32 = 0xffff_0000;
const TC_H_CLSACT: u32 = 0xffff_fff1;
/// Where clsact's ingress and egress filters hang.
pub const TC_INGRESS: u32 = 0xffff_fff2;
pub const TC_EGRESS: u32 = 0xffff_fff3;
/// Filters match every protocol: `ETH_P_ALL` in network order.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// A cls_bpf filter the kernel created: what deleting it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcFilter {
    pub ifindex: u32,
    pub parent: u32,
    pub priority: u16,
    pub handle: u32,
}

/// Adds the clsact qdisc; false when the interface already had one.
pub fn clsact_add(ifindex: u32) -> io::Result<bool> {
    let flags = libc::NLM_F_CREATE | libc::NLM_F_EXCL;
    let mut request = Request::new(libc::RTM_NEWQDISC, flags);
    request.tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0);
    request.attr(TCA_KIND, b"clsact\0");
    match Socket::open()?.call(request, |_| {}) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the clsact qdisc, and every filter on it.
pub fn clsact_del(ifindex: u32) -> io::Result<()> {
    let mut request = Request::new(libc::RTM_DELQDISC, 0);
    request.tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0);
    request.attr(TCA_KIND, b"clsact\0");
    Socket::open()?.call(request, |_| {})
}

/// Adds `program` as a direct-action cls_bpf filter under `parent`; the kernel picks the
/// priority and handle, which come back in the echo.
pub fn bpf_filter_add(
    ifindex: u32,
    parent: u32,
    program: std::os::fd::BorrowedFd<'_>,
    name: &str,
) -> io::Result<TcFilter> {
    let flags = libc::NLM_F_CREATE | libc::NLM_F_EXCL | libc::NLM_F_ECHO;
    let mut request = Request::new(libc::RTM_NEWTFILTER, flags);
    request.tcmsg(ifindex, 0, parent, u32::from(ETH_P_ALL_BE));
    request.attr(TCA_KIND, b"bpf\0");
    let options = request.begin_nested(TCA_OPTIONS);
    request.attr(TCA_BPF_FD, &(program.as_raw_fd() as u32).to_ne_bytes());
    let mut name = name.as_bytes().to_vec();
    name.push(0);
    request.attr(TCA_BPF_NAME, &name);
    request.attr(TCA_BPF_FLAGS, &TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes());
    request.end_nested(options);
    let mut created = None;
    Socket::open()?.call(request, |message| {
        if message.kind == libc::RTM_NEWTFILTER {
            if let Some((handle, info)) = message.tcmsg() {
                created = Some(TcFilter {
                    ifindex,
                    parent,
                    priority: (info >> 16) as u16,
                    handle,
                });
            }
        }
    })?;
    created.ok_or_else(|| io::Error::other("the kernel did not echo the new TC filter"))
}

/// Deletes a filter `bpf_filter_add` made.
pub fn filter_del(filter: &TcFilter) -> io::Result<()> {
    let mut request = Request::new(libc::RTM_DELTFILTER, 0);
    let info = (u32::from(filter.priority) << 16) | u32::from(ETH_P_ALL_BE);
    request.tcmsg(filter.ifindex, filter.handle, filter.parent, info);
    request.attr(TCA_KIND, b"bpf\0");
    Socket::open()?.call(request, |_| {})
}

/// How many filters hang under `parent` on the interface.
pub fn filter_count(ifindex: u32, parent: u32) -> io::Result<usize> {
    let mut request = Request::new(libc::RTM_GETTFILTER, libc::NLM_F_DUMP);
    request.tcmsg(ifindex, 0, parent, 0);
    let mut count = 0;
    Socket::open()?.call(request, |message| {
        if message.kind == libc::RTM_NEWTFILTER {
            count += 1;
        }
    })?;
    Ok(count)
}

/// One request being built.
struct Request(Vec<u8>);

impl Request {
    fn new(kind: u16, flags: libc::c_int) -> Self {
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK | flags) as u16;
        let mut bytes = vec![0u8; NLMSG_HDR];
        bytes[4..6].copy_from_slice(&kind.to_ne_bytes());
        bytes[6..8].copy_from_slice(&flags.to_ne_bytes());
        bytes[8..12].copy_from_slice(&1u32.to_ne_bytes());
        Self(bytes)
    }

    fn tcmsg(&mut self, ifindex: u32, handle: u32, parent: u32, info: u32) {
        self.0.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        for field in [ifindex, handle, parent, info] {
            self.0.extend_from_slice(&field.to_ne_bytes());
        }
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = 4 + payload.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(payload);
        self.pad();
    }

    /// Starts a nested attribute; returns where its header is, for `end_nested`.
    fn begin_nested(&mut self, kind: u16) -> usize {
        let start = self.0.len();
        self.attr(kind | NLA_F_NESTED, &[]);
        start
    }

    fn end_nested(&mut self, start: usize) {
        let len = (self.0.len() - start) as u16;
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        self.0.resize(self.0.len().next_multiple_of(4), 0);
    }

    fn finish(&mut self) -> &[u8] {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        &self.0
    }
}

/// One message of a reply.
struct Message<'a> {
    kind: u16,
    body: &'a [u8],
}

impl Message<'_> {
    /// `tcm_handle` and `tcm_info` of a TC message.
    fn tcmsg(&self) -> Option<(u32, u32)> {
        let field = |at: usize| {
            Some(u32::from_ne_bytes(
                self.body.get(at..at + 4)?.try_into().ok()?,
            ))
        };
        (self.body.len() >= TCMSG).then_some(())?;
        Some((field(8)?, field(16)?))
    }
}

struct Socket(OwnedFd);

impl Socket {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: socket(2) returned a new fd that nothing else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends the request and hands each reply message to `each` until the kernel's ack (or the
    /// end of a dump); a negative ack is the error.
    fn call(&self, mut request: Request, mut each: impl FnMut(&Message<'_>)) -> io::Result<()> {
        let bytes = request.finish();
        // SAFETY: sending an initialised buffer of the given length to the kernel (pid 0).
        let sent = unsafe {
            let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
            kernel.nl_family = libc::AF_NETLINK as u16;
            libc::sendto(
                self.0.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: receiving into a buffer of the given length.
            let len = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    0,
                )
            };
            if len < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut rest = &buffer[..len as usize];
            while rest.len() >= NLMSG_HDR {
                let total = u32::from_ne_bytes(rest[0..4].try_into().unwrap_or_default()) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                if total < NLMSG_HDR || total > rest.len() {
                    return Err(io::Error::other("truncated netlink reply"));
                }
                let body = &rest[NLMSG_HDR..total];
                match kind as libc::c_int {
                    libc::NLMSG_DONE => return Ok(()),
                    libc::NLMSG_ERROR => {
                        let code = body
                            .get(0..4)
                            .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap_or_default()));
                        return match code {
                            0 => Ok(()),
                            negative => Err(io::Error::from_raw_os_error(-negative)),
                        };
                    }
                    _ => each(&Message { kind, body }),
                }
                rest = &rest[total.next_multiple_of(4).min(rest.len())..];
            }
        }
    }
}
