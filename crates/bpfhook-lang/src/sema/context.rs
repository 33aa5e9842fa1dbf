//! What a probe's program receives: its context kind (how `argN`, `retval`, `args` are read)
//! and, for tracepoints, the record's fields from the tracefs format file.

use std::rc::Rc;

use bpfhook::discover::{TracepointField, TracepointFormat};

use crate::probes::{ProbeInstance, ProbeKind};
use crate::types::{Field, Layout, Record, Type};

/// How the program's context is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProbeContext {
    /// BEGIN/END, interval, profile, perf counters: no arguments.
    #[default]
    None,
    /// A tracepoint record: `args` fields at fixed offsets of the context.
    Tracepoint {
        args: Rc<Record>,
        data_loc: Vec<String>,
        /// Fields that point to a struct, by field: the struct's name. They are plain
        /// addresses until a script goes through one (the kernel's BTF then types them).
        struct_pointers: Vec<(String, String)>,
        /// Fields of an `enum X` type, by field: the enum's name (typed through BTF where
        /// read, so they print as the enumerator's name).
        enum_fields: Vec<(String, String)>,
    },
    /// A raw tracepoint: `arg0…` are u64s at the start of the context; `args` names and types
    /// them from the kernel's BTF (`btf_trace_NAME`) when it has them.
    RawTracepoint { args: Option<Rc<Record>> },
    /// `struct pt_regs`: arguments in registers (kprobes, uprobes), `retval` for returns; a
    /// uprobe's `args` named and typed from the binary's DWARF (read on first use).
    Registers {
        ret: bool,
        args: Option<Rc<RegisterArgs>>,
    },
    /// fentry/fexit: the function's arguments as u64s at the start of the context (typed
    /// from its BTF prototype into `args`), fexit's return value after them.
    Trampoline {
        ret: bool,
        args: Option<Rc<Record>>,
        retval: Type,
    },
    /// A BPF iterator: `ctx` is the kernel's `struct bpf_iter__TARGET` (typed from BTF), read
    /// in place; its object pointer is NULL on the last call.
    Iterator { ctx: Option<Rc<Record>> },
}

impl ProbeContext {
    /// Reads what the instance needs (the format file of a tracepoint).
    pub fn for_instance(instance: &ProbeInstance) -> Result<Self, String> {
        Ok(match &instance.kind {
            ProbeKind::Tracepoint { category, name } => {
                let format = TracepointFormat::read(category, name).map_err(|e| e.to_string())?;
                tracepoint_context(&format)
            }
            ProbeKind::RawTracepoint { .. } => ProbeContext::RawTracepoint { args: None },
            ProbeKind::Kprobe { ret, .. } | ProbeKind::Uprobe { ret, .. } => {
                ProbeContext::Registers {
                    ret: *ret,
                    args: None,
                }
            }
            ProbeKind::Fentry { ret, .. } => ProbeContext::Trampoline {
                ret: *ret,
                args: None,
                retval: Type::I64,
            },
            ProbeKind::Iter { .. } => ProbeContext::Iterator { ctx: None },
            _ => ProbeContext::None,
        })
    }

    pub fn has_args_struct(&self) -> bool {
        matches!(
            self,
            ProbeContext::Tracepoint { .. }
                | ProbeContext::Trampoline { args: Some(_), .. }
                | ProbeContext::RawTracepoint { args: Some(_) }
        )
    }

    /// An iterator's context record, which `ctx` stands for in place.
    pub fn iterator_ctx(&self) -> Option<&Rc<Record>> {
        match self {
            ProbeContext::Iterator { ctx } => ctx.as_ref(),
            _ => None,
        }
    }

    /// Where fexit's return value is: after the arguments.
    pub fn retval_offset(&self) -> Option<i16> {
        match self {
            ProbeContext::Trampoline {
                args: Some(args), ..
            } => Some(args.layout.size as i16),
            _ => None,
        }
    }
}

/// A uprobe's `args`: the parameters found in registers, as a record of 8-byte slots (what a
/// copy of `args` holds), and those a uprobe cannot read with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterArgs {
    pub record: Rc<Record>,
    /// Where each field of `record` is read: its register's offset in `struct pt_regs`.
    pub registers: Vec<i16>,
    /// Parameters not in one integer register: (name, why).
    pub unreadable: Vec<(String, String)>,
}

impl RegisterArgs {
    /// From the parameters in order: (name, type, register index or why it has none).
    pub fn new(function: &str, params: Vec<(String, Type, Result<usize, String>)>) -> Self {
        let mut readable = Vec::new();
        let mut registers = Vec::new();
        let mut unreadable = Vec::new();
        for (name, ty, register) in params {
            let offset = register.and_then(|index| {
                super::registers::ARGUMENTS
                    .get(index)
                    .and_then(|r| super::registers::offset(r))
                    .ok_or_else(|| format!("{name} is not in an argument register"))
            });
            match offset {
                Ok(offset) => {
                    registers.push(offset);
                    readable.push((name, ty));
                }
                Err(why) => unreadable.push((name, why)),
            }
        }
        RegisterArgs {
            record: arguments_record(&format!("struct _uprobe_{function}"), readable),
            registers,
            unreadable,
        }
    }

    /// The context offset of the register holding field `name`.
    pub fn register_of(&self, name: &str) -> Option<i16> {
        let index = self
            .record
            .layout
            .fields
            .iter()
            .position(|f| f.name == name)?;
        self.registers.get(index).copied()
    }
}

/// fentry/fexit's context typed from the function's prototype.
pub fn trampoline_context(
    function: &str,
    ret: bool,
    params: Vec<(String, Type)>,
    retval: Type,
) -> ProbeContext {
    ProbeContext::Trampoline {
        ret,
        args: Some(arguments_record(
            &format!("struct _fentry_{function}"),
            params,
        )),
        retval,
    }
}

/// Arguments passed as u64s at the start of the context (fentry, raw tracepoints): argument
/// i is the u64 at offset 8·i, narrower values in its low bytes, as the kernel stores them.
pub fn arguments_record(name: &str, params: Vec<(String, Type)>) -> Rc<Record> {
    let fields: Vec<Field> = params
        .into_iter()
        .enumerate()
        .map(|(i, (name, ty))| Field {
            name,
            ty,
            offset: 8 * i as u32,
            bits: None,
        })
        .collect();
    let size = 8 * fields.len() as u32;
    Rc::new(Record {
        name: name.to_owned(),
        layout: Layout {
            fields,
            size,
            align: 8,
        },
        btf_id: None,
    })
}

fn tracepoint_context(format: &TracepointFormat) -> ProbeContext {
    let mut data_loc = Vec::new();
    let struct_pointers = format
        .fields
        .iter()
        .filter_map(|f| Some((f.name.clone(), pointed_struct(&f.c_type)?)))
        .collect();
    let enum_fields = format
        .fields
        .iter()
        .filter_map(|f| {
            let name = f.c_type.trim().strip_prefix("enum ")?.trim();
            (!name.contains([' ', '*', '['])).then(|| (f.name.clone(), name.to_owned()))
        })
        .collect();
    let fields: Vec<Field> = format
        .fields
        .iter()
        .filter(|f| !f.is_common())
        .map(|f| {
            if f.c_type.starts_with("__data_loc") {
                data_loc.push(f.name.clone());
            }
            Field {
                name: f.name.clone(),
                ty: field_type(f),
                offset: f.offset,
                bits: None,
            }
        })
        .collect();
    let size = format
        .fields
        .iter()
        .map(|f| f.offset + f.size)
        .max()
        .unwrap_or(0);
    ProbeContext::Tracepoint {
        args: Rc::new(Record {
            name: format!("struct _tracepoint_{}_{}", format.category, format.name),
            layout: Layout {
                fields,
                size,
                align: 8,
            },
            btf_id: None,
        }),
        data_loc,
        struct_pointers,
        enum_fields,
    }
}

/// `struct X *` (or `const struct X *`): X.
fn pointed_struct(c_type: &str) -> Option<String> {
    let base = c_type.trim().strip_suffix('*')?.trim();
    let base = base.strip_prefix("const ").unwrap_or(base).trim();
    let name = base.strip_prefix("struct ")?.trim();
    (!name.is_empty() && !name.contains([' ', '*'])).then(|| name.to_owned())
}

/// A format file's C type → ours: `char[16]` a string, pointers and longs as u64, `__data_loc`
/// the 4-byte location word (read through `str()`).
fn field_type(field: &TracepointField) -> Type {
    let c = field.c_type.as_str();
    if c.starts_with("__data_loc") {
        return Type::U32;
    }
    if c.contains('*') {
        return Type::U64;
    }
    if let Some(bracket) = c.find('[') {
        let element = c[..bracket].trim();
        let count: u32 = c[bracket + 1..].trim_end_matches(']').parse().unwrap_or(0);
        if element.ends_with("char") && count > 0 {
            return Type::Str(count);
        }
        if count > 0 && field.size.is_multiple_of(count) {
            let width = (field.size / count) as u8 * 8;
            if matches!(width, 8 | 16 | 32 | 64) {
                return Type::Array(Box::new(Type::int(width, field.signed)), count);
            }
        }
        return Type::Str(field.size.max(1));
    }
    match field.size {
        1 if c == "bool" => Type::Bool,
        1 | 2 | 4 | 8 => Type::int((field.size * 8) as u8, field.signed),
        n => Type::Str(n.max(1)),
    }
}
