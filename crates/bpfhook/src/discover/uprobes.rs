//! User-space functions as uprobe hooks: the function symbols of an ELF binary.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::DiscoverError;
use crate::attach::find_binary;
use crate::symbolize::elf::{function_symbols, LoadSegments};

/// An ELF file read into memory, found like `bpfhook run` finds uprobe targets (a path, a
/// name in $PATH, or a library through the linker cache).
pub struct ElfBinary {
    /// The path as the user wrote it: listing prints it back so that a glob on the whole line
    /// (`uprobe:bash:*`) still matches.
    pub spec: String,
    pub path: PathBuf,
    data: Vec<u8>,
}

/// A function symbol of a binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfFunction {
    pub name: String,
    /// The symbol's virtual address.
    pub address: u64,
    pub size: u64,
    /// Where the code lies in the file (what a uprobe attaches at); `None` if no loadable
    /// segment holds the address.
    pub file_offset: Option<u64>,
}

impl ElfBinary {
    pub fn open(spec: &str) -> Result<Self, DiscoverError> {
        let path = find_binary(spec)?;
        let data = std::fs::read(&path).map_err(|e| DiscoverError::io(&path, e))?;
        let binary = Self {
            spec: spec.to_owned(),
            path,
            data,
        };
        binary.parse()?;
        Ok(binary)
    }

    pub(crate) fn parse(&self) -> Result<object::File<'_>, DiscoverError> {
        let not_elf = |reason: String| DiscoverError::NotElf {
            path: self.path.clone(),
            reason,
        };
        let file = object::File::parse(&*self.data).map_err(|e| not_elf(e.to_string()))?;
        if file.format() != object::BinaryFormat::Elf {
            return Err(not_elf(format!("it is a {:?} file", file.format())));
        }
        Ok(file)
    }

    /// Defined function symbols of `.symtab` and `.dynsym`, each name once, sorted by name.
    pub fn functions(&self) -> Result<Vec<ElfFunction>, DiscoverError> {
        let elf = self.parse()?;
        let segments = LoadSegments::of(&elf);
        let mut seen = HashSet::new();
        let mut functions: Vec<ElfFunction> = function_symbols(&elf)
            .filter(|s| seen.insert(s.name))
            .map(|s| ElfFunction {
                name: s.name.to_owned(),
                address: s.address,
                size: s.size,
                file_offset: segments.file_offset(s.address),
            })
            .collect();
        functions.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(functions)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A defined data symbol (a global variable): its virtual address and size, from
    /// `.symtab` or `.dynsym`.
    pub fn variable(&self, name: &str) -> Result<Option<(u64, u64)>, DiscoverError> {
        use object::{Object, ObjectSymbol};
        let elf = self.parse()?;
        let found = elf
            .symbols()
            .chain(elf.dynamic_symbols())
            .find(|s| {
                s.kind() == object::SymbolKind::Data && s.is_definition() && s.name() == Ok(name)
            })
            .map(|s| (s.address(), s.size()));
        Ok(found)
    }

    /// Whether the binary is position-independent (ET_DYN): its addresses move with where
    /// each process maps it.
    pub fn is_position_independent(&self) -> Result<bool, DiscoverError> {
        use object::Object;
        Ok(self.parse()?.kind() == object::ObjectKind::Dynamic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_a_system_binary_and_refuses_text() {
        // A stripped executable may define no symbol at all; libc exports hundreds.
        let libc = ElfBinary::open("libc").expect("libc through the linker cache");
        let functions = libc.functions().expect("functions");
        assert!(functions
            .iter()
            .any(|f| f.name == "malloc" && f.file_offset.is_some()));
        assert!(functions.windows(2).all(|w| w[0].name < w[1].name));
        let text = std::env::temp_dir().join(format!("bpfhook-not-elf-{}", std::process::id()));
        std::fs::write(&text, "just text\n").expect("write");
        let error = ElfBinary::open(text.to_str().expect("utf-8")).err();
        let _ = std::fs::remove_file(&text);
        assert!(
            matches!(error, Some(DiscoverError::NotElf { .. })),
            "{error:?}"
        );
    }
}
