//! `biolatency`: block I/O latency histograms (issue, or with `-Q` insertion, to completion),
//! per disk (`-D`) or per I/O flags (`-F`), printed at Ctrl-C or every interval.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bpfhook_lang::output::{MapDump, Value};

use crate::fields::{text, uint};
use crate::hist;
use crate::launch::{self, edit, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-T`: a time line before each histogram.
    pub timestamp: bool,
    /// `-Q`: include the time queued in the kernel (from insertion).
    pub queued: bool,
    /// `-m`: milliseconds instead of microseconds.
    pub milliseconds: bool,
    /// `-D`: one histogram per disk.
    pub disks: bool,
    /// `-F`: one histogram per set of I/O flags.
    pub flags: bool,
    /// Print (and reset) every this many seconds.
    pub interval: Option<u64>,
    /// Stop after this many intervals.
    pub count: Option<u64>,
    /// `--json`: one object per histogram.
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`) or `count` intervals.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    if options.interval == Some(0) {
        return Err(ToolError::Usage(
            "invalid interval: 0 (seconds, at least 1)".into(),
        ));
    }
    if options.count == Some(0) {
        return Err(ToolError::Usage("invalid count: 0".into()));
    }
    if options.count.is_some() && options.interval.is_none() {
        return Err(ToolError::Usage("a count needs an interval".into()));
    }
    let launch = Launch::new("biolatency", script(&options));
    let json = options.json;
    let mut output = ReportOutput(Biolatency {
        options,
        sink: Sink::new(out, json),
        printed: 0,
        stop: Arc::clone(&stop),
    });
    launch::run(launch, stop, &mut output)
}

/// The script with the options that change its shape applied.
fn script(options: &Options) -> String {
    let mut text = crate::script("biolatency").unwrap_or_default().to_owned();
    if options.milliseconds {
        text = edit(&text, "/ 1000)", "/ 1000000)");
    }
    let key = match (options.disks, options.flags) {
        (true, true) => "[args.dev, str(args.rwbs)]",
        (true, false) => "[args.dev]",
        (false, true) => "[str(args.rwbs)]",
        (false, false) => "",
    };
    text = edit(&text, "@latency = hist(", &format!("@latency{key} = hist("));
    if options.queued {
        // Insertion starts the clock; issue starts it only for requests never queued.
        text = edit(
            &text,
            "tracepoint:block:block_rq_issue\n{",
            "tracepoint:block:block_rq_insert\n{\n  @start[args.dev, args.sector] = nsecs;\n}\n\n\
             tracepoint:block:block_rq_issue\n/ !@start[args.dev, args.sector] /\n{",
        );
    }
    if let Some(seconds) = options.interval {
        text.push_str(&format!(
            "\ninterval:s:{seconds}\n{{\n  print(@latency);\n  clear(@latency);\n}}\n"
        ));
    }
    text
}

struct Biolatency {
    options: Options,
    sink: Sink,
    /// Histograms printed (intervals, then the exit dump).
    printed: u64,
    stop: Arc<AtomicBool>,
}

impl Biolatency {
    fn unit(&self) -> &'static str {
        if self.options.milliseconds {
            "msecs"
        } else {
            "usecs"
        }
    }

    /// The histogram's key as BCC's section line shows it: `disk = sda`, `flags = Write`.
    fn sections(&self, key: &[Value]) -> Vec<(&'static str, String)> {
        let mut sections = Vec::new();
        let mut index = 0;
        if self.options.disks {
            sections.push(("disk", disk_name(uint(key, index) as u32)));
            index += 1;
        }
        if self.options.flags {
            sections.push(("flags", flags_name(&text(key, index))));
        }
        sections
    }
}

impl Report for Biolatency {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        writeln!(
            self.sink.out,
            "Tracing block device I/O... Hit Ctrl-C to end."
        )
    }

    fn record(&mut self, _fields: &[Value]) -> io::Result<()> {
        Ok(())
    }

    fn table(&mut self, map: &MapDump) -> io::Result<()> {
        if map.name != "@latency" || self.options.count.is_some_and(|c| self.printed >= c) {
            return Ok(());
        }
        self.printed += 1;
        if self.options.count.is_some_and(|c| self.printed >= c) {
            self.stop.store(true, Ordering::Relaxed);
        }
        let time = self.options.timestamp.then(clock_time);
        if !self.sink.json {
            writeln!(self.sink.out)?;
            if let Some(time) = &time {
                writeln!(self.sink.out, "{time}")?;
            }
        }
        let mut entries: Vec<_> = map.entries.iter().collect();
        entries.sort_by_key(|(key, _)| key.iter().map(Value::to_text).collect::<Vec<_>>());
        let unit = self.unit();
        for (key, value) in entries {
            let slots = hist::slots(value);
            let sections = self.sections(key);
            if self.sink.json {
                let mut object = hist::log2_json(&slots, unit);
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
            write!(self.sink.out, "{}", hist::log2_text(&slots, unit))?;
        }
        self.sink.out.flush()
    }
}

/// `sda` for a kernel dev_t (major << 20 | minor), through /sys/dev/block; else `MAJ,MIN`.
fn disk_name(dev: u32) -> String {
    let (major, minor) = (dev >> 20, dev & ((1 << 20) - 1));
    std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent"))
        .ok()
        .and_then(|uevent| {
            uevent
                .lines()
                .find_map(|l| l.strip_prefix("DEVNAME=").map(str::to_owned))
        })
        .unwrap_or_else(|| format!("{major},{minor}"))
}

/// The block layer's `rwbs` letters as words: `WS` → `Sync-Write`, `FWS` → `PreFlush-Sync-Write`.
fn flags_name(rwbs: &str) -> String {
    let mut words = Vec::new();
    let mut operation = None;
    for (i, letter) in rwbs.chars().enumerate() {
        let word = match letter {
            'F' if i == 0 => "PreFlush",
            'F' => "FUA",
            'R' => {
                operation = Some("Read");
                continue;
            }
            'W' => {
                operation = Some("Write");
                continue;
            }
            'D' => {
                operation = Some("Discard");
                continue;
            }
            'E' => {
                operation = Some("SecureErase");
                continue;
            }
            'N' => {
                operation = Some("None");
                continue;
            }
            'S' => "Sync",
            'M' => "Metadata",
            'A' => "ReadAhead",
            _ => continue,
        };
        words.push(word);
    }
    words.extend(operation);
    if words.is_empty() {
        return rwbs.to_owned();
    }
    words.join("-")
}

/// The local time as `HH:MM:SS`.
fn clock_time() -> String {
    // SAFETY: time and localtime_r only write the values given.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rwbs_words() {
        assert_eq!(flags_name("WS"), "Sync-Write");
        assert_eq!(flags_name("R"), "Read");
        assert_eq!(flags_name("FWFS"), "PreFlush-FUA-Sync-Write");
        assert_eq!(flags_name(""), "");
    }

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let all = Options {
            queued: true,
            milliseconds: true,
            disks: true,
            flags: true,
            interval: Some(1),
            ..Options::default()
        };
        let text = script(&all);
        assert!(text.contains("block_rq_insert") && text.contains("interval:s:1"));
        for options in [Options::default(), all] {
            let source = script(&options);
            if let Err(e) = bpfhook_lang::compile("biolatency", &source, Default::default()) {
                panic!("{}\n{source}", e.rendered);
            }
        }
    }
}
