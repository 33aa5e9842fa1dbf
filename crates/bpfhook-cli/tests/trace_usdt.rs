//! `bpfhook trace` on USDT probes: real `<sys/sdt.h>` probes of a compiled target
//! (tests/bin/usdt_target.c), their arguments read from the notes' specs, a semaphore the
//! kernel counts, wildcards, listing, and the errors of probes that are not there.

mod trace_support;

use bpfhook_testkit::{shell_script, test_binary, TempPath};
use trace_support::trace;

/// `echo go | usdt_target`: the target fires its probes once the line comes (after attaching).
fn fed() -> (std::path::PathBuf, TempPath, String) {
    let target = test_binary("usdt_target");
    let (file, command) = shell_script(&format!("echo go | {}", target.display()));
    (target, file, command)
}

#[test]
fn arguments_come_from_registers_memory_and_constants() {
    let (target, _file, command) = fed();
    // -8@%r12 -4@-N(%rbp) -4@$1234 4@%eax 8@%rdx (a pointer to a string on the stack).
    let script = format!(
        r#"usdt:{}:bpfhook:values {{ printf("%d %d %d %lld %s|%s\n", arg0, arg1, arg2, arg3, str(arg4), probe); exit(); }}"#,
        target.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    let expected = format!(
        "-7 -42 1234 4294967280 hello usdt|usdt:{}:bpfhook:values",
        target.display()
    );
    assert!(out.lines().any(|l| l == expected), "{out}");
}

#[test]
fn a_semaphore_is_set_while_its_probe_is_attached() {
    let (target, _file, command) = fed();
    // Untraced, the target sees its semaphore at 0 and skips the gated site.
    let (out, err, output) = trace(&[
        "-c",
        &command,
        "-e",
        &format!("usdt:{}:bpfhook:twice {{}}", target.display()),
    ]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "semaphore 0"), "{out}");
    // Attached, the kernel counts it: the site runs and passes the count (2@%ax).
    let script = format!(
        r#"usdt:{}:bpfhook:gated {{ printf("gated %d\n", arg0); }}"#,
        target.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(out.lines().any(|l| l == "semaphore 1"), "{out}");
    assert!(out.lines().any(|l| l == "gated 1"), "{out}");
}

#[test]
fn wildcards_attach_every_probe_and_every_site() {
    let (target, _file, command) = fed();
    // bpfhook:twice has two sites (arguments in memory, then in a register): one probe.
    let script = format!(
        r#"U:{}:*:twice {{ printf("twice %d\n", arg0); }} usdt:{0}:other:* {{ printf("%s %d\n", probe, arg0); }}"#,
        target.display()
    );
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("Attached 2 probes"), "{err}");
    for line in [
        "twice 1".to_owned(),
        "twice 101".to_owned(),
        format!("usdt:{}:other:values 1", target.display()),
    ] {
        assert!(out.lines().any(|l| l == line), "{line}: {out}");
    }
}

#[test]
fn listing_names_each_probe_once() {
    let target = test_binary("usdt_target");
    let (out, err, output) = trace(&["-l", &format!("usdt:{}:*", target.display())]);
    assert!(output.status.success(), "{err}");
    let path = target.display();
    let mut listed: Vec<&str> = out.lines().collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            format!("usdt:{path}:bpfhook:gated"),
            format!("usdt:{path}:bpfhook:twice"),
            format!("usdt:{path}:bpfhook:values"),
            format!("usdt:{path}:other:values"),
        ]
    );
    let (out, err, output) = trace(&["-l", "-e", &format!("usdt:{path}:bpfhook:tw* {{}}")]);
    assert!(output.status.success(), "{err}");
    assert_eq!(out.trim(), format!("usdt:{path}:bpfhook:twice"));
}

#[test]
fn missing_ambiguous_and_unreadable_probes_are_errors() {
    let target = test_binary("usdt_target");
    let path = target.display();
    let cases = [
        (
            format!("usdt:{path}:bpfhook:nope {{}}"),
            format!("ERROR: No matches for usdt:{path}:bpfhook:nope."),
        ),
        (
            "usdt:/no/such/binary:p:n {}".to_owned(),
            "ERROR: No matches for usdt:/no/such/binary:p:n".to_owned(),
        ),
        (
            format!("usdt:{path}:values {{}}"),
            "providers bpfhook, other all have a probe values".to_owned(),
        ),
        (
            format!("usdt:{path}:bpfhook:twice {{ print(arg1); }}"),
            format!("usdt:{path}:bpfhook:twice has 1 argument: there is no arg1"),
        ),
    ];
    for (script, expected) in cases {
        let (_, err, output) = trace(&["-e", &script]);
        assert_eq!(output.status.code(), Some(1), "{script}: {err}");
        assert!(err.contains(&expected), "{script}: {err}");
    }
}

/// A process whose binary only its own mount namespace sees (as in a container), which `-p`
/// reaches through `/proc/PID/root`. Killed when the test ends, pass or fail.
struct PrivateTarget {
    child: std::process::Child,
    private: std::path::PathBuf,
    fifo: std::path::PathBuf,
    _dir: TempPath,
}

impl PrivateTarget {
    /// `usdt_target` copied into a tmpfs mounted in a new mount namespace, waiting to read its
    /// stdin from a FIFO (the shell that will exec it opens it first, so the pid is known).
    fn start() -> Self {
        let target = test_binary("usdt_target");
        let dir = TempPath::dir("bpfhook-mountns");
        let (private, fifo) = (dir.join("private"), dir.join("go"));
        std::fs::create_dir(&private).expect("mkdir");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let script = format!(
            "mount -t tmpfs bpfhook-test {p} && cp {t} {p}/usdt_target && exec {p}/usdt_target < {f}",
            p = private.display(),
            t = target.display(),
            f = fifo.display()
        );
        let child = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("unshare");
        let started = Self {
            child,
            private,
            fifo,
            _dir: dir,
        };
        let seen = started.private_binary();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !seen.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} never appeared",
                seen.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        started
    }

    fn private_binary(&self) -> std::path::PathBuf {
        let relative = self.private.strip_prefix("/").expect("absolute");
        std::path::Path::new(&format!("/proc/{}/root", self.child.id()))
            .join(relative)
            .join("usdt_target")
    }
}

impl Drop for PrivateTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn with_a_pid_a_binary_in_another_mount_namespace_is_found_through_its_root() {
    use std::io::{BufRead, Write};
    let target = PrivateTarget::start();
    let pid = target.child.id().to_string();
    // Not there for us: only the process's mount namespace has it.
    let path = target.private.join("usdt_target");
    assert!(!path.exists());
    let script = format!(
        r#"usdt:{}:bpfhook:values {{ printf("private %d\n", arg0); exit(); }}"#,
        path.display()
    );
    let mut trace = std::process::Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["trace", "-p", &pid, "-e", &script])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bpfhook");
    let mut lines = std::io::BufReader::new(trace.stdout.take().expect("stdout")).lines();
    let attached = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l == "__BPFTRACE_NOTIFY_PROBES_ATTACHED");
    if attached {
        // Opening the FIFO lets the shell exec the target, which fires on the line.
        let mut go = std::fs::OpenOptions::new()
            .write(true)
            .open(&target.fifo)
            .expect("fifo");
        writeln!(go, "go").expect("writing go");
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = trace.wait_with_output().expect("bpfhook ends");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(attached, "never attached: {err}");
    assert!(output.status.success(), "{err}");
    assert!(rest.iter().any(|l| l == "private -7"), "{rest:?} {err}");
}
