//! The text format beyond single instructions: labels, comments, verifier
//! listings, symbolic references, objects, and print/parse stability.

use bpfhook::asm::text::{parse_object, parse_program, print_object, print_program};
use bpfhook::asm::*;

#[test]
fn labels_comments_and_symbolic_forms() {
    let text = "
        ; full-line comment
        # another
        // and another
        start:  r1 = map events ll        ; map reference
                r2 = rodata fmt+4 ll
                if r1 s> 0x3 goto done    # label jump
                call bpf_trace_printk
                call helper_in_text
                goto start
        done:   exit
    ";
    let program = parse_program(text).unwrap();
    assert_eq!(program.insns.len(), 7);
    assert_eq!(
        program.insns[2],
        Insn::Jmp {
            width: Width::W64,
            op: JmpOp::Jsgt,
            dst: R1,
            src: Source::Imm(3),
            off: 3,
        }
    );
    assert_eq!(
        program.insns[3],
        Insn::Call(Call::Helper(Helper::TracePrintk.id()))
    );
    assert_eq!(program.insns[5], Insn::Ja { off: -8 });
    assert_eq!(
        program
            .relocations
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>(),
        [
            RelocationTarget::Map("events".to_owned()),
            RelocationTarget::Data("fmt".to_owned()),
            RelocationTarget::Function("helper_in_text".to_owned()),
        ]
    );

    let printed = print_program(&program);
    assert_eq!(
        printed,
        "r1 = map events ll\nr2 = rodata fmt+4 ll\nif r1 s> 0x3 goto pc+3\n\
         call bpf_trace_printk#6\ncall helper_in_text\ngoto pc-8\nexit\n"
    );
    let reparsed = parse_program(&printed).unwrap();
    assert_eq!(reparsed, program);
    assert_eq!(
        print_program(&reparsed),
        printed,
        "print(parse(text)) is stable"
    );
}

#[test]
fn verifier_log_listings_parse() {
    // As `bpftool prog dump xlated` and the verifier print them.
    let log = "0: (b7) r0 = 0\n1: (79) r1 = *(u64 *)(r10 -8)\n2: (15) if r1 == 0x0 goto pc+1\n3: (95) exit\n4: (95) exit";
    let program = parse_program(log).unwrap();
    assert_eq!(program.insns.len(), 5);
    assert_eq!(
        program.insns[1],
        Insn::Load {
            size: Size::DW,
            dst: R1,
            src: R10,
            off: -8
        }
    );
    // Columns still point into the original line.
    let error = parse_program("7: (bf) r1 = r99").unwrap_err();
    assert_eq!(error.to_string().split(": ").next(), Some("line 1:14"));
}

#[test]
fn kernel_alternatives_are_accepted() {
    let program = parse_program(
        "r1 = map[id:3]\nld_map_fd r2, events\nr3 = *(u64 *)(r1)\n\
         r0 = 0xffffffff\nif w1 == -1 goto pc+0\ncall 6\ncall pc-3",
    )
    .unwrap();
    assert_eq!(
        program.insns[0],
        Insn::LdImm64 {
            dst: R1,
            value: Imm64::MapFd(3)
        }
    );
    assert_eq!(
        program.relocation_at(1),
        Some(&RelocationTarget::Map("events".to_owned()))
    );
    assert!(matches!(program.insns[2], Insn::Load { off: 0, .. }));
    assert_eq!(
        program.insns[3],
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: R0,
            src: Source::Imm(-1)
        }
    );
    assert!(matches!(
        program.insns[4],
        Insn::Jmp {
            src: Source::Imm(-1),
            ..
        }
    ));
    assert_eq!(program.insns[5], Insn::Call(Call::Helper(6)));
    assert_eq!(program.insns[6], Insn::Call(Call::Local(-3)));
}

#[test]
fn objects_print_and_parse_back() {
    let text = r#"
.license "Dual MIT/GPL"
.map events type=ringbuf key=0 value=0 entries=4096
.map table type=33 key=4 value=8 entries=16 flags=0x400
.rodata greeting "hi \"there\"\n\x00"

.section tracepoint/syscalls/sys_enter_execve
    r1 = rodata greeting ll
    call helper
    exit

.section kprobe/do_sys_open probe_open
    r1 = map events ll
    r0 = 0
    exit

.func helper
    r0 = 1
    exit
"#;
    let object = parse_object(text).unwrap();
    assert_eq!(object.license, "Dual MIT/GPL");
    assert_eq!(
        object.programs[0].name,
        "tracepoint_syscalls_sys_enter_execve"
    );
    assert_eq!(object.programs[1].name, "probe_open");
    assert_eq!(object.maps[0].map_type, 27);
    assert_eq!(object.maps[1].flags, 0x400);
    assert_eq!(object.data[0].bytes, b"hi \"there\"\n\0");
    assert_eq!(object.functions[0].name, "helper");

    let printed = print_object(&object);
    let reparsed = parse_object(&printed).unwrap();
    assert_eq!(reparsed, object);
    assert_eq!(print_object(&reparsed), printed);
    assert!(printed.contains(".map events type=ringbuf key=0 value=0 entries=4096\n"));
    assert!(printed.contains(".map table type=arena key=4 value=8 entries=16 flags=0x400\n"));
}
