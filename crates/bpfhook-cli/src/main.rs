//! The `bpfhook` command: argument parsing and presentation. Kernel work lives in the library.

mod asm;
mod btf;
mod build;
mod discover;
mod execsnoop;
mod exporter;
mod inspect;
mod pinned;
mod run;
mod seccomp;
mod session;
mod targets;
mod tools;
mod top;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bpfhook",
    version,
    about = "Load eBPF programs and attach them to every kind of kernel hook"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load an eBPF object, attach every program to its hook, stream bpf_printk output, print maps at exit
    Run(Box<run::RunArgs>),
    /// Run a bpftrace program (`-e 'PROGRAM'`, FILE or `-`), compiled by bpfhook itself: no LLVM
    Trace(Box<trace::TraceArgs>),
    /// Load and attach like `run`, pin every link, program and map under DIR on bpffs, and exit: the programs keep running
    Load(Box<pinned::LoadArgs>),
    /// Detach and remove what `load --pin DIR` pinned (exactly what DIR's manifest lists)
    Unload(pinned::UnloadArgs),
    /// Pins on bpffs, marked with the `load --pin` directory they belong to
    ListPins(pinned::ListPinsArgs),
    /// Trace every exec on the system (like BCC's execsnoop); needs no clang
    Execsnoop(execsnoop::ExecsnoopArgs),
    /// Run a command under a seccomp filter (the system-call hook; classic BPF) and report what it did
    Seccomp(seccomp::SeccompArgs),
    /// Assemble eBPF in the verifier's syntax into an object (`bpfhook asm prog.s -o prog.o`)
    Asm(asm::AsmArgs),
    /// Compile a C source of eBPF programs (clang, with a generated vmlinux.h; cached)
    Build(build::BuildArgs),
    /// Work with BTF type information
    #[command(subcommand)]
    Btf(btf::BtfCommand),
    /// Loaded programs: list, show ID, dump ID (translated instructions)
    Prog(inspect::ProgArgs),
    /// Maps: list, show, dump, lookup, update, delete (keys and values typed through BTF)
    Map(inspect::MapArgs),
    /// Links and what they attach to
    Link(inspect::LinkArgs),
    /// Pin a program, map or link by id on bpffs: pin prog|map|link ID PATH
    Pin(inspect::PinArgs),
    /// Remove a pin from bpffs
    Unpin(inspect::UnpinArgs),
    /// Live view of loaded programs by CPU use (turns run-time statistics on while running)
    Top(top::TopArgs),
    /// List every hook this kernel offers (bpftrace notation), filtered by a glob
    List(discover::ListArgs),
    /// Show what a program at a hook receives: tracepoint fields, a function's prototype, …
    Format(discover::FormatArgs),
    /// Search /proc/kallsyms: address, type, name, module
    Kallsyms(discover::KallsymsArgs),
    /// Serve eBPF maps as Prometheus metrics (ebpf_exporter-compatible configs); SIGHUP reloads
    Exporter(Box<exporter::ExporterArgs>),
    #[command(flatten)]
    Tool(tools::ToolCommand),
}

fn main() -> ExitCode {
    // A link named `bpftrace` makes the binary a drop-in for bpftrace's command line.
    let invoked_as = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    if invoked_as.as_deref() == Some("bpftrace") {
        return trace::main_as_bpftrace();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Trace(args) => return trace::report(trace::trace(*args)),
        Command::Load(args) => pinned::load(*args).map(|()| ExitCode::SUCCESS),
        Command::Unload(args) => pinned::unload(args).map(|()| ExitCode::SUCCESS),
        Command::ListPins(args) => pinned::list_pins(args).map(|()| ExitCode::SUCCESS),
        Command::Execsnoop(args) => execsnoop::execsnoop(args),
        Command::Seccomp(args) => seccomp::seccomp(args),
        Command::Asm(args) => asm::asm(args).map(|()| ExitCode::SUCCESS),
        Command::Build(args) => build::build(args).map(|()| ExitCode::SUCCESS),
        Command::Btf(command) => btf::btf(command).map(|()| ExitCode::SUCCESS),
        Command::Prog(args) => inspect::prog(args).map(|()| ExitCode::SUCCESS),
        Command::Map(args) => inspect::map(args).map(|()| ExitCode::SUCCESS),
        Command::Link(args) => inspect::link(args).map(|()| ExitCode::SUCCESS),
        Command::Pin(args) => inspect::pin(args).map(|()| ExitCode::SUCCESS),
        Command::Unpin(args) => inspect::unpin(args).map(|()| ExitCode::SUCCESS),
        Command::Top(args) => top::top(args).map(|()| ExitCode::SUCCESS),
        Command::List(args) => discover::list(args).map(|()| ExitCode::SUCCESS),
        Command::Format(args) => discover::format(args).map(|()| ExitCode::SUCCESS),
        Command::Kallsyms(args) => discover::kallsyms(args).map(|()| ExitCode::SUCCESS),
        Command::Exporter(args) => exporter::exporter(*args),
        Command::Tool(command) => tools::run(command),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`bpfhook btf dump | head`) means the reader has what it wanted.
        Err(error) if is_broken_pipe(error.as_ref()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bpfhook: {}", describe(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line each, skipping causes the message already quotes.
/// An error and each cause it does not already say, joined by `: `.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        cause = e.source();
    }
    message
}

fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(error), |e| e.source()).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
