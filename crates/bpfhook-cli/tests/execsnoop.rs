//! `bpfhook execsnoop` sees the execs a test makes, with the right pid, ppid, arguments and
//! return value, in text and JSON; its filters work in the kernel; it needs no clang.

use std::process::{Command, Output, Stdio};

use bpfhook_testkit::{program_loaded, unique_name, TempPath};

fn execsnoop(args: &[&str], path: Option<&str>) -> (String, String, u32, Output) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bpfhook"));
    command
        .arg("execsnoop")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = path {
        command.env("PATH", path);
    }
    let child = command.spawn().expect("spawning bpfhook");
    let pid = child.id();
    let output = child.wait_with_output().expect("bpfhook exits");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        pid,
        output,
    )
}

/// The columns of the exec of `filename` whose line contains `marker` (execsnoop sees the whole
/// system, and the shell that runs a script shows the script's text too).
fn exec_of<'a>(out: &'a str, filename: &str, marker: &str) -> Vec<&'a str> {
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|columns| columns.get(4) == Some(&filename) && columns.contains(&marker))
        .unwrap_or_else(|| panic!("no exec of {filename} with `{marker}` in:\n{out}"))
}

#[test]
fn sees_a_marker_exec_with_pid_ppid_args_and_return_code() {
    let marker = unique_name("marker-");
    // sh prints its pid, then execs echo in place: that exec has sh's pid and bpfhook as parent.
    let script = format!("sh -c 'echo SHPID=$$; exec /bin/echo {marker} second-arg'");
    let (out, err, bpfhook_pid, output) = execsnoop(&["-c", &script], None);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("PCOMM            PID     PPID    RET ARGS\n"),
        "{out}"
    );
    let sh_pid = out
        .lines()
        .find_map(|l| l.strip_prefix("SHPID="))
        .expect("sh printed its pid")
        .trim()
        .to_owned();
    let columns = exec_of(&out, "/bin/echo", &marker);
    assert_eq!(columns[0], "echo", "{out}");
    assert_eq!(columns[1], sh_pid, "pid: {out}");
    assert_eq!(columns[2], bpfhook_pid.to_string(), "ppid: {out}");
    assert_eq!(columns[3], "0", "ret: {out}");
    assert_eq!(columns[4..], ["/bin/echo", &marker, "second-arg"], "{out}");
    assert!(
        !program_loaded("execsnoop_enter"),
        "execsnoop_enter stayed loaded"
    );
}

#[test]
fn failed_execs_show_the_errno() {
    let missing = format!("/nonexistent/{}", unique_name("cmd-"));
    let (out, err, _, output) = execsnoop(&["-c", &format!("sh -c 'exec {missing}'")], None);
    assert!(output.status.success(), "{err}");
    let columns = exec_of(&out, &missing, &missing);
    assert_eq!(columns[0], "sh", "{out}");
    assert_eq!(columns[3], "-2", "ENOENT: {out}");
}

#[test]
fn json_records_parse() {
    let marker = unique_name("json-");
    let (out, err, _, output) = execsnoop(&["--json", "-c", &format!("/bin/echo {marker}")], None);
    assert!(output.status.success(), "{err}");
    let record: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["args"][1] == marker.as_str())
        .unwrap_or_else(|| panic!("no JSON record for {marker}:\n{out}"));
    assert_eq!(record["type"], "exec");
    assert_eq!(record["pcomm"], "echo");
    assert_eq!(record["ret"], 0);
    assert_eq!(record["uid"], 0);
    assert_eq!(record["args"][0], "/bin/echo");
    assert_eq!(record["args_truncated"], false);
}

#[test]
fn long_argument_lists_are_cut_and_marked() {
    let marker = unique_name("many-");
    let (out, err, _, output) = execsnoop(
        &[
            "--max-args",
            "3",
            "-c",
            &format!("/bin/echo {marker} b c d e"),
        ],
        None,
    );
    assert!(output.status.success(), "{err}");
    let columns = exec_of(&out, "/bin/echo", &marker);
    assert_eq!(columns[4..], ["/bin/echo", &marker, "b", "..."], "{out}");
}

#[test]
fn uid_and_name_filters_work_in_the_kernel() {
    let marker = unique_name("uid-");
    let script =
        format!("sh -c '/bin/echo root-{marker}; setpriv --reuid=65534 /bin/echo nobody-{marker}'");
    let (out, err, _, output) = execsnoop(&["--uid", "65534", "-c", &script], None);
    assert!(output.status.success(), "{err}");
    assert!(out.contains(&format!("/bin/echo nobody-{marker}")), "{out}");
    assert!(
        !out.contains(&format!("/bin/echo root-{marker}")),
        "uid filter let root through: {out}"
    );

    let script = format!("sh -c '/bin/echo {marker}; /bin/true {marker}'");
    let (out, err, _, output) = execsnoop(&["--name", "true", "-c", &script], None);
    assert!(output.status.success(), "{err}");
    assert!(out.contains(&format!("/bin/true {marker}")), "{out}");
    assert!(
        !out.contains(&format!("/bin/echo {marker}")),
        "name filter let echo through: {out}"
    );
}

#[test]
fn runs_without_clang_in_path() {
    // A PATH with only what the command needs: no clang anywhere.
    let dir = TempPath::dir("bpfhook-noclang-");
    for tool in ["sh", "echo"] {
        std::os::unix::fs::symlink(format!("/bin/{tool}"), dir.join(tool)).expect("symlink");
    }
    let path = dir.as_str().to_owned();
    let marker = unique_name("noclang-");
    let (out, err, _, output) = execsnoop(&["-c", &format!("echo {marker}")], Some(&path));
    assert!(output.status.success(), "{err}");
    let echo = format!("{path}/echo");
    assert_eq!(exec_of(&out, &echo, &marker)[0], "echo", "{out}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let (_, err, _, output) = execsnoop(&["--name", "a-name-that-is-too-long", "-d", "0"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("--name must be 1 to 15 bytes"), "{err}");
    let (_, err, _, output) = execsnoop(&["--max-args", "0", "-d", "0"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("--max-args must be between 1 and 64"), "{err}");
    let (_, err, _, output) = execsnoop(&["-c", "sh -c 'unbalanced"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("unbalanced quotes"), "{err}");
}
