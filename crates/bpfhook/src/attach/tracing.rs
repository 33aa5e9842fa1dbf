//! Tracing hooks: tracepoint, raw tracepoint, BTF tracepoint, kprobe/kretprobe, fentry/fexit, LSM.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};

use aya_obj::generated::perf_type_id;

use super::perf_link::{event_attr, open_and_attach, ProbePmu};
use super::{kernel_error, AttachError, Target};
use crate::hook::Hook;
use crate::kernel::features::{self, Feature, MissingFeature};
use crate::kernel::tracefs;
use crate::loader::{attach_btf_id, ProgramLoadError};

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
            features::check(Feature::BtfTracepoint)?;
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
pub(super) fn btf_function(
    btf_name: &str,
    what: &'static str,
    shown: &str,
) -> Result<(), AttachError> {
    match attach_btf_id(btf_name) {
        Ok(_) => Ok(()),
        Err(ProgramLoadError::NoAttachTarget(_)) => Err(AttachError::Missing {
            what,
            name: shown.to_owned(),
            hint: " in the kernel's BTF (see `bpfhook list`)".to_owned(),
        }),
        Err(e) => Err(AttachError::Feature(MissingFeature {
            feature: "BTF",
            reason: e.to_string(),
        })),
    }
}

pub(super) fn attach(
    program: BorrowedFd<'_>,
    target: &Target,
) -> Result<Vec<OwnedFd>, AttachError> {
    let what = target.to_string();
    match target {
        Target::Tracepoint { category, name } => {
            let id = tracepoint_id(category, name)?;
            let attr = event_attr(perf_type_id::PERF_TYPE_TRACEPOINT as u32, id);
            // Any one CPU: the program runs wherever the tracepoint fires.
            open_and_attach(program, &attr, -1, 0, &what)
        }
        Target::Kprobe {
            function,
            offset,
            ret,
        } => {
            let pmu = ProbePmu::read("kprobe")?;
            let function = c_string(function)?;
            let attr = pmu.attr(&function, *offset, *ret);
            open_and_attach(program, &attr, -1, 0, &what)
        }
        Target::RawTracepoint { name } => {
            let name = c_string(name)?;
            raw_tracepoint(program, Some(&name), &what)
        }
        // The target was fixed when the program was loaded.
        Target::BtfTracepoint { .. }
        | Target::Fentry { .. }
        | Target::Fexit { .. }
        | Target::Lsm { .. } => raw_tracepoint(program, None, &what),
        other => unreachable!("tracing::attach called for {other}"),
    }
}

fn raw_tracepoint(
    program: BorrowedFd<'_>,
    name: Option<&CString>,
    what: &str,
) -> Result<Vec<OwnedFd>, AttachError> {
    crate::sys::raw_tracepoint_open(program, name.map(CString::as_c_str))
        .map(|link| vec![link])
        .map_err(|e| kernel_error(format!("attaching to {what}"), e.error))
}

/// The tracepoint's perf event id, from tracefs.
fn tracepoint_id(category: &str, name: &str) -> Result<u64, AttachError> {
    let path = tracefs::root()
        .map_err(|e| AttachError::Io {
            action: "finding tracefs".to_owned(),
            error: std::io::Error::other(e.to_string()),
        })?
        .join("events")
        .join(category)
        .join(name)
        .join("id");
    let text = std::fs::read_to_string(&path).map_err(|error| AttachError::Io {
        action: format!("reading {}", path.display()),
        error,
    })?;
    text.trim().parse().map_err(|_| AttachError::Io {
        action: format!("reading {}", path.display()),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, text.trim().to_owned()),
    })
}

fn c_string(name: &str) -> Result<CString, AttachError> {
    CString::new(name).map_err(|_| AttachError::Io {
        action: format!("naming `{name}`"),
        error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL byte in the name"),
    })
}
