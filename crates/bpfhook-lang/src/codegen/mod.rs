//! Code generation: each probe instance becomes one eBPF program built with
//! `bpfhook::asm::Builder`, all of them in one object with the program's maps.
//!
//! The machine model is deliberately simple, so that no script runs out of registers:
//! scalars live in 8-byte stack slots (or are immediates), aggregates (strings, tuples,
//! records, output records, map keys) live in a per-CPU scratch map whose address is kept in
//! r9 for the whole program, and r6 holds the context. Registers r0–r5 are used only inside
//! the code of one operation. The verifier sees plain loads and stores at constant offsets.
//!
//! What the programs send to user space goes through one ring buffer, `events`: a record is
//! a u64 header (event kind, and an index into the tables of [`Events`]) and a payload laid
//! out as the runtime expects it.

mod bit_field;
mod callback;
mod calls;
mod expr;
mod frame;
mod network;
mod stmt;
mod tseries;

use std::collections::BTreeMap;

use bpfhook::asm::{MapSpec, ObjectSpec, ProgramSpec};

use crate::ast::Program;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::probes::ProbeInstance;
use crate::sema::{Analysis, MapInfo, PcapOutput};
use crate::types::{Layout, Type};

pub use calls::JOIN_ARGS;
pub use frame::Frame;
pub use network::PACKET_HEADER_SIZE;

/// Map names in the object (kernel map names are short and plain).
pub const EVENTS_MAP: &str = "events";
pub const SCRATCH_MAP: &str = "scratch";
pub const START_MAP: &str = "start";
pub const STACKS_MAP: &str = "stacks";
/// `skboutput()`'s packets: bpf_skb_output writes only to a perf event array.
pub const PACKETS_MAP: &str = "packets";

/// Largest scratch area one program may use (the scratch map's value).
pub(crate) const MAX_SCRATCH: u32 = 1 << 15;

/// What a record on the `events` ring buffer asks the runtime to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum EventKind {
    Printf = 1,
    PrintValue = 2,
    PrintMap = 3,
    ClearMap = 4,
    ZeroMap = 5,
    Exit = 6,
    Time = 7,
    System = 8,
    Cat = 9,
    Errorf = 10,
    Warnf = 11,
    Join = 12,
    Signal = 13,
    HelperError = 14,
}

impl EventKind {
    pub fn from_u32(value: u32) -> Option<EventKind> {
        use EventKind::*;
        [
            Printf,
            PrintValue,
            PrintMap,
            ClearMap,
            ZeroMap,
            Exit,
            Time,
            System,
            Cat,
            Errorf,
            Warnf,
            Join,
            Signal,
            HelperError,
        ]
        .into_iter()
        .find(|k| *k as u32 == value)
    }
}

/// A formatted output call (`printf`, `system`, `cat`, `errorf`…): the format and the layout
/// of its arguments after the header.
#[derive(Debug, Clone)]
pub struct FormatCall {
    pub format: String,
    pub args: Layout,
    pub span: Span,
    pub kind: EventKind,
    /// `stdin:1:9-62`, filled in by [`crate::compile`]: where `errorf`/`warnf` say they are.
    pub location: String,
    /// The macro calls it was expanded from, rendered (each line led by a line break).
    pub expanded_from: String,
}

/// Where a helper that can fail is called (`-k`): its name and the expression, with what
/// [`crate::compile`] fills in to name the place as bpftrace does.
#[derive(Debug, Clone)]
pub struct HelperSite {
    pub helper: &'static str,
    pub span: Span,
    /// The script's name (`stdin`).
    pub file: String,
    /// `stdin:1:37-41`.
    pub location: String,
    pub line: usize,
    pub column: usize,
    /// The source line and the underline of the expression.
    pub excerpt: String,
}

/// `print(@m, top, div)`.
#[derive(Debug, Clone)]
pub struct PrintMap {
    pub map: String,
    pub top: u64,
    pub div: u64,
}

/// Everything the runtime must know to read the event records.
#[derive(Debug, Clone, Default)]
pub struct Events {
    pub printf: Vec<FormatCall>,
    pub values: Vec<Type>,
    pub print_maps: Vec<PrintMap>,
    /// Maps named by `clear()`/`zero()` records, by index.
    pub maps: Vec<String>,
    pub time_formats: Vec<String>,
    pub strftime_formats: Vec<String>,
    pub join_delimiters: Vec<String>,
    /// `-k`: the places whose helper errors are reported, by index.
    pub helper_sites: Vec<HelperSite>,
    /// `skboutput()` calls, by index: the pcap file each writes.
    pub pcaps: Vec<PcapOutput>,
}

/// The header's first word.
pub const HEADER_SIZE: u32 = 8;

/// One compiled probe instance.
#[derive(Debug, Clone)]
pub struct CompiledProbe {
    /// The program's name in the object.
    pub program: String,
    pub instance: ProbeInstance,
}

/// The generated object and what the runtime needs to drive it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub elf: Vec<u8>,
    pub probes: Vec<CompiledProbe>,
    /// bpftrace map name (`@x`) → its info and its name in the object.
    pub maps: BTreeMap<String, (MapInfo, String)>,
    pub events: Events,
    pub uses_stacks: bool,
}

/// Generates the object for an analysed program.
pub fn generate(program: &Program, analysis: &Analysis) -> Result<Compiled, Diagnostics> {
    let mut maps = BTreeMap::new();
    for (index, (name, info)) in analysis.maps.iter().enumerate() {
        maps.insert(name.clone(), (info.clone(), format!("m{index}")));
    }
    let mut events = Events::default();
    let mut errors = Diagnostics::default();
    let mut programs = Vec::new();
    let mut functions = Vec::new();
    let mut probes = Vec::new();
    let mut scratch_size = 8;
    let mut uses_stacks = false;
    for (probe, instances) in program.probes.iter().zip(&analysis.probes) {
        for (instance, types) in instances {
            // The kernel shows this name (`prog list`); the pid tells whose it is.
            let name = format!("bt{}_{}", std::process::id(), probes.len());
            let mut generator =
                frame::ProgramGen::new(name.clone(), analysis, types, instance, &maps, &mut events);
            let generated = generator.probe(probe);
            functions.append(&mut generator.functions);
            match generated {
                Ok((code, scratch_used, stacks)) => {
                    scratch_size = scratch_size.max(scratch_used);
                    uses_stacks |= stacks;
                    programs.push(ProgramSpec {
                        section: instance.section(),
                        name: name.clone(),
                        program: code,
                    });
                    probes.push(CompiledProbe {
                        program: name,
                        instance: instance.clone(),
                    });
                }
                Err(diagnostic) => errors.push(diagnostic),
            }
        }
    }
    if scratch_size > MAX_SCRATCH {
        errors.push(Diagnostic::error(
            Span::default(),
            format!("the program needs {scratch_size} bytes of scratch memory (limit {MAX_SCRATCH}); lower BPFTRACE_MAX_STRLEN"),
        ));
    }
    if errors.has_errors() {
        return Err(errors);
    }
    let mut spec = ObjectSpec::new(&analysis.settings.license);
    spec.programs = programs;
    spec.functions = functions;
    spec.maps = map_specs(&maps, scratch_size, uses_stacks, analysis);
    if !events.pcaps.is_empty() {
        // One slot per CPU: the loader sizes it (max_entries 0).
        spec.maps.push(MapSpec {
            name: PACKETS_MAP.to_owned(),
            map_type: bpfhook::names::map_type_from_name("perf_event_array").unwrap_or(0),
            key_size: 4,
            value_size: 4,
            max_entries: 0,
            flags: 0,
        });
    }
    let elf = spec.to_elf().map_err(|e| {
        Diagnostics(vec![Diagnostic::error(
            Span::default(),
            format!("writing the object: {e}"),
        )])
    })?;
    Ok(Compiled {
        elf,
        probes,
        maps,
        events,
        uses_stacks,
    })
}

fn map_specs(
    maps: &BTreeMap<String, (MapInfo, String)>,
    scratch_size: u32,
    uses_stacks: bool,
    analysis: &Analysis,
) -> Vec<MapSpec> {
    let spec = |name: &str, kind: &str, key_size, value_size, max_entries| MapSpec {
        name: name.to_owned(),
        map_type: bpfhook::names::map_type_from_name(kind).unwrap_or(0),
        key_size,
        value_size,
        max_entries,
        flags: 0,
    };
    let mut specs = vec![
        spec(EVENTS_MAP, "ringbuf", 0, 0, analysis.settings.ring_bytes()),
        spec(
            SCRATCH_MAP,
            "percpu_array",
            4,
            scratch_size.next_multiple_of(8),
            1,
        ),
        spec(START_MAP, "array", 4, 8, 1),
    ];
    if uses_stacks {
        specs.push(spec(
            STACKS_MAP,
            "stack_trace",
            4,
            8 * analysis.settings.max_stack_frames,
            4096,
        ));
    }
    for (info, object_name) in maps.values() {
        let kind = match (info.kind.as_deref(), info.value.is_aggregate()) {
            (Some("lruhash"), false) => "lru_hash",
            (Some("lruhash" | "percpulruhash"), true) | (Some("percpulruhash"), false) => {
                "lru_percpu_hash"
            }
            (Some("percpuhash"), _) | (None | Some("hash"), true) => "percpu_hash",
            _ => "hash",
        };
        specs.push(spec(
            object_name,
            kind,
            info.key_size(),
            info.value.value_size(),
            info.max_entries,
        ));
    }
    specs
}
