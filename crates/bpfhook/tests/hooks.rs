//! One test per hook kind on the real kernel: attach a fixture through the Manager, make the
//! hook fire, and prove the program ran by reading its counter map. Kinds this kernel may refuse
//! (kprobe, fentry/fexit, LSM) assert success or the clear error, as a feature probe decides.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aya::maps::HashMap;
use bpfhook::attach::{AttachOptions, PerfEventKind, TcMode, XdpMode};
use bpfhook::kernel::features::{self, Feature};
use bpfhook::manager::{Manager, ManagerBuilder, ManagerError, ProgramState};
use bpfhook::object::ObjectFile;
use bpfhook_testkit::{bpf_fixture, program_loaded, sh, test_binary, TempCgroup, VethPair};

fn attach(
    fixture: &str,
    programs: &[&str],
    options: AttachOptions,
) -> Result<Manager, ManagerError> {
    let object = ObjectFile::from_path(bpf_fixture(fixture)).expect("fixture parses");
    ManagerBuilder::new(&object)
        .options(options)
        .select(programs.iter().copied())
        .attach()
}

fn count(manager: &Manager, map: &str, key: u32) -> u64 {
    let map: HashMap<_, u32, u64> =
        HashMap::try_from(manager.map(map).expect("map exists")).expect("u32 → u64 hash");
    map.get(&key, 0).unwrap_or(0)
}

/// Waits until the counter reaches `at_least` (events can land a moment after the trigger).
fn wait_count(manager: &Manager, map: &str, key: u32, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = count(manager, map, key);
        if n >= at_least || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_true() -> u32 {
    let mut child = Command::new("/bin/true")
        .spawn()
        .expect("spawning /bin/true");
    let pid = child.id();
    child.wait().expect("waiting for /bin/true");
    pid
}

#[test]
fn tracepoint_counts_execve_of_our_child() {
    let manager = attach("tracing", &["tp_execve"], AttachOptions::default()).expect("attach");
    let pid = run_true();
    assert!(
        wait_count(&manager, "counts", pid, 1) >= 1,
        "no execve seen for pid {pid}"
    );
}

#[test]
fn raw_tracepoint_counts_syscalls_of_our_child() {
    let manager =
        attach("tracing", &["rawtp_sys_enter"], AttachOptions::default()).expect("attach");
    let pid = run_true();
    assert!(
        wait_count(&manager, "raw_counts", pid, 1) >= 1,
        "no syscall seen for pid {pid}"
    );
}

#[test]
fn uprobe_and_uretprobe_fire_for_one_process() {
    let binary = test_binary("uprobe_target");
    let mut target = Command::new(&binary)
        .arg("3")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawning the uprobe target");
    let options = AttachOptions {
        binary: Some(binary.display().to_string()),
        pid: Some(target.id()),
        ..AttachOptions::default()
    };
    let result = attach("uprobe", &["up_enter", "up_return"], options);
    // The target waits for a line: release it whatever happened, so it never lingers.
    let _ = target.stdin.take().map(|mut s| s.write_all(b"go\n"));
    let manager = result.expect("attach");
    assert!(target.wait().expect("target exits").success());
    // The pid filter makes the counts exact: three calls, three returns.
    assert_eq!(wait_count(&manager, "counts", 1, 3), 3, "uprobe entries");
    assert_eq!(wait_count(&manager, "counts", 2, 3), 3, "uretprobe returns");
}

/// One uprobe.multi link on both functions its glob matches, each told apart by its cookie;
/// where the kernel lacks these links (before 6.6), the clear error.
#[test]
fn uprobe_multi_link_fires_for_every_matched_function() {
    let binary = test_binary("uprobe_target");
    let mut target = Command::new(&binary)
        .arg("3")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawning the uprobe target");
    let options = AttachOptions {
        binary: Some(binary.display().to_string()),
        pid: Some(target.id()),
        ..AttachOptions::default()
    };
    let result = attach("uprobe", &["up_multi"], options);
    let _ = target.stdin.take().map(|mut s| s.write_all(b"go\n"));
    assert!(target.wait().expect("target exits").success());
    if let Err(missing) = features::check(Feature::UprobeMulti) {
        let error = match result {
            Ok(_) => panic!("attached without uprobe.multi links"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(&missing.to_string()), "{error}");
        return;
    }
    let manager = result.expect("attach");
    let status = manager.status().iter().find(|s| s.name == "up_multi");
    let Some(ProgramState::Attached(link)) = status.map(|s| &s.state) else {
        panic!("up_multi not attached: {:?}", manager.status());
    };
    let link = link.to_string();
    assert!(
        link.contains("{bpfhook_target_fn,bpfhook_target_more}"),
        "{link}"
    );
    // Cookies follow the link's (sorted) function order: _fn is 0, _more is 1.
    assert_eq!(
        wait_count(&manager, "counts", 10, 3),
        3,
        "bpfhook_target_fn"
    );
    assert_eq!(
        wait_count(&manager, "counts", 11, 3),
        3,
        "bpfhook_target_more"
    );
}

fn xdp_sees_udp(mode: XdpMode) {
    let veth = VethPair::new();
    let options = AttachOptions {
        iface: Some(veth.host.clone()),
        xdp_mode: mode,
        ..AttachOptions::default()
    };
    let manager = attach("net", &["xdp_udp"], options).expect("attach");
    veth.udp_to_host(9999, 5);
    assert!(
        wait_count(&manager, "counts", 1, 5) >= 5,
        "XDP ({mode:?}) did not see 5 UDP packets"
    );
}

#[test]
fn xdp_native_on_veth() {
    xdp_sees_udp(XdpMode::Native);
}

#[test]
fn xdp_generic_on_veth() {
    xdp_sees_udp(XdpMode::Generic);
}

#[test]
fn tc_ingress_and_egress_on_veth() {
    let veth = VethPair::new();
    let options = AttachOptions {
        iface: Some(veth.host.clone()),
        ..AttachOptions::default()
    };
    let manager = attach("net", &["tc_in_udp", "tc_out_udp"], options).expect("attach");
    veth.udp_to_host(9999, 4);
    veth.udp_to_peer(9999, 6);
    assert!(wait_count(&manager, "counts", 2, 4) >= 4, "TC ingress");
    assert!(wait_count(&manager, "counts", 3, 6) >= 6, "TC egress");
}

/// The netlink path (kernels before tcx, or `--tc-mode netlink`): cls_bpf filters on clsact,
/// counted with real traffic; afterwards the interface is as it was: the filters are gone, and
/// the qdisc too unless it was there before.
fn tc_through_netlink(qdisc_before: bool) {
    let veth = VethPair::new();
    let iface = veth.host.as_str();
    if qdisc_before {
        sh("tc", &["qdisc", "add", "dev", iface, "clsact"]);
    }
    let options = AttachOptions {
        iface: Some(iface.to_owned()),
        tc_mode: TcMode::Netlink,
        ..AttachOptions::default()
    };
    let manager = attach("net", &["tc_in_udp", "tc_out_udp"], options).expect("attach");
    for direction in ["ingress", "egress"] {
        let filters = sh("tc", &["filter", "show", "dev", iface, direction]);
        assert!(filters.contains("direct-action"), "{direction}: {filters}");
    }
    veth.udp_to_host(9999, 4);
    veth.udp_to_peer(9999, 6);
    assert!(wait_count(&manager, "counts", 2, 4) >= 4, "TC ingress");
    assert!(wait_count(&manager, "counts", 3, 6) >= 6, "TC egress");
    drop(manager);
    for direction in ["ingress", "egress"] {
        let filters = sh("tc", &["filter", "show", "dev", iface, direction]);
        assert!(filters.trim().is_empty(), "{direction} kept: {filters}");
    }
    let qdiscs = sh("tc", &["qdisc", "show", "dev", iface]);
    assert_eq!(qdiscs.contains("clsact"), qdisc_before, "{qdiscs}");
}

#[test]
fn tc_through_netlink_adds_and_removes_its_qdisc() {
    tc_through_netlink(false);
}

#[test]
fn tc_through_netlink_leaves_a_qdisc_that_was_there() {
    tc_through_netlink(true);
}

#[test]
fn socket_filter_sees_frames_on_its_interface() {
    let veth = VethPair::new();
    let options = AttachOptions {
        iface: Some(veth.host.clone()),
        ..AttachOptions::default()
    };
    let manager = attach("socket", &["sock_count"], options).expect("attach");
    veth.udp_to_host(9999, 5);
    assert!(wait_count(&manager, "counts", 1, 5) >= 5, "socket filter");
}

#[test]
fn sk_msg_and_sk_skb_run_for_the_sockets_in_the_sockmap() {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    let manager = attach(
        "sockmap",
        &["msg_count", "skb_parser", "skb_verdict"],
        AttachOptions::default(),
    )
    .expect("attach");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let mut client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let sock_map = bpfhook::maps::fd(manager.map("sock_map").expect("sock_map"));
    for (slot, socket) in [(0u32, client.as_raw_fd()), (1, server.as_raw_fd())] {
        bpfhook::sys::map_update(
            sock_map,
            &slot.to_ne_bytes(),
            &(socket as u32).to_ne_bytes(),
            0,
        )
        .expect("socket into the sockmap");
    }
    client.write_all(b"hello").expect("send");
    let mut received = [0u8; 5];
    server
        .read_exact(&mut received)
        .expect("the verdict passed the data on");
    assert_eq!(&received, b"hello");
    assert!(count(&manager, "counts", 1) >= 1, "sk_msg did not run");
    assert!(
        count(&manager, "counts", 2) >= 1,
        "sk_skb verdict did not run"
    );
}

#[test]
fn sk_msg_without_a_sockmap_is_a_clear_error() {
    let err = match attach("sections", &["s_sk_msg"], AttachOptions::default()) {
        Ok(_) => panic!("attached without a sockmap"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("sockmap or sockhash"), "{err}");
    assert!(err.contains("s_sk_msg"), "{err}");
    assert!(!program_loaded("s_sk_msg"), "s_sk_msg stayed loaded");
}

#[test]
fn sockops_and_cgroup_skb_on_a_temporary_cgroup() {
    let cgroup = TempCgroup::new();
    let options = AttachOptions {
        cgroup: Some(cgroup.path.clone()),
        ..AttachOptions::default()
    };
    let manager = attach(
        "cgroup",
        &["sockops_count", "cgskb_in", "cgskb_out"],
        options,
    )
    .expect("attach");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("address").port();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; echo hello >&3");
    let mut client = cgroup.spawn(Command::new("bash").args(["-c", &script]));
    let (_conn, _) = listener.accept().expect("accepting the client");
    assert!(client.wait().expect("client exits").success());
    assert!(
        wait_count(&manager, "counts", 4, 1) >= 1,
        "sockops: no active connection established"
    );
    assert!(
        wait_count(&manager, "counts", 3, 1) >= 1,
        "cgroup_skb egress"
    );
    assert!(
        wait_count(&manager, "counts", 2, 1) >= 1,
        "cgroup_skb ingress"
    );
}

#[test]
fn perf_event_samples_cpu_clock() {
    let options = AttachOptions {
        perf_event: PerfEventKind::parse("cpu-clock").expect("known event"),
        sampling: bpfhook::attach::PerfSampling::Frequency(1000),
        ..AttachOptions::default()
    };
    let manager = attach("perf_event", &["perf_sample"], options).expect("attach");
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        std::hint::black_box(0u64.wrapping_add(1));
    }
    assert!(wait_count(&manager, "counts", 1, 1) >= 1, "no perf sample");
}

/// Success where the probe says the kernel can, the probe's clear reason where it cannot.
fn kernel_function_hook(program: &str, feature: Feature, key: u32, expected_reason: &str) {
    match (
        features::check(feature),
        attach("kernel_fn", &[program], AttachOptions::default()),
    ) {
        (Ok(()), Ok(manager)) => {
            let _ = std::fs::File::open("/etc/hostname");
            assert!(
                wait_count(&manager, "counts", key, 1) >= 1,
                "{program} attached but never ran"
            );
        }
        (Ok(()), Err(e)) => panic!("the probe says {feature:?} works, but attaching failed: {e}"),
        (Err(missing), Ok(_)) => {
            panic!("the probe says {feature:?} is missing ({missing}), yet it attached")
        }
        (Err(missing), Err(e)) => {
            let message = e.to_string();
            assert!(
                message.contains(&missing.reason),
                "error does not give the reason: {message}"
            );
            assert!(
                message.contains(expected_reason),
                "error lacks `{expected_reason}`: {message}"
            );
            assert!(
                message.contains(program),
                "error does not name the program: {message}"
            );
            assert!(
                !program_loaded(program),
                "{program} stayed loaded after the error"
            );
        }
    }
}

#[test]
fn kprobe_attaches_or_says_kprobes_are_missing() {
    kernel_function_hook("kp_openat", Feature::Kprobes, 1, "CONFIG_KPROBES");
}

#[test]
fn fentry_attaches_or_says_why_not() {
    kernel_function_hook("fentry_openat", Feature::Fentry, 2, "EPERM");
}

#[test]
fn fexit_attaches_or_says_why_not() {
    kernel_function_hook("fexit_openat", Feature::Fentry, 3, "EPERM");
}

#[test]
fn lsm_attaches_or_says_why_not() {
    kernel_function_hook("lsm_file_open", Feature::Lsm, 4, "EPERM");
}

#[test]
fn btf_tracepoint_attaches_or_says_why_not() {
    kernel_function_hook("tpbtf_sys_enter", Feature::BtfTracepoint, 5, "tp_btf");
}

#[test]
fn failure_rolls_back_what_was_attached() {
    let err = match attach(
        "bad_verifier",
        &["good_first", "bad_deref"],
        AttachOptions::default(),
    ) {
        Ok(_) => panic!("the verifier accepted a NULL dereference"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("bad_deref"), "{err}");
    assert!(err.contains("Verifier log"), "{err}");
    assert!(
        err.contains("invalid mem access"),
        "the verifier's reason is missing: {err}"
    );
    assert!(err.contains("rolled back: detached good_first"), "{err}");
    assert!(
        !program_loaded("good_first") && !program_loaded("bad_deref"),
        "programs left loaded"
    );
}

#[test]
fn missing_targets_are_named_before_loading() {
    let cases: [(&str, &str, AttachOptions, &str); 5] = [
        (
            "net",
            "xdp_udp",
            AttachOptions {
                iface: Some("nosuch0".into()),
                ..AttachOptions::default()
            },
            "network interface `nosuch0` does not exist",
        ),
        (
            "net",
            "tc_in_udp",
            AttachOptions::default(),
            "needs an interface",
        ),
        (
            "uprobe",
            "up_enter",
            AttachOptions {
                binary: Some("/nonexistent/bin".into()),
                ..AttachOptions::default()
            },
            "binary `/nonexistent/bin` does not exist",
        ),
        (
            "uprobe",
            "up_enter",
            AttachOptions {
                binary: Some("/bin/true".into()),
                ..AttachOptions::default()
            },
            "symbol `bpfhook_target_fn` does not exist",
        ),
        (
            "cgroup",
            "sockops_count",
            AttachOptions {
                cgroup: Some("/sys/fs/cgroup/unified/no-such-cgroup".into()),
                ..AttachOptions::default()
            },
            "cgroup v2 directory `/sys/fs/cgroup/unified/no-such-cgroup` does not exist",
        ),
    ];
    for (fixture, program, options, expected) in cases {
        let err = attach(fixture, &[program], options)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(expected),
            "{program}: expected `{expected}` in `{err}`"
        );
        assert!(
            !program_loaded(program),
            "{program} was loaded despite a missing target"
        );
    }
}

#[test]
fn unknown_program_selection_is_an_error() {
    let err = attach("tracing", &["nope"], AttachOptions::default())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("no program named `nope` in the object (it has: tp_execve, rawtp_sys_enter)")
    );
}

#[test]
fn keep_going_reports_failures_and_keeps_the_rest() {
    let object = ObjectFile::from_path(bpf_fixture("bad_verifier")).expect("parses");
    let manager = ManagerBuilder::new(&object)
        .keep_going(true)
        .attach()
        .expect("keep going");
    let find = |name: &str| {
        manager
            .status()
            .iter()
            .find(|s| s.name == name)
            .expect("status")
    };
    assert!(matches!(
        find("good_first").state,
        ProgramState::Attached(_)
    ));
    assert!(
        matches!(&find("bad_deref").state, ProgramState::Failed(reason) if reason.contains("invalid mem access")),
        "{:?}",
        find("bad_deref").state
    );
    run_true();
    assert!(
        wait_count(&manager, "counts", 1, 1) >= 1,
        "good_first did not run"
    );
}

/// The helper probe tells a helper the kernel has from one it lacks: map_lookup_elem (1) and
/// for_each_map_elem (164, Linux 5.13) are here on any kernel that runs these tests; no
/// kernel has helper 100000.
#[test]
fn helper_probe_tells_present_from_absent() {
    use bpfhook::asm::Helper;
    use bpfhook::kernel::features::has_helper;
    assert!(has_helper(Helper::MapLookupElem as u32));
    assert!(has_helper(Helper::ForEachMapElem as u32));
    assert!(!has_helper(100_000));
}

/// Helpers differ by program type: get_func_ip (173, Linux 5.15) is there for kprobe-type
/// programs (which uprobes are) and not for tracepoints.
#[test]
fn helper_probe_asks_the_program_type_given() {
    use bpfhook::asm::Helper;
    use bpfhook::kernel::features::{has_helper, has_helper_in, HelperContext};
    assert!(has_helper_in(
        HelperContext::Probe,
        Helper::GetFuncIp as u32
    ));
    assert!(!has_helper(Helper::GetFuncIp as u32));
    assert!(!has_helper_in(HelperContext::Probe, 100_000));
}

#[test]
fn iterator_runs_once_per_task_when_its_file_is_read() {
    let attached = attach("iter", &["iter_tasks"], AttachOptions::default());
    let manager = match (features::check(Feature::Iter), attached) {
        (Ok(()), Ok(manager)) => manager,
        (Ok(()), Err(e)) => panic!("the probe says iterators work, but attaching failed: {e}"),
        (Err(missing), result) => {
            let message = result
                .err()
                .expect("attached without iterators")
                .to_string();
            assert!(message.contains(&missing.reason), "{message}");
            return;
        }
    };
    assert_eq!(
        count(&manager, "counts", 1),
        0,
        "ran before its file was read"
    );
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut manager
            .open_iterator("iter_tasks")
            .expect("an attached iterator")
            .expect("BPF_ITER_CREATE"),
        &mut text,
    )
    .expect("reading the iterator");
    let lines: Vec<u64> = text.lines().map(|l| l.parse().expect("a number")).collect();
    // This process and its threads are tasks too: the walk is never empty.
    assert!(lines.len() >= 2, "walked {} tasks: {text}", lines.len());
    assert_eq!(
        lines,
        (0..lines.len() as u64).collect::<Vec<_>>(),
        "one line per task, in order"
    );
    assert_eq!(count(&manager, "counts", 1), lines.len() as u64);
    // A second reading walks again.
    let again = manager
        .open_iterator("iter_tasks")
        .expect("attached")
        .expect("opened");
    assert!(
        std::io::read_to_string(again)
            .expect("read")
            .lines()
            .count()
            >= 2
    );
    assert!(manager.open_iterator("no_such_program").is_none());
}

#[test]
fn an_iterator_the_kernel_lacks_is_named_before_loading() {
    let error = attach("iter", &["iter_missing"], AttachOptions::default())
        .err()
        .expect("no kernel has a no_such_iterator iterator")
        .to_string();
    assert!(
        error.contains("BPF iterator `no_such_iterator` does not exist"),
        "{error}"
    );
    assert!(!program_loaded("iter_missing"));
}
