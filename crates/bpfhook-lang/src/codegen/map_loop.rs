//! `for ($kv : @map) { … }`: the body becomes a callback of `bpf_for_each_map_elem`, a
//! function of its own in `.text`, with a stack of its own. What it shares with its probe
//! lives where both reach it: scratch memory (r9, looked up again in the callback), the
//! context (its address passed as the callback's context argument), and the variables the
//! body uses (homed in scratch, `Val::Cell`, by the semantic pass's `captured`).

use bpfhook::asm::{
    AluOp, Builder, FunctionSpec, Helper, JmpOp, Size, R0, R1, R10, R2, R3, R4, R6, R9,
};

use super::frame::{ProgramGen, Val};
use crate::ast::{Block, Ident};
use crate::sema::MapValue;
use crate::types::Type;

impl ProgramGen<'_> {
    /// Generates the loop; true when it always ends the probe (the body always returns).
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
        // Named before its body runs: loops nested in it are numbered after it.
        let callback = self.label(&format!("{}_for", self.name));
        let leaving = self.mem(8);
        let context = self.slot();
        self.b
            .st(Size::DW, R9, leaving as i16, 0)
            .stx(Size::DW, R10, R6, context)
            .ld_map_fd(R1, &object)
            .ld_func(R2, &callback)
            .mov64_reg(R3, R10)
            .alu64_imm(AluOp::Add, R3, i32::from(context))
            .mov64_imm(R4, 0)
            .call_helper(Helper::ForEachMapElem);

        // The callback: fresh code, stack and loop labels; scratch allocation carries on.
        let outer_code = std::mem::replace(&mut self.b, Builder::new());
        let outer_stack = self.frame.stack;
        let outer_loops = std::mem::take(&mut self.loops);
        self.frame.stack = 0;
        self.leaving_flags.push(leaving);
        // (map, key, value, our context argument): the probe's context is behind r4.
        self.b.ldx(Size::DW, R6, R4, 0);
        let key = self.spill(R2);
        let value = self.spill(R3);
        self.load_scratch(1);
        let home = self.mem(element.size);
        let (key_field, value_field) = (&element.fields[0], &element.fields[1]);
        self.load(R1, key);
        self.copy_from(R1, 0, home + key_field.offset as i32, key_field.ty.size());
        let value_home = home + value_field.offset as i32;
        match info.value {
            MapValue::Plain(_) => {
                self.load(R1, value);
                self.copy_from(R1, 0, value_home, value_field.ty.size());
            }
            // Per-CPU counts and sums: every CPU's share added up, as when printed.
            _ => self.sum_per_cpu(&object, key, value_home),
        }
        let shadowed = self.variables.insert(variable.name.clone(), Val::Mem(home));
        let (next, stop) = (self.label("fornext"), self.label("forstop"));
        self.loops.push((next.clone(), stop.clone()));
        let leaves = self.block(body);
        if !leaves || self.used_labels.contains(&next) {
            self.b.label(&next).mov64_imm(R0, 0).exit();
        }
        if self.used_labels.contains(&stop) {
            self.b.label(&stop).mov64_imm(R0, 1).exit();
        }
        match shadowed {
            Some(home) => self.variables.insert(variable.name.clone(), home),
            None => self.variables.remove(&variable.name),
        };
        self.leaving_flags.pop();
        self.loops = outer_loops;
        self.frame.stack = outer_stack;
        let code = std::mem::replace(&mut self.b, outer_code).finish();
        match code {
            Ok(program) => self.functions.push(FunctionSpec {
                name: callback,
                program,
            }),
            Err(e) => self.error(body.span, format!("generating code: {e}")),
        }

        // Back in the caller: a `return` or `exit()` in the body ends this code too.
        let done = self.label("fordone");
        self.b
            .ldx(Size::DW, R0, R9, leaving as i16)
            .jmp_imm(JmpOp::Jeq, R0, 0, &done);
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
        self.b
            .st(Size::DW, R9, dst as i16, 0)
            .st(Size::DW, R10, cpu, 0)
            .label(&top)
            .ldx(Size::DW, R3, R10, cpu)
            .jmp_imm(JmpOp::Jge, R3, cpus, &done)
            .ld_map_fd(R1, object);
        self.load(R2, key);
        self.b
            .call_helper(Helper::MapLookupPercpuElem)
            .jmp_imm(JmpOp::Jeq, R0, 0, &next)
            .ldx(Size::DW, R1, R0, 0)
            .ldx(Size::DW, R2, R9, dst as i16)
            .alu64_reg(AluOp::Add, R2, R1)
            .stx(Size::DW, R9, R2, dst as i16)
            .label(&next)
            .ldx(Size::DW, R3, R10, cpu)
            .alu64_imm(AluOp::Add, R3, 1)
            .stx(Size::DW, R10, R3, cpu)
            .ja(&top)
            .label(&done);
    }
}
