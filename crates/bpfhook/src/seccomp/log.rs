//! What seccomp filters did, from the kernel's audit records (`type=1326`, `AUDIT_SECCOMP`).
//! With no audit daemon attached the kernel prints them to its log, which `/dev/kmsg` reads
//! from any position; where auditd runs they go to it instead (`ausearch -m SECCOMP`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

use syscalls::Sysno;

const AUDIT_SECCOMP: &str = "type=1326";
const SECCOMP_RET_ACTION_FULL: u32 = 0xffff_0000;

/// One filtered system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub pid: u32,
    pub comm: String,
    pub syscall: i64,
    /// The kernel's name of the action (as in /proc/sys/kernel/seccomp/actions_logged); the
    /// record does not carry an errno's value.
    pub action: &'static str,
}

impl LogRecord {
    /// The system call's name on this architecture, or its number.
    pub fn syscall_name(&self) -> String {
        usize::try_from(self.syscall)
            .ok()
            .and_then(Sysno::new)
            .map_or_else(|| self.syscall.to_string(), |s| s.name().to_owned())
    }

    /// Parses the message of a kernel log line; None unless it is a seccomp audit record.
    fn parse(message: &str) -> Option<Self> {
        if !message.contains(AUDIT_SECCOMP) {
            return None;
        }
        let field = |key: &str| {
            message
                .split_whitespace()
                .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
        };
        Some(Self {
            pid: field("pid")?.parse().ok()?,
            comm: field("comm")?.trim_matches('"').to_owned(),
            syscall: field("syscall")?.parse().ok()?,
            action: field("code")
                .and_then(|c| u32::from_str_radix(c.trim_start_matches("0x"), 16).ok())
                .map_or("unknown", action_name),
        })
    }
}

/// The action in a filter's return value, by the kernel's name for it.
fn action_name(code: u32) -> &'static str {
    match code & SECCOMP_RET_ACTION_FULL {
        0x8000_0000 => "kill_process",
        0x0000_0000 => "kill_thread",
        0x0003_0000 => "trap",
        0x0005_0000 => "errno",
        0x7fc0_0000 => "user_notif",
        0x7ff0_0000 => "trace",
        0x7ffc_0000 => "log",
        0x7fff_0000 => "allow",
        _ => "unknown",
    }
}

/// Reads the kernel log from the moment it was opened.
pub struct LogReader(File);

impl LogReader {
    pub fn open() -> io::Result<Self> {
        let mut kmsg = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        kmsg.seek(SeekFrom::End(0))?;
        Ok(Self(kmsg))
    }

    /// The seccomp records logged since the last call.
    pub fn records(&mut self) -> io::Result<Vec<LogRecord>> {
        let mut records = Vec::new();
        // /dev/kmsg returns one record per read.
        let mut buffer = vec![0u8; 8192];
        loop {
            match self.0.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    let line = String::from_utf8_lossy(&buffer[..n]);
                    // `priority,sequence,time,flags;message`
                    if let Some(record) =
                        line.split_once(';').and_then(|(_, m)| LogRecord::parse(m))
                    {
                        records.push(record);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Records overwritten before we read them: go on with the next ones.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_seccomp_audit_record() {
        let message = r#"audit: type=1326 audit(1763793000.123:45): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=4242 comm="mkdir" exe="/usr/bin/mkdir" sig=0 arch=c000003e syscall=83 compat=0 ip=0x7f12 code=0x50001"#;
        let record = LogRecord::parse(message).expect("a seccomp record");
        assert_eq!(record.pid, 4242);
        assert_eq!(record.comm, "mkdir");
        assert_eq!(record.syscall, 83);
        assert_eq!(record.action, "errno");
        assert!(LogRecord::parse("audit: type=1400 apparmor=\"DENIED\"").is_none());
    }
}
