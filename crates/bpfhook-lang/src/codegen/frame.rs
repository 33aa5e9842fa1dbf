//! The generator of one program: where values live (stack slots for scalars, scratch memory
//! for aggregates) and the loads, stores and copies between them.

use std::collections::{BTreeMap, HashMap};

use bpfhook::asm::{
    AluOp, Builder, FunctionSpec, Helper, JmpOp, Program, Reg, Size, Width, R0, R1, R10, R2, R6, R9,
};

use super::reach::Reach;
use super::{Events, ScratchKind, SCRATCH_MAP};
use crate::ast::Probe;
use crate::diag::{Diagnostic, Span};
use crate::probes::ProbeInstance;
use crate::sema::{Analysis, MapInfo, ProbeContext, ProbeTypes};
use crate::types::Type;

/// The stack's size, as the verifier allows it.
const STACK_LIMIT: i16 = 512;

/// A computed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    Imm(i64),
    /// A scalar in the stack slot at `r10 + off`, always sign- or zero-extended to 64 bits.
    Slot(i16),
    /// An aggregate's bytes at `r9 + off` in the scratch area.
    Mem(i32),
    /// A scalar at `r9 + off` in the scratch area: a variable a `for ($kv : @map)` body
    /// shares with its probe (the body runs with a stack of its own).
    Cell(i32),
}

/// Bookkeeping of stack slots and scratch bytes; temporaries are released per statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frame {
    /// Bytes of stack used (slots grow down from r10), at most [`STACK_LIMIT`].
    pub stack: i16,
    /// Bytes of scratch used.
    pub scratch: u32,
}

pub(super) struct ProgramGen<'a> {
    pub(super) b: Builder,
    pub(super) analysis: &'a Analysis,
    pub(super) types: &'a ProbeTypes,
    pub(super) instance: &'a ProbeInstance,
    pub(super) context: ProbeContext,
    pub(super) maps: &'a BTreeMap<String, (MapInfo, String)>,
    pub(super) events: &'a mut Events,
    pub(super) frame: Frame,
    pub(super) max_scratch: u32,
    /// The map scratch memory is in, which says how `load_scratch` finds this CPU's.
    scratch_kind: ScratchKind,
    pub(super) variables: HashMap<String, Val>,
    pub(super) loops: Vec<(String, String)>,
    /// Loop labels some `break`/`continue` jumps to.
    pub(super) used_labels: std::collections::HashSet<String>,
    /// The program's name in the object: its callbacks are named after it.
    pub(super) name: String,
    /// Callbacks (`for` bodies over maps), placed in `.text`.
    pub(super) functions: Vec<FunctionSpec>,
    /// Inside a callback: per enclosing `for ($kv : @map)`, the scratch cell its body sets to
    /// end the whole probe (`return`, `exit()`).
    pub(super) leaving_flags: Vec<i32>,
    /// The expression whose memory or map is being read: where `-k` reports a failure.
    pub(super) site: Span,
    /// The memory being read is the kernel's whatever the probe (it is reached from
    /// `curtask`), not the user memory syscall tracepoints' and uprobes' pointers point to.
    pub(super) kernel_memory: bool,
    /// Variables last assigned a pointer reached from `curtask`: kernel memory too.
    pub(super) kernel_variables: std::collections::HashSet<String>,
    labels: u32,
    pub(super) uses_stacks: bool,
    pub(super) first_error: Option<Diagnostic>,
}

impl<'a> ProgramGen<'a> {
    pub(super) fn new(
        name: String,
        analysis: &'a Analysis,
        types: &'a ProbeTypes,
        instance: &'a ProbeInstance,
        maps: &'a BTreeMap<String, (MapInfo, String)>,
        events: &'a mut Events,
        scratch_kind: ScratchKind,
    ) -> Self {
        Self {
            b: Builder::new(),
            analysis,
            types,
            instance,
            context: types.context.clone(),
            maps,
            events,
            frame: Frame::default(),
            max_scratch: 0,
            scratch_kind,
            variables: HashMap::new(),
            loops: Vec::new(),
            used_labels: Default::default(),
            name,
            functions: Vec::new(),
            leaving_flags: Vec::new(),
            site: Span::default(),
            kernel_memory: false,
            kernel_variables: Default::default(),
            labels: 0,
            uses_stacks: false,
            first_error: None,
        }
    }

    /// The whole program: prologue (context in r6, scratch in r9), predicate, body, `return 0`.
    pub(super) fn probe(&mut self, probe: &Probe) -> Result<(Program, u32, bool), Diagnostic> {
        self.b.mov64_reg(R6, R1);
        self.load_scratch(0);
        // Every variable gets its home before the first statement, so temporaries released at
        // statement ends never free one.
        for (name, ty) in &self.types.variables {
            let home = if ty.is_scalar() && self.types.captured.contains(name) {
                let cell = self.mem(8);
                self.st_scratch(Size::DW, cell, 0);
                Val::Cell(cell)
            } else if ty.is_scalar() {
                let slot = self.slot();
                self.b.st(Size::DW, R10, slot, 0);
                Val::Slot(slot)
            } else {
                let mem = self.mem(ty.size());
                self.zero(mem, ty.size());
                Val::Mem(mem)
            };
            self.variables.insert(name.clone(), home);
        }
        if let Some(predicate) = &probe.predicate {
            let value = self.expr(predicate);
            self.load(R0, value);
            self.b.jmp_imm(JmpOp::Jeq, R0, 0, "return");
        }
        let _ = self.block(&probe.body);
        self.b.label("return").mov64_imm(R0, 0).exit();
        if let Some(error) = self.first_error.take() {
            return Err(error);
        }
        let builder = std::mem::take(&mut self.b);
        let program = builder
            .finish()
            .map_err(|e| Diagnostic::error(probe.span, format!("generating code: {e}")))?;
        Ok((program, self.max_scratch, self.uses_stacks))
    }

    /// r9 = this CPU's scratch memory; without it the code returns `fail` right there (the
    /// jump stays short however long the rest is).
    pub(super) fn load_scratch(&mut self, fail: i32) {
        let key = self.slot();
        let resume = self.label("scratch");
        match self.scratch_kind {
            ScratchKind::PerCpu => self.b.st(Size::W, R10, key, 0),
            ScratchKind::CpuIndexed => {
                self.b
                    .call_helper(Helper::GetSmpProcessorId)
                    .stx(Size::W, R10, R0, key)
            }
        };
        self.b
            .ld_map_fd(R1, SCRATCH_MAP)
            .mov64_reg(R2, R10)
            .alu64_imm(AluOp::Add, R2, i32::from(key))
            .call_helper(Helper::MapLookupElem)
            .jmp_imm(JmpOp::Jne, R0, 0, &resume)
            .mov64_imm(R0, fail)
            .exit()
            .label(&resume)
            .mov64_reg(R9, R0);
    }

    /// Ends the probe (`return`, `exit()`); in a `for` body over a map, the callback stops the
    /// iteration and flags its caller to end too.
    pub(super) fn leave(&mut self) {
        match self.leaving_flags.last() {
            Some(&flag) => {
                self.st_scratch(Size::DW, flag, 1);
                self.b.mov64_imm(R0, 1).exit();
            }
            None => {
                self.b.ja("return");
            }
        }
    }

    pub(super) fn error(&mut self, span: Span, message: impl Into<String>) {
        if self.first_error.is_none() {
            self.first_error = Some(Diagnostic::error(span, message));
        }
    }

    pub(super) fn label(&mut self, what: &str) -> String {
        self.labels += 1;
        format!("{what}_{}", self.labels)
    }

    /// An expression's type. A variable has one type for the whole probe (the semantic pass
    /// widens it as later assignments require), whatever was known where it was read.
    pub(super) fn ty(&self, expr: &crate::ast::Expr) -> Type {
        if let crate::ast::ExprKind::Variable(name) = &expr.kind {
            if let Some(ty) = self.types.variables.get(name) {
                return ty.clone();
            }
        }
        self.types.of(expr).clone()
    }

    /// A new 8-byte stack slot.
    pub(super) fn slot(&mut self) -> i16 {
        self.frame.stack += 8;
        if self.frame.stack > STACK_LIMIT {
            self.error(
                Span::default(),
                "the probe needs more than 512 bytes of stack; split the expression",
            );
            self.frame.stack = 16;
        }
        -self.frame.stack
    }

    /// `size` bytes of scratch memory, 8-aligned.
    pub(super) fn mem(&mut self, size: u32) -> i32 {
        let offset = self.frame.scratch;
        self.frame.scratch += size.max(1).next_multiple_of(8);
        self.max_scratch = self.max_scratch.max(self.frame.scratch);
        offset as i32
    }

    /// Runs `f`, then releases the temporaries it allocated.
    pub(super) fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.frame;
        let result = f(self);
        self.frame = saved;
        result
    }

    /// Loads a scalar value into `reg`.
    pub(super) fn load(&mut self, reg: Reg, value: Val) {
        match value {
            Val::Imm(n) if i32::try_from(n).is_ok() => {
                self.b.mov64_imm(reg, n as i32);
            }
            Val::Imm(n) => {
                self.b.ld_imm64(reg, n as u64);
            }
            Val::Slot(off) => {
                self.b.ldx(Size::DW, reg, R10, off);
            }
            Val::Cell(off) => self.ldx_scratch(Size::DW, reg, off),
            // An aggregate used as a scalar: its address (for helpers that take pointers).
            Val::Mem(off) => {
                self.b.mov64_reg(reg, R9).alu64_imm(AluOp::Add, reg, off);
            }
        }
    }

    /// Stores `reg` in a new slot.
    pub(super) fn spill(&mut self, reg: Reg) -> Val {
        let slot = self.slot();
        self.b.stx(Size::DW, R10, reg, slot);
        Val::Slot(slot)
    }

    /// `reg = r9 + off`: the address of scratch memory, for helpers.
    pub(super) fn mem_address(&mut self, reg: Reg, off: i32) {
        self.b.mov64_reg(reg, R9);
        if off != 0 {
            self.b.alu64_imm(AluOp::Add, reg, off);
        }
    }

    /// Zero-fills scratch memory (strings and keys are compared and hashed whole).
    pub(super) fn zero(&mut self, off: i32, size: u32) {
        let mut to = Reach::scratch();
        let mut done = 0u32;
        while done < size {
            let at = off + done as i32;
            let (width, step) = widest(size - done, at as u32);
            let (base, short) = to.at(&mut self.b, at);
            self.b.st(width, base, short, 0);
            done += step;
        }
    }

    /// Copies `size` bytes within scratch memory.
    pub(super) fn copy(&mut self, dst: i32, src: i32, size: u32) {
        if dst != src {
            self.copy_between(Reach::scratch_second(), src, dst, size);
        }
    }

    /// Copies `size` bytes from `[base + src_off]` (the context, or a map value or key:
    /// neither r7 nor r8) into scratch.
    pub(super) fn copy_from(&mut self, base: Reg, src_off: i32, dst: i32, size: u32) {
        self.copy_between(Reach::from(base), src_off, dst, size);
    }

    fn copy_between(&mut self, mut from: Reach, src: i32, dst: i32, size: u32) {
        let mut to = Reach::scratch();
        let mut done = 0u32;
        while done < size {
            let (src, dst) = (src + done as i32, dst + done as i32);
            let (width, step) = widest(size - done, (dst | src) as u32);
            let (src_base, src) = from.at(&mut self.b, src);
            let (dst_base, dst) = to.at(&mut self.b, dst);
            self.load_from(width, R0, src_base, src);
            self.b.stx(width, dst_base, R0, dst);
            done += step;
        }
    }

    /// Writes a value of type `ty` into scratch at `dst` (scalars by their width).
    pub(super) fn store(&mut self, dst: i32, value: Val, ty: &Type) {
        if ty.is_scalar() {
            self.load(R0, value);
            self.stx_scratch(size_for(ty.size()), dst, R0);
            return;
        }
        match value {
            Val::Mem(src) => self.copy(dst, src, ty.size()),
            other => {
                // A scalar where an aggregate is expected cannot happen after the semantic pass.
                self.load(R0, other);
                self.stx_scratch(Size::DW, dst, R0);
            }
        }
    }

    /// Reads a scalar of `ty` from scratch `off` into r0, extended to 64 bits.
    pub(super) fn load_scratch_scalar(&mut self, off: i32, ty: &Type) {
        let (base, off) = self.scratch_at(off);
        self.load_scalar(base, off, ty);
    }

    /// A context field's offset as a load holds it: the verifier allows no moved context
    /// pointer, so nothing reaches past 16 bits (no tracepoint record is that large).
    pub(super) fn ctx_offset(&mut self, off: i32, size: u32) -> i16 {
        match (i16::try_from(off), i16::try_from(off + size as i32)) {
            (Ok(short), Ok(_)) => short,
            _ => {
                self.error(
                    self.site,
                    format!("a context field at offset {off} is out of reach"),
                );
                0
            }
        }
    }

    /// Reads a scalar of `ty` from `[base + off]` into r0, extended to 64 bits.
    pub(super) fn load_scalar(&mut self, base: Reg, off: i16, ty: &Type) {
        let bytes = ty.size().clamp(1, 8);
        self.load_from(size_for(bytes), R0, base, off);
        self.extend(R0, ty);
    }

    /// Loads `[base + off]` into `dst`. From a BTF-typed context (tp_btf, fentry) the
    /// verifier types a pointer argument as a kernel object (PTR_TO_BTF_ID) and refuses the
    /// arithmetic and bit operations scripts do on addresses: negating it twice keeps the
    /// value and leaves a plain number. Helpers that need the typed pointer load it
    /// themselves (network.rs).
    pub(super) fn load_from(&mut self, size: Size, dst: Reg, base: Reg, off: i16) {
        self.b.ldx(size, dst, base, off);
        if base == R6 && self.instance.has_btf_context() {
            self.b.neg(Width::W64, dst).neg(Width::W64, dst);
        }
    }

    /// Sign-extends `reg` when `ty` is a signed integer narrower than 64 bits.
    pub(super) fn extend(&mut self, reg: Reg, ty: &Type) {
        if let Some(int) = ty.as_int() {
            if int.signed && int.bits < 64 {
                let shift = i32::from(64 - int.bits);
                self.b
                    .alu64_imm(AluOp::Lsh, reg, shift)
                    .alu64_imm(AluOp::Arsh, reg, shift);
            }
        }
    }

    /// Truncates `reg` to `ty`'s width, then extends it back as `ty` does.
    pub(super) fn convert(&mut self, reg: Reg, ty: &Type) {
        if let Some(int) = ty.as_int() {
            if int.bits < 64 {
                let shift = i32::from(64 - int.bits);
                self.b.alu64_imm(AluOp::Lsh, reg, shift).alu64_imm(
                    if int.signed { AluOp::Arsh } else { AluOp::Rsh },
                    reg,
                    shift,
                );
            }
        }
        if *ty == Type::Bool {
            // Anything non-zero is true.
            let done = self.label("bool");
            self.b
                .jmp_imm(JmpOp::Jeq, reg, 0, &done)
                .mov64_imm(reg, 1)
                .label(&done);
        }
    }

    /// Writes a constant string (NUL-padded to `size`) into scratch.
    pub(super) fn write_string(&mut self, dst: i32, text: &[u8], size: u32) {
        self.zero(dst, size);
        let kept = &text[..text.len().min(size.saturating_sub(1) as usize)];
        let mut to = Reach::scratch();
        for (i, chunk) in kept.chunks(4).enumerate() {
            let at = dst + (i * 4) as i32;
            if at % 4 == 0 {
                let mut word = [0u8; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                let (base, off) = to.at(&mut self.b, at);
                self.b.st(Size::W, base, off, i32::from_le_bytes(word));
            } else {
                for (j, byte) in chunk.iter().enumerate() {
                    let (base, off) = to.at(&mut self.b, at + j as i32);
                    self.b.st(Size::B, base, off, i32::from(*byte));
                }
            }
        }
    }

    /// `r1 = map fd; r2 = &scratch[key]`: the first two arguments of map helpers.
    pub(super) fn map_args(&mut self, object_name: &str, key: i32) {
        self.b.ld_map_fd(R1, object_name);
        self.mem_address(R2, key);
    }

    /// Calls `bpf_probe_read_{kernel,user}[_str](r9 + dst, size, src)`; `src` in r3 already.
    pub(super) fn probe_read(&mut self, dst: i32, size: u32, string: bool) {
        self.probe_read_then(dst, size, string, |_| {});
    }

    /// probe_read, with `after` emitted while r0 still holds the helper's result.
    pub(super) fn probe_read_then(
        &mut self,
        dst: i32,
        size: u32,
        string: bool,
        after: impl FnOnce(&mut Self),
    ) {
        let user = self.reads_user_memory();
        let helper = match (string, user) {
            (false, false) => Helper::ProbeReadKernel,
            (false, true) => Helper::ProbeReadUser,
            (true, false) => Helper::ProbeReadKernelStr,
            (true, true) => Helper::ProbeReadUserStr,
        };
        self.mem_address(R1, dst);
        self.b.mov64_imm(R2, size as i32).call_helper(helper);
        after(self);
        if self.analysis.settings.helper_errors {
            let name = match (string, user) {
                (false, false) => "probe_read_kernel",
                (false, true) => "probe_read_user",
                (true, false) => "probe_read_kernel_str",
                (true, true) => "probe_read_user_str",
            };
            let ok = self.label("readok");
            self.b.jmp_imm(JmpOp::Jsge, R0, 0, &ok);
            self.helper_error(name);
            self.b.label(&ok);
        }
    }

    /// `-k`: sends a record that `helper` failed at the current site with the code in r0.
    pub(super) fn helper_error(&mut self, helper: &'static str) {
        let code = self.spill(R0);
        let index = super::intern(
            &mut self.events.helper_sites,
            super::HelperSite {
                helper,
                span: self.site,
                file: String::new(),
                location: String::new(),
                line: 0,
                column: 0,
                excerpt: String::new(),
            },
        );
        self.send(super::EventKind::HelperError, index, &[(code, Type::I64)]);
    }

    /// Pointers a probe's arguments hold point into user memory for uprobes and system-call
    /// tracepoints, into the kernel otherwise.
    pub(super) fn reads_user_memory(&self) -> bool {
        use crate::probes::ProbeKind;
        if self.kernel_memory {
            return false;
        }
        match &self.instance.kind {
            ProbeKind::Uprobe { .. } | ProbeKind::Usdt { .. } => true,
            ProbeKind::Tracepoint { category, .. } => category == "syscalls",
            _ => false,
        }
    }
}

/// The widest store that fits the bytes left and the alignment of the address.
fn widest(left: u32, address: u32) -> (Size, u32) {
    for (size, bytes) in [(Size::DW, 8), (Size::W, 4), (Size::H, 2)] {
        if left >= bytes && address.is_multiple_of(bytes) {
            return (size, bytes);
        }
    }
    (Size::B, 1)
}

pub(super) fn size_for(bytes: u32) -> Size {
    match bytes {
        1 => Size::B,
        2 => Size::H,
        3 | 4 => Size::W,
        _ => Size::DW,
    }
}
