//! The options that say where programs attach, shared by `run` and `load`.

use std::path::PathBuf;

use bpfhook::attach::{AttachOptions, PerfEventKind, TcMode, XdpMode};
use bpfhook::hook::Direction;
use bpfhook::manager::ManagerBuilder;
use bpfhook::object::ObjectFile;
use clap::Args;

#[derive(Args)]
pub struct TargetArgs {
    /// Network interface for XDP, TC and socket filter programs (socket filters default to lo)
    #[arg(long, short = 'i')]
    iface: Option<String>,
    /// Direction for `tc`/`classifier`/`cgroup/skb` sections that do not name one
    #[arg(long, value_parser = parse_direction)]
    direction: Option<Direction>,
    /// cgroup v2 directory for sockops and cgroup programs (default: the cgroup v2 root)
    #[arg(long)]
    cgroup: Option<PathBuf>,
    /// Binary or library for uprobes whose section names none (`libc` resolves via ld.so.cache)
    #[arg(long)]
    binary: Option<String>,
    /// The sockmap or sockhash sk_msg/sk_skb programs attach to (default: the object's only one)
    #[arg(long, value_name = "MAP")]
    sockmap: Option<String>,
    /// Only this process (uprobes, perf events)
    #[arg(long, short = 'p')]
    pid: Option<u32>,
    /// XDP attach mode
    #[arg(long, value_parser = parse_xdp_mode, default_value = "auto")]
    xdp_mode: XdpMode,
    /// TC attach mode: tcx links where the kernel has them (auto), or the clsact qdisc (netlink)
    #[arg(long, value_parser = parse_tc_mode, default_value = "auto")]
    tc_mode: TcMode,
    /// perf event for perf_event programs: cpu-clock, page-faults, cycles, …
    #[arg(long, value_parser = parse_perf_event, default_value = "cpu-clock")]
    perf_event: PerfEventKind,
    /// Samples per second per CPU for perf_event programs
    #[arg(long, default_value_t = 99)]
    frequency: u64,
    /// Attach only these programs (repeatable; default: all)
    #[arg(long = "program", short = 'P')]
    programs: Vec<String>,
}

impl TargetArgs {
    /// A builder for `object` with these options and this program selection.
    pub fn builder<'a>(&self, object: &'a ObjectFile) -> ManagerBuilder<'a> {
        let builder = ManagerBuilder::new(object).options(AttachOptions {
            iface: self.iface.clone(),
            direction: self.direction,
            cgroup: self.cgroup.clone(),
            binary: self.binary.clone(),
            sockmap: self.sockmap.clone(),
            pid: self.pid,
            xdp_mode: self.xdp_mode,
            tc_mode: self.tc_mode,
            perf_event: self.perf_event,
            sampling: bpfhook::attach::PerfSampling::Frequency(self.frequency),
            first_cpu_only: false,
            unchecked_uprobes: false,
            functions: Vec::new(),
            ref_ctr_offset: None,
        });
        if self.programs.is_empty() {
            builder
        } else {
            builder.select(self.programs.iter().cloned())
        }
    }
}

fn parse_direction(s: &str) -> Result<Direction, String> {
    Direction::parse(s).ok_or_else(|| "expected ingress or egress".to_owned())
}

fn parse_xdp_mode(s: &str) -> Result<XdpMode, String> {
    XdpMode::parse(s).ok_or_else(|| "expected auto, native or generic".to_owned())
}

fn parse_tc_mode(s: &str) -> Result<TcMode, String> {
    TcMode::parse(s).ok_or_else(|| "expected auto, tcx or netlink".to_owned())
}

fn parse_perf_event(s: &str) -> Result<PerfEventKind, String> {
    PerfEventKind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = PerfEventKind::names().collect();
        format!("unknown perf event; one of: {}", names.join(", "))
    })
}
