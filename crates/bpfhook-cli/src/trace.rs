//! `bpfhook trace`: bpftrace's command line over `bpfhook-lang` (`-e PROG | FILE | -`,
//! positional parameters, `-c`, `-p`, `-q`, `-f json`, `-o`, `-l`, `--info`).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bpfhook::asm::Helper;
use bpfhook::kernel::features::{self, Feature};
use bpfhook_lang::output::{self, OutputFormat};
use bpfhook_lang::runtime::{self, PausedChild, RunOptions};
use bpfhook_lang::sema::Settings;
use clap::Args;

// Invoked as `bpftrace` (a link to the binary), bpfhook is `bpfhook trace`.
#[derive(clap::Parser)]
#[command(
    name = "bpftrace",
    about = "bpftrace's command line, compiled by bpfhook (no LLVM)",
    disable_version_flag = true,
    help_template = "{about}\n\nUSAGE:\n    {usage}\n\n{all-args}"
)]
pub struct AsBpftrace {
    #[command(flatten)]
    args: TraceArgs,
}

/// `main` when the binary runs as `bpftrace`: usage errors print bpftrace's `USAGE:` help.
pub fn main_as_bpftrace() -> ExitCode {
    use clap::Parser;
    match AsBpftrace::try_parse() {
        Ok(cli) => report(trace(cli.args)),
        Err(error) if error.use_stderr() => {
            eprintln!("{}", error.render());
            eprintln!("{}", AsBpftrace::command_help());
            ExitCode::FAILURE
        }
        Err(error) => {
            print!("{}", AsBpftrace::command_help());
            let _ = error;
            ExitCode::SUCCESS
        }
    }
}

impl AsBpftrace {
    fn command_help() -> String {
        use clap::CommandFactory;
        AsBpftrace::command().render_help().to_string()
    }
}

/// Errors as bpftrace prints them: `ERROR: …`, exit code 1.
pub fn report(result: Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ERROR: {}", crate::describe(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

#[derive(Args)]
pub struct TraceArgs {
    /// The program text (otherwise FILE, or `-` for standard input)
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,
    /// Run this command and trace it (`cpid`); the script ends when it does. Split at spaces
    /// as bpftrace splits it, without a shell (`bash FILE` runs shell code)
    #[arg(short = 'c', long = "cmd", value_name = "CMD")]
    command: Option<String>,
    /// Only this process, for uprobes and perf events
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pid: Option<String>,
    /// Quiet: no `Attached N probes` line
    #[arg(short = 'q')]
    quiet: bool,
    /// Output format: text or json
    #[arg(short = 'f', value_name = "FORMAT", default_value = "text")]
    format: String,
    /// Write the script's output to FILE instead of standard output
    #[arg(short = 'o', value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// List probes matching the glob (FILE is the glob), or those of the program, instead of
    /// running
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// Print the version
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// With -l: what each probe receives
    #[arg(short = 'v')]
    verbose: bool,
    /// Allow system() and signal()
    #[arg(long = "unsafe")]
    unsafe_calls: bool,
    /// Report failing probe reads and lookups of missing map keys as they happen
    #[arg(short = 'k')]
    helper_errors: bool,
    /// Print which features this kernel and bpfhook support, as `name: yes|no`
    #[arg(long)]
    info: bool,
    /// Accepted and ignored: there is no LLVM IR (bpfhook compiles scripts itself)
    #[arg(long = "verify-llvm-ir")]
    verify_llvm_ir: bool,
    /// Accepted: USDT semaphores are already counted in every process that maps the file
    /// (the kernel's uprobe reference counters), which is what bpftrace's flag asks for
    #[arg(long = "usdt-file-activation")]
    usdt_file_activation: bool,
    /// Compile only: nothing is loaded, attached or run
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Only the probes whose full name matches this regex (begin and end always run)
    #[arg(long = "probe-filter", value_name = "REGEX")]
    probe_filter: Option<String>,
    /// Do not print warnings
    #[arg(long = "no-warnings")]
    no_warnings: bool,
    /// `bench`: run every bench: probe many times and report its time per run, instead of
    /// attaching probes (begin and end still run)
    #[arg(long = "mode", value_name = "MODE")]
    mode: Option<String>,
    /// Same as --mode bench
    #[arg(long = "bench", conflicts_with = "mode")]
    bench: bool,
    /// Look for `#include` headers in DIR too (before the system directories)
    #[arg(short = 'I', long = "include-dir", value_name = "DIR")]
    include_dirs: Vec<std::path::PathBuf>,
    /// Read FILE's constants before the program's own includes (as `#include "FILE"`)
    #[arg(long = "include", value_name = "FILE")]
    include_files: Vec<String>,
    /// Look for uprobe binaries' separate debug files in DIR too (by build-id, debuglink or
    /// NAME.debug), after the standard places
    #[arg(long = "debuginfo", value_name = "DIR")]
    debug_dirs: Vec<std::path::PathBuf>,
    /// FILE (or the -l glob), then the positional parameters $1, $2, …; after `--`, named
    /// options for getopt() (`--name=value`)
    rest: Vec<String>,
}

pub fn trace(args: TraceArgs) -> Result<ExitCode> {
    if args.version {
        println!("bpftrace v{} (bpfhook trace)", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if args.info {
        print_info();
        return Ok(ExitCode::SUCCESS);
    }
    let pid = args.pid.as_deref().map(parse_pid).transpose()?;
    let format = match args.format.as_str() {
        "text" => OutputFormat::Text,
        "json" => OutputFormat::Json,
        other => bail!("Invalid output format \"{other}\"\nHINT: valid formats: text, json"),
    };
    if args.list {
        return list(&args).map(|()| ExitCode::SUCCESS);
    }
    let bench = match args.mode.as_deref() {
        None => args.bench,
        Some("bench") => true,
        Some(other) => bail!("--mode {other} is not supported: bpfhook trace runs `bench`"),
    };
    let (source_name, source, params) = read_script(&args)?;
    let mut settings = settings_from_environment();
    (settings.positional, settings.named) = split_params(params);
    settings.unsafe_calls = args.unsafe_calls;
    settings.helper_errors = args.helper_errors;
    settings.includes = bpfhook_lang::headers::IncludeOptions {
        dirs: args.include_dirs.clone(),
        files: args.include_files.clone(),
        script_dir: script_dir(&args),
    };
    settings.debug_dirs = args.debug_dirs.clone();
    settings.probe_filter = args
        .probe_filter
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("Invalid --probe-filter regex: {e}"))?;
    let child = args
        .command
        .as_deref()
        .map(PausedChild::spawn)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    settings.child_pid = child.as_ref().map(PausedChild::pid);
    settings.pid = pid;
    let script = match bpfhook_lang::compile(&source_name, &source, settings) {
        Ok(script) => script,
        Err(error) => {
            eprintln!("{}", error.rendered);
            return Ok(ExitCode::FAILURE);
        }
    };
    if !args.no_warnings && !script.warnings.is_empty() {
        eprintln!("{}", script.warnings);
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let writer: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout()),
    };
    let errors: Box<dyn Write> = if args.quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    };
    let mut out = output::new_output(format, writer, errors);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let options = RunOptions {
        bench,
        pid,
        quiet: args.quiet,
        warnings: !args.no_warnings,
        child,
        notify_attached: std::env::var("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_ok_and(|v| v == "1"),
        stop,
        unsafe_calls: args.unsafe_calls,
        verbose: args.verbose,
    };
    let code = runtime::run(&script.compiled, &script.analysis, options, out.as_mut())?;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `-p PID`, checked as bpftrace checks it: a number, and a process that exists.
fn parse_pid(text: &str) -> Result<u32> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let pid: u32 = match (digits, text.len()) {
        (0, _) => bail!("Failed to parse pid: invalid integer: {text}"),
        (n, len) if n < len => bail!("Failed to parse pid: invalid trailing bytes: {text}"),
        _ => text
            .parse()
            .with_context(|| format!("Failed to parse pid: out of range: {text}"))?,
    };
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .unwrap_or(u32::MAX);
    if pid == 0 || pid >= pid_max {
        bail!("Pid out of range: {pid}");
    }
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        bail!("No such process: {pid}");
    }
    Ok(pid)
}

/// `-l`: the probes of the program (`-e` or FILE), or every probe matching the glob.
fn list(args: &TraceArgs) -> Result<()> {
    let file = args
        .rest
        .first()
        .filter(|f| std::path::Path::new(f).is_file());
    let source = match (&args.program, file) {
        (Some(program), _) => Some(program.clone()),
        (None, Some(file)) => {
            Some(std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?)
        }
        (None, None) => None,
    };
    let pid = args.pid.as_deref().map(parse_pid).transpose()?;
    match source {
        Some(source) => {
            for name in bpfhook_lang::probe_names(&source, pid)
                .map_err(|e| anyhow::anyhow!("{}", e.rendered))?
            {
                println!("{name}");
            }
            Ok(())
        }
        None => match args.rest.first() {
            Some(pattern) if pattern.ends_with(".bt") => {
                eprintln!("WARNING: It appears that '{pattern}' is a filename but the file does not exist. Treating '{pattern}' as a search pattern.");
                crate::discover::list_hooks(
                    Some(pattern.clone()),
                    args.verbose,
                    args.debug_dirs.clone(),
                )
            }
            Some(pattern) if args.verbose && names_types(pattern) => list_types(pattern),
            pattern if pid.is_some() => list_in_process(pattern, pid.unwrap_or_default(), args),
            pattern => {
                crate::discover::list_hooks(pattern.cloned(), args.verbose, args.debug_dirs.clone())
            }
        },
    }
}

/// `-l [PATTERN] -p PID`: the uprobes and USDT probes of every file the process maps, named
/// by their full paths (`usdt:*:PROVIDER:NAME` matches in each; no pattern lists all).
fn list_in_process(pattern: Option<&String>, pid: u32, args: &TraceArgs) -> Result<()> {
    let kinds: &[&str] = match pattern.and_then(|p| p.split_once(':')) {
        Some(("uprobe" | "u", _)) => &["uprobe"],
        Some(("uretprobe" | "ur", _)) => &["uretprobe"],
        Some(("usdt" | "U", _)) => &["usdt"],
        _ if pattern.is_none() => &["uprobe", "usdt"],
        _ => {
            return crate::discover::list_hooks(
                pattern.cloned(),
                args.verbose,
                args.debug_dirs.clone(),
            )
        }
    };
    // What follows the binary: `*` when the pattern stops there (`usdt:*`).
    let rest = pattern.and_then(|p| p.splitn(3, ':').nth(2)).unwrap_or("*");
    let mut paths: Vec<_> = bpfhook::symbolize::process_mappings(pid)
        .ok_or_else(|| anyhow::anyhow!("cannot read the mappings of process {pid}"))?
        .into_iter()
        .map(|m| bpfhook::symbolize::path_in_process(pid, &m.path))
        .collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        for kind in kinds {
            let pattern = format!("{kind}:{}:{rest}", path.display());
            // A mapped file that is not ELF (or is gone) has no probes to list.
            let _ =
                crate::discover::list_hooks(Some(pattern), args.verbose, args.debug_dirs.clone());
        }
    }
    Ok(())
}

/// `-lv 'struct task_struct,struct file'`: kernel types, not hooks.
fn names_types(pattern: &str) -> bool {
    let first = pattern.trim_start();
    ["struct ", "union ", "enum "]
        .iter()
        .any(|kind| first.starts_with(kind))
}

/// Each type of a comma-separated list, defined as C from the kernel's BTF.
fn list_types(pattern: &str) -> Result<()> {
    let mut formatter = bpfhook::discover::Formatter::new();
    let mut out = std::io::stdout().lock();
    for name in pattern.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !formatter.describe_type(name, &mut out)? {
            bail!("{name} is not defined in the kernel's BTF");
        }
    }
    Ok(())
}

/// The script's name (for error messages), its text and the positional parameters.
fn read_script(args: &TraceArgs) -> Result<(String, String, Vec<String>)> {
    if let Some(program) = &args.program {
        return Ok(("stdin".to_owned(), program.clone(), params(&args.rest)));
    }
    let Some((file, rest)) = args.rest.split_first() else {
        bail!("USAGE: bpfhook trace [options] FILE | -e 'program' [params…] (see --help)");
    };
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the program from standard input")?;
        text
    } else if let Some(text) = embedded_tool(file) {
        text.to_owned()
    } else {
        std::fs::read_to_string(file).map_err(|e| {
            let text = e.to_string();
            anyhow::anyhow!(
                "failed to open file '{file}': {}",
                text.split(" (os error").next().unwrap_or(&text)
            )
        })?
    };
    let name = if file == "-" {
        "stdin".to_owned()
    } else {
        file.clone()
    };
    Ok((name, text, params(rest)))
}

/// The directory of the script FILE, where its `#include "x"` looks first (none for `-e`
/// and standard input: the current directory).
fn script_dir(args: &TraceArgs) -> Option<std::path::PathBuf> {
    let file = args.rest.first().filter(|_| args.program.is_none())?;
    let parent = std::path::Path::new(file).parent()?;
    (!parent.as_os_str().is_empty()).then(|| parent.to_owned())
}

/// `tools/NAME.bt` when no such file exists: the script of the ready-made tool NAME.
fn embedded_tool(file: &str) -> Option<&'static str> {
    let path = std::path::Path::new(file);
    if path.exists() || !file.starts_with("tools/") {
        return None;
    }
    bpfhook_tools::script(file)
}

/// The parameters after the program; a `--` separating named options is skipped.
fn params(rest: &[String]) -> Vec<String> {
    rest.iter()
        .filter(|p| p.as_str() != "--")
        .cloned()
        .collect()
}

/// Positional parameters (`$1`…) and named options (`--name=value`, `--flag`, read with
/// `getopt()`).
fn split_params(params: Vec<String>) -> (Vec<String>, Vec<(String, Option<String>)>) {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for param in params {
        match param.strip_prefix("--") {
            Some(option) => match option.split_once('=') {
                Some((name, value)) => named.push((name.to_owned(), Some(value.to_owned()))),
                None => named.push((option.to_owned(), None)),
            },
            None => positional.push(param),
        }
    }
    (positional, named)
}

/// `BPFTRACE_MAX_STRLEN`, `BPFTRACE_MAX_MAP_KEYS` (or `BPFTRACE_MAP_KEYS_MAX`),
/// `BPFTRACE_MAX_CAT_BYTES`, `BPFTRACE_STR_TRUNC_TRAILER`, `BPFTRACE_PERF_RB_PAGES`, `BPFTRACE_STACK_MODE`,
/// `BPFTRACE_MAX_STACK_FRAMES`/`BPFTRACE_STACK_MAX_FRAMES`, `BPFTRACE_LOG_SIZE` and `BPFTRACE_DUMMY_TS_MAP`, as
/// bpftrace reads them.
fn settings_from_environment() -> Settings {
    let mut settings = Settings::default();
    let number = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(n) = number(&["BPFTRACE_MAX_STRLEN"]) {
        settings.max_strlen = n.clamp(1, bpfhook_lang::sema::MAX_STRLEN) as u32;
    }
    if let Some(n) = number(&["BPFTRACE_MAX_MAP_KEYS", "BPFTRACE_MAP_KEYS_MAX"]) {
        settings.max_map_keys = n.clamp(1, 1 << 24) as u32;
    }
    if let Some(mode) = std::env::var("BPFTRACE_STACK_MODE")
        .ok()
        .and_then(|m| bpfhook_lang::types::StackMode::parse(m.trim()))
    {
        settings.stack_mode = mode;
    }
    if let Some(n) = number(&["BPFTRACE_PERF_RB_PAGES"]) {
        settings.perf_rb_pages = n.clamp(1, 1 << 16) as u32;
    }
    if let Ok(trailer) = std::env::var("BPFTRACE_STR_TRUNC_TRAILER") {
        settings.str_trunc_trailer = trailer;
    }
    if let Some(n) = number(&["BPFTRACE_MAX_CAT_BYTES"]) {
        settings.max_cat_bytes = n;
    }
    if let Some(n) = number(&["BPFTRACE_LOG_SIZE"]) {
        settings.log_size = n;
    }
    if let Some(n) = number(&["BPFTRACE_MAX_STACK_FRAMES", "BPFTRACE_STACK_MAX_FRAMES"]) {
        settings.max_stack_frames = n.clamp(1, 127) as u32;
    }
    settings.dummy_ts_map = std::env::var("BPFTRACE_DUMMY_TS_MAP").ok();
    settings
}

/// `--info`: what this kernel offers and what bpfhook's language supports, `name: yes|no`.
fn print_info() {
    let yes = |ok: bool| if ok { "yes" } else { "no" };
    let mut uname: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct.
    unsafe { libc::uname(&mut uname) };
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname's fields are NUL-terminated.
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    println!("System");
    println!(
        "  OS: {} {} {}",
        field(&uname.sysname),
        field(&uname.release),
        field(&uname.version)
    );
    println!("  Arch: {}", std::env::consts::ARCH);
    println!();
    println!("Build");
    println!("  version: bpfhook {}", env!("CARGO_PKG_VERSION"));
    println!("  LLVM: none (scripts are compiled by bpfhook itself)");
    // Our own DWARF reader (gimli): uprobe `args`, their types and `-lv` parameters.
    println!("  libdw (DWARF support): yes");
    println!("  blazesym (advanced symbolization): no");
    // bpftrace's name for it: `uprobe:libc:fn` finds libc through the linker's cache and
    // the library paths (bpfhook's own resolution, no BCC).
    println!("  bcc library path resolution: yes");
    println!();
    println!("Kernel features");
    println!("  Loop support: yes");
    println!("  probe_read_kernel: yes");
    println!(
        "  btf: {}",
        yes(std::path::Path::new("/sys/kernel/btf/vmlinux").exists())
    );
    // Helper ids from the kernel's `enum bpf_func_id`, each probed by loading a call of it.
    for (name, helper) in [
        ("send_signal", Helper::SendSignal),
        ("get_ktime_ns", Helper::KtimeGetTaiNs),
        ("jiffies64", Helper::Jiffies64),
        ("lookup_percpu_elem", Helper::MapLookupPercpuElem),
        ("probe_write_user", Helper::ProbeWriteUser),
    ] {
        println!("  {name}: {}", yes(features::has_helper(helper as u32)));
    }
    // `func` in uprobes and uretprobes: uprobes are kprobe-type programs.
    println!(
        "  get_func_ip: {}",
        yes(features::has_helper_in(
            features::HelperContext::Probe,
            Helper::GetFuncIp as u32
        ))
    );
    println!();
    println!("Probe types");
    println!(
        "  kprobe: {}",
        yes(features::check(Feature::Kprobes).is_ok())
    );
    println!(
        "  uprobe: {}",
        yes(features::check(Feature::Uprobes).is_ok())
    );
    println!("  tracepoint: yes");
    println!("  rawtracepoint: yes");
    println!("  profile: yes");
    println!("  interval: yes");
    println!("  software: yes");
    println!("  hardware: yes");
    println!(
        "  fentry: {}",
        yes(features::check(Feature::Fentry).is_ok())
    );
    println!("  kprobe_multi: no");
    println!("  kprobe_session: no");
    println!(
        "  uprobe_multi: {}",
        yes(features::check(Feature::UprobeMulti).is_ok())
    );
    // USDT probes are uprobes at the notes' sites.
    println!("  usdt: {}", yes(features::check(Feature::Uprobes).is_ok()));
    println!("  iter: {}", yes(features::check(Feature::Iter).is_ok()));
}
