//! `bpfhook seccomp`: run a command under a seccomp filter, and say what the filter did.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::{Context, Result};
use bpfhook::seccomp::{Action, Filter, LogReader, LogRecord, Policy};
use serde_json::json;

#[derive(clap::Args)]
pub struct SeccompArgs {
    /// System calls the filter refuses (comma-separated or repeated); every other one runs
    #[arg(long, value_name = "SYSCALLS", required_unless_present = "allow")]
    deny: Vec<String>,
    /// Only these system calls run (execve is added); every other one gets --action
    #[arg(long, value_name = "SYSCALLS", conflicts_with = "deny")]
    allow: Vec<String>,
    /// What a filtered call gets: errno[:NAME|NUMBER] (default EPERM), kill, kill-thread, trap, log
    #[arg(long, default_value = "errno", value_parser = parse_action)]
    action: Action,
    /// Log every filtered call in the kernel's audit log and print those records at the end
    #[arg(long)]
    log: bool,
    /// One JSON object per line (filter, record, exit) on stderr
    #[arg(long)]
    json: bool,
    /// The command to run under the filter
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

fn parse_action(s: &str) -> Result<Action, String> {
    Action::parse(s).map_err(|e| e.to_string())
}

pub fn seccomp(args: SeccompArgs) -> Result<ExitCode> {
    let policy = if args.allow.is_empty() {
        Policy::deny(&args.deny, args.action)?
    } else {
        Policy::allow_only(&args.allow, args.action)?
    };
    let filter = Filter::compile(&policy, args.log)?;
    let mut err = std::io::stderr().lock();
    let program = &args.command[0];
    if args.json {
        let line =
            json!({"type": "filter", "policy": policy.to_string(), "instructions": filter.len()});
        writeln!(err, "{line}")?;
    } else {
        writeln!(
            err,
            "seccomp: running {program} under a filter of {} classic BPF instructions: {policy}",
            filter.len()
        )?;
    }

    let mut log = args
        .log
        .then(LogReader::open)
        .transpose()
        .context("opening /dev/kmsg for the seccomp log")?;
    let mut command = Command::new(program);
    command.args(&args.command[1..]);
    let child_filter = filter.clone();
    // SAFETY: the closure runs in the child between fork and exec; `install` only makes two
    // system calls on memory prepared before the fork.
    unsafe {
        command.pre_exec(move || child_filter.install());
    }
    let status = command
        .status()
        .with_context(|| format!("running {program} under the filter"))?;

    if let Some(log) = log.as_mut() {
        // The kernel writes audit records from a thread of its own: give it a moment.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let records = log.records().context("reading /dev/kmsg")?;
        for record in &records {
            print_record(&mut err, record, args.json)?;
        }
        if records.is_empty() && !args.json {
            writeln!(
                err,
                "seccomp: no records in the kernel log (it rate-limits them: see `dmesg` for \
                 \"callbacks suppressed\"; where auditd runs, see `ausearch -m SECCOMP`)"
            )?;
        }
    }
    print_exit(&mut err, program, status, args.json)?;
    Ok(exit_code(status))
}

fn print_record(out: &mut impl Write, record: &LogRecord, json: bool) -> std::io::Result<()> {
    let action = record.action;
    if json {
        let line = json!({"type": "record", "pid": record.pid, "comm": record.comm,
            "syscall": record.syscall_name(), "number": record.syscall, "action": action});
        writeln!(out, "{line}")
    } else {
        writeln!(
            out,
            "seccomp: pid {} ({}) {} → {action}",
            record.pid,
            record.comm,
            record.syscall_name()
        )
    }
}

fn print_exit(
    out: &mut impl Write,
    program: &str,
    status: ExitStatus,
    json: bool,
) -> std::io::Result<()> {
    let signal = status.signal();
    if json {
        let line = json!({"type": "exit", "code": status.code(), "signal": signal});
        return writeln!(out, "{line}");
    }
    match (status.code(), signal) {
        (_, Some(libc::SIGSYS)) => {
            writeln!(
                out,
                "seccomp: {program} was killed by SIGSYS (a system call the filter refuses)"
            )
        }
        (_, Some(signal)) => writeln!(out, "seccomp: {program} was killed by signal {signal}"),
        (Some(code), None) => writeln!(out, "seccomp: {program} exited with status {code}"),
        (None, None) => Ok(()),
    }
}

/// The command's exit code, or 128 + the signal that ended it, as a shell reports it.
fn exit_code(status: ExitStatus) -> ExitCode {
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
