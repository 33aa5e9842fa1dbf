//! `bpfhook list`, `bpfhook format` and `bpfhook kallsyms`: what can be hooked, what a hook
//! receives, and the kernel's symbol table.

use std::io::Write;

use anyhow::{Context, Result};
use bpfhook::discover::{
    self, DiscoverError, Formatter, Glob, HookKind, ListOptions, TracepointFormat,
};
use bpfhook::kernel::kallsyms::{self, Kallsyms};
use clap::Args;

#[derive(Args)]
pub struct ListArgs {
    /// A glob on the whole line (`*`, `?`, `[a-z]`, `[!x]`), e.g. '*execve*' or
    /// 'tracepoint:syscalls:*' or 'uprobe:/bin/bash:*readline*'
    pattern: Option<String>,
    /// Also list kinds this kernel cannot attach (no feature probes)
    #[arg(long)]
    all: bool,
    /// Only these kinds (comma-separated): tracepoint, rawtracepoint, kprobe, kretprobe, fentry,
    /// fexit, lsm, software, hardware, uprobe, usdt
    #[arg(long, value_delimiter = ',')]
    kind: Vec<String>,
    /// The binary whose functions (uprobe) and USDT probes to list, when the pattern names none
    #[arg(long)]
    binary: Option<String>,
    /// After each hook, what a program there receives (as `bpfhook format` prints it); notes
    /// on stderr which kinds were left out and why
    #[arg(short, long)]
    verbose: bool,
    /// One JSON object per hook (`{"probe", "kind"}`, plus `details` with -v)
    #[arg(long)]
    json: bool,
    /// bpftrace's `-l` layout: events that take a count end in `:`, and the timer probes
    /// (`interval:ms:`, `profile:hz:`…) are listed too
    #[arg(skip)]
    bpftrace_style: bool,
    /// Directories where uprobe binaries' separate debug files may be (`trace --debuginfo`)
    #[arg(skip)]
    debug_dirs: Vec<std::path::PathBuf>,
}

/// The timer probes bpftrace lists, one line per unit.
const TIMER_PROBES: &[&str] = &[
    "interval:hz:",
    "interval:ms:",
    "interval:s:",
    "interval:us:",
    "profile:hz:",
    "profile:ms:",
    "profile:s:",
    "profile:us:",
];

#[derive(Args)]
pub struct FormatArgs {
    /// A hook in list notation: tracepoint:CAT:NAME, rawtracepoint:NAME, kprobe:FN, fentry:FN,
    /// lsm:HOOK, uprobe:PATH:SYMBOL, usdt:PATH:PROVIDER:NAME, software:EVENT …
    hook: String,
    /// A JSON object: `hook`, `kind`, `details` (the text), and `fields` for tracepoints
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct KallsymsArgs {
    /// A glob on the symbol name (or a substring with --contains); all symbols when absent
    pattern: Option<String>,
    /// Match names containing PATTERN instead of globbing
    #[arg(long)]
    contains: bool,
    /// Print what each type letter means first
    #[arg(long)]
    legend: bool,
    /// One JSON object per symbol: `address` (hex string), `type`, `name`, `module`
    #[arg(long)]
    json: bool,
}

/// Kinds are checked here rather than by clap so that a wrong one is an error like any other
/// (`bpfhook: …`, exit 1), not a usage message.
fn parse_kinds(names: &[String]) -> Result<Option<Vec<HookKind>>, DiscoverError> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|name| HookKind::parse(name).ok_or_else(|| DiscoverError::UnknownKind(name.clone())))
        .collect::<Result<_, _>>()
        .map(Some)
}

fn stdout_writer() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock())
}

/// `bpfhook trace -l [GLOB]` and `-lv`: the same listing, as bpftrace's `-l` prints it.
pub fn list_hooks(
    pattern: Option<String>,
    verbose: bool,
    debug_dirs: Vec<std::path::PathBuf>,
) -> Result<()> {
    list(ListArgs {
        pattern,
        all: false,
        kind: Vec::new(),
        binary: None,
        verbose,
        json: false,
        bpftrace_style: true,
        debug_dirs,
    })
}

pub fn list(args: ListArgs) -> Result<()> {
    let options = ListOptions {
        pattern: args.pattern.as_deref().map(Glob::new).transpose()?,
        kinds: parse_kinds(&args.kind)?,
        all: args.all,
        binary: args.binary,
    };
    let mut out = stdout_writer();
    let debug_dirs = args.debug_dirs;
    let mut formatter = args.verbose.then(|| Formatter::with_debug_dirs(debug_dirs));
    let json = args.json;
    let summary = discover::list(&options, |line| {
        // One hook without details must not end the listing: say why, go on.
        let mut details = Vec::new();
        if let Some(formatter) = formatter.as_mut() {
            match formatter.describe(line, &mut details) {
                Ok(()) => {}
                Err(DiscoverError::Write(e)) => return Err(e),
                Err(error) => details = format!("    // {error}\n").into_bytes(),
            }
        }
        if json {
            let kind = line.split(':').next().unwrap_or_default();
            let mut object = serde_json::json!({"probe": line, "kind": kind});
            if formatter.is_some() {
                object["details"] = String::from_utf8_lossy(&details).into_owned().into();
            }
            writeln!(out, "{object}")
        } else {
            out.write_all(line.as_bytes())?;
            if args.bpftrace_style
                && (line.starts_with("hardware:") || line.starts_with("software:"))
            {
                out.write_all(b":")?;
            }
            out.write_all(b"\n")?;
            out.write_all(&details)
        }
    })?;
    if args.bpftrace_style {
        for line in TIMER_PROBES {
            if options
                .pattern
                .as_ref()
                .is_none_or(|glob| glob.matches(line))
            {
                writeln!(out, "{line}")?;
            }
        }
    }
    out.flush()?;
    if args.verbose {
        for left_out in &summary.left_out {
            eprintln!("bpfhook: left out {}: {}", left_out.kind, left_out.reason);
        }
        if !summary.left_out.is_empty() && !options.all {
            eprintln!("bpfhook: --all lists the kinds this kernel cannot attach too");
        }
    }
    Ok(())
}

pub fn format(args: FormatArgs) -> Result<()> {
    let mut out = stdout_writer();
    let mut formatter = Formatter::new();
    // Describe first: a hook that does not exist prints nothing, not a bare header line.
    let mut details = Vec::new();
    formatter.describe(&args.hook, &mut details)?;
    if args.json {
        let kind = args.hook.split(':').next().unwrap_or_default();
        let mut object = serde_json::json!({
            "hook": args.hook,
            "kind": kind,
            "details": String::from_utf8_lossy(&details),
        });
        let parts: Vec<&str> = args.hook.splitn(3, ':').collect();
        if let ["tracepoint", category, name] = parts.as_slice() {
            let format = TracepointFormat::read(category, name)?;
            object["fields"] = format
                .fields
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "name": f.name, "type": f.c_type, "offset": f.offset, "size": f.size, "signed": f.signed,
                    })
                })
                .collect();
        }
        writeln!(out, "{object}")?;
    } else {
        writeln!(out, "{}", args.hook)?;
        out.write_all(&details)?;
    }
    out.flush()?;
    Ok(())
}

pub fn kallsyms(args: KallsymsArgs) -> Result<()> {
    let mut out = stdout_writer();
    if args.legend && !args.json {
        writeln!(
            out,
            "/proc/kallsyms: ADDRESS TYPE NAME [MODULE]; type letters:"
        )?;
        for (letters, meaning) in kallsyms::LEGEND {
            writeln!(out, "  {letters:<4} {meaning}")?;
        }
        if args.pattern.is_none() {
            out.flush()?;
            return Ok(());
        }
        writeln!(out)?;
    }
    let matcher: Box<dyn Fn(&str) -> bool> = match (&args.pattern, args.contains) {
        (None, _) => Box::new(|_| true),
        (Some(needle), true) => {
            let needle = needle.clone();
            Box::new(move |name| name.contains(needle.as_str()))
        }
        (Some(pattern), false) => {
            let glob = Glob::new(pattern)?;
            Box::new(move |name| glob.matches(name))
        }
    };
    let symbols = Kallsyms::read().context("reading /proc/kallsyms")?;
    let mut matched = 0usize;
    let mut visible = false;
    for symbol in symbols.symbols().filter(|s| matcher(s.name)) {
        matched += 1;
        visible |= symbol.address != 0;
        if args.json {
            let object = serde_json::json!({
                "address": format!("{:016x}", symbol.address),
                "type": symbol.kind.to_string(),
                "name": symbol.name,
                "module": symbol.module,
            });
            writeln!(out, "{object}")?;
            continue;
        }
        write!(
            out,
            "{:016x} {} {}",
            symbol.address, symbol.kind, symbol.name
        )?;
        match symbol.module {
            Some(module) => writeln!(out, "\t[{module}]")?,
            None => writeln!(out)?,
        }
    }
    out.flush()?;
    if matched > 0 && !visible {
        let restrict =
            std::fs::read_to_string("/proc/sys/kernel/kptr_restrict").unwrap_or_default();
        eprintln!(
            "bpfhook: every address reads as 0: the kernel hides them from this process \
             (kptr_restrict={}); run as root with kptr_restrict 0 or 1",
            restrict.trim()
        );
    }
    Ok(())
}
