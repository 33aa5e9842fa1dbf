//! seccomp: the system-call hook. Its filters are classic BPF, not eBPF: a process installs one
//! on itself (here, the command bpfhook starts, between fork and exec) and every child inherits
//! it. A [`Policy`] says which system calls get which [`Action`]; seccompiler compiles it into
//! the filter, architecture check first; [`Filter::install`] applies it.

mod log;

use std::fmt;
use std::io;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use syscalls::{Errno, Sysno};

pub use log::{LogReader, LogRecord};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_LOG: libc::c_ulong = 2;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("unknown system call `{0}` on {arch} (names as in `man 2 syscalls`, or numbers)", arch = std::env::consts::ARCH)]
    UnknownSyscall(String),
    #[error("unknown seccomp action `{0}`: expected errno[:NAME|NUMBER], kill, kill-thread, trap, log or allow")]
    UnknownAction(String),
    #[error("no system calls given")]
    Empty,
    #[error("building the seccomp filter: {0}")]
    Build(String),
}

/// What the kernel does with a system call the filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fail the call with this errno, without running it.
    Errno(u32),
    /// Kill the whole process (SIGSYS, as if by a core-dumping signal).
    KillProcess,
    KillThread,
    /// Send SIGSYS, which the process may handle.
    Trap,
    /// Run the call, and log it in the kernel's audit log.
    Log,
}

impl Action {
    /// `errno` (EPERM), `errno:EACCES`, `errno:13`, `kill`, `kill-thread`, `trap`, `log`, `allow`.
    pub fn parse(s: &str) -> Result<Self, SeccompError> {
        let unknown = || SeccompError::UnknownAction(s.to_owned());
        Ok(match s.split_once(':') {
            Some(("errno", errno)) => Self::Errno(parse_errno(errno).ok_or_else(unknown)?),
            Some(_) => return Err(unknown()),
            None => match s {
                "errno" => Self::Errno(libc::EPERM as u32),
                "kill" | "kill-process" => Self::KillProcess,
                "kill-thread" => Self::KillThread,
                "trap" => Self::Trap,
                "log" => Self::Log,
                "allow" => Self::Allow,
                _ => return Err(unknown()),
            },
        })
    }

    fn seccompiler(self) -> SeccompAction {
        match self {
            Self::Allow => SeccompAction::Allow,
            Self::Errno(errno) => SeccompAction::Errno(errno),
            Self::KillProcess => SeccompAction::KillProcess,
            Self::KillThread => SeccompAction::KillThread,
            Self::Trap => SeccompAction::Trap,
            Self::Log => SeccompAction::Log,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow => f.write_str("allowed"),
            Self::Errno(errno) => match Errno::new(*errno as i32).name() {
                Some(name) => write!(f, "errno {name}"),
                None => write!(f, "errno {errno}"),
            },
            Self::KillProcess => f.write_str("process killed"),
            Self::KillThread => f.write_str("thread killed"),
            Self::Trap => f.write_str("SIGSYS"),
            Self::Log => f.write_str("logged"),
        }
    }
}

/// An errno by name (`EACCES`) or number.
fn parse_errno(s: &str) -> Option<u32> {
    if let Ok(number) = s.parse::<u32>() {
        return Some(number);
    }
    (1..4096)
        .find(|&n| Errno::new(n).name() == Some(s))
        .map(|n| n as u32)
}

/// A system call of this architecture by name (`mkdir`) or number.
pub fn syscall(name: &str) -> Result<Sysno, SeccompError> {
    let unknown = || SeccompError::UnknownSyscall(name.to_owned());
    match name.parse::<i32>() {
        Ok(number) => Sysno::new(number as usize).ok_or_else(unknown),
        Err(_) => name.parse::<Sysno>().map_err(|_| unknown()),
    }
}

/// Which system calls get which action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    listed: Vec<Sysno>,
    listed_action: Action,
    others: Action,
}

impl Policy {
    /// The listed system calls get `action`; every other one runs.
    pub fn deny(syscalls: &[String], action: Action) -> Result<Self, SeccompError> {
        Ok(Self {
            listed: parse_list(syscalls)?,
            listed_action: action,
            others: Action::Allow,
        })
    }

    /// Only the listed system calls run; every other one gets `action`. `execve` is always
    /// allowed: the filter is installed before the command's exec, which needs it.
    pub fn allow_only(syscalls: &[String], action: Action) -> Result<Self, SeccompError> {
        let mut listed = parse_list(syscalls)?;
        if !listed.contains(&Sysno::execve) {
            listed.push(Sysno::execve);
        }
        Ok(Self {
            listed,
            listed_action: Action::Allow,
            others: action,
        })
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.listed.iter().map(|s| s.name()).collect();
        write!(
            f,
            "{}: {}; every other system call: {}",
            names.join(", "),
            self.listed_action,
            self.others
        )
    }
}

fn parse_list(syscalls: &[String]) -> Result<Vec<Sysno>, SeccompError> {
    let mut parsed = Vec::new();
    for name in syscalls.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if name.is_empty() {
            continue;
        }
        let sysno = syscall(name)?;
        if !parsed.contains(&sysno) {
            parsed.push(sysno);
        }
    }
    if parsed.is_empty() {
        return Err(SeccompError::Empty);
    }
    Ok(parsed)
}

/// A compiled seccomp filter.
#[derive(Debug, Clone)]
pub struct Filter {
    program: BpfProgram,
    log: bool,
}

impl Filter {
    /// Compiles the policy for this architecture. With `log`, every action but allow is also
    /// written to the kernel's audit log (`SECCOMP_FILTER_FLAG_LOG`).
    pub fn compile(policy: &Policy, log: bool) -> Result<Self, SeccompError> {
        let build = |e: seccompiler::BackendError| SeccompError::Build(e.to_string());
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| SeccompError::Build(e.to_string()))?;
        // An empty rule list matches the call whatever its arguments.
        let rules = policy
            .listed
            .iter()
            .map(|sysno| (i64::from(sysno.id()), Vec::new()))
            .collect();
        let filter = SeccompFilter::new(
            rules,
            policy.others.seccompiler(),
            policy.listed_action.seccompiler(),
            arch,
        )
        .map_err(build)?;
        let program = BpfProgram::try_from(filter).map_err(build)?;
        Ok(Self { program, log })
    }

    /// Classic BPF instructions in the filter.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Applies the filter to the calling thread, after setting `no_new_privs` (which an
    /// unprivileged process needs). It allocates nothing, so it may run between fork and exec.
    pub fn install(&self) -> io::Result<()> {
        #[repr(C)]
        struct SockFprog {
            len: libc::c_ushort,
            filter: *const seccompiler::sock_filter,
        }
        let program = SockFprog {
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr(),
        };
        let flags = if self.log { SECCOMP_FILTER_FLAG_LOG } else { 0 };
        // SAFETY: prctl and seccomp read plain arguments; `program` points into `self.program`,
        // which outlives both calls.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                flags,
                &program as *const SockFprog,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_errnos_parse_by_name_and_number() {
        assert_eq!(Action::parse("errno").ok(), Some(Action::Errno(1)));
        assert_eq!(Action::parse("errno:EACCES").ok(), Some(Action::Errno(13)));
        assert_eq!(Action::parse("errno:38").ok(), Some(Action::Errno(38)));
        assert_eq!(Action::parse("kill").ok(), Some(Action::KillProcess));
        assert!(Action::parse("errno:ENOPE").is_err());
        assert!(Action::parse("explode").is_err());
        assert_eq!(Action::Errno(13).to_string(), "errno EACCES");
    }

    #[test]
    fn system_calls_parse_by_name_and_number_and_unknown_ones_are_named() {
        assert_eq!(syscall("mkdir").ok(), Some(Sysno::mkdir));
        let number = Sysno::mkdir.id().to_string();
        assert_eq!(syscall(&number).ok(), Some(Sysno::mkdir));
        let err = syscall("teleport").unwrap_err().to_string();
        assert!(err.contains("unknown system call `teleport`"), "{err}");
    }

    #[test]
    fn allow_lists_keep_execve_and_lists_drop_repeats() {
        let policy =
            Policy::allow_only(&["read, write".into(), "read".into()], Action::KillProcess)
                .expect("policy");
        assert_eq!(
            policy.to_string(),
            "read, write, execve: allowed; every other system call: process killed"
        );
        assert!(matches!(
            Policy::deny(&[" , ".into()], Action::Log),
            Err(SeccompError::Empty)
        ));
    }
}
