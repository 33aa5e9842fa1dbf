//! `biolatency`: block I/O latency histograms (issue, or with `-Q` insertion, to completion),
//! per disk (`-D`) or per I/O flags (`-F`), printed at Ctrl-C or every interval.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::histograms::{Histograms, Schedule, Section, Ticks};
use crate::launch::{self, edit, Launch, ToolError};
use crate::report::{ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-Q`: include the time queued in the kernel (from insertion).
    pub queued: bool,
    /// `-m`: milliseconds instead of microseconds.
    pub milliseconds: bool,
    /// `-D`: one histogram per disk.
    pub disks: bool,
    /// `-F`: one histogram per set of I/O flags.
    pub flags: bool,
    /// `-T`, interval and count.
    pub schedule: Schedule,
    /// `--json`: one object per histogram.
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`) or `count` intervals.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    options.schedule.check()?;
    let launch = Launch::new("biolatency", script(&options));
    let sections = [
        (options.disks, Section::Disk),
        (options.flags, Section::Flags),
    ]
    .into_iter()
    .filter_map(|(on, section)| on.then_some(section))
    .collect();
    let mut output = ReportOutput(Histograms {
        banner: "Tracing block device I/O... Hit Ctrl-C to end.".into(),
        unit: if options.milliseconds {
            "msecs"
        } else {
            "usecs"
        },
        sections,
        ticks: Ticks::new(options.schedule, Arc::clone(&stop)),
        sink: Sink::new(out, options.json),
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
        (true, true) => "[args->dev, str(args->rwbs)]",
        (true, false) => "[args->dev]",
        (false, true) => "[str(args->rwbs)]",
        (false, false) => "",
    };
    text = edit(&text, "@latency = hist(", &format!("@latency{key} = hist("));
    if options.queued {
        // Insertion starts the clock; issue starts it only for requests never queued.
        text = edit(
            &text,
            "tracepoint:block:block_rq_issue\n{",
            "tracepoint:block:block_rq_insert\n{\n  @start[args->dev, args->sector] = nsecs;\n}\n\n\
             tracepoint:block:block_rq_issue\n/ !@start[args->dev, args->sector] /\n{",
        );
    }
    text.push_str(&options.schedule.interval_probe());
    text
}

/// `sda` for a kernel dev_t (major << 20 | minor), through /sys/dev/block; else `MAJ,MIN`.
pub(crate) fn disk_name(dev: u32) -> String {
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
pub(crate) fn flags_name(rwbs: &str) -> String {
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
            schedule: Schedule {
                interval: Some(1),
                ..Schedule::default()
            },
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
