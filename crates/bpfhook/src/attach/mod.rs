//! Attaching a loaded program to its hook, one file per hook family.
//!
//! The path is: `Hook` (what the section says) + `AttachOptions` (what the user said) →
//! [`resolve`] → `Target` (every target checked to exist, before anything is loaded) →
//! [`load_and_attach`] → the kernel link, owned by the aya program (detached when it drops),
//! plus any resource the attachment needs kept alive (`Keep`).

mod cgroup;
mod perf_event;
mod socket;
mod tc;
mod tracing;
mod uprobe;
mod xdp;

use std::fmt;
use std::path::PathBuf;

use aya::programs::{Program, ProgramError};

use crate::hook::{Direction, Hook};
use crate::kernel::features::MissingFeature;

pub use perf_event::PerfEventKind;
pub use uprobe::{find_binary, search_path};

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
    /// Only this process, for uprobes and perf events.
    pub pid: Option<u32>,
    pub xdp_mode: XdpMode,
    pub perf_event: PerfEventKind,
    /// Samples per second per CPU for perf_event programs.
    pub frequency: u64,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            iface: None,
            direction: None,
            cgroup: None,
            binary: None,
            pid: None,
            xdp_mode: XdpMode::Auto,
            perf_event: PerfEventKind::default(),
            frequency: 99,
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
    Fentry {
        function: String,
    },
    Fexit {
        function: String,
    },
    Lsm {
        hook: String,
    },
    Xdp {
        iface: String,
        mode: XdpMode,
    },
    Tc {
        iface: String,
        direction: Direction,
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
        frequency: u64,
        pid: Option<u32>,
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
            Target::Fentry { function } => write!(f, "fentry:{function}"),
            Target::Fexit { function } => write!(f, "fexit:{function}"),
            Target::Lsm { hook } => write!(f, "lsm:{hook}"),
            Target::Xdp { iface, mode } => {
                write!(f, "xdp:{iface}")?;
                match mode {
                    XdpMode::Auto => Ok(()),
                    XdpMode::Native => f.write_str(" (native)"),
                    XdpMode::Generic => f.write_str(" (generic)"),
                }
            }
            Target::Tc { iface, direction } => write!(f, "tc:{iface}:{}", direction.as_str()),
            Target::SocketFilter { iface } => write!(f, "socket:{iface}"),
            Target::Cgroup { hook, path } => write!(f, "{hook}:{}", path.display()),
            Target::PerfEvent {
                event,
                frequency,
                pid,
            } => {
                write!(f, "perf_event:{event}:{frequency}Hz")?;
                match pid {
                    Some(pid) => write!(f, " (pid {pid})"),
                    None => f.write_str(" (all CPUs)"),
                }
            }
            Target::Netns { kind } => write!(f, "{kind}:netns"),
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
    Verifier {
        io_error: std::io::Error,
        log: String,
    },
    #[error("{action}: {source}{hint}")]
    Kernel {
        action: String,
        #[source]
        source: ProgramError,
        hint: &'static str,
    },
    #[error("{action}: {error}")]
    Io {
        action: String,
        error: std::io::Error,
    },
    #[error("the loaded program is a {found}, but its section says {expected}")]
    WrongProgramType {
        expected: &'static str,
        found: String,
    },
}

/// Something an attachment needs alive besides the aya link (dropped after the links).
#[derive(Debug)]
pub enum Keep {
    /// The raw packet socket a socket filter is attached to.
    Socket(std::os::fd::OwnedFd),
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
        Hook::Uprobe { .. } => uprobe::resolve(hook, opts).map(Target::Uprobe),
        Hook::Xdp { .. } => xdp::resolve(opts),
        Hook::Tc { direction } => tc::resolve(*direction, opts),
        Hook::SocketFilter => socket::resolve(opts),
        Hook::SockOps | Hook::CgroupSkb { .. } | Hook::Cgroup { .. } => cgroup::resolve(hook, opts),
        Hook::PerfEvent => Ok(Target::PerfEvent {
            event: opts.perf_event,
            frequency: opts.frequency,
            pid: opts.pid,
        }),
        Hook::SkLookup => Ok(Target::Netns { kind: "sk_lookup" }),
        Hook::FlowDissector => Ok(Target::Netns {
            kind: "flow_dissector",
        }),
    }
}

/// Loads the program (the verifier runs here) and attaches it to `target`.
pub fn load_and_attach(
    program: &mut Program,
    target: &Target,
) -> Result<Option<Keep>, AttachError> {
    match target {
        Target::Uprobe(t) => uprobe::attach(program, t).map(|()| None),
        Target::Xdp { iface, mode } => xdp::attach(program, iface, *mode).map(|()| None),
        Target::Tc { iface, direction } => tc::attach(program, iface, *direction).map(|()| None),
        Target::SocketFilter { iface } => socket::attach(program, iface).map(Some),
        Target::Cgroup { hook, path } => cgroup::attach(program, hook, path).map(|()| None),
        Target::PerfEvent {
            event,
            frequency,
            pid,
        } => perf_event::attach(program, *event, *frequency, *pid).map(|()| None),
        Target::Netns { .. } => cgroup::attach_netns(program).map(|()| None),
        _ => tracing::attach(program, target).map(|()| None),
    }
}

/// Converts aya's program reference to the concrete type a family expects.
fn typed<'a, T>(program: &'a mut Program, expected: &'static str) -> Result<&'a mut T, AttachError>
where
    &'a mut T: TryFrom<&'a mut Program>,
{
    let found = format!("{:?}", program.prog_type());
    <&mut T>::try_from(program).map_err(|_| AttachError::WrongProgramType { expected, found })
}

/// Maps a load failure: verifier rejections carry the log; privilege problems say so.
fn load_error(e: ProgramError) -> AttachError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => AttachError::Verifier {
            io_error,
            log: verifier_log.to_string(),
        },
        other => kernel_error("loading the program", other),
    }
}

/// Wraps a failed kernel call with a hint chosen by errno.
fn kernel_error(action: impl Into<String>, source: ProgramError) -> AttachError {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let hint = match errno(&source) {
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

/// The first OS error code in an error's source chain.
fn errno(error: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(code) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
        {
            return Some(code);
        }
        current = e.source();
    }
    None
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
