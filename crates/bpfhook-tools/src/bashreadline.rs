//! `bashreadline`: every line interactive bash shells read, system wide (a uretprobe on
//! `readline` in /bin/bash, or with `-s` in the shared readline library bash uses), BCC's
//! columns. As BCC, only processes named `bash` count (other programs use readline too).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

use crate::fields::{text, uint};
use crate::histograms::clock_time;
use crate::launch::{self, edit, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-s`: the readline library bash is linked with, instead of /bin/bash.
    pub shared: Option<PathBuf>,
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`).
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    let mut text = crate::script("bashreadline").unwrap_or_default().to_owned();
    if let Some(library) = &options.shared {
        if !library.is_file() {
            return Err(ToolError::Usage(format!(
                "no such library: {}",
                library.display()
            )));
        }
        let probe = format!("uretprobe:{}:readline", library.display());
        text = edit(&text, "uretprobe:/bin/bash:readline", &probe);
    }
    let mut launch = Launch::new("bashreadline", text);
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
