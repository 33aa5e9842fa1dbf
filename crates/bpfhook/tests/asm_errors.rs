//! Bad inputs give errors that say where and what, never panics.

use bpfhook::asm::text::{parse_object, parse_program};
use bpfhook::asm::*;

fn syntax_error(result: Result<impl std::fmt::Debug, AsmError>) -> (usize, usize, String) {
    match result {
        Err(AsmError::Syntax {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let (line, column, message) = syntax_error(parse_program("r0 = 0\n  r1 += \nexit\n"));
    assert_eq!((line, column), (2, 9));
    assert!(message.contains("expected a number"), "{message}");

    let (line, column, _) = syntax_error(parse_program("exit\nr1 = *(u65 *)(r10 -8)\n"));
    assert_eq!((line, column), (2, 8));

    let (line, column, message) = syntax_error(parse_program("if r1 => 3 goto pc+1"));
    assert_eq!((line, column), (1, 7));
    assert!(message.contains("`=`"), "{message}");

    let (_, column, message) = syntax_error(parse_program("w1 += r2"));
    assert_eq!(column, 7);
    assert!(message.contains("wN"), "{message}");

    let (_, column, _) = syntax_error(parse_program("r11 = 1"));
    assert_eq!(column, 1);

    let (_, column, _) = syntax_error(parse_program("r1 = *(u64 *)(r10 -40000)"));
    assert_eq!(column, 19);

    let (line, _, message) = syntax_error(parse_program("r0 = 1\nexit extra"));
    assert_eq!(line, 2);
    assert!(message.contains("`extra`"), "{message}");

    let error = parse_program("\n\nr0 = $").unwrap_err();
    assert_eq!(error.to_string(), "line 3:6: unexpected character `$`");
}

#[test]
fn directive_errors_carry_line_and_column() {
    let (line, column, message) = syntax_error(parse_object(".map m type=hash key=x\n"));
    assert_eq!((line, column), (1, 18));
    assert!(message.contains("invalid number"), "{message}");

    let (line, column, _) = syntax_error(parse_object(".license GPL\n"));
    assert_eq!((line, column), (1, 10));

    let (line, column, message) = syntax_error(parse_object(".section xdp\nexit\n.bogus\n"));
    assert_eq!((line, column), (3, 1));
    assert!(message.contains("unknown directive"), "{message}");

    let (line, _, message) = syntax_error(parse_object("r0 = 0\n"));
    assert_eq!(line, 1);
    assert!(message.contains(".section"), "{message}");

    let (line, _, message) = syntax_error(parse_object(
        ".map m type=array key=4 value=4 entries=1\n.func m\n",
    ));
    assert_eq!(line, 2);
    assert!(message.contains("defined twice"), "{message}");

    let (_, _, message) = syntax_error(parse_program(".section xdp"));
    assert!(message.contains("parse_object"), "{message}");
}

#[test]
fn unknown_helper_name() {
    let (line, column, message) = syntax_error(parse_program("r0 = 0\ncall bpf_no_such_helper\n"));
    assert_eq!((line, column), (2, 6));
    assert!(
        message.contains("unknown helper `bpf_no_such_helper`"),
        "{message}"
    );

    let mut b = Builder::new();
    b.call_helper_named("no_such_helper").exit();
    assert_eq!(
        b.finish(),
        Err(AsmError::UnknownHelper("no_such_helper".to_owned()))
    );
}

#[test]
fn undefined_label() {
    let (line, column, message) =
        syntax_error(parse_program("r0 = 0\nif r0 == 0 goto nowhere\nexit"));
    assert_eq!((line, column), (2, 17));
    assert!(message.contains("undefined label `nowhere`"), "{message}");

    let mut b = Builder::new();
    b.ja("nowhere").exit();
    assert_eq!(
        b.finish(),
        Err(AsmError::UndefinedLabel("nowhere".to_owned()))
    );

    let mut b = Builder::new();
    b.label("twice").label("twice").exit();
    assert_eq!(
        b.finish(),
        Err(AsmError::DuplicateLabel("twice".to_owned()))
    );
}

#[test]
fn jump_out_of_range() {
    // `goto` can skip at most i16::MAX instructions; gotol reaches further, and a `goto`
    // past that becomes one. Only gotol's own 32 bits are a limit (see asm_builder.rs).
    let far_jump = |gap: usize, long: bool| {
        let mut b = Builder::new();
        if long {
            b.gotol("far");
        } else {
            b.ja("far");
        }
        for _ in 0..gap {
            b.mov64_imm(R0, 0);
        }
        b.label("far").exit();
        b.finish().map(|program| program.insns[0])
    };
    assert_eq!(far_jump(32767, false), Ok(Insn::Ja { off: 32767 }));
    assert_eq!(far_jump(32768, false), Ok(Insn::Gotol { imm: 32768 }));
    assert_eq!(far_jump(32768, true), Ok(Insn::Gotol { imm: 32768 }));

    let (line, column, _) = syntax_error(parse_program("goto pc+40000"));
    assert_eq!((line, column), (1, 6));
}

#[test]
fn undefined_map() {
    let text = ".license \"GPL\"\n.section xdp\n    r1 = map missing ll\n    exit\n";
    let (line, column, message) = syntax_error(parse_object(text));
    assert_eq!((line, column), (3, 14));
    assert!(message.contains("undefined map `missing`"), "{message}");

    // The ELF writer checks too, for objects built in Rust.
    let mut b = Builder::new();
    b.ld_map_fd(R1, "missing").mov64_imm(R0, 0).exit();
    let mut object = ObjectSpec::new("GPL");
    object.programs.push(ProgramSpec {
        section: "xdp".to_owned(),
        name: "prog".to_owned(),
        program: b.finish().unwrap(),
    });
    assert_eq!(
        object.to_elf(),
        Err(AsmError::UndefinedMap {
            program: "prog".to_owned(),
            map: "missing".to_owned(),
        })
    );

    let mut b = Builder::new();
    b.call_local("absent").exit();
    object.programs[0].program = b.finish().unwrap();
    assert!(matches!(
        object.to_elf(),
        Err(AsmError::UndefinedFunction { .. })
    ));

    let (_, _, message) = syntax_error(parse_object(".section xdp\ncall absent\nexit\n"));
    assert!(
        message.contains("undefined function or label `absent`"),
        "{message}"
    );
}

#[test]
fn objects_refuse_calls_that_loaders_cannot_link() {
    let mut b = Builder::new();
    b.call_local("inner")
        .exit()
        .label("inner")
        .mov64_imm(R0, 0)
        .exit();
    let mut object = ObjectSpec::new("GPL");
    object.programs.push(ProgramSpec {
        section: "xdp".to_owned(),
        name: "prog".to_owned(),
        program: b.finish().unwrap(),
    });
    assert_eq!(
        object.to_elf(),
        Err(AsmError::CallIntoProgram {
            program: "prog".to_owned(),
            insn_index: 0,
        })
    );
}

#[test]
fn duplicate_symbols_in_an_object() {
    let mut object = ObjectSpec::new("GPL");
    let program = Program::from_insns(vec![Insn::Exit]);
    for _ in 0..2 {
        object.programs.push(ProgramSpec {
            section: "xdp".to_owned(),
            name: "same".to_owned(),
            program: program.clone(),
        });
    }
    assert_eq!(
        object.to_elf(),
        Err(AsmError::DuplicateSymbol("same".to_owned()))
    );
}

#[test]
fn truncated_bytes_to_decode() {
    assert_eq!(
        Insn::decode(&[0xb7, 0x00, 0x00]),
        Err(AsmError::Truncated {
            offset: 0,
            needed: 8,
            available: 3
        })
    );
    // ld_imm64 needs its second slot.
    let mut bytes = vec![0xb7, 0, 0, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(&[0x18, 0x01, 0, 0, 1, 0, 0, 0]);
    assert_eq!(
        decode_program(&bytes),
        Err(AsmError::Truncated {
            offset: 8,
            needed: 16,
            available: 8
        })
    );
    assert!(decode_program(&[0x95, 0, 0, 0, 0, 0, 0, 0, 0x95]).is_err());
    assert_eq!(decode_program(&[]), Ok(vec![]));
}

#[test]
fn invalid_instructions_are_rejected_not_guessed() {
    let invalid = |bytes: [u8; 8]| match Insn::decode(&bytes) {
        Err(AsmError::InvalidInstruction { opcode, .. }) => assert_eq!(opcode, bytes[0]),
        other => panic!("{bytes:02x?} decoded as {other:?}"),
    };
    invalid([0x00, 0, 0, 0, 0, 0, 0, 0]); // LD without IMM|DW
    invalid([0xe7, 0x01, 0, 0, 0, 0, 0, 0]); // ALU64 op 0xe0 does not exist
    invalid([0xf5, 0x01, 0, 0, 0, 0, 0, 0]); // JMP op 0xf0 does not exist
    invalid([0x86, 0, 0, 0, 1, 0, 0, 0]); // call in JMP32
    invalid([0x95, 0x01, 0, 0, 0, 0, 0, 0]); // exit with a register
    invalid([0xb7, 0x0b, 0, 0, 0, 0, 0, 0]); // r11
    invalid([0xb7, 0x10, 0, 0, 0, 0, 0, 0]); // MOV K with a source register
    invalid([0x0f, 0x21, 0, 0, 1, 0, 0, 0]); // ADD X with an immediate
    invalid([0x07, 0x01, 1, 0, 1, 0, 0, 0]); // ADD with off set
    invalid([0xbf, 0x21, 64, 0, 0, 0, 0, 0]); // movsx from 64 bits
    invalid([0xbc, 0x21, 32, 0, 0, 0, 0, 0]); // 32-bit movsx from 32 bits
    invalid([0xd4, 0x01, 0, 0, 8, 0, 0, 0]); // le8
    invalid([0xdf, 0x01, 0, 0, 16, 0, 0, 0]); // 64-bit swap with the BE bit
    invalid([0xdb, 0x21, 0, 0, 0x02, 0, 0, 0]); // unknown atomic op
    invalid([0xd3, 0x21, 0, 0, 0, 0, 0, 0]); // atomic on a byte
    invalid([0x99, 0x21, 0, 0, 0, 0, 0, 0]); // sign-extending u64 load
    invalid([0x85, 0x30, 0, 0, 1, 0, 0, 0]); // call kind 3
    invalid([0x38, 0, 0, 0, 0, 0, 0, 0]); // LD_ABS DW
    invalid([0x7a, 0x1a, 0, 0, 0, 0, 0, 0]); // ST with a source register

    let mut bad_second_slot = [0u8; 16];
    bad_second_slot[0] = 0x18;
    bad_second_slot[8] = 0x18;
    assert!(matches!(
        Insn::decode(&bad_second_slot),
        Err(AsmError::InvalidInstruction { .. })
    ));
    let mut bad_pseudo = [0u8; 16];
    bad_pseudo[0] = 0x18;
    bad_pseudo[1] = 0x71; // src 7
    assert!(Insn::decode(&bad_pseudo).is_err());
}

#[test]
fn decoding_arbitrary_bytes_never_panics() {
    // Every opcode with a spread of register/offset/immediate values.
    for code in 0..=255u8 {
        for regs in [0x00, 0x21, 0xa1, 0xff, 0x10] {
            for imm in [0i32, 1, 8, 16, 32, 64, -1, 0xe1, 0xf1] {
                for off in [0i16, 1, 8, 16, 32, -1] {
                    let mut bytes = vec![code, regs];
                    bytes.extend_from_slice(&off.to_le_bytes());
                    bytes.extend_from_slice(&imm.to_le_bytes());
                    bytes.extend_from_slice(&[0; 8]);
                    if let Ok((insn, used)) = Insn::decode(&bytes) {
                        assert_eq!(insn.to_bytes(), bytes[..used], "{insn}");
                    }
                }
            }
        }
    }
}

#[test]
fn malformed_instruction_values_are_caught_by_the_builder() {
    let mut b = Builder::new();
    b.atomic(Size::B, AtomicOp::Add, R1, R2, 0).exit();
    assert!(matches!(
        b.finish(),
        Err(AsmError::MalformedInstruction { index: 0, .. })
    ));
}
