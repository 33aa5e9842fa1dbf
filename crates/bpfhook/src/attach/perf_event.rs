//! perf_event programs: sample a software or hardware event on every online CPU (or in one
//! process), at a frequency.

use std::fmt;

use std::os::fd::{BorrowedFd, OwnedFd};

use aya_obj::generated::perf_type_id;

use super::perf_link::{event_attr, open_and_attach};
use super::AttachError;

/// A perf event by the name `perf list` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfEventKind {
    Software(&'static str),
    Hardware(&'static str),
}

impl Default for PerfEventKind {
    fn default() -> Self {
        Self::Software("cpu-clock")
    }
}

/// Software events; the index is the `PERF_COUNT_SW_*` config.
const SOFTWARE: &[&str] = &[
    "cpu-clock",
    "task-clock",
    "page-faults",
    "context-switches",
    "cpu-migrations",
    "minor-faults",
    "major-faults",
    "alignment-faults",
    "emulation-faults",
    "dummy",
    "bpf-output",
    "cgroup-switches",
];

/// Hardware events; the index is the `PERF_COUNT_HW_*` config.
const HARDWARE: &[&str] = &[
    "cpu-cycles",
    "instructions",
    "cache-references",
    "cache-misses",
    "branch-instructions",
    "branch-misses",
    "bus-cycles",
    "stalled-cycles-frontend",
    "stalled-cycles-backend",
    "ref-cycles",
];

/// Short names (perf's and bpftrace's) and the events they stand for.
const ALIASES: &[(&str, &str)] = &[
    ("cycles", "cpu-cycles"),
    ("branches", "branch-instructions"),
    ("faults", "page-faults"),
    ("cs", "context-switches"),
    ("cpu", "cpu-clock"),
    ("migrations", "cpu-migrations"),
    ("minflt", "minor-faults"),
    ("majflt", "major-faults"),
];

impl PerfEventKind {
    /// `cpu-clock`, `software:page-faults`, `hardware:cycles`, `cycles`, …
    pub fn parse(s: &str) -> Option<Self> {
        let name = s
            .strip_prefix("software:")
            .or_else(|| s.strip_prefix("hardware:"))
            .unwrap_or(s);
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, canonical)| canonical);
        SOFTWARE
            .iter()
            .find(|n| **n == name)
            .map(|n| Self::Software(n))
            .or_else(|| {
                HARDWARE
                    .iter()
                    .find(|n| **n == name)
                    .map(|n| Self::Hardware(n))
            })
    }

    /// Every event name we accept, for help and error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        SOFTWARE.iter().chain(HARDWARE).copied()
    }

    /// The other names of event `name` (`cpu` for `cpu-clock`), as bpftrace lists them.
    pub fn aliases(name: &str) -> impl Iterator<Item = &'static str> + '_ {
        ALIASES
            .iter()
            .filter(move |(_, canonical)| *canonical == name)
            .map(|(alias, _)| *alias)
    }

    /// The perf event type and config.
    fn type_and_config(self) -> (u32, u64) {
        let (type_, table, name) = match self {
            Self::Software(name) => (perf_type_id::PERF_TYPE_SOFTWARE, SOFTWARE, name),
            Self::Hardware(name) => (perf_type_id::PERF_TYPE_HARDWARE, HARDWARE, name),
        };
        let config = table.iter().position(|n| *n == name).unwrap_or(0);
        (type_ as u32, config as u64)
    }
}

/// How often a perf event fires its program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfSampling {
    /// Samples per second (per CPU, or for the process).
    Frequency(u64),
    /// Once every N events (nanoseconds for the clock events).
    Period(u64),
}

impl fmt::Display for PerfSampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frequency(hz) => write!(f, "{hz}Hz"),
            Self::Period(n) => write!(f, "every {n}"),
        }
    }
}

impl fmt::Display for PerfEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Software(name) => write!(f, "software:{name}"),
            Self::Hardware(name) => write!(f, "hardware:{name}"),
        }
    }
}

pub(super) fn attach(
    program: BorrowedFd<'_>,
    event: PerfEventKind,
    sampling: PerfSampling,
    pid: Option<u32>,
    first_cpu_only: bool,
) -> Result<Vec<OwnedFd>, AttachError> {
    let (type_, config) = event.type_and_config();
    let mut attr = event_attr(type_, config);
    match sampling {
        PerfSampling::Frequency(hz) => {
            attr.__bindgen_anon_1.sample_freq = hz;
            attr.set_freq(1);
        }
        PerfSampling::Period(n) => attr.__bindgen_anon_1.sample_period = n,
    }
    let hint = match event {
        PerfEventKind::Hardware(_) => {
            " (hardware counters may be missing, e.g. in a VM; try --perf-event cpu-clock)"
        }
        PerfEventKind::Software(_) => "",
    };
    // One process on any CPU, or one event per online CPU (or on the first only).
    let scopes: Vec<(i32, i32, String)> = match pid {
        Some(pid) => vec![(pid as i32, -1, format!("process {pid}"))],
        None => aya::util::online_cpus()
            .map_err(|(path, error)| AttachError::Io {
                action: format!("reading {path}"),
                error,
            })?
            .into_iter()
            .take(if first_cpu_only { 1 } else { usize::MAX })
            .map(|cpu| (-1, cpu as i32, format!("CPU {cpu}")))
            .collect(),
    };
    let mut attachments = Vec::new();
    for (pid, cpu, on) in scopes {
        let what = format!("{event} on {on}{hint}");
        attachments.extend(open_and_attach(program, &attr, pid, cpu, &what)?);
    }
    Ok(attachments)
}
