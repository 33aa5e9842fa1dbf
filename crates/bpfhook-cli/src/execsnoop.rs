//! `bpfhook execsnoop`: trace every exec on the system, like BCC's execsnoop. Its programs are
//! generated in Rust (`bpfhook::tools::execsnoop`), so it needs no clang and no files.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use bpfhook::events::{Event, EventLoop, EventOptions};
use bpfhook::manager::ManagerBuilder;
use bpfhook::object::ObjectFile;
use bpfhook::tools::execsnoop::{self, ExecEvent, ExecsnoopOptions, DEFAULT_MAX_ARGS};
use clap::Args;

use crate::session::Session;

#[derive(Args)]
pub struct ExecsnoopArgs {
    /// Only execs by this user id (filtered in the kernel)
    #[arg(long, short = 'u')]
    uid: Option<u32>,
    /// Only execs whose new command name is exactly NAME (filtered in the kernel; at most 15 bytes)
    #[arg(long, short = 'n')]
    name: Option<String>,
    /// Arguments to keep per exec, the filename included
    #[arg(long, default_value_t = DEFAULT_MAX_ARGS)]
    max_args: usize,
    /// One JSON object per exec
    #[arg(long)]
    json: bool,
    /// Stop after this many seconds
    #[arg(long, short = 'd')]
    duration: Option<f64>,
    /// Run this command once tracing, and stop when it exits (`-c 'make -j2'`)
    #[arg(long, short = 'c')]
    command: Option<String>,
}

pub fn execsnoop(args: ExecsnoopArgs) -> Result<ExitCode> {
    let options = ExecsnoopOptions {
        uid: args.uid,
        name: args.name.clone(),
        max_args: args.max_args,
    };
    let object = ObjectFile::parse(&execsnoop::object_for_running_kernel(&options)?)?;
    let loaded = ManagerBuilder::new(&object).load()?;
    let event_options = EventOptions {
        printk: false,
        ..EventOptions::default()
    };
    // Readers first, so the first exec after attaching is seen.
    let mut events = EventLoop::new(&event_options, loaded.maps())?;
    // Attached until the end of the function: dropping it detaches.
    let _manager = loaded.attach()?;

    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    if !args.json {
        writeln!(
            out,
            "{:<16} {:<7} {:<7} {:>3} ARGS",
            "PCOMM", "PID", "PPID", "RET"
        )?;
    }
    let command = match args.command.as_deref() {
        None => Vec::new(),
        Some(line) => shlex::split(line)
            .ok_or_else(|| anyhow::anyhow!("-c: unbalanced quotes in `{line}`"))?,
    };
    let mut session = Session::start(args.duration, &command)?;
    let json = args.json;
    session.run(&mut events, |event| {
        let Event::Record { data, .. } = event else {
            return;
        };
        let _ = match ExecEvent::decode(data) {
            Some(exec) if json => writeln!(out, "{}", to_json(&exec)),
            Some(exec) => writeln!(out, "{}", to_line(&exec)),
            None => writeln!(out, "undecodable record ({} bytes)", data.len()),
        };
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `PCOMM PID PPID RET ARGS`, as BCC prints it; cut argument lists end in "...".
fn to_line(exec: &ExecEvent) -> String {
    let mut args = exec.args.join(" ");
    if exec.truncated {
        args.push_str(" ...");
    }
    format!(
        "{:<16} {:<7} {:<7} {:>3} {args}",
        exec.comm, exec.pid, exec.ppid, exec.ret
    )
}

fn to_json(exec: &ExecEvent) -> serde_json::Value {
    serde_json::json!({
        "type": "exec",
        "pcomm": exec.comm,
        "pid": exec.pid,
        "ppid": exec.ppid,
        "uid": exec.uid,
        "ret": exec.ret,
        "args": exec.args,
        "args_truncated": exec.truncated,
    })
}
