//! The ELF writer's output as other tools read it: the `object` crate for
//! structure, llvm-objdump for disassembly and relocations.

#[path = "asm/support.rs"]
mod support;

use std::process::Command;

use bpfhook::asm::text::parse_object;
use bpfhook::asm::*;
use object::elf::{EM_BPF, R_BPF_64_32, R_BPF_64_64};
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SymbolKind};
use support::TempPath;

fn fixture(style: MapStyle) -> Vec<u8> {
    let mut object = parse_object(include_str!("asm/xdp_update.s")).unwrap();
    object.map_style = style;
    object.to_elf().unwrap()
}

/// (symbol name, ELF relocation type) for each relocation of a section.
fn relocations(file: &object::File<'_>, section: &str) -> Vec<(String, u32)> {
    let section = file.section_by_name(section).unwrap();
    section
        .relocations()
        .map(|(_, rel)| {
            let RelocationTarget::Symbol(index) = rel.target() else {
                panic!("relocation against a non-symbol");
            };
            let RelocationFlags::Elf { r_type } = rel.flags() else {
                panic!("not an ELF relocation");
            };
            let name = file.symbol_by_index(index).unwrap().name().unwrap();
            (name.to_owned(), r_type)
        })
        .collect()
}

#[test]
fn layout_symbols_and_relocations_are_what_loaders_expect() {
    for style in [MapStyle::Legacy, MapStyle::Btf] {
        let elf = fixture(style);
        let file = object::File::parse(&*elf).unwrap();
        let object::FileFlags::Elf { .. } = file.flags() else {
            panic!("not ELF");
        };
        assert_eq!(elf[18], EM_BPF as u8);
        assert_eq!(file.kind(), object::ObjectKind::Relocatable);
        assert!(file.is_little_endian() && file.is_64());

        let license = file.section_by_name("license").unwrap();
        assert_eq!(license.data().unwrap(), b"GPL\0");
        let maps_section = match style {
            MapStyle::Legacy => "maps",
            MapStyle::Btf => ".maps",
        };
        assert!(file.section_by_name(maps_section).is_some());
        assert_eq!(
            file.section_by_name(".BTF").is_some(),
            style == MapStyle::Btf
        );
        let rodata = file.section_by_name(".rodata").unwrap();
        assert_eq!(&rodata.data().unwrap()[..4], &[0xef, 0xbe, 0xad, 0xde]);

        let symbol = |name: &str| file.symbols().find(|s| s.name() == Ok(name)).unwrap();
        let program = symbol("update_results");
        assert_eq!(program.kind(), SymbolKind::Text);
        assert!(program.is_global());
        let xdp = file.section_by_name("xdp").unwrap();
        assert_eq!(program.size(), xdp.size());
        assert_eq!(symbol("add_forty").kind(), SymbolKind::Text);
        assert!(symbol("add_forty").size() > 0);
        assert_eq!(symbol("results").kind(), SymbolKind::Data);

        assert_eq!(
            relocations(&file, "xdp"),
            [
                ("add_forty".to_owned(), R_BPF_64_32),
                ("results".to_owned(), R_BPF_64_64),
                ("magic".to_owned(), R_BPF_64_64),
                ("results".to_owned(), R_BPF_64_64),
                ("hits".to_owned(), R_BPF_64_64),
            ]
        );
        assert_eq!(
            relocations(&file, ".text"),
            [
                ("plus_twenty".to_owned(), R_BPF_64_32),
                ("plus_twenty".to_owned(), R_BPF_64_32),
            ]
        );
    }
}

#[test]
fn legacy_map_definitions_are_struct_bpf_map_def() {
    let elf = fixture(MapStyle::Legacy);
    let file = object::File::parse(&*elf).unwrap();
    let maps = file
        .section_by_name("maps")
        .unwrap()
        .data()
        .unwrap()
        .to_vec();
    let words: Vec<u32> = maps
        .chunks(4)
        .map(|word| u32::from_le_bytes(word.try_into().unwrap()))
        .collect();
    // results: array, key 4, value 8, 2 entries, no flags; then hits.
    assert_eq!(words, [2, 4, 8, 2, 0, 2, 4, 8, 1, 0]);
}

#[test]
fn llvm_objdump_disassembles_and_lists_relocations() {
    let dir = TempPath::dir("bpfhook-asm-objdump");
    let path = dir.path().join("update.o");
    std::fs::write(&path, fixture(MapStyle::Btf)).unwrap();
    let output = Command::new("llvm-objdump")
        .args(["-d", "-r"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "{stderr}");
    for expected in [
        "file format elf64-bpf",
        "Disassembly of section xdp:",
        "<update_results>:",
        "Disassembly of section .text:",
        "<add_forty>:",
        "<plus_twenty>:",
        "R_BPF_64_64\tresults",
        "R_BPF_64_64\tmagic",
        "R_BPF_64_32\tadd_forty",
        "lock *(u64 *)(r0 + 0) += r1",
        "exit",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
}

#[test]
fn programs_sharing_a_section_name_share_the_section() {
    let mut object = ObjectSpec::new("GPL");
    for name in ["first", "second"] {
        let mut b = Builder::new();
        b.mov64_imm(R0, 2).exit();
        object.programs.push(ProgramSpec {
            section: "xdp".to_owned(),
            name: name.to_owned(),
            program: b.finish().unwrap(),
        });
    }
    let elf = object.to_elf().unwrap();
    let file = object::File::parse(&*elf).unwrap();
    assert_eq!(file.sections().filter(|s| s.name() == Ok("xdp")).count(), 1);
    let second = file.symbols().find(|s| s.name() == Ok("second")).unwrap();
    assert_eq!((second.address(), second.size()), (16, 16));
    let ebpf = aya::Ebpf::load(&elf).unwrap();
    assert_eq!(ebpf.programs().count(), 2);
}
