//! Attaching a loaded program to its hook, one file per hook family.
//!
//! The path is: `Hook` (what the section says) + `AttachOptions` (what the user said) →
//! [`resolve`] → `Target` (every target checked to exist, before anything is loaded) →
//! [`load_and_attach`] → the program's fd and its [`Attachment`]s (link, perf event or socket
//! fds, netlink TC filters, sockmap attachments), each of which detaches when dropped.

mod cgroup;
pub mod iter;
mod perf_event;
mod perf_link;
mod socket;
mod sockmap;
mod tc;
mod tracing;
mod uprobe;
mod xdp;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use crate::hook::{Direction, Hook};
use crate::kernel::features::{self, MissingFeature};
use crate::loader::{LoadFor, LoadedObject, ProgramLoadError};

pub use perf_event::{PerfEventKind, PerfSampling};
pub use sockmap::ProgAttachment;
pub use tc::{LegacyTcFilter, TcMode};
pub use uprobe::{find_binary, search_path, UprobeMultiTarget};

/// How XDP programs are attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Let the kernel pick (native when the driver supports it).
    #[default]
    Auto,
    /// In the driver (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// In the generic network stack (`XDP_FLAGS_SKB_MODE`), on any interface.
    Generic,
}

impl XdpMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "native" | "drv" | "driver" => Some(Self::Native),
            "generic" | "skb" => Some(Self::Generic),
            _ => None,
        }
    }
}

/// What the section leaves open, supplied by the caller (the CLI's flags).
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Network interface for XDP, TC and socket filters (socket filters default to `lo`).
    pub iface: Option<String>,
    /// Direction for TC and cgroup_skb programs whose section does not say; default ingress.
    pub direction: Option<Direction>,
    /// cgroup v2 directory for sockops and cgroup programs; default the cgroup v2 root.
    pub cgroup: Option<PathBuf>,
    /// Binary or library for uprobes whose section names none (`libc` resolves via ld.so.cache).
    pub binary: Option<String>,
    /// The sockmap or sockhash of the object that sk_msg/sk_skb programs attach to (default: the
    /// object's only one).
    pub sockmap: Option<String>,
    /// Only this process, for uprobes and perf events.
    pub pid: Option<u32>,
    pub xdp_mode: XdpMode,
    pub tc_mode: TcMode,
    pub perf_event: PerfEventKind,
    /// How often perf_event programs run: samples per second per CPU, or every N events.
    pub sampling: PerfSampling,
    /// perf_event programs on the first online CPU only (a timer rather than a profiler).
    pub first_cpu_only: bool,
    /// Uprobes at places that cannot be checked attach anyway (bpftrace's `--unsafe`): a
    /// function of size 0, an address in no function, a file that is not ELF.
    pub unchecked_uprobes: bool,
    /// The functions of a uprobe.multi program whose section names no glob (libbpf's `syms`);
    /// when given, they replace the section's glob.
    pub functions: Vec<String>,
    /// A uprobe's reference counter (a USDT semaphore): the file offset of a u16 the kernel
    /// increments in every process the uprobe is in while it is attached.
    pub ref_ctr_offset: Option<u64>,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            iface: None,
            direction: None,
            cgroup: None,
            binary: None,
            sockmap: None,
            pid: None,
            xdp_mode: XdpMode::Auto,
            tc_mode: TcMode::Auto,
            perf_event: PerfEventKind::default(),
            sampling: PerfSampling::Frequency(99),
            first_cpu_only: false,
            unchecked_uprobes: false,
            functions: Vec::new(),
            ref_ctr_offset: None,
        }
    }
}

/// A hook with every target resolved and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tracepoint {
        category: String,
        name: String,
    },
    RawTracepoint {
        name: String,
    },
    BtfTracepoint {
        name: String,
    },
    Kprobe {
        function: String,
        offset: u64,
        ret: bool,
    },
    Uprobe(uprobe::UprobeTarget),
    UprobeMulti(uprobe::UprobeMultiTarget),
    Fentry {
        function: String,
    },
    Fexit {
        function: String,
    },
    Lsm {
        hook: String,
    },
    Iter {
        target: String,
    },
    Xdp {
        iface: String,
        mode: XdpMode,
    },
    Tc {
        iface: String,
        direction: Direction,
        mode: TcMode,
    },
    SocketFilter {
        iface: String,
    },
    /// sockops, cgroup_skb and `cgroup/*`: the hook's own attach point plus a cgroup.
    Cgroup {
        hook: Hook,
        path: PathBuf,
    },
    PerfEvent {
        event: PerfEventKind,
        sampling: PerfSampling,
        pid: Option<u32>,
        first_cpu_only: bool,
    },
    /// sk_msg and sk_skb: a sockmap or sockhash of the object (None: its only one).
    Sockmap {
        hook: Hook,
        map: Option<String>,
    },
    /// sk_lookup and flow_dissector attach to this process's network namespace.
    Netns {
        kind: &'static str,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tracepoint { category, name } => write!(f, "tracepoint:{category}:{name}"),
            Target::RawTracepoint { name } => write!(f, "rawtracepoint:{name}"),
            Target::BtfTracepoint { name } => write!(f, "tp_btf:{name}"),
            Target::Kprobe {
                function,
                offset,
                ret,
            } => {
                write!(
                    f,
                    "{}:{function}",
                    if *ret { "kretprobe" } else { "kprobe" }
                )?;
                if *offset != 0 {
                    write!(f, "+{offset:#x}")?;
                }
                Ok(())
            }
            Target::Uprobe(target) => target.fmt(f),
            Target::UprobeMulti(target) => target.fmt(f),
            Target::Fentry { function } => write!(f, "fentry:{function}"),
            Target::Fexit { function } => write!(f, "fexit:{function}"),
            Target::Lsm { hook } => write!(f, "lsm:{hook}"),
            Target::Iter { target } => write!(f, "iter:{target}"),
            Target::Xdp { iface, mode } => {
                write!(f, "xdp:{iface}")?;
                match mode {
                    XdpMode::Auto => Ok(()),
                    XdpMode::Native => f.write_str(" (native)"),
                    XdpMode::Generic => f.write_str(" (generic)"),
                }
            }
            Target::Tc {
                iface,
                direction,
                mode,
            } => {
                write!(f, "tc:{iface}:{}", direction.as_str())?;
                match mode {
                    TcMode::Auto => Ok(()),
                    TcMode::Tcx => f.write_str(" (tcx)"),
                    TcMode::Netlink => f.write_str(" (netlink)"),
                }
            }
            Target::SocketFilter { iface } => write!(f, "socket:{iface}"),
            Target::Cgroup { hook, path } => write!(f, "{hook}:{}", path.display()),
            Target::PerfEvent {
                event,
                sampling,
                pid,
                first_cpu_only,
            } => {
                write!(f, "perf_event:{event}:{sampling}")?;
                match pid {
                    Some(pid) => write!(f, " (pid {pid})"),
                    None if *first_cpu_only => f.write_str(" (first CPU)"),
                    None => f.write_str(" (all CPUs)"),
                }
            }
            Target::Netns { kind } => write!(f, "{kind}:netns"),
            Target::Sockmap { hook, map } => {
                write!(f, "{hook}:{}", map.as_deref().unwrap_or("sockmap"))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("{hook} needs {option}")]
    NeedsOption { hook: String, option: &'static str },
    #[error("{what} `{name}` does not exist{hint}")]
    Missing {
        what: &'static str,
        name: String,
        hint: String,
    },
    #[error("{0}")]
    Feature(#[from] MissingFeature),
    #[error("the verifier rejected the program ({io_error}). Verifier log:\n{log}")]
    Verifier { io_error: io::Error, log: String },
    #[error("loading the program: {0}")]
    Load(ProgramLoadError),
    #[error("{action}: {source}{hint}")]
    Kernel {
        action: String,
        #[source]
        source: io::Error,
        hint: &'static str,
    },
    #[error("{action}: {error}")]
    Io { action: String, error: io::Error },
    /// A uprobe's place failed a check (outside its function, of unknown size, in no
    /// function); the message names the binary and the place, as bpftrace words it.
    #[error("{0}")]
    Placement(String),
}

/// What holds a program on its hook; dropping it detaches.
#[derive(Debug)]
pub enum Attachment {
    /// A bpf link, a perf event or a socket filter's socket: closing the fd detaches.
    Fd(OwnedFd),
    /// A cls_bpf filter on a clsact qdisc, on kernels without tcx (or `--tc-mode netlink`).
    TcFilter(LegacyTcFilter),
    /// sk_msg/sk_skb on a sockmap (`BPF_PROG_ATTACH`).
    Map(ProgAttachment),
}

/// A loaded program and what holds it on its hook. Dropping the attachments (in order) detaches.
pub struct Attached {
    pub program: OwnedFd,
    pub attachments: Vec<Attachment>,
}

/// Resolves and checks the hook's targets. Nothing is loaded yet: a missing interface, cgroup,
/// binary, symbol or kernel feature is reported here.
pub fn resolve(hook: &Hook, opts: &AttachOptions) -> Result<Target, AttachError> {
    match hook {
        Hook::Tracepoint { .. } | Hook::RawTracepoint { .. } | Hook::BtfTracepoint { .. } => {
            tracing::resolve(hook)
        }
        Hook::Kprobe { .. } | Hook::Fentry { .. } | Hook::Fexit { .. } | Hook::Lsm { .. } => {
            tracing::resolve(hook)
        }
        Hook::Iter { target, .. } => iter::resolve(target),
        Hook::Uprobe { .. } => uprobe::resolve(hook, opts).map(Target::Uprobe),
        Hook::UprobeMulti { .. } => uprobe::resolve_multi(hook, opts).map(Target::UprobeMulti),
        Hook::Xdp { .. } => xdp::resolve(opts),
        Hook::Tc { direction } => tc::resolve(*direction, opts),
        Hook::SocketFilter => socket::resolve(opts),
        Hook::SockOps | Hook::CgroupSkb { .. } | Hook::Cgroup { .. } => cgroup::resolve(hook, opts),
        Hook::PerfEvent => Ok(Target::PerfEvent {
            event: opts.perf_event,
            sampling: opts.sampling,
            pid: opts.pid,
            first_cpu_only: opts.first_cpu_only,
        }),
        Hook::SkLookup => Ok(Target::Netns { kind: "sk_lookup" }),
        Hook::SkMsg | Hook::SkSkb { .. } => Ok(sockmap::resolve(hook, opts)),
        Hook::FlowDissector => Ok(Target::Netns {
            kind: "flow_dissector",
        }),
    }
}

/// Loads the program (the verifier runs here) and attaches it to `target`.
pub fn load_and_attach(
    object: &LoadedObject,
    name: &str,
    target: &Target,
) -> Result<Attached, AttachError> {
    let attach_to = match target {
        Target::BtfTracepoint { name } => Some(format!("btf_trace_{name}")),
        Target::Fentry { function } | Target::Fexit { function } => Some(function.clone()),
        Target::Lsm { hook } => Some(format!("bpf_lsm_{hook}")),
        Target::Iter { target } => Some(iter::btf_name(target)),
        _ => None,
    };
    let load_for = match (&attach_to, target) {
        (Some(function), _) => LoadFor::BtfTarget(function),
        (None, Target::UprobeMulti(_)) => LoadFor::UprobeMulti,
        (None, _) => LoadFor::Section,
    };
    let program = object.load_program(name, load_for).map_err(|e| {
        load_error(
            e,
            attach_to.is_some() && !matches!(target, Target::Iter { .. }),
        )
    })?;
    let fd = program.as_fd();
    let attachments = match target {
        Target::Uprobe(t) => fds(uprobe::attach(fd, t)?),
        Target::UprobeMulti(t) => fds(vec![uprobe::attach_multi(fd, t)?]),
        Target::Iter { target } => fds(vec![iter::attach(fd, target)?]),
        Target::Xdp { iface, mode } => fds(xdp::attach(fd, iface, *mode)?),
        Target::Tc {
            iface,
            direction,
            mode,
        } => vec![tc::attach(fd, name, iface, *direction, *mode)?],
        Target::SocketFilter { iface } => fds(socket::attach(fd, iface)?),
        Target::Cgroup { hook, path } => {
            let section = object
                .section(name)
                .ok_or_else(|| AttachError::Load(ProgramLoadError::Unknown(name.to_owned())))?;
            fds(cgroup::attach(fd, section, hook, path)?)
        }
        Target::PerfEvent {
            event,
            sampling,
            pid,
            first_cpu_only,
        } => fds(perf_event::attach(
            fd,
            *event,
            *sampling,
            *pid,
            *first_cpu_only,
        )?),
        Target::Netns { kind } => fds(cgroup::attach_netns(fd, kind)?),
        Target::Sockmap { hook, map } => vec![Attachment::Map(sockmap::attach(
            fd,
            object,
            hook,
            map.as_deref(),
        )?)],
        _ => fds(tracing::attach(fd, target)?),
    };
    Ok(Attached {
        program,
        attachments,
    })
}

fn fds(fds: Vec<OwnedFd>) -> Vec<Attachment> {
    fds.into_iter().map(Attachment::Fd).collect()
}

impl AttachError {
    /// A program that failed to load (for programs loaded without a hook).
    pub fn from_load(error: ProgramLoadError) -> Self {
        load_error(error, false)
    }
}

/// A rejection carries the verifier's log. Trampoline programs (`trampoline`) fail with bare
/// errnos more often than with a log; those are explained.
fn load_error(error: ProgramLoadError, trampoline: bool) -> AttachError {
    match error {
        ProgramLoadError::Rejected { error, log } if trampoline && log.trim().is_empty() => {
            AttachError::Feature(MissingFeature {
                feature: "BPF trampolines (fentry/fexit/LSM/tp_btf)",
                reason: features::explain_trampoline_error(error.raw_os_error()),
            })
        }
        ProgramLoadError::Rejected { error, log } => AttachError::Verifier {
            io_error: error,
            log,
        },
        other => AttachError::Load(other),
    }
}

/// Wraps a failed kernel call with a hint chosen by errno.
fn kernel_error(action: impl Into<String>, source: io::Error) -> AttachError {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let hint = match source.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) if !root => {
            " (run as root, or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)"
        }
        Some(libc::EBUSY | libc::EEXIST) => " (another program is already attached there)",
        _ => "",
    };
    AttachError::Kernel {
        action: action.into(),
        source,
        hint,
    }
}

/// The interface's index, or an error naming it.
fn ifindex(iface: &str) -> Result<u32, AttachError> {
    let missing = || AttachError::Missing {
        what: "network interface",
        name: iface.to_owned(),
        hint: " (see `ip link`)".to_owned(),
    };
    let name = std::ffi::CString::new(iface).map_err(|_| missing())?;
    // SAFETY: name is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(missing()),
        index => Ok(index),
    }
}
