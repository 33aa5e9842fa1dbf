//! The ready-made tools (`bpfhook opensnoop`, `profile`, `biolatency`, …): BCC's options in
//! clap, handed to `bpfhook-tools`; and `bpfhook tools`, the list.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bpfhook_tools::{
    bashreadline, biolatency, biosnoop, exitsnoop, irqs, killsnoop, mountsnoop, offcputime,
    opensnoop, profile, runqlen, sched, stacks, syscount, tcp, Schedule,
};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ToolCommand {
    /// List the ready-made tools, one line each
    Tools,
    /// Trace open/openat/openat2: PID COMM FD ERR PATH (like BCC's opensnoop)
    Opensnoop(OpensnoopArgs),
    /// Trace the stat family: PID COMM RET ERR PATH (like BCC's statsnoop)
    Statsnoop(StatsnoopArgs),
    /// Trace mount and umount calls (like BCC's mountsnoop)
    Mountsnoop(MountsnoopArgs),
    /// Print the command lines interactive bash shells read (like BCC's bashreadline)
    Bashreadline(BashreadlineArgs),
    /// Trace process exits: parent, age, exit code or signal (like BCC's exitsnoop)
    Exitsnoop(ExitsnoopArgs),
    /// Trace kill(2): sender, signal, target, result (like BCC's killsnoop)
    Killsnoop(KillsnoopArgs),
    /// Sample on-CPU stacks at -F Hz; --folded lines or a --flamegraph SVG (like BCC's profile)
    Profile(ProfileArgs),
    /// Blocked time per stack; --folded lines or a --flamegraph SVG (like BCC's offcputime)
    Offcputime(OffcputimeArgs),
    /// Block I/O latency as a log2 histogram (like BCC's biolatency)
    Biolatency(BiolatencyArgs),
    /// Trace block I/O: issuer, disk, sector, bytes, latency (like BCC's biosnoop)
    Biosnoop(BiosnoopArgs),
    /// Run queue latency as a log2 histogram (like BCC's runqlat)
    Runqlat(RunqlatArgs),
    /// Run queue length sampled at 99 Hz, a linear histogram (like BCC's runqlen)
    Runqlen(RunqlenArgs),
    /// Time on CPU per run (or off CPU, -O) as a log2 histogram (like BCC's cpudist)
    Cpudist(CpudistArgs),
    /// Time in soft interrupts per kind: totals, -C counts, -d histograms (like BCC's softirqs)
    Softirqs(IrqArgs),
    /// Time in hard interrupt handlers: totals, -C counts, -d histograms (like BCC's hardirqs)
    Hardirqs(IrqArgs),
    /// Trace TCP state changes with the time in each state (like BCC's tcpstates)
    Tcpstates(TcpArgs),
    /// One line per closed TCP connection: bytes and lifespan (like BCC's tcplife)
    Tcplife(TcpArgs),
    /// Trace active TCP connections (like BCC's tcpconnect)
    Tcpconnect(TcpconnectArgs),
    /// Trace TCP connections processes accept (like BCC's tcpaccept)
    Tcpaccept(TcpacceptArgs),
    /// Trace TCP retransmissions (like BCC's tcpretrans)
    Tcpretrans(TcpretransArgs),
    /// Count system calls per syscall or per process, with latency (like BCC's syscount)
    Syscount(SyscountArgs),
}

#[derive(Args)]
pub struct BiosnoopArgs {
    /// Only this disk (sda, vda, nvme0n1, …)
    #[arg(short = 'd', long = "disk")]
    disk: Option<String>,
    /// Include the time queued before issue (a QUE(ms) column)
    #[arg(short = 'Q', long = "queue")]
    queued: bool,
    /// Show each request's pattern: S sequential, R random (a P column)
    #[arg(short = 'P', long = "pattern")]
    pattern: bool,
    /// One JSON object per request
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RunqlenArgs {
    /// One histogram per CPU
    #[arg(short = 'C', long = "cpus")]
    per_cpu: bool,
    /// The run queue occupancy instead (share of samples with a task waiting)
    #[arg(short = 'O', long = "runqocc")]
    occupancy: bool,
    /// Print a time line before each histogram
    #[arg(short = 'T', long = "timestamp")]
    timestamp: bool,
    /// One JSON object per histogram
    #[arg(long)]
    json: bool,
    /// Print every INTERVAL seconds
    interval: Option<u64>,
    /// Stop after COUNT intervals
    count: Option<u64>,
}

#[derive(Args)]
pub struct IrqArgs {
    /// A histogram of each interrupt's durations instead of totals
    #[arg(short = 'd', long = "dist")]
    distributions: bool,
    /// Count events instead of summing time
    #[arg(short = 'C', long = "count")]
    count: bool,
    /// Nanoseconds instead of microseconds
    #[arg(short = 'N', long = "nanoseconds")]
    nanoseconds: bool,
    /// Only interrupts on this CPU
    #[arg(short = 'c', long = "cpu")]
    cpu: Option<u32>,
    /// Print a time line before each table
    #[arg(short = 'T', long = "timestamp")]
    timestamp: bool,
    /// One JSON object per row or histogram
    #[arg(long)]
    json: bool,
    /// Print every INTERVAL seconds
    interval: Option<u64>,
    /// Stop after COUNT intervals
    outputs: Option<u64>,
}

impl IrqArgs {
    fn options(self) -> irqs::Options {
        irqs::Options {
            distributions: self.distributions,
            count: self.count,
            nanoseconds: self.nanoseconds,
            cpu: self.cpu,
            schedule: Schedule {
                timestamp: self.timestamp,
                interval: self.interval,
                count: self.outputs,
            },
            json: self.json,
        }
    }
}

/// What every TCP tool takes: the address family and the output format.
#[derive(Args)]
pub struct FamilyArgs {
    /// IPv4 only
    #[arg(short = '4', long = "ipv4")]
    ipv4: bool,
    /// IPv6 only
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,
    /// One JSON object per line
    #[arg(long)]
    json: bool,
}

impl FamilyArgs {
    fn options(self) -> tcp::Options {
        tcp::Options {
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            json: self.json,
            ..tcp::Options::default()
        }
    }
}

/// Port filters of tcpstates, tcplife and tcpretrans.
#[derive(Args)]
pub struct PortArgs {
    /// Only these local ports (comma-separated)
    #[arg(short = 'L', long = "localport", value_delimiter = ',')]
    local_ports: Vec<u16>,
    /// Only these remote ports (comma-separated)
    #[arg(short = 'D', long = "remoteport", value_delimiter = ',')]
    remote_ports: Vec<u16>,
}

#[derive(Args)]
pub struct TcpArgs {
    /// Include a TIME column (HH:MM:SS)
    #[arg(short = 'T', long = "time")]
    clock: bool,
    /// Include a TIME(s) column: seconds since the first event
    #[arg(short = 't', long = "timestamp")]
    seconds: bool,
    /// Wide columns (room for IPv6 addresses)
    #[arg(short = 'w', long = "wide", conflicts_with = "csv")]
    wide: bool,
    /// Comma-separated values
    #[arg(short = 's', long = "csv")]
    csv: bool,
    /// Only this process (tcplife)
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    #[command(flatten)]
    ports: PortArgs,
    #[command(flatten)]
    family: FamilyArgs,
}

impl TcpArgs {
    fn options(self) -> tcp::Options {
        let layout = match (self.wide, self.csv) {
            (true, _) => tcp::Layout::Wide,
            (_, true) => tcp::Layout::Csv,
            _ => tcp::Layout::Narrow,
        };
        tcp::Options {
            clock: self.clock,
            seconds: self.seconds,
            layout,
            pid: self.pid,
            local_ports: self.ports.local_ports,
            remote_ports: self.ports.remote_ports,
            ..self.family.options()
        }
    }
}

#[derive(Args)]
pub struct TcpretransArgs {
    /// Count retransmits per flow, printed at the end
    #[arg(short = 'c', long = "count")]
    count: bool,
    #[command(flatten)]
    ports: PortArgs,
    #[command(flatten)]
    family: FamilyArgs,
}

/// What tcpconnect and tcpaccept share.
#[derive(Args)]
pub struct TcpOpenArgs {
    /// Include a TIME(s) column
    #[arg(short = 't', long = "timestamp")]
    seconds: bool,
    /// Only this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Only these ports, comma-separated (tcpconnect: the destination's; tcpaccept: the local
    /// one)
    #[arg(short = 'P', long = "port", value_delimiter = ',')]
    ports: Vec<u16>,
    #[command(flatten)]
    family: FamilyArgs,
}

impl TcpOpenArgs {
    /// `-P` filters the far end's port of a connect, the local port of an accept.
    fn options(self, tool: tcp::Tool) -> tcp::Options {
        let (local_ports, remote_ports) = match tool {
            tcp::Tool::Accept => (self.ports, Vec::new()),
            _ => (Vec::new(), self.ports),
        };
        tcp::Options {
            seconds: self.seconds,
            pid: self.pid,
            local_ports,
            remote_ports,
            ..self.family.options()
        }
    }
}

#[derive(Args)]
pub struct TcpconnectArgs {
    /// Include a UID column
    #[arg(short = 'U', long = "print-uid")]
    print_uid: bool,
    /// Only connects by this user id
    #[arg(short = 'u', long = "uid")]
    uid: Option<u32>,
    /// Include an LPORT column (each line then waits for the connect's answer or failure)
    #[arg(short = 'L', long = "lport")]
    print_local_port: bool,
    /// Count connects per source, destination and port, printed at the end
    #[arg(short = 'c', long = "count")]
    count: bool,
    #[command(flatten)]
    open: TcpOpenArgs,
}

#[derive(Args)]
pub struct TcpacceptArgs {
    /// Include a TIME column (HH:MM:SS)
    #[arg(short = 'T', long = "time")]
    clock: bool,
    #[command(flatten)]
    open: TcpOpenArgs,
}

#[derive(Args)]
pub struct SyscountArgs {
    /// Only this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Only this thread
    #[arg(short = 't', long = "tid")]
    tid: Option<u32>,
    /// Only children of this process
    #[arg(short = 'c', long = "ppid")]
    ppid: Option<u32>,
    /// Only calls that failed with this errno (number or name: 2, ENOENT)
    #[arg(short = 'e', long = "errno")]
    errno: Option<String>,
    /// Only this syscall (-l lists them)
    #[arg(long = "syscall")]
    syscall: Option<String>,
    /// List the syscalls this architecture has and exit
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// Count per process, not per syscall
    #[arg(short = 'P', long = "process")]
    per_process: bool,
    /// Also the total time spent in the calls
    #[arg(short = 'L', long = "latency")]
    latency: bool,
    /// That time in milliseconds, not microseconds
    #[arg(short = 'm', long = "milliseconds")]
    milliseconds: bool,
    /// Only calls that failed
    #[arg(short = 'x', long = "failures")]
    failed: bool,
    /// How many rows to print
    #[arg(short = 'T', long = "top", default_value_t = 10)]
    top: usize,
    /// Print (and reset) every INTERVAL seconds
    #[arg(short = 'i', long = "interval")]
    interval: Option<u64>,
    /// Stop after this many seconds
    #[arg(short = 'd', long = "duration")]
    duration: Option<u64>,
    /// One JSON object per row
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct OpensnoopArgs {
    /// Include a TIME(s) column: seconds since the first open
    #[arg(short = 'T', long = "timestamp")]
    timestamp: bool,
    /// Include a UID column
    #[arg(short = 'U', long = "print-uid")]
    print_uid: bool,
    /// Only failed opens
    #[arg(short = 'x', long = "failed")]
    failed: bool,
    /// Only this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Only this thread
    #[arg(short = 't', long = "tid")]
    tid: Option<u32>,
    /// Only this user id
    #[arg(short = 'u', long = "uid")]
    uid: Option<u32>,
    /// Stop after this many seconds
    #[arg(short = 'd', long = "duration")]
    duration: Option<u64>,
    /// Only commands whose name contains NAME
    #[arg(short = 'n', long = "name")]
    name: Option<String>,
    /// Include a FLAGS column (octal open flags)
    #[arg(short = 'e', long = "extended_fields")]
    extended: bool,
    /// Only opens with this flag (O_WRONLY, O_CREAT, …); repeatable
    #[arg(short = 'f', long = "flag_filter")]
    flags: Vec<String>,
    /// One JSON object per open
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatsnoopArgs {
    /// Include a TIME(s) column: seconds since the first call
    #[arg(short = 't', long = "timestamp")]
    timestamp: bool,
    /// Only failed calls
    #[arg(short = 'x', long = "failed")]
    failed: bool,
    /// Only this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Include a SYSCALL column
    #[arg(short = 's', long = "sysname")]
    syscall_name: bool,
    /// One JSON object per call
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct MountsnoopArgs {
    /// Include the parent's PCOMM and PPID columns
    #[arg(short = 'P', long = "parent_process")]
    parent: bool,
    /// One JSON object per call
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct BashreadlineArgs {
    /// The readline library bash is linked with (default with -s: /lib/libreadline.so)
    #[arg(
        short = 's',
        long = "shared",
        value_name = "LIBRARY",
        num_args = 0..=1,
        default_missing_value = "/lib/libreadline.so"
    )]
    shared: Option<PathBuf>,
    /// One JSON object per line
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExitsnoopArgs {
    /// Include a TIME column
    #[arg(short = 't', long = "timestamp")]
    timestamp: bool,
    /// Only exits with a non-zero code or a signal
    #[arg(short = 'x', long = "failed")]
    failed: bool,
    /// Only this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Every thread's exit, not only the process's
    #[arg(long = "per-thread")]
    per_thread: bool,
    /// One JSON object per exit
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct KillsnoopArgs {
    /// Only kills that failed
    #[arg(short = 'x', long = "failed")]
    failed: bool,
    /// Only kills sent by this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Only kills sent to this process
    #[arg(short = 'T', long = "tpid")]
    target: Option<u32>,
    /// Only these signals, comma-separated (numbers or names: 9,TERM,SIGUSR1)
    #[arg(short = 's', long = "signal", value_delimiter = ',')]
    signals: Vec<String>,
    /// One JSON object per kill
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StackArgs {
    /// Only these processes (comma-separated)
    #[arg(short = 'p', long = "pid", value_delimiter = ',')]
    pids: Vec<u32>,
    /// User stacks only
    #[arg(short = 'U', long = "user-stacks-only")]
    user_only: bool,
    /// Kernel stacks only
    #[arg(short = 'K', long = "kernel-stacks-only")]
    kernel_only: bool,
    /// A delimiter between the kernel and the user stack (`--`; `-` in folded lines)
    #[arg(short = 'd', long = "delimited")]
    delimited: bool,
    /// Folded output (comm;root;…;leaf count), for flame graph tools
    #[arg(short = 'f', long = "folded")]
    folded: bool,
    /// Write an interactive SVG flame graph to FILE
    #[arg(long, value_name = "FILE")]
    flamegraph: Option<PathBuf>,
    /// One JSON object per stack
    #[arg(long)]
    json: bool,
    /// Seconds to trace (default: until Ctrl-C)
    duration: Option<u64>,
}

impl StackArgs {
    /// The options, with the thread list the tool names its own way (-L, -t).
    fn options(self, tids: Vec<u32>) -> stacks::StackOptions {
        stacks::StackOptions {
            pids: self.pids,
            tids,
            delimited: self.delimited,
            user_only: self.user_only,
            kernel_only: self.kernel_only,
            duration: self.duration.map(Duration::from_secs),
            folded: self.folded,
            flamegraph: self.flamegraph,
            json: self.json,
        }
    }
}

#[derive(Args)]
pub struct ProfileArgs {
    /// Samples per second on each CPU (default 49)
    #[arg(short = 'F', long = "frequency")]
    frequency: Option<u32>,
    /// A sample every COUNT cpu-clock events (nanoseconds on a CPU) instead
    #[arg(
        short = 'c',
        long = "count",
        value_name = "COUNT",
        conflicts_with = "frequency"
    )]
    period: Option<u64>,
    /// Only these threads (comma-separated)
    #[arg(
        short = 'L',
        long = "tid",
        value_delimiter = ',',
        conflicts_with = "pids"
    )]
    tids: Vec<u32>,
    /// Only samples on this CPU
    #[arg(short = 'C', long = "cpu")]
    cpu: Option<u32>,
    /// Kernel frames of folded lines end in _[k]
    #[arg(short = 'a', long = "annotations")]
    annotations: bool,
    /// Include the idle task (pid 0)
    #[arg(short = 'I', long = "include-idle")]
    include_idle: bool,
    #[command(flatten)]
    stacks: StackArgs,
}

#[derive(Args)]
pub struct OffcputimeArgs {
    /// Only these threads (comma-separated)
    #[arg(
        short = 't',
        long = "tid",
        value_delimiter = ',',
        conflicts_with = "pids"
    )]
    tids: Vec<u32>,
    /// User threads only
    #[arg(short = 'u', long = "user-threads-only")]
    user_threads: bool,
    /// Kernel threads only
    #[arg(
        short = 'k',
        long = "kernel-threads-only",
        conflicts_with = "user_threads"
    )]
    kernel_threads: bool,
    /// Only blocks of at least this many microseconds
    #[arg(short = 'm', long = "min-block-time", default_value_t = 1)]
    min_us: u64,
    /// Only blocks of at most this many microseconds
    #[arg(short = 'M', long = "max-block-time")]
    max_us: Option<u64>,
    /// Only threads leaving in this state: 0 preempted, else state bits (2: uninterruptible)
    #[arg(long = "state")]
    state: Option<u64>,
    #[command(flatten)]
    stacks: StackArgs,
}

/// When histograms print: `-T`, interval, count; and `--json`.
#[derive(Args)]
pub struct ScheduleArgs {
    /// Print a time line before each histogram
    #[arg(short = 'T', long = "timestamp")]
    timestamp: bool,
    /// Milliseconds instead of microseconds
    #[arg(short = 'm', long = "milliseconds")]
    milliseconds: bool,
    /// One JSON object per histogram
    #[arg(long)]
    json: bool,
    /// Print every INTERVAL seconds
    interval: Option<u64>,
    /// Stop after COUNT intervals
    count: Option<u64>,
}

impl ScheduleArgs {
    fn schedule(&self) -> Schedule {
        Schedule {
            timestamp: self.timestamp,
            interval: self.interval,
            count: self.count,
        }
    }
}

#[derive(Args)]
pub struct BiolatencyArgs {
    /// Include the time queued in the kernel
    #[arg(short = 'Q', long = "queued")]
    queued: bool,
    /// One histogram per disk
    #[arg(short = 'D', long = "disks")]
    disks: bool,
    /// One histogram per set of I/O flags
    #[arg(short = 'F', long = "flags")]
    flags: bool,
    /// Only this disk (sda, vda, nvme0n1, …)
    #[arg(short = 'd', long = "disk")]
    disk: Option<String>,
    /// Print the average, total and count after each report
    #[arg(short = 'e', long = "extension")]
    extension: bool,
    #[command(flatten)]
    schedule: ScheduleArgs,
}

/// What runqlat and cpudist share.
#[derive(Args)]
pub struct SchedArgs {
    /// One histogram per thread id
    #[arg(short = 'L', long = "tids")]
    per_thread: bool,
    /// One histogram per process id
    #[arg(short = 'P', long = "pids")]
    per_process: bool,
    /// Only threads of this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    #[command(flatten)]
    schedule: ScheduleArgs,
}

impl SchedArgs {
    fn options(self, per_namespace: bool) -> Result<sched::Options, bpfhook_tools::ToolError> {
        Ok(sched::Options {
            milliseconds: self.schedule.milliseconds,
            per: sched::Per::pick(self.per_thread, self.per_process, per_namespace)?,
            pid: self.pid,
            schedule: self.schedule.schedule(),
            json: self.schedule.json,
            ..sched::Options::default()
        })
    }
}

#[derive(Args)]
pub struct RunqlatArgs {
    /// One histogram per PID namespace
    #[arg(long = "pidnss")]
    per_namespace: bool,
    #[command(flatten)]
    sched: SchedArgs,
}

#[derive(Args)]
pub struct CpudistArgs {
    /// Time off CPU (from leaving a CPU to running again) instead
    #[arg(short = 'O', long = "offcpu")]
    offcpu: bool,
    /// Include the CPUs' idle tasks
    #[arg(short = 'I', long = "include-idle")]
    include_idle: bool,
    /// Print the average, total and count after each report
    #[arg(short = 'e', long = "extension")]
    extension: bool,
    #[command(flatten)]
    sched: SchedArgs,
}

pub fn run(command: ToolCommand) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let out = Box::new(std::io::LineWriter::new(std::io::stdout()));
    let code = match command {
        ToolCommand::Tools => {
            list();
            0
        }
        ToolCommand::Opensnoop(a) => opensnoop::run(
            opensnoop::Options {
                pid: a.pid,
                tid: a.tid,
                uid: a.uid,
                timestamp: a.timestamp,
                print_uid: a.print_uid,
                failed: a.failed,
                extended: a.extended,
                duration: a.duration.map(Duration::from_secs),
                name: a.name,
                flags: a.flags,
                json: a.json,
                ..opensnoop::Options::default()
            },
            out,
            stop,
        )?,
        ToolCommand::Statsnoop(a) => opensnoop::statsnoop(
            opensnoop::Options {
                pid: a.pid,
                timestamp: a.timestamp,
                failed: a.failed,
                syscall_name: a.syscall_name,
                json: a.json,
                ..opensnoop::Options::default()
            },
            out,
            stop,
        )?,
        ToolCommand::Mountsnoop(a) => mountsnoop::run(
            mountsnoop::Options {
                parent: a.parent,
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Bashreadline(a) => bashreadline::run(
            bashreadline::Options {
                shared: a.shared,
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Exitsnoop(a) => exitsnoop::run(
            exitsnoop::Options {
                timestamp: a.timestamp,
                failed: a.failed,
                pid: a.pid,
                per_thread: a.per_thread,
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Killsnoop(a) => killsnoop::run(
            killsnoop::Options {
                failed: a.failed,
                pid: a.pid,
                target: a.target,
                signals: a.signals,
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Profile(a) => profile::run(
            profile::Options {
                frequency: a.frequency.unwrap_or(profile::DEFAULT_HZ),
                period: a.period,
                cpu: a.cpu,
                annotations: a.annotations,
                include_idle: a.include_idle,
                stacks: a.stacks.options(a.tids),
            },
            out,
            stop,
        )?,
        ToolCommand::Offcputime(a) => offcputime::run(
            offcputime::Options {
                user_threads: a.user_threads,
                kernel_threads: a.kernel_threads,
                min_us: a.min_us,
                max_us: a.max_us,
                state: a.state,
                stacks: a.stacks.options(a.tids),
            },
            out,
            stop,
        )?,
        ToolCommand::Biolatency(a) => biolatency::run(
            biolatency::Options {
                queued: a.queued,
                milliseconds: a.schedule.milliseconds,
                disks: a.disks,
                flags: a.flags,
                disk: a.disk,
                extension: a.extension,
                schedule: a.schedule.schedule(),
                json: a.schedule.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Biosnoop(a) => biosnoop::run(
            biosnoop::Options {
                disk: a.disk,
                queued: a.queued,
                pattern: a.pattern,
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Runqlat(a) => sched::run(
            sched::Tool::Runqlat,
            a.sched.options(a.per_namespace)?,
            out,
            stop,
        )?,
        ToolCommand::Runqlen(a) => runqlen::run(
            runqlen::Options {
                per_cpu: a.per_cpu,
                occupancy: a.occupancy,
                schedule: Schedule {
                    timestamp: a.timestamp,
                    interval: a.interval,
                    count: a.count,
                },
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Cpudist(a) => sched::run(
            sched::Tool::Cpudist,
            sched::Options {
                offcpu: a.offcpu,
                include_idle: a.include_idle,
                extension: a.extension,
                ..a.sched.options(false)?
            },
            out,
            stop,
        )?,
        ToolCommand::Softirqs(a) => irqs::run(irqs::Kind::Soft, a.options(), out, stop)?,
        ToolCommand::Hardirqs(a) => irqs::run(irqs::Kind::Hard, a.options(), out, stop)?,
        ToolCommand::Tcpstates(a) => tcp::run(tcp::Tool::States, a.options(), out, stop)?,
        ToolCommand::Tcplife(a) => tcp::run(tcp::Tool::Life, a.options(), out, stop)?,
        ToolCommand::Tcpretrans(a) => tcp::run(
            tcp::Tool::Retrans,
            tcp::Options {
                count: a.count,
                local_ports: a.ports.local_ports,
                remote_ports: a.ports.remote_ports,
                ..a.family.options()
            },
            out,
            stop,
        )?,
        ToolCommand::Tcpconnect(a) => tcp::run(
            tcp::Tool::Connect,
            tcp::Options {
                print_uid: a.print_uid,
                uid: a.uid,
                print_local_port: a.print_local_port,
                count: a.count,
                ..a.open.options(tcp::Tool::Connect)
            },
            out,
            stop,
        )?,
        ToolCommand::Tcpaccept(a) => tcp::run(
            tcp::Tool::Accept,
            tcp::Options {
                clock: a.clock,
                ..a.open.options(tcp::Tool::Accept)
            },
            out,
            stop,
        )?,
        ToolCommand::Syscount(a) if a.list => {
            let mut out = out;
            syscount::list(&mut out).context("writing the syscall list")?;
            0
        }
        ToolCommand::Syscount(a) => syscount::run(
            syscount::Options {
                pid: a.pid,
                tid: a.tid,
                ppid: a.ppid,
                errno: a.errno,
                syscall: a.syscall,
                per_process: a.per_process,
                latency: a.latency,
                milliseconds: a.milliseconds,
                failed: a.failed,
                top: a.top,
                interval: a.interval,
                duration: a.duration.map(Duration::from_secs),
                json: a.json,
            },
            out,
            stop,
        )?,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `bpfhook tools`: name and summary, aligned.
fn list() {
    for tool in bpfhook_tools::tools() {
        println!("{:<12} {}", tool.name, tool.summary);
    }
}
