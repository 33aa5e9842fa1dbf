//! Objects: every section name bpfhook accepts parses to its hook and loads through our loader
//! after normalisation (BTF.ext records and CO-RE relocations included); bad bytes are errors,
//! never panics.

use aya_obj::generated::bpf_prog_type::{self as t, *};
use bpfhook::loader::LoadedObject;
use bpfhook::object::{ObjectError, ObjectFile};
use bpfhook_testkit::bpf_fixture;

/// (program, hook as displayed, program type the kernel must report).
const SECTIONS: &[(&str, &str, t)] = &[
    ("s_tc", "tc", BPF_PROG_TYPE_SCHED_CLS),
    (
        "s_tracepoint",
        "tracepoint:syscalls:sys_enter_execve",
        BPF_PROG_TYPE_TRACEPOINT,
    ),
    (
        "s_tp",
        "tracepoint:syscalls:sys_enter_openat",
        BPF_PROG_TYPE_TRACEPOINT,
    ),
    (
        "s_raw_tracepoint",
        "rawtracepoint:sys_enter",
        BPF_PROG_TYPE_RAW_TRACEPOINT,
    ),
    (
        "s_raw_tp",
        "rawtracepoint:sys_exit",
        BPF_PROG_TYPE_RAW_TRACEPOINT,
    ),
    ("s_kprobe", "kprobe:do_sys_openat2", BPF_PROG_TYPE_KPROBE),
    (
        "s_kretprobe",
        "kretprobe:do_sys_openat2",
        BPF_PROG_TYPE_KPROBE,
    ),
    ("s_uprobe", "uprobe:readline", BPF_PROG_TYPE_KPROBE),
    ("s_uretprobe", "uretprobe:readline", BPF_PROG_TYPE_KPROBE),
    (
        "s_uprobe_path",
        "uprobe:/bin/bash:readline",
        BPF_PROG_TYPE_KPROBE,
    ),
    (
        "s_uprobe_off",
        "uprobe:libc.so.6:malloc+0x4",
        BPF_PROG_TYPE_KPROBE,
    ),
    ("s_fentry", "fentry:do_sys_openat2", BPF_PROG_TYPE_TRACING),
    ("s_fexit", "fexit:do_sys_openat2", BPF_PROG_TYPE_TRACING),
    ("s_lsm", "lsm:file_open", BPF_PROG_TYPE_LSM),
    ("s_xdp", "xdp", BPF_PROG_TYPE_XDP),
    ("s_xdp_frags", "xdp", BPF_PROG_TYPE_XDP),
    ("s_tc_ingress", "tc:ingress", BPF_PROG_TYPE_SCHED_CLS),
    ("s_tc_egress", "tc:egress", BPF_PROG_TYPE_SCHED_CLS),
    ("s_tcx_ingress", "tc:ingress", BPF_PROG_TYPE_SCHED_CLS),
    ("s_tcx_egress", "tc:egress", BPF_PROG_TYPE_SCHED_CLS),
    ("s_classifier", "tc", BPF_PROG_TYPE_SCHED_CLS),
    ("s_classifier_in", "tc:ingress", BPF_PROG_TYPE_SCHED_CLS),
    ("s_classifier_eg", "tc:egress", BPF_PROG_TYPE_SCHED_CLS),
    ("s_socket", "socket", BPF_PROG_TYPE_SOCKET_FILTER),
    ("s_socket_any", "socket", BPF_PROG_TYPE_SOCKET_FILTER),
    ("s_sockops", "sockops", BPF_PROG_TYPE_SOCK_OPS),
    ("s_cgskb_in", "cgroup_skb:ingress", BPF_PROG_TYPE_CGROUP_SKB),
    ("s_cgskb_eg", "cgroup_skb:egress", BPF_PROG_TYPE_CGROUP_SKB),
    (
        "s_cg_sock_create",
        "cgroup:sock_create",
        BPF_PROG_TYPE_CGROUP_SOCK,
    ),
    (
        "s_cg_sock_release",
        "cgroup:sock_release",
        BPF_PROG_TYPE_CGROUP_SOCK,
    ),
    (
        "s_cg_post_bind4",
        "cgroup:post_bind4",
        BPF_PROG_TYPE_CGROUP_SOCK,
    ),
    ("s_cg_bind4", "cgroup:bind4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR),
    (
        "s_cg_connect4",
        "cgroup:connect4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    ),
    (
        "s_cg_connect6",
        "cgroup:connect6",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    ),
    (
        "s_cg_sendmsg4",
        "cgroup:sendmsg4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    ),
    (
        "s_cg_recvmsg4",
        "cgroup:recvmsg4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    ),
    (
        "s_cg_getsockname4",
        "cgroup:getsockname4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    ),
    (
        "s_cg_getpeername4",
        "cgroup:getpeername4",
        BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    ),
    ("s_cg_sysctl", "cgroup:sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL),
    (
        "s_cg_getsockopt",
        "cgroup:getsockopt",
        BPF_PROG_TYPE_CGROUP_SOCKOPT,
    ),
    (
        "s_cg_setsockopt",
        "cgroup:setsockopt",
        BPF_PROG_TYPE_CGROUP_SOCKOPT,
    ),
    ("s_cg_dev", "cgroup:dev", BPF_PROG_TYPE_CGROUP_DEVICE),
    ("s_perf_event", "perf_event", BPF_PROG_TYPE_PERF_EVENT),
    ("s_sk_msg", "sk_msg", BPF_PROG_TYPE_SK_MSG),
    (
        "s_sk_skb_parser",
        "sk_skb:stream_parser",
        BPF_PROG_TYPE_SK_SKB,
    ),
    (
        "s_sk_skb_verdict",
        "sk_skb:stream_verdict",
        BPF_PROG_TYPE_SK_SKB,
    ),
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
fn every_section_name_loads_through_our_loader_after_normalisation() {
    let object = ObjectFile::from_path(bpf_fixture("sections")).expect("parses");
    let loaded = LoadedObject::load(object.loader_bytes()).expect("the normalised object loads");
    for (program, _, expected) in SECTIONS {
        assert!(
            loaded.section(program).is_some(),
            "the loader lost {program}"
        );
        // Programs attached through BTF load only with their target (the hook tests do that).
        if matches!(expected, BPF_PROG_TYPE_TRACING | BPF_PROG_TYPE_LSM) {
            continue;
        }
        // Through the verifier. `s_tc` carries a CO-RE relocation found by section name, so it
        // fails if the BTF.ext records were not renamed with their sections.
        let fd = loaded
            .load_program(program, bpfhook::loader::LoadFor::Section)
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let info = bpfhook::sys::prog_info(std::os::fd::AsFd::as_fd(&fd), &mut [], &mut [])
            .expect("program info");
        assert_eq!(info.type_, *expected as u32, "{program}");
    }
}

#[test]
fn xdp_ingress_is_renamed_and_loads() {
    let object = ObjectFile::from_path(bpf_fixture("xdp_ingress")).expect("parses");
    assert_eq!(object.programs()[0].section, "xdp/ingress");
    let loaded = LoadedObject::load(object.loader_bytes()).expect("loads");
    loaded
        .load_program("xdp_ingress_pass", bpfhook::loader::LoadFor::Section)
        .expect("verifier accepts it");
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
