//! Loops whose body runs as a callback of a helper: `for ($kv : @map)` through
//! `bpf_for_each_map_elem`, and `for ($i : a..b)` with bounds only known at run time through
//! `bpf_loop` (the verifier cannot bound such a loop itself). The body is a function of its
//! own in `.text` with a stack of its own; what it shares with its probe lives where both
//! reach it: scratch memory (r9, looked up again in the callback), the context (its address
//! passed as the callback's context argument), and the variables the body uses (homed in
//! scratch, `Val::Cell`, by the semantic pass's `captured`).

use bpfhook::asm::{
    AluOp, Builder, FunctionSpec, Helper, JmpOp, Reg, Size, R0, R1, R10, R2, R3, R4, R6,
};

use super::frame::{ProgramGen, Val};
use crate::ast::{Block, Expr, Ident};
use crate::sema::MapValue;
use crate::types::Type;

impl ProgramGen<'_> {
    /// `for ($kv : @map) { body }`; true when it always ends the probe.
    pub(super) fn map_loop(&mut self, variable: &Ident, map: &Ident, body: &Block) -> bool {
        let Some((info, object)) = self.maps.get(&format!("@{}", map.name)).cloned() else {
            self.error(map.span, format!("Undefined map: @{}", map.name));
            return false;
        };
        let element = match info.loop_element() {
            Ok(Type::Tuple(layout)) => layout,
            Ok(_) => return false,
            Err(message) => {
                self.error(map.span, message);
                return false;
            }
        };
        let callback = self.callback_name();
        let call = |g: &mut Self, context: Reg| {
            g.b.ld_map_fd(R1, &object)
                .ld_func(R2, &callback)
                .mov64_reg(R3, context)
                .mov64_imm(R4, 0)
                .call_helper(Helper::ForEachMapElem);
        };
        // Arguments: (map, key, value, context).
        self.loop_through_callback(&callback, call, R4, &[R2, R3], body, |g, args| {
            let (key, value) = (args[0], args[1]);
            let home = g.mem(element.size);
            let (key_field, value_field) = (&element.fields[0], &element.fields[1]);
            g.load(R1, key);
            g.copy_from(R1, 0, home + key_field.offset as i32, key_field.ty.size());
            let value_home = home + value_field.offset as i32;
            match info.value {
                MapValue::Plain(_) => {
                    g.load(R1, value);
                    g.copy_from(R1, 0, value_home, value_field.ty.size());
                }
                // Per-CPU counts and sums: every CPU's share added up, as when printed.
                _ => g.sum_per_cpu(&object, key, value_home),
            }
            vec![(variable.name.clone(), Val::Mem(home))]
        })
    }

    /// `for ($i : start..end) { body }` with bounds that are not constants; true when it
    /// always ends the probe.
    pub(super) fn range_loop_callback(
        &mut self,
        variable: &Ident,
        start: &Expr,
        end: &Expr,
        body: &Block,
    ) -> bool {
        let first = self.mem(8);
        self.scoped(|g| {
            let s = g.expr(start);
            g.load(R0, s);
            g.stx_scratch(Size::DW, first, R0);
            let e = g.expr(end);
            g.load(R1, e);
        });
        // Iterations: end - start, none when negative.
        let count = self.label("rangecount");
        self.ldx_scratch(Size::DW, R0, first);
        self.b
            .alu64_reg(AluOp::Sub, R1, R0)
            .jmp_imm(JmpOp::Jsgt, R1, 0, &count)
            .mov64_imm(R1, 0)
            .label(&count);
        let count = self.spill(R1);
        let callback = self.callback_name();
        let call = |g: &mut Self, context: Reg| {
            g.b.mov64_reg(R3, context);
            g.load(R1, count);
            g.b.ld_func(R2, &callback)
                .mov64_imm(R4, 0)
                .call_helper(Helper::Loop);
        };
        let home = self.variables.get(&variable.name).copied();
        // Arguments: (index, context).
        self.loop_through_callback(&callback, call, R2, &[R1], body, |g, args| {
            g.load(R0, args[0]);
            g.ldx_scratch(Size::DW, R1, first);
            g.b.alu64_reg(AluOp::Add, R0, R1);
            // Homed in scratch when the body reads it (else nothing reads it).
            if let Some(Val::Cell(cell)) = home {
                g.stx_scratch(Size::DW, cell, R0);
            }
            Vec::new()
        })
    }

    /// A callback's name, taken before its body is generated (loops nested in it are
    /// numbered after it).
    fn callback_name(&mut self) -> String {
        self.label(&format!("{}_loop", self.name))
    }

    /// Calls a helper with the callback `name` (`call` sets the registers, given the register
    /// holding the address of the probe's context pointer) and generates the callback: the
    /// context pointer arrives through `context_arg`, `args` are spilled and handed to
    /// `enter`, which returns the variables the body sees (its loop variable).
    fn loop_through_callback(
        &mut self,
        name: &str,
        call: impl FnOnce(&mut Self, Reg),
        context_arg: Reg,
        args: &[Reg],
        body: &Block,
        enter: impl FnOnce(&mut Self, &[Val]) -> Vec<(String, Val)>,
    ) -> bool {
        let leaving = self.mem(8);
        let context = self.slot();
        self.st_scratch(Size::DW, leaving, 0);
        self.b
            .stx(Size::DW, R10, R6, context)
            .mov64_reg(R0, R10)
            .alu64_imm(AluOp::Add, R0, i32::from(context));
        call(self, R0);

        // The callback: fresh code, stack and loop labels; scratch allocation carries on.
        let outer_code = std::mem::replace(&mut self.b, Builder::new());
        let outer_stack = self.frame.stack;
        let outer_loops = std::mem::take(&mut self.loops);
        self.frame.stack = 0;
        self.leaving_flags.push(leaving);
        self.b.ldx(Size::DW, R6, context_arg, 0);
        let spilled: Vec<Val> = args.iter().map(|&reg| self.spill(reg)).collect();
        self.load_scratch(1);
        let scoped = enter(self, &spilled);
        let shadowed: Vec<(String, Option<Val>)> = scoped
            .into_iter()
            .map(|(name, home)| {
                let old = self.variables.insert(name.clone(), home);
                (name, old)
            })
            .collect();
        let (next, stop) = (self.label("loopnext"), self.label("loopstop"));
        self.loops.push((next.clone(), stop.clone()));
        let leaves = self.block(body);
        if !leaves || self.used_labels.contains(&next) {
            self.b.label(&next).mov64_imm(R0, 0).exit();
        }
        if self.used_labels.contains(&stop) {
            self.b.label(&stop).mov64_imm(R0, 1).exit();
        }
        for (name, old) in shadowed {
            match old {
                Some(home) => self.variables.insert(name, home),
                None => self.variables.remove(&name),
            };
        }
        self.leaving_flags.pop();
        self.loops = outer_loops;
        self.frame.stack = outer_stack;
        match std::mem::replace(&mut self.b, outer_code).finish() {
            Ok(program) => self.functions.push(FunctionSpec {
                name: name.to_owned(),
                program,
            }),
            Err(e) => self.error(body.span, format!("generating code: {e}")),
        }

        // Back in the caller: a `return` or `exit()` in the body ends this code too.
        let done = self.label("loopdone");
        self.ldx_scratch(Size::DW, R0, leaving);
        self.b.jmp_imm(JmpOp::Jeq, R0, 0, &done);
        self.leave();
        self.b.label(&done);
        false
    }

    /// `*(u64 *)(r9 + dst)` = the sum over every possible CPU of the per-CPU map's u64 at
    /// `key` (a map key pointer held in a slot).
    fn sum_per_cpu(&mut self, object: &str, key: Val, dst: i32) {
        let cpus = crate::runtime::possible_cpus() as i32;
        let cpu = self.slot();
        let (top, next, done) = (
            self.label("cpu"),
            self.label("cpunext"),
            self.label("cpudone"),
        );
        self.st_scratch(Size::DW, dst, 0);
        self.b
            .st(Size::DW, R10, cpu, 0)
            .label(&top)
            .ldx(Size::DW, R3, R10, cpu)
            .jmp_imm(JmpOp::Jge, R3, cpus, &done)
            .ld_map_fd(R1, object);
        self.load(R2, key);
        self.b
            .call_helper(Helper::MapLookupPercpuElem)
            .jmp_imm(JmpOp::Jeq, R0, 0, &next)
            .ldx(Size::DW, R1, R0, 0);
        self.ldx_scratch(Size::DW, R2, dst);
        self.b.alu64_reg(AluOp::Add, R2, R1);
        self.stx_scratch(Size::DW, dst, R2);
        self.b
            .label(&next)
            .ldx(Size::DW, R3, R10, cpu)
            .alu64_imm(AluOp::Add, R3, 1)
            .stx(Size::DW, R10, R3, cpu)
            .ja(&top)
            .label(&done);
    }
}
