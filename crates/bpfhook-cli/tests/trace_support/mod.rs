//! Running `bpfhook trace` from a test: shared by the trace test binaries.

use std::process::{Command, Output, Stdio};

use bpfhook_testkit::program_loaded;

/// Runs `bpfhook trace ARGS…`; returns (stdout, stderr, output) after checking that none of
/// the run's programs (named `bt<pid>_<n>`) is still loaded.
pub fn trace(args: &[&str]) -> (String, String, Output) {
    trace_with_env(args, &[])
}

pub fn trace_with_env(args: &[&str], env: &[(&str, &str)]) -> (String, String, Output) {
    let child = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .arg("trace")
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook");
    let pid = child.id();
    let output = child.wait_with_output().expect("bpfhook runs");
    assert!(
        !program_loaded(&format!("bt{pid}_0")),
        "bpfhook {pid} left a program loaded"
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    )
}
