//! The shape BCC's histogram tools share (biolatency, runqlat, cpudist): one `@latency` log2
//! histogram, optionally per key (disk, flags, pid), printed at Ctrl-C or every interval
//! (reset each time), `count` intervals at most, each after a time line with `-T`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bpfhook_lang::output::{Aggregate, MapDump, Value};

use crate::fields::{text, uint};
use crate::hist;
use crate::launch::ToolError;
use crate::report::{Report, Sink};

/// The map every histogram script fills.
const MAP: &str = "@latency";
/// `-e`: count and total of every value the histograms take, whatever their key.
const SUMMARY: &str = "@latency_summary";

/// The script with BCC's `-e` summary: each value `@latency` takes also goes to a keyless
/// `stats()` (the script's one `@latency… = hist(VALUE);` line gives VALUE).
pub(crate) fn with_summary(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(MAP) && l.contains("= hist("))
        .expect("a histogram script fills @latency on one line");
    let value = line
        .split_once("= hist(")
        .and_then(|(_, rest)| rest.strip_suffix(");"))
        .expect("@latency = hist(VALUE); on one line");
    let indent = &line[..line.len() - line.trim_start().len()];
    crate::launch::edit(
        text,
        line,
        &format!("{indent}{SUMMARY} = stats({value});\n{line}"),
    )
}

/// One part of the histogram's key, and how its section line (`disk = sda`) shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A block device number, shown by name.
    Disk,
    /// The block layer's `rwbs` letters, shown as words.
    Flags,
    /// A process or thread id (`pid`, `tid`), with its name from /proc if `comm` (cpudist's
    /// sections: `pid = 1234 sshd`).
    Task { label: &'static str, comm: bool },
    /// A PID namespace's inode number.
    PidNs,
    /// A soft interrupt vector, shown by name.
    Softirq,
    /// A hard interrupt handler's name.
    Hardirq,
}

impl Section {
    fn label(self) -> &'static str {
        match self {
            Section::Disk => "disk",
            Section::Flags => "flags",
            Section::Task { label, .. } => label,
            Section::PidNs => "pidns",
            Section::Softirq => "softirq",
            Section::Hardirq => "hardirq",
        }
    }

    fn show(self, value: &[Value], index: usize) -> String {
        match self {
            Section::Disk => crate::biolatency::disk_name(uint(value, index) as u32),
            Section::Flags => crate::biolatency::flags_name(&text(value, index)),
            Section::Task { comm, .. } => {
                let id = uint(value, index);
                let name = std::fs::read_to_string(format!("/proc/{id}/comm"));
                match name {
                    Ok(name) if comm => format!("{id} {}", name.trim_end()),
                    _ => id.to_string(),
                }
            }
            Section::PidNs => uint(value, index).to_string(),
            Section::Softirq => crate::irqs::softirq_name(uint(value, index)),
            Section::Hardirq => text(value, index),
        }
    }
}

/// When and how often to print.
#[derive(Debug, Default, Clone, Copy)]
pub struct Schedule {
    /// `-T`: a time line before each histogram.
    pub timestamp: bool,
    /// Print (and reset) every this many seconds.
    pub interval: Option<u64>,
    /// Stop after this many intervals.
    pub count: Option<u64>,
}

impl Schedule {
    pub fn check(&self) -> Result<(), ToolError> {
        if self.interval == Some(0) {
            return Err(ToolError::Usage(
                "invalid interval: 0 (seconds, at least 1)".into(),
            ));
        }
        if self.count == Some(0) {
            return Err(ToolError::Usage("invalid count: 0".into()));
        }
        if self.count.is_some() && self.interval.is_none() {
            return Err(ToolError::Usage("a count needs an interval".into()));
        }
        Ok(())
    }

    /// The probe that prints and resets the histogram (and the `-e` summary if `summary`)
    /// every interval, if there is one.
    pub fn interval_probe(&self, summary: bool) -> String {
        if summary {
            self.interval_probe_of(&[MAP, SUMMARY])
        } else {
            self.interval_probe_of(&[MAP])
        }
    }

    /// The same for other maps, printed in this order.
    pub fn interval_probe_of(&self, maps: &[&str]) -> String {
        let Some(seconds) = self.interval else {
            return String::new();
        };
        let body: String = maps
            .iter()
            .map(|map| format!("  print({map});\n  clear({map});\n"))
            .collect();
        format!("\ninterval:s:{seconds}\n{{\n{body}}}\n")
    }
}

/// Counts the tables printed against the schedule: stops the run after `count`.
pub struct Ticks {
    schedule: Schedule,
    stop: Arc<AtomicBool>,
    printed: u64,
}

impl Ticks {
    pub fn new(schedule: Schedule, stop: Arc<AtomicBool>) -> Self {
        Self {
            schedule,
            stop,
            printed: 0,
        }
    }

    /// `count` tables printed: later ones (the exit dump) are not.
    pub fn done(&self) -> bool {
        self.schedule.count.is_some_and(|c| self.printed >= c)
    }

    /// One more table printed; its `-T` time line, if asked for.
    pub fn tick(&mut self) -> Option<String> {
        self.printed += 1;
        if self.done() {
            self.stop.store(true, Ordering::Relaxed);
        }
        self.schedule.timestamp.then(clock_time)
    }
}

/// A histogram tool's output.
pub struct Histograms {
    /// `Tracing block device I/O... Hit Ctrl-C to end.`
    pub banner: String,
    /// `usecs`, `msecs`.
    pub unit: &'static str,
    pub sections: Vec<Section>,
    pub ticks: Ticks,
    pub sink: Sink,
    /// Histograms were just printed: the `-e` summary that comes next is theirs.
    pub summary_due: bool,
}

impl Report for Histograms {
    fn started(&mut self) -> io::Result<()> {
        self.sink.text_line(&self.banner)
    }

    fn table(&mut self, map: &MapDump) -> io::Result<()> {
        if map.name == SUMMARY {
            // It follows the histograms of its interval (the last one too: the exit dump's
            // after `count` intervals is not printed).
            if std::mem::take(&mut self.summary_due) {
                return self.summary(map);
            }
            return Ok(());
        }
        if map.name != MAP || self.ticks.done() {
            return Ok(());
        }
        let time = self.ticks.tick();
        self.summary_due = true;
        self.sink.interval(time.as_deref())?;
        let mut entries: Vec<_> = map.entries.iter().collect();
        entries.sort_by_key(|(key, _)| key.iter().map(Value::to_text).collect::<Vec<_>>());
        for (key, value) in entries {
            let slots = hist::slots(value);
            let sections: Vec<_> = self
                .sections
                .iter()
                .enumerate()
                .map(|(i, s)| (s.label(), s.show(key, i)))
                .collect();
            if self.sink.json {
                let mut object = hist::log2_json(&slots, self.unit);
                for (name, value) in sections {
                    object[name] = value.into();
                }
                if let Some(time) = &time {
                    object["time"] = time.clone().into();
                }
                self.sink.json_line(object)?;
                continue;
            }
            for (name, value) in sections {
                writeln!(self.sink.out, "\n{name} = {value}")?;
            }
            write!(self.sink.out, "{}", hist::log2_text(&slots, self.unit))?;
        }
        self.sink.out.flush()
    }
}

impl Histograms {
    /// BCC's `-e` line after the interval's histograms: average, total and count.
    fn summary(&mut self, map: &MapDump) -> io::Result<()> {
        let Some((_, Aggregate::Stats { count, total })) = map.entries.first() else {
            return Ok(());
        };
        let (count, total, unit) = (*count, *total, self.unit);
        if count == 0 {
            return Ok(());
        }
        let average = total / count as i64;
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "avg": average, "total": total, "count": count, "unit": unit,
            }));
        }
        writeln!(
            self.sink.out,
            "\navg = {average} {unit}, total: {total} {unit}, count: {count}\n"
        )
    }
}

/// The local time as `HH:MM:SS`.
pub fn clock_time() -> String {
    let (tm, _) = local_now();
    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// The local time as `HH:MM:SS.mmm`.
pub fn clock_time_ms() -> String {
    let (tm, nanos) = local_now();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        nanos / 1_000_000
    )
}

fn local_now() -> (libc::tm, i64) {
    // SAFETY: clock_gettime and localtime_r only write the values given.
    unsafe {
        let mut now: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_REALTIME, &mut now);
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now.tv_sec, &mut tm);
        (tm, now.tv_nsec)
    }
}
