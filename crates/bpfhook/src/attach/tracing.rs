//! Tracing hooks: tracepoint, raw tracepoint, BTF tracepoint, kprobe/kretprobe, fentry/fexit, LSM.

use aya::programs::{
    BtfTracePoint, FEntry, FExit, KProbe, Lsm, Program, RawTracePoint, TracePoint,
};

use super::{kernel_error, load_error, typed, AttachError, Target};
use crate::hook::Hook;
use crate::kernel::btf::kernel_btf;
use crate::kernel::features::{self, Feature, MissingFeature};
use crate::kernel::tracefs;

pub(super) fn resolve(hook: &Hook) -> Result<Target, AttachError> {
    Ok(match hook {
        Hook::Tracepoint { category, name } => {
            // A tracepoint exists when tracefs has its directory; checking first names a typo.
            let root = tracefs::root().map_err(|e| AttachError::Io {
                action: "finding tracefs".to_owned(),
                error: std::io::Error::other(e.to_string()),
            })?;
            if !root.join("events").join(category).join(name).exists() {
                return Err(AttachError::Missing {
                    what: "tracepoint",
                    name: format!("{category}:{name}"),
                    hint: " (see `bpfhook list 'tracepoint:*'` or tracefs available_events)"
                        .to_owned(),
                });
            }
            Target::Tracepoint {
                category: category.clone(),
                name: name.clone(),
            }
        }
        Hook::RawTracepoint { name } => Target::RawTracepoint { name: name.clone() },
        Hook::BtfTracepoint { name } => {
            btf_function(&format!("btf_trace_{name}"), "BTF tracepoint", name)?;
            Target::BtfTracepoint { name: name.clone() }
        }
        Hook::Kprobe {
            function,
            offset,
            ret,
        } => {
            features::check(Feature::Kprobes)?;
            Target::Kprobe {
                function: function.clone(),
                offset: *offset,
                ret: *ret,
            }
        }
        Hook::Fentry { function, .. } => {
            btf_function(function, "kernel function", function)?;
            features::check(Feature::Fentry)?;
            Target::Fentry {
                function: function.clone(),
            }
        }
        Hook::Fexit { function, .. } => {
            btf_function(function, "kernel function", function)?;
            features::check(Feature::Fentry)?;
            Target::Fexit {
                function: function.clone(),
            }
        }
        Hook::Lsm { hook, .. } => {
            btf_function(&format!("bpf_lsm_{hook}"), "LSM hook", hook)?;
            features::check(Feature::Lsm)?;
            Target::Lsm { hook: hook.clone() }
        }
        other => unreachable!("tracing::resolve called for {other}"),
    })
}

/// Checks a function is in the kernel's BTF (which fentry/fexit/LSM/tp_btf attach by).
fn btf_function(btf_name: &str, what: &'static str, shown: &str) -> Result<(), AttachError> {
    let btf = kernel_btf().map_err(|e| MissingFeature {
        feature: "BTF",
        reason: e.to_string(),
    })?;
    btf.id_by_type_name_kind(btf_name, aya_obj::btf::BtfKind::Func)
        .or_else(|_| btf.id_by_type_name_kind(btf_name, aya_obj::btf::BtfKind::Typedef))
        .map(drop)
        .map_err(|_| AttachError::Missing {
            what,
            name: shown.to_owned(),
            hint: " in the kernel's BTF (see `bpfhook list`)".to_owned(),
        })
}

pub(super) fn attach(program: &mut Program, target: &Target) -> Result<(), AttachError> {
    let attaching = || format!("attaching to {target}");
    match target {
        Target::Tracepoint { category, name } => {
            let p: &mut TracePoint = typed(program, "tracepoint")?;
            p.load().map_err(load_error)?;
            p.attach(category, name)
                .map_err(|e| kernel_error(attaching(), e))?;
        }
        Target::RawTracepoint { name } => {
            let p: &mut RawTracePoint = typed(program, "raw tracepoint")?;
            p.load().map_err(load_error)?;
            p.attach(name).map_err(|e| kernel_error(attaching(), e))?;
        }
        Target::BtfTracepoint { name } => {
            let p: &mut BtfTracePoint = typed(program, "BTF tracepoint")?;
            p.load(name, kernel_btf_for_load()?)
                .map_err(trampoline_load_error)?;
            p.attach().map_err(|e| kernel_error(attaching(), e))?;
        }
        Target::Kprobe {
            function, offset, ..
        } => {
            let p: &mut KProbe = typed(program, "kprobe")?;
            p.load().map_err(load_error)?;
            p.attach(function, *offset)
                .map_err(|e| kernel_error(attaching(), e))?;
        }
        Target::Fentry { function } => {
            let p: &mut FEntry = typed(program, "fentry")?;
            p.load(function, kernel_btf_for_load()?)
                .map_err(trampoline_load_error)?;
            p.attach().map_err(|e| kernel_error(attaching(), e))?;
        }
        Target::Fexit { function } => {
            let p: &mut FExit = typed(program, "fexit")?;
            p.load(function, kernel_btf_for_load()?)
                .map_err(trampoline_load_error)?;
            p.attach().map_err(|e| kernel_error(attaching(), e))?;
        }
        Target::Lsm { hook } => {
            let p: &mut Lsm = typed(program, "lsm")?;
            p.load(hook, kernel_btf_for_load()?)
                .map_err(trampoline_load_error)?;
            p.attach().map_err(|e| kernel_error(attaching(), e))?;
        }
        other => unreachable!("tracing::attach called for {other}"),
    }
    Ok(())
}

fn kernel_btf_for_load() -> Result<&'static aya::Btf, AttachError> {
    kernel_btf().map_err(|e| {
        AttachError::Feature(MissingFeature {
            feature: "BTF",
            reason: e.to_string(),
        })
    })
}

/// Trampoline programs fail with bare errnos more often than with a verifier log; explain them.
fn trampoline_load_error(e: aya::programs::ProgramError) -> AttachError {
    match load_error(e) {
        AttachError::Verifier { io_error, log } if log.trim().is_empty() => {
            AttachError::Feature(MissingFeature {
                feature: "BPF trampolines (fentry/fexit/LSM/tp_btf)",
                reason: features::explain_trampoline_error(io_error.raw_os_error()),
            })
        }
        other => other,
    }
}
