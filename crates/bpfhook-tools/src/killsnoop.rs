//! `killsnoop`: every kill(2) with sender, signal, target and result, BCC's columns.

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
    /// `-x`: only kills that failed.
    pub failed: bool,
    /// `-p`: only kills sent by this process.
    pub pid: Option<u32>,
    /// `-T`: only kills sent to this process.
    pub target: Option<u32>,
    /// `-s`: only these signals (numbers or names; none: every signal).
    pub signals: Vec<String>,
    /// `--json`: one object per kill.
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`).
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    for pid in [options.pid, options.target].into_iter().flatten() {
        check_pid(pid)?;
    }
    let signals = options
        .signals
        .iter()
        .map(|text| {
            crate::signals::parse(text)
                .ok_or_else(|| ToolError::Usage(format!("unknown signal: {text}")))
        })
        .collect::<Result<Vec<i64>, _>>()?;
    let mut launch = Launch::new(
        "killsnoop",
        crate::script("killsnoop").unwrap_or_default().into(),
    );
    launch.params = vec![options.pid.unwrap_or(0).to_string()];
    let json = options.json;
    let mut output = ReportOutput(Killsnoop {
        failed: options.failed,
        target: options.target,
        signals,
        sink: Sink::new(out, json),
    });
    launch::run(launch, stop, &mut output)
}

struct Killsnoop {
    failed: bool,
    target: Option<u32>,
    signals: Vec<i64>,
    sink: Sink,
}

impl Report for Killsnoop {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        writeln!(
            self.sink.out,
            "{:<9} {:<7} {:<16} {:<4} {:<7} RESULT",
            "TIME", "PID", "COMM", "SIG", "TPID"
        )
    }

    fn record(&mut self, f: &[Value]) -> io::Result<()> {
        let (pid, comm, signal, target, result) =
            (uint(f, 1), text(f, 2), int(f, 3), int(f, 4), int(f, 5));
        if (self.failed && result >= 0)
            || !(self.signals.is_empty() || self.signals.contains(&signal))
            || self.target.is_some_and(|t| i64::from(t) != target)
        {
            return Ok(());
        }
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "pid": pid, "comm": comm, "signal": signal,
                "signal_name": crate::signals::name(signal), "target": target, "result": result,
            }));
        }
        let time = crate::histograms::clock_time();
        writeln!(
            self.sink.out,
            "{time:<9} {pid:<7} {comm:<16} {signal:<4} {target:<7} {result}"
        )
    }
}
