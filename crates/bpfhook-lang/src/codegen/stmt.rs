//! Statements, and the map operations they make: assignment, aggregates, increments.

use bpfhook::asm::{AluOp, Helper, JmpOp, Size, R0, R1, R10, R2, R3, R4};

use super::frame::{ProgramGen, Val};
use crate::ast::*;
use crate::diag::Span;
use crate::sema::{MapInfo, MapValue};
use crate::types::Type;

impl ProgramGen<'_> {
    /// Generates a block; true when it always jumps away (return, exit, break, continue), in
    /// which case the code after it would be unreachable, which the verifier refuses.
    pub(super) fn block(&mut self, block: &Block) -> bool {
        for statement in &block.statements {
            if self.scoped(|g| g.statement(statement)) {
                return true;
            }
        }
        false
    }

    /// Generates a statement; true when control never falls through it.
    fn statement(&mut self, statement: &Statement) -> bool {
        match &statement.kind {
            StatementKind::Expr(expr) => {
                self.expr(expr);
                return matches!(&expr.kind, ExprKind::Call { function, .. } if function.name == "exit");
            }
            StatementKind::Assign { target, op, value } => self.assign(target, *op, value),
            StatementKind::Let {
                variable, value, ..
            } => {
                match value {
                    Some(value) => {
                        self.note_kernel_pointer(&variable.name, value);
                        let computed = self.expr(value);
                        let ty = self.ty(value);
                        self.set_variable(&variable.name, computed, &ty);
                    }
                    // `let $x;` declares it anew: zero, whatever it held before.
                    None => self.zero_variable(&variable.name),
                }
            }
            StatementKind::If {
                condition,
                then,
                otherwise,
            } => {
                let (else_label, end) = (self.label("else"), self.label("endif"));
                self.scoped(|g| {
                    let v = g.expr(condition);
                    g.load(R0, v);
                });
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, &else_label);
                let then_leaves = self.block(then);
                if !then_leaves {
                    self.b.ja(&end);
                }
                self.b.label(&else_label);
                let else_leaves = match otherwise {
                    Some(otherwise) => self.block(otherwise),
                    None => false,
                };
                if then_leaves && else_leaves {
                    return true;
                }
                self.b.label(&end);
            }
            StatementKind::While { condition, body } => {
                let (top, end) = (self.label("while"), self.label("wend"));
                self.b.label(&top);
                self.scoped(|g| {
                    let v = g.expr(condition);
                    g.load(R0, v);
                });
                self.b.jmp_imm(JmpOp::Jeq, R0, 0, &end);
                self.loops.push((top.clone(), end.clone()));
                if !self.block(body) {
                    self.b.ja(&top);
                }
                self.loops.pop();
                self.b.label(&end);
            }
            StatementKind::Unroll { count, body } => {
                let n = self.constant_of(count).unwrap_or(0).clamp(0, 100);
                for _ in 0..n {
                    if self.block(body) {
                        return true;
                    }
                }
            }
            StatementKind::For {
                variable,
                iterable: Iterable::Range { start, end },
                body,
            } if self.constant_of(start).is_none() || self.constant_of(end).is_none() => {
                return self.range_loop_callback(variable, start, end, body);
            }
            StatementKind::For {
                variable,
                iterable: Iterable::Range { start, end },
                body,
            } => {
                let home = self.variables.get(&variable.name).copied();
                let Some(Val::Slot(slot)) = home else {
                    self.error(
                        variable.span,
                        "a range loop's variable cannot be used inside a for loop over a map yet",
                    );
                    return false;
                };
                let limit = self.scoped(|g| {
                    let s = g.expr(start);
                    g.load(R0, s);
                    g.b.stx(Size::DW, R10, R0, slot);
                    let e = g.expr(end);
                    g.load(R0, e);
                    R0
                });
                let limit = self.spill(limit);
                let (top, step, done) =
                    (self.label("for"), self.label("fstep"), self.label("fend"));
                self.b.label(&top);
                self.load(R1, limit);
                self.b
                    .ldx(Size::DW, R0, R10, slot)
                    .jmp_reg(JmpOp::Jsge, R0, R1, &done);
                self.loops.push((step.clone(), done.clone()));
                let _ = self.block(body);
                self.loops.pop();
                self.b
                    .label(&step)
                    .ldx(Size::DW, R0, R10, slot)
                    .alu64_imm(AluOp::Add, R0, 1)
                    .stx(Size::DW, R10, R0, slot)
                    .ja(&top)
                    .label(&done);
            }
            StatementKind::For {
                variable,
                iterable: Iterable::Map(map),
                body,
            } => return self.map_loop(variable, map, body),
            StatementKind::Return(_) => {
                self.leave();
                return true;
            }
            StatementKind::Break | StatementKind::Continue => {
                let Some((continue_label, break_label)) = self.loops.last().cloned() else {
                    return false;
                };
                let target = if matches!(statement.kind, StatementKind::Break) {
                    break_label
                } else {
                    continue_label
                };
                self.b.ja(&target);
                self.used_labels.insert(target);
                return true;
            }
            StatementKind::Block(block) => return self.block(block),
        }
        false
    }

    fn zero_variable(&mut self, name: &str) {
        match self.variables.get(name).copied() {
            Some(Val::Slot(slot)) => {
                self.b.st(Size::DW, R10, slot, 0);
            }
            Some(Val::Cell(cell)) => self.st_scratch(Size::DW, cell, 0),
            Some(Val::Mem(mem)) => {
                let size = self.types.variables.get(name).map_or(0, Type::size);
                self.zero(mem, size);
            }
            Some(Val::Imm(_)) | None => {}
        }
    }

    pub(super) fn set_variable(&mut self, name: &str, value: Val, value_type: &Type) {
        let Some(home) = self.variables.get(name).copied() else {
            return;
        };
        let declared = self
            .types
            .variables
            .get(name)
            .cloned()
            .unwrap_or(Type::None);
        match home {
            Val::Slot(slot) => {
                self.load(R0, value);
                self.convert(R0, &declared);
                self.b.stx(Size::DW, R10, R0, slot);
            }
            Val::Cell(cell) => {
                self.load(R0, value);
                self.convert(R0, &declared);
                self.stx_scratch(Size::DW, cell, R0);
            }
            Val::Mem(dst) => self.store_converted(dst, value, value_type, &declared),
            Val::Imm(_) => {}
        }
    }

    /// Stores a value into memory of a (possibly wider) type: strings are zero-padded, tuples
    /// re-laid element by element.
    pub(super) fn store_converted(&mut self, dst: i32, value: Val, from: &Type, to: &Type) {
        match (from, to, value) {
            (Type::Str(a), Type::Str(b), Val::Mem(src)) if a != b => {
                self.zero(dst, *b);
                self.copy(dst, src, (*a).min(*b));
                if a > b {
                    // Truncated: keep the terminator.
                    self.st_scratch(Size::B, dst + *b as i32 - 1, 0);
                }
            }
            (Type::Tuple(a), Type::Tuple(b), Val::Mem(src)) if a != b => {
                for (fa, fb) in a.fields.iter().zip(&b.fields) {
                    let element = if fa.ty.is_scalar() {
                        self.load_scratch_scalar(src + fa.offset as i32, &fa.ty);
                        self.spill(R0)
                    } else {
                        Val::Mem(src + fa.offset as i32)
                    };
                    self.store_converted(dst + fb.offset as i32, element, &fa.ty, &fb.ty);
                }
            }
            (_, to, value) if to.is_scalar() => {
                self.load(R0, value);
                self.convert(R0, to);
                self.stx_scratch(super::frame::size_for(to.size()), dst, R0);
            }
            (_, to, value) => self.store(dst, value, to),
        }
    }

    fn assign(&mut self, target: &Expr, op: Option<BinaryOp>, value: &Expr) {
        if let ExprKind::Block { body, value } = &value.kind {
            self.block(body);
            return self.assign(target, op, value);
        }
        if matches!(&target.kind, ExprKind::Identifier(name) if name == "_") && op.is_none() {
            self.expr(value);
            return;
        }
        if let (ExprKind::Call { function, args }, None) = (&value.kind, op) {
            if crate::sema::is_aggregate(&function.name) {
                if let Some((map, keys)) = crate::sema::map_target(target) {
                    self.aggregate(&map.name, keys, &function.name, args, target.span);
                }
                return;
            }
        }
        let computed = match op {
            Some(op) => {
                let current = self.expr(target);
                let right = self.expr(value);
                self.arith(op, current, right, &Type::I64)
            }
            None => self.expr(value),
        };
        let value_type = if op.is_some() {
            Type::I64
        } else {
            self.ty(value)
        };
        match &target.kind {
            ExprKind::Variable(name) => {
                self.note_kernel_pointer(name, value);
                self.set_variable(name, computed, &value_type)
            }
            _ => {
                if let Some((map, keys)) = crate::sema::map_target(target) {
                    self.map_store(&map.name, keys, computed, &value_type, target.span);
                }
            }
        }
    }

    /// Whether `expr` reads memory reached from `curtask` (`curtask->mm->…`, or a variable
    /// last set from such a chain): the kernel's, even in probes whose own pointers are user
    /// memory.
    pub(super) fn reached_from_curtask(&self, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Identifier(name) => name == "curtask",
            ExprKind::Variable(name) => self.kernel_variables.contains(name),
            ExprKind::Field { base, .. }
            | ExprKind::Index { base, .. }
            | ExprKind::TupleIndex { base, .. } => self.reached_from_curtask(base),
            ExprKind::Unary {
                op: UnaryOp::Deref,
                operand,
            }
            | ExprKind::Cast { operand, .. } => self.reached_from_curtask(operand),
            _ => false,
        }
    }

    /// `$v = value`: `$v` points to kernel memory from here on if `value` does.
    fn note_kernel_pointer(&mut self, variable: &str, value: &Expr) {
        if self.reached_from_curtask(value) {
            self.kernel_variables.insert(variable.to_owned());
        } else {
            self.kernel_variables.remove(variable);
        }
    }

    /// The map's info and object name.
    pub(super) fn map_info(&self, name: &str) -> Option<(MapInfo, String)> {
        self.maps.get(&format!("@{name}")).cloned()
    }

    /// Builds the key of `@m[keys…]` in scratch (zeroed first, so padding hashes alike);
    /// returns its offset. Histograms leave room for the bucket after the user key.
    pub(super) fn map_key(&mut self, info: &MapInfo, keys: &[Expr]) -> i32 {
        let key = self.mem(info.key_size());
        self.zero(key, info.key_size());
        match (&info.key, keys) {
            (None, _) => {}
            (Some(ty), [single]) => {
                let value = self.expr(single);
                let from = self.ty(single);
                self.store_converted(key, value, &from, ty);
            }
            (Some(Type::Tuple(layout)), many) => {
                for (field, expr) in layout.fields.iter().zip(many) {
                    let value = self.expr(expr);
                    let from = self.ty(expr);
                    self.store_converted(key + field.offset as i32, value, &from, &field.ty);
                }
            }
            (Some(_), _) => {}
        }
        key
    }

    fn map_store(&mut self, name: &str, keys: &[Expr], value: Val, value_type: &Type, span: Span) {
        let Some((info, object)) = self.map_info(name) else {
            return;
        };
        let MapValue::Plain(stored) = &info.value else {
            return;
        };
        let stored = stored.clone();
        let key = self.map_key(&info, keys);
        let slot = self.mem(info.value.value_size());
        self.zero(slot, info.value.value_size());
        self.store_converted(slot, value, value_type, &stored);
        self.update_map(&object, key, slot, span);
    }

    /// `map_update_elem(map, key, value, BPF_ANY)`; a full map is reported where it happened,
    /// as bpftrace's warning, through the `warnf` record.
    pub(super) fn update_map(&mut self, object: &str, key: i32, value: i32, span: Span) {
        self.map_args(object, key);
        self.mem_address(R3, value);
        self.b.mov64_imm(R4, 0).call_helper(Helper::MapUpdateElem);
        let stored = self.label("stored");
        self.b.jmp_imm(JmpOp::Jne, R0, -libc::E2BIG, &stored);
        let full = super::FormatCall {
            format: "Map full; can't update element".to_owned(),
            args: crate::types::Layout::default(),
            span,
            kind: super::EventKind::Warnf,
            location: String::new(),
            expanded_from: String::new(),
        };
        let index = super::intern(&mut self.events.printf, full);
        self.send(super::EventKind::Warnf, index, &[]);
        self.b.label(&stored);
    }

    /// Reads `@m[keys]` into a value; a missing entry reads as zero.
    /// `@m[k]` read at `site`: the value, or zero for a missing key (which `-k` reports).
    pub(super) fn map_load(&mut self, name: &str, keys: &[Expr], site: Span) -> Val {
        let Some((info, object)) = self.map_info(name) else {
            return Val::Imm(0);
        };
        let key = self.map_key(&info, keys);
        self.site = site;
        let read = info.value.read_type();
        self.map_args(&object, key);
        self.b.call_helper(Helper::MapLookupElem);
        let (missing, done) = (self.label("miss"), self.label("got"));
        if read.is_scalar() {
            let result = self.slot();
            self.b
                .st(Size::DW, R10, result, 0)
                .jmp_imm(JmpOp::Jeq, R0, 0, &missing);
            self.b.mov64_reg(R1, R0);
            match &info.value {
                MapValue::Plain(ty) => self.load_scalar(R1, 0, ty),
                // Per-CPU aggregates read here see this CPU's share only; exact totals are
                // computed in user space when the map prints.
                MapValue::Avg { .. } => {
                    self.b
                        .ldx(Size::DW, R0, R1, 0)
                        .ldx(Size::DW, R2, R1, 8)
                        .jmp_imm(JmpOp::Jeq, R2, 0, &missing)
                        .alu64_reg(AluOp::Div, R0, R2);
                }
                _ => {
                    self.b.ldx(Size::DW, R0, R1, 0);
                }
            }
            self.b.stx(Size::DW, R10, R0, result);
            self.missing_key(&missing, &done);
            Val::Slot(result)
        } else {
            let size = read.size();
            let result = self.mem(size);
            self.zero(result, size);
            self.b
                .jmp_imm(JmpOp::Jeq, R0, 0, &missing)
                .mov64_reg(R1, R0);
            self.copy_from(R1, 0, result, size);
            self.missing_key(&missing, &done);
            Val::Mem(result)
        }
    }

    /// `@m[k] = count()` and the other aggregates: look the entry up, create it if missing,
    /// update it in place (per-CPU maps need no atomics).
    fn aggregate(&mut self, name: &str, keys: &[Expr], function: &str, args: &[Expr], span: Span) {
        let Some((info, object)) = self.map_info(name) else {
            return;
        };
        let argument = match args.first() {
            Some(arg) if function != "count" => {
                let v = self.expr(arg);
                self.load(R0, v);
                Some(self.spill(R0))
            }
            _ => None,
        };
        let key = self.map_key(&info, keys);
        if let MapValue::Tseries { .. } = info.value {
            let argument = argument.unwrap_or(Val::Imm(0));
            return self.tseries(&info, &object, key, argument, span);
        }
        if let MapValue::Hist { .. } | MapValue::Lhist { .. } = info.value {
            self.load(R1, argument.unwrap_or(Val::Imm(0)));
            match info.value {
                MapValue::Hist { bits } => self.log2_bucket(bits),
                MapValue::Lhist { min, max, step } => self.linear_bucket(min, max, step),
                _ => unreachable!(),
            }
            self.stx_scratch(Size::DW, key + bucket_offset(&info), R0);
        }
        self.map_args(&object, key);
        self.b.call_helper(Helper::MapLookupElem);
        let (create, done) = (self.label("create"), self.label("updated"));
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, &create);
        // Update in place: r0 = the value.
        if let Some(arg) = argument {
            self.load(R1, arg);
        }
        match info.value {
            MapValue::Count | MapValue::Hist { .. } | MapValue::Lhist { .. } => {
                self.b
                    .ldx(Size::DW, R2, R0, 0)
                    .alu64_imm(AluOp::Add, R2, 1)
                    .stx(Size::DW, R0, R2, 0);
            }
            MapValue::Sum { .. } => {
                self.b
                    .ldx(Size::DW, R2, R0, 0)
                    .alu64_reg(AluOp::Add, R2, R1)
                    .stx(Size::DW, R0, R2, 0);
            }
            MapValue::Avg { .. } | MapValue::Stats { .. } => {
                self.b
                    .ldx(Size::DW, R2, R0, 0)
                    .alu64_reg(AluOp::Add, R2, R1)
                    .stx(Size::DW, R0, R2, 0)
                    .ldx(Size::DW, R2, R0, 8)
                    .alu64_imm(AluOp::Add, R2, 1)
                    .stx(Size::DW, R0, R2, 8);
            }
            MapValue::Min { signed } | MapValue::Max { signed } => {
                let is_min = matches!(info.value, MapValue::Min { .. });
                let keep = self.label("keep");
                let op = match (is_min, signed) {
                    (true, true) => JmpOp::Jsle,
                    (true, false) => JmpOp::Jle,
                    (false, true) => JmpOp::Jsge,
                    (false, false) => JmpOp::Jge,
                };
                // An entry whose "set" flag is 0 takes any value.
                self.b
                    .ldx(Size::DW, R3, R0, 8)
                    .jmp_imm(JmpOp::Jeq, R3, 0, &format!("{keep}_set"))
                    .ldx(Size::DW, R2, R0, 0)
                    .jmp_reg(op, R2, R1, &keep)
                    .label(&format!("{keep}_set"))
                    .stx(Size::DW, R0, R1, 0)
                    .st(Size::DW, R0, 8, 1)
                    .label(&keep);
            }
            MapValue::Plain(_) | MapValue::Tseries { .. } => {}
        }
        self.b.ja(&done).label(&create);
        // A new entry with the first value.
        let value = self.mem(info.value.value_size());
        self.zero(value, info.value.value_size());
        if let Some(arg) = argument {
            self.load(R1, arg);
        }
        match info.value {
            MapValue::Count | MapValue::Hist { .. } | MapValue::Lhist { .. } => {
                self.st_scratch(Size::DW, value, 1);
            }
            MapValue::Sum { .. } => self.stx_scratch(Size::DW, value, R1),
            MapValue::Avg { .. }
            | MapValue::Stats { .. }
            | MapValue::Min { .. }
            | MapValue::Max { .. } => {
                self.stx_scratch(Size::DW, value, R1);
                self.st_scratch(Size::DW, value + 8, 1);
            }
            MapValue::Plain(_) | MapValue::Tseries { .. } => {}
        }
        self.update_map(&object, key, value, span);
        self.b.label(&done);
    }

    /// Where a lookup that found no value goes (`missing`) before joining the found path at
    /// `done`; with `-k` it reports it (bpftrace's map_lookup_elem returning 0).
    fn missing_key(&mut self, missing: &str, done: &str) {
        if self.analysis.settings.helper_errors {
            self.b.ja(done).label(missing).mov64_imm(R0, 0);
            self.helper_error("map_lookup_elem");
        } else {
            self.b.label(missing);
        }
        self.b.label(done);
    }

    /// r0 = bpftrace's log2 bucket of r1 for `hist(n, bits)`: 0 for negatives, then one bucket
    /// per value below 2·2^bits, then 2^bits buckets per power of two.
    fn log2_bucket(&mut self, bits: u8) {
        let (negative, small, done) = (self.label("neg"), self.label("small"), self.label("log2"));
        let bits = i32::from(bits.min(5));
        // Values below 2·2^bits have a bucket each (after the one for negatives).
        self.b
            .jmp_imm(JmpOp::Jslt, R1, 0, &negative)
            .jmp_imm(JmpOp::Jlt, R1, 2 << bits, &small)
            .mov64_reg(R3, R1)
            .mov64_imm(R0, 0);
        // p = floor(log2(n)) by halving: 32, 16, 8, 4, 2, 1.
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.label("bit");
            self.b
                .mov64_reg(R2, R1)
                .alu64_imm(AluOp::Rsh, R2, shift)
                .jmp_imm(JmpOp::Jeq, R2, 0, &skip)
                .mov64_reg(R1, R2)
                .alu64_imm(AluOp::Add, R0, shift)
                .label(&skip);
        }
        // Each power of two p holds 2^bits buckets, picked by the bits below the top one:
        // index = (p - bits + 1)·2^bits + 1 + ((n >> (p - bits)) & (2^bits - 1)).
        self.b
            .alu64_imm(AluOp::Sub, R0, bits)
            .alu64_reg(AluOp::Rsh, R3, R0)
            .alu64_imm(AluOp::And, R3, (1 << bits) - 1)
            .alu64_imm(AluOp::Add, R0, 1)
            .alu64_imm(AluOp::Lsh, R0, bits)
            .alu64_imm(AluOp::Add, R0, 1)
            .alu64_reg(AluOp::Add, R0, R3)
            .ja(&done)
            .label(&negative)
            .mov64_imm(R0, 0)
            .ja(&done)
            .label(&small)
            .mov64_reg(R0, R1)
            .alu64_imm(AluOp::Add, R0, 1)
            .label(&done);
    }

    /// r0 = the lhist bucket of r1: 0 below min, 1 + (n - min) / step, the last at max or above.
    fn linear_bucket(&mut self, min: i64, max: i64, step: i64) {
        let buckets = (max - min) / step;
        let (below, above, done) = (self.label("below"), self.label("above"), self.label("lin"));
        self.b
            .ld_imm64(R2, min as u64)
            .jmp_reg(JmpOp::Jslt, R1, R2, &below)
            .ld_imm64(R2, max as u64)
            .jmp_reg(JmpOp::Jsge, R1, R2, &above)
            .mov64_reg(R0, R1)
            .ld_imm64(R2, min as u64)
            .alu64_reg(AluOp::Sub, R0, R2)
            .ld_imm64(R2, step as u64)
            .alu64_reg(AluOp::Div, R0, R2)
            .alu64_imm(AluOp::Add, R0, 1)
            .ja(&done)
            .label(&below)
            .mov64_imm(R0, 0)
            .ja(&done)
            .label(&above)
            .ld_imm64(R0, (buckets + 1) as u64)
            .label(&done);
    }
}

/// Where a bucketed map's key (histograms, time series) holds the bucket index: after the
/// user key, 8-aligned (a scalar map's zero key counts as 8 bytes).
pub(super) fn bucket_offset(info: &MapInfo) -> i32 {
    info.key
        .as_ref()
        .map_or(8, |k| k.size().max(1))
        .next_multiple_of(8) as i32
}
