//! The ready-made tools (`bpfhook opensnoop`, `profile`, `biolatency`, …): BCC's options in
//! clap, handed to `bpfhook-tools`; and `bpfhook tools`, the list.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bpfhook_tools::{biolatency, opensnoop, profile};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ToolCommand {
    /// List the ready-made tools, one line each
    Tools,
    /// Trace open/openat/openat2: PID COMM FD ERR PATH (like BCC's opensnoop)
    Opensnoop(OpensnoopArgs),
    /// Sample on-CPU stacks at -F Hz; --folded lines or a --flamegraph SVG (like BCC's profile)
    Profile(ProfileArgs),
    /// Block I/O latency as a log2 histogram (like BCC's biolatency)
    Biolatency(BiolatencyArgs),
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
pub struct ProfileArgs {
    /// Only this process
    #[arg(short = 'p', long = "pid")]
    pid: Option<u32>,
    /// Samples per second on each CPU
    #[arg(short = 'F', long = "frequency", default_value_t = profile::DEFAULT_HZ)]
    frequency: u32,
    /// Include the idle task (pid 0)
    #[arg(short = 'I', long = "include-idle")]
    include_idle: bool,
    /// User stacks only
    #[arg(short = 'U', long = "user-stacks-only")]
    user_only: bool,
    /// Kernel stacks only
    #[arg(short = 'K', long = "kernel-stacks-only")]
    kernel_only: bool,
    /// Folded output (comm;root;…;leaf count), for flame graph tools
    #[arg(short = 'f', long = "folded")]
    folded: bool,
    /// Write an interactive SVG flame graph to FILE
    #[arg(long, value_name = "FILE")]
    flamegraph: Option<PathBuf>,
    /// One JSON object per stack
    #[arg(long)]
    json: bool,
    /// Seconds to sample (default: until Ctrl-C)
    duration: Option<u64>,
}

#[derive(Args)]
pub struct BiolatencyArgs {
    /// Print a time line before each histogram
    #[arg(short = 'T', long = "timestamp")]
    timestamp: bool,
    /// Include the time queued in the kernel
    #[arg(short = 'Q', long = "queued")]
    queued: bool,
    /// Milliseconds instead of microseconds
    #[arg(short = 'm', long = "milliseconds")]
    milliseconds: bool,
    /// One histogram per disk
    #[arg(short = 'D', long = "disks")]
    disks: bool,
    /// One histogram per set of I/O flags
    #[arg(short = 'F', long = "flags")]
    flags: bool,
    /// One JSON object per histogram
    #[arg(long)]
    json: bool,
    /// Print every INTERVAL seconds
    interval: Option<u64>,
    /// Stop after COUNT intervals
    count: Option<u64>,
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
            },
            out,
            stop,
        )?,
        ToolCommand::Profile(a) => profile::run(
            profile::Options {
                pid: a.pid,
                frequency: a.frequency,
                include_idle: a.include_idle,
                user_only: a.user_only,
                kernel_only: a.kernel_only,
                duration: a.duration.map(Duration::from_secs),
                folded: a.folded,
                flamegraph: a.flamegraph,
                json: a.json,
            },
            out,
            stop,
        )?,
        ToolCommand::Biolatency(a) => biolatency::run(
            biolatency::Options {
                timestamp: a.timestamp,
                queued: a.queued,
                milliseconds: a.milliseconds,
                disks: a.disks,
                flags: a.flags,
                interval: a.interval,
                count: a.count,
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
