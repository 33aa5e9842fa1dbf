//! Code generation: each probe instance becomes one eBPF program built with
//! `bpfhook::asm::Builder`, all of them in one object with the program's maps.
//!
//! The machine model is deliberately simple, so that no script runs out of registers:
//! scalars live in 8-byte stack slots (or are immediates), aggregates (strings, tuples,
//! records, output records, map keys) live in a per-CPU scratch map whose address is kept in
//! r9 for the whole program, and r6 holds the context. Registers r0–r5 are used only inside
//! the code of one operation, as are r7 and r8 (scratch offsets past an instruction's 16 bits,
//! see `reach`). The verifier sees plain loads and stores at constant offsets.
//!
//! What the programs send to user space goes through one ring buffer, `events`: a record is
//! a u64 header (event kind, and an index into the tables of [`Events`]) and a payload laid
//! out as the runtime expects it.

mod bit_field;
mod callback;
mod calls;
mod expr;
mod frame;
mod multi;
mod network;
mod reach;
mod stmt;
#[cfg(test)]
mod tests;
mod tseries;
mod usdt;

use std::collections::BTreeMap;

use bpfhook::asm::{FunctionSpec, MapSpec, ObjectSpec, ProgramSpec};

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

/// Largest scratch area one program may use (the scratch map's value; one per possible CPU).
pub(crate) const MAX_SCRATCH: u32 = 1 << 18;

/// The largest value of a per-CPU array the kernel creates (`PCPU_MIN_UNIT_SIZE`).
const MAX_PER_CPU_VALUE: u32 = 1 << 15;

/// The map that holds scratch memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScratchKind {
    /// A per-CPU array of one element, while the scratch fits its value.
    PerCpu,
    /// Past that, a plain array with an element per possible CPU, indexed by the CPU's
    /// number (a program does not move to another CPU while it runs).
    CpuIndexed,
}

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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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

/// The index of `item` in `list`, added if new: instances of a wildcard probe make the same
/// records, and only then can they share one program (uprobe.multi).
fn intern<T: PartialEq>(list: &mut Vec<T>, item: T) -> u32 {
    let index = match list.iter().position(|known| *known == item) {
        Some(index) => index,
        None => {
            list.push(item);
            list.len() - 1
        }
    };
    index as u32
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
    // How much scratch memory the programs need is known once they are generated; past what
    // a per-CPU value holds, they are generated again to find theirs in the indexed array.
    let mut scratch_kind = ScratchKind::PerCpu;
    let mut generated = generate_programs(program, analysis, &maps, scratch_kind)?;
    let needed = generated.scratch_size;
    if needed > MAX_SCRATCH {
        return Err(Diagnostics(vec![Diagnostic::error(
            Span::default(),
            format!("the program needs {needed} bytes of scratch memory (limit {MAX_SCRATCH}); lower BPFTRACE_MAX_STRLEN or read smaller values"),
        )]));
    }
    if needed > MAX_PER_CPU_VALUE {
        scratch_kind = ScratchKind::CpuIndexed;
        generated = generate_programs(program, analysis, &maps, scratch_kind)?;
    }
    let Generated {
        programs,
        functions,
        probes,
        events,
        scratch_size,
        uses_stacks,
    } = generated;
    let mut spec = ObjectSpec::new(&analysis.settings.license);
    spec.programs = programs;
    spec.functions = functions;
    spec.maps = map_specs(&maps, scratch_size, scratch_kind, uses_stacks, analysis);
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

/// Every probe instance's program, and what they need together.
struct Generated {
    programs: Vec<ProgramSpec>,
    functions: Vec<FunctionSpec>,
    probes: Vec<CompiledProbe>,
    events: Events,
    scratch_size: u32,
    uses_stacks: bool,
}

fn generate_programs(
    program: &Program,
    analysis: &Analysis,
    maps: &BTreeMap<String, (MapInfo, String)>,
    scratch_kind: ScratchKind,
) -> Result<Generated, Diagnostics> {
    let mut events = Events::default();
    let mut errors = Diagnostics::default();
    let mut programs = Vec::new();
    let mut functions = Vec::new();
    let mut probes = Vec::new();
    let mut scratch_size = 8;
    let mut uses_stacks = false;
    let mut multi = multi::UprobeGroups::new();
    for (probe, instances) in program.probes.iter().zip(&analysis.probes) {
        for (instance, types) in instances {
            // The kernel shows this name (`prog list`); the pid tells whose it is.
            let name = format!("bt{}_{}", std::process::id(), probes.len());
            let mut generator = frame::ProgramGen::new(
                name.clone(),
                analysis,
                types,
                instance,
                maps,
                &mut events,
                scratch_kind,
            );
            let generated = generator.probe(probe);
            let functions_before = functions.len();
            functions.append(&mut generator.functions);
            match generated {
                Ok((code, scratch_used, stacks)) => {
                    scratch_size = scratch_size.max(scratch_used);
                    uses_stacks |= stacks;
                    let callbacks = functions.len() > functions_before;
                    if let Some(shared) = multi.share(instance, &code, &name, callbacks) {
                        probes.push(CompiledProbe {
                            program: shared,
                            instance: instance.clone(),
                        });
                        continue;
                    }
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
    if errors.has_errors() {
        return Err(errors);
    }
    multi.name_sections(&mut programs);
    Ok(Generated {
        programs,
        functions,
        probes,
        events,
        scratch_size,
        uses_stacks,
    })
}

fn map_specs(
    maps: &BTreeMap<String, (MapInfo, String)>,
    scratch_size: u32,
    scratch_kind: ScratchKind,
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
        match scratch_kind {
            ScratchKind::PerCpu => spec(
                SCRATCH_MAP,
                "percpu_array",
                4,
                scratch_size.next_multiple_of(8),
                1,
            ),
            ScratchKind::CpuIndexed => spec(
                SCRATCH_MAP,
                "array",
                4,
                scratch_size.next_multiple_of(8),
                crate::runtime::possible_cpus() as u32,
            ),
        },
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
