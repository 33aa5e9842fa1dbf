//! The `-c` command: forked before the script compiles (so `cpid` is known), held before
//! `exec` until every probe is attached, so none of its activity is missed.
//!
//! `std::process::Command` cannot do this: `spawn` waits until the child has exec'd. So the
//! child is forked by hand; between fork and exec it only reads the gate pipe and calls execvp
//! (both async-signal-safe), with every string prepared before the fork.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct PausedChild {
    pid: libc::pid_t,
    /// Closing it lets the child exec.
    gate: Option<OwnedFd>,
    status: Option<i32>,
}

impl PausedChild {
    /// Forks `command`, split at spaces as bpftrace splits it (no shell: quotes stay part of
    /// the words; `/bin/sh FILE` runs shell code); the child waits at the gate.
    pub fn spawn(command: &str) -> Result<Self, String> {
        let words: Vec<&str> = command.split(' ').filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            return Err("-c needs a command".to_owned());
        }
        let argv: Vec<CString> = words
            .iter()
            .map(|w| CString::new(*w).map_err(|_| format!("-c: a NUL byte in `{command}`")))
            .collect::<Result<_, _>>()?;
        let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        pointers.push(std::ptr::null());
        let program = std::path::Path::new(&words[0]);
        if program.components().count() > 1 && !program.exists() {
            return Err(format!("-c: {} does not exist", words[0]));
        }
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: both fds are new and ours.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: the child only calls async-signal-safe functions before exec or _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: in the child: close our copy of the write end, wait for EOF, exec.
            unsafe {
                libc::close(write_end.as_raw_fd());
                let mut byte = 0u8;
                while libc::read(read_end.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) > 0 {}
                libc::execvp(pointers[0], pointers.as_ptr());
                libc::_exit(127);
            }
        }
        drop(read_end);
        Ok(Self {
            pid,
            gate: Some(write_end),
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec.
    pub fn release(&mut self) -> Result<(), String> {
        self.gate.take();
        Ok(())
    }

    /// Whether the child has ended (reaped here).
    pub fn exited(&mut self) -> bool {
        if self.status.is_none() {
            let mut status = 0;
            // SAFETY: waitpid on our own child, without blocking.
            if unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } == self.pid {
                self.status = Some(status);
            }
        }
        self.status.is_some()
    }
}

/// A child still running when the script ends is stopped, as bpftrace does.
impl Drop for PausedChild {
    fn drop(&mut self) {
        self.gate.take();
        if !self.exited() {
            let mut status = 0;
            // SAFETY: kill(2) and waitpid(2) on our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGTERM);
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}
