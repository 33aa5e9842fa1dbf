//! Our loader: from an object's bytes to maps and programs in the kernel.
//!
//! aya-obj parses the ELF and applies relocations (maps, calls, CO-RE); this module creates the
//! kernel objects. We load ourselves rather than through `aya::EbpfLoader` because aya 0.14's
//! loader parses the whole kernel BTF (~20 ms, ~13 MB) when it is constructed, whatever the
//! object; here it is parsed only for an object with CO-RE relocations, and a tracing
//! program's attach target is found by a name-only BTF walk. The result is aya map handles
//! (`aya::maps::Map`) for the event readers and map dumps, and program fds for `attach`.
//!
//! Programs are loaded one at a time, on demand ([`LoadedObject::load_program`]): the Manager
//! loads only the programs it was asked to attach.

mod boundary;
mod maps;
mod program_type;

use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use aya::maps::{Map, MapData, MapError};
use aya_obj::{Object, ProgramSection};

use crate::btf::scan;
use crate::kernel::btf::{kernel_btf, KernelBtfError};
use crate::sys::{self, ProgramLoad, SyscallError};
use boundary::guard;

pub(crate) use program_type::kind_of;

/// Largest verifier log we ask for (the kernel caps a log at 16 MiB - 1 since 5.2 before 6.4).
const MAX_LOG: usize = 16 * 1024 * 1024 - 1;
const FIRST_LOG: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("parsing the object: {0}")]
    Parse(#[from] aya_obj::ParseError),
    #[error("the object's BTF: {0}")]
    Btf(#[from] aya_obj::btf::BtfError),
    #[error("the kernel rejected the object's BTF ({error}), which {needed_by} needs:\n{log}")]
    BtfRejected {
        error: io::Error,
        needed_by: String,
        log: String,
    },
    #[error("CO-RE relocations: {0}")]
    CoreRelocation(#[from] aya_obj::btf::BtfRelocationError),
    #[error("relocations: {0}")]
    Relocation(#[from] aya_obj::relocation::EbpfRelocationError),
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    #[error("creating map `{name}`: {error}")]
    Map { name: String, error: SyscallError },
    #[error("opening map `{name}`: {error}")]
    MapHandle { name: String, error: MapError },
    #[error("{action}: {error}")]
    Io { action: String, error: io::Error },
    /// aya-obj panicked on an object our validation let through.
    #[error(
        "malformed object: the parser panicked while {stage}: {message}. \
         This is a bug in bpfhook's object validation; please report it with the object file"
    )]
    ParserPanic {
        stage: &'static str,
        message: String,
    },
}

impl From<boundary::CaughtPanic> for LoadError {
    fn from(caught: boundary::CaughtPanic) -> Self {
        Self::ParserPanic {
            stage: caught.stage,
            message: caught.message,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProgramLoadError {
    #[error("no program named `{0}` in the object")]
    Unknown(String),
    #[error("malformed object: program `{0}` has no function body")]
    NoFunction(String),
    #[error("`{0}` is not in the kernel's BTF")]
    NoAttachTarget(String),
    #[error(transparent)]
    KernelBtf(#[from] KernelBtfError),
    /// The verifier's log, when it wrote one, says why.
    #[error("the verifier rejected the program ({error}). Verifier log:\n{log}")]
    Rejected { error: io::Error, log: String },
}

/// What a program is loaded for, beyond what its section says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFor<'a> {
    /// The section says it all.
    Section,
    /// A tracing or LSM program: the kernel function or `btf_trace_*` typedef it attaches to.
    BtfTarget(&'a str),
    /// A uprobe program for a uprobe.multi link (the kernel checks the attach type at load).
    UprobeMulti,
}

/// How program loads use the verifier's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VerifierLog {
    /// No log; on failure, again with a log that grows until the explanation fits.
    #[default]
    OnFailure,
    /// Every load with a log of exactly this many bytes (bpftrace's `-v` with its
    /// `log_size`): a log that does not fit fails the load with ENOSPC, as the kernel says.
    Always(usize),
}

/// An object whose maps exist in the kernel and whose programs are ready to load.
pub struct LoadedObject {
    object: Object,
    btf_fd: Option<OwnedFd>,
    maps: HashMap<String, Map>,
    features: &'static aya_obj::Features,
    verifier_log: VerifierLog,
}

impl LoadedObject {
    /// Creates the object's BTF and maps in the kernel and relocates its programs.
    pub fn load(bytes: &[u8]) -> Result<Self, LoadError> {
        let features = aya::features();
        let mut object = guard("parsing the ELF", || Object::parse(bytes))??;
        let btf_fd = load_object_btf(&mut object, features)?;
        if object.has_btf_relocations() {
            let kernel = kernel_btf()?;
            guard("applying CO-RE relocations", || object.relocate_btf(kernel))??;
        }
        let created = maps::create_all(
            object.maps.drain(),
            btf_fd.as_ref().map(AsFd::as_fd),
            features,
        )?;
        let text_sections: HashSet<usize> = object.functions.keys().map(|(s, _)| *s).collect();
        guard("relocating map references", || {
            object.relocate_maps(
                created
                    .iter()
                    .map(|m| (m.name.as_str(), m.fd.as_raw_fd(), &m.definition)),
                &text_sections,
            )
        })??;
        guard("relocating calls", || object.relocate_calls(&text_sections))??;
        guard("sanitizing functions", || {
            object.sanitize_functions(features)
        })?;
        let maps = created
            .into_iter()
            .map(|created| {
                let handle = MapData::from_fd(created.fd)
                    .and_then(Map::from_map_data)
                    .map_err(|error| LoadError::MapHandle {
                        name: created.name.clone(),
                        error,
                    })?;
                Ok((created.name, handle))
            })
            .collect::<Result<_, LoadError>>()?;
        Ok(Self {
            object,
            btf_fd,
            maps,
            features,
            verifier_log: VerifierLog::default(),
        })
    }

    /// The section a program was parsed from.
    pub fn section(&self, program: &str) -> Option<&ProgramSection> {
        self.object.programs.get(program).map(|p| &p.section)
    }

    pub fn maps(&self) -> impl Iterator<Item = (&str, &Map)> {
        self.maps.iter().map(|(name, map)| (name.as_str(), map))
    }

    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.get(name)
    }

    pub fn map_mut(&mut self, name: &str) -> Option<&mut Map> {
        self.maps.get_mut(name)
    }

    /// How the programs loaded from now on use the verifier's log.
    pub fn set_verifier_log(&mut self, log: VerifierLog) {
        self.verifier_log = log;
    }

    /// Loads one program; the verifier runs here. `target` says what the section cannot: the
    /// kernel function (or `btf_trace_*` typedef) a tracing or LSM program attaches to, or a
    /// uprobe program's uprobe.multi link.
    pub fn load_program(
        &self,
        name: &str,
        target: LoadFor<'_>,
    ) -> Result<OwnedFd, ProgramLoadError> {
        let program = self
            .object
            .programs
            .get(name)
            .ok_or_else(|| ProgramLoadError::Unknown(name.to_owned()))?;
        let function = self
            .object
            .functions
            .get(&program.function_key())
            .ok_or_else(|| ProgramLoadError::NoFunction(name.to_owned()))?;
        let mut kind = kind_of(&program.section);
        let attach_btf_id = match target {
            LoadFor::BtfTarget(target) if kind.needs_attach_btf_id() => attach_btf_id(target)?,
            _ => 0,
        };
        if target == LoadFor::UprobeMulti {
            kind.expected_attach_type =
                Some(aya_obj::generated::bpf_attach_type::BPF_TRACE_UPROBE_MULTI);
        }
        let load = ProgramLoad {
            prog_type: kind.prog_type as u32,
            expected_attach_type: kind.expected_attach_type.map_or(0, |t| t as u32),
            name: if self.features.bpf_name() { name } else { "" },
            license: &program.license,
            // Kernels before 5.0 refuse kprobes built for another version.
            kern_version: program.kernel_version.unwrap_or_else(|| {
                aya::util::KernelVersion::current().map_or(0, aya::util::KernelVersion::code)
            }),
            insns: &function.instructions,
            btf_fd: self.btf_fd.as_ref().map(AsFd::as_fd),
            func_info: &function.func_info.func_info,
            func_info_rec_size: function.func_info_rec_size,
            line_info: &function.line_info.line_info,
            line_info_rec_size: function.line_info_rec_size,
            attach_btf_id,
            flags: kind.flags,
        };
        let loaded = match self.verifier_log {
            VerifierLog::OnFailure => load_with_log(|log| sys::prog_load(&load, log)),
            VerifierLog::Always(size) => {
                let mut log = vec![0u8; size.clamp(1, MAX_LOG)];
                sys::prog_load(&load, Some(&mut log)).map_err(|e| (e.error, log_text(&log)))
            }
        };
        loaded.map_err(|(error, log)| ProgramLoadError::Rejected { error, log })
    }
}

/// Sanitises the object's BTF for this kernel and loads it. A kernel that refuses it is an
/// error only when something needs it (CO-RE, or a program attached through BTF); otherwise
/// the object loads without BTF, as libbpf does.
fn load_object_btf(
    object: &mut Object,
    features: &aya_obj::Features,
) -> Result<Option<OwnedFd>, LoadError> {
    let Some(btf_features) = features.btf() else {
        return Ok(None);
    };
    let fixed = guard("fixing up the BTF", || {
        object
            .fixup_and_sanitize_btf(btf_features)
            .map(|btf| btf.map(|btf| btf.to_bytes()))
    })??;
    let Some(bytes) = fixed else {
        return Ok(None);
    };
    match load_with_log(|log| sys::btf_load(&bytes, log)) {
        Ok(fd) => Ok(Some(fd)),
        Err((error, log)) => {
            let needed_by = object
                .programs
                .iter()
                .find(|(_, p)| kind_of(&p.section).needs_attach_btf_id())
                .map(|(name, _)| format!("program `{name}`"))
                .or_else(|| {
                    object
                        .has_btf_relocations()
                        .then(|| "CO-RE relocation".to_owned())
                });
            match needed_by {
                Some(needed_by) => Err(LoadError::BtfRejected {
                    error,
                    needed_by,
                    log,
                }),
                None => Ok(None),
            }
        }
    }
}

/// Tries `call` without a log (fast, and what succeeds); on failure, again with a log that
/// grows until the kernel's explanation fits. Returns the first error and the log.
fn load_with_log(
    mut call: impl FnMut(Option<&mut [u8]>) -> Result<OwnedFd, SyscallError>,
) -> Result<OwnedFd, (io::Error, String)> {
    let first = match call(None) {
        Ok(fd) => return Ok(fd),
        Err(e) => e.error,
    };
    let mut log = vec![0u8; FIRST_LOG];
    loop {
        log.fill(0);
        match call(Some(&mut log)) {
            // Loads that fail only without a log do not exist; take the success.
            Ok(fd) => return Ok(fd),
            Err(e) if e.error.raw_os_error() == Some(libc::ENOSPC) && log.len() < MAX_LOG => {
                log.resize((log.len() * 4).min(MAX_LOG), 0);
            }
            Err(_) => break,
        }
    }
    Err((first, log_text(&log)))
}

/// The text the kernel wrote into a log buffer (NUL-terminated, or cut at its end).
fn log_text(log: &[u8]) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    String::from_utf8_lossy(&log[..end]).trim_end().to_owned()
}

/// The BTF id of a kernel function (or `btf_trace_*` typedef) by name.
pub(crate) fn attach_btf_id(target: &str) -> Result<u32, ProgramLoadError> {
    let kind = if target.starts_with("btf_trace_") {
        scan::KIND_TYPEDEF
    } else {
        scan::KIND_FUNC
    };
    scan::vmlinux_type_id(kind, target)
        .map_err(|e| KernelBtfError(e.to_string()))?
        .ok_or_else(|| ProgramLoadError::NoAttachTarget(target.to_owned()))
}
