//! The tools `bpfhook tools` lists, and the scripts behind them.

/// One ready-made tool.
#[derive(Debug, Clone, Copy)]
pub struct ToolInfo {
    /// The subcommand: `bpfhook NAME`.
    pub name: &'static str,
    /// One line: what it shows.
    pub summary: &'static str,
    /// The embedded bpftrace script (`bpfhook trace tools/NAME.bt`); `None` for a tool whose
    /// program is generated with `bpfhook::asm` (execsnoop).
    pub script: Option<&'static str>,
}

const TOOLS: &[ToolInfo] = &[
    ToolInfo {
        name: "bashreadline",
        summary: "every command line interactive bash shells read, system wide (-s LIBREADLINE)",
        script: Some(include_str!("../scripts/bashreadline.bt")),
    },
    ToolInfo {
        name: "biolatency",
        summary: "block I/O latency as a log2 histogram (-D, -F, -Q, -d DISK, -e: avg/total/count)",
        script: Some(include_str!("../scripts/biolatency.bt")),
    },
    ToolInfo {
        name: "biosnoop",
        summary: "every block I/O: issuer, disk, sector, bytes, latency (-d DISK, -Q queued, -P)",
        script: Some(include_str!("../scripts/biosnoop.bt")),
    },
    ToolInfo {
        name: "cpudist",
        summary: "time on CPU per visit (off CPU -O), a log2 histogram (-p PID, -L, -P, -e)",
        script: Some(include_str!("../scripts/cpudist.bt")),
    },
    ToolInfo {
        name: "execsnoop",
        summary: "every exec on the system: pid, ppid, return value, arguments",
        script: None,
    },
    ToolInfo {
        name: "exitsnoop",
        summary: "every process exit: parent, age, exit code or signal (-x failed only)",
        script: Some(include_str!("../scripts/exitsnoop.bt")),
    },
    ToolInfo {
        name: "hardirqs",
        summary: "time in each hard interrupt handler: totals, counts (-C), histograms (-d)",
        script: Some(include_str!("../scripts/hardirqs.bt")),
    },
    ToolInfo {
        name: "killsnoop",
        summary: "every kill(2): sender, signal, target pid, result (-s SIGNALS, -T TPID, -x)",
        script: Some(include_str!("../scripts/killsnoop.bt")),
    },
    ToolInfo {
        name: "mountsnoop",
        summary: "every mount and umount: source, target, type, flags, result (-P: parent)",
        script: Some(include_str!("../scripts/mountsnoop.bt")),
    },
    ToolInfo {
        name: "offcputime",
        summary: "blocked time per stack (-p, -t, -u/-k, -m/-M, --state); --folded, --flamegraph",
        script: Some(include_str!("../scripts/offcputime.bt")),
    },
    ToolInfo {
        name: "opensnoop",
        summary: "every open/openat/openat2: pid, comm, fd, error, path (-x failed only)",
        script: Some(include_str!("../scripts/opensnoop.bt")),
    },
    ToolInfo {
        name: "profile",
        summary: "on-CPU stacks at -F Hz or -c events (-p, -L, -C, -a, -d); --folded, --flamegraph",
        script: Some(include_str!("../scripts/profile.bt")),
    },
    ToolInfo {
        name: "runqlat",
        summary: "run queue latency as a log2 histogram (-p PID, per thread -L, -P, --pidnss)",
        script: Some(include_str!("../scripts/runqlat.bt")),
    },
    ToolInfo {
        name: "runqlen",
        summary: "run queue length sampled at 99 Hz, a linear histogram (per CPU -C, -O)",
        script: Some(include_str!("../scripts/runqlen.bt")),
    },
    ToolInfo {
        name: "softirqs",
        summary: "time in each kind of soft interrupt: totals, counts (-C), histograms (-d)",
        script: Some(include_str!("../scripts/softirqs.bt")),
    },
    ToolInfo {
        name: "statsnoop",
        summary: "every stat/lstat/fstatat/statx/statfs: pid, comm, result, error, path (-s, -t)",
        script: Some(include_str!("../scripts/statsnoop.bt")),
    },
    ToolInfo {
        name: "syscount",
        summary: "syscalls counted per syscall or process (-P), latency (-L), -e ERRNO, --syscall",
        script: Some(include_str!("../scripts/syscount.bt")),
    },
    ToolInfo {
        name: "tcpaccept",
        summary: "every TCP connection a process accepts: pid, comm, both ends (-T, -t, -P PORTS)",
        script: Some(include_str!("../scripts/tcpaccept.bt")),
    },
    ToolInfo {
        name: "tcpconnect",
        summary:
            "every active TCP connect: pid, comm, addresses, port (-U, -u UID, -L, -c, -P PORTS)",
        script: Some(include_str!("../scripts/tcpconnect.bt")),
    },
    ToolInfo {
        name: "tcplife",
        summary: "one line per closed TCP connection: ends, KB each way, lifespan (-T, -t, -w, -s)",
        script: Some(include_str!("../scripts/tcplife.bt")),
    },
    ToolInfo {
        name: "tcpretrans",
        summary: "every TCP retransmission: ends and state (-c: counts per flow)",
        script: Some(include_str!("../scripts/tcpretrans.bt")),
    },
    ToolInfo {
        name: "tcpstates",
        summary: "every TCP state change, with the time spent in the old state (-T, -t, -w, -s)",
        script: Some(include_str!("../scripts/tcpstates.bt")),
    },
];

/// Every tool, by name.
pub fn tools() -> &'static [ToolInfo] {
    TOOLS
}

/// The embedded script of a tool, by its name (`opensnoop`) or as `bpfhook trace` names it
/// (`tools/opensnoop.bt`).
pub fn script(name: &str) -> Option<&'static str> {
    let name = name
        .strip_prefix("tools/")
        .and_then(|n| n.strip_suffix(".bt"))
        .unwrap_or(name);
    TOOLS.iter().find(|t| t.name == name).and_then(|t| t.script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_by_name_and_by_path() {
        assert!(script("opensnoop").is_some_and(|s| s.contains("sys_enter_openat")));
        assert_eq!(script("tools/opensnoop.bt"), script("opensnoop"));
        assert!(script("tools/execsnoop.bt").is_none());
        assert!(script("tools/nosuch.bt").is_none());
        assert!(script("opensnoop.bt").is_none());
    }

    #[test]
    fn listed_in_name_order() {
        let names: Vec<_> = tools().iter().map(|t| t.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}
