//! Compiling a tool's script and running it until Ctrl-C, its duration or the tool's own end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bpfhook_lang::output::Output;
use bpfhook_lang::runtime::{self, RunOptions, RuntimeError};
use bpfhook_lang::sema::Settings;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An option the tool cannot use (bad PID, zero interval, …).
    #[error("{0}")]
    Usage(String),
    /// The script did not compile on this kernel (a missing tracepoint, …).
    #[error("{name}: {rendered}")]
    Compile { name: String, rendered: String },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    #[error("writing the flame graph: {0}")]
    FlameGraph(String),
}

/// A script ready to run: its text (options applied) and parameters.
pub struct Launch {
    /// What errors call the script: `tools/NAME.bt`.
    pub name: String,
    pub source: String,
    /// `$1`, `$2`, …
    pub params: Vec<String>,
    /// Stop after this long (BCC's duration options).
    pub duration: Option<Duration>,
    /// Bytes kept of strings (paths), NUL included.
    pub max_strlen: u32,
}

impl Launch {
    pub fn new(tool: &str, source: String) -> Self {
        Self {
            name: format!("tools/{tool}.bt"),
            source,
            params: Vec::new(),
            duration: None,
            // BCC's tools keep short fixed-size strings; events stay small.
            max_strlen: 64,
        }
    }
}

/// Compiles and runs `launch`, its output through `output`, until `stop` is set (by a signal
/// handler, the duration, or the output itself), then prints the maps and detaches.
pub fn run(
    launch: Launch,
    stop: Arc<AtomicBool>,
    output: &mut dyn Output,
) -> Result<i32, ToolError> {
    // Without root the script fails on every probe (tracefs, bpf(2)); one line says why.
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ToolError::Usage(format!(
            "{} needs root (bpf(2), perf events and tracefs): run it with sudo",
            launch.name
        )));
    }
    let settings = Settings {
        positional: launch.params,
        max_strlen: launch.max_strlen,
        // BCC's stacks name functions only.
        show_debug_info: false,
        ..Settings::default()
    };
    let script = bpfhook_lang::compile(&launch.name, &launch.source, settings).map_err(|e| {
        ToolError::Compile {
            name: launch.name.clone(),
            rendered: e.rendered,
        }
    })?;
    if let Some(duration) = launch.duration {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
        });
    }
    let options = RunOptions {
        pid: None,
        child: None,
        notify_attached: false,
        stop,
        unsafe_calls: false,
        warnings: false,
        ..RunOptions::default()
    };
    Ok(runtime::run(
        &script.compiled,
        &script.analysis,
        options,
        output,
    )?)
}

/// A PID option: a process that exists (BCC's tools fail late on a bad one; we fail first).
pub fn check_pid(pid: u32) -> Result<(), ToolError> {
    if pid == 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(ToolError::Usage(format!("No such process: {pid}")));
    }
    Ok(())
}

/// A CPU option: one this machine has.
pub fn check_cpu(cpu: u32) -> Result<(), ToolError> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpu as usize >= cpus {
        return Err(ToolError::Usage(format!(
            "no such CPU: {cpu} (0 to {})",
            cpus - 1
        )));
    }
    Ok(())
}

/// `text` with `from` replaced by `to`, where the script must contain `from` (a tool option
/// that edits the script's shape; a unit test compiles every edit).
pub(crate) fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "script fragment {from:?} is missing: the tool and its script disagree"
    );
    text.replacen(from, to, 1)
}
