//! Kernel functions as hooks: what kprobes can attach to, and what BTF describes (fentry/fexit,
//! LSM hooks, raw tracepoints).

use std::path::Path;

use super::DiscoverError;
use crate::btf::scan::{KernelBtfFiles, KIND_FUNC, KIND_STRUCT, KIND_TYPEDEF};
use crate::kernel::kallsyms::{Kallsyms, KernelSymbol};

/// Where the kprobe-able names came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KprobeSource {
    /// tracefs `available_filter_functions`: exactly the functions ftrace can patch.
    FilterFunctions,
    /// The text (`T`/`t`) symbols of /proc/kallsyms, when the list above is unreadable (it is
    /// refused under some lockdown setups). A superset: a few of these refuse a kprobe.
    Kallsyms,
}

/// Names kprobes can attach to, read once.
pub struct KprobeFunctions {
    text: String,
    source: KprobeSource,
}

impl KprobeFunctions {
    pub fn read() -> Result<Self, DiscoverError> {
        let filter_functions = crate::kernel::tracefs::root()
            .ok()
            .map(|root| root.join("available_filter_functions"));
        if let Some(path) = filter_functions {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Ok(Self {
                    text,
                    source: KprobeSource::FilterFunctions,
                });
            }
        }
        let kallsyms =
            Kallsyms::read().map_err(|e| DiscoverError::io(Path::new("/proc/kallsyms"), e))?;
        Ok(Self::from_kallsyms(kallsyms))
    }

    fn from_kallsyms(kallsyms: Kallsyms) -> Self {
        Self {
            text: kallsyms.into_text(),
            source: KprobeSource::Kallsyms,
        }
    }

    pub fn source(&self) -> KprobeSource {
        self.source
    }

    /// Every function name in source order; a name may repeat (static functions of the same
    /// name in different files).
    pub fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self.source {
            // `name` or `name [module]`.
            KprobeSource::FilterFunctions => Box::new(
                self.text
                    .lines()
                    .filter_map(|line| line.split_ascii_whitespace().next()),
            ),
            KprobeSource::Kallsyms => Box::new(
                self.text
                    .lines()
                    .filter_map(KernelSymbol::parse)
                    .filter(is_kprobe_candidate)
                    .map(|symbol| symbol.name),
            ),
        }
    }
}

/// A text symbol that names a real function. Left out, as available_filter_functions leaves
/// them out: `__pfx_`/`__cfi_` symbols (the padding and CFI preamble the compiler puts before
/// each function), `.cold` parts (a function's unlikely code moved away from it, not entered
/// by a call), and the `[bpf]` pseudo-module (JIT-compiled BPF programs and trampolines).
pub fn is_kprobe_candidate(symbol: &KernelSymbol<'_>) -> bool {
    symbol.is_text()
        && symbol.module != Some("bpf")
        && !symbol.name.starts_with("__pfx_")
        && !symbol.name.starts_with("__cfi_")
        && !symbol.name.contains(".cold")
}

/// The LSM hooks a BPF LSM program can attach to are the kernel's `bpf_lsm_HOOK` functions.
pub const LSM_PREFIX: &str = "bpf_lsm_";

/// Every raw tracepoint has a `btf_trace_NAME` typedef (made by the kernel's tracepoint macros
/// for BPF's use), so BTF lists exactly the tracepoints raw_tp can attach to; syscall events
/// such as `sys_enter_openat`, which exist only in tracefs, are rightly absent.
pub const RAW_TRACEPOINT_PREFIX: &str = "btf_trace_";

/// Each BPF iterator target `T` has a context struct `bpf_iter__T` in vmlinux's BTF (open-coded
/// iterators' structs, `bpf_iter_num`, have one underscore).
pub const ITERATOR_PREFIX: &str = "bpf_iter__";

/// The hooks one walk of the BTF names, borrowed from the mapped files.
pub struct BtfHooks<'a> {
    /// Functions (BTF FUNC), vmlinux first, then modules.
    pub functions: Vec<BtfName<'a>>,
    /// Raw tracepoints (`btf_trace_*` typedefs, prefix stripped).
    pub raw_tracepoints: Vec<BtfName<'a>>,
    /// BPF iterator targets of vmlinux (`bpf_iter__*` structs, prefix stripped).
    pub iterators: Vec<&'a str>,
}

/// What the BTF walk found, borrowed from the mapped files.
pub struct BtfFunctions {
    files: KernelBtfFiles,
}

/// One BTF-described kernel function or tracepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BtfName<'a> {
    /// `None` for vmlinux.
    pub module: Option<&'a str>,
    pub name: &'a str,
}

impl BtfFunctions {
    pub fn open() -> Result<Self, DiscoverError> {
        Ok(Self {
            files: KernelBtfFiles::open()?,
        })
    }

    /// Every function, raw tracepoint and iterator the kernel's BTF names, in one walk.
    pub fn hooks(&self) -> Result<BtfHooks<'_>, DiscoverError> {
        let mut hooks = BtfHooks {
            functions: Vec::with_capacity(80_000),
            raw_tracepoints: Vec::with_capacity(2_000),
            iterators: Vec::new(),
        };
        self.files.for_each_name(
            &[KIND_FUNC, KIND_TYPEDEF, KIND_STRUCT],
            |module, kind, name| {
                if kind == KIND_FUNC {
                    hooks.functions.push(BtfName { module, name });
                } else if kind == KIND_TYPEDEF {
                    if let Some(tracepoint) = name.strip_prefix(RAW_TRACEPOINT_PREFIX) {
                        hooks.raw_tracepoints.push(BtfName {
                            module,
                            name: tracepoint,
                        });
                    }
                } else if let Some(target) = name.strip_prefix(ITERATOR_PREFIX) {
                    // `bpf_iter__task__safe_trusted` and the like are the verifier's, not targets.
                    if module.is_none() && !target.contains("__") {
                        hooks.iterators.push(target);
                    }
                }
            },
        )?;
        Ok(hooks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_fallback_keeps_real_functions_only() {
        let text = "ffffffff81000000 T _stext\n\
                    ffffffff813eae80 t __pfx_do_sys_openat2\n\
                    ffffffff813eae90 t do_sys_openat2\n\
                    ffffffff82000000 D jiffies\n\
                    ffffffff82000010 t bprm_execve.cold\n\
                    ffffffffc00010c0 t bpf_dispatcher_xdp\t[bpf]\n\
                    ffffffffa05ef110 t nf_conntrack_in\t[nf_conntrack]\n";
        let functions = KprobeFunctions::from_kallsyms(Kallsyms::from_text(text.to_owned()));
        let names: Vec<&str> = functions.names().collect();
        assert_eq!(names, ["_stext", "do_sys_openat2", "nf_conntrack_in"]);
    }
}
