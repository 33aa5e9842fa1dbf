//! `profile`: on-CPU stacks sampled by a cpu-clock perf event on every CPU (or one, `-C`) at
//! `-F` Hz or every `-c` nanoseconds of CPU time.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::launch::{check_cpu, edit, Launch, ToolError};
use crate::stacks::{self, StackOptions};

/// Samples per second when `-F` is not given (BCC's default).
pub const DEFAULT_HZ: u32 = 49;

/// BCC's options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-F`: samples per second on each CPU.
    pub frequency: u32,
    /// `-c`: a sample every this many cpu-clock events (nanoseconds on a CPU) instead.
    pub period: Option<u64>,
    /// `-C`: only samples on this CPU.
    pub cpu: Option<u32>,
    /// `-a`: kernel frames of folded lines end in `_[k]`.
    pub annotations: bool,
    /// `-I`: include the idle task (pid 0).
    pub include_idle: bool,
    /// Processes, threads, stacks, duration and output.
    pub stacks: StackOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            frequency: DEFAULT_HZ,
            period: None,
            cpu: None,
            annotations: false,
            include_idle: false,
            stacks: StackOptions::default(),
        }
    }
}

/// Samples until Ctrl-C (`stop`) or the duration, then prints the stacks.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    if options.frequency == 0 || options.frequency > 100_000 {
        return Err(ToolError::Usage(format!(
            "invalid frequency {} Hz (1 to 100000)",
            options.frequency
        )));
    }
    if options.period == Some(0) {
        return Err(ToolError::Usage(
            "invalid count 0 (events per sample, at least 1)".into(),
        ));
    }
    if let Some(cpu) = options.cpu {
        check_cpu(cpu)?;
    }
    options.stacks.check()?;
    let mut launch = Launch::new("profile", script(&options));
    launch.params = vec!["0".into(), u8::from(options.include_idle).to_string()];
    let rate = match options.period {
        Some(events) => format!("every {events} events"),
        None => format!("{} Hertz", options.frequency),
    };
    let on_cpu = options
        .cpu
        .map(|cpu| format!(" on CPU#{cpu}"))
        .unwrap_or_default();
    let (who, until) = options.stacks.describe();
    let banner = format!("Sampling at {rate} of {who}{on_cpu}{until}");
    let tool = stacks::StackTool {
        name: "profile",
        map: "@samples",
        count_name: "samples",
        annotations: options.annotations,
    };
    stacks::run(tool, launch, options.stacks, banner, out, stop)
}

/// The script for `options`: its rate in the attach point, its CPU and threads in the filter.
fn script(options: &Options) -> String {
    let text = crate::script("profile").unwrap_or_default();
    let probe = match options.period {
        Some(events) => format!("software:cpu-clock:{events}"),
        None => format!("profile:hz:{}", options.frequency),
    };
    let mut text = edit(text, &format!("profile:hz:{DEFAULT_HZ}"), &probe);
    if let Some(cpu) = options.cpu {
        text = edit(
            &text,
            "($2 != 0 || pid != 0) /",
            &format!("($2 != 0 || pid != 0) && cpu == {cpu} /"),
        );
    }
    options.stacks.filtered(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_in_the_attach_point() {
        let options = Options {
            frequency: 997,
            ..Options::default()
        };
        assert!(script(&options).contains("profile:hz:997\n"));
    }

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let every = Options {
            period: Some(1_000_000),
            cpu: Some(0),
            stacks: StackOptions {
                tids: vec![1, 2],
                ..StackOptions::default()
            },
            ..Options::default()
        };
        let processes = Options {
            stacks: StackOptions {
                pids: vec![1, 2],
                ..StackOptions::default()
            },
            ..Options::default()
        };
        for options in [Options::default(), every, processes] {
            let source = script(&options);
            if let Err(e) = bpfhook_lang::compile("profile", &source, Default::default()) {
                panic!("{}\n{source}", e.rendered);
            }
        }
        assert!(script(&Options {
            period: Some(5),
            ..Options::default()
        })
        .contains("software:cpu-clock:5\n"));
    }
}
