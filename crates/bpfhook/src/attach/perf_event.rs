//! perf_event programs: sample a software or hardware event on every online CPU (or in one
//! process), at a frequency.

use std::fmt;

use aya::programs::perf_event::{
    HardwareEvent, PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent,
};
use aya::programs::{PerfEvent, Program};

use super::{kernel_error, load_error, typed, AttachError};

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

const SOFTWARE: &[(&str, SoftwareEvent)] = &[
    ("cpu-clock", SoftwareEvent::CpuClock),
    ("task-clock", SoftwareEvent::TaskClock),
    ("page-faults", SoftwareEvent::PageFaults),
    ("context-switches", SoftwareEvent::ContextSwitches),
    ("cpu-migrations", SoftwareEvent::CpuMigrations),
    ("minor-faults", SoftwareEvent::PageFaultsMin),
    ("major-faults", SoftwareEvent::PageFaultsMaj),
    ("alignment-faults", SoftwareEvent::AlignmentFaults),
    ("emulation-faults", SoftwareEvent::EmulationFaults),
    ("dummy", SoftwareEvent::Dummy),
    ("bpf-output", SoftwareEvent::BpfOutput),
    ("cgroup-switches", SoftwareEvent::CgroupSwitches),
];

const HARDWARE: &[(&str, HardwareEvent)] = &[
    ("cpu-cycles", HardwareEvent::CpuCycles),
    ("instructions", HardwareEvent::Instructions),
    ("cache-references", HardwareEvent::CacheReferences),
    ("cache-misses", HardwareEvent::CacheMisses),
    ("branch-instructions", HardwareEvent::BranchInstructions),
    ("branch-misses", HardwareEvent::BranchMisses),
    ("bus-cycles", HardwareEvent::BusCycles),
    (
        "stalled-cycles-frontend",
        HardwareEvent::StalledCyclesFrontend,
    ),
    (
        "stalled-cycles-backend",
        HardwareEvent::StalledCyclesBackend,
    ),
    ("ref-cycles", HardwareEvent::RefCpuCycles),
];

impl PerfEventKind {
    /// `cpu-clock`, `software:page-faults`, `hardware:cycles`, `cycles`, …
    pub fn parse(s: &str) -> Option<Self> {
        let name = s
            .strip_prefix("software:")
            .or_else(|| s.strip_prefix("hardware:"))
            .unwrap_or(s);
        let name = match name {
            "cycles" => "cpu-cycles",
            "branches" => "branch-instructions",
            "faults" => "page-faults",
            "cs" => "context-switches",
            other => other,
        };
        SOFTWARE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, _)| Self::Software(n))
            .or_else(|| {
                HARDWARE
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(n, _)| Self::Hardware(n))
            })
    }

    /// Every event name we accept, for help and error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        SOFTWARE
            .iter()
            .map(|(n, _)| *n)
            .chain(HARDWARE.iter().map(|(n, _)| *n))
    }

    fn config(self) -> PerfEventConfig {
        match self {
            Self::Software(name) => PerfEventConfig::Software(
                SOFTWARE
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(SoftwareEvent::CpuClock, |(_, e)| *e),
            ),
            Self::Hardware(name) => PerfEventConfig::Hardware(
                HARDWARE
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(HardwareEvent::CpuCycles, |(_, e)| *e),
            ),
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
    program: &mut Program,
    event: PerfEventKind,
    frequency: u64,
    pid: Option<u32>,
) -> Result<(), AttachError> {
    let p: &mut PerfEvent = typed(program, "perf_event")?;
    p.load().map_err(load_error)?;
    let scopes: Vec<PerfEventScope> = match pid {
        Some(pid) => vec![PerfEventScope::OneProcess { pid, cpu: None }],
        None => aya::util::online_cpus()
            .map_err(|(path, error)| AttachError::Io {
                action: format!("reading {path}"),
                error,
            })?
            .into_iter()
            .map(|cpu| PerfEventScope::AllProcessesOneCpu { cpu })
            .collect(),
    };
    for scope in scopes {
        p.attach(
            event.config(),
            scope,
            SamplePolicy::Frequency(frequency),
            true,
        )
        .map_err(|e| {
            let hint = match event {
                PerfEventKind::Hardware(_) => {
                    " (hardware counters may be missing, e.g. in a VM; try --perf-event cpu-clock)"
                }
                PerfEventKind::Software(_) => "",
            };
            let on = match scope {
                PerfEventScope::OneProcess { pid, .. } => format!("process {pid}"),
                PerfEventScope::AllProcessesOneCpu { cpu } => format!("CPU {cpu}"),
                PerfEventScope::CallingProcess { .. } => "this process".to_owned(),
            };
            kernel_error(format!("opening perf event {event} on {on}{hint}"), e)
        })?;
    }
    Ok(())
}
