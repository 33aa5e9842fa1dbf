//! `bpfhook run FILE.o [options] [-- CMD ARGS…]`.

mod output;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use bpfhook::decode::RecordDecoder;
use bpfhook::events::{EventLoop, EventOptions, SeqOffset};
use bpfhook::inspect::maps::OpenMap;
use bpfhook::inspect::InspectError;
use bpfhook::manager::{Manager, ProgramState};
use bpfhook::object::ObjectFile;
use clap::Args;
use output::Output;

use crate::session::Session;

#[derive(Args)]
pub struct RunArgs {
    /// The eBPF object (ELF .o from `clang -O2 -g -target bpf -c`), or a C source to compile first
    file: PathBuf,
    #[command(flatten)]
    compile: crate::build::CompileArgs,
    #[command(flatten)]
    targets: crate::targets::TargetArgs,
    /// Keep running the programs that attached when others fail
    #[arg(long)]
    keep_going: bool,
    /// Stop after this many seconds
    #[arg(long, short = 'd')]
    duration: Option<f64>,
    /// Do not read bpf_printk output
    #[arg(long)]
    no_printk: bool,
    /// Do not read the object's ring buffers and perf event arrays
    #[arg(long)]
    no_events: bool,
    /// Count records instead of printing them (the summary at exit still shows the counts)
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Records carry a u64 sequence number at this byte offset: count the numbers missing
    /// (default: the offset of a u64 `seq` member of the record type, if it has one)
    #[arg(long, value_name = "N")]
    seq_offset: Option<usize>,
    /// Data pages per CPU for each perf event array (a power of two)
    #[arg(long, default_value_t = 64, value_name = "PAGES")]
    perf_pages: usize,
    /// Decode records as this struct/union/typedef of the object's BTF (default: `struct event`,
    /// if the object has one; otherwise records print as hex)
    #[arg(long, value_name = "TYPE")]
    event_type: Option<String>,
    /// Newline-delimited JSON: attach notices, printk lines, records, losses, summaries, maps
    #[arg(long)]
    json: bool,
    /// Command to run once attached; bpfhook stops when it exits
    #[arg(last = true)]
    command: Vec<String>,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let object = ObjectFile::from_path(crate::build::object_for(&args.file, &args.compile)?)?;
    let builder = args.targets.builder(&object).keep_going(args.keep_going);
    // Checked before attaching, so a bad --event-type leaves nothing behind.
    let decoder = RecordDecoder::new(object.loader_bytes(), args.event_type.as_deref())?;
    // The readers open on the maps before any program is attached, so no record is written
    // where no reader is yet (a perf event array drops those). If opening them fails, nothing
    // is attached and returning frees the maps.
    let loaded = builder.load()?;
    let event_options = EventOptions {
        printk: !args.no_printk,
        records: !args.no_events,
        perf_pages: args.perf_pages,
        // A record type with a u64 `seq` member counts gaps without being asked.
        seq_offset: args.seq_offset.or(decoder.seq_offset()).map(SeqOffset),
    };
    let mut events = EventLoop::new(&event_options, loaded.maps())?;
    let manager = loaded.attach()?;

    let stdout = std::io::stdout();
    let mut out = Output::new(std::io::BufWriter::new(stdout.lock()), args.json, decoder);
    let mut attached = 0;
    for status in manager.status() {
        match &status.state {
            ProgramState::Attached(target) => {
                attached += 1;
                out.attached(&status.name, &target.to_string())?;
            }
            ProgramState::Failed(reason) => {
                out.failed(&status.name, &status.hook.to_string(), reason)?
            }
            ProgramState::Skipped => {}
        }
    }
    if attached == 0 {
        return Err(anyhow!("no program attached"));
    }
    if !args.no_events && !args.quiet {
        out.record_type()?;
    }
    // Iterators run when read: once each, now that everything is attached (as `bpftool iter
    // pin` then `cat` would).
    for status in manager.status() {
        if let Some(file) = manager.open_iterator(&status.name) {
            let text = std::io::read_to_string(file?)
                .with_context(|| format!("reading the iterator of {}", status.name))?;
            out.iterator(&status.name, &text)?;
        }
    }
    out.flush()?;

    let mut session = Session::start(args.duration, &args.command)?;
    let quiet = args.quiet;
    let mut failure = None;
    session.run(&mut events, |event| {
        if !quiet && failure.is_none() {
            failure = out.event(event).err();
        }
    })?;
    drop(session);
    if let Some(error) = failure {
        return Err(error);
    }
    for stats in events.stats() {
        out.summary(&stats)?;
    }
    print_maps(&manager, &mut out)?;
    for status in manager.status() {
        if matches!(status.state, ProgramState::Attached(_)) {
            out.detached(&status.name)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Every keyed map of the object, typed through its BTF (hex without), in name order.
fn print_maps(manager: &Manager, out: &mut Output<impl Write>) -> Result<()> {
    let mut maps: Vec<_> = manager
        .maps()
        // Read-only data holds the program's constants: not results.
        .filter(|(name, _)| !name.starts_with(".rodata"))
        .filter_map(|(name, map)| Some((name, bpfhook::maps::id(map)?)))
        .collect();
    maps.sort_by_key(|(name, _)| *name);
    for (_, id) in maps {
        match OpenMap::open(id).and_then(|map| map.dump()) {
            Ok(dump) => out.map(&dump)?,
            // Rings, perf arrays, program arrays… have no entries to show.
            Err(InspectError::NotKeyed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
