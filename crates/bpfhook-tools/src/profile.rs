//! `profile`: on-CPU stacks sampled by a cpu-clock perf event on every CPU at `-F` Hz.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::launch::{edit, Launch, ToolError};
use crate::stacks::{self, StackOptions};

/// Samples per second when `-F` is not given (BCC's default).
pub const DEFAULT_HZ: u32 = 49;

/// BCC's options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-F`: samples per second on each CPU.
    pub frequency: u32,
    /// `-I`: include the idle task (pid 0).
    pub include_idle: bool,
    /// Process, stacks, duration and output.
    pub stacks: StackOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            frequency: DEFAULT_HZ,
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
    options.stacks.check()?;
    let mut launch = Launch::new("profile", script(options.frequency));
    launch.params = vec![
        options.stacks.pid.unwrap_or(0).to_string(),
        u8::from(options.include_idle).to_string(),
    ];
    let banner = format!(
        "Sampling at {} Hertz of {}",
        options.frequency,
        options.stacks.describe()
    );
    let tool = stacks::StackTool {
        name: "profile",
        map: "@samples",
        count_name: "samples",
    };
    stacks::run(tool, launch, options.stacks, banner, out, stop)
}

/// The script at `hz` samples per second.
fn script(hz: u32) -> String {
    let text = crate::script("profile").unwrap_or_default();
    edit(
        text,
        &format!("profile:hz:{DEFAULT_HZ}"),
        &format!("profile:hz:{hz}"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn frequency_in_the_attach_point() {
        assert!(super::script(997).contains("profile:hz:997\n"));
    }
}
