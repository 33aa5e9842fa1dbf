//! `bpfhook run` with ring buffers and perf buffers: records printed (typed through the object's
//! `struct event`), and under a flood
//! with `--quiet` the process still stops promptly on SIGINT and prints its counts.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bpfhook_testkit::{bpf_fixture, program_loaded};

fn bpfhook() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bpfhook"))
}

#[test]
fn exec_records_are_printed_with_a_summary() {
    let object = bpf_fixture("events_exec");
    let output = bpfhook()
        .args(["run", "--no-printk", "-P", "exec_ringbuf"])
        .arg(&object)
        .args(["--", "/bin/true"])
        .output()
        .expect("bpfhook runs");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    // Decoded through the object's `struct event`: the exec of /bin/true by root.
    assert!(
        out.lines()
            .any(|l| l.starts_with("event map=exec_ring pid=")
                && l.contains(" uid=0 ")
                && l.contains(" filename=\"/bin/true\" seq=")),
        "{out}"
    );
    assert!(out.contains("records: map=exec_ring events="), "{out}");
    assert!(
        out.contains("records: map=exec_perf events=0 lost=0"),
        "{out}"
    );
}

#[test]
fn quiet_flood_stops_within_a_second_of_sigint_and_prints_counts() {
    let object = bpf_fixture("events_flood");
    let mut child = bpfhook()
        .args(["run", "--quiet", "--no-printk", "--perf-pages", "1"])
        .args(["--seq-offset", "0"])
        .args(["-P", "flood_tp_ringbuf", "-P", "flood_tp_perfbuf"])
        .arg(&object)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut attached = 0;
    let mut line = String::new();
    while attached < 2 && stdout.read_line(&mut line).expect("reading stdout") > 0 {
        attached += usize::from(line.starts_with("attached "));
        line.clear();
    }
    assert_eq!(attached, 2, "both flood programs attach");

    // Two busy producers: every getppid writes 64 records into each small buffer.
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: getppid has no arguments and no memory effects.
                    unsafe { libc::getppid() };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting") {
            break Some(status);
        }
        if signalled.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    for producer in producers {
        let _ = producer.join();
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("bpfhook ignored SIGINT for 5 s under a flood");
    };
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout");
    let summary = |map: &str| -> (u64, u64) {
        let line = rest
            .lines()
            .find(|l| l.starts_with(&format!("records: map={map} ")))
            .unwrap_or_else(|| panic!("no summary for {map}: {rest}"));
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in `{line}`"))
        };
        (field("events="), field("lost="))
    };
    let (ring_read, _) = summary("flood_ring");
    let (perf_read, perf_lost) = summary("flood_perf");
    assert!(ring_read > 0 && perf_read > 0, "{rest}");
    assert!(
        perf_lost > 0,
        "a one-page perf buffer under this flood loses records: {rest}"
    );
    assert!(rest.contains("seq_missing="), "{rest}");
    assert!(
        !rest.contains("event map="),
        "--quiet prints no records: {rest}"
    );
    assert!(!program_loaded("flood_tp_ringbuf"));
}
