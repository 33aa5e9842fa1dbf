//! bpftrace's own runtime suite (`shared/peer/bpftrace-runtime`) run against `bpfhook trace`:
//! its fast part (tests that need no outside traffic) must pass every test listed in
//! `tests/bpftrace-suite/expected-pass.txt`, so what works keeps working. The whole suite, with
//! per-suite counts, is `tests/bpftrace-suite/run.sh` (see BENCHMARKS.md).
//!
//! One test in its own binary: cargo runs test binaries one after another, so the suite's
//! one-second timeouts do not compete with other tests for the CPUs.

use std::process::Command;

use bpfhook_testkit::repo_root;

#[test]
fn bpftrace_runtime_suite_keeps_passing_what_it_passed() {
    let root = repo_root();
    let expected = root.join("tests/bpftrace-suite/expected-pass.txt");
    let output = Command::new("bash")
        .arg(root.join("tests/bpftrace-suite/run.sh"))
        .arg("--fast")
        .arg("--check")
        .arg(&expected)
        .env("BPFHOOK_BIN", env!("CARGO_BIN_EXE_bpfhook"))
        .output()
        .expect("running tests/bpftrace-suite/run.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, "), "no summary in:\n{stdout}");
}
