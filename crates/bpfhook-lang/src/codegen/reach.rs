//! Addresses past an instruction's 16-bit offset. Scratch memory may be larger than the
//! 32 KiB a load or store reaches from r9, so a far offset goes through a register set to
//! r9 plus a base, re-based when the next offset leaves its reach. Offsets that fit go
//! through r9 itself: small programs get the same instructions as without this.

use bpfhook::asm::{AluOp, Builder, Reg, Size, R7, R8, R9};

use super::frame::ProgramGen;

/// A run of accesses at `origin + offset` in straight-line code. `via` holds
/// `origin + base` once a far offset set it; a label inside the run must [`Reach::forget`]
/// the base (paths that jump there may bring another).
pub(super) struct Reach {
    origin: Reg,
    via: Reg,
    base: Option<i32>,
}

impl Reach {
    /// Scratch memory; single accesses and the first operand of two.
    pub(super) fn scratch() -> Reach {
        Reach::new(R9, R8)
    }

    /// Scratch memory for a second operand alongside [`Reach::scratch`] (copies, compares).
    pub(super) fn scratch_second() -> Reach {
        Reach::new(R9, R7)
    }

    /// Memory at `origin` (a map value or key pointer), reached through r7 when far: the
    /// origin must be neither r7 nor r8.
    pub(super) fn from(origin: Reg) -> Reach {
        Reach::new(origin, R7)
    }

    fn new(origin: Reg, via: Reg) -> Reach {
        Reach {
            origin,
            via,
            base: None,
        }
    }

    /// The register and 16-bit offset that address `origin + off`.
    pub(super) fn at(&mut self, b: &mut Builder, off: i32) -> (Reg, i16) {
        if let Ok(short) = i16::try_from(off) {
            return (self.origin, short);
        }
        if let Some(short) = self.base.and_then(|base| i16::try_from(off - base).ok()) {
            return (self.via, short);
        }
        // Based at the offset itself: the run goes on upwards with 32 KiB to go.
        b.mov64_reg(self.via, self.origin)
            .alu64_imm(AluOp::Add, self.via, off);
        self.base = Some(off);
        (self.via, 0)
    }

    pub(super) fn forget(&mut self) {
        self.base = None;
    }
}

impl ProgramGen<'_> {
    /// The register and 16-bit offset that address scratch `off`, for one access right after
    /// (r8 when far).
    pub(super) fn scratch_at(&mut self, off: i32) -> (Reg, i16) {
        Reach::scratch().at(&mut self.b, off)
    }

    /// `*(size *)(scratch + off) = imm`.
    pub(super) fn st_scratch(&mut self, size: Size, off: i32, imm: i32) {
        let (base, off) = self.scratch_at(off);
        self.b.st(size, base, off, imm);
    }

    /// `*(size *)(scratch + off) = src`.
    pub(super) fn stx_scratch(&mut self, size: Size, off: i32, src: Reg) {
        let (base, off) = self.scratch_at(off);
        self.b.stx(size, base, src, off);
    }

    /// `dst = *(size *)(scratch + off)`.
    pub(super) fn ldx_scratch(&mut self, size: Size, dst: Reg, off: i32) {
        let (base, off) = self.scratch_at(off);
        self.b.ldx(size, dst, base, off);
    }
}
