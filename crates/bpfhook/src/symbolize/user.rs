//! User addresses to names: a process's mappings say which file and where in it; that file's
//! ELF symbols (or its separate debug file's, when stripped) say which function.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use object::Object;

use super::demangle::demangle;
use super::elf::{function_symbols, has_symtab, LoadSegments};
use super::lines::{SourceInfo, SourceLines};
use super::maps::{self, Mapping};
use super::table::{AddressTable, TableBuilder};
use super::{debuginfo, Symbol};

/// Symbolizes addresses of many processes, caching each process's mappings and each binary's
/// symbol table: a 100-frame stack in one binary parses it once, and two processes running the
/// same file share its table.
#[derive(Debug, Default)]
pub struct UserSymbolizer {
    /// `None`: the process was gone when we looked.
    processes: HashMap<u32, Option<Vec<ProcessMapping>>>,
    /// `None`: the file could not be read or parsed; not tried again.
    binaries: HashMap<FileIdentity, Option<Binary>>,
    /// Read by their own addresses for processes gone before their mappings were read.
    programs: Vec<PathBuf>,
    /// DWARF line tables and inlined functions, read the first time a line is asked for;
    /// `None`: the file has none.
    lines: HashMap<FileIdentity, Option<SourceLines>>,
    stats: CacheStats,
}

/// What the caches have done, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// ELF files read and indexed (a debug file counts with its binary).
    pub binaries_parsed: u64,
    /// /proc/PID/maps reads.
    pub maps_read: u64,
}

/// A file a process maps: how to open it (`source`), its identity, the offset an address
/// falls at, and the path the process knows it by.
struct MappedFile {
    source: PathBuf,
    identity: FileIdentity,
    file_offset: u64,
    module: PathBuf,
}

#[derive(Debug)]
struct ProcessMapping {
    mapping: Mapping,
    /// Found on first use: the file as the process maps it; `None` if it cannot be opened.
    file: Option<Option<(PathBuf, FileIdentity)>>,
}

/// A file's identity across paths and replacements: same device and inode, unchanged since.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    mtime: (i64, i64),
}

impl FileIdentity {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            device: meta.dev(),
            inode: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        })
    }
}

#[derive(Debug)]
struct Binary {
    segments: LoadSegments,
    table: AddressTable,
    /// `.note.gnu.build-id` in hex; empty when the file has none.
    build_id: String,
    /// ET_EXEC: loaded at the addresses the file names, in every process.
    fixed_address: bool,
}

/// Where a user address lies: the file mapped there (its build id) and the offset in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLocation {
    pub path: PathBuf,
    /// Hex, as `readelf -n` prints it; empty when the file has none.
    pub build_id: String,
    pub file_offset: u64,
}

impl UserSymbolizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The function at `address` in process `pid`, its module the mapped file's path; `None`
    /// if the address is in no file mapping (heap, JIT, `[vdso]`) or no symbol covers it.
    /// Mappings are read once per pid, when it is first asked about: call [`Self::forget`]
    /// after the process execs or loads libraries. A process gone before that is read
    /// through the [programs](Self::add_program) that load where their file says.
    pub fn symbolize(&mut self, pid: u32, address: u64) -> Option<Symbol> {
        if self.mappings(pid).is_none() {
            return self.symbolize_in_programs(address);
        }
        let (binary, file_offset, module) = self.locate(pid, address)?;
        let hit = binary.table.lookup(binary.segments.address(file_offset)?)?;
        Some(Symbol {
            name: demangle(hit.name).into_owned(),
            offset: hit.offset,
            module: Some(module.display().to_string()),
        })
    }

    /// The file mapped at `address` in process `pid`, its build id and the offset in it (what
    /// bpftrace's `ustack(build_id)` prints).
    pub fn file_location(&mut self, pid: u32, address: u64) -> Option<FileLocation> {
        let (binary, file_offset, path) = self.locate(pid, address)?;
        Some(FileLocation {
            path,
            build_id: binary.build_id.clone(),
            file_offset,
        })
    }

    /// An executable whose symbols name the addresses of processes that exited before their
    /// mappings were read (bpftrace's per-program symbol cache): only a fixed-address
    /// (ET_EXEC) one, whose code is where its file says, and only addresses inside it.
    pub fn add_program(&mut self, path: &Path) {
        if !self.programs.iter().any(|p| p == path) {
            self.programs.push(path.to_path_buf());
        }
    }

    fn symbolize_in_programs(&mut self, address: u64) -> Option<Symbol> {
        for path in self.programs.clone() {
            let Some(identity) = FileIdentity::of(&path) else {
                continue;
            };
            let Some(binary) = load(&mut self.binaries, &mut self.stats, identity, &path, &path)
            else {
                continue;
            };
            if !binary.fixed_address || binary.segments.file_offset(address).is_none() {
                continue;
            }
            if let Some(hit) = binary.table.lookup(address) {
                return Some(Symbol {
                    name: demangle(hit.name).into_owned(),
                    offset: hit.offset,
                    module: Some(path.display().to_string()),
                });
            }
        }
        None
    }

    /// The process's mappings, read on first use; `None` if it was gone then.
    fn mappings(&mut self, pid: u32) -> Option<&mut Vec<ProcessMapping>> {
        let stats = &mut self.stats;
        self.processes
            .entry(pid)
            .or_insert_with(|| {
                stats.maps_read += 1;
                maps::read(pid).map(|all| {
                    all.into_iter()
                        .map(|mapping| ProcessMapping {
                            mapping,
                            file: None,
                        })
                        .collect()
                })
            })
            .as_mut()
    }

    /// The source line of the code at `address` in process `pid` and the functions inlined
    /// there, from the mapped binary's DWARF; empty without debug info.
    pub fn source_info(&mut self, pid: u32, address: u64) -> SourceInfo {
        self.find_source(pid, address).unwrap_or_default()
    }

    fn find_source(&mut self, pid: u32, address: u64) -> Option<SourceInfo> {
        let at = self.mapped_file(pid, address)?;
        let binary = load(
            &mut self.binaries,
            &mut self.stats,
            at.identity,
            &at.source,
            &at.module,
        )?;
        let virtual_address = binary.segments.address(at.file_offset)?;
        let lines = self
            .lines
            .entry(at.identity)
            .or_insert_with(|| SourceLines::read(&at.source, &at.module))
            .as_ref()?;
        Some(lines.find(virtual_address))
    }

    /// The file mapped at `address` in `pid` and the offset in it.
    fn mapped_file(&mut self, pid: u32, address: u64) -> Option<MappedFile> {
        let mappings = self.mappings(pid)?;
        let index = mappings
            .partition_point(|m| m.mapping.start <= address)
            .checked_sub(1)?;
        let entry = mappings.get_mut(index)?;
        let file_offset = entry.mapping.file_offset(address)?;
        let (source, identity) = entry
            .file
            .get_or_insert_with(|| open_mapped(pid, &entry.mapping))
            .clone()?;
        Some(MappedFile {
            source,
            identity,
            file_offset,
            module: entry.mapping.path.clone(),
        })
    }

    /// The binary mapped at `address` in `pid`, the offset in its file, and its path.
    fn locate(&mut self, pid: u32, address: u64) -> Option<(&Binary, u64, PathBuf)> {
        let MappedFile {
            source,
            identity,
            file_offset,
            module,
        } = self.mapped_file(pid, address)?;
        let binary = load(
            &mut self.binaries,
            &mut self.stats,
            identity,
            &source,
            &module,
        )?;
        Some((binary, file_offset, module))
    }

    /// The function at virtual address `address` of an ELF file (as uprobe offsets and
    /// symbol tables count), its module the path.
    pub fn symbolize_file(&mut self, path: &Path, address: u64) -> Option<Symbol> {
        let identity = FileIdentity::of(path)?;
        let binary = load(&mut self.binaries, &mut self.stats, identity, path, path)?;
        let hit = binary.table.lookup(address)?;
        Some(Symbol {
            name: demangle(hit.name).into_owned(),
            offset: hit.offset,
            module: Some(path.display().to_string()),
        })
    }

    /// Drops what is cached about `pid`: the next lookup reads its mappings again.
    pub fn forget(&mut self, pid: u32) {
        self.processes.remove(&pid);
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }
}

/// The mapped file, through /proc/PID/map_files (the very file mapped, even if deleted or in
/// another mount namespace; needs root), else through its path if that is still the same inode.
fn open_mapped(pid: u32, mapping: &Mapping) -> Option<(PathBuf, FileIdentity)> {
    let map_file = PathBuf::from(format!(
        "/proc/{pid}/map_files/{:x}-{:x}",
        mapping.start, mapping.end
    ));
    [map_file, mapping.path.clone()]
        .into_iter()
        .find_map(|path| {
            let identity = FileIdentity::of(&path).filter(|id| id.inode == mapping.inode)?;
            Some((path, identity))
        })
}

/// The cached table of a file, parsed on first use; `path` is where the binary is known to
/// live (its debug file is looked for beside it), `source` where to read it now.
fn load<'a>(
    binaries: &'a mut HashMap<FileIdentity, Option<Binary>>,
    stats: &mut CacheStats,
    identity: FileIdentity,
    source: &Path,
    path: &Path,
) -> Option<&'a Binary> {
    binaries
        .entry(identity)
        .or_insert_with(|| {
            stats.binaries_parsed += 1;
            Binary::parse(source, path)
        })
        .as_ref()
}

impl Binary {
    fn parse(source: &Path, path: &Path) -> Option<Self> {
        let data = std::fs::read(source)
            .inspect_err(|e| log::debug!("symbolize: reading {}: {e}", source.display()))
            .ok()?;
        let elf = object::File::parse(&*data)
            .inspect_err(|e| log::debug!("symbolize: {} is not ELF: {e}", source.display()))
            .ok()?;
        let mut builder = TableBuilder::default();
        let mut add = |elf: &object::File<'_>| {
            for symbol in function_symbols(elf) {
                let end = (symbol.size > 0).then(|| symbol.address.saturating_add(symbol.size));
                builder.push(symbol.address, end, symbol.name, 0);
            }
        };
        // Stripped: the debug file's .symtab comes first, the binary's .dynsym after it.
        if !has_symtab(&elf) {
            let debug = debuginfo::find(path, &elf);
            if let Some(debug) = debug.as_deref().and_then(|d| object::File::parse(d).ok()) {
                add(&debug);
            }
        }
        add(&elf);
        let build_id = elf.build_id().ok().flatten().unwrap_or_default();
        Some(Self {
            segments: LoadSegments::of(&elf),
            table: builder.build(0),
            build_id: build_id.iter().map(|b| format!("{b:02x}")).collect(),
            fixed_address: elf.kind() == object::ObjectKind::Executable,
        })
    }
}
