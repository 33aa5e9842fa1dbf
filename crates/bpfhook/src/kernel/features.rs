//! Feature probes: can this kernel attach a given hook kind? Each probe asks the kernel (never a
//! version number), runs once per process, and a missing feature is an error that says why.

use std::path::Path;
use std::sync::OnceLock;

use aya_obj::generated::{bpf_attach_type, bpf_prog_type};

use crate::loader::{attach_btf_id as attach_btf_id_of, ProgramLoadError};
use crate::sys::{prog_load, ProgramLoad};

/// Hook families whose availability varies between kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// kprobe/kretprobe: needs CONFIG_KPROBES.
    Kprobes,
    /// uprobe/uretprobe: needs CONFIG_UPROBE_EVENTS.
    Uprobes,
    /// fentry/fexit/fmod_ret: BPF trampolines.
    Fentry,
    /// BPF LSM programs.
    Lsm,
    /// tp_btf: raw tracepoints typed through BTF.
    BtfTracepoint,
    /// uprobe.multi links: many functions of a binary on one link (Linux 6.6).
    UprobeMulti,
    /// BPF iterators (`iter/task`…): Linux 5.8.
    Iter,
}

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Kprobes => "kprobes",
            Feature::Uprobes => "uprobes",
            Feature::Fentry => "fentry/fexit",
            Feature::Lsm => "BPF LSM",
            Feature::BtfTracepoint => "BTF tracepoints (tp_btf)",
            Feature::UprobeMulti => "uprobe_multi links",
            Feature::Iter => "BPF iterators",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{feature} not available on this kernel: {reason}")]
pub struct MissingFeature {
    pub feature: &'static str,
    pub reason: String,
}

/// Ok when the kernel can attach programs of this family; the cached probe result otherwise.
pub fn check(feature: Feature) -> Result<(), MissingFeature> {
    static KPROBES: OnceLock<Result<(), String>> = OnceLock::new();
    static UPROBES: OnceLock<Result<(), String>> = OnceLock::new();
    static FENTRY: OnceLock<Result<(), String>> = OnceLock::new();
    static LSM: OnceLock<Result<(), String>> = OnceLock::new();
    static BTF_TRACEPOINT: OnceLock<Result<(), String>> = OnceLock::new();
    static UPROBE_MULTI: OnceLock<Result<(), String>> = OnceLock::new();
    static ITER: OnceLock<Result<(), String>> = OnceLock::new();
    let cell = match feature {
        Feature::Kprobes => &KPROBES,
        Feature::Uprobes => &UPROBES,
        Feature::Fentry => &FENTRY,
        Feature::Lsm => &LSM,
        Feature::BtfTracepoint => &BTF_TRACEPOINT,
        Feature::UprobeMulti => &UPROBE_MULTI,
        Feature::Iter => &ITER,
    };
    cell.get_or_init(|| probe(feature))
        .clone()
        .map_err(|reason| MissingFeature {
            feature: feature.name(),
            reason,
        })
}

fn probe(feature: Feature) -> Result<(), String> {
    match feature {
        Feature::Kprobes => probe_pmu(
            "kprobe",
            "CONFIG_KPROBES",
            "use a tracepoint, raw tracepoint or fentry instead",
        ),
        Feature::Uprobes => probe_pmu(
            "uprobe",
            "CONFIG_UPROBE_EVENTS",
            "user-space functions cannot be probed here",
        ),
        Feature::Fentry => probe_trampoline(
            bpf_prog_type::BPF_PROG_TYPE_TRACING,
            bpf_attach_type::BPF_TRACE_FENTRY,
            &["bpf_fentry_test1", "vfs_read", "do_sys_openat2"],
        ),
        Feature::Lsm => probe_trampoline(
            bpf_prog_type::BPF_PROG_TYPE_LSM,
            bpf_attach_type::BPF_LSM_MAC,
            &["bpf_lsm_file_open", "bpf_lsm_bpf"],
        ),
        Feature::BtfTracepoint => probe_trampoline(
            bpf_prog_type::BPF_PROG_TYPE_TRACING,
            bpf_attach_type::BPF_TRACE_RAW_TP,
            &["btf_trace_sys_enter", "btf_trace_sched_switch"],
        ),
        Feature::UprobeMulti => probe_uprobe_multi(),
        // Iterators run from a read(), not from a trampoline: they load where trampolines don't.
        Feature::Iter => probe_btf_program(
            bpf_prog_type::BPF_PROG_TYPE_TRACING,
            bpf_attach_type::BPF_TRACE_ITER,
            &["bpf_iter_task"],
            |errno| {
                format!(
                    "an iter/task program does not load ({}): Linux 5.8 has them",
                    errno.map_or("no errno".into(), |e| std::io::Error::from_raw_os_error(e)
                        .to_string())
                )
            },
        ),
    }
}

/// As libbpf probes it: a uprobe.multi program loads, and a link on `/` (no regular file) is
/// refused with EBADF, which only a kernel that has these links checks for.
fn probe_uprobe_multi() -> Result<(), String> {
    probe_pmu(
        "uprobe",
        "CONFIG_UPROBE_EVENTS",
        "user-space functions cannot be probed here",
    )?;
    const R0_EQ_0_EXIT: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let insns = aya_obj::copy_instructions(&R0_EQ_0_EXIT).map_err(|e| e.to_string())?;
    let load = ProgramLoad {
        prog_type: bpf_prog_type::BPF_PROG_TYPE_KPROBE as u32,
        expected_attach_type: bpf_attach_type::BPF_TRACE_UPROBE_MULTI as u32,
        license: c"GPL",
        insns: &insns,
        ..ProgramLoad::default()
    };
    let program = prog_load(&load, None).map_err(|e| {
        format!(
            "a uprobe.multi program does not load ({}): Linux 6.6 has them",
            e.error
        )
    })?;
    use std::os::fd::AsFd;
    match crate::sys::uprobe_multi_link(program.as_fd(), c"/", &[0], &[0], 0, false) {
        Err(e) if e.error.raw_os_error() == Some(libc::EBADF) => Ok(()),
        Err(e) => Err(format!(
            "the kernel refuses uprobe.multi links ({}): Linux 6.6 has them",
            e.error
        )),
        Ok(_) => {
            Err("the kernel took a uprobe.multi link on `/`, which it should refuse".to_owned())
        }
    }
}

/// The program kinds a helper probe can ask about: helpers differ between them
/// (`bpf_get_func_ip` exists for kprobe-type programs, which uprobes are, not for tracepoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperContext {
    Tracepoint,
    /// kprobe and uprobe programs (BPF_PROG_TYPE_KPROBE).
    Probe,
}

/// Whether tracepoint programs (the kind bpfhook trace loads most) may call helper `id`.
pub fn has_helper(id: u32) -> bool {
    has_helper_in(HelperContext::Tracepoint, id)
}

/// Whether programs of `context` may call helper `id`, as libbpf probes it: the verifier
/// rejects the call either way, since the probe passes no arguments, but names an unknown
/// helper, or one this program type may not use (a helper kernel lockdown withholds, such as
/// probe_write_user; one the type lacks, such as get_func_ip in tracepoints), as such.
pub fn has_helper_in(context: HelperContext, id: u32) -> bool {
    type Known = Vec<(HelperContext, u32, bool)>;
    static CACHE: std::sync::Mutex<Known> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&(_, _, known)) = cache
        .iter()
        .find(|(c, helper, _)| (*c, *helper) == (context, id))
    {
        return known;
    }
    let found = probe_helper(context, id);
    cache.push((context, id, found));
    found
}

fn probe_helper(context: HelperContext, id: u32) -> bool {
    // call id; r0 = 0; exit
    let mut code = vec![0x85, 0, 0, 0];
    code.extend_from_slice(&id.to_le_bytes());
    code.extend_from_slice(&[0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    let Ok(insns) = aya_obj::copy_instructions(&code) else {
        return false;
    };
    let probe = ProgramLoad {
        prog_type: match context {
            HelperContext::Tracepoint => bpf_prog_type::BPF_PROG_TYPE_TRACEPOINT,
            HelperContext::Probe => bpf_prog_type::BPF_PROG_TYPE_KPROBE,
        } as u32,
        license: c"GPL",
        insns: &insns,
        ..ProgramLoad::default()
    };
    let mut log = vec![0u8; 4096];
    match prog_load(&probe, Some(&mut log)) {
        Ok(_fd) => true,
        Err(_) => {
            let log = String::from_utf8_lossy(&log);
            !log.contains("invalid func")
                && !log.contains("unknown func")
                && !log.contains("cannot use helper")
                && !log.contains("not supported for program type")
        }
    }
}

/// kprobes and uprobes are attached through their perf PMUs (Linux 4.17), which exist when the
/// kernel was built with them.
fn probe_pmu(pmu: &str, config: &str, instead: &str) -> Result<(), String> {
    if Path::new("/sys/bus/event_source/devices")
        .join(pmu)
        .exists()
    {
        return Ok(());
    }
    Err(format!(
        "the kernel was built without {config} (no {pmu} PMU in /sys/bus/event_source/devices); {instead}"
    ))
}

fn probe_trampoline(
    prog_type: bpf_prog_type,
    attach_type: bpf_attach_type,
    targets: &[&str],
) -> Result<(), String> {
    probe_btf_program(prog_type, attach_type, targets, explain_trampoline_error)
}

/// Loads `r0 = 0; exit` at the first of `targets` found in the kernel's BTF; a refusal is
/// worded by `explain` from its errno.
fn probe_btf_program(
    prog_type: bpf_prog_type,
    attach_type: bpf_attach_type,
    targets: &[&str],
    explain: fn(Option<i32>) -> String,
) -> Result<(), String> {
    // A name-only walk of the BTF: a full parse would cost `bpfhook list` ~20 ms and ~13 MB.
    let mut attach_btf_id = None;
    for name in targets {
        match attach_btf_id_of(name) {
            Ok(id) => {
                attach_btf_id = Some(id);
                break;
            }
            Err(ProgramLoadError::NoAttachTarget(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let attach_btf_id =
        attach_btf_id.ok_or_else(|| format!("none of {targets:?} is in the kernel's BTF"))?;
    const R0_EQ_0_EXIT: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let insns = aya_obj::copy_instructions(&R0_EQ_0_EXIT).map_err(|e| e.to_string())?;
    let probe = ProgramLoad {
        prog_type: prog_type as u32,
        expected_attach_type: attach_type as u32,
        attach_btf_id,
        insns: &insns,
        ..ProgramLoad::default()
    };
    match prog_load(&probe, None) {
        Ok(_fd) => Ok(()),
        Err(e) => Err(explain(e.error.raw_os_error())),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "loading eBPF programs needs root, or CAP_BPF with CAP_PERFMON (tracing) and CAP_NET_ADMIN \
     (networking); this process has neither CAP_BPF nor CAP_SYS_ADMIN (try sudo)"
)]
pub struct MissingPrivilege;

/// Checks the effective capabilities before any work: without CAP_BPF or CAP_SYS_ADMIN every
/// later step would fail with a bare EPERM.
pub fn check_privileges() -> Result<(), MissingPrivilege> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_BPF: u32 = 39;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| effective & (1 << cap) != 0;
    if has(CAP_BPF) || has(CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(MissingPrivilege)
    }
}

/// The kernel lockdown level when it is not `none` (`integrity`, `confidentiality`): it
/// withholds helpers such as probe_write_user. None when off or unreadable (securityfs not
/// mounted).
pub fn lockdown() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    let level = text.split_whitespace().find(|w| w.starts_with('['))?;
    let level = level.trim_matches(|c| c == '[' || c == ']');
    (level != "none").then(|| level.to_owned())
}

/// Why the kernel refuses a trampoline-based program, as best the errno tells.
pub fn explain_trampoline_error(errno: Option<i32>) -> String {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    match errno {
        Some(libc::EPERM) if !root => "the kernel refused the load with EPERM: run as root (or with CAP_BPF and CAP_PERFMON)".to_owned(),
        Some(libc::EPERM) => "the kernel refused BPF_PROG_LOAD with EPERM although we run as root: BPF trampolines \
             are blocked here (kernel lockdown, an LSM policy, or a hypervisor that forbids patching kernel text)"
            .to_owned(),
        Some(ENOTSUPP) | Some(libc::EOPNOTSUPP) => {
            "the kernel does not support BPF trampolines on this architecture or configuration (needs \
             CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS and, for LSM, CONFIG_BPF_LSM with `bpf` in the lsm= list)"
                .to_owned()
        }
        Some(libc::EINVAL) => "the kernel rejected the program type (EINVAL): it predates this hook kind".to_owned(),
        Some(errno) => format!("BPF_PROG_LOAD failed: {}", std::io::Error::from_raw_os_error(errno)),
        None => "BPF_PROG_LOAD failed".to_owned(),
    }
}

/// The kernel-internal ENOTSUPP (524) that BPF returns for unsupported trampolines; libc lacks it.
const ENOTSUPP: i32 = 524;
