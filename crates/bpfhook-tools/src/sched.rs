//! `runqlat` (run queue latency) and `cpudist` (time on CPU per run, or off CPU with `-O`):
//! scheduler histograms from `sched_wakeup`/`sched_switch`, overall, per thread (`-L`), per
//! process (`-P`) or per PID namespace (`--pidnss`), for one process (`-p`) or all.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::histograms::{with_summary, Histograms, Schedule, Section, Ticks};
use crate::launch::{self, check_pid, edit, Launch, ToolError};
use crate::report::{ReportOutput, Sink};

/// What one histogram covers, when not everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// `-L`: a thread.
    Thread,
    /// `-P`: a process.
    Process,
    /// `--pidnss` (runqlat): a PID namespace.
    PidNamespace,
}

impl Per {
    /// The script's key, read from `$task`, the thread the time belongs to.
    fn key(self) -> &'static str {
        match self {
            Per::Thread => "$task->pid",
            Per::Process => "$task->tgid",
            Per::PidNamespace => "$task->nsproxy->pid_ns_for_children->ns.inum",
        }
    }

    /// BCC's section line; cpudist names the process (`pid = 1234 sshd`), runqlat does not.
    fn section(self, comm: bool) -> Section {
        match self {
            Per::Thread => Section::Task { label: "tid", comm },
            Per::Process => Section::Task { label: "pid", comm },
            Per::PidNamespace => Section::PidNs,
        }
    }

    /// The one of `-L`, `-P`, `--pidnss` given, if any; more than one is an error.
    pub fn pick(
        threads: bool,
        processes: bool,
        namespaces: bool,
    ) -> Result<Option<Per>, ToolError> {
        let given: Vec<Per> = [
            (threads, Per::Thread),
            (processes, Per::Process),
            (namespaces, Per::PidNamespace),
        ]
        .into_iter()
        .filter_map(|(on, per)| on.then_some(per))
        .collect();
        match given[..] {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(ToolError::Usage(
                "one of -L (per thread), -P (per process), --pidnss (per PID namespace)".into(),
            )),
        }
    }
}

/// The options both tools take.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-m`: milliseconds instead of microseconds.
    pub milliseconds: bool,
    /// `-L`, `-P`, `--pidnss`: one histogram per thread, process or PID namespace.
    pub per: Option<Per>,
    /// `-p`: only threads of this process.
    pub pid: Option<u32>,
    /// `-O` (cpudist): time off CPU, from leaving a CPU to running again.
    pub offcpu: bool,
    /// `-I` (cpudist): the idle tasks too.
    pub include_idle: bool,
    /// `-e` (cpudist): the average, total and count after each report.
    pub extension: bool,
    /// `-T`, interval and count.
    pub schedule: Schedule,
    /// `--json`: one object per histogram.
    pub json: bool,
}

/// The two tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Runqlat,
    Cpudist,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Runqlat => "runqlat",
            Tool::Cpudist => "cpudist",
        }
    }
}

/// Traces until Ctrl-C or `count` intervals.
pub fn run(
    tool: Tool,
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    options.schedule.check()?;
    if let Some(pid) = options.pid {
        check_pid(pid)?;
    }
    let banner = match tool {
        Tool::Runqlat => "Tracing run queue latency... Hit Ctrl-C to end.",
        Tool::Cpudist if options.offcpu => "Tracing off-CPU time... Hit Ctrl-C to end.",
        Tool::Cpudist => "Tracing on-CPU time... Hit Ctrl-C to end.",
    };
    let mut launch = Launch::new(tool.name(), script(tool, &options)?);
    launch.params = vec![options.pid.unwrap_or(0).to_string()];
    let mut output = ReportOutput(Histograms {
        banner: banner.into(),
        unit: if options.milliseconds {
            "msecs"
        } else {
            "usecs"
        },
        sections: options
            .per
            .map(|per| per.section(tool == Tool::Cpudist))
            .into_iter()
            .collect(),
        ticks: Ticks::new(options.schedule, Arc::clone(&stop)),
        sink: Sink::new(out, options.json),
        summary_due: false,
    });
    launch::run(launch, stop, &mut output)
}

fn script(tool: Tool, options: &Options) -> Result<String, ToolError> {
    let mut text = crate::script(tool.name()).unwrap_or_default().to_owned();
    if tool == Tool::Runqlat && (options.offcpu || options.include_idle || options.extension) {
        return Err(ToolError::Usage(
            "-O, -I and -e are cpudist's options".into(),
        ));
    }
    if tool == Tool::Cpudist && options.per == Some(Per::PidNamespace) {
        return Err(ToolError::Usage("--pidnss is runqlat's option".into()));
    }
    if options.milliseconds {
        text = edit(&text, "/ 1000)", "/ 1000000)");
    }
    if let Some(per) = options.per {
        text = edit(
            &text,
            "@latency = hist(",
            &format!("@latency[{}] = hist(", per.key()),
        );
    }
    if options.offcpu {
        // Off-CPU time ends for the thread arriving and begins for the one leaving.
        text = edit(
            &text,
            "$task = args->prev;\n  $starting = args->next;",
            "$task = args->next;\n  $starting = args->prev;",
        );
    }
    if options.include_idle {
        text = edit(&text, "if ($starting->pid != 0) {", "if (1) {");
    }
    if options.extension {
        text = with_summary(&text);
    }
    text.push_str(&options.schedule.interval_probe(options.extension));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let schedule = Schedule {
            interval: Some(2),
            ..Schedule::default()
        };
        let mut variants = vec![(Tool::Runqlat, Options::default())];
        for per in [Per::Thread, Per::Process, Per::PidNamespace] {
            variants.push((
                Tool::Runqlat,
                Options {
                    milliseconds: true,
                    per: Some(per),
                    pid: Some(1),
                    schedule,
                    ..Options::default()
                },
            ));
        }
        variants.push((Tool::Cpudist, Options::default()));
        for per in [Per::Thread, Per::Process] {
            variants.push((
                Tool::Cpudist,
                Options {
                    milliseconds: true,
                    per: Some(per),
                    offcpu: true,
                    include_idle: true,
                    extension: true,
                    schedule,
                    ..Options::default()
                },
            ));
        }
        for (tool, options) in variants {
            let source = script(tool, &options).expect("options that fit the tool");
            if let Err(e) = bpfhook_lang::compile(tool.name(), &source, Default::default()) {
                panic!("{}\n{source}", e.rendered);
            }
        }
    }

    #[test]
    fn options_of_the_other_tool_are_refused() {
        let offcpu = Options {
            offcpu: true,
            ..Options::default()
        };
        assert!(script(Tool::Runqlat, &offcpu).is_err());
        let extension = Options {
            extension: true,
            ..Options::default()
        };
        assert!(script(Tool::Runqlat, &extension).is_err());
        let namespaces = Options {
            per: Some(Per::PidNamespace),
            ..Options::default()
        };
        assert!(script(Tool::Cpudist, &namespaces).is_err());
        assert!(Per::pick(true, true, false).is_err());
        assert_eq!(Per::pick(false, true, false).unwrap(), Some(Per::Process));
    }
}
