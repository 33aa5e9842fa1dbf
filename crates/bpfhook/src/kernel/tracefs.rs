//! tracefs: find or mount it, and read `bpf_printk` output from a private trace instance.
//!
//! Reading the global `trace_pipe` consumes lines, so two readers steal each other's output.
//! A trace instance (`instances/NAME`) has its own ring buffer: enabling the
//! `bpf_trace/bpf_trace_printk` event in it gives this process a copy of every printk line.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

const MOUNT_POINT: &str = "/sys/kernel/tracing";
const DEBUGFS_MOUNT_POINT: &str = "/sys/kernel/debug/tracing";
const PRINTK_EVENT: &str = "events/bpf_trace/bpf_trace_printk/enable";

#[derive(Debug, Clone, thiserror::Error)]
pub enum TracefsError {
    #[error("tracefs is not mounted and mounting it at {MOUNT_POINT} failed: {0} (run as root, or `mount -t tracefs tracefs {MOUNT_POINT}`)")]
    Mount(String),
    #[error("{path}: {error}")]
    Io { path: String, error: String },
    #[error("this kernel has no bpf_trace/bpf_trace_printk trace event, so bpf_printk output cannot be read")]
    NoPrintkEvent,
}

fn io_error(path: &Path, error: std::io::Error) -> TracefsError {
    TracefsError::Io {
        path: path.display().to_string(),
        error: error.to_string(),
    }
}

static ROOT: OnceLock<Result<PathBuf, TracefsError>> = OnceLock::new();

/// The tracefs root, mounting tracefs at /sys/kernel/tracing if no mount is found.
pub fn root() -> Result<&'static Path, TracefsError> {
    ROOT.get_or_init(find_or_mount)
        .as_deref()
        .map_err(Clone::clone)
}

fn find_or_mount() -> Result<PathBuf, TracefsError> {
    for candidate in [MOUNT_POINT, DEBUGFS_MOUNT_POINT] {
        if Path::new(candidate).join("available_events").exists() {
            return Ok(PathBuf::from(candidate));
        }
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: all pointers are valid NUL-terminated strings; data may be null for tracefs.
    let rc = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(TracefsError::Mount(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    Ok(PathBuf::from(MOUNT_POINT))
}

/// One line of `bpf_printk` output, split into the fields trace_pipe prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintkLine {
    pub comm: String,
    pub pid: u32,
    pub cpu: u32,
    /// Seconds since boot, as the kernel prints it (`12345.678901`).
    pub timestamp: String,
    pub message: String,
}

impl PrintkLine {
    /// Parses `  bash-1234    [001] d..31 12345.678901: bpf_trace_printk: Hello`.
    pub fn parse(line: &str) -> Option<Self> {
        let (head, message) = line.split_once(": bpf_trace_printk: ")?;
        let (task, rest) = head.split_once(" [")?;
        let (comm, pid) = task.trim().rsplit_once('-')?;
        let (cpu, rest) = rest.split_once(']')?;
        let timestamp = rest.split_whitespace().last()?.trim_end_matches(':');
        Some(Self {
            comm: comm.to_owned(),
            pid: pid.parse().ok()?,
            cpu: cpu.trim().parse().ok()?,
            timestamp: timestamp.to_owned(),
            message: message.to_owned(),
        })
    }
}

/// Removes the instances of bpfhook processes that are gone. A process killed outright (a
/// script's SIGTERM, SIGKILL) never drops its reader, and tracefs keeps an instance until
/// someone removes it: without this they would pile up. One whose pid lives on is left alone.
fn remove_abandoned(instances: &Path) {
    let Ok(entries) = std::fs::read_dir(instances) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("bpfhook-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// A private trace instance with the printk event enabled; removed on drop.
#[derive(Debug)]
pub struct PrintkReader {
    dir: PathBuf,
    pipe: Option<File>,
    pending: Vec<u8>,
}

impl PrintkReader {
    pub fn new() -> Result<Self, TracefsError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "bpfhook-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let instances = root()?.join("instances");
        remove_abandoned(&instances);
        let dir = instances.join(name);
        std::fs::create_dir(&dir).map_err(|e| io_error(&dir, e))?;
        // From here on, Drop removes the instance whatever fails next.
        let mut reader = Self {
            dir,
            pipe: None,
            pending: Vec::new(),
        };
        let enable = reader.dir.join(PRINTK_EVENT);
        if !enable.exists() {
            return Err(TracefsError::NoPrintkEvent);
        }
        std::fs::write(&enable, "1").map_err(|e| io_error(&enable, e))?;
        let pipe_path = reader.dir.join("trace_pipe");
        let pipe = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&pipe_path)
            .map_err(|e| io_error(&pipe_path, e))?;
        reader.pipe = Some(pipe);
        Ok(reader)
    }

    /// The pipe, for polling.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|p| p.as_fd())
    }

    /// Reads whatever is available without blocking and calls `each` per complete line.
    /// Lines that are not printk records (the kernel's `CPU:N [LOST n EVENTS]`) go through
    /// as messages with pid 0 so nothing is silently dropped.
    pub fn drain(&mut self, mut each: impl FnMut(PrintkLine)) -> Result<usize, TracefsError> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(0);
        };
        let mut buf = [0u8; 16 * 1024];
        let mut count = 0;
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(&self.dir.join("trace_pipe"), e)),
            }
        }
        let mut start = 0;
        while let Some(len) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&self.pending[start..start + len]);
            start += len + 1;
            // A format ending in "\n" (as most bpf_printk calls do) leaves an empty line behind.
            if line.trim().is_empty() {
                continue;
            }
            each(PrintkLine::parse(&line).unwrap_or_else(|| PrintkLine {
                comm: String::new(),
                pid: 0,
                cpu: 0,
                timestamp: String::new(),
                message: line.trim().to_owned(),
            }));
            count += 1;
        }
        self.pending.drain(..start);
        Ok(count)
    }

    /// The instance directory (`/sys/kernel/tracing/instances/bpfhook-…`).
    pub fn instance_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PrintkReader {
    fn drop(&mut self) {
        // The instance cannot be removed while its pipe is open.
        self.pipe = None;
        let _ = std::fs::write(self.dir.join(PRINTK_EVENT), "0");
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            log::warn!(
                "could not remove trace instance {}: {e}",
                self.dir.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trace_pipe_lines() {
        let line = "           <...>-4021    [001] ...21  1193.410125: bpf_trace_printk: Hello, eBPF World!";
        assert_eq!(
            PrintkLine::parse(line),
            Some(PrintkLine {
                comm: "<...>".into(),
                pid: 4021,
                cpu: 1,
                timestamp: "1193.410125".into(),
                message: "Hello, eBPF World!".into(),
            })
        );
        let dashed = " my-prog-x-77 [000] d..3. 5.000001: bpf_trace_printk: a: b";
        let parsed = PrintkLine::parse(dashed).unwrap();
        assert_eq!(
            (parsed.comm.as_str(), parsed.pid, parsed.message.as_str()),
            ("my-prog-x", 77, "a: b")
        );
        assert_eq!(PrintkLine::parse("CPU:1 [LOST 3 EVENTS]"), None);
    }
}
