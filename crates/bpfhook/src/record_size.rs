//! The size of the records an object's programs send, read from their code: the constant they
//! pass to `bpf_ringbuf_reserve` (`sizeof(*e)`), `bpf_ringbuf_output` or `bpf_perf_event_output`.
//! With it the record type can be recognised when it has no name to look up by.
//!
//! Only what is certain counts: the size register must be set from a constant in the same
//! straight run of code as the call (no jump lands in between, no call clobbers it), every such
//! call in the object must pass the same size, and code that does not decode gives no answer.

use object::{Object, ObjectSection, SectionFlags};

use crate::asm::{decode_program, AluOp, Call, Helper, Imm64, Insn, Reg, Source, R2, R3, R5};

/// The one record size every output call of the object passes, if there is one.
pub fn record_size(object: &[u8]) -> Option<u64> {
    let file = object::File::parse(object).ok()?;
    let mut size = None;
    for section in file.sections() {
        let SectionFlags::Elf { sh_flags } = section.flags() else {
            continue;
        };
        if sh_flags & u64::from(object::elf::SHF_EXECINSTR) == 0 {
            continue;
        }
        let insns = decode_program(section.data().ok()?).ok()?;
        for found in output_sizes(&insns) {
            match (size, found?) {
                (None, found) => size = Some(found),
                (Some(known), found) if known == found => {}
                _ => return None,
            }
        }
    }
    size.filter(|&s| s > 0)
}

/// For each output call of one section's code, its constant size (`None`: not a constant).
fn output_sizes(insns: &[Insn]) -> Vec<Option<u64>> {
    // Slot numbers, as jumps count in slots (ld_imm64 takes two).
    let mut slots = Vec::with_capacity(insns.len() + 1);
    let mut slot = 0i64;
    for insn in insns {
        slots.push(slot);
        slot += insn.slots() as i64;
    }
    let targets: std::collections::HashSet<i64> = insns
        .iter()
        .zip(&slots)
        .filter_map(|(insn, &at)| match insn {
            Insn::Ja { off } | Insn::Jmp { off, .. } => Some(at + 1 + i64::from(*off)),
            Insn::Gotol { imm } => Some(at + 1 + i64::from(*imm)),
            Insn::Call(Call::Local(imm)) => Some(at + 1 + i64::from(*imm)),
            _ => None,
        })
        .collect();
    insns
        .iter()
        .enumerate()
        .filter_map(|(at, insn)| {
            let size_reg = match insn {
                Insn::Call(Call::Helper(id)) => match Helper::from_id(*id)? {
                    Helper::RingbufReserve => R2,
                    Helper::RingbufOutput => R3,
                    Helper::PerfEventOutput => R5,
                    _ => return None,
                },
                _ => return None,
            };
            Some(constant_before(insns, &slots, &targets, at, size_reg))
        })
        .collect()
}

/// The constant `reg` holds when instruction `at` runs, if set in the straight code before it.
fn constant_before(
    insns: &[Insn],
    slots: &[i64],
    targets: &std::collections::HashSet<i64>,
    at: usize,
    reg: Reg,
) -> Option<u64> {
    for index in (0..at).rev() {
        // Code reached by a jump may bring another value.
        if targets.contains(&slots[index + 1]) {
            return None;
        }
        match insns[index] {
            Insn::Alu {
                op: AluOp::Mov,
                dst,
                src: Source::Imm(value),
                ..
            } if dst == reg => return u64::try_from(value).ok(),
            Insn::LdImm64 {
                dst,
                value: Imm64::Value(value),
            } if dst == reg => return Some(value),
            insn if writes(&insn, reg) => return None,
            _ => {}
        }
    }
    None
}

/// Whether `insn` may change `reg` (calls and legacy packet loads clobber r1–r5).
fn writes(insn: &Insn, reg: Reg) -> bool {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::MovSx { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LoadSx { dst, .. }
        | Insn::LdImm64 { dst, .. } => dst == reg,
        Insn::Atomic { src, .. } => src == reg || reg.number() == 0,
        Insn::Call(_) | Insn::LdAbs { .. } | Insn::LdInd { .. } | Insn::Exit => true,
        Insn::Ja { .. } | Insn::Gotol { .. } => true,
        Insn::Jmp { .. } | Insn::Store { .. } | Insn::StoreImm { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asm::{JmpOp, Width, R1};

    fn mov(dst: Reg, value: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Source::Imm(value),
        }
    }

    const RESERVE: Insn = Insn::Call(Call::Helper(131));

    #[test]
    fn a_constant_in_straight_code_is_the_size() {
        assert_eq!(
            output_sizes(&[mov(R2, 24), mov(R3, 0), RESERVE]),
            [Some(24)]
        );
    }

    #[test]
    fn a_jump_landing_between_or_a_call_means_no_size() {
        // `if r1 == 0 goto +1` lands on the reserve: r2 may be 24 or 32 there.
        let merge = [
            mov(R2, 24),
            Insn::Jmp {
                width: Width::W64,
                op: JmpOp::Jeq,
                dst: R1,
                src: Source::Imm(0),
                off: 1,
            },
            mov(R2, 32),
            RESERVE,
        ];
        assert_eq!(output_sizes(&merge), [None]);
        let clobbered = [mov(R2, 24), Insn::Call(Call::Helper(14)), RESERVE];
        assert_eq!(output_sizes(&clobbered), [None]);
    }
}
