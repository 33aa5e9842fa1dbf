//! `biolatency`: block I/O latency histograms (issue, or with `-Q` insertion, to completion),
//! per disk (`-D`) or per I/O flags (`-F`), of one disk (`-d`), with BCC's average/total/count
//! line (`-e`), printed at Ctrl-C or every interval.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::histograms::{with_summary, Histograms, Schedule, Section, Ticks};
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
    /// `-d`: only this disk (`sda`, `vda`).
    pub disk: Option<String>,
    /// `-e`: the average, total and count after each report.
    pub extension: bool,
    /// `-T`, interval and count.
    pub schedule: Schedule,
    /// `--json`: one object per histogram.
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`) or `count` intervals.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    options.schedule.check()?;
    let mut launch = Launch::new("biolatency", script(&options));
    if let Some(disk) = &options.disk {
        launch.params.push(disk_number(disk)?.to_string());
    }
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
        summary_due: false,
    });
    launch::run(launch, stop, &mut output)
}

/// The script with the options that change its shape applied.
fn script(options: &Options) -> String {
    let mut text = crate::script("biolatency").unwrap_or_default().to_owned();
    if options.milliseconds {
        text = edit(&text, "/ 1000)", "/ 1000000)");
    }
    if options.extension {
        text = with_summary(&text);
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
            "tracepoint:block:block_rq_issue\n/ $1 == 0 || args->dev == $1 /\n{",
            "tracepoint:block:block_rq_insert\n/ $1 == 0 || args->dev == $1 /\n{\n  \
             @start[args->dev, args->sector] = nsecs;\n}\n\n\
             tracepoint:block:block_rq_issue\n\
             / ($1 == 0 || args->dev == $1) && !@start[args->dev, args->sector] /\n{",
        );
    }
    text.push_str(&options.schedule.interval_probe(options.extension));
    text
}

/// A disk's kernel dev_t (major << 20 | minor), from /sys/class/block/NAME/dev (`8:0`).
pub(crate) fn disk_number(name: &str) -> Result<u32, ToolError> {
    let unknown = || ToolError::Usage(format!("no such disk: {name}"));
    if name.is_empty() || name.contains('/') {
        return Err(unknown());
    }
    let text =
        std::fs::read_to_string(format!("/sys/class/block/{name}/dev")).map_err(|_| unknown())?;
    let (major, minor) = text.trim().split_once(':').ok_or_else(unknown)?;
    let (major, minor): (u32, u32) = (
        major.parse().map_err(|_| unknown())?,
        minor.parse().map_err(|_| unknown())?,
    );
    Ok(major << 20 | minor)
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
    fn disk_numbers() {
        let first = std::fs::read_dir("/sys/class/block")
            .expect("block devices")
            .filter_map(Result::ok)
            .next()
            .expect("a block device");
        let name = first.file_name().into_string().expect("a name");
        assert_eq!(disk_name(disk_number(&name).expect("its number")), name);
        for bad in ["nodisk0", "", "../sda"] {
            assert!(disk_number(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let all = Options {
            queued: true,
            milliseconds: true,
            disks: true,
            flags: true,
            extension: true,
            schedule: Schedule {
                interval: Some(1),
                ..Schedule::default()
            },
            ..Options::default()
        };
        let text = script(&all);
        assert!(text.contains("block_rq_insert") && text.contains("interval:s:1"));
        assert!(text.contains(
            "@latency_summary = stats((nsecs - @start[args->dev, args->sector]) / 1000000);"
        ));
        // A disk number as $1, as -d passes it.
        let one_disk = bpfhook_lang::sema::Settings {
            positional: vec![(8u32 << 20).to_string()],
            ..Default::default()
        };
        for (options, settings) in [(Options::default(), Default::default()), (all, one_disk)] {
            let source = script(&options);
            if let Err(e) = bpfhook_lang::compile("biolatency", &source, settings) {
                panic!("{}\n{source}", e.rendered);
            }
        }
    }
}
