//! The builder against known encodings: labels resolve to the offsets clang
//! would emit, ld_imm64 counts as two slots, relocations point at the right
//! instructions.

use bpfhook::asm::*;

fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(8)
        .map(|slot| {
            slot.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn map_lookup_program_encodes_like_clang() {
    // The same shape as clang's code for `if (bpf_map_lookup_elem(&m, &k)) ...`.
    let mut b = Builder::new();
    b.st(Size::W, R10, -4, 0)
        .mov64_reg(R2, R10)
        .alu64_imm(AluOp::Add, R2, -4)
        .ld_map_fd(R1, "counts")
        .call_helper(Helper::MapLookupElem)
        .jmp_imm(JmpOp::Jeq, R0, 0, "out")
        .mov64_imm(R1, 1)
        .atomic(Size::DW, AtomicOp::Add, R0, R1, 0)
        .label("out")
        .mov64_imm(R0, 2)
        .exit();
    let program = b.finish().unwrap();
    assert_eq!(
        hex(&program.encode()),
        [
            "62 0a fc ff 00 00 00 00",
            "bf a2 00 00 00 00 00 00",
            "07 02 00 00 fc ff ff ff",
            "18 01 00 00 00 00 00 00",
            "00 00 00 00 00 00 00 00",
            "85 00 00 00 01 00 00 00",
            "15 00 02 00 00 00 00 00", // skips two slots to `out`
            "b7 01 00 00 01 00 00 00",
            "db 10 00 00 00 00 00 00",
            "b7 00 00 00 02 00 00 00",
            "95 00 00 00 00 00 00 00",
        ]
        .join("\n")
    );
    assert_eq!(
        program.relocations,
        [Relocation {
            insn_index: 3,
            target: RelocationTarget::Map("counts".to_owned()),
        }]
    );
    assert_eq!(program.byte_offset(3), 24);
    assert_eq!(program.byte_offset(4), 40, "ld_imm64 takes 16 bytes");
    assert_eq!(program.byte_len(), 88);
}

#[test]
fn backward_jumps_and_jumps_over_ld_imm64() {
    let mut b = Builder::new();
    b.mov64_imm(R1, 0)
        .label("loop")
        .alu64_imm(AluOp::Add, R1, 1)
        .ld_imm64(R2, 1 << 40)
        .jmp_reg(JmpOp::Jlt, R1, R2, "loop")
        .jmp32_imm(JmpOp::Jne, R1, 7, "end")
        .ja("loop")
        .label("end")
        .mov32_reg(R0, R1)
        .exit();
    let insns = b.finish().unwrap().insns;
    // slots: 0 mov, 1 add, 2-3 ld_imm64, 4 jlt, 5 jne, 6 ja, 7 mov, 8 exit
    assert!(matches!(insns[3], Insn::Jmp { off: -4, .. }));
    assert!(matches!(
        insns[4],
        Insn::Jmp {
            width: Width::W32,
            off: 1,
            ..
        }
    ));
    assert_eq!(insns[5], Insn::Ja { off: -6 });
}

#[test]
fn local_calls_resolve_in_program_and_relocate_otherwise() {
    let mut b = Builder::new();
    b.call_local("inner")
        .call_local("in_text")
        .exit()
        .label("inner")
        .mov64_imm(R0, 1)
        .exit();
    let program = b.finish().unwrap();
    assert_eq!(program.insns[0], Insn::Call(Call::Local(2)));
    assert_eq!(program.insns[1], Insn::Call(Call::Local(-1)));
    assert_eq!(
        program.relocation_at(1),
        Some(&RelocationTarget::Function("in_text".to_owned()))
    );
}

#[test]
fn helpers_by_value_id_and_name_agree() {
    let mut b = Builder::new();
    b.call_helper(Helper::RingbufOutput)
        .call_helper_id(130)
        .call_helper_named("ringbuf_output")
        .call_helper_named("bpf_ringbuf_output");
    let insns = b.finish().unwrap().insns;
    assert!(insns
        .iter()
        .all(|insn| *insn == Insn::Call(Call::Helper(130))));
}

#[test]
fn data_references_keep_their_addend() {
    let mut b = Builder::new();
    b.ld_data(R1, "message", 8).exit();
    let program = b.finish().unwrap();
    assert_eq!(
        program.insns[0],
        Insn::LdImm64 {
            dst: R1,
            value: Imm64::Value(8)
        }
    );
    assert_eq!(
        program.relocation_at(0),
        Some(&RelocationTarget::Data("message".to_owned()))
    );
}

/// `count` instructions that do nothing the tests look at.
fn filler(b: &mut Builder, count: usize) {
    for _ in 0..count {
        b.mov64_imm(R3, 0);
    }
}

#[test]
fn far_conditional_jumps_become_inverted_jumps_over_gotol() {
    let mut b = Builder::new();
    b.jmp_imm(JmpOp::Jgt, R1, 7, "far");
    filler(&mut b, 40_000);
    b.label("far").exit();
    let insns = b.finish().unwrap().insns;
    assert_eq!(
        insns[..2],
        [
            Insn::Jmp {
                width: Width::W64,
                op: JmpOp::Jle,
                dst: R1,
                src: Source::Imm(7),
                off: 1,
            },
            // From the slot after it to the label: the 40000 fillers.
            Insn::Gotol { imm: 40_000 },
        ]
    );
    assert_eq!(insns.len(), 40_003);
}

#[test]
fn far_jset_jumps_onto_a_gotol_past_a_goto() {
    // jset has no negation: `if r1 & 4 goto +1; goto +1; gotol far`.
    let mut b = Builder::new();
    b.label("back");
    filler(&mut b, 40_000);
    b.jmp32_reg(JmpOp::Jset, R1, R2, "back").exit();
    let insns = b.finish().unwrap().insns;
    assert_eq!(
        insns[40_000..],
        [
            Insn::Jmp {
                width: Width::W32,
                op: JmpOp::Jset,
                dst: R1,
                src: Source::Reg(R2),
                off: 1,
            },
            Insn::Ja { off: 1 },
            Insn::Gotol { imm: -40_003 },
            Insn::Exit,
        ]
    );
}

#[test]
fn near_jumps_keep_their_short_form() {
    // 32767 is the longest short reach, forwards and (counting the jump) backwards.
    let mut b = Builder::new();
    b.label("top").jmp_imm(JmpOp::Jeq, R0, 0, "end");
    filler(&mut b, 32_766);
    b.jmp_imm(JmpOp::Jne, R0, 0, "top").label("end").exit();
    let insns = b.finish().unwrap().insns;
    assert_eq!(insns.len(), 32_769);
    assert!(matches!(insns[0], Insn::Jmp { off: 32_767, .. }));
    assert!(matches!(insns[32_767], Insn::Jmp { off: -32_768, .. }));
}

#[test]
fn a_jump_made_long_can_push_another_out_of_reach() {
    // The first jump reaches exactly 32767 until the far jump inside its span grows by one.
    let mut b = Builder::new();
    b.jmp_imm(JmpOp::Jeq, R0, 0, "near");
    b.jmp_imm(JmpOp::Jeq, R0, 1, "far");
    filler(&mut b, 32_767);
    b.label("near");
    filler(&mut b, 10);
    b.label("far").exit();
    let program = b.finish().unwrap();
    assert_eq!(
        program.insns[0],
        Insn::Jmp {
            width: Width::W64,
            op: JmpOp::Jne,
            dst: R0,
            src: Source::Imm(0),
            off: 1,
        }
    );
    // Both long now: each gotol skips what follows it up to its label.
    assert_eq!(program.insns[1], Insn::Gotol { imm: 2 + 32_767 });
    assert_eq!(program.insns[3], Insn::Gotol { imm: 32_767 + 10 });
}

#[test]
fn relocations_follow_instructions_a_far_jump_moved() {
    let mut b = Builder::new();
    b.jmp_imm(JmpOp::Jeq, R0, 0, "out");
    filler(&mut b, 33_000);
    b.ld_map_fd(R1, "m")
        .call_local("elsewhere")
        .label("out")
        .exit();
    let program = b.finish().unwrap();
    // The jump became two instructions, so the map load sits at 33002, not 33001.
    assert_eq!(
        program.relocations,
        [
            Relocation {
                insn_index: 33_002,
                target: RelocationTarget::Map("m".to_owned()),
            },
            Relocation {
                insn_index: 33_003,
                target: RelocationTarget::Function("elsewhere".to_owned()),
            },
        ]
    );
    assert!(matches!(program.insns[33_002], Insn::LdImm64 { .. }));
}
