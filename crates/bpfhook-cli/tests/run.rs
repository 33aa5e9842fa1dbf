//! `bpfhook run` as a person runs it: real objects, real hooks, real traffic, and the output
//! they would read. Each test checks the process exits as it should and leaves nothing loaded.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bpfhook_testkit::{
    bpf_fixture, example_object, program_loaded, repo_root, TempCgroup, VethPair,
};

fn bpfhook() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bpfhook"))
}

/// Runs bpfhook and returns (stdout, stderr, output), asserting no trace instance of it remains.
fn run(args: &[&str]) -> (String, String, Output) {
    let instances = Path::new("/sys/kernel/tracing/instances");
    let names = || -> Vec<String> {
        std::fs::read_dir(instances)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    // One left by an earlier, killed process with the same pid is not this run's.
    let before = names();
    let child = bpfhook()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let pid = child.id();
    let output = child.wait_with_output().expect("bpfhook runs");
    let leftover = names()
        .iter()
        .any(|n| n.starts_with(&format!("bpfhook-{pid}-")) && !before.contains(n));
    assert!(!leftover, "bpfhook {pid} left its trace instance behind");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    )
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn prebuilt_hello_prints_greetings_for_the_command() {
    let hello = repo_root().join("examples/hello.bpf.o");
    let (out, err, output) = run(&["run", path(&hello), "--", "/bin/true"]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("attached tracepoint:syscalls:sys_enter_execve (prog hello)\n"),
        "{out}"
    );
    assert!(out.contains(": Hello, eBPF World!"), "{out}");
}

#[test]
fn hello_compiled_from_the_seed_source() {
    let object = example_object("hello");
    let (out, err, output) = run(&["run", path(&object), "--", "/bin/true"]);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("Hello, eBPF World!"), "{out}");
}

#[test]
fn an_iterator_is_read_once_and_what_it_wrote_printed() {
    let object = bpf_fixture("iter");
    let (out, err, output) = run(&[
        "run",
        path(&object),
        "--duration",
        "0.1",
        "-P",
        "iter_tasks",
    ]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.contains("attached iter:task (prog iter_tasks)"),
        "{out}"
    );
    // The walk's lines (0, 1, 2…) come before the map dump, which counts the same tasks.
    let walked = out
        .lines()
        .skip(1)
        .take_while(|l| l.parse::<u64>().is_ok())
        .count();
    assert!(walked >= 2, "{out}");
    assert!(out.contains(&format!("key: 1  value: {walked}\n")), "{out}");
    assert!(!program_loaded("iter_tasks"), "iter_tasks stayed loaded");
}

#[test]
fn duration_stops_and_maps_are_printed() {
    let object = bpf_fixture("tracing");
    let (out, err, output) = run(&["run", path(&object), "--duration", "0.5", "-P", "tp_execve"]);
    assert!(output.status.success(), "{err}");
    assert!(
        out.contains("attached tracepoint:syscalls:sys_enter_execve (prog tp_execve)"),
        "{out}"
    );
    let header = out
        .lines()
        .find(|l| l.starts_with("map counts (id "))
        .unwrap_or_default();
    assert!(header.ends_with(" entries):"), "no map dump at exit: {out}");
    assert!(!program_loaded("tp_execve"), "tp_execve stayed loaded");
}

#[test]
fn sigterm_detaches_and_prints_maps() {
    let object = bpf_fixture("perf_event");
    let mut child = bpfhook()
        .args(["run", path(&object), "--frequency", "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .expect("reading the attach line");
    assert!(
        first.starts_with("attached perf_event:software:cpu-clock:1000Hz"),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("bpfhook exits");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("reading the rest");
    assert!(status.success(), "exit status {status:?}");
    assert!(rest.contains("map counts"), "{rest}");
    assert!(!program_loaded("perf_sample"), "perf_sample stayed loaded");
}

/// A shell snippet sending one UDP datagram from the peer namespace to the host end.
fn datagram_to_host(veth: &VethPair) -> String {
    format!(
        "ip netns exec {} bash -c 'echo x > /dev/udp/{}/9'",
        veth.netns, veth.host_ip
    )
}

/// Runs an example on the host end of `veth` with `extra` options while `traffic` (a shell
/// script) runs as the command; returns what it printed once it exited cleanly.
fn run_example_on_veth(example: &str, veth: &VethPair, extra: &[&str], traffic: &str) -> String {
    let object = example_object(example);
    let mut args = vec!["run", path(&object), "--iface", &veth.host];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "bash", "-c", traffic]);
    let (out, err, output) = run(&args);
    assert!(output.status.success(), "{example} {extra:?}: {err}");
    out
}

#[test]
fn seed_socket_filter_on_a_veth() {
    let veth = VethPair::new();
    let out = run_example_on_veth("socket_filter", &veth, &[], &datagram_to_host(&veth));
    assert!(
        out.contains(&format!(
            "attached socket:{} (prog socket_sock_filter)",
            veth.host
        )),
        "{out}"
    );
    assert!(out.contains("new packet received"), "{out}");
}

#[test]
fn seed_tc_classifiers_see_both_directions() {
    let veth = VethPair::new();
    let traffic = format!(
        "echo x > /dev/udp/{}/9; {}",
        veth.peer_ip,
        datagram_to_host(&veth)
    );
    let out = run_example_on_veth("tc", &veth, &[], &traffic);
    assert!(
        out.contains(&format!(
            "attached tc:{}:egress (prog egress_cls_func)",
            veth.host
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "attached tc:{}:ingress (prog ingress_cls_func)",
            veth.host
        )),
        "{out}"
    );
    assert!(out.contains("new packet captured on egress (TC)"), "{out}");
    assert!(out.contains("new packet captured on ingress (TC)"), "{out}");
}

#[test]
fn seed_xdp_ingress_in_native_and_generic_mode() {
    for mode in ["native", "generic"] {
        let veth = VethPair::new();
        let out = run_example_on_veth(
            "xdp",
            &veth,
            &["--xdp-mode", mode],
            &datagram_to_host(&veth),
        );
        assert!(
            out.contains(&format!("attached xdp:{} ({mode})", veth.host)),
            "{out}"
        );
        assert!(out.contains("new packet captured (XDP)"), "{mode}: {out}");
    }
}

#[test]
fn seed_sockops_on_a_cgroup() {
    let cgroup = TempCgroup::new();
    let object = example_object("sockops");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("address").port();
    let accept = std::thread::spawn(move || listener.accept().map(drop));
    // The command joins the cgroup first, then connects.
    let connect = format!(
        "echo $$ > {}/cgroup.procs && exec 3<>/dev/tcp/127.0.0.1/{port}",
        cgroup.path.display()
    );
    let (out, err, output) = run(&[
        "run",
        path(&object),
        "--cgroup",
        path(&cgroup.path),
        "--",
        "bash",
        "-c",
        &connect,
    ]);
    assert!(output.status.success(), "{err}");
    accept.join().expect("accept thread").expect("accepted");
    assert!(out.contains("attached sockops:"), "{out}");
    // 3 is BPF_SOCK_OPS_TCP_CONNECT_CB.
    assert!(out.contains("eBPF sockops : 3"), "{out}");
}

#[test]
fn seed_uprobe_on_bash_readline() {
    let object = example_object("uprobe_readline");
    let mut child = bpfhook()
        .args(["run", path(&object), "--binary", "/bin/bash", "--"])
        .args(["script", "-qc", "bash --norc -i", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"echo one\nexit\n")
        .expect("typing into bash");
    let output = child.wait_with_output().expect("bpfhook exits");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        out.contains("attached uprobe:/bin/bash:readline (prog uprobe_readline)"),
        "{out}"
    );
    assert!(out.contains("new bash command detected"), "{out}");
}

fn assert_fails(args: &[&str], expected: &str) {
    let (_, err, output) = run(args);
    assert_eq!(output.status.code(), Some(1), "{args:?} should fail: {err}");
    assert!(
        err.contains(expected),
        "{args:?}: expected `{expected}` in:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_objects_are_clear_errors() {
    let dir = bpfhook_testkit::TempPath::dir("bpfhook-bad-");
    let empty = dir.join("empty.o");
    std::fs::write(&empty, b"").expect("write");
    let garbage = dir.join("garbage.o");
    std::fs::write(&garbage, b"\x7fELF this is not really an ELF file at all").expect("write");
    let truncated = dir.join("truncated.o");
    let hello = std::fs::read(repo_root().join("examples/hello.bpf.o")).expect("hello");
    std::fs::write(&truncated, &hello[..hello.len() / 2]).expect("write");

    assert_fails(&["run", "/nonexistent.o"], "cannot read /nonexistent.o");
    assert_fails(&["run", path(&empty)], "empty file");
    assert_fails(&["run", path(&garbage)], "not an ELF object");
    assert_fails(
        &["run", path(&truncated)],
        "not an ELF object (Invalid ELF section header",
    );
    assert_fails(&["run", "/bin/true"], "not an eBPF object");
    assert_fails(
        &["run", path(&bpf_fixture("unknown_section"))],
        "unknown section `teleport/now`",
    );
    assert_fails(
        &["run", path(&bpf_fixture("xdp_clash")), "--iface", "lo"],
        "all load as `xdp`",
    );
}

#[test]
fn verifier_rejection_shows_the_log_and_leaves_nothing() {
    assert_fails(
        &["run", path(&bpf_fixture("bad_verifier"))],
        "R0 invalid mem access 'map_value_or_null'",
    );
    assert!(!program_loaded("good_first") && !program_loaded("bad_deref"));
}

#[test]
fn missing_targets_fail_before_loading() {
    let net = bpf_fixture("net");
    assert_fails(
        &["run", path(&net), "-P", "xdp_udp", "--iface", "nosuch0"],
        "network interface `nosuch0` does not exist",
    );
    assert_fails(
        &["run", path(&net), "-P", "xdp_udp"],
        "needs an interface: --iface NAME",
    );
    let uprobe = bpf_fixture("uprobe");
    assert_fails(&["run", path(&uprobe)], "needs a binary");
    assert_fails(
        &["run", path(&uprobe), "--binary", "/bin/true"],
        "symbol `bpfhook_target_fn` does not exist",
    );
    assert_fails(
        &["run", path(&uprobe), "--binary", "nosuchbinary"],
        "binary `nosuchbinary` does not exist",
    );
    let cgroup = bpf_fixture("cgroup");
    assert_fails(
        &["run", path(&cgroup), "--cgroup", "/tmp"],
        "cgroup v2 directory `/tmp` does not exist",
    );
    assert!(
        !program_loaded("xdp_udp")
            && !program_loaded("up_enter")
            && !program_loaded("sockops_count")
    );
}

#[test]
fn unprivileged_users_are_told_what_is_missing() {
    let hello = repo_root().join("examples/hello.bpf.o");
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["run", path(&hello)])
        .output()
        .expect("setpriv (util-linux)");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("loading eBPF programs needs root, or CAP_BPF"),
        "{err}"
    );
}

#[test]
fn hardware_perf_events_fail_clearly_where_there_are_no_counters() {
    let object = bpf_fixture("perf_event");
    let (_, err, output) = run(&[
        "run",
        path(&object),
        "--perf-event",
        "cycles",
        "--duration",
        "0.1",
    ]);
    if output.status.success() {
        return assert!(!program_loaded("perf_sample"), "perf_sample stayed loaded");
    }
    assert!(
        err.contains("opening perf event hardware:cpu-cycles on CPU 0"),
        "{err}"
    );
    assert!(err.contains("hardware counters may be missing"), "{err}");
    assert!(
        err.contains("os error"),
        "the kernel's errno is missing: {err}"
    );
}

/// A process killed outright leaves its trace instance in tracefs; the next bpfhook that
/// opens one removes it, and leaves those of live processes alone.
#[test]
fn trace_instances_of_dead_processes_are_removed() {
    let instances = Path::new("/sys/kernel/tracing/instances");
    let mut dead = Command::new("/bin/true")
        .spawn()
        .expect("a short-lived process");
    let dead_pid = dead.id();
    dead.wait().expect("it ends");
    let abandoned = instances.join(format!("bpfhook-{dead_pid}-0"));
    let alive = instances.join(format!("bpfhook-{}-99", std::process::id()));
    for dir in [&abandoned, &alive] {
        std::fs::create_dir(dir).expect("making a trace instance");
    }
    let hello = example_object("hello");
    let (_, err, output) = run(&["run", path(&hello), "--", "/bin/true"]);
    let (abandoned_left, alive_left) = (abandoned.exists(), alive.exists());
    let _ = std::fs::remove_dir(&alive);
    let _ = std::fs::remove_dir(&abandoned);
    assert!(output.status.success(), "{err}");
    assert!(
        !abandoned_left,
        "the dead process's instance is still there"
    );
    assert!(alive_left, "a live process's instance was removed");
}
