//! Source lines of code addresses, from a binary's DWARF (or its separate debug file's): what
//! bpftrace appends to user stack frames (`main+20@prog.c:12`), and the functions inlined at
//! an address, which it prints above them. Read with `addr2line` the first time a stack asks,
//! once per binary.

use std::path::Path;
use std::sync::{Arc, Mutex};

use object::{Object, ObjectSection};

use super::debuginfo;
use super::demangle::demangle;

type Reader = gimli::EndianArcSlice<gimli::RunTimeEndian>;

/// One binary's line tables and inlined functions. addr2line parses units lazily through cells, so the context is
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

/// What DWARF says of one code address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceInfo {
    /// The functions whose inlined code is there, innermost first.
    pub inlined: Vec<InlinedFrame>,
    /// The line in the function the address's symbol names: with inlined code, the call site
    /// of the outermost inlined function.
    pub line: Option<SourceLine>,
}

/// A function inlined at an address, and its line there (the next one's call site, or the
/// address's own line for the innermost).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlinedFrame {
    pub function: String,
    pub line: Option<SourceLine>,
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

    /// The inlined functions and line of the code at virtual address `address`.
    pub fn find(&self, address: u64) -> SourceInfo {
        let context = self
            .context
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // addr2line's frames go innermost first and end with the function the code is in (or
        // are just the line, where no DWARF function covers the address).
        let mut frames = Vec::new();
        if let Ok(mut iter) = context.find_frames(address).skip_all_loads() {
            while let Ok(Some(frame)) = iter.next() {
                let name = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.raw_name().ok())
                    .map(|name| demangle(&name).into_owned());
                let line = frame.location.and_then(|l| {
                    Some(SourceLine {
                        file: l.file?.to_owned(),
                        line: l.line?,
                    })
                });
                frames.push((name, line));
            }
        }
        let line = frames.pop().and_then(|(_, line)| line);
        let inlined = frames
            .into_iter()
            .filter_map(|(name, line)| {
                Some(InlinedFrame {
                    function: name?,
                    line,
                })
            })
            .collect();
        SourceInfo { inlined, line }
    }
}
