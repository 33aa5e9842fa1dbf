//! Bit fields of kernel structs: the word that holds the bits is read, then shifted and masked.

use bpfhook::asm::{AluOp, R0};

use super::expr::Place;
use super::frame::{ProgramGen, Val};
use crate::ast::{Expr, ExprKind};
use crate::types::{BitField, Type};

impl ProgramGen<'_> {
    /// Where the bits are when `expr` reads a bit field (`p->f`, `s.f`).
    pub(super) fn bit_field(&self, expr: &Expr) -> Option<BitField> {
        let ExprKind::Field { base, field, .. } = &expr.kind else {
            return None;
        };
        let record = match self.ty(base) {
            Type::Record(record) => record,
            Type::Pointer(to) => match *to {
                Type::Record(record) => record,
                _ => return None,
            },
            _ => return None,
        };
        record.layout.field(&field.name)?.bits
    }

    /// Reads the word at `place` and keeps the field's bits, extended as `ty` is.
    pub(super) fn read_bit_field(&mut self, place: Place, bits: BitField, ty: &Type) -> Val {
        let word_bits = (bits.word_bytes() * 8) as u8;
        let word = self.read_place(place, &Type::int(word_bits, false));
        self.load(R0, word);
        // Up to the top, then down: the same as BitField::extract.
        let top = 64 - i32::from(bits.shift) - i32::from(bits.width);
        let down = if ty.is_signed() {
            AluOp::Arsh
        } else {
            AluOp::Rsh
        };
        self.b
            .alu64_imm(AluOp::Lsh, R0, top)
            .alu64_imm(down, R0, 64 - i32::from(bits.width));
        self.spill(R0)
    }
}
