//! `bashreadline`: every line interactive bash shells read, system wide (a uretprobe on
//! `readline` in /bin/bash), BCC's columns.

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

use crate::fields::{text, uint};
use crate::histograms::clock_time;
use crate::launch::{self, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// Options: only `--json`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`).
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    let mut launch = Launch::new(
        "bashreadline",
        crate::script("bashreadline").unwrap_or_default().into(),
    );
    launch.max_strlen = 256;
    let mut output = ReportOutput(Bashreadline {
        sink: Sink::new(out, options.json),
    });
    launch::run(launch, stop, &mut output)
}

struct Bashreadline {
    sink: Sink,
}

impl Report for Bashreadline {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        writeln!(self.sink.out, "{:<9} {:<7} COMMAND", "TIME", "PID")
    }

    fn record(&mut self, f: &[Value]) -> io::Result<()> {
        let (pid, line) = (uint(f, 0), text(f, 1));
        if self.sink.json {
            return self
                .sink
                .json_line(serde_json::json!({"pid": pid, "command": line}));
        }
        writeln!(self.sink.out, "{:<9} {pid:<7} {line}", clock_time())
    }
}
