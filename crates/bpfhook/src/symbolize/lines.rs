//! Source lines of code addresses, from a binary's DWARF line tables (or its separate debug
//! file's): what bpftrace appends to user stack frames (`main+20@prog.c:12`). Read with
//! `addr2line` the first time a stack asks, once per binary.

use std::path::Path;
use std::sync::{Arc, Mutex};

use object::{Object, ObjectSection};

use super::debuginfo;

type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// One binary's line tables. addr2line parses units lazily through cells, so the context is
/// behind a lock to keep symbolizers shareable across threads (as the Python module's are).
pub struct SourceLines {
    context: Mutex<addr2line::Context<Reader>>,
}

impl std::fmt::Debug for SourceLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceLines")
    }
}

/// Where a code address comes from in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    pub file: String,
    pub line: u32,
}

impl SourceLines {
    /// The line tables of the ELF file at `source` (known as `path`, for its debug link);
    /// `None` when neither it nor its debug file has any.
    pub fn read(source: &Path, path: &Path) -> Option<Self> {
        let data = std::fs::read(source).ok()?;
        let elf = object::File::parse(&*data).ok()?;
        if elf.section_by_name(".debug_line").is_some() {
            return Self::of(&elf);
        }
        let debug = debuginfo::find(path, &elf)?;
        Self::of(&object::File::parse(&*debug).ok()?)
    }

    fn of(elf: &object::File<'_>) -> Option<Self> {
        let endian = if elf.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
            let data = elf
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .unwrap_or_default();
            Ok(Reader::new(Arc::from(&*data), endian))
        };
        let dwarf = gimli::Dwarf::load(load).ok()?;
        let context = addr2line::Context::from_dwarf(dwarf).ok()?;
        Some(Self {
            context: Mutex::new(context),
        })
    }

    /// The file and line of the code at virtual address `address`.
    pub fn find(&self, address: u64) -> Option<SourceLine> {
        let context = self
            .context
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let location = context.find_location(address).ok()??;
        Some(SourceLine {
            file: location.file?.to_owned(),
            line: location.line?,
        })
    }
}
