//! Typing of statements and expressions, one probe instance at a time.

use std::collections::HashMap;
use std::rc::Rc;

use super::{
    Builtin, Checker, MapInfo, MapValue, OptionValue, ProbeContext, ProbeTypes, TseriesAgg,
    UserAddress,
};
use crate::ast::*;
use crate::diag::Span;
use crate::output::printf::Format;
use crate::probes::{ProbeInstance, ProbeKind};
use crate::types::{EnumType, IntType, Layout, Type};
use bpfhook::asm::Helper;
use bpfhook::kernel::features;

/// Functions whose result only makes sense stored in a map.
const AGGREGATES: &[&str] = &[
    "count", "sum", "avg", "min", "max", "stats", "hist", "lhist", "tseries",
];

/// Whether `name()` is an aggregate (its value only makes sense stored in a map).
pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

impl Checker {
    pub(super) fn check_probe(&mut self, probe: &Probe, instance: &ProbeInstance) -> ProbeTypes {
        self.types.clear();
        self.variables.clear();
        self.loop_depth = 0;
        self.callback_depth = 0;
        self.captured.clear();
        self.user_addresses.clear();
        self.kernel_variables.clear();
        self.btf_arguments.clear();
        self.pcap_outputs.clear();
        self.untyped.clear();
        self.sized.clear();
        self.instance_key = (probe.span.start, instance.name.clone());
        self.instance = Some(instance.clone());
        self.context = match ProbeContext::for_instance(instance) {
            Ok(context) => context,
            Err(message) => {
                let span = probe.attach_points.first().map_or(probe.span, |a| a.span);
                self.error(span, message);
                ProbeContext::None
            }
        };
        if let ProbeKind::Fentry { function, ret } = &instance.kind {
            match self.kernel.function(function) {
                Ok((params, retval)) => {
                    self.context =
                        super::context::trampoline_context(function, *ret, params, retval);
                }
                Err(message) => {
                    let span = probe.attach_points.first().map_or(probe.span, |a| a.span);
                    self.error(span, message);
                }
            }
        }
        if let ProbeKind::Iter { target } = &instance.kind {
            let context = BaseType::Struct(format!("bpf_iter__{target}"));
            match self.kernel.lookup(&context, false, None) {
                Ok(Type::Record(ctx)) => self.context = ProbeContext::Iterator { ctx: Some(ctx) },
                _ => {
                    let span = probe.attach_points.first().map_or(probe.span, |a| a.span);
                    self.error(span, format!("iter:{target}: the kernel's BTF has no such iterator (no struct bpf_iter__{target}; see `bpftrace -l 'iter:*'`)"));
                }
            }
        }
        if let Some(predicate) = &probe.predicate {
            let ty = self.expr(predicate);
            if !ty.is_scalar() {
                self.error(predicate.span, format!("Invalid type for predicate: {ty}"));
            }
        }
        self.block(&probe.body);
        self.previous_variables
            .insert(self.instance_key.clone(), self.variables.clone());
        ProbeTypes {
            exprs: std::mem::take(&mut self.types),
            variables: std::mem::take(&mut self.variables),
            captured: std::mem::take(&mut self.captured),
            context: std::mem::take(&mut self.context),
            user_addresses: std::mem::take(&mut self.user_addresses),
            kernel_variables: std::mem::take(&mut self.kernel_variables),
            btf_arguments: std::mem::take(&mut self.btf_arguments),
            pcap_outputs: std::mem::take(&mut self.pcap_outputs),
        }
    }

    fn block(&mut self, block: &Block) {
        let mut left = false;
        for statement in &block.statements {
            if left {
                self.warning(statement.span, "Unreachable statement");
                return;
            }
            self.statement(statement);
            left = leaves(statement);
        }
    }

    fn statement(&mut self, statement: &Statement) {
        match &statement.kind {
            StatementKind::Expr(expr) => {
                self.expr(expr);
            }
            StatementKind::Assign { target, op, value } => self.assign(target, *op, value),
            StatementKind::Let {
                variable,
                ty,
                value,
            } => {
                let declared = ty.as_ref().and_then(|t| self.resolve_type_name(t));
                if declared.is_some() {
                    self.sized.insert(variable.name.clone());
                }
                let value_type = value.as_ref().map(|v| {
                    let ty = self.expr(v);
                    literal_type(v, &ty).unwrap_or(ty)
                });
                let ty = match (declared, value_type) {
                    (Some(d), Some(v)) => {
                        if !assignable(&d, &v) {
                            let span = value.as_ref().map_or(statement.span, |v| v.span);
                            self.error(span, format!("Type mismatch for ${}: trying to assign value of type '{v}' when variable already has a type '{d}'", variable.name));
                        }
                        d
                    }
                    (Some(d), None) => d,
                    (None, Some(v)) => v,
                    // Typed by an assignment further on, known from the previous round.
                    (None, None) => match self.earlier_type(&variable.name) {
                        Some(ty) => ty,
                        None => {
                            self.untyped.insert(variable.name.clone());
                            return;
                        }
                    },
                };
                self.set_variable(&variable.name, ty, variable.span);
            }
            StatementKind::If {
                condition,
                then,
                otherwise,
            } => {
                self.condition(condition);
                self.block(then);
                if let Some(otherwise) = otherwise {
                    self.block(otherwise);
                }
            }
            StatementKind::While { condition, body } => {
                self.condition(condition);
                self.loop_depth += 1;
                self.block(body);
                self.loop_depth -= 1;
            }
            StatementKind::Unroll { count, body } => {
                match self.constant(count) {
                    Some(n) if (1..=100).contains(&n) => {}
                    Some(0) => self.error(count.span, "unroll minimum value is 1"),
                    Some(_) => self.error(count.span, "unroll maximum value is 100"),
                    None => self.error(count.span, "unroll count must be a constant"),
                }
                self.block(body);
            }
            StatementKind::For {
                variable,
                iterable,
                body,
            } => {
                match iterable {
                    Iterable::Range { start, end } => {
                        for bound in [start, end] {
                            let ty = self.expr(bound);
                            if !ty.is_integer() {
                                self.error(
                                    bound.span,
                                    format!("Loop range requires an integer, got {ty}"),
                                );
                            }
                        }
                        self.set_variable(&variable.name, Type::I64, variable.span);
                        // Bounds known only at run time: the body runs as a callback.
                        if self.constant(start).is_none() || self.constant(end).is_none() {
                            self.loop_depth += 1;
                            self.callback_depth += 1;
                            self.block(body);
                            self.callback_depth -= 1;
                            self.loop_depth -= 1;
                            return;
                        }
                    }
                    Iterable::Map(map) => {
                        self.map_loop(variable, map, body);
                        return;
                    }
                }
                self.loop_depth += 1;
                self.block(body);
                self.loop_depth -= 1;
            }
            StatementKind::Return(value) => {
                if let Some(value) = value {
                    self.expr(value);
                }
            }
            StatementKind::Break | StatementKind::Continue => {
                if self.loop_depth == 0 {
                    self.error(
                        statement.span,
                        "break and continue must be used inside a loop",
                    );
                }
            }
            StatementKind::Block(block) => self.block(block),
        }
    }

    fn condition(&mut self, condition: &Expr) {
        let ty = self.expr(condition);
        if !ty.is_scalar() {
            self.error(condition.span, format!("Invalid condition: {ty}"));
        }
    }

    /// `percpu_kaddr("VAR"[, cpu])`: the address of this CPU's (or that CPU's) copy of a
    /// per-CPU kernel variable, found in the kernel's BTF; 0 for a CPU that does not exist.
    fn percpu_address(&mut self, args: &[Expr], span: Span, id: ExprId) -> Type {
        let Some(ExprKind::String(name)) = args.first().map(|a| &a.kind) else {
            self.error(
                span,
                "percpu_kaddr() expects a variable name as a string literal",
            );
            return Type::None;
        };
        if let Some(cpu) = args.get(1) {
            if !self.expr(cpu).is_integer() {
                self.error(cpu.span, "percpu_kaddr()'s CPU must be an integer");
            }
        }
        match self.kernel.variable(name) {
            // The verifier finds the variable's address through kallsyms, which lists data
            // symbols only in kernels built with CONFIG_KALLSYMS_ALL.
            Ok(_) if !self.in_kallsyms(name) => self.error(
                span,
                format!("percpu_kaddr(\"{name}\"): {name} is not in /proc/kallsyms, so the kernel cannot resolve its address (it was built without CONFIG_KALLSYMS_ALL)"),
            ),
            Ok(btf_id) => {
                self.kernel_variables.insert(id.0, btf_id);
            }
            Err(why) => self.error(span, format!("percpu_kaddr(\"{name}\"): {why}")),
        }
        Type::U64
    }

    /// Whether /proc/kallsyms lists `name` (in the kernel image, not a module).
    fn in_kallsyms(&mut self, name: &str) -> bool {
        *self.in_kallsyms.entry(name.to_owned()).or_insert_with(|| {
            bpfhook::kernel::kallsyms::Kallsyms::read()
                .is_ok_and(|all| all.symbols().any(|s| s.name == name && s.module.is_none()))
        })
    }

    /// `uaddr("SYM")`: the address of a global of the uprobe's binary, typed as a pointer to
    /// an unsigned integer of the symbol's size.
    fn user_address(&mut self, args: &[Expr], span: Span, id: ExprId) -> Type {
        let Some(ExprKind::String(symbol)) = args.first().map(|a| &a.kind) else {
            self.error(span, "uaddr() expects a symbol name as a string literal");
            return Type::None;
        };
        let (binary, probed, offset) = match self.instance.as_ref().map(|i| &i.kind) {
            Some(ProbeKind::Uprobe {
                binary,
                symbol,
                offset,
                ..
            }) => (binary.clone(), symbol.clone(), *offset),
            _ => {
                self.error(
                    span,
                    "uaddr() can only be used in uprobes (it reads the probed binary's symbols)",
                );
                return Type::None;
            }
        };
        let found = bpfhook::discover::ElfBinary::open(&binary.to_string_lossy()).and_then(|elf| {
            let pie = elf.is_position_independent()?;
            // The probe's place: a function (+offset) or an address as written.
            let probe_address = match elf.functions()?.iter().find(|f| f.name == probed) {
                Some(function) => Some(function.address + offset),
                None => crate::probes::parse_address(&probed).map(|a| a + offset),
            };
            Ok((elf.variable(symbol)?, pie, probe_address.filter(|_| pie)))
        });
        match found {
            Ok((Some(_), true, None)) => {
                self.error(
                    span,
                    format!(
                        "uaddr(\"{symbol}\"): cannot place {probed} in {}",
                        binary.display()
                    ),
                );
                Type::None
            }
            Ok((Some((address, size)), _, relative_to_probe)) => {
                self.user_addresses.insert(
                    id.0,
                    UserAddress {
                        address,
                        relative_to_probe,
                    },
                );
                let bits = match size {
                    1 | 2 | 4 => size as u8 * 8,
                    _ => 64,
                };
                Type::Pointer(Box::new(Type::int(bits, false)))
            }
            Ok((None, ..)) => {
                self.error(
                    span,
                    format!("Could not resolve symbol: {}:{symbol}", binary.display()),
                );
                Type::None
            }
            Err(e) => {
                self.error(span, format!("uaddr(\"{symbol}\"): {e}"));
                Type::None
            }
        }
    }

    /// `args.f` of a tracepoint where `f` points to a struct, when a script reads through it
    /// (`args.f->x`, `*args.f`): a pointer to that struct of the kernel's BTF, recorded as the
    /// type of `args.f`. Read as a value, `args.f` stays an address (and needs no BTF).
    fn through_tracepoint_pointer(&mut self, pointer: &Expr) -> Option<Type> {
        let ExprKind::Field { base, field, .. } = &pointer.kind else {
            return None;
        };
        let ProbeContext::Tracepoint {
            args,
            struct_pointers,
            ..
        } = &self.context
        else {
            return None;
        };
        if !matches!(self.types.get(&base.id.0), Some(Type::Record(r)) if Rc::ptr_eq(r, args)) {
            return None;
        }
        let field = &field.name;
        let (_, name) = struct_pointers.iter().find(|(f, _)| f == field)?;
        let pointee = self
            .kernel
            .lookup(&BaseType::Struct(name.clone()), true, None)
            .ok()?;
        let ty = Type::Pointer(Box::new(pointee));
        self.types.insert(pointer.id.0, ty.clone());
        Some(ty)
    }

    /// `args.f` of a tracepoint where `f` is an `enum X`: that enum of the kernel's BTF, when
    /// it has it (else the field stays an integer).
    fn tracepoint_enum(&mut self, base: &Expr, field: &str) -> Option<Type> {
        let ProbeContext::Tracepoint {
            args, enum_fields, ..
        } = &self.context
        else {
            return None;
        };
        if !matches!(self.types.get(&base.id.0), Some(Type::Record(r)) if Rc::ptr_eq(r, args)) {
            return None;
        }
        let (_, name) = enum_fields.iter().find(|(f, _)| f == field)?;
        let name = name.clone();
        self.kernel.lookup(&BaseType::Enum(name), false, None).ok()
    }

    /// A uprobe's `args`, typed from the binary's DWARF on first use (an error where it has
    /// none); None for other probes, and after that error.
    fn uprobe_args(&mut self, span: Span) -> Option<Rc<super::context::RegisterArgs>> {
        let ProbeContext::Registers { ret: false, args } = &self.context else {
            return None;
        };
        if let Some(args) = args {
            return Some(args.clone());
        }
        let Some(ProbeKind::Uprobe {
            binary,
            symbol,
            offset,
            ..
        }) = self.instance.as_ref().map(|i| i.kind.clone())
        else {
            return None;
        };
        let params = if offset != 0 {
            Err(format!(
                "args are the arguments at the entry of {symbol}, not at an offset into it"
            ))
        } else {
            self.kernel.uprobe_function(&binary, &symbol)
        };
        let args = match params {
            Ok(params) => Rc::new(super::context::RegisterArgs::new(&symbol, params)),
            Err(why) => {
                self.error(
                    span,
                    format!("The args builtin needs {symbol}'s parameters from DWARF: {why}"),
                );
                Rc::new(super::context::RegisterArgs::new(&symbol, Vec::new()))
            }
        };
        self.context = ProbeContext::Registers {
            ret: false,
            args: Some(args.clone()),
        };
        Some(args)
    }

    /// `args.f` in a uprobe: the parameter's type, or an error when no register holds it;
    /// None when the base is not a uprobe's `args`.
    fn uprobe_arg(&mut self, base: &Expr, field: &Ident) -> Option<Type> {
        if !matches!(&base.kind, ExprKind::Identifier(name) if name == "args") {
            return None;
        }
        let args = self.uprobe_args(base.span)?;
        let record = Type::Record(args.record.clone());
        self.types.insert(base.id.0, record.clone());
        if let Some((_, why)) = args.unreadable.iter().find(|(name, _)| *name == field.name) {
            self.error(
                field.span,
                format!("args.{} cannot be read: {why}", field.name),
            );
            return Some(Type::None);
        }
        Some(self.field(&record, field))
    }

    /// A raw tracepoint's context with `args` named and typed from the kernel's BTF (read on
    /// the first use of `args`: `arg0…` need no BTF); None for other probes.
    pub(super) fn raw_tracepoint_args(&mut self) -> Option<ProbeContext> {
        if !matches!(self.context, ProbeContext::RawTracepoint { args: None }) {
            return None;
        }
        let Some(ProbeKind::RawTracepoint { name, .. }) = self.instance.as_ref().map(|i| &i.kind)
        else {
            return None;
        };
        let name = name.clone();
        let params = self.kernel.raw_tracepoint(&name).ok()?;
        let record =
            super::context::arguments_record(&format!("struct _rawtracepoint_{name}"), params);
        self.context = ProbeContext::RawTracepoint { args: Some(record) };
        Some(self.context.clone())
    }

    /// `kstack`, `kstack(N)`, `kstack(MODE)`, `kstack(MODE, N)`: the mode a bare word
    /// (bpftrace, perf, raw), else the settings' mode; N frames, else every frame kept.
    fn stack_spec(&mut self, args: &[Expr], span: Span) -> crate::types::StackSpec {
        let mut spec = crate::types::StackSpec {
            mode: self.settings.stack_mode,
            frames: self.settings.max_stack_frames,
        };
        let mut rest = args;
        if let Some(ExprKind::Identifier(word)) = args.first().map(|a| &a.kind) {
            match crate::types::StackMode::parse(word) {
                Some(mode) => spec.mode = mode,
                None => self.error(
                    args[0].span,
                    format!("Invalid stack mode: {word} (valid: bpftrace, perf, raw, build_id)"),
                ),
            }
            rest = &args[1..];
        }
        match rest {
            [] => {}
            [frames] => match self.constant(frames) {
                Some(n) if n >= 0 => spec.frames = (n as u32).min(self.settings.max_stack_frames),
                _ => self.error(
                    frames.span,
                    "the number of stack frames must be a non-negative constant",
                ),
            },
            _ => self.error(
                span,
                "kstack/ustack take at most a mode and a number of frames",
            ),
        }
        spec
    }

    /// The type a variable had in this probe instance in the previous round.
    fn earlier_type(&self, name: &str) -> Option<Type> {
        self.previous_variables
            .get(&self.instance_key)
            .and_then(|variables| variables.get(name).cloned())
    }

    /// `for ($kv : @map) { body }`: `$kv` is a `(key, value)` tuple, in scope only in the body.
    fn map_loop(&mut self, variable: &Ident, map: &Ident, body: &Block) {
        if self.variables.contains_key(&variable.name) {
            self.error(
                variable.span,
                format!(
                    "Loop declaration shadows existing variable: ${}",
                    variable.name
                ),
            );
        }
        let element = self.map_element(map);
        self.variables.insert(variable.name.clone(), element);
        self.loop_depth += 1;
        self.callback_depth += 1;
        self.block(body);
        self.callback_depth -= 1;
        self.loop_depth -= 1;
        self.variables.remove(&variable.name);
        self.captured.remove(&variable.name);
    }

    /// The `(key, value)` tuple a loop over `map` gives.
    fn map_element(&mut self, map: &Ident) -> Type {
        let name = format!("@{}", map.name);
        let element = match self.maps.get(&name) {
            Some(info) => info.loop_element(),
            None => Err(format!("Undefined map: {name}")),
        };
        element.unwrap_or_else(|message| {
            self.error(map.span, message);
            Type::None
        })
    }

    fn set_variable(&mut self, name: &str, ty: Type, span: Span) {
        if self.callback_depth > 0 {
            self.captured.insert(name.to_owned());
        }
        match self.variables.get(name).cloned() {
            None => {
                self.variables.insert(name.to_owned(), ty);
            }
            Some(old) => match unify(&old, &ty) {
                Some(merged) => {
                    self.variables.insert(name.to_owned(), merged);
                }
                None => self.error(span, format!("Type mismatch for ${name}: trying to assign value of type '{ty}' when variable already contains a value of type '{old}'")),
            },
        }
    }

    fn assign(&mut self, target: &Expr, op: Option<BinaryOp>, value: &Expr) {
        // `x = { statements; v }` is the statements, then `x = v` (`v` may be an aggregate).
        if let ExprKind::Block { body, value } = &value.kind {
            self.block(body);
            return self.assign(target, op, value);
        }
        // `_ = v` evaluates `v` and keeps nothing.
        if matches!(&target.kind, ExprKind::Identifier(name) if name == "_") && op.is_none() {
            self.expr(value);
            return;
        }
        // `@m = count()` and friends make the map an aggregate.
        if let (ExprKind::Call { function, args }, None) = (&value.kind, op) {
            if AGGREGATES.contains(&function.name.as_str()) {
                let Some((map, keys)) = map_target(target) else {
                    self.error(
                        value.span,
                        format!("{}() should be directly assigned to a map", function.name),
                    );
                    return;
                };
                let aggregate = self.aggregate(function, args, value.span);
                self.types.insert(value.id.0, Type::None);
                if let Some(aggregate) = aggregate {
                    self.define_map(&map, keys, aggregate, target.span);
                }
                return;
            }
        }
        let value_type = self.expr(value);
        if value_type == Type::None {
            self.error(value.span, "this expression has no value to assign");
            return;
        }
        let value_type = match op {
            Some(op) => {
                let current = self.expr(target);
                if !current.is_integer() && current != Type::None || !value_type.is_integer() {
                    self.error(value.span, format!("{}= needs integers", op.symbol()));
                }
                Type::I64
            }
            None => value_type,
        };
        match &target.kind {
            ExprKind::Variable(name) => {
                let ty = match op {
                    Some(_) => value_type,
                    None => literal_type(value, &value_type).unwrap_or(widen_int(value_type)),
                };
                self.set_variable(name, ty, target.span);
                self.types.insert(target.id.0, self.variables[name].clone());
            }
            ExprKind::Map(_) | ExprKind::MapIndex { .. } => {
                let Some((map, keys)) = map_target(target) else {
                    return;
                };
                self.define_map(
                    &map,
                    keys,
                    MapValue::Plain(widen_int(value_type)),
                    target.span,
                );
                if let Some(info) = self.maps.get(&format!("@{}", map.name)) {
                    self.types.insert(target.id.0, info.value.read_type());
                }
            }
            _ => self.error(target.span, "can only assign to a $variable or an @map"),
        }
    }

    fn aggregate(&mut self, function: &Ident, args: &[Expr], span: Span) -> Option<MapValue> {
        let name = function.name.as_str();
        let arg_types: Vec<Type> = args.iter().map(|a| self.expr(a)).collect();
        let wants = match name {
            "count" => 0,
            "hist" => 1,
            "lhist" => 4,
            "tseries" => 3,
            _ => 1,
        };
        let ok_count = match name {
            "hist" => (1..=2).contains(&args.len()),
            "tseries" => (3..=4).contains(&args.len()),
            _ => args.len() == wants,
        };
        if !ok_count {
            self.error(
                span,
                format!(
                    "{name}() takes {wants} argument{}",
                    if wants == 1 { "" } else { "s" }
                ),
            );
            return None;
        }
        if let Some((arg, ty)) = args.iter().zip(&arg_types).next() {
            if !ty.is_integer() {
                self.error(arg.span, format!("{name}() expects an integer, got {ty}"));
                return None;
            }
        }
        let signed = arg_types.first().is_some_and(Type::is_signed);
        Some(match name {
            "count" => MapValue::Count,
            "sum" => MapValue::Sum { signed },
            "min" => MapValue::Min { signed },
            "max" => MapValue::Max { signed },
            "avg" => MapValue::Avg { signed },
            "stats" => MapValue::Stats { signed },
            "hist" => {
                let bits = match args.get(1) {
                    Some(k) => match self.constant(k) {
                        Some(k @ 0..=5) => k as u8,
                        _ => {
                            self.error(k.span, "hist() bits must be a constant between 0 and 5");
                            return None;
                        }
                    },
                    None => 0,
                };
                MapValue::Hist { bits }
            }
            "lhist" => {
                let mut bounds = [0i64; 3];
                for (slot, arg) in bounds.iter_mut().zip(&args[1..]) {
                    match self.constant(arg) {
                        Some(v) => *slot = v,
                        None => {
                            self.error(arg.span, "lhist() bounds must be constants");
                            return None;
                        }
                    }
                }
                let [min, max, step] = bounds;
                if step <= 0 || max <= min || (max - min) / step > 1000 {
                    self.error(span, "lhist(value, min, max, step): need min < max, step > 0 and at most 1000 buckets");
                    return None;
                }
                MapValue::Lhist { min, max, step }
            }
            "tseries" => self.tseries(args, signed)?,
            _ => unreachable!("not an aggregate: {name}"),
        })
    }

    /// `tseries(n, interval_ns, num_intervals[, "avg"|"min"|"max"|"sum"])`: constant
    /// interval and count, a known aggregation; the dummy timestamp map, if set, usable.
    fn tseries(&mut self, args: &[Expr], signed: bool) -> Option<MapValue> {
        let interval_ns = match self.constant(&args[1]) {
            Some(ns) if ns >= 1 => ns as u64,
            Some(ns) => {
                let message = format!("tseries() interval_ns must be >= 1 ({ns} provided)");
                return self.error_none(args[1].span, message);
            }
            None => {
                let message = "tseries(): invalid interval_ns value (must be non-negative literal)";
                return self.error_none(args[1].span, message);
            }
        };
        let num_intervals = match self.constant(&args[2]) {
            Some(n @ 1..=1_000_000) => n as u64,
            Some(n) => {
                let message = match n < 1 {
                    true => format!("tseries() num_intervals must be >= 1 ({n} provided)"),
                    false => format!("tseries() num_intervals must be < 1000000 ({n} provided)"),
                };
                return self.error_none(args[2].span, message);
            }
            None => {
                let message =
                    "tseries(): invalid num_intervals value (must be non-negative literal)";
                return self.error_none(args[2].span, message);
            }
        };
        let agg = match args.get(3).map(|a| (a, &a.kind)) {
            None => TseriesAgg::Last,
            Some((_, ExprKind::String(name))) if TseriesAgg::parse(name).is_some() => {
                TseriesAgg::parse(name)?
            }
            Some((arg, kind)) => {
                let given = match kind {
                    ExprKind::String(name) => format!("\"{name}\""),
                    _ => "not a string literal".to_owned(),
                };
                let message = format!("tseries() expects one of the following aggregation functions: avg, max, min, sum ({given} provided)");
                return self.error_none(arg.span, message);
            }
        };
        if let Some(name) = self.settings.dummy_ts_map.clone() {
            let usable = self
                .maps
                .get(&name)
                .is_none_or(|m| m.key.is_none() && m.value.read_type().is_integer());
            if !usable {
                let message =
                    format!("BPFTRACE_DUMMY_TS_MAP: {name} must be a scalar map of integers");
                return self.error_none(args[0].span, message);
            }
        }
        Some(MapValue::Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed,
        })
    }

    fn error_none<T>(&mut self, span: Span, message: impl Into<String>) -> Option<T> {
        self.error(span, message);
        None
    }

    fn define_map(&mut self, map: &Ident, keys: &[Expr], value: MapValue, span: Span) {
        let key = self.key_type(keys);
        let name = format!("@{}", map.name);
        if key.is_some() && !self.key_shapes.contains_key(&name) {
            let shape = self.key_shape(keys);
            self.key_shapes.insert(name.clone(), shape);
        }
        let max_entries = self.settings.max_map_keys;
        let declared = self.declared.get(&name).cloned();
        match self.maps.get_mut(&name) {
            None => {
                self.maps.insert(
                    name.clone(),
                    MapInfo {
                        name,
                        key,
                        value,
                        kind: declared.as_ref().map(|d| d.kind.clone()),
                        max_entries: declared.map_or(max_entries, |d| {
                            d.max_entries.clamp(1, u32::MAX as u64) as u32
                        }),
                        span,
                    },
                );
            }
            Some(info) => {
                let merged_value = match (&info.value, &value) {
                    (MapValue::Plain(a), MapValue::Plain(b)) => unify(a, b).map(MapValue::Plain),
                    (a, b) if a == b => Some(a.clone()),
                    (MapValue::Sum { signed: a }, MapValue::Sum { signed: b }) => {
                        Some(MapValue::Sum { signed: *a || *b })
                    }
                    _ => None,
                };
                let merged_key = match (&info.key, &key) {
                    (None, None) => Some(None),
                    (Some(a), Some(b)) => unify(a, b).map(Some),
                    _ => None,
                };
                match (merged_value, merged_key) {
                    (Some(v), Some(k)) => {
                        info.value = v;
                        info.key = k;
                    }
                    (None, _) => {
                        let message = format!(
                            "Type mismatch for {name}: trying to assign value of type '{}' when map already contains a value of type '{}'",
                            describe(&value),
                            describe(&info.value)
                        );
                        self.error(span, message);
                    }
                    (_, None) => {
                        let used = key.is_some().then(|| self.key_shape(keys));
                        self.argument_mismatch(&name, used, span);
                    }
                }
            }
        }
    }

    /// bpftrace's error for a map used with keys of another shape than it has.
    fn argument_mismatch(&mut self, name: &str, used: Option<String>, span: Span) {
        let expected = self.key_shapes.get(name).cloned();
        let message = format!(
            "Argument mismatch for {name}: trying to access with arguments: '{}' when map expects arguments: '{}'",
            used.as_deref().unwrap_or("none"),
            expected.as_deref().unwrap_or("none")
        );
        self.error(span, message);
    }

    /// The key as written: literals at the smallest type that holds them, several keys as a
    /// tuple (`(int8,string[3])`). Only for messages; the map itself keys by 64-bit integers.
    fn key_shape(&self, keys: &[Expr]) -> String {
        let shown: Vec<String> = keys
            .iter()
            .map(|k| match (&k.kind, self.types.get(&k.id.0)) {
                (ExprKind::Integer { value, .. }, Some(Type::Int(_))) => {
                    smallest_int(*value).to_string()
                }
                (_, Some(ty)) => ty.to_string(),
                (_, None) => Type::None.to_string(),
            })
            .collect();
        match shown.as_slice() {
            [one] => one.clone(),
            _ => format!("({})", shown.join(",")),
        }
    }

    /// The key of `@m[a, b]`: one type, or a tuple of several.
    fn key_type(&mut self, keys: &[Expr]) -> Option<Type> {
        let types: Vec<Type> = keys.iter().map(|k| widen_int(self.expr(k))).collect();
        for (key, ty) in keys.iter().zip(&types) {
            if *ty == Type::None {
                self.error(key.span, "this expression has no value to use as a key");
            }
        }
        match types.len() {
            0 => None,
            1 => types.into_iter().next(),
            _ => Some(Type::Tuple(Rc::new(Layout::of(types)))),
        }
    }

    /// A map read: `@m` or `@m[k]`.
    fn map_read(&mut self, map: &Ident, keys: &[Expr], span: Span) -> Type {
        let key = self.key_type(keys);
        let name = format!("@{}", map.name);
        match self.maps.get(&name) {
            Some(info) => {
                let read = info.value.read_type();
                let mismatch = match (&info.key, &key) {
                    (Some(expected), Some(used)) => unify(expected, used).is_none(),
                    _ => false,
                };
                if mismatch {
                    let used = self.key_shape(keys);
                    self.argument_mismatch(&name, Some(used), span);
                } else if info.key.is_some() != key.is_some() {
                    let message = if key.is_some() {
                        format!("{name} is a scalar map: use it without a key")
                    } else {
                        format!("{name} is used with a key elsewhere: index it, e.g. {name}[…]")
                    };
                    self.error(span, message);
                }
                read
            }
            None => {
                self.error(span, format!("Undefined map: {name}"));
                Type::None
            }
        }
    }

    /// Functions that change the traced system need `--unsafe`.
    fn require_unsafe(&mut self, function: &str, span: Span) {
        if !self.settings.unsafe_calls {
            self.error(
                span,
                format!("{function}() is unsafe. To use you need the --unsafe flag"),
            );
        }
    }

    /// A constant integer expression's value (literals, enum values, positional params).
    pub(super) fn constant(&self, expr: &Expr) -> Option<i64> {
        constant_value(expr, &self.enums, &self.settings.positional)
    }

    pub(super) fn positional_int(&self, n: u32) -> Option<i64> {
        positional_int(&self.settings.positional, n)
    }

    /// Types an expression and remembers its type.
    pub(super) fn expr(&mut self, expr: &Expr) -> Type {
        let ty = self.expr_type(expr);
        self.types.insert(expr.id.0, ty.clone());
        ty
    }

    fn expr_type(&mut self, expr: &Expr) -> Type {
        match &expr.kind {
            ExprKind::Integer { value, .. } => {
                if *value > i64::MAX as u64 {
                    Type::U64
                } else {
                    Type::I64
                }
            }
            ExprKind::String(text) => Type::Str(text.len() as u32 + 1),
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Variable(name) => match self.variables.get(name) {
                Some(ty) => {
                    if self.callback_depth > 0 {
                        self.captured.insert(name.clone());
                    }
                    ty.clone()
                }
                // Declared with `let $x;`, not typed yet (the next round knows).
                None if self.untyped.contains(name) => {
                    self.error(
                        expr.span,
                        format!("${name} is declared without a type and never assigned a value"),
                    );
                    Type::None
                }
                None => {
                    self.error(
                        expr.span,
                        format!("Undefined or undeclared variable: ${name}"),
                    );
                    Type::None
                }
            },
            ExprKind::Map(name) => {
                let ident = Ident {
                    name: name.clone(),
                    span: expr.span,
                };
                self.map_read(&ident, &[], expr.span)
            }
            ExprKind::MapIndex { map, keys } => self.map_read(map, keys, expr.span),
            ExprKind::Identifier(name) => self.identifier(name, expr.span),
            // A parameter that is not a number is a string, as in bpftrace (and as `str($1)`);
            // a missing one is 0.
            ExprKind::Positional(n) => match self.positional_int(*n) {
                Some(_) => Type::I64,
                None => match self.settings.positional.get((*n as usize).wrapping_sub(1)) {
                    Some(text) => Type::Str(text.len() as u32 + 1),
                    None => Type::I64,
                },
            },
            ExprKind::PositionalCount => Type::I64,
            ExprKind::Call { function, args } => self.call(function, args, expr.span, expr.id),
            ExprKind::Field { base, field, .. } => {
                if let Some(ty) = self.uprobe_arg(base, field) {
                    return ty;
                }
                let base_type = self.expr(base);
                let base_type = self.through_tracepoint_pointer(base).unwrap_or(base_type);
                let base_type = self.with_kernel_fields(base, base_type);
                let ty = self.field(&base_type, field);
                self.tracepoint_enum(base, &field.name).unwrap_or(ty)
            }
            ExprKind::TupleIndex { base, index } => {
                let base_type = self.expr(base);
                match &base_type {
                    Type::Tuple(layout) => match layout.fields.get(*index as usize) {
                        Some(field) => field.ty.clone(),
                        None => {
                            self.error(
                                expr.span,
                                format!(
                                    "Invalid tuple index: {index}. Found {} elements in tuple.",
                                    layout.fields.len()
                                ),
                            );
                            Type::None
                        }
                    },
                    other => {
                        self.error(
                            expr.span,
                            format!("Can not access index {index} on expression of type '{other}'"),
                        );
                        Type::None
                    }
                }
            }
            ExprKind::Index { base, index } => {
                let base_type = self.expr(base);
                let index_type = self.expr(index);
                if !index_type.is_integer() {
                    self.error(
                        index.span,
                        format!(
                            "The array index operator [] requires an integer, got {index_type}"
                        ),
                    );
                }
                match base_type {
                    Type::Array(element, _) => *element,
                    Type::Pointer(to) => *to,
                    Type::Tuple(layout) => match self.constant(index) {
                        Some(i) if (i as usize) < layout.fields.len() && i >= 0 => {
                            layout.fields[i as usize].ty.clone()
                        }
                        _ => {
                            self.error(
                                index.span,
                                "tuple indices must be constants within the tuple",
                            );
                            Type::None
                        }
                    },
                    // Unknown pointees (`args.argv` is a `char **` seen as u64): index as u64s.
                    Type::Int(IntType { bits: 64, .. }) => Type::U64,
                    other => {
                        self.error(base.span, format!("The array index operator [] can not be used on expressions of type {other}"));
                        Type::None
                    }
                }
            }
            ExprKind::Unary { op, operand } => {
                let ty = self.expr(operand);
                let ty = match op {
                    UnaryOp::Deref => self.through_tracepoint_pointer(operand).unwrap_or(ty),
                    _ => ty,
                };
                match op {
                    UnaryOp::Not => {
                        if !ty.is_scalar() {
                            self.error(
                                expr.span,
                                format!(
                                    "The ! operator can not be used on expressions of type {ty}"
                                ),
                            );
                        }
                        Type::Bool
                    }
                    UnaryOp::Negate => {
                        if !ty.is_integer() {
                            self.error(
                                expr.span,
                                format!(
                                    "The - operator can not be used on expressions of type {ty}"
                                ),
                            );
                        }
                        // A negative literal takes the smallest type that holds it, as in
                        // bpftrace (`(uint8 *)-1` is 0xff).
                        match &operand.kind {
                            ExprKind::Integer { value, .. } => smallest_negative(*value),
                            _ => Type::I64,
                        }
                    }
                    UnaryOp::BitNot => {
                        match ty.as_int() {
                            Some(int) => Type::Int(int),
                            None => {
                                self.error(expr.span, format!("The ~ operator can not be used on expressions of type {ty}"));
                                Type::None
                            }
                        }
                    }
                    UnaryOp::Deref => match ty {
                        Type::Pointer(to) => self.dereferenced(*to, expr.span),
                        Type::Int(_) => Type::U64,
                        other => {
                            self.error(expr.span, format!("Can not dereference type {other}"));
                            Type::None
                        }
                    },
                    UnaryOp::AddressOf => match &operand.kind {
                        ExprKind::Variable(_) if ty != Type::None => Type::Pointer(Box::new(ty)),
                        ExprKind::Variable(_) => Type::None,
                        _ => {
                            self.error(
                                expr.span,
                                "The & operator can only take the address of a variable",
                            );
                            Type::None
                        }
                    },
                }
            }
            ExprKind::Binary { op, left, right } => {
                let (a, b) = (self.expr(left), self.expr(right));
                // A literal takes the unsigned type of the other side (`$u % 10` stays
                // unsigned), as in bpftrace.
                let adapt = |literal: &Expr, ty: Type, other: &Type| match (&literal.kind, other) {
                    (ExprKind::Integer { .. }, Type::Int(int)) if !int.signed => Type::U64,
                    _ => ty,
                };
                let (a, b) = (adapt(left, a.clone(), &b), adapt(right, b.clone(), &a));
                self.binary(*op, &a, &b, expr.span)
            }
            ExprKind::Ternary {
                condition,
                then,
                otherwise,
            } => {
                self.condition(condition);
                let (a, b) = (self.expr(then), self.expr(otherwise));
                match unify(&a, &b) {
                    Some(ty) => ty,
                    None => {
                        self.error(
                            expr.span,
                            format!(
                                "Ternary operator must return the same type: have '{a}' and '{b}'"
                            ),
                        );
                        Type::None
                    }
                }
            }
            ExprKind::Increment { target, .. } => match &target.kind {
                ExprKind::Variable(name) => {
                    let ty = self.variables.get(name).cloned().unwrap_or(Type::I64);
                    if !ty.is_integer() && !matches!(ty, Type::Pointer(_)) {
                        self.error(
                            target.span,
                            format!(
                                "The ++/-- operators need an integer variable, ${name} is {ty}"
                            ),
                        );
                    }
                    // Counting takes the variable to 64 bits, unless its declaration sized it.
                    let ty = if ty.is_integer() && !self.sized.contains(name) {
                        widen_int(ty)
                    } else {
                        ty
                    };
                    self.set_variable(name, ty.clone(), target.span);
                    self.types.insert(target.id.0, ty.clone());
                    ty
                }
                _ if map_target(target).is_some() => {
                    if let Some((map, keys)) = map_target(target) {
                        self.define_map(&map, keys, MapValue::Plain(Type::I64), target.span);
                    }
                    Type::I64
                }
                _ => {
                    self.error(
                        target.span,
                        "The ++ and -- operators must be applied to a map or variable",
                    );
                    Type::None
                }
            },
            ExprKind::Cast { ty, operand } => {
                let from = self.expr(operand);
                let Some(to) = self.resolve_type_name(ty) else {
                    return Type::None;
                };
                let ok = match (&to, &from) {
                    (Type::Int(_) | Type::Bool | Type::Enum(_) | Type::Pointer(_), f) => {
                        f.is_scalar()
                    }
                    (Type::Str(_), Type::Str(_)) => true,
                    (Type::Array(..), Type::Pointer(_) | Type::Int(_)) => true,
                    _ => false,
                };
                if !ok {
                    self.error(
                        expr.span,
                        format!("Cannot cast from \"{from}\" to \"{to}\""),
                    );
                }
                to
            }
            ExprKind::Block { body, value } => {
                self.block(body);
                self.expr(value)
            }
            ExprKind::NamedTuple(elements) => {
                let fields: Vec<(String, Type)> = elements
                    .iter()
                    .map(|(name, e)| {
                        let ty = self.expr(e);
                        if ty == Type::None {
                            self.error(e.span, "this expression has no value to put in a tuple");
                        }
                        (name.name.clone(), ty)
                    })
                    .collect();
                for (i, (name, _)) in elements.iter().enumerate() {
                    if elements[..i].iter().any(|(n, _)| n.name == name.name) {
                        self.error(
                            name.span,
                            format!("Duplicate field name in a named tuple: {}", name.name),
                        );
                    }
                }
                Type::Record(Rc::new(crate::types::Record {
                    name: "record".to_owned(),
                    layout: Layout::named(fields),
                    btf_id: None,
                }))
            }
            ExprKind::Tuple(elements) => {
                let types: Vec<Type> = elements
                    .iter()
                    .map(|e| {
                        let ty = self.expr(e);
                        // Literals in tuples take the smallest type that holds them, as in bpftrace.
                        match (&e.kind, &ty) {
                            (ExprKind::Integer { value, .. }, Type::Int(_)) => smallest_int(*value),
                            _ => ty,
                        }
                    })
                    .collect();
                for (element, ty) in elements.iter().zip(&types) {
                    if *ty == Type::None {
                        self.error(
                            element.span,
                            "this expression has no value to put in a tuple",
                        );
                    }
                }
                for (element, ty) in elements.iter().zip(&types) {
                    self.types.insert(element.id.0, ty.clone());
                }
                Type::Tuple(Rc::new(Layout::of(types)))
            }
            ExprKind::Type(_) => {
                self.error(
                    expr.span,
                    "a type stands only where a type goes (sizeof, a cast, a declaration)",
                );
                Type::None
            }
            ExprKind::SizeofType(_) | ExprKind::SizeofExpr(_) | ExprKind::Offsetof { .. } => {
                match self.size_constant(expr) {
                    Some(value) => {
                        self.size_constants.insert(expr.id, value);
                        Type::U64
                    }
                    None => Type::None,
                }
            }
        }
    }

    /// `sizeof(…)` and `offsetof(…)` are known at compile time.
    pub(super) fn size_constant(&mut self, expr: &Expr) -> Option<u64> {
        match &expr.kind {
            ExprKind::SizeofType(ty) => self.resolve_type_name(ty).map(|t| u64::from(t.size())),
            ExprKind::SizeofExpr(inner) => {
                let ty = match &inner.kind {
                    ExprKind::Type(_) => self.type_operand(inner)?,
                    // `sizeof(t[2])` of a type `t` a macro was given: an array of two.
                    ExprKind::Index { base, index } if matches!(base.kind, ExprKind::Type(_)) => {
                        let (ExprKind::Type(element), Some(n)) = (&base.kind, self.constant(index))
                        else {
                            self.error(index.span, "an array type needs a constant length");
                            return None;
                        };
                        let mut array = element.clone();
                        array.array_lens.insert(0, u32::try_from(n).unwrap_or(0));
                        self.resolve_type_name(&array)?
                    }
                    _ => self.expr(inner),
                };
                // What codegen reads the size from.
                self.types.insert(inner.id.0, ty.clone());
                Some(u64::from(ty.size()))
            }
            ExprKind::Offsetof { ty, fields } => {
                let mut current = self.resolve_type_name(ty)?;
                let mut offset = 0u64;
                for field in fields {
                    let Type::Record(record) = &current else {
                        self.error(field.span, format!("{current} has no fields"));
                        return None;
                    };
                    let Some(found) = record.layout.field(&field.name).cloned() else {
                        self.error(
                            field.span,
                            format!("{} has no field named {}", record.name, field.name),
                        );
                        return None;
                    };
                    offset += u64::from(found.offset);
                    current = found.ty;
                }
                Some(offset)
            }
            _ => None,
        }
    }

    /// The type `typeof(e)` names: `e`'s, or the type `e` stands for.
    pub(super) fn type_operand(&mut self, e: &Expr) -> Option<Type> {
        let ty = match &e.kind {
            ExprKind::Type(ty) => self.resolve_type_name(ty)?,
            _ => self.expr(e),
        };
        (ty != Type::None).then_some(ty)
    }

    fn identifier(&mut self, name: &str, span: Span) -> Type {
        if let Some((ty, _)) = self.enums.get(name) {
            return Type::Enum(ty.clone());
        }
        let Some(builtin) = Builtin::from_name(name) else {
            self.error(span, format!("Unknown identifier: '{name}'"));
            return Type::None;
        };
        let kind = self.instance.as_ref().map(|i| i.kind.clone());
        match builtin {
            Builtin::Args => {
                if let Some(args) = self.uprobe_args(span) {
                    // A copy of `args` holds every parameter: each must be readable.
                    if let Some((_, why)) = args.unreadable.first() {
                        self.error(span, format!("args cannot be read whole: {why}"));
                    }
                    return Type::Record(args.record.clone());
                }
                match self.raw_tracepoint_args().as_ref().unwrap_or(&self.context) {
                    ProbeContext::Tracepoint { args, .. }
                    | ProbeContext::Trampoline {
                        args: Some(args), ..
                    }
                    | ProbeContext::RawTracepoint { args: Some(args) } => {
                        Type::Record(args.clone())
                    }
                    ProbeContext::Registers { args: Some(_), .. } => Type::None,
                    _ => {
                        self.error(span, "The args builtin can only be used with tracepoint, rawtracepoint, fentry, fexit and uprobe probes");
                        Type::None
                    }
                }
            }
            Builtin::Probe => Type::Str(
                self.instance
                    .as_ref()
                    .map_or(1, |i| i.name.len() as u32 + 1),
            ),
            Builtin::Probetype => {
                Type::Str(kind.as_ref().map_or(1, |k| k.type_name().len() as u32 + 1))
            }
            Builtin::Config => {
                let fields: Vec<(String, Type)> = super::builtins::config_values(&self.settings)
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value.ty()))
                    .collect();
                Type::Record(Rc::new(crate::types::Record {
                    name: "record".to_owned(),
                    layout: Layout::named(fields),
                    btf_id: None,
                }))
            }
            Builtin::Func => match &kind {
                Some(
                    ProbeKind::Kprobe { function: f, .. } | ProbeKind::Fentry { function: f, .. },
                )
                | Some(ProbeKind::Uprobe { symbol: f, .. }) => Type::Str(f.len() as u32 + 1),
                _ => {
                    self.error(
                        span,
                        "The func builtin can not be used with this probe type",
                    );
                    Type::None
                }
            },
            Builtin::Retval => {
                if !matches!(
                    self.context,
                    ProbeContext::Registers { ret: true, .. }
                        | ProbeContext::Trampoline { ret: true, .. }
                ) {
                    self.error(span, "The retval builtin can only be used with 'kretprobe', 'uretprobe' and 'fexit' probes");
                }
                match &self.context {
                    ProbeContext::Trampoline { retval, .. } if *retval != Type::None => {
                        retval.clone()
                    }
                    _ => Type::I64,
                }
            }
            Builtin::Arg(n) => {
                if let Some(ProbeKind::Usdt { arguments, .. }) = &kind {
                    return match arguments.get(usize::from(n)) {
                        Some(Ok(argument)) => argument.ty(),
                        Some(Err(why)) => {
                            self.error(span, format!("arg{n} cannot be read: {why}"));
                            Type::None
                        }
                        None => {
                            let probe = self.instance.as_ref().map(|i| i.name.clone());
                            let message = format!(
                                "{} has {} argument{}: there is no arg{n}",
                                probe.unwrap_or_default(),
                                arguments.len(),
                                if arguments.len() == 1 { "" } else { "s" }
                            );
                            self.error(span, message);
                            Type::None
                        }
                    };
                }
                let ok = match self.context {
                    ProbeContext::Registers { ret: false, .. } => n < 6,
                    ProbeContext::RawTracepoint { .. } | ProbeContext::Trampoline { .. } => n < 12,
                    _ => false,
                };
                if !ok {
                    self.error(span, format!("The arg{n} builtin can only be used with kprobes, uprobes and raw tracepoints (arg0 to arg5 for probes on registers)"));
                }
                Type::U64
            }
            Builtin::Curtask => self.curtask_type(),
            Builtin::Ctx => match self.context.iterator_ctx() {
                Some(ctx) => Type::Record(ctx.clone()),
                None => Type::U64,
            },
            Builtin::Kstack => Type::Kstack(self.stack_spec(&[], span)),
            Builtin::Ustack => Type::Ustack(self.stack_spec(&[], span)),
            Builtin::Cpid if !self.has_child => {
                self.error(span, "cpid cannot be used without the -c option");
                Type::U32
            }
            other => other.fixed_type().unwrap_or(Type::None),
        }
    }

    fn field(&mut self, base: &Type, field: &Ident) -> Type {
        let record = match base {
            Type::Record(record) => record.clone(),
            Type::Pointer(to) => match to.as_ref() {
                Type::Record(record) => record.clone(),
                other => {
                    self.error(
                        field.span,
                        format!("Can not access field '{}' on type '{other} *'", field.name),
                    );
                    return Type::None;
                }
            },
            other => {
                self.error(
                    field.span,
                    format!(
                        "Can not access field '{}' on expression of type '{other}'",
                        field.name
                    ),
                );
                return Type::None;
            }
        };
        match record.layout.field(&field.name) {
            Some(found) => found.ty.clone(),
            None => {
                self.error(
                    field.span,
                    format!("{} has no field named {}", record.name, field.name),
                );
                Type::None
            }
        }
    }

    fn binary(&mut self, op: BinaryOp, a: &Type, b: &Type, span: Span) -> Type {
        use BinaryOp::*;
        match op {
            And | Or => {
                if !a.is_scalar() || !b.is_scalar() {
                    self.error(
                        span,
                        format!(
                            "The {} operator needs integers or booleans, got '{a}' and '{b}'",
                            op.symbol()
                        ),
                    );
                }
                Type::Bool
            }
            Eq | Ne | Lt | Le | Gt | Ge => {
                let comparable = (a.is_scalar() && b.is_scalar())
                    || (matches!(a, Type::Str(_))
                        && matches!(b, Type::Str(_))
                        && matches!(op, Eq | Ne))
                    || (matches!(a, Type::Buffer(_))
                        && matches!(b, Type::Buffer(_))
                        && matches!(op, Eq | Ne))
                    || (a == b && matches!(op, Eq | Ne) && matches!(a, Type::Tuple(_)));
                if !comparable {
                    self.error(
                        span,
                        format!(
                            "Type mismatch for '{}': comparing '{a}' with '{b}'",
                            op.symbol()
                        ),
                    );
                }
                Type::Bool
            }
            _ => {
                if let (Type::Pointer(_), true) = (a, b.is_integer()) {
                    if matches!(op, Add | Sub) {
                        return a.clone();
                    }
                }
                if !a.is_scalar() || !b.is_scalar() {
                    self.error(
                        span,
                        format!(
                            "The {} operator can not be used on expressions of types {a}, {b}",
                            op.symbol()
                        ),
                    );
                    return Type::None;
                }
                let unsigned = !a.is_signed() && !b.is_signed();
                Type::int(64, !unsigned)
            }
        }
    }

    fn call(&mut self, function: &Ident, args: &[Expr], span: Span, expr_id: ExprId) -> Type {
        let name = function.name.as_str();
        if AGGREGATES.contains(&name) {
            self.error(
                span,
                format!("{name}() should be directly assigned to a map"),
            );
            return Type::None;
        }
        // Map functions take the map itself, not its value.
        let map_arg = |checker: &mut Checker, arg: Option<&Expr>| -> Option<(String, Vec<Expr>)> {
            match arg.map(|a| &a.kind) {
                Some(ExprKind::Map(m)) => Some((m.clone(), Vec::new())),
                Some(ExprKind::MapIndex { map, keys }) => Some((map.name.clone(), keys.clone())),
                _ => {
                    checker.error(
                        arg.map_or(span, |a| a.span),
                        format!("{name}() expects a map argument"),
                    );
                    None
                }
            }
        };
        match name {
            "printf" | "errorf" | "warnf" | "system" | "cat" | "debugf" => {
                if name == "system" {
                    self.require_unsafe(name, span);
                }
                let types: Vec<Type> = args.iter().skip(1).map(|a| self.expr(a)).collect();
                self.check_format(name, args.first(), &args[1.min(args.len())..], &types, span);
                if name == "debugf" {
                    self.check_debugf(&args[1.min(args.len())..], &types);
                }
                Type::None
            }
            "print" => {
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Map(m))
                        if self.maps.contains_key(&format!("@{m}")) || !self.report =>
                    {
                        let name = format!("@{m}");
                        if self
                            .maps
                            .get(&name)
                            .is_some_and(|i| i.key.is_none() && !i.value.is_aggregate())
                            && args.len() == 1
                        {
                            self.expr(&args[0]);
                        }
                        for extra in &args[1..] {
                            if self.constant(extra).is_none() {
                                self.error(extra.span, "print()'s top and div must be constants");
                            }
                        }
                    }
                    Some(_) if args.len() == 1 => {
                        let ty = self.expr(&args[0]);
                        if ty == Type::None {
                            self.error(args[0].span, "print() needs a value");
                        }
                    }
                    _ => self.error(
                        span,
                        "print() takes a map (with optional top and div) or one value",
                    ),
                }
                Type::None
            }
            "time" => {
                if let Some(fmt) = args.first() {
                    if !matches!(fmt.kind, ExprKind::String(_)) {
                        self.error(fmt.span, "time() expects a string literal format");
                    }
                }
                Type::None
            }
            "getopt" => self.getopt(args, span, expr_id),
            "strftime" => {
                if args.len() != 2 || !matches!(args[0].kind, ExprKind::String(_)) {
                    self.error(
                        span,
                        "strftime(FORMAT, NSECS) expects a string literal format and a time",
                    );
                } else {
                    self.expr(&args[1]);
                }
                Type::Timestamp
            }
            "str" => {
                let Some(source) = args.first() else {
                    self.error(span, "str() requires at least one argument");
                    return Type::None;
                };
                // `str($1)`, `str($1 + 2)`: the parameter's text (from an offset), known now.
                let source_type = match positional_text(source, &self.settings.positional) {
                    Some(text) => Type::Str(text.len() as u32 + 1),
                    None => self.expr(source),
                };
                self.types.insert(source.id.0, source_type.clone());
                let limit = match args.get(1) {
                    Some(n) => {
                        self.expr(n);
                        self.constant(n).map_or(self.settings.max_strlen, |n| {
                            (n.max(1) as u32).min(self.settings.max_strlen)
                        })
                    }
                    None => self.settings.str_buffer(),
                };
                match source_type {
                    Type::Str(n) => Type::Str(n.min(limit.max(1)).max(1)),
                    t if t.is_scalar() => Type::Str(limit),
                    other => {
                        self.error(
                            source.span,
                            format!("str() expects a pointer or string, got {other}"),
                        );
                        Type::None
                    }
                }
            }
            "buf" => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a)).collect();
                let len = match args.get(1) {
                    Some(n) => self
                        .constant(n)
                        .map_or(self.settings.max_strlen, |n| n.clamp(0, 255) as u32),
                    None => match types.first() {
                        Some(Type::Str(n)) => n.saturating_sub(1),
                        Some(Type::Array(e, n)) => e.size() * n,
                        _ => {
                            self.error(span, "buf() needs a length for pointers: buf(p, n)");
                            0
                        }
                    },
                };
                Type::Buffer(len.min(255))
            }
            "join" => {
                for a in args {
                    self.expr(a);
                }
                if args.is_empty()
                    || args.len() > 2
                    || args
                        .get(1)
                        .is_some_and(|d| !matches!(d.kind, ExprKind::String(_)))
                {
                    self.error(span, "join(ARGV [, \"delimiter\"]) takes an array of string pointers and a literal delimiter");
                }
                Type::None
            }
            "pton" => match args.first().map(|a| &a.kind) {
                Some(ExprKind::String(text)) if args.len() == 1 => match parse_ip(text) {
                    Some(bytes) => Type::Array(Box::new(Type::int(8, false)), bytes.len() as u32),
                    None => {
                        self.error(
                            span,
                            format!("pton(): {text:?} is not an IPv4 or IPv6 address"),
                        );
                        Type::None
                    }
                },
                _ => {
                    self.error(span, "pton() takes an address as a string literal");
                    Type::None
                }
            },
            "ntop" => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a)).collect();
                let address = types.last();
                let ok = match address {
                    Some(t) if t.is_integer() => true,
                    Some(t) => matches!(t.size(), 4 | 16) && !t.is_scalar(),
                    None => false,
                };
                if !ok || args.len() > 2 {
                    self.error(
                        span,
                        "ntop([AF, ]ADDRESS) takes an IPv4 integer or 4- or 16-byte address",
                    );
                }
                Type::Inet
            }
            "ksym" | "usym" => {
                if args.len() != 1 {
                    self.error(span, format!("{name}() takes one address"));
                } else {
                    self.expr(&args[0]);
                }
                if name == "ksym" {
                    Type::Ksym
                } else {
                    Type::Usym
                }
            }
            "uaddr" => self.user_address(args, span, expr_id),
            "percpu_kaddr" => self.percpu_address(args, span, expr_id),
            "skboutput" => self.skb_output(args, span, expr_id),
            "socket_cookie" => self.socket_cookie(args, span, expr_id),
            "kaddr" => {
                if !matches!(
                    args.first().map(|a| &a.kind),
                    Some(ExprKind::String(_) | ExprKind::Call { .. })
                ) {
                    self.error(
                        span,
                        format!("{name}() expects a symbol name as a string literal"),
                    );
                }
                Type::U64
            }
            "kstack" | "ustack" => {
                let spec = self.stack_spec(args, span);
                if name == "kstack" {
                    Type::Kstack(spec)
                } else {
                    Type::Ustack(spec)
                }
            }
            "signal" => {
                self.require_unsafe(name, span);
                for a in args {
                    self.expr(a);
                }
                Type::None
            }
            // write_user(dst, src, len): copies len bytes of src over user memory at dst.
            "write_user" => {
                self.require_unsafe(name, span);
                if !features::has_helper(Helper::ProbeWriteUser as u32) {
                    let why = match features::lockdown() {
                        Some(level) => format!("kernel lockdown ({level}) withholds it"),
                        None => "the kernel withholds it (kernel lockdown, or built without it)"
                            .to_owned(),
                    };
                    self.error(
                        span,
                        format!("write_user() needs the bpf_probe_write_user helper, and {why}"),
                    );
                }
                let [dst, src, len] = args else {
                    self.error(span, "write_user(dst, src, len) takes three arguments");
                    return Type::None;
                };
                let dst_type = self.expr(dst);
                if !matches!(dst_type, Type::Int(_) | Type::Pointer(_)) {
                    self.error(
                        dst.span,
                        format!("write_user() writes to an address, not a {dst_type}"),
                    );
                }
                let src_type = self.expr(src);
                match self.constant(len) {
                    Some(n) if n > 0 && n as u64 <= u64::from(src_type.size()) => {}
                    Some(n) => self.error(
                        len.span,
                        format!(
                            "write_user() of {n} bytes from a value of {} bytes",
                            src_type.size()
                        ),
                    ),
                    None => self.error(len.span, "write_user()'s length must be a constant"),
                }
                Type::I64
            }
            "exit" => {
                if let Some(code) = args.first() {
                    let ty = self.expr(code);
                    if !ty.is_integer() {
                        self.error(code.span, "exit() expects an integer exit code");
                    }
                }
                Type::None
            }
            "len" => {
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Map(m)) => {
                        if self
                            .maps
                            .get(&format!("@{m}"))
                            .is_some_and(|i| i.key.is_none())
                        {
                            self.error(
                                span,
                                "call to len() expects a map with explicit keys (non-scalar map)",
                            );
                        }
                    }
                    Some(_) => {
                        let ty = self.expr(&args[0]);
                        self.counts_stack_frames |= matches!(ty, Type::Ustack(_));
                        if !matches!(ty, Type::Str(_) | Type::Kstack(_) | Type::Ustack(_)) {
                            self.error(
                                args[0].span,
                                format!("len() expects a map, a string or a stack, got {ty}"),
                            );
                        }
                    }
                    None => self.error(span, "len() takes one argument"),
                }
                Type::I64
            }
            "cgroup_path" | "strerror" => {
                let ty = args.first().map(|a| self.expr(a));
                if args.len() != 1 || !ty.is_some_and(|t| t.is_integer()) {
                    self.error(span, format!("{name}() takes one integer"));
                }
                if name == "strerror" {
                    Type::Errno
                } else {
                    Type::CgroupPath
                }
            }
            "bswap" => {
                let ty = args.first().map(|a| self.expr(a)).unwrap_or(Type::None);
                match (args.len(), ty.as_int()) {
                    (1, Some(int)) if ty.is_integer() => Type::int(int.bits, false),
                    _ => {
                        self.error(span, "bswap() takes one integer");
                        Type::None
                    }
                }
            }
            "nsecs" => {
                let clock = match args.first().map(|a| &a.kind) {
                    None => Some("monotonic"),
                    Some(ExprKind::Identifier(c)) => Some(c.as_str()),
                    _ => None,
                };
                if !matches!(clock, Some("monotonic" | "boot" | "tai" | "sw_tai")) {
                    self.error(span, "nsecs() takes one of: monotonic, boot, tai, sw_tai");
                }
                Type::U64
            }
            "strlen" => {
                let ty = args.first().map(|a| self.expr(a));
                if args.len() != 1 || !matches!(ty, Some(Type::Str(_))) {
                    self.error(span, "strlen() expects one string argument");
                }
                Type::U64
            }
            "strcontains" | "strncmp" => {
                let types: Vec<Type> = args.iter().map(|a| self.expr(a)).collect();
                let strings = types
                    .iter()
                    .take(2)
                    .filter(|t| matches!(t, Type::Str(_)))
                    .count();
                let arity = if name == "strncmp" { 3 } else { 2 };
                if args.len() != arity || strings != 2 {
                    self.error(
                        span,
                        format!(
                            "{name}() expects {} string arguments{}",
                            2,
                            if arity == 3 { " and a length" } else { "" }
                        ),
                    );
                }
                if name == "strncmp" {
                    Type::I64
                } else {
                    Type::Bool
                }
            }
            "macaddr" => {
                let ty = args.first().map(|a| self.expr(a));
                let ok =
                    args.len() == 1 && ty.as_ref().is_some_and(|t| t.is_scalar() || t.size() >= 6);
                if !ok {
                    self.error(
                        span,
                        "macaddr() takes a pointer to, or an array of, 6 bytes",
                    );
                }
                Type::MacAddr
            }
            "cgroupid" => {
                if !matches!(args.first().map(|a| &a.kind), Some(ExprKind::String(_))) {
                    self.error(span, "cgroupid() expects a cgroup path as a string literal");
                }
                Type::U64
            }
            "reg" => {
                let ok = matches!(args.first().map(|a| &a.kind), Some(ExprKind::String(r)) if super::registers::offset(r).is_some());
                if !ok {
                    self.error(
                        span,
                        "reg() expects a register name such as \"ip\", \"sp\" or \"di\"",
                    );
                }
                if !matches!(self.context, ProbeContext::Registers { .. })
                    && !matches!(
                        self.instance.as_ref().map(|i| &i.kind),
                        Some(
                            ProbeKind::Profile { .. }
                                | ProbeKind::Interval { .. }
                                | ProbeKind::PerfCounter { .. }
                        )
                    )
                {
                    self.error(
                        span,
                        "reg() can only be used with kprobes, uprobes and perf event probes",
                    );
                }
                Type::U64
            }
            "override" => {
                self.error(span, "override() needs kprobes with CONFIG_BPF_KPROBE_OVERRIDE, which bpfhook trace does not support yet");
                Type::None
            }
            "delete" => {
                if let Some((map, mut keys)) = map_arg(self, args.first()) {
                    keys.extend(args.iter().skip(1).cloned());
                    let ident = Ident { name: map, span };
                    if self.maps.contains_key(&format!("@{}", ident.name)) || self.report {
                        self.map_read(&ident, &keys, span);
                    }
                }
                Type::None
            }
            "clear" | "zero" => {
                if let Some((map, keys)) = map_arg(self, args.first()) {
                    if !keys.is_empty() {
                        self.error(span, format!("{name}() takes the whole map, without a key"));
                    }
                    if !self.maps.contains_key(&format!("@{map}")) {
                        self.error(span, format!("Undefined map: @{map}"));
                    }
                }
                Type::None
            }
            "has_key" => {
                if let Some((map, mut keys)) = map_arg(self, args.first()) {
                    keys.extend(args.iter().skip(1).cloned());
                    let scalar = self
                        .maps
                        .get(&format!("@{map}"))
                        .is_some_and(|i| i.key.is_none());
                    if scalar {
                        self.error(
                            span,
                            "call to has_key() expects a map with explicit keys (non-scalar map)",
                        );
                    } else {
                        let ident = Ident { name: map, span };
                        self.map_read(&ident, &keys, span);
                    }
                }
                Type::Bool
            }
            _ => {
                self.error(function.span, format!("Unknown function: '{name}'"));
                Type::None
            }
        }
    }

    /// `getopt(NAME[, DEFAULT[, DESCRIPTION]])`: a named option's value, typed by its default
    /// (an integer, a string, or a boolean; a flag without a default).
    fn getopt(&mut self, args: &[Expr], span: Span, id: ExprId) -> Type {
        let Some(ExprKind::String(name)) = args.first().map(|a| &a.kind) else {
            self.error(
                span,
                "getopt() expects the option's name as a string literal",
            );
            return Type::None;
        };
        let description = match args.get(2).map(|a| &a.kind) {
            Some(ExprKind::String(d)) => Some(d.clone()),
            _ => None,
        };
        if !self.declared_options.iter().any(|(n, _)| n == name) {
            self.declared_options.push((name.clone(), description));
        }
        let given = self
            .settings
            .named
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        let bad = |kind: &str, value: &str| {
            format!("program command line option --{name} invalid {kind} (value: {value})")
        };
        let default = args.get(1).map(|a| &a.kind);
        let value = match default {
            Some(ExprKind::String(text)) => OptionValue::Str(match given {
                Some(Some(v)) => v,
                Some(None) => String::new(),
                None => text.clone(),
            }),
            Some(ExprKind::Bool(b)) => match given {
                Some(value) => match parse_bool(value.as_deref()) {
                    Some(b) => OptionValue::Bool(b),
                    None => {
                        self.option_error(bad("boolean", value.as_deref().unwrap_or("")));
                        return Type::Bool;
                    }
                },
                None => OptionValue::Bool(*b),
            },
            None => OptionValue::Bool(match given {
                Some(value) => parse_bool(value.as_deref()).unwrap_or(false),
                None => false,
            }),
            Some(_) => {
                let default = args.get(1).and_then(|d| self.constant(d)).unwrap_or(0);
                match given {
                    Some(Some(text)) => match parse_int(&text) {
                        // Beyond i64 (`0xffffffffffffffff`): kept as the unsigned number.
                        Some(v) if v < 0 && !text.trim_start().starts_with('-') => {
                            OptionValue::UInt(v as u64)
                        }
                        Some(v) => OptionValue::Int(v),
                        None => {
                            self.option_error(bad("integer", &text));
                            return Type::I64;
                        }
                    },
                    Some(None) => {
                        self.option_error(bad("integer", ""));
                        return Type::I64;
                    }
                    None => OptionValue::Int(default),
                }
            }
        };
        let ty = match &value {
            OptionValue::Int(_) => Type::I64,
            // Beyond i64: bpftrace keeps the bits and prints them unsigned.
            OptionValue::UInt(_) => Type::U64,
            OptionValue::Bool(_) => Type::Bool,
            OptionValue::Str(s) => Type::Str(s.len() as u32 + 1),
        };
        self.options.insert(id, value);
        ty
    }

    fn option_error(&mut self, message: String) {
        if self.report && !self.option_errors.contains(&message) {
            self.option_errors.push(message);
        }
    }

    /// debugf() hands its arguments to the kernel's printk as 64-bit words: numbers and strings
    /// (by address) only, at most 12 (bpf_trace_vprintk's limit).
    fn check_debugf(&mut self, args: &[Expr], types: &[Type]) {
        if args.len() > DEBUGF_MAX_ARGS {
            let span = args[DEBUGF_MAX_ARGS].span;
            self.error(
                span,
                format!("debugf() takes at most {DEBUGF_MAX_ARGS} arguments after its format"),
            );
        }
        for (arg, ty) in args.iter().zip(types) {
            if !(ty.is_scalar() || matches!(ty, Type::Str(_))) {
                self.error(
                    arg.span,
                    format!("debugf() prints numbers and strings, not {ty}"),
                );
            }
        }
    }

    fn check_format(
        &mut self,
        name: &str,
        format: Option<&Expr>,
        args: &[Expr],
        types: &[Type],
        span: Span,
    ) {
        let Some(format) = format else {
            self.error(span, format!("{name}() requires at least one argument"));
            return;
        };
        let ExprKind::String(text) = &format.kind else {
            self.error(
                format.span,
                format!("{name}() expects a format string literal as its first argument"),
            );
            return;
        };
        let parsed = match Format::parse(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.error(format.span, e.to_string());
                return;
            }
        };
        let wanted = parsed.specs().len();
        if wanted != args.len() {
            self.error(
                span,
                format!(
                    "{name}: Expected {wanted} argument{} for format string, got {}",
                    if wanted == 1 { "" } else { "s" },
                    args.len()
                ),
            );
            return;
        }
        for (arg, ty) in args.iter().zip(types) {
            if *ty == Type::None {
                self.error(arg.span, format!("{name}: this argument has no value"));
            }
        }
    }
}

/// `@m` / `@m[k…]` as an assignment target.
pub fn map_target(expr: &Expr) -> Option<(Ident, &[Expr])> {
    match &expr.kind {
        ExprKind::MapIndex { map, keys } => Some((map.clone(), keys)),
        ExprKind::Map(name) => Some((
            Ident {
                name: name.clone(),
                span: expr.span,
            },
            &[],
        )),
        _ => None,
    }
}

/// Whether control never goes on past `statement` (code after it would be unreachable).
fn leaves(statement: &Statement) -> bool {
    match &statement.kind {
        StatementKind::Return(_) | StatementKind::Break | StatementKind::Continue => true,
        StatementKind::Expr(expr) => {
            matches!(&expr.kind, ExprKind::Call { function, .. } if function.name == "exit")
        }
        _ => false,
    }
}

/// `pton("127.0.0.1")`'s bytes: 4 for IPv4, 16 for IPv6, in network order.
pub(crate) fn parse_ip(text: &str) -> Option<Vec<u8>> {
    match text.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some(v4.octets().to_vec()),
        std::net::IpAddr::V6(v6) => Some(v6.octets().to_vec()),
    }
}

/// Values stored in maps and variables are 64-bit when they are integers.
fn widen_int(ty: Type) -> Type {
    match ty {
        Type::Int(int) => Type::int(64, int.signed),
        other => other,
    }
}

/// A variable assigned an integer literal takes the literal's smallest type (`sizeof($x)` of
/// `$x = 1` is 1, as in bpftrace).
fn literal_type(value: &Expr, ty: &Type) -> Option<Type> {
    match (&value.kind, ty) {
        (ExprKind::Integer { value, .. }, Type::Int(_)) => Some(smallest_int(*value)),
        _ => None,
    }
}

/// The smallest signed type holding `-magnitude`.
fn smallest_negative(magnitude: u64) -> Type {
    match magnitude {
        0..=0x80 => Type::int(8, true),
        0x81..=0x8000 => Type::int(16, true),
        0x8001..=0x8000_0000 => Type::int(32, true),
        _ => Type::I64,
    }
}

fn smallest_int(value: u64) -> Type {
    match value {
        0..=0x7f => Type::int(8, true),
        0x80..=0x7fff => Type::int(16, true),
        0x8000..=0x7fff_ffff => Type::int(32, true),
        0x8000_0000..=0x7fff_ffff_ffff_ffff => Type::I64,
        _ => Type::U64,
    }
}

/// The type both fit in, or None if they cannot share a variable or map.
pub fn unify(a: &Type, b: &Type) -> Option<Type> {
    Some(match (a, b) {
        _ if a == b => a.clone(),
        (Type::Int(x), Type::Int(y)) => Type::int(x.bits.max(y.bits), x.signed || y.signed),
        (Type::Int(x), Type::Bool | Type::Enum(_)) | (Type::Bool | Type::Enum(_), Type::Int(x)) => {
            Type::Int(*x)
        }
        (Type::Str(x), Type::Str(y)) => Type::Str(*x.max(y)),
        (Type::Buffer(x), Type::Buffer(y)) => Type::Buffer(*x.max(y)),
        (Type::Tuple(x), Type::Tuple(y)) if x.fields.len() == y.fields.len() => {
            let types = x
                .fields
                .iter()
                .zip(&y.fields)
                .map(|(f, g)| unify(&f.ty, &g.ty))
                .collect::<Option<Vec<_>>>()?;
            Type::Tuple(Rc::new(Layout::of(types)))
        }
        (Type::Pointer(_), Type::Int(_)) | (Type::Int(_), Type::Pointer(_)) => Type::U64,
        _ => return None,
    })
}

fn assignable(declared: &Type, value: &Type) -> bool {
    unify(declared, value).is_some()
}

fn describe(value: &MapValue) -> String {
    match value {
        MapValue::Plain(ty) => ty.to_string(),
        other => format!("{}_t", other.name()),
    }
}

/// The value of a constant integer expression: literals, enum values, numeric positional
/// parameters, casts of those and `+ - * / <<` between them. The checker and the code
/// generator both need it (unroll counts, lhist bounds, print's top and div).
pub fn constant_value(
    expr: &Expr,
    enums: &HashMap<String, (Rc<EnumType>, i64)>,
    positional: &[String],
) -> Option<i64> {
    let constant = |e: &Expr| constant_value(e, enums, positional);
    match &expr.kind {
        ExprKind::Integer { value, .. } => Some(*value as i64),
        ExprKind::Unary {
            op: UnaryOp::Negate,
            operand,
        } => constant(operand).map(i64::wrapping_neg),
        ExprKind::Identifier(name) => enums.get(name).map(|(_, v)| *v),
        ExprKind::Positional(n) => positional_int(positional, *n),
        ExprKind::Cast { operand, .. } => constant(operand),
        ExprKind::Binary { op, left, right } => {
            let (a, b) = (constant(left)?, constant(right)?);
            Some(match op {
                BinaryOp::Add => a.wrapping_add(b),
                BinaryOp::Sub => a.wrapping_sub(b),
                BinaryOp::Mul => a.wrapping_mul(b),
                BinaryOp::Div if b != 0 => a / b,
                BinaryOp::Shl => a.wrapping_shl(b as u32),
                _ => return None,
            })
        }
        _ => None,
    }
}

/// `$N` as a number, if it is one.
/// The text `str()` takes from a positional parameter: `$1` whole, `$1 + k` from byte k (the
/// parameter read as a pointer to its string, as bpftrace allows). None for other sources.
pub fn positional_text<'a>(expr: &Expr, positional: &'a [String]) -> Option<&'a str> {
    let param = |n: u32| {
        positional
            .get(n.checked_sub(1)? as usize)
            .map(String::as_str)
    };
    match &expr.kind {
        ExprKind::Positional(n) => Some(param(*n).unwrap_or_default()),
        ExprKind::Binary {
            op: BinaryOp::Add,
            left,
            right,
        } => match (&left.kind, &right.kind) {
            (ExprKind::Positional(n), ExprKind::Integer { value, .. })
                if positional_int(positional, *n).is_none() =>
            {
                let text = param(*n).unwrap_or_default();
                Some(text.get(*value as usize..).unwrap_or_default())
            }
            _ => None,
        },
        _ => None,
    }
}

pub fn positional_int(positional: &[String], n: u32) -> Option<i64> {
    parse_int(positional.get(n.checked_sub(1)? as usize)?)
}

/// `true`/`false`/`1`/`0` in any case; a bare flag (`--x`) is true.
fn parse_bool(value: Option<&str>) -> Option<bool> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "1" | "yes") => Some(true),
        Some("false" | "0" | "no") => Some(false),
        _ => None,
    }
}

/// `123`, `0x1f`, `0775` (octal), `-5`.
pub fn parse_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(if negative {
        (value as i64).wrapping_neg()
    } else {
        value as i64
    })
}

/// Arguments bpf_trace_vprintk takes after the format.
pub const DEBUGF_MAX_ARGS: usize = 12;
