//! Builtin variables (`pid`, `comm`, `nsecs`…) and the integer typedefs scripts may name.

use crate::types::Type;

/// A builtin variable the program reads from a helper or its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Pid,
    Tid,
    Uid,
    Gid,
    Cpu,
    Comm,
    Nsecs,
    Elapsed,
    Cgroup,
    Curtask,
    Rand,
    Probe,
    Func,
    Retval,
    Arg(u8),
    Args,
    Cpid,
    Jiffies,
    Numaid,
    Ncpus,
    Kstack,
    Ustack,
    Ctx,
    Usermode,
    Username,
}

impl Builtin {
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "pid" => Builtin::Pid,
            "tid" => Builtin::Tid,
            "uid" => Builtin::Uid,
            "gid" => Builtin::Gid,
            "cpu" => Builtin::Cpu,
            "comm" => Builtin::Comm,
            "nsecs" => Builtin::Nsecs,
            "elapsed" => Builtin::Elapsed,
            "cgroup" => Builtin::Cgroup,
            "curtask" => Builtin::Curtask,
            "rand" => Builtin::Rand,
            "probe" => Builtin::Probe,
            "func" => Builtin::Func,
            "retval" => Builtin::Retval,
            "args" => Builtin::Args,
            "cpid" => Builtin::Cpid,
            "jiffies" => Builtin::Jiffies,
            "numaid" => Builtin::Numaid,
            "ncpus" => Builtin::Ncpus,
            "kstack" => Builtin::Kstack,
            "ustack" => Builtin::Ustack,
            "ctx" => Builtin::Ctx,
            "usermode" => Builtin::Usermode,
            "username" => Builtin::Username,
            _ => {
                let n: u8 = name.strip_prefix("arg")?.parse().ok()?;
                return (n < 16).then_some(Builtin::Arg(n));
            }
        })
    }

    /// The type, where it does not depend on the probe (see the checker for `args`, `probe`
    /// and `func`).
    pub fn fixed_type(self) -> Option<Type> {
        Some(match self {
            Builtin::Pid
            | Builtin::Tid
            | Builtin::Uid
            | Builtin::Gid
            | Builtin::Cpu
            | Builtin::Rand
            | Builtin::Cpid
            | Builtin::Numaid => Type::U32,
            Builtin::Nsecs
            | Builtin::Elapsed
            | Builtin::Cgroup
            | Builtin::Jiffies
            | Builtin::Ncpus => Type::U64,
            Builtin::Comm => Type::Str(16),
            Builtin::Curtask | Builtin::Ctx => Type::U64,
            Builtin::Retval => Type::I64,
            Builtin::Arg(_) => Type::U64,
            Builtin::Usermode => Type::int(8, false),
            Builtin::Username => Type::Username,
            // Typed with the settings' stack mode, or by their arguments.
            Builtin::Kstack | Builtin::Ustack => return None,
            Builtin::Probe | Builtin::Func | Builtin::Args => return None,
        })
    }
}

/// C and kernel integer typedefs a cast may name.
pub fn typedef(name: &str) -> Option<Type> {
    Some(match name {
        "uint8_t" | "u_int8_t" | "__u8" | "u8" => Type::int(8, false),
        "int8_t" | "__s8" | "s8" => Type::int(8, true),
        "uint16_t" | "__u16" | "u16" => Type::int(16, false),
        "int16_t" | "__s16" | "s16" => Type::int(16, true),
        "uint32_t" | "__u32" | "u32" | "uid_t" | "gid_t" => Type::int(32, false),
        "int32_t" | "__s32" | "s32" | "pid_t" => Type::int(32, true),
        "uint64_t" | "__u64" | "u64" | "size_t" | "uintptr_t" => Type::U64,
        "int64_t" | "__s64" | "s64" | "ssize_t" | "loff_t" | "off_t" => Type::I64,
        "float" => Type::Float(4),
        "double" => Type::Float(8),
        _ => return None,
    })
}
