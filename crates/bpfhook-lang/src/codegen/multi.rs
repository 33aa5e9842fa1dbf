//! Wildcard uprobes on one uprobe.multi link (Linux 6.6), as bpftrace attaches them: instances
//! of one binary whose generated code is the same (nothing in it names the function: no
//! `probe`, `func`, or callbacks labelled per program) share one program, and the runtime hangs
//! it on one link for all their functions. Where the kernel lacks these links, or code differs,
//! each instance keeps its own program and perf-event uprobe.

use std::collections::HashMap;
use std::path::PathBuf;

use bpfhook::asm::{encode_program, Program, ProgramSpec, Relocation};
use bpfhook::kernel::features::{self, Feature};

use crate::probes::{ProbeInstance, ProbeKind};

/// Programs that more instances may share, by what they are: binary, entry or return, code.
pub(super) struct UprobeGroups {
    available: bool,
    groups: HashMap<Key, Group>,
}

#[derive(PartialEq, Eq, Hash)]
struct Key {
    binary: PathBuf,
    ret: bool,
    insns: Vec<u8>,
    relocations: Vec<Relocation>,
}

struct Group {
    program: String,
    members: usize,
}

impl UprobeGroups {
    pub fn new() -> Self {
        Self {
            available: features::check(Feature::UprobeMulti).is_ok(),
            groups: HashMap::new(),
        }
    }

    /// The program this instance shares (one generated before with the same code), or None
    /// after recording it as `program`, which later instances may share.
    pub fn share(
        &mut self,
        instance: &ProbeInstance,
        code: &Program,
        program: &str,
        callbacks: bool,
    ) -> Option<String> {
        let (binary, ret) = shareable(instance)?;
        if !self.available || callbacks {
            return None;
        }
        let key = Key {
            binary: binary.clone(),
            ret,
            insns: encode_program(&code.insns),
            relocations: code.relocations.clone(),
        };
        match self.groups.get_mut(&key) {
            Some(group) => {
                group.members += 1;
                Some(group.program.clone())
            }
            None => {
                let group = Group {
                    program: program.to_owned(),
                    members: 1,
                };
                self.groups.insert(key, group);
                None
            }
        }
    }

    /// Shared programs go in `uprobe.multi/PATH` sections (the functions come with the attach
    /// options); a program no other instance joined keeps its single uprobe.
    pub fn name_sections(&self, programs: &mut [ProgramSpec]) {
        for (key, group) in self.groups.iter().filter(|(_, g)| g.members > 1) {
            if let Some(spec) = programs.iter_mut().find(|p| p.name == group.program) {
                let kind = if key.ret { "uretprobe" } else { "uprobe" };
                spec.section = format!("{kind}.multi/{}:", key.binary.display());
            }
        }
    }
}
/// Function-entry and return uprobes (not at an offset into the function) can go on a link.
fn shareable(instance: &ProbeInstance) -> Option<(&PathBuf, bool)> {
    match &instance.kind {
        ProbeKind::Uprobe {
            binary,
            offset: 0,
            ret,
            symbol,
        } if !symbol.starts_with(|c: char| c.is_ascii_digit()) => Some((binary, *ret)),
        _ => None,
    }
}
