//! Types the script does not define: the running kernel's BTF (`struct task_struct`, `union
//! …`, `enum …`, typedef names, the type of `curtask`) and, for uprobes, the probed binary's
//! DWARF (its functions' parameters, its structs), read into the same BTF model.
//!
//! The kernel's BTF (~5 MB) is parsed at most once per compile, and only when a script names a
//! type it does not define or uses `curtask`; a binary's DWARF once per compile, when a uprobe
//! on it uses `args` or names a type. Conversion is lazy: a record converts its fields (and
//! those of records it holds by value), but a record behind a pointer stays opaque (size
//! known, no fields) until a field of it is accessed — `task_struct` reaches every type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use bpfhook::btf::{Btf, BtfKind, Composite, EnumType as BtfEnum, IntType as BtfInt};
use bpfhook::btf::{TypeId, TypeKind};
use bpfhook::dwarf::DebugInfo;

use super::Checker;
use crate::ast::{BaseType, Expr};
use crate::diag::Span;
use crate::types::{BitField, BtfId, EnumType, Field, Layout, Record, Type};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The source number of the kernel's BTF; binaries' DWARF follow.
const KERNEL: u32 = 0;

/// How deep records nest by value, and pointers chain, before the rest stays opaque (a guard:
/// the kernel's types nest less than this).
const MAX_NESTING: u32 = 32;

/// The kernel's types and those of probed binaries, converted on demand; one per compile.
#[derive(Default)]
pub(super) struct KernelTypes {
    /// None until a script needs it; then the parsed BTF or why it could not be read.
    btf: Option<Result<Btf, String>>,
    /// Binaries whose DWARF was asked for (source `i + 1`), or why it could not be read.
    binaries: Vec<(PathBuf, Result<DebugInfo, String>)>,
    /// Where to look for separate debug files besides the standard places (`--debuginfo`).
    debug_dirs: Vec<PathBuf>,
    /// Records with their fields, by source and id.
    records: HashMap<BtfId, Rc<Record>>,
    /// Records seen behind a pointer, fields not converted yet.
    opaque: HashMap<BtfId, Rc<Record>>,
}

/// A uprobe function's parameter: its name, type, and the index of the argument register
/// (System V order) holding it, or why none does.
pub(super) type UprobeParam = (String, Type, Result<usize, String>);

impl KernelTypes {
    pub(super) fn with_debug_dirs(debug_dirs: Vec<PathBuf>) -> Self {
        Self {
            debug_dirs,
            ..Self::default()
        }
    }

    /// A type the script names but does not define: `struct X` (`behind_pointer`: written
    /// `struct X *`, so its fields can wait), `union X`, `enum X` or a typedef `X`. In a uprobe
    /// on `binary`, the binary's DWARF is asked first (its own structs are what its code
    /// passes around, as in bpftrace), then the kernel's BTF.
    pub(super) fn lookup(
        &mut self,
        base: &BaseType,
        behind_pointer: bool,
        binary: Option<&Path>,
    ) -> Result<Type, String> {
        let (kinds, name): (&[BtfKind], &str) = match base {
            BaseType::Struct(n) => (&[BtfKind::Struct], n),
            BaseType::Union(n) => (&[BtfKind::Union], n),
            BaseType::Enum(n) => (&[BtfKind::Enum, BtfKind::Enum64], n),
            BaseType::Named(n) => (&[BtfKind::Typedef], n),
            _ => return Err("not a named type".to_owned()),
        };
        let find = |converter: &Converter| {
            kinds
                .iter()
                .find_map(|kind| converter.btf.find_by_name(*kind, name))
        };
        let from_binary = match binary {
            Some(binary) => {
                let source = self.binary_source(binary);
                self.converter(source)
                    .ok()
                    .and_then(|c| Some((source, find(&c)?)))
            }
            None => None,
        };
        let (source, id) = match from_binary {
            Some(found) => found,
            None => {
                let converter = self.converter(KERNEL)?;
                let id = find(&converter).ok_or(if binary.is_some() {
                    "not defined in the script, the binary's DWARF nor the kernel's BTF"
                } else {
                    "not defined in the script nor in the kernel's BTF"
                })?;
                (KERNEL, id)
            }
        };
        let mut converter = self.converter(source)?;
        Ok(if behind_pointer {
            converter.pointee(id, 0)
        } else {
            converter.value(id, 0)
        })
    }

    /// The BTF id of the kernel variable `name` (a per-CPU variable for `percpu_kaddr`).
    pub(super) fn variable(&mut self, name: &str) -> Result<u32, String> {
        let converter = self.converter(KERNEL)?;
        converter
            .btf
            .find_by_name(BtfKind::Var, name)
            .ok_or_else(|| format!("{name} is not a variable in the kernel's BTF"))
    }

    /// `curtask`: a `struct task_struct *` when the kernel has BTF.
    pub(super) fn task_pointer(&mut self) -> Option<Type> {
        let mut converter = self.converter(KERNEL).ok()?;
        let id = converter.btf.find_by_name(BtfKind::Struct, "task_struct")?;
        Some(Type::Pointer(Box::new(converter.pointee(id, 0))))
    }

    /// `ty` with the fields of its opaque record (or of the record it points to) converted;
    /// None if there was nothing to convert.
    pub(super) fn with_fields(&mut self, ty: &Type) -> Option<Type> {
        match ty {
            Type::Record(record) if record.is_opaque_kernel_type() => {
                let BtfId { source, id } = record.btf_id?;
                let alias = Some(record.name.clone());
                let mut converter = self.converter(source).ok()?;
                Some(Type::Record(converter.record(id, alias, 0)))
            }
            Type::Pointer(to) => self.with_fields(to).map(|to| Type::Pointer(Box::new(to))),
            _ => None,
        }
    }

    /// A kernel function's parameters (name, type) and return type, from its BTF prototype:
    /// what fentry/fexit programs receive.
    pub(super) fn function(&mut self, name: &str) -> Result<(Vec<(String, Type)>, Type), String> {
        let mut converter = self.converter(KERNEL)?;
        let btf = converter.btf;
        let id = btf
            .find_by_name(BtfKind::Func, name)
            .ok_or_else(|| format!("{name} is not a function in the kernel's BTF"))?;
        let proto = match btf.type_by_id(id).map(|t| &t.kind) {
            Some(TypeKind::Func { proto, .. }) => *proto,
            _ => return Err(format!("{name} has no prototype in the kernel's BTF")),
        };
        let Some(TypeKind::FuncProto(proto)) = btf.type_by_id(proto).map(|t| &t.kind) else {
            return Err(format!("{name} has no prototype in the kernel's BTF"));
        };
        let params = proto
            .params
            .iter()
            .map(|p| {
                (
                    btf.name(p.name_off).to_owned(),
                    converter.value(p.type_id, 0),
                )
            })
            .collect();
        let ret = converter.value(proto.ret, 0);
        Ok((params, ret))
    }

    /// A raw tracepoint's arguments (name, type): those of the kernel's `__bpf_trace_NAME`
    /// (the function the tracepoint calls programs through, its parameters named), without
    /// the leading `void *__data`.
    pub(super) fn raw_tracepoint(&mut self, name: &str) -> Result<Vec<(String, Type)>, String> {
        // The function the tracepoint calls programs through is named after the event, or for
        // an event of a class (sched_wakeup of sched_wakeup_template) after the class; then the
        // event's probe stub (Linux 6.4) still has its parameters, named.
        for function in [format!("__bpf_trace_{name}"), format!("__probestub_{name}")] {
            if let Ok((params, _)) = self.function(&function) {
                return Ok(params.into_iter().skip(1).collect());
            }
        }
        // Else `btf_trace_NAME`'s prototype, its parameters unnamed: arg0, arg1…
        let mut converter = self.converter(KERNEL)?;
        let btf = converter.btf;
        let proto = btf
            .find_by_name(BtfKind::Typedef, &format!("btf_trace_{name}"))
            .and_then(|id| match &btf.type_by_id(id)?.kind {
                TypeKind::Typedef(to) => match &btf.type_by_id(*to)?.kind {
                    TypeKind::Ptr(to) => match &btf.type_by_id(*to)?.kind {
                        TypeKind::FuncProto(proto) => Some(proto),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            })
            .ok_or_else(|| format!("{name} is not a raw tracepoint in the kernel's BTF"))?;
        Ok(proto
            .params
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, p)| (format!("arg{i}"), converter.value(p.type_id, 0)))
            .collect())
    }

    /// The parameters of `function` in `binary`, from its DWARF: each typed, and the
    /// argument register it is passed in (System V x86-64), or why it has none.
    pub(super) fn uprobe_function(
        &mut self,
        binary: &Path,
        function: &str,
    ) -> Result<Vec<UprobeParam>, String> {
        let source = self.binary_source(binary);
        let index = source as usize - 1;
        let info = match &self.binaries[index].1 {
            Ok(info) => info,
            Err(why) => return Err(why.clone()),
        };
        let params = info
            .parameters(function)
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let mut converter = Converter {
            btf: &info.types,
            source,
            records: &mut self.records,
            opaque: &mut self.opaque,
        };
        let mut next: Result<usize, String> = Ok(0);
        let mut out = Vec::with_capacity(params.len());
        for (i, param) in params.iter().enumerate() {
            let name = match param.name.as_str() {
                "" => format!("arg{i}"),
                name => name.to_owned(),
            };
            let ty = converter.value(param.type_id, 0);
            let passing = super::registers::passing(converter.btf, param.type_id);
            let register = match (&next, passing) {
                (Err(why), _) => Err(why.clone()),
                (Ok(n), _) if *n >= super::registers::ARGUMENTS.len() => Err(format!(
                    "{name} is argument {} of {function}: only the first {} integer arguments are in registers, the rest on the stack",
                    i + 1,
                    super::registers::ARGUMENTS.len()
                )),
                (Ok(n), super::registers::Passing::Register) => Ok(*n),
                (Ok(_), super::registers::Passing::Other(why)) => {
                    Err(format!("{name} ({ty}) of {function} is {why}"))
                }
            };
            next = match (&next, passing) {
                (Ok(n), super::registers::Passing::Register) => Ok(n + 1),
                (Ok(n), super::registers::Passing::Other(_)) => {
                    match super::registers::registers_taken(converter.btf, param.type_id) {
                        // What does not fit in the registers left goes on the stack whole.
                        Some(taken) if n + taken > super::registers::ARGUMENTS.len() => Ok(*n),
                        Some(taken) => Ok(n + taken),
                        None => Err(format!(
                            "{name}'s register is unknown: {function} takes {} by value before it",
                            out.len()
                        )),
                    }
                }
                (Err(why), _) => Err(why.clone()),
            };
            out.push((name, ty, register));
        }
        Ok(out)
    }

    /// The source number of `binary`'s DWARF, read on first need (the error kept).
    fn binary_source(&mut self, binary: &Path) -> u32 {
        let index = match self.binaries.iter().position(|(p, _)| p == binary) {
            Some(index) => index,
            None => {
                let start = Instant::now();
                let info =
                    DebugInfo::for_binary(binary, &self.debug_dirs).map_err(|e| e.to_string());
                log::debug!(
                    "read the DWARF of {} in {:?}",
                    binary.display(),
                    start.elapsed()
                );
                self.binaries.push((binary.to_path_buf(), info));
                self.binaries.len() - 1
            }
        };
        index as u32 + 1
    }

    fn converter(&mut self, source: u32) -> Result<Converter<'_>, String> {
        let btf = match source.checked_sub(1) {
            None => self
                .btf
                .get_or_insert_with(load_vmlinux)
                .as_ref()
                .map_err(Clone::clone)?,
            Some(index) => match self.binaries.get(index as usize).map(|(_, info)| info) {
                Some(Ok(info)) => &info.types,
                Some(Err(why)) => return Err(why.clone()),
                None => return Err("no such type source".to_owned()),
            },
        };
        Ok(Converter {
            btf,
            source,
            records: &mut self.records,
            opaque: &mut self.opaque,
        })
    }
}

fn load_vmlinux() -> Result<Btf, String> {
    let start = Instant::now();
    let btf =
        Btf::from_file(VMLINUX).map_err(|e| format!("the kernel's BTF is unavailable: {e}"))?;
    log::debug!("parsed {VMLINUX} in {:?}", start.elapsed());
    Ok(btf)
}

/// BTF types → the language's types, records cached by id.
struct Converter<'a> {
    btf: &'a Btf,
    /// The number records of this BTF carry in their [`BtfId`].
    source: u32,
    records: &'a mut HashMap<BtfId, Rc<Record>>,
    opaque: &'a mut HashMap<BtfId, Rc<Record>>,
}

impl Converter<'_> {
    fn key(&self, id: TypeId) -> BtfId {
        BtfId {
            source: self.source,
            id,
        }
    }

    /// A value of type `id`, with the fields of the records it holds by value.
    fn value(&mut self, id: TypeId, depth: u32) -> Type {
        let btf = self.btf;
        let (id, alias) = strip(btf, id);
        let Some(t) = btf.type_by_id(id) else {
            return Type::None;
        };
        match &t.kind {
            TypeKind::Int(int) => int_type(int),
            TypeKind::Ptr(to) => Type::Pointer(Box::new(self.pointee(*to, depth + 1))),
            TypeKind::Array(array) => {
                let element = self.value(array.elem, depth + 1);
                if array.len > 0 && is_char(btf, array.elem) {
                    Type::Str(array.len)
                } else {
                    Type::Array(Box::new(element), array.len)
                }
            }
            TypeKind::Struct(_) | TypeKind::Union(_) if depth < MAX_NESTING => {
                Type::Record(self.record(id, alias, depth))
            }
            TypeKind::Struct(_) | TypeKind::Union(_) => Type::Record(self.opaque(id, alias)),
            TypeKind::Enum(e) => Type::Enum(Rc::new(enum_type(btf, id, alias, e, 32))),
            TypeKind::Enum64(e) => Type::Enum(Rc::new(enum_type(btf, id, alias, e, 64))),
            TypeKind::Float { size } => Type::Float(*size),
            _ => Type::None,
        }
    }

    /// What a pointer to `id` points to: records stay opaque.
    fn pointee(&mut self, id: TypeId, depth: u32) -> Type {
        let btf = self.btf;
        let (id, alias) = strip(btf, id);
        let Some(t) = btf.type_by_id(id) else {
            return Type::None;
        };
        match &t.kind {
            TypeKind::Struct(_) | TypeKind::Union(_) => Type::Record(self.opaque(id, alias)),
            // `struct file;` in one unit, defined in another: the definition, by name.
            TypeKind::Fwd { is_union } => {
                let kind = if *is_union {
                    BtfKind::Union
                } else {
                    BtfKind::Struct
                };
                match btf.find_by_name(kind, btf.name(t.name_off)) {
                    Some(defined) => Type::Record(self.opaque(defined, alias)),
                    None => Type::None,
                }
            }
            TypeKind::Ptr(to) if depth < MAX_NESTING => {
                Type::Pointer(Box::new(self.pointee(*to, depth + 1)))
            }
            TypeKind::Int(_) | TypeKind::Enum(_) | TypeKind::Enum64(_) | TypeKind::Float { .. } => {
                self.value(id, depth)
            }
            // void, functions, arrays behind pointers: addresses only.
            _ => Type::None,
        }
    }

    /// A struct or union with its fields.
    fn record(&mut self, id: TypeId, alias: Option<String>, depth: u32) -> Rc<Record> {
        let key = self.key(id);
        if let Some(record) = self.records.get(&key) {
            return record.clone();
        }
        let btf = self.btf;
        let (composite, union) = match btf.type_by_id(id).map(|t| &t.kind) {
            Some(TypeKind::Struct(c)) => (c, false),
            Some(TypeKind::Union(c)) => (c, true),
            _ => return self.opaque(id, alias),
        };
        let mut fields = Vec::new();
        self.members(composite, 0, depth, &mut fields);
        let align = fields.iter().map(|f| f.ty.align()).max().unwrap_or(1);
        let record = Rc::new(Record {
            name: record_name(btf, id, union, alias),
            layout: Layout {
                fields,
                size: composite.size,
                align,
            },
            btf_id: Some(key),
        });
        self.records.insert(key, record.clone());
        record
    }

    /// The fields of `composite`, `base_bit` bits into the outer record; the fields of an
    /// anonymous struct or union member are the outer record's, as in C.
    fn members(&mut self, composite: &Composite, base_bit: u64, depth: u32, out: &mut Vec<Field>) {
        let btf = self.btf;
        for member in &composite.members {
            let bit = base_bit + u64::from(member.bit_offset);
            let name = btf.name(member.name_off);
            if name.is_empty() {
                let (inner, _) = strip(btf, member.type_id);
                if let Some(TypeKind::Struct(c) | TypeKind::Union(c)) =
                    btf.type_by_id(inner).map(|t| &t.kind)
                {
                    if depth < MAX_NESTING {
                        self.members(c, bit, depth + 1, out);
                    }
                }
                // Otherwise an unnamed bit field: padding.
                continue;
            }
            let ty = self.value(member.type_id, depth + 1);
            let (offset, bits) = if member.bitfield_size > 0 {
                let width = member.bitfield_size;
                // A field wider than any word that holds it is left out (packed structs only).
                let Some((offset, shift)) = bitfield_word(bit, width) else {
                    continue;
                };
                (offset, Some(BitField { shift, width }))
            } else {
                ((bit / 8) as u32, None)
            };
            out.push(Field {
                name: name.to_owned(),
                ty,
                offset,
                bits,
            });
        }
    }

    /// A record seen through a pointer: size and a guessed alignment, no fields.
    fn opaque(&mut self, id: TypeId, alias: Option<String>) -> Rc<Record> {
        let key = self.key(id);
        if let Some(record) = self.records.get(&key).or_else(|| self.opaque.get(&key)) {
            return record.clone();
        }
        let btf = self.btf;
        let union = matches!(
            btf.type_by_id(id).map(|t| &t.kind),
            Some(TypeKind::Union(_))
        );
        let size = btf.size_of(id).unwrap_or(0) as u32;
        // The alignment matters only for a value in a tuple; a value is read after `*`,
        // which converts the fields (and the true alignment).
        let align = (1 << size.trailing_zeros().min(3)).min(8);
        let record = Rc::new(Record {
            name: record_name(btf, id, union, alias),
            layout: Layout {
                fields: Vec::new(),
                size,
                align,
            },
            btf_id: Some(key),
        });
        self.opaque.insert(key, record.clone());
        record
    }
}

/// Follows typedefs and qualifiers; also returns the outermost typedef's name (what an
/// anonymous record is called: `atomic_t`).
fn strip(btf: &Btf, mut id: TypeId) -> (TypeId, Option<String>) {
    let mut alias = None;
    // The parser bounds reference chains; the limit only keeps this loop obviously finite.
    for _ in 0..512 {
        match btf.type_by_id(id).map(|t| &t.kind) {
            Some(TypeKind::Typedef(next)) => {
                alias.get_or_insert_with(|| btf.type_name(id).to_owned());
                id = *next;
            }
            Some(
                TypeKind::Const(next)
                | TypeKind::Volatile(next)
                | TypeKind::Restrict(next)
                | TypeKind::TypeTag { target: next, .. },
            ) => id = *next,
            _ => break,
        }
    }
    (id, alias)
}

fn int_type(int: &BtfInt) -> Type {
    match int.size {
        1 if int.is_bool() => Type::Bool,
        1 | 2 | 4 | 8 => Type::int((int.size * 8) as u8, int.is_signed()),
        // __int128: bytes.
        size => bytes(size),
    }
}

fn bytes(size: u32) -> Type {
    Type::Array(Box::new(Type::int(8, false)), size)
}

/// `char` (however qualified): its arrays read as strings, as in bpftrace.
fn is_char(btf: &Btf, id: TypeId) -> bool {
    let (id, _) = strip(btf, id);
    match btf.type_by_id(id).map(|t| &t.kind) {
        Some(TypeKind::Int(int)) => int.size == 1 && (int.is_char() || btf.type_name(id) == "char"),
        _ => false,
    }
}

fn enum_type(
    btf: &Btf,
    id: TypeId,
    alias: Option<String>,
    e: &BtfEnum,
    value_bits: u32,
) -> EnumType {
    let name = match btf.type_name(id) {
        "" => alias.unwrap_or_else(|| "(anonymous)".to_owned()),
        name => name.to_owned(),
    };
    EnumType {
        name,
        bits: (e.size.clamp(1, 8) * 8) as u8,
        variants: e
            .values
            .iter()
            .map(|v| {
                let value = if e.signed {
                    v.as_i64(value_bits)
                } else {
                    v.value as i64
                };
                (btf.name(v.name_off).to_owned(), value)
            })
            .collect(),
    }
}

fn record_name(btf: &Btf, id: TypeId, union: bool, alias: Option<String>) -> String {
    let keyword = if union { "union" } else { "struct" };
    match btf.type_name(id) {
        "" => alias.unwrap_or_else(|| format!("{keyword} (anonymous)")),
        name => format!("{keyword} {name}"),
    }
}

/// Where a bit field is read: the byte offset of the smallest naturally aligned word (1, 2, 4
/// or 8 bytes) holding bits `bit..bit + width` of the record, and the shift within it.
fn bitfield_word(bit: u64, width: u8) -> Option<(u32, u8)> {
    let last = bit + u64::from(width.max(1)) - 1;
    [1u64, 2, 4, 8].into_iter().find_map(|bytes| {
        let unit = bytes * 8;
        (bit / unit == last / unit).then(|| {
            let offset = bit / unit * bytes;
            (offset as u32, (bit - offset * 8) as u8)
        })
    })
}

impl Checker {
    /// `curtask`: a pointer to the script's `struct task_struct` if it defines one, else to
    /// the kernel's; a plain u64 without BTF (it still prints with `%p`).
    pub(super) fn curtask_type(&mut self) -> Type {
        match self.records.get("struct task_struct") {
            Some(record) => Type::Pointer(Box::new(Type::Record(record.clone()))),
            None => self.kernel.task_pointer().unwrap_or(Type::U64),
        }
    }

    /// The type of `base` in `base.f`/`base->f`, its kernel record's fields converted; the
    /// base expression is retyped so codegen finds the field too.
    pub(super) fn with_kernel_fields(&mut self, base: &Expr, ty: Type) -> Type {
        match self.kernel.with_fields(&ty) {
            Some(full) => {
                self.types.insert(base.id.0, full.clone());
                // A variable has one type for the whole probe: the one with the fields.
                if let crate::ast::ExprKind::Variable(name) = &base.kind {
                    if let Some(declared) = self.variables.get_mut(name) {
                        if *declared == full {
                            *declared = full.clone();
                        }
                    }
                }
                full
            }
            None => ty,
        }
    }

    /// `*p`: the pointee with its fields; refused when it cannot fit in scratch memory.
    pub(super) fn dereferenced(&mut self, pointee: Type, span: Span) -> Type {
        let ty = self.kernel.with_fields(&pointee).unwrap_or(pointee);
        let limit = crate::codegen::MAX_SCRATCH;
        if ty.size() > limit {
            self.error(
                span,
                format!(
                    "{ty} is {} bytes, more than the {limit} bytes of scratch memory a program has: read its fields instead",
                    ty.size()
                ),
            );
        }
        ty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's own answer, from the library's BTF walked by hand: (byte offset, size) of
    /// a member of a named struct.
    fn member_from_btf(btf: &Btf, strukt: &str, member: &str) -> (u32, u64) {
        let id = btf.find_by_name(BtfKind::Struct, strukt).expect("struct");
        let Some(TypeKind::Struct(c)) = btf.type_by_id(id).map(|t| &t.kind) else {
            panic!("{strukt} is not a struct");
        };
        let m = c
            .members
            .iter()
            .find(|m| btf.name(m.name_off) == member)
            .expect("member");
        (m.bit_offset / 8, btf.size_of(m.type_id).expect("size"))
    }

    fn task_struct(kernel: &mut KernelTypes) -> Rc<Record> {
        match kernel.lookup(&BaseType::Struct("task_struct".into()), false, None) {
            Ok(Type::Record(record)) => record,
            other => panic!("task_struct: {other:?}"),
        }
    }

    #[test]
    fn task_struct_pid_is_where_btf_puts_it() {
        let btf = Btf::from_file(VMLINUX).expect("vmlinux BTF");
        let (offset, size) = member_from_btf(&btf, "task_struct", "pid");
        let mut kernel = KernelTypes::default();
        let task = task_struct(&mut kernel);
        let pid = task.layout.field("pid").expect("pid field");
        assert_eq!((pid.offset, u64::from(pid.ty.size())), (offset, size));
        assert_eq!(pid.ty, Type::int(32, true));
        assert_eq!(
            u64::from(task.layout.size),
            btf.size_of(btf.find_by_name(BtfKind::Struct, "task_struct").unwrap())
                .unwrap()
        );
        assert_eq!(
            task.layout.field("comm").map(|f| &f.ty),
            Some(&Type::Str(16))
        );
    }

    #[test]
    fn pointers_to_records_stay_opaque_until_their_fields_are_needed() {
        let mut kernel = KernelTypes::default();
        let task = task_struct(&mut kernel);
        let Some(Type::Pointer(parent)) = task.layout.field("parent").map(|f| f.ty.clone()) else {
            panic!("parent is not a pointer");
        };
        let Type::Record(opaque) = parent.as_ref() else {
            panic!("parent points to {parent}");
        };
        assert_eq!(opaque.name, "struct task_struct");
        let mm = task.layout.field("mm").expect("mm").ty.clone();
        let Type::Pointer(mm_record) = &mm else {
            panic!("mm is {mm}");
        };
        let Type::Record(mm_record) = mm_record.as_ref() else {
            panic!("mm points to {mm_record}");
        };
        assert!(mm_record.is_opaque_kernel_type());
        let full = kernel.with_fields(&mm).expect("mm_struct converted");
        let Type::Pointer(full_record) = &full else {
            panic!("{full}");
        };
        let Type::Record(full_record) = full_record.as_ref() else {
            panic!("{full_record}");
        };
        assert!(!full_record.layout.fields.is_empty());
        assert_eq!(full, mm, "a kernel type equals itself opaque or not");
    }

    #[test]
    fn anonymous_members_lend_their_fields_and_bit_fields_are_placed() {
        let btf = Btf::from_file(VMLINUX).expect("vmlinux BTF");
        let mut kernel = KernelTypes::default();
        // `struct sk_buff` keeps `len` at the top level, `dev` in an anonymous union and
        // bit fields such as `pkt_type`.
        let skb = match kernel.lookup(&BaseType::Struct("sk_buff".into()), false, None) {
            Ok(Type::Record(record)) => record,
            other => panic!("sk_buff: {other:?}"),
        };
        assert!(
            skb.layout.field("dev").is_some(),
            "dev through an anonymous union"
        );
        let pkt_type = skb.layout.field("pkt_type").expect("pkt_type");
        let bits = pkt_type.bits.expect("a bit field");
        assert_eq!(bits.width, 3);
        let expected = bit_offset_of(&btf, "sk_buff", "pkt_type");
        assert_eq!(
            u64::from(pkt_type.offset) * 8 + u64::from(bits.shift),
            expected
        );
    }

    /// The bit offset of a (possibly nested anonymous) member, from the raw BTF.
    fn bit_offset_of(btf: &Btf, strukt: &str, member: &str) -> u64 {
        fn find(btf: &Btf, id: TypeId, member: &str) -> Option<u64> {
            let (id, _) = strip(btf, id);
            let (TypeKind::Struct(c) | TypeKind::Union(c)) = &btf.type_by_id(id)?.kind else {
                return None;
            };
            c.members.iter().find_map(|m| match btf.name(m.name_off) {
                "" => find(btf, m.type_id, member).map(|b| b + u64::from(m.bit_offset)),
                name if name == member => Some(u64::from(m.bit_offset)),
                _ => None,
            })
        }
        let id = btf.find_by_name(BtfKind::Struct, strukt).expect("struct");
        find(btf, id, member).expect("member")
    }

    #[test]
    fn bit_field_words_are_naturally_aligned() {
        assert_eq!(bitfield_word(8, 8), Some((1, 0)));
        assert_eq!(bitfield_word(12, 8), Some((0, 12)));
        assert_eq!(bitfield_word(33, 3), Some((4, 1)));
        assert_eq!(bitfield_word(60, 8), None);
    }

    #[test]
    fn typedefs_enums_and_unknown_names() {
        let mut kernel = KernelTypes::default();
        assert_eq!(
            kernel.lookup(&BaseType::Named("pid_t".into()), false, None),
            Ok(Type::int(32, true))
        );
        match kernel.lookup(&BaseType::Enum("pid_type".into()), false, None) {
            Ok(Type::Enum(e)) => assert_eq!(e.name_of(0), Some("PIDTYPE_PID")),
            other => panic!("enum pid_type: {other:?}"),
        }
        let missing = kernel.lookup(&BaseType::Struct("no_such_struct_here".into()), false, None);
        assert!(missing.unwrap_err().contains("kernel's BTF"));
    }
}
