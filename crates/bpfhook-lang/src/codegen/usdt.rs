//! A USDT argument read where its note says it is: a register of the context's `pt_regs`,
//! user memory a register points into, or a constant.

use bpfhook::asm::{AluOp, Size, R0, R1, R3, R6};

use super::frame::{ProgramGen, Val};
use crate::probes::usdt::{Argument, Location};

impl ProgramGen<'_> {
    /// The argument as 64 bits: its bytes cut to its size, extended as signed or not.
    pub(super) fn usdt_argument(&mut self, argument: &Argument) -> Val {
        let narrow = argument.narrow_type();
        match argument.location {
            Location::Constant(value) => Val::Imm(value),
            Location::Register { offset, high_byte } => {
                self.b.ldx(Size::DW, R0, R6, offset);
                if high_byte {
                    self.b.alu64_imm(AluOp::Rsh, R0, 8);
                }
                self.convert(R0, &narrow);
                self.spill(R0)
            }
            Location::Memory {
                base,
                index,
                displacement,
            } => {
                let size = u32::from(argument.size);
                let mem = self.mem(size);
                // A failed read leaves 0.
                self.zero(mem, size);
                self.b.ldx(Size::DW, R3, R6, base);
                if let Some((index, scale)) = index {
                    self.b
                        .ldx(Size::DW, R1, R6, index)
                        .alu64_imm(AluOp::Mul, R1, i32::from(scale))
                        .alu64_reg(AluOp::Add, R3, R1);
                }
                if displacement != 0 {
                    self.b.alu64_imm(AluOp::Add, R3, displacement);
                }
                self.probe_read(mem, size, false);
                self.load_scratch_scalar(mem, &narrow);
                self.spill(R0)
            }
        }
    }
}
