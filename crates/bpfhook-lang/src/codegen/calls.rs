//! Function calls: output (`printf`, `print`, `time`, `exit`…) as event records, strings and
//! buffers read from memory, map functions, and values known at compile time.

use std::path::Path;

use bpfhook::asm::{
    AluOp, ByteOrder, Helper, JmpOp, Size, SwapBits, R0, R1, R10, R2, R3, R4, R5, R6, R7,
};

use super::frame::{ProgramGen, Val};
use super::reach::Reach;
use super::{EventKind, FormatCall, PrintMap, EVENTS_MAP, HEADER_SIZE};
use crate::ast::*;
use crate::sema::positional_text;
use crate::types::TRUNCATED;
use crate::types::{Layout, Type};

impl ProgramGen<'_> {
    pub(super) fn call(&mut self, name: &str, args: &[Expr], expr: &Expr) -> Val {
        let ty = self.ty(expr);
        match name {
            "printf" | "system" | "cat" | "errorf" | "warnf" => {
                let kind = match name {
                    "printf" => EventKind::Printf,
                    "system" => EventKind::System,
                    "cat" => EventKind::Cat,
                    "errorf" => EventKind::Errorf,
                    _ => EventKind::Warnf,
                };
                self.format_event(kind, args, expr.span);
                Val::Imm(0)
            }
            "debugf" => {
                self.debugf(args);
                Val::Imm(0)
            }
            "print" => {
                match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Map(map)) if args.len() > 1 || self.is_printable_map(map) => {
                        let top = args
                            .get(1)
                            .and_then(|a| self.constant_of(a))
                            .unwrap_or(0)
                            .max(0) as u64;
                        let div = args
                            .get(2)
                            .and_then(|a| self.constant_of(a))
                            .unwrap_or(1)
                            .max(1) as u64;
                        let index = super::intern(
                            &mut self.events.print_maps,
                            PrintMap {
                                map: format!("@{map}"),
                                top,
                                div,
                            },
                        );
                        self.send(EventKind::PrintMap, index, &[]);
                    }
                    Some(_) => {
                        let value = self.expr(&args[0]);
                        let value_type = self.ty(&args[0]);
                        let index = super::intern(&mut self.events.values, value_type.clone());
                        self.send(EventKind::PrintValue, index, &[(value, value_type)]);
                    }
                    None => {}
                }
                Val::Imm(0)
            }
            "exit" => {
                let code = match args.first() {
                    Some(a) => self.expr(a),
                    None => Val::Imm(0),
                };
                self.send(EventKind::Exit, 0, &[(code, Type::I64)]);
                self.leave();
                Val::Imm(0)
            }
            "time" => {
                let format = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::String(f)) => f.clone(),
                    _ => "%H:%M:%S\n".to_owned(),
                };
                let index = super::intern(&mut self.events.time_formats, format);
                self.send(EventKind::Time, index, &[]);
                Val::Imm(0)
            }
            "strftime" => {
                let Some(ExprKind::String(format)) = args.first().map(|a| &a.kind) else {
                    return Val::Imm(0);
                };
                let index = super::intern(&mut self.events.strftime_formats, format.clone()) as i32;
                let ns = self.expr(&args[1]);
                let mem = self.mem(16);
                self.st_scratch(Size::DW, mem, index);
                self.load(R0, ns);
                self.stx_scratch(Size::DW, mem + 8, R0);
                Val::Mem(mem)
            }
            "str" => self.str_call(args, &ty),
            "buf" => self.buf_call(args, &ty),
            "ksym" => self.expr(&args[0]),
            "usym" => {
                let address = self.expr(&args[0]);
                let mem = self.mem(16);
                self.load(R0, address);
                self.stx_scratch(Size::DW, mem, R0);
                self.b
                    .call_helper(Helper::GetCurrentPidTgid)
                    .alu64_imm(AluOp::Rsh, R0, 32);
                self.stx_scratch(Size::DW, mem + 8, R0);
                Val::Mem(mem)
            }
            "kstack" | "ustack" => self.stack(name == "ustack", None, expr),
            "kaddr" => match args.first().map(|a| &a.kind) {
                Some(ExprKind::String(symbol)) => match kernel_address(symbol) {
                    Some(address) => Val::Imm(address as i64),
                    None => {
                        self.error(
                            expr.span,
                            format!("Failed to resolve kernel symbol: {symbol}"),
                        );
                        Val::Imm(0)
                    }
                },
                _ => Val::Imm(0),
            },
            "pton" => match args.first().map(|a| &a.kind) {
                Some(ExprKind::String(text)) => {
                    let bytes = crate::sema::parse_ip(text).unwrap_or_default();
                    // Written as a string one byte longer, so every address byte is kept.
                    let size = bytes.len() as u32 + 1;
                    let mem = self.mem(size);
                    self.write_string(mem, &bytes, size);
                    Val::Mem(mem)
                }
                _ => Val::Imm(0),
            },
            "percpu_kaddr" => self.percpu_address(args, expr),
            "skboutput" => self.skb_output(args, expr),
            "socket_cookie" => self.socket_cookie(expr),
            "uaddr" => match self.types.user_addresses.get(&expr.id.0) {
                Some(&crate::sema::UserAddress {
                    address,
                    relative_to_probe: Some(probe_address),
                }) => {
                    // The load base is where the probe fired less where the file puts it.
                    self.b
                        .mov64_reg(R1, R6)
                        .call_helper(Helper::GetFuncIp)
                        .ld_imm64(R1, address.wrapping_sub(probe_address))
                        .alu64_reg(AluOp::Add, R0, R1);
                    self.spill(R0)
                }
                Some(user) => Val::Imm(user.address as i64),
                None => Val::Imm(0),
            },
            "cgroupid" => match args.first().map(|a| &a.kind) {
                Some(ExprKind::String(path)) => match cgroup_id(path) {
                    Some(id) => Val::Imm(id as i64),
                    None => {
                        self.error(
                            args[0].span,
                            format!("cgroupid: cannot find a cgroup at {path}"),
                        );
                        Val::Imm(0)
                    }
                },
                _ => Val::Imm(0),
            },
            "reg" => match args.first().map(|a| &a.kind) {
                Some(ExprKind::String(register)) => {
                    let offset = crate::sema::registers::offset(register).unwrap_or(0);
                    self.b.ldx(Size::DW, R0, R6, offset);
                    self.spill(R0)
                }
                _ => Val::Imm(0),
            },
            "signal" => {
                let signal = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::String(name)) => match signal_number(name) {
                        Some(n) => Val::Imm(i64::from(n)),
                        None => {
                            self.error(args[0].span, format!("unknown signal {name}"));
                            Val::Imm(0)
                        }
                    },
                    Some(_) => self.expr(&args[0]),
                    None => Val::Imm(0),
                };
                self.load(R1, signal);
                self.b.call_helper(Helper::SendSignal);
                Val::Imm(0)
            }
            "write_user" => self.write_user(args),
            "ntop" => self.ntop(args),
            // The id or errno now; its path or message when printed.
            "cgroup_path" | "strerror" => self.expr(&args[0]),
            "macaddr" => {
                let value = self.expr(&args[0]);
                let from = self.ty(&args[0]);
                let mem = self.mem(8);
                self.zero(mem, 8);
                match (from.is_scalar(), value) {
                    (false, Val::Mem(src)) => self.copy(mem, src, 6),
                    (_, address) => {
                        self.load(R3, address);
                        self.probe_read(mem, 6, false);
                    }
                }
                Val::Mem(mem)
            }
            "getopt" => match self.analysis.options.get(&expr.id) {
                Some(crate::sema::OptionValue::Str(text)) => {
                    let mem = self.mem(ty.size());
                    self.write_string(mem, text.as_bytes(), ty.size());
                    Val::Mem(mem)
                }
                Some(crate::sema::OptionValue::Int(n)) => Val::Imm(*n),
                Some(crate::sema::OptionValue::UInt(n)) => Val::Imm(*n as i64),
                Some(crate::sema::OptionValue::Bool(b)) => Val::Imm(i64::from(*b)),
                None => Val::Imm(0),
            },
            "bswap" => {
                let value = self.expr(&args[0]);
                let bits = ty.as_int().map_or(64, |i| i.bits);
                self.load(R0, value);
                match bits {
                    8 => {}
                    16 => {
                        self.b.endian(ByteOrder::Swap, SwapBits::B16, R0);
                    }
                    32 => {
                        self.b.endian(ByteOrder::Swap, SwapBits::B32, R0);
                    }
                    _ => {
                        self.b.endian(ByteOrder::Swap, SwapBits::B64, R0);
                    }
                }
                self.convert(R0, &ty);
                self.spill(R0)
            }
            "nsecs" => {
                let helper = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Identifier(c)) if c == "boot" => Helper::KtimeGetBootNs,
                    Some(ExprKind::Identifier(c)) if c == "tai" || c == "sw_tai" => {
                        Helper::KtimeGetTaiNs
                    }
                    _ => Helper::KtimeGetNs,
                };
                self.b.call_helper(helper);
                self.spill(R0)
            }
            "strcontains" => {
                let haystack = self.expr(&args[0]);
                let size = self.ty(&args[0]).size();
                match (&args[1].kind, haystack) {
                    (ExprKind::String(needle), Val::Mem(at)) => {
                        self.strcontains(at, size, needle.as_bytes())
                    }
                    _ => Val::Imm(0),
                }
            }
            "join" => {
                self.join(args);
                Val::Imm(0)
            }
            "strlen" => {
                let value = self.expr(&args[0]);
                let size = self.ty(&args[0]).size();
                self.strlen(value, size)
            }
            "strncmp" => {
                let (a, b) = (self.expr(&args[0]), self.expr(&args[1]));
                let n = self.constant_of(&args[2]).unwrap_or(0).max(0) as u32;
                let (ta, tb) = (self.ty(&args[0]), self.ty(&args[1]));
                self.strncmp(a, &ta, b, &tb, n)
            }
            "len" => {
                let value_type = args.first().map(|a| self.ty(a));
                match value_type {
                    Some(Type::Str(size)) => {
                        let value = self.expr(&args[0]);
                        self.strlen(value, size)
                    }
                    // The frames the stack's value counted (see `stack`).
                    Some(Type::Ustack(_)) => match self.expr(&args[0]) {
                        Val::Mem(x) => {
                            self.ldx_scratch(Size::W, R0, x + 4);
                            self.spill(R0)
                        }
                        _ => Val::Imm(0),
                    },
                    _ => match map_and_keys(args.first()) {
                        Some((map, keys)) if keys.is_empty() => self.map_len(&map, expr),
                        _ => {
                            self.error(expr.span, "len() of stacks is not supported yet");
                            Val::Imm(0)
                        }
                    },
                }
            }
            "delete" => {
                if let Some((map, mut keys)) = map_and_keys(args.first()) {
                    keys.extend(args.iter().skip(1).cloned());
                    if let Some((info, object)) = self.map_info(&map) {
                        let key = self.map_key(&info, &keys);
                        if let crate::sema::MapValue::Tseries { .. } = info.value {
                            self.tseries_delete(&info, &object, key, expr.span);
                        } else {
                            self.map_args(&object, key);
                            self.b.call_helper(Helper::MapDeleteElem);
                        }
                    }
                }
                Val::Imm(0)
            }
            "has_key" => {
                let Some((map, mut keys)) = map_and_keys(args.first()) else {
                    return Val::Imm(0);
                };
                keys.extend(args.iter().skip(1).cloned());
                let Some((info, object)) = self.map_info(&map) else {
                    return Val::Imm(0);
                };
                let key = self.map_key(&info, &keys);
                self.map_args(&object, key);
                let done = self.label("has");
                self.b
                    .call_helper(Helper::MapLookupElem)
                    .jmp_imm(JmpOp::Jeq, R0, 0, &done)
                    .mov64_imm(R0, 1)
                    .label(&done);
                self.spill(R0)
            }
            "clear" | "zero" => {
                if let Some((map, _)) = map_and_keys(args.first()) {
                    let index = super::intern(&mut self.events.maps, format!("@{map}"));
                    let kind = if name == "clear" {
                        EventKind::ClearMap
                    } else {
                        EventKind::ZeroMap
                    };
                    self.send(kind, index, &[]);
                }
                Val::Imm(0)
            }
            other => {
                self.error(
                    expr.span,
                    format!("{other}() is not supported by bpfhook trace yet"),
                );
                Val::Imm(0)
            }
        }
    }

    fn is_printable_map(&self, map: &str) -> bool {
        // `print(@x)` of a plain scalar map prints it as a map too, as bpftrace does.
        self.maps.contains_key(&format!("@{map}"))
    }

    /// A record for the formatted-output family: the arguments laid out after the header.
    fn format_event(&mut self, kind: EventKind, args: &[Expr], span: crate::diag::Span) {
        let Some(ExprKind::String(format)) = args.first().map(|a| &a.kind) else {
            return;
        };
        let values: Vec<(Val, Type)> = args[1..]
            .iter()
            .map(|a| {
                let value = self.expr(a);
                (value, self.ty(a))
            })
            .collect();
        let layout = Layout::of(values.iter().map(|(_, t)| t.clone()));
        let index = super::intern(
            &mut self.events.printf,
            FormatCall {
                format: format.clone(),
                args: layout,
                span,
                kind,
                location: String::new(),
                expanded_from: String::new(),
            },
        );
        self.send(kind, index, &values);
    }

    /// Writes a record (header, then `values` laid out as a tuple) and outputs it on the ring
    /// buffer.
    pub(super) fn send(&mut self, kind: EventKind, index: u32, values: &[(Val, Type)]) {
        let layout = Layout::of(values.iter().map(|(_, t)| t.clone()));
        let size = HEADER_SIZE + layout.size;
        let record = self.mem(size);
        self.zero(record, size);
        let header = u64::from(kind as u32) | (u64::from(index) << 32);
        self.b.ld_imm64(R0, header);
        self.stx_scratch(Size::DW, record, R0);
        for ((value, ty), field) in values.iter().zip(&layout.fields) {
            self.store_converted(
                record + (HEADER_SIZE + field.offset) as i32,
                *value,
                ty,
                &field.ty,
            );
        }
        self.b.ld_map_fd(R1, EVENTS_MAP);
        self.mem_address(R2, record);
        self.b
            .mov64_imm(R3, size as i32)
            .mov64_imm(R4, 0)
            .call_helper(Helper::RingbufOutput);
    }

    /// debugf(FMT, args…): the kernel's trace_printk (trace_vprintk past three arguments) into
    /// the global trace buffer, strings passed by address. bpfhook does not read it back.
    fn debugf(&mut self, args: &[Expr]) {
        let Some(ExprKind::String(format)) = args.first().map(|a| &a.kind) else {
            return;
        };
        let mut text = format.clone().into_bytes();
        text.push(0);
        let format_size = text.len() as u32;
        let format_mem = self.mem(format_size);
        self.write_string(format_mem, &text, format_size);
        let values: Vec<(Val, bool)> = args[1..]
            .iter()
            .map(|a| (self.expr(a), self.ty(a).is_scalar()))
            .collect();
        let words = self.mem(8 * values.len().max(1) as u32);
        for (i, (value, scalar)) in values.into_iter().enumerate() {
            let slot = words + 8 * i as i32;
            match (value, scalar) {
                (Val::Mem(string), false) => {
                    self.mem_address(R0, string);
                    self.stx_scratch(Size::DW, slot, R0);
                }
                (value, _) => self.store(slot, value, &Type::U64),
            }
        }
        let count = args.len() - 1;
        self.mem_address(R1, format_mem);
        self.b.mov64_imm(R2, format_size as i32);
        if count <= 3 {
            for (i, reg) in [R3, R4, R5].into_iter().take(count).enumerate() {
                self.ldx_scratch(Size::DW, reg, words + 8 * i as i32);
            }
            self.b.call_helper(Helper::TracePrintk);
        } else {
            self.mem_address(R3, words);
            self.b
                .mov64_imm(R4, 8 * count as i32)
                .call_helper(Helper::TraceVprintk);
        }
    }

    /// bpf_per_cpu_ptr(&VAR, cpu), or bpf_this_cpu_ptr(&VAR) without a CPU: the kernel puts
    /// the variable's address in the ld_imm64 from its BTF id.
    fn percpu_address(&mut self, args: &[Expr], expr: &Expr) -> Val {
        let Some(&btf_id) = self.types.kernel_variables.get(&expr.id.0) else {
            return Val::Imm(0);
        };
        let cpu = args.get(1).map(|cpu| self.expr(cpu));
        if let Some(cpu) = cpu {
            self.load(R2, cpu);
        }
        self.b.ld_kernel_variable(R1, btf_id as i32);
        let helper = if cpu.is_some() {
            Helper::PerCpuPtr
        } else {
            Helper::ThisCpuPtr
        };
        self.b.call_helper(helper);
        self.spill(R0)
    }

    /// bpf_probe_write_user(dst, &src, len); its result is the call's value.
    fn write_user(&mut self, args: &[Expr]) -> Val {
        let [dst, src, len] = args else {
            return Val::Imm(0);
        };
        let len = self.constant_of(len).unwrap_or(0) as i32;
        let src_type = self.ty(src);
        let value = self.expr(src);
        let mem = match value {
            Val::Mem(mem) => mem,
            scalar => {
                let mem = self.mem(8);
                self.store(mem, scalar, &src_type);
                mem
            }
        };
        let dst = self.expr(dst);
        self.load(R1, dst);
        self.mem_address(R2, mem);
        self.b
            .mov64_imm(R3, len)
            .call_helper(Helper::ProbeWriteUser);
        self.spill(R0)
    }

    fn str_call(&mut self, args: &[Expr], ty: &Type) -> Val {
        let size = ty.size();
        let source = &args[0];
        let source_type = self.ty(source);
        let mem = self.mem(size);
        self.zero(mem, size);
        // str($1), str($1 + k): the parameter's text.
        if let Some(text) = positional_text(source, &self.analysis.settings.positional) {
            let text = text.to_owned();
            self.write_string(mem, text.as_bytes(), size);
            return Val::Mem(mem);
        }
        if let Type::Str(from) = source_type {
            let value = self.expr(source);
            self.store_converted(mem, value, &Type::Str(from), ty);
            return Val::Mem(mem);
        }
        // A __data_loc string of a tracepoint: the word holds offset | length << 16.
        if let Some(offset) = self.data_loc_offset(source) {
            let offset = self.ctx_offset(offset as i32, 4);
            self.b
                .ldx(Size::W, R3, R6, offset)
                .alu64_imm(AluOp::And, R3, 0xffff)
                .alu64_reg(AluOp::Add, R3, R6);
        } else {
            let address = self.expr(source);
            self.load(R3, address);
        }
        match args.get(1) {
            Some(limit) if self.constant_of(limit).is_none() => {
                let n = self.expr(limit);
                self.load(R2, n);
                let clamp = self.label("clamp");
                self.b
                    .jmp_imm(JmpOp::Jle, R2, size as i32, &clamp)
                    .mov64_imm(R2, size as i32)
                    .label(&clamp);
                self.mem_address(R1, mem);
                let helper = if self.reads_user_memory() {
                    Helper::ProbeReadUserStr
                } else {
                    Helper::ProbeReadKernelStr
                };
                self.b.call_helper(helper);
            }
            // Without a length, a string that fills the buffer may have been cut: its last
            // byte (the NUL) becomes the marker the decoder prints as bpftrace's trailer.
            None => self.probe_read_then(mem, size, true, |g| {
                let whole = g.label("whole");
                g.b.jmp_imm(JmpOp::Jne, R0, size as i32, &whole);
                g.st_scratch(Size::B, mem + size as i32 - 1, i32::from(TRUNCATED));
                g.b.label(&whole);
            }),
            Some(_) => self.probe_read(mem, size, true),
        }
        Val::Mem(mem)
    }

    fn data_loc_offset(&self, expr: &Expr) -> Option<u32> {
        let ExprKind::Field { base, field, .. } = &expr.kind else {
            return None;
        };
        let crate::sema::ProbeContext::Tracepoint { args, data_loc, .. } = &self.context else {
            return None;
        };
        if !matches!(&base.kind, ExprKind::Identifier(n) if n == "args")
            || !data_loc.contains(&field.name)
        {
            return None;
        }
        args.layout.field(&field.name).map(|f| f.offset)
    }

    fn buf_call(&mut self, args: &[Expr], ty: &Type) -> Val {
        let Type::Buffer(len) = ty else {
            return Val::Imm(0);
        };
        let len = *len;
        let mem = self.mem(1 + len);
        self.zero(mem, 1 + len);
        self.st_scratch(Size::B, mem, len as i32);
        let source_type = self.ty(&args[0]);
        let value = self.expr(&args[0]);
        match (source_type, value) {
            (Type::Str(_) | Type::Array(..), Val::Mem(src)) => self.copy(mem + 1, src, len),
            (_, address) => {
                self.load(R3, address);
                if len > 0 {
                    self.probe_read(mem + 1, len, false);
                }
            }
        }
        Val::Mem(mem)
    }

    /// 0 when the first `n` bytes (up to a NUL) are equal, 1 otherwise.
    fn strncmp(&mut self, a: Val, a_type: &Type, b: Val, b_type: &Type, n: u32) -> Val {
        let (Val::Mem(x), Val::Mem(y)) = (a, b) else {
            return Val::Imm(1);
        };
        let limit = n.min(a_type.size()).min(b_type.size());
        let (differ, done) = (self.label("ndiff"), self.label("ncmp"));
        let same = self.label("nsame");
        let (mut at_x, mut at_y) = (Reach::scratch(), Reach::scratch_second());
        for i in 0..limit as i32 {
            let (xb, xo) = at_x.at(&mut self.b, x + i);
            let (yb, yo) = at_y.at(&mut self.b, y + i);
            self.b
                .ldx(Size::B, R0, xb, xo)
                .ldx(Size::B, R1, yb, yo)
                .jmp_reg(JmpOp::Jne, R0, R1, &differ)
                .jmp_imm(JmpOp::Jeq, R0, 0, &same);
        }
        if limit < n {
            // One string ended (its size) before n bytes: equal only if both end here.
            let (short, long_size) = if a_type.size() < b_type.size() {
                (y, b_type.size())
            } else {
                (x, a_type.size())
            };
            if limit < long_size {
                self.ldx_scratch(Size::B, R0, short + limit as i32);
                self.b.jmp_imm(JmpOp::Jne, R0, 0, &differ);
            }
        }
        self.b
            .label(&same)
            .mov64_imm(R0, 0)
            .ja(&done)
            .label(&differ)
            .mov64_imm(R0, 1)
            .label(&done);
        self.spill(R0)
    }

    /// `ntop([af, ]addr)`: the family (8 bytes) then 16 address bytes. An integer is an IPv4
    /// address as the kernel stores it (network order in memory); 4 or 16 bytes give the family.
    fn ntop(&mut self, args: &[Expr]) -> Val {
        let address = &args[args.len() - 1];
        let from = self.ty(address);
        let value = self.expr(address);
        let mem = self.mem(24);
        self.zero(mem, 24);
        let family = match args.len() {
            2 => self.expr(&args[0]),
            _ if from.is_integer() || from.size() == 4 => Val::Imm(i64::from(libc::AF_INET)),
            _ => Val::Imm(i64::from(libc::AF_INET6)),
        };
        self.load(R0, family);
        self.stx_scratch(Size::DW, mem, R0);
        match value {
            Val::Mem(src) if !from.is_scalar() => self.copy(mem + 8, src, from.size().min(16)),
            scalar => {
                self.load(R0, scalar);
                self.stx_scratch(Size::W, mem + 8, R0);
            }
        }
        Val::Mem(mem)
    }

    /// 1 when `needle` occurs in the NUL-terminated string of `size` bytes at `at`, unrolled
    /// over every starting position.
    fn strcontains(&mut self, at: i32, size: u32, needle: &[u8]) -> Val {
        let (found, done) = (self.label("found"), self.label("contains"));
        if needle.is_empty() {
            return Val::Imm(1);
        }
        let positions = size.saturating_sub(needle.len() as u32);
        let mut reach = Reach::scratch();
        for start in 0..positions as i32 {
            let next = self.label("pos");
            for (i, byte) in needle.iter().enumerate() {
                let (base, off) = reach.at(&mut self.b, at + start + i as i32);
                self.b
                    .ldx(Size::B, R0, base, off)
                    .jmp_imm(JmpOp::Jne, R0, i32::from(*byte), &next);
            }
            self.b.ja(&found).label(&next);
            reach.forget();
            // The haystack ended: no later start can match.
            let (base, off) = reach.at(&mut self.b, at + start);
            self.b
                .ldx(Size::B, R0, base, off)
                .jmp_imm(JmpOp::Jeq, R0, 0, &format!("{done}_no"));
        }
        self.b
            .label(&format!("{done}_no"))
            .mov64_imm(R0, 0)
            .ja(&done)
            .label(&found)
            .mov64_imm(R0, 1)
            .label(&done);
        self.spill(R0)
    }

    /// `join(argv[, delim])`: up to [`JOIN_ARGS`] strings from a NULL-terminated array of
    /// pointers, sent as one record the runtime prints joined.
    fn join(&mut self, args: &[Expr]) {
        let delimiter = match args.get(1).map(|a| &a.kind) {
            Some(ExprKind::String(d)) => d.clone(),
            _ => " ".to_owned(),
        };
        let index = super::intern(&mut self.events.join_delimiters, delimiter);
        let strlen = self.analysis.settings.max_strlen;
        let size = HEADER_SIZE + JOIN_ARGS * strlen;
        let record = self.mem(size);
        self.zero(record, size);
        let header = u64::from(EventKind::Join as u32) | (u64::from(index) << 32);
        self.b.ld_imm64(R0, header);
        self.stx_scratch(Size::DW, record, R0);
        let argv = self.expr(&args[0]);
        self.load(R7, argv);
        let pointer = self.slot();
        let done = self.label("joined");
        let read = if self.reads_user_memory() {
            Helper::ProbeReadUser
        } else {
            Helper::ProbeReadKernel
        };
        for i in 0..JOIN_ARGS {
            // pointer = argv[i]; stop at NULL.
            self.b
                .mov64_reg(R3, R7)
                .alu64_imm(AluOp::Add, R3, (i * 8) as i32);
            self.b
                .mov64_reg(R1, R10)
                .alu64_imm(AluOp::Add, R1, i32::from(pointer));
            self.b.mov64_imm(R2, 8).call_helper(read);
            self.b
                .ldx(Size::DW, R3, R10, pointer)
                .jmp_imm(JmpOp::Jeq, R3, 0, &done);
            self.probe_read(record + (HEADER_SIZE + i * strlen) as i32, strlen, true);
        }
        self.b.label(&done);
        self.b.ld_map_fd(R1, EVENTS_MAP);
        self.mem_address(R2, record);
        self.b
            .mov64_imm(R3, size as i32)
            .mov64_imm(R4, 0)
            .call_helper(Helper::RingbufOutput);
    }

    /// `len(@m)`: the kernel's own count of the map's entries, through the
    /// `bpf_map_sum_elem_count` kfunc (Linux 6.6).
    fn map_len(&mut self, map: &str, expr: &Expr) -> Val {
        let Some((_, object)) = self.map_info(map) else {
            return Val::Imm(0);
        };
        let id = match bpfhook::btf::kernel_function_id("bpf_map_sum_elem_count") {
            Ok(Some(id)) => id,
            Ok(None) => {
                self.error(
                    expr.span,
                    "len() of a map needs the bpf_map_sum_elem_count kfunc (Linux 6.6)",
                );
                return Val::Imm(0);
            }
            Err(e) => {
                self.error(
                    expr.span,
                    format!("len() of a map: reading the kernel's BTF: {e}"),
                );
                return Val::Imm(0);
            }
        };
        self.b.ld_map_fd(R1, &object).call_kfunc(id as i32);
        self.spill(R0)
    }

    fn strlen(&mut self, value: Val, size: u32) -> Val {
        let Val::Mem(x) = value else {
            return Val::Imm(0);
        };
        let done = self.label("strlen");
        self.b.mov64_imm(R0, 0);
        let mut reach = Reach::scratch();
        for i in 0..size as i32 {
            let (base, off) = reach.at(&mut self.b, x + i);
            self.b
                .ldx(Size::B, R1, base, off)
                .jmp_imm(JmpOp::Jeq, R1, 0, &done)
                .alu64_imm(AluOp::Add, R0, 1);
        }
        self.b.label(&done);
        self.spill(R0)
    }
}

/// Strings `join()` reads at most, as bpftrace.
pub const JOIN_ARGS: u32 = 16;

fn map_and_keys(arg: Option<&Expr>) -> Option<(String, Vec<Expr>)> {
    match arg.map(|a| &a.kind) {
        Some(ExprKind::Map(m)) => Some((m.clone(), Vec::new())),
        Some(ExprKind::MapIndex { map, keys }) => Some((map.name.clone(), keys.clone())),
        _ => None,
    }
}

fn kernel_address(symbol: &str) -> Option<u64> {
    let kallsyms = bpfhook::kernel::kallsyms::Kallsyms::read().ok()?;
    let found = kallsyms
        .symbols()
        .find(|s| s.name == symbol)
        .map(|s| s.address);
    found
}

/// A cgroup v2 id is its directory's inode number.
fn cgroup_id(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let candidates = [
        Path::new(path).to_path_buf(),
        Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/')),
        Path::new("/sys/fs/cgroup/unified").join(path.trim_start_matches('/')),
    ];
    candidates
        .iter()
        .find_map(|p| std::fs::metadata(p).ok().filter(|m| m.is_dir()))
        .map(|m| m.ino())
}

fn signal_number(name: &str) -> Option<i32> {
    let name = name.trim_start_matches("SIG");
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "ALRM" => libc::SIGALRM,
        "ABRT" => libc::SIGABRT,
        "TRAP" => libc::SIGTRAP,
        _ => name.parse().ok()?,
    })
}
