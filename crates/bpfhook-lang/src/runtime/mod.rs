//! Running a compiled script: load the object through the Manager, run `begin` probes, attach
//! the rest, turn event records into output until `exit()`, a signal or the `-c` command's
//! end, then detach the probes, run `end` probes, print the maps and unload everything (by
//! dropping the Manager). `--mode bench` runs the `bench:` probes instead of attaching any.

mod bench;
mod child;
mod decode;
mod maps;
mod pcap;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bpfhook::events::{Event, EventLoop, EventOptions};
use bpfhook::loader::VerifierLog;
use bpfhook::manager::{Manager, ManagerBuilder, ManagerError};
use bpfhook::object::ObjectFile;

pub use child::PausedChild;
pub use decode::{format_time, Decoder};
pub use maps::possible_cpus;

use crate::codegen::{
    Compiled, CompiledProbe, EventKind, HEADER_SIZE, PACKETS_MAP, STACKS_MAP, START_MAP,
};
use crate::output::{Format, Output, Value};
use crate::probes::ProbeKind;
use crate::sema::Analysis;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the generated object: {0}")]
    Object(#[from] bpfhook::object::ObjectError),
    #[error(transparent)]
    Manager(ManagerError),
    /// A probe that failed to load or attach, named as the script names it.
    #[error("{probe}: {error}")]
    Probe {
        probe: String,
        #[source]
        error: Box<bpfhook::attach::AttachError>,
    },
    /// A uprobe's place failed a check; the message names it.
    #[error("{0}")]
    Placement(Box<bpfhook::attach::AttachError>),
    #[error("reading events: {0}")]
    Events(#[from] bpfhook::events::EventsError),
    #[error("reading map {map}: {error}")]
    Map {
        map: String,
        error: bpfhook::sys::SyscallError,
    },
    #[error("running {probe}: {error}")]
    RunOnce {
        probe: String,
        error: bpfhook::sys::SyscallError,
    },
    /// `-v`: a program the kernel refused, as bpftrace reports it, with the kernel's log.
    #[error("Error loading BPF program for {program}. Error code: -{errno} ({reason}).\nKernel error log: \n{log}{}", trimmed_warning(*.errno, *.log_size))]
    Load {
        program: String,
        errno: i32,
        reason: String,
        log: String,
        log_size: u64,
    },
    /// An iterator whose reading failed (the kernel stopped it, or it could not be opened).
    #[error("{probe}: reading the iterator: {error}")]
    Iterator {
        probe: String,
        error: std::io::Error,
    },
    #[error("{0}")]
    Child(String),
    #[error("{0}")]
    NoProbes(&'static str),
    #[error("installing the SIGUSR1 handler of self:signal probes: {0}")]
    Signal(std::io::Error),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    #[error(transparent)]
    Pcap(#[from] pcap::PcapError),
}

impl From<ManagerError> for RuntimeError {
    /// The program's name in the object means nothing to the script's author; its probe does.
    fn from(error: ManagerError) -> Self {
        match error {
            // bpftrace's words name the binary and the place already.
            ManagerError::Program { error, .. }
                if matches!(*error, bpfhook::attach::AttachError::Placement(_)) =>
            {
                RuntimeError::Placement(error)
            }
            ManagerError::Program { hook, error, .. } => RuntimeError::Probe { probe: hook, error },
            other => RuntimeError::Manager(other),
        }
    }
}

/// strerror's words for an OS error, without Rust's ` (os error N)`.
pub(crate) fn os_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_owned()
}

/// A full log buffer fails the load with ENOSPC: say which knob makes room.
fn trimmed_warning(errno: i32, log_size: u64) -> String {
    if errno != libc::ENOSPC {
        return String::new();
    }
    format!("\nWARNING: Kernel log seems to be trimmed: the verifier's log filled all {log_size} bytes of its buffer; raise BPFTRACE_LOG_SIZE or set `config = {{ log_size = N }}`.")
}

/// With `-v`, a refusal of the verifier in bpftrace's words: the program named as bpftrace
/// names it (the probe, `_`, its position in the script).
fn verbose_refusal(error: RuntimeError, compiled: &Compiled, analysis: &Analysis) -> RuntimeError {
    let RuntimeError::Probe { probe, error } = error else {
        return error;
    };
    let bpfhook::attach::AttachError::Verifier { io_error, log } = *error else {
        return RuntimeError::Probe { probe, error };
    };
    let index = compiled
        .probes
        .iter()
        .position(|p| p.instance.name == probe)
        .map_or(1, |i| i + 1);
    let name: String = probe
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let errno = io_error.raw_os_error().unwrap_or(0);
    RuntimeError::Load {
        program: format!("{name}_{index}"),
        errno,
        reason: os_reason(&std::io::Error::from_raw_os_error(errno)),
        log,
        log_size: analysis.settings.log_size,
    }
}

/// How to run.
#[derive(Default)]
pub struct RunOptions {
    /// `-p PID`: uprobes and perf events only in this process.
    pub pid: Option<u32>,
    /// The `-c` command, started paused; released once every probe is attached.
    pub child: Option<PausedChild>,
    /// `__BPFTRACE_NOTIFY_PROBES_ATTACHED=1`: say so on stdout once attached.
    pub notify_attached: bool,
    /// Set by SIGINT/SIGTERM handlers: stop, print maps, detach.
    pub stop: Arc<AtomicBool>,
    /// `--unsafe`: `system()` runs commands.
    pub unsafe_calls: bool,
    /// `--no-warnings` turns `warnf()` off.
    pub warnings: bool,
    /// `-q`: no `Attached N probes`.
    pub quiet: bool,
    /// `--mode bench`: run the `bench:` probes (between begin and end) instead of attaching
    /// anything.
    pub bench: bool,
    /// `-v`: every program loads with a verifier log of `log_size` bytes, and a refusal is
    /// told in bpftrace's words with the whole log.
    pub verbose: bool,
}

/// The order to attach in, so that probes on one hook run in script order: the kernel runs
/// the programs of a uprobe, kprobe or trampoline newest first, so those attach last to first
/// (after the others, as bpftrace does).
fn attach_order(probes: &[&CompiledProbe]) -> Vec<String> {
    let newest_first = |probe: &&&CompiledProbe| {
        matches!(
            probe.instance.kind,
            ProbeKind::Uprobe { .. }
                | ProbeKind::Usdt { .. }
                | ProbeKind::Kprobe { ret: false, .. }
                | ProbeKind::Fentry { .. }
        )
    };
    let in_order = probes.iter().filter(|p| !newest_first(p));
    let reversed = probes.iter().rev().filter(newest_first);
    in_order
        .chain(reversed)
        .map(|p| p.program.clone())
        .collect()
}

/// Each program's attach options: its instance's, and for a program several uprobe instances
/// share (one uprobe.multi link), every function.
fn attach_options(
    probes: &[&CompiledProbe],
    pid: Option<u32>,
    unsafe_calls: bool,
) -> Vec<(String, bpfhook::attach::AttachOptions)> {
    let mut by_program: Vec<(String, bpfhook::attach::AttachOptions)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for probe in probes {
        let symbol = match &probe.instance.kind {
            ProbeKind::Uprobe { symbol, .. } => Some(symbol.clone()),
            _ => None,
        };
        let at = *index.entry(probe.program.clone()).or_insert_with(|| {
            let attach = probe.instance.attach_options(pid, unsafe_calls);
            by_program.push((probe.program.clone(), attach));
            by_program.len() - 1
        });
        by_program[at].1.functions.extend(symbol);
    }
    by_program
}

/// The names once each, in first-seen order.
fn unique(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// Loads, attaches and runs until the script ends; returns the exit code (`exit(N)`).
pub fn run(
    compiled: &Compiled,
    analysis: &Analysis,
    mut options: RunOptions,
    output: &mut dyn Output,
) -> Result<i32, RuntimeError> {
    let object = ObjectFile::parse(&compiled.elf)?;
    let attached: Vec<_> = compiled
        .probes
        .iter()
        .filter(|p| !p.instance.is_run_once())
        .collect();
    if !options.bench
        && attached.is_empty()
        && compiled
            .probes
            .iter()
            .all(|p| matches!(p.instance.kind, ProbeKind::Bench { .. }))
    {
        return Err(RuntimeError::NoProbes(
            "No probes attached; use --mode bench to run benchmark probes.",
        ));
    }
    // A benchmark run attaches nothing.
    let selected = attached.iter().filter(|_| !options.bench);
    let verifier_log = match options.verbose {
        true => VerifierLog::Always(analysis.settings.log_size as usize),
        false => VerifierLog::OnFailure,
    };
    let refusal = |error: RuntimeError| match options.verbose {
        true => verbose_refusal(error, compiled, analysis),
        false => error,
    };
    let mut builder = ManagerBuilder::new(&object)
        .verifier_log(verifier_log)
        .select(unique(selected.map(|p| p.program.clone())))
        .attach_order(unique(attach_order(&attached)));
    for (program, attach) in attach_options(&attached, options.pid, options.unsafe_calls) {
        builder = builder.program_options(&program, attach);
    }
    let loaded = builder.load()?;
    write_start_time(&loaded);
    let pcaps = pcap::PcapFiles::create(&compiled.events.pcaps)?;
    let events = EventLoop::new(
        &EventOptions {
            printk: false,
            ..EventOptions::default()
        },
        loaded.maps(),
    )?;
    // begin/end/signal programs are loaded (verified) before anything attaches.
    let mut run_once: Vec<(ProbeKind, String, OwnedFd)> = Vec::new();
    for probe in compiled.probes.iter().filter(|p| p.instance.is_run_once()) {
        let fd = loaded
            .load_unattached(&probe.program)
            .map_err(|error| match error {
                ManagerError::Program { error, .. } => RuntimeError::Probe {
                    probe: probe.instance.name.clone(),
                    error,
                },
                other => other.into(),
            })
            .map_err(refusal)?;
        run_once.push((probe.instance.kind.clone(), probe.instance.name.clone(), fd));
    }
    let run = |kind: &ProbeKind| -> Result<(), RuntimeError> {
        for (_, name, fd) in run_once.iter().filter(|(k, ..)| k == kind) {
            bpfhook::sys::prog_run_once(fd.as_fd()).map_err(|error| RuntimeError::RunOnce {
                probe: name.clone(),
                error,
            })?;
        }
        Ok(())
    };
    // `self:signal:SIGUSR1` probes run in this loop each time the signal arrives.
    let usr1 = ProbeKind::Signal {
        signal: libc::SIGUSR1,
    };
    let signalled = Arc::new(AtomicBool::new(false));
    if run_once.iter().any(|(kind, ..)| *kind == usr1) {
        signal_hook::flag::register(libc::SIGUSR1, Arc::clone(&signalled))
            .map_err(RuntimeError::Signal)?;
    }
    // As bpftrace: begin probes run before the others attach, so those see what begin set
    // (`@start = nsecs`); what begin prints waits in the ring buffer until the run reads it.
    run(&ProbeKind::Begin)?;
    let manager = loaded
        .attach()
        .map_err(|e| refusal(RuntimeError::from(e)))?;
    let mut session = Session {
        compiled,
        analysis,
        manager,
        events,
        decoder: Decoder::new(compiled.events.strftime_formats.clone(), &analysis.settings),
        formats: compiled
            .events
            .printf
            .iter()
            .map(|call| Format::parse(&call.format).ok())
            .collect(),
        pcaps,
        exit_code: None,
        shows_past_exit: false,
        unsafe_calls: options.unsafe_calls,
        warnings: options.warnings,
        stop: Arc::clone(&options.stop),
    };
    session.decoder.stacks = session.stack_reader();
    for probe in &attached {
        if let ProbeKind::Uprobe { binary, .. } | ProbeKind::Usdt { binary, .. } =
            &probe.instance.kind
        {
            session.decoder.add_program(binary);
        }
    }
    if !options.quiet && !options.bench {
        // Bench probes run only in bench mode.
        let probes = compiled.probes.iter();
        let counted = probes.filter(|p| {
            !matches!(p.instance.kind, ProbeKind::Bench { .. }) && !p.instance.is_further_site()
        });
        output.attached(counted.count() as u64)?;
    }
    if options.notify_attached {
        // Raw on stdout, whatever the format: the test runners wait for this line.
        let mut stdout = std::io::stdout();
        writeln!(stdout, "__BPFTRACE_NOTIFY_PROBES_ATTACHED")?;
        stdout.flush()?;
    }
    let mut child = options.child.take();
    if let Some(child) = child.as_mut() {
        child.release().map_err(RuntimeError::Child)?;
    }
    session.drain(output)?;
    let is_iterator = |p: &&&CompiledProbe| matches!(p.instance.kind, ProbeKind::Iter { .. });
    if !options.bench {
        let iterators: Vec<_> = attached.iter().filter(is_iterator).collect();
        session.run_iterators(&iterators, output)?;
    }
    // A program of only begin/end probes and iterators ends by itself; one waiting for a
    // signal does not.
    let only_run_once = options.bench
        || attached.iter().all(|p| is_iterator(&p)) && !run_once.iter().any(|(k, ..)| *k == usr1);
    if options.bench {
        let benches: Vec<(String, std::os::fd::BorrowedFd<'_>)> = run_once
            .iter()
            .filter_map(|(kind, _, fd)| match kind {
                ProbeKind::Bench { name } => Some((name.clone(), fd.as_fd())),
                _ => None,
            })
            .collect();
        session.run_benchmarks(&benches, output)?;
    }
    while session.exit_code.is_none() && !only_run_once && !options.stop.load(Ordering::Relaxed) {
        if signalled.swap(false, Ordering::Relaxed) {
            run(&usr1)?;
        }
        session.poll(output, Duration::from_millis(100))?;
        let child_exited = child.as_mut().is_some_and(PausedChild::exited);
        if child_exited || options.pid.is_some_and(|pid| !process_exists(pid)) {
            session.poll(output, Duration::from_millis(50))?;
            break;
        }
    }
    // As bpftrace: nothing fires once the script is over; end probes and the maps see the
    // state it ended with.
    session.manager.detach();
    // What the probes wrote before they stopped still prints, unless a signal stopped the run:
    // then it may be a flood (a probe calling system() on every context switch) that would
    // keep the run from ever ending.
    if options.stop.load(Ordering::Relaxed) {
        session.discard_pending()?;
    } else {
        session.drain(output)?;
    }
    session.shows_past_exit = true;
    run(&ProbeKind::End)?;
    session.drain(output)?;
    session.print_all_maps(output)?;
    drop(child);
    Ok(session.exit_code.unwrap_or(0))
}

/// Whether process `pid` (`-p`) still runs: as in bpftrace, the script ends when it does.
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let gone = unsafe { libc::kill(pid, 0) } != 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    !gone
}

fn write_start_time(loaded: &bpfhook::manager::Loaded) {
    let Some((_, map)) = loaded.maps().find(|(name, _)| *name == START_MAP) else {
        return;
    };
    // SAFETY: clock_gettime writes one timespec.
    let now = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    };
    let _ = bpfhook::sys::map_update(
        bpfhook::maps::fd(map),
        &0u32.to_le_bytes(),
        &now.to_le_bytes(),
        0,
    );
}

/// What the event loop handed over, copied out of its ring.
enum Received {
    /// A record of the `events` ring buffer.
    Event(Vec<u8>),
    /// A packet of `skboutput()`.
    Packet(Vec<u8>),
    /// Packets the perf buffer had no room for.
    Lost(u64),
    Other,
}

impl From<Event<'_>> for Received {
    fn from(event: Event<'_>) -> Self {
        match event {
            Event::Record { map, data, .. } if map == PACKETS_MAP => {
                Received::Packet(data.to_vec())
            }
            Event::Record { data, .. } => Received::Event(data.to_vec()),
            Event::Lost { count, .. } => Received::Lost(count),
            Event::Printk(_) => Received::Other,
        }
    }
}

struct Session<'a> {
    compiled: &'a Compiled,
    analysis: &'a Analysis,
    manager: Manager,
    events: EventLoop,
    decoder: Decoder,
    /// Each formatted call's format, parsed once (None: printed as written).
    formats: Vec<Option<Format>>,
    pcaps: pcap::PcapFiles,
    exit_code: Option<i32>,
    /// End probes or iterators run: their records show even after `exit()` (an iterator's
    /// output is all it walked, as its file's contents are in bpftrace).
    shows_past_exit: bool,
    unsafe_calls: bool,
    warnings: bool,
    /// The run's stop flag (a signal): records still queued then are dropped.
    stop: Arc<AtomicBool>,
}

impl Session<'_> {
    fn poll(&mut self, output: &mut dyn Output, timeout: Duration) -> Result<(), RuntimeError> {
        let mut records = Vec::new();
        self.events
            .poll(timeout, |event| records.push(Received::from(event)))?;
        for record in records {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            self.receive(record, output)?;
        }
        Ok(())
    }

    fn receive(&mut self, record: Received, output: &mut dyn Output) -> Result<(), RuntimeError> {
        match record {
            Received::Event(data) => self.handle(&data, output),
            Received::Packet(data) => Ok(self.pcaps.write(&data)?),
            Received::Lost(count) => Ok(output.lost(count)?),
            Received::Other => Ok(()),
        }
    }

    /// Reads what is queued without acting on it.
    fn discard_pending(&mut self) -> Result<(), RuntimeError> {
        self.events.drain_all(|_| {})?;
        Ok(())
    }

    fn drain(&mut self, output: &mut dyn Output) -> Result<(), RuntimeError> {
        let mut records = Vec::new();
        self.events
            .drain_all(|event| records.push(Received::from(event)))?;
        for record in records {
            self.receive(record, output)?;
        }
        Ok(())
    }

    /// Reads each iterator to its end (which runs its program over every object), printing
    /// what it emits meanwhile: a reader thread keeps the ring buffer from filling up while
    /// the kernel walks. The programs write nothing into the file itself; what they print
    /// goes through the ring buffer as every probe's does.
    fn run_iterators(
        &mut self,
        iterators: &[&&CompiledProbe],
        output: &mut dyn Output,
    ) -> Result<(), RuntimeError> {
        self.shows_past_exit = true;
        for probe in iterators {
            let failed = |error| RuntimeError::Iterator {
                probe: probe.instance.name.clone(),
                error,
            };
            let mut file = match self.manager.open_iterator(&probe.program) {
                Some(Ok(file)) => file,
                Some(Err(error)) => return Err(failed(std::io::Error::other(error.to_string()))),
                None => return Err(failed(std::io::Error::other("not attached"))),
            };
            let reader = std::thread::spawn(move || std::io::copy(&mut file, &mut std::io::sink()));
            while !reader.is_finished() {
                self.poll(output, Duration::from_millis(10))?;
            }
            match reader.join() {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(failed(error)),
                Err(_) => return Err(failed(std::io::Error::other("the reader thread panicked"))),
            }
            self.drain(output)?;
        }
        self.shows_past_exit = false;
        Ok(())
    }

    /// One record from the `events` ring buffer.
    fn handle(&mut self, record: &[u8], output: &mut dyn Output) -> Result<(), RuntimeError> {
        if self.exit_code.is_some() && !self.shows_past_exit {
            // After exit() the script is over until its end probes run (as in bpftrace).
            return Ok(());
        }
        let header = decode::read_uint(record, 8);
        let (kind, index) = (header as u32, (header >> 32) as usize);
        let payload = record.get(HEADER_SIZE as usize..).unwrap_or_default();
        let events = &self.compiled.events;
        match EventKind::from_u32(kind) {
            Some(
                EventKind::Printf
                | EventKind::System
                | EventKind::Cat
                | EventKind::Errorf
                | EventKind::Warnf,
            ) => {
                let Some(call) = events.printf.get(index) else {
                    return Ok(());
                };
                let args: Vec<Value> = call
                    .args
                    .fields
                    .iter()
                    .map(|f| {
                        self.decoder
                            .value(payload.get(f.offset as usize..).unwrap_or_default(), &f.ty)
                    })
                    .collect();
                let text = match self.formats.get(index).and_then(Option::as_ref) {
                    Some(format) => format.render(&args),
                    None => call.format.clone(),
                };
                match EventKind::from_u32(kind) {
                    Some(EventKind::Printf) => output.printf(&text)?,
                    Some(EventKind::System) => self.system(&text, output)?,
                    Some(EventKind::Cat) => {
                        cat(&text, self.analysis.settings.max_cat_bytes, output)?
                    }
                    Some(EventKind::Errorf) => {
                        eprintln!("{}: ERROR: {text}{}", call.location, call.expanded_from)
                    }
                    Some(_) if self.warnings => {
                        eprintln!("{}: WARNING: {text}{}", call.location, call.expanded_from)
                    }
                    Some(_) | None => {}
                }
            }
            Some(EventKind::HelperError) => {
                if let Some(site) = events.helper_sites.get(index) {
                    output.helper_error(&crate::output::HelperError {
                        helper: site.helper.to_owned(),
                        code: decode::read_uint(payload, 8) as i64,
                        file: site.file.clone(),
                        line: site.line,
                        column: site.column,
                        location: site.location.clone(),
                        excerpt: site.excerpt.clone(),
                    })?;
                }
            }
            Some(EventKind::PrintValue) => {
                if let Some(ty) = events.values.get(index) {
                    let value = self.decoder.value(payload, ty);
                    output.value(&value)?;
                }
            }
            Some(EventKind::PrintMap) => {
                if let Some(print) = events.print_maps.get(index).cloned() {
                    self.print_map(&print.map, print.top as usize, print.div, output)?;
                }
            }
            Some(EventKind::ClearMap | EventKind::ZeroMap) => {
                if let Some(name) = events.maps.get(index).cloned() {
                    self.clear_map(&name, kind == EventKind::ZeroMap as u32)?;
                }
            }
            Some(EventKind::Exit) => {
                self.exit_code = Some(decode::read_uint(payload, 8) as i32);
            }
            Some(EventKind::Time) => {
                if let Some(format) = events.time_formats.get(index) {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    let text = format_time(
                        format,
                        now.as_secs() as libc::time_t,
                        u64::from(now.subsec_nanos()),
                    );
                    output.time(&text)?;
                }
            }
            Some(EventKind::Join) => {
                let strlen = self.analysis.settings.max_strlen as usize;
                let parts: Vec<String> = payload
                    .chunks(strlen)
                    .take(crate::codegen::JOIN_ARGS as usize)
                    .map(decode::c_string)
                    .take_while(|s| !s.is_empty())
                    .collect();
                let delimiter = events
                    .join_delimiters
                    .get(index)
                    .map_or(" ", String::as_str);
                output.join(&parts.join(delimiter))?;
            }
            Some(EventKind::Signal) | None => {}
        }
        Ok(())
    }

    fn system(&mut self, command: &str, output: &mut dyn Output) -> std::io::Result<()> {
        if !self.unsafe_calls {
            return Ok(());
        }
        match std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .output()
        {
            Ok(result) => output.syscall(&String::from_utf8_lossy(&result.stdout)),
            Err(e) => {
                eprintln!("ERROR: system(): {e}");
                Ok(())
            }
        }
    }

    fn map_fd(&self, name: &str) -> Option<(&crate::sema::MapInfo, std::os::fd::BorrowedFd<'_>)> {
        let (info, object_name) = self.compiled.maps.get(name)?;
        let map = self.manager.map(object_name)?;
        Some((info, bpfhook::maps::fd(map)))
    }

    fn print_map(
        &mut self,
        name: &str,
        top: usize,
        div: u64,
        output: &mut dyn Output,
    ) -> Result<(), RuntimeError> {
        let Some((info, object_name)) = self.compiled.maps.get(name) else {
            return Ok(());
        };
        let Some(map) = self.manager.map(object_name) else {
            return Ok(());
        };
        let mut dump =
            maps::dump(bpfhook::maps::fd(map), info, &mut self.decoder).map_err(|error| {
                RuntimeError::Map {
                    map: name.to_owned(),
                    error,
                }
            })?;
        // A scalar map printed before anything set it shows its zero value, as in bpftrace.
        if dump.entries.is_empty() && info.key.is_none() {
            dump.entries
                .extend(maps::zero(&info.value, &mut self.decoder).map(|zero| (Vec::new(), zero)));
        }
        output.map(&dump, top, div.max(1))?;
        Ok(())
    }

    fn clear_map(&mut self, name: &str, zero: bool) -> Result<(), RuntimeError> {
        if let Some((info, fd)) = self.map_fd(name) {
            maps::clear(fd, info, zero).map_err(|error| RuntimeError::Map {
                map: name.to_owned(),
                error,
            })?;
        }
        Ok(())
    }

    /// At exit every non-empty map prints, in name order, after the end of the run's output.
    fn print_all_maps(&mut self, output: &mut dyn Output) -> Result<(), RuntimeError> {
        output.end()?;
        let names: Vec<String> = self.analysis.maps.keys().cloned().collect();
        for name in names {
            let Some((info, object_name)) = self.compiled.maps.get(&name) else {
                continue;
            };
            let Some(map) = self.manager.map(object_name) else {
                continue;
            };
            let dump =
                maps::dump(bpfhook::maps::fd(map), info, &mut self.decoder).map_err(|error| {
                    RuntimeError::Map {
                        map: name.clone(),
                        error,
                    }
                })?;
            if !dump.entries.is_empty() {
                output.map(&dump, 0, 1)?;
            }
        }
        Ok(())
    }

    /// Reads frames from the stack map by id (addresses, innermost first).
    fn stack_reader(&self) -> Option<Box<dyn Fn(i64) -> Vec<u64>>> {
        if !self.compiled.uses_stacks {
            return None;
        }
        let map = self.manager.map(STACKS_MAP)?;
        let fd = bpfhook::maps::fd(map).try_clone_to_owned().ok()?;
        let frames = self.analysis.settings.max_stack_frames as usize;
        Some(Box::new(move |id: i64| {
            let mut value = vec![0u8; frames * 8];
            let key = (id as u32).to_le_bytes();
            match bpfhook::sys::map_lookup(fd.as_fd(), &key, &mut value) {
                Ok(true) => value
                    .chunks(8)
                    .map(|c| decode::read_uint(c, 8))
                    .take_while(|&a| a != 0)
                    .collect(),
                _ => Vec::new(),
            }
        }))
    }
}

/// `cat(path)`: the file's contents (at most `limit` bytes), or the error bpftrace prints.
fn cat(path: &str, limit: u64, output: &mut dyn Output) -> std::io::Result<()> {
    use std::io::Read;
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes));
    match read {
        Ok(_) => output.cat(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            let reason = os_reason(&e);
            eprintln!("ERROR: failed to open file '{path}' ({reason})");
            Ok(())
        }
    }
}
