//! An eBPF object file: its programs (each with the `Hook` its section names), its maps, and the
//! bytes to hand to the loader, with section names normalised so aya accepts every dialect.

mod normalize;
mod read;
mod validate;

use std::path::Path;

use ::object::{Object as _, ObjectSection as _, ObjectSymbol as _, SectionFlags, SymbolKind};

use crate::hook::{Hook, HookError};

pub use normalize::NormalizeError;
pub use validate::ValidateError;

/// One program of an object: the function symbol, the section it lives in, and its hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSpec {
    pub name: String,
    pub section: String,
    pub hook: Hook,
}

/// A parsed eBPF object, ready to load.
#[derive(Debug, Clone)]
pub struct ObjectFile {
    /// The object with renamed sections where aya needs them; what the loader receives.
    loader_bytes: Vec<u8>,
    programs: Vec<ProgramSpec>,
    has_btf: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("empty file: an eBPF object is an ELF file as `clang -target bpf -c` writes it")]
    Empty,
    #[error("not an ELF object ({0}); compile the program with `clang -O2 -g -target bpf -c`")]
    NotElf(String),
    #[error("not an eBPF object: ELF machine is {0:?}, expected BPF (compile with `-target bpf`)")]
    NotBpf(::object::Architecture),
    #[error("big-endian eBPF object (bpfeb): this kernel runs little-endian programs; compile with `-target bpfel`")]
    BigEndian,
    #[error("program `{program}`: {source}")]
    Section { program: String, source: HookError },
    #[error("the object has no programs (no function in an executable section besides .text)")]
    NoPrograms,
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    #[error(transparent)]
    Invalid(#[from] ValidateError),
}

impl ObjectFile {
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ObjectError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ObjectError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Parses an ELF eBPF object. Every program section must name a hook we know.
    pub fn parse(bytes: &[u8]) -> Result<Self, ObjectError> {
        if bytes.is_empty() {
            return Err(ObjectError::Empty);
        }
        let elf = ::object::File::parse(bytes).map_err(|e| ObjectError::NotElf(e.to_string()))?;
        if elf.architecture() != ::object::Architecture::Bpf {
            return Err(ObjectError::NotBpf(elf.architecture()));
        }
        if !elf.is_little_endian() {
            return Err(ObjectError::BigEndian);
        }
        validate::validate(bytes)?;

        let mut programs = Vec::new();
        let mut renames = Vec::new();
        let mut kept = Vec::new();
        for section in elf.sections() {
            let SectionFlags::Elf { sh_flags } = section.flags() else {
                continue;
            };
            let name = section.name().unwrap_or_default();
            let executable = sh_flags & u64::from(::object::elf::SHF_EXECINSTR) != 0;
            if !executable || name.starts_with(".text") {
                continue;
            }
            let functions: Vec<String> = elf
                .symbols()
                .filter(|s| s.section_index() == Some(section.index()))
                .filter(|s| s.kind() == SymbolKind::Text && s.is_global())
                .filter_map(|s| s.name().ok().map(str::to_owned))
                .collect();
            for function in &functions {
                let hook = Hook::from_section(name).map_err(|source| ObjectError::Section {
                    program: function.clone(),
                    source,
                })?;
                programs.push(ProgramSpec {
                    name: function.clone(),
                    section: name.to_owned(),
                    hook,
                });
            }
            if let Some(program) = programs.last().filter(|_| !functions.is_empty()) {
                match loader_name(name, &program.hook) {
                    Some(new_name) => renames.push(normalize::Rename {
                        section_index: section.index().0,
                        from: name.to_owned(),
                        to: new_name,
                    }),
                    None => kept.push(name.to_owned()),
                }
            }
        }
        if programs.is_empty() {
            return Err(ObjectError::NoPrograms);
        }
        let has_btf = elf.section_by_name(".BTF").is_some();
        let loader_bytes = normalize::rename_sections(bytes, &renames, &kept)?;
        if !renames.is_empty() {
            // The rewrite appends tables; what aya-obj will read is checked again.
            validate::validate(&loader_bytes)?;
        }
        Ok(Self {
            loader_bytes,
            programs,
            has_btf,
        })
    }

    pub fn programs(&self) -> &[ProgramSpec] {
        &self.programs
    }

    pub fn program(&self, name: &str) -> Option<&ProgramSpec> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The bytes to give the loader.
    pub fn loader_bytes(&self) -> &[u8] {
        &self.loader_bytes
    }

    pub fn has_btf(&self) -> bool {
        self.has_btf
    }
}

/// The section name aya should see, or `None` when it already accepts the original.
fn loader_name(section: &str, hook: &Hook) -> Option<String> {
    use std::str::FromStr;
    if aya_obj::ProgramSection::from_str(section).is_ok() {
        return None;
    }
    let prefix = hook.loader_section();
    Some(if hook.loader_section_takes_suffix() {
        // Keep the original as a suffix: section names stay unique, and BTF.ext can tell them apart.
        format!("{prefix}/{section}")
    } else {
        prefix.to_owned()
    })
}
