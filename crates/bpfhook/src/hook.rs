//! `Hook`: one typed attach point, parsed from a program's ELF section name.
//!
//! Section names come in two dialects: libbpf's (`tp/…`, `tc/ingress`, `uprobe//bin/bash:readline`)
//! and the older ebpf-manager/BCC style the seeds use (`xdp/ingress`, `classifier/egress`,
//! `uprobe/readline`). Both parse to the same `Hook`. Whatever the section leaves open (an
//! interface, a cgroup, a binary) is filled in from `AttachOptions` at attach time.

use std::fmt;

/// Traffic direction for TC and cgroup_skb programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ingress" => Some(Self::Ingress),
            "egress" => Some(Self::Egress),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "ingress",
            Self::Egress => "egress",
        }
    }
}

/// The cgroup attach points besides cgroup_skb and sockops (`SEC("cgroup/NAME")`).
/// The name is kept as the kernel and libbpf spell it; `attach::cgroup` maps it to a program type.
pub const CGROUP_ATTACH_POINTS: &[&str] = &[
    "sock",
    "sock_create",
    "sock_release",
    "post_bind4",
    "post_bind6",
    "bind4",
    "bind6",
    "connect4",
    "connect6",
    "getpeername4",
    "getpeername6",
    "getsockname4",
    "getsockname6",
    "sendmsg4",
    "sendmsg6",
    "recvmsg4",
    "recvmsg6",
    "sysctl",
    "getsockopt",
    "setsockopt",
    "dev",
];

/// A typed attach point. `None` fields are targets the section did not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
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
    Uprobe {
        binary: Option<String>,
        /// `None`: the section names no place (`SEC("uprobe")`, the binary given by option).
        location: Option<UprobeLocation>,
        ret: bool,
        sleepable: bool,
    },
    /// One link for many functions of one binary (Linux 6.6): libbpf's `uprobe.multi/PATH:GLOB`.
    UprobeMulti {
        binary: Option<String>,
        /// A glob over the binary's function symbols; `None` when the attach options list them.
        pattern: Option<String>,
        ret: bool,
        sleepable: bool,
    },
    Fentry {
        function: String,
        sleepable: bool,
    },
    Fexit {
        function: String,
        sleepable: bool,
    },
    Lsm {
        hook: String,
        sleepable: bool,
    },
    /// A BPF iterator (`iter/task`): the program runs once per kernel object (task, file, vma,
    /// map…) each time its iterator file is read; `target` is the kernel's `bpf_iter_TARGET`.
    Iter {
        target: String,
        sleepable: bool,
    },
    Xdp {
        frags: bool,
    },
    Tc {
        direction: Option<Direction>,
    },
    SocketFilter,
    SockOps,
    CgroupSkb {
        direction: Option<Direction>,
    },
    /// `cgroup/NAME`, NAME one of [`CGROUP_ATTACH_POINTS`].
    Cgroup {
        attach_point: &'static str,
    },
    PerfEvent,
    SkLookup,
    FlowDissector,
    /// sk_msg: runs on sendmsg of the sockets in a sockmap or sockhash.
    SkMsg,
    /// `sk_skb/stream_parser` or `sk_skb/stream_verdict`: on data received by those sockets.
    SkSkb {
        stage: &'static str,
    },
}

/// Why a section name is not a hook we can attach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error(
        "unknown section `{0}`: not a program type bpfhook can attach (expected e.g. tracepoint/CAT/NAME, \
         raw_tp/NAME, kprobe/FN, uprobe/PATH:FN, fentry/FN, lsm/HOOK, iter/task, xdp, tc/ingress, socket, sockops, \
         cgroup_skb/ingress, cgroup/connect4, perf_event, sk_msg, sk_skb/stream_verdict)"
    )]
    UnknownSection(String),
    #[error(
        "section `{0}`: seccomp filters are classic BPF installed by a process on itself, not \
         eBPF programs in an object; run a command under one with `bpfhook seccomp --deny SYSCALLS -- CMD`"
    )]
    Seccomp(String),
    #[error("section `{section}` is incomplete: {why}")]
    Incomplete { section: String, why: &'static str },
    #[error("section `{section}`: bad offset `{offset}`")]
    BadOffset { section: String, offset: String },
}

impl Hook {
    /// Parses a program's ELF section name.
    pub fn from_section(section: &str) -> Result<Self, HookError> {
        let (kind, rest) = match section.split_once('/') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (section, None),
        };
        let incomplete = |why| HookError::Incomplete {
            section: section.to_owned(),
            why,
        };
        // The target after `kind/`, required and non-empty.
        let target = |why| {
            rest.filter(|r| !r.is_empty())
                .ok_or_else(|| incomplete(why))
        };

        Ok(match kind {
            "tracepoint" | "tp" => {
                let rest = target("expected tracepoint/CATEGORY/NAME")?;
                let (category, name) = rest
                    .split_once('/')
                    .or_else(|| rest.split_once(':'))
                    .filter(|(c, n)| !c.is_empty() && !n.is_empty())
                    .ok_or_else(|| incomplete("expected tracepoint/CATEGORY/NAME"))?;
                Hook::Tracepoint {
                    category: category.to_owned(),
                    name: name.to_owned(),
                }
            }
            "raw_tracepoint" | "raw_tp" => Hook::RawTracepoint {
                name: target("expected raw_tracepoint/NAME")?.to_owned(),
            },
            "tp_btf" => Hook::BtfTracepoint {
                name: target("expected tp_btf/NAME")?.to_owned(),
            },
            "kprobe" | "kretprobe" => {
                let (function, offset) =
                    split_offset(section, target("expected kprobe/FUNCTION[+OFFSET]")?)?;
                Hook::Kprobe {
                    function: function.to_owned(),
                    offset,
                    ret: kind == "kretprobe",
                }
            }
            "ksyscall" | "kretsyscall" => Hook::Kprobe {
                function: syscall_function(target("expected ksyscall/SYSCALL")?),
                offset: 0,
                ret: kind == "kretsyscall",
            },
            "uprobe.multi" | "uretprobe.multi" | "uprobe.multi.s" | "uretprobe.multi.s" => {
                let (binary, pattern) = match rest.filter(|r| !r.is_empty()) {
                    None => (None, None),
                    Some(rest) => match rest.split_once(':') {
                        Some((path, pattern)) => (Some(path.to_owned()), Some(pattern)),
                        None => (None, Some(rest)),
                    },
                };
                Hook::UprobeMulti {
                    binary,
                    pattern: pattern.filter(|p| !p.is_empty()).map(str::to_owned),
                    ret: kind.starts_with("uretprobe"),
                    sleepable: kind.ends_with(".s"),
                }
            }
            "uprobe" | "uretprobe" | "uprobe.s" | "uretprobe.s" => {
                parse_uprobe(section, kind, rest.filter(|r| !r.is_empty()))?
            }
            "fentry" | "fentry.s" => Hook::Fentry {
                function: target("expected fentry/FUNCTION")?.to_owned(),
                sleepable: kind.ends_with(".s"),
            },
            "fexit" | "fexit.s" => Hook::Fexit {
                function: target("expected fexit/FUNCTION")?.to_owned(),
                sleepable: kind.ends_with(".s"),
            },
            "lsm" | "lsm.s" => Hook::Lsm {
                hook: target("expected lsm/HOOK")?.to_owned(),
                sleepable: kind.ends_with(".s"),
            },
            "iter" | "iter.s" => Hook::Iter {
                target: target("expected iter/TARGET, e.g. iter/task")?.to_owned(),
                sleepable: kind.ends_with(".s"),
            },
            // `xdp/cpumap` and `xdp/devmap` programs run from map entries, not from a hook.
            "xdp" | "xdp.frags" if !matches!(rest, Some("cpumap" | "devmap")) => Hook::Xdp {
                frags: kind == "xdp.frags",
            },
            // `tc/NAME` and `classifier/NAME` (ebpf-manager) leave the direction to options.
            "tc" | "tcx" | "classifier" => Hook::Tc {
                direction: rest.and_then(Direction::parse),
            },
            "socket" => Hook::SocketFilter,
            "sockops" => Hook::SockOps,
            "cgroup_skb" => Hook::CgroupSkb {
                direction: Some(rest.and_then(Direction::parse).ok_or_else(|| {
                    incomplete("expected cgroup_skb/ingress or cgroup_skb/egress")
                })?),
            },
            "cgroup" => match rest {
                Some("skb") => Hook::CgroupSkb { direction: None },
                Some(point) => Hook::Cgroup {
                    attach_point: CGROUP_ATTACH_POINTS
                        .iter()
                        .find(|p| **p == point)
                        .ok_or_else(|| HookError::UnknownSection(section.to_owned()))?,
                },
                None => {
                    return Err(incomplete(
                        "expected cgroup/ATTACH_POINT, e.g. cgroup/connect4",
                    ))
                }
            },
            "perf_event" => Hook::PerfEvent,
            "sk_lookup" => Hook::SkLookup,
            "flow_dissector" => Hook::FlowDissector,
            "sk_msg" => Hook::SkMsg,
            "sk_skb" => Hook::SkSkb {
                stage: ["stream_parser", "stream_verdict"]
                    .into_iter()
                    .find(|s| rest == Some(*s))
                    .ok_or_else(|| {
                        incomplete("expected sk_skb/stream_parser or sk_skb/stream_verdict")
                    })?,
            },
            "seccomp" => return Err(HookError::Seccomp(section.to_owned())),
            _ => return Err(HookError::UnknownSection(section.to_owned())),
        })
    }

    /// The kind, as bpftrace and our CLI name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Hook::Tracepoint { .. } => "tracepoint",
            Hook::RawTracepoint { .. } => "rawtracepoint",
            Hook::BtfTracepoint { .. } => "tp_btf",
            Hook::Kprobe { ret: false, .. } => "kprobe",
            Hook::Kprobe { ret: true, .. } => "kretprobe",
            Hook::Uprobe { ret: false, .. } => "uprobe",
            Hook::Uprobe { ret: true, .. } => "uretprobe",
            Hook::UprobeMulti { ret: false, .. } => "uprobe.multi",
            Hook::UprobeMulti { ret: true, .. } => "uretprobe.multi",
            Hook::Fentry { .. } => "fentry",
            Hook::Fexit { .. } => "fexit",
            Hook::Lsm { .. } => "lsm",
            Hook::Iter { .. } => "iter",
            Hook::Xdp { .. } => "xdp",
            Hook::Tc { .. } => "tc",
            Hook::SocketFilter => "socket",
            Hook::SockOps => "sockops",
            Hook::CgroupSkb { .. } => "cgroup_skb",
            Hook::Cgroup { .. } => "cgroup",
            Hook::PerfEvent => "perf_event",
            Hook::SkLookup => "sk_lookup",
            Hook::FlowDissector => "flow_dissector",
            Hook::SkMsg => "sk_msg",
            Hook::SkSkb { .. } => "sk_skb",
        }
    }

    /// The leading part of a section name aya-obj accepts for this hook's program type.
    /// `object` renames sections to it only when aya would reject the original.
    pub fn loader_section(&self) -> &'static str {
        match self {
            Hook::Tc { .. } => "classifier",
            Hook::Xdp { frags: false } => "xdp",
            Hook::Xdp { frags: true } => "xdp.frags",
            Hook::Kprobe { ret: false, .. } => "kprobe",
            Hook::Kprobe { ret: true, .. } => "kretprobe",
            Hook::Tracepoint { .. } => "tracepoint",
            Hook::RawTracepoint { .. } => "raw_tp",
            Hook::BtfTracepoint { .. } => "tp_btf",
            Hook::Uprobe { ret, sleepable, .. } | Hook::UprobeMulti { ret, sleepable, .. } => {
                match (ret, sleepable) {
                    (false, false) => "uprobe",
                    (false, true) => "uprobe.s",
                    (true, false) => "uretprobe",
                    (true, true) => "uretprobe.s",
                }
            }
            Hook::Fentry { sleepable, .. } => ["fentry", "fentry.s"][*sleepable as usize],
            Hook::Fexit { sleepable, .. } => ["fexit", "fexit.s"][*sleepable as usize],
            Hook::Lsm { sleepable, .. } => ["lsm", "lsm.s"][*sleepable as usize],
            Hook::Iter { sleepable, .. } => ["iter", "iter.s"][*sleepable as usize],
            Hook::SocketFilter => "socket",
            Hook::SockOps => "sockops",
            Hook::CgroupSkb { .. } => "cgroup/skb",
            // aya accepts every `cgroup/NAME` we parse, so these are never renamed.
            Hook::Cgroup { .. } => "cgroup",
            Hook::PerfEvent => "perf_event",
            Hook::SkLookup => "sk_lookup",
            Hook::FlowDissector => "flow_dissector",
            // aya-obj accepts both as we parse them, so these are never renamed.
            Hook::SkMsg => "sk_msg",
            Hook::SkSkb { .. } => "sk_skb",
        }
    }

    /// Whether aya ignores what follows `loader_section()/`, so a renamed section can keep its
    /// original name as a suffix and stay unique.
    pub fn loader_section_takes_suffix(&self) -> bool {
        !matches!(
            self,
            Hook::Xdp { .. }
                | Hook::Cgroup { .. }
                | Hook::CgroupSkb { .. }
                | Hook::SkMsg
                | Hook::SkSkb { .. }
        )
    }
}

/// `FUNC+OFF` → (FUNC, OFF); offsets in decimal or 0x-hex, as libbpf accepts them.
fn split_offset<'a>(section: &str, spec: &'a str) -> Result<(&'a str, u64), HookError> {
    match spec.split_once('+') {
        None => Ok((spec, 0)),
        Some((func, off)) => Ok((
            func,
            parse_number(off).ok_or_else(|| HookError::BadOffset {
                section: section.to_owned(),
                offset: off.to_owned(),
            })?,
        )),
    }
}

fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The kernel function behind a syscall, as libbpf's `ksyscall` resolves it on this architecture.
fn syscall_function(syscall: &str) -> String {
    let prefix = match std::env::consts::ARCH {
        "x86_64" => "__x64_sys_",
        "aarch64" => "__arm64_sys_",
        "s390x" => "__s390x_sys_",
        "riscv64" => "__riscv_sys_",
        _ => "sys_",
    };
    format!("{prefix}{syscall}")
}

/// `uprobe/FN`, `uprobe/PATH:FN[+OFF]`, `uprobe//bin/bash:readline`, `uprobe/PATH:0xADDR`.
fn parse_uprobe(section: &str, kind: &str, rest: Option<&str>) -> Result<Hook, HookError> {
    let ret = kind.starts_with("uretprobe");
    let sleepable = kind.ends_with(".s");
    let (binary, location) = match rest {
        None => (None, None),
        // libbpf splits at the first ':' (paths rarely contain one, symbols never do).
        Some(rest) => match rest.split_once(':') {
            Some((path, loc)) => (Some(path.to_owned()), Some(loc)),
            None => (None, Some(rest)),
        },
    };
    let location = match location.filter(|l| !l.is_empty()) {
        None => None,
        Some(loc) => Some(match parse_number(loc) {
            Some(address) => UprobeLocation::Address(address),
            None => {
                let (name, offset) = split_offset(section, loc)?;
                UprobeLocation::Symbol {
                    name: name.to_owned(),
                    offset,
                }
            }
        }),
    };
    Ok(Hook::Uprobe {
        binary,
        location,
        ret,
        sleepable,
    })
}

/// Where in its binary a uprobe goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UprobeLocation {
    /// A function symbol, `offset` bytes into it.
    Symbol { name: String, offset: u64 },
    /// A virtual address of the ELF file (a file offset when the file is not ELF).
    Address(u64),
}

impl fmt::Display for UprobeLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UprobeLocation::Symbol { name, offset: 0 } => write!(f, "{name}"),
            UprobeLocation::Symbol { name, offset } => write!(f, "{name}+{offset:#x}"),
            UprobeLocation::Address(address) => write!(f, "{address:#x}"),
        }
    }
}

/// bpftrace-like notation for the parts the section names; `attach` prints the resolved target.
impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind();
        match self {
            Hook::Tracepoint { category, name } => write!(f, "{kind}:{category}:{name}"),
            Hook::RawTracepoint { name } | Hook::BtfTracepoint { name } => {
                write!(f, "{kind}:{name}")
            }
            Hook::Kprobe {
                function, offset, ..
            } if *offset != 0 => {
                write!(f, "{kind}:{function}+{offset:#x}")
            }
            Hook::Kprobe { function, .. } => write!(f, "{kind}:{function}"),
            Hook::Uprobe {
                binary, location, ..
            } => {
                write!(f, "{kind}:")?;
                if let Some(binary) = binary {
                    write!(f, "{binary}:")?;
                }
                match location {
                    Some(location) => write!(f, "{location}"),
                    None => Ok(()),
                }
            }
            Hook::UprobeMulti {
                binary, pattern, ..
            } => {
                write!(f, "{kind}:")?;
                if let Some(binary) = binary {
                    write!(f, "{binary}:")?;
                }
                f.write_str(pattern.as_deref().unwrap_or(""))
            }
            Hook::Fentry { function, .. } | Hook::Fexit { function, .. } => {
                write!(f, "{kind}:{function}")
            }
            Hook::Lsm { hook, .. } => write!(f, "{kind}:{hook}"),
            Hook::Iter { target, .. } => write!(f, "{kind}:{target}"),
            Hook::Tc { direction: Some(d) } | Hook::CgroupSkb { direction: Some(d) } => {
                write!(f, "{kind}:{}", d.as_str())
            }
            Hook::Cgroup { attach_point } => write!(f, "{kind}:{attach_point}"),
            Hook::SkSkb { stage } => write!(f, "{kind}:{stage}"),
            _ => f.write_str(kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Hook {
        Hook::from_section(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn tracepoints() {
        let tp = Hook::Tracepoint {
            category: "syscalls".into(),
            name: "sys_enter_execve".into(),
        };
        assert_eq!(parse("tracepoint/syscalls/sys_enter_execve"), tp);
        assert_eq!(parse("tp/syscalls/sys_enter_execve"), tp);
        assert_eq!(tp.to_string(), "tracepoint:syscalls:sys_enter_execve");
        let raw = Hook::RawTracepoint {
            name: "sched_switch".into(),
        };
        assert_eq!(parse("raw_tracepoint/sched_switch"), raw);
        assert_eq!(parse("raw_tp/sched_switch"), raw);
        assert!(matches!(
            Hook::from_section("tracepoint/syscalls"),
            Err(HookError::Incomplete { .. })
        ));
        assert!(Hook::from_section("tp/").is_err());
    }

    #[test]
    fn kprobes_and_btf_tracing() {
        assert_eq!(
            parse("kprobe/do_sys_openat2"),
            Hook::Kprobe {
                function: "do_sys_openat2".into(),
                offset: 0,
                ret: false
            }
        );
        assert_eq!(
            parse("kretprobe/vfs_read+0x10"),
            Hook::Kprobe {
                function: "vfs_read".into(),
                offset: 16,
                ret: true
            }
        );
        assert!(
            matches!(parse("ksyscall/execve"), Hook::Kprobe { function, .. } if function.ends_with("sys_execve"))
        );
        assert!(matches!(
            Hook::from_section("kprobe/f+zz"),
            Err(HookError::BadOffset { .. })
        ));
        assert_eq!(
            parse("fentry/tcp_connect"),
            Hook::Fentry {
                function: "tcp_connect".into(),
                sleepable: false
            }
        );
        assert_eq!(
            parse("fexit/tcp_connect"),
            Hook::Fexit {
                function: "tcp_connect".into(),
                sleepable: false
            }
        );
        assert_eq!(
            parse("lsm/file_open"),
            Hook::Lsm {
                hook: "file_open".into(),
                sleepable: false
            }
        );
        assert_eq!(parse("lsm/file_open").to_string(), "lsm:file_open");
        assert_eq!(
            parse("iter/task_file"),
            Hook::Iter {
                target: "task_file".into(),
                sleepable: false
            }
        );
        assert_eq!(parse("iter.s/task").to_string(), "iter:task");
        assert!(matches!(
            Hook::from_section("iter"),
            Err(HookError::Incomplete { .. })
        ));
    }

    #[test]
    fn uprobes() {
        let up = |binary: Option<&str>, symbol: Option<&str>, offset, ret| Hook::Uprobe {
            binary: binary.map(Into::into),
            location: Some(match symbol {
                Some(name) => UprobeLocation::Symbol {
                    name: name.into(),
                    offset,
                },
                None => UprobeLocation::Address(offset),
            }),
            ret,
            sleepable: false,
        };
        assert_eq!(
            parse("uprobe/readline"),
            up(None, Some("readline"), 0, false)
        );
        assert_eq!(
            parse("uretprobe/readline"),
            up(None, Some("readline"), 0, true)
        );
        assert_eq!(
            parse("uprobe//bin/bash:readline"),
            up(Some("/bin/bash"), Some("readline"), 0, false)
        );
        assert_eq!(
            parse("uprobe/libc.so.6:malloc+0x4"),
            up(Some("libc.so.6"), Some("malloc"), 4, false)
        );
        assert_eq!(
            parse("uprobe//usr/bin/x:0x1130"),
            up(Some("/usr/bin/x"), None, 0x1130, false)
        );
        assert_eq!(
            parse("uprobe//tmp/flat.bin:0x0"),
            up(Some("/tmp/flat.bin"), None, 0, false)
        );
        assert_eq!(
            parse("uprobe"),
            Hook::Uprobe {
                binary: None,
                location: None,
                ret: false,
                sleepable: false
            }
        );
        assert_eq!(
            parse("uprobe//tmp/flat.bin:0x0").to_string(),
            "uprobe:/tmp/flat.bin:0x0"
        );
        assert_eq!(
            parse("uprobe//bin/bash:readline").to_string(),
            "uprobe:/bin/bash:readline"
        );
    }

    #[test]
    fn network_hooks() {
        for s in ["xdp", "xdp/ingress", "xdp/anything"] {
            assert_eq!(parse(s), Hook::Xdp { frags: false }, "{s}");
        }
        assert_eq!(parse("xdp.frags"), Hook::Xdp { frags: true });
        assert!(Hook::from_section("xdp/cpumap").is_err());
        for (s, d) in [
            ("tc", None),
            ("tc/ingress", Some(Direction::Ingress)),
            ("tc/egress", Some(Direction::Egress)),
            ("tcx/ingress", Some(Direction::Ingress)),
            ("tcx/egress", Some(Direction::Egress)),
            ("classifier", None),
            ("classifier/ingress", Some(Direction::Ingress)),
            ("classifier/egress", Some(Direction::Egress)),
            ("classifier/my_filter", None),
        ] {
            assert_eq!(parse(s), Hook::Tc { direction: d }, "{s}");
            assert_eq!(parse(s).loader_section(), "classifier");
        }
        assert_eq!(parse("socket"), Hook::SocketFilter);
        assert_eq!(parse("socket/ANY"), Hook::SocketFilter);
        assert_eq!(parse("sockops"), Hook::SockOps);
        assert_eq!(parse("perf_event"), Hook::PerfEvent);
        assert_eq!(parse("sk_lookup"), Hook::SkLookup);
        assert_eq!(parse("flow_dissector"), Hook::FlowDissector);
    }

    #[test]
    fn cgroup_hooks() {
        assert_eq!(
            parse("cgroup_skb/ingress"),
            Hook::CgroupSkb {
                direction: Some(Direction::Ingress)
            }
        );
        assert_eq!(parse("cgroup_skb/egress").to_string(), "cgroup_skb:egress");
        assert_eq!(parse("cgroup/skb"), Hook::CgroupSkb { direction: None });
        assert!(Hook::from_section("cgroup_skb/sideways").is_err());
        for point in CGROUP_ATTACH_POINTS {
            assert_eq!(
                parse(&format!("cgroup/{point}")),
                Hook::Cgroup {
                    attach_point: point
                }
            );
        }
        assert_eq!(
            Hook::from_section("cgroup/teleport4"),
            Err(HookError::UnknownSection("cgroup/teleport4".into()))
        );
    }

    #[test]
    fn seccomp_sections_point_to_the_seccomp_command() {
        let err = Hook::from_section("seccomp").unwrap_err().to_string();
        assert!(err.contains("bpfhook seccomp"), "{err}");
    }

    #[test]
    fn unknown_sections_are_named() {
        for s in ["", "foo", "kprobes/x", "license", ".text"] {
            let err = Hook::from_section(s).unwrap_err();
            assert!(err.to_string().contains(&format!("`{s}`")), "{err}");
        }
    }
}
