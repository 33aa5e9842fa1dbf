//! What a program at a hook receives: `bpfhook format HOOK` and `bpfhook list -v`.
//!
//! Every description is a few lines indented by four spaces, as `bpftrace -lv` prints them:
//! tracepoint fields from the format file (plus the matching `trace_event_raw_*` struct from
//! BTF), a kernel function's BTF prototype, a raw tracepoint's `btf_trace_*` typedef, a uprobe
//! symbol's address (and its parameters, from the binary's DWARF when it has some). Parsed BTF and the last binary are kept between calls, so describing every
//! line of a listing costs one parse, not one per line.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::kernel_functions::{ITERATOR_PREFIX, LSM_PREFIX, RAW_TRACEPOINT_PREFIX};
use super::tracepoints::{TracepointField, TracepointFormat};
use super::uprobes::{ElfBinary, ElfFunction};
use super::usdt::{self, UsdtProbe};
use super::{DiscoverError, HookKind};
use crate::attach::PerfEventKind;
use crate::btf::scan::SYSFS_BTF;
use crate::btf::{write_c_declaration, Btf, BtfKind, TypeId, TypeKind};
use crate::dwarf::{DebugInfo, DwarfError};
use crate::kernel::kallsyms::Kallsyms;

const INDENT: &str = "    ";

/// Describes hooks, keeping what it parsed for the next call.
#[derive(Default)]
pub struct Formatter {
    vmlinux: Option<Arc<Btf>>,
    modules: HashMap<String, Arc<Btf>>,
    /// Ids of vmlinux's `trace_event_raw_*` structs, found on first need.
    tracepoint_structs: Option<Vec<TypeId>>,
    binary: Option<CachedBinary>,
    /// Where separate debug files are looked for besides the standard places.
    debug_dirs: Vec<PathBuf>,
}

struct CachedBinary {
    spec: String,
    binary: ElfBinary,
    functions: Vec<ElfFunction>,
    probes: Vec<UsdtProbe>,
    /// Its DWARF, read when a uprobe's parameters are first described.
    dwarf: Option<Result<DebugInfo, DwarfError>>,
}

/// Which BTF a kernel function or typedef was found in.
struct Found {
    btf: Arc<Btf>,
    id: TypeId,
}

impl Formatter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A formatter that also looks for binaries' debug files in `dirs` (bpftrace's
    /// `--debuginfo`).
    pub fn with_debug_dirs(dirs: Vec<PathBuf>) -> Self {
        Self {
            debug_dirs: dirs,
            ..Self::default()
        }
    }

    /// Writes the definition of the kernel type `c_name` (`struct task_struct`, `union X`,
    /// `enum X` or a typedef name) as C, after the name of the BTF that holds it
    /// (`vmlinux: struct task_struct {`), as `bpftrace -lv 'struct X'` does. Ok(false) when
    /// no BTF of this kernel has it.
    pub fn describe_type(
        &mut self,
        c_name: &str,
        out: &mut impl Write,
    ) -> Result<bool, DiscoverError> {
        let (kind, name) = match c_name.trim().split_once(' ') {
            Some(("struct", name)) => (BtfKind::Struct, name.trim()),
            Some(("union", name)) => (BtfKind::Union, name.trim()),
            Some(("enum", name)) => (BtfKind::Enum, name.trim()),
            _ => (BtfKind::Typedef, c_name.trim()),
        };
        let mut holder = None;
        if let Some(found) = self.find_in_vmlinux(kind, name)? {
            holder = Some(("vmlinux".to_owned(), found));
        } else {
            for module in loaded_module_names() {
                if let Some(found) = self.find_kernel_type(Some(&module), kind, name)? {
                    holder = Some((module, found));
                    break;
                }
            }
        }
        let Some((module, found)) = holder else {
            return Ok(false);
        };
        let mut text = format!("{module}: ").into_bytes();
        declare(&found, &mut text)?;
        out.write_all(&text).map_err(DiscoverError::Write)?;
        Ok(true)
    }

    /// Writes the description of `hook` (list notation, `KIND:…`). A hook that does not exist
    /// is [`DiscoverError::NoSuchHook`].
    pub fn describe(&mut self, hook: &str, out: &mut impl Write) -> Result<(), DiscoverError> {
        let (kind_name, target) =
            hook.split_once(':')
                .ok_or_else(|| DiscoverError::NoSuchHook {
                    hook: hook.to_owned(),
                    hint:
                        "a hook is written KIND:TARGET, e.g. tracepoint:syscalls:sys_enter_openat \
                   or fentry:vfs_read"
                            .to_owned(),
                })?;
        let kind = HookKind::parse(kind_name)
            .ok_or_else(|| DiscoverError::UnknownKind(kind_name.to_owned()))?;
        let mut text = Vec::with_capacity(512);
        match kind {
            HookKind::Tracepoint => self.tracepoint(hook, target, &mut text)?,
            HookKind::RawTracepoint => self.raw_tracepoint(hook, target, &mut text)?,
            HookKind::Kprobe | HookKind::Kretprobe | HookKind::Fentry | HookKind::Fexit => {
                self.kernel_function(kind, hook, target, &mut text)?
            }
            HookKind::Lsm => {
                let found = self
                    .find_in_vmlinux(BtfKind::Func, &format!("{LSM_PREFIX}{target}"))?
                    .ok_or_else(|| no_such(hook, "see `bpfhook list 'lsm:*'`"))?;
                declare(&found, &mut text)?;
            }
            HookKind::Iter => {
                let found = self
                    .find_in_vmlinux(BtfKind::Struct, &format!("{ITERATOR_PREFIX}{target}"))?
                    .ok_or_else(|| no_such(hook, "see `bpfhook list 'iter:*'`"))?;
                declare(&found, &mut text)?;
                writeln!(
                    text,
                    "// the program's context, once per object (and once with NULL at the end)"
                )
                .map_err(DiscoverError::Write)?;
            }
            HookKind::Software | HookKind::Hardware => {
                let event = PerfEventKind::parse(&format!("{kind_name}:{target}"))
                    .filter(|event| event.to_string().starts_with(kind.name()))
                    .ok_or_else(|| no_such(hook, &format!("see `bpfhook list '{kind}:*'`")))?;
                writeln!(
                    text,
                    "// perf event {event}: the program receives struct bpf_perf_event_data \
                     (registers and the sample period)"
                )
                .map_err(DiscoverError::Write)?;
            }
            HookKind::Uprobe | HookKind::Uretprobe => {
                self.uprobe(hook, target, kind == HookKind::Uprobe, &mut text)?
            }
            HookKind::Usdt => self.usdt(hook, target, &mut text)?,
        }
        write_indented(&text, out).map_err(DiscoverError::Write)
    }

    fn tracepoint(
        &mut self,
        hook: &str,
        target: &str,
        text: &mut Vec<u8>,
    ) -> Result<(), DiscoverError> {
        let (category, name) = target
            .split_once(':')
            .ok_or_else(|| no_such(hook, "a tracepoint is tracepoint:CATEGORY:NAME"))?;
        let format = TracepointFormat::read(category, name)?;
        let declarations: Vec<String> = format
            .fields
            .iter()
            .map(TracepointField::declaration)
            .collect();
        let width = declarations.iter().map(String::len).max().unwrap_or(0) + 1;
        let w = |e| DiscoverError::Write(e);
        for (field, declaration) in format.fields.iter().zip(&declarations) {
            let signed = if field.signed { "signed" } else { "unsigned" };
            writeln!(
                text,
                "{:<width$} // offset {}, size {}, {signed}",
                format!("{declaration};"),
                field.offset,
                field.size,
            )
            .map_err(w)?;
        }
        // The BTF struct is a bonus: without BTF, the format file above is the whole answer.
        match self.tracepoint_struct(&format) {
            Ok(Some(found)) => {
                writeln!(text, "// in the kernel's BTF:").map_err(w)?;
                declare(&found, text)?;
            }
            Ok(None) => writeln!(
                text,
                "// no trace_event_raw_* struct in the kernel's BTF has this layout \
                 (syscall tracepoints never have one)"
            )
            .map_err(w)?,
            Err(e) => writeln!(text, "// no BTF struct: {e}").map_err(w)?,
        }
        Ok(())
    }

    /// `struct trace_event_raw_NAME`, or for events defined from a shared class (whose struct
    /// is named after the class) the `trace_event_raw_*` struct with the same fields at the
    /// same offsets.
    fn tracepoint_struct(
        &mut self,
        format: &TracepointFormat,
    ) -> Result<Option<Found>, DiscoverError> {
        let btf = self.vmlinux()?;
        let fields: Vec<&TracepointField> =
            format.fields.iter().filter(|f| !f.is_common()).collect();
        if let Some(id) =
            btf.find_by_name(BtfKind::Struct, &format!("trace_event_raw_{}", format.name))
        {
            if same_layout(&btf, id, &fields) {
                return Ok(Some(Found { btf, id }));
            }
        }
        let candidates = self.tracepoint_structs.get_or_insert_with(|| {
            btf.own_ids()
                .filter(|&id| {
                    btf.type_by_id(id).is_some_and(|t| {
                        matches!(t.kind, TypeKind::Struct(_))
                            && btf.name(t.name_off).starts_with("trace_event_raw_")
                    })
                })
                .collect()
        });
        Ok(candidates
            .iter()
            .copied()
            .find(|&id| same_layout(&btf, id, &fields))
            .map(|id| Found {
                btf: Arc::clone(&btf),
                id,
            }))
    }

    fn raw_tracepoint(
        &mut self,
        hook: &str,
        target: &str,
        text: &mut Vec<u8>,
    ) -> Result<(), DiscoverError> {
        let (module, name) = split_module(target);
        let typedef = format!("{RAW_TRACEPOINT_PREFIX}{name}");
        let found = self
            .find_kernel_type(module, BtfKind::Typedef, &typedef)?
            .ok_or_else(|| no_such(hook, "see `bpfhook list 'rawtracepoint:*'`"))?;
        declare(&found, text)?;
        writeln!(
            text,
            "// the program receives these arguments after the first (void *, the tracepoint's data)"
        )
        .map_err(DiscoverError::Write)
    }

    fn kernel_function(
        &mut self,
        kind: HookKind,
        hook: &str,
        target: &str,
        text: &mut Vec<u8>,
    ) -> Result<(), DiscoverError> {
        let (module, name) = split_module(target);
        // `kprobe:FN+0x10` attaches inside FN; its prototype is still FN's.
        let name = name.split('+').next().unwrap_or(name);
        let w = |e| DiscoverError::Write(e);
        match self.find_kernel_type(module, BtfKind::Func, name)? {
            Some(found) => declare(&found, text)?,
            None if matches!(kind, HookKind::Kprobe | HookKind::Kretprobe)
                && is_kernel_text(name) =>
            {
                // `f.isra.0`, `f.constprop.0`, `f.part.0`: a compiler-made copy of f. BTF
                // describes f; the copy may take fewer or reordered arguments.
                let original = name.split('.').next().filter(|o| *o != name);
                let described = match original {
                    Some(original) => self.find_kernel_type(module, BtfKind::Func, original)?,
                    None => None,
                };
                match (original, described) {
                    (Some(original), Some(found)) => {
                        writeln!(
                            text,
                            "// {name} is a compiler-made copy of {original}, whose prototype is \
                             below; the copy may take fewer or reordered arguments"
                        )
                        .map_err(w)?;
                        declare(&found, text)?;
                    }
                    _ => writeln!(
                        text,
                        "// {name} is in /proc/kallsyms but the kernel's BTF has no prototype for it"
                    )
                    .map_err(w)?,
                }
            }
            None => {
                return Err(no_such(
                    hook,
                    &format!(
                    "the kernel's BTF has no function {name}; see `bpfhook list '{kind}:*{name}*'`"
                ),
                ))
            }
        }
        if matches!(kind, HookKind::Kretprobe | HookKind::Fexit) {
            writeln!(text, "// on return: the return value too (retval)").map_err(w)?;
        }
        Ok(())
    }

    /// A uprobe's symbol (address, size, file offset) and, at a function's entry, its
    /// parameters from DWARF as bpftrace lists them (`int* n`).
    fn uprobe(
        &mut self,
        hook: &str,
        target: &str,
        entry: bool,
        text: &mut Vec<u8>,
    ) -> Result<(), DiscoverError> {
        let (path, symbol) = target
            .rsplit_once(':')
            .ok_or_else(|| no_such(hook, "a uprobe is uprobe:PATH:SYMBOL"))?;
        let debug_dirs = self.debug_dirs.clone();
        let cached = self.binary(path)?;
        let function = cached
            .functions
            .binary_search_by(|f| f.name.as_str().cmp(symbol))
            .ok()
            .and_then(|i| cached.functions.get(i))
            .ok_or_else(|| {
                no_such(
                    hook,
                    &format!(
                        "{} has no function {symbol}; see `bpfhook list 'uprobe:{path}:*'`",
                        cached.binary.path().display()
                    ),
                )
            })?;
        let offset = function.file_offset.map_or_else(
            || "none (not in a loadable segment)".to_owned(),
            |o| format!("{o:#x}"),
        );
        let w = DiscoverError::Write;
        writeln!(
            text,
            "// address {:#x}, size {}, file offset {offset}",
            function.address, function.size
        )
        .map_err(w)?;
        if !entry {
            return Ok(());
        }
        let Some(cached) = self.binary.as_mut() else {
            return Ok(());
        };
        let path = cached.binary.path().to_path_buf();
        let dwarf = cached
            .dwarf
            .get_or_insert_with(|| DebugInfo::for_binary(&path, &debug_dirs));
        match dwarf.as_ref().map(|info| (info, info.parameters(symbol))) {
            Ok((info, Ok(params))) => {
                for param in params {
                    let ty = crate::dwarf::type_name(&info.types, param.type_id);
                    writeln!(text, "{ty} {}", param.name).map_err(w)?;
                }
            }
            // Without DWARF (or the function in it) there is nothing more to say, as in bpftrace.
            Err(DwarfError::NoDebugInfo(_)) | Ok((_, Err(_))) => {}
            Err(error) => writeln!(text, "// parameters unknown: {error}").map_err(w)?,
        }
        Ok(())
    }

    fn usdt(&mut self, hook: &str, target: &str, text: &mut Vec<u8>) -> Result<(), DiscoverError> {
        let mut parts = target.rsplitn(3, ':');
        let (Some(name), Some(provider), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(no_such(hook, "a USDT probe is usdt:PATH:PROVIDER:NAME"));
        };
        let cached = self.binary(path)?;
        let sites: Vec<&UsdtProbe> = cached
            .probes
            .iter()
            .filter(|p| p.provider == provider && p.name == name)
            .collect();
        if sites.is_empty() {
            return Err(no_such(
                hook,
                &format!("see `bpfhook list 'usdt:{path}:*'`"),
            ));
        }
        for site in sites {
            let semaphore = match site.semaphore {
                0 => "none".to_owned(),
                address => format!("{address:#x}"),
            };
            writeln!(
                text,
                "// site {:#x}, semaphore {semaphore}, arguments: {}",
                site.pc,
                if site.arguments.is_empty() {
                    "none"
                } else {
                    &site.arguments
                }
            )
            .map_err(DiscoverError::Write)?;
        }
        Ok(())
    }

    fn binary(&mut self, spec: &str) -> Result<&CachedBinary, DiscoverError> {
        if self.binary.as_ref().is_none_or(|b| b.spec != spec) {
            let binary = ElfBinary::open(spec)?;
            let functions = binary.functions()?;
            let probes = usdt::probes(&binary)?;
            self.binary = Some(CachedBinary {
                spec: spec.to_owned(),
                binary,
                functions,
                probes,
                dwarf: None,
            });
        }
        self.binary
            .as_ref()
            .ok_or_else(|| no_such(spec, "no binary"))
    }

    fn vmlinux(&mut self) -> Result<Arc<Btf>, DiscoverError> {
        if let Some(btf) = &self.vmlinux {
            return Ok(Arc::clone(btf));
        }
        let btf = Arc::new(Btf::from_file(Path::new(SYSFS_BTF).join("vmlinux"))?);
        self.vmlinux = Some(Arc::clone(&btf));
        Ok(btf)
    }

    fn module(&mut self, module: &str) -> Result<Option<Arc<Btf>>, DiscoverError> {
        if let Some(btf) = self.modules.get(module) {
            return Ok(Some(Arc::clone(btf)));
        }
        if module.is_empty() || module.contains('/') || module == "vmlinux" || module == ".." {
            return Ok(None);
        }
        let path = Path::new(SYSFS_BTF).join(module);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DiscoverError::io(&path, e)),
        };
        let base = self.vmlinux()?;
        let btf = Arc::new(Btf::parse_split(&bytes, &base)?);
        self.modules.insert(module.to_owned(), Arc::clone(&btf));
        Ok(Some(btf))
    }

    fn find_in_vmlinux(
        &mut self,
        kind: BtfKind,
        name: &str,
    ) -> Result<Option<Found>, DiscoverError> {
        let btf = self.vmlinux()?;
        Ok(btf.find_by_name(kind, name).map(|id| Found { btf, id }))
    }

    /// In the named module, or in vmlinux and then every loaded module.
    fn find_kernel_type(
        &mut self,
        module: Option<&str>,
        kind: BtfKind,
        name: &str,
    ) -> Result<Option<Found>, DiscoverError> {
        if let Some(module) = module {
            let Some(btf) = self.module(module)? else {
                return Ok(None);
            };
            return Ok(btf.find_by_name(kind, name).map(|id| Found { btf, id }));
        }
        if let Some(found) = self.find_in_vmlinux(kind, name)? {
            return Ok(Some(found));
        }
        for module in loaded_module_names() {
            if let Some(btf) = self.module(&module)? {
                if let Some(id) = btf.find_by_name(kind, name) {
                    return Ok(Some(Found { btf, id }));
                }
            }
        }
        Ok(None)
    }
}

/// Does the BTF struct `id` hold exactly these (non-common) fields at these byte offsets?
/// `__data_loc` fields appear in the struct as `u32 __data_loc_NAME` (`__rel_loc_` on newer
/// kernels), and the struct ends with a `__data[]` member the format file does not list.
fn same_layout(btf: &Btf, id: TypeId, fields: &[&TracepointField]) -> bool {
    let Some(TypeKind::Struct(composite)) = btf.type_by_id(id).map(|t| &t.kind) else {
        return false;
    };
    let members: Vec<(&str, u32)> = composite
        .members
        .iter()
        .map(|m| (btf.name(m.name_off), m.bit_offset / 8))
        .filter(|(name, _)| *name != "ent" && *name != "__data")
        .collect();
    members.len() == fields.len()
        && members
            .iter()
            .zip(fields)
            .all(|(&(member, offset), field)| {
                let name = member
                    .strip_prefix("__data_loc_")
                    .or_else(|| member.strip_prefix("__rel_loc_"))
                    .unwrap_or(member);
                name == field.name && offset == field.offset
            })
}

fn declare(found: &Found, text: &mut Vec<u8>) -> Result<(), DiscoverError> {
    write_c_declaration(&found.btf, found.id, text).map_err(DiscoverError::from)
}

/// `MODULE:NAME` or `NAME`.
fn split_module(target: &str) -> (Option<&str>, &str) {
    match target.split_once(':') {
        Some((module, name)) => (Some(module), name),
        None => (None, target),
    }
}

fn no_such(hook: &str, hint: &str) -> DiscoverError {
    DiscoverError::NoSuchHook {
        hook: hook.to_owned(),
        hint: hint.to_owned(),
    }
}

fn loaded_module_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(SYSFS_BTF)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "vmlinux")
        .collect();
    names.sort();
    names
}

fn is_kernel_text(name: &str) -> bool {
    Kallsyms::read().is_ok_and(|k| k.symbols().any(|s| s.is_text() && s.name == name))
}

/// Copies `text` to `out` with every line indented; tabs from the C writer become four spaces
/// so that the columns line up under the indent.
fn write_indented(text: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    for line in text.split_inclusive(|&b| b == b'\n') {
        out.write_all(INDENT.as_bytes())?;
        for &byte in line {
            if byte == b'\t' {
                out.write_all(INDENT.as_bytes())?;
            } else {
                out.write_all(&[byte])?;
            }
        }
    }
    Ok(())
}
