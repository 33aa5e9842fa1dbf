//! How long a tracing command runs: until Ctrl-C or SIGTERM, `--duration`, or the end of the
//! command it started once its programs were attached (like `bpftrace -c`).

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bpfhook::events::{Event, EventLoop};

pub struct Session {
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    child: Option<Child>,
}

impl Session {
    /// Installs the signal handlers and starts `command` (if any). Call it after attaching, so
    /// the command's own activity is seen.
    pub fn start(duration: Option<f64>, command: &[String]) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .context("installing signal handlers")?;
        }
        Ok(Self {
            stop,
            deadline: duration.map(|secs| Instant::now() + Duration::from_secs_f64(secs.max(0.0))),
            child: start_command(command)?,
        })
    }

    /// Hands events to `sink` until the session ends, then drains what is left.
    pub fn run(&mut self, events: &mut EventLoop, mut sink: impl FnMut(Event<'_>)) -> Result<()> {
        loop {
            // Wake at least every 100 ms to check the command and signals, and on time for --duration.
            let tick = self.deadline.map_or(Duration::from_millis(100), |d| {
                d.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100))
            });
            events.poll(tick, &mut sink)?;
            if self.stop.load(Ordering::Relaxed)
                || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                break;
            }
            if let Some(child) = self.child.as_mut() {
                if child.try_wait()?.is_some() {
                    // Output the command caused may still be in flight; take it too.
                    events.poll(Duration::from_millis(100), &mut sink)?;
                    self.child = None;
                    break;
                }
            }
        }
        // Records whose wakeup we have not seen yet still count.
        events.drain_all(&mut sink)?;
        Ok(())
    }
}

/// A command still running when the session ends (signal or --duration) is asked to stop too.
impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: plain kill(2) on our own child.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            let _ = child.wait();
        }
    }
}

fn start_command(command: &[String]) -> Result<Option<Child>> {
    let Some((program, args)) = command.split_first() else {
        return Ok(None);
    };
    // Resolve the path first: execvp would try every $PATH entry, and each failed execve fires
    // exec tracepoints as if the command had run several times.
    let resolved = if program.contains('/') {
        PathBuf::from(program)
    } else {
        bpfhook::attach::search_path(program)
            .with_context(|| format!("`{program}` is not in $PATH"))?
    };
    let child = Command::new(&resolved)
        .args(args)
        .spawn()
        .with_context(|| format!("starting `{program}`"))?;
    Ok(Some(child))
}
