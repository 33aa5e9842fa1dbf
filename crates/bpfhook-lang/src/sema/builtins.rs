//! Builtin variables (`pid`, `comm`, `nsecs`…) and the integer typedefs scripts may name.

use crate::sema::Settings;
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
    /// `config()`: the run's settings as a record of constants.
    Config,
    /// `probetype`: the kind of the probe, as bpftrace names it (`special` for begin/end).
    Probetype,
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
            "config" => Builtin::Config,
            "probetype" => Builtin::Probetype,
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
            Builtin::Config | Builtin::Probetype => return None,
        })
    }
}

/// A field of `config()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Bool(bool),
    Int(u64),
    Str(String),
}

impl ConfigValue {
    pub fn ty(&self) -> Type {
        match self {
            ConfigValue::Bool(_) => Type::Bool,
            ConfigValue::Int(_) => Type::U64,
            ConfigValue::Str(text) => Type::Str(text.len() as u32 + 1),
        }
    }
}

/// What `config()` holds: bpftrace's names for the settings bpfhook has.
pub fn config_values(settings: &Settings) -> Vec<(&'static str, ConfigValue)> {
    use ConfigValue::{Bool, Int, Str};
    vec![
        // Symbols of C++ (and Rust) are always demangled.
        ("cpp_demangle", Bool(true)),
        ("show_debug_info", Bool(settings.show_debug_info)),
        ("log_size", Int(settings.log_size)),
        ("max_cat_bytes", Int(settings.max_cat_bytes)),
        ("max_map_keys", Int(u64::from(settings.max_map_keys))),
        ("max_strlen", Int(u64::from(settings.max_strlen))),
        ("perf_rb_pages", Int(u64::from(settings.perf_rb_pages))),
        ("str_trunc_trailer", Str(settings.str_trunc_trailer.clone())),
        ("stack_mode", Str(settings.stack_mode.name().to_owned())),
        ("license", Str(settings.license.clone())),
    ]
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
