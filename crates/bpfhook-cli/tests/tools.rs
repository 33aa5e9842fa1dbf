//! The ready-made tools on the real kernel: each sees the activity the test makes (a marker
//! file opened, a CPU-bound function sampled, a thread blocking in a named function, direct
//! block I/O, a child killed, an exit code), and bad options fail with a clear error. Every run is checked to leave no program loaded.

mod tools_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use bpfhook_testkit::{run_program, test_binary, unique_name, TempPath};
use tools_support::{columns, napper, silent_peer, Guarded, Running, BPFHOOK, READY};

#[test]
fn opensnoop_shows_a_marker_open_and_a_failed_one() {
    let dir = TempPath::dir("opensnoop");
    let marker = dir.join(&unique_name("marker-"));
    std::fs::write(&marker, "x").expect("writing the marker");
    let missing = dir.join(&unique_name("missing-"));
    let (marker, missing) = (marker.to_str().unwrap(), missing.to_str().unwrap());

    let mut tool = Running::start(&["opensnoop", "-T", "-U"]);
    let header = tool.line_where(READY, |l| l.contains("PATH"));
    assert_eq!(
        columns(&header),
        ["TIME(s)", "UID", "PID", "COMM", "FD", "ERR", "PATH"]
    );
    let cat = Command::new("cat")
        .args([marker, missing])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running cat");
    assert!(!cat.success(), "cat of a missing file fails");
    let opened = tool.line_where(READY, |l| l.ends_with(marker));
    let failed = tool.line_where(READY, |l| l.ends_with(missing));
    tool.stop();

    let (opened, failed) = (columns(&opened), columns(&failed));
    assert_eq!(opened[1], "0", "uid of root: {opened:?}");
    assert_eq!(opened[3], "cat", "{opened:?}");
    assert_eq!(failed[2], opened[2], "same pid: {failed:?}");
    assert!(opened[4].parse::<i32>().unwrap() >= 0, "an fd: {opened:?}");
    assert_eq!(opened[5], "0", "{opened:?}");
    assert_eq!(&failed[4..6], ["-1", "2"], "ENOENT: {failed:?}");
}

#[test]
fn opensnoop_failed_only_and_json() {
    let dir = TempPath::dir("opensnoop");
    let marker = dir.join(&unique_name("marker-"));
    std::fs::write(&marker, "x").expect("writing the marker");
    let missing = dir.join(&unique_name("missing-"));
    let (marker, missing) = (marker.to_str().unwrap(), missing.to_str().unwrap());
    // Opens only this test's files: -x must drop the one that succeeds, which comes first.
    let script = format!("while :; do cat {marker} {missing}; sleep 0.05; done");
    let _loop = Guarded(
        Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning the open loop"),
    );

    let mut tool = Running::start(&["opensnoop", "-x", "--json", "-n", "cat"]);
    let line = tool.line_where(READY, |l| l.contains(missing));
    let later = tool.line_where(READY, |l| l.contains(missing));
    let lines = tool.stop();
    assert!(
        !lines.iter().any(|l| l.contains(marker)),
        "-x showed a successful open:\n{}",
        lines.join("\n")
    );
    for line in [line, later] {
        let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(record["path"], missing, "{line}");
        assert_eq!(record["comm"], "cat", "{line}");
        assert_eq!(record["fd"], -1, "{line}");
        assert_eq!(record["err"], 2, "{line}");
        assert!(record["pid"].as_u64().is_some_and(|p| p > 0), "{line}");
    }
}

#[test]
fn trace_runs_the_embedded_opensnoop_script() {
    let dir = TempPath::dir("opensnoop");
    let marker = dir.join(&unique_name("marker-"));
    std::fs::write(&marker, "x").expect("writing the marker");
    let marker = marker.to_str().unwrap();
    let command = format!("/bin/cat {marker}");
    let (out, err, ok) = run_program(BPFHOOK, &["trace", "-c", &command, "tools/opensnoop.bt"]);
    assert!(ok, "{err}");
    let record = out
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no open of the marker in:\n{out}"));
    assert!(record.contains(", cat, "), "{record}");
}

#[test]
fn every_embedded_script_compiles_through_trace() {
    let (out, _, ok) = run_program(BPFHOOK, &["tools"]);
    assert!(ok);
    let scripted = out
        .lines()
        .filter_map(|l| l.split(' ').next())
        .filter(|name| *name != "execsnoop");
    let mut compiled = 0;
    for name in scripted {
        let path = format!("tools/{name}.bt");
        let (_, err, ok) = run_program(BPFHOOK, &["trace", "--dry-run", &path]);
        assert!(ok, "{path}: {err}");
        compiled += 1;
    }
    assert!(compiled >= 20, "{out}");
    let (_, err, ok) = run_program(BPFHOOK, &["trace", "--dry-run", "tools/nosuch.bt"]);
    assert!(!ok);
    assert!(
        err.contains("failed to open file 'tools/nosuch.bt'"),
        "{err}"
    );
}

#[test]
fn profile_names_the_hot_function_in_folded_stacks_and_the_flame_graph() {
    let target = test_binary("profile_target");
    let spinner = Guarded(
        Command::new(&target)
            .arg("60")
            .spawn()
            .expect("starting the CPU-bound target"),
    );
    let pid = spinner.0.id().to_string();
    let dir = TempPath::dir("profile");
    let svg = dir.join("flame.svg");
    let svg_arg = svg.to_str().unwrap();
    let tool = Running::start(&[
        "profile",
        "-p",
        &pid,
        "-F",
        "499",
        "--folded",
        "--flamegraph",
        svg_arg,
        "2",
    ]);
    let lines = tool.finish();
    let hot = lines
        .iter()
        .find(|l| l.contains(";main;bpfhook_hot_spin"))
        .unwrap_or_else(|| panic!("no folded stack through the hot function:\n{lines:?}"));
    assert!(hot.starts_with("profile_target"), "comm first: {hot}");
    let count: u64 = hot.rsplit(' ').next().unwrap().parse().expect("a count");
    assert!(count > 0, "{hot}");
    assert!(!hot.contains('+'), "offsets stripped: {hot}");
    let svg_text = std::fs::read_to_string(&svg).expect("the flame graph was written");
    assert!(svg_text.starts_with("<?xml"), "an SVG");
    assert!(
        svg_text.contains("bpfhook_hot_spin"),
        "the flame graph names the hot function"
    );
}

#[test]
fn biolatency_counts_direct_writes() {
    // target/ is on a real disk (the test fixtures live there); tmpfs would do no block I/O.
    let dir = TempPath::claim(bpfhook_testkit::repo_root().join(unique_name("target/biolat-")));
    std::fs::create_dir_all(dir.path()).expect("creating the I/O directory");
    let file = dir.join("direct.bin");
    let mut tool = Running::start(&["biolatency", "-D", "3", "1"]);
    tool.line_where(READY, |l| l.starts_with("Tracing block device I/O"));
    let of = format!("of={}", file.display());
    let dd = Command::new("dd")
        .args(["if=/dev/zero", &of, "bs=4k", "count=64", "oflag=direct"])
        .stderr(Stdio::null())
        .status()
        .expect("running dd");
    assert!(dd.success());
    let lines = tool.finish();
    assert!(
        lines.iter().any(|l| l.starts_with("disk = ")),
        "a disk section: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start() == "usecs               : count     distribution"),
        "BCC's header: {lines:?}"
    );
    let counted: u64 = lines
        .iter()
        .filter(|l| l.contains(" -> "))
        .map(|l| columns(l)[4].parse::<u64>().expect("a count"))
        .sum();
    assert!(counted >= 64, "at least dd's 64 writes: {lines:?}");
}

#[test]
fn profile_says_which_sampled_binary_has_no_frame_pointers() {
    let dir = TempPath::dir("nofp");
    let binary = dir.join("spin_without_frame_pointers");
    let source = bpfhook_testkit::repo_root().join("tests/bin/profile_target.c");
    let built = Command::new("cc")
        .args(["-O2", "-fomit-frame-pointer"])
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .status()
        .expect("running cc");
    assert!(built.success());
    let spinner = Guarded(Command::new(&binary).arg("60").spawn().expect("spinning"));
    let pid = spinner.0.id().to_string();
    let output = Command::new(BPFHOOK)
        .args(["profile", "-p", &pid, "-F", "199", "--folded", "1"])
        .output()
        .expect("running profile");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    let notice = format!(
        "profile: {} (pid {pid}) has no frame pointers: its user stacks are cut short",
        binary.display()
    );
    assert!(err.contains(&notice), "{err}");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains("bpfhook_hot_spin"),
        "the leaf frame still shows: {out}"
    );
}

#[test]
fn offcputime_names_the_blocking_function() {
    let target = napper();
    let pid = target.0.id().to_string();
    let lines = Running::start(&["offcputime", "-p", &pid, "--folded", "2"]).finish();
    let nap = lines
        .iter()
        .find(|l| l.contains(";main;bpfhook_nap;"))
        .unwrap_or_else(|| panic!("no stack through bpfhook_nap:\n{lines:?}"));
    assert!(nap.starts_with("profile_target"), "comm first: {nap}");
    assert!(
        nap.contains(";schedule;"),
        "the kernel frames follow: {nap}"
    );
    let micros: u64 = nap.rsplit(' ').next().unwrap().parse().expect("a total");
    assert!(micros > 100_000, "most of 2 s asleep: {nap}");
}

#[test]
fn runqlat_per_thread_and_cpudist_json_count_scheduling() {
    let target = napper();
    let tid = target.0.id().to_string();
    let runqlat = Running::start(&["runqlat", "-L", "2", "1"]);
    let cpudist = Running::start(&["cpudist", "--json", "2", "1"]);
    let lines = runqlat.finish();
    let section = format!("tid = {tid}");
    let at = lines
        .iter()
        .position(|l| l.trim() == section)
        .unwrap_or_else(|| panic!("no {section} histogram:\n{}", lines.join("\n")));
    let counted: u64 = lines[at + 1..]
        .iter()
        .skip(1)
        .take_while(|l| l.contains(" -> "))
        .map(|l| columns(l)[4].parse::<u64>().expect("a count"))
        .sum();
    assert!(counted > 10, "a wakeup every 2 ms: {}", lines.join("\n"));

    let json = cpudist.finish();
    let total: u64 = json
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .inspect(|h| assert_eq!(h["unit"], "usecs"))
        .flat_map(|h| h["buckets"].as_array().cloned().unwrap_or_default())
        .map(|b| b["count"].as_u64().expect("a count"))
        .sum();
    assert!(total > 10, "{json:?}");
}

#[test]
fn syscount_counts_a_process_sleeping_calls_and_their_time() {
    let target = napper();
    let pid = target.0.id().to_string();
    let lines = Running::start(&["syscount", "-p", &pid, "-L", "-d", "2"]).finish();
    let header = lines
        .iter()
        .find(|l| l.starts_with("SYSCALL"))
        .unwrap_or_else(|| panic!("no header: {lines:?}"));
    assert_eq!(columns(header), ["SYSCALL", "COUNT", "TIME", "(us)"]);
    let nap = lines
        .iter()
        .map(|l| columns(l))
        .find(|c| c.first() == Some(&"nanosleep"))
        .unwrap_or_else(|| panic!("no nanosleep row: {lines:?}"));
    let count: u64 = nap[1].parse().expect("a count");
    let micros: f64 = nap[2].parse().expect("a time");
    assert!(count > 100, "a 2 ms sleep at a time for 2 s: {nap:?}");
    assert!(
        micros > 2000.0 * count as f64 * 0.5,
        "about 2 ms each: {nap:?}"
    );
}

#[test]
fn runqlen_sees_tasks_waiting_behind_cpu_hogs() {
    // One more CPU-bound task than CPUs: some CPU always has one waiting.
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let _hogs: Vec<Guarded> = (0..=cpus)
        .map(|_| {
            Guarded(
                Command::new(test_binary("profile_target"))
                    .arg("60")
                    .spawn()
                    .expect("starting a CPU hog"),
            )
        })
        .collect();
    let lines = Running::start(&["runqlen", "-C", "--json", "2", "1"]).finish();
    let histograms: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert!(!histograms.is_empty(), "{lines:?}");
    let count_where = |wanted: &dyn Fn(u64) -> bool| -> u64 {
        histograms
            .iter()
            .flat_map(|h| h["buckets"].as_array().cloned().unwrap_or_default())
            .filter(|b| wanted(b["length"].as_u64().expect("a length")))
            .map(|b| b["count"].as_u64().expect("a count"))
            .sum()
    };
    assert!(count_where(&|_| true) > 50, "99 Hz on every CPU: {lines:?}");
    assert!(
        count_where(&|length| length >= 1) > 0,
        "a task waiting: {lines:?}"
    );
    assert!(
        histograms.iter().all(|h| h["cpu"].is_u64()),
        "-C: {lines:?}"
    );
}

#[test]
fn exitsnoop_shows_exit_codes_and_signals() {
    let mut tool = Running::start(&["exitsnoop"]);
    tool.line_where(READY, |l| l.starts_with("PCOMM"));
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let sleeper_pid = sleeper.id().to_string();
    sleeper.kill().expect("SIGKILL");
    sleeper.wait().expect("reaped");
    let mut exiter = Command::new("sh")
        .args(["-c", "exit 3"])
        .spawn()
        .expect("sh");
    let exiter_pid = exiter.id().to_string();
    exiter.wait().expect("sh exits");
    let killed = tool.line_where(READY, |l| columns(l).get(1) == Some(&sleeper_pid.as_str()));
    let exited = tool.line_where(READY, |l| columns(l).get(1) == Some(&exiter_pid.as_str()));
    tool.stop();
    let own_pid = std::process::id().to_string();
    assert_eq!(columns(&killed)[0], "sleep", "{killed}");
    assert_eq!(
        columns(&killed)[2],
        own_pid,
        "the test is the parent: {killed}"
    );
    assert!(killed.ends_with("signal 9 (KILL)"), "{killed}");
    assert!(exited.ends_with("code 3"), "{exited}");
}

#[test]
fn killsnoop_shows_the_signal_sent() {
    let mut target = Guarded(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let target_pid = target.0.id().to_string();
    let mut tool = Running::start(&["killsnoop", "-s", "TERM"]);
    tool.line_where(READY, |l| l.starts_with("TIME"));
    // A probe with signal 0 first: -s TERM must leave it out.
    let script = format!("kill -0 {target_pid}; kill -TERM {target_pid}");
    let mut sender = Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .expect("sh");
    let sender_pid = sender.id().to_string();
    assert!(sender.wait().expect("sh exits").success());
    let _ = target.0.wait();
    let line = tool.line_where(READY, |l| columns(l).get(1) == Some(&sender_pid.as_str()));
    let lines = tool.stop();
    assert_eq!(
        columns(&line)[2..],
        ["sh", "15", &target_pid, "0"],
        "{line}"
    );
    let from_sender = lines
        .iter()
        .filter(|l| columns(l).get(1) == Some(&sender_pid.as_str()))
        .count();
    assert_eq!(from_sender, 1, "only the TERM: {lines:?}");
}

#[test]
fn without_root_a_tool_says_so_in_one_line() {
    let output = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([BPFHOOK, "opensnoop"])
        .output()
        .expect("running setpriv");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "bpfhook: tools/opensnoop.bt needs root (bpf(2), perf events and tracefs): run it with sudo"
    );
}

#[test]
fn biosnoop_shows_each_direct_write() {
    let dir = TempPath::claim(bpfhook_testkit::repo_root().join(unique_name("target/biosnoop-")));
    std::fs::create_dir_all(dir.path()).expect("creating the I/O directory");
    let of = format!("of={}", dir.join("direct.bin").display());
    let mut tool = Running::start(&["biosnoop"]);
    tool.line_where(READY, |l| l.starts_with("TIME(s)"));
    let mut dd = Command::new("dd")
        .args(["if=/dev/zero", &of, "bs=4k", "count=8", "oflag=direct"])
        .stderr(Stdio::null())
        .spawn()
        .expect("running dd");
    let dd_pid = dd.id().to_string();
    assert!(dd.wait().expect("dd exits").success());
    let ours = |l: &str| {
        let c = columns(l);
        c.get(1) == Some(&"dd") && c.get(2) == Some(&dd_pid.as_str()) && c.get(4) == Some(&"W")
    };
    for _ in 0..8 {
        let line = tool.line_where(READY, ours);
        assert_eq!(columns(&line)[6], "4096", "{line}");
    }
    tool.stop();
}

/// The rows of a totals table (`NAME TOTAL`) after its header.
fn totals(lines: &[String], header: &str) -> Vec<(String, u64)> {
    let at = lines
        .iter()
        .position(|l| l.starts_with(header))
        .unwrap_or_else(|| panic!("no {header} header: {lines:?}"));
    lines[at + 1..]
        .iter()
        .map(|l| columns(l))
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_owned(), c[1].parse().expect("a total")))
        .collect()
}

#[test]
fn softirqs_and_hardirqs_see_timer_ticks_and_disk_interrupts() {
    let softirqs = Running::start(&["softirqs", "1", "1"]);
    let dir = TempPath::claim(bpfhook_testkit::repo_root().join(unique_name("target/irqs-")));
    std::fs::create_dir_all(dir.path()).expect("creating the I/O directory");
    let of = format!("of={}", dir.join("direct.bin").display());
    let mut hardirqs = Running::start(&["hardirqs", "-C", "2", "1"]);
    hardirqs.line_where(READY, |l| l.starts_with("Tracing hard irq"));
    // Direct writes complete through the disk's interrupt.
    let dd = Command::new("dd")
        .args(["if=/dev/zero", &of, "bs=4k", "count=32", "oflag=direct"])
        .stderr(Stdio::null())
        .status()
        .expect("running dd");
    assert!(dd.success());

    let soft = totals(&softirqs.finish(), "SOFTIRQ");
    assert!(
        soft.iter()
            .any(|(name, usecs)| name == "timer" && *usecs > 0),
        "the tick's timer softirq: {soft:?}"
    );
    let hard = totals(&hardirqs.finish(), "HARDIRQ");
    let handled: u64 = hard.iter().map(|(_, count)| count).sum();
    assert!(handled >= 1, "dd's completions: {hard:?}");
}

#[test]
fn tcp_tools_see_a_loopback_connection() {
    use std::io::{Read, Write};
    const SENT: usize = 200_000;
    const REPLIED: usize = 50_000;
    let mut states = Running::start(&["tcpstates"]);
    let mut life = Running::start(&["tcplife"]);
    let mut connect = Running::start(&["tcpconnect"]);
    states.line_where(READY, |l| l.starts_with("SKADDR"));
    life.line_where(READY, |l| l.starts_with("PID"));
    connect.line_where(READY, |l| l.starts_with("PID"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("bound").port();
    let server = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().expect("accepting");
        let mut received = vec![0u8; SENT];
        peer.read_exact(&mut received).expect("receiving");
        peer.write_all(&received[..REPLIED]).expect("replying");
        // The client closes first (FIN_WAIT1 is the client's), then this end.
        assert_eq!(peer.read(&mut received).expect("reading the end"), 0);
    });
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    let client_port = client.local_addr().expect("bound").port().to_string();
    client.write_all(&vec![b'x'; SENT]).expect("sending");
    let mut reply = vec![0u8; REPLIED];
    client.read_exact(&mut reply).expect("receiving the reply");
    drop(client);
    server.join().expect("the server thread");
    let port = port.to_string();

    let me = std::process::id().to_string();
    let syn = connect.line_where(READY, |l| columns(l).last() == Some(&port.as_str()));
    assert_eq!(columns(&syn)[0], me, "{syn}");
    assert_eq!(
        columns(&syn)[2..5],
        ["4", "127.0.0.1", "127.0.0.1"],
        "{syn}"
    );
    connect.stop();

    let client_row = |l: &str| columns(l).get(4) == Some(&client_port.as_str());
    let transition = |from: &str, to: &str| {
        let (from, to) = (from.to_owned(), to.to_owned());
        move |l: &str| client_row(l) && columns(l)[7] == from && columns(l)[9] == to
    };
    states.line_where(READY, transition("SYN_SENT", "ESTABLISHED"));
    states.line_where(READY, transition("ESTABLISHED", "FIN_WAIT1"));
    states.stop();

    // PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS, for the client's end.
    let closed = life.line_where(READY, |l| {
        columns(l).get(3) == Some(&client_port.as_str())
            && columns(l).get(5) == Some(&port.as_str())
    });
    life.stop();
    let closed = columns(&closed);
    assert_eq!(closed[0], me, "{closed:?}");
    assert_eq!(closed[6], (SENT / 1024).to_string(), "TX_KB: {closed:?}");
    assert_eq!(closed[7], (REPLIED / 1024).to_string(), "RX_KB: {closed:?}");
}

#[test]
fn statsnoop_shows_this_process_stats() {
    let dir = TempPath::dir("statsnoop");
    let marker = dir.join(&unique_name("marker-"));
    std::fs::write(&marker, "x").expect("writing the marker");
    let missing = dir.join(&unique_name("missing-"));
    let me = std::process::id().to_string();
    let mut tool = Running::start(&["statsnoop", "-p", &me]);
    let header = tool.line_where(READY, |l| l.starts_with("PID"));
    assert_eq!(columns(&header), ["PID", "COMM", "RET", "ERR", "PATH"]);
    std::fs::metadata(&marker).expect("stat of the marker");
    assert!(std::fs::metadata(&missing).is_err());
    let (marker, missing) = (marker.to_str().unwrap(), missing.to_str().unwrap());
    let found = tool.line_where(READY, |l| l.ends_with(marker));
    let failed = tool.line_where(READY, |l| l.ends_with(missing));
    tool.stop();
    assert_eq!(columns(&found)[0], me);
    assert_eq!(columns(&found)[2..4], ["0", "0"], "{found}");
    assert_eq!(columns(&failed)[2..4], ["-1", "2"], "ENOENT: {failed}");
}

/// A tmpfs mounted by the test itself, detached when the test ends, however it ends.
struct Mounted(std::ffi::CString);

impl Drop for Mounted {
    fn drop(&mut self) {
        // SAFETY: a NUL-terminated path; failure (already unmounted) is fine.
        unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn mountsnoop_shows_a_mount_and_its_umount() {
    use std::ffi::CString;
    let dir = TempPath::dir("mountsnoop");
    let source = unique_name("bpfhook-src-");
    let mut tool = Running::start(&["mountsnoop"]);
    let mut with_parent = Running::start(&["mountsnoop", "-P"]);
    tool.line_where(READY, |l| l.starts_with("COMM"));
    let header = with_parent.line_where(READY, |l| l.starts_with("COMM"));
    assert_eq!(
        columns(&header),
        ["COMM", "PID", "TID", "PCOMM", "PPID", "MNT_NS", "CALL"]
    );
    let target = CString::new(dir.as_str()).unwrap();
    let (c_source, fstype) = (CString::new(source.as_str()).unwrap(), c"tmpfs");
    // SAFETY: NUL-terminated strings; no data.
    let mounted = unsafe {
        libc::mount(
            c_source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOSUID,
            std::ptr::null(),
        )
    };
    assert_eq!(mounted, 0, "mount: {}", std::io::Error::last_os_error());
    let guard = Mounted(target);
    // SAFETY: the path mounted just above.
    assert_eq!(unsafe { libc::umount2(guard.0.as_ptr(), 0) }, 0);
    let mount_call = format!(
        "mount(\"{source}\", \"{}\", \"tmpfs\", MS_NOSUID, \"\") = 0",
        dir.as_str()
    );
    let umount_call = format!("umount(\"{}\", 0) = 0", dir.as_str());
    let mount_line = tool.line_where(READY, |l| l.ends_with(&mount_call));
    tool.line_where(READY, |l| l.ends_with(&umount_call));
    tool.stop();
    // -P: this process's parent (the test harness's runner), by name and pid.
    let parent_line = with_parent.line_where(READY, |l| l.ends_with(&mount_call));
    with_parent.stop();
    let ppid = std::os::unix::process::parent_id().to_string();
    let pcomm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).expect("the parent's comm");
    assert_eq!(
        columns(&parent_line)[3..5],
        [pcomm.trim_end(), ppid.as_str()],
        "{parent_line}"
    );
    let me = std::process::id().to_string();
    assert_eq!(columns(&mount_line)[1], me, "{mount_line}");
    let namespace = std::fs::read_link("/proc/self/ns/mnt").expect("our mount namespace");
    let inode = namespace
        .to_str()
        .unwrap()
        .trim_start_matches("mnt:[")
        .trim_end_matches(']');
    assert_eq!(columns(&mount_line)[3], inode, "{mount_line}");
}

#[test]
fn bashreadline_shows_a_line_typed_into_bash() {
    let marker = unique_name("bpfhook-marker-");
    let mut tool = Running::start(&["bashreadline"]);
    tool.line_where(READY, |l| l.starts_with("TIME"));
    // readline needs a terminal: script(1) gives bash one and types our lines into it.
    let mut shell = Command::new("script")
        .args(["-qfec", "bash --norc --noprofile -i", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running script(1)");
    {
        use std::io::Write;
        let input = shell.stdin.as_mut().expect("piped stdin");
        writeln!(input, "echo {marker}").expect("typing");
        std::thread::sleep(Duration::from_millis(300));
        writeln!(input, "exit").expect("typing");
    }
    let line = tool.line_where(READY, |l| l.ends_with(&format!("echo {marker}")));
    let _ = shell.wait();
    tool.stop();
    assert!(columns(&line)[1].parse::<u32>().is_ok(), "a pid: {line}");
}

#[test]
fn tcpretrans_sees_a_syn_sent_into_a_dead_link() {
    let pair = silent_peer();
    let mut tool = Running::start(&["tcpretrans"]);
    tool.line_where(READY, |l| l.starts_with("TIME"));
    let peer: std::net::IpAddr = pair.peer_ip.parse().expect("an address");
    let attempt = std::thread::spawn(move || {
        let _ = std::net::TcpStream::connect_timeout(&(peer, 9).into(), Duration::from_secs(3));
    });
    let remote = format!("{}:9", pair.peer_ip);
    let line = tool.line_where(READY, |l| columns(l).get(5) == Some(&remote.as_str()));
    tool.stop();
    attempt.join().expect("the connect attempt");
    let line = columns(&line);
    assert_eq!(line[2], "4", "{line:?}");
    assert!(
        line[3].starts_with(&format!("{}:", pair.host_ip)),
        "{line:?}"
    );
    assert_eq!(line[6], "SYN_SENT", "{line:?}");
}

#[test]
fn tools_lists_every_tool() {
    let (out, err, ok) = run_program(BPFHOOK, &["tools"]);
    assert!(ok, "{err}");
    let names: Vec<_> = out.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(
        names,
        [
            "bashreadline",
            "biolatency",
            "biosnoop",
            "cpudist",
            "execsnoop",
            "exitsnoop",
            "hardirqs",
            "killsnoop",
            "mountsnoop",
            "offcputime",
            "opensnoop",
            "profile",
            "runqlat",
            "runqlen",
            "softirqs",
            "statsnoop",
            "syscount",
            "tcpaccept",
            "tcpconnect",
            "tcplife",
            "tcpretrans",
            "tcpstates",
        ]
    );
}

#[test]
fn bad_options_fail_with_a_clear_error() {
    // Exit 1 for what the tool rejects; clap's own usage errors keep its exit code, 2.
    let cases: &[(&[&str], &str, i32)] = &[
        (
            &["opensnoop", "-p", "999999999"],
            "No such process: 999999999",
            1,
        ),
        (
            &["opensnoop", "-f", "O_BOGUS"],
            "unknown open flag: O_BOGUS",
            1,
        ),
        (&["profile", "-F", "0"], "invalid frequency 0 Hz", 1),
        (
            &["profile", "-p", "999999999"],
            "No such process: 999999999",
            1,
        ),
        (&["biolatency", "0"], "invalid interval: 0", 1),
        (&["biolatency", "x"], "invalid value 'x'", 2),
        (&["runqlat", "1", "0"], "invalid count: 0", 1),
        (&["syscount", "-i", "0"], "invalid interval: 0", 1),
        (&["biosnoop", "-d", "nodisk0"], "no such disk: nodisk0", 1),
        (&["softirqs", "-d", "-C"], "-d and -C are exclusive", 1),
        (&["tcplife", "-4", "-6"], "-4 and -6 are exclusive", 1),
        (&["tcplife", "-w", "-s"], "cannot be used with '--csv'", 2),
        (
            &["tcpconnect", "-P", "80,70000"],
            "70000 is not in 0..=65535",
            2,
        ),
        (
            &["killsnoop", "-s", "SIGNOPE"],
            "unknown signal: SIGNOPE",
            1,
        ),
        (&["offcputime", "-U", "-K"], "-U and -K are exclusive", 1),
        (
            &["exitsnoop", "-p", "999999999"],
            "No such process: 999999999",
            1,
        ),
    ];
    for (args, expected, code) in cases {
        let output = Command::new(BPFHOOK).args(*args).output().expect("runs");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(*code), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn tcpaccept_names_the_accepting_process_and_both_ends() {
    let mut accept = Running::start(&["tcpaccept"]);
    accept.line_where(READY, |l| l.starts_with("PID"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("bound").port().to_string();
    let client =
        std::net::TcpStream::connect(listener.local_addr().expect("bound")).expect("connecting");
    let client_port = client.local_addr().expect("bound").port().to_string();
    let (_peer, _) = listener.accept().expect("accepting");
    let me = std::process::id().to_string();
    let row = accept.line_where(READY, |l| columns(l).last() == Some(&port.as_str()));
    let fields = columns(&row);
    assert_eq!(fields[0], me, "{row}");
    assert_eq!(
        fields[2..6],
        ["4", "127.0.0.1", client_port.as_str(), "127.0.0.1"],
        "{row}"
    );
    accept.stop();
}
