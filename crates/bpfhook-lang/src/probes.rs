//! Attach points as written (`t:syscalls:sys_enter_*`, `i:ms:100`, `uprobe:libc:malloc`) →
//! the probes they stand for, wildcards expanded through `bpfhook::discover`, each with the
//! section name and attach options the Manager takes.

pub mod usdt;

use std::path::PathBuf;

use bpfhook::attach::{AttachOptions, PerfEventKind, PerfSampling};
use bpfhook::discover::{self as tracepoints, ElfBinary, Glob};

use crate::ast::AttachPoint;
use crate::diag::Diagnostic;

/// What a probe is, with every target named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    Begin,
    End,
    /// Runs on one CPU every `period_ns`.
    Interval {
        period_ns: u64,
    },
    /// Runs on every CPU: a cpu-clock perf event at a frequency or with a period.
    Profile {
        sampling: PerfSampling,
    },
    /// `software:EVENT:COUNT` and `hardware:EVENT:COUNT`.
    PerfCounter {
        event: PerfEventKind,
        period: u64,
    },
    Tracepoint {
        category: String,
        name: String,
    },
    RawTracepoint {
        name: String,
        /// Loaded as `tp_btf` (a tracing program typed by `btf_trace_NAME`, as bpftrace does
        /// where the kernel allows): arguments are BTF-typed, so helpers that take kernel
        /// objects (skb_output, get_socket_cookie) accept them. Else a plain `raw_tp`.
        tp_btf: bool,
    },
    Kprobe {
        function: String,
        offset: u64,
        ret: bool,
    },
    Uprobe {
        binary: PathBuf,
        symbol: String,
        offset: u64,
        ret: bool,
    },
    Fentry {
        function: String,
        ret: bool,
    },
    /// `iter:TARGET`: a BPF iterator, run once per kernel object (task, file, vma…) when the
    /// run reads it, after everything attached; `ctx` is the kernel's `struct bpf_iter__TARGET`.
    Iter {
        target: String,
    },
    /// One site of a USDT probe: a uprobe at `address` (a virtual address of `binary`) that
    /// counts the probe's semaphore (a file offset) while attached.
    Usdt {
        binary: PathBuf,
        provider: String,
        name: String,
        address: u64,
        semaphore: Option<u64>,
        /// Where this site's arguments are (sites of one probe may differ).
        arguments: Vec<Result<usdt::Argument, String>>,
        /// Which site of the probe: only the first counts as a probe (`Attached N probes`,
        /// `-l`); every site runs the same script.
        site: usize,
    },
    /// `self:signal:SIGUSR1`: runs (like begin) each time this process receives the signal.
    Signal {
        signal: i32,
    },
    /// `bench:NAME`: with `--mode bench`, run many times over (BPF_PROG_TEST_RUN's repeat)
    /// and timed; never attached. An XDP program, as in bpftrace: raw tracepoint test runs
    /// take no repeat count.
    Bench {
        name: String,
    },
}

impl ProbeKind {
    /// bpftrace's name for the kind (the `probetype` builtin).
    pub fn type_name(&self) -> &'static str {
        match self {
            ProbeKind::Begin | ProbeKind::End | ProbeKind::Signal { .. } => "special",
            ProbeKind::Interval { .. } => "interval",
            ProbeKind::Profile { .. } => "profile",
            ProbeKind::PerfCounter {
                event: PerfEventKind::Software(_),
                ..
            } => "software",
            ProbeKind::PerfCounter {
                event: PerfEventKind::Hardware(_),
                ..
            } => "hardware",
            ProbeKind::Tracepoint { .. } => "tracepoint",
            ProbeKind::RawTracepoint { .. } => "rawtracepoint",
            ProbeKind::Kprobe { ret: false, .. } => "kprobe",
            ProbeKind::Kprobe { ret: true, .. } => "kretprobe",
            ProbeKind::Uprobe { ret: false, .. } => "uprobe",
            ProbeKind::Uprobe { ret: true, .. } => "uretprobe",
            ProbeKind::Fentry { ret: false, .. } => "fentry",
            ProbeKind::Fentry { ret: true, .. } => "fexit",
            ProbeKind::Iter { .. } => "iter",
            ProbeKind::Usdt { .. } => "usdt",
            ProbeKind::Bench { .. } => "benchmark",
        }
    }
}

/// One probe after expansion: what `probe` prints and what to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeInstance {
    /// Full name, bpftrace-style: `tracepoint:syscalls:sys_enter_openat`, `interval:ms:100`.
    pub name: String,
    pub kind: ProbeKind,
}

impl ProbeInstance {
    /// The ELF section its program goes in (what tells the loader the program type).
    pub fn section(&self) -> String {
        match &self.kind {
            // Run on demand with BPF_PROG_TEST_RUN, never attached.
            ProbeKind::Begin | ProbeKind::End | ProbeKind::Signal { .. } => {
                "raw_tp/bpfhook_run_once".to_owned()
            }
            ProbeKind::Bench { .. } => "xdp".to_owned(),
            ProbeKind::Interval { .. }
            | ProbeKind::Profile { .. }
            | ProbeKind::PerfCounter { .. } => "perf_event".to_owned(),
            ProbeKind::Tracepoint { category, name } => format!("tracepoint/{category}/{name}"),
            ProbeKind::RawTracepoint { name, tp_btf } => {
                format!("{}/{name}", if *tp_btf { "tp_btf" } else { "raw_tp" })
            }
            ProbeKind::Kprobe {
                function,
                offset,
                ret,
            } => {
                let kind = if *ret { "kretprobe" } else { "kprobe" };
                match offset {
                    0 => format!("{kind}/{function}"),
                    offset => format!("{kind}/{function}+{offset:#x}"),
                }
            }
            ProbeKind::Uprobe {
                binary,
                symbol,
                offset,
                ret,
            } => {
                let kind = if *ret { "uretprobe" } else { "uprobe" };
                match offset {
                    0 => format!("{kind}/{}:{symbol}", binary.display()),
                    offset => format!("{kind}/{}:{symbol}+{offset:#x}", binary.display()),
                }
            }
            ProbeKind::Fentry { function, ret } => {
                format!("{}/{function}", if *ret { "fexit" } else { "fentry" })
            }
            ProbeKind::Iter { target } => format!("iter/{target}"),
            ProbeKind::Usdt {
                binary, address, ..
            } => format!("uprobe/{}:{address:#x}", binary.display()),
        }
    }

    /// Attach options on top of the command line's (`-p PID` for uprobes; `--unsafe`:
    /// uprobes at places that cannot be checked).
    pub fn attach_options(&self, pid: Option<u32>, unsafe_calls: bool) -> AttachOptions {
        let mut options = AttachOptions {
            pid,
            unchecked_uprobes: unsafe_calls,
            ..AttachOptions::default()
        };
        match &self.kind {
            ProbeKind::Interval { period_ns } => {
                options.pid = None;
                options.perf_event = PerfEventKind::Software("cpu-clock");
                options.sampling = PerfSampling::Period(*period_ns);
                options.first_cpu_only = true;
            }
            ProbeKind::Profile { sampling } => {
                options.perf_event = PerfEventKind::Software("cpu-clock");
                options.sampling = *sampling;
            }
            ProbeKind::PerfCounter { event, period } => {
                options.perf_event = *event;
                options.sampling = PerfSampling::Period(*period);
            }
            ProbeKind::Usdt { semaphore, .. } => {
                // The compiler put the site there: no function bounds to check.
                options.unchecked_uprobes = true;
                options.ref_ctr_offset = *semaphore;
            }
            _ => {}
        }
        options
    }

    /// Whether the program's context holds BTF-typed arguments (tp_btf, fentry/fexit): the
    /// verifier types pointers read from it as kernel objects.
    pub fn has_btf_context(&self) -> bool {
        matches!(
            self.kind,
            ProbeKind::RawTracepoint { tp_btf: true, .. }
                | ProbeKind::Fentry { .. }
                | ProbeKind::Iter { .. }
        )
    }

    /// A USDT probe's second or later site: attached, but not a probe of its own.
    pub fn is_further_site(&self) -> bool {
        matches!(self.kind, ProbeKind::Usdt { site, .. } if site > 0)
    }

    pub fn is_run_once(&self) -> bool {
        matches!(
            self.kind,
            ProbeKind::Begin | ProbeKind::End | ProbeKind::Signal { .. } | ProbeKind::Bench { .. }
        )
    }
}

/// An attach point that gave no probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandError {
    pub diagnostic: Diagnostic,
    /// Well formed, but nothing on this system matches it (`config = { missing_probes = … }`
    /// decides whether that is an error).
    pub missing: bool,
}

/// What matched nothing, worded as bpftrace words it.
fn no_matches(what: String) -> Lookup {
    Lookup::Missing(format!("No matches for {what}."))
}

/// Why an attach point's targets could not be found.
enum Lookup {
    Missing(String),
    Failed(String),
}

impl From<String> for Lookup {
    fn from(message: String) -> Self {
        Lookup::Failed(message)
    }
}

/// Expands one attach point into its probes. Wildcards match through tracefs, the kernel's
/// BTF and ELF symbol tables; a target that matches nothing is an error, as in bpftrace.
pub fn expand(point: &AttachPoint) -> Result<Vec<ProbeInstance>, ExpandError> {
    let fail = |lookup: Lookup| {
        let (message, missing) = match lookup {
            Lookup::Missing(m) => (m, true),
            Lookup::Failed(m) => (m, false),
        };
        ExpandError {
            diagnostic: Diagnostic::error(point.span, message),
            missing,
        }
    };
    let error = |message: String| fail(Lookup::Failed(message));
    let raw = point.raw.trim();
    let parts: Vec<&str> = split_parts(raw);
    let kind = parts[0];
    let one = |kind: ProbeKind| {
        Ok(vec![ProbeInstance {
            name: canonical_name(&kind),
            kind,
        }])
    };
    match kind {
        "BEGIN" | "begin" if parts.len() == 1 => one(ProbeKind::Begin),
        "END" | "end" if parts.len() == 1 => one(ProbeKind::End),
        "interval" | "i" => {
            let period_ns = time_spec(&parts[1..], false)
                .ok_or_else(|| error(format!("interval probe `{raw}`: expected interval:UNIT:N with UNIT s, ms, us, ns or hz (or interval:Nms)")))?;
            one(ProbeKind::Interval { period_ns })
        }
        "profile" | "p" => {
            let sampling = match parts.get(1..) {
                Some([unit, n]) if *unit == "hz" => n.parse().ok().map(PerfSampling::Frequency),
                _ => time_spec(&parts[1..], true).map(PerfSampling::Period),
            }
            .ok_or_else(|| error(format!("profile probe `{raw}`: expected profile:hz:N or profile:UNIT:N with UNIT s, ms, us")))?;
            one(ProbeKind::Profile { sampling })
        }
        "software" | "s" | "hardware" | "h" => {
            let name = parts.get(1).copied().unwrap_or_default();
            let prefix = if kind.starts_with('s') {
                "software:"
            } else {
                "hardware:"
            };
            let event = PerfEventKind::parse(&format!("{prefix}{name}"))
                .filter(|e| matches!(e, PerfEventKind::Software(_)) == kind.starts_with('s'))
                .ok_or_else(|| {
                    error(format!(
                        "unknown {} event `{name}` (known: {})",
                        prefix.trim_end_matches(':'),
                        PerfEventKind::names().collect::<Vec<_>>().join(", ")
                    ))
                })?;
            let period = match parts.get(2) {
                Some(n) => {
                    parse_count(n).ok_or_else(|| error(format!("bad count `{n}` in `{raw}`")))?
                }
                None => default_period(event),
            };
            // `probe` says the event as written (`software:cpu:1000`), as in bpftrace.
            Ok(vec![ProbeInstance {
                name: format!("{prefix}{name}:{period}"),
                kind: ProbeKind::PerfCounter { event, period },
            }])
        }
        "tracepoint" | "t" => {
            let (category, name) = match parts.as_slice() {
                [_, category, name] => (*category, *name),
                _ => {
                    return Err(error(format!(
                        "tracepoint probe `{raw}`: expected tracepoint:CATEGORY:NAME"
                    )))
                }
            };
            expand_tracepoints(category, name).map_err(fail)
        }
        "rawtracepoint" | "rt" => {
            // `rawtracepoint:NAME` or `rawtracepoint:MODULE:NAME`.
            let name = parts
                .last()
                .copied()
                .filter(|_| parts.len() >= 2)
                .unwrap_or_default();
            if name.is_empty() {
                return Err(error(format!(
                    "rawtracepoint probe `{raw}`: expected rawtracepoint:NAME"
                )));
            }
            let module = parts.get(1).copied().filter(|_| parts.len() == 3);
            expand_raw_tracepoints(module, name).map_err(fail)
        }
        "kprobe" | "k" | "kretprobe" | "kr" => {
            let target = parts
                .last()
                .copied()
                .filter(|_| parts.len() >= 2)
                .unwrap_or_default();
            let (function, offset) =
                split_offset(target).ok_or_else(|| error(format!("kprobe `{raw}`: bad offset")))?;
            if function.is_empty() {
                return Err(error(format!("kprobe `{raw}`: expected kprobe:FUNCTION")));
            }
            one(ProbeKind::Kprobe {
                function: function.to_owned(),
                offset,
                ret: kind.starts_with("kr"),
            })
        }
        "fentry" | "f" | "kfunc" | "fexit" | "fr" | "kretfunc" => {
            let function = parts
                .last()
                .copied()
                .filter(|_| parts.len() >= 2)
                .unwrap_or_default();
            if function.is_empty() {
                return Err(error(format!("`{raw}`: expected {kind}:FUNCTION")));
            }
            one(ProbeKind::Fentry {
                function: function.to_owned(),
                ret: matches!(kind, "fexit" | "fr" | "kretfunc"),
            })
        }
        "iter" | "it" => match parts.get(1..) {
            Some([target]) if target.contains(['*', '?', '[']) => Err(error(format!(
                "`{raw}`: iter probes take one iterator, not a wildcard"
            ))),
            Some([target]) if !target.is_empty() => one(ProbeKind::Iter {
                target: (*target).to_owned(),
            }),
            Some([_, _, ..]) => Err(error(format!(
                "`{raw}`: bpfhook trace does not pin iterators; write iter:TARGET"
            ))),
            _ => Err(error(format!(
                "`{raw}`: expected iter:TARGET, e.g. iter:task"
            ))),
        },
        "uprobe" | "u" | "uretprobe" | "ur" => {
            let ret = kind.starts_with("ur");
            let (binary, target) = match parts.as_slice() {
                [_, binary, target] => (*binary, *target),
                [_, binary, language, target] if !language.is_empty() => {
                    let _ = language;
                    (*binary, *target)
                }
                _ => {
                    return Err(error(format!(
                        "uprobe `{raw}`: expected uprobe:BINARY:FUNCTION"
                    )))
                }
            };
            expand_uprobes(binary, target, ret).map_err(fail)
        }
        "self" => match parts.get(1..) {
            Some(["signal", "SIGUSR1"]) => one(ProbeKind::Signal {
                signal: libc::SIGUSR1,
            }),
            _ => Err(error(format!(
                "`{raw}`: the only self probe is self:signal:SIGUSR1"
            ))),
        },
        "bench" => match parts.get(1..) {
            Some([name]) if !name.is_empty() => one(ProbeKind::Bench {
                name: (*name).to_owned(),
            }),
            _ => Err(error("bench probes must have a name".to_owned())),
        },
        "usdt" | "U" => {
            let (binary, provider, name) = match parts.as_slice() {
                [_, binary, name] => (*binary, None, *name),
                [_, binary, provider, name] => (*binary, Some(*provider), *name),
                _ => {
                    return Err(error(format!(
                        "usdt probe `{raw}`: expected usdt:BINARY:[PROVIDER:]NAME"
                    )))
                }
            };
            if binary.is_empty() || binary == "*" {
                return Err(error(format!(
                    "usdt probe `{raw}`: name the binary, or give -p PID to look in the files the process maps"
                )));
            }
            // A probe named with quotes in its note (`USDT(test, "probe1")`) is written
            // `test:"\"probe1\""`.
            let provider = provider.map(unescape);
            usdt::expand(binary, provider.as_deref(), &unescape(name)).map_err(fail)
        }
        "watchpoint" | "w" | "asyncwatchpoint" | "aw" | "test" => Err(error(format!(
            "`{kind}` probes are not supported by bpfhook trace yet"
        ))),
        _ => Err(error(format!("Invalid probe type: {kind}"))),
    }
}

/// Where a quoted part ends: the first `"` that no backslash escapes (`"\"probe1\""`).
fn closing_quote(quoted: &str) -> Option<usize> {
    let mut escaped = false;
    quoted.char_indices().find_map(|(at, c)| {
        let closes = c == '"' && !escaped;
        escaped = c == '\\' && !escaped;
        closes.then_some(at)
    })
}

/// A quoted part's text: `\"` and `\\` stand for themselves.
fn unescape(part: &str) -> std::borrow::Cow<'_, str> {
    if !part.contains('\\') {
        return part.into();
    }
    let mut text = String::with_capacity(part.len());
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        text.push(match c {
            '\\' => chars.next().unwrap_or('\\'),
            c => c,
        });
    }
    text.into()
}

/// `uprobe:"/a b/c":f` keeps the quoted part whole; `:` splits the rest.
fn split_parts(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = raw;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            match closing_quote(quoted) {
                // `"name"+8`: the quotes go, what follows them up to a `:` stays.
                Some(end) if quoted[end + 1..].starts_with('+') => {
                    let tail = &quoted[end + 1..];
                    let tail_end = tail.find(':').unwrap_or(tail.len());
                    parts.push(&rest[..end + 2 + tail_end]);
                    rest = tail[tail_end..].strip_prefix(':').unwrap_or("");
                    if tail[tail_end..].is_empty() {
                        break;
                    }
                    continue;
                }
                Some(end) => {
                    parts.push(&quoted[..end]);
                    rest = quoted[end + 1..].strip_prefix(':').unwrap_or("");
                    if quoted[end + 1..].is_empty() {
                        break;
                    }
                    continue;
                }
                None => {
                    parts.push(quoted);
                    break;
                }
            }
        }
        match rest.find(':') {
            Some(colon) => {
                parts.push(&rest[..colon]);
                rest = &rest[colon + 1..];
            }
            None => {
                parts.push(rest);
                break;
            }
        }
    }
    parts
}

fn canonical_name(kind: &ProbeKind) -> String {
    match kind {
        ProbeKind::Begin => "begin".to_owned(),
        ProbeKind::Signal { .. } => "self:signal:SIGUSR1".to_owned(),
        ProbeKind::End => "end".to_owned(),
        ProbeKind::Bench { name } => format!("bench:{name}"),
        ProbeKind::Interval { period_ns } => format!("interval:{}", human_period(*period_ns)),
        ProbeKind::Profile { sampling } => match sampling {
            PerfSampling::Frequency(hz) => format!("profile:hz:{hz}"),
            PerfSampling::Period(ns) => format!("profile:{}", human_period(*ns)),
        },
        ProbeKind::PerfCounter { event, period } => format!("{event}:{period}"),
        ProbeKind::Tracepoint { category, name } => format!("tracepoint:{category}:{name}"),
        ProbeKind::RawTracepoint { name, .. } => format!("rawtracepoint:{name}"),
        ProbeKind::Kprobe {
            function,
            offset,
            ret,
        } => {
            let kind = if *ret { "kretprobe" } else { "kprobe" };
            match offset {
                0 => format!("{kind}:{function}"),
                offset => format!("{kind}:{function}+{offset}"),
            }
        }
        ProbeKind::Uprobe {
            binary,
            symbol,
            ret,
            ..
        } => format!(
            "{}:{}:{symbol}",
            if *ret { "uretprobe" } else { "uprobe" },
            binary.display()
        ),
        ProbeKind::Fentry { function, ret } => {
            format!(
                "{}:vmlinux:{function}",
                if *ret { "fexit" } else { "fentry" }
            )
        }
        ProbeKind::Iter { target } => format!("iter:{target}"),
        ProbeKind::Usdt {
            binary,
            provider,
            name,
            ..
        } => format!("usdt:{}:{provider}:{name}", binary.display()),
    }
}

fn human_period(ns: u64) -> String {
    for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if ns.is_multiple_of(scale) {
            return format!("{unit}:{}", ns / scale);
        }
    }
    format!("ns:{ns}")
}

/// `[UNIT, N]` or `[Nunit]` → nanoseconds; `hz` allowed for intervals.
fn time_spec(parts: &[&str], profile: bool) -> Option<u64> {
    let (unit, count) = match parts {
        [unit, count] => (*unit, parse_count(count)?),
        [joined] => {
            let digits = joined.find(|c: char| !c.is_ascii_digit())?;
            (&joined[digits..], parse_count(&joined[..digits])?)
        }
        _ => return None,
    };
    if count == 0 {
        return None;
    }
    let scale = match unit {
        "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" => 1_000,
        "ns" if !profile => 1,
        "hz" if !profile => return Some(1_000_000_000 / count),
        _ => return None,
    };
    count.checked_mul(scale)
}

/// `1000`, `1e6`, `1_000`.
fn parse_count(text: &str) -> Option<u64> {
    let text = text.replace('_', "");
    if let Some((mantissa, exponent)) = text.split_once(['e', 'E']) {
        let mantissa: u64 = mantissa.parse().ok()?;
        let exponent: u32 = exponent.parse().ok()?;
        return mantissa.checked_mul(10u64.checked_pow(exponent)?);
    }
    text.parse().ok()
}

fn default_period(event: PerfEventKind) -> u64 {
    match event {
        PerfEventKind::Software("cpu-clock" | "task-clock") => 1_000_000,
        PerfEventKind::Software(_) => 100,
        PerfEventKind::Hardware(_) => 1_000_000,
    }
}

/// `func+0x10` → ("func", 16).
fn split_offset(target: &str) -> Option<(&str, u64)> {
    match target.split_once('+') {
        None => Some((target, 0)),
        Some((function, offset)) => {
            let offset = match offset.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                None => offset.parse().ok()?,
            };
            // `"name"+8`: the name without its quotes.
            let function = function
                .strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .unwrap_or(function);
            Some((function, offset))
        }
    }
}

/// A uprobe target written as an address (`0x1139`, `4409`), not a symbol.
pub fn parse_address(target: &str) -> Option<u64> {
    match target.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => target.parse().ok(),
    }
}

fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

fn expand_tracepoints(category: &str, name: &str) -> Result<Vec<ProbeInstance>, Lookup> {
    let make = |category: &str, name: &str| {
        let kind = ProbeKind::Tracepoint {
            category: category.to_owned(),
            name: name.to_owned(),
        };
        ProbeInstance {
            name: canonical_name(&kind),
            kind,
        }
    };
    if !is_pattern(category) && !is_pattern(name) {
        if !tracepoints::tracepoint_exists(category, name).map_err(|e| e.to_string())? {
            return Err(no_matches(format!("tracepoint {category}:{name}")));
        }
        return Ok(vec![make(category, name)]);
    }
    let pattern = format!("{category}:{name}");
    let glob = Glob::new(&pattern).map_err(|e| e.to_string())?;
    let events = tracepoints::available_events().map_err(|e| e.to_string())?;
    let mut found: Vec<ProbeInstance> = tracepoints::parse_events(&events)
        .filter(|(c, n)| glob.matches(&format!("{c}:{n}")))
        .map(|(c, n)| make(c, n))
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found.dedup();
    if found.is_empty() {
        return Err(no_matches(format!("tracepoint {pattern}")));
    }
    Ok(found)
}

/// Raw tracepoints by name or glob, optionally of one module, from the kernel's
/// `btf_trace_*` BTF names (what `bpfhook list 'rawtracepoint:…'` lists).
fn expand_raw_tracepoints(module: Option<&str>, name: &str) -> Result<Vec<ProbeInstance>, Lookup> {
    let options = bpfhook::discover::ListOptions {
        pattern: Some(Glob::new(&format!("rawtracepoint:{name}")).map_err(|e| e.to_string())?),
        kinds: Some(vec![bpfhook::discover::HookKind::RawTracepoint]),
        ..Default::default()
    };
    let module_matches = match module {
        Some(m) => Some(Glob::new(m).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut found = Vec::new();
    bpfhook::discover::list(&options, |line| {
        let Some(listed) = line.strip_prefix("rawtracepoint:") else {
            return Ok(());
        };
        let (listed_module, listed_name) = listed.rsplit_once(':').unwrap_or(("vmlinux", listed));
        if module_matches
            .as_ref()
            .is_none_or(|m| m.matches(listed_module))
        {
            let kind = ProbeKind::RawTracepoint {
                name: listed_name.to_owned(),
                // Module tracepoints stay raw_tp: tp_btf would need the module's BTF object.
                tp_btf: listed_module == "vmlinux" && loads_tp_btf(),
            };
            found.push(ProbeInstance {
                name: canonical_name(&kind),
                kind,
            });
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found.dedup();
    if found.is_empty() {
        return Err(match module {
            Some(module) => no_matches(format!("rawtracepoint {module}:{name}")),
            None => Lookup::Missing(format!(
                "Probe has no valid attach points: no raw tracepoint matches {name} in the kernel's BTF"
            )),
        });
    }
    Ok(found)
}

/// Whether raw tracepoints load here as tp_btf programs (asked of the kernel once).
fn loads_tp_btf() -> bool {
    bpfhook::kernel::features::check(bpfhook::kernel::features::Feature::BtfTracepoint).is_ok()
}

fn expand_uprobes(binary: &str, target: &str, ret: bool) -> Result<Vec<ProbeInstance>, Lookup> {
    let (symbol, offset) =
        split_offset(target).ok_or_else(|| format!("bad offset in `{target}`"))?;
    // An address (`uprobe:BIN:0x1234`) is not a symbol to look up, and the file may be bare
    // code, not ELF: attaching checks it.
    if symbol.starts_with(|c: char| c.is_ascii_digit()) {
        let path = bpfhook::attach::find_binary(binary).map_err(|e| e.to_string())?;
        let kind = ProbeKind::Uprobe {
            binary: path,
            symbol: symbol.to_owned(),
            offset,
            ret,
        };
        return Ok(vec![ProbeInstance {
            name: canonical_name(&kind),
            kind,
        }]);
    }
    let elf = ElfBinary::open(binary).map_err(|e| e.to_string())?;
    let path = elf.path().to_path_buf();
    let make = |symbol: &str, offset: u64| {
        let kind = ProbeKind::Uprobe {
            binary: path.clone(),
            symbol: symbol.to_owned(),
            offset,
            ret,
        };
        ProbeInstance {
            name: canonical_name(&kind),
            kind,
        }
    };
    let functions = elf.functions().map_err(|e| e.to_string())?;
    if !is_pattern(symbol) {
        if !functions.iter().any(|f| f.name == symbol) {
            return Err(no_matches(format!("uprobe {binary}:{symbol}")));
        }
        return Ok(vec![make(symbol, offset)]);
    }
    let glob = Glob::new(symbol).map_err(|e| e.to_string())?;
    let mut names: Vec<String> = functions
        .into_iter()
        .filter(|f| glob.matches(&f.name))
        .map(|f| f.name)
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(no_matches(format!("uprobe {binary}:{symbol}")));
    }
    Ok(names.iter().map(|n| make(n, 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn expand_one(raw: &str) -> Result<ProbeInstance, String> {
        let point = AttachPoint {
            raw: raw.to_owned(),
            span: Span::default(),
        };
        expand(&point)
            .map(|mut v| v.remove(0))
            .map_err(|e| e.diagnostic.message)
    }

    #[test]
    fn quoted_uprobe_functions_keep_their_offset() {
        assert_eq!(
            split_parts("uprobe:/bin/bash:\"echo_builtin\"+8"),
            ["uprobe", "/bin/bash", "\"echo_builtin\"+8"]
        );
        assert_eq!(
            split_offset("\"echo_builtin\"+8"),
            Some(("echo_builtin", 8))
        );
        assert_eq!(
            split_parts("uprobe:\"/a b/c\":f"),
            ["uprobe", "/a b/c", "f"]
        );
    }

    #[test]
    fn intervals_and_profiles() {
        assert_eq!(
            expand_one("i:ms:100").unwrap().kind,
            ProbeKind::Interval {
                period_ns: 100_000_000
            }
        );
        assert_eq!(expand_one("interval:s:1").unwrap().name, "interval:s:1");
        assert_eq!(
            expand_one("i:1ms").unwrap().kind,
            ProbeKind::Interval {
                period_ns: 1_000_000
            }
        );
        assert_eq!(
            expand_one("profile:hz:99").unwrap().kind,
            ProbeKind::Profile {
                sampling: PerfSampling::Frequency(99)
            }
        );
        assert!(expand_one("i:parsecs:1").is_err());
        assert!(expand_one("i:ms:0").is_err());
    }

    #[test]
    fn bench_probes_are_named_xdp_programs() {
        let bench = expand_one("bench:a").unwrap();
        assert_eq!(bench.kind, ProbeKind::Bench { name: "a".into() });
        assert_eq!(
            (bench.name.as_str(), bench.section()),
            ("bench:a", "xdp".into())
        );
        assert!(bench.is_run_once());
        assert_eq!(
            expand_one("bench:").unwrap_err(),
            "bench probes must have a name"
        );
        assert!(expand_one("bench").is_err());
    }

    #[test]
    fn begin_end_and_sections() {
        assert_eq!(expand_one("BEGIN").unwrap().kind, ProbeKind::Begin);
        assert_eq!(expand_one("end").unwrap().kind, ProbeKind::End);
        let tp = expand_one("t:syscalls:sys_enter_openat").unwrap();
        assert_eq!(tp.section(), "tracepoint/syscalls/sys_enter_openat");
        assert_eq!(tp.name, "tracepoint:syscalls:sys_enter_openat");
        assert_eq!(
            expand_one("kr:vfs_read").unwrap().section(),
            "kretprobe/vfs_read"
        );
        assert_eq!(
            expand_one("software:page-faults:10").unwrap().kind,
            ProbeKind::PerfCounter {
                event: PerfEventKind::Software("page-faults"),
                period: 10
            }
        );
        assert!(expand_one("bogus:x")
            .unwrap_err()
            .contains("Invalid probe type"));
    }

    #[test]
    fn quoted_paths_split_whole() {
        assert_eq!(
            split_parts("uprobe:\"/a b:c\":f"),
            ["uprobe", "/a b:c", "f"]
        );
        assert_eq!(parse_count("1e6"), Some(1_000_000));
    }

    #[test]
    fn escaped_quotes_stay_inside_a_quoted_part() {
        let parts = split_parts(r#"usdt:./bin:test:"\"probe1\"""#);
        assert_eq!(parts, ["usdt", "./bin", "test", r#"\"probe1\""#]);
        assert_eq!(unescape(parts[3]), r#""probe1""#);
        assert_eq!(unescape(r"a\\b"), r"a\b");
        assert_eq!(unescape("plain"), "plain");
    }
}
