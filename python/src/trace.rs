//! `_native.trace`: a bpftrace program through bpfhook-lang (compile, then runtime::run),
//! its text output collected instead of printed.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bpfhook_lang::output::{new_output, OutputFormat};
use bpfhook_lang::runtime::{self, RunOptions};
use pyo3::prelude::*;

use crate::error::{error_chain, BpfError};

/// A `Write` into a buffer the caller keeps a handle to.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Write for Collected {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("output buffer poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Collected {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Runs `program` until it exits (`exit()`), `duration` seconds pass, or Ctrl-C; returns
/// what it printed (printf output and the maps printed at the end, as bpftrace prints them).
#[pyfunction]
#[pyo3(signature = (program, duration=None, pid=None))]
pub fn trace(
    py: Python<'_>,
    program: &str,
    duration: Option<f64>,
    pid: Option<u32>,
) -> PyResult<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let out = Collected::default();
    let err = Collected::default();
    let run = || -> Result<(), String> {
        // Compiled on the run's thread: the script's types are not Send.
        let script =
            bpfhook_lang::compile("stdin", program, Default::default()).map_err(|e| e.rendered)?;
        let options = RunOptions {
            pid,
            child: None,
            notify_attached: false,
            stop: stop.clone(),
            warnings: true,
            quiet: true,
            ..RunOptions::default()
        };
        let mut output = new_output(
            OutputFormat::Text,
            Box::new(out.clone()),
            Box::new(err.clone()),
        );
        let result = runtime::run(&script.compiled, &script.analysis, options, output.as_mut());
        result
            .map(|_| ())
            .map_err(|e| format!("{}{}", error_chain(&e), err.text()))
    };
    let started = std::time::Instant::now();
    let mut interrupted = None;
    let result = std::thread::scope(|scope| {
        let running = scope.spawn(run);
        // This thread watches: the deadline, and Ctrl-C (Python sees signals only here).
        while !running.is_finished() {
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            if interrupted.is_none() {
                if let Err(signal) = py.check_signals() {
                    interrupted = Some(signal);
                    stop.store(true, Ordering::Relaxed);
                }
            }
            if duration.is_some_and(|d| started.elapsed().as_secs_f64() >= d) {
                stop.store(true, Ordering::Relaxed);
            }
        }
        running
            .join()
            .unwrap_or_else(|_| Err("the bpftrace run panicked".to_owned()))
    });
    if let Some(signal) = interrupted {
        return Err(signal);
    }
    result.map(|()| out.text()).map_err(BpfError::new_err)
}
