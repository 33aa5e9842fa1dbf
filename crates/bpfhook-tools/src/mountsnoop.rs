//! `mountsnoop`: every mount(2) and umount(2) as a call line with its result, BCC's columns
//! (`-P`: the parent's comm and pid too).

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bpfhook_lang::output::Value;

use crate::fields::{int, text, uint};
use crate::launch::{self, Launch, ToolError};
use crate::report::{Report, ReportOutput, Sink};

/// mount(2)'s flags, by bit.
const MOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (1 << 10, "MS_NOATIME"),
    (1 << 11, "MS_NODIRATIME"),
    (1 << 12, "MS_BIND"),
    (1 << 13, "MS_MOVE"),
    (1 << 14, "MS_REC"),
    (1 << 15, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
];

/// umount2(2)'s flags.
const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];

/// BCC's options.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// `-P`: PCOMM and PPID columns.
    pub parent: bool,
    pub json: bool,
}

/// Traces until Ctrl-C (`stop`).
pub fn run(options: Options, out: Box<dyn Write>, stop: Arc<AtomicBool>) -> Result<i32, ToolError> {
    let launch = Launch::new(
        "mountsnoop",
        crate::script("mountsnoop").unwrap_or_default().into(),
    );
    let mut output = ReportOutput(Mountsnoop {
        parent: options.parent,
        sink: Sink::new(out, options.json),
    });
    launch::run(launch, stop, &mut output)
}

struct Mountsnoop {
    parent: bool,
    sink: Sink,
}

/// `MS_NOSUID|MS_NODEV`, the unnamed rest in hex, `0` for none.
fn flag_names(flags: u64, names: &[(u64, &str)]) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let rest = names.iter().fold(flags, |left, (bit, _)| left & !bit);
    if rest != 0 {
        parts.push(format!("0x{rest:x}"));
    }
    if parts.is_empty() {
        return "0".into();
    }
    parts.join("|")
}

impl Report for Mountsnoop {
    fn started(&mut self) -> io::Result<()> {
        if self.sink.json {
            return Ok(());
        }
        let parent = if self.parent {
            format!("{:<16} {:<7} ", "PCOMM", "PPID")
        } else {
            String::new()
        };
        writeln!(
            self.sink.out,
            "{:<16} {:<7} {:<7} {parent}{:<11} CALL",
            "COMM", "PID", "TID", "MNT_NS"
        )
    }

    fn record(&mut self, f: &[Value]) -> io::Result<()> {
        let (pid, tid, comm, namespace) = (uint(f, 0), uint(f, 1), text(f, 2), uint(f, 3));
        let (ppid, pcomm) = (uint(f, 10), text(f, 11));
        let umount = uint(f, 4) == 1;
        let (source, target, fstype, flags, ret) =
            (text(f, 5), text(f, 6), text(f, 7), uint(f, 8), int(f, 9));
        let call = if umount {
            format!(
                "umount(\"{target}\", {}) = {ret}",
                flag_names(flags, UMOUNT_FLAGS)
            )
        } else {
            format!(
                "mount(\"{source}\", \"{target}\", \"{fstype}\", {}, \"\") = {ret}",
                flag_names(flags, MOUNT_FLAGS)
            )
        };
        if self.sink.json {
            return self.sink.json_line(serde_json::json!({
                "comm": comm, "pid": pid, "tid": tid, "ppid": ppid, "pcomm": pcomm,
                "mnt_ns": namespace,
                "call": if umount { "umount" } else { "mount" }, "source": source,
                "target": target, "fstype": fstype, "flags": flags, "ret": ret,
            }));
        }
        let parent = if self.parent {
            format!("{pcomm:<16} {ppid:<7} ")
        } else {
            String::new()
        };
        writeln!(
            self.sink.out,
            "{comm:<16} {pid:<7} {tid:<7} {parent}{namespace:<11} {call}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name() {
        assert_eq!(flag_names(0, MOUNT_FLAGS), "0");
        assert_eq!(flag_names(2 | 4, MOUNT_FLAGS), "MS_NOSUID|MS_NODEV");
        assert_eq!(
            flag_names(2 | (1 << 30), MOUNT_FLAGS),
            "MS_NOSUID|0x40000000"
        );
        assert_eq!(flag_names(2, UMOUNT_FLAGS), "MNT_DETACH");
    }
}
