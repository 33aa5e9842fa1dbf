//! `runqlat` (run queue latency) and `cpudist` (time on CPU per run): scheduler histograms
//! from `sched_wakeup`/`sched_switch`, overall or per thread (`-L`).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::histograms::{Histograms, Schedule, Section, Ticks};
use crate::launch::{self, edit, Launch, ToolError};
use crate::report::{ReportOutput, Sink};

/// The options both tools take.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-m`: milliseconds instead of microseconds.
    pub milliseconds: bool,
    /// `-L`: one histogram per thread id.
    pub per_thread: bool,
    /// `-T`, interval and count.
    pub schedule: Schedule,
    /// `--json`: one object per histogram.
    pub json: bool,
}

/// `runqlat`: until Ctrl-C or `count` intervals.
pub fn runqlat(
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    let banner = "Tracing run queue latency... Hit Ctrl-C to end.";
    run("runqlat", "args->next_pid", banner, options, out, stop)
}

/// `cpudist`: until Ctrl-C or `count` intervals.
pub fn cpudist(
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    let banner = "Tracing on-CPU time... Hit Ctrl-C to end.";
    run("cpudist", "args->prev_pid", banner, options, out, stop)
}

/// `thread` is the script's expression for the thread the measured time belongs to.
fn run(
    tool: &str,
    thread: &str,
    banner: &str,
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    options.schedule.check()?;
    let launch = Launch::new(tool, script(tool, thread, &options));
    let mut output = ReportOutput(Histograms {
        banner: banner.into(),
        unit: if options.milliseconds {
            "msecs"
        } else {
            "usecs"
        },
        sections: if options.per_thread {
            vec![Section::Tid]
        } else {
            Vec::new()
        },
        ticks: Ticks::new(options.schedule, Arc::clone(&stop)),
        sink: Sink::new(out, options.json),
    });
    launch::run(launch, stop, &mut output)
}

fn script(tool: &str, thread: &str, options: &Options) -> String {
    let mut text = crate::script(tool).unwrap_or_default().to_owned();
    if options.milliseconds {
        text = edit(&text, "/ 1000)", "/ 1000000)");
    }
    if options.per_thread {
        text = edit(
            &text,
            "@latency = hist(",
            &format!("@latency[{thread}] = hist("),
        );
    }
    text.push_str(&options.schedule.interval_probe());
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let all = Options {
            milliseconds: true,
            per_thread: true,
            schedule: Schedule {
                interval: Some(2),
                ..Schedule::default()
            },
            json: false,
        };
        for (tool, thread) in [("runqlat", "args->next_pid"), ("cpudist", "args->prev_pid")] {
            for options in [Options::default(), all.clone()] {
                let source = script(tool, thread, &options);
                if let Err(e) = bpfhook_lang::compile(tool, &source, Default::default()) {
                    panic!("{}\n{source}", e.rendered);
                }
            }
        }
    }
}
