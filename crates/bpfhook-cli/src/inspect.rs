//! `bpfhook prog|map|link|pin|unpin`: what the kernel holds, printed as bpftool-like text or
//! one-line JSON with bpftool's field names.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use bpfhook::inspect::holders::Holder;
use bpfhook::inspect::maps::{self, OpenMap};
use bpfhook::inspect::progs::{self, format_utc};
use bpfhook::inspect::{links, pins, LinkInfo, MapEntryView, ProgramInfo};
use bpfhook::sys::ObjectKind;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

#[derive(Args)]
pub struct ProgArgs {
    /// Print one line of JSON
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ProgCommand,
}

#[derive(Subcommand)]
enum ProgCommand {
    /// Every loaded program
    List,
    /// One program
    Show { id: u32 },
    /// A program's translated instructions, disassembled
    Dump { id: u32 },
}

#[derive(Args)]
pub struct MapArgs {
    /// Print one line of JSON
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: MapCommand,
}

/// KEY and VALUE: hex bytes (`"01 00 00 00"` or `0x01000000`), or a decimal number when the
/// map's BTF says the type is an integer.
#[derive(Subcommand)]
enum MapCommand {
    /// Every map
    List,
    /// One map
    Show { id: u32 },
    /// Every entry of a map
    Dump { id: u32 },
    /// One entry
    Lookup { id: u32, key: String },
    /// Create or replace an entry (per-CPU maps: the same value on every CPU)
    Update { id: u32, key: String, value: String },
    /// Delete an entry
    Delete { id: u32, key: String },
}

#[derive(Args)]
pub struct LinkArgs {
    /// Print one line of JSON
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: LinkCommand,
}

#[derive(Subcommand)]
enum LinkCommand {
    /// Every link, with its program and target
    List,
    /// One link
    Show { id: u32 },
}

#[derive(Clone, Copy, ValueEnum)]
enum PinKind {
    Prog,
    Map,
    Link,
}

#[derive(Args)]
pub struct PinArgs {
    /// What to pin
    kind: PinKind,
    /// Its id
    id: u32,
    /// Where, on a bpf filesystem (e.g. /sys/fs/bpf/NAME)
    path: PathBuf,
    /// Print one line of JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct UnpinArgs {
    /// The pin to remove (on a bpf filesystem)
    path: PathBuf,
    /// Print one line of JSON
    #[arg(long)]
    json: bool,
}

pub fn prog(args: ProgArgs) -> Result<()> {
    match args.command {
        ProgCommand::List => {
            let programs = progs::list_programs()?;
            emit(args.json, &programs, || {
                programs.iter().map(program_text).collect()
            })
        }
        ProgCommand::Show { id } => {
            let program = progs::program(id)?;
            emit(args.json, &program, || program_text(&program))
        }
        ProgCommand::Dump { id } => {
            let insns = progs::dump_program(id)?;
            emit(args.json, &insns, || {
                let width = insns.last().map_or(1, |i| i.index.to_string().len());
                insns
                    .iter()
                    .map(|i| format!("{:>width$}: {}\n", i.index, i.text))
                    .collect()
            })
        }
    }
}

pub fn map(args: MapArgs) -> Result<()> {
    match args.command {
        MapCommand::List => {
            let list = maps::list_maps()?;
            emit(args.json, &list, || list.iter().map(map_text).collect())
        }
        MapCommand::Show { id } => {
            let info = maps::map(id)?;
            emit(args.json, &info, || map_text(&info))
        }
        MapCommand::Dump { id } => {
            let dump = OpenMap::open(id)?.dump()?;
            emit(args.json, &dump.entries, || {
                dump.entries.iter().map(entry_text).collect()
            })
        }
        MapCommand::Lookup { id, key } => {
            let entry = OpenMap::open(id)?.lookup(&key)?;
            emit(args.json, &entry, || entry_text(&entry))
        }
        MapCommand::Update { id, key, value } => {
            OpenMap::open(id)?.update(&key, &value)?;
            done(args.json)
        }
        MapCommand::Delete { id, key } => {
            OpenMap::open(id)?.delete(&key)?;
            done(args.json)
        }
    }
}

pub fn link(args: LinkArgs) -> Result<()> {
    match args.command {
        LinkCommand::List => {
            let list = links::list_links()?;
            emit(args.json, &list, || list.iter().map(link_text).collect())
        }
        LinkCommand::Show { id } => {
            let link = links::link(id)?;
            emit(args.json, &link, || link_text(&link))
        }
    }
}

pub fn pin(args: PinArgs) -> Result<()> {
    let kind = match args.kind {
        PinKind::Prog => ObjectKind::Program,
        PinKind::Map => ObjectKind::Map,
        PinKind::Link => ObjectKind::Link,
    };
    pins::pin(kind, args.id, &args.path)?;
    done(args.json)
}

pub fn unpin(args: UnpinArgs) -> Result<()> {
    pins::unpin(&args.path)?;
    done(args.json)
}

/// Writes JSON on one line, or the text `render` makes.
pub fn emit<T: Serialize>(json: bool, value: &T, render: impl FnOnce() -> String) -> Result<()> {
    // One write: stdout's line buffer would otherwise flush a long JSON line in small pieces.
    let mut text = if json {
        serde_json::to_string(value)?
    } else {
        render()
    };
    if json {
        text.push('\n');
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Commands that change something print nothing, or `null` in JSON mode as bpftool does.
fn done(json: bool) -> Result<()> {
    if json {
        println!("null");
    }
    Ok(())
}

fn program_text(p: &ProgramInfo) -> String {
    let mut s = format!("{}: {}  name {}  tag {}", p.id, p.prog_type, p.name, p.tag);
    if p.gpl_compatible {
        s.push_str("  gpl");
    }
    if let (Some(time), Some(count)) = (p.run_time_ns, p.run_cnt) {
        let _ = write!(s, "  run_time_ns {time} run_cnt {count}");
    }
    let _ = write!(
        s,
        "\n\tloaded_at {}  uid {}",
        format_utc(p.loaded_at),
        p.uid
    );
    let _ = write!(s, "\n\txlated {}B", p.bytes_xlated);
    if p.jited {
        let _ = write!(s, "  jited {}B", p.bytes_jited);
    } else {
        s.push_str("  not jited");
    }
    let _ = write!(s, "  memlock {}B", p.bytes_memlock);
    if !p.map_ids.is_empty() {
        let ids: Vec<String> = p.map_ids.iter().map(u32::to_string).collect();
        let _ = write!(s, "  map_ids {}", ids.join(","));
    }
    if let Some(btf) = p.btf_id {
        let _ = write!(s, "\n\tbtf_id {btf}");
    }
    push_pids(&mut s, &p.pids);
    for link in &p.links {
        let _ = write!(s, "\n\tlink {}: {}", link.id, link.target);
    }
    s.push('\n');
    s
}

fn map_text(m: &bpfhook::inspect::MapInfo) -> String {
    let mut s = format!(
        "{}: {}  name {}  flags {:#x}\n\tkey {}B  value {}B  max_entries {}  memlock {}B",
        m.id,
        m.map_type,
        m.name,
        m.flags,
        m.bytes_key,
        m.bytes_value,
        m.max_entries,
        m.bytes_memlock
    );
    if let Some(btf) = m.btf_id {
        let _ = write!(s, "\n\tbtf_id {btf}");
    }
    push_pids(&mut s, &m.pids);
    s.push('\n');
    s
}

fn link_text(l: &LinkInfo) -> String {
    let mut s = format!(
        "{}: {}  prog {}\n\t{}",
        l.id, l.link_type, l.prog_id, l.target
    );
    push_pids(&mut s, &l.pids);
    s.push('\n');
    s
}

fn push_pids(s: &mut String, pids: &[Holder]) {
    if !pids.is_empty() {
        let list: Vec<String> = pids
            .iter()
            .map(|h| format!("{}({})", h.comm, h.pid))
            .collect();
        let _ = write!(s, "\n\tpids {}", list.join(", "));
    }
}

fn entry_text(e: &MapEntryView) -> String {
    match (&e.value, &e.values) {
        (Some(value), _) => format!("key: {}  value: {}\n", e.key, value),
        (None, Some(values)) => values
            .iter()
            .map(|v| format!("key: {}  cpu{}: {}\n", e.key, v.cpu, v.value))
            .collect(),
        (None, None) => format!("key: {}\n", e.key),
    }
}
