//! Expressions: literals, variables, builtins, operators, casts, field and index access.

use bpfhook::asm::{AluOp, Helper, JmpOp, Size, R0, R1, R10, R2, R3, R4, R6};

use super::frame::{size_for, ProgramGen, Val};
use super::reach::Reach;
use crate::ast::*;
use crate::probes::ProbeKind;
use crate::sema::builtins::ConfigValue;
use crate::sema::{Builtin, ProbeContext, RegisterArgs};
use crate::types::Type;

/// BPF_F_USER_STACK: the stack helpers walk the user stack.
const USER_STACK: i32 = 1 << 8;

/// Where the bytes of an lvalue-like expression are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Place {
    /// In the program's context (a tracepoint record), at this offset.
    Ctx(i32),
    /// In scratch memory.
    Mem(i32),
    /// In kernel or user memory at the address in the slot, plus an offset: read with a
    /// probe-read helper.
    Remote(Val, i32),
}

impl ProgramGen<'_> {
    pub(super) fn constant_of(&self, expr: &Expr) -> Option<i64> {
        let settings = &self.analysis.settings;
        crate::sema::constant_value(expr, &self.analysis.enums, &settings.positional)
    }

    fn positional_int(&self, n: u32) -> Option<i64> {
        crate::sema::positional_int(&self.analysis.settings.positional, n)
    }

    /// Evaluates an expression: scalars to an immediate or a slot, aggregates into scratch.
    pub(super) fn expr(&mut self, expr: &Expr) -> Val {
        let ty = self.ty(expr);
        match &expr.kind {
            ExprKind::Integer { value, .. } => Val::Imm(*value as i64),
            ExprKind::Bool(b) => Val::Imm(i64::from(*b)),
            ExprKind::String(text) => {
                let mem = self.mem(ty.size());
                self.write_string(mem, text.as_bytes(), ty.size());
                Val::Mem(mem)
            }
            ExprKind::Variable(name) => self.variables.get(name).copied().unwrap_or(Val::Imm(0)),
            ExprKind::Map(name) => self.map_load(name, &[], expr.span),
            ExprKind::MapIndex { map, keys } => self.map_load(&map.name, keys, expr.span),
            ExprKind::Identifier(name) => {
                if let Some((_, value)) = self.analysis.enums.get(name) {
                    return Val::Imm(*value);
                }
                match Builtin::from_name(name) {
                    Some(builtin) => self.builtin(builtin, &ty, expr),
                    None => Val::Imm(0),
                }
            }
            ExprKind::Positional(n) => match (self.positional_int(*n), &ty) {
                (None, Type::Str(size)) => {
                    let text = self.analysis.settings.positional[*n as usize - 1].clone();
                    let mem = self.mem(*size);
                    self.write_string(mem, text.as_bytes(), *size);
                    Val::Mem(mem)
                }
                (value, _) => Val::Imm(value.unwrap_or(0)),
            },
            ExprKind::PositionalCount => Val::Imm(self.analysis.settings.positional.len() as i64),
            ExprKind::Call { function, args } => self.call(&function.name, args, expr),
            ExprKind::Field { .. } | ExprKind::Index { .. } | ExprKind::TupleIndex { .. } => {
                let place = self.place(expr);
                self.site = expr.span;
                self.kernel_memory = self.reached_from_curtask(expr);
                let value = match (place, self.bit_field(expr)) {
                    (Some(place), Some(bits)) => self.read_bit_field(place, bits, &ty),
                    (Some(place), None) => self.read_place(place, &ty),
                    (None, _) => Val::Imm(0),
                };
                self.kernel_memory = false;
                value
            }
            ExprKind::Unary { op, operand } => self.unary(*op, operand, &ty),
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, &ty),
            ExprKind::Ternary {
                condition,
                then,
                otherwise,
            } => self.ternary(condition, then, otherwise, &ty),
            ExprKind::Increment {
                target,
                decrement,
                prefix,
            } => self.increment(target, *decrement, *prefix),
            ExprKind::Cast { operand, .. } => {
                let value = self.expr(operand);
                if ty.is_scalar() {
                    self.load(R0, value);
                    // An integer becomes a pointer zero-extended from its width.
                    if let (Type::Pointer(_), Some(int)) = (&ty, self.ty(operand).as_int()) {
                        self.convert(R0, &Type::int(int.bits, false));
                    }
                    self.convert(R0, &ty);
                    self.spill(R0)
                } else {
                    let from = self.ty(operand);
                    match (from.is_scalar(), value) {
                        // (int8[4])ptr: read the bytes it points at.
                        (true, v) => self.read_place(Place::Remote(v, 0), &ty),
                        (false, Val::Mem(src)) => {
                            let dst = self.mem(ty.size());
                            self.store_converted(dst, Val::Mem(src), &from, &ty);
                            Val::Mem(dst)
                        }
                        (false, v) => v,
                    }
                }
            }
            ExprKind::Block { body, value } => {
                self.block(body);
                self.expr(value)
            }
            ExprKind::Tuple(_) | ExprKind::NamedTuple(_) => {
                let layout = match &ty {
                    Type::Tuple(layout) => layout.as_ref().clone(),
                    Type::Record(record) => record.layout.clone(),
                    _ => return Val::Imm(0),
                };
                let elements: Vec<&Expr> = match &expr.kind {
                    ExprKind::Tuple(elements) => elements.iter().collect(),
                    ExprKind::NamedTuple(elements) => elements.iter().map(|(_, e)| e).collect(),
                    _ => Vec::new(),
                };
                let mem = self.mem(layout.size);
                self.zero(mem, layout.size);
                for (field, element) in layout.fields.iter().zip(elements) {
                    let value = self.expr(element);
                    let from = self.ty(element);
                    self.store_converted(mem + field.offset as i32, value, &from, &field.ty);
                }
                Val::Mem(mem)
            }
            ExprKind::SizeofType(_) | ExprKind::SizeofExpr(_) | ExprKind::Offsetof { .. } => {
                Val::Imm(self.size_constant(expr))
            }
            // Refused by the semantic pass outside `sizeof` (which reads no value).
            ExprKind::Type(_) => Val::Imm(0),
        }
    }

    /// `sizeof`/`offsetof`, known from the types.
    fn size_constant(&self, expr: &Expr) -> i64 {
        match &expr.kind {
            ExprKind::SizeofExpr(inner) => i64::from(self.ty(inner).size()),
            _ => {
                // The semantic pass resolved the type; its size is what sizeof(type) means.
                self.analysis
                    .size_constants
                    .get(&expr.id)
                    .copied()
                    .unwrap_or(0) as i64
            }
        }
    }

    fn builtin(&mut self, builtin: Builtin, ty: &Type, expr: &Expr) -> Val {
        match builtin {
            Builtin::Pid | Builtin::Tid => {
                self.b.call_helper(Helper::GetCurrentPidTgid);
                if builtin == Builtin::Pid {
                    self.b.alu64_imm(AluOp::Rsh, R0, 32);
                } else {
                    self.b.mov32_reg(R0, R0);
                }
                self.spill(R0)
            }
            Builtin::Username => {
                self.b
                    .call_helper(Helper::GetCurrentUidGid)
                    .mov32_reg(R0, R0);
                self.spill(R0)
            }
            Builtin::Uid | Builtin::Gid => {
                self.b.call_helper(Helper::GetCurrentUidGid);
                if builtin == Builtin::Gid {
                    self.b.alu64_imm(AluOp::Rsh, R0, 32);
                } else {
                    self.b.mov32_reg(R0, R0);
                }
                self.spill(R0)
            }
            Builtin::Cpu => self.helper_value(Helper::GetSmpProcessorId),
            Builtin::Nsecs => self.helper_value(Helper::KtimeGetNs),
            Builtin::Elapsed => {
                self.b.call_helper(Helper::KtimeGetNs);
                let now = self.spill(R0);
                let key = self.slot();
                self.b
                    .st(Size::W, R10, key, 0)
                    .ld_map_fd(R1, super::START_MAP)
                    .mov64_reg(R2, R10)
                    .alu64_imm(AluOp::Add, R2, i32::from(key))
                    .call_helper(Helper::MapLookupElem);
                let done = self.label("elapsed");
                self.load(R1, now);
                self.b
                    .jmp_imm(JmpOp::Jeq, R0, 0, &done)
                    .ldx(Size::DW, R2, R0, 0)
                    .alu64_reg(AluOp::Sub, R1, R2)
                    .label(&done);
                self.spill(R1)
            }
            Builtin::Cgroup => self.helper_value(Helper::GetCurrentCgroupId),
            Builtin::Curtask => self.helper_value(Helper::GetCurrentTask),
            Builtin::Rand => self.helper_value(Helper::GetPrandomU32),
            Builtin::Numaid => self.helper_value(Helper::GetNumaNodeId),
            Builtin::Jiffies => self.helper_value(Helper::Jiffies64),
            Builtin::Ncpus => Val::Imm(online_cpus()),
            Builtin::Cpid => Val::Imm(i64::from(self.analysis.settings.child_pid.unwrap_or(0))),
            Builtin::Comm => {
                let mem = self.mem(16);
                self.zero(mem, 16);
                self.mem_address(R1, mem);
                self.b.mov64_imm(R2, 16).call_helper(Helper::GetCurrentComm);
                Val::Mem(mem)
            }
            Builtin::Probe => {
                let name = self.instance.name.clone();
                let mem = self.mem(ty.size());
                self.write_string(mem, name.as_bytes(), ty.size());
                Val::Mem(mem)
            }
            Builtin::Probetype => {
                let name = self.instance.kind.type_name();
                let mem = self.mem(ty.size());
                self.write_string(mem, name.as_bytes(), ty.size());
                Val::Mem(mem)
            }
            Builtin::Config => {
                let Type::Record(record) = ty else {
                    return Val::Imm(0);
                };
                let values = crate::sema::builtins::config_values(&self.analysis.settings);
                let mem = self.mem(record.layout.size);
                self.zero(mem, record.layout.size);
                for (field, (_, value)) in record.layout.fields.iter().zip(values) {
                    let at = mem + field.offset as i32;
                    match value {
                        ConfigValue::Bool(b) => self.store(at, Val::Imm(i64::from(b)), &field.ty),
                        ConfigValue::Int(n) => self.store(at, Val::Imm(n as i64), &field.ty),
                        ConfigValue::Str(text) => {
                            self.write_string(at, text.as_bytes(), field.ty.size())
                        }
                    }
                }
                Val::Mem(mem)
            }
            Builtin::Func => {
                let name = match &self.instance.kind {
                    ProbeKind::Kprobe { function, .. } | ProbeKind::Fentry { function, .. } => {
                        function.clone()
                    }
                    ProbeKind::Uprobe { symbol, .. } => symbol.clone(),
                    _ => String::new(),
                };
                let mem = self.mem(ty.size());
                self.write_string(mem, name.as_bytes(), ty.size());
                Val::Mem(mem)
            }
            Builtin::Arg(n) => {
                if let ProbeKind::Usdt { arguments, .. } = &self.instance.kind {
                    // One sema could not read was reported there.
                    return match arguments.get(usize::from(n)).cloned() {
                        Some(Ok(argument)) => self.usdt_argument(&argument),
                        _ => Val::Imm(0),
                    };
                }
                let offset = match self.context {
                    ProbeContext::Registers { .. } => crate::sema::registers::offset(
                        crate::sema::registers::ARGUMENTS[usize::from(n).min(5)],
                    )
                    .unwrap_or(0),
                    _ => i16::from(n) * 8,
                };
                self.load_from(Size::DW, R0, R6, offset);
                self.spill(R0)
            }
            Builtin::Retval => match self.context.retval_offset() {
                // fexit: after the arguments, as wide as the function's return type.
                Some(offset) => self.read_place(Place::Ctx(i32::from(offset)), ty),
                None => {
                    let offset =
                        crate::sema::registers::offset(crate::sema::registers::RETURN).unwrap_or(0);
                    self.b.ldx(Size::DW, R0, R6, offset);
                    self.spill(R0)
                }
            },
            Builtin::Args => match &self.context {
                ProbeContext::Registers {
                    args: Some(args), ..
                } => self.register_args(&args.clone()),
                _ => self.read_place(Place::Ctx(0), ty),
            },
            Builtin::Ctx if self.context.iterator_ctx().is_some() => {
                self.read_place(Place::Ctx(0), ty)
            }
            Builtin::Ctx => {
                self.b.mov64_reg(R0, R6);
                self.spill(R0)
            }
            Builtin::Kstack | Builtin::Ustack => self.stack(builtin == Builtin::Ustack, None, expr),
            Builtin::Usermode => {
                // begin/end run on behalf of the user's command; elsewhere the saved code
                // segment's low bits say ring 3.
                if self.instance.is_run_once() {
                    return Val::Imm(1);
                }
                match self.context {
                    ProbeContext::Registers { .. } => {
                        let cs = crate::sema::registers::offset("cs").unwrap_or(0);
                        self.b
                            .ldx(Size::DW, R0, R6, cs)
                            .alu64_imm(AluOp::And, R0, 3)
                            .alu64_imm(AluOp::Rsh, R0, 1);
                        self.spill(R0)
                    }
                    _ => Val::Imm(0),
                }
            }
        }
    }

    fn helper_value(&mut self, helper: Helper) -> Val {
        self.b.call_helper(helper);
        self.spill(R0)
    }

    /// A stack id from `bpf_get_stackid` (and, for user stacks, the pid beside it).
    pub(super) fn stack(&mut self, user: bool, _frames: Option<i64>, expr: &Expr) -> Val {
        self.uses_stacks = true;
        self.b
            .mov64_reg(R1, R6)
            .ld_map_fd(R2, super::STACKS_MAP)
            .mov64_imm(R3, if user { USER_STACK } else { 0 })
            .call_helper(Helper::GetStackid);
        if !user {
            return self.spill(R0);
        }
        // A user stack: the id (32 bits), the frames `len()` counts (32 bits), the pid.
        let mem = self.mem(16);
        self.stx_scratch(Size::DW, mem, R0);
        if let (true, Type::Ustack(spec)) = (self.analysis.counts_stack_frames, self.ty(expr)) {
            self.count_user_frames(mem + 4, spec.frames);
        }
        self.b
            .call_helper(Helper::GetCurrentPidTgid)
            .alu64_imm(AluOp::Rsh, R0, 32);
        self.stx_scratch(Size::DW, mem + 8, R0);
        Val::Mem(mem)
    }

    /// The user stack's depth, at most `frames`, as a u32 at scratch `dst`: bpf_get_stack
    /// copies the frames to a scratch buffer and says how many bytes it wrote.
    fn count_user_frames(&mut self, dst: i32, frames: u32) {
        let size = frames.max(1) * 8;
        let buffer = self.mem(size);
        let done = self.label("frames");
        self.b.mov64_reg(R1, R6);
        self.mem_address(R2, buffer);
        self.b
            .mov64_imm(R3, size as i32)
            .mov64_imm(R4, USER_STACK)
            .call_helper(Helper::GetStack)
            .jmp_imm(JmpOp::Jsge, R0, 0, &done)
            .mov64_imm(R0, 0)
            .label(&done)
            .alu64_imm(AluOp::Rsh, R0, 3);
        self.stx_scratch(Size::W, dst, R0);
    }

    /// Where the bytes of `args.f`, `$t.0`, `p->f`, `a[i]` are.
    pub(super) fn place(&mut self, expr: &Expr) -> Option<Place> {
        match &expr.kind {
            ExprKind::Identifier(name) if name == "args" && self.context.has_args_struct() => {
                Some(Place::Ctx(0))
            }
            ExprKind::Identifier(name)
                if name == "ctx" && self.context.iterator_ctx().is_some() =>
            {
                Some(Place::Ctx(0))
            }
            ExprKind::Field { base, field, .. } => {
                if let Some(register) = self.register_arg(base, &field.name) {
                    return Some(Place::Ctx(i32::from(register)));
                }
                let base_type = self.ty(base);
                let (record, through_pointer) = match &base_type {
                    Type::Record(r) => (r.clone(), false),
                    Type::Pointer(to) => match to.as_ref() {
                        Type::Record(r) => (r.clone(), true),
                        _ => return None,
                    },
                    _ => return None,
                };
                let offset = record.layout.field(&field.name)?.offset as i32;
                if through_pointer {
                    let address = self.expr(base);
                    return Some(Place::Remote(address, offset));
                }
                Some(match self.place_or_value(base)? {
                    Place::Ctx(o) => Place::Ctx(o + offset),
                    Place::Mem(o) => Place::Mem(o + offset),
                    Place::Remote(a, o) => Place::Remote(a, o + offset),
                })
            }
            ExprKind::TupleIndex { base, index } => {
                let Type::Tuple(layout) = self.ty(base) else {
                    return None;
                };
                let offset = layout.fields.get(*index as usize)?.offset as i32;
                match self.place_or_value(base)? {
                    Place::Mem(o) => Some(Place::Mem(o + offset)),
                    Place::Ctx(o) => Some(Place::Ctx(o + offset)),
                    Place::Remote(a, o) => Some(Place::Remote(a, o + offset)),
                }
            }
            ExprKind::Index { base, index } => {
                let base_type = self.ty(base);
                match &base_type {
                    Type::Tuple(layout) => {
                        let i = self.constant_of(index)? as usize;
                        let offset = layout.fields.get(i)?.offset as i32;
                        match self.place_or_value(base)? {
                            Place::Mem(o) => Some(Place::Mem(o + offset)),
                            other => Some(other),
                        }
                    }
                    Type::Array(element, len) => {
                        let size = element.size() as i32;
                        match self.constant_of(index) {
                            Some(i) if (0..i64::from(*len)).contains(&i) => {
                                let offset = i as i32 * size;
                                Some(match self.place_or_value(base)? {
                                    Place::Ctx(o) => Place::Ctx(o + offset),
                                    Place::Mem(o) => Place::Mem(o + offset),
                                    Place::Remote(a, o) => Place::Remote(a, o + offset),
                                })
                            }
                            Some(_) => {
                                self.error(
                                    index.span,
                                    format!(
                                        "the index is out of bounds (the array has {len} elements)"
                                    ),
                                );
                                None
                            }
                            None => {
                                self.error(index.span, "array indices must be constants here");
                                None
                            }
                        }
                    }
                    // A pointer (or u64 address): element i is at address + i * size.
                    _ => {
                        let element_size = match &base_type {
                            Type::Pointer(to) => to.size().max(1),
                            _ => 8,
                        };
                        let address = self.expr(base);
                        let i = self.expr(index);
                        self.load(R0, i);
                        self.b.alu64_imm(AluOp::Mul, R0, element_size as i32);
                        self.load(R1, address);
                        self.b.alu64_reg(AluOp::Add, R0, R1);
                        let slot = self.spill(R0);
                        Some(Place::Remote(slot, 0))
                    }
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Deref,
                operand,
            } => {
                let address = self.expr(operand);
                Some(Place::Remote(address, 0))
            }
            _ => None,
        }
    }

    /// `args.f` of a uprobe: the offset in `struct pt_regs` of the register holding `f`.
    fn register_arg(&self, base: &Expr, field: &str) -> Option<i16> {
        let ProbeContext::Registers {
            args: Some(args), ..
        } = &self.context
        else {
            return None;
        };
        matches!(&base.kind, ExprKind::Identifier(name) if name == "args")
            .then(|| args.register_of(field))?
    }

    /// A uprobe's `args` copied out of the registers into a record in scratch: each value as
    /// wide as its type, the rest of its slot zeroed (so copies compare equal as map keys).
    fn register_args(&mut self, args: &RegisterArgs) -> Val {
        let layout = &args.record.layout;
        let mem = self.mem(layout.size);
        self.zero(mem, layout.size);
        for (field, &register) in layout.fields.iter().zip(&args.registers) {
            self.load_scalar(R6, register, &field.ty);
            self.stx_scratch(size_for(field.ty.size()), mem + field.offset as i32, R0);
        }
        Val::Mem(mem)
    }

    /// The place of an expression, materialising values (a tuple literal, a variable) in
    /// scratch when they have no place of their own.
    fn place_or_value(&mut self, expr: &Expr) -> Option<Place> {
        if let Some(place) = self.place(expr) {
            return Some(place);
        }
        match self.expr(expr) {
            Val::Mem(o) => Some(Place::Mem(o)),
            scalar => {
                let ty = self.ty(expr);
                if ty.is_scalar() {
                    Some(Place::Remote(scalar, 0))
                } else {
                    None
                }
            }
        }
    }

    /// Reads a value of `ty` from a place.
    pub(super) fn read_place(&mut self, place: Place, ty: &Type) -> Val {
        match place {
            Place::Ctx(off) if ty.is_scalar() => {
                let off = self.ctx_offset(off, ty.size());
                self.load_scalar(R6, off, ty);
                self.spill(R0)
            }
            Place::Ctx(off) => {
                let mem = self.mem(ty.size());
                let off = self.ctx_offset(off, ty.size());
                self.copy_from(R6, i32::from(off), mem, ty.size());
                Val::Mem(mem)
            }
            Place::Mem(off) if ty.is_scalar() => {
                self.load_scratch_scalar(off, ty);
                self.spill(R0)
            }
            Place::Mem(off) => Val::Mem(off),
            Place::Remote(address, offset) => {
                let size = ty.size().max(1);
                let mem = self.mem(size);
                self.zero(mem, size);
                self.load(R3, address);
                if offset != 0 {
                    self.b.alu64_imm(AluOp::Add, R3, offset);
                }
                self.probe_read(mem, size, false);
                if ty.is_scalar() {
                    self.load_scratch_scalar(mem, ty);
                    self.spill(R0)
                } else {
                    Val::Mem(mem)
                }
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, operand: &Expr, ty: &Type) -> Val {
        if op == UnaryOp::AddressOf {
            // A variable's home: a stack slot, or scratch memory.
            let home = match &operand.kind {
                ExprKind::Variable(name) => self.variables.get(name).copied(),
                _ => None,
            };
            match home {
                Some(Val::Slot(off)) => {
                    self.b
                        .mov64_reg(R0, R10)
                        .alu64_imm(AluOp::Add, R0, i32::from(off));
                }
                Some(Val::Mem(off) | Val::Cell(off)) => self.mem_address(R0, off),
                _ => return Val::Imm(0),
            }
            return self.spill(R0);
        }
        if op == UnaryOp::Deref {
            let place = self.place(&Expr {
                id: operand.id,
                kind: ExprKind::Unary {
                    op,
                    operand: Box::new(operand.clone()),
                },
                span: operand.span,
            });
            self.site = operand.span;
            self.kernel_memory = self.reached_from_curtask(operand);
            let value = match place {
                Some(place) => self.read_place(place, ty),
                None => Val::Imm(0),
            };
            self.kernel_memory = false;
            return value;
        }
        let value = self.expr(operand);
        if let Val::Imm(n) = value {
            return Val::Imm(match op {
                UnaryOp::Negate => n.wrapping_neg(),
                UnaryOp::Not => i64::from(n == 0),
                UnaryOp::BitNot => !n,
                _ => n,
            });
        }
        self.load(R0, value);
        match op {
            UnaryOp::Negate => {
                self.b.neg(bpfhook::asm::Width::W64, R0);
            }
            UnaryOp::BitNot => {
                self.b.alu64_imm(AluOp::Xor, R0, -1);
                self.convert(R0, ty);
            }
            UnaryOp::Not => {
                let (set, done) = (self.label("not1"), self.label("not"));
                self.b
                    .jmp_imm(JmpOp::Jeq, R0, 0, &set)
                    .mov64_imm(R0, 0)
                    .ja(&done)
                    .label(&set)
                    .mov64_imm(R0, 1)
                    .label(&done);
            }
            _ => {}
        }
        self.spill(R0)
    }

    fn binary(&mut self, op: BinaryOp, left: &Expr, right: &Expr, ty: &Type) -> Val {
        let (left_type, right_type) = (self.ty(left), self.ty(right));
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            // Short-circuit: the right side runs only when it decides.
            let result = self.slot();
            let done = self.label("logic");
            let l = self.expr(left);
            self.load(R0, l);
            let short = if op == BinaryOp::And { 0 } else { 1 };
            self.b.st(Size::DW, R10, result, short);
            self.b.jmp_imm(
                if op == BinaryOp::And {
                    JmpOp::Jeq
                } else {
                    JmpOp::Jne
                },
                R0,
                0,
                &done,
            );
            let r = self.expr(right);
            self.load(R0, r);
            self.b.st(Size::DW, R10, result, 1 - short);
            self.b.jmp_imm(
                if op == BinaryOp::And {
                    JmpOp::Jne
                } else {
                    JmpOp::Jeq
                },
                R0,
                0,
                &done,
            );
            self.b.st(Size::DW, R10, result, short);
            self.b.label(&done);
            return Val::Slot(result);
        }
        if matches!(left_type, Type::Str(_) | Type::Buffer(_)) {
            let a = self.expr(left);
            let b = self.expr(right);
            return self.compare_bytes(op, a, &left_type, b, &right_type);
        }
        if let Type::Tuple(layout) = &left_type {
            let (a, b) = (self.expr(left), self.expr(right));
            let size = layout.size;
            return self.compare_bytes(op, a, &Type::Buffer(size), b, &Type::Buffer(size));
        }
        let a = self.expr(left);
        let b = self.expr(right);
        if op.is_comparison() {
            let signed = left_type.is_signed() || right_type.is_signed();
            return self.compare(op, a, b, signed);
        }
        let _ = ty;
        let signed = ty.is_signed();
        self.arith_signed(op, a, b, signed)
    }

    /// Integer arithmetic of two values (signed division where either side is signed).
    pub(super) fn arith(&mut self, op: BinaryOp, a: Val, b: Val, ty: &Type) -> Val {
        self.arith_signed(op, a, b, ty.is_signed())
    }

    fn arith_signed(&mut self, op: BinaryOp, a: Val, b: Val, signed: bool) -> Val {
        let alu = match op {
            BinaryOp::Add => AluOp::Add,
            BinaryOp::Sub => AluOp::Sub,
            BinaryOp::Mul => AluOp::Mul,
            BinaryOp::Div => {
                if signed {
                    AluOp::SDiv
                } else {
                    AluOp::Div
                }
            }
            BinaryOp::Mod => {
                if signed {
                    AluOp::SMod
                } else {
                    AluOp::Mod
                }
            }
            BinaryOp::BitAnd => AluOp::And,
            BinaryOp::BitOr => AluOp::Or,
            BinaryOp::BitXor => AluOp::Xor,
            BinaryOp::Shl => AluOp::Lsh,
            BinaryOp::Shr => {
                if signed {
                    AluOp::Arsh
                } else {
                    AluOp::Rsh
                }
            }
            _ => AluOp::Add,
        };
        if let (Val::Imm(x), Val::Imm(y)) = (a, b) {
            let folded = match op {
                BinaryOp::Add => Some(x.wrapping_add(y)),
                BinaryOp::Sub => Some(x.wrapping_sub(y)),
                BinaryOp::Mul => Some(x.wrapping_mul(y)),
                BinaryOp::Div if y != 0 => Some(if signed {
                    x.wrapping_div(y)
                } else {
                    ((x as u64) / (y as u64)) as i64
                }),
                BinaryOp::Mod if y != 0 => Some(if signed {
                    x.wrapping_rem(y)
                } else {
                    ((x as u64) % (y as u64)) as i64
                }),
                BinaryOp::BitAnd => Some(x & y),
                BinaryOp::BitOr => Some(x | y),
                BinaryOp::BitXor => Some(x ^ y),
                BinaryOp::Shl => Some(x.wrapping_shl(y as u32)),
                BinaryOp::Shr => Some(if signed {
                    x.wrapping_shr(y as u32)
                } else {
                    ((x as u64).wrapping_shr(y as u32)) as i64
                }),
                _ => None,
            };
            if let Some(value) = folded {
                return Val::Imm(value);
            }
        }
        self.load(R0, a);
        self.load(R1, b);
        self.b.alu64_reg(alu, R0, R1);
        self.spill(R0)
    }

    fn compare(&mut self, op: BinaryOp, a: Val, b: Val, signed: bool) -> Val {
        let jump = match (op, signed) {
            (BinaryOp::Eq, _) => JmpOp::Jeq,
            (BinaryOp::Ne, _) => JmpOp::Jne,
            (BinaryOp::Lt, true) => JmpOp::Jslt,
            (BinaryOp::Le, true) => JmpOp::Jsle,
            (BinaryOp::Gt, true) => JmpOp::Jsgt,
            (BinaryOp::Ge, true) => JmpOp::Jsge,
            (BinaryOp::Lt, false) => JmpOp::Jlt,
            (BinaryOp::Le, false) => JmpOp::Jle,
            (BinaryOp::Gt, false) => JmpOp::Jgt,
            (_, _) => JmpOp::Jge,
        };
        self.load(R0, a);
        self.load(R1, b);
        let (yes, done) = (self.label("cmp1"), self.label("cmp"));
        self.b
            .jmp_reg(jump, R0, R1, &yes)
            .mov64_imm(R0, 0)
            .ja(&done)
            .label(&yes)
            .mov64_imm(R0, 1)
            .label(&done);
        self.spill(R0)
    }

    /// `==`/`!=` on strings (up to the first NUL) and buffers/tuples (every byte), unrolled.
    fn compare_bytes(&mut self, op: BinaryOp, a: Val, a_type: &Type, b: Val, b_type: &Type) -> Val {
        let (Val::Mem(x), Val::Mem(y)) = (a, b) else {
            return Val::Imm(0);
        };
        let strings = matches!(a_type, Type::Str(_));
        let n = a_type.size().min(b_type.size());
        let longer = a_type.size().max(b_type.size());
        let (differ, same, done) = (
            self.label("differ"),
            self.label("same"),
            self.label("bytes"),
        );
        let (mut at_x, mut at_y) = (Reach::scratch(), Reach::scratch_second());
        for i in 0..n as i32 {
            let (xb, xo) = at_x.at(&mut self.b, x + i);
            let (yb, yo) = at_y.at(&mut self.b, y + i);
            self.b
                .ldx(Size::B, R0, xb, xo)
                .ldx(Size::B, R1, yb, yo)
                .jmp_reg(JmpOp::Jne, R0, R1, &differ);
            if strings {
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, &same);
            }
        }
        if strings && longer > n {
            // All n bytes matched without a NUL: equal only if the longer one ends here.
            let long = if a_type.size() > n { x } else { y };
            self.ldx_scratch(Size::B, R0, long + n as i32);
            self.b.jmp_imm(JmpOp::Jne, R0, 0, &differ);
        }
        let equal = i32::from(op == BinaryOp::Eq);
        self.b
            .label(&same)
            .mov64_imm(R0, equal)
            .ja(&done)
            .label(&differ)
            .mov64_imm(R0, 1 - equal)
            .label(&done);
        self.spill(R0)
    }

    fn ternary(&mut self, condition: &Expr, then: &Expr, otherwise: &Expr, ty: &Type) -> Val {
        let (else_label, done) = (self.label("telse"), self.label("tend"));
        let c = self.expr(condition);
        self.load(R0, c);
        // `a ?: b`: the condition is the value when true.
        let elvis = then.id == condition.id;
        if ty.is_scalar() || *ty == Type::None {
            let result = self.slot();
            self.b.jmp_imm(JmpOp::Jeq, R0, 0, &else_label);
            let a = if elvis { c } else { self.expr(then) };
            self.load(R0, a);
            self.b
                .stx(Size::DW, R10, R0, result)
                .ja(&done)
                .label(&else_label);
            let b = self.expr(otherwise);
            self.load(R0, b);
            self.b.stx(Size::DW, R10, R0, result).label(&done);
            return Val::Slot(result);
        }
        let result = self.mem(ty.size());
        self.zero(result, ty.size());
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, &else_label);
        let a = if elvis { c } else { self.expr(then) };
        let a_type = self.ty(then);
        self.store_converted(result, a, &a_type, ty);
        self.b.ja(&done).label(&else_label);
        let b = self.expr(otherwise);
        let b_type = self.ty(otherwise);
        self.store_converted(result, b, &b_type, ty);
        self.b.label(&done);
        Val::Mem(result)
    }

    fn increment(&mut self, target: &Expr, decrement: bool, prefix: bool) -> Val {
        // A pointer steps by what it points to.
        let step = match self.ty(target) {
            Type::Pointer(to) => to.size().max(1) as i32,
            _ => 1,
        };
        let delta = if decrement { -step } else { step };
        let before = self.expr(target);
        self.load(R0, before);
        let old = self.spill(R0);
        self.b.alu64_imm(AluOp::Add, R0, delta);
        let new = self.spill(R0);
        match &target.kind {
            ExprKind::Variable(name) => {
                let ty = self.ty(target);
                self.set_variable(name, new, &ty);
            }
            _ => {
                if let Some((map, keys)) = crate::sema::map_target(target) {
                    self.map_update_int(&map.name, keys, new, target.span);
                }
            }
        }
        if prefix {
            new
        } else {
            old
        }
    }

    /// `@m[k] = v` for an integer map (used by `++`/`--`).
    fn map_update_int(&mut self, name: &str, keys: &[Expr], value: Val, span: crate::diag::Span) {
        let Some((info, object)) = self.map_info(name) else {
            return;
        };
        let key = self.map_key(&info, keys);
        let slot = self.mem(8);
        self.load(R0, value);
        self.stx_scratch(size_for(8), slot, R0);
        self.update_map(&object, key, slot, span);
    }
}

fn online_cpus() -> i64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1)
}
