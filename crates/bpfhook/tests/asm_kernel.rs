//! Assembled programs run in the real kernel: loaded through aya (legacy
//! `maps`) and through bpftool/libbpf (BTF `.maps`), executed once with
//! BPF_PROG_TEST_RUN, their map writes read back. Needs root, clang-free.
//! Everything is owned by guards, so nothing stays loaded or pinned.

#[path = "asm/support.rs"]
mod support;

use std::os::fd::AsFd;
use std::process::Command;

use aya::maps::Array;
use aya::programs::{SocketFilter, Xdp};
use aya::Ebpf;
use bpfhook::asm::text::{parse_object, print_object};
use bpfhook::asm::*;
use support::{map_lookup, open_pin, packet, test_run, TempPath};

const XDP_PASS: u32 = 2;
const MAGIC: u64 = 0xdead_beef;

fn fixture() -> ObjectSpec {
    parse_object(include_str!("asm/xdp_update.s")).expect("fixture parses")
}

/// Loads `elf` with aya, runs `update_results` once, and checks what it wrote.
fn run_with_aya(elf: &[u8]) {
    let mut ebpf = Ebpf::load(elf).expect("aya loads the object");
    let program: &mut Xdp = ebpf
        .program_mut("update_results")
        .expect("program present")
        .try_into()
        .expect("an XDP program");
    program.load().expect("verifier accepts the program");
    let fd = program.fd().expect("loaded program fd");
    for _ in 0..2 {
        assert_eq!(test_run(fd.as_fd(), &packet()).expect("test run"), XDP_PASS);
    }

    let results: Array<_, u64> = Array::try_from(ebpf.map("results").expect("map")).unwrap();
    assert_eq!(
        results.get(&0, 0).unwrap(),
        42,
        "bpf-to-bpf calls computed 2 + 20 + 20"
    );
    assert_eq!(
        results.get(&1, 0).unwrap(),
        MAGIC,
        ".rodata relocation read the constant"
    );
    let hits: Array<_, u64> = Array::try_from(ebpf.map("hits").expect("map")).unwrap();
    assert_eq!(
        hits.get(&0, 0).unwrap(),
        2,
        "atomic add ran once per test run"
    );
}

#[test]
fn text_assembled_object_runs_through_aya_with_legacy_maps() {
    let object = fixture();
    assert_eq!(object.map_style, MapStyle::Legacy);
    run_with_aya(&object.to_elf().unwrap());
}

#[test]
fn btf_maps_object_runs_through_aya() {
    let mut object = fixture();
    object.map_style = MapStyle::Btf;
    run_with_aya(&object.to_elf().unwrap());
}

/// The writer's object through bpfhook's own path: ObjectFile, then the Manager attaching it as
/// XDP on a veth; a test run then proves the bpf-to-bpf call and the map relocations work.
#[test]
fn assembled_object_runs_through_the_manager() {
    let veth = bpfhook_testkit::VethPair::new();
    let object = bpfhook::object::ObjectFile::parse(&fixture().to_elf().unwrap())
        .expect("ObjectFile parses it");
    let options = bpfhook::attach::AttachOptions {
        iface: Some(veth.host.clone()),
        xdp_mode: bpfhook::attach::XdpMode::Generic,
        ..Default::default()
    };
    let manager = bpfhook::manager::ManagerBuilder::new(&object)
        .options(options)
        .attach()
        .expect("the Manager attaches it");
    let program = manager.program("update_results").expect("program present");
    assert_eq!(test_run(program, &packet()).expect("test run"), XDP_PASS);
    let results: Array<_, u64> = Array::try_from(manager.map("results").expect("map")).unwrap();
    assert_eq!(
        results.get(&0, 0).unwrap(),
        42,
        "bpf-to-bpf call computed 2 + 20 + 20"
    );
    assert_eq!(
        results.get(&1, 0).unwrap(),
        MAGIC,
        ".rodata relocation read the constant"
    );
}

#[test]
fn printed_object_reassembles_to_the_same_elf() {
    let object = fixture();
    let reparsed = parse_object(&print_object(&object)).unwrap();
    assert_eq!(reparsed, object);
    assert_eq!(reparsed.to_elf().unwrap(), object.to_elf().unwrap());
}

#[test]
fn bpftool_loadall_accepts_btf_maps_object_and_it_runs() {
    let mut object = fixture();
    object.map_style = MapStyle::Btf;
    let scratch = TempPath::dir("bpfhook-asm-elf");
    let path = scratch.path().join("update.o");
    std::fs::write(&path, object.to_elf().unwrap()).unwrap();

    let programs = support::bpffs_path("bpfhook-asm-progs");
    let maps = support::bpffs_path("bpfhook-asm-maps");
    let output = Command::new("bpftool")
        .arg("prog")
        .arg("loadall")
        .arg(&path)
        .arg(programs.path())
        .arg("pinmaps")
        .arg(maps.path())
        .output()
        .expect("run bpftool");
    assert!(
        output.status.success(),
        "bpftool prog loadall failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let program = open_pin(&programs.path().join("update_results")).expect("pinned program");
    assert_eq!(test_run(program.as_fd(), &packet()).unwrap(), XDP_PASS);
    let results = open_pin(&maps.path().join("results")).expect("pinned map");
    let value = |key: u32| {
        let bytes = map_lookup(results.as_fd(), &key.to_ne_bytes(), 8).unwrap();
        u64::from_ne_bytes(bytes.try_into().unwrap())
    };
    assert_eq!(value(0), 42);
    assert_eq!(value(1), MAGIC);
}

#[test]
fn builder_made_socket_filter_runs() {
    // A socket filter checking the IP version byte with the legacy packet
    // load (socket filters see the packet from the network header on):
    // proves the LD_ABS encoding, the builder's labels and a Rust-built object.
    let mut b = Builder::new();
    b.mov64_reg(R6, R1)
        .ld_abs(Size::B, 0)
        .jmp_imm(JmpOp::Jeq, R0, 0x45, "ipv4")
        .mov64_imm(R0, 0)
        .exit()
        .label("ipv4")
        .mov64_imm(R0, 7)
        .exit();
    let mut object = ObjectSpec::new("GPL");
    object.programs.push(ProgramSpec {
        section: "socket".to_owned(),
        name: "ethertype".to_owned(),
        program: b.finish().unwrap(),
    });
    let mut ebpf = Ebpf::load(&object.to_elf().unwrap()).unwrap();
    let program: &mut SocketFilter = ebpf.program_mut("ethertype").unwrap().try_into().unwrap();
    program.load().unwrap();
    let fd = program.fd().unwrap();
    assert_eq!(test_run(fd.as_fd(), &packet()).unwrap(), 7);
}

#[test]
fn far_jumps_verify_and_run() {
    // Jumps past the 16-bit reach both ways: the far conditional jump is taken (the packet is
    // not empty), adds 2, and a far `goto` comes back over the filler to the exit. 42 proves
    // both ran; 40 would mean the fall-through path.
    let mut b = Builder::new();
    b.ldx(Size::W, R2, R1, 0) // skb->len: unknown to the verifier, so both paths are checked
        .mov64_imm(R0, 40)
        .jmp_imm(JmpOp::Jgt, R2, 0, "far")
        .label("back");
    for _ in 0..40_000 {
        b.mov64_imm(R3, 0);
    }
    b.exit()
        .label("far")
        .alu64_imm(AluOp::Add, R0, 2)
        .ja("back");
    let program = b.finish().unwrap();
    assert!(program
        .insns
        .iter()
        .any(|i| matches!(i, Insn::Gotol { .. })));
    let mut object = ObjectSpec::new("GPL");
    object.programs.push(ProgramSpec {
        section: "socket".to_owned(),
        name: "far_jumps".to_owned(),
        program,
    });
    let mut ebpf = Ebpf::load(&object.to_elf().unwrap()).unwrap();
    let program: &mut SocketFilter = ebpf.program_mut("far_jumps").unwrap().try_into().unwrap();
    program.load().expect("the verifier accepts gotol");
    let fd = program.fd().unwrap();
    assert_eq!(test_run(fd.as_fd(), &packet()).unwrap(), 42);
}
