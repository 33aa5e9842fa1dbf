//! `bpfhook load FILE --pin DIR`, `bpfhook unload DIR`, `bpfhook list-pins [DIR]`: programs
//! that keep running after bpfhook exits, held by pins on bpffs.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use bpfhook::manager::ProgramState;
use bpfhook::object::ObjectFile;
use bpfhook::pinned::{self, ListedPin, Manifest, PinKind};
use clap::Args;
use serde::Serialize;

use crate::inspect::emit;

#[derive(Args)]
pub struct LoadArgs {
    /// The eBPF object, or a C source to compile first
    file: PathBuf,
    /// A new (or empty) directory on bpffs for the pins, e.g. /sys/fs/bpf/myprog
    #[arg(long, value_name = "DIR")]
    pin: PathBuf,
    #[command(flatten)]
    compile: crate::build::CompileArgs,
    #[command(flatten)]
    targets: crate::targets::TargetArgs,
    /// Print the manifest as one line of JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct UnloadArgs {
    /// A directory made by `bpfhook load --pin`
    dir: PathBuf,
    /// Print one line of JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ListPinsArgs {
    /// Where to look (default: /sys/fs/bpf)
    #[arg(default_value = "/sys/fs/bpf")]
    dir: PathBuf,
    /// Print one line of JSON
    #[arg(long)]
    json: bool,
}

pub fn load(args: LoadArgs) -> Result<()> {
    let object_path = crate::build::object_for(&args.file, &args.compile)?;
    let object = ObjectFile::from_path(&object_path)?;
    let loaded = args.targets.builder(&object).load()?;
    // Refused here, a target costs no program load and touches no interface.
    pinned::check(&loaded)?;
    let manager = loaded.attach()?;
    let source = std::fs::canonicalize(&args.file)
        .with_context(|| format!("resolving {}", args.file.display()))?;
    let attached: Vec<String> = manager
        .status()
        .iter()
        .filter_map(|status| match &status.state {
            ProgramState::Attached(target) => {
                Some(format!("attached {target} (prog {})\n", status.name))
            }
            _ => None,
        })
        .collect();
    let manifest = pinned::pin(manager, &args.pin, &source)?;
    let dir = args.pin.display().to_string();
    emit(
        args.json,
        &LoadReport {
            dir: &dir,
            manifest: &manifest,
        },
        || {
            let mut text: String = attached.concat();
            let count = |kind| manifest.pins.iter().filter(|p| p.kind == kind).count();
            let _ = writeln!(
            text,
            "pinned {} links, {} programs, {} maps in {dir}; `bpfhook unload {dir}` removes them",
            count(PinKind::Link),
            count(PinKind::Program),
            count(PinKind::Map),
        );
            text
        },
    )
}

#[derive(Serialize)]
struct LoadReport<'a> {
    dir: &'a str,
    #[serde(flatten)]
    manifest: &'a Manifest,
}

pub fn unload(args: UnloadArgs) -> Result<()> {
    let unloaded = pinned::unload(&args.dir)?;
    let report = UnloadReport {
        dir: args.dir.display().to_string(),
        removed: unloaded
            .manifest
            .pins
            .iter()
            .map(|p| p.path.clone())
            .filter(|p| !unloaded.missing.contains(p))
            .collect(),
        missing: unloaded.missing,
    };
    emit(args.json, &report, || {
        let mut text = format!(
            "unloaded {}: removed {} pins\n",
            report.dir,
            report.removed.len()
        );
        for path in &report.missing {
            let _ = writeln!(text, "already gone: {}", path.display());
        }
        text
    })
}

#[derive(Serialize)]
struct UnloadReport {
    dir: String,
    removed: Vec<PathBuf>,
    missing: Vec<PathBuf>,
}

pub fn list_pins(args: ListPinsArgs) -> Result<()> {
    let pins = pinned::list(&args.dir)?;
    emit(args.json, &pins, || pins.iter().map(pin_text).collect())
}

fn pin_text(listed: &ListedPin) -> String {
    let pin = &listed.pin;
    let mut s = format!(
        "{}  {} {}  name {}",
        pin.path.display(),
        pin.kind,
        pin.id,
        pin.name
    );
    if let Some(dir) = &listed.loaded_into {
        let _ = write!(s, "  (bpfhook load --pin {})", dir.display());
    }
    s.push('\n');
    s
}
