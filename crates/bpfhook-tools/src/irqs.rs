//! `softirqs` and `hardirqs`: time spent in interrupts, per soft interrupt kind or per hard
//! interrupt handler: totals (`TOTAL_usecs`), event counts (`-C`) or log2 histograms (`-d`).

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::{Aggregate, MapDump, Value};

use crate::fields::{text, uint};
use crate::histograms::{Histograms, Schedule, Section, Ticks};
use crate::launch::{self, check_cpu, edit, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// The kernel's soft interrupt vectors, in order (`softirq_to_name`).
const SOFTIRQ_NAMES: [&str; 10] = [
    "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu",
];

/// BCC's options, shared by both tools.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-d`: a histogram of each interrupt's durations instead of totals.
    pub distributions: bool,
    /// `-C`: count events instead of summing time.
    pub count: bool,
    /// `-N`: nanoseconds instead of microseconds.
    pub nanoseconds: bool,
    /// `-c`: only interrupts on this CPU.
    pub cpu: Option<u32>,
    /// `-T`, interval and count of intervals.
    pub schedule: Schedule,
    /// `--json`: one object per row or histogram.
    pub json: bool,
}

/// The two tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Soft,
    Hard,
}

impl Kind {
    fn tool(self) -> &'static str {
        match self {
            Kind::Soft => "softirqs",
            Kind::Hard => "hardirqs",
        }
    }

    /// The script's expression for the interrupt.
    fn key(self) -> &'static str {
        match self {
            Kind::Soft => "args->vec",
            Kind::Hard => "@handler[cpu]",
        }
    }

    /// The probe where an interrupt starts (the one `-c` filters).
    fn entry(self) -> &'static str {
        match self {
            Kind::Soft => "tracepoint:irq:softirq_entry\n",
            Kind::Hard => "tracepoint:irq:irq_handler_entry\n",
        }
    }

    fn section(self) -> Section {
        match self {
            Kind::Soft => Section::Softirq,
            Kind::Hard => Section::Hardirq,
        }
    }
}

/// Traces until Ctrl-C (`stop`) or `count` intervals.
pub fn run(
    kind: Kind,
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    options.schedule.check()?;
    if options.distributions && options.count {
        return Err(ToolError::Usage("-d and -C are exclusive".into()));
    }
    if let Some(cpu) = options.cpu {
        check_cpu(cpu)?;
    }
    let launch = Launch::new(kind.tool(), script(kind, &options));
    let sink = Sink::new(out, options.json);
    let ticks = Ticks::new(options.schedule, Arc::clone(&stop));
    let kind_name = match kind {
        Kind::Soft => "soft",
        Kind::Hard => "hard",
    };
    let what = if options.count { "count" } else { "time" };
    let banner = format!("Tracing {kind_name} irq event {what}... Hit Ctrl-C to end.");
    let unit = if options.nanoseconds {
        "nsecs"
    } else {
        "usecs"
    };
    if options.distributions {
        let mut output = ReportOutput(Histograms {
            banner,
            unit,
            sections: vec![kind.section()],
            ticks,
            sink,
            summary_due: false,
        });
        return launch::run(launch, stop, &mut output);
    }
    let mut output = ReportOutput(Totals {
        kind,
        counting: options.count,
        unit,
        banner,
        ticks,
        sink,
    });
    launch::run(launch, stop, &mut output)
}

fn script(kind: Kind, options: &Options) -> String {
    let mut text = crate::script(kind.tool()).unwrap_or_default().to_owned();
    let key = kind.key();
    let sum = format!("  @time[{key}] = sum(nsecs - @entered[cpu]);");
    if options.count {
        text = edit(&text, &sum, &format!("  @time[{key}] = count();"));
    }
    if let Some(cpu) = options.cpu {
        let entry = kind.entry();
        text = edit(&text, entry, &format!("{entry}/ cpu == {cpu} /\n"));
    }
    if options.distributions {
        let scale = if options.nanoseconds { "" } else { " / 1000" };
        let hist = format!("  @latency[{key}] = hist((nsecs - @entered[cpu]){scale});");
        text = edit(&text, &sum, &hist);
        text.push_str(&options.schedule.interval_probe(false));
    } else {
        text.push_str(&options.schedule.interval_probe_of(&["@time"]));
    }
    text
}

/// `net_rx` for its vector number; else the number.
pub(crate) fn softirq_name(vec: u64) -> String {
    SOFTIRQ_NAMES
        .get(vec as usize)
        .map_or_else(|| vec.to_string(), |n| (*n).to_owned())
}

/// Totals per interrupt, smallest first as BCC prints them.
struct Totals {
    kind: Kind,
    counting: bool,
    /// `usecs` or `nsecs`.
    unit: &'static str,
    banner: String,
    ticks: Ticks,
    sink: Sink,
}

impl Totals {
    fn name(&self, key: &[Value]) -> String {
        match self.kind {
            Kind::Soft => softirq_name(uint(key, 0)),
            Kind::Hard => text(key, 0),
        }
    }
}

impl Report for Totals {
    fn started(&mut self) -> io::Result<()> {
        self.sink.text_line(&self.banner)
    }

    fn table(&mut self, map: &MapDump) -> io::Result<()> {
        if map.name != "@time" || self.ticks.done() {
            return Ok(());
        }
        let time = self.ticks.tick();
        let mut rows: Vec<(String, u64)> = map
            .entries
            .iter()
            .map(|(key, value)| {
                let total = match value {
                    Aggregate::Count(n) => *n,
                    Aggregate::Sum(ns) if self.unit == "nsecs" => (*ns).max(0) as u64,
                    Aggregate::Sum(ns) => (*ns).max(0) as u64 / 1000,
                    _ => 0,
                };
                (self.name(key), total)
            })
            .collect();
        rows.sort_by_key(|(name, total)| (*total, name.clone()));
        let (label, width) = match self.kind {
            Kind::Soft => ("SOFTIRQ", 16),
            Kind::Hard => ("HARDIRQ", 26),
        };
        let unit = if self.counting { "count" } else { self.unit };
        if self.sink.json {
            for (name, total) in rows {
                let mut object = serde_json::json!({ label.to_lowercase(): name });
                object[format!("total_{unit}")] = total.into();
                if let Some(time) = &time {
                    object["time"] = time.clone().into();
                }
                self.sink.json_line(object)?;
            }
            return Ok(());
        }
        writeln!(self.sink.out)?;
        if let Some(time) = &time {
            writeln!(self.sink.out, "{time}")?;
        }
        writeln!(
            self.sink.out,
            "{label:<width$} {:>11}",
            format!("TOTAL_{unit}")
        )?;
        for (name, total) in rows {
            writeln!(self.sink.out, "{name:<width$} {total:>11}")?;
        }
        self.sink.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let variants = [
            Options::default(),
            Options {
                count: true,
                schedule: Schedule {
                    interval: Some(1),
                    ..Schedule::default()
                },
                ..Options::default()
            },
            Options {
                distributions: true,
                nanoseconds: true,
                cpu: Some(0),
                schedule: Schedule {
                    interval: Some(1),
                    ..Schedule::default()
                },
                ..Options::default()
            },
        ];
        for kind in [Kind::Soft, Kind::Hard] {
            for options in &variants {
                let source = script(kind, options);
                if let Err(e) = bpfhook_lang::compile(kind.tool(), &source, Default::default()) {
                    panic!("{}\n{source}", e.rendered);
                }
            }
        }
    }

    #[test]
    fn softirq_names() {
        assert_eq!(softirq_name(3), "net_rx");
        assert_eq!(softirq_name(42), "42");
    }
}
