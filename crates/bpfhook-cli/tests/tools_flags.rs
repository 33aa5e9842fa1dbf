//! BCC's filter, grouping and column flags of the ready-made tools, each on the real kernel:
//! the activity the test makes shows where the flag lets it through and is gone where it
//! must not be (another process, another thread, a successful call, another syscall).

mod tools_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use bpfhook_testkit::{run_program, test_binary, unique_name, TempPath};
use tools_support::{columns, napper, silent_peer, Guarded, Running, BPFHOOK, READY};

/// The JSON objects of a run's lines.
fn objects(lines: &[String]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A histogram object's counts at and above `low` (its buckets' lower bounds), and in all.
fn counts_from(histogram: &serde_json::Value, low: u64) -> (u64, u64) {
    let buckets = histogram["buckets"].as_array().cloned().unwrap_or_default();
    let count = |b: &serde_json::Value| b["count"].as_u64().expect("a count");
    let above = buckets
        .iter()
        .filter(|b| b["low"].as_u64().expect("a bound") >= low)
        .map(count)
        .sum();
    (above, buckets.iter().map(count).sum())
}

#[test]
fn runqlat_one_process_per_process_histograms() {
    let target = napper();
    let pid = target.0.id().to_string();
    let lines = Running::start(&["runqlat", "-p", &pid, "-P", "--json", "2", "1"]).finish();
    let histograms = objects(&lines);
    assert_eq!(histograms.len(), 1, "only the napper's process: {lines:?}");
    assert_eq!(histograms[0]["pid"], pid.as_str(), "{lines:?}");
    let (_, total) = counts_from(&histograms[0], 0);
    assert!(total > 10, "a wakeup every 2 ms: {lines:?}");
}

#[test]
fn runqlat_per_pid_namespace() {
    // A process in a PID namespace of its own, waking every 10 ms; killed with unshare.
    let mut unshare = Guarded(
        Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--kill-child",
                "sh",
                "-c",
                "while :; do sleep 0.01; done",
            ])
            .spawn()
            .expect("unshare"),
    );
    let host = namespace("self");
    let child = loop {
        let children = format!("/proc/{0}/task/{0}/children", unshare.0.id());
        let text = std::fs::read_to_string(children).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            break pid.to_owned();
        }
        assert!(
            unshare.0.try_wait().expect("unshare").is_none(),
            "unshare ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let inner = namespace(&child);
    assert_ne!(inner, host);
    let lines = Running::start(&["runqlat", "--pidnss", "2", "1"]).finish();
    let section = |inode: &str| {
        let at = lines
            .iter()
            .position(|l| l.trim() == format!("pidns = {inode}"))
            .unwrap_or_else(|| panic!("no pidns = {inode}:\n{}", lines.join("\n")));
        lines[at + 2..]
            .iter()
            .take_while(|l| l.contains(" -> "))
            .map(|l| columns(l)[4].parse::<u64>().expect("a count"))
            .sum::<u64>()
    };
    assert!(section(&inner) > 10, "the namespaced loop wakes: {lines:?}");
    assert!(section(&host) > 0, "{lines:?}");
}

/// The inode of a process's PID namespace.
fn namespace(pid: &str) -> String {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).expect("a pid namespace");
    let text = link.to_str().expect("text").to_owned();
    text.trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_owned()
}

#[test]
fn cpudist_off_cpu_time_of_one_process() {
    // The napper runs for microseconds, then sleeps 2 ms: on CPU its spans are short, off CPU
    // they are about 2 ms.
    let target = napper();
    let pid = target.0.id().to_string();
    let off = Running::start(&["cpudist", "-O", "-p", &pid, "-P", "--json", "2", "1"]);
    let on = Running::start(&["cpudist", "-p", &pid, "--json", "2", "1"]);
    let off = objects(&off.finish());
    assert_eq!(off.len(), 1, "only the napper: {off:?}");
    let label = off[0]["pid"].as_str().expect("a pid section");
    // The test binary runs as a copy whose name starts so.
    assert!(
        label.starts_with(&format!("{pid} profile_target")),
        "{off:?}"
    );
    let (long, total) = counts_from(&off[0], 1024);
    assert!(total > 10 && long * 10 >= total * 9, "2 ms asleep: {off:?}");
    let on = objects(&on.finish());
    let (long, total) = counts_from(&on[0], 1024);
    assert!(total > 10 && long * 10 <= total, "short runs: {on:?}");
}

#[test]
fn cpudist_includes_the_idle_tasks_only_with_dash_i() {
    let with = Running::start(&["cpudist", "-I", "-P", "--json", "1", "1"]);
    let without = Running::start(&["cpudist", "-P", "--json", "1", "1"]);
    let idle = |h: &serde_json::Value| h["pid"] == "0";
    let with = objects(&with.finish());
    assert!(with.iter().any(idle), "{with:?}");
    let without = objects(&without.finish());
    assert!(
        !without.is_empty() && !without.iter().any(idle),
        "{without:?}"
    );
}

/// The syscall rows of a syscount `--json` run: name → count.
fn syscall_rows(lines: &[String]) -> std::collections::BTreeMap<String, u64> {
    objects(lines)
        .iter()
        .map(|row| {
            let name = row["syscall"].as_str().expect("a syscall").to_owned();
            (name, row["count"].as_u64().expect("a count"))
        })
        .collect()
}

#[test]
fn syscount_children_of_a_process_failing_with_one_errno() {
    let dir = TempPath::dir("syscount");
    let missing = dir.join(&unique_name("missing-"));
    let script = format!(
        "while :; do cat {} 2>/dev/null; sleep 0.01; done",
        missing.display()
    );
    let shell = Guarded(
        Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .expect("the open loop"),
    );
    let ppid = shell.0.id().to_string();
    let failed = Running::start(&["syscount", "-c", &ppid, "-e", "ENOENT", "--json", "-d", "2"]);
    let all = Running::start(&["syscount", "-c", &ppid, "--json", "-d", "2"]);
    let failed = syscall_rows(&failed.finish());
    let all = syscall_rows(&all.finish());
    assert!(
        failed.get("openat").is_some_and(|&n| n > 10),
        "cat's open: {failed:?}"
    );
    // Children map their libraries and close files: calls that succeed, gone with -e.
    for call in ["mmap", "close"] {
        assert!(all.contains_key(call), "{all:?}");
        assert!(
            !failed.contains_key(call),
            "{call} did not fail: {failed:?}"
        );
    }
}

#[test]
fn syscount_one_thread_and_one_syscall() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // A thread of this test that only sleeps and asks for its parent's pid.
    let done = Arc::new(AtomicBool::new(false));
    let (send, tid) = std::sync::mpsc::channel();
    let worker = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            // SAFETY: gettid and getppid have no preconditions.
            send.send(unsafe { libc::gettid() }).expect("tid sent");
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(1));
                unsafe { libc::getppid() };
            }
        })
    };
    // Another thread of the process, with a syscall of its own: -p sees it, -t does not.
    let sibling = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(1));
                // SAFETY: getpid has no preconditions.
                unsafe { libc::getpid() };
            }
        })
    };
    let tid = tid.recv().expect("the thread's id").to_string();
    let pid = std::process::id().to_string();
    let thread = Running::start(&["syscount", "-t", &tid, "--json", "-d", "2"]);
    let one = Running::start(&[
        "syscount",
        "-t",
        &tid,
        "--syscall",
        "getppid",
        "--json",
        "-d",
        "2",
    ]);
    let process = Running::start(&["syscount", "-p", &pid, "--json", "-d", "2"]);
    let (thread, one, process) = (
        syscall_rows(&thread.finish()),
        syscall_rows(&one.finish()),
        syscall_rows(&process.finish()),
    );
    done.store(true, Ordering::Relaxed);
    worker.join().expect("the worker");
    sibling.join().expect("the sibling");
    let names: Vec<&str> = thread.keys().map(String::as_str).collect();
    assert_eq!(names, ["clock_nanosleep", "getppid"], "{thread:?}");
    assert!(thread["getppid"] > 100, "{thread:?}");
    assert_eq!(one.keys().collect::<Vec<_>>(), ["getppid"], "{one:?}");
    assert!(one["getppid"] > 100, "{one:?}");
    // The whole process: the worker's calls and its sibling's.
    for call in ["getppid", "getpid"] {
        assert!(process.get(call).is_some_and(|&n| n > 100), "{process:?}");
    }
}

#[test]
fn syscount_lists_syscalls() {
    let (out, err, ok) = run_program(BPFHOOK, &["syscount", "-l"]);
    assert!(ok, "{err}");
    assert!(out.split_whitespace().any(|n| n == "openat"), "{out}");
    assert!(out.lines().all(|l| columns(l).len() <= 4), "{out}");
}

#[test]
fn bad_flag_values_fail_with_a_clear_error() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["runqlat", "-p", "999999999"],
            "No such process: 999999999",
        ),
        (
            &["cpudist", "-p", "999999999"],
            "No such process: 999999999",
        ),
        (
            &["cpudist", "-L", "-P"],
            "one of -L (per thread), -P (per process)",
        ),
        (&["runqlat", "-P", "--pidnss"], "one of -L (per thread)"),
        (
            &["syscount", "-e", "EBOGUS"],
            "couldn't map EBOGUS to an errno",
        ),
        (
            &["syscount", "--syscall", "nosuch"],
            "syscall 'nosuch' not found",
        ),
        (
            &["syscount", "-t", "999999999"],
            "No such process: 999999999",
        ),
        (
            &["syscount", "-c", "999999999"],
            "No such process: 999999999",
        ),
        (&["biolatency", "-d", "nodisk0"], "no such disk: nodisk0"),
        (&["biolatency", "-d", "../vda"], "no such disk: ../vda"),
        (&["profile", "-C", "64"], "no such CPU: 64"),
        (&["profile", "-c", "0"], "invalid count 0"),
        (
            &["profile", "-p", "1,999999999"],
            "No such process: 999999999",
        ),
        (&["offcputime", "-u", "-p", "1"], "one of -p, -t, -u"),
        (
            &["offcputime", "-m", "10", "-M", "5"],
            "-M 5 is below -m 10",
        ),
        (
            &["bashreadline", "-s", "/no/such/libreadline.so"],
            "no such library: /no/such/libreadline.so",
        ),
        (&["killsnoop", "-s", "TERM,NOPE"], "unknown signal: NOPE"),
        (&["tcplife", "-w", "--json"], "-w and -s print text"),
        (&["tcpstates", "-s", "--json"], "-w and -s print text"),
        (
            &["tcpconnect", "-p", "999999999"],
            "No such process: 999999999",
        ),
    ];
    for (args, expected) in cases {
        let output = Command::new(BPFHOOK).args(*args).output().expect("runs");
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn biosnoop_queued_time_and_sequential_reads() {
    // target/ is on a real disk (tmpfs would do no block I/O). A file written, then read
    // back block by block: the reads follow each other on the disk.
    let dir = TempPath::claim(bpfhook_testkit::repo_root().join(unique_name("target/biopat-")));
    std::fs::create_dir_all(dir.path()).expect("creating the I/O directory");
    let file = dir.join("direct.bin").display().to_string();
    let dd = |args: &[&str]| {
        let mut child = Command::new("dd")
            .args(args)
            .stderr(Stdio::null())
            .spawn()
            .expect("running dd");
        let pid = child.id().to_string();
        assert!(child.wait().expect("dd exits").success());
        pid
    };
    let (of, input) = (format!("of={file}"), format!("if={file}"));
    dd(&[
        "if=/dev/zero",
        &of,
        "bs=4k",
        "count=64",
        "oflag=direct",
        "conv=fsync",
    ]);
    let mut tool = Running::start(&["biosnoop", "-Q", "-P"]);
    let header = tool.line_where(READY, |l| l.starts_with("TIME(s)"));
    assert_eq!(
        columns(&header)[5..],
        ["SECTOR", "BYTES", "P", "QUE(ms)", "LAT(ms)"]
    );
    let reader = dd(&[&input, "of=/dev/null", "bs=4k", "count=64", "iflag=direct"]);
    let ours = |l: &str| {
        let c = columns(l);
        c.get(1) == Some(&"dd") && c.get(2) == Some(&reader.as_str()) && c.get(4) == Some(&"R")
    };
    let mut sequential = 0;
    for _ in 0..64 {
        let line = tool.line_where(READY, ours);
        let c = columns(&line);
        let queued: f64 = c[8].parse().expect("QUE(ms)");
        assert!((0.0..1000.0).contains(&queued), "{line}");
        assert!(["S", "R", "?"].contains(&c[7]), "{line}");
        sequential += usize::from(c[7] == "S");
    }
    tool.stop();
    assert!(sequential >= 48, "{sequential} of 64 reads sequential");
}

#[test]
fn killsnoop_only_signals_to_one_target() {
    let mut first = Guarded(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let mut second = Guarded(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let (first_pid, second_pid) = (first.0.id().to_string(), second.0.id().to_string());
    let mut tool = Running::start(&["killsnoop", "-T", &second_pid]);
    tool.line_where(READY, |l| l.starts_with("TIME"));
    let script = format!("kill -TERM {first_pid}; kill -TERM {second_pid}");
    let status = Command::new("sh")
        .args(["-c", &script])
        .status()
        .expect("sh");
    assert!(status.success());
    let _ = (first.0.wait(), second.0.wait());
    let line = tool.line_where(READY, |l| columns(l).get(4) == Some(&second_pid.as_str()));
    let lines = tool.stop();
    assert_eq!(columns(&line)[3], "15", "{line}");
    assert!(
        !lines
            .iter()
            .any(|l| columns(l).get(4) == Some(&first_pid.as_str())),
        "-T let another target through: {lines:?}"
    );
}

/// The block request interrupt with the most counts (`virtio1-req.0`), and the one CPU the
/// kernel delivers it to.
fn disk_interrupt() -> (String, u32) {
    let table = std::fs::read_to_string("/proc/interrupts").expect("/proc/interrupts");
    let (irq, name, _) = table
        .lines()
        .filter_map(|l| {
            let c = columns(l);
            let name = c.last()?.to_string();
            let total: u64 = c.iter().filter_map(|n| n.parse::<u64>().ok()).sum();
            name.contains("-req")
                .then(|| (c[0].trim_end_matches(':').to_owned(), name, total))
        })
        .max_by_key(|(_, _, total)| *total)
        .expect("a block request interrupt");
    let cpus = std::fs::read_to_string(format!("/proc/irq/{irq}/effective_affinity_list"))
        .expect("the interrupt's affinity");
    let cpu = cpus.trim().parse().expect("delivered to one CPU");
    (name, cpu)
}

#[test]
fn hardirqs_on_one_cpu_in_nanoseconds() {
    let (irq, cpu) = disk_interrupt();
    let other = (cpu + 1) % 2;
    let (cpu_arg, other_arg) = (cpu.to_string(), other.to_string());
    let mut there = Running::start(&["hardirqs", "-N", "-c", &cpu_arg, "2", "1"]);
    let mut elsewhere = Running::start(&["hardirqs", "-c", &other_arg, "2", "1"]);
    there.line_where(READY, |l| l.starts_with("Tracing hard irq"));
    elsewhere.line_where(READY, |l| l.starts_with("Tracing hard irq"));
    direct_writes(32);
    let there = there.finish();
    let header = there
        .iter()
        .find(|l| l.starts_with("HARDIRQ"))
        .expect("a header");
    assert_eq!(columns(header), ["HARDIRQ", "TOTAL_nsecs"], "{there:?}");
    let row = |lines: &[String]| {
        lines
            .iter()
            .map(|l| columns(l))
            .find(|c| c.first() == Some(&irq.as_str()))
            .map(|c| c[1].parse::<u64>().expect("a total"))
    };
    // Each of dd's completions takes well over the microsecond a usecs total would round to.
    assert!(
        row(&there).is_some_and(|ns| ns > 1000),
        "{irq} on CPU {cpu}: {there:?}"
    );
    let elsewhere = elsewhere.finish();
    assert_eq!(
        row(&elsewhere),
        None,
        "{irq} is not handled on CPU {other}: {elsewhere:?}"
    );
}

/// A loopback connection from this process: connected, a few bytes each way, closed by the
/// client first. Gives (the server's port, the client's port).
fn loopback_connection() -> (String, String) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("bound").port();
    let server = std::thread::spawn(move || {
        let (mut peer, _) = listener.accept().expect("accepting");
        let mut byte = [0u8; 1];
        peer.read_exact(&mut byte).expect("receiving");
        peer.write_all(&byte).expect("replying");
        assert_eq!(peer.read(&mut byte).expect("reading the end"), 0);
    });
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    let client_port = client.local_addr().expect("bound").port().to_string();
    client.write_all(b"x").expect("sending");
    client.read_exact(&mut [0u8; 1]).expect("the reply");
    drop(client);
    server.join().expect("the server thread");
    (port.to_string(), client_port)
}

/// A port nothing listens on (a connect to it is refused at once).
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding");
    listener.local_addr().expect("bound").port().to_string()
}

/// Connects to 127.0.0.1:`port` (refused or not), as `uid` if given, from a child shell.
fn connect_from_shell(port: &str, uid: Option<u32>) {
    use std::os::unix::process::CommandExt;
    let mut shell = Command::new("bash");
    shell
        .args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")])
        .stderr(Stdio::null());
    if let Some(uid) = uid {
        shell.uid(uid);
    }
    shell.status().expect("bash");
}

#[test]
fn tcplife_csv_and_wide_layouts_with_time_columns() {
    let mut csv = Running::start(&["tcplife", "-s", "-t"]);
    let mut wide = Running::start(&["tcplife", "-w", "-T"]);
    let csv_header = csv.line_where(READY, |l| l.starts_with("TIME(s),"));
    assert_eq!(
        csv_header,
        "TIME(s),PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS"
    );
    let wide_header = wide.line_where(READY, |l| l.starts_with("TIME"));
    assert_eq!(
        columns(&wide_header),
        ["TIME", "PID", "COMM", "IP", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"]
    );
    let (port, client_port) = loopback_connection();
    let me = std::process::id().to_string();
    let csv_row = csv.line_where(READY, |l| l.split(',').nth(5) == Some(&client_port));
    let fields: Vec<&str> = csv_row.split(',').collect();
    assert_eq!(fields.len(), 11, "{csv_row}");
    assert!(
        fields[0].parse::<f64>().is_ok_and(|s| s >= 0.0),
        "{csv_row}"
    );
    assert_eq!(fields[1], me, "{csv_row}");
    assert_eq!(
        fields[3..8],
        ["4", "127.0.0.1", &client_port, "127.0.0.1", &port]
    );
    let wide_row = wide.line_where(READY, |l| columns(l).get(5) == Some(&client_port.as_str()));
    let c = columns(&wide_row);
    assert!(
        c[0].len() == 8 && c[0].split(':').all(|n| n.parse::<u8>().is_ok()),
        "HH:MM:SS: {wide_row}"
    );
    assert_eq!(c[1..2], [me.as_str()], "{wide_row}");
    assert_eq!(
        c[3..7],
        ["4", "127.0.0.1", &client_port, "127.0.0.1"],
        "{wide_row}"
    );
    // The wide layout keeps 39 columns for each address.
    let laddr = wide_row.find("127.0.0.1").expect("the local address");
    assert_eq!(wide_row[laddr..].find(&client_port), Some(40), "{wide_row}");
    csv.stop();
    wide.stop();
}

#[test]
fn tcpstates_seconds_since_the_first_change_in_csv() {
    let mut tool = Running::start(&["tcpstates", "-t", "-s"]);
    let header = tool.line_where(READY, |l| l.starts_with("TIME(s),"));
    assert_eq!(
        header,
        "TIME(s),SKADDR,C-PID,C-COMM,IP,LADDR,LPORT,RADDR,RPORT,OLDSTATE,NEWSTATE,MS"
    );
    let (_, client_port) = loopback_connection();
    let ours = |from: &'static str, to: &'static str| {
        let client_port = client_port.clone();
        move |l: &str| {
            let f: Vec<&str> = l.split(',').collect();
            f.len() == 12 && f[6] == client_port && f[9] == from && f[10] == to
        }
    };
    let open = tool.line_where(READY, ours("SYN_SENT", "ESTABLISHED"));
    let close = tool.line_where(READY, ours("ESTABLISHED", "FIN_WAIT1"));
    tool.stop();
    let seconds = |l: &str| {
        l.split(',')
            .next()
            .unwrap()
            .parse::<f64>()
            .expect("TIME(s)")
    };
    assert!(seconds(&open) <= seconds(&close), "{open}\n{close}");
    assert_eq!(open.split(',').nth(4), Some("4"), "{open}");
}

#[test]
fn tcpaccept_clock_column() {
    let mut tool = Running::start(&["tcpaccept", "-T"]);
    let header = tool.line_where(READY, |l| l.starts_with("TIME"));
    assert_eq!(columns(&header)[..3], ["TIME", "PID", "COMM"]);
    let (port, _) = loopback_connection();
    let row = tool.line_where(READY, |l| columns(l).last() == Some(&port.as_str()));
    tool.stop();
    let c = columns(&row);
    assert!(c[0].len() == 8 && c[0].matches(':').count() == 2, "{row}");
    assert_eq!(c[1], std::process::id().to_string(), "{row}");
}

#[test]
fn tcpconnect_uid_column_uid_filter_and_local_port() {
    // Only connects by nobody: this root process connects first, then a shell as nobody.
    let mut tool = Running::start(&["tcpconnect", "-U", "-L", "-u", "65534"]);
    let header = tool.line_where(READY, |l| l.starts_with("UID"));
    assert_eq!(
        columns(&header),
        ["UID", "PID", "COMM", "IP", "SADDR", "LPORT", "DADDR", "DPORT"]
    );
    let (root_port, _) = loopback_connection();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listening");
    let port = listener.local_addr().expect("bound").port().to_string();
    connect_from_shell(&port, Some(65534));
    let (peer, from) = listener.accept().expect("accepting");
    drop(peer);
    let row = tool.line_where(READY, |l| columns(l).last() == Some(&port.as_str()));
    let lines = tool.stop();
    let c = columns(&row);
    assert_eq!(c[0], "65534", "{row}");
    assert_eq!(c[2], "bash", "{row}");
    assert_eq!(c[5], from.port().to_string(), "LPORT: {row}");
    assert!(
        !lines
            .iter()
            .any(|l| columns(l).last() == Some(&root_port.as_str())),
        "root's connect passed -u: {lines:?}"
    );
}

#[test]
fn tcpconnect_counts_connects_per_destination_port() {
    let (busy, quiet, other) = (closed_port(), closed_port(), closed_port());
    let mut tool = Running::start(&["tcpconnect", "-c", "-P", &format!("{busy},{quiet}")]);
    tool.line_where(READY, |l| l.starts_with("Tracing connect"));
    for port in [&busy, &busy, &busy, &quiet, &other] {
        connect_from_shell(port, None);
    }
    // The runtime drains the ring buffer after Ctrl-C: every connect is counted.
    let lines = tool.stop();
    let header = lines
        .iter()
        .position(|l| columns(l) == ["LADDR", "RADDR", "RPORT", "CONNECTS"])
        .unwrap_or_else(|| panic!("no count table: {lines:?}"));
    let rows: Vec<Vec<&str>> = lines[header + 1..].iter().map(|l| columns(l)).collect();
    assert_eq!(
        rows,
        [
            ["127.0.0.1", "127.0.0.1", busy.as_str(), "3"],
            ["127.0.0.1", "127.0.0.1", quiet.as_str(), "1"],
        ],
        "{lines:?}"
    );
}

#[test]
fn tcpretrans_counts_retransmits_per_flow() {
    let pair = silent_peer();
    let mut tool = Running::start(&["tcpretrans", "-c"]);
    tool.line_where(READY, |l| l.starts_with("Tracing retransmits"));
    let peer: std::net::IpAddr = pair.peer_ip.parse().expect("an address");
    let _ = std::net::TcpStream::connect_timeout(&(peer, 9).into(), Duration::from_secs(3));
    let lines = tool.stop();
    let header = lines
        .iter()
        .position(|l| columns(l) == ["LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"])
        .unwrap_or_else(|| panic!("no count table: {lines:?}"));
    let remote = format!("[{}]#9", pair.peer_ip);
    let row = lines[header + 1..]
        .iter()
        .map(|l| columns(l))
        .find(|c| c.get(2) == Some(&remote.as_str()))
        .unwrap_or_else(|| panic!("no flow to the peer: {lines:?}"));
    assert!(
        row[0].starts_with(&format!("[{}]#", pair.host_ip)),
        "{row:?}"
    );
    assert_eq!(row[1], "<->", "{row:?}");
    // The SYN is sent again after 1 s, then 2 s later: one or two in 3 s.
    let n: u64 = row[3].parse().expect("a count");
    assert!((1..=2).contains(&n), "{row:?}");
}

/// `blocks` direct 4 KiB writes to a file under target/ (on the real disk: tmpfs would do no
/// block I/O), the file removed after.
fn direct_writes(blocks: u32) {
    let dir = TempPath::claim(bpfhook_testkit::repo_root().join(unique_name("target/direct-")));
    std::fs::create_dir_all(dir.path()).expect("creating the I/O directory");
    let of = format!("of={}", dir.join("direct.bin").display());
    let count = format!("count={blocks}");
    let dd = Command::new("dd")
        .args(["if=/dev/zero", &of, "bs=4k", &count, "oflag=direct"])
        .stderr(Stdio::null())
        .status()
        .expect("running dd");
    assert!(dd.success());
}

/// The disk target/ is on (`vda`), and another block device (idle: a loop or zram device).
fn disks() -> (String, String) {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(bpfhook_testkit::repo_root().join("target"))
        .expect("target/")
        .dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent"))
        .expect("the disk's uevent");
    let ours = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .expect("a device name")
        .to_owned();
    let other = std::fs::read_dir("/sys/class/block")
        .expect("block devices")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|name| name.starts_with("loop") || name.starts_with("zram"))
        .expect("an idle block device");
    (ours, other)
}

/// The numbers of an `-e` line: `avg = A usecs, total: T usecs, count: C`.
fn extension_line(lines: &[String]) -> [u64; 3] {
    let line = lines
        .iter()
        .find(|l| l.starts_with("avg = "))
        .unwrap_or_else(|| panic!("no -e line: {lines:?}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let [avg, total, count] = numbers[..] else {
        panic!("{line}");
    };
    assert_eq!(avg, total / count, "{line}");
    [avg, total, count]
}

/// The `-e` count and the histogram's: an event may land between the reads of the two maps
/// (BCC reads them one after the other too), so they agree to a few.
fn same_counts(summary: u64, histogram: u64) -> bool {
    summary.abs_diff(histogram) <= 2 + histogram / 100
}

/// The counts of a text histogram's rows, summed.
fn histogram_total(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.contains(" -> "))
        .map(|l| columns(l)[4].parse::<u64>().expect("a count"))
        .sum()
}

#[test]
fn biolatency_one_disk_with_the_extension_summary() {
    let (disk, other) = disks();
    let elsewhere = Running::start(&["biolatency", "-d", &other, "--json", "3", "1"]);
    let mut ours = Running::start(&["biolatency", "-d", &disk, "-D", "-e", "3", "1"]);
    ours.line_where(READY, |l| l.starts_with("Tracing block device I/O"));
    direct_writes(32);
    let lines = ours.finish();
    let sections: Vec<&String> = lines.iter().filter(|l| l.contains(" = ")).collect();
    assert_eq!(
        sections.first().map(|l| l.as_str()),
        Some(format!("disk = {disk}").as_str()),
        "{lines:?}"
    );
    assert!(
        sections[1..].iter().all(|l| l.starts_with("avg = ")),
        "-d {disk}: {lines:?}"
    );
    let total = histogram_total(&lines);
    assert!(total >= 32, "dd's writes: {lines:?}");
    let [_, _, count] = extension_line(&lines);
    assert!(
        same_counts(count, total),
        "-e counts what the histogram counts: {lines:?}"
    );
    // The interval prints the empty histogram: no buckets.
    let elsewhere = elsewhere.finish();
    let counted: u64 = objects(&elsewhere)
        .iter()
        .map(|h| counts_from(h, 0).1)
        .sum();
    assert_eq!(counted, 0, "-d {other} saw {disk}'s I/O: {elsewhere:?}");
}

#[test]
fn cpudist_extension_line_averages_the_naps() {
    // Off CPU the napper sleeps 2 ms a time: the average is about 2000 usecs.
    let target = napper();
    let pid = target.0.id().to_string();
    let lines = Running::start(&["cpudist", "-O", "-e", "-p", &pid, "2", "1"]).finish();
    let [avg, _, count] = extension_line(&lines);
    assert!(count > 10, "{lines:?}");
    assert!((1500..20_000).contains(&avg), "2 ms naps: {lines:?}");
    assert!(same_counts(count, histogram_total(&lines)), "{lines:?}");
}

/// `command` pinned to one CPU.
fn pinned(cpu: u32, command: &[&str]) -> Guarded {
    Guarded(
        Command::new("taskset")
            .args(["-c", &cpu.to_string()])
            .args(command)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("taskset"),
    )
}

/// The comm and count of each folded line.
fn folded_counts(lines: &[String]) -> Vec<(String, u64)> {
    lines
        .iter()
        .filter_map(|l| {
            let (stack, count) = l.rsplit_once(' ')?;
            let comm = stack.split(';').next()?.to_owned();
            Some((comm, count.parse().ok()?))
        })
        .collect()
}

#[test]
fn profile_process_list_one_cpu_one_thread_and_a_sample_period() {
    // A spinner in user space on CPU 0; dd, mostly in the kernel (its reads and writes), on
    // CPU 1.
    let spinner_binary = test_binary("profile_target");
    let spinner = pinned(0, &[spinner_binary.to_str().unwrap(), "60"]);
    let dd = pinned(1, &["dd", "if=/dev/zero", "of=/dev/null", "bs=1M"]);
    // taskset execs in place: the pids are the programs'.
    let (spinner_pid, dd_pid) = (spinner.0.id().to_string(), dd.0.id().to_string());
    let both = format!("{spinner_pid},{dd_pid}");
    let marked = Running::start(&["profile", "-p", &both, "-f", "-a", "-d", "-F", "199", "2"]);
    let cpu1 = Running::start(&["profile", "-p", &both, "-C", "1", "-f", "-F", "199", "2"]);
    let every_ms = Running::start(&["profile", "-L", &dd_pid, "-c", "1000000", "-f", "2"]);
    let at_49_hz = Running::start(&["profile", "-L", &dd_pid, "-f", "2"]);
    let marked = marked.finish();
    // The test binary runs as a copy whose name starts so.
    let comms: std::collections::BTreeSet<String> = folded_counts(&marked)
        .into_iter()
        .map(|(c, _)| {
            if c.starts_with("profile_target") {
                "profile_target".into()
            } else {
                c
            }
        })
        .collect();
    assert_eq!(
        comms.into_iter().collect::<Vec<_>>(),
        ["dd", "profile_target"],
        "-p with two processes: {marked:?}"
    );
    // dd's stacks cross from its own frames into the kernel's: a `-`, then marked frames.
    let crossing = marked
        .iter()
        .find(|l| l.starts_with("dd;") && l.contains(";-;"))
        .unwrap_or_else(|| panic!("no delimited dd stack: {marked:?}"));
    let kernel = crossing.split(";-;").nth(1).expect("kernel frames");
    let (kernel, _) = kernel.rsplit_once(' ').expect("a count");
    assert!(kernel.split(';').all(|f| f.ends_with("_[k]")), "{crossing}");
    let cpu1 = folded_counts(&cpu1.finish());
    assert!(
        !cpu1.is_empty() && cpu1.iter().all(|(comm, _)| comm == "dd"),
        "-C 1: only dd runs there: {cpu1:?}"
    );
    // A sample each millisecond dd runs on its CPU, against 49 a second of it: whatever
    // share of the CPU dd gets, about 20 times as many.
    let total = |run: Running| {
        let stacks = folded_counts(&run.finish());
        assert!(
            stacks.iter().all(|(comm, _)| comm == "dd"),
            "-L: {stacks:?}"
        );
        stacks.iter().map(|(_, n)| n).sum::<u64>()
    };
    let (every_ms, at_49_hz) = (total(every_ms), total(at_49_hz));
    assert!(
        at_49_hz > 0 && every_ms > 5 * at_49_hz,
        "-c 1000000: {every_ms} samples, -F 49: {at_49_hz}"
    );
}

/// The JSON stacks of an offcputime run: (comm, pid, microseconds).
fn offcpu_stacks(args: &[&str]) -> Running {
    let mut all = vec!["offcputime", "--json"];
    all.extend_from_slice(args);
    all.push("2");
    Running::start(&all)
}

fn offcpu_totals(run: Running) -> Vec<(String, u64, u64)> {
    objects(&run.finish())
        .iter()
        .map(|o| {
            let comm = o["comm"].as_str().expect("a comm").to_owned();
            let pid = o["pid"].as_u64().expect("a pid");
            (comm, pid, o["count"].as_u64().expect("a count"))
        })
        .collect()
}

#[test]
fn offcputime_threads_states_and_block_times() {
    // The napper sleeps 2 ms at a time, interruptibly (TASK_INTERRUPTIBLE, state bit 1).
    let target = napper();
    let pid = target.0.id().to_string();
    let napping = |stacks: &[(String, u64, u64)]| {
        stacks
            .iter()
            .filter(|(_, p, _)| p.to_string() == pid)
            .map(|(_, _, us)| us)
            .sum::<u64>()
    };
    let by_tid = offcpu_stacks(&["-t", &pid]);
    let interruptible = offcpu_stacks(&["-p", &pid, "--state", "1"]);
    let uninterruptible = offcpu_stacks(&["-p", &pid, "--state", "2"]);
    let in_range = offcpu_stacks(&["-p", &pid, "-m", "1000", "-M", "5000"]);
    let too_short = offcpu_stacks(&["-p", &pid, "-M", "1000"]);
    let user = offcpu_stacks(&["-u"]);
    let kernel = offcpu_stacks(&["-k"]);
    let by_tid = offcpu_totals(by_tid);
    assert!(
        by_tid.iter().all(|(_, p, _)| p.to_string() == pid) && napping(&by_tid) > 100_000,
        "-t {pid}: {by_tid:?}"
    );
    assert!(napping(&offcpu_totals(interruptible)) > 100_000);
    assert_eq!(napping(&offcpu_totals(uninterruptible)), 0, "--state 2");
    let in_range = napping(&offcpu_totals(in_range));
    assert!(in_range > 100_000, "-m 1000 -M 5000");
    // Only the odd short block (a nap cut short, a preemption) is under 1 ms.
    let too_short = napping(&offcpu_totals(too_short));
    assert!(
        too_short * 10 < in_range,
        "-M 1000: {too_short} us of {in_range}"
    );
    assert!(napping(&offcpu_totals(user)) > 100_000, "-u");
    let kernel = offcpu_totals(kernel);
    assert_eq!(napping(&kernel), 0, "-k: {kernel:?}");
    // Kernel threads have no executable.
    assert!(
        !kernel.is_empty()
            && kernel
                .iter()
                .all(|(_, p, _)| std::fs::read_link(format!("/proc/{p}/exe")).is_err()),
        "-k: {kernel:?}"
    );
}

#[test]
fn killsnoop_a_list_of_signals() {
    let mut hup = Guarded(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let mut term = Guarded(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let mut usr1 = Guarded(Command::new("sleep").arg("30").spawn().expect("sleep"));
    let ids = [&hup, &term, &usr1].map(|g| g.0.id().to_string());
    let mut tool = Running::start(&["killsnoop", "-s", "TERM,10"]);
    tool.line_where(READY, |l| l.starts_with("TIME"));
    let script = format!(
        "kill -HUP {}; kill -TERM {}; kill -USR1 {}",
        ids[0], ids[1], ids[2]
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .status()
        .expect("sh");
    assert!(status.success());
    let _ = (hup.0.wait(), term.0.wait(), usr1.0.wait());
    let target = |id: &str| {
        let id = id.to_owned();
        move |l: &str| columns(l).get(4) == Some(&id.as_str())
    };
    let term_line = tool.line_where(READY, target(&ids[1]));
    let usr1_line = tool.line_where(READY, target(&ids[2]));
    let lines = tool.stop();
    assert_eq!(columns(&term_line)[3], "15", "{term_line}");
    assert_eq!(columns(&usr1_line)[3], "10", "{usr1_line}");
    assert!(
        !lines.iter().any(|l| target(&ids[0])(l)),
        "SIGHUP is not in the list: {lines:?}"
    );
}

#[test]
fn statsnoop_names_the_syscall() {
    let dir = TempPath::dir("statsnoop-s");
    let marker = dir.join(&unique_name("marker-"));
    std::fs::write(&marker, "x").expect("writing the marker");
    let me = std::process::id().to_string();
    let mut tool = Running::start(&["statsnoop", "-s", "-p", &me]);
    let header = tool.line_where(READY, |l| l.starts_with("PID"));
    assert_eq!(
        columns(&header),
        ["PID", "COMM", "RET", "ERR", "SYSCALL", "PATH"]
    );
    // Rust's metadata() is statx(2); a path to a directory through statfs(2) as well.
    std::fs::metadata(&marker).expect("stat of the marker");
    let c_dir = std::ffi::CString::new(dir.as_str()).unwrap();
    // SAFETY: a NUL-terminated path and a statfs buffer to fill.
    let fs = unsafe {
        let mut buf: libc::statfs = std::mem::zeroed();
        libc::statfs(c_dir.as_ptr(), &mut buf)
    };
    assert_eq!(fs, 0);
    let marker = marker.to_str().unwrap().to_owned();
    let stat = tool.line_where(READY, |l| l.ends_with(&marker));
    let statfs = tool.line_where(READY, |l| l.ends_with(dir.as_str()));
    tool.stop();
    assert_eq!(columns(&stat)[4], "statx", "{stat}");
    assert_eq!(columns(&statfs)[4], "statfs", "{statfs}");
}

#[test]
fn bashreadline_in_a_shared_readline_library() {
    // A program named bash that reads lines through the shared libreadline, not /bin/bash's
    // own copy.
    let library = "/lib/x86_64-linux-gnu/libreadline.so.8";
    let dir = TempPath::dir("readline");
    let source = dir.join("reader.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include <stdlib.h>\n#include <readline/readline.h>\n\
         int main(void) { char *line; while ((line = readline(\"> \"))) { free(line); } \
         return 0; }\n",
    )
    .expect("writing the reader");
    let bash = dir.join("bash");
    let built = Command::new("cc")
        .arg(&source)
        .arg("-o")
        .arg(&bash)
        .arg("-lreadline")
        .status()
        .expect("running cc");
    assert!(built.success());
    let marker = unique_name("bpfhook-shared-");
    let mut tool = Running::start(&["bashreadline", "-s", library]);
    tool.line_where(READY, |l| l.starts_with("TIME"));
    let mut reader = Command::new("script")
        .args(["-qfec", bash.to_str().unwrap(), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running script(1)");
    {
        use std::io::Write;
        let input = reader.stdin.as_mut().expect("piped stdin");
        writeln!(input, "{marker}").expect("typing");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(reader.stdin.take());
    let line = tool.line_where(READY, |l| l.ends_with(&marker));
    let _ = reader.wait();
    tool.stop();
    assert!(columns(&line)[1].parse::<u32>().is_ok(), "a pid: {line}");
}
