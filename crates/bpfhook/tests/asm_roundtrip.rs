//! Decode → encode on a real clang-built object: every code section of the
//! fixture must come back byte for byte, and survive a trip through text.

#[path = "asm/support.rs"]
mod support;

use std::process::Command;

use bpfhook::asm::text::{parse_program, print_insns};
use bpfhook::asm::{decode_program, encode_program};
use object::{Object, ObjectSection, SectionKind};
use support::TempPath;

/// Compiles the fixture with clang into a temporary directory.
fn compile_fixture(dir: &TempPath) -> Vec<u8> {
    let output = dir.path().join("roundtrip.bpf.o");
    let status = Command::new("clang")
        .args(["-target", "bpf", "-mcpu=v3", "-O2", "-g", "-c"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/asm/roundtrip.bpf.c"
        ))
        .arg("-o")
        .arg(&output)
        .status()
        .expect("run clang");
    assert!(status.success(), "clang failed on the fixture");
    std::fs::read(output).unwrap()
}

#[test]
fn clang_object_code_sections_round_trip_byte_identically() {
    let dir = TempPath::dir("bpfhook-asm-roundtrip");
    let elf = compile_fixture(&dir);
    let file = object::File::parse(&*elf).unwrap();
    let mut checked = Vec::new();
    for section in file.sections() {
        if section.kind() != SectionKind::Text || section.size() == 0 {
            continue;
        }
        let name = section.name().unwrap().to_owned();
        let bytes = section.data().unwrap();
        let insns = decode_program(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            encode_program(&insns),
            bytes,
            "{name} re-encodes identically"
        );

        let text = print_insns(&insns);
        let reparsed = parse_program(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(reparsed.insns, insns, "{name} survives print and parse");
        assert_eq!(print_insns(&reparsed.insns), text);
        checked.push(name);
    }
    checked.sort();
    assert_eq!(
        checked,
        [".text", "tracepoint/syscalls/sys_enter_execve", "xdp"],
        "every code section of the fixture was checked"
    );
}
