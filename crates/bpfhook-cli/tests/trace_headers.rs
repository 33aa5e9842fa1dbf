//! `bpfhook trace` with C headers: constants of `#include`d system headers in a real probe,
//! `--include`, `-I`, `#include "x"` beside the script, and bpftrace's error for a header that
//! exists nowhere.

mod trace_support;

use bpfhook_testkit::TempPath;
use trace_support::trace;

#[test]
fn a_syscall_number_from_syscall_h_filters_a_real_tracepoint() {
    // The child's own getppid(2), picked out by the number <syscall.h> gives it; the probe
    // prints the id it saw, so a wrong constant could not pass.
    let script = r#"#include <syscall.h>
tracepoint:raw_syscalls:sys_enter /pid == cpid && args.id == __NR_getppid/ {
  printf("id %d\n", args.id);
  exit();
}"#;
    let (_file, command) = bpfhook_testkit::shell_script(
        "exec python3 -c 'import os, time; os.getppid(); time.sleep(5)'",
    );
    let (out, err, output) = trace(&["-c", &command, "-e", script]);
    assert!(output.status.success(), "{err}");
    let expected = format!("id {}", libc::SYS_getppid);
    assert!(out.lines().any(|l| l == expected), "{out}\n{err}");
}

#[test]
fn include_option_and_include_dirs_add_constants() {
    let (out, err, output) = trace(&[
        "--include",
        "errno.h",
        "-e",
        "begin { print(strerror(EPERM)); print(EWOULDBLOCK); exit(); }",
    ]);
    assert!(output.status.success(), "{err}");
    // (bpftrace's blank lines at exit follow.)
    assert_eq!(
        out.lines().take(2).collect::<Vec<_>>(),
        ["Operation not permitted", &libc::EAGAIN.to_string()],
        "{out}"
    );

    let headers = TempPath::dir("bpfhook-include-dir");
    std::fs::write(headers.join("mine.h"), "#define MINE (1 << 5)\n").expect("writing mine.h");
    for option in ["-I", "--include-dir"] {
        let (out, err, output) = trace(&[
            option,
            headers.as_str(),
            "-e",
            "#include <mine.h>\nbegin { print(MINE + 1); exit(); }",
        ]);
        assert!(output.status.success(), "{option}: {err}");
        assert_eq!(out.trim(), "33", "{option}");
    }
}

#[test]
fn a_quoted_include_is_found_beside_the_script() {
    let dir = TempPath::dir("bpfhook-script-dir");
    std::fs::write(dir.join("local.h"), "#define LOCAL 7\n").expect("writing local.h");
    let script = dir.join("s.bt");
    std::fs::write(
        &script,
        "#include \"local.h\"\nbegin { print(LOCAL); exit(); }\n",
    )
    .expect("writing the script");
    // From another directory: the script's own directory is searched, not the current one.
    let (out, err, output) = trace(&[script.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out.trim(), "7");
}

#[test]
fn a_header_that_exists_nowhere_fails_before_anything_loads() {
    let (out, err, output) = trace(&["-e", "#include <lol/no.h>\nbegin { printf(\"ran\\n\"); }"]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(!out.contains("ran"), "{out}");
    let lines: Vec<_> = err.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "definitions.h:2:10: fatal error: 'lol/no.h' file not found",
            "stdin:1:10-20: ERROR: 'lol/no.h' file not found",
            "#include <lol/no.h>",
            "         ~~~~~~~~~~",
        ],
        "{err}"
    );
    let (_, err, output) = trace(&["--include", "lol/no.h", "-e", "begin { exit(); }"]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ERROR: --include lol/no.h: 'lol/no.h' file not found"),
        "{err}"
    );
}
