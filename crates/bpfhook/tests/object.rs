//! Objects: every section name bpfhook accepts parses to its hook and loads through aya after
//! normalisation (BTF.ext records and CO-RE relocations included); bad bytes are errors, never
//! panics.

use aya::programs::{ProgramType, SchedClassifier, Xdp};
use aya::EbpfLoader;
use bpfhook::kernel::btf::kernel_btf;
use bpfhook::object::{ObjectError, ObjectFile};
use bpfhook_testkit::bpf_fixture;

/// (program, hook as displayed, program type aya must see).
const SECTIONS: &[(&str, &str, ProgramType)] = &[
    ("s_tc", "tc", ProgramType::SchedClassifier),
    (
        "s_tracepoint",
        "tracepoint:syscalls:sys_enter_execve",
        ProgramType::TracePoint,
    ),
    (
        "s_tp",
        "tracepoint:syscalls:sys_enter_openat",
        ProgramType::TracePoint,
    ),
    (
        "s_raw_tracepoint",
        "rawtracepoint:sys_enter",
        ProgramType::RawTracePoint,
    ),
    (
        "s_raw_tp",
        "rawtracepoint:sys_exit",
        ProgramType::RawTracePoint,
    ),
    ("s_kprobe", "kprobe:do_sys_openat2", ProgramType::KProbe),
    (
        "s_kretprobe",
        "kretprobe:do_sys_openat2",
        ProgramType::KProbe,
    ),
    ("s_uprobe", "uprobe:readline", ProgramType::KProbe),
    ("s_uretprobe", "uretprobe:readline", ProgramType::KProbe),
    (
        "s_uprobe_path",
        "uprobe:/bin/bash:readline",
        ProgramType::KProbe,
    ),
    (
        "s_uprobe_off",
        "uprobe:libc.so.6:malloc+0x4",
        ProgramType::KProbe,
    ),
    ("s_fentry", "fentry:do_sys_openat2", ProgramType::Tracing),
    ("s_fexit", "fexit:do_sys_openat2", ProgramType::Tracing),
    (
        "s_lsm",
        "lsm:file_open",
        ProgramType::Lsm(aya::programs::LsmAttachType::Mac),
    ),
    ("s_xdp", "xdp", ProgramType::Xdp),
    ("s_xdp_frags", "xdp", ProgramType::Xdp),
    ("s_tc_ingress", "tc:ingress", ProgramType::SchedClassifier),
    ("s_tc_egress", "tc:egress", ProgramType::SchedClassifier),
    ("s_tcx_ingress", "tc:ingress", ProgramType::SchedClassifier),
    ("s_tcx_egress", "tc:egress", ProgramType::SchedClassifier),
    ("s_classifier", "tc", ProgramType::SchedClassifier),
    (
        "s_classifier_in",
        "tc:ingress",
        ProgramType::SchedClassifier,
    ),
    ("s_classifier_eg", "tc:egress", ProgramType::SchedClassifier),
    ("s_socket", "socket", ProgramType::SocketFilter),
    ("s_socket_any", "socket", ProgramType::SocketFilter),
    ("s_sockops", "sockops", ProgramType::SockOps),
    ("s_cgskb_in", "cgroup_skb:ingress", ProgramType::CgroupSkb),
    ("s_cgskb_eg", "cgroup_skb:egress", ProgramType::CgroupSkb),
    (
        "s_cg_sock_create",
        "cgroup:sock_create",
        ProgramType::CgroupSock,
    ),
    (
        "s_cg_sock_release",
        "cgroup:sock_release",
        ProgramType::CgroupSock,
    ),
    (
        "s_cg_post_bind4",
        "cgroup:post_bind4",
        ProgramType::CgroupSock,
    ),
    ("s_cg_bind4", "cgroup:bind4", ProgramType::CgroupSockAddr),
    (
        "s_cg_connect4",
        "cgroup:connect4",
        ProgramType::CgroupSockAddr,
    ),
    (
        "s_cg_connect6",
        "cgroup:connect6",
        ProgramType::CgroupSockAddr,
    ),
    (
        "s_cg_sendmsg4",
        "cgroup:sendmsg4",
        ProgramType::CgroupSockAddr,
    ),
    (
        "s_cg_recvmsg4",
        "cgroup:recvmsg4",
        ProgramType::CgroupSockAddr,
    ),
    (
        "s_cg_getsockname4",
        "cgroup:getsockname4",
        ProgramType::CgroupSockAddr,
    ),
    (
        "s_cg_getpeername4",
        "cgroup:getpeername4",
        ProgramType::CgroupSockAddr,
    ),
    ("s_cg_sysctl", "cgroup:sysctl", ProgramType::CgroupSysctl),
    (
        "s_cg_getsockopt",
        "cgroup:getsockopt",
        ProgramType::CgroupSockopt,
    ),
    (
        "s_cg_setsockopt",
        "cgroup:setsockopt",
        ProgramType::CgroupSockopt,
    ),
    ("s_cg_dev", "cgroup:dev", ProgramType::CgroupDevice),
    ("s_perf_event", "perf_event", ProgramType::PerfEvent),
];

#[test]
fn every_section_name_parses_to_its_hook() {
    let object = ObjectFile::from_path(bpf_fixture("sections")).expect("sections fixture parses");
    assert_eq!(
        object.programs().len(),
        SECTIONS.len(),
        "{:?}",
        object.programs()
    );
    for (program, hook, _) in SECTIONS {
        let spec = object
            .program(program)
            .unwrap_or_else(|| panic!("{program} missing"));
        assert_eq!(
            spec.hook.to_string(),
            *hook,
            "{program} in `{}`",
            spec.section
        );
    }
}

#[test]
fn every_section_name_loads_through_aya_after_normalisation() {
    let object = ObjectFile::from_path(bpf_fixture("sections")).expect("parses");
    let mut ebpf = EbpfLoader::new()
        .btf(kernel_btf().ok())
        .load(object.loader_bytes())
        .expect("aya accepts every normalised section");
    for (program, _, expected) in SECTIONS {
        let loaded = ebpf
            .program(program)
            .unwrap_or_else(|| panic!("aya lost {program}"));
        assert_eq!(loaded.prog_type(), *expected, "{program}");
    }
    // The renamed sections go through the verifier; `s_tc` carries a CO-RE relocation that aya
    // finds by section name, so this fails if the BTF.ext records were not renamed too.
    for name in [
        "s_tc",
        "s_tc_ingress",
        "s_tc_egress",
        "s_tcx_ingress",
        "s_tcx_egress",
        "s_classifier",
    ] {
        let program: &mut SchedClassifier = ebpf
            .program_mut(name)
            .expect("present")
            .try_into()
            .expect("classifier");
        program.load().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in ["s_xdp", "s_xdp_frags"] {
        let program: &mut Xdp = ebpf
            .program_mut(name)
            .expect("present")
            .try_into()
            .expect("xdp");
        program.load().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn xdp_ingress_is_renamed_and_loads() {
    let object = ObjectFile::from_path(bpf_fixture("xdp_ingress")).expect("parses");
    assert_eq!(object.programs()[0].section, "xdp/ingress");
    let mut ebpf = EbpfLoader::new()
        .load(object.loader_bytes())
        .expect("loads");
    let program: &mut Xdp = ebpf
        .program_mut("xdp_ingress_pass")
        .expect("present")
        .try_into()
        .expect("xdp");
    program.load().expect("verifier accepts it");
}

#[test]
fn sections_that_would_load_under_one_name_are_a_clear_error() {
    let err = ObjectFile::from_path(bpf_fixture("xdp_clash")).expect_err("clash");
    let message = err.to_string();
    assert!(
        message.contains("`xdp`, `xdp/ingress` all load as `xdp`"),
        "{message}"
    );
}

#[test]
fn unknown_sections_name_the_program_and_section() {
    let err = ObjectFile::from_path(bpf_fixture("unknown_section")).expect_err("unknown");
    assert!(matches!(err, ObjectError::Section { .. }));
    let message = err.to_string();
    assert!(
        message.starts_with("program `teleport`: unknown section `teleport/now`"),
        "{message}"
    );
}

#[test]
fn damaged_objects_are_errors_never_panics() {
    let objects =
        ["sections", "net", "tracing"].map(|f| std::fs::read(bpf_fixture(f)).expect("fixture"));
    for bytes in &objects {
        // Every truncation point, and single-byte corruption at many offsets.
        for len in (0..bytes.len()).step_by(7) {
            let _ = ObjectFile::parse(&bytes[..len]);
        }
        for offset in (0..bytes.len()).step_by(5) {
            let mut damaged = bytes.clone();
            damaged[offset] ^= 0xff;
            let _ = ObjectFile::parse(&damaged);
        }
    }
    assert!(matches!(ObjectFile::parse(b""), Err(ObjectError::Empty)));
    assert!(matches!(
        ObjectFile::parse(b"hello"),
        Err(ObjectError::NotElf(_))
    ));
    let true_binary = std::fs::read("/bin/true").expect("/bin/true");
    assert!(matches!(
        ObjectFile::parse(&true_binary),
        Err(ObjectError::NotBpf(_))
    ));
}
