//! `biosnoop`: one line per block I/O request: issuer, disk, direction, sector, size and
//! latency, BCC's columns; with `-Q` the time queued before issue, with `-P` whether each
//! request continues the disk's previous one (sequential) or not (random).

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

use crate::biolatency::{disk_name, disk_number};
use crate::fields::{text, uint};
use crate::launch::{self, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-d`: only this disk (`sda`, `vda`, `nvme0n1`).
    pub disk: Option<String>,
    /// `-Q`: a QUE(ms) column, the time from the request's start to its issue.
    pub queued: bool,
    /// `-P`: a P column, `S` when the request starts where the disk's previous one ended,
    /// `R` when not, `?` for a disk's first.
    pub pattern: bool,
    /// `--json`: one object per request.
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`).
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    if let Some(disk) = &options.disk {
        disk_number(disk)?;
    }
    let launch = Launch::new(
        "biosnoop",
        crate::script("biosnoop").unwrap_or_default().into(),
    );
    let json = options.json;
    let mut output = ReportOutput(Biosnoop {
        options,
        first_ns: None,
        ends: HashMap::new(),
        sink: Sink::new(out, json),
    });
    launch::run(launch, stop, &mut output)
}

struct Biosnoop {
    options: Options,
    first_ns: Option<u64>,
    /// Per disk, the sector after the last request completed (`-P`).
    ends: HashMap<u32, u64>,
    sink: Sink,
}

/// BCC's T column: `W` for writes, `D` for discards, else `R`.
fn direction(rwbs: &str) -> &'static str {
    if rwbs.contains('W') {
        "W"
    } else if rwbs.contains('D') {
        "D"
    } else {
        "R"
    }
}

impl Report for Biosnoop {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        let mut header = format!(
            "{:<11} {:<14} {:<7} {:<9} {:<1} {:<10} {:<7} ",
            "TIME(s)", "COMM", "PID", "DISK", "T", "SECTOR", "BYTES"
        );
        if self.options.pattern {
            header.push_str("P ");
        }
        if self.options.queued {
            header.push_str("QUE(ms) ");
        }
        writeln!(self.sink.out, "{header}LAT(ms)")
    }

    fn record(&mut self, f: &[Value]) -> io::Result<()> {
        let dev = uint(f, 3) as u32;
        let disk = disk_name(dev);
        if self.options.disk.as_deref().is_some_and(|d| d != disk) {
            return Ok(());
        }
        let ns = uint(f, 0);
        let first = *self.first_ns.get_or_insert(ns);
        let seconds = ns.saturating_sub(first) as f64 / 1e9;
        let (pid, comm, rwbs) = (uint(f, 1), text(f, 2), text(f, 4));
        let (sector, bytes, latency_ms) = (uint(f, 5), uint(f, 6), uint(f, 7) as f64 / 1e6);
        let queued_ms = uint(f, 8) as f64 / 1e6;
        let pattern = match self.ends.insert(dev, sector + bytes / 512) {
            Some(end) if end == sector => "S",
            Some(_) => "R",
            None => "?",
        };
        if self.sink.json {
            let mut object = serde_json::json!({
                "time": seconds, "comm": comm, "pid": pid, "disk": disk, "rwbs": rwbs,
                "sector": sector, "bytes": bytes, "latency_ms": latency_ms,
            });
            if self.options.pattern {
                object["pattern"] = pattern.into();
            }
            if self.options.queued {
                object["queued_ms"] = queued_ms.into();
            }
            return self.sink.json_line(object);
        }
        let comm: String = comm.chars().take(14).collect();
        let mut line = format!(
            "{seconds:<11.6} {comm:<14} {pid:<7} {disk:<9} {:<1} {sector:<10} {bytes:<7} ",
            direction(&rwbs)
        );
        if self.options.pattern {
            line.push_str(&format!("{pattern} "));
        }
        if self.options.queued {
            line.push_str(&format!("{queued_ms:>7.2} "));
        }
        writeln!(self.sink.out, "{line}{latency_ms:>7.2}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn directions() {
        assert_eq!(super::direction("WS"), "W");
        assert_eq!(super::direction("RA"), "R");
        assert_eq!(super::direction("DS"), "D");
    }
}
