//! A temporary cgroup v2 directory, and processes started inside it.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};

use crate::unique_name;

pub struct TempCgroup {
    pub path: PathBuf,
}

impl TempCgroup {
    pub fn new() -> Self {
        let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
        let root = mounts
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(f[1]))
            })
            .expect("a cgroup v2 mount");
        let path = root.join(unique_name("bpfhook-test-"));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Self { path }
    }

    /// Starts `command` as a member of this cgroup (it joins before exec).
    pub fn spawn(&self, command: &mut Command) -> Child {
        let procs = std::ffi::CString::new(
            self.path
                .join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        )
        .expect("cgroup path");
        // SAFETY: only async-signal-safe calls (open, write, close) run between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
        command.spawn().expect("spawning into the cgroup")
    }
}

impl Default for TempCgroup {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        // Members may take a moment to be reaped after exiting.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
