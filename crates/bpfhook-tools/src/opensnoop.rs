//! `opensnoop`: every open/openat/openat2 with its file descriptor or error, BCC's columns;
//! and `statsnoop`, the stat family the same way (a RET column where opensnoop has FD).
//!
//! The process filter runs in the kernel (`$1`); thread, user, name, failed-only and flag
//! filters on each record here, as BCC's opensnoop applies most of them in user space.

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bpfhook_lang::output::Value;

use crate::fields::{int, text, uint};
use crate::launch::{self, check_pid, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-p`: only this process.
    pub pid: Option<u32>,
    /// `-t`: only this thread.
    pub tid: Option<u32>,
    /// `-u`: only this user.
    pub uid: Option<u32>,
    /// `-T`: a TIME(s) column, seconds since the first open.
    pub timestamp: bool,
    /// `-U`: a UID column.
    pub print_uid: bool,
    /// `-x`: only opens that failed.
    pub failed: bool,
    /// `-e`: a FLAGS column (octal).
    pub extended: bool,
    /// `-d`: stop after this long.
    pub duration: Option<Duration>,
    /// `-n`: only commands whose name contains this.
    pub name: Option<String>,
    /// `-f`: only opens with any of these flags (`O_WRONLY`, `O_CREAT`, …).
    pub flags: Vec<String>,
    /// `-s` (statsnoop): a SYSCALL column.
    pub syscall_name: bool,
    /// `--json`: one object per line.
    pub json: bool,
}

/// Runs opensnoop until Ctrl-C (`stop`) or the duration.
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    trace(Calls::Open, options, out, stop)
}

/// Runs statsnoop (BCC's `-t`, `-x`, `-p`; here every opensnoop filter) the same way.
pub fn statsnoop(
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    trace(Calls::Stat, options, out, stop)
}

/// Which system calls: their script and what their result column is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Calls {
    Open,
    Stat,
}

impl Calls {
    fn tool(self) -> &'static str {
        match self {
            Calls::Open => "opensnoop",
            Calls::Stat => "statsnoop",
        }
    }

    fn result(self) -> &'static str {
        match self {
            Calls::Open => "FD",
            Calls::Stat => "RET",
        }
    }
}

fn trace(
    calls: Calls,
    options: Options,
    out: Box<dyn Write>,
    stop: Arc<AtomicBool>,
) -> Result<i32, ToolError> {
    let (mask, read_only) = flag_filter(&options.flags)?;
    for pid in [options.pid, options.tid].into_iter().flatten() {
        check_pid(pid)?;
    }
    let mut launch = Launch::new(
        calls.tool(),
        crate::script(calls.tool()).unwrap_or_default().into(),
    );
    launch.params = vec![options.pid.unwrap_or(0).to_string()];
    launch.duration = options.duration;
    // Paths as long as the kernel takes them in a single component walk, within reason.
    launch.max_strlen = 256;
    let json = options.json;
    let mut output = ReportOutput(Opensnoop {
        calls,
        options,
        mask,
        read_only,
        first_ns: None,
        sink: Sink::new(out, json),
    });
    launch::run(launch, stop, &mut output)
}

struct Opensnoop {
    calls: Calls,
    options: Options,
    mask: u64,
    read_only: bool,
    first_ns: Option<u64>,
    sink: Sink,
}

/// One completed open, as the script prints it.
struct Open {
    ns: u64,
    pid: u32,
    tid: u32,
    uid: u32,
    comm: String,
    ret: i64,
    flags: u64,
    path: String,
    /// statsnoop's: the probe that saw the call (`tracepoint:syscalls:sys_exit_newstat`).
    probe: String,
}

impl Open {
    fn from_fields(f: &[Value]) -> Self {
        Open {
            ns: uint(f, 0),
            pid: uint(f, 1) as u32,
            tid: uint(f, 2) as u32,
            uid: uint(f, 3) as u32,
            comm: text(f, 4),
            ret: int(f, 5),
            flags: uint(f, 6),
            path: text(f, 7),
            probe: text(f, 8),
        }
    }

    /// BCC's name of the call: the kernel's (`newstat`, `statx`), from the probe.
    fn call(&self) -> &str {
        self.probe
            .rsplit_once(":sys_exit_")
            .map_or("", |(_, name)| name)
    }

    /// BCC's FD and ERR: the descriptor and 0, or -1 and the errno.
    fn fd_err(&self) -> (i64, i64) {
        if self.ret >= 0 {
            (self.ret, 0)
        } else {
            (-1, -self.ret)
        }
    }
}

impl Opensnoop {
    fn wanted(&self, open: &Open) -> bool {
        let o = &self.options;
        o.tid.is_none_or(|t| t == open.tid)
            && o.uid.is_none_or(|u| u == open.uid)
            && o.name.as_deref().is_none_or(|n| open.comm.contains(n))
            && (!o.failed || open.ret < 0)
            && (self.mask == 0 && !self.read_only
                || open.flags & self.mask != 0
                || self.read_only && open.flags & libc::O_ACCMODE as u64 == 0)
    }
}

impl Report for Opensnoop {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        let o = &self.options;
        let mut header = String::new();
        if o.timestamp {
            header.push_str(&format!("{:<14} ", "TIME(s)"));
        }
        if o.print_uid {
            header.push_str(&format!("{:<6} ", "UID"));
        }
        let id = if o.tid.is_some() { "TID" } else { "PID" };
        let result = self.calls.result();
        header.push_str(&format!("{id:<6} {:<16} {result:>4} {:>3} ", "COMM", "ERR"));
        if o.extended {
            header.push_str(&format!("{:<9}", "FLAGS"));
        }
        if o.syscall_name {
            header.push_str(&format!("{:<12} ", "SYSCALL"));
        }
        header.push_str("PATH");
        writeln!(self.sink.out, "{header}")
    }

    fn record(&mut self, fields: &[Value]) -> io::Result<()> {
        let open = Open::from_fields(fields);
        if !self.wanted(&open) {
            return Ok(());
        }
        let first = *self.first_ns.get_or_insert(open.ns);
        let seconds = open.ns.saturating_sub(first) as f64 / 1e9;
        let (fd, err) = open.fd_err();
        if self.sink.json {
            let mut object = serde_json::json!({
                "time": seconds, "pid": open.pid, "tid": open.tid, "uid": open.uid,
                "comm": open.comm, "err": err, "path": open.path,
            });
            object[self.calls.result().to_lowercase()] = fd.into();
            if self.calls == Calls::Open {
                object["flags"] = open.flags.into();
            } else {
                object["syscall"] = open.call().into();
            }
            return self.sink.json_line(object);
        }
        let o = &self.options;
        let mut line = String::new();
        if o.timestamp {
            line.push_str(&format!("{seconds:<14.9} "));
        }
        if o.print_uid {
            line.push_str(&format!("{:<6} ", open.uid));
        }
        let id = if o.tid.is_some() { open.tid } else { open.pid };
        line.push_str(&format!("{id:<6} {:<16} {fd:>4} {err:>3} ", open.comm));
        if o.extended {
            line.push_str(&format!("{:08o} ", open.flags));
        }
        if o.syscall_name {
            line.push_str(&format!("{:<12} ", open.call()));
        }
        line.push_str(&open.path);
        writeln!(self.sink.out, "{line}")
    }
}

/// `-f` names → the mask of flag bits any of which must be set, and whether `O_RDONLY` (no
/// write access bits) was asked for.
fn flag_filter(names: &[String]) -> Result<(u64, bool), ToolError> {
    let mut mask = 0u64;
    let mut read_only = false;
    for name in names {
        let upper = name.to_ascii_uppercase();
        let upper = upper.strip_prefix("O_").unwrap_or(&upper);
        let bits = match upper {
            "RDONLY" => {
                read_only = true;
                0
            }
            "WRONLY" => libc::O_WRONLY,
            "RDWR" => libc::O_RDWR,
            "CREAT" => libc::O_CREAT,
            "EXCL" => libc::O_EXCL,
            "NOCTTY" => libc::O_NOCTTY,
            "TRUNC" => libc::O_TRUNC,
            "APPEND" => libc::O_APPEND,
            "NONBLOCK" => libc::O_NONBLOCK,
            "DSYNC" => libc::O_DSYNC,
            "ASYNC" => libc::O_ASYNC,
            "DIRECT" => libc::O_DIRECT,
            "LARGEFILE" => libc::O_LARGEFILE,
            "DIRECTORY" => libc::O_DIRECTORY,
            "NOFOLLOW" => libc::O_NOFOLLOW,
            "NOATIME" => libc::O_NOATIME,
            "CLOEXEC" => libc::O_CLOEXEC,
            "SYNC" => libc::O_SYNC,
            "PATH" => libc::O_PATH,
            "TMPFILE" => libc::O_TMPFILE,
            _ => return Err(ToolError::Usage(format!("unknown open flag: {name}"))),
        };
        mask |= bits as u64;
    }
    Ok((mask, read_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            flag_filter(&names(&["O_WRONLY", "creat"])).unwrap(),
            ((libc::O_WRONLY | libc::O_CREAT) as u64, false)
        );
        assert_eq!(flag_filter(&names(&["O_RDONLY"])).unwrap(), (0, true));
        assert!(flag_filter(&names(&["O_BOGUS"])).is_err());
    }

    #[test]
    fn fd_and_errno() {
        let open = |ret| Open {
            ns: 0,
            pid: 1,
            tid: 1,
            uid: 0,
            comm: String::new(),
            ret,
            flags: 0,
            path: String::new(),
            probe: String::new(),
        };
        assert_eq!(open(3).fd_err(), (3, 0));
        assert_eq!(open(-2).fd_err(), (-1, 2));
    }
}
