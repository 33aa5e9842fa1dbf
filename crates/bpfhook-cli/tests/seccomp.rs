//! `bpfhook seccomp` on the real kernel: the filter refuses what it should (the command sees the
//! errno, the file is not made), kills on an allow list, reports the kernel's log records, and
//! bad input is an error before anything runs.

use std::process::{Command, Output};

use bpfhook_testkit::{unique_name, TempPath};

fn seccomp(args: &[&str]) -> (String, Output) {
    let output = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .arg("seccomp")
        .args(args)
        .output()
        .expect("running bpfhook");
    (String::from_utf8_lossy(&output.stderr).into_owned(), output)
}

fn scratch() -> TempPath {
    TempPath::claim(std::env::temp_dir().join(unique_name("bpfhook-seccomp-")))
}

#[test]
fn denied_calls_fail_with_the_errno_and_do_nothing() {
    let dir = scratch();
    let path = dir.path().to_str().expect("utf-8 path");
    let (err, output) = seccomp(&["--deny", "mkdir,mkdirat", "--", "mkdir", path]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("Operation not permitted"), "{err}");
    assert!(
        err.contains("mkdir, mkdirat: errno EPERM; every other system call: allowed"),
        "{err}"
    );
    assert!(err.contains("seccomp: mkdir exited with status 1"), "{err}");
    assert!(!dir.path().exists(), "mkdir ran despite the filter");

    let (err, output) = seccomp(&[
        "--deny",
        "mkdir,mkdirat",
        "--action",
        "errno:EACCES",
        "--",
        "mkdir",
        path,
    ]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("Permission denied"), "{err}");

    // Calls not on the list run.
    let (err, output) = seccomp(&["--deny", "ptrace", "--", "mkdir", path]);
    assert!(output.status.success(), "{err}");
    assert!(dir.path().is_dir());
}

#[test]
fn an_allow_list_kills_on_anything_else() {
    // `true` needs more than read (and the execve bpfhook adds): the kernel kills it.
    let (err, output) = seccomp(&["--allow", "read", "--action", "kill", "--", "true"]);
    assert_eq!(output.status.code(), Some(128 + libc::SIGSYS), "{err}");
    assert!(
        err.contains("read, execve: allowed; every other system call: process killed"),
        "{err}"
    );
    assert!(err.contains("killed by SIGSYS"), "{err}");
}

/// The JSON lines of a `--log --json` run of a refused mkdir.
fn logged_mkdir(path: &str) -> Vec<serde_json::Value> {
    let (err, output) = seccomp(&[
        "--deny",
        "mkdir,mkdirat",
        "--log",
        "--json",
        "--",
        "mkdir",
        path,
    ]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    err.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn the_kernel_log_names_each_refused_call() {
    let dir = scratch();
    let path = dir.path().to_str().expect("utf-8 path");
    let is_ours = |l: &serde_json::Value| l["type"] == "record" && l["comm"] == "mkdir";
    // The kernel prints audit records through printk's rate limit (10 per 5 s): a burst of
    // other records can hide ours, so a run without one is retried once the window has passed.
    let mut lines = logged_mkdir(path);
    for _ in 0..2 {
        if lines.iter().any(is_ours) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5500));
        lines = logged_mkdir(path);
    }
    let record = lines
        .iter()
        .find(|l| is_ours(l))
        .unwrap_or_else(|| panic!("no seccomp record for mkdir in the kernel log: {lines:?}"));
    assert!(
        ["mkdir", "mkdirat"].contains(&record["syscall"].as_str().unwrap_or("")),
        "{record}"
    );
    assert_eq!(record["action"], "errno");
    let exit = lines
        .iter()
        .find(|l| l["type"] == "exit")
        .expect("exit line");
    assert_eq!(exit["code"], 1);
}

#[test]
fn bad_input_is_an_error_and_nothing_runs() {
    let dir = scratch();
    let path = dir.path().to_str().expect("utf-8 path");
    let bad: [&[&str]; 2] = [
        &["--deny", "teleport", "--", "mkdir", path],
        &[
            "--deny", "mkdir", "--action", "explode", "--", "mkdir", path,
        ],
    ];
    for args in bad {
        let (err, output) = seccomp(args);
        // 1 for our errors, 2 for clap's usage errors.
        assert!(
            matches!(output.status.code(), Some(1 | 2)),
            "{args:?}: {err}"
        );
        assert!(err.contains("unknown"), "{err}");
        assert!(!dir.path().exists(), "{args:?}: the command ran");
    }
    let (err, _) = seccomp(&["--deny", "teleport", "--", "true"]);
    assert!(err.contains("unknown system call `teleport`"), "{err}");
    let (err, output) = seccomp(&["--deny", "mkdir", "--", "/no/such/program"]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("/no/such/program"), "{err}");
}
