//! `offcputime`: time threads spend blocked (off CPU), summed per kernel and user stack in
//! microseconds, from `sched_switch`: the stack is taken when a thread leaves the CPU and
//! charged when it comes back.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::launch::{Launch, ToolError};
use crate::stacks::{self, StackOptions};

/// Traces until Ctrl-C (`stop`) or the duration, then prints the stacks.
pub fn run(
    options: StackOptions,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    options.check()?;
    let mut launch = Launch::new(
        "offcputime",
        crate::script("offcputime").unwrap_or_default().into(),
    );
    launch.params = vec![options.pid.unwrap_or(0).to_string()];
    let banner = format!("Tracing off-CPU time (us) of {}", options.describe());
    let tool = stacks::StackTool {
        name: "offcputime",
        map: "@offcpu",
        count_name: "us",
    };
    stacks::run(tool, launch, options, banner, out, stop)
}
