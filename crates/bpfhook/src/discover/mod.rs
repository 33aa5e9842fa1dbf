//! Discovery: every hook the running kernel offers, in bpftrace's notation
//! (`tracepoint:syscalls:sys_enter_openat`, `fentry:vfs_read`, `uprobe:/bin/bash:readline`), and
//! what a program at one of them receives.
//!
//! [`list`] streams lines to a sink, filtered by a [`Glob`] on the whole line, reading only the
//! sources the pattern and kinds can match: `tracepoint:*` never opens kallsyms or BTF. Kinds this
//! kernel cannot attach (the feature probes of [`crate::kernel::features`] decide) are left out
//! and reported in [`ListSummary::left_out`], unless [`ListOptions::all`] is set.
//! [`Formatter`] describes one hook: tracepoint fields, a function's BTF prototype, a symbol's
//! address.
//!
//! Sources, one module each: `tracepoints` (tracefs), `kernel_functions` (available_filter_functions
//! or kallsyms for kprobes; BTF for fentry/fexit, LSM, raw tracepoints, via the quick `btf::scan`),
//! `uprobes` (ELF symbols), `usdt` (ELF notes); `format` puts the descriptions together.

mod format;
mod glob;
mod kernel_functions;
mod tracepoints;
mod uprobes;
mod usdt;

use std::cell::OnceCell;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use format::Formatter;
pub use glob::{Glob, GlobError};
pub use kernel_functions::{
    is_kprobe_candidate, BtfFunctions, BtfHooks, BtfName, KprobeFunctions, KprobeSource,
    ITERATOR_PREFIX, LSM_PREFIX, RAW_TRACEPOINT_PREFIX,
};
pub use tracepoints::{
    available_events, exists as tracepoint_exists, parse_events, TracepointField, TracepointFormat,
};
pub use uprobes::{ElfBinary, ElfFunction};
pub use usdt::{parse_notes, probes as usdt_probes, sites as usdt_sites, UsdtProbe, UsdtSite};

use crate::attach::PerfEventKind;
use crate::kernel::features::{self, Feature};

/// A family of hooks, as the first part of a listed line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookKind {
    Tracepoint,
    RawTracepoint,
    Kprobe,
    Kretprobe,
    Fentry,
    Fexit,
    Lsm,
    Iter,
    Software,
    Hardware,
    Uprobe,
    Uretprobe,
    Usdt,
}

impl HookKind {
    /// Every kind, in listing order.
    pub const ALL: [HookKind; 13] = [
        HookKind::Tracepoint,
        HookKind::RawTracepoint,
        HookKind::Kprobe,
        HookKind::Kretprobe,
        HookKind::Fentry,
        HookKind::Fexit,
        HookKind::Lsm,
        HookKind::Iter,
        HookKind::Software,
        HookKind::Hardware,
        HookKind::Uprobe,
        HookKind::Uretprobe,
        HookKind::Usdt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HookKind::Tracepoint => "tracepoint",
            HookKind::RawTracepoint => "rawtracepoint",
            HookKind::Kprobe => "kprobe",
            HookKind::Kretprobe => "kretprobe",
            HookKind::Fentry => "fentry",
            HookKind::Fexit => "fexit",
            HookKind::Lsm => "lsm",
            HookKind::Iter => "iter",
            HookKind::Software => "software",
            HookKind::Hardware => "hardware",
            HookKind::Uprobe => "uprobe",
            HookKind::Uretprobe => "uretprobe",
            HookKind::Usdt => "usdt",
        }
    }

    /// A kind by its name or a common alias (bpftrace's `kfunc`/`kretfunc`, `raw_tp`, `tp`).
    pub fn parse(name: &str) -> Option<Self> {
        let kind = match name {
            "tp" | "t" => HookKind::Tracepoint,
            "raw_tracepoint" | "raw_tp" | "rt" => HookKind::RawTracepoint,
            "k" => HookKind::Kprobe,
            "kr" => HookKind::Kretprobe,
            "kfunc" | "f" => HookKind::Fentry,
            "kretfunc" | "fr" => HookKind::Fexit,
            "it" => HookKind::Iter,
            "s" => HookKind::Software,
            "h" => HookKind::Hardware,
            "u" => HookKind::Uprobe,
            "ur" => HookKind::Uretprobe,
            "U" => HookKind::Usdt,
            other => return Self::ALL.into_iter().find(|k| k.name() == other),
        };
        Some(kind)
    }

    /// The kernel feature this kind needs beyond basic BPF tracing, if any.
    pub fn feature(self) -> Option<Feature> {
        match self {
            HookKind::Kprobe | HookKind::Kretprobe => Some(Feature::Kprobes),
            HookKind::Fentry | HookKind::Fexit => Some(Feature::Fentry),
            HookKind::Lsm => Some(Feature::Lsm),
            HookKind::Iter => Some(Feature::Iter),
            HookKind::Uprobe | HookKind::Uretprobe | HookKind::Usdt => Some(Feature::Uprobes),
            _ => None,
        }
    }

    /// Kinds read from a binary rather than the kernel.
    pub fn needs_binary(self) -> bool {
        matches!(
            self,
            HookKind::Uprobe | HookKind::Uretprobe | HookKind::Usdt
        )
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Glob(#[from] GlobError),
    #[error("unknown hook kind `{0}` (known: tracepoint, rawtracepoint, kprobe, kretprobe, fentry, fexit, lsm, iter, software, hardware, uprobe, uretprobe, usdt)")]
    UnknownKind(String),
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tracefs(#[from] crate::kernel::tracefs::TracefsError),
    #[error("cannot read the kernel's BTF")]
    Btf(#[from] crate::btf::BtfError),
    #[error("{} is not an ELF file: {reason}", path.display())]
    NotElf { path: PathBuf, reason: String },
    #[error(transparent)]
    Binary(#[from] crate::attach::AttachError),
    #[error("`{hook}` does not exist on this kernel; {hint}")]
    NoSuchHook { hook: String, hint: String },
    #[error("listing {kind} hooks needs a binary: pass --binary PATH or a pattern like '{kind}:/bin/bash:*'")]
    NeedsBinary { kind: HookKind },
    #[error("writing the output")]
    Write(#[source] std::io::Error),
}

impl DiscoverError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// A glob on the whole line; `None` lists everything.
    pub pattern: Option<Glob>,
    /// Only these kinds; `None` for all.
    pub kinds: Option<Vec<HookKind>>,
    /// List kinds even when this kernel cannot attach them.
    pub all: bool,
    /// The binary for uprobe/usdt when the pattern does not name one.
    pub binary: Option<String>,
}

/// A kind that was not listed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    pub kind: HookKind,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListSummary {
    /// Lines passed to the sink.
    pub lines: usize,
    /// Kinds the pattern could match but that were not listed.
    pub left_out: Vec<LeftOut>,
}

/// Lists every hook matching `options`, one line at a time into `sink`, kinds in
/// [`HookKind::ALL`] order and each kind in its source's order.
pub fn list(
    options: &ListOptions,
    sink: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<ListSummary, DiscoverError> {
    let mut lines = Lines {
        glob: options.pattern.as_ref(),
        line: String::with_capacity(256),
        sink,
        count: 0,
    };
    let mut left_out = Vec::new();
    // Sources shared by several kinds, read on first need. The BTF names borrow from the
    // mapped files, which therefore live in a cell declared before them.
    let btf_files: OnceCell<BtfFunctions> = OnceCell::new();
    let mut btf_hooks: Option<BtfHooks<'_>> = None;
    let mut kprobes: Option<KprobeFunctions> = None;
    // Probe features before opening any source: a trampoline probe parses the kernel's BTF,
    // and done first its transient memory is freed before the sources are mapped, which keeps
    // peak memory near the larger of the two rather than their sum.
    let mut kinds = Vec::new();
    for kind in selected_kinds(options) {
        match kind.feature().filter(|_| !options.all).map(features::check) {
            Some(Err(missing)) => left_out.push(LeftOut {
                kind,
                reason: missing.to_string(),
            }),
            _ => kinds.push(kind),
        }
    }
    for kind in kinds {
        match kind {
            HookKind::Tracepoint => {
                let events = available_events()?;
                for (category, name) in parse_events(&events) {
                    lines.emit(&["tracepoint:", category, ":", name])?;
                }
            }
            HookKind::Kprobe | HookKind::Kretprobe => {
                if kprobes.is_none() {
                    kprobes = Some(KprobeFunctions::read()?);
                }
                if let Some(functions) = &kprobes {
                    let prefix = if kind == HookKind::Kprobe {
                        "kprobe:"
                    } else {
                        "kretprobe:"
                    };
                    for name in unique_names(functions) {
                        lines.emit(&[prefix, name])?;
                    }
                }
            }
            HookKind::RawTracepoint
            | HookKind::Fentry
            | HookKind::Fexit
            | HookKind::Lsm
            | HookKind::Iter => {
                if btf_hooks.is_none() {
                    if btf_files.get().is_none() {
                        let _ = btf_files.set(BtfFunctions::open()?);
                    }
                    if let Some(files) = btf_files.get() {
                        btf_hooks = Some(files.hooks()?);
                    }
                }
                if let Some(hooks) = &btf_hooks {
                    list_btf_kind(kind, hooks, &mut lines)?;
                }
            }
            HookKind::Software | HookKind::Hardware => {
                for event in PerfEventKind::names() {
                    let is_software = matches!(
                        PerfEventKind::parse(event),
                        Some(PerfEventKind::Software(_))
                    );
                    if is_software == (kind == HookKind::Software) {
                        lines.emit(&[kind.name(), ":", event])?;
                        for alias in PerfEventKind::aliases(event) {
                            lines.emit(&[kind.name(), ":", alias])?;
                        }
                    }
                }
            }
            HookKind::Uprobe | HookKind::Uretprobe | HookKind::Usdt => {
                let specs = binaries_for(kind, options);
                if specs.is_empty() {
                    let requested = options.kinds.as_ref().is_some_and(|k| k.contains(&kind));
                    if requested {
                        return Err(DiscoverError::NeedsBinary { kind });
                    }
                    left_out.push(LeftOut {
                        kind,
                        reason: format!(
                            "needs a binary: --binary PATH or a pattern like '{kind}:/bin/bash:*'"
                        ),
                    });
                    continue;
                }
                for spec in specs {
                    let binary = ElfBinary::open(&spec)?;
                    if kind != HookKind::Usdt {
                        for function in binary.functions()? {
                            lines.emit(&[kind.name(), ":", &binary.spec, ":", &function.name])?;
                        }
                    } else {
                        // A probe used at several sites has one note per site; list it once.
                        let mut seen = HashSet::new();
                        for probe in usdt::probes(&binary)? {
                            if seen.insert((probe.provider.clone(), probe.name.clone())) {
                                lines.emit(&[
                                    "usdt:",
                                    &binary.spec,
                                    ":",
                                    &probe.provider,
                                    ":",
                                    &probe.name,
                                ])?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(ListSummary {
        lines: lines.count,
        left_out,
    })
}

/// The kinds to visit: those asked for (all by default) whose lines the pattern could match.
pub fn selected_kinds(options: &ListOptions) -> Vec<HookKind> {
    HookKind::ALL
        .into_iter()
        .filter(|kind| options.kinds.as_ref().is_none_or(|k| k.contains(kind)))
        .filter(|kind| {
            options.pattern.as_ref().is_none_or(|glob| {
                let mut prefix = String::with_capacity(16);
                prefix.push_str(kind.name());
                prefix.push(':');
                glob.could_match_prefix(&prefix)
            })
        })
        .collect()
}

/// The binaries to read uprobe/usdt hooks from: the pattern's own path (`uprobe:/bin/bash:*`,
/// also after a wildcard kind: `*:/bin/bash:*`) if it names one without wildcards, the ELF
/// files of its directory when only its file name has them (`usdt:./bin/app*:*`) and no
/// `--binary` is given, else `--binary`.
pub fn binaries_for(kind: HookKind, options: &ListOptions) -> Vec<String> {
    let wild = |text: &str| text.contains(['*', '?', '[', '\\']);
    let from_pattern = options.pattern.as_ref().and_then(|glob| {
        let text = glob.as_str();
        let rest = text
            .strip_prefix(kind.name())
            .or_else(|| text.strip_prefix('*'))?
            .strip_prefix(':')?;
        let path = rest.split(':').next().filter(|p| !p.is_empty())?;
        if !wild(path) {
            return Some(vec![path.to_owned()]);
        }
        if options.binary.is_some() {
            return None;
        }
        let (dir, name) = path.rsplit_once('/')?;
        let name = Glob::new(name)
            .ok()
            .filter(|_| !dir.is_empty() && !wild(dir))?;
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| name.matches(n))
            .map(|n| format!("{dir}/{n}"))
            .filter(|path| ElfBinary::open(path).is_ok())
            .collect();
        files.sort();
        Some(files)
    });
    from_pattern
        .or_else(|| options.binary.clone().map(|b| vec![b]))
        .unwrap_or_default()
}

fn list_btf_kind<F: FnMut(&str) -> std::io::Result<()>>(
    kind: HookKind,
    hooks: &BtfHooks<'_>,
    lines: &mut Lines<'_, F>,
) -> Result<(), DiscoverError> {
    match kind {
        HookKind::RawTracepoint => {
            for tracepoint in &hooks.raw_tracepoints {
                lines.emit_named("rawtracepoint:", tracepoint)?;
            }
        }
        HookKind::Fentry | HookKind::Fexit => {
            let prefix = if kind == HookKind::Fentry {
                "fentry:"
            } else {
                "fexit:"
            };
            for function in &hooks.functions {
                lines.emit_named(prefix, function)?;
            }
        }
        HookKind::Lsm => {
            // LSM hooks live in vmlinux only.
            for function in hooks.functions.iter().filter(|f| f.module.is_none()) {
                if let Some(hook) = function.name.strip_prefix(LSM_PREFIX) {
                    lines.emit(&["lsm:", hook])?;
                }
            }
        }
        HookKind::Iter => {
            for target in &hooks.iterators {
                lines.emit(&["iter:", target])?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Each kprobe name once: kallsyms and available_filter_functions repeat the names of static
/// functions defined in several files, and a kprobe by name cannot tell them apart.
fn unique_names(functions: &KprobeFunctions) -> impl Iterator<Item = &str> {
    let mut seen = HashSet::with_capacity(80_000);
    functions.names().filter(move |name| seen.insert(*name))
}

/// Builds each line in one reused buffer and passes on the ones the glob matches.
struct Lines<'g, F> {
    glob: Option<&'g Glob>,
    line: String,
    sink: F,
    count: usize,
}

impl<F: FnMut(&str) -> std::io::Result<()>> Lines<'_, F> {
    fn emit(&mut self, parts: &[&str]) -> Result<(), DiscoverError> {
        self.line.clear();
        for part in parts {
            self.line.push_str(part);
        }
        if self.glob.is_none_or(|glob| glob.matches(&self.line)) {
            (self.sink)(&self.line).map_err(DiscoverError::Write)?;
            self.count += 1;
        }
        Ok(())
    }

    /// `PREFIX:NAME` for vmlinux, `PREFIX:MODULE:NAME` for a module, as bpftrace shows them.
    fn emit_named(&mut self, prefix: &str, name: &BtfName<'_>) -> Result<(), DiscoverError> {
        match name.module {
            None => self.emit(&[prefix, name.name]),
            Some(module) => self.emit(&[prefix, module, ":", name.name]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pattern: &str) -> ListOptions {
        ListOptions {
            pattern: Some(Glob::new(pattern).expect("glob")),
            ..ListOptions::default()
        }
    }

    #[test]
    fn the_pattern_decides_which_sources_are_read() {
        assert_eq!(
            selected_kinds(&options("tracepoint:syscalls:*")),
            [HookKind::Tracepoint]
        );
        assert_eq!(
            selected_kinds(&options("*execve*")).len(),
            HookKind::ALL.len()
        );
        assert_eq!(
            selected_kinds(&options("k*")),
            [HookKind::Kprobe, HookKind::Kretprobe]
        );
        let narrowed = ListOptions {
            kinds: Some(vec![HookKind::Uprobe, HookKind::Tracepoint]),
            ..options("*")
        };
        assert_eq!(
            selected_kinds(&narrowed),
            [HookKind::Tracepoint, HookKind::Uprobe]
        );
    }

    #[test]
    fn the_binary_comes_from_the_pattern_or_the_option() {
        let from_pattern = options("uprobe:/bin/bash:*readline*");
        assert_eq!(binaries_for(HookKind::Uprobe, &from_pattern), ["/bin/bash"]);
        assert!(binaries_for(HookKind::Usdt, &from_pattern).is_empty());
        assert_eq!(
            binaries_for(HookKind::Usdt, &options("*:/bin/bash:*")),
            ["/bin/bash"]
        );
        let wildcard = ListOptions {
            binary: Some("/bin/sh".into()),
            ..options("uprobe:/bin/*:x")
        };
        assert_eq!(binaries_for(HookKind::Uprobe, &wildcard), ["/bin/sh"]);
        assert_eq!(
            binaries_for(HookKind::Usdt, &options("usdt:libc:*")),
            ["libc"]
        );
    }

    #[test]
    fn kinds_parse_by_name_and_alias() {
        for kind in HookKind::ALL {
            assert_eq!(HookKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(HookKind::parse("kfunc"), Some(HookKind::Fentry));
        assert_eq!(HookKind::parse("raw_tp"), Some(HookKind::RawTracepoint));
        assert_eq!(HookKind::parse("nope"), None);
    }
}
