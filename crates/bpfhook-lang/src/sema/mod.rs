//! The semantic pass: every expression's type, every map's key and value shape, every
//! variable's type, checked per probe instance (a wildcard's matches may differ in `args`).
//! Errors point at the expression with a span, before anything is loaded.
//!
//! Map types are global and may be used before the probe that assigns them (an `end` printing
//! `@x` that a later probe sets), so the whole program is checked until map shapes stop
//! changing; only the last round reports errors.

mod btf;
pub(crate) mod builtins;
mod check;
mod context;
mod network;
pub mod registers;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use crate::ast::*;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::probes::{ProbeInstance, ProbeKind};
use crate::types::{EnumType, Layout, Record, Type};

pub use builtins::Builtin;
pub(crate) use check::parse_ip;
pub use check::{
    constant_value, is_aggregate, map_target, parse_int, positional_int, positional_text,
};
pub use context::{ProbeContext, RegisterArgs};
pub use network::PcapOutput;

/// Settings that shape types (from `config = {…}`, the environment and the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bytes kept of each string (`BPFTRACE_MAX_STRLEN`), the NUL included.
    pub max_strlen: u32,
    /// Entries per map (`BPFTRACE_MAP_KEYS_MAX`).
    pub max_map_keys: u32,
    /// Frames kept of each stack.
    pub max_stack_frames: u32,
    /// `--unsafe`: `system()` and `signal()` allowed.
    pub unsafe_calls: bool,
    /// Positional parameters `$1…`.
    pub positional: Vec<String>,
    /// The pid of the `-c` command, started before compiling (it waits to exec).
    pub child_pid: Option<u32>,
    /// `-p PID`: a uprobe whose binary is `*` probes every file this process maps.
    pub pid: Option<u32>,
    /// Named program options (`-- --name=value`, `--flag`), read with `getopt()`.
    pub named: Vec<(String, Option<String>)>,
    /// `--probe-filter REGEX`: only probes whose full name matches (begin and end always run).
    pub probe_filter: Option<regex::Regex>,
    /// The programs' license (`config = { license = "…" }`); GPL-only helpers need a GPL one.
    pub license: String,
    /// Bytes `cat()` prints of a file at most (`BPFTRACE_MAX_CAT_BYTES`).
    pub max_cat_bytes: u64,
    /// How stacks print unless a call says (`BPFTRACE_STACK_MODE`, `config = { stack_mode }`).
    pub stack_mode: crate::types::StackMode,
    /// `-k`: report failing probe reads and lookups of missing map keys as they happen.
    pub helper_errors: bool,
    /// Printed after a string `str()` may have cut (`BPFTRACE_STR_TRUNC_TRAILER`).
    pub str_trunc_trailer: String,
    /// Pages of output buffer per CPU (`BPFTRACE_PERF_RB_PAGES`, `config = { perf_rb_pages }`):
    /// the one `events` ring buffer gets as many bytes as bpftrace's per-CPU buffers together.
    pub perf_rb_pages: u32,
    /// User stack frames name their source file and line where DWARF has them
    /// (`config = { show_debug_info = 0 }` turns it off).
    pub show_debug_info: bool,
    /// `BPFTRACE_DUMMY_TS_MAP=@ts`: `tseries()` takes its timestamp from this scalar map
    /// instead of the clock (how tests drive time series through known intervals).
    pub dummy_ts_map: Option<String>,
    /// `-I`, `--include` and the script's directory: where `#include` finds headers.
    pub includes: crate::headers::IncludeOptions,
    /// Bytes of the verifier's log with `-v` (`BPFTRACE_LOG_SIZE`, `config = { log_size }`).
    pub log_size: u64,
    /// `--debuginfo DIR`: where uprobe binaries' separate debug files may be, besides the
    /// standard places.
    pub debug_dirs: Vec<std::path::PathBuf>,
}

impl Settings {
    /// Bytes of the `events` ring buffer: `perf_rb_pages` pages per possible CPU, rounded up
    /// to the power of two the kernel wants.
    pub fn ring_bytes(&self) -> u32 {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        let cpus = aya::util::nr_cpus().unwrap_or(1).max(1) as u64;
        (u64::from(self.perf_rb_pages) * page * cpus)
            .next_power_of_two()
            .min(1 << 30) as u32
    }

    /// The buffer `str(p)` reads into: one byte more than `max_strlen` below 1 KiB, so a string
    /// of `max_strlen` characters shows whole (and with the trailer, since it may go on), as
    /// bpftrace sizes it.
    pub fn str_buffer(&self) -> u32 {
        if self.max_strlen < 1024 {
            self.max_strlen + 1
        } else {
            self.max_strlen
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // bpftrace's default.
            max_strlen: 1024,
            max_map_keys: 4096,
            max_stack_frames: 127,
            unsafe_calls: false,
            positional: Vec::new(),
            child_pid: None,
            pid: None,
            named: Vec::new(),
            probe_filter: None,
            license: "GPL".to_owned(),
            max_cat_bytes: 10240,
            stack_mode: crate::types::StackMode::Bpftrace,
            helper_errors: false,
            str_trunc_trailer: "..".to_owned(),
            show_debug_info: true,
            perf_rb_pages: 64,
            dummy_ts_map: None,
            includes: Default::default(),
            log_size: 1_000_000,
            debug_dirs: Vec::new(),
        }
    }
}

/// Licenses the kernel counts as GPL-compatible, which GPL-only helpers require.
const LICENSES: [&str; 6] = [
    "Dual MIT/GPL",
    "Dual BSD/GPL",
    "Dual MPL/GPL",
    "GPL and additional rights",
    "GPL v2",
    "GPL",
];

/// The longest strings a script may ask for (`BPFTRACE_MAX_STRLEN`): a map value holding two
/// must fit the 32 KiB the kernel allows a per-CPU value.
pub const MAX_STRLEN: u64 = 1 << 14;

/// What a map holds per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapValue {
    /// Assigned values (`@x = 1`).
    Plain(Type),
    Count,
    Sum {
        signed: bool,
    },
    Min {
        signed: bool,
    },
    Max {
        signed: bool,
    },
    Avg {
        signed: bool,
    },
    Stats {
        signed: bool,
    },
    /// log2 histogram with `bits` sub-buckets per power of two.
    Hist {
        bits: u8,
    },
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
    /// `tseries(n, interval, num_intervals[, agg])`: per key a ring of `num_intervals`
    /// buckets (the bucket index after the user key, as histograms), each holding a value, a
    /// meta word (what `agg` needs) and the epoch (`timestamp / interval_ns`) it belongs to.
    Tseries {
        interval_ns: u64,
        num_intervals: u64,
        agg: TseriesAgg,
        signed: bool,
    },
}

/// How a `tseries` bucket combines the values written in its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TseriesAgg {
    /// The last value written wins (meta: its timestamp).
    Last,
    Avg,
    Sum,
    Min,
    Max,
}

impl TseriesAgg {
    /// The optional fourth argument of `tseries()`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "avg" => Some(Self::Avg),
            "sum" => Some(Self::Sum),
            "min" => Some(Self::Min),
            "max" => Some(Self::Max),
            _ => None,
        }
    }
}

impl MapValue {
    /// Aggregates live in per-CPU maps, summed when read.
    pub fn is_aggregate(&self) -> bool {
        !matches!(self, MapValue::Plain(_))
    }

    /// Stored as one entry per (key, bucket): `hist`, `lhist`, `tseries`.
    pub fn is_bucketed(&self) -> bool {
        matches!(
            self,
            MapValue::Hist { .. } | MapValue::Lhist { .. } | MapValue::Tseries { .. }
        )
    }

    /// The type of `@m` when read in an expression.
    pub fn read_type(&self) -> Type {
        match self {
            MapValue::Plain(ty) => ty.clone(),
            MapValue::Count => Type::U64,
            MapValue::Sum { signed } | MapValue::Min { signed } | MapValue::Max { signed } => {
                Type::int(64, *signed)
            }
            MapValue::Avg { signed } | MapValue::Stats { signed } => Type::int(64, *signed),
            MapValue::Hist { .. } | MapValue::Lhist { .. } | MapValue::Tseries { .. } => Type::None,
        }
    }

    /// Bytes of the value in the kernel map (per CPU for aggregates).
    pub fn value_size(&self) -> u32 {
        match self {
            MapValue::Plain(ty) => ty.size().max(1),
            MapValue::Count | MapValue::Sum { .. } => 8,
            MapValue::Hist { .. } | MapValue::Lhist { .. } => 8,
            // value and a "set" flag, or total and count.
            MapValue::Min { .. }
            | MapValue::Max { .. }
            | MapValue::Avg { .. }
            | MapValue::Stats { .. } => 16,
            // value, meta, epoch.
            MapValue::Tseries { .. } => 24,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            MapValue::Plain(_) => "value",
            MapValue::Count => "count",
            MapValue::Sum { .. } => "sum",
            MapValue::Min { .. } => "min",
            MapValue::Max { .. } => "max",
            MapValue::Avg { .. } => "avg",
            MapValue::Stats { .. } => "stats",
            MapValue::Hist { .. } => "hist",
            MapValue::Lhist { .. } => "lhist",
            MapValue::Tseries { .. } => "tseries",
        }
    }
}

/// One map of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// As written, `@` included (`@x`, `@`).
    pub name: String,
    /// None: a scalar map (`@x = 1`), keyed by a zero u64.
    pub key: Option<Type>,
    pub value: MapValue,
    /// `let @m = lruhash(100)`.
    pub kind: Option<String>,
    pub max_entries: u32,
    pub span: Span,
}

impl MapInfo {
    /// The `(key, value)` tuple `for ($kv : @map)` gives, or why a loop cannot go over it.
    pub fn loop_element(&self) -> Result<Type, String> {
        let name = &self.name;
        let Some(key) = self.key.clone() else {
            return Err(format!(
                "{name} is a scalar map: a for loop needs a map with keys"
            ));
        };
        let value = match &self.value {
            MapValue::Plain(ty) => ty.clone(),
            MapValue::Count | MapValue::Sum { .. } => self.value.read_type(),
            other => {
                return Err(format!(
                    "for loops over {}() maps are not supported",
                    other.name()
                ))
            }
        };
        Ok(Type::Tuple(std::rc::Rc::new(crate::types::Layout::of([
            key, value,
        ]))))
    }

    /// The key as stored: the user key, then for histograms and time series the bucket index.
    pub fn key_size(&self) -> u32 {
        let user = self.key.as_ref().map_or(8, |k| k.size().max(1));
        match self.value.is_bucketed() {
            true => user.next_multiple_of(8) + 8,
            false => user,
        }
    }
}

/// Types of one probe instance's expressions and variables.
#[derive(Debug, Clone, Default)]
pub struct ProbeTypes {
    /// By `ExprId`: only this probe's expressions (a program may have thousands of probes).
    pub exprs: HashMap<u32, Type>,
    pub variables: BTreeMap<String, Type>,
    /// Variables used inside a loop body that runs as a callback (`for ($kv : @map)`, ranges
    /// with bounds known only at run time), with a stack of its own: these must live where
    /// both can reach them.
    pub captured: BTreeSet<String>,
    /// What the probe's program receives (tracepoint fields, fentry arguments from BTF).
    pub context: ProbeContext,
    /// `uaddr("SYM")` by expression id: the symbol's address in this probe's binary.
    pub user_addresses: HashMap<u32, UserAddress>,
    /// `percpu_kaddr("VAR")` calls, by expression id: the variable's id in the kernel's BTF.
    pub kernel_variables: HashMap<u32, u32>,
    /// `skboutput()`/`socket_cookie()` calls, by expression id: the context offset of the
    /// kernel object they pass (loaded as the verifier typed it).
    pub btf_arguments: HashMap<u32, i16>,
    /// `skboutput()` calls, by expression id: their pcap file.
    pub pcap_outputs: HashMap<u32, PcapOutput>,
}

/// Where `uaddr("SYM")` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAddress {
    /// The symbol's virtual address in the ELF file.
    pub address: u64,
    /// A position-independent binary moves with each process: the probed place's virtual
    /// address, so that the run-time one (`bpf_get_func_ip`) gives the load base.
    pub relative_to_probe: Option<u64>,
}

impl ProbeTypes {
    pub fn of(&self, expr: &Expr) -> &Type {
        self.exprs.get(&expr.id.0).unwrap_or(&Type::None)
    }
}

/// The checked program: everything codegen and the runtime need to agree on.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub maps: BTreeMap<String, MapInfo>,
    /// One entry per probe of the program, one `ProbeTypes` per instance.
    pub probes: Vec<Vec<(ProbeInstance, ProbeTypes)>>,
    pub enums: HashMap<String, (Rc<EnumType>, i64)>,
    pub records: HashMap<String, Rc<Record>>,
    pub settings: Settings,
    pub warnings: Diagnostics,
    /// Values of `sizeof(…)`/`offsetof(…)` expressions.
    pub size_constants: HashMap<ExprId, u64>,
    /// Values of `getopt(…)` calls, known from the command line.
    pub options: HashMap<ExprId, OptionValue>,
    /// The options the program reads, with their descriptions (for `--help`).
    pub declared_options: Vec<(String, Option<String>)>,
    /// `len()` of a user stack somewhere: each `ustack` then counts its frames too.
    pub counts_stack_frames: bool,
}

/// A named program option's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    Int(i64),
    UInt(u64),
    Bool(bool),
    Str(String),
}

/// Checks a parsed program whose probes are already expanded (one `Vec<ProbeInstance>` per
/// probe, in order).
pub fn analyze(
    program: &Program,
    instances: Vec<Vec<ProbeInstance>>,
    settings: Settings,
) -> Result<Analysis, Diagnostics> {
    let mut checker = Checker::new(program, settings)?;
    let mut result = Vec::new();
    // Until map shapes settle (each round can only add or widen); then a reporting round.
    for round in 0..6 {
        let before = checker.maps.clone();
        let last = round == 5 || (round > 0 && checker.settled);
        checker.report = last;
        result.clear();
        for (probe, instances) in program.probes.iter().zip(&instances) {
            let mut per_instance = Vec::new();
            for instance in instances {
                let types = checker.check_probe(probe, instance);
                per_instance.push((instance.clone(), types));
            }
            result.push(per_instance);
        }
        if last {
            break;
        }
        checker.settled = checker.maps == before;
    }
    checker.check_map_usage(program);
    if checker.errors.has_errors() {
        return Err(checker.errors);
    }
    checker.check_named_options()?;
    Ok(Analysis {
        maps: checker.maps,
        probes: result,
        enums: checker.enums,
        records: checker.records,
        settings: checker.settings,
        warnings: checker.warnings,
        size_constants: checker.size_constants,
        options: checker.options,
        declared_options: checker.declared_options,
        counts_stack_frames: checker.counts_stack_frames,
    })
}

struct Checker {
    settings: Settings,
    maps: BTreeMap<String, MapInfo>,
    /// Each keyed map's key as its first store wrote it (literals at the smallest type that
    /// holds them, as bpftrace names them in argument-mismatch errors).
    key_shapes: HashMap<String, String>,
    declared: HashMap<String, MapDecl>,
    enums: HashMap<String, (Rc<EnumType>, i64)>,
    enum_types: HashMap<String, Rc<EnumType>>,
    records: HashMap<String, Rc<Record>>,
    report: bool,
    settled: bool,
    errors: Diagnostics,
    warnings: Diagnostics,
    // Per probe instance:
    types: HashMap<u32, Type>,
    variables: BTreeMap<String, Type>,
    context: ProbeContext,
    instance: Option<ProbeInstance>,
    loop_depth: u32,
    /// How many loop bodies that run as callbacks (`for ($kv : @map)`, ranges with bounds
    /// known only at run time) enclose the statement being checked.
    callback_depth: u32,
    captured: BTreeSet<String>,
    user_addresses: HashMap<u32, UserAddress>,
    kernel_variables: HashMap<u32, u32>,
    btf_arguments: HashMap<u32, i16>,
    pcap_outputs: HashMap<u32, PcapOutput>,
    /// Whether /proc/kallsyms lists a name, asked once per compile (the file is 100k+ lines
    /// and the checker goes over the program several times).
    in_kallsyms: HashMap<String, bool>,
    /// `let $x;` seen without a type or value in this probe: typed by a later assignment.
    untyped: BTreeSet<String>,
    /// Variables declared with a type (`let $x: uint8`): they keep it when incremented.
    sized: BTreeSet<String>,
    /// Per probe instance (its probe's position and name), the variables' types of the
    /// previous round: what `let $x;` takes before the assignment that types it is reached.
    previous_variables: HashMap<(u32, String), BTreeMap<String, Type>>,
    /// The key of the probe instance being checked in `previous_variables`.
    instance_key: (u32, String),
    /// `-c CMD` given: `cpid` has a value.
    has_child: bool,
    size_constants: HashMap<ExprId, u64>,
    options: HashMap<ExprId, OptionValue>,
    declared_options: Vec<(String, Option<String>)>,
    counts_stack_frames: bool,
    /// Problems with the named options, reported without a place (they are on the command
    /// line, not in the program).
    option_errors: Vec<String>,
    kernel: btf::KernelTypes,
}

impl Checker {
    /// The binary of the uprobe or uretprobe being checked: its DWARF types what the probe
    /// names (and a uprobe's `args`).
    fn uprobe_binary(&self) -> Option<std::path::PathBuf> {
        match self.instance.as_ref().map(|i| &i.kind) {
            Some(ProbeKind::Uprobe { binary, .. }) => Some(binary.clone()),
            _ => None,
        }
    }

    fn new(program: &Program, settings: Settings) -> Result<Self, Diagnostics> {
        let debug_dirs = settings.debug_dirs.clone();
        let settings_child = settings.child_pid.is_some();
        let mut checker = Checker {
            settings,
            maps: BTreeMap::new(),
            key_shapes: HashMap::new(),
            declared: HashMap::new(),
            enums: HashMap::new(),
            enum_types: HashMap::new(),
            records: HashMap::new(),
            report: false,
            settled: false,
            errors: Diagnostics::default(),
            warnings: Diagnostics::default(),
            types: HashMap::new(),
            variables: BTreeMap::new(),
            context: ProbeContext::default(),
            instance: None,
            loop_depth: 0,
            callback_depth: 0,
            captured: BTreeSet::new(),
            user_addresses: HashMap::new(),
            kernel_variables: HashMap::new(),
            btf_arguments: HashMap::new(),
            pcap_outputs: HashMap::new(),
            in_kallsyms: HashMap::new(),
            untyped: BTreeSet::new(),
            sized: BTreeSet::new(),
            previous_variables: HashMap::new(),
            instance_key: (0, String::new()),
            has_child: settings_child,
            size_constants: HashMap::new(),
            options: HashMap::new(),
            declared_options: Vec::new(),
            counts_stack_frames: false,
            option_errors: Vec::new(),
            kernel: btf::KernelTypes::with_debug_dirs(debug_dirs),
        };
        checker.report = true;
        checker.apply_config(&program.config);
        for decl in &program.types {
            checker.declare_type(decl);
        }
        for decl in &program.map_decls {
            checker
                .declared
                .insert(format!("@{}", decl.name), decl.clone());
        }
        checker.report = false;
        if checker.errors.has_errors() {
            return Err(checker.errors);
        }
        Ok(checker)
    }

    /// The command line's named options must all be ones the program reads; `--help` lists
    /// them. These messages name no place in the program, so they come as one plain error.
    fn check_named_options(&mut self) -> Result<(), Diagnostics> {
        // `--help` lists them a line each, with their descriptions; an error names them.
        let expected = |separator: &str| {
            let names: Vec<String> = self
                .declared_options
                .iter()
                .map(|(n, d)| match d {
                    Some(d) if separator == "\n" => format!("--{n}: {d}"),
                    _ => format!("--{n}"),
                })
                .collect();
            format!(
                "HINT: expected program options:{separator}{}",
                names.join(separator)
            )
        };
        let mut messages = std::mem::take(&mut self.option_errors);
        if self.settings.named.iter().any(|(n, _)| n == "help") {
            messages = vec![expected("\n")];
        } else {
            let unexpected: Vec<String> = self
                .settings
                .named
                .iter()
                .filter(|(n, _)| !self.declared_options.iter().any(|(d, _)| d == n))
                .map(|(n, _)| format!("--{n}"))
                .collect();
            if !unexpected.is_empty() {
                messages.push(format!(
                    "unexpected program command line options: {}",
                    unexpected.join(" ")
                ));
                messages.push(expected(" "));
            }
        }
        if messages.is_empty() {
            return Ok(());
        }
        Err(Diagnostics(vec![Diagnostic::plain(messages.join("\n"))]))
    }

    /// Warns about declared maps no probe uses, as bpftrace does.
    fn check_map_usage(&mut self, program: &Program) {
        for decl in &program.map_decls {
            if !self.maps.contains_key(&format!("@{}", decl.name)) {
                self.warnings.push(Diagnostic::warning(
                    decl.span,
                    format!("Unused map: @{}", decl.name),
                ));
            }
        }
    }

    /// A warning of the reporting round, once however many probe instances share the code.
    fn warning(&mut self, span: Span, message: impl Into<String>) {
        let warning = Diagnostic::warning(span, message);
        if self.report && !self.warnings.0.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        if !self.report {
            return;
        }
        // An error about an expression that holds the last error's place is its consequence
        // (`$undefined + 1` cannot be added either): one message is enough.
        let follows = self.errors.0.last().is_some_and(|last| {
            last.span != Span::default()
                && span.start <= last.span.start
                && last.span.end <= span.end
        });
        if !follows {
            self.errors.push(Diagnostic::error(span, message));
        }
    }

    fn apply_config(&mut self, items: &[ConfigItem]) {
        for item in items {
            let number = match &item.value {
                ConfigValue::Integer(n) => Some(*n),
                _ => None,
            };
            match (
                item.key
                    .trim_start_matches("BPFTRACE_")
                    .to_ascii_lowercase()
                    .as_str(),
                number,
            ) {
                ("max_strlen", Some(n)) => self.settings.max_strlen = n.clamp(1, MAX_STRLEN) as u32,
                ("max_map_keys", Some(n)) => {
                    self.settings.max_map_keys = n.clamp(1, 1 << 24) as u32
                }
                ("max_stack_frames" | "stack_max_frames", Some(n)) => {
                    self.settings.max_stack_frames = n.clamp(1, 127) as u32
                }
                ("max_cat_bytes", Some(n)) => self.settings.max_cat_bytes = n,
                ("log_size", Some(n)) => self.settings.log_size = n,
                ("show_debug_info", Some(n)) => self.settings.show_debug_info = n != 0,
                ("perf_rb_pages", Some(n)) => self.settings.perf_rb_pages = n.clamp(1, 1 << 16) as u32,
                ("stack_mode", None) => match &item.value {
                    ConfigValue::String(mode) | ConfigValue::Ident(mode) => {
                        match crate::types::StackMode::parse(mode) {
                            Some(mode) => self.settings.stack_mode = mode,
                            None => self.error(
                                item.span,
                                format!("Invalid stack mode: {mode} (valid: bpftrace, perf, raw, build_id)"),
                            ),
                        }
                    }
                    ConfigValue::Integer(_) => {}
                },
                ("str_trunc_trailer", None) => match &item.value {
                    ConfigValue::String(trailer) | ConfigValue::Ident(trailer) => {
                        self.settings.str_trunc_trailer = trailer.clone()
                    }
                    ConfigValue::Integer(_) => {}
                },
                ("license", None) => match &item.value {
                    ConfigValue::String(license) | ConfigValue::Ident(license)
                        if LICENSES.contains(&license.as_str()) =>
                    {
                        self.settings.license = license.clone()
                    }
                    ConfigValue::String(license) | ConfigValue::Ident(license) => self.error(
                        item.span,
                        format!(
                            "Invalid value for license. Found: {license}. Valid values: {}",
                            LICENSES.join(", ")
                        ),
                    ),
                    ConfigValue::Integer(_) => {}
                },
                // Accepted, with no effect on what we generate.
                (
                    "max_bpf_progs"
                    | "max_probes"
                    | "on_stack_limit"
                    // Decided before this pass, when attach points expand.
                    | "missing_probes"
                    | "print_maps_on_exit"
                    | "unstable_macro"
                    | "unstable_map_decl"
                    | "cache_user_symbols"
                    | "symbol_source"
                    | "str_trunc_trailer"
                    | "max_type_res_iterations",
                    _,
                ) => {}
                _ => self.error(
                    item.span,
                    format!("Unrecognized config variable: {}", item.key),
                ),
            }
        }
    }

    fn declare_type(&mut self, decl: &TypeDecl) {
        match decl {
            TypeDecl::Enum { name, variants, .. } => {
                let ty = Rc::new(EnumType {
                    name: name.clone(),
                    bits: 64,
                    variants: variants.clone(),
                });
                for (variant, value) in variants {
                    self.enums.insert(variant.clone(), (ty.clone(), *value));
                }
                if !name.is_empty() {
                    self.enum_types.insert(name.clone(), ty);
                }
            }
            TypeDecl::Struct {
                name,
                union,
                fields,
                span,
            } => {
                let mut layout = Layout {
                    align: 1,
                    ..Layout::default()
                };
                // Where the next field may start, in bits: bit fields share their unit.
                let mut next_bit = 0u32;
                for field in fields {
                    let Some(ty) = self.resolve_type_name(&field.ty) else {
                        continue;
                    };
                    let align = ty.align();
                    let (offset, bits) = match field.bit_width {
                        _ if *union => (0, field.bit_width.map(|w| bit_field(0, w))),
                        Some(width) if width == 0 || width > ty.size() * 8 || !ty.is_integer() => {
                            self.error(
                                field.span,
                                format!(
                                    "bit field {} of {width} bits does not fit its type {ty}",
                                    field.name
                                ),
                            );
                            continue;
                        }
                        Some(width) => {
                            let (offset, shift) = place_bit_field(next_bit, width, ty.size());
                            next_bit = (offset * 8) + shift + width;
                            (offset, Some(bit_field(shift, width)))
                        }
                        None => {
                            let offset = next_bit.div_ceil(8).next_multiple_of(align);
                            next_bit = (offset + ty.size()) * 8;
                            (offset, None)
                        }
                    };
                    layout.size = layout.size.max(offset + ty.size());
                    layout.align = layout.align.max(align);
                    layout.fields.push(crate::types::Field {
                        name: field.name.clone(),
                        ty,
                        offset,
                        bits,
                    });
                }
                layout.size = layout.size.next_multiple_of(layout.align);
                let keyword = if *union { "union" } else { "struct" };
                let full = format!("{keyword} {name}");
                if self.records.contains_key(&full) {
                    self.error(*span, format!("Redefinition of {full}"));
                }
                self.records.insert(
                    full.clone(),
                    Rc::new(Record {
                        name: full,
                        layout,
                        btf_id: None,
                    }),
                );
            }
        }
    }

    /// A written type → our type; reports unknown structs and enums.
    fn resolve_type_name(&mut self, name: &TypeName) -> Option<Type> {
        let binary = self.uprobe_binary();
        let base = match &name.base {
            BaseType::Integer { bits, signed } => Type::int(*bits, *signed),
            BaseType::Bool => Type::Bool,
            BaseType::String => {
                return Some(Type::Str(
                    name.array_lens
                        .first()
                        .copied()
                        .unwrap_or(self.settings.max_strlen),
                ))
            }
            BaseType::Void => Type::None,
            BaseType::Struct(n) | BaseType::Union(n) => {
                let keyword = if matches!(name.base, BaseType::Union(_)) {
                    "union"
                } else {
                    "struct"
                };
                let full = format!("{keyword} {n}");
                if let Some(record) = self.records.get(&full) {
                    Type::Record(record.clone())
                } else {
                    match self
                        .kernel
                        .lookup(&name.base, name.pointer_depth > 0, binary.as_deref())
                    {
                        Ok(ty) => ty,
                        // An opaque pointer still casts and prints.
                        Err(_) if name.pointer_depth > 0 => Type::Record(Rc::new(Record {
                            name: full,
                            layout: Layout::default(),
                            btf_id: None,
                        })),
                        Err(why) => {
                            self.error(name.span, format!("Unknown type: {full} ({why})"));
                            return None;
                        }
                    }
                }
            }
            BaseType::Enum(n) => match self.enum_types.get(n) {
                Some(e) => Type::Enum(e.clone()),
                None => match self.kernel.lookup(&name.base, false, binary.as_deref()) {
                    Ok(ty) => ty,
                    Err(why) => {
                        self.error(name.span, format!("Unknown enum: {n} ({why})"));
                        return None;
                    }
                },
            },
            BaseType::Typeof(of) => match of.as_ref() {
                Typeof::Type(inner) => self.resolve_type_name(inner)?,
                Typeof::Expr(e) => self.type_operand(e)?,
            },
            BaseType::Named(n) => match builtins::typedef(n) {
                Some(ty) => ty,
                None => {
                    match self
                        .kernel
                        .lookup(&name.base, name.pointer_depth > 0, binary.as_deref())
                    {
                        Ok(ty) => ty,
                        Err(why) => {
                            self.error(name.span, format!("Unknown type: {n} ({why})"));
                            return None;
                        }
                    }
                }
            },
        };
        let mut ty = base;
        for _ in 0..name.pointer_depth {
            ty = Type::Pointer(Box::new(ty));
        }
        // `int y[2][3]`: the innermost length applies first. `char x[8]` reads as a string,
        // as in bpftrace.
        for (i, &n) in name.array_lens.iter().enumerate().rev() {
            let innermost = i + 1 == name.array_lens.len();
            ty = if innermost
                && name.pointer_depth == 0
                && matches!(name.base, BaseType::Integer { bits: 8, .. })
            {
                Type::Str(n)
            } else {
                Type::Array(Box::new(ty), n)
            };
        }
        Some(ty)
    }
}

/// A bit field `width` bits wide of a type `unit` bytes wide, placed as C does on the ABIs we
/// run on: at the next free bit unless that would make it straddle a unit boundary, then at
/// the next unit. Returns the unit's byte offset and the field's shift within it.
fn place_bit_field(next_bit: u32, width: u32, unit: u32) -> (u32, u32) {
    let unit_bits = unit.max(1) * 8;
    let start = if next_bit / unit_bits == (next_bit + width.max(1) - 1) / unit_bits {
        next_bit
    } else {
        next_bit.next_multiple_of(unit_bits)
    };
    let offset = start / unit_bits * unit;
    (offset, start - offset * 8)
}

fn bit_field(shift: u32, width: u32) -> crate::types::BitField {
    crate::types::BitField {
        shift: shift as u8,
        width: width as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::{place_bit_field, MapValue, Settings, TseriesAgg};

    #[test]
    fn the_ring_buffer_holds_perf_rb_pages_per_cpu_in_a_power_of_two() {
        let cpus = aya::util::nr_cpus().expect("possible CPUs") as u32;
        for pages in [1, 3, 64] {
            let settings = Settings {
                perf_rb_pages: pages,
                ..Settings::default()
            };
            let bytes = settings.ring_bytes();
            assert!(bytes.is_power_of_two(), "{bytes}");
            assert!(
                bytes >= pages * 4096 * cpus && bytes < 2 * pages * 4096 * cpus,
                "{bytes}"
            );
        }
    }

    #[test]
    fn bit_fields_share_units_and_never_straddle_one() {
        // struct { unsigned int a:4, b:8, c:3, d:1, e:16; }: one 4-byte unit.
        let mut next = 0;
        let mut placed = Vec::new();
        for width in [4, 8, 3, 1, 16] {
            let (offset, shift) = place_bit_field(next, width, 4);
            next = offset * 8 + shift + width;
            placed.push((offset, shift));
        }
        assert_eq!(placed, [(0, 0), (0, 4), (0, 12), (0, 15), (0, 16)]);
        // 30 bits used: a 4-bit field goes to the next unit.
        assert_eq!(place_bit_field(30, 4, 4), (4, 0));
        // Narrower units: unsigned short a:4, b:8, c:3 then d:9 starts a new short.
        assert_eq!(place_bit_field(15, 9, 2), (2, 0));
    }

    /// The rendered errors of a program that must not compile.
    fn errors(source: &str) -> String {
        match crate::compile("stdin", source, Settings::default()) {
            Ok(_) => panic!("compiled: {source}"),
            Err(e) => e.rendered,
        }
    }

    #[test]
    fn tseries_shapes_its_map() {
        let script = crate::compile(
            "stdin",
            r#"begin { @a[1] = tseries(-3, 100ms, 5, "min"); @b = tseries(2, 1s, 3); }"#,
            Settings::default(),
        )
        .expect("compiles");
        let a = &script.analysis.maps["@a"];
        assert_eq!(
            a.value,
            MapValue::Tseries {
                interval_ns: 100_000_000,
                num_intervals: 5,
                agg: TseriesAgg::Min,
                signed: true,
            }
        );
        // The user key, then the bucket: 8 + 8.
        assert_eq!((a.key_size(), a.value.value_size()), (16, 24));
        let b = &script.analysis.maps["@b"];
        assert!(matches!(
            b.value,
            MapValue::Tseries {
                agg: TseriesAgg::Last,
                interval_ns: 1_000_000_000,
                ..
            }
        ));
    }

    #[test]
    fn tseries_arguments_are_checked_where_written() {
        let e = errors(r#"begin { @a = tseries(1, 1s, 5, "median"); }"#);
        assert!(e.starts_with("stdin:1:32-40: ERROR: tseries() expects one of the following aggregation functions: avg, max, min, sum (\"median\" provided)"), "{e}");
        let e = errors("begin { @a = tseries(1, 0, 5); }");
        assert!(
            e.starts_with("stdin:1:25-26: ERROR: tseries() interval_ns must be >= 1 (0 provided)"),
            "{e}"
        );
        let e = errors("begin { @a = tseries(1, 1s, 0); }");
        assert!(
            e.starts_with(
                "stdin:1:29-30: ERROR: tseries() num_intervals must be >= 1 (0 provided)"
            ),
            "{e}"
        );
        let e = errors("begin { @a = tseries(1, 1s, 2000000); }");
        assert!(
            e.contains("num_intervals must be < 1000000 (2000000 provided)"),
            "{e}"
        );
        let e = errors("begin { $x = 1; @a = tseries(1, $x, 2); }");
        assert!(
            e.contains("tseries(): invalid interval_ns value (must be non-negative literal)"),
            "{e}"
        );
        let e = errors("begin { @a = tseries(1, 1s); }");
        assert!(
            e.starts_with("stdin:1:14-28: ERROR: tseries() takes 3 arguments"),
            "{e}"
        );
        let e = errors(r#"begin { @a = tseries("x", 1s, 1); }"#);
        assert!(
            e.contains("tseries() expects an integer, got string[2]"),
            "{e}"
        );
        let e = errors("begin { tseries(1, 1s, 1); }");
        assert!(
            e.contains("tseries() should be directly assigned to a map"),
            "{e}"
        );
        let e = errors("begin { @a = tseries(1, 1s, 1); @b = @a + 1; }");
        assert!(e.contains("ERROR"), "{e}");
    }

    #[test]
    fn the_dummy_timestamp_map_must_be_a_scalar_integer() {
        let settings = Settings {
            dummy_ts_map: Some("@ts".to_owned()),
            ..Settings::default()
        };
        let source = r#"begin { @ts["k"] = 1; @a = tseries(1, 1s, 2); }"#;
        let e = crate::compile("stdin", source, settings)
            .err()
            .expect("an error")
            .rendered;
        assert!(
            e.starts_with(
                "stdin:1:36-37: ERROR: BPFTRACE_DUMMY_TS_MAP: @ts must be a scalar map of integers"
            ),
            "{e}"
        );
    }

    #[test]
    fn bench_names_are_unique() {
        let e = errors("bench:a { @x = 1; } bench:a { @y = 1; }");
        assert!(
            e.starts_with(
                "stdin:1:21-28: ERROR: \"a\" was used as the name for more than one BENCH probe"
            ),
            "{e}"
        );
    }
}
