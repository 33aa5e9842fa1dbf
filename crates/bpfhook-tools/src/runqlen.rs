//! `runqlen`: run queue length sampled at 99 Hz on every CPU, as BCC's linear histogram;
//! per CPU (`-C`) or as the share of samples with a task waiting (`-O`).

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::MapDump;

use crate::fields::uint;
use crate::hist;
use crate::histograms::{Schedule, Ticks};
use crate::launch::{self, edit, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-C`: one histogram per CPU.
    pub per_cpu: bool,
    /// `-O`: the run queue occupancy (share of samples with a task waiting) instead.
    pub occupancy: bool,
    /// `-T`, interval and count.
    pub schedule: Schedule,
    /// `--json`: one object per histogram.
    pub json: bool,
}

/// Samples until Ctrl-C (`stop`) or `count` intervals.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    options.schedule.check()?;
    let launch = Launch::new("runqlen", script(&options));
    let mut output = ReportOutput(Runqlen {
        ticks: Ticks::new(options.schedule, Arc::clone(&stop)),
        sink: Sink::new(out, options.json),
        options,
    });
    launch::run(launch, stop, &mut output)
}

/// The script with `-C` and the interval applied.
fn script(options: &Options) -> String {
    let mut text = crate::script("runqlen").unwrap_or_default().to_owned();
    if options.per_cpu {
        text = edit(&text, "@length = lhist(", "@length[cpu] = lhist(");
    }
    text.push_str(&options.schedule.interval_probe_of(&["@length"]));
    text
}

struct Runqlen {
    options: Options,
    ticks: Ticks,
    sink: Sink,
}

impl Report for Runqlen {
    fn started(&mut self) -> io::Result<()> {
        self.sink
            .text_line("Sampling run queue length... Hit Ctrl-C to end.")
    }

    fn table(&mut self, map: &MapDump) -> io::Result<()> {
        if map.name != "@length" || self.ticks.done() {
            return Ok(());
        }
        let time = self.ticks.tick();
        self.sink.interval(time.as_deref())?;
        let mut entries: Vec<_> = map.entries.iter().collect();
        entries.sort_by_key(|(key, _)| uint(key, 0));
        for (key, value) in entries {
            let slots = hist::linear_slots(value);
            let cpu = self.options.per_cpu.then(|| uint(key, 0));
            let samples: u64 = slots.iter().sum();
            let waiting: u64 = slots.iter().skip(1).sum();
            let occupancy = 100.0 * waiting as f64 / samples.max(1) as f64;
            if self.sink.json {
                let buckets: Vec<_> = slots
                    .iter()
                    .enumerate()
                    .map(|(length, count)| serde_json::json!({"length": length, "count": count}))
                    .collect();
                let mut object = serde_json::json!({"buckets": buckets, "occupancy": occupancy});
                if let Some(cpu) = cpu {
                    object["cpu"] = cpu.into();
                }
                if let Some(time) = &time {
                    object["time"] = time.clone().into();
                }
                self.sink.json_line(object)?;
                continue;
            }
            if let Some(cpu) = cpu {
                writeln!(self.sink.out, "\nrunqueue = {cpu}")?;
            }
            if self.options.occupancy {
                writeln!(self.sink.out, "runqocc: {occupancy:.2}%")?;
            } else {
                write!(self.sink.out, "{}", hist::linear_text(&slots, "runqlen"))?;
            }
        }
        self.sink.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let all = Options {
            per_cpu: true,
            schedule: Schedule {
                interval: Some(1),
                ..Schedule::default()
            },
            ..Options::default()
        };
        for options in [Options::default(), all] {
            let source = script(&options);
            if let Err(e) = bpfhook_lang::compile("runqlen", &source, Default::default()) {
                panic!("{}\n{source}", e.rendered);
            }
        }
    }
}
