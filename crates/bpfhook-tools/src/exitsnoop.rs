//! `exitsnoop`: process exits with parent, age and how they ended (code or signal), BCC's
//! columns. Threads other than the group leader only with `--per-thread`, as in BCC.

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

use crate::fields::{int, text, uint};
use crate::launch::{self, check_pid, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-t`: a TIME column (local time of the exit).
    pub timestamp: bool,
    /// `-x`: only exits with a non-zero code or a signal.
    pub failed: bool,
    /// `-p`: only this process.
    pub pid: Option<u32>,
    /// `--per-thread`: every thread's exit, not only the process's.
    pub per_thread: bool,
    /// `--json`: one object per exit.
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`).
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    if let Some(pid) = options.pid {
        check_pid(pid)?;
    }
    let mut launch = Launch::new(
        "exitsnoop",
        crate::script("exitsnoop").unwrap_or_default().into(),
    );
    launch.params = vec![options.pid.unwrap_or(0).to_string()];
    let json = options.json;
    let mut output = ReportOutput(Exitsnoop {
        options,
        sink: Sink::new(out, json),
    });
    launch::run(launch, stop, &mut output)
}

struct Exitsnoop {
    options: Options,
    sink: Sink,
}

/// `0`, `code 3`, `signal 9 (KILL)`, `signal 11 (SEGV), core dumped`.
fn describe(exit_code: i64) -> String {
    let signal = exit_code & 0x7f;
    let status = (exit_code >> 8) & 0xff;
    match (signal, status) {
        (0, 0) => "0".into(),
        (0, code) => format!("code {code}"),
        (signal, _) => {
            let core = if exit_code & 0x80 != 0 {
                ", core dumped"
            } else {
                ""
            };
            format!("signal {signal} ({}){core}", crate::signals::name(signal))
        }
    }
}

impl Report for Exitsnoop {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        let time = if self.options.timestamp {
            format!("{:<13}", "TIME")
        } else {
            String::new()
        };
        writeln!(
            self.sink.out,
            "{time}{:<16} {:<7} {:<7} {:<7} {:<7} EXIT_CODE",
            "PCOMM", "PID", "PPID", "TID", "AGE(s)"
        )
    }

    fn record(&mut self, f: &[Value]) -> io::Result<()> {
        let (ns, pid, tid, ppid) = (uint(f, 0), uint(f, 1), uint(f, 2), uint(f, 3));
        let (comm, exit_code, start) = (text(f, 4), int(f, 5), uint(f, 6));
        if (!self.options.per_thread && pid != tid) || (self.options.failed && exit_code == 0) {
            return Ok(());
        }
        let age = ns.saturating_sub(start) as f64 / 1e9;
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "comm": comm, "pid": pid, "ppid": ppid, "tid": tid, "age": age,
                "exit_code": (exit_code >> 8) & 0xff, "signal": exit_code & 0x7f,
                "core_dumped": exit_code & 0x80 != 0,
            }));
        }
        let time = if self.options.timestamp {
            format!("{:<13}", crate::histograms::clock_time_ms())
        } else {
            String::new()
        };
        writeln!(
            self.sink.out,
            "{time}{comm:<16} {pid:<7} {ppid:<7} {tid:<7} {age:<7.2} {}",
            describe(exit_code)
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exit_codes_as_bcc_says_them() {
        assert_eq!(super::describe(0), "0");
        assert_eq!(super::describe(3 << 8), "code 3");
        assert_eq!(super::describe(9), "signal 9 (KILL)");
        assert_eq!(super::describe(0x80 | 11), "signal 11 (SEGV), core dumped");
    }
}
