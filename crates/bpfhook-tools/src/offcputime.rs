//! `offcputime`: time threads spend blocked (off CPU), summed per kernel and user stack in
//! microseconds, from `sched_switch`: the stack is taken when a thread leaves the CPU and
//! charged when it comes back.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::launch::{edit, Launch, ToolError};
use crate::stacks::{self, StackOptions};

/// The kernel's flag of its own threads (`PF_KTHREAD`).
const PF_KTHREAD: u64 = 0x0020_0000;

/// BCC's options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-u`: user threads only.
    pub user_threads: bool,
    /// `-k`: kernel threads only.
    pub kernel_threads: bool,
    /// `-m`: only blocks of at least this many microseconds (BCC's default: 1).
    pub min_us: u64,
    /// `-M`: only blocks of at most this many microseconds.
    pub max_us: Option<u64>,
    /// `--state`: only threads leaving in this state (0: running, i.e. preempted) or, other
    /// than 0, with one of these state bits (2: TASK_UNINTERRUPTIBLE).
    pub state: Option<u64>,
    /// Processes (`-p`), threads (`-t`), stacks, duration and output.
    pub stacks: StackOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            user_threads: false,
            kernel_threads: false,
            min_us: 1,
            max_us: None,
            state: None,
            stacks: StackOptions::default(),
        }
    }
}

/// Traces until Ctrl-C (`stop`) or the duration, then prints the stacks.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    options.stacks.check()?;
    let threads = usize::from(options.user_threads)
        + usize::from(options.kernel_threads)
        + usize::from(!options.stacks.pids.is_empty() || !options.stacks.tids.is_empty());
    if threads > 1 {
        return Err(ToolError::Usage(
            "one of -p, -t, -u (user threads), -k (kernel threads)".into(),
        ));
    }
    if options.max_us.is_some_and(|max| max < options.min_us) {
        return Err(ToolError::Usage(format!(
            "-M {} is below -m {}",
            options.max_us.unwrap_or_default(),
            options.min_us
        )));
    }
    let mut launch = Launch::new("offcputime", script(&options));
    launch.params = vec![
        "0".into(),
        options.min_us.to_string(),
        options.max_us.unwrap_or(0).to_string(),
    ];
    let (mut who, until) = options.stacks.describe();
    if options.user_threads || options.kernel_threads {
        let kind = if options.user_threads {
            "user"
        } else {
            "kernel"
        };
        who = who.replacen("all threads", &format!("{kind} threads"), 1);
    }
    let banner = format!("Tracing off-CPU time (us) of {who}{until}");
    let tool = stacks::StackTool {
        name: "offcputime",
        map: "@offcpu",
        count_name: "us",
        annotations: false,
    };
    stacks::run(tool, launch, options.stacks, banner, out, stop)
}

/// The script with the thread kind and state filters and the process or thread list.
fn script(options: &Options) -> String {
    let mut text = crate::script("offcputime").unwrap_or_default().to_owned();
    // The filters read the thread leaving the CPU: the one running the probe.
    let mut filters = Vec::new();
    if options.user_threads {
        filters.push(format!("(curtask->flags & {PF_KTHREAD:#x}) == 0"));
    }
    if options.kernel_threads {
        filters.push(format!("(curtask->flags & {PF_KTHREAD:#x}) != 0"));
    }
    match options.state {
        Some(0) => filters.push("curtask->__state == 0".into()),
        Some(bits) => filters.push(format!("(curtask->__state & {bits}) != 0")),
        None => {}
    }
    for filter in filters {
        text = edit(
            &text,
            "if (args->prev_pid != 0 && ",
            &format!("if (args->prev_pid != 0 && {filter} && "),
        );
    }
    options.stacks.filtered(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_edits_a_script_that_compiles() {
        let variants = [
            Options::default(),
            Options {
                user_threads: true,
                state: Some(2),
                max_us: Some(10),
                ..Options::default()
            },
            Options {
                kernel_threads: true,
                state: Some(0),
                ..Options::default()
            },
            Options {
                stacks: StackOptions {
                    tids: vec![1, 2],
                    ..StackOptions::default()
                },
                ..Options::default()
            },
        ];
        for options in variants {
            let source = script(&options);
            let settings = bpfhook_lang::sema::Settings {
                positional: vec!["0".into(), "1".into(), "10".into()],
                ..Default::default()
            };
            if let Err(e) = bpfhook_lang::compile("offcputime", &source, settings) {
                panic!("{}\n{source}", e.rendered);
            }
        }
    }
}
